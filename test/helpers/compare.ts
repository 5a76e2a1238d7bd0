// Byte-for-byte comparison of databases on two servers: the set of tables, each table's definition and every
// value of every row. Tests use it as the final word on value fidelity: `a` is the reference (the source, or
// a native replica), `b` the copy under test.
//
// Values are read as the bytes the server sends with no conversion (character_set_results = NULL,
// typeCast: false), TIMESTAMPs under time_zone '+00:00'. Where the text form loses information the query
// asks for an exact form beside it: FLOAT is printed with 6 significant digits, so it is also read widened
// to DOUBLE (exact); ENUM and SET print '' both for index 0 and for a member spelled '', so their numeric
// values are read too.
//
// Rows are streamed from both servers in primary key order (all columns when there is no key) and matched
// by the bytes of their key; rows that do not pair up at once wait in a map until their partner arrives, so
// memory grows only with the differences, never with the table.
import { AssertionError } from 'node:assert';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Connection } from 'mysql2/promise';

export type DifferenceKind =
  | 'missing-database' | 'extra-database'
  | 'missing-table' | 'extra-table'
  | 'definition'
  | 'missing-row' | 'extra-row'
  | 'value';

/** One difference. "missing" means present on `a` and absent on `b`; "extra" the opposite. */
export interface Difference {
  kind: DifferenceKind;
  database: string;
  table?: string;
  /** The row's key, e.g. `id=42` or `a=1, b=0x00ff`; for a table without a key, the row's leading values. */
  key?: string;
  column?: string;
  /** Hex of the value on each side (null = SQL NULL); long values are cut to a window around the first
   *  differing byte, with their lengths and that offset in `detail`. For a definition, the first differing
   *  line of SHOW CREATE TABLE. */
  a?: string | null;
  b?: string | null;
  detail?: string;
}

export interface CompareOptions {
  /** Stop collecting after this many differences (default 1000). */
  maxDifferences?: number;
  /** Compare SHOW CREATE TABLE too (default true). Turn off across server flavours whose DDL prints differently. */
  definitions?: boolean;
}

type Value = Buffer | null;

interface ColumnInfo {
  name: string;
  dataType: string;
}

interface Row {
  key: string;
  values: Value[];
}

/** Compares `databases` on `a` and `b`. Both sessions' time_zone and character_set_results are restored after. */
export async function compareDatabases(a: Connection, b: Connection, databases: string[],
  options: CompareOptions = {}): Promise<Difference[]> {
  const max = options.maxDifferences ?? 1000;
  const out: Difference[] = [];
  const full = (): boolean => out.length >= max;
  const restoreA = await prepareSession(a);
  try {
    const restoreB = await prepareSession(b);
    try {
      for (const db of databases) {
        if (full()) break;
        await compareDatabase(a, b, db, options, out, full);
      }
    } finally {
      await restoreB();
    }
  } finally {
    await restoreA();
  }
  return out.slice(0, max);
}

/** Throws an AssertionError that lists the first differences (database, table, key, column, hex values). */
export async function assertSameData(a: Connection, b: Connection, databases: string[],
  options: CompareOptions = {}): Promise<void> {
  const diffs = await compareDatabases(a, b, databases, options);
  if (!diffs.length) return;
  const shown = diffs.slice(0, 20).map(formatDifference);
  throw new AssertionError({
    message: `${diffs.length}${diffs.length >= (options.maxDifferences ?? 1000) ? '+' : ''} difference(s) `
      + `between the databases ${databases.join(', ')}:\n  ${shown.join('\n  ')}`
      + (diffs.length > shown.length ? `\n  ... and ${diffs.length - shown.length} more` : ''),
    actual: diffs.length,
    expected: 0,
    operator: 'assertSameData',
  });
}

export function formatDifference(d: Difference): string {
  const where = [d.database, d.table].filter(Boolean).join('.');
  const parts = [`${d.kind} ${where}`];
  if (d.key !== undefined) parts.push(`[${d.key}]`);
  if (d.column !== undefined) parts.push(`column ${d.column}`);
  if (d.a !== undefined || d.b !== undefined) {
    const show = (v: string | null | undefined): string =>
      v === null ? 'NULL' : v === undefined ? '-' : d.kind === 'definition' ? JSON.stringify(v) : `0x${v}`;
    parts.push(`a=${show(d.a)} b=${show(d.b)}`);
  }
  if (d.detail) parts.push(`(${d.detail})`);
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------------------

async function prepareSession(conn: Connection): Promise<() => Promise<void>> {
  const [rows] = await conn.query({
    sql: 'SELECT @@session.time_zone AS tz, @@session.character_set_results AS cr', typeCast: false,
  });
  const saved = (rows as Array<Record<string, Value>>)[0]!;
  await conn.query(`SET SESSION time_zone = '+00:00', character_set_results = NULL`);
  return async () => {
    const lit = (v: Value): string => (v === null ? 'NULL' : `X'${v.toString('hex')}'`);
    await conn.query(`SET SESSION time_zone = ${lit(saved.tz!)}, character_set_results = ${lit(saved.cr!)}`);
  };
}

async function strings(conn: Connection, sql: string, params: unknown[] = []): Promise<string[][]> {
  // character_set_results is NULL here, so metadata arrives in the system character set (UTF-8).
  const [rows] = await conn.query({ sql, values: params, typeCast: false, rowsAsArray: true });
  return (rows as Value[][]).map((r) => r.map((v) => (v === null ? '' : v.toString('utf8'))));
}

const ident = (s: string): string => `\`${s.replace(/`/g, '``')}\``;

async function compareDatabase(a: Connection, b: Connection, db: string, options: CompareOptions,
  out: Difference[], full: () => boolean): Promise<void> {
  const exists = async (conn: Connection): Promise<boolean> =>
    (await strings(conn, 'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db])).length > 0;
  const [inA, inB] = await Promise.all([exists(a), exists(b)]);
  if (!inA || !inB) {
    if (inA !== inB) out.push({ kind: inA ? 'missing-database' : 'extra-database', database: db });
    return;
  }
  const tables = async (conn: Connection): Promise<Map<string, string>> => new Map(
    (await strings(conn, 'SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [db]))
      .map(([name, type]) => [name!, type!]));
  const [tablesA, tablesB] = await Promise.all([tables(a), tables(b)]);
  for (const name of tablesA.keys()) if (!tablesB.has(name)) out.push({ kind: 'missing-table', database: db, table: name });
  for (const name of tablesB.keys()) if (!tablesA.has(name)) out.push({ kind: 'extra-table', database: db, table: name });
  for (const [name, type] of tablesA) {
    if (full()) return;
    if (!tablesB.has(name)) continue;
    if (options.definitions ?? true) await compareDefinitions(a, b, db, name, out);
    if (type !== 'VIEW' && tablesB.get(name) !== 'VIEW') await compareRows(a, b, db, name, out, full);
  }
}

async function compareDefinitions(a: Connection, b: Connection, db: string, table: string, out: Difference[]): Promise<void> {
  const definition = async (conn: Connection): Promise<string> => {
    const [row] = await strings(conn, `SHOW CREATE TABLE ${ident(db)}.${ident(table)}`);
    // The AUTO_INCREMENT counter is not data: a replica never sees the values rolled-back inserts used.
    return (row?.[1] ?? '').replace(/ AUTO_INCREMENT=\d+/, '');
  };
  const [defA, defB] = await Promise.all([definition(a), definition(b)]);
  if (defA === defB) return;
  const linesA = defA.split('\n');
  const linesB = defB.split('\n');
  let i = 0;
  while (i < linesA.length && linesA[i] === linesB[i]) i++;
  out.push({
    kind: 'definition', database: db, table, a: linesA[i]?.trim() ?? '', b: linesB[i]?.trim() ?? '',
    detail: `SHOW CREATE TABLE differs at line ${i + 1}`,
  });
}

async function columnsOf(conn: Connection, db: string, table: string): Promise<ColumnInfo[]> {
  return (await strings(conn,
    'SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [db, table])).map(([name, dataType]) => ({ name: name!, dataType: dataType!.toLowerCase() }));
}

async function primaryKey(conn: Connection, db: string, table: string): Promise<string[]> {
  return (await strings(conn,
    `SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
    [db, table])).map(([name]) => name!);
}

async function compareRows(a: Connection, b: Connection, db: string, table: string, out: Difference[],
  full: () => boolean): Promise<void> {
  const [colsA, colsB, pkA, pkB] = await Promise.all(
    [columnsOf(a, db, table), columnsOf(b, db, table), primaryKey(a, db, table), primaryKey(b, db, table)]);
  // Rows are compared on the columns both sides have; a missing column is a definition difference already.
  const namesB = new Set(colsB.map((col) => col.name));
  const columns = colsA.filter((col) => namesB.has(col.name));
  const keyNames = pkA.length && pkA.join() === pkB.join() && pkA.every((k) => namesB.has(k)) ? pkA : [];

  const select: string[] = [];
  const labels: string[] = [];
  for (const col of columns) {
    select.push(ident(col.name));
    labels.push(col.name);
    if (col.dataType === 'float') {
      select.push(`${ident(col.name)} * 1e0`);
      labels.push(`${col.name} (as double)`);
    } else if (col.dataType === 'enum' || col.dataType === 'set') {
      select.push(`${ident(col.name)} + 0`);
      labels.push(`${col.name} (index)`);
    }
  }
  if (!select.length) return;
  const keyIndexes = keyNames.map((k) => labels.indexOf(k));
  const order = (keyNames.length ? keyNames : columns.map((col) => col.name)).map(ident).join(', ');
  const sql = `SELECT ${select.join(', ')} FROM ${ident(db)}.${ident(table)} ORDER BY ${order}`;

  const keyOf = keyIndexes.length
    ? (values: Value[]): string => keyIndexes.map((i) => (values[i] === null ? 'N' : `x${values[i]!.toString('hex')}`)).join('|')
    : (values: Value[]): string => {
      const h = createHash('sha1');
      for (const v of values) {
        if (v === null) h.update('N');
        else {
          h.update(`${v.length}:`);
          h.update(v);
        }
      }
      return h.digest('base64');
    };
  const describeKey = (values: Value[]): string => keyIndexes.length
    ? keyIndexes.map((i) => `${labels[i]}=${readable(values[i]!)}`).join(', ')
    : `no key; ${labels.slice(0, 3).map((l, i) => `${l}=${readable(values[i]!)}`).join(', ')}${labels.length > 3 ? ', ...' : ''}`;

  const compareValues = (ra: Row, rb: Row): void => {
    for (let i = 0; i < labels.length; i++) {
      const va = ra.values[i]!;
      const vb = rb.values[i]!;
      if (va === null && vb === null) continue;
      if (va !== null && vb !== null && va.equals(vb)) continue;
      out.push({ kind: 'value', database: db, table, key: describeKey(ra.values), column: labels[i], ...hexPair(va, vb) });
      if (full()) return;
    }
  };

  const readerA = new RowReader(rowStream(a, sql));
  const readerB = new RowReader(rowStream(b, sql));
  const pendingA = new Map<string, Row[]>();
  const pendingB = new Map<string, Row[]>();
  const take = (pending: Map<string, Row[]>, key: string): Row | undefined => {
    const list = pending.get(key);
    if (!list) return undefined;
    const row = list.shift()!;
    if (!list.length) pending.delete(key);
    return row;
  };
  const park = (pending: Map<string, Row[]>, row: Row): void => {
    const list = pending.get(row.key);
    if (list) list.push(row);
    else pending.set(row.key, [row]);
  };

  // After enough differences the streams are still read to their end: a half-read result set would leave
  // the connections unusable for the caller.
  for (;;) {
    if (!readerA.ready() || !readerB.ready()) await Promise.all([readerA.fill(), readerB.fill()]);
    const va = readerA.shift();
    const vb = readerB.shift();
    if (!va && !vb) break;
    if (full()) continue;
    const ra = va && toRow(va, keyOf);
    const rb = vb && toRow(vb, keyOf);
    if (ra && rb && ra.key === rb.key) {
      compareValues(ra, rb);
      continue;
    }
    if (ra) {
      const partner = take(pendingB, ra.key);
      if (partner) compareValues(ra, partner);
      else park(pendingA, ra);
    }
    if (rb) {
      const partner = take(pendingA, rb.key);
      if (partner) compareValues(partner, rb);
      else park(pendingB, rb);
    }
  }
  for (const [kind, pending] of [['missing-row', pendingA], ['extra-row', pendingB]] as const) {
    for (const rows of pending.values()) {
      for (const row of rows) {
        if (full()) return;
        out.push({ kind, database: db, table, key: describeKey(row.values) });
      }
    }
  }
}

/** Rows of a streaming query, handed out synchronously while buffered: one promise per row would cost more
 *  than the comparison itself. */
class RowReader {
  private rows: Value[][] = [];
  private pos = 0;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly stream: Readable) {
    stream.on('data', (row: Value[]) => {
      this.rows.push(row);
      if (this.rows.length - this.pos >= 5000) stream.pause();
      this.notify();
    });
    stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
    stream.on('error', (err: Error) => {
      this.error = err;
      this.notify();
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** True when shift() can answer without waiting. */
  ready(): boolean {
    return this.pos < this.rows.length || this.ended || this.error !== undefined;
  }

  async fill(): Promise<void> {
    while (!this.ready()) {
      this.rows = [];
      this.pos = 0;
      if (this.stream.isPaused()) this.stream.resume();
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.error) throw this.error;
  }

  /** The next row, or undefined at the end (call fill() first unless ready()). */
  shift(): Value[] | undefined {
    if (this.error) throw this.error;
    return this.pos < this.rows.length ? this.rows[this.pos++] : undefined;
  }
}

function toRow(values: Value[], keyOf: (values: Value[]) => string): Row {
  return { key: keyOf(values), values };
}

function rowStream(conn: Connection, sql: string): Readable {
  // The promise wrapper has no streaming; the callback connection underneath does, with back-pressure.
  const core = (conn as unknown as {
    connection: { query(options: object): { stream(options?: object): Readable } };
  }).connection;
  return core.query({ sql, typeCast: false, rowsAsArray: true }).stream({ highWaterMark: 1000 });
}

/** A key value as text when it is plain ASCII (numbers, dates, simple strings), else hex. */
function readable(v: Value): string {
  if (v === null) return 'NULL';
  return /^[\x20-\x7e]*$/.test(v.toString('latin1')) && v.length <= 64 ? v.toString('latin1') : `0x${excerpt(v, 0)}`;
}

const WINDOW = 32;

function excerpt(v: Buffer, from: number): string {
  if (v.length <= 2 * WINDOW) return v.toString('hex');
  const start = Math.max(0, Math.min(from - 8, v.length - WINDOW));
  return `${start > 0 ? '…' : ''}${v.subarray(start, start + WINDOW).toString('hex')}${start + WINDOW < v.length ? '…' : ''}`;
}

function hexPair(va: Value, vb: Value): Pick<Difference, 'a' | 'b' | 'detail'> {
  if (va === null || vb === null) {
    return { a: va === null ? null : excerpt(va, 0), b: vb === null ? null : excerpt(vb, 0) };
  }
  let at = 0;
  const n = Math.min(va.length, vb.length);
  while (at < n && va[at] === vb[at]) at++;
  const long = va.length > 2 * WINDOW || vb.length > 2 * WINDOW;
  return {
    a: excerpt(va, at), b: excerpt(vb, at),
    ...(long ? { detail: `lengths ${va.length} and ${vb.length}, first difference at byte ${at}` } : {}),
  };
}
