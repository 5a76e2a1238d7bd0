// MySQL GTID (MASTER_AUTO_POSITION, seeds 002 and 003) end to end: a fake MySQL 8.4 source (test/helpers/fake-source.ts)
// serving real MySQL 8.0.46 binlogs (the three-file chain of ../shared/fixtures/mysql/mysqlbinlog2parquet__01/02/03,
// GTIDs 7-19 of one server) and MySQL 9.6's tagged GTIDs, the whole pipeline, a MariaDB target. The dump asks by
// GTID set (the source records each request), the channel's executed set is kept on the target with the rows,
// already executed transactions are skipped, UNTIL SQL_BEFORE_GTIDS / SQL_AFTER_GTIDS stop where seed 002 says, a
// source that purged what the channel lacks stops the I/O stage with 1236, and a move to another source holding
// the same GTIDs goes on with nothing lost or doubled. Refusals carry the servers' errnos and change nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReplicationEngine } from '../src/index.js';
import { masterInfoFileName } from '../src/info/index.js';
import { BinlogDecoder } from '../src/binlog/decoder.js';
import { MYSQL_CHAIN_UUID as CHAIN_UUID, mysqlFixtures, mysqlGtidChain, servedBinlog } from './helpers/binlog-events.js';
import { startFakeSource, type FakeSource, type GtidBinlog } from './helpers/fake-source.js';
import { openEngine, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const MYSQL_VERSION = '8.4.3';
const TAG_UUID = '55778904-0299-11f1-b1b8-4ef0c4956feb';
const chainSet = (range: string) => `${CHAIN_UUID}:${range}`;

const fixtures = new Map<string, Buffer>();
const sources: FakeSource[] = [];
let target: TestServer;
let engine: ReplicationEngine;
let dataDir: string;

before(async () => {
  for (const { name, data } of await mysqlFixtures()) fixtures.set(name, data);
  target = await startMariaDb({ serverId: 9501 });
  dataDir = await tempDir('gtid-mysql');
  engine = await openEngine(target, { dataDir });
});

after(async () => {
  await engine?.close();
  await Promise.all(sources.map((s) => s.close()));
  await target?.destroy();
});

const binlog = (fixture: string, name: string): GtidBinlog => servedBinlog(fixtures, fixture, name);
const chain = () => mysqlGtidChain(fixtures);

async function source(files: GtidBinlog[], uuid: string, serverId = 1): Promise<FakeSource> {
  const s = await startFakeSource({ serverId, version: MYSQL_VERSION, checksum: 'CRC32', events: [], gtidBinlogs: files, uuid });
  sources.push(s);
  return s;
}

/**
 * A channel from `s` by GTID set, its database binlogtest rewritten to `db` (each test its own), so that the
 * chain's CREATE TABLEs and rows land apart.
 */
async function channel(name: string, s: FakeSource, db: string): Promise<void> {
  await target.sql(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await engine.changeReplicationSource(name, {
    sourceHost: s.host, sourcePort: s.port, sourceUser: 'repl', sourcePassword: 'secret', sourceConnectRetry: 1,
    sourceAutoPosition: true,
  });
  await engine.changeReplicationFilter(name, { replicateRewriteDb: [['binlogtest', db]] });
}

/** The chain served by a new source, and a channel from it that has GTIDs 1-6 (the source purged them). */
async function chainChannel(name: string, db: string): Promise<{ files: GtidBinlog[]; s: FakeSource }> {
  const files = chain();
  const s = await source(files, CHAIN_UUID);
  await channel(name, s, db);
  await engine.addGtidPurged(name, chainSet('1-6'));
  return { files, s };
}

/**
 * The primary keys each table of the chain holds after the transactions whose gno is in `gnos` (from the files'
 * own row events: every table's first column is its key).
 */
function expectedKeys(files: GtidBinlog[], gnos: (gno: number) => boolean): Record<string, string[]> {
  const tables: Record<string, Set<string>> = {};
  for (const f of files) {
    const decoder = new BinlogDecoder();
    let applied = false;
    for (const raw of f.events) {
      const { event: e } = decoder.decode(raw);
      if (e.type === 'gtid' && e.flavor === 'mysql') applied = gnos(Number(e.gno));
      if (e.type === 'query' && applied) {
        const created = /CREATE TABLE IF NOT EXISTS (\w+)/.exec(e.sql.toString('utf8'));
        if (created) tables[created[1]!] ??= new Set();
      }
      if (e.type !== 'rows' || !applied) continue;
      const keys = tables[e.tableMap.table] ??= new Set();
      for (const row of e.rows) {
        if (row.before) keys.delete(String(row.before[0]));
        if (row.after) keys.add(String(row.after[0]));
      }
    }
  }
  return Object.fromEntries(Object.entries(tables).map(([t, keys]) => [t, [...keys].sort((a, b) => Number(a) - Number(b))]));
}

async function targetKeys(db: string): Promise<Record<string, string[]>> {
  const tables = await target.sql(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = '${db}'`) as { t: string }[];
  const out: Record<string, string[]> = {};
  for (const { t } of tables) {
    const rows = await target.sql(`SELECT CAST(id AS CHAR) AS id FROM ${db}.${t} ORDER BY id`) as { id: string }[];
    out[t] = rows.map((r) => r.id);
  }
  return out;
}

async function storedGtidState(name: string): Promise<string | undefined> {
  const rows = await target.sql(`SELECT gtid_state AS g FROM tributary.replication_position WHERE channel = '${name}'`) as { g: string | null }[];
  return rows[0]?.g ?? undefined;
}

async function executedIs(name: string, set: string): Promise<void> {
  await until(`executedGtidSet ${set}`, async () => {
    const status = await engine.replicaStatus(name);
    assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
    return status.executedGtidSet === set;
  });
}

async function sqlStopped(name: string): Promise<void> {
  await until('the SQL stage to stop', async () => (await engine.replicaStatus(name)).sqlRunning === 'No');
}

test('a new channel against a source that purged GTIDs 1-6 stops with 1236; with them added as purged, it applies the chain by GTID set, and a restart asks for what follows without doubling', async () => {
  const files = chain();
  const s = await source(files, CHAIN_UUID);
  await channel('chain', s, 'chain_db');
  assert.equal((await engine.replicaStatus('chain')).autoPosition, 1);

  await engine.startReplica('chain');
  const failed = await until('the I/O stage to stop with 1236', async () => {
    const status = await engine.replicaStatus('chain');
    return status.lastIoErrno !== 0 && status.ioRunning === 'No' && status;
  });
  assert.equal(failed.lastIoErrno, 1236);
  assert.match(failed.lastIoError, new RegExp(`the missing transactions are '${chainSet('1-6')}'`));
  assert.deepEqual(s.dumps, [{ file: '', position: 4, gtidSet: '' }]);
  await engine.stopReplica('chain');

  await engine.addGtidPurged('chain', chainSet('1-6'));
  assert.equal((await engine.replicaStatus('chain')).executedGtidSet, chainSet('1-6'));
  await engine.startReplica('chain');
  await executedIs('chain', chainSet('1-19'));
  const status = await engine.replicaStatus('chain');
  assert.equal(status.retrievedGtidSet, chainSet('7-19'));
  assert.equal(status.lastIoErrno, 0);
  assert.equal(s.dumps.at(-1)!.gtidSet, chainSet('1-6'));
  assert.equal(await storedGtidState('chain'), chainSet('1-19'));
  assert.deepEqual(await targetKeys('chain_db'), expectedKeys(files, () => true));

  // A restart of the engine: the dump asks with what is executed, and nothing comes twice.
  await engine.close();
  assert.match(await readFile(join(dataDir, masterInfoFileName('chain')), 'utf8'), /\nauto_position=1\n/);
  engine = await openEngine(target, { dataDir });
  await engine.startReplica('chain');
  await until('a dump after the restart', async () => s.dumps.length >= 3);
  assert.equal(s.dumps[2]!.gtidSet, chainSet('1-19'));
  await executedIs('chain', chainSet('1-19'));
  const again = await engine.replicaStatus('chain');
  assert.equal(again.lastSqlErrno, 0, again.lastSqlError);
  assert.equal(again.lastIoErrno, 0, again.lastIoError);
  assert.deepEqual(await targetKeys('chain_db'), expectedKeys(files, () => true));
  await engine.stopReplica('chain');
});

test('a transaction whose GTID is executed already is skipped (MySQL\'s auto-skip), though the relay log holds it', async () => {
  const { files } = await chainChannel('skip', 'skip_db');
  await engine.startReplica('skip', { until: { sqlBeforeGtids: chainSet('18') } });
  await sqlStopped('skip');
  await until('the whole chain in the relay log', async () => (await engine.replicaStatus('skip')).retrievedGtidSet === chainSet('7-19'));
  assert.equal((await engine.replicaStatus('skip')).executedGtidSet, chainSet('1-17'));
  // 18 and 19 (metrics' rows) count as on the target already: the SQL stage reads them and applies nothing.
  await engine.addGtidPurged('skip', chainSet('18-19'));
  await engine.startReplica('skip', { threads: ['SQL_THREAD'] });
  await until('the SQL stage past the chain', async () => {
    const status = await engine.replicaStatus('skip');
    assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
    return status.relaySourceLogFile === 'mysql-bin.000008';
  });
  assert.equal((await engine.replicaStatus('skip')).executedGtidSet, chainSet('1-19'));
  assert.deepEqual(await targetKeys('skip_db'), expectedKeys(files, (g) => g <= 17));
  await engine.stopReplica('skip');
});

test('UNTIL SQL_BEFORE_GTIDS and SQL_AFTER_GTIDS stop where MySQL stops, also at once when the condition already holds', async () => {
  const { files } = await chainChannel('until', 'until_db');

  // Before 12: 7-11 applied, 12 not.
  await engine.startReplica('until', { until: { sqlBeforeGtids: chainSet('12:15') } });
  assert.equal((await engine.replicaStatus('until')).untilCondition, 'SQL_BEFORE_GTIDS');
  await sqlStopped('until');
  let status = await engine.replicaStatus('until');
  assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
  assert.equal(status.executedGtidSet, chainSet('1-11'));
  assert.deepEqual(await targetKeys('until_db'), expectedKeys(files, (g) => g <= 11));

  // After 14 and 16: 12-16 applied, the one that completes the set (16) included, 17 not.
  await engine.startReplica('until', { threads: ['SQL_THREAD'], until: { sqlAfterGtids: chainSet('14:16') } });
  await sqlStopped('until');
  status = await engine.replicaStatus('until');
  assert.equal(status.untilCondition, 'SQL_AFTER_GTIDS');
  assert.equal(status.executedGtidSet, chainSet('1-16'));
  assert.deepEqual(await targetKeys('until_db'), expectedKeys(files, (g) => g <= 16));

  // Conditions that hold already: the stage stops at once, applying nothing.
  for (const until of [{ sqlAfterGtids: chainSet('8-9') }, { sqlBeforeGtids: chainSet('3:30') }]) {
    await engine.startReplica('until', { threads: ['SQL_THREAD'], until });
    await sqlStopped('until');
    assert.equal((await engine.replicaStatus('until')).executedGtidSet, chainSet('1-16'), JSON.stringify(until));
  }

  await engine.startReplica('until', { threads: ['SQL_THREAD'] });
  await executedIs('until', chainSet('1-19'));
  assert.deepEqual(await targetKeys('until_db'), expectedKeys(files, () => true));
  await engine.stopReplica('until');
});

test('a move to another source holding the same GTIDs goes on from the executed set, nothing lost or doubled', async () => {
  const files = chain();
  // The first source has logged up to GTID 16 when it fails.
  const first = await source(files.slice(0, 2), CHAIN_UUID, 1);
  await channel('failover', first, 'failover_db');
  await engine.addGtidPurged('failover', chainSet('1-6'));
  await engine.startReplica('failover');
  await executedIs('failover', chainSet('1-16'));
  await engine.stopReplica('failover');
  await first.close();

  const second = await source(files, CHAIN_UUID, 2);
  await engine.changeReplicationSource('failover', { sourceHost: second.host, sourcePort: second.port });
  await engine.startReplica('failover');
  await executedIs('failover', chainSet('1-19'));
  assert.equal(second.dumps[0]!.gtidSet, chainSet('1-16'));
  const status = await engine.replicaStatus('failover');
  assert.equal(status.lastIoErrno, 0, status.lastIoError);
  assert.deepEqual(await targetKeys('failover_db'), expectedKeys(files, () => true));
  await engine.stopReplica('failover');
});

test('MySQL 9.6 tagged GTIDs: the dump asks in the tagged format, the tagged transaction is applied and executed', async () => {
  const file = binlog('rust_mysql_common__binlog_transaction_with_GTID_TAG.000001', 'binlog.000001');
  const s = await source([file], TAG_UUID);
  await target.sql('CREATE DATABASE IF NOT EXISTS tag_db');
  await target.sql('CREATE TABLE IF NOT EXISTS tag_db.orders (id INT PRIMARY KEY, customer INT, amount DECIMAL(10,2))');
  await engine.changeReplicationSource('tagged', {
    sourceHost: s.host, sourcePort: s.port, sourceUser: 'repl', sourcePassword: 'secret', sourceConnectRetry: 1,
    sourceAutoPosition: true,
  });
  await engine.changeReplicationFilter('tagged', { replicateRewriteDb: [['test', 'tag_db']] });
  await engine.addGtidPurged('tagged', `${TAG_UUID}:1-13:mytag:1-2`);
  await engine.startReplica('tagged');
  await executedIs('tagged', `${TAG_UUID}:1-13:mytag:1-3`);
  assert.equal((await engine.replicaStatus('tagged')).retrievedGtidSet, `${TAG_UUID}:mytag:3`);
  assert.equal(s.dumps[0]!.gtidSet, `${TAG_UUID}:1-13:mytag:1-2`);
  const rows = await target.sql('SELECT COUNT(*) AS n FROM tag_db.orders') as { n: number }[];
  assert.equal(Number(rows[0]!.n), 1);
  await engine.stopReplica('tagged');
});

test('compressed transactions (TRANSACTION_PAYLOAD) by GTID set; a transaction the rules filter out is executed all the same', async () => {
  const uuid = '76f3e7be-6720-11ed-9cad-0242ac110002';
  const s = await source([binlog('apecloud__mysql-bin.000057', 'mysql-bin.000057')], uuid);
  await target.sql('CREATE DATABASE IF NOT EXISTS ape_db');
  await engine.changeReplicationSource('payload', {
    sourceHost: s.host, sourcePort: s.port, sourceUser: 'repl', sourcePassword: 'secret', sourceConnectRetry: 1,
    sourceAutoPosition: true,
  });
  // GTID 11 creates a.b, 12 (a payload) inserts into it, 13 (a payload) writes a.test_table_3, left out here.
  await engine.changeReplicationFilter('payload', { replicateRewriteDb: [['a', 'ape_db']], replicateWildIgnoreTable: ['%.test_table_3'] });
  await engine.addGtidPurged('payload', `${uuid}:1-10`);
  await engine.startReplica('payload');
  await executedIs('payload', `${uuid}:1-13`);
  const status = await engine.replicaStatus('payload');
  assert.equal(status.retrievedGtidSet, `${uuid}:11-13`);
  assert.deepEqual(await target.sql('SELECT id FROM ape_db.b'), [{ id: 1 }]);
  assert.equal((await target.sql("SHOW TABLES FROM ape_db LIKE 'test_table_3'") as unknown[]).length, 0);
  await engine.stopReplica('payload');
});

test('refusals carry the servers\' errnos and change nothing: 1776, 1772, 1277', async () => {
  const s = await source(chain(), CHAIN_UUID);
  await channel('refuse', s, 'refuse_db');
  const before = await engine.replicaStatus('refuse');
  const errno = (n: number) => (err: unknown) => (err as { errno?: number }).errno === n;

  // File and position with auto position on, given now or set before (ER_BAD_SLAVE_AUTO_POSITION).
  await assert.rejects(engine.changeReplicationSource('refuse', { sourceLogFile: 'mysql-bin.000006', sourceLogPos: 4 }), errno(1776));
  await assert.rejects(engine.changeReplicationSource('other', {
    sourceHost: s.host, sourcePort: s.port + 1, sourceAutoPosition: true, sourceLogFile: 'mysql-bin.000006', sourceLogPos: 4,
  }), errno(1776));
  assert.ok(!engine.channelNames().includes('other'));
  // MariaDB's GTID mode and MySQL's cannot be on together.
  await assert.rejects(engine.changeReplicationSource('refuse', { sourceUseGtid: 'slave_pos' }), errno(1210));
  // Malformed GTID sets (ER_MALFORMED_GTID_SET_SPECIFICATION).
  await assert.rejects(engine.startReplica('refuse', { until: { sqlBeforeGtids: `${CHAIN_UUID}:5-3` } }), errno(1772));
  await assert.rejects(engine.startReplica('refuse', { until: { sqlAfterGtids: 'not-a-uuid:1' } }), errno(1772));
  await assert.rejects(engine.addGtidPurged('refuse', `${CHAIN_UUID}:0`), errno(1772));
  // Two UNTIL forms at once, or a GTID form with a position (ER_BAD_SLAVE_UNTIL_COND).
  await assert.rejects(engine.startReplica('refuse', {
    until: { sqlBeforeGtids: chainSet('9'), sqlAfterGtids: chainSet('10') } as never,
  }), errno(1277));
  await assert.rejects(engine.startReplica('refuse', {
    until: { sqlBeforeGtids: chainSet('9'), sourceLogFile: 'mysql-bin.000005', sourceLogPos: 4 } as never,
  }), errno(1277));

  assert.deepEqual(await engine.replicaStatus('refuse'), before);
  assert.deepEqual(s.dumps, []);
});
