// Hand-built Table_map and Rows events and target table definitions, for the tests of rowStatements.
import type { RowImage, RowsEvent, RowsKind, TableMapEvent } from '../../src/binlog/events.js';
import type { TargetTable } from '../../src/apply/table-definitions.js';
import type { ComparisonKind } from '../../src/binlog/column-types.js';

export function tableMap(database: string, table: string, types: number[], tableId = 7n): TableMapEvent {
  return {
    type: 'table_map', tableId, flags: 0, database, table, columnTypes: types,
    columnMeta: types.map((realType) => ({ realType })), nullable: types.map(() => true), optional: {},
  };
}

export function rowsEvent(kind: RowsKind, map: TableMapEvent, rows: { before?: RowImage; after?: RowImage }[]): RowsEvent {
  return { type: 'rows', kind, tableId: map.tableId, tableMap: map, flags: 0, statementEnd: true, rows };
}

export const writes = (map: TableMapEvent, ...images: RowImage[]) => rowsEvent('write', map, images.map((after) => ({ after })));
export const deletes = (map: TableMapEvent, ...images: RowImage[]) => rowsEvent('delete', map, images.map((before) => ({ before })));
export const updates = (map: TableMapEvent, ...pairs: [RowImage, RowImage][]) =>
  rowsEvent('update', map, pairs.map(([before, after]) => ({ before, after })));

/** A transactional target table; its columns compare as numbers unless told (the tests' keys are integers). */
export function target(columns: (string | { name: string; unsigned?: boolean; generated?: boolean; kind?: ComparisonKind })[],
  key: number[] = [], { transactional = true } = {}): TargetTable {
  return {
    database: 'd', table: 't', key, triggers: false, transactional,
    columns: columns.map((c) => (typeof c === 'string' ? { name: c, unsigned: false, generated: false, kind: 'number' }
      : { name: c.name, unsigned: c.unsigned ?? false, generated: c.generated ?? false, kind: c.kind ?? 'number' })),
  };
}
