// How a copied row travels: each column is selected in a form the text protocol carries exactly, and its bytes
// become a literal through the applier's value path (renderValue), after a check that they are what the column's
// type allows: a source's result set is untrusted input, and a value must never become SQL except as a literal.
import { ColumnType } from '../binlog/column-types.js';
import { qualifiedName, quoteIdentifier, renderValue } from '../apply/sql-text.js';

/** A column of a copied table, as information_schema.COLUMNS describes it on the source. */
export interface CopyColumn {
  name: string;
  /** DATA_TYPE, lower case: 'int', 'varchar', 'enum' ... */
  dataType: string;
  /** CHARACTER_SET_NAME: null for columns that hold no text. */
  charset: string | null;
}

type Kind = 'integer' | 'float' | 'decimal' | 'temporal' | 'bit' | 'bytes';

const KINDS: Record<string, Kind> = {
  tinyint: 'integer', smallint: 'integer', mediumint: 'integer', int: 'integer', bigint: 'integer', year: 'integer',
  // By index and bit mask: their text cannot tell index 0 from a member spelled ''.
  enum: 'integer', set: 'integer',
  float: 'float', double: 'float',
  decimal: 'decimal',
  date: 'temporal', time: 'temporal', datetime: 'temporal', timestamp: 'temporal',
  bit: 'bit',
};

function kind(column: CopyColumn): Kind {
  return KINDS[column.dataType] ?? 'bytes';
}

const INTEGER = /^-?\d{1,20}$/;
const FLOAT = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d{1,3})?$/i;
const DECIMAL = /^-?\d{1,66}(?:\.\d{1,38})?$/;
// Dates, times (negative and past 24 hours too) and datetimes with fractions, zero dates included.
const TEMPORAL = /^-?\d{1,4}(?:-\d\d-\d\d)?(?: ?\d{1,3}:\d\d:\d\d)?(?:\.\d{1,6})?$|^-?\d{1,3}:\d\d:\d\d(?:\.\d{1,6})?$/;

/**
 * The select-list expression that reads `column` exactly: FLOAT widened to DOUBLE (its text keeps 6 digits only,
 * a DOUBLE's text round-trips), ENUM and SET as numbers.
 */
export function selectExpression(column: CopyColumn): string {
  const name = quoteIdentifier(column.name);
  if (column.dataType === 'float') return `CAST(${name} AS DOUBLE)`;
  if (column.dataType === 'enum' || column.dataType === 'set') return `${name} + 0`;
  return name;
}

export class SourceValueError extends Error {}

function checked(text: string, pattern: RegExp, column: CopyColumn): string {
  if (!pattern.test(text)) {
    throw new SourceValueError(`the source sent ${JSON.stringify(text.slice(0, 40))} for column '${column.name}' of ` +
      `type ${column.dataType}, which is not a value of that type`);
  }
  return text;
}

/** The literal of one value as the source sent it (bytes of the text protocol under character_set_results=binary). */
export function valueLiteral(raw: Buffer | null, column: CopyColumn): string {
  if (raw === null) return 'NULL';
  const any = { unsigned: false } as Parameters<typeof renderValue>[2];
  switch (kind(column)) {
    case 'integer': return renderValue(BigInt(checked(raw.toString('latin1'), INTEGER, column)), ColumnType.LONGLONG, any);
    case 'float': return renderValue(Number(checked(raw.toString('latin1'), FLOAT, column)), ColumnType.DOUBLE, any);
    case 'decimal': return renderValue(checked(raw.toString('latin1'), DECIMAL, column), ColumnType.NEWDECIMAL, any);
    case 'temporal': return renderValue(checked(raw.toString('latin1'), TEMPORAL, column), ColumnType.DATETIME2, any);
    case 'bit': return renderValue(raw, ColumnType.BIT, any);
    case 'bytes': return renderValue(raw, ColumnType.BLOB, any);
  }
}

/** The SELECT that streams a table's rows in key order (in no order without a key). */
export function selectRows(db: string, table: string, columns: CopyColumn[], key: CopyColumn[]): string {
  const order = key.length ? ` ORDER BY ${key.map((c) => quoteIdentifier(c.name)).join(', ')}` : '';
  return `SELECT ${columns.map(selectExpression).join(', ')} FROM ${qualifiedName(db, table)}${order}`;
}

/** `INSERT INTO t (cols) VALUES ` for the target table. */
export function insertHead(db: string, table: string, columns: CopyColumn[]): string {
  return `INSERT INTO ${qualifiedName(db, table)} (${columns.map((c) => quoteIdentifier(c.name)).join(', ')}) VALUES `;
}

export function rowLiteral(row: (Buffer | null)[], columns: CopyColumn[]): string {
  return `(${row.map((value, i) => valueLiteral(value, columns[i]!)).join(',')})`;
}

/** Each value of a key as people read it, for the log and verifyChannel's differences: text as text, bytes as hex. */
export function keyText(values: (Buffer | null)[], key: CopyColumn[]): (string | null)[] {
  return values.map((v, i) => v === null ? null
    : kind(key[i]!) === 'bytes' && (key[i]!.charset === null || key[i]!.charset === 'binary') ? `0x${v.toString('hex')}`
      : v.toString(key[i]!.charset === 'latin1' ? 'latin1' : 'utf8'));
}

/** The SELECT of the rows `where` accepts, in key order: a continued copy's rest, or a chunk it replaces. */
export function selectRowsWhere(db: string, table: string, columns: CopyColumn[], key: CopyColumn[], where: string): string {
  return `SELECT ${columns.map(selectExpression).join(', ')} FROM ${qualifiedName(db, table)} WHERE ${where} ` +
    `ORDER BY ${key.map((c) => quoteIdentifier(c.name)).join(', ')}`;
}
