// The payloads of the server side of the MySQL protocol that the admin endpoint sends: OK, ERR (with its
// SQLSTATE, which mysql2's own writer leaves blank), EOF, column definitions and text rows. Pure.
import { sqlStateOf } from '../errors.js';
import type { ColumnKind } from './results.js';

export const SERVER_STATUS_AUTOCOMMIT = 0x0002;
export const SERVER_MORE_RESULTS_EXISTS = 0x0008;

const UTF8MB4_GENERAL_CI = 45;
const BINARY = 63;
const NOT_NULL = 0x1;
const UNSIGNED = 0x20;
const BINARY_FLAG = 0x80;
/** The decimals a server declares for a string column: 39, "not fixed". */
const NOT_FIXED_DECIMALS = 39;

const TYPES: Record<ColumnKind, { type: number; length: number; decimals: number }> = {
  string: { type: 253, length: 2048, decimals: NOT_FIXED_DECIMALS },
  int: { type: 3, length: 10, decimals: 0 },
  bigint: { type: 8, length: 21, decimals: 0 },
  double: { type: 5, length: 10, decimals: 3 },
};

const MAX_PACKET_PAYLOAD = 0xffffff;

/**
 * A payload as the protocol sends it, packets of at most 0xFFFFFF bytes (the last one shorter), numbered from
 * `seq`; the next sequence number.
 */
export function framed(payload: Buffer, seq: number): { bytes: Buffer; next: number } {
  const parts: Buffer[] = [];
  for (let at = 0; ; at += MAX_PACKET_PAYLOAD) {
    const part = payload.subarray(at, at + MAX_PACKET_PAYLOAD);
    const header = Buffer.alloc(4);
    header.writeUIntLE(part.length, 0, 3);
    header[3] = seq;
    seq = (seq + 1) % 256;
    parts.push(header, part);
    if (part.length < MAX_PACKET_PAYLOAD) return { bytes: Buffer.concat(parts), next: seq };
  }
}

export function lengthEncodedInteger(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.from([0xfc, n & 0xff, n >> 8]);
  if (n < 0x1000000) return Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

export function lengthEncodedString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([lengthEncodedInteger(bytes.length), bytes]);
}

export function okPacket(fields: { affectedRows?: number; insertId?: number; status?: number; warnings?: number; info?: string } = {}): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16LE(fields.status ?? SERVER_STATUS_AUTOCOMMIT, 0);
  tail.writeUInt16LE(fields.warnings ?? 0, 2);
  // The servers send the info text ("Records: 2  Duplicates: 0 ...") length-encoded, and clients read it so.
  const info = fields.info ? lengthEncodedString(fields.info) : Buffer.alloc(0);
  return Buffer.concat([Buffer.from([0]), lengthEncodedInteger(fields.affectedRows ?? 0),
    lengthEncodedInteger(fields.insertId ?? 0), tail, info]);
}

export function errorPacket(errno: number, message: string, sqlState = sqlStateOf(errno)): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(errno, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}`, 'latin1'), Buffer.from(message, 'utf8')]);
}

export function eofPacket(status = SERVER_STATUS_AUTOCOMMIT, warnings = 0): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0xfe;
  b.writeUInt16LE(warnings, 1);
  b.writeUInt16LE(status, 3);
  return b;
}

export interface ColumnDefinition {
  schema?: string;
  table?: string;
  orgTable?: string;
  name: string;
  orgName?: string;
  characterSet: number;
  columnLength: number;
  columnType: number;
  flags: number;
  decimals: number;
}

export function columnDefinitionPacket(c: ColumnDefinition): Buffer {
  const tail = Buffer.alloc(13);
  tail[0] = 0x0c;
  tail.writeUInt16LE(c.characterSet, 1);
  tail.writeUInt32LE(c.columnLength >>> 0, 3);
  tail[7] = c.columnType;
  tail.writeUInt16LE(c.flags, 8);
  tail[10] = c.decimals;
  return Buffer.concat([lengthEncodedString('def'), lengthEncodedString(c.schema ?? ''), lengthEncodedString(c.table ?? ''),
    lengthEncodedString(c.orgTable ?? ''), lengthEncodedString(c.name), lengthEncodedString(c.orgName ?? ''), tail]);
}

/** The definition a server gives a column of `kind` in a SHOW statement's result. */
export function columnOfKind(name: string, kind: ColumnKind): ColumnDefinition {
  const t = TYPES[kind];
  const text = kind === 'string';
  return {
    name, characterSet: text ? UTF8MB4_GENERAL_CI : BINARY, columnLength: t.length, columnType: t.type,
    flags: text ? NOT_NULL : NOT_NULL | UNSIGNED | BINARY_FLAG, decimals: t.decimals,
  };
}

export function textRowPacket(values: (Buffer | string | null)[]): Buffer {
  return Buffer.concat(values.map((v) => (v === null ? Buffer.from([0xfb]) : lengthEncodedString(v))));
}
