// Three sources, several schemas each, one channel per source with its own replicate-* rules (every rule
// type among them), traffic running while the channels are started, stopped and reset: tributary's target
// must end up identical, table for table and byte for byte, to a native MariaDB multi-source replica that
// has the same named connections and the same filters and is fed by the same sources.
//
// The names are chosen for the rules. With lower_case_table_names=0, MariaDB 10.11 compares database rules
// (do-db, ignore-db, rewrite-db) exactly, but table rules (do-table, ignore-table, and wild patterns) without
// regard to letter case: so each rule meets names differing only in case (Sales, Audit_Log, TMP_locks, T_2,
// TX1, SECRET, TMP_X, Analytics). `\_` in a wild pattern is a literal underscore (t_1 matches `t\_%`, tx1 and
// t1 do not; tmp_x matches `tmp\_x.%`, tmpAx does not), and a `%` table part makes a wild rule decide for
// CREATE/DROP DATABASE too.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { ReplicationEngine, ReplicationFilters, ReplicaStatus } from '../src/index.js';
import { assertSameData } from './helpers/compare.js';
import { startNativeReplica, type NativeReplica } from './helpers/native-replica.js';
import { catchUp, openEngine, until } from './helpers/replica.js';
import { SchemaTraffic, type SchemaSpec } from './helpers/schemas.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

type Format = 'ROW' | 'MIXED';

interface Feed {
  channel: string;
  serverId: number;
  format: Format;
  schemas: SchemaSpec[];
  filters: ReplicationFilters;
}

const t = (...names: string[]) => names.map((name) => ({ name }));

const FEEDS: Feed[] = [
  {
    channel: 'dbsv1',
    serverId: 11,
    format: 'ROW',
    schemas: [
      { db: 'sales', shared: true, tables: [...t('orders', 't_1', 'audit_log', 'Audit_Log'), { name: 'refunds', late: true }] },
      { db: 'Sales', tables: t('orders') },
      { db: 'hr', tables: [...t('employees'), { name: 'payroll', keyless: true }] },
      { db: 'shared_cfg', shared: true, tables: [...t('settings', 'tmp_cache', 'TMP_locks', 'tmpl'), { name: 'flags', keyless: true }] },
    ],
    filters: {
      replicateDoDb: ['sales', 'shared_cfg'],
      // Never consulted: when do-db rules exist they alone decide.
      replicateIgnoreDb: ['sales'],
      replicateDoTable: [],
      replicateIgnoreTable: ['sales.audit_log'],
      replicateWildDoTable: [],
      replicateWildIgnoreTable: ['shared_cfg.tmp%'],
      replicateRewriteDb: [],
    },
  },
  {
    channel: 'dbsv2',
    serverId: 12,
    format: 'MIXED',
    schemas: [
      { db: 'sales2', tables: [...t('orders', 'items', 't_1'), { name: 'late_lines', late: true }] },
      { db: 'ttt1', tables: [...t('t_1', 'tx1', 't1', 'T_2'), { name: 't_nokey', keyless: true }, { name: 't_late', late: true }] },
      { db: 'ttt2', tables: t('t_2', 'tx1', 'TX1', 'tab') },
      { db: 'logs', tables: [{ name: 'events', keyless: true }] },
    ],
    filters: {
      replicateDoDb: [],
      replicateIgnoreDb: ['logs'],
      replicateDoTable: ['ttt2.tx1'],
      replicateIgnoreTable: [],
      // Table rules see the database after the rewrite.
      replicateWildDoTable: ['ttt%.t\\_%', 'sales\\_all.%'],
      replicateWildIgnoreTable: [],
      replicateRewriteDb: [['sales2', 'sales_all']],
    },
  },
  {
    channel: 'DbSv3',
    serverId: 13,
    format: 'ROW',
    schemas: [
      { db: 'analytics', tables: t('facts', 'daily', 'daily_bak', 'dailybak', 'secret', 'SECRET') },
      { db: 'Analytics', tables: t('facts') },
      { db: 'tmp_x', tables: t('a') },
      { db: 'TMP_X', tables: t('a') },
      { db: 'tmpAx', tables: t('a') },
      { db: 'scratch', tables: t('junk') },
      { db: 'archive', tables: t('old'), dropAtEnd: true },
      { db: 'shared_cfg', shared: true, tables: t('settings3', 'tmp_three') },
      { db: 'sales', shared: true, tables: t('returns') },
    ],
    filters: {
      replicateDoDb: [],
      replicateIgnoreDb: ['scratch'],
      replicateDoTable: [],
      replicateIgnoreTable: ['analytics.secret'],
      replicateWildDoTable: [],
      replicateWildIgnoreTable: ['tmp\\_x.%', 'analytics.%\\_bak'],
      replicateRewriteDb: [['Analytics', 'analytics_ci']],
    },
  },
];

// Databases a replica must have before it starts: rewrite targets, databases whose CREATE DATABASE the wild
// rules skip, and the ones two sources share (a channel may create a table in one before the other channel
// has replicated its CREATE DATABASE IF NOT EXISTS).
const PRECREATED = ['sales_all', 'ttt1', 'ttt2', 'analytics_ci', 'sales', 'shared_cfg'];

// What the rules above make of the sources, as the native replica shows it; the test checks it on both sides
// so that a scenario that filters nothing, or everything, cannot pass.
const EXPECTED_TABLES = [
  'analytics.daily', 'analytics.dailybak', 'analytics.facts', 'analytics.no_default_db', 'analytics_ci.facts',
  'sales.orders', 'sales.refunds', 'sales.returns', 'sales.t_1',
  'sales_all.items', 'sales_all.late_lines', 'sales_all.orders', 'sales_all.t_1',
  'shared_cfg.flags', 'shared_cfg.settings', 'shared_cfg.settings3', 'shared_cfg.tmp_three',
  'tmpAx.a',
  'ttt1.T_2', 'ttt1.t_1', 'ttt1.t_late', 'ttt1.t_nokey', 'ttt2.TX1', 'ttt2.t_2', 'ttt2.tx1',
];
const EXPECTED_EMPTY_DATABASES = ['Analytics'];

const EXCLUDED = new Set(['mysql', 'sys', 'performance_schema', 'information_schema', 'tributary']);

const STATUS_COLUMNS: [keyof ReplicaStatus, string][] = [
  ['replicateDoDb', 'Replicate_Do_DB'],
  ['replicateIgnoreDb', 'Replicate_Ignore_DB'],
  ['replicateDoTable', 'Replicate_Do_Table'],
  ['replicateIgnoreTable', 'Replicate_Ignore_Table'],
  ['replicateWildDoTable', 'Replicate_Wild_Do_Table'],
  ['replicateWildIgnoreTable', 'Replicate_Wild_Ignore_Table'],
  ['replicateRewriteDb', 'Replicate_Rewrite_DB'],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function userTables(server: TestServer): Promise<{ tables: string[]; databases: string[] }> {
  const tables = (await server.sql(`SELECT TABLE_SCHEMA s, TABLE_NAME n FROM information_schema.TABLES`) as { s: string; n: string }[])
    .filter((r) => !EXCLUDED.has(r.s)).map((r) => `${r.s}.${r.n}`).sort();
  const databases = (await server.sql('SELECT SCHEMA_NAME s FROM information_schema.SCHEMATA') as { s: string }[])
    .map((r) => r.s).filter((s) => !EXCLUDED.has(s)).sort();
  return { tables, databases };
}

describe('three sources, filtered per channel, against a native multi-source replica', { timeout: 110_000 }, () => {
  let sources: TestServer[];
  let target: TestServer;
  let native: NativeReplica;
  let engine: ReplicationEngine;
  const sourceConns: Connection[] = [];

  const sourceOptions = (source: TestServer) => ({
    sourceHost: source.host, sourcePort: source.port, sourceUser: source.user, sourcePassword: source.password,
    sourceConnectRetry: 1,
  });

  before(async () => {
    [target, native, ...sources] = await Promise.all([
      startMariaDb({ serverId: 201, noBinlog: true }),
      startNativeReplica({ serverId: 301 }),
      ...FEEDS.map((f) => startMariaDb({ serverId: f.serverId, binlogFormat: f.format })),
    ]) as [TestServer, NativeReplica, ...TestServer[]];
    for (const source of sources) sourceConns.push(await source.connect());
    const precreate = PRECREATED.map((db) => `CREATE DATABASE ${db}`);
    await Promise.all([target.sql(...precreate), native.server.sql(...precreate)]);
    engine = await openEngine(target);
    for (const [i, feed] of FEEDS.entries()) {
      const source = sources[i]!;
      await engine.changeReplicationSource(feed.channel, { ...sourceOptions(source), sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4 });
      await engine.changeReplicationFilter(feed.channel, feed.filters);
      await native.changeSource(feed.channel, source, undefined, 'MASTER_CONNECT_RETRY=1');
      await native.setFilters(feed.channel, feed.filters);
    }
  });

  after(async () => {
    await engine?.close();
    for (const conn of sourceConns) await conn.end();
    await Promise.all([target?.destroy(), native?.destroy(), ...(sources ?? []).map((s) => s.destroy())]);
  });

  test('the target equals the native replica after start, stop, reset and live traffic', async () => {
    const traffic = FEEDS.map((f, i) => new SchemaTraffic(sourceConns[i]!, f.schemas, { seed: 1000 + i }));
    let stopTraffic = false;
    const running = Promise.all(traffic.map(async (tr) => {
      await tr.create();
      await tr.run(() => stopTraffic);
    }));
    const both = (tributary: () => Promise<unknown>, reference: () => Promise<unknown>) => Promise.all([tributary(), reference()]);
    const [dbsv1, dbsv2, dbsv3] = FEEDS.map((f) => f.channel) as [string, string, string];

    try {
      await both(() => engine.startReplica(dbsv1), () => native.start(dbsv1));
      await both(() => engine.startReplica(dbsv2, { threads: ['IO_THREAD'] }), () => native.start(dbsv2, { threads: ['IO_THREAD'] }));
      await sleep(1000);

      // Filters change only while the SQL stage is stopped, on both.
      await assert.rejects(engine.changeReplicationFilter(dbsv1, { replicateDoDb: [] }), { code: 'ER_SLAVE_MUST_STOP', errno: 1198 });
      await assert.rejects(native.setFilters(dbsv1, { replicateDoDb: [] }), { errno: 1198 });

      await both(() => engine.startReplica(dbsv2, { threads: ['SQL_THREAD'] }), () => native.start(dbsv2, { threads: ['SQL_THREAD'] }));
      // The channel name in another letter case names the same channel.
      await both(() => engine.startReplica('dbsv3'), () => native.start('dbsv3'));
      await sleep(1000);

      await both(() => engine.stopReplica(dbsv1, { threads: ['SQL_THREAD'] }), () => native.stop(dbsv1, ['SQL_THREAD']));
      await both(() => engine.stopReplica(dbsv2, { threads: ['IO_THREAD'] }), () => native.stop(dbsv2, ['IO_THREAD']));
      await sleep(1000);
      await both(() => engine.startReplica(dbsv1, { threads: ['SQL_THREAD'] }), () => native.start(dbsv1, { threads: ['SQL_THREAD'] }));
      await both(() => engine.startReplica(dbsv2, { threads: ['IO_THREAD'] }), () => native.start(dbsv2, { threads: ['IO_THREAD'] }));
      await sleep(1000);

      // RESET SLAVE, then CHANGE MASTER to where the connection had executed: each replica from its own status.
      const filtersBefore = filterColumns(await engine.replicaStatus(dbsv2));
      await both(async () => {
        await engine.stopReplica(dbsv2);
        const s = await engine.replicaStatus(dbsv2);
        await engine.resetReplica(dbsv2);
        await engine.changeReplicationSource(dbsv2, {
          ...sourceOptions(sources[1]!), sourceLogFile: s.relaySourceLogFile, sourceLogPos: s.execSourceLogPos,
        });
        await engine.startReplica(dbsv2);
      }, async () => {
        await native.stop(dbsv2);
        const s = await native.status(dbsv2);
        await native.reset(dbsv2);
        await native.changeSource(dbsv2, sources[1]!, { file: s.Relay_Master_Log_File, pos: Number(s.Exec_Master_Log_Pos) });
        await native.start(dbsv2);
      });
      assert.deepEqual(filterColumns(await engine.replicaStatus(dbsv2)), filtersBefore, 'RESET SLAVE keeps the filters');
      await sleep(1000);

      await both(() => engine.stopAllReplicas(), () => native.server.sql('STOP ALL SLAVES'));
      await sleep(500);
      await both(() => engine.startAllReplicas(), () => native.server.sql('START ALL SLAVES'));
      await sleep(1500);
    } finally {
      stopTraffic = true;
      await running;
    }
    for (const tr of traffic) await tr.finish();
    // Run with no default database: under replicate-do-db a replica compares the event's empty database name
    // with the list and skips the statement; with only replicate-ignore-db rules the empty name is not listed,
    // so the statement is applied.
    await sources[0]!.sql('CREATE TABLE sales.no_default_db (id INT)');
    await sources[2]!.sql('CREATE TABLE analytics.no_default_db (id INT)');

    await Promise.all(FEEDS.map(async (f, i) => {
      await catchUp(engine, f.channel, sources[i]!, 60);
      await native.catchUp(f.channel, sources[i]!, 60);
    }));

    // Statements of the MIXED source that ran from an ignored database, or named sales2's tables with their
    // database, were filtered although their tables are kept: the replicas' copies differ from the source.
    for (const [db, table, replicaDb] of [['ttt1', 't_1', 'ttt1'], ['sales2', 'orders', 'sales_all']]) {
      const [ofSource] = await sources[1]!.sql(`CHECKSUM TABLE ${db}.${table}`) as { Checksum: number }[];
      const [ofReplica] = await native.server.sql(`CHECKSUM TABLE ${replicaDb}.${table}`) as { Checksum: number }[];
      assert.notEqual(ofReplica!.Checksum, ofSource!.Checksum, `statements on ${db}.${table} were filtered by their default database`);
    }
    const mine = await userTables(target);
    const theirs = await userTables(native.server);
    assert.deepEqual(theirs.tables, EXPECTED_TABLES, 'the native replica kept the tables the rules keep');
    assert.deepEqual(theirs.databases, [...new Set([...EXPECTED_TABLES.map((n) => n.split('.')[0]!), ...EXPECTED_EMPTY_DATABASES])].sort());
    const nativeConn = await native.server.connect();
    const targetConn = await target.connect();
    try {
      await assertSameData(nativeConn, targetConn, [...new Set([...theirs.databases, ...mine.databases])].sort());
    } finally {
      await nativeConn.end();
      await targetConn.end();
    }
    for (const name of EXPECTED_TABLES.filter((n) => !n.endsWith('.no_default_db'))) {
      const [db, table] = name.split('.');
      const [row] = await target.sql(`SELECT COUNT(*) n FROM \`${db}\`.\`${table}\``) as { n: number }[];
      assert.ok(Number(row!.n) > 0, `${name} has rows on the target`);
    }

    const nativeStatus = await native.server.sql('SHOW ALL SLAVES STATUS') as Record<string, any>[];
    const statuses = await engine.allReplicaStatus();
    assert.deepEqual(statuses.map((s) => s.channel), nativeStatus.map((s) => s.Connection_name));
    for (const s of statuses) {
      const row = nativeStatus.find((n) => n.Connection_name.toLowerCase() === s.channel.toLowerCase())!;
      assert.deepEqual(filterColumns(s), Object.fromEntries(STATUS_COLUMNS.map(([, column]) => [column, row[column]])),
        `filters shown for ${s.channel}`);
      assert.equal(s.lastSqlErrno, 0);
    }

    assert.equal(engine.explainFilter('dbsv3', { db: 'tmpAx', table: 'a' }).apply, true);
    assert.equal(engine.explainFilter('dbsv3', { db: 'tmp_x', table: 'a' }).rule, 'replicate-wild-ignore-table');
    assert.equal(engine.explainFilter(dbsv2, { db: 'sales2', table: 'orders' }).apply, true);
    assert.equal(engine.explainFilter(dbsv2, { db: 'logs', statement: 'INSERT INTO ttt1.t_1 (k) VALUES (1)' }).apply, false);
  });

  test('a statement the rules keep, on a database they filtered, stops both with the same error', async () => {
    // The default database passes replicate-do-db, so the CREATE TABLE is applied, and hr was never created.
    await sourceConns[0]!.query('USE sales');
    await sourceConns[0]!.query('CREATE TABLE hr.t_err (id INT)');
    const [mine, theirs] = await Promise.all([
      until('tributary stops with an SQL error', async () => {
        const s = await engine.replicaStatus('dbsv1');
        return s.lastSqlErrno !== 0 && s.sqlRunning === 'No' && s;
      }),
      until('the native replica stops with an SQL error', async () => {
        const s = await native.status('dbsv1');
        return Number(s.Last_SQL_Errno) !== 0 && s.Slave_SQL_Running === 'No' && s;
      }),
    ]);
    assert.equal(theirs.Last_SQL_Errno, 1049);
    assert.equal(mine.lastSqlErrno, theirs.Last_SQL_Errno);
    assert.equal(mine.relaySourceLogFile, theirs.Relay_Master_Log_File);
    assert.equal(mine.execSourceLogPos, Number(theirs.Exec_Master_Log_Pos), 'both stop before the failing statement');
  });
});

function filterColumns(s: ReplicaStatus): Record<string, unknown> {
  return Object.fromEntries(STATUS_COLUMNS.map(([field, column]) => [column, s[field]]));
}
