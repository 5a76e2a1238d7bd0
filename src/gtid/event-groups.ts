// Where the event groups of a MariaDB binlog stream end, as MariaDB's I/O thread tells (queue_event): a group
// begins with its GTID event and ends with its XID, XA PREPARE, COMMIT or ROLLBACK, or, for a standalone group
// (FL_STANDALONE: DDL and the like), with its one statement. Gtid_IO_Pos counts whole groups only, so that a
// dump resumed from it sends a cut group again from its start. Pure.
import { transactionControl, type TransactionControl } from '../apply/statement-kind.js';
import type { BinlogEvent } from '../binlog/events.js';
import type { MariadbGtid } from './mariadb-gtid.js';
import type { MysqlGtid } from './mysql-gtid-set.js';

type GtidEvent = Extract<BinlogEvent, { type: 'gtid' }>;

/** The GTID a MariaDB GTID event begins its group with. */
export function mariadbGtidOf(e: GtidEvent & { flavor: 'mariadb' }): MariadbGtid {
  return { domainId: e.domainId, serverId: e.serverId, seqNo: e.seqNo };
}

/** The GTID a MySQL GTID event begins its transaction with (not for an anonymous one). */
export function mysqlGtidOf(e: GtidEvent & { flavor: 'mysql' }): MysqlGtid {
  return { uuid: e.uuid, ...(e.tag ? { tag: e.tag } : {}), gno: e.gno };
}

export class MariadbGroupTracker {
  /** The group being read: its GTID, and whether its one statement ends it. */
  open: { gtid: MariadbGtid; standalone: boolean } | undefined;

  /** Feeds one event, in stream order; returns the GTID of the group it ends, if it ends one. */
  event(e: BinlogEvent): MariadbGtid | undefined {
    if (e.type === 'gtid') {
      this.open = e.flavor === 'mariadb'
        ? { gtid: mariadbGtidOf(e), standalone: e.standalone }
        : undefined;
      return undefined;
    }
    const open = this.open;
    if (!open) return undefined;
    if (e.type === 'xid' || e.type === 'xa_prepare' || (e.type === 'query' && (open.standalone || ends(transactionControl(e.sql))))) {
      this.open = undefined;
      return open.gtid;
    }
    return undefined;
  }
}

/**
 * Where the transactions of a MySQL binlog stream end, as MySQL's Transaction_boundary_parser tells: a
 * transaction begins with its GTID event; after BEGIN (or XA START) it ends with XID, XA PREPARE, COMMIT or
 * ROLLBACK, otherwise its one statement (DDL) ends it; a compressed payload holds it whole. Retrieved_Gtid_Set
 * counts whole transactions only, so that a dump asking by it sends a cut one again. Anonymous ones are not
 * tracked. Pure.
 */
export class MysqlGroupTracker {
  open: { gtid: MysqlGtid; begun: boolean } | undefined;

  /**
   * Feeds one event, in stream order; returns the GTID of the transaction it ends, if it ends one. The events
   * that end a transaction by their type alone need not be decoded (a payload would be decompressed).
   */
  event(e: BinlogEvent | { type: 'xid' | 'xa_prepare' | 'transaction_payload' }): MysqlGtid | undefined {
    if (e.type === 'gtid') {
      this.open = e.flavor === 'mysql' && !e.anonymous
        ? { gtid: mysqlGtidOf(e), begun: false }
        : undefined;
      return undefined;
    }
    const open = this.open;
    if (!open) return undefined;
    if (e.type === 'query') {
      const control = transactionControl(e.sql);
      if (!open.begun && (control === 'BEGIN' || control === 'XA START')) {
        open.begun = true;
        return undefined;
      }
      if (open.begun && !ends(control)) return undefined;
    } else if (e.type !== 'xid' && e.type !== 'xa_prepare' && e.type !== 'transaction_payload') {
      return undefined;
    }
    this.open = undefined;
    return open.gtid;
  }
}

function ends(control: TransactionControl | undefined): boolean {
  return control === 'COMMIT' || control === 'ROLLBACK' || control === 'XA COMMIT' || control === 'XA ROLLBACK';
}
