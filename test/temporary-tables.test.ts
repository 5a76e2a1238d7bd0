// Temporary tables of a STATEMENT-format source's sessions, side by side with a native MariaDB replica: they
// outlive a stop and start of the SQL stage, and they die with the source, whose restart the replica learns
// from the Format_description at the head of the binlog the source begins at startup.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { ReplicationEngine } from '../src/index.js';
import { startNativeReplica, type NativeReplica } from './helpers/native-replica.js';
import { catchUp, openEngine } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

describe('temporary tables of source sessions', () => {
  let source: TestServer;
  let target: TestServer;
  let native: NativeReplica;
  let engine: ReplicationEngine;
  let session: Connection;

  // Both source sessions, before and after the restart, write under one thread id, as sessions of a restarted
  // server can: the replica must not hand the second one the first one's table.
  const openSession = async () => {
    const conn = await source.connect();
    await conn.query('SET @@session.pseudo_thread_id = 777');
    return conn;
  };
  const counts = async (server: TestServer) =>
    (await server.sql('SELECT n FROM d.counts ORDER BY id') as { n: number }[]).map((r) => Number(r.n));
  const caughtUp = async () => {
    await catchUp(engine, 'tmp', source);
    await native.catchUp('tmp', source);
  };

  before(async () => {
    [source, target, native] = await Promise.all([
      startMariaDb({ serverId: 141, binlogFormat: 'STATEMENT' }),
      startMariaDb({ serverId: 241, noBinlog: true }),
      startNativeReplica({ serverId: 341 }),
    ]);
    await source.sql('CREATE DATABASE d', 'CREATE TABLE d.counts (id INT AUTO_INCREMENT PRIMARY KEY, n INT)');
    engine = await openEngine(target);
    await engine.changeReplicationSource('tmp', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
    await native.changeSource('tmp', source, undefined, 'MASTER_CONNECT_RETRY=1');
    await engine.startReplica('tmp');
    await native.start('tmp');
    session = await openSession();
    await session.query('CREATE TEMPORARY TABLE d.scratch (x INT)');
    await session.query('INSERT INTO d.scratch VALUES (1), (2)');
    await caughtUp();
  });
  after(async () => {
    await session?.end().catch(() => undefined);
    await engine?.close();
    await Promise.all([source?.destroy(), target?.destroy(), native?.destroy()]);
  });

  test('a temporary table outlives a stop and start of the SQL stage', async () => {
    await engine.stopReplica('tmp', { threads: ['SQL_THREAD'] });
    await native.stop('tmp', ['SQL_THREAD']);
    await engine.startReplica('tmp', { threads: ['SQL_THREAD'] });
    await native.start('tmp', { threads: ['SQL_THREAD'] });
    await session.query('INSERT INTO d.counts (n) SELECT COUNT(*) FROM d.scratch');
    await caughtUp();
    assert.deepEqual(await counts(native.server), [2]);
    assert.deepEqual(await counts(target), [2]);
    assert.equal((await engine.replicaStatus('tmp')).lastSqlErrno, 0);
  });

  test('a source that restarts takes its sessions\' temporary tables with it', async () => {
    // Killed, not shut down: a server that crashes writes no DROP TEMPORARY TABLE for its sessions.
    process.kill(source.pid, 'SIGKILL');
    await source.stop();
    await session.end().catch(() => undefined);
    await source.restart();
    session = await openSession();
    await session.query('CREATE TEMPORARY TABLE IF NOT EXISTS d.scratch (x INT)');
    await session.query('INSERT INTO d.scratch VALUES (5)');
    await session.query('INSERT INTO d.counts (n) SELECT COUNT(*) FROM d.scratch');
    await caughtUp();
    assert.deepEqual(await counts(native.server), [2, 1]);
    assert.deepEqual(await counts(target), [2, 1]);
  });
});
