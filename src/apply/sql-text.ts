// SQL text for the target, built as "byte strings": JS strings whose every char is one byte (latin1 mapping),
// sent by a connection whose client encoding is binary. That is what lets raw statement bytes of any character
// set, and raw string values, reach the target unchanged (DESIGN.md "Value fidelity").
import { ColumnType, INTEGER_WIDTH } from '../binlog/column-types.js';
import type { ColumnValue } from '../binlog/events.js';
import type { TargetColumn } from './table-definitions.js';

/**
 * mysql2's `queryFormat` for connections to the target: the text goes as written. mysql2 otherwise scans every
 * statement for `?` placeholders even when no values are given (a tenth of Node's time on rows with large
 * values); nothing here passes values, and values given by mistake are refused rather than ignored.
 */
export function sendAsWritten(sql: string, values: unknown): string {
  if (Array.isArray(values) ? values.length > 0 : values != null) {
    throw new Error('target queries take no placeholder values: render them with quoteString');
  }
  return sql;
}

/** A UTF-8 text (identifier, generated SQL) as a byte string. */
export function bytes(text: string): string {
  // Pure ASCII needs no conversion, and nearly all generated SQL is ASCII.
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

/**
 * The one way the applier writes a name. Backticks are doubled; the name's bytes are UTF-8, so a statement
 * holding a name that is not plain ASCII must be read by the target under utf8mb4 (the applier sees to it: see
 * Applier's parse state), where no character contains a backtick byte.
 */
export function quoteIdentifier(name: string): string {
  return '`' + bytes(name).replace(/`/g, '``') + '`';
}

export function qualifiedName(database: string, table: string): string {
  return `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
}

/**
 * The one way the applier writes a string literal: it reads the same under every client character set and
 * sql_mode a source can leave a session in. Plain printable ASCII goes quoted, a quote doubled (backslash
 * escapes would depend on NO_BACKSLASH_ESCAPES); anything else goes as a hex literal, since a byte >= 0x80 can
 * join the quote after it into one character of big5, cp932, gbk or sjis, and a backslash escapes it.
 * `introducer` (`_binary`, `_utf8mb4`) says what the bytes are.
 */
export function quoteString(value: Buffer | string, introducer = ''): string {
  const text = typeof value === 'string' ? bytes(value) : value.toString('latin1');
  if (/[^\x20-\x5b\x5d-\x7e]/.test(text)) {
    return `${introducer ? `${introducer} ` : ''}X'${Buffer.from(text, 'latin1').toString('hex')}'`;
  }
  return `${introducer}'${text.replace(/'/g, "''")}'`;
}

/**
 * Renders a decoded value as a literal for a column of `binlogType` landing in `column` of the target.
 * Integers arrive as their signed interpretation (the binlog does not say the sign); the target column's
 * definition does.
 */
export function renderValue(value: ColumnValue, binlogType: number, column: TargetColumn): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    const width = INTEGER_WIDTH[binlogType];
    if (width !== undefined && value < 0 && column.unsigned) return String(value + 2 ** (8 * width));
    if (Object.is(value, -0)) return '-0e0';
    return String(value);
  }
  if (typeof value === 'bigint') {
    if (binlogType === ColumnType.LONGLONG && value < 0n && column.unsigned) return String(value + (1n << 64n));
    return String(value);
  }
  if (typeof value === 'string') {
    if (binlogType === ColumnType.NEWDECIMAL || binlogType === ColumnType.DECIMAL) return value;
    if (binlogType === ColumnType.JSON) return quoteString(Buffer.from(value, 'utf8'), '_utf8mb4');
    return `'${value}'`;
  }
  // BIT as a number: a hex literal compares as a string in WHERE and finds nothing.
  if (binlogType === ColumnType.BIT) return value.length === 0 ? '0' : BigInt(`0x${value.toString('hex')}`).toString();
  return quoteString(value, '_binary');
}
