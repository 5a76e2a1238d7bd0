// Column metadata (from Table_map) and column values (from Rows events), one function each per type.
import type { ColumnMeta, ColumnValue } from './events.js';
import { ColumnType as T } from './column-types.js';
import { checkDecimal, decimalBinarySize, decodeDecimal } from './decimal.js';
import { jsonBinaryToText } from './json.js';
import { BinlogFormatError, type ByteReader } from './reader.js';
import {
  decodeDate, decodeDatetime2, decodeDatetimeOld, decodeTime2, decodeTimeOld, decodeTimestamp2, fracBytes,
  formatTimestamp,
} from './temporal.js';

const MAX_FSP = 6;

/** Reads one column's metadata from the Table_map metadata block. */
export function readColumnMeta(type: number, r: ByteReader): ColumnMeta {
  switch (type) {
    case T.FLOAT: case T.DOUBLE: case T.BLOB: case T.GEOMETRY: case T.JSON: case T.VECTOR:
      return { realType: type, length: r.u8() };
    case T.VARCHAR: case T.VAR_STRING:
      return { realType: type, length: r.u16() };
    case T.BIT: {
      const bits = r.u8();
      const bytes = r.u8();
      return { realType: type, length: bytes * 8 + bits };
    }
    case T.NEWDECIMAL: {
      const precision = r.u8();
      const scale = r.u8();
      checkDecimal(precision, scale);
      return { realType: type, precision, scale };
    }
    case T.STRING: case T.ENUM: case T.SET: {
      // Two bytes, first = real type. CHAR columns longer than 255 bytes borrow two bits of it (inverted) as
      // bits 8-9 of the length; a real type always has both bits set, so their absence marks the borrowing.
      const b0 = r.u8();
      const b1 = r.u8();
      if ((b0 & 0x30) !== 0x30) return { realType: b0 | 0x30, length: b1 | (((b0 & 0x30) ^ 0x30) << 4) };
      return { realType: b0, length: b1 };
    }
    case T.TIMESTAMP2: case T.DATETIME2: case T.TIME2: {
      const fsp = r.u8();
      if (fsp > MAX_FSP) throw new BinlogFormatError(`fractional seconds precision ${fsp} in Table_map metadata (at most ${MAX_FSP})`);
      return { realType: type, fsp };
    }
    default:
      return { realType: type };
  }
}

/**
 * Decodes one non-NULL column value at the reader's position and advances past it. Bytes (strings, BLOBs, BIT)
 * are views of the event's buffer, not copies: a rows event keeps its bytes anyway (decodeRows).
 */
export function readValue(type: number, meta: ColumnMeta, r: ByteReader): ColumnValue {
  const buf = r.buf;
  switch (meta.realType === T.ENUM || meta.realType === T.SET ? meta.realType : type) {
    case T.TINY: return buf.readInt8(take(r, 1));
    case T.SHORT: return buf.readInt16LE(take(r, 2));
    case T.INT24: return buf.readIntLE(take(r, 3), 3);
    case T.LONG: return buf.readInt32LE(take(r, 4));
    case T.LONGLONG: return buf.readBigInt64LE(take(r, 8));
    case T.FLOAT: return buf.readFloatLE(take(r, 4));
    case T.DOUBLE: return buf.readDoubleLE(take(r, 8));
    case T.YEAR: {
      const y = buf[take(r, 1)]!;
      return y === 0 ? 0 : 1900 + y;
    }
    case T.NEWDECIMAL: {
      const precision = meta.precision ?? 0;
      const scale = meta.scale ?? 0;
      return decodeDecimal(buf, take(r, decimalBinarySize(precision, scale)), precision, scale);
    }
    case T.DATE: case T.NEWDATE: return decodeDate(buf, take(r, 3));
    case T.TIME: return decodeTimeOld(buf, take(r, 3));
    case T.DATETIME: return decodeDatetimeOld(buf, take(r, 8));
    case T.TIMESTAMP: return formatTimestamp(buf.readUInt32LE(take(r, 4)), 0, 0);
    case T.TIMESTAMP2: {
      const fsp = meta.fsp ?? 0;
      return decodeTimestamp2(buf, take(r, 4 + fracBytes(fsp)), fsp);
    }
    case T.DATETIME2: {
      const fsp = meta.fsp ?? 0;
      return decodeDatetime2(buf, take(r, 5 + fracBytes(fsp)), fsp);
    }
    case T.TIME2: {
      const fsp = meta.fsp ?? 0;
      return decodeTime2(buf, take(r, 3 + fracBytes(fsp)), fsp);
    }
    case T.ENUM: {
      const n = meta.length ?? 1;
      if (n !== 1 && n !== 2) throw new BinlogFormatError(`ENUM pack length ${n} (expected 1 or 2)`);
      return r.uint(n);
    }
    case T.SET: {
      const n = meta.length ?? 1;
      if (n < 1 || n > 8) throw new BinlogFormatError(`SET pack length ${n} (expected 1..8)`);
      return r.ubig(n);
    }
    case T.BIT: return r.bytes(Math.ceil((meta.length ?? 0) / 8), 'BIT');
    case T.VARCHAR: case T.VAR_STRING: case T.STRING: {
      // The length prefix is 1 byte when the column's maximum byte length fits in one, else 2.
      const n = r.uint((meta.length ?? 0) > 255 ? 2 : 1);
      return r.bytes(n, 'string');
    }
    case T.BLOB: case T.GEOMETRY: case T.VECTOR: {
      const n = r.uint(lengthBytes(meta));
      // A VECTOR is float32s; other lengths would reach the target as bytes no VECTOR column takes.
      if (type === T.VECTOR && n % 4 !== 0) throw new BinlogFormatError(`VECTOR value of ${n} bytes (not whole 4-byte floats)`);
      return r.bytes(n, 'blob');
    }
    case T.JSON: {
      const n = r.uint(lengthBytes(meta));
      return jsonBinaryToText(r.bytes(n, 'JSON'));
    }
    default:
      throw new BinlogFormatError(`rows event column of unsupported type ${type}: cannot decode the row`);
  }
}

/** Bytes of the length prefix of a BLOB, GEOMETRY, JSON or VECTOR value. */
export function lengthBytes(meta: ColumnMeta): number {
  const n = meta.length ?? 0;
  if (n < 1 || n > 4) throw new BinlogFormatError(`BLOB length-prefix size ${n} (expected 1..4)`);
  return n;
}

/** Position of the next n bytes, which are consumed. */
function take(r: ByteReader, n: number): number {
  const at = r.pos;
  r.skip(n);
  return at;
}
