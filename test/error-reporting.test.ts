// Errors an operator can act on: MySQL's errnos (never Node's negative ones) in MariaDB's words, a connection the
// I/O stage keeps retrying says why, a target that cannot be reached is named, and the advice of an error works
// when followed.
import assert from 'node:assert/strict';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32 } from '../src/binlog/decoder.js';
import { ReplicationError, type ReplicationEngine, type ReplicaStatus } from '../src/index.js';
import { assertMysqlErrnos, assertReplicated, catchUp, openEngine, sourceStatus, tempDir, until } from './helpers/replica.js';
import { freePort, startMariaDb, type TestServer } from './helpers/servers.js';
import { createTypeRichSchema, runTransactions } from './helpers/workload.js';

describe('error reporting', () => {
  let source: TestServer;
  let target: TestServer;
  const engines: ReplicationEngine[] = [];

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 171 }), startMariaDb({ serverId: 271, noBinlog: true })]);
    await source.sql('SET sql_log_bin = 0', "CREATE USER 'repl'@'%' IDENTIFIED BY 'right'",
      "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'");
    const conn = await source.connect();
    await createTypeRichSchema(conn, 'shop');
    await runTransactions(conn, 'shop', { count: 600, seed: 41 });
    await conn.end();
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  async function engine(options: Parameters<typeof openEngine>[1] = {}): Promise<ReplicationEngine> {
    const opened = await openEngine(target, options);
    engines.push(opened);
    return opened;
  }

  /** Polls the channel's status, checking every errno on the way, until `done` says it is what is waited for. */
  async function statusWhen(e: ReplicationEngine, channel: string, what: string,
    done: (s: ReplicaStatus) => boolean): Promise<ReplicaStatus> {
    return until(what, async () => {
      const s = await e.replicaStatus(channel);
      assertMysqlErrnos(s);
      return done(s) && s;
    });
  }

  test('wrong password: the I/O stage keeps connecting and says why (1045), as MariaDB words it', async () => {
    const e = await engine();
    await e.changeReplicationSource('pw', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'repl', sourcePassword: 'wrong',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
    await e.startReplica('pw', { threads: ['IO_THREAD'] });
    const s = await statusWhen(e, 'pw', 'lastIoErrno', (s) => s.lastIoErrno !== 0);
    assert.equal(s.lastIoErrno, 1045, s.lastIoError);
    assert.equal(s.ioRunning, 'Connecting');
    assert.match(s.lastIoError, new RegExp(`^error connecting to master 'repl@127\\.0\\.0\\.1:${source.port}' - ` +
      `retry-time: 1  maximum-retries: 100000  message: Access denied for user 'repl'@'[^']+' \\(using password: YES\\)$`));
    assert.match(s.lastIoErrorTimestamp, /^\d{4}-/);

    // Once it connects, the error is gone, as MariaDB clears it on a successful connection.
    await e.stopReplica('pw');
    await e.changeReplicationSource('pw', { sourcePassword: 'right' });
    await e.startReplica('pw', { threads: ['IO_THREAD'] });
    const connected = await statusWhen(e, 'pw', 'the I/O stage connected', (s) => s.ioRunning === 'Yes');
    assert.equal(connected.lastIoErrno, 0, connected.lastIoError);
  });

  test('source port closed (2003) and unknown host (2005): retried, with the reason in lastIoError', async () => {
    const e = await engine();
    const closed = await freePort();
    await e.changeReplicationSource('closed', {
      sourceHost: '127.0.0.1', sourcePort: closed, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
    await e.changeReplicationSource('unknown', {
      sourceHost: 'no-such-host.invalid', sourcePort: 3306, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1, sourceRetryCount: 0,
    });
    await e.startAllReplicas();
    const refused = await statusWhen(e, 'closed', 'lastIoErrno', (s) => s.lastIoErrno !== 0);
    assert.equal(refused.lastIoErrno, 2003, refused.lastIoError);
    assert.equal(refused.ioRunning, 'Connecting');
    assert.match(refused.lastIoError, new RegExp(`^error connecting to master 'root@127\\.0\\.0\\.1:${closed}' - ` +
      `retry-time: 1  maximum-retries: 100000  message: Can't connect to server on '127\\.0\\.0\\.1:${closed}'`));
    const unknown = await statusWhen(e, 'unknown', 'lastIoErrno', (s) => s.lastIoErrno !== 0);
    assert.equal(unknown.lastIoErrno, 2005, unknown.lastIoError);
    assert.equal(unknown.ioRunning, 'Connecting');
    assert.match(unknown.lastIoError, /^error connecting to master 'root@no-such-host\.invalid:3306' - retry-time: 1  maximum-retries: 0  message: Unknown server host 'no-such-host\.invalid'/);
    assert.equal(unknown.sqlRunning, 'Yes', 'the SQL stage has nothing to do with the source');
  });

  test('a target that is down or refuses: a ReplicationError naming the target, with its errno', async () => {
    const closed = await freePort();
    const down = await engine({ target: { host: '127.0.0.1', port: closed, user: 'root', password: '' } });
    const sourceOptions = {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
    };
    await assert.rejects(down.changeReplicationSource('d', sourceOptions), (err: unknown) => {
      assert.ok(err instanceof ReplicationError, `not a ReplicationError: ${String(err)}`);
      assert.equal(err.errno, 2003);
      assert.match(err.message, new RegExp(`^cannot connect to the target 127\\.0\\.0\\.1:${closed} as 'root': `));
      return true;
    });
    const refused = await engine({ target: { host: target.host, port: target.port, user: 'root', password: 'wrong' } });
    await assert.rejects(refused.changeReplicationSource('r', sourceOptions), (err: unknown) => {
      assert.ok(err instanceof ReplicationError, `not a ReplicationError: ${String(err)}`);
      assert.equal(err.errno, 1045);
      assert.match(err.message, new RegExp(`^cannot connect to the target 127\\.0\\.0\\.1:${target.port} as 'root': ` +
        `Access denied for user 'root'@'[^']+' \\(using password: YES\\)`));
      return true;
    });

    // startReplica with the target down: refused the same way, and nothing started. (This channel starts at the
    // source's end, so that the target's databases stay as they are for the other tests.)
    const e = await engine();
    const end = await sourceStatus(source);
    await e.changeReplicationSource('s', { ...sourceOptions, sourceLogFile: end.file, sourceLogPos: end.pos });
    await target.stop();
    try {
      await assert.rejects(e.startReplica('s'), (err: unknown) => {
        assert.ok(err instanceof ReplicationError, `not a ReplicationError: ${String(err)}`);
        assert.equal(err.errno, 2003);
        assert.match(err.message, new RegExp(`^cannot connect to the target 127\\.0\\.0\\.1:${target.port} as 'root': `));
        return true;
      });
      const s = await e.replicaStatus('s');
      assert.equal(s.sqlRunning, 'No');
    } finally {
      await target.restart();
    }
    await e.startReplica('s');
    await catchUp(e, 's', source);
  });

  test('1236: the source\'s message once, in MariaDB\'s words', async () => {
    const e = await engine();
    await e.changeReplicationSource('gone', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000099', sourceLogPos: 4,
    });
    await e.startReplica('gone', { threads: ['IO_THREAD'] });
    const s = await statusWhen(e, 'gone', 'the I/O stage stopping', (s) => s.ioRunning === 'No');
    assert.equal(s.lastIoErrno, 1236, s.lastIoError);
    assert.equal(s.lastIoError, "Got fatal error 1236 from master when reading data from binary log: " +
      "'Could not find first log file name in binary log index file'");
  });

  test('1594: following the advice of a corrupt relay log event refetches it and the target ends identical', async () => {
    const dataDir = await tempDir('corrupt');
    const e = await engine({ dataDir, maxRelayLogSize: 1 << 17 });
    await e.changeReplicationSource('c', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
    await e.startReplica('c', { threads: ['IO_THREAD'] });
    const end = await sourceStatus(source);
    await statusWhen(e, 'c', 'the relay log holding everything',
      (s) => s.sourceLogFile === end.file && s.readSourceLogPos >= end.pos);
    // The I/O stage keeps running: the SQL stage stops in the middle of what it fetched.
    const files = (await readdir(dataDir)).filter((f) => /^relay-bin-c\.\d{6}$/.test(f)).sort();
    assert.ok(files.length >= 3, `several relay log files: ${files}`);
    const corrupted = await corruptMiddleEvent(join(dataDir, files[1]!));

    await e.startReplica('c', { threads: ['SQL_THREAD'] });
    const failed = await statusWhen(e, 'c', 'the SQL stage stopping', (s) => s.sqlRunning === 'No');
    assert.equal(failed.lastSqlErrno, 1594, failed.lastSqlError);
    assert.ok(failed.lastSqlError.includes(`${files[1]}:${corrupted}`), failed.lastSqlError);
    const advice = /stopReplica\("c"\); changeReplicationSource\("c", \{ sourceLogFile: "([^"]+)", sourceLogPos: (\d+) \}\); startReplica\("c"\)/
      .exec(failed.lastSqlError);
    assert.ok(advice, `the message names the commands to run: ${failed.lastSqlError}`);
    assert.equal(advice[1], failed.relaySourceLogFile);
    assert.equal(Number(advice[2]), failed.execSourceLogPos);
    assert.ok(failed.execSourceLogPos > 4, 'the SQL stage applied what came before the corrupt event');

    await e.stopReplica('c');
    await e.changeReplicationSource('c', { sourceLogFile: advice[1]!, sourceLogPos: Number(advice[2]) });
    await e.startReplica('c');
    await catchUp(e, 'c', source);
    const s = await e.replicaStatus('c');
    assert.equal(s.lastSqlErrno, 0, s.lastSqlError);
    await assertReplicated(source, target, ['shop']);
  });
});

/**
 * Garbles a rows event near the middle of a relay log file so that it no longer decodes while its checksum still
 * holds (its table id names no Table_map; a checksum failure alone is refetched by itself); returns its position.
 */
async function corruptMiddleEvent(path: string): Promise<number> {
  const bytes = await readFile(path);
  const rows: number[] = [];
  for (let pos = 4; pos + 19 <= bytes.length;) {
    const type = bytes[pos + 4]!;
    if (type >= 23 && type <= 25 || type >= 30 && type <= 32) rows.push(pos);
    pos += bytes.readUInt32LE(pos + 9);
  }
  const at = rows[Math.floor(rows.length / 2)];
  assert.ok(at !== undefined, `a rows event in ${path}`);
  const event = Buffer.from(bytes.subarray(at, at + bytes.readUInt32LE(at + 9)));
  event.writeUInt8(event.readUInt8(19) ^ 0xff, 19);
  event.writeUInt32LE(crc32(event.subarray(0, event.length - 4)), event.length - 4);
  const file = await open(path, 'r+');
  try {
    await file.write(event, 0, event.length, at);
  } finally {
    await file.close();
  }
  return at;
}
