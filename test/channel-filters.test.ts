// A channel's replicate-* rules as a user handles them: set per channel (engine-wide ones copied at creation),
// refused while the SQL stage runs, kept across restarts, shown in the status, explained, and applied to the
// rows that reach the target; channel names compared without regard to case.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine } from '../src/index.js';
import { catchUp, openEngine, tempDir } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

describe('channel filters', () => {
  let source: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;
  let dataDir: string;
  const engineFilters = { replicateIgnoreDb: ['scratch'] };

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 131 }), startMariaDb({ serverId: 231, noBinlog: true })]);
    dataDir = await tempDir('filters');
    engine = await openEngine(target, { dataDir, filters: engineFilters });
    await engine.changeReplicationSource('Sales', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
    });
  });
  after(async () => {
    await engine?.close();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('a new channel starts with the engine-wide rules', async () => {
    const s = await engine.replicaStatus('sales');
    assert.equal(s.channel, 'Sales', 'the name keeps the spelling it was created with');
    assert.equal(s.replicateIgnoreDb, 'scratch');
    assert.equal(s.replicateDoDb, '');
  });

  test('bad rules are refused and change nothing', async () => {
    await assert.rejects(engine.changeReplicationFilter('SALES', { replicateDoTable: ['no_dot'] }),
      { code: 'ER_WRONG_ARGUMENTS', message: /db_name\.tbl_name/ });
    await assert.rejects(engine.changeReplicationFilter('SALES', { replicateRewriteDb: [['a', 'b', 'c']] as never }),
      { code: 'ER_WRONG_ARGUMENTS' });
    await assert.rejects(engine.changeReplicationFilter('nosuch', { replicateDoDb: ['a'] }), { code: 'ER_BAD_SLAVE' });
    assert.equal((await engine.replicaStatus('Sales')).replicateDoTable, '');
  });

  test('rules are applied to row events, with the rewrite first', async () => {
    await engine.changeReplicationFilter('sales', {
      replicateIgnoreDb: [],
      replicateRewriteDb: [['shop', 'shop_copy']],
      replicateWildIgnoreTable: ['shop_copy.tmp\\_%'],
      replicateIgnoreTable: ['other.secret'],
    });
    await target.sql('CREATE DATABASE shop_copy', 'CREATE TABLE shop_copy.orders (id INT PRIMARY KEY, v VARCHAR(10))',
      'CREATE TABLE shop_copy.tmp_x (id INT PRIMARY KEY)', 'CREATE TABLE shop_copy.tmpx (id INT PRIMARY KEY)');
    // Qualified DDL run without a default database is not rewritten: it creates shop.* and other.* on the
    // target too, except other.secret, which the ignore-table rule keeps out.
    await source.sql('CREATE DATABASE shop', 'CREATE DATABASE other',
      'CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(10))', 'CREATE TABLE shop.tmp_x (id INT PRIMARY KEY)',
      'CREATE TABLE shop.tmpx (id INT PRIMARY KEY)', 'CREATE TABLE other.secret (id INT PRIMARY KEY)',
      'CREATE TABLE other.open (id INT PRIMARY KEY)');
    await engine.startReplica('SALES');
    await source.sql("INSERT INTO shop.orders VALUES (1, 'a'), (2, 'b')", 'INSERT INTO shop.tmp_x VALUES (1)',
      'INSERT INTO shop.tmpx VALUES (1)', 'BEGIN', 'INSERT INTO other.secret VALUES (1)', 'INSERT INTO other.open VALUES (1)', 'COMMIT');
    await catchUp(engine, 'sales', source);
    const count = async (table: string) => Number((await target.sql(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);
    assert.equal(await count('shop_copy.orders'), 2);
    assert.equal(await count('shop_copy.tmp_x'), 0, "wild-ignore 'shop_copy.tmp\\_%' keeps tmp_x out");
    assert.equal(await count('shop_copy.tmpx'), 1, "the escaped '_' does not match 'x'");
    const [secret] = await target.sql("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'other' AND TABLE_NAME = 'secret'");
    assert.equal(Number(secret.n), 0, 'CREATE TABLE other.secret was filtered like its rows');
    assert.equal(await count('shop.orders'), 0, 'the rows went to the rewritten database');
    assert.equal(await count('other.open'), 1, 'the other table of the same transaction is applied');
    const s = await engine.replicaStatus('sales');
    assert.equal(s.replicateRewriteDb, 'shop->shop_copy');
    assert.equal(s.replicateWildIgnoreTable, 'shop_copy.tmp\\_%');
  });

  test('rules cannot change while the SQL stage runs', async () => {
    await assert.rejects(engine.changeReplicationFilter('sales', { replicateDoDb: ['x'] }), { code: 'ER_SLAVE_MUST_STOP', errno: 1198 });
    await engine.stopReplica('sales', { threads: ['SQL_THREAD'] });
    await engine.changeReplicationFilter('sales', { replicateDoDb: ['shop_copy'] });
    assert.equal((await engine.replicaStatus('sales')).replicateDoDb, 'shop_copy');
  });

  test('explainFilter names the deciding rule', () => {
    const row = engine.explainFilter('sales', { db: 'shop', table: 'tmp_x' });
    assert.equal(row.apply, false);
    assert.equal(row.rule, 'replicate-wild-ignore-table');
    assert.match(row.reason, /rewritten to 'shop_copy'/);
    const other = engine.explainFilter('sales', { db: 'other', table: 'open' });
    assert.deepEqual([other.apply, other.rule], [false, 'replicate-do-db']);
    const statement = engine.explainFilter('sales', { db: 'shop', statement: 'UPDATE other.secret SET id = 2' });
    assert.deepEqual([statement.apply, statement.rule], [false, 'replicate-ignore-table']);
    assert.throws(() => engine.explainFilter('sales', { db: 'shop', table: 't', statement: 'x' }), { code: 'ER_WRONG_ARGUMENTS' });
  });

  test('rules survive a restart of the engine', async () => {
    await engine.close();
    engine = await openEngine(target, { dataDir, filters: engineFilters });
    const s = await engine.replicaStatus('SaLeS');
    assert.equal(s.replicateDoDb, 'shop_copy');
    assert.equal(s.replicateIgnoreDb, '', 'a channel keeps its own rules, not the engine-wide ones');
    assert.equal(s.replicateRewriteDb, 'shop->shop_copy');
  });
});

describe('channel filters on a target with lower_case_table_names=1', () => {
  let source: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;

  before(async () => {
    [source, target] = await Promise.all([
      startMariaDb({ serverId: 132 }),
      startMariaDb({ serverId: 232, noBinlog: true, args: ['--lower-case-table-names=1'] }),
    ]);
    engine = await openEngine(target);
    await engine.changeReplicationSource('lc', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
    });
  });
  after(async () => {
    await engine?.close();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('database rules compare names as the target does, without regard to letter case', async () => {
    // Exact on a lower_case_table_names=0 target, 'Shop' would keep out every change to shop.
    await engine.changeReplicationFilter('lc', { replicateDoDb: ['Shop'] });
    await source.sql('CREATE DATABASE shop', 'USE shop', 'CREATE TABLE shop.t (id INT PRIMARY KEY)', 'INSERT INTO shop.t VALUES (1), (2)',
      'CREATE DATABASE other');
    await engine.startReplica('lc');
    await catchUp(engine, 'lc', source);
    const [row] = await target.sql('SELECT COUNT(*) AS n FROM shop.t');
    assert.equal(Number(row.n), 2);
    const [other] = await target.sql("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'other'");
    assert.equal(Number(other.n), 0);
    assert.equal(engine.explainFilter('lc', { db: 'shop', table: 't' }).apply, true);
  });
});
