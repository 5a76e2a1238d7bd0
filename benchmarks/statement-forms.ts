// The forms a batch of row changes can take on the target, measured on the target alone: SQL text one
// statement per row, the set-based statements the applier sends (CASE, OR of conditions, multi-row INSERT), and
// MariaDB's bulk execution of one prepared statement for many rows (COM_STMT_BULK_EXECUTE, sent here by the
// `mariadb` connector's `batch`, which mysql2 cannot send). What decided the applier's statement forms
// (ARCHITECTURE.md, "Text, not the binary protocol").
//
//   npx tsx benchmarks/statement-forms.ts          # BENCH_FORM_ROWS=48000 BENCH_RUNS=2
import mysql, { type Connection } from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { cleanup, cleanupOnSignals, env, machine, processCpu, server, track } from './harness.js';

const ROWS = env('BENCH_FORM_ROWS', 48000);
const RUNS = env('BENCH_RUNS', 2);
const TABLE_ROWS = 100_000;
const BLOB_ROWS = 10_000;
const TRANSACTION_ROWS = 1000;

type Values = [number, string, number, string, number];
const values = (id: number): Values => [id % 1000, `new value ${id}`, id * 11, '2021-02-03 04:05:06.123456', id / 7];
const literals = (id: number) => values(id).map((v) => (typeof v === 'string' ? `'${v}'` : String(v)));
const COLUMNS = ['k', 'a', 'b', 'c', 'd'];
const BLOB_BYTES = 4096;
const blob = (id: number) => Buffer.alloc(BLOB_BYTES, id & 0xff);

interface Clients { text: Connection; bulk: mariadb.Connection }
interface Form {
  name: string;
  /** What the table starts with: nothing for INSERT; for the BLOB forms fewer rows, whose 4 KB each fit the buffer pool. */
  filled: 'rows' | 'blobs' | 'empty';
  /** Applies the changes of one source transaction's rows. */
  apply: (clients: Clients, table: string, ids: number[]) => Promise<void>;
}

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

const textTransaction = async (conn: Connection, statements: string[]) => {
  await conn.query('START TRANSACTION');
  for (const roundTrip of chunks(statements, 64)) await conn.query(roundTrip.join(';\n'));
  await conn.query('COMMIT');
};
const bulkTransaction = async (conn: mariadb.Connection, sql: string, rows: unknown[][], perCall: number) => {
  await conn.beginTransaction();
  for (const call of chunks(rows, perCall)) await conn.batch(sql, call);
  await conn.commit();
};

const FORMS: Form[] = [
  { name: 'UPDATE, one per row (text)', filled: 'rows', apply: ({ text }, t, ids) => textTransaction(text, ids.map((id) =>
    `UPDATE ${t} SET ${literals(id).map((v, i) => `${COLUMNS[i]}=${v}`).join(', ')} WHERE id=${id}`)) },
  { name: 'UPDATE, CASE of 64 rows (text)', filled: 'rows', apply: ({ text }, t, ids) => textTransaction(text,
    chunks(ids, 64).map((set) => `UPDATE ${t} SET ${COLUMNS.map((c, i) => `${c} = CASE ${set.map((id) =>
      `WHEN id=${id} THEN ${literals(id)[i]}`).join(' ')} END`).join(', ')} WHERE ${set.map((id) => `id=${id}`).join(' OR ')}`)) },
  { name: 'UPDATE, bulk of 64 rows', filled: 'rows', apply: ({ bulk }, t, ids) => bulkTransaction(bulk,
    `UPDATE ${t} SET k=?, a=?, b=?, c=?, d=? WHERE id=?`, ids.map((id) => [...values(id), id]), 64) },
  { name: 'DELETE, one per row (text)', filled: 'rows', apply: ({ text }, t, ids) => textTransaction(text,
    ids.map((id) => `DELETE FROM ${t} WHERE id=${id} LIMIT 1`)) },
  { name: 'DELETE, OR of 1000 rows (text)', filled: 'rows', apply: ({ text }, t, ids) => textTransaction(text,
    [`DELETE FROM ${t} WHERE ${ids.map((id) => `id=${id}`).join(' OR ')}`]) },
  { name: 'DELETE, bulk of 1000 rows', filled: 'rows', apply: ({ bulk }, t, ids) => bulkTransaction(bulk,
    `DELETE FROM ${t} WHERE id=?`, ids.map((id) => [id]), TRANSACTION_ROWS) },
  { name: 'INSERT, 1000 rows (text)', filled: 'empty', apply: ({ text }, t, ids) => textTransaction(text,
    [`INSERT INTO ${t} (id, ${COLUMNS.join(', ')}) VALUES ${ids.map((id) => `(${id}, ${literals(id).join(', ')})`).join(', ')}`]) },
  { name: 'INSERT, bulk of 1000 rows', filled: 'empty', apply: ({ bulk }, t, ids) => bulkTransaction(bulk,
    `INSERT INTO ${t} (id, ${COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?)`, ids.map((id) => [id, ...values(id)]), TRANSACTION_ROWS) },
  { name: 'UPDATE of a 4 KB BLOB, one per row (hex text)', filled: 'blobs', apply: ({ text }, t, ids) => textTransaction(text,
    ids.map((id) => `UPDATE ${t} SET e=0x${blob(id).toString('hex')} WHERE id=${id}`)) },
  { name: 'UPDATE of a 4 KB BLOB, bulk of 64 rows', filled: 'blobs', apply: ({ bulk }, t, ids) => bulkTransaction(bulk,
    `UPDATE ${t} SET e=? WHERE id=?`, ids.map((id) => [blob(id), id]), 64) },
];

async function main(): Promise<void> {
  cleanupOnSignals();
  const target = await server({ serverId: 1, noBinlog: true });
  const options = target.value.connectionOptions();
  const text = track(await mysql.createConnection({ ...options, multipleStatements: true, database: 'mysql' }), (c) => c.end());
  const bulk = track(await mariadb.createConnection({ host: options.host, port: options.port, user: options.user,
    password: options.password }), (c) => c.end());
  await text.value.query('CREATE DATABASE forms');
  await text.value.query('USE forms');
  await bulk.value.query('USE forms');
  // Rows changed in an order unrelated to the key, as a replica meets them.
  const ids = Array.from({ length: ROWS }, (_, i) => 1 + ((i * 6151) % TABLE_ROWS));
  const results = FORMS.map(() => [] as { seconds: number; target: number; node: number }[]);
  for (let run = 0; run < RUNS; run++) {
    for (const [f, form] of FORMS.entries()) {
      const table = `t${f}`;
      await text.value.query(`DROP TABLE IF EXISTS ${table}`);
      await text.value.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, k INT, a VARCHAR(64), b BIGINT, c DATETIME(6), ` +
        'd DOUBLE, e BLOB, KEY (k)) ENGINE=InnoDB');
      if (form.filled !== 'empty') {
        const blobs = form.filled === 'blobs';
        await text.value.query(`INSERT INTO ${table} SELECT seq, seq % 1000, CONCAT('row ', seq), seq * 7, ` +
          `'2020-01-01 00:00:00', seq / 3, ${blobs ? `REPEAT('x', ${BLOB_BYTES})` : 'NULL'} ` +
          `FROM seq_1_to_${blobs ? BLOB_ROWS : TABLE_ROWS}`);
      }
      const targetBefore = processCpu(target.value.pid);
      const nodeBefore = process.cpuUsage();
      const started = performance.now();
      const rows = form.filled === 'blobs' ? ids.map((id) => 1 + (id % BLOB_ROWS)) : ids;
      for (const transaction of chunks(rows, TRANSACTION_ROWS)) {
        await form.apply({ text: text.value, bulk: bulk.value }, table, transaction);
      }
      const node = process.cpuUsage(nodeBefore);
      results[f]!.push({ seconds: (performance.now() - started) / 1000, target: processCpu(target.value.pid) - targetBefore,
        node: (node.user + node.system) / 1e6 });
    }
  }
  console.log(machine(`BENCH_FORM_ROWS=${ROWS}, BENCH_RUNS=${RUNS}`));
  console.log(`\n${ROWS.toLocaleString('en-US')} rows changed by primary key in transactions of ${TRANSACTION_ROWS} ` +
    `(a ${TABLE_ROWS.toLocaleString('en-US')}-row table; the BLOB forms: ${BLOB_ROWS.toLocaleString('en-US')} rows of ` +
    `${BLOB_BYTES} bytes); every run:\n`);
  console.log('| form | seconds | target CPU s | Node CPU s |\n| --- | ---: | ---: | ---: |');
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  for (const [f, form] of FORMS.entries()) {
    const runs = results[f]!;
    console.log(`| ${form.name} | ${list(runs.map((r) => r.seconds))} | ${list(runs.map((r) => r.target))} | ` +
      `${list(runs.map((r) => r.node))} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
}).finally(() => cleanup());
