// Where the event groups of a MariaDB binlog stream end, as MariaDB's I/O thread tells (queue_event): a group
// begins with its GTID event and ends with its XID, XA PREPARE, COMMIT or ROLLBACK, or, for a standalone group
// (FL_STANDALONE: DDL and the like), with its one statement. Gtid_IO_Pos counts whole groups only, so that a
// dump resumed from it sends a cut group again from its start. Pure.
import { firstKeyword } from '../apply/statement-kind.js';
import type { BinlogEvent } from '../binlog/events.js';
import type { MariadbGtid } from './mariadb-gtid.js';

export class MariadbGroupTracker {
  /** The group being read: its GTID, and whether its one statement ends it. */
  open: { gtid: MariadbGtid; standalone: boolean } | undefined;

  /** Feeds one event, in stream order; returns the GTID of the group it ends, if it ends one. */
  event(e: BinlogEvent): MariadbGtid | undefined {
    if (e.type === 'gtid') {
      this.open = e.flavor === 'mariadb'
        ? { gtid: { domainId: e.domainId, serverId: e.serverId, seqNo: e.seqNo }, standalone: e.standalone }
        : undefined;
      return undefined;
    }
    const open = this.open;
    if (!open) return undefined;
    if (e.type === 'xid' || e.type === 'xa_prepare' || (e.type === 'query' && (open.standalone || ends(e.sql)))) {
      this.open = undefined;
      return open.gtid;
    }
    return undefined;
  }
}

function ends(sql: Buffer): boolean {
  const keyword = firstKeyword(sql);
  return keyword === 'COMMIT' || keyword === 'ROLLBACK' ||
    (keyword === 'XA' && /^\s*XA\s+(COMMIT|ROLLBACK)/i.test(sql.toString('latin1', 0, 32)));
}
