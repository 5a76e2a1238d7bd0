// Row events into SQL statements on the target, by column position. Pure: the target's table definition comes
// in, statements come out, each with the number of rows it must touch (a row event that finds nothing to
// update or delete is the replica error 1032, as on the servers).
import type { JsonDiff, RowImage, RowsEvent } from '../binlog/events.js';
import { ColumnType } from '../binlog/column-types.js';
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
 * Statements for a run of rows events on one table. Consecutive write events with the same columns become one
 * multi-row INSERT.
 */
export function rowStatements(events: RowsEvent[], table: TargetTable, maxStatementBytes: number): RowStatement[] {
  const out: RowStatement[] = [];
  const name = qualifiedName(table.database, table.table);
  let insert: { head: string; tuples: string[]; bytes: number; source: RowsEvent } | undefined;
  const flushInsert = () => {
    if (insert) out.push({ sql: insert.head + insert.tuples.join(','), source: insert.source });
    insert = undefined;
  };

  for (const event of events) {
    checkShape(event, table);
    if (event.kind === 'write') {
      for (const row of event.rows) {
        const columns = usableColumns(row.after!, table);
        const head = `INSERT INTO ${name} (${columns.map((i) => quoteIdentifier(table.columns[i]!.name)).join(',')}) VALUES `;
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
    for (const row of event.rows) {
      const where = rowCondition(row.before!, event, table);
      if (event.kind === 'delete') {
        out.push({ sql: `DELETE FROM ${name} WHERE ${where} LIMIT 1`, expectRows: 1, source: event });
        continue;
      }
      const diffs = row.jsonDiffs;
      // Only a partial JSON update adds columns absent from the image; usableColumns is in column order already.
      const columns = diffs
        ? [...usableColumns(row.after!, table),
          ...[...diffs.keys()].filter((i) => i < table.columns.length && !table.columns[i]!.generated)].sort((a, b) => a - b)
        : usableColumns(row.after!, table);
      if (columns.length === 0) continue;
      const types = event.tableMap.columnMeta;
      const set = columns.map((i) => {
        const name = quoteIdentifier(table.columns[i]!.name);
        const columnDiffs = diffs?.get(i);
        return `${name}=` + (columnDiffs ? jsonDiffSql(name, columnDiffs, table.columns[i]!)
          : renderValue(row.after![i]!, types[i]!.realType, table.columns[i]!));
      }).join(',');
      out.push({ sql: `UPDATE ${name} SET ${set} WHERE ${where} LIMIT 1`, expectRows: 1, source: event });
    }
  }
  flushInsert();
  return out;
}
