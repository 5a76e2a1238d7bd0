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
    case 'integer': return renderValue(BigInt(checkedText(raw, column)), ColumnType.LONGLONG, any);
    case 'float': return renderValue(Number(checkedText(raw, column)), ColumnType.DOUBLE, any);
    case 'decimal': return renderValue(checkedText(raw, column), ColumnType.NEWDECIMAL, any);
    case 'temporal': return renderValue(checkedText(raw, column), ColumnType.DATETIME2, any);
    case 'bit': return renderValue(raw, ColumnType.BIT, any);
    case 'bytes': return renderValue(raw, ColumnType.BLOB, any);
  }
}

const PATTERNS: Record<Exclude<Kind, 'bit' | 'bytes'>, RegExp> = { integer: INTEGER, float: FLOAT, decimal: DECIMAL, temporal: TEMPORAL };

/** The text of a number or temporal value, once it is known to be one of its type. */
function checkedText(raw: Buffer, column: CopyColumn): string {
  return checked(raw.toString('latin1'), PATTERNS[kind(column) as keyof typeof PATTERNS], column);
}

// LOAD DATA LOCAL INFILE, the faster transport (ARCHITECTURE.md, "Provisioning"): a chunk's rows as one
// tab-separated text under CHARACTER SET binary, so each field's bytes reach the column unconverted, as a _binary
// literal's would. A column whose text LOAD DATA would read differently from a literal goes through a user variable
// and CAST: ENUM and SET by index (their text would be looked up as a member's name first), BIT by value (its text
// would be stored as bytes), YEAR as a number (the text '0' is the year 2000, the number 0 the year 0000).
const VIA_NUMBER = new Set(['enum', 'set', 'bit', 'year']);

/** `LOAD DATA LOCAL INFILE` into the target table, reading the fields loadDataRow writes. */
export function loadDataStatement(db: string, table: string, columns: CopyColumn[]): string {
  const fields = columns.map((c, i) => VIA_NUMBER.has(c.dataType) ? `@v${i}` : quoteIdentifier(c.name));
  const set = columns.flatMap((c, i) => VIA_NUMBER.has(c.dataType) ? [`${quoteIdentifier(c.name)} = CAST(@v${i} AS UNSIGNED)`] : []);
  return `LOAD DATA LOCAL INFILE 'rows' INTO TABLE ${qualifiedName(db, table)} CHARACTER SET binary ` +
    "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' " +
    `(${fields.join(', ')})${set.length ? ` SET ${set.join(', ')}` : ''}`;
}

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
/** `\N`: LOAD DATA's NULL. */
const NULL_FIELD = Buffer.from('\\N', 'latin1');
// The bytes that would end a field or a line, or start an escape; NUL and CR escaped too, so that no tool
// that reads lines or C strings could misread the text. Each becomes LOAD DATA's escape for it.
const ESCAPES = new Uint8Array(256);
for (const [byte, escape] of [[0x00, 0x30], [TAB, 0x74], [NEWLINE, 0x6e], [0x0d, 0x72], [BACKSLASH, BACKSLASH]]) ESCAPES[byte!] = escape!;

/** `bytes` in LOAD DATA's escaped form (ESCAPED BY '\\'). */
export function escapeLoadData(bytes: Buffer): Buffer {
  let specials = 0;
  for (let i = 0; i < bytes.length; i++) if (ESCAPES[bytes[i]!]) specials++;
  if (!specials) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + specials);
  let at = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const escape = ESCAPES[b]!;
    if (escape) out[at++] = BACKSLASH;
    out[at++] = escape || b;
  }
  return out;
}

/** One row as a line of loadDataStatement's input: each value checked against its type as valueLiteral checks it. */
export function loadDataRow(row: (Buffer | null)[], columns: CopyColumn[]): Buffer {
  const parts: Buffer[] = [];
  row.forEach((raw, i) => {
    if (i) parts.push(SEPARATOR);
    const column = columns[i]!;
    if (raw === null) parts.push(NULL_FIELD);
    else if (kind(column) === 'bytes') parts.push(escapeLoadData(raw));
    else if (kind(column) === 'bit') parts.push(Buffer.from(valueLiteral(raw, column), 'latin1'));
    else parts.push(Buffer.from(checkedText(raw, column), 'latin1'));
  });
  parts.push(END_OF_LINE);
  return Buffer.concat(parts);
}

const SEPARATOR = Buffer.from([TAB]);
const END_OF_LINE = Buffer.from([NEWLINE]);

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
