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

export function decodePreviousGtids(r: ByteReader): BinlogEvent {
  const sids: { uuid: string; intervals: [bigint, bigint][] }[] = [];
  for (let n = r.u64(); n > 0n; n--) {
    const id = uuid(r.bytes(16, 'sid'));
    const intervals: [bigint, bigint][] = [];
    for (let k = r.u64(); k > 0n; k--) intervals.push([r.i64(), r.i64()]);
    sids.push({ uuid: id, intervals });
  }
  return { type: 'previous_gtids', sids };
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
