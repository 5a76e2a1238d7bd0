// Gtid_IO_Pos found again in the relay log after a restart or a kill -9: the I/O stage states it at the head of
// every relay log file it begins (its own Gtid_list), and after groups it left out (FLAG_IGN_GTIDS); the whole
// groups after that in the last file move it on. The relay log is written before anything else records what
// was received, so nothing kept beside it can be ahead of or behind it.
import { BinlogDecoder, decodeHeader } from '../binlog/decoder.js';
import { EventType, type BinlogEvent } from '../binlog/events.js';
import type { RelayLog } from '../relaylog/relay-log.js';
import { MariadbGroupTracker, MysqlGroupTracker } from './event-groups.js';
import { MariadbGtidPosition } from './mariadb-gtid.js';
import { MysqlGtidSet, type MysqlGtid } from './mysql-gtid-set.js';

/** The events read: the ones a group tracker needs, and those that keep the decoder's format. */
const READ = new Set<number>([EventType.FORMAT_DESCRIPTION, EventType.MARIA_GTID, EventType.MARIA_GTID_LIST,
  EventType.XID, EventType.XA_PREPARE, EventType.QUERY]);

/**
 * The GTID position of the whole groups the relay log holds, from the last file that states one at its head
 * onwards (a cut may have left the last file without its head); undefined when no file does (none was written
 * in GTID mode): the I/O stage then starts from the applied GTID state.
 */
export async function relayLogGtidPosition(relayLog: RelayLog, replicaServerId: number): Promise<MariadbGtidPosition | undefined> {
  const files = relayLog.list();
  for (let i = files.length - 1; i >= 0; i--) {
    const position = await gtidPositionFrom(relayLog, files[i]!, replicaServerId);
    if (position) return position;
  }
  return undefined;
}

/** Reads from the head of `file` to the end of the relay log; undefined when `file` states no position. */
async function gtidPositionFrom(relayLog: RelayLog, file: string, replicaServerId: number): Promise<MariadbGtidPosition | undefined> {
  const reader = relayLog.reader({ file, pos: 4 });
  let decoder = new BinlogDecoder();
  let groups = new MariadbGroupTracker();
  let at = file;
  let position: MariadbGtidPosition | undefined;
  try {
    for (let event = await reader.tryNext(); event; event = await reader.tryNext()) {
      if (event.file !== at) {
        if (!position) return undefined;
        // Each file has its own head; a group cut at the end of one is sent again in the next.
        at = event.file;
        decoder = new BinlogDecoder();
        groups = new MariadbGroupTracker();
      }
      const header = decodeHeader(event.raw);
      if (!READ.has(header.typeCode)) continue;
      const e = decoder.decode(event.raw).event;
      if (e.type === 'gtid_list' && header.serverId === replicaServerId) {
        // Our own: at a file's head, or after groups left out (FLAG_IGN_GTIDS), the whole position then.
        position = MariadbGtidPosition.fromList(e.gtids);
        continue;
      }
      const ended = groups.event(e);
      if (ended && position) position = position.with(ended);
    }
  } finally {
    await reader.close();
  }
  return position;
}

/** The events a MySQL transaction tracker reads decoded. */
const MYSQL_GROUP_DECODED = new Set<number>([EventType.GTID, EventType.GTID_TAGGED, EventType.QUERY]);

/** The events that end a MySQL transaction by their type alone. */
const MYSQL_GROUP_ENDS = new Map<number, 'xid' | 'xa_prepare' | 'transaction_payload'>([
  [EventType.XID, 'xid'], [EventType.XA_PREPARE, 'xa_prepare'], [EventType.TRANSACTION_PAYLOAD, 'transaction_payload']]);

/**
 * Feeds a MySQL transaction tracker one event, decoding it (with `decode`) only when its type is not enough;
 * the GTID of the transaction it ends, if it ends one. The I/O stage as it receives and the relay log scan
 * after a restart count transactions the same way.
 */
export function mysqlGroupEvent(groups: MysqlGroupTracker, typeCode: number, raw: Buffer,
  decode: (raw: Buffer) => BinlogEvent): MysqlGtid | undefined {
  const end = MYSQL_GROUP_ENDS.get(typeCode);
  if (end) return groups.event({ type: end });
  return MYSQL_GROUP_DECODED.has(typeCode) ? groups.event(decode(raw)) : undefined;
}

/**
 * Retrieved_Gtid_Set found again after a restart: the MySQL GTIDs of the whole transactions the relay log
 * files hold. Files already applied and purged are not there; their GTIDs are in the executed set the dump
 * also sends.
 */
export async function relayLogMysqlGtids(relayLog: RelayLog): Promise<MysqlGtidSet> {
  const set = new MysqlGtidSet();
  const first = relayLog.list()[0];
  if (first === undefined) return set;
  const reader = relayLog.reader({ file: first, pos: 4 });
  // One tracker across files: a transaction goes on in the next file after a rotation for size, and one cut
  // by a new connection is never ended (the source sends it again from its GTID event, which starts afresh).
  const decoder = new BinlogDecoder();
  const decode = (raw: Buffer) => decoder.decode(raw).event;
  const groups = new MysqlGroupTracker();
  try {
    for (let event = await reader.tryNext(); event; event = await reader.tryNext()) {
      const typeCode = decodeHeader(event.raw).typeCode;
      // The format the events after it decode with.
      if (typeCode === EventType.FORMAT_DESCRIPTION) decode(event.raw);
      const ended = mysqlGroupEvent(groups, typeCode, event.raw, decode);
      if (ended) set.add(ended);
    }
  } finally {
    await reader.close();
  }
  return set;
}
