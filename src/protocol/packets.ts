// Payloads of the replication commands (without the 4-byte packet header) and the ERR packet, per the
// client/server protocol: COM_REGISTER_SLAVE (0x15), COM_BINLOG_DUMP (0x12) and COM_BINLOG_DUMP_GTID (0x1e).
import type { MysqlGtidSet } from '../gtid/mysql-gtid-set.js';

export const COM_BINLOG_DUMP = 0x12;
export const COM_REGISTER_SLAVE = 0x15;
export const COM_BINLOG_DUMP_GTID = 0x1e;

/** COM_BINLOG_DUMP flag: MariaDB sends Annotate_rows events only when asked, and they are in its binlog. */
export const BINLOG_SEND_ANNOTATE_ROWS_EVENT = 0x02;

export interface RegisterReplica {
  serverId: number;
  /** What SHOW SLAVE HOSTS shows; each string is at most 255 bytes (one length byte). */
  host?: string;
  user?: string;
  password?: string;
  port?: number;
}

function shortString(value: string, field: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 255) throw new RangeError(`COM_REGISTER_SLAVE ${field} is longer than 255 bytes`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export function registerReplicaPayload(r: RegisterReplica): Buffer {
  const head = Buffer.alloc(5);
  head[0] = COM_REGISTER_SLAVE;
  head.writeUInt32LE(r.serverId, 1);
  const tail = Buffer.alloc(10);
  tail.writeUInt16LE(r.port ?? 0, 0);
  // replication rank (ignored by servers) and master id (0: the source fills in its own) stay 0
  return Buffer.concat([
    head, shortString(r.host ?? '', 'host'), shortString(r.user ?? '', 'user'),
    shortString(r.password ?? '', 'password'), tail,
  ]);
}

export function binlogDumpPayload(serverId: number, file: string, position: number, flags: number): Buffer {
  if (!Number.isInteger(position) || position < 4 || position > 0xffffffff) {
    throw new RangeError(`binlog position ${position} does not fit COM_BINLOG_DUMP (4 .. 4294967295)`);
  }
  const head = Buffer.alloc(11);
  head[0] = COM_BINLOG_DUMP;
  head.writeUInt32LE(position, 1);
  head.writeUInt16LE(flags, 5);
  head.writeUInt32LE(serverId, 7);
  return Buffer.concat([head, Buffer.from(file, 'utf8')]);
}

/**
 * COM_BINLOG_DUMP_GTID as MySQL's replica sends it (rpl_replica.cc request_dump): flags 0 (MySQL's replica never
 * sets any; early 5.6 sources acted on the three lowest bits, BINLOG_THROUGH_GTID among them, and every source
 * reads the GTID set whatever the flags), no file name (a name would make the source start from that file
 * instead of the first one holding a transaction missing from the set), position 4, then the set in its binary
 * form: every transaction the replica has, which the source leaves out.
 */
export function binlogDumpGtidPayload(serverId: number, gtids: MysqlGtidSet): Buffer {
  const data = gtids.encode();
  const head = Buffer.alloc(1 + 2 + 4 + 4 + 8 + 4);
  head[0] = COM_BINLOG_DUMP_GTID;
  head.writeUInt16LE(0, 1);
  head.writeUInt32LE(serverId, 3);
  head.writeUInt32LE(0, 7);
  head.writeBigUInt64LE(4n, 11);
  head.writeUInt32LE(data.length, 19);
  return Buffer.concat([head, data]);
}

export interface ErrPacket {
  errno: number;
  sqlState?: string;
  message: string;
}

/** Parses an ERR packet payload (first byte 0xff). */
export function parseErrPacket(payload: Buffer): ErrPacket {
  const errno = payload.readUInt16LE(1);
  // the SQL state marker '#' is absent in pre-4.1 style errors
  if (payload[3] === 0x23) {
    return { errno, sqlState: payload.toString('latin1', 4, 9), message: payload.toString('utf8', 9) };
  }
  return { errno, message: payload.toString('utf8', 3) };
}
