// verifyChannel against real servers: a channel provisioned through a filter and replicate-rewrite-db, replicating
// while the source is written, compares equal at one source position; rows changed, deleted and inserted on the
// target behind the replica's back are each named, with their side; the channel runs on afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { ReplicationEngine, VerifyResult } from '../src/index.js';
import { compareSourcePositions } from '../src/binlog/position.js';
import { openEngine, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { createTypeRichSchema, runTransactions, workloadTables } from './helpers/workload.js';

const CHANNEL = 'v1';

function summary(result: VerifyResult) {
  return result.tables.filter((t) => !t.equal).sort((a, b) => a.table < b.table ? -1 : 1).map((t) => ({ table: `${t.targetDb}.${t.table}`, method: t.method,
    error: t.error, differences: t.differences }));
}

describe('verifyChannel', { timeout: 240_000 }, () => {
  let source: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;
  let writer: Connection;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 141 }), startMariaDb({ serverId: 241, noBinlog: true })]);
    writer = await source.connect();
    await createTypeRichSchema(writer, 'vsrc');
    await runTransactions(writer, 'vsrc', { count: 600, seed: 61 });
    // Tables the workload does not write, so that changes made on the target stay there: one with a key, one without.
    const accounts = Array.from({ length: 300 }, (_, i) => `(${i + 1}, 'holder ${i + 1}', ${(i * 7.25).toFixed(2)})`);
    await source.sql('CREATE TABLE vsrc.accounts (id INT PRIMARY KEY, holder VARCHAR(40) COLLATE utf8mb4_general_ci, balance DECIMAL(12,2))',
      `INSERT INTO vsrc.accounts VALUES ${accounts.join(', ')}`, 'CREATE TABLE vsrc.notes (note VARCHAR(40))',
      "INSERT INTO vsrc.notes VALUES ('a'), ('b'), ('b')", 'CREATE DATABASE other', 'CREATE TABLE other.t (id INT PRIMARY KEY)',
      'INSERT INTO other.t VALUES (1)');
    // A name and key values that need quoting, and keys whose case-insensitive order is not their byte order: the
    // chunk bounds must compare under the column's collation, as ORDER BY sorts, or rows fall between chunks.
    const keys = [...Array.from({ length: 120 }, (_, i) => `${i % 2 ? 'K' : 'k'}${String(i).padStart(3, '0')}`),
      "it's", 'ü\\', 'a`b', '😀'];
    const conn = await source.connect();
    await conn.query('CREATE TABLE vsrc.`we``ird` (k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PRIMARY KEY, v INT)');
    await conn.query('INSERT INTO vsrc.`we``ird` VALUES ?', [keys.map((k, i) => [k, i])]);
    await conn.end();
    // MariaDB's SHOW CREATE TABLE misspells the workload's 4-byte ENUM members: the tables are made beforehand.
    const t = await target.connect();
    await createTypeRichSchema(t, 'vdst');
    await t.end();
    engine = await openEngine(target);
    await engine.changeReplicationSource(CHANNEL, { sourceHost: source.host, sourcePort: source.port, sourceUser: 'root',
      sourcePassword: '', sourceConnectRetry: 1 });
    await engine.changeReplicationFilter(CHANNEL, { replicateDoDb: ['vdst'], replicateWildIgnoreTable: ['vdst.wide'],
      replicateRewriteDb: [['vsrc', 'vdst']] });
    await engine.provisionChannel(CHANNEL, { start: true });
  });

  after(async () => {
    await engine?.close();
    await writer?.end();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('equal while the source is written; rows changed, deleted and inserted on the target are named', async () => {
    const kept = [...(await workloadTables(writer)).filter((t) => t !== 'wide'), 'accounts', 'notes', 'we`ird'].sort();
    let writing = true;
    const traffic = runTransactions(writer, 'vsrc', { count: 3000, seed: 62 }).finally(() => { writing = false; });

    const first = await engine.verifyChannel(CHANNEL, { chunkRows: 50 });
    assert.ok(writing, 'compared while the source is written');
    assert.deepEqual(summary(first), []);
    assert.equal(first.equal, true);
    assert.deepEqual(first.tables.map((t) => `${t.sourceDb}.${t.table}>${t.targetDb}`).sort(),
      kept.map((t) => `vsrc.${t}>vdst`));
    assert.deepEqual(first.appliedPosition, first.sourcePosition, 'both sides read at one source position');
    assert.equal(first.tables.find((t) => t.table === 'nokey')!.method, 'whole');
    assert.equal(first.tables.find((t) => t.table === 'accounts')!.sourceRows, 300);
    assert.ok(first.tables.find((t) => t.table === 'integers')!.sourceRows > 50, 'more than one chunk');
    assert.equal(first.tables.find((t) => t.table === 'we`ird')!.sourceRows, 124, 'each row in one chunk');

    // Behind the replica's back: a changed value (differing in case only, which the collation calls equal),
    // a deleted row, an inserted one, and a duplicate row in the table without a key.
    await target.sql("UPDATE vdst.accounts SET holder = 'HOLDER 17' WHERE id = 17", 'DELETE FROM vdst.accounts WHERE id = 123',
      "INSERT INTO vdst.accounts VALUES (1000, 'stranger', 1.00)", "INSERT INTO vdst.notes VALUES ('b')",
      "UPDATE vdst.`we``ird` SET v = -1 WHERE k = 'it''s'");
    const second = await engine.verifyChannel(CHANNEL, { chunkRows: 50 });
    assert.equal(second.equal, false);
    assert.deepEqual(summary(second), [
      { table: 'vdst.accounts', method: 'chunks', error: '', differences: [
        { kind: 'different', key: { id: '17' } }, { kind: 'missing', key: { id: '123' } }, { kind: 'extra', key: { id: '1000' } },
      ] },
      { table: 'vdst.notes', method: 'whole', error: '', differences: [] },
      { table: 'vdst.we`ird', method: 'chunks', error: '', differences: [{ kind: 'different', key: { k: "it's" } }] },
    ]);
    assert.deepEqual(second.appliedPosition, second.sourcePosition);
    assert.ok(compareSourcePositions(second.sourcePosition, first.sourcePosition) > 0, 'the source was written between the two');
    const capped = await engine.verifyChannel(CHANNEL, { chunkRows: 50, maxDifferences: 1 });
    assert.deepEqual(capped.tables.find((t) => t.table === 'accounts')!.differences, [{ kind: 'different', key: { id: '17' } }]);
    assert.equal(capped.tables.find((t) => t.table === 'accounts')!.truncated, true);

    // The channel runs again and applies past the point it was compared at.
    const status = await engine.replicaStatus(CHANNEL);
    assert.equal(status.sqlRunning, 'Yes');
    assert.equal(status.ioRunning, 'Yes');
    assert.equal(status.untilCondition, 'None');
    await traffic;
    await source.sql("INSERT INTO vsrc.accounts VALUES (1500, 'after the checks', 0)");
    await until('the channel applies past the compared point', async () => {
      const s = await engine.replicaStatus(CHANNEL);
      return compareSourcePositions({ file: s.relaySourceLogFile, pos: s.execSourceLogPos }, capped.sourcePosition) > 0 &&
        (await target.sql('SELECT holder FROM vdst.accounts WHERE id = 1500')).length === 1;
    });
  });

  test('a stopped channel is compared at its applied position and stays stopped', async () => {
    await engine.stopReplica(CHANNEL);
    const before = await engine.replicaStatus(CHANNEL);
    await source.sql('INSERT INTO vsrc.accounts VALUES (2000, \'after the stop\', 0)');
    const result = await engine.verifyChannel(CHANNEL);
    assert.deepEqual(result.appliedPosition, { file: before.relaySourceLogFile, pos: before.execSourceLogPos });
    assert.ok(compareSourcePositions(result.sourcePosition, result.appliedPosition) > 0);
    assert.deepEqual(summary(result).find((t) => t.table === 'vdst.accounts')!.differences.filter((d) => d.key.id === '2000'),
      [{ kind: 'missing', key: { id: '2000' } }]);
    const status = await engine.replicaStatus(CHANNEL);
    assert.equal(status.sqlRunning, 'No');
    assert.equal(status.ioRunning, 'No');
    assert.equal(status.execSourceLogPos, before.execSourceLogPos);
  });
});
