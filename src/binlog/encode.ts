// Events the replica writes itself into relay logs: its own Format_description at the head of each file and
// artificial Rotates for position jumps.
import { EVENT_HEADER_LENGTH, EventType, LOG_EVENT_ARTIFICIAL_F } from './events.js';
import { crc32 } from './checksum.js';

/**
 * Post-header length per event type (index = type - 1) of MariaDB 10.11, as mariadbd 10.11.19 writes it in
 * the Format_description of its binlogs: 171 types, up to MARIA_DELETE_ROWS_COMPRESSED.
 */
export const MARIADB_POST_HEADER_LENGTHS: Buffer = (() => {
  const table = Buffer.alloc(171);
  const known: [number, number][] = [
    [EventType.START_V3, 56], [EventType.QUERY, 13], [EventType.ROTATE, 8], [EventType.LOAD, 18],
    [EventType.CREATE_FILE, 4], [EventType.APPEND_BLOCK, 4], [EventType.EXEC_LOAD, 4], [EventType.DELETE_FILE, 4],
    [EventType.NEW_LOAD, 18], [EventType.FORMAT_DESCRIPTION, 228], [EventType.BEGIN_LOAD_QUERY, 4],
    [EventType.EXECUTE_LOAD_QUERY, 26], [EventType.TABLE_MAP, 8], [EventType.WRITE_ROWS_V1, 8],
    [EventType.UPDATE_ROWS_V1, 8], [EventType.DELETE_ROWS_V1, 8], [EventType.INCIDENT, 2],
    [EventType.WRITE_ROWS, 10], [EventType.UPDATE_ROWS, 10], [EventType.DELETE_ROWS, 10],
    [39, 10], [40, 10], [41, 10],
    [EventType.MARIA_BINLOG_CHECKPOINT, 4], [EventType.MARIA_GTID, 19], [EventType.MARIA_GTID_LIST, 4],
    [EventType.MARIA_QUERY_COMPRESSED, 13], [EventType.MARIA_WRITE_ROWS_COMPRESSED_V1, 8],
    [EventType.MARIA_UPDATE_ROWS_COMPRESSED_V1, 8], [EventType.MARIA_DELETE_ROWS_COMPRESSED_V1, 8],
    [EventType.MARIA_WRITE_ROWS_COMPRESSED, 10], [EventType.MARIA_UPDATE_ROWS_COMPRESSED, 10],
    [EventType.MARIA_DELETE_ROWS_COMPRESSED, 10],
  ];
  for (const [type, length] of known) table[type - 1] = length;
  return table;
})();

const BINLOG_VERSION = 4;
const SERVER_VERSION_LENGTH = 50;

function header(body: number, type: number, timestamp: number, serverId: number, flags: number): Buffer {
  const h = Buffer.alloc(EVENT_HEADER_LENGTH);
  h.writeUInt32LE(timestamp >>> 0, 0);
  h[4] = type;
  h.writeUInt32LE(serverId >>> 0, 5);
  h.writeUInt32LE(EVENT_HEADER_LENGTH + body, 9);
  h.writeUInt32LE(0, 13);
  h.writeUInt16LE(flags, 17);
  return h;
}

function withCrc(event: Buffer): Buffer {
  const out = Buffer.alloc(event.length + 4);
  event.copy(out);
  out.writeUInt32LE(crc32(event), event.length);
  return out;
}

/**
 * A binlog v4 Format_description with MariaDB 10.11's post-header table. Like the servers, it always ends
 * with the checksum-algorithm byte and a CRC32 (also when the algorithm is 0): readers locate the algorithm
 * byte by counting those 5 bytes from the end, for every server version >= 5.6.1 / MariaDB 5.3.
 * The create timestamp in the body stays 0: non-zero means "written at server startup", which tells an SQL
 * thread to drop temporary tables.
 */
export function encodeFormatDescription(opts: {
  serverId: number; timestamp: number; serverVersion: string; checksumAlg: 0 | 1;
}): Buffer {
  const version = Buffer.from(opts.serverVersion, 'latin1');
  if (version.length >= SERVER_VERSION_LENGTH) {
    throw new RangeError(`server version must be shorter than ${SERVER_VERSION_LENGTH} bytes`);
  }
  const body = Buffer.alloc(2 + SERVER_VERSION_LENGTH + 4 + 1 + MARIADB_POST_HEADER_LENGTHS.length + 1);
  let p = body.writeUInt16LE(BINLOG_VERSION, 0);
  version.copy(body, p);
  p += SERVER_VERSION_LENGTH;
  p = body.writeUInt32LE(0, p);
  body[p++] = EVENT_HEADER_LENGTH;
  p += MARIADB_POST_HEADER_LENGTHS.copy(body, p);
  body[p] = opts.checksumAlg;
  const event = Buffer.concat([header(body.length + 4, EventType.FORMAT_DESCRIPTION, opts.timestamp, opts.serverId, 0), body]);
  return withCrc(event);
}

/** An artificial Rotate (timestamp 0, logPos 0) naming the source position the following events start at. */
export function encodeRotate(opts: { serverId: number; nextFile: string; position: bigint; checksumAlg: 0 | 1 }): Buffer {
  const name = Buffer.from(opts.nextFile, 'utf8');
  const body = Buffer.alloc(8 + name.length);
  body.writeBigUInt64LE(opts.position, 0);
  name.copy(body, 8);
  const crc = opts.checksumAlg === 1 ? 4 : 0;
  const event = Buffer.concat([
    header(body.length + crc, EventType.ROTATE, 0, opts.serverId, LOG_EVENT_ARTIFICIAL_F), body,
  ]);
  return crc ? withCrc(event) : event;
}

/**
 * A Gtid_list (MariaDB): the GTID position `gtids` states, with flags in the top 4 bits of the count
 * (FLAG_UNTIL_REACHED 1, FLAG_IGN_GTIDS 2). The replica's own (timestamp 0, logPos 0, artificial), as
 * MariaDB's I/O thread writes one into its relay log for the groups it left out.
 */
export function encodeGtidList(opts: {
  serverId: number; gtids: readonly { domainId: number; serverId: number; seqNo: bigint }[]; flags: number; checksumAlg: 0 | 1;
}): Buffer {
  const body = Buffer.alloc(4 + 16 * opts.gtids.length);
  let p = body.writeUInt32LE(((opts.flags << 28) | opts.gtids.length) >>> 0, 0);
  for (const g of opts.gtids) {
    p = body.writeUInt32LE(g.domainId, p);
    p = body.writeUInt32LE(g.serverId, p);
    p = body.writeBigUInt64LE(g.seqNo, p);
  }
  const crc = opts.checksumAlg === 1 ? 4 : 0;
  const event = Buffer.concat([
    header(body.length + crc, EventType.MARIA_GTID_LIST, 0, opts.serverId, LOG_EVENT_ARTIFICIAL_F), body,
  ]);
  return crc ? withCrc(event) : event;
}
