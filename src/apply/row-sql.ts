// Row events into SQL statements on the target, by column position. Pure: the target's table definition comes
// in, statements come out, each with the number of rows it must touch (a row event that finds nothing to
// update or delete is the replica error 1032, as on the servers).
import type { JsonDiff, RowImage, RowsEvent } from '../binlog/events.js';
import { ColumnType, comparisonKind } from '../binlog/column-types.js';
import { jsonPathText } from '../binlog/json-diff.js';
import { qualifiedName, quoteIdentifier, quoteString, renderValue } from './sql-text.js';
import type { TargetColumn, TargetTable } from './table-definitions.js';

export interface RowStatement {
  sql: string;
  /** Rows the statement must match; undefined when any count is right (INSERT fails on its own). */
  expectRows?: number;
  /** For the error message: the rows event this statement came from. */
  source: RowsEvent;
}

export class RowMappingError extends Error {
  constructor(readonly errno: number, message: string) {
    super(message);
  }
}

/** Columns of the image that the target can take: present in the image, existing and not generated there. */
function usableColumns(image: RowImage, table: TargetTable): number[] {
  const used: number[] = [];
  const limit = Math.min(image.length, table.columns.length);
  for (let i = 0; i < limit; i++) {
    if (image[i] !== undefined && !table.columns[i]!.generated) used.push(i);
  }
  return used;
}

/**
 * A JSON column changed in place (partial JSON update): the functions that make the same changes as the
 * source's diffs, applied one after the other to the target's document. They read alike on MySQL and MariaDB;
 * a value goes through JSON_EXTRACT(text, '$') so that both take it as JSON, not as a string.
 */
export function jsonDiffSql(column: string, diffs: readonly JsonDiff[], target: TargetColumn): string {
  return diffs.reduce((doc, diff) => {
    const path = quoteString(Buffer.from(jsonPathText(diff.path), 'utf8'), '_utf8mb4');
    if (diff.operation === 'remove') return `JSON_REMOVE(${doc},${path})`;
    const value = `JSON_EXTRACT(${renderValue(diff.value!, ColumnType.JSON, target)},'$')`;
    const name = diff.operation === 'replace' ? 'JSON_REPLACE'
      : 'member' in diff.path.at(-1)! ? 'JSON_INSERT' : 'JSON_ARRAY_INSERT';
    return `${name}(${doc},${path},${value})`;
  }, column);
}

function tuple(image: RowImage, columns: number[], event: RowsEvent, table: TargetTable): string {
  const types = event.tableMap.columnMeta;
  return '(' + columns.map((i) => renderValue(image[i]!, types[i]!.realType, table.columns[i]!)).join(',') + ')';
}

/** The WHERE condition that finds the row a before image describes: by key when it has the key, else by all. */
function rowCondition(image: RowImage, event: RowsEvent, table: TargetTable): string {
  const types = event.tableMap.columnMeta;
  const byKey = table.key.length > 0 && table.key.every((i) => image[i] !== undefined);
  const columns = byKey ? table.key : usableColumns(image, table);
  if (columns.length === 0) {
    throw new RowMappingError(1032, `no column of the row image identifies a row of ${table.database}.${table.table}`);
  }
  return columns.map((i) => {
    const value = image[i]!;
    const name = quoteIdentifier(table.columns[i]!.name);
    if (value === null) return `${name} IS NULL`;
    const literal = renderValue(value, types[i]!.realType, table.columns[i]!);
    // Without a key, several rows may be equal under the column's collation ('abc', 'ABC', 'abc '): only the
    // bytes find the one the event means. A key lookup needs no such care, as the key holds one of them at most.
    return !byKey && Buffer.isBuffer(value) && types[i]!.realType !== ColumnType.BIT
      ? `BINARY ${name}=${literal}` : `${name}=${literal}`;
  }).join(' AND ');
}

function checkShape(event: RowsEvent, table: TargetTable): void {
  if (event.tableMap.columnTypes.length > table.columns.length) {
    const extra = event.tableMap.columnTypes.length - table.columns.length;
    // A source table may have extra trailing columns the replica lacks, as long as rows carry no value there.
    for (const row of event.rows) {
      for (const image of [row.before, row.after]) {
        if (!image) continue;
        for (let i = table.columns.length; i < image.length; i++) {
          if (((image[i] !== undefined && image[i] !== null) || (image === row.after && row.jsonDiffs?.has(i)))
            && event.kind !== 'delete') {
            throw new RowMappingError(1677, `${table.database}.${table.table} on the target has ${table.columns.length} ` +
              `columns but the source row has ${table.columns.length + extra} with a value in column ${i + 1}: ` +
              'align the target table with the source');
          }
        }
      }
    }
  }
}

/**
 * Whether a column's values reach the target unchanged through a CASE, whose type is the aggregate of all its
 * values: not for integers above 2^63 beside smaller ones (the aggregate is DECIMAL, which SET and BIT columns
 * take differently from an integer), nor for floats (-0, and DECIMAL beside DOUBLE literals).
 */
function passesCase(type: number, column: TargetColumn): boolean {
  return type !== ColumnType.FLOAT && type !== ColumnType.DOUBLE && type !== ColumnType.BIT && type !== ColumnType.SET
    && !(type === ColumnType.LONGLONG && column.unsigned);
}

/**
 * Most rows one set-based statement changes. An UPDATE's CASE is read once per row it changes, so its cost grows
 * with the square of its rows: 64 is about where it stops paying (measured on MariaDB 10.11, benchmarks/README.md).
 */
export const MAX_SET_ROWS = { delete: 1000, update: 64 } as const;

/**
 * The literals of the target key's columns in a before image, when the row can be changed in a set with others:
 * the table has a key and no triggers (which would fire in the target's order, not the source's), its engine
 * rolls back (a failed set is replayed row by row), and the image holds every key column, not NULL, not generated
 * (whose value a CASE after an assignment might see changed) and compared as the target column compares.
 */
function keyLiterals(image: RowImage, event: RowsEvent, table: TargetTable): string[] | undefined {
  if (table.key.length === 0 || table.triggers || !table.transactional) return undefined;
  const types = event.tableMap.columnMeta;
  const literals: string[] = [];
  for (const i of table.key) {
    const value = image[i];
    const type = types[i]?.realType;
    if (value === undefined || value === null || type === undefined || table.columns[i]!.generated) return undefined;
    // A literal compared with a column of another kind (5 with a VARCHAR key: '5' and '05') may find two rows.
    if (comparisonKind(type) === undefined || comparisonKind(type) !== table.columns[i]!.kind) return undefined;
    literals.push(renderValue(value, type, table.columns[i]!));
  }
  return literals;
}

/** A row to delete or update: its event, the WHERE that finds it alone and (update) the values set, rendered. */
interface SetRow {
  event: RowsEvent;
  where: string;
  values: string[];
}

/** Rows of one kind and SET column list, each found by its own key, to change with one statement. */
interface RowSet {
  kind: 'delete' | 'update';
  /** update: the columns set, the same for every row (`shape` joins them). */
  columns: number[];
  shape: string;
  rows: SetRow[];
  /** Keys already in the set: a row changed twice goes in order, in the next set. */
  seen: Set<string>;
  bytes: number;
}

/**
 * Statements for a run of rows events on one table. Consecutive write events with the same columns become one
 * multi-row INSERT. Consecutive deletes, and consecutive updates of the same columns, of rows found by the
 * target's key become one statement (`DELETE ... WHERE <row's WHERE> OR ...`, `UPDATE ... SET c=CASE WHEN
 * <row's WHERE> THEN <value> ... END ... WHERE <row's WHERE> OR ...`) where the result is the one the rows would
 * give one by one: each row by its own key, no key twice, no key changed, no triggers, values that a CASE keeps as they are.
 * The statement must touch as many rows as it names (with CLIENT_FOUND_ROWS, an update counts the rows it
 * matched); when it does not, the applier replays the transaction one statement per row, which names the row.
 * A `maxStatementBytes` of 0 gives one statement per row.
 */
export function rowStatements(events: RowsEvent[], table: TargetTable, maxStatementBytes: number): RowStatement[] {
  const out: RowStatement[] = [];
  const rendered = renderedNames(table);
  const name = rendered.name;
  let insert: { head: string; tuples: string[]; bytes: number; source: RowsEvent } | undefined;
  const flushInsert = () => {
    if (insert) out.push({ sql: insert.head + insert.tuples.join(','), source: insert.source });
    insert = undefined;
  };
  let set: RowSet | undefined;
  const flushSet = () => {
    if (set) {
      out.push(set.rows.length === 1 ? oneRow(set.kind, set.columns, set.rows[0]!, name, table) : setStatement(set, name, table));
    }
    set = undefined;
  };

  for (const event of events) {
    checkShape(event, table);
    if (event.kind === 'write') {
      flushSet();
      for (const row of event.rows) {
        const columns = usableColumns(row.after!, table);
        const head = insertHead(table, rendered, columns);
        const values = tuple(row.after!, columns, event, table);
        if (!insert || insert.head !== head || insert.bytes + values.length > maxStatementBytes) {
          flushInsert();
          insert = { head, tuples: [], bytes: head.length, source: event };
        }
        insert.tuples.push(values);
        insert.bytes += values.length + 1;
      }
      continue;
    }
    flushInsert();
    const kind = event.kind;
    const types = event.tableMap.columnMeta;
    for (const row of event.rows) {
      const before = row.before!;
      let columns: number[] = [];
      let values: string[] = [];
      if (kind === 'update') {
        const diffs = row.jsonDiffs;
        // Only a partial JSON update adds columns absent from the image; usableColumns is in column order already.
        columns = diffs
          ? [...usableColumns(row.after!, table),
            ...[...diffs.keys()].filter((i) => i < table.columns.length && !table.columns[i]!.generated)].sort((a, b) => a - b)
          : usableColumns(row.after!, table);
        if (columns.length === 0) continue;
        values = columns.map((i) => {
          const columnDiffs = diffs?.get(i);
          return columnDiffs ? jsonDiffSql(quoteIdentifier(table.columns[i]!.name), columnDiffs, table.columns[i]!)
            : renderValue(row.after![i]!, types[i]!.realType, table.columns[i]!);
        });
      }
      const where = rowCondition(before, event, table);
      const keys = row.jsonDiffs ? undefined : keyLiterals(before, event, table);
      // An update that changes a key column (its bytes) moves the row, and the CASEs after it would not find it.
      const inSet = keys !== undefined && (kind === 'delete' || columns.every((i) => passesCase(types[i]!.realType, table.columns[i]!))
        && table.key.every((i, k) => {
          const after = row.after![i];
          return after === undefined || (after !== null && renderValue(after, types[i]!.realType, table.columns[i]!) === keys[k]);
        }));
      if (!inSet) {
        flushSet();
        out.push(oneRow(kind, columns, { event, where, values }, name, table));
        continue;
      }
      const key = keys.join(',');
      // What the row adds to the statement: its condition, and a WHEN for each column set.
      const bytes = where.length + ' OR '.length + values.reduce((n, v) => n + v.length + where.length + ' WHEN  THEN '.length, 0);
      const shape = columns.join();
      if (!set || set.kind !== kind || set.shape !== shape || set.seen.has(key) || set.rows.length >= MAX_SET_ROWS[kind]
        || set.bytes + bytes > maxStatementBytes) {
        flushSet();
        set = { kind, columns, shape, rows: [], seen: new Set(), bytes: setHeadBytes(columns, name, table) };
      }
      set.rows.push({ event, where, values });
      set.seen.add(key);
      set.bytes += bytes;
    }
  }
  flushSet();
  flushInsert();
  return out;
}

// Names rendered once per table definition: most rows of a table have the same columns, and a qualified name and
// an INSERT head (a quoted name per column) built per row were a good part of small transactions' rendering.
interface RenderedNames {
  name: string;
  /** INSERT heads by column list. */
  heads: Map<string, string>;
  /** The head asked for last, by its columns: rows of a table mostly have the same ones (no key to build). */
  last?: { columns: number[]; head: string };
}

const renderedByTable = new WeakMap<TargetTable, RenderedNames>();

function renderedNames(table: TargetTable): RenderedNames {
  let rendered = renderedByTable.get(table);
  if (!rendered) renderedByTable.set(table, rendered = { name: qualifiedName(table.database, table.table), heads: new Map() });
  return rendered;
}

function insertHead(table: TargetTable, rendered: RenderedNames, columns: number[]): string {
  const last = rendered.last;
  if (last && sameColumns(last.columns, columns)) return last.head;
  const key = columns.join();
  let head = rendered.heads.get(key);
  if (head === undefined) {
    head = `INSERT INTO ${rendered.name} (${columns.map((i) => quoteIdentifier(table.columns[i]!.name)).join(',')}) VALUES `;
    rendered.heads.set(key, head);
  }
  rendered.last = { columns, head };
  return head;
}

function sameColumns(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** An upper bound of the bytes of a set statement besides its rows (setStatement): the names. */
function setHeadBytes(columns: number[], name: string, table: TargetTable): number {
  const named = (n: number, i: number) => n + quoteIdentifier(table.columns[i]!.name).length + '=CASE END,'.length;
  return 64 + name.length + columns.reduce(named, 0);
}

/** The statement for one row, found by its key or, without one, by every column it has. */
function oneRow(kind: RowSet['kind'], columns: number[], { event, where, values }: SetRow, name: string,
  table: TargetTable): RowStatement {
  if (kind === 'delete') return { sql: `DELETE FROM ${name} WHERE ${where} LIMIT 1`, expectRows: 1, source: event };
  const assignments = columns.map((i, k) => `${quoteIdentifier(table.columns[i]!.name)}=${values[k]}`).join(',');
  return { sql: `UPDATE ${name} SET ${assignments} WHERE ${where} LIMIT 1`, expectRows: 1, source: event };
}

/**
 * One statement for the rows of a set, finding them by the conditions of their one-row statements joined with
 * OR: a row it touches is one that some row's own statement finds, each condition finds one row at most (a key),
 * so touching as many rows as the set has is touching exactly theirs. An UPDATE picks each row's values by the
 * same condition; assignments run left to right, and a key column is only ever set to the value its condition
 * compares with, so the conditions after it still find the row.
 */
function setStatement(set: RowSet, name: string, table: TargetTable): RowStatement {
  const found = `WHERE ${set.rows.map((r) => r.where).join(' OR ')}`;
  const expectRows = set.rows.length;
  const source = set.rows[0]!.event;
  if (set.kind === 'delete') return { sql: `DELETE FROM ${name} ${found}`, expectRows, source };
  const assignments = set.columns.map((i, k) => `${quoteIdentifier(table.columns[i]!.name)}=CASE` +
    set.rows.map((r) => ` WHEN ${r.where} THEN ${r.values[k]}`).join('') + ' END').join(',');
  return { sql: `UPDATE ${name} SET ${assignments} ${found}`, expectRows, source };
}
