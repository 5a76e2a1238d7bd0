// CHANGE MASTER rules (seed 003): which stage must be stopped, refused values change nothing, a new host
// resets the position, one channel per source, IGNORE_SERVER_IDS.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine } from '../src/index.js';
import { catchUp, openEngine, tempDir } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

describe('CHANGE MASTER', () => {
  let source: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;
  let dataDir: string;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 121 }), startMariaDb({ serverId: 221, noBinlog: true })]);
    dataDir = await tempDir('change');
    engine = await openEngine(target, { dataDir });
    await engine.changeReplicationSource('dbsv1', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
  });
  after(async () => {
    await engine?.close();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('I/O stage options need the I/O stage stopped, and only that', async () => {
    await engine.startReplica('dbsv1');
    await assert.rejects(engine.changeReplicationSource('dbsv1', { sourceConnectRetry: 5 }),
      { code: 'ER_SLAVE_MUST_STOP', errno: 1198 });
    await engine.stopReplica('dbsv1', { threads: ['IO_THREAD'] });
    await engine.changeReplicationSource('dbsv1', { sourceConnectRetry: 5, sourceHeartbeatPeriod: 2 });
    const s = await engine.replicaStatus('dbsv1');
    assert.equal(s.sqlRunning, 'Yes');
    assert.equal(s.sourceConnectRetry, 5);
    assert.equal(s.heartbeatPeriod, 2);
    assert.equal(s.sourceUser, 'root', 'options left out keep their values');
    await engine.stopReplica('dbsv1');
  });

  test('refused values change nothing', async () => {
    const before = await readFile(join(dataDir, 'master-dbsv1.info'), 'utf8');
    await assert.rejects(engine.changeReplicationSource('dbsv1', { sourceUser: 'x'.repeat(97) }), { code: 'ER_WRONG_ARGUMENTS' });
    await assert.rejects(engine.changeReplicationSource('dbsv1', { sourcePassword: 'p\nq' }), { code: 'ER_MASTER_INFO', errno: 1201 });
    await assert.rejects(engine.changeReplicationSource('dbsv1', { sourceLogPos: 2 }), { code: 'ER_WRONG_ARGUMENTS' });
    await assert.rejects(engine.changeReplicationSource('dbsv1', { ignoreServerIds: [-1] }), { code: 'ER_WRONG_ARGUMENTS' });
    assert.equal(await readFile(join(dataDir, 'master-dbsv1.info'), 'utf8'), before);
  });

  test('a second channel to the same source is refused', async () => {
    await assert.rejects(engine.changeReplicationSource('dbsv2', { sourceHost: source.host, sourcePort: source.port }),
      { code: 'ER_CONNECTION_ALREADY_EXISTS' });
    assert.deepEqual(engine.channelNames(), ['dbsv1']);
  });

  test('a new host without a position starts at the beginning of its binlog', async () => {
    await engine.changeReplicationSource('dbsv1', { sourcePort: source.port + 1 });
    let s = await engine.replicaStatus('dbsv1');
    assert.equal(s.sourceLogFile, '');
    assert.equal(s.readSourceLogPos, 4);
    await engine.changeReplicationSource('dbsv1', { sourcePort: source.port, sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4 });
    s = await engine.replicaStatus('dbsv1');
    assert.equal(s.sourceLogFile, 'mysql-bin.000001');
  });

  test('events of ignored server ids are not applied, and positions still advance', async () => {
    await engine.changeReplicationSource('dbsv1', { ignoreServerIds: [999, 77, 999] });
    assert.deepEqual((await engine.replicaStatus('dbsv1')).replicateIgnoreServerIds, [77, 999]);
    await source.sql('CREATE DATABASE ign', 'CREATE TABLE ign.t (id INT PRIMARY KEY, origin INT)',
      'INSERT INTO ign.t VALUES (1, 121)');
    await source.sql('SET SESSION server_id = 999; INSERT INTO ign.t VALUES (2, 999); INSERT INTO ign.t VALUES (3, 999)');
    await source.sql('INSERT INTO ign.t VALUES (4, 121)');
    await engine.startReplica('dbsv1');
    await catchUp(engine, 'dbsv1', source);
    const rows = await target.sql('SELECT id FROM ign.t ORDER BY id') as { id: number }[];
    assert.deepEqual(rows.map((r) => r.id), [1, 4]);
    await engine.stopReplica('dbsv1');
  });
});
