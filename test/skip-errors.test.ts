// replicaSkipErrors: 'all' (--slave-skip-errors=all) side by side with a native replica: in a transaction whose
// second row conflicts with a row the replica already holds, and whose UPDATE finds no row, only the failing
// statements are skipped; the rest of the transaction and everything after it is applied.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine } from '../src/index.js';
import { startNativeReplica, type NativeReplica } from './helpers/native-replica.js';
import { catchUp, openEngine } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

describe("replicaSkipErrors: 'all'", () => {
  let source: TestServer;
  let target: TestServer;
  let native: NativeReplica;
  let engine: ReplicationEngine;

  const rows = async (server: TestServer) =>
    (await server.sql('SELECT id, v FROM s.t ORDER BY id') as { id: number; v: string }[]).map((r) => `${r.id}:${r.v}`);

  before(async () => {
    [source, target, native] = await Promise.all([
      startMariaDb({ serverId: 161 }),
      startMariaDb({ serverId: 261, noBinlog: true }),
      startNativeReplica({ serverId: 361, args: ['--slave-skip-errors=all'] }),
    ]);
    await source.sql('CREATE DATABASE s', 'CREATE TABLE s.t (id INT PRIMARY KEY, v VARCHAR(10))');
    engine = await openEngine(target, { replicaSkipErrors: 'all' });
    await engine.changeReplicationSource('s', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
    });
    await native.changeSource('s', source);
    await engine.startReplica('s');
    await native.start('s');
    await catchUp(engine, 's', source);
    await native.catchUp('s', source);
  });
  after(async () => {
    await engine?.close();
    await Promise.all([source?.destroy(), target?.destroy(), native?.destroy()]);
  });

  test('only the failing statements are skipped', async () => {
    for (const replica of [target, native.server]) await replica.sql("INSERT INTO s.t VALUES (2, 'replica')");
    await source.sql('BEGIN', "INSERT INTO s.t VALUES (1, 'source')", "INSERT INTO s.t VALUES (2, 'source')",
      "INSERT INTO s.t VALUES (3, 'source')", "UPDATE s.t SET v = 'updated' WHERE id = 1", 'COMMIT');
    // Then a row the replicas have lost is deleted on the source (1032 on both), in a transaction that goes on.
    await source.sql("INSERT INTO s.t VALUES (9, 'x')");
    await catchUp(engine, 's', source);
    await native.catchUp('s', source);
    for (const replica of [target, native.server]) await replica.sql('DELETE FROM s.t WHERE id = 9');
    await source.sql('BEGIN', 'DELETE FROM s.t WHERE id = 9', "INSERT INTO s.t VALUES (4, 'source')", 'COMMIT');
    await catchUp(engine, 's', source);
    await native.catchUp('s', source);
    const expected = await rows(native.server);
    assert.deepEqual(expected, ['1:updated', '2:replica', '3:source', '4:source']);
    assert.deepEqual(await rows(target), expected);
    const status = await engine.replicaStatus('s');
    assert.deepEqual([status.sqlRunning, status.lastSqlErrno], ['Yes', 0]);
  });
});
