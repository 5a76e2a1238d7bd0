// STATEMENT and MIXED binlogs applied the way mysqld's SQL thread applies them. Three sources, one per
// binlog format, run the same interleaved multi-session workload (helpers/statement-workload.ts) while a native
// MariaDB replica and tributary replicate each source through a channel with the same filters (a rewritten
// default database, an ignored table, a wild-ignored table); the two replicas must end up byte-identical.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { BinlogDecoder } from '../src/binlog/decoder.js';
import type { ReplicationEngine, ReplicationFilters } from '../src/index.js';
import { assertSameData } from './helpers/compare.js';
import { replicateSideBySide, startSourcesSideBySide, type NativeReplica } from './helpers/native-replica.js';
import { catchUp, openEngine } from './helpers/replica.js';
import type { TestServer } from './helpers/servers.js';
import { createStatementSchema, runStatementWorkload, statementSchemas } from './helpers/statement-workload.js';

const FORMATS = [
  { format: 'ROW', channel: 'row', prefix: 'r', serverId: 151 },
  { format: 'STATEMENT', channel: 'stmt', prefix: 's', serverId: 152 },
  { format: 'MIXED', channel: 'mixed', prefix: 'm', serverId: 153 },
] as const;

function filtersFor(prefix: string): Partial<ReplicationFilters> {
  const { app, other } = statementSchemas(prefix);
  return {
    replicateRewriteDb: [[app, `${app}_r`]],
    replicateIgnoreTable: [`${app}_r.audit`],
    replicateWildIgnoreTable: [`${other}.scratch%`],
  };
}

/** Counts of the events in a source's binlog files that only statement-based replication needs. */
async function contextEvents(source: TestServer): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const threads = new Set<number>();
  for (const file of (await readdir(source.dataDir)).filter((f) => /^mysql-bin\.\d+$/.test(f)).sort()) {
    const data = await readFile(join(source.dataDir, file));
    const decoder = new BinlogDecoder();
    for (let pos = 4; pos < data.length;) {
      const length = data.readUInt32LE(pos + 9);
      const { event } = decoder.decode(data.subarray(pos, pos + length));
      pos += length;
      const count = (kind: string) => { counts[kind] = (counts[kind] ?? 0) + 1; };
      if (event.type === 'query') {
        threads.add(event.threadId);
        if (/^CREATE TEMPORARY/i.test(event.sql.toString('latin1'))) count('createTemporary');
        if (event.errorCode !== 0) count('failedOnSource');
      }
      if (['rows', 'intvar', 'rand', 'user_var', 'execute_load_query', 'append_block'].includes(event.type)) count(event.type);
    }
  }
  counts.threads = threads.size;
  return counts;
}

describe('STATEMENT and MIXED binlogs: tributary against a native replica', () => {
  let sources: Map<string, TestServer>;
  let native: NativeReplica;
  let target: TestServer;
  let engine: ReplicationEngine;
  let nativeConn: Connection;
  let targetConn: Connection;

  before(async () => {
    ({ sources, native, target } = await startSourcesSideBySide(FORMATS, { native: 251, target: 351 }));
    // Half the workload is a backlog, applied in large batches where one transaction's statements leave their
    // session to the next one's rows; the other half runs live, in batches as small as the traffic makes them.
    const workload = (seed: number) => Promise.all(FORMATS.map((f) =>
      runStatementWorkload(sources.get(f.channel)!, { prefix: f.prefix, seed, actions: 150 })));
    await Promise.all(FORMATS.map((f) => createStatementSchema(sources.get(f.channel)!, f.prefix)));
    await workload(42);
    engine = await openEngine(target);
    for (const f of FORMATS) {
      const rewritten = `CREATE DATABASE \`${statementSchemas(f.prefix).app}_r\``;
      await Promise.all([native.server.sql(rewritten), target.sql(rewritten)]);
      await replicateSideBySide(native, engine, f.channel, sources.get(f.channel)!, filtersFor(f.prefix));
    }
    await workload(43);
    nativeConn = await native.server.connect();
    targetConn = await target.connect();
  });

  after(async () => {
    await engine?.close();
    await nativeConn?.end();
    await targetConn?.end();
    await Promise.all([...(sources?.values() ?? []), native?.server, target].map((s) => s?.destroy()));
  });

  test('the workload needs statement context: interleaved sessions, IntVar, Rand, User_var, temporary tables, LOAD DATA, source errors', async () => {
    const statement = await contextEvents(sources.get('stmt')!);
    for (const kind of ['intvar', 'rand', 'user_var', 'createTemporary', 'execute_load_query', 'append_block', 'failedOnSource']) {
      assert.ok((statement[kind] ?? 0) > 0, `STATEMENT binlog has ${kind} events: ${JSON.stringify(statement)}`);
    }
    assert.ok(statement.threads! > 8, `statements of many sessions: ${JSON.stringify(statement)}`);
    const mixed = await contextEvents(sources.get('mixed')!);
    assert.ok((mixed.rows ?? 0) > 10 && (mixed.rand ?? 0) > 10, `MIXED binlog has both rows and statements: ${JSON.stringify(mixed)}`);
  });

  for (const f of FORMATS) {
    test(`${f.format}: the target is identical to the native replica's`, async () => {
      const source = sources.get(f.channel)!;
      await Promise.all([native.catchUp(f.channel, source), catchUp(engine, f.channel, source)]);
      const { app, other } = statementSchemas(f.prefix);
      const [[rows]] = await nativeConn.query(`SELECT COUNT(*) AS n FROM \`${app}_r\`.events`) as [{ n: number }[], unknown];
      assert.ok(Number(rows!.n) > 100, 'the native replica applied the workload');
      await assertSameData(nativeConn, targetConn, [app, `${app}_r`, other]);
    });
  }

  test('an INSERT_ID its statement did not use on the replica is forgotten, as the SQL thread forgets it', async () => {
    const source = sources.get('stmt')!;
    const other = `\`${statementSchemas('s').other}\``;
    const tables = [`CREATE TABLE ${other}.ids (id INT AUTO_INCREMENT PRIMARY KEY, k INT)`,
      `CREATE TABLE ${other}.copy_a (k INT)`, `CREATE TABLE ${other}.copy_b (k INT)`];
    // The tables differ on purpose: the first copy inserts on the source only, so the INSERT_ID logged with it goes
    // unused on the replicas; the second inserts on the replicas only, where its id must come from the table.
    await source.sql('SET sql_log_bin = 0', ...tables, `INSERT INTO ${other}.ids (id) VALUES (100)`,
      `INSERT INTO ${other}.copy_a VALUES (7)`);
    await Promise.all([native.server, target].map((s) => s.sql(...tables, `INSERT INTO ${other}.copy_b VALUES (8)`)));
    await source.sql(`INSERT INTO ${other}.ids (k) SELECT k FROM ${other}.copy_a`,
      `INSERT INTO ${other}.ids (k) SELECT k FROM ${other}.copy_b`);
    await Promise.all([native.catchUp('stmt', source), catchUp(engine, 'stmt', source)]);
    assert.deepEqual(await target.sql(`SELECT id, k FROM ${other}.ids`), [{ id: 1, k: 8 }]);
    await assertSameData(nativeConn, targetConn, [statementSchemas('s').other]);
  });
});
