// A target that goes away (restarted, down for longer than a few seconds) is waited for: the SQL stage says so in
// its state and in lastSqlErrno, reconnects, re-reads its position from the target and goes on, applying nothing
// twice; with targetRetryTimeout set it stops after that long with the reason, in MySQL's errno.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine } from '../src/index.js';
import { assertMysqlErrnos, assertReplicated, catchUp, openEngine, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { createTypeRichSchema, runTransactions } from './helpers/workload.js';

const WAITING = 'Waiting to reconnect to the target';

describe('target restart', () => {
  let source: TestServer;
  let target: TestServer;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 161 }), startMariaDb({ serverId: 261, noBinlog: true })]);
    const conn = await source.connect();
    await createTypeRichSchema(conn, 'shop');
    await runTransactions(conn, 'shop', { count: 1500, seed: 31 });
    await conn.end();
  });
  after(async () => Promise.all([source?.destroy(), target?.destroy()]));

  async function channel(engine: ReplicationEngine, name: string): Promise<void> {
    await engine.changeReplicationSource(name, {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
  }

  test('down for longer than the old backoff during catch-up: waited for, then everything once', async () => {
    const engine = await openEngine(target);
    const traffic = source.connect().then(async (conn) => {
      try {
        return await runTransactions(conn, 'shop', { count: 1500, seed: 32 });
      } finally {
        await conn.end();
      }
    });
    try {
      await channel(engine, 'r');
      await engine.startReplica('r');
      await until('the SQL stage applying', async () => (await engine.replicaStatus('r')).execSourceLogPos > 4);
      await target.stop();
      const waiting = await until('the SQL stage waiting for the target', async () => {
        const s = await engine.replicaStatus('r');
        assertMysqlErrnos(s);
        assert.equal(s.sqlRunning, 'Yes', `the SQL stage stopped: ${s.lastSqlErrno} ${s.lastSqlError}`);
        return s.sqlState === WAITING && s;
      });
      assert.ok([2002, 2003, 2006, 2013].includes(waiting.lastSqlErrno), `${waiting.lastSqlErrno} ${waiting.lastSqlError}`);
      // Longer than the whole backoff of before (about 6.5 s), which stopped the SQL stage for good.
      const downUntil = Date.now() + 10_000;
      while (Date.now() < downUntil) {
        const s = await engine.replicaStatus('r');
        assertMysqlErrnos(s);
        assert.equal(s.sqlRunning, 'Yes', `the SQL stage stopped: ${s.lastSqlErrno} ${s.lastSqlError}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await target.restart();
      await traffic;
      await catchUp(engine, 'r', source);
      const status = await engine.replicaStatus('r');
      assert.equal(status.sqlRunning, 'Yes');
      assert.equal(status.ioRunning, 'Yes');
      assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
      assert.notEqual(status.sqlState, WAITING);
      await assertReplicated(source, target, ['shop']);
    } finally {
      await traffic.catch(() => undefined);
      await engine.close();
      await target.restart();
    }
  });

  test('targetRetryTimeout: the SQL stage stops with the reason after that long', async () => {
    const engine = await openEngine(target, { targetRetryTimeout: 3 });
    try {
      await channel(engine, 't');
      await engine.startReplica('t');
      await catchUp(engine, 't', source);
      await target.stop();
      await source.sql('CREATE TABLE shop.while_down (id INT PRIMARY KEY)', 'INSERT INTO shop.while_down VALUES (1)');
      let sawWaiting = false;
      const stopped = await until('the SQL stage giving up', async () => {
        const s = await engine.replicaStatus('t');
        assertMysqlErrnos(s);
        sawWaiting ||= s.sqlState === WAITING;
        return s.sqlRunning === 'No' && s;
      }, 60_000);
      assert.ok(sawWaiting, 'the SQL stage said it waits for the target before giving up');
      assert.equal(stopped.lastSqlErrno, 2003, stopped.lastSqlError);
      assert.match(stopped.lastSqlError, new RegExp(`target ${target.host}:${target.port}`));
      assert.equal(stopped.ioRunning, 'Yes', 'the I/O stage does not need the target');

      await target.restart();
      await engine.startReplica('t');
      await catchUp(engine, 't', source);
      assert.equal((await engine.replicaStatus('t')).lastSqlErrno, 0);
      await assertReplicated(source, target, ['shop']);
    } finally {
      await engine.close();
      await target.restart();
    }
  });
});
