// Crash safety: a replica process killed with SIGKILL at arbitrary moments, while applying a backlog and
// while the source keeps writing, ends with a target identical to the source (nothing lost, nothing applied
// twice); and a crash between a DDL and its position update restarts cleanly.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { ReplicationSourceOptions } from '../src/index.js';
import { assertSameData } from './helpers/compare.js';
import { MYSQL_CHAIN_UUID, mysqlFixtures, mysqlGtidInserts } from './helpers/binlog-events.js';
import { startFakeSource, type FakeSource } from './helpers/fake-source.js';
import { catchUp, openEngine, sourceStatus, tempDir, until } from './helpers/replica.js';
import { replicaProcess } from './helpers/replica-process.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { Rng, alterMidway, createTypeRichSchema, extremeRows, runTransactions } from './helpers/workload.js';

async function appliedPosition(target: TestServer): Promise<number> {
  const rows = await target.sql(
    "SELECT source_log_pos AS pos FROM tributary.replication_position WHERE channel = 'c1'",
  ) as { pos: string }[];
  return rows.length ? Number(rows[0]!.pos) : 0;
}

/** The replica process (test/fixtures/replica-process.ts) replicating `channel` into `target`, relay log files of 1 MiB. */
function processConfig(dataDir: string, channel: string, target: TestServer, source: ReplicationSourceOptions,
  extra: object = {}): object {
  return {
    dataDir, serverId: 3001, channel, maxRelayLogSize: 1 << 20,
    target: { host: target.host, port: target.port, user: target.user, password: target.password }, source, ...extra,
  };
}

describe('kill -9', () => {
  let source: TestServer;
  let target: TestServer;
  let conn: Connection;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 111 }), startMariaDb({ serverId: 211, noBinlog: true })]);
    conn = await source.connect();
    await createTypeRichSchema(conn, 'crash');
    await extremeRows(conn, 'crash');
    await runTransactions(conn, 'crash', { count: 4000, seed: 11 });
    await alterMidway(conn, 'crash');
    await runTransactions(conn, 'crash', { count: 4000, seed: 12 });
  });

  after(async () => {
    await conn?.end();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('at random moments during apply and live traffic, then restart: target identical to source', async () => {
    const dataDir = await tempDir('crash');
    const config = {
      dataDir, serverId: 3001, channel: 'c1', maxRelayLogSize: 1 << 20,
      target: { host: target.host, port: target.port, user: target.user, password: target.password },
      source: {
        sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
        sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
      },
    };
    const rng = new Rng(2026);
    // More traffic arrives while the replica is being killed.
    const traffic = runTransactions(await source.connect(), 'crash', { count: 2000, seed: 13 });
    const behind: boolean[] = [];
    for (let round = 0; round < 8; round++) {
      const replica = await replicaProcess(config);
      await new Promise((r) => setTimeout(r, rng.int(200, 1500)));
      await replica.kill();
      behind.push((await appliedPosition(target)) < (await sourceStatus(source)).pos);
    }
    await traffic;
    assert.ok(behind.filter(Boolean).length >= 4, `most kills landed before the replica caught up: ${behind}`);

    const engine = await openEngine(target, { dataDir });
    try {
      await engine.startReplica('c1');
      await catchUp(engine, 'c1', source, 300);
      await assertSameData(conn, await target.connect(), ['crash']);
    } finally {
      await engine.close();
    }
  });
});

describe('crash between a DDL and its position update', () => {
  let source: TestServer;
  let target: TestServer;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 112 }), startMariaDb({ serverId: 212, noBinlog: true })]);
    await source.sql('CREATE DATABASE d', 'CREATE TABLE d.t (id INT PRIMARY KEY, v INT)', 'INSERT INTO d.t VALUES (1, 1)',
      'ALTER TABLE d.t ADD COLUMN w INT DEFAULT 5');
  });
  after(async () => Promise.all([source?.destroy(), target?.destroy()]));

  /** Puts the target's position back to the start of the ALTER, as a crash right after the DDL would leave it. */
  async function rewindToAlter(marker: boolean): Promise<void> {
    const events = await source.sql("SHOW BINLOG EVENTS IN 'mysql-bin.000001'") as
      { Pos: number; End_log_pos: number; Event_type: string; Info: string }[];
    const at = events.findIndex((e) => e.Event_type === 'Query' && /ALTER TABLE/i.test(e.Info));
    const start = events[at - 1]!.Pos;
    const end = events[at]!.End_log_pos;
    await target.sql(`UPDATE tributary.replication_position SET relay_log_file = 'relay-bin-c2.999999',
      relay_log_pos = 4, source_log_pos = ${start},
      ddl_end_source_log_file = ${marker ? "'mysql-bin.000001'" : 'NULL'}, ddl_end_source_log_pos = ${marker ? end : 'NULL'}
      WHERE channel = 'c2'`);
  }

  test('with the marker the DDL is recognised as done; without it the replica stops as the servers would', async () => {
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource('c2', {
        sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
        sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
      });
      await engine.startReplica('c2');
      await catchUp(engine, 'c2', source);
      await engine.stopReplica('c2');

      await rewindToAlter(false);
      await engine.startReplica('c2');
      const stopped = await engine.sourcePosWait('c2', 'mysql-bin.000001', (await sourceStatus(source)).pos, 30);
      assert.equal(stopped, null);
      const failed = await engine.replicaStatus('c2');
      assert.equal(failed.lastSqlErrno, 1060, failed.lastSqlError);
      assert.equal(failed.sqlRunning, 'No');

      await engine.stopReplica('c2');
      await rewindToAlter(true);
      await engine.startReplica('c2');
      await source.sql('INSERT INTO d.t (id) VALUES (2)');
      await catchUp(engine, 'c2', source);
      const s = await engine.replicaStatus('c2');
      assert.equal(s.lastSqlErrno, 0);
      await assertSameData(await source.connect(), await target.connect(), ['d']);
    } finally {
      await engine.close();
    }
  });
});

describe('kill -9 of a GTID channel', () => {
  let source: TestServer;
  let target: TestServer;
  let conn: Connection;
  /** The sequence number in domain 0 before the counter's first insert: insert i has GTID 0-113-(base + i). */
  let base: number;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 113 }), startMariaDb({ serverId: 213, noBinlog: true })]);
    conn = await source.connect();
    // The type-rich workload in domain 1; in domain 0 a counter whose GTIDs say which rows they wrote.
    await conn.query('SET gtid_domain_id = 1');
    await createTypeRichSchema(conn, 'gcrash');
    await runTransactions(conn, 'gcrash', { count: 300, seed: 21 });
    await source.sql('CREATE DATABASE gcount', 'CREATE TABLE gcount.seqs (id INT PRIMARY KEY)');
    base = Number(/(?:^|,)0-113-(\d+)/.exec(await gtidBinlogPos(source))![1]);
  });

  after(async () => {
    await conn?.end();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  async function gtidBinlogPos(server: TestServer): Promise<string> {
    const [row] = await server.sql('SELECT @@gtid_binlog_pos AS pos') as { pos: string }[];
    return row!.pos;
  }

  /** The stored GTID state and the counter rows the target holds: the state must name exactly those rows. */
  async function assertStateMatchesRows(): Promise<string> {
    const [row] = await target.sql("SELECT gtid_state AS g FROM tributary.replication_position WHERE channel = 'g1'") as { g: string | null }[];
    const state = row?.g ?? '';
    const seq = /(?:^|,)0-113-(\d+)/.exec(state);
    const expected = seq ? Math.max(0, Number(seq[1]) - base) : 0;
    const [{ present }] = await target.sql("SELECT COUNT(*) AS present FROM information_schema.tables " +
      "WHERE table_schema = 'gcount' AND table_name = 'seqs'") as [{ present: number }];
    const [{ n, top }] = Number(present) > 0
      ? await target.sql('SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS top FROM gcount.seqs') as [{ n: number; top: number }]
      : [{ n: 0, top: 0 }];
    assert.deepEqual([Number(n), Number(top)], [expected, expected], `gtid_state ${state} against the counter rows`);
    return state;
  }

  test('positions and the GTID state survive kill -9 exactly; restarted, the target equals the source', async () => {
    const dataDir = await tempDir('gtid-crash');
    const config = processConfig(dataDir, 'g1', target, { sourceHost: source.host, sourcePort: source.port, sourceUser: 'root',
      sourcePassword: '', sourceConnectRetry: 1, sourceUseGtid: 'slave_pos' });
    const rng = new Rng(2027);
    const live = await source.connect();
    await live.query('SET gtid_domain_id = 1');
    const traffic = runTransactions(live, 'gcrash', { count: 1500, seed: 22 });
    // The counter goes on for as long as the replica is being killed.
    let killing = true;
    const counter = (async () => {
      const c = await source.connect();
      for (let i = 1; killing; i++) await c.query(`INSERT INTO gcount.seqs VALUES (${i})`);
      await c.end();
    })();
    const states = new Set<string>();
    const behind: boolean[] = [];
    for (let round = 0; round < 6; round++) {
      const replica = await replicaProcess(config);
      await new Promise((r) => setTimeout(r, rng.int(300, 2000)));
      await replica.kill();
      const state = await assertStateMatchesRows();
      states.add(state);
      behind.push(state !== await gtidBinlogPos(source));
    }
    killing = false;
    await Promise.all([traffic, counter]);
    await live.end();
    assert.ok(states.size >= 3, `the kills landed at different GTID states: ${[...states].join(' | ')}`);
    assert.ok(behind.filter(Boolean).length >= 3, `most kills landed before the replica caught up: ${behind}`);

    const engine = await openEngine(target, { dataDir });
    try {
      await engine.startReplica('g1');
      const pos = await gtidBinlogPos(source);
      assert.equal(await engine.sourceGtidWait('g1', pos, 300), 0, JSON.stringify(await engine.replicaStatus('g1')));
      assert.equal(await assertStateMatchesRows(), pos);
      assert.equal((await engine.replicaStatus('g1')).gtidIoPos, pos);
      await assertSameData(conn, await target.connect(), ['gcrash', 'gcount']);
    } finally {
      await engine.close();
    }
  });
});

describe('kill -9 of a MySQL auto-position channel', () => {
  let target: TestServer;
  let source: FakeSource;
  const FILES = 5;
  const PER_FILE = 4000;
  const total = FILES * PER_FILE;

  before(async () => {
    const fixtures = new Map((await mysqlFixtures()).map(({ name, data }) => [name, data] as const));
    [target, source] = await Promise.all([
      startMariaDb({ serverId: 214, noBinlog: true }),
      startFakeSource({ serverId: 1, version: '8.4.3', checksum: 'CRC32', events: [], uuid: MYSQL_CHAIN_UUID,
        gtidBinlogs: mysqlGtidInserts(fixtures, FILES, PER_FILE) }),
    ]);
    // No primary key: a transaction applied twice would leave its three rows twice.
    await target.sql('CREATE DATABASE mcrash',
      'CREATE TABLE mcrash.items (id INT, sku VARCHAR(64) NOT NULL, qty INT NOT NULL, created_at TIMESTAMP NULL)');
  });

  after(async () => {
    await source?.close();
    await target?.destroy();
  });

  /** The executed set kept on the target names exactly the transactions whose rows the target holds. */
  async function assertSetMatchesRows(): Promise<string> {
    const [row] = await target.sql("SELECT gtid_state AS g FROM tributary.replication_position WHERE channel = 'm1'") as { g: string | null }[];
    const state = row?.g ?? '';
    const applied = /^[0-9a-f-]{36}:1-(\d+)$/.exec(state);
    assert.ok(state === '' || applied, `the executed set '${state}' is one interval from 1`);
    const [{ n }] = await target.sql('SELECT COUNT(*) AS n FROM mcrash.items') as [{ n: number }];
    assert.equal(Number(n), 3 * (applied ? Number(applied[1]) : 0), `executed set ${state} against the rows`);
    return state;
  }

  test('the executed set and the rows survive kill -9 exactly; restarted, the target holds each transaction once', async () => {
    const dataDir = await tempDir('mysql-gtid-crash');
    const config = processConfig(dataDir, 'm1', target, { sourceHost: source.host, sourcePort: source.port, sourceUser: 'repl',
      sourcePassword: 'secret', sourceConnectRetry: 1, sourceAutoPosition: true },
    { filters: { replicateRewriteDb: [['binlogtest', 'mcrash']] } });
    const states = new Set<string>();
    const probe = await target.connect();
    try {
      // The executed set the target's position row holds: one row by key, cheap to ask while the target applies
      // (a COUNT(*) of the rows took some 175 ms there).
      const executed = async () => {
        try {
          const [rows] = await probe.query("SELECT gtid_state AS g FROM tributary.replication_position WHERE channel = 'm1'");
          return (rows as { g: string | null }[])[0]?.g ?? '';
        } catch {
          return ''; // the replica has not created its position table yet
        }
      };
      for (let round = 0; round < 5; round++) {
        const replica = await replicaProcess(config);
        // Killed as soon as it has committed past the last kill, asked every few milliseconds: points set ahead
        // would be overrun on a fast machine (a thousand single-insert transactions go to the target as one
        // statement), while the first commit of each start spreads the kills over the backlog on any machine.
        const before = await executed();
        const deadline = Date.now() + 120_000;
        while (await executed() === before) {
          assert.ok(Date.now() < deadline, `a commit past ${before || 'nothing'} within 120 s`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await replica.kill();
        states.add(await assertSetMatchesRows());
      }
    } finally {
      await probe.end();
    }
    const behind = [...states].filter((s) => s !== `${MYSQL_CHAIN_UUID}:1-${total}`);
    assert.ok(behind.length >= 3, `the kills landed at different executed sets before the end: ${[...states].join(' | ')}`);

    const engine = await openEngine(target, { dataDir });
    try {
      await engine.startReplica('m1');
      await until('the whole set executed', async () => {
        const status = await engine.replicaStatus('m1');
        assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
        return status.executedGtidSet === `${MYSQL_CHAIN_UUID}:1-${total}`;
      }, 120_000);
      assert.equal(await assertSetMatchesRows(), `${MYSQL_CHAIN_UUID}:1-${total}`);
      // Each start after the first asked by what the target had executed and the relay log held.
      assert.ok(source.dumps.slice(1).every((d) => d.gtidSet !== ''), JSON.stringify(source.dumps));
    } finally {
      await engine.close();
    }
  });
});
