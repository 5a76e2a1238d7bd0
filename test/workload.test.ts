// The workload generator and the byte-for-byte comparison that integration tests rely on: the workload must
// be deterministic and cheap, and the comparison must see every kind of difference a replica can get wrong.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import type { Connection } from 'mysql2/promise';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import {
  alterMidway, createTypeRichSchema, extremeRows, runTransactions, runWorkload, EXTREME_ID_BASE, Rng,
  type WorkloadResult,
} from './helpers/workload.js';
import { assertSameData, compareDatabases, formatDifference, type Difference } from './helpers/compare.js';

let serverA: TestServer;
let serverB: TestServer;
let a: Connection;
let b: Connection;

before(async () => {
  [serverA, serverB] = await Promise.all([startMariaDb({ serverId: 201 }), startMariaDb({ serverId: 202 })]);
  [a, b] = await Promise.all([serverA.connect(), serverB.connect()]);
});

after(async () => {
  await Promise.allSettled([a?.end(), b?.end()]);
  await Promise.allSettled([serverA?.destroy(), serverB?.destroy()]);
});

async function rowCount(conn: Connection, db: string, table: string): Promise<number> {
  const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM \`${db}\`.\`${table}\``);
  return Number((rows as Array<{ n: number }>)[0]!.n);
}

async function assertCounts(conn: Connection, db: string, result: WorkloadResult): Promise<void> {
  for (const [table, expected] of Object.entries(result.rowCounts)) {
    assert.equal(await rowCount(conn, db, table), expected, `rows in ${db}.${table}`);
  }
}

test('the PRNG is deterministic and covers its ranges', () => {
  const r1 = new Rng(12345);
  const r2 = new Rng(12345);
  const seq = Array.from({ length: 100 }, () => r1.u32());
  assert.deepEqual(Array.from({ length: 100 }, () => r2.u32()), seq);
  assert.notDeepEqual(Array.from({ length: 100 }, () => new Rng(12346).u32()), seq);
  const r = new Rng(1);
  let sawMin = false;
  let sawMax = false;
  for (let i = 0; i < 2000; i++) {
    const v = r.int(-3, 3);
    assert.ok(v >= -3 && v <= 3);
    sawMin ||= v === -3;
    sawMax ||= v === 3;
    const big = r.bigint(-(1n << 63n), (1n << 64n) - 1n);
    assert.ok(big >= -(1n << 63n) && big < 1n << 64n);
  }
  assert.ok(sawMin && sawMax);
});

test('two servers fed the same workload, across ALTER TABLEs, compare equal', async () => {
  const play = async (conn: Connection): Promise<{ sql: string[]; results: WorkloadResult[] }> => {
    const sql: string[] = [];
    const onQuery = (q: string): void => {
      sql.push(q);
    };
    await createTypeRichSchema(conn, 'wl', { onQuery });
    await extremeRows(conn, 'wl', { onQuery });
    const first = await runWorkload(conn, 'wl', { count: 600, seed: 1, onQuery });
    await alterMidway(conn, 'wl', { onQuery });
    const second = await runWorkload(conn, 'wl', { count: 600, seed: 2, onQuery });
    return { sql, results: [first, second] };
  };
  const onA = await play(a);
  const onB = await play(b);
  // Same seed, same starting tables: the same SQL, statement for statement.
  assert.equal(onB.sql.length, onA.sql.length);
  assert.ok(onA.sql.every((q, i) => q === onB.sql[i]), 'identical SQL on both servers');
  await assertCounts(a, 'wl', onA.results[1]!);
  await assertSameData(a, b, ['wl']);

  // The later transactions wrote the columns alterMidway added; the dropped one is gone.
  const [cols] = await a.query(
    `SELECT COUNT(*) AS n FROM wl.strings WHERE added_mid <> 'added ü' AND id < ${EXTREME_ID_BASE}`);
  assert.ok((cols as Array<{ n: number }>)[0]!.n > 0, 'strings.added_mid written after the ALTER');
  const [doomed] = await a.query(
    `SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'wl' AND COLUMN_NAME = 'doomed'`);
  assert.equal((doomed as Array<{ n: number }>)[0]!.n, 0);
  // Every nullable column holds NULLs somewhere.
  const [nullable] = await a.query(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'wl' AND IS_NULLABLE = 'YES'`);
  for (const { t, c } of nullable as Array<{ t: string; c: string }>) {
    const [n] = await a.query(`SELECT COUNT(*) AS n FROM wl.\`${t}\` WHERE \`${c}\` IS NULL`);
    assert.ok((n as Array<{ n: number }>)[0]!.n > 0, `NULLs in wl.${t}.${c}`);
  }
  // The recorded SQL is the workload: replayed as text on a fresh database it gives the same tables.
  await b.query('DROP DATABASE wl');
  for (const q of onA.sql) await b.query(q);
  await b.query(`SET SESSION sql_mode = DEFAULT, time_zone = DEFAULT`);
  await assertSameData(a, b, ['wl']);
  await Promise.all([a.query('DROP DATABASE wl'), b.query('DROP DATABASE wl')]);
});

test('finds each kind of difference, byte for byte', async (t) => {
  for (const conn of [a, b]) {
    await createTypeRichSchema(conn, 'probe');
    await extremeRows(conn, 'probe');
  }
  assert.deepEqual(await compareDatabases(a, b, ['probe']), []);
  const id = (n: number): number => EXTREME_ID_BASE + n;

  await a.query(`CREATE TABLE probe.sign (id INT PRIMARY KEY, v TINYINT)`);
  await a.query(`INSERT INTO probe.sign VALUES (1, -1)`);
  // The same stored byte, read with the other signedness.
  await b.query(`CREATE TABLE probe.sign (id INT PRIMARY KEY, v TINYINT UNSIGNED)`);
  await b.query(`INSERT INTO probe.sign VALUES (1, 255)`);
  await b.query(`SET SESSION sql_mode = ''`);
  await b.query([
    // One flipped bit at byte 1000 of a 300000-byte LONGBLOB.
    `UPDATE probe.strings SET lb = INSERT(lb, 1001, 1, CHAR(ASCII(SUBSTRING(lb, 1001, 1)) ^ 1)) WHERE id = ${id(1)}`,
    `UPDATE probe.temporals SET dtm6 = dtm6 - INTERVAL 1 MICROSECOND WHERE id = ${id(1)}`,
    `DELETE FROM probe.integers WHERE id = ${id(2)}`,
    `INSERT INTO probe.numerics (id) VALUES (7)`,
    `UPDATE probe.strings SET vc1000 = '' WHERE id = ${id(2)}`,
    // Index 0 (an invalid value) against the member spelled '': both print as ''.
    `UPDATE probe.enums_bits SET e = 3 WHERE id = ${id(0)}`,
    // FLT_MAX against a float that prints the same with 6 digits.
    `UPDATE probe.numerics SET f = 3.40282e38 WHERE id = ${id(2)}`,
    // One of two identical rows in a table without a key.
    `DELETE FROM probe.nokey WHERE k = -1 LIMIT 1`,
    `UPDATE probe.temporals SET ts = '2038-01-19 03:14:06' WHERE id = ${id(1)}`,
  ].join(';'));
  await b.query(`SET SESSION sql_mode = DEFAULT`);

  const diffs = await compareDatabases(a, b, ['probe']);
  const summary = diffs.map((d) => `${d.kind} ${d.table} ${d.key ?? ''} ${d.column ?? ''}`.trim()).sort();
  assert.deepEqual(summary, [
    `definition sign`,
    `extra-row numerics id=7`,
    `missing-row integers id=${id(2)}`,
    `missing-row nokey no key; k=-1, v=dup, d=1.50, ...`,
    `value enums_bits id=${id(0)} e (index)`,
    `value numerics id=${id(2)} f (as double)`,
    `value sign id=1 v`,
    `value strings id=${id(1)} lb`,
    `value strings id=${id(2)} vc1000`,
    `value temporals id=${id(1)} dtm6`,
    `value temporals id=${id(1)} ts`,
  ].sort());

  const find = (table: string, column: string): Difference => diffs.find((d) => d.table === table && d.column === column)!;
  const hex = (s: string): string => Buffer.from(s).toString('hex');
  assert.equal(find('sign', 'v').a, hex('-1'));
  assert.equal(find('sign', 'v').b, hex('255'));
  const definition = diffs.find((d) => d.kind === 'definition')!;
  assert.equal(definition.a, '`v` tinyint(4) DEFAULT NULL,');
  assert.equal(definition.b, '`v` tinyint(3) unsigned DEFAULT NULL,');
  assert.equal(find('strings', 'vc1000').a, null);
  assert.equal(find('strings', 'vc1000').b, '');
  assert.equal(find('temporals', 'dtm6').a, hex('9999-12-31 23:59:59.999999'));
  assert.equal(find('temporals', 'dtm6').b, hex('9999-12-31 23:59:59.999998'));
  assert.equal(find('temporals', 'ts').a, hex('2038-01-19 03:14:07'), 'TIMESTAMP read in UTC');
  assert.equal(find('enums_bits', 'e (index)').a, hex('0'));
  assert.equal(find('enums_bits', 'e (index)').b, hex('3'));
  const blob = find('strings', 'lb');
  assert.match(blob.detail!, /lengths 300000 and 300000, first difference at byte 1000/);
  assert.notEqual(blob.a, blob.b);

  await assert.rejects(assertSameData(a, b, ['probe']), (err: unknown) => {
    assert.ok(err instanceof AssertionError);
    assert.match(err.message, /^11 difference\(s\)/);
    assert.match(err.message, /value probe\.temporals \[id=1000000000000001\] column dtm6 a=0x393939392d31322d3331203233/);
    assert.match(err.message, /value probe\.strings \[id=1000000000000002\] column vc1000 a=NULL b=0x/);
    assert.match(err.message, /missing-row probe\.integers \[id=1000000000000002\]/);
    return true;
  });
  assert.equal((await compareDatabases(a, b, ['probe'], { maxDifferences: 3 })).length, 3);
  assert.deepEqual((await compareDatabases(a, b, ['probe', 'nowhere'])).filter((d) => d.table === undefined), []);
  await b.query('CREATE DATABASE only_b');
  assert.deepEqual(await compareDatabases(a, b, ['only_b']), [{ kind: 'extra-database', database: 'only_b' }]);
  await b.query('DROP DATABASE only_b');
  // Table sets.
  await a.query('CREATE TABLE probe.only_a (x INT)');
  assert.ok((await compareDatabases(a, b, ['probe'])).some((d) => d.kind === 'missing-table' && d.table === 'only_a'));
  for (const d of diffs) t.diagnostic(formatDifference(d));

  // The sessions are as they were.
  const [tz] = await a.query('SELECT @@session.time_zone AS tz, @@session.character_set_results AS cr');
  assert.deepEqual(tz, [{ tz: 'SYSTEM', cr: 'utf8mb4' }]);
  await Promise.all([a.query('DROP DATABASE probe'), b.query('DROP DATABASE probe')]);
});

test('compares 100,000-row tables quickly', async (t) => {
  for (const conn of [a, b]) {
    await conn.query(`CREATE DATABASE big;
      CREATE TABLE big.keyed (id INT PRIMARY KEY, v VARCHAR(40), d DATETIME(6), bl BLOB);
      INSERT INTO big.keyed SELECT seq, CONCAT('value ', seq), '2000-01-01' + INTERVAL seq SECOND, REPEAT(CHAR(seq % 256), seq % 200)
        FROM big.seq_1_to_100000;
      CREATE TABLE big.unkeyed (k INT, v VARCHAR(40));
      INSERT INTO big.unkeyed SELECT seq % 1000, CONCAT('v', seq % 7) FROM big.seq_1_to_100000`);
  }
  await b.query(`UPDATE big.keyed SET bl = CONCAT(bl, 'x') WHERE id = 77777; DELETE FROM big.unkeyed WHERE k = 500 LIMIT 1`);
  const started = Date.now();
  const diffs = await compareDatabases(a, b, ['big']);
  const millis = Date.now() - started;
  t.diagnostic(`compared two 100,000-row tables (one without a key) on both servers in ${millis} ms`);
  assert.deepEqual(diffs.map((d) => `${d.kind} ${d.table} ${d.key}`), [
    'value keyed id=77777', 'missing-row unkeyed no key; k=500, v=v3',
  ]);
  assert.ok(millis < 20_000, `comparison took ${millis} ms`);
  await Promise.all([a.query('DROP DATABASE big'), b.query('DROP DATABASE big')]);
});

test('10,000 transactions run quickly and leave the expected rows', async (t) => {
  await createTypeRichSchema(a, 'bulk');
  await extremeRows(a, 'bulk');
  const result = await runWorkload(a, 'bulk', { count: 10_000, seed: 42 });
  t.diagnostic(`10,000 transactions (${result.statements} statements, ${result.rolledBack} rolled back) in ${result.millis} ms`);
  assert.equal(result.committed + result.rolledBack, 10_000);
  assert.ok(result.rolledBack > 200, 'some transactions roll back');
  assert.ok(result.millis < 60_000, `took ${result.millis} ms`);
  // The counts include tx_log, which each transaction writes: rolled-back ones must have left nothing.
  await assertCounts(a, 'bulk', result);
  for (const [table, n] of Object.entries(result.rowCounts)) assert.ok(n > 10, `${table} has rows`);
  // runTransactions continues from what the tables hold.
  const more = await runTransactions(a, 'bulk', { count: 50, seed: 43 });
  assert.ok(more > 40 && more <= 50);
  await a.query('DROP DATABASE bulk');
});
