import { STMT_END_F, type JsonDiff, type RowImage, type RowsEvent, type RowsKind, type TableMapEvent } from './events.js';
import { ColumnType } from './column-types.js';
import { mariadbUncompress } from './compression.js';
import { decodeJsonDiffs } from './json-diff.js';
import { BinlogFormatError, ByteReader, bitSet } from './reader.js';
import { lengthBytes, readValue } from './values.js';

/** value_options bit: the row's JSON columns may hold partial updates (binlog_row_value_options=PARTIAL_JSON). */
const PARTIAL_JSON_UPDATES = 1;

export interface RowsLayout {
  kind: RowsKind;
  /** v2 events carry a length-prefixed extra-data block after the flags. */
  v2: boolean;
  /** MariaDB log_bin_compress: the row images (after the column bitmaps) are compressed. */
  compressed: boolean;
  /**
   * MySQL PARTIAL_UPDATE_ROWS: between the before and the after image of each row, value_options and (when it
   * says PARTIAL_JSON) one bit per JSON column of the table telling whether the after image holds its changes.
   */
  valueOptions?: boolean;
}

export class MissingTableMapError extends BinlogFormatError {
  override name = 'MissingTableMapError';
}

export function decodeRows(
  r: ByteReader, layout: RowsLayout, tableIdSize: number, postHeaderLength: number,
  tableMaps: ReadonlyMap<bigint, TableMapEvent>,
): RowsEvent {
  const start = r.pos;
  const tableId = r.ubig(tableIdSize);
  const flags = r.u16();
  let extraData: Buffer | undefined;
  if (layout.v2) {
    const extraLength = r.u16();
    r.skipTo(start + postHeaderLength, 'rows post-header');
    extraData = Buffer.from(r.bytes(Math.max(0, extraLength - 2), 'rows extra data'));
  } else {
    r.skipTo(start + postHeaderLength, 'rows post-header');
  }
  const tableMap = tableMaps.get(tableId);
  if (!tableMap) {
    throw new MissingTableMapError(`rows event for table id ${tableId} without a preceding Table_map event for `
      + 'that id (the event group must be read from its start: its GTID/BEGIN event)');
  }
  const n = r.packed();
  if (n > tableMap.columnTypes.length) {
    throw new BinlogFormatError(`rows event has ${n} columns, Table_map of \`${tableMap.database}\`.`
      + `\`${tableMap.table}\` has ${tableMap.columnTypes.length}`);
  }
  const presentBefore = presentColumns(r.bytes((n + 7) >> 3, 'columns bitmap'), n);
  const presentAfter = layout.kind === 'update' ? presentColumns(r.bytes((n + 7) >> 3, 'columns bitmap'), n) : presentBefore;
  const data = layout.compressed ? new ByteReader(mariadbUncompress(r.rest())) : r;
  // A row of no columns takes no bytes: reading rows from the rest of the event would never end.
  if (data.remaining > 0 && presentBefore.length === 0 && presentAfter.length === 0) {
    throw new BinlogFormatError(`rows event on \`${tableMap.database}\`.\`${tableMap.table}\` has no columns in its row `
      + `images (column count ${n}) but ${data.remaining} bytes of rows`);
  }

  const jsonColumns = layout.valueOptions ? tableMap.columnTypes.flatMap((t, i) => (t === ColumnType.JSON ? [i] : [])) : undefined;
  const shape: RowsShape = { tableMap, kind: layout.kind, presentBefore, presentAfter, jsonColumns };
  // Decoded here so that a damaged event fails now, at its relay log position; then dropped (StoredRowsEvent).
  const from = data.pos;
  readRows(data, shape);
  const event = new StoredRowsEvent(tableId, flags, shape, data.buf, from, data.end);
  if (extraData && extraData.length > 0) event.extraData = extraData;
  return event;
}

/** What reading the row images of an event needs besides its bytes. */
interface RowsShape {
  tableMap: TableMapEvent;
  kind: RowsKind;
  presentBefore: number[];
  presentAfter: number[];
  /** PARTIAL_UPDATE_ROWS: the positions of the table's JSON columns. */
  jsonColumns: number[] | undefined;
}

/**
 * A decoded rows event that keeps its row images as bytes and decodes them whenever `rows` is read. A batch holds
 * its rows events until the target has committed them, and as row images (an array and an object per row, a
 * Buffer per string) they are many times their bytes, all of which would outlive V8's young generation: the heap
 * grows in proportion to what survives, and it is read once or twice (rendered, and again on a retry).
 */
class StoredRowsEvent implements RowsEvent {
  readonly type = 'rows';
  readonly kind: RowsKind;
  readonly statementEnd: boolean;
  extraData?: Buffer;

  constructor(readonly tableId: bigint, readonly flags: number, private readonly shape: RowsShape,
    private readonly buf: Buffer, private readonly from: number, private readonly end: number,
    readonly tableMap = shape.tableMap) {
    this.kind = shape.kind;
    this.statementEnd = (flags & STMT_END_F) !== 0;
  }

  get rows(): RowsEvent['rows'] {
    if (last?.event !== this) last = { event: this, rows: readRows(new ByteReader(this.buf, this.from, this.end), this.shape) };
    return last.rows;
  }

  /** The same event under another Table_map of the same table (a rewritten database). */
  withTableMap(tableMap: TableMapEvent): StoredRowsEvent {
    const event = new StoredRowsEvent(this.tableId, this.flags, this.shape, this.buf, this.from, this.end, tableMap);
    if (this.extraData) event.extraData = this.extraData;
    return event;
  }
}

// The rows of the event read last: readers go over an event's rows a few times in a row (a check, then the SQL).
let last: { event: StoredRowsEvent; rows: RowsEvent['rows'] } | undefined;

/** A rows event under another Table_map of its table (replicate-rewrite-db): its rows stay as they are. */
export function withTableMap(event: RowsEvent, tableMap: TableMapEvent): RowsEvent {
  return event instanceof StoredRowsEvent ? event.withTableMap(tableMap) : { ...event, tableMap };
}

function readRows(data: ByteReader, { tableMap, kind, presentBefore, presentAfter, jsonColumns }: RowsShape): RowsEvent['rows'] {
  const rows: RowsEvent['rows'] = [];
  while (data.remaining > 0) {
    const first = readImage(data, tableMap, presentBefore);
    if (kind === 'write') rows.push({ after: first });
    else if (kind === 'delete') rows.push({ before: first });
    else if (!jsonColumns) rows.push({ before: first, after: readImage(data, tableMap, presentAfter) });
    else {
      const partial = partialColumns(data, jsonColumns);
      const jsonDiffs = new Map<number, JsonDiff[]>();
      const after = readImage(data, tableMap, presentAfter, partial, jsonDiffs);
      rows.push(jsonDiffs.size > 0 ? { before: first, after, jsonDiffs } : { before: first, after });
    }
  }
  return rows;
}

/** Positions of the columns a columns bitmap marks present, among the first n. */
function presentColumns(bitmap: Buffer, n: number): number[] {
  const present: number[] = [];
  for (let i = 0; i < n; i++) if (bitSet(bitmap, i)) present.push(i);
  return present;
}

/** The shared image of a PARTIAL_UPDATE_ROWS row: the positions of the JSON columns written as changes. */
function partialColumns(r: ByteReader, jsonColumns: number[]): Set<number> {
  const valueOptions = r.packed();
  if (valueOptions > PARTIAL_JSON_UPDATES) {
    throw new BinlogFormatError(`value_options ${valueOptions} in a partial update row (only PARTIAL_JSON, 1, is defined)`);
  }
  const partial = new Set<number>();
  if (valueOptions !== PARTIAL_JSON_UPDATES) return partial;
  const bits = r.bytes((jsonColumns.length + 7) >> 3, 'partial_bits');
  jsonColumns.forEach((column, k) => {
    if (bitSet(bits, k)) partial.add(column);
  });
  return partial;
}

/**
 * One row image. Columns in `partial` hold JSON changes, stored with the length prefix of a JSON value: they go
 * to `jsonDiffs` and stay undefined in the image.
 */
function readImage(r: ByteReader, map: TableMapEvent, present: number[], partial?: ReadonlySet<number>,
  jsonDiffs?: Map<number, JsonDiff[]>): RowImage {
  const nulls = r.bytes((present.length + 7) >> 3, 'null bitmap');
  const row: RowImage = new Array(map.columnTypes.length).fill(undefined);
  for (let k = 0; k < present.length; k++) {
    const i = present[k]!;
    if (bitSet(nulls, k)) {
      row[i] = null;
    } else {
      try {
        if (partial?.has(i)) jsonDiffs!.set(i, decodeJsonDiffs(r.bytes(r.uint(lengthBytes(map.columnMeta[i]!)), 'JSON diff')));
        else row[i] = readValue(map.columnTypes[i]!, map.columnMeta[i]!, r);
      } catch (err) {
        throw new BinlogFormatError(`cannot decode column ${i + 1} (type ${map.columnTypes[i]}) of `
          + `\`${map.database}\`.\`${map.table}\`: ${(err as Error).message}`);
      }
    }
  }
  return row;
}
