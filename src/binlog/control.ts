// Events other than Query, Table_map and Rows: format, positions, GTIDs, session context.
import type { BinlogEvent, FormatDescriptionEvent } from './events.js';
import { decodeDecimal } from './decimal.js';
import { BinlogFormatError, ByteReader } from './reader.js';

/**
 * Servers from MySQL 5.6.1 and MariaDB 5.3 end every Format_description with a checksum-algorithm byte and
 * a CRC32, whatever binlog_checksum says; older servers have neither.
 */
export function isChecksumAware(serverVersion: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(serverVersion);
  if (!m) return false;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
  const min = serverVersion.includes('MariaDB') ? [5, 3, 0] : [5, 6, 1];
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
}

/** Server version of a raw Format_description event (header included). */
export function fdeServerVersion(raw: Buffer, headerLength = 19): string {
  const v = raw.subarray(headerLength + 2, Math.min(raw.length, headerLength + 52));
  const nul = v.indexOf(0);
  return v.subarray(0, nul < 0 ? v.length : nul).toString('latin1');
}

/** `raw` is the whole event; its CRC (if any) is accounted for by the checksum-alg logic here. */
export function decodeFormatDescription(raw: Buffer): FormatDescriptionEvent {
  const r = new ByteReader(raw, 19);
  const binlogVersion = r.u16();
  const serverVersion = fdeServerVersion(raw);
  r.skip(50);
  const createTimestamp = r.u32();
  const headerLength = r.u8();
  const aware = isChecksumAware(serverVersion);
  const tableEnd = raw.length - (aware ? 5 : 0);
  if (tableEnd < r.pos) throw new BinlogFormatError('Format_description event too short');
  const postHeaderLengths = Buffer.from(raw.subarray(r.pos, tableEnd));
  const checksumAlg = aware ? raw[tableEnd]! : 0;
  return {
    type: 'format_description', binlogVersion, serverVersion, createTimestamp, headerLength, postHeaderLengths,
    checksumAlg: checksumAlg === 1 ? 1 : 0,
  };
}

export function decodeRotate(r: ByteReader, postHeaderLength: number): BinlogEvent {
  const position = postHeaderLength >= 8 ? r.u64() : 4n;
  r.skip(Math.max(0, postHeaderLength - 8));
  return { type: 'rotate', position, nextFile: r.rest().toString('utf8') };
}

export function decodeIntvar(r: ByteReader): BinlogEvent {
  const code = r.u8();
  const kind = code === 1 ? 'last_insert_id' : code === 2 ? 'insert_id' : code;
  return { type: 'intvar', kind, value: r.u64() };
}

const STRING_RESULT = 0;
const REAL_RESULT = 1;
const INT_RESULT = 2;
const DECIMAL_RESULT = 4;
const UNSIGNED_F = 1;

export function decodeUserVar(r: ByteReader): BinlogEvent {
  const name = r.str(r.u32(), 'user variable name');
  const isNull = r.u8() !== 0;
  if (isNull) {
    return {
      type: 'user_var', name, isNull, valueType: STRING_RESULT, charset: 0, value: Buffer.alloc(0), decoded: null,
      unsigned: false,
    };
  }
  const valueType = r.u8();
  const charset = r.u32();
  const value = Buffer.from(r.bytes(r.u32(), 'user variable value'));
  const flags = r.remaining > 0 ? r.u8() : 0;
  const unsigned = (flags & UNSIGNED_F) !== 0;
  let decoded: Buffer | number | bigint | string;
  const size = (n: number) => {
    if (value.length < n) throw new BinlogFormatError(`user variable @${name}: ${value.length}-byte value, ${n} expected`);
  };
  switch (valueType) {
    case REAL_RESULT:
      size(8);
      decoded = value.readDoubleLE(0);
      break;
    case INT_RESULT:
      size(8);
      decoded = unsigned ? value.readBigUInt64LE(0) : value.readBigInt64LE(0);
      break;
    case DECIMAL_RESULT:
      // Precision and scale bytes, then the binary decimal.
      size(2);
      decoded = decodeDecimal(value, 2, value[0]!, value[1]!);
      break;
    default:
      decoded = value;
  }
  return { type: 'user_var', name, isNull, valueType, charset, value, decoded, unsigned };
}

function uuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const LOGICAL_TIMESTAMP_TYPECODE = 2;
const HIGH_BIT_56 = 1n << 55n;
const HIGH_BIT_32 = 0x80000000;

/** MySQL GTID / Anonymous_GTID; later fields exist only from the server versions that added them. */
export function decodeMysqlGtid(r: ByteReader, anonymous: boolean): BinlogEvent {
  const flags = r.u8();
  const sid = uuid(r.bytes(16, 'GTID sid'));
  const gno = r.i64();
  const e: Extract<BinlogEvent, { type: 'gtid'; flavor: 'mysql' }> = {
    type: 'gtid', flavor: 'mysql', anonymous, uuid: sid, gno, commitFlag: (flags & 1) !== 0,
  };
  if (r.remaining >= 17 && r.buf[r.pos] === LOGICAL_TIMESTAMP_TYPECODE) {
    r.skip(1);
    e.lastCommitted = r.i64();
    e.sequenceNumber = r.i64();
  }
  if (r.remaining >= 7) {
    const immediate = r.ubig(7);
    e.immediateCommitTimestamp = immediate & ~HIGH_BIT_56;
    e.originalCommitTimestamp = (immediate & HIGH_BIT_56) ? r.ubig(7) : e.immediateCommitTimestamp;
  }
  if (r.remaining >= 1) e.transactionLength = BigInt(r.packed());
  if (r.remaining >= 4) {
    const immediate = r.u32();
    e.immediateServerVersion = immediate & ~HIGH_BIT_32;
    e.originalServerVersion = (immediate & HIGH_BIT_32) ? r.u32() : e.immediateServerVersion;
  }
  if (r.remaining >= 8) e.commitGroupTicket = r.u64();
  return e;
}

// The first 8 bytes of Previous_GTIDs: a count of SIDs, or (MySQL 8.3+ tagged format) the format byte 1 at
// both ends around a 6-byte count, each SID then followed by its tag.
const GTID_SET_TAGGED = 1n;

export function decodePreviousGtids(r: ByteReader): BinlogEvent {
  const word = r.u64();
  const format = word >> 56n;
  if (format > GTID_SET_TAGGED) throw new BinlogFormatError(`Previous_GTIDs in unknown GTID set format ${format}`);
  const tagged = format === GTID_SET_TAGGED;
  const sids: Extract<BinlogEvent, { type: 'previous_gtids' }>['sids'] = [];
  for (let n = tagged ? (word >> 8n) & 0xffff_ffff_ffffn : word; n > 0n; n--) {
    const sid: (typeof sids)[number] = { uuid: uuid(r.bytes(16, 'sid')), intervals: [] };
    const tag = tagged ? readTag(r) : '';
    if (tag) sid.tag = tag;
    for (let k = r.u64(); k > 0n; k--) sid.intervals.push([r.i64(), r.i64()]);
    sids.push(sid);
  }
  return { type: 'previous_gtids', sids };
}

/**
 * An unsigned integer of the MySQL serialization library (tagged GTIDs): 1 to 9 bytes, little-endian, the
 * count being the trailing one bits of the first byte plus one; the value follows those bits and their zero
 * (nine bytes: all eight following bytes).
 */
function varlen(r: ByteReader): bigint {
  r.need(1, 'variable-length integer');
  const first = r.buf[r.pos]!;
  let ones = 0;
  while (ones < 8 && (first >> ones) & 1) ones++;
  if (ones === 8) {
    r.skip(1);
    return r.u64();
  }
  return r.ubig(ones + 1) >> BigInt(ones + 1);
}

/** The serialization library's signed integers: the sign in the lowest bit, magnitude minus one if negative. */
function varlenSigned(r: ByteReader): bigint {
  const v = varlen(r);
  return v & 1n ? -(v >> 1n) - 1n : v >> 1n;
}

function varlenNumber(r: ByteReader, max: number, what: string): number {
  const v = varlen(r);
  if (v > BigInt(max)) throw new BinlogFormatError(`${what} ${v} (at most ${max})`);
  return Number(v);
}

// MySQL's rule for tags (it lowercases them before they are logged): a letter or underscore, then letters,
// digits and underscores, 32 characters at most.
const TAG_MAX_LENGTH = 32;
const TAG = /^[a-z_][a-z0-9_]*$/;

/** A GTID tag as a serialization-library string: its length, then its characters; '' for none. */
function readTag(r: ByteReader): string {
  const tag = r.str(varlenNumber(r, TAG_MAX_LENGTH, 'GTID tag length'), 'GTID tag');
  if (tag !== '' && !TAG.test(tag)) throw new BinlogFormatError(`GTID tag ${JSON.stringify(tag)} is not a valid tag`);
  return tag;
}

// Field ids of GTID_TAGGED_LOG_EVENT, in the order the serialization library numbers them.
const TG_FLAGS = 0;
const TG_UUID = 1;
const TG_GNO = 2;
const TG_TAG = 3;
const TG_LAST_COMMITTED = 4;
const TG_SEQUENCE_NUMBER = 5;
const TG_IMMEDIATE_COMMIT_TIMESTAMP = 6;
const TG_ORIGINAL_COMMIT_TIMESTAMP = 7;
const TG_TRANSACTION_LENGTH = 8;
const TG_IMMEDIATE_SERVER_VERSION = 9;
const TG_ORIGINAL_SERVER_VERSION = 10;
const TG_COMMIT_GROUP_TICKET = 11;

/**
 * MySQL 8.3+ GTID_TAGGED_LOG_EVENT, a serialization-library message: version byte, message size (counting
 * from the version byte), the last field id a reader must know, then (field id, value) pairs in id order; the
 * original commit timestamp and server version are left out when equal to the immediate ones. Fields of ids
 * this decoder does not know can only follow the known ones, and may be skipped only when the message says
 * they are ignorable.
 */
export function decodeTaggedGtid(r: ByteReader): BinlogEvent {
  const start = r.pos;
  r.skip(1);
  const size = varlenNumber(r, r.end - start, 'tagged GTID message size');
  const m = new ByteReader(r.buf, r.pos, start + size);
  if (m.remaining < 0) throw new BinlogFormatError(`tagged GTID message size ${size} ends inside its own header`);
  const lastNeeded = varlenNumber(m, 255, 'tagged GTID last non-ignorable field');
  if (lastNeeded > TG_COMMIT_GROUP_TICKET) {
    throw new BinlogFormatError(`tagged GTID event needs field ${lastNeeded}, which this decoder does not know `
      + '(the source is newer than tributary)');
  }
  const e: Extract<BinlogEvent, { type: 'gtid'; flavor: 'mysql' }> = {
    type: 'gtid', flavor: 'mysql', anonymous: false, uuid: '', gno: 0n, commitFlag: false,
  };
  let previous = -1;
  let present = 0;
  while (m.remaining > 0) {
    const id = varlenNumber(m, 255, 'tagged GTID field id');
    if (id <= previous) throw new BinlogFormatError(`tagged GTID field ${id} after field ${previous}`);
    previous = id;
    if (id > TG_COMMIT_GROUP_TICKET) break;
    present |= 1 << id;
    switch (id) {
      case TG_FLAGS: e.commitFlag = (varlenNumber(m, 255, 'GTID flags') & 1) !== 0; break;
      case TG_UUID: {
        const bytes = Buffer.alloc(16);
        for (let i = 0; i < 16; i++) bytes[i] = varlenNumber(m, 255, 'GTID uuid byte');
        e.uuid = uuid(bytes);
        break;
      }
      case TG_GNO: e.gno = varlenSigned(m); break;
      case TG_TAG: e.tag = readTag(m); break;
      case TG_LAST_COMMITTED: e.lastCommitted = varlenSigned(m); break;
      case TG_SEQUENCE_NUMBER: e.sequenceNumber = varlenSigned(m); break;
      case TG_IMMEDIATE_COMMIT_TIMESTAMP: e.immediateCommitTimestamp = varlen(m); break;
      case TG_ORIGINAL_COMMIT_TIMESTAMP: e.originalCommitTimestamp = varlen(m); break;
      case TG_TRANSACTION_LENGTH: e.transactionLength = varlen(m); break;
      case TG_IMMEDIATE_SERVER_VERSION: e.immediateServerVersion = varlenNumber(m, 0xffffffff, 'server version'); break;
      case TG_ORIGINAL_SERVER_VERSION: e.originalServerVersion = varlenNumber(m, 0xffffffff, 'server version'); break;
      case TG_COMMIT_GROUP_TICKET: e.commitGroupTicket = varlen(m); break;
    }
  }
  if (!(present & (1 << TG_UUID)) || !(present & (1 << TG_GNO))) {
    throw new BinlogFormatError('tagged GTID event without its uuid and number');
  }
  if (e.immediateCommitTimestamp !== undefined) e.originalCommitTimestamp ??= e.immediateCommitTimestamp;
  if (e.immediateServerVersion !== undefined) e.originalServerVersion ??= e.immediateServerVersion;
  return e;
}

const FL_STANDALONE = 1;
const FL_GROUP_COMMIT_ID = 2;
const FL_PREPARED_XA = 64;
const FL_COMPLETED_XA = 128;
const FL_EXTRA_MULTI_ENGINE_E1 = 1;
const FL_COMMIT_ALTER_E1 = 4;
const FL_ROLLBACK_ALTER_E1 = 8;

/** MariaDB GTID; the server id of the GTID is the event header's. */
export function decodeMariadbGtid(r: ByteReader, serverId: number): BinlogEvent {
  const seqNo = r.u64();
  const domainId = r.u32();
  const flags2 = r.u8();
  const e: Extract<BinlogEvent, { type: 'gtid'; flavor: 'mariadb' }> = {
    type: 'gtid', flavor: 'mariadb', domainId, serverId, seqNo, flags2, standalone: (flags2 & FL_STANDALONE) !== 0,
  };
  if (flags2 & FL_GROUP_COMMIT_ID) e.commitId = r.u64();
  if (flags2 & (FL_PREPARED_XA | FL_COMPLETED_XA)) {
    const formatId = r.u32();
    const gtridLength = r.u8();
    const bqualLength = r.u8();
    const gtrid = Buffer.from(r.bytes(gtridLength, 'XA gtrid'));
    e.xa = { prepared: (flags2 & FL_PREPARED_XA) !== 0, formatId, gtrid, bqual: Buffer.from(r.bytes(bqualLength, 'XA bqual')) };
  }
  // The body is zero-padded to its post-header size, so a zero byte here is padding or "no extra flags".
  if (r.remaining > 0) {
    const flagsExtra = r.u8();
    if (flagsExtra !== 0) {
      e.flagsExtra = flagsExtra;
      if (flagsExtra & FL_EXTRA_MULTI_ENGINE_E1) e.extraEngines = r.u8();
      if (flagsExtra & (FL_COMMIT_ALTER_E1 | FL_ROLLBACK_ALTER_E1)) e.startAlterSeqNo = r.u64();
    }
  }
  return e;
}

export function decodeGtidList(r: ByteReader): BinlogEvent {
  const word = r.u32();
  const gtids: { domainId: number; serverId: number; seqNo: bigint }[] = [];
  for (let n = word & 0x0fffffff; n > 0; n--) gtids.push({ domainId: r.u32(), serverId: r.u32(), seqNo: r.u64() });
  return { type: 'gtid_list', gtids, flags: word >>> 28 };
}

/** MySQL 8 HEARTBEAT_LOG_EVENT_V2: type/length/value fields, 1 = log file name, 2 = position. */
export function decodeHeartbeatV2(r: ByteReader): BinlogEvent {
  const e: Extract<BinlogEvent, { type: 'heartbeat' }> = { type: 'heartbeat', logFile: '' };
  while (r.remaining > 0) {
    const field = r.packed();
    if (field === 0) break;
    const value = r.sub(r.packed(), 'heartbeat field');
    if (field === 1) e.logFile = value.rest().toString('utf8');
    else if (field === 2) e.position = BigInt(value.packed());
  }
  return e;
}
