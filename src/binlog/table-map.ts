import type { TableMapEvent } from './events.js';
import { ColumnType as T } from './column-types.js';
import { BinlogFormatError, ByteReader, bitSet } from './reader.js';
import { readColumnMeta } from './values.js';

// Optional metadata field types (binlog_row_metadata), numbered as MySQL and MariaDB write them.
const SIGNEDNESS = 1;
const DEFAULT_CHARSET = 2;
const COLUMN_CHARSET = 3;
const COLUMN_NAME = 4;
const SET_STR_VALUE = 5;
const ENUM_STR_VALUE = 6;
const GEOMETRY_TYPE = 7;
const SIMPLE_PRIMARY_KEY = 8;
const PRIMARY_KEY_WITH_PREFIX = 9;
const ENUM_AND_SET_DEFAULT_CHARSET = 10;
const ENUM_AND_SET_COLUMN_CHARSET = 11;
const COLUMN_VISIBILITY = 12;
const VECTOR_DIMENSIONALITY = 13;

/** MAX_FIELDS of MySQL and MariaDB: no table has more columns, so no Table_map may list more. */
const MAX_COLUMNS = 4096;

/**
 * `r` is positioned after the common header, `tableIdSize` is 6 (or 4 for pre-5.1.4 formats). `mariadb`: the
 * source is MariaDB, whose signedness field also has a bit for YEAR columns (always set: YEAR is unsigned).
 */
export function decodeTableMap(
  r: ByteReader, tableIdSize: number, postHeaderLength: number, mariadb: boolean,
): TableMapEvent {
  const start = r.pos;
  const tableId = r.ubig(tableIdSize);
  const flags = r.u16();
  r.skipTo(start + postHeaderLength, 'Table_map post-header');
  const database = r.str(r.u8(), 'database name');
  r.skip(1);
  const table = r.str(r.u8(), 'table name');
  r.skip(1);
  const n = r.packed();
  if (n > MAX_COLUMNS) {
    throw new BinlogFormatError(`Table_map of \`${database}\`.\`${table}\` has ${n} columns, a table has at most ${MAX_COLUMNS}`);
  }
  const columnTypes = [...r.bytes(n, 'Table_map column types')];
  const meta = r.sub(r.packed(), 'Table_map metadata block');
  const columnMeta = columnTypes.map((t) => readColumnMeta(t, meta));
  const nullBits = r.bytes((n + 7) >> 3, 'Table_map null bitmap');
  const nullable = columnTypes.map((_, i) => bitSet(nullBits, i));
  const event: TableMapEvent = {
    type: 'table_map', tableId, flags, database, table, columnTypes, columnMeta, nullable, optional: {},
  };
  readOptionalMetadata(r, event, mariadb);
  return event;
}

function isNumeric(type: number, mariadb: boolean): boolean {
  switch (type) {
    case T.YEAR:
      return mariadb;
    case T.TINY: case T.SHORT: case T.INT24: case T.LONG: case T.LONGLONG:
    case T.NEWDECIMAL: case T.FLOAT: case T.DOUBLE: case T.DECIMAL:
      return true;
    default:
      return false;
  }
}

function isEnumOrSet(e: TableMapEvent, i: number): boolean {
  const real = e.columnMeta[i]!.realType;
  return real === T.ENUM || real === T.SET;
}

/**
 * Columns whose collation the charset fields list: character strings and blobs, not ENUM/SET. MySQL 9 lists
 * VECTOR columns there too (as binary).
 */
function isCharacter(e: TableMapEvent, i: number): boolean {
  const t = e.columnTypes[i]!;
  return (t === T.STRING || t === T.VAR_STRING || t === T.VARCHAR || t === T.BLOB || t === T.VECTOR)
    && !isEnumOrSet(e, i);
}

function readOptionalMetadata(r: ByteReader, e: TableMapEvent, mariadb: boolean): void {
  const n = e.columnTypes.length;
  const o = e.optional;
  const columns = (pred: (i: number) => boolean) => [...Array(n).keys()].filter(pred);
  // Each field costs up to one pass over the columns; the servers write each at most once, and so it must
  // be, or a few bytes per repeat would cost a pass each.
  const seen = new Set<number>();
  while (r.remaining > 0) {
    const fieldType = r.u8();
    const f = r.sub(r.packed(), 'Table_map optional metadata field');
    if (fieldType <= VECTOR_DIMENSIONALITY) {
      if (seen.has(fieldType)) throw new BinlogFormatError(`Table_map optional metadata field ${fieldType} is repeated`);
      seen.add(fieldType);
    }
    switch (fieldType) {
      case SIGNEDNESS: {
        // One bit per numeric column, most significant bit first.
        const numeric = columns((i) => isNumeric(e.columnTypes[i]!, mariadb));
        const bits = f.bytes((numeric.length + 7) >> 3);
        o.signedness = numeric.map((_, k) => ((bits[k >> 3]! >> (7 - (k & 7))) & 1) === 1);
        o.unsigned = new Array<boolean>(n).fill(false);
        numeric.forEach((c, k) => { o.unsigned![c] = o.signedness![k]!; });
        break;
      }
      case DEFAULT_CHARSET:
        fillCharsets(o.charsets ??= new Array<number>(n).fill(0), columns((i) => isCharacter(e, i)), f, true);
        break;
      case COLUMN_CHARSET:
        fillCharsets(o.charsets ??= new Array<number>(n).fill(0), columns((i) => isCharacter(e, i)), f, false);
        break;
      case ENUM_AND_SET_DEFAULT_CHARSET:
        fillCharsets(o.charsets ??= new Array<number>(n).fill(0), columns((i) => isEnumOrSet(e, i)), f, true);
        break;
      case ENUM_AND_SET_COLUMN_CHARSET:
        fillCharsets(o.charsets ??= new Array<number>(n).fill(0), columns((i) => isEnumOrSet(e, i)), f, false);
        break;
      case COLUMN_NAME: {
        const names: string[] = [];
        while (f.remaining > 0) names.push(f.str(f.packed(), 'column name'));
        o.columnNames = names;
        break;
      }
      case SET_STR_VALUE: case ENUM_STR_VALUE: {
        const lists: Buffer[][] = [];
        while (f.remaining > 0) {
          const count = f.packed();
          const values: Buffer[] = [];
          for (let k = 0; k < count; k++) values.push(Buffer.from(f.bytes(f.packed(), 'enum/set value')));
          lists.push(values);
        }
        if (fieldType === SET_STR_VALUE) o.setValues = lists;
        else o.enumValues = lists;
        break;
      }
      case GEOMETRY_TYPE:
        o.geometryTypes = packedList(f);
        break;
      case SIMPLE_PRIMARY_KEY:
        o.primaryKey = packedList(f);
        break;
      case PRIMARY_KEY_WITH_PREFIX: {
        const key: number[] = [];
        const prefixes: number[] = [];
        while (f.remaining > 0) {
          key.push(f.packed());
          prefixes.push(f.packed());
        }
        o.primaryKey = key;
        o.primaryKeyPrefixes = prefixes;
        break;
      }
      case COLUMN_VISIBILITY: {
        const bits = f.bytes((n + 7) >> 3);
        o.visible = [...Array(n).keys()].map((i) => ((bits[i >> 3]! >> (7 - (i & 7))) & 1) === 1);
        break;
      }
      case VECTOR_DIMENSIONALITY:
        o.vectorDimensions = packedList(f);
        break;
      default:
        // Newer servers add fields; each is length-prefixed, so skipping keeps the rest readable.
        break;
    }
  }
}

/** A field that is a list of length-encoded integers up to its end. */
function packedList(f: ByteReader): number[] {
  const list: number[] = [];
  while (f.remaining > 0) list.push(f.packed());
  return list;
}

/**
 * DEFAULT_CHARSET form: the default collation, then (column index among `cols`, collation) pairs for the
 * exceptions. COLUMN_CHARSET form: one collation per column of `cols`.
 */
function fillCharsets(charsets: number[], cols: number[], f: ByteReader, withDefault: boolean): void {
  if (withDefault) {
    const dflt = f.packed();
    for (const c of cols) charsets[c] = dflt;
    while (f.remaining > 0) {
      const k = f.packed();
      const collation = f.packed();
      if (cols[k] !== undefined) charsets[cols[k]!] = collation;
    }
  } else {
    for (const c of cols) if (f.remaining > 0) charsets[c] = f.packed();
  }
}
