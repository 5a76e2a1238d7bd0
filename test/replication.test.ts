// One channel from a MariaDB source to a target through the relay log: byte-identical data, positions,
// status, relay log files that mariadb-binlog reads, reconnects and source errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { decodeHeader } from '../src/binlog/decoder.js';
import type { ReplicationEngine } from '../src/index.js';
import { assertSameData } from './helpers/compare.js';
import { catchUp, openEngine, sourceStatus, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { alterMidway, createTypeRichSchema, extremeRows, runTransactions } from './helpers/workload.js';

const run = promisify(execFile);

describe('one channel, type-rich backlog', () => {
  let source: TestServer;
  let target: TestServer;
  let conn: Connection;
  let engine: ReplicationEngine;
  let dataDir: string;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 101 }), startMariaDb({ serverId: 201, noBinlog: true })]);
    conn = await source.connect();
    // The backlog exists before the replica starts: the ALTERs in the middle are applied only when the
    // SQL stage reaches them, long after they happened on the source.
    await createTypeRichSchema(conn, 'rich');
    await extremeRows(conn, 'rich');
    await runTransactions(conn, 'rich', { count: 5000, seed: 1 });
    await alterMidway(conn, 'rich');
    await runTransactions(conn, 'rich', { count: 5000, seed: 2 });
    dataDir = await tempDir('rich');
    engine = await openEngine(target, { dataDir, relayLogPurge: false, maxRelayLogSize: 4 << 20 });
  });

  after(async () => {
    await engine?.close();
    await conn?.end();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('replicates 10,000 transactions across ALTER TABLE, byte for byte', async () => {
    await engine.changeReplicationSource('dbsv1', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
    await engine.startReplica('dbsv1');
    await catchUp(engine, 'dbsv1', source, 300);
    await assertSameData(conn, await target.connect(), ['rich']);
  });

  test('status shows the positions and states of a caught-up replica', async () => {
    const { file, pos } = await sourceStatus(source);
    const s = await engine.replicaStatus('dbsv1');
    assert.equal(s.channel, 'dbsv1');
    assert.equal(s.ioRunning, 'Yes');
    assert.equal(s.sqlRunning, 'Yes');
    assert.equal(s.ioState, 'Waiting for master to send event');
    assert.equal(s.sqlState, 'Has read all relay log; waiting for the slave I/O thread to update it');
    assert.equal(s.sourceLogFile, file);
    assert.equal(s.readSourceLogPos, pos);
    assert.equal(s.relaySourceLogFile, file);
    assert.equal(s.execSourceLogPos, pos);
    assert.equal(s.sourceServerId, 101);
    assert.equal(s.secondsBehindSource, 0);
    assert.equal(s.lastIoErrno, 0);
    assert.equal(s.lastSqlErrno, 0);
    assert.match(s.relayLogFile, /^relay-bin-dbsv1\.\d{6}$/);
    assert.ok(s.executedLogEntries > 10_000);
    assert.ok(s.relayLogSpace > 4 << 20, 'the backlog spans several relay log files');
    const info = (await readFile(join(dataDir, 'relay-log-dbsv1.info'), 'utf8')).split('\n');
    await until('relay-log.info mirrors the position', async () => {
      const lines = (await readFile(join(dataDir, 'relay-log-dbsv1.info'), 'utf8')).split('\n');
      return lines[4] === String(pos) && lines[3] === file;
    });
    assert.ok(info.length >= 5);
  });

  test('relay log files hold the source binlog verbatim and mariadb-binlog reads them', async () => {
    const index = (await readFile(join(dataDir, 'relay-bin-dbsv1.index'), 'utf8')).trim().split('\n');
    assert.ok(index.length >= 3, `rotation at maxRelayLogSize made several files: ${index.join(', ')}`);
    const binlog = await readFile(join(source.dataDir, 'mysql-bin.000001'));
    // Walk the relay log: every event is either the next event of the source binlog, byte for byte, or one of
    // the headers a relay log file starts with (the replica's own Format_description, position Rotates, the
    // source's Format_description again).
    let offset = 4;
    let headers = 0;
    for (const line of index) {
      const file = line.replace(/^\.\//, '');
      const relay = await readFile(join(dataDir, file));
      const { stderr } = await run('mariadb-binlog', ['--base64-output=decode-rows', '-v', join(dataDir, file)],
        { maxBuffer: 1 << 30 });
      assert.equal(stderr, '', `mariadb-binlog reads ${file}`);
      for (let pos = 4; pos < relay.length;) {
        const header = decodeHeader(relay, pos);
        const event = relay.subarray(pos, pos + header.eventLength);
        if (sameEvent(event, binlog.subarray(offset, offset + header.eventLength))) offset += header.eventLength;
        else {
          assert.ok(header.typeCode === 15 || header.typeCode === 4, `unexpected event type ${header.typeCode} at ${file}:${pos}`);
          headers++;
        }
        pos += header.eventLength;
      }
    }
    assert.equal(offset, binlog.length, 'the whole source binlog is in the relay log');
    assert.ok(headers >= index.length * 2);
  });

  test('a restarted engine continues from where apply stopped', async () => {
    await engine.close();
    await runTransactions(conn, 'rich', { count: 300, seed: 3 });
    engine = await openEngine(target, { dataDir, relayLogPurge: true, maxRelayLogSize: 4 << 20 });
    assert.deepEqual(engine.channelNames(), ['dbsv1']);
    const before = await engine.replicaStatus('dbsv1');
    assert.equal(before.ioRunning, 'No');
    assert.equal(before.sqlRunning, 'No');
    assert.equal(before.sourceHost, source.host);
    assert.equal(await engine.sourcePosWait('dbsv1', 'mysql-bin.000001', 4, 1), null, 'no SQL stage: NULL');
    await engine.startReplica('dbsv1');
    await catchUp(engine, 'dbsv1', source);
    await assertSameData(conn, await target.connect(), ['rich']);
    const { file, pos } = await sourceStatus(source);
    assert.equal(await engine.sourcePosWait('dbsv1', file, pos + 1_000_000, 1), -1, 'timeout: -1');
    await until('purged relay log files', async () => {
      const index = (await readFile(join(dataDir, 'relay-bin-dbsv1.index'), 'utf8')).trim().split('\n');
      return index.length === 1;
    });
  });

  test('a source that goes away is reconnected after sourceConnectRetry', async () => {
    await source.stop();
    await until('I/O stage reconnecting', async () => (await engine.replicaStatus('dbsv1')).ioRunning === 'Connecting');
    await source.restart();
    await conn.end();
    conn = await source.connect();
    await runTransactions(conn, 'rich', { count: 200, seed: 4 });
    await catchUp(engine, 'dbsv1', source);
    assert.equal((await engine.replicaStatus('dbsv1')).ioRunning, 'Yes');
    await assertSameData(conn, await target.connect(), ['rich']);
  });
});

describe('source errors', () => {
  let source: TestServer;
  let target: TestServer;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 102 }), startMariaDb({ serverId: 202, noBinlog: true })]);
  });
  after(async () => Promise.all([source?.destroy(), target?.destroy()]));

  test('a binlog the source does not have stops the I/O stage with error 1236', async () => {
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource('', {
        sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
        sourceLogFile: 'mysql-bin.000099', sourceLogPos: 4, sourceConnectRetry: 1,
      });
      await engine.startReplica('');
      const status = await until('I/O stage stopped', async () => {
        const s = await engine.replicaStatus('');
        return s.ioRunning === 'No' && s;
      });
      assert.equal(status.lastIoErrno, 1236);
      assert.match(status.lastIoError, /^Got fatal error 1236 from master when reading data from binary log: /);
      assert.equal(status.sqlRunning, 'Yes', 'the SQL stage keeps running');
    } finally {
      await engine.close();
    }
  });

  test('start without a source host is refused with ER_BAD_SLAVE and changes nothing', async () => {
    const engine = await openEngine(target);
    try {
      await assert.rejects(engine.startReplica('nope'), { code: 'ER_BAD_SLAVE', errno: 1200 });
      await assert.rejects(engine.changeReplicationSource('x', { sourceHost: 'a\nb' }), { code: 'ER_MASTER_INFO' });
      assert.deepEqual(engine.channelNames(), []);
    } finally {
      await engine.close();
    }
  });
});

/**
 * Events are equal byte for byte, except that a source clears LOG_EVENT_BINLOG_IN_USE_F (flags bit 0, which its
 * checksum does not cover) in the Format_description of a binlog it still writes when it sends it.
 */
function sameEvent(relay: Buffer, binlog: Buffer): boolean {
  if (relay.length !== binlog.length) return false;
  if (relay[4] !== 15) return relay.equals(binlog);
  const masked = Buffer.from(binlog);
  masked[17] = masked[17]! & ~1;
  return relay.equals(masked);
}
