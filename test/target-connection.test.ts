// The target connection lost in the middle of applying (killed on the target, repeatedly): each loss is a
// transient error, retried on a new connection from the position the target itself recorded, so nothing is
// applied twice or skipped, and Retried_transactions counts the retries.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine } from '../src/index.js';
import { assertSameData } from './helpers/compare.js';
import { catchUp, openEngine, sourceStatus } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { createTypeRichSchema, runTransactions } from './helpers/workload.js';

describe('lost target connection', () => {
  let source: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 151 }), startMariaDb({ serverId: 251, noBinlog: true })]);
    const conn = await source.connect();
    await createTypeRichSchema(conn, 'shop');
    await runTransactions(conn, 'shop', { count: 4000, seed: 7 });
    await conn.end();
    engine = await openEngine(target, { replicaTransactionRetries: 20 });
    await engine.changeReplicationSource('k', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
    });
  });
  after(async () => {
    await engine?.close();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('killed connections are retried and the target ends identical', async () => {
    const admin = await target.connect();
    const end = await sourceStatus(source);
    await engine.startReplica('k');
    let kills = 0;
    // Kill the applier's connection whenever it is busy, until the channel has caught up.
    while (kills < 5) {
      const status = await engine.replicaStatus('k');
      if (status.execSourceLogPos >= end.pos && status.relaySourceLogFile === end.file) break;
      const [busy] = await admin.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() " +
        "AND USER = 'root' AND COMMAND = 'Query'") as [{ id: number }[], unknown];
      for (const { id } of busy) {
        await admin.query(`KILL CONNECTION ${id}`).catch(() => undefined);
        kills++;
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.ok(kills > 0, 'the applier was caught working at least once');
    await catchUp(engine, 'k', source);
    const status = await engine.replicaStatus('k');
    assert.equal(status.sqlRunning, 'Yes');
    assert.equal(status.lastSqlErrno, 0);
    assert.ok(status.retriedTransactions > 0, `retriedTransactions = ${status.retriedTransactions}`);
    const a = await source.connect();
    try {
      await assertSameData(a, admin, ['shop']);
    } finally {
      await Promise.all([a.end(), admin.end()]);
    }
  });
});
