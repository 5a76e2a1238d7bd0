// The backlogs `npm run bench` replicates: what each source writes before anything replicates it. Sizes come
// from environment variables (benchmarks/README.md); the defaults keep one workload around a minute on 2 cores.
import type { Connection } from 'mysql2/promise';
import { createTypeRichSchema, extremeRows, runTransactions, Rng } from '../test/helpers/workload.js';
import { env } from './harness.js';

export const SIZES = {
  BENCH_TRANSACTIONS: env('BENCH_TRANSACTIONS', 20_000),
  BENCH_SMALL_TRANSACTIONS: env('BENCH_SMALL_TRANSACTIONS', 50_000),
  BENCH_UPDATE_DELETE_TRANSACTIONS: env('BENCH_UPDATE_DELETE_TRANSACTIONS', 5_000),
  BENCH_SOURCES: Math.max(1, env('BENCH_SOURCES', 6)),
  BENCH_SOURCE_TRANSACTIONS: env('BENCH_SOURCE_TRANSACTIONS', 1_500),
  BENCH_WIDE_TRANSACTIONS: env('BENCH_WIDE_TRANSACTIONS', 1_000),
  BENCH_MEMORY_TRANSACTIONS: env('BENCH_MEMORY_TRANSACTIONS', 10_000),
};

export interface Shape {
  /** Sources the backlog is spread over, each replicated through its own channel / connection. */
  sources: number;
  /** Writes source `index`'s part of the backlog. */
  write(conn: Connection, index: number): Promise<{ description: string; databases: string[] }>;
}

async function typeRich(conn: Connection, db: string, count: number, seed: number): Promise<{ description: string; databases: string[] }> {
  await createTypeRichSchema(conn, db);
  await extremeRows(conn, db);
  const committed = await runTransactions(conn, db, { count, seed });
  return { description: `${count} generated, ${committed} committed`, databases: [db] };
}

/** Many tiny transactions: one single-row INSERT each into a two-column table, so the per-transaction
 *  overhead (event group handling, commit, position update) is nearly all there is to apply. */
function smallInserts(count: number): Shape['write'] {
  return async (conn) => {
    await conn.query('CREATE DATABASE small');
    await conn.query('CREATE TABLE small.t (id INT UNSIGNED NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB');
    // Autocommit statements sent many per round trip: still one transaction (one GTID, one Xid) each in the
    // binlog, and the backlog is written in seconds instead of one round trip per row.
    const perRoundTrip = 1000;
    for (let first = 1; first <= count; first += perRoundTrip) {
      const last = Math.min(count, first + perRoundTrip - 1);
      const statements: string[] = [];
      for (let id = first; id <= last; id++) statements.push(`INSERT INTO small.t VALUES (${id}, ${(id * 7919) % 100003})`);
      await conn.query(statements.join(';\n'));
    }
    return { description: `${count} single-row INSERTs, autocommit`, databases: ['small'] };
  };
}

/** Removes and returns a random element (order does not matter to the callers). */
function takeRandom<T>(rng: Rng, items: T[]): T {
  const at = rng.int(0, items.length - 1);
  const taken = items[at]!;
  items[at] = items[items.length - 1]!;
  items.pop();
  return taken;
}

const ROWS_PER_KEY = 4;

/** 10-statement transactions: 60% multi-row INSERT, 25% UPDATE and 15% DELETE of the rows sharing a value of
 *  a secondary key (ROWS_PER_KEY rows each), so most row events carry several rows found by a non-primary key. */
async function updateDelete(conn: Connection): Promise<{ description: string; databases: string[] }> {
  const count = SIZES.BENCH_UPDATE_DELETE_TRANSACTIONS;
  await conn.query('CREATE DATABASE ud');
  await conn.query(`CREATE TABLE ud.t (id INT UNSIGNED NOT NULL PRIMARY KEY, k INT UNSIGNED NOT NULL,
    v INT NOT NULL, s VARCHAR(64) NOT NULL, d DATETIME(6) NOT NULL, KEY (k)) ENGINE=InnoDB`);
  const rng = new Rng(11);
  const live: number[] = [];
  let nextKey = 0;
  const insert = (): string => {
    const k = nextKey++;
    live.push(k);
    const rows: string[] = [];
    for (let i = 0; i < ROWS_PER_KEY; i++) {
      const id = k * ROWS_PER_KEY + i;
      const d = new Date(Date.UTC(2026, 0, 1) + id * 1037).toISOString().replace('T', ' ').replace('Z', '');
      rows.push(`(${id}, ${k}, ${rng.int(0, 999_999)}, 's${rng.u32().toString(36)}', '${d}')`);
    }
    return `INSERT INTO ud.t VALUES ${rows.join(', ')}`;
  };
  const statement = (): string => {
    const r = rng.float();
    if (r < 0.6 || live.length === 0) return insert();
    if (r < 0.85) return `UPDATE ud.t SET v = v + 1, s = 'u${rng.u32().toString(36)}' WHERE k = ${rng.pick(live)}`;
    return `DELETE FROM ud.t WHERE k = ${takeRandom(rng, live)}`;
  };
  const perRoundTrip = 20;
  for (let done = 0; done < count; done += perRoundTrip) {
    const parts: string[] = [];
    for (let t = done; t < Math.min(count, done + perRoundTrip); t++) {
      parts.push('START TRANSACTION');
      for (let s = 0; s < 10; s++) parts.push(statement());
      parts.push('COMMIT');
    }
    await conn.query(parts.join(';\n'));
  }
  return { description: `${count} transactions of 10 statements (60% INSERT, 25% UPDATE, 15% DELETE, `
    + `${ROWS_PER_KEY} rows each)`, databases: ['ud'] };
}

const WIDE_COLUMNS = 99;
const WIDE_VALUE_BYTES = 4096;

/** Column `j` (1-based) of the wide table: every tenth a 4 KB TEXT or BLOB, the rest a mix of scalar types. */
function wideColumn(j: number): string {
  const types = ['', 'INT', 'INT', 'BIGINT', 'DOUBLE', 'VARCHAR(64)', 'VARCHAR(64)', 'DECIMAL(12,2)', 'DATETIME(6)', 'DATE'];
  return j % 10 === 0 ? (j / 10) % 2 === 1 ? 'TEXT' : 'BLOB' : types[j % 10]!;
}

function wideValue(rng: Rng, type: string): unknown {
  const letters = (n: number): string => {
    let s = '';
    while (s.length < n) s += rng.u32().toString(36);
    return s.slice(0, n);
  };
  switch (type) {
    case 'INT': return rng.int(-2_000_000_000, 2_000_000_000);
    case 'BIGINT': return rng.bigint(-(2n ** 63n), 2n ** 63n - 1n).toString();
    case 'DOUBLE': return rng.float() * 1e9;
    case 'VARCHAR(64)': return letters(rng.int(0, 64));
    case 'DECIMAL(12,2)': return (rng.int(-999_999_999_999, 999_999_999_999) / 100).toFixed(2);
    case 'DATETIME(6)': return `2026-${rng.int(1, 12)}-${rng.int(1, 28)} ${rng.int(0, 23)}:${rng.int(0, 59)}:${rng.int(0, 59)}.${rng.int(0, 999_999)}`;
    case 'DATE': return `${rng.int(1000, 9999)}-${rng.int(1, 12)}-${rng.int(1, 28)}`;
    case 'TEXT': return letters(WIDE_VALUE_BYTES);
    default: return rng.bytes(WIDE_VALUE_BYTES);
  }
}

/** 100-column rows with nine 4 KB TEXT/BLOB values: per transaction two INSERTs, one UPDATE of two columns by
 *  primary key (a full before and after image in the binlog) and, one time in five, one DELETE. */
async function wideRows(conn: Connection): Promise<{ description: string; databases: string[] }> {
  const count = SIZES.BENCH_WIDE_TRANSACTIONS;
  const columns = Array.from({ length: WIDE_COLUMNS }, (_, i) => ({ name: `c${String(i + 1).padStart(3, '0')}`, type: wideColumn(i + 1) }));
  await conn.query('CREATE DATABASE wide DEFAULT CHARACTER SET utf8mb4');
  await conn.query(`CREATE TABLE wide.t (id INT UNSIGNED NOT NULL PRIMARY KEY, `
    + `${columns.map((c) => `${c.name} ${c.type}`).join(', ')}) ENGINE=InnoDB`);
  const rng = new Rng(12);
  const live: number[] = [];
  let nextId = 1;
  const row = `(${Array(WIDE_COLUMNS + 1).fill('?').join(', ')})`;
  for (let t = 0; t < count; t++) {
    const values: unknown[] = [];
    for (let r = 0; r < 2; r++) {
      live.push(nextId);
      values.push(nextId++, ...columns.map((c) => wideValue(rng, c.type)));
    }
    const statements = [`START TRANSACTION`, `INSERT INTO wide.t VALUES ${row}, ${row}`,
      'UPDATE wide.t SET c001 = ?, c010 = ? WHERE id = ?'];
    values.push(wideValue(rng, 'INT'), wideValue(rng, 'TEXT'), rng.pick(live));
    if (rng.chance(0.2)) {
      statements.push('DELETE FROM wide.t WHERE id = ?');
      values.push(takeRandom(rng, live));
    }
    statements.push('COMMIT');
    await conn.query(statements.join(';\n'), values);
  }
  return { description: `${count} transactions of 2 INSERTs, 1 UPDATE and 0.2 DELETEs of 100-column rows`, databases: ['wide'] };
}

export const SHAPES: Record<string, Shape> = {
  'type-rich': { sources: 1, write: (conn) => typeRich(conn, 'rich', SIZES.BENCH_TRANSACTIONS, 1) },
  'small-inserts': { sources: 1, write: smallInserts(SIZES.BENCH_SMALL_TRANSACTIONS) },
  'update-delete': { sources: 1, write: updateDelete },
  'many-sources': {
    sources: SIZES.BENCH_SOURCES,
    write: (conn, index) => typeRich(conn, `rich${index + 1}`, SIZES.BENCH_SOURCE_TRANSACTIONS, index + 1),
  },
  'wide-rows': { sources: 1, write: wideRows },
  memory: { sources: 1, write: smallInserts(SIZES.BENCH_MEMORY_TRANSACTIONS) },
};
