// START REPLICA UNTIL SQL_BEFORE_GTIDS / SQL_AFTER_GTIDS for a MySQL GTID channel, as MySQL's SQL thread decides
// it (seed 002; rpl_replica_until.cc):
// - SQL_BEFORE_GTIDS = set: transactions are applied until the first one whose GTID is in the set, which is
//   not applied. If any GTID of the set is already executed when the SQL stage starts, it stops at once.
// - SQL_AFTER_GTIDS = set: transactions are applied until every GTID of the set is executed; the one that
//   completes the set is applied, the next is not. If the whole set is already executed at start, it stops at once.
// Apart from UNTIL, a transaction whose GTID is already executed is skipped (MySQL's GTID auto-skip), as is any
// transaction MySQL would not apply twice.
import type { MysqlGtid, MysqlGtidSet } from './mysql-gtid-set.js';

export type GtidUntil = { sqlBeforeGtids: MysqlGtidSet } | { sqlAfterGtids: MysqlGtidSet };

/**
 * What the SQL stage does with the next transaction:
 * - 'apply': apply it (and record its GTID as executed, in the same target transaction);
 * - 'skip': its GTID is already executed: skip it as MySQL does, positions still advance past it;
 * - 'stop-before': stop without applying it (the UNTIL condition is met; the position stays before it);
 * - 'apply-then-stop': apply it, then stop (SQL_AFTER_GTIDS: it was the last missing GTID of the set).
 */
export type UntilGtidsDecision = 'apply' | 'skip' | 'stop-before' | 'apply-then-stop';

/**
 * Whether the condition is already met with `executed`: checked when the SQL stage starts (MySQL stops at
 * once, without waiting for a transaction) and after each applied transaction.
 */
export function untilGtidsMet(until: GtidUntil, executed: MysqlGtidSet): boolean {
  return 'sqlBeforeGtids' in until ? executed.intersects(until.sqlBeforeGtids) : executed.containsSet(until.sqlAfterGtids);
}

/**
 * The decision for the next transaction, whose GTID is `next` (undefined for an anonymous transaction), given
 * the channel's executed set before it. `until` undefined: no UNTIL condition, only the auto-skip applies.
 */
export function untilGtidsDecision(until: GtidUntil | undefined, executed: MysqlGtidSet,
  next: MysqlGtid | undefined): UntilGtidsDecision {
  if (until && untilGtidsMet(until, executed)) return 'stop-before';
  if (until && 'sqlBeforeGtids' in until && next && until.sqlBeforeGtids.contains(next)) return 'stop-before';
  if (next && executed.contains(next)) return 'skip';
  // Only a GTID of the set can complete it (a set complete before it stopped above): no copy of the executed set
  // for the others.
  if (until && 'sqlAfterGtids' in until && next && until.sqlAfterGtids.contains(next) &&
    executed.clone().add(next).containsSet(until.sqlAfterGtids)) {
    return 'apply-then-stop';
  }
  return 'apply';
}
