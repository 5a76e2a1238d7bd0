// Relay log faults recover by themselves: a full disk (the I/O stage waits and the SQL stage still purges),
// relay_log_space_limit (the relay log stays bounded with a large backlog), and a torn or garbled event in the
// middle of the relay log (cut off and fetched again). Each ends with the target identical to the source:
// nothing lost, nothing applied twice (the counters are STATEMENT-logged `n = n + 1`). A garbled event the
// source itself sends is fetched again once, then stops the SQL stage.
import assert from 'node:assert/strict';
import { open, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pino } from 'pino';
import { decodeHeader } from '../src/binlog/decoder.js';
import type { ReplicaStatus, ReplicationEngine } from '../src/index.js';
import { IoState } from '../src/status.js';
import { assertSameData } from './helpers/compare.js';
import { fillDisk, mountSmallDisk } from './helpers/disk.js';
import { assertReplicated, catchUp, openEngine, sourceStatus, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

let source: TestServer;
let target: TestServer;

before(async () => {
  [source, target] = await Promise.all([
    startMariaDb({ serverId: 7301, binlogFormat: 'MIXED' }), startMariaDb({ serverId: 7302, noBinlog: true }),
  ]);
});

after(async () => {
  await Promise.all([source?.destroy(), target?.destroy()]);
});

/** A database on the source for one test, and the connection that writes it (its default database). */
async function schema(db: string): Promise<Connection> {
  const conn = await source.connect();
  await conn.query(`CREATE DATABASE ${db}`);
  await conn.query(`USE ${db}`);
  await conn.query('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, grp INT NOT NULL, v LONGBLOB NOT NULL)');
  await conn.query('CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)');
  await conn.query('INSERT INTO counters VALUES (0, 0), (1, 0), (2, 0), (3, 0), (4, 0)');
  return conn;
}

/** Transactions of one row with a `blob`-byte value (in the statement, so in the binlog) and one counter increment each. */
async function traffic(conn: Connection, transactions: number, blob: number, from = 0): Promise<void> {
  for (let i = from; i < from + transactions; i++) {
    await conn.query('BEGIN');
    await conn.query('INSERT INTO t (grp, v) VALUES (?, ?)', [i % 7, String.fromCharCode(97 + (i % 26)).repeat(blob)]);
    await conn.query('UPDATE counters SET n = n + 1 WHERE id = ?', [i % 5]);
    await conn.query('COMMIT');
  }
}

/** A channel from `start` in the source's binlog (each test's engine applies only its own database). */
async function channelFor(engine: ReplicationEngine, channel: string, start: { file: string; pos: number }): Promise<void> {
  await engine.changeReplicationSource(channel, {
    sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
    sourceLogFile: start.file, sourceLogPos: start.pos, sourceConnectRetry: 1,
  });
}

/** Reads the status every 20 ms until stopped; collects what `look` finds wrong. */
function watch(engine: ReplicationEngine, channel: string, look: (s: ReplicaStatus) => string | undefined) {
  const problems = new Set<string>();
  const statuses: ReplicaStatus[] = [];
  const timer = setInterval(() => {
    void engine.replicaStatus(channel).then((s) => {
      statuses.push(s);
      const problem = look(s);
      if (problem) problems.add(problem);
    }, () => undefined);
  }, 20);
  return { problems, statuses, stop: () => clearInterval(timer) };
}

/** A stage that stopped with an error shows it in the status. */
const noErrors = (s: ReplicaStatus) => s.lastIoErrno !== 0 || s.lastSqlErrno !== 0
  ? `io ${s.ioRunning} ${s.lastIoErrno} ${s.lastIoError} / sql ${s.sqlRunning} ${s.lastSqlErrno} ${s.lastSqlError}`
  : undefined;

/** The channel's status; fails when a stage stopped with an error, rather than waiting on. */
async function statusOf(engine: ReplicationEngine, channel: string): Promise<ReplicaStatus> {
  const s = await engine.replicaStatus(channel);
  const problem = noErrors(s);
  if (problem) throw new Error(`a stage stopped: ${problem}`);
  return s;
}

describe('a full disk', () => {
  test('the I/O stage waits for space instead of stopping, purging frees it, and all arrives', async (t) => {
    const disk = await mountSmallDisk(4 << 20);
    if (typeof disk === 'string') return t.skip(disk);
    const conn = await schemaAt('fulldisk');
    let engine: ReplicationEngine | undefined;
    try {
      // About 8 MB of binlog: twice the disk.
      await traffic(conn.conn, 1800, 4000);
      engine = await openEngine(target, {
        dataDir: join(disk.dir, 'data'), maxRelayLogSize: 64 << 10, filters: { replicateDoDb: ['fulldisk'] },
      });
      await channelFor(engine, 'disk', conn.start);
      const filler = await fillDisk(disk.dir, 256 << 10);
      const watching = watch(engine, 'disk', noErrors);
      try {
        await engine.startReplica('disk', { threads: ['IO_THREAD'] });
        const full = await until('the I/O stage waiting for disk space', async () => {
          const s = await statusOf(engine!, 'disk');
          return s.ioState === IoState.waitingForDiskSpace && s;
        });
        assert.equal(full.ioRunning, 'Yes');
        // The SQL stage applies and purges on the full disk, and the I/O stage goes on by itself.
        await engine.startReplica('disk', { threads: ['SQL_THREAD'] });
        await until('the I/O stage reading on after purges', async () => {
          const s = await statusOf(engine!, 'disk');
          return s.readSourceLogPos > full.readSourceLogPos + (1 << 20) && s.sqlRunning === 'Yes';
        }, 60_000);
        // Stopped and started again with no space at all: the new relay log file the I/O stage begins with waits.
        await engine.stopReplica('disk');
        await fillDisk(disk.dir);
        await engine.startReplica('disk');
        await until('the restarted I/O stage waiting for disk space', async () => {
          // The SQL stage purges what it has applied, which frees space: the disk is kept full until the wait shows.
          await fillDisk(disk.dir);
          return (await statusOf(engine!, 'disk')).ioState === IoState.waitingForDiskSpace;
        });
        await unlink(filler);
        await catchUp(engine, 'disk', source, 120);
      } finally {
        watching.stop();
      }
      assert.deepEqual([...watching.problems], []);
      assert.ok(watching.statuses.some((s) => s.ioState === IoState.waitingForDiskSpace));
      const end = await engine.replicaStatus('disk');
      assert.equal(end.ioRunning, 'Yes');
      assert.equal(end.sqlRunning, 'Yes');
      await assertSameData(conn.conn, await target.connect(), ['fulldisk']);
    } finally {
      await engine?.close();
      await conn.conn.end();
      await disk.unmount();
    }
  });
  test('started on a full disk after a crash: Read_Master_Log_Pos is where the relay log ends, not master.info', async (t) => {
    const disk = await mountSmallDisk(4 << 20);
    if (typeof disk === 'string') return t.skip(disk);
    const conn = await schemaAt('staleinfo');
    const options = { dataDir: join(disk.dir, 'data'), filters: { replicateDoDb: ['staleinfo'] } };
    const masterInfo = join(options.dataDir, 'master-stale.info');
    let engine: ReplicationEngine | undefined;
    try {
      let older: Buffer | undefined;
      for (const from of [0, 20]) {
        engine = await openEngine(target, options);
        if (from === 0) await channelFor(engine, 'stale', conn.start);
        await engine.startReplica('stale');
        await traffic(conn.conn, 20, 100, from);
        await catchUp(engine, 'stale', source);
        await engine.close();
        older ??= await readFile(masterInfo);
      }
      // master.info as a crash leaves it when it was written last before the second run's transactions.
      await writeFile(masterInfo, older!);
      const end = await sourceStatus(source);
      const filler = await fillDisk(disk.dir);
      engine = await openEngine(target, options);
      await engine.startReplica('stale');
      const waiting = await until('the I/O stage waiting for disk space', async () => {
        const s = await statusOf(engine!, 'stale');
        return s.ioState === IoState.waitingForDiskSpace && s;
      });
      assert.deepEqual([waiting.sourceLogFile, waiting.readSourceLogPos], [end.file, end.pos]);
      await unlink(filler);
      await traffic(conn.conn, 20, 100, 40);
      await catchUp(engine, 'stale', source);
      await assertReplicated(source, target, ['staleinfo']);
    } finally {
      await engine?.close();
      await conn.conn.end();
      await disk.unmount();
    }
  });
});

describe('relayLogSpaceLimit', () => {
  test('a large backlog through a small limit: the relay log stays within it (plus one transaction)', async () => {
    const conn = await schemaAt('spacelimit');
    const limit = 128 << 10;
    // What the I/O stage may pass the limit by: one transaction's events and a relay log file's header.
    const bound = limit + (16 << 10);
    let engine: ReplicationEngine | undefined;
    try {
      // About 4 MB, and the default max_relay_log_size: only the limit rule lets the SQL stage purge.
      await traffic(conn.conn, 1000, 4000);
      await assert.rejects(openEngine(target, { relayLogSpaceLimit: -1 }), { code: 'ER_WRONG_ARGUMENTS' });
      engine = await openEngine(target, { relayLogSpaceLimit: limit, filters: { replicateDoDb: ['spacelimit'] } });
      await channelFor(engine, 'limit', conn.start);
      const watching = watch(engine, 'limit', (s) => noErrors(s) ??
        (s.relayLogSpace > bound ? `relayLogSpace ${s.relayLogSpace} over ${bound}` : undefined));
      try {
        await engine.startReplica('limit', { threads: ['IO_THREAD'] });
        const waiting = await until('the I/O stage waiting for relay log space', async () => {
          const s = await statusOf(engine!, 'limit');
          return s.ioState === IoState.waitingForRelaySpace && s;
        });
        assert.ok(waiting.relayLogSpace > limit - (16 << 10) && waiting.relayLogSpace <= bound, `${waiting.relayLogSpace}`);
        await engine.startReplica('limit', { threads: ['SQL_THREAD'] });
        await catchUp(engine, 'limit', source, 120);
      } finally {
        watching.stop();
      }
      assert.deepEqual([...watching.problems], []);
      await assertSameData(conn.conn, await target.connect(), ['spacelimit']);
    } finally {
      await engine?.close();
      await conn.conn.end();
    }
  });
});

describe('a torn or garbled event in the middle of the relay log', () => {
  /** Where the events of a relay log file start, after its header (magic, Format_description, Rotate ...). */
  async function eventStarts(path: string): Promise<number[]> {
    const data = await readFile(path);
    const starts: number[] = [];
    for (let pos = 4; pos + 19 <= data.length; pos += decodeHeader(data, pos).eventLength) starts.push(pos);
    return starts.slice(4);
  }

  const damages: { name: string; damage: (path: string) => Promise<void> }[] = [
    {
      // A failed write, then a restart: the file ends inside an event and a new file follows.
      name: 'a file that ends inside an event',
      damage: async (path) => {
        const starts = await eventStarts(path);
        await truncate(path, starts[starts.length >> 1]! + 10);
      },
    },
    {
      name: 'a byte flipped in an event (its CRC32 fails)',
      damage: async (path) => {
        const starts = await eventStarts(path);
        const at = starts[starts.length >> 1]! + 21;
        const handle = await open(path, 'r+');
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, at);
        byte[0] = byte[0]! ^ 0xff;
        await handle.write(byte, 0, 1, at);
        await handle.close();
      },
    },
    {
      // A short write, then more events appended after it.
      name: 'a partial event with whole events written after it',
      damage: async (path) => {
        const starts = await eventStarts(path);
        const data = await readFile(path);
        const at = starts[starts.length >> 1]!;
        await writeFile(path, Buffer.concat([data.subarray(0, at + 30), data.subarray(starts[(starts.length >> 1) + 1]!)]));
      },
    },
  ];

  test('is found, cut off and fetched again: nothing lost, nothing doubled', async () => {
    const conn = await schemaAt('torn');
    const dataDir = await tempDir('torn');
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const options = { dataDir, logger, maxRelayLogSize: 16 << 10, filters: { replicateDoDb: ['torn'] } };
    let round = 0;
    try {
      for (const { name, damage } of damages) {
        // The I/O stage alone fetches traffic into relay log files, a file or more for each of ten bursts (each
        // larger than maxRelayLogSize); then the engine stops.
        let engine = await openEngine(target, options);
        if (round === 0) await channelFor(engine, 'torn', conn.start);
        await engine.startReplica('torn', { threads: ['IO_THREAD'] });
        for (let burst = 0; burst < 10; burst++) {
          await traffic(conn.conn, 20, 1000, round * 200 + burst * 20);
          const end = await sourceStatus(source);
          await until('the I/O stage at the source end', async () => {
            const s = await engine.replicaStatus('torn');
            return s.sourceLogFile === end.file && s.readSourceLogPos === end.pos;
          });
        }
        const { relayLogFile } = await engine.replicaStatus('torn');
        await engine.close();

        // A file the SQL stage has still to read, not the last one.
        const files = (await readFile(join(dataDir, 'relay-bin-torn.index'), 'utf8')).split('\n').filter(Boolean)
          .map((line) => line.replace(/^\.\//, ''));
        const unread = files.slice(files.indexOf(relayLogFile) + 1, -1);
        assert.ok(unread.length >= 3, `${name}: only ${unread.length} relay log files to damage`);
        const damaged = unread[unread.length >> 1]!;
        await damage(join(dataDir, damaged));

        engine = await openEngine(target, options);
        try {
          await engine.startReplica('torn');
          await catchUp(engine, 'torn', source, 60);
          const s = await engine.replicaStatus('torn');
          assert.equal(s.lastSqlErrno, 0, `${name}: ${s.lastSqlError}`);
          assert.equal(s.lastIoErrno, 0, `${name}: ${s.lastIoError}`);
          await assertSameData(conn.conn, await target.connect(), ['torn']);
          assert.ok(warnings.some((w) => w.includes(`relay log damaged at ${damaged}:`)), `${name}: no warning names ${damaged}`);
        } finally {
          await engine.close();
        }
        round++;
      }
    } finally {
      await conn.conn.end();
    }
  });
});

describe('a garbled event that the source itself sends', () => {
  test('is fetched again once, then stops the SQL stage with 1594 instead of looping or skipping it', async () => {
    const own = await startMariaDb({ serverId: 7303, binlogFormat: 'MIXED' });
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    let engine: ReplicationEngine | undefined;
    try {
      const conn = await own.connect();
      await conn.query('CREATE DATABASE garbled');
      await conn.query('USE garbled');
      await conn.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100) NOT NULL)');
      for (let i = 0; i < 20; i++) await conn.query('INSERT INTO t VALUES (?, ?)', [i, `row ${i}`]);
      await conn.query('FLUSH BINARY LOGS');
      await conn.end();
      // A byte of the statement of the 10th INSERT, in the source's binlog (the source does not verify checksums).
      const path = join(own.dataDir, 'mysql-bin.000001');
      const data = await readFile(path);
      const at = data.indexOf("INSERT INTO t VALUES (9, 'row 9')");
      assert.ok(at > 0);
      data[at + 30] = data[at + 30]! ^ 0x01;
      await writeFile(path, data);

      engine = await openEngine(target, { logger, filters: { replicateDoDb: ['garbled'] } });
      await engine.changeReplicationSource('garbled', {
        sourceHost: own.host, sourcePort: own.port, sourceUser: 'root', sourcePassword: '',
        sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
      });
      await engine.startReplica('garbled');
      const stopped = await until('the SQL stage stopping', async () => {
        const s = await engine!.replicaStatus('garbled');
        return s.sqlRunning === 'No' && s;
      });
      assert.equal(stopped.lastSqlErrno, 1594);
      assert.match(stopped.lastSqlError, /damaged \(binlog event checksum mismatch.*also after fetching it again from the source at mysql-bin\.000001:\d+/);
      assert.equal(warnings.filter((w) => w.includes('relay log damaged at')).length, 1);
      // Applied up to the event before, nothing after it.
      assert.deepEqual(await target.sql('SELECT COUNT(*) AS n FROM garbled.t'), [{ n: 9 }]);
    } finally {
      await engine?.close();
      await own.destroy();
    }
  });
});

/** The test's schema on the source, and the source position before it: its channel starts there. */
async function schemaAt(db: string): Promise<{ conn: Connection; start: { file: string; pos: number } }> {
  const start = await sourceStatus(source);
  return { conn: await schema(db), start };
}
