// Set-based row changes on a real target: deletes and updates of many rows by key reach the target as a few
// statements (its Com_delete / Com_update counters), a row missing from the target stops the channel with the
// error a row-by-row replica gives (1032 naming the rows event that did not find it) and loses nothing, and a
// table with triggers on the target keeps one statement per row, so that they fire in the source's order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine } from '../src/index.js';
import { catchUp, openEngine, sourceStatus, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

describe('set-based row changes', () => {
  let source: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;

  const rows = async (server: TestServer, table = 's.t') =>
    (await server.sql(`SELECT * FROM ${table} ORDER BY id`) as Record<string, unknown>[]).map((r) => JSON.stringify(r));
  const counters = async () => Object.fromEntries((await target.sql("SHOW GLOBAL STATUS LIKE 'Com_%'") as
    { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, Number(r.Value)]));
  /** End positions of the source's rows events of one type, in binlog order. */
  const rowsEventEnds = async (type: string) => (await source.sql("SHOW BINLOG EVENTS IN 'mysql-bin.000001'") as
    { Event_type: string; End_log_pos: number }[]).filter((e) => e.Event_type === type).map((e) => Number(e.End_log_pos));
  const stopped = () => until('the SQL stage to stop', async () => {
    const status = await engine.replicaStatus('s');
    return status.sqlRunning === 'No' && status;
  });

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 171 }), startMariaDb({ serverId: 271, noBinlog: true })]);
    await source.sql('CREATE DATABASE s', 'CREATE TABLE s.t (id INT PRIMARY KEY, v INT, note VARCHAR(20))',
      "INSERT INTO s.t SELECT seq, seq, CONCAT('n', seq) FROM s.seq_1_to_400");
    engine = await openEngine(target);
    await engine.changeReplicationSource('s', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
    });
    await engine.startReplica('s');
    await catchUp(engine, 's', source);
  });
  after(async () => {
    await engine?.close();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('deletes and updates of many rows by key are a few statements on the target, with the same rows', async () => {
    const start = await counters();
    await source.sql('BEGIN', "UPDATE s.t SET v = v * 2, note = 'updated' WHERE id <= 200",
      'DELETE FROM s.t WHERE id > 300', 'UPDATE s.t SET v = -v WHERE id > 250', 'COMMIT');
    await catchUp(engine, 's', source);
    assert.deepEqual(await rows(target), await rows(source));
    const end = await counters();
    // One statement per row would be 250 UPDATEs and 100 DELETEs.
    assert.ok(end.Com_update! - start.Com_update! <= 10, `${end.Com_update! - start.Com_update!} UPDATE statements`);
    assert.ok(end.Com_delete! - start.Com_delete! <= 2, `${end.Com_delete! - start.Com_delete!} DELETE statements`);
  });

  for (const kind of ['delete', 'update'] as const) {
    test(`a ${kind} of several rows events missing a row stops with 1032 naming its rows event; nothing is lost`, async () => {
      // Six rows in two rows events of one transaction; the target has lost one (in the second event for a
      // delete, in the first for an update: the set holds both events either way).
      const first = kind === 'delete' ? 101 : 111;
      const ids = [0, 1, 2, 3, 4, 5].map((i) => first + i);
      const lost = kind === 'delete' ? ids[4]! : ids[1]!;
      await target.sql(`DELETE FROM s.t WHERE id = ${lost}`);
      const position = await sourceStatus(source);
      const statements = kind === 'delete'
        ? [`DELETE FROM s.t WHERE id BETWEEN ${ids[0]} AND ${ids[2]}`, `DELETE FROM s.t WHERE id BETWEEN ${ids[3]} AND ${ids[5]}`]
        : [`UPDATE s.t SET note = 'a' WHERE id BETWEEN ${ids[0]} AND ${ids[2]}`,
          `UPDATE s.t SET note = 'b' WHERE id BETWEEN ${ids[3]} AND ${ids[5]}`];
      await source.sql('BEGIN', ...statements, 'COMMIT');
      const type = kind === 'delete' ? 'Delete_rows_v1' : 'Update_rows_v1';
      const ends = (await rowsEventEnds(type)).slice(-2);
      const named = kind === 'delete' ? ends[1] : ends[0];
      const status = await stopped();
      assert.equal(status.lastSqlErrno, 1032);
      assert.equal(status.lastSqlError, `Could not execute ${type} event on table s.t; Can't find record in 't', ` +
        `Error_code: 1032; handler error HA_ERR_KEY_NOT_FOUND; the event's master log mysql-bin.000001, end_log_pos ${named}`);
      assert.equal(status.execSourceLogPos, position.pos);
      const kept = await target.sql(`SELECT id, note FROM s.t WHERE id BETWEEN ${ids[0]} AND ${ids[5]} ORDER BY id`) as
        { id: number; note: string }[];
      assert.deepEqual(kept.map((r) => r.id), ids.filter((id) => id !== lost));
      assert.ok(kept.every((r) => r.note === 'updated'));
      // Put the row back, as an operator would: the transaction then applies whole.
      await target.sql(`INSERT INTO s.t VALUES (${lost}, ${lost * 2}, 'updated')`);
      await engine.startReplica('s');
      await catchUp(engine, 's', source);
      assert.deepEqual(await rows(target), await rows(source));
    });
  }

  test('a table with a trigger on the target: rows change one by one, in the source order', async () => {
    await source.sql('CREATE TABLE s.tr (id INT PRIMARY KEY, v INT)');
    await catchUp(engine, 's', source);
    await target.sql('CREATE TABLE s.fired (seq INT AUTO_INCREMENT PRIMARY KEY, id INT)',
      'CREATE TRIGGER s.tr_delete BEFORE DELETE ON s.tr FOR EACH ROW INSERT INTO s.fired (id) VALUES (OLD.id)');
    await source.sql('INSERT INTO s.tr SELECT seq, seq FROM s.seq_1_to_20', 'DELETE FROM s.tr WHERE id > 10 ORDER BY id DESC');
    await catchUp(engine, 's', source);
    assert.deepEqual(await rows(target, 's.tr'), await rows(source, 's.tr'));
    const fired = await target.sql('SELECT id FROM s.fired ORDER BY seq') as { id: number }[];
    assert.deepEqual(fired.map((r) => r.id), [20, 19, 18, 17, 16, 15, 14, 13, 12, 11]);
  });

  test('a trigger created on the target while the SQL stage is stopped is seen when it starts again', async () => {
    await source.sql('CREATE TABLE s.tr2 (id INT PRIMARY KEY, v INT)', 'INSERT INTO s.tr2 SELECT seq, seq FROM s.seq_1_to_10',
      'UPDATE s.tr2 SET v = 1');
    await catchUp(engine, 's', source);
    await engine.stopReplica('s', { threads: ['SQL_THREAD'] });
    await target.sql('CREATE TRIGGER s.tr2_update BEFORE UPDATE ON s.tr2 FOR EACH ROW INSERT INTO s.fired (id) VALUES (-OLD.id)');
    await source.sql('UPDATE s.tr2 SET v = 2 ORDER BY id DESC');
    await engine.startReplica('s');
    await catchUp(engine, 's', source);
    assert.deepEqual(await rows(target, 's.tr2'), await rows(source, 's.tr2'));
    const fired = await target.sql('SELECT id FROM s.fired WHERE id < 0 ORDER BY seq') as { id: number }[];
    assert.deepEqual(fired.map((r) => -r.id), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  });
});
