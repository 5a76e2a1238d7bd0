import type { RowImage, RowsEvent, RowsKind, TableMapEvent } from './events.js';
import { mariadbUncompress } from './compression.js';
import { BinlogFormatError, ByteReader, bitSet } from './reader.js';
import { readValue } from './values.js';

const STMT_END_F = 0x0001;

export interface RowsLayout {
  kind: RowsKind;
  /** v2 events carry a length-prefixed extra-data block after the flags. */
  v2: boolean;
  /** MariaDB log_bin_compress: the row images (after the column bitmaps) are compressed. */
  compressed: boolean;
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

  const rows: RowsEvent['rows'] = [];
  while (data.remaining > 0) {
    const first = readImage(data, tableMap, presentBefore);
    if (layout.kind === 'write') rows.push({ after: first });
    else if (layout.kind === 'delete') rows.push({ before: first });
    else rows.push({ before: first, after: readImage(data, tableMap, presentAfter) });
  }
  const event: RowsEvent = {
    type: 'rows', kind: layout.kind, tableId, tableMap, flags, statementEnd: (flags & STMT_END_F) !== 0, rows,
  };
  if (extraData && extraData.length > 0) event.extraData = extraData;
  return event;
}

/** Positions of the columns a columns bitmap marks present, among the first n. */
function presentColumns(bitmap: Buffer, n: number): number[] {
  const present: number[] = [];
  for (let i = 0; i < n; i++) if (bitSet(bitmap, i)) present.push(i);
  return present;
}

function readImage(r: ByteReader, map: TableMapEvent, present: number[]): RowImage {
  const nulls = r.bytes((present.length + 7) >> 3, 'null bitmap');
  const row: RowImage = new Array(map.columnTypes.length).fill(undefined);
  for (let k = 0; k < present.length; k++) {
    const i = present[k]!;
    if (bitSet(nulls, k)) {
      row[i] = null;
    } else {
      try {
        row[i] = readValue(map.columnTypes[i]!, map.columnMeta[i]!, r);
      } catch (err) {
        throw new BinlogFormatError(`cannot decode column ${i + 1} (type ${map.columnTypes[i]}) of `
          + `\`${map.database}\`.\`${map.table}\`: ${(err as Error).message}`);
      }
    }
  }
  return row;
}
