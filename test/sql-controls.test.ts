// The SQL stage's controls (START SLAVE UNTIL, MASTER_DELAY, sql_slave_skip_counter, --slave-skip-errors) and
// its errors (stop at the failed transaction, retry of transient errors): every scenario runs from one source on
// a native MariaDB 10.11 replica and on tributary side by side, and both must end in the same observable state:
// the rows, Exec_Master_Log_Pos, the running flags, the error numbers, the UNTIL fields, the skip counter. The
// native replica is the specification; each test also writes down what it does, so that a different server
// version shows up as a failing assertion on the native side rather than as a tributary bug.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { decodeHeader } from '../src/binlog/decoder.js';
import type { ReplicationEngine, ReplicaThread, StartOptions } from '../src/index.js';
import { assertSameData } from './helpers/compare.js';
import { startNativeReplica, type NativeReplica, type NativeUntil } from './helpers/native-replica.js';
import { openEngine, sourceStatus, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const FILE = 'mysql-bin.000001';
const DELAY = 2;
const DELAY_STATE = 'Waiting until MASTER_DELAY seconds after master executed event';
/** replica_transaction_retries on both replicas: small, so that giving up takes seconds, not minutes. */
const RETRIES = 2;

/** What SHOW ALL SLAVES STATUS shows of the SQL stage, in the names of tributary's status. */
interface View {
  ioRunning: string;
  sqlRunning: string;
  relaySourceLogFile: string;
  execSourceLogPos: number;
  untilCondition: string;
  untilLogFile: string;
  untilLogPos: number;
  skipCounter: number;
  lastSqlErrno: number;
  sqlDelay: number;
  sqlRemainingDelay: number | null;
}

/** One replica, native or tributary, seen through what both can do and show. */
interface Side {
  readonly label: 'native' | 'tributary';
  /** Where the replicated rows land. */
  readonly server: TestServer;
  change(source: TestServer, delay?: number): Promise<void>;
  /** The UNTIL forms both sides know. */
  start(options?: Omit<StartOptions, 'until'> & { until?: NativeUntil }): Promise<void>;
  stop(threads?: ReplicaThread[]): Promise<void>;
  setSkipCounter(count: number): Promise<void>;
  setDelay(seconds: number): Promise<void>;
  view(): Promise<View>;
  lastSqlError(): Promise<string>;
  sqlState(): Promise<string>;
  retried(): Promise<number>;
  readPos(): Promise<number>;
  relayLogFiles(): Promise<string[]>;
}

function nativeSide(replica: NativeReplica, channel: string): Side {
  const row = () => replica.allStatus(channel);
  return {
    label: 'native',
    server: replica.server,
    change: (source, delay) => replica.changeSource(channel, source, undefined,
      delay === undefined ? undefined : `MASTER_DELAY=${delay}`),
    start: (options = {}) => replica.start(channel, options),
    stop: (threads) => replica.stop(channel, threads),
    setSkipCounter: (count) => replica.setSkipCounter(channel, count),
    setDelay: async (seconds) => {
      await replica.server.sql(`CHANGE MASTER '${channel}' TO MASTER_DELAY=${seconds}`);
    },
    async view() {
      const s = await row();
      return {
        ioRunning: s.Slave_IO_Running,
        sqlRunning: s.Slave_SQL_Running,
        relaySourceLogFile: s.Relay_Master_Log_File,
        execSourceLogPos: Number(s.Exec_Master_Log_Pos),
        untilCondition: s.Until_Condition,
        untilLogFile: s.Until_Log_File,
        untilLogPos: Number(s.Until_Log_Pos),
        skipCounter: Number(s.Skip_Counter),
        lastSqlErrno: Number(s.Last_SQL_Errno),
        sqlDelay: Number(s.SQL_Delay),
        sqlRemainingDelay: s.SQL_Remaining_Delay === null ? null : Number(s.SQL_Remaining_Delay),
      };
    },
    lastSqlError: async () => String((await row()).Last_SQL_Error),
    sqlState: async () => String((await row()).Slave_SQL_Running_State ?? ''),
    retried: async () => Number((await row()).Retried_transactions),
    readPos: async () => Number((await row()).Read_Master_Log_Pos),
    relayLogFiles: () => replica.relayLogFiles(channel),
  };
}

function tributarySide(engine: ReplicationEngine, channel: string, target: TestServer, dataDir: string): Side {
  const status = () => engine.replicaStatus(channel);
  return {
    label: 'tributary',
    server: target,
    change: (source, delay) => engine.changeReplicationSource(channel, {
      sourceHost: source.host, sourcePort: source.port, sourceUser: source.user, sourcePassword: source.password,
      sourceLogFile: FILE, sourceLogPos: 4, sourceConnectRetry: 1, ...(delay === undefined ? {} : { sourceDelay: delay }),
    }),
    start: (options) => engine.startReplica(channel, options),
    stop: (threads) => engine.stopReplica(channel, threads ? { threads } : {}),
    setSkipCounter: (count) => engine.setSkipCounter(channel, count),
    setDelay: (seconds) => engine.changeReplicationSource(channel, { sourceDelay: seconds }),
    async view() {
      const s = await status();
      return {
        ioRunning: s.ioRunning,
        sqlRunning: s.sqlRunning,
        relaySourceLogFile: s.relaySourceLogFile,
        execSourceLogPos: s.execSourceLogPos,
        untilCondition: s.untilCondition,
        untilLogFile: s.untilLogFile,
        untilLogPos: s.untilLogPos,
        skipCounter: s.skipCounter,
        lastSqlErrno: s.lastSqlErrno,
        sqlDelay: s.sqlDelay,
        sqlRemainingDelay: s.sqlRemainingDelay,
      };
    },
    lastSqlError: async () => (await status()).lastSqlError,
    sqlState: async () => (await status()).sqlState,
    retried: async () => (await status()).retriedTransactions,
    readPos: async () => (await status()).readSourceLogPos,
    async relayLogFiles() {
      const index = await readFile(join(dataDir, `relay-bin-${channel}.index`), 'utf8');
      return index.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => join(dataDir, line));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------

/** Polls one side's status until `probe` holds; a timeout names the last status and SQL error seen. */
async function waitFor(side: Side, what: string, probe: (v: View) => boolean, timeoutMs = 20_000): Promise<View> {
  let last: View | undefined;
  try {
    return await until(`${side.label}: ${what}`, async () => {
      last = await side.view();
      return probe(last) && last;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status ${JSON.stringify(last)}; ` +
      `Last_SQL_Error ${JSON.stringify(await side.lastSqlError())}`);
  }
}

const sqlStopped = (side: Side) => waitFor(side, 'SQL stage stopped', (v) => v.sqlRunning === 'No');

async function caughtUp(side: Side, source: TestServer): Promise<View> {
  const { file, pos } = await sourceStatus(source);
  // A relay log that already holds everything lets the SQL stage catch up before the I/O stage has connected.
  return waitFor(side, `applied ${file}:${pos}`, (v) => v.relaySourceLogFile === file && v.execSourceLogPos === pos &&
    v.ioRunning !== 'Connecting');
}

const each = <T>(sides: Side[], work: (side: Side) => Promise<T>): Promise<T[]> => Promise.all(sides.map(work));

/** Asserts that tributary's status matches the native replica's (but for `except`); returns the native one. */
async function sameState(sides: Side[], except: (keyof View)[] = []): Promise<View> {
  const [native, tributary] = await each(sides, (side) => side.view());
  const shown = (v: View) => Object.fromEntries(Object.entries(v).filter(([key]) => !except.includes(key as keyof View)));
  assert.deepEqual(shown(tributary!), shown(native!), 'tributary shows the status the native replica shows');
  return native!;
}

async function rowsOf(server: TestServer, db: string): Promise<[number, string][]> {
  const rows = await server.sql(`SELECT id, v FROM ${db}.t ORDER BY id`) as { id: number; v: string }[];
  return rows.map((r) => [r.id, r.v]);
}

/** Asserts both sides hold the same rows in `db`.t; returns them. */
async function sameRows(sides: Side[], db: string): Promise<[number, string][]> {
  const [native, tributary] = await each(sides, (side) => rowsOf(side.server, db));
  assert.deepEqual(tributary, native, `tributary's ${db}.t holds the rows of the native replica's`);
  return native!;
}

async function transaction(source: TestServer, db: string, ids: number[], v = 'source'): Promise<void> {
  await source.sql('BEGIN', ...ids.map((id) => `INSERT INTO ${db}.t VALUES (${id}, '${v}')`), 'COMMIT');
}

async function insert(source: TestServer, db: string, id: number, v = 'source'): Promise<void> {
  await source.sql(`INSERT INTO ${db}.t VALUES (${id}, '${v}')`);
}

interface BinlogEvent { pos: number; end: number; type: string }
interface Group { start: number; end: number; events: BinlogEvent[] }

/** The source's binlog cut into event groups, each starting at its GTID event. */
async function binlogGroups(source: TestServer): Promise<Group[]> {
  const rows = await source.sql(`SHOW BINLOG EVENTS IN '${FILE}'`) as { Pos: number; End_log_pos: number; Event_type: string }[];
  const groups: Group[] = [];
  for (const r of rows) {
    const event = { pos: Number(r.Pos), end: Number(r.End_log_pos), type: r.Event_type };
    if (event.type === 'Gtid') groups.push({ start: event.pos, end: event.end, events: [event] });
    else if (groups.length > 0) {
      groups.at(-1)!.events.push(event);
      groups.at(-1)!.end = event.end;
    }
  }
  return groups;
}

/**
 * The relay log position right after the copy of the source event that ends at `sourceEnd`: relay positions
 * differ between the two replicas (file names, headers), so each side's is found in its own relay log.
 */
async function relayPositionAfter(side: Side, source: TestServer, sourceEnd: number): Promise<{ relayLogFile: string; relayLogPos: number }> {
  const found: { relayLogFile: string; relayLogPos: number }[] = [];
  for (const path of await side.relayLogFiles()) {
    const buf = await readFile(path);
    for (let pos = 4; pos + 19 <= buf.length;) {
      const header = decodeHeader(buf, pos);
      if (header.serverId === source.serverId && header.logPos === sourceEnd) {
        found.push({ relayLogFile: basename(path), relayLogPos: pos + header.eventLength });
      }
      pos += header.eventLength;
    }
  }
  assert.equal(found.length, 1, `${side.label}'s relay log holds the source event ending at ${sourceEnd} once`);
  return found[0]!;
}

async function holdRowLock(server: TestServer, db: string, id: number): Promise<Connection> {
  const conn = await server.connect();
  await conn.query('BEGIN');
  await conn.query(`SELECT * FROM ${db}.t WHERE id = ${id} FOR UPDATE`);
  return conn;
}

async function release(holders: Connection[]): Promise<void> {
  await Promise.all(holders.map(async (conn) => {
    await conn.query('ROLLBACK');
    await conn.end();
  }));
}

// ---------------------------------------------------------------------------------------------------------

let sources: Record<'um' | 'ur' | 'sk' | 'er' | 'tr' | 'dl', TestServer>;
/** The native replica every scenario measures against; n2 is the one started with --slave-skip-errors=1062. */
let n1: NativeReplica;
let n2: NativeReplica;
let t1: TestServer;
let t2: TestServer;
let e1: ReplicationEngine;
let e2: ReplicationEngine;
let dir1: string;
let dir2: string;

/** The native replica and tributary, in that order, on one channel of n1 / e1. */
function pair(channel: keyof typeof sources): Side[] {
  return [nativeSide(n1, channel), tributarySide(e1, channel, t1, dir1)];
}

before(async () => {
  const names = ['um', 'ur', 'sk', 'er', 'tr', 'dl'] as const;
  const started = await Promise.all([
    ...names.map((_, i) => startMariaDb({ serverId: 131 + i })),
    startNativeReplica({ serverId: 231 }),
    startNativeReplica({ serverId: 232, args: ['--slave-skip-errors=1062'] }),
    startMariaDb({ serverId: 331, noBinlog: true }),
    startMariaDb({ serverId: 332, noBinlog: true }),
  ]);
  sources = Object.fromEntries(names.map((name, i) => [name, started[i] as TestServer])) as typeof sources;
  [n1, n2] = started.slice(names.length, names.length + 2) as [NativeReplica, NativeReplica];
  [t1, t2] = started.slice(names.length + 2) as [TestServer, TestServer];
  // Every schema exists long before its scenario: MASTER_DELAY must not hold the DDL back in the delay test.
  await Promise.all(names.map((name) => sources[name].sql(`CREATE DATABASE ${name}`,
    `CREATE TABLE ${name}.t (id INT PRIMARY KEY, v VARCHAR(20))`)));
  await n1.server.sql(`SET GLOBAL slave_transaction_retries = ${RETRIES}`);
  [dir1, dir2] = await Promise.all([tempDir('sqlctl1'), tempDir('sqlctl2')]);
  // Two engines on one source must register with different server ids, or the source drops the older dump.
  e1 = await openEngine(t1, { dataDir: dir1, serverId: 3001, replicaTransactionRetries: RETRIES });
  e2 = await openEngine(t2, { dataDir: dir2, serverId: 3002, replicaSkipErrors: [1062] });
});

after(async () => {
  await Promise.all([e1?.close(), e2?.close()]);
  await Promise.all([...Object.values(sources ?? {}), n1, n2, t1, t2].map((server) => server?.destroy()));
});

describe('START SLAVE UNTIL a source position', () => {
  const db = 'um';
  let sides: Side[];
  let groups: Group[];

  before(async () => {
    sides = pair(db);
    const source = sources[db];
    await transaction(source, db, [1, 2, 3]);
    await insert(source, db, 4);
    await insert(source, db, 5);
    // 0: CREATE DATABASE, 1: CREATE TABLE, 2: the transaction of 1-3, 3: 4, 4: 5.
    groups = await binlogGroups(source);
    await each(sides, (side) => side.change(source));
  });

  test('a position inside a transaction stops the SQL stage after that transaction, never inside it', async () => {
    const inside = groups[2]!.events.filter((e) => e.type.startsWith('Write_rows'))[1]!.end;
    await each(sides, (side) => side.start({ until: { sourceLogFile: FILE, sourceLogPos: inside } }));
    await each(sides, sqlStopped);
    const native = await sameState(sides);
    assert.deepEqual(native, {
      ioRunning: 'Yes', sqlRunning: 'No', relaySourceLogFile: FILE, execSourceLogPos: groups[2]!.end,
      untilCondition: 'Master', untilLogFile: FILE, untilLogPos: inside, skipCounter: 0, lastSqlErrno: 0,
      sqlDelay: 0, sqlRemainingDelay: null,
    });
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2, 3]);
  });

  test('a position already passed stops the SQL stage at once, applying nothing', async () => {
    const passed = groups[2]!.start;
    await each(sides, (side) => side.start({ threads: ['SQL_THREAD'], until: { sourceLogFile: FILE, sourceLogPos: passed } }));
    await each(sides, sqlStopped);
    const native = await sameState(sides);
    assert.equal(native.execSourceLogPos, groups[2]!.end);
    assert.equal(native.untilLogPos, passed, 'the status shows the new condition');
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2, 3]);
  });

  test('the end position of a transaction stops the SQL stage right after it', async () => {
    const end = groups[3]!.end;
    await each(sides, (side) => side.start({ threads: ['SQL_THREAD'], until: { sourceLogFile: FILE, sourceLogPos: end } }));
    await each(sides, sqlStopped);
    assert.equal((await sameState(sides)).execSourceLogPos, end);
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2, 3, 4]);
  });

  test('a position inside the last transaction received: it is applied, and the stop comes with the next event', async () => {
    // The native SQL thread tests the condition before it executes an event, so having reached the position is
    // noticed only when another event arrives: until then it waits with Slave_SQL_Running = Yes.
    const inside = groups[4]!.events[0]!.end;
    await each(sides, (side) => side.start({ threads: ['SQL_THREAD'], until: { sourceLogFile: FILE, sourceLogPos: inside } }));
    await each(sides, (side) => waitFor(side, 'the last transaction applied', (v) => v.execSourceLogPos === groups[4]!.end));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await sameState(sides)).sqlRunning, 'Yes');
    await insert(sources[db], db, 6);
    await each(sides, sqlStopped);
    assert.equal((await sameState(sides)).execSourceLogPos, groups[4]!.end);
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2, 3, 4, 5]);
  });

  test('after a stop the status still shows the condition; a start without UNTIL clears it', async () => {
    await each(sides, (side) => side.stop());
    const stopped = await sameState(sides);
    assert.deepEqual([stopped.ioRunning, stopped.sqlRunning], ['No', 'No']);
    assert.deepEqual([stopped.untilCondition, stopped.untilLogFile], ['Master', FILE]);
    await each(sides, (side) => side.start());
    await each(sides, (side) => caughtUp(side, sources[db]));
    const running = await sameState(sides);
    assert.deepEqual([running.untilCondition, running.untilLogFile, running.untilLogPos], ['None', '', 0]);
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2, 3, 4, 5, 6]);
  });

  test('GTID forms of UNTIL are refused, and nothing starts', async () => {
    // The native replica refuses UNTIL master_gtid_pos on a connection not using GTID (error 1949).
    const tributary = sides[1]!;
    await tributary.stop();
    await assert.rejects(tributary.start({ until: { sourceGtidPos: '0-131-3' } }), { errno: 1949 });
    const v = await tributary.view();
    assert.deepEqual([v.ioRunning, v.sqlRunning], ['No', 'No']);
  });
});

describe('START SLAVE UNTIL a relay log position', () => {
  const db = 'ur';
  let sides: Side[];
  let groups: Group[];

  before(async () => {
    sides = pair(db);
    const source = sources[db];
    await transaction(source, db, [1, 2, 3]);
    await insert(source, db, 4);
    await insert(source, db, 5);
    groups = await binlogGroups(source);
    const { pos } = await sourceStatus(source);
    // The I/O stage alone fills the relay log, so that the positions to stop at exist before the SQL stage starts.
    await each(sides, async (side) => {
      await side.change(source);
      await side.start({ threads: ['IO_THREAD'] });
      await until(`${side.label} received everything`, async () => (await side.readPos()) === pos);
    });
  });

  test('a relay position inside a transaction stops the SQL stage after that transaction', async () => {
    const inside = groups[2]!.events.filter((e) => e.type.startsWith('Write_rows'))[1]!.end;
    const given = await each(sides, (side) => relayPositionAfter(side, sources[db], inside));
    await each(sides, (side) => side.start({ threads: ['SQL_THREAD'], until: given[sides.indexOf(side)]! }));
    await each(sides, sqlStopped);
    const native = await sameState(sides, ['untilLogFile', 'untilLogPos']);
    assert.deepEqual([native.ioRunning, native.sqlRunning, native.untilCondition], ['Yes', 'No', 'Relay']);
    assert.equal(native.execSourceLogPos, groups[2]!.end);
    for (const [i, side] of sides.entries()) {
      const v = await side.view();
      assert.deepEqual({ relayLogFile: v.untilLogFile, relayLogPos: v.untilLogPos }, given[i], `${side.label} shows its condition`);
    }
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2, 3]);
  });

  test('the relay position where a transaction ends stops the SQL stage right after it', async () => {
    const given = await each(sides, (side) => relayPositionAfter(side, sources[db], groups[3]!.end));
    await each(sides, (side) => side.start({ threads: ['SQL_THREAD'], until: given[sides.indexOf(side)]! }));
    await each(sides, sqlStopped);
    assert.equal((await sameState(sides, ['untilLogFile', 'untilLogPos'])).execSourceLogPos, groups[3]!.end);
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2, 3, 4]);
    await each(sides, (side) => side.start({ threads: ['SQL_THREAD'] }));
    await each(sides, (side) => caughtUp(side, sources[db]));
    assert.equal((await sameState(sides)).untilCondition, 'None');
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2, 3, 4, 5]);
  });
});

describe('sql_slave_skip_counter', () => {
  const db = 'sk';
  let sides: Side[];

  before(async () => {
    sides = pair(db);
    await each(sides, async (side) => {
      await side.change(sources[db]);
      await side.start();
      await caughtUp(side, sources[db]);
    });
  });

  /** Stops both replicas, sets the counter, lets the source log `work`, starts them and waits for catch-up. */
  async function skipping(count: number, work: () => Promise<void>): Promise<View> {
    await each(sides, (side) => side.stop());
    await each(sides, (side) => side.setSkipCounter(count));
    assert.equal((await sameState(sides)).skipCounter, count, 'the status shows the counter while stopped');
    await work();
    await each(sides, (side) => side.start());
    await each(sides, (side) => caughtUp(side, sources[db]));
    return sameState(sides);
  }

  test('a count of 1 skips the whole multi-statement transaction it enters', async () => {
    const native = await skipping(1, async () => {
      await transaction(sources[db], db, [1, 2, 3]);
      await insert(sources[db], db, 4);
    });
    assert.equal(native.skipCounter, 0);
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [4]);
  });

  test('a count that runs out inside a transaction skips the rest of it', async () => {
    // Counted: GTID, Table_map, Write_rows, Xid, one each (Annotate_rows never reaches a replica without
    // log_slave_updates), so the 3-statement transaction spends 8 and the 9th enters the next transaction.
    const native = await skipping(9, async () => {
      await transaction(sources[db], db, [11, 12, 13]);
      await insert(sources[db], db, 14);
      await insert(sources[db], db, 15);
    });
    assert.equal(native.skipCounter, 0);
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [4, 15]);
  });

  test('a DDL statement counts as its GTID and its Query event', async () => {
    await skipping(3, async () => {
      await sources[db].sql(`CREATE TABLE ${db}.skipped (id INT)`);
      await insert(sources[db], db, 21);
      await insert(sources[db], db, 22);
    });
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [4, 15, 22]);
    const tables = await each(sides, (side) => side.server.sql(`SHOW TABLES IN ${db} LIKE 'skipped'`) as Promise<unknown[]>);
    assert.deepEqual(tables.map((t) => t.length), [0, 0]);
  });

  test('what is left of a count after the events received goes on skipping the events that come later', async () => {
    const native = await skipping(6, async () => {
      await insert(sources[db], db, 31);
    });
    assert.equal(native.skipCounter, 2);
    await insert(sources[db], db, 32);
    await insert(sources[db], db, 33);
    await each(sides, (side) => caughtUp(side, sources[db]));
    assert.equal((await sameState(sides)).skipCounter, 0);
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [4, 15, 22, 33]);
  });

  test('the counter cannot be set while the SQL stage runs', async () => {
    await assert.rejects(sides[0]!.setSkipCounter(1), { errno: 1198 });
    await assert.rejects(sides[1]!.setSkipCounter(1), { errno: 1198, code: 'ER_SLAVE_MUST_STOP' });
    assert.equal((await sameState(sides)).skipCounter, 0);
  });
});

describe('errors on the target', () => {
  const db = 'er';
  let sides: Side[];
  /** Replicas that skip error 1062: n2 started with --slave-skip-errors=1062, e2 opened with replicaSkipErrors. */
  let skippers: Side[];

  before(async () => {
    sides = pair(db);
    skippers = [nativeSide(n2, db), tributarySide(e2, db, t2, dir2)];
    await each([...sides, ...skippers], async (side) => {
      await side.change(sources[db]);
      await side.start();
      await caughtUp(side, sources[db]);
    });
  });

  test('--slave-skip-errors: the failing statement is skipped and the rest of its transaction applies', async () => {
    await each(skippers, (side) => side.server.sql(`INSERT INTO ${db}.t VALUES (2, 'replica')`));
    await transaction(sources[db], db, [1, 2, 3]);
    await insert(sources[db], db, 4);
    await each([...sides, ...skippers], (side) => caughtUp(side, sources[db]));
    const native = await sameState(skippers);
    assert.deepEqual([native.sqlRunning, native.lastSqlErrno], ['Yes', 0]);
    assert.deepEqual(await sameRows(skippers, db), [[1, 'source'], [2, 'replica'], [3, 'source'], [4, 'source']]);
  });

  let failedAt: number;
  let failingEventEnd: number;

  test('an error rolls the transaction back and stops the SQL stage at its start, with the target\'s error', async () => {
    await each(sides, (side) => side.server.sql(`INSERT INTO ${db}.t VALUES (12, 'replica')`));
    failedAt = (await sourceStatus(sources[db])).pos;
    await transaction(sources[db], db, [11, 12, 13]);
    await insert(sources[db], db, 14);
    const failing = (await binlogGroups(sources[db])).find((g) => g.start === failedAt)!;
    failingEventEnd = failing.events.filter((e) => e.type.startsWith('Write_rows'))[1]!.end;
    await each(sides, sqlStopped);
    const native = await sameState(sides);
    assert.deepEqual([native.ioRunning, native.sqlRunning, native.execSourceLogPos, native.lastSqlErrno],
      ['Yes', 'No', failedAt, 1062]);
    assert.deepEqual((await sameRows(sides, db)).filter(([id]) => id > 10), [[12, 'replica']]);

    const [nativeError, tributaryError] = await each(sides, (side) => side.lastSqlError());
    assert.equal(nativeError, `Could not execute Write_rows_v1 event on table ${db}.t; Duplicate entry '12' for key ` +
      `'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's master log ${FILE}, ` +
      `end_log_pos ${failingEventEnd}`);
    // The storage engine's handler error is internal to a native replica; the rest must read the same.
    const withoutHandler = (message: string) => message.replace(/; handler error [A-Z_]+/, '');
    assert.equal(withoutHandler(tributaryError!), withoutHandler(nativeError!));
  });

  test('START clears the error at once and applies the failed transaction again from its start', async () => {
    // A lock on the conflicting row holds the retried transaction, so the state right after START can be read.
    const holders = await each(sides, (side) => holdRowLock(side.server, db, 12));
    try {
      await each(sides, (side) => side.start());
      const running = await sameState(sides);
      assert.deepEqual([running.sqlRunning, running.lastSqlErrno], ['Yes', 0]);
      assert.deepEqual(await each(sides, (side) => side.lastSqlError()), ['', '']);
    } finally {
      await release(holders);
    }
    await each(sides, sqlStopped);
    const native = await sameState(sides);
    assert.deepEqual([native.execSourceLogPos, native.lastSqlErrno], [failedAt, 1062]);
  });

  test('once the conflicting row is gone, START applies the transaction and goes on', async () => {
    await each(sides, (side) => side.server.sql(`DELETE FROM ${db}.t WHERE id = 12`));
    await each(sides, (side) => side.start());
    await each(sides, (side) => caughtUp(side, sources[db]));
    const native = await sameState(sides);
    assert.deepEqual([native.sqlRunning, native.lastSqlErrno], ['Yes', 0]);
    assert.deepEqual(await each(sides, (side) => side.lastSqlError()), ['', '']);
    const [a, b] = await each(sides, (side) => side.server.connect());
    try {
      await assertSameData(a!, b!, [db]);
    } finally {
      await Promise.all([a!.end(), b!.end()]);
    }
  });
});

describe('transient errors on the target', () => {
  const db = 'tr';
  let sides: Side[];

  before(async () => {
    sides = pair(db);
    // Sessions take the global value when they connect: set before the channels start, put back after.
    await each(sides, (side) => side.server.sql('SET GLOBAL innodb_lock_wait_timeout = 1'));
    await sources[db].sql(`INSERT INTO ${db}.t VALUES (1, 'a'), (2, 'a')`);
    await each(sides, async (side) => {
      await side.change(sources[db]);
      await side.start();
      await caughtUp(side, sources[db]);
    });
  });

  after(async () => {
    await each(sides ?? [], (side) => side.server.sql('SET GLOBAL innodb_lock_wait_timeout = 50'));
  });

  test('a lock wait timeout is retried, and the transaction applies once the lock is gone', async () => {
    const retriedBefore = await each(sides, (side) => side.retried());
    const holders = await each(sides, (side) => holdRowLock(side.server, db, 1));
    await sources[db].sql(`UPDATE ${db}.t SET v = 'b' WHERE id = 1`);
    await each(sides, async (side) => {
      const i = sides.indexOf(side);
      try {
        await until(`${side.label} retried`, async () => (await side.retried()) > retriedBefore[i]!, 10_000);
      } finally {
        await holders[i]!.query('ROLLBACK');
        await holders[i]!.end();
      }
    });
    await each(sides, (side) => caughtUp(side, sources[db]));
    const native = await sameState(sides);
    assert.deepEqual([native.sqlRunning, native.lastSqlErrno], ['Yes', 0]);
    const retried = (await each(sides, (side) => side.retried())).map((n, i) => n - retriedBefore[i]!);
    assert.deepEqual(retried, [1, 1], 'one retry each (Retried_transactions)');
    assert.deepEqual(await sameRows(sides, db), [[1, 'b'], [2, 'a']]);
  });

  test('a transaction still failing after replicaTransactionRetries retries stops the SQL stage with the error', async () => {
    const retriedBefore = await each(sides, (side) => side.retried());
    const holders = await each(sides, (side) => holdRowLock(side.server, db, 2));
    const failedAt = (await sourceStatus(sources[db])).pos;
    try {
      await sources[db].sql(`UPDATE ${db}.t SET v = 'b' WHERE id = 2`);
      await each(sides, sqlStopped);
    } finally {
      await release(holders);
    }
    const native = await sameState(sides);
    assert.deepEqual([native.ioRunning, native.execSourceLogPos, native.lastSqlErrno], ['Yes', failedAt, 1205]);
    const retried = (await each(sides, (side) => side.retried())).map((n, i) => n - retriedBefore[i]!);
    assert.deepEqual(retried, [RETRIES, RETRIES]);
    const [nativeError, tributaryError] = await each(sides, (side) => side.lastSqlError());
    // Having given up, the native replica shows the target's message alone.
    assert.equal(nativeError, 'Lock wait timeout exceeded; try restarting transaction');
    assert.ok(tributaryError!.includes(nativeError!), `tributary's error ${JSON.stringify(tributaryError)} has the target's message`);
    assert.deepEqual((await sameRows(sides, db)), [[1, 'b'], [2, 'a']]);

    await each(sides, (side) => side.start());
    await each(sides, (side) => caughtUp(side, sources[db]));
    assert.equal((await sameState(sides)).lastSqlErrno, 0);
    assert.deepEqual(await sameRows(sides, db), [[1, 'b'], [2, 'b']]);
  });
});

describe('MASTER_DELAY', () => {
  const db = 'dl';
  let sides: Side[];

  before(async () => {
    sides = pair(db);
    await each(sides, async (side) => {
      await side.change(sources[db], DELAY);
      await side.start();
      await caughtUp(side, sources[db]);
    });
  });

  test('a transaction is applied no earlier than sourceDelay seconds after its commit on the source', async () => {
    const issued = Date.now();
    await insert(sources[db], db, 1);
    const committed = Date.now();
    const observed = await each(sides, async (side) => {
      let waiting: { state: string; remaining: number | null; delay: number } | undefined;
      const appliedAt = await until(`${side.label} applied the delayed row`, async () => {
        const [v, state, rows] = await Promise.all([side.view(), side.sqlState(), rowsOf(side.server, db)]);
        if (rows.length > 0) return Date.now();
        if (v.sqlRemainingDelay !== null) waiting ??= { state, remaining: v.sqlRemainingDelay, delay: v.sqlDelay };
        return false;
      }, 10_000);
      return { appliedAt, waiting };
    });
    for (const [i, { appliedAt, waiting }] of observed.entries()) {
      const label = sides[i]!.label;
      // The event's timestamp is the source's commit time in whole seconds: the earliest the rule allows.
      assert.ok(appliedAt >= (Math.floor(issued / 1000) + DELAY) * 1000, `${label} waited ${appliedAt - issued} ms`);
      assert.ok(appliedAt <= committed + DELAY * 1000 + 2000, `${label} applied ${appliedAt - committed} ms after the commit`);
      assert.ok(waiting, `${label} showed the wait in its status`);
      assert.equal(waiting.state, DELAY_STATE);
      assert.equal(waiting.delay, DELAY);
      assert.ok(waiting.remaining! >= 0 && waiting.remaining! <= DELAY, `${label} remaining delay ${waiting.remaining}`);
    }
    await each(sides, (side) => caughtUp(side, sources[db]));
    const native = await sameState(sides);
    assert.deepEqual([native.sqlDelay, native.sqlRemainingDelay], [DELAY, null]);
  });

  test('a stop during the wait returns at once, and the transaction waits for the next start', async () => {
    const waitingAt = (await sourceStatus(sources[db])).pos;
    await insert(sources[db], db, 2);
    const stopTimes = await each(sides, async (side) => {
      await waitFor(side, 'waiting for the delay', (v) => v.sqlRemainingDelay !== null, 5_000);
      const start = Date.now();
      await side.stop();
      return Date.now() - start;
    });
    for (const [i, ms] of stopTimes.entries()) assert.ok(ms < 1000, `${sides[i]!.label} took ${ms} ms to stop`);
    const native = await sameState(sides);
    assert.deepEqual([native.sqlRunning, native.execSourceLogPos, native.sqlRemainingDelay], ['No', waitingAt, null]);
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1]);
    await each(sides, (side) => side.start());
    await each(sides, (side) => caughtUp(side, sources[db]));
    assert.deepEqual((await sameRows(sides, db)).map(([id]) => id), [1, 2]);
  });

  test('the delay cannot change while the SQL stage runs', async () => {
    await assert.rejects(sides[0]!.setDelay(0), { errno: 1198 });
    await assert.rejects(sides[1]!.setDelay(0), { errno: 1198, code: 'ER_SLAVE_MUST_STOP' });
    await each(sides, (side) => side.stop());
    await each(sides, (side) => side.setDelay(0));
    assert.equal((await sameState(sides)).sqlDelay, 0);
  });
});
