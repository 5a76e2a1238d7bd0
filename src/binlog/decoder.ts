// The binlog decoder: one raw event (exactly as in a binlog or relay log file) in, one decoded event out.
// It keeps the state later events depend on: the last Format_description and the Table_maps by table id.
import {
  EVENT_HEADER_LENGTH, EventType, LOG_EVENT_BINLOG_IN_USE_F, STMT_END_F, type BinlogEvent, type DecodedEvent, type EventHeader, type FormatDescriptionEvent,
  type TableMapEvent,
} from './events.js';
import { BinlogChecksumError, CRC32_RESIDUE, crc32 } from './checksum.js';
import { zstdDecompress } from './compression.js';
import {
  decodeFormatDescription, decodeGtidList, decodeHeartbeatV2, decodeIntvar, decodeMariadbGtid, decodeMysqlGtid,
  decodePreviousGtids, decodeRotate, decodeTaggedGtid, decodeUserVar, fdeServerVersion, isChecksumAware,
} from './control.js';
import { decodeExecuteLoadQuery, decodeQuery } from './query.js';
import { BinlogFormatError, ByteReader } from './reader.js';
import { decodeRows, type RowsLayout } from './rows.js';
import { decodeTableMap } from './table-map.js';
import { MARIADB_POST_HEADER_LENGTHS } from './encode.js';

export { BinlogChecksumError, crc32 } from './checksum.js';
export { ColumnType } from './column-types.js';
export { encodeFormatDescription, encodeRotate } from './encode.js';
export { jsonBinaryToText } from './json.js';
export { BinlogFormatError } from './reader.js';
export { MissingTableMapError } from './rows.js';

export function decodeHeader(buf: Buffer, offset = 0): EventHeader {
  if (buf.length < offset + EVENT_HEADER_LENGTH) {
    throw new BinlogFormatError(`event header needs ${EVENT_HEADER_LENGTH} bytes, ${buf.length - offset} available`);
  }
  return {
    timestamp: buf.readUInt32LE(offset),
    typeCode: buf[offset + 4]!,
    serverId: buf.readUInt32LE(offset + 5),
    eventLength: buf.readUInt32LE(offset + 9),
    logPos: buf.readUInt32LE(offset + 13),
    flags: buf.readUInt16LE(offset + 17),
  };
}

/** Whether a type code is one of the rows events (every version, compressed or not, partial JSON updates). */
export function isRowsEventType(typeCode: number): boolean {
  return ROWS_LAYOUTS[typeCode] !== undefined;
}

const ROWS_LAYOUTS: Record<number, RowsLayout> = {
  [EventType.WRITE_ROWS_V1]: { kind: 'write', v2: false, compressed: false },
  [EventType.UPDATE_ROWS_V1]: { kind: 'update', v2: false, compressed: false },
  [EventType.DELETE_ROWS_V1]: { kind: 'delete', v2: false, compressed: false },
  [EventType.WRITE_ROWS]: { kind: 'write', v2: true, compressed: false },
  [EventType.UPDATE_ROWS]: { kind: 'update', v2: true, compressed: false },
  [EventType.DELETE_ROWS]: { kind: 'delete', v2: true, compressed: false },
  [EventType.PARTIAL_UPDATE_ROWS]: { kind: 'update', v2: true, compressed: false, valueOptions: true },
  [EventType.MARIA_WRITE_ROWS_COMPRESSED_V1]: { kind: 'write', v2: false, compressed: true },
  [EventType.MARIA_UPDATE_ROWS_COMPRESSED_V1]: { kind: 'update', v2: false, compressed: true },
  [EventType.MARIA_DELETE_ROWS_COMPRESSED_V1]: { kind: 'delete', v2: false, compressed: true },
  [EventType.MARIA_WRITE_ROWS_COMPRESSED]: { kind: 'write', v2: true, compressed: true },
  [EventType.MARIA_UPDATE_ROWS_COMPRESSED]: { kind: 'update', v2: true, compressed: true },
  [EventType.MARIA_DELETE_ROWS_COMPRESSED]: { kind: 'delete', v2: true, compressed: true },
};

const SIMPLE: Partial<Record<number, BinlogEvent['type']>> = {
  [EventType.INCIDENT]: 'incident',
  [EventType.XA_PREPARE]: 'xa_prepare',
  [EventType.MARIA_START_ENCRYPTION]: 'start_encryption',
};

/** Table_maps kept decoded: more tables than a transaction usually touches, few enough to stay small. */
const TABLE_MAP_CACHE_SIZE = 256;
// Header, binlog version, server version, create timestamp, header length: what precedes the post-header table.
const FORMAT_DESCRIPTION_MIN_LENGTH = EVENT_HEADER_LENGTH + 2 + 50 + 4 + 1;
const EVENT_TYPE_NAMES = new Map<number, string>(Object.entries(EventType).map(([name, code]) => [code, name]));

/** Any failure while decoding `raw` as the typed error callers handle, named after the event type. */
function decodeFailure(err: unknown, raw: Buffer): Error {
  if (err instanceof BinlogChecksumError) return err;
  const typeCode = raw.length > 4 ? raw[4]! : -1;
  const what = `${EVENT_TYPE_NAMES.get(typeCode) ?? `type ${typeCode}`} event`;
  if (err instanceof BinlogFormatError) {
    err.message = `${what}: ${err.message}`;
    return err;
  }
  return new BinlogFormatError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export interface DecodeOptions {
  /**
   * false: the event carries no CRC whatever the format says. The events inside a TRANSACTION_PAYLOAD are
   * stored that way (the payload event's own CRC covers them).
   */
  checksum?: boolean;
}

export class BinlogDecoder {
  #format: FormatDescriptionEvent | undefined;
  readonly #tableMaps = new Map<bigint, TableMapEvent>();
  /**
   * The last Table_map decoded for each table id, with its body: every transaction maps its tables again, and
   * comparing the bytes costs less than decoding them again (a 100-column map's metadata, names, charsets).
   */
  readonly #tableMapCache = new Map<number, { body: Buffer; event: TableMapEvent }>();

  /** The last Format_description decoded (it governs checksums and post-header sizes of what follows). */
  get format(): FormatDescriptionEvent | undefined {
    return this.#format;
  }

  /**
   * Throws BinlogChecksumError for a CRC mismatch and BinlogFormatError for anything else that is wrong with
   * the bytes: every count and length in an event is checked against the bytes present, and any other failure
   * is turned into a BinlogFormatError here, so that a corrupt or hostile event never surfaces as a bare
   * RangeError or TypeError.
   */
  decode(raw: Buffer, options: DecodeOptions = {}): DecodedEvent {
    try {
      return this.#decode(raw, options);
    } catch (err) {
      throw decodeFailure(err, raw);
    }
  }

  #decode(raw: Buffer, options: DecodeOptions): DecodedEvent {
    const header = decodeHeader(raw);
    if (header.eventLength !== raw.length) {
      throw new BinlogFormatError(`event length ${header.eventLength} in the header, ${raw.length} bytes given`);
    }
    if (header.typeCode === EventType.FORMAT_DESCRIPTION) return this.#formatDescription(raw, header);

    const end = raw.length - (this.#hasChecksum(raw, options) ? 4 : 0);
    // The CRC of bytes followed by their own CRC is a constant: no view of the bytes before the checksum.
    if (end < raw.length && crc32(raw) !== CRC32_RESIDUE) {
      throw new BinlogChecksumError(raw.readUInt32LE(end), crc32(raw.subarray(0, end)), header.typeCode);
    }
    const r = new ByteReader(raw, EVENT_HEADER_LENGTH, end);
    return { header, event: this.#body(header, r) };
  }

  /**
   * With a known format, its algorithm decides. Before any Format_description (a dump begins with an
   * artificial Rotate sent before it) the CRC is recognised by matching: a false match has odds of 2^-32.
   */
  #hasChecksum(raw: Buffer, options: DecodeOptions): boolean {
    if (options.checksum === false) return false;
    if (this.#format) return this.#format.checksumAlg === 1;
    return raw.length >= EVENT_HEADER_LENGTH + 4
      && crc32(raw.subarray(0, raw.length - 4)) === raw.readUInt32LE(raw.length - 4);
  }

  #formatDescription(raw: Buffer, header: EventHeader): DecodedEvent {
    if (raw.length < FORMAT_DESCRIPTION_MIN_LENGTH) {
      throw new BinlogFormatError(`Format_description of ${raw.length} bytes, at least ${FORMAT_DESCRIPTION_MIN_LENGTH} expected`);
    }
    if (isChecksumAware(fdeServerVersion(raw)) && raw[raw.length - 5] === 1) {
      const expected = raw.readUInt32LE(raw.length - 4);
      // The server sets LOG_EVENT_BINLOG_IN_USE_F in the file it is writing and clears it in place at close,
      // so the CRC is computed as if the flag were clear.
      const signed = Buffer.from(raw.subarray(0, raw.length - 4));
      signed.writeUInt16LE(header.flags & ~LOG_EVENT_BINLOG_IN_USE_F, 17);
      const actual = crc32(signed);
      if (expected !== actual) throw new BinlogChecksumError(expected, actual, header.typeCode);
    }
    const event = decodeFormatDescription(raw);
    this.#format = event;
    this.#tableMapCache.clear();
    return { header, event };
  }

  #postHeaderLength(typeCode: number): number {
    const table = this.#format?.postHeaderLengths ?? MARIADB_POST_HEADER_LENGTHS;
    return table[typeCode - 1] ?? 0;
  }

  #tableMap(r: ByteReader, postHeader: number): TableMapEvent {
    const tableIdSize = postHeader === 6 ? 4 : 6;
    r.need(tableIdSize, 'table id');
    const tableId = r.buf.readUIntLE(r.pos, tableIdSize);
    const body = r.buf.subarray(r.pos, r.end);
    const cached = this.#tableMapCache.get(tableId);
    if (cached?.body.equals(body)) return cached.event;
    const mariadb = this.#format?.serverVersion.includes('MariaDB') ?? true;
    const event = decodeTableMap(r, tableIdSize, postHeader, mariadb);
    // Table ids grow with every table opened anew on the source: the cache keeps the recent ones.
    if (this.#tableMapCache.size >= TABLE_MAP_CACHE_SIZE) this.#tableMapCache.clear();
    this.#tableMapCache.set(tableId, { body: Buffer.from(body), event });
    return event;
  }

  #body(header: EventHeader, r: ByteReader): BinlogEvent {
    const type = header.typeCode;
    const postHeader = this.#postHeaderLength(type);
    const rowsLayout = ROWS_LAYOUTS[type];
    if (rowsLayout) {
      const event = decodeRows(r, rowsLayout, postHeader === 6 ? 4 : 6, postHeader, this.#tableMaps);
      // Table ids are only meaningful within a statement; dropping them there bounds the map.
      if (event.flags & STMT_END_F) this.#tableMaps.clear();
      return event;
    }
    switch (type) {
      case EventType.QUERY:
        return decodeQuery(r, postHeader, false);
      case EventType.MARIA_QUERY_COMPRESSED:
        return decodeQuery(r, postHeader, true);
      case EventType.EXECUTE_LOAD_QUERY:
        return decodeExecuteLoadQuery(r, postHeader);
      case EventType.BEGIN_LOAD_QUERY:
      case EventType.APPEND_BLOCK: {
        const fileId = r.u32();
        r.skip(postHeader - 4);
        return { type: type === EventType.APPEND_BLOCK ? 'append_block' : 'begin_load_query', fileId, data: Buffer.from(r.rest()) };
      }
      case EventType.DELETE_FILE:
        return { type: 'delete_file', fileId: r.u32() };
      case EventType.LOAD:
      case EventType.CREATE_FILE:
      case EventType.EXEC_LOAD:
      case EventType.NEW_LOAD:
        return { type: 'legacy_load', typeCode: type };
      case EventType.TABLE_MAP: {
        const event = this.#tableMap(r, postHeader);
        this.#tableMaps.set(event.tableId, event);
        return event;
      }
      case EventType.ROTATE:
        return decodeRotate(r, postHeader);
      case EventType.XID:
        return { type: 'xid', xid: r.u64() };
      case EventType.STOP:
        return { type: 'stop' };
      case EventType.INTVAR:
        return decodeIntvar(r);
      case EventType.RAND:
        return { type: 'rand', seed1: r.u64(), seed2: r.u64() };
      case EventType.USER_VAR:
        return decodeUserVar(r);
      case EventType.HEARTBEAT:
        return { type: 'heartbeat', logFile: r.rest().toString('utf8') };
      case EventType.HEARTBEAT_V2:
        return decodeHeartbeatV2(r);
      case EventType.GTID:
        return decodeMysqlGtid(r, false);
      case EventType.ANONYMOUS_GTID:
        return decodeMysqlGtid(r, true);
      case EventType.GTID_TAGGED:
        return decodeTaggedGtid(r);
      case EventType.PREVIOUS_GTIDS:
        return decodePreviousGtids(r);
      case EventType.MARIA_GTID:
        return decodeMariadbGtid(r, header.serverId);
      case EventType.MARIA_GTID_LIST:
        return decodeGtidList(r);
      case EventType.MARIA_BINLOG_CHECKPOINT:
        return { type: 'binlog_checkpoint', logFile: r.str(r.u32(), 'binlog file name') };
      // Views of the event's bytes, as a rows event's values are: a group holds them beside its rows events.
      case EventType.MARIA_ANNOTATE_ROWS:
        return { type: 'annotate_rows', sql: r.rest() };
      case EventType.ROWS_QUERY:
        // A length byte (truncated at 255, so unreliable) precedes the statement, which runs to the end.
        r.skip(1);
        return { type: 'rows_query', sql: r.rest() };
      case EventType.TRANSACTION_PAYLOAD:
        return decodeTransactionPayload(r);
      default: {
        const simple = SIMPLE[type];
        if (simple) return { type: simple } as BinlogEvent;
        return { type: 'unknown', typeCode: type };
      }
    }
  }
}

// TRANSACTION_PAYLOAD fields: type and length as length-encoded integers, then the value.
const OTW_PAYLOAD_HEADER_END_MARK = 0;
const OTW_PAYLOAD_SIZE_FIELD = 1;
const OTW_PAYLOAD_COMPRESSION_TYPE_FIELD = 2;
const OTW_PAYLOAD_UNCOMPRESSED_SIZE_FIELD = 3;
const COMPRESSION_ZSTD = 0;
const COMPRESSION_NONE = 255;

/**
 * MySQL 8.0.20+ binlog_transaction_compression: the whole transaction's events (without their own CRCs)
 * compressed into one event. Returns the inner raw events; decode them with `{ checksum: false }`.
 */
function decodeTransactionPayload(r: ByteReader): BinlogEvent {
  let size = -1;
  let compression = COMPRESSION_NONE;
  let uncompressedSize = -1;
  while (r.remaining > 0) {
    const field = r.packed();
    if (field === OTW_PAYLOAD_HEADER_END_MARK) break;
    const value = r.sub(r.packed(), 'transaction payload field');
    if (field === OTW_PAYLOAD_SIZE_FIELD) size = value.packed();
    else if (field === OTW_PAYLOAD_COMPRESSION_TYPE_FIELD) compression = value.packed();
    else if (field === OTW_PAYLOAD_UNCOMPRESSED_SIZE_FIELD) uncompressedSize = value.packed();
  }
  const payload = r.bytes(size >= 0 ? size : r.remaining, 'transaction payload');
  let data: Buffer;
  if (compression === COMPRESSION_NONE) {
    data = Buffer.from(payload);
  } else if (compression === COMPRESSION_ZSTD) {
    if (uncompressedSize < 0) throw new BinlogFormatError('compressed transaction payload without its uncompressed size');
    // Decompression stops at the declared size: a small payload cannot make us hold more than it says.
    try {
      data = zstdDecompress(Buffer.from(payload), uncompressedSize);
    } catch (err) {
      throw new BinlogFormatError(`transaction payload does not decompress to the ${uncompressedSize} bytes it declares: `
        + (err as Error).message);
    }
  } else {
    throw new BinlogFormatError(`unknown transaction payload compression type ${compression}`);
  }
  if (uncompressedSize >= 0 && data.length !== uncompressedSize) {
    throw new BinlogFormatError(`transaction payload is ${data.length} bytes uncompressed, header says ${uncompressedSize}`);
  }
  const events: Buffer[] = [];
  for (let pos = 0; pos < data.length;) {
    const length = decodeHeader(data, pos).eventLength;
    if (length < EVENT_HEADER_LENGTH || pos + length > data.length) {
      throw new BinlogFormatError(`transaction payload holds a cut event at offset ${pos}`);
    }
    events.push(data.subarray(pos, pos + length));
    pos += length;
  }
  return { type: 'transaction_payload', events };
}
