// Every name replicates, and no source bytes become SQL: three sources (ROW, STATEMENT, MIXED) run sessions in
// gbk, big5, sjis, cp932, latin1 and utf8mb4 on databases, tables and columns whose names hold characters whose
// second byte is a backslash or a backtick in those character sets, Latin-1, CJK, spaces, quotes, backticks and
// reserved words, with values of the same kind. A native MariaDB replica and tributary replicate each source
// through a channel that keeps only `tenant%` databases; the two targets must be identical, and a database the
// filters exclude, which the workload writes on the sources, must be left exactly as it was on both.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { ReplicationEngine, ReplicationFilters } from '../src/index.js';
import { assertSameData } from './helpers/compare.js';
import { replicateSideBySide, startSourcesSideBySide, type NativeReplica } from './helpers/native-replica.js';
import { catchUp, openEngine } from './helpers/replica.js';
import type { TestServer } from './helpers/servers.js';

const FORMATS = [
  { format: 'ROW', channel: 'row', prefix: 'r', serverId: 161 },
  { format: 'STATEMENT', channel: 'stmt', prefix: 's', serverId: 162 },
  { format: 'MIXED', channel: 'mixed', prefix: 'm', serverId: 163 },
] as const;

/**
 * Client character sets, with characters whose encoding there ends in 0x5c (a backslash) and in 0x60 (a
 * backtick), and a character whose UTF-8 encoding ends in a byte that is a lead byte there, so that the backtick
 * after it in a UTF-8 name would be swallowed if the applier's text were read in that character set.
 */
const SESSIONS = [
  { charset: 'GBK_CHINESE_CI', tag: 'gbk', backslash: '乗', backtick: '乣', utf8Lead: '表' },
  { charset: 'BIG5_CHINESE_CI', tag: 'big5', backslash: '么', backtick: '亡', utf8Lead: '表' },
  { charset: 'SJIS_JAPANESE_CI', tag: 'sjis', backslash: '予', backtick: '伝', utf8Lead: 'Á' },
  { charset: 'CP932_JAPANESE_CI', tag: 'cp932', backslash: '十', backtick: '倭', utf8Lead: 'Á' },
  { charset: 'LATIN1_SWEDISH_CI', tag: 'latin1', backslash: 'é', backtick: 'ñ', utf8Lead: 'Á' },
  { charset: 'UTF8MB4_GENERAL_CI', tag: 'utf8', backslash: '数', backtick: '据', utf8Lead: '表' },
] as const;

const FILTERS: Partial<ReplicationFilters> = { replicateWildDoTable: ['tenant%.%'] };

const q = (name: string) => '`' + name.replace(/`/g, '``') + '`';

/** Databases the workload creates on the source of `prefix`. */
function databases(prefix: string): string[] {
  return [...SESSIONS.map((s) => `tenant_${prefix}_${s.tag}${s.utf8Lead}`), `tenant ${prefix}'q\`b\\s`];
}

async function workload(source: TestServer, prefix: string, seed: number): Promise<void> {
  for (const [index, s] of SESSIONS.entries()) {
    const conn = await source.connect({ charset: s.charset, multipleStatements: false });
    try {
      const db = `tenant_${prefix}_${s.tag}${s.utf8Lead}`;
      const table = `t${s.backslash}${s.backtick}`;
      const c1 = `c${s.backtick}`;
      const c2 = `v${s.backslash}`;
      const run = async (...statements: string[]) => {
        for (const statement of statements) await conn.query(statement);
      };
      if (seed === 1) {
        await run(`CREATE DATABASE ${q(db)} CHARACTER SET utf8mb4`, `USE ${q(db)}`,
          `CREATE TABLE ${q(table)} (${q(c1)} INT PRIMARY KEY, ${q(c2)} VARCHAR(40), \`select\` INT, \`with space\` VARCHAR(10)) ` +
          `CHARACTER SET ${s.tag === 'utf8' ? 'utf8mb4' : s.tag}`,
          `CREATE TABLE ${q(`k${s.backtick}`)} (a INT, b VARCHAR(10))`);
      }
      await run(`USE ${q(db)}`);
      const base = seed * 100;
      // Values whose last byte before the quote is 0x5c in this character set must not escape it.
      await run(`INSERT INTO ${q(table)} VALUES (${base + 1}, '${s.backslash}', 1, 'a'), (${base + 2}, '${s.backtick}''${s.backslash}', 2, 'b'),` +
        ` (${base + 3}, 'x\\\\${s.backslash}', 3, '${s.backtick}')`);
      await run(`UPDATE ${q(table)} SET ${q(c2)} = CONCAT(${q(c2)}, '${s.backslash}'), \`select\` = \`select\` + 1 WHERE ${q(c1)} = ${base + 1}`);
      await run(`DELETE FROM ${q(table)} WHERE ${q(c1)} = ${base + 2}`);
      await run(`INSERT INTO ${q(`k${s.backtick}`)} VALUES (${seed}, '${s.backtick}'), (${seed}, 'x')`);
      await run(`DELETE FROM ${q(`k${s.backtick}`)} WHERE a = ${seed} AND b = 'x'`);
      // A user variable with such a name; in statement format it travels as a User_var event.
      await run(`SET @${q(`u${s.backtick}`)} = '${s.backslash}${s.backtick}'`,
        `INSERT INTO ${q(table)} VALUES (${base + 4}, @${q(`u${s.backtick}`)}, 4, NULL)`);
      // A database the filters keep out, written from a session in this character set, then a tenant again.
      await run('USE victim', `UPDATE t SET v = CONCAT(v, '${s.backtick}')`, `INSERT INTO t VALUES (${base + 10 + index}, '${s.backslash}')`);
      await run(`USE ${q(db)}`, `INSERT INTO ${q(table)} VALUES (${base + 5}, 'after', 5, '${s.backslash}')`);
      if (seed === 2) await run(`ALTER TABLE ${q(table)} ADD COLUMN ${q(`n${s.backtick}`)} INT DEFAULT 7`);
    } finally {
      await conn.end();
    }
  }
  const conn = await source.connect({ multipleStatements: false });
  try {
    const odd = databases(prefix).at(-1)!;
    if (seed === 1) {
      await conn.query(`CREATE DATABASE ${q(odd)} CHARACTER SET utf8mb4`);
      await conn.query(`CREATE TABLE ${q(odd)}.${q("from 'x' `y`")} (${q('where')} INT PRIMARY KEY, ${q('a`b')} TEXT)`);
    }
    await conn.query(`INSERT INTO ${q(odd)}.${q("from 'x' `y`")} VALUES (${seed}, '😀 café \\\\ \\' \`')`);
    await conn.query(`UPDATE ${q(odd)}.${q("from 'x' `y`")} SET ${q('a`b')} = CONCAT(${q('a`b')}, '数据') WHERE ${q('where')} = ${seed}`);
  } finally {
    await conn.end();
  }
}

describe('names and character sets: tributary against a native replica', () => {
  let sources: Map<string, TestServer>;
  let native: NativeReplica;
  let target: TestServer;
  let engine: ReplicationEngine;
  let nativeConn: Connection;
  let targetConn: Connection;

  before(async () => {
    ({ sources, native, target } = await startSourcesSideBySide(FORMATS, { native: 261, target: 361 }));
    const victim = ['CREATE DATABASE victim', 'CREATE TABLE victim.t (id INT PRIMARY KEY, v VARCHAR(200) CHARACTER SET utf8mb4)'];
    await Promise.all([
      ...[...sources.values()].map((s) => s.sql('SET sql_log_bin = 0', ...victim, "INSERT INTO victim.t VALUES (1, 'source')")),
      ...[native.server, target].map((s) => s.sql(...victim, "INSERT INTO victim.t VALUES (1, 'untouched')")),
    ]);
    // Half as a backlog applied in large batches, half live.
    await Promise.all(FORMATS.map((f) => workload(sources.get(f.channel)!, f.prefix, 1)));
    engine = await openEngine(target);
    for (const f of FORMATS) {
      await replicateSideBySide(native, engine, f.channel, sources.get(f.channel)!, FILTERS);
    }
    await Promise.all(FORMATS.map((f) => workload(sources.get(f.channel)!, f.prefix, 2)));
    nativeConn = await native.server.connect();
    targetConn = await target.connect();
  });

  after(async () => {
    await engine?.close();
    await nativeConn?.end();
    await targetConn?.end();
    await Promise.all([...(sources?.values() ?? []), native?.server, target].map((s) => s?.destroy()));
  });

  for (const f of FORMATS) {
    test(`${f.format}: the target is identical to the native replica's, and the filtered database untouched`, async () => {
      const source = sources.get(f.channel)!;
      await Promise.all([native.catchUp(f.channel, source), catchUp(engine, f.channel, source)]);
      const status = await engine.replicaStatus(f.channel);
      assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
      const [[row]] = await nativeConn.query(`SELECT COUNT(*) AS n FROM ${q(`tenant_${f.prefix}_gbk表`)}.${q('t乗乣')}`) as
        [{ n: number }[], unknown];
      assert.ok(Number(row!.n) >= 6, 'the native replica applied the workload');
      await assertSameData(nativeConn, targetConn, [...databases(f.prefix), 'victim']);
      assert.deepEqual(await target.sql('SELECT id, v FROM victim.t'), [{ id: 1, v: 'untouched' }]);
    });
  }
});
