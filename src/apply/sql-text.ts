// SQL text for the target, built as "byte strings": JS strings whose every char is one byte (latin1 mapping),
// sent by a connection whose client encoding is binary. That is what lets raw statement bytes of any character
// set, and raw string values, reach the target unchanged (DESIGN.md "Value fidelity").
import { ColumnType } from '../binlog/column-types.js';
import type { ColumnValue } from '../binlog/events.js';
import type { TargetColumn } from './table-definitions.js';

/** Bytes of an integer column type, for reading a signed value back as unsigned. */
const INTEGER_WIDTH: Record<number, number> = {
  [ColumnType.TINY]: 1, [ColumnType.SHORT]: 2, [ColumnType.INT24]: 3, [ColumnType.LONG]: 4, [ColumnType.LONGLONG]: 8,
};

/** A UTF-8 text (identifier, generated SQL) as a byte string. */
export function bytes(text: string): string {
  // Pure ASCII needs no conversion, and nearly all generated SQL is ASCII.
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

export function quoteIdentifier(name: string): string {
  return '`' + bytes(name).replace(/`/g, '``') + '`';
}

export function qualifiedName(database: string, table: string): string {
  return `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
}

const ESCAPES: Record<string, string> = { '\0': '\\0', "'": "\\'", '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\x1a': '\\Z' };

/**
 * A literal of raw bytes. Bytes >= 0x80 go as a hex literal: a quoted literal would be tokenized in the
 * session's client character set, where a multi-byte lead byte could swallow the byte after it. Quoted ASCII
 * needs a session without NO_BACKSLASH_ESCAPES.
 */
export function byteLiteral(value: Buffer, introducer = '_binary'): string {
  const text = value.toString('latin1');
  if (/[\x80-\xff]/.test(text)) return `${introducer} X'${value.toString('hex')}'`;
  return `${introducer}'${text.replace(/[\0'\\\n\r\x1a]/g, (c) => ESCAPES[c]!)}'`;
}

function textLiteral(value: string): string {
  return byteLiteral(Buffer.from(value, 'utf8'), '_utf8mb4');
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
    if (binlogType === ColumnType.JSON) return textLiteral(value);
    return `'${value}'`;
  }
  // BIT as a number: a hex literal compares as a string in WHERE and finds nothing.
  if (binlogType === ColumnType.BIT) return value.length === 0 ? '0' : BigInt(`0x${value.toString('hex')}`).toString();
  return byteLiteral(value);
}
