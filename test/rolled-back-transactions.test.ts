// A source transaction that changed a non-transactional (MyISAM) table after a transactional one and was rolled
// back is written to the binlog whole, ending with ROLLBACK: a replica applies it and rolls back, keeping only
// the MyISAM change (MariaDB writes it so in STATEMENT format; in ROW format the MyISAM rows go in a transaction
// of their own). tributary applies many source transactions in one target transaction, so that ROLLBACK
// must undo the rolled-back transaction alone, never the transactions before it in the same batch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine } from '../src/index.js';
import { catchUp, openEngine } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

describe('a rolled-back mixed transaction in a batch (STATEMENT)', () => {
  let source: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;
  const ids = async (server: TestServer, table: string) =>
    (await server.sql(`SELECT id FROM d.${table} ORDER BY id`) as { id: number }[]).map((r) => r.id);

  before(async () => {
    [source, target] = await Promise.all([
      startMariaDb({ serverId: 151, binlogFormat: 'STATEMENT' }),
      startMariaDb({ serverId: 251, noBinlog: true }),
    ]);
    engine = await openEngine(target);
  });

  after(async () => {
    await engine?.close();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('only the rolled-back transaction is undone, its MyISAM change kept', async () => {
    await source.sql('CREATE DATABASE d', 'CREATE TABLE d.inno (id INT PRIMARY KEY) ENGINE=InnoDB',
      'CREATE TABLE d.myi (id INT PRIMARY KEY) ENGINE=MyISAM');
    // Written before the channel starts, so that the three transactions reach the target in one batch.
    await source.sql('USE d', 'INSERT INTO inno VALUES (1)',
      'BEGIN', 'INSERT INTO inno VALUES (2)', 'INSERT INTO myi VALUES (2)', 'ROLLBACK',
      'INSERT INTO inno VALUES (3)');
    const binlog = await source.sql("SHOW BINLOG EVENTS IN 'mysql-bin.000001'") as { Info: string }[];
    assert.ok(binlog.some((e) => e.Info === 'ROLLBACK'), 'the source wrote the transaction with its ROLLBACK');
    await engine.changeReplicationSource('rb', { sourceHost: source.host, sourcePort: source.port, sourceUser: source.user,
      sourcePassword: source.password, sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4 });
    await engine.startReplica('rb');
    await catchUp(engine, 'rb', source);
    assert.deepEqual(await ids(source, 'inno'), [1, 3]);
    assert.deepEqual(await ids(source, 'myi'), [2]);
    assert.deepEqual(await ids(target, 'inno'), [1, 3]);
    assert.deepEqual(await ids(target, 'myi'), [2]);
  });

  test('ROLLBACK TO SAVEPOINT undoes part of a transaction, which goes on and commits', async () => {
    await source.sql('USE d', 'INSERT INTO inno VALUES (4)',
      'BEGIN', 'INSERT INTO inno VALUES (5)', 'SAVEPOINT s', 'INSERT INTO inno VALUES (6)', 'INSERT INTO myi VALUES (6)',
      'ROLLBACK TO SAVEPOINT s', 'INSERT INTO inno VALUES (7)', 'COMMIT');
    const binlog = await source.sql('SHOW BINLOG EVENTS') as { Info: string }[];
    assert.ok(binlog.some((e) => /ROLLBACK TO/.test(e.Info)), 'the source wrote the ROLLBACK TO SAVEPOINT');
    await catchUp(engine, 'rb', source);
    assert.deepEqual(await ids(source, 'inno'), [1, 3, 4, 5, 7]);
    assert.deepEqual(await ids(target, 'inno'), await ids(source, 'inno'));
    assert.deepEqual(await ids(target, 'myi'), await ids(source, 'myi'));
  });
});
