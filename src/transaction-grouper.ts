// The SQL stage's grouping (the part of MySQL's SQL thread that reads events into transactions): decoded relay
// log events in, event groups out, with everything decided per event on the way: where a transaction, a DDL or a
// statement ends a group, the replicate-* rules, the skip counter (sql_slave_skip_counter), UNTIL, and the GTID
// state each group moves. Pure: no I/O, no timers. The SQL stage (src/sql-stage.ts) reads, decodes, waits, and
// hands the groups to the applier.
import { EventType, type DecodedEvent } from './binlog/events.js';
import { compareRelayPositions, compareSourcePositions, SourcePositionTracker, type RelayLogPosition, type SourcePosition } from './binlog/position.js';
import type { TransactionGroup } from './apply/applier.js';
import { commitsImplicitly, transactionControl } from './apply/statement-kind.js';
import { ReplicationError } from './errors.js';
import { StatementFilterError, type EventFilter, type StatementEvent } from './filter/index.js';
import { mariadbGtidOf, mysqlGtidOf } from './gtid/event-groups.js';
import { GTID_LIST_IGN_GTIDS, GTID_LIST_UNTIL_REACHED, MariadbGtidPosition, type MariadbGtid } from './gtid/mariadb-gtid.js';
import { MysqlGtidSet, type MysqlGtid } from './gtid/mysql-gtid-set.js';
import { untilGtidsDecision, untilGtidsMet, type GtidUntil } from './gtid/until-gtids.js';
import type { ChannelPosition } from './info/position-table.js';
import type { RelayEvent } from './relaylog/relay-log.js';

/**
 * START SLAVE ... UNTIL: the SQL stage stops after the event group that reaches this position. With
 * sourceGtidPos (UNTIL master_gtid_pos) the source stops sending there and says so in the stream. With
 * sqlBeforeGtids / sqlAfterGtids (MySQL's START REPLICA UNTIL SQL_BEFORE_GTIDS / SQL_AFTER_GTIDS, a MySQL GTID
 * set) it stops before the first transaction of the set / after the set is all executed (src/gtid/until-gtids.ts).
 */
export type UntilCondition =
  | { sourceLogFile: string; sourceLogPos: number }
  | { relayLogFile: string; relayLogPos: number }
  | { sourceGtidPos: string }
  | { sqlBeforeGtids: string }
  | { sqlAfterGtids: string };

export interface GrouperOptions {
  /** The channel's replicate-* rules. */
  filter: EventFilter;
  /** sql_slave_skip_counter, which the grouper counts down (the channel keeps it across starts of the stage). */
  counters: { skip: number };
  /** This replica's server_id: Format_description and Gtid_list events with it are the relay log's own. */
  replicaServerId: number;
  until?: UntilCondition;
  /** The channel's name, for the commands an error message names. */
  channel: string;
  /** A group opens (its first event's timestamp): Seconds_Behind_Master counts from the moment it is read. */
  onOpen?: (timestamp: number) => void;
  /** An open group is dropped because a new one begins without its end having come. */
  onDiscard?: (start: ChannelPosition) => void;
}

/** What the stage is to do after an event. */
export type GroupStep =
  /**
   * A group ended: apply it (after MASTER_DELAY from `timestamp`, the header timestamp of its last event).
   * `untilReached`: UNTIL SQL_AFTER_GTIDS is met with it; stop after applying it.
   */
  | { type: 'group'; group: TransactionGroup; bytes: number; timestamp: number; untilReached: boolean }
  /** An UNTIL GTID condition is reached: apply what was handed over, save the position and stop. */
  | { type: 'until'; gtid?: MysqlGtid }
  /** The source restarted (the Format_description of a binlog it began at startup): its sessions are gone. */
  | { type: 'source-restarted' };

interface OpenGroup {
  events: DecodedEvent[];
  start: ChannelPosition;
  begun: boolean;
  bytes: number;
  /** Entered by the skip counter: skipped whole. */
  skipped: boolean;
  /** The MariaDB GTID the group began with: applied, skipped or filtered, it moves the GTID state. */
  gtid?: MariadbGtid;
  /** The MySQL GTID the group began with: applied, filtered or auto-skipped, it is executed once it ends. */
  mysqlGtid?: MysqlGtid;
  /** UNTIL SQL_AFTER_GTIDS: the group completes the set; the stage stops after it. */
  lastUntil?: boolean;
}

type Ending = { kind: TransactionGroup['kind']; rollback: boolean };

export class TransactionGrouper {
  /** The position after the last event read while no group is open: what the stage saves when it is idle. */
  between: ChannelPosition | undefined;

  private readonly tracker: SourcePositionTracker;
  private group: OpenGroup | undefined;
  // The MariaDB GTID state of what has been read up to here, kept with every position (its text formatted once
  // per change, not per event). Read from the stored text when a MariaDB GTID first moves it: until then a
  // channel that meets none (a MySQL source) leaves the stored state as it is.
  private gtidText: string | undefined;
  private gtid: MariadbGtidPosition | undefined;
  // A MySQL source's GTIDs: the executed set (MySQL's gtid_executed, the channel's own), in the same text.
  private executed: MysqlGtidSet | undefined;
  private readonly gtidUntil: GtidUntil | undefined;
  private readonly database: TransactionGroup['database'];

  constructor(private readonly options: GrouperOptions, start: ChannelPosition) {
    this.tracker = new SourcePositionTracker({ file: start.sourceLogFile, pos: start.sourceLogPos });
    this.gtidText = start.gtidState;
    this.gtidUntil = mysqlGtidUntil(options.until);
    this.database = options.filter.database.bind(options.filter);
  }

  /** A group is open: its end has not been read yet. */
  get inGroup(): boolean {
    return this.group !== undefined;
  }

  /** The source position after the last event read (Exec_Master_Log_Pos once applied). */
  get source(): SourcePosition {
    return this.tracker.position();
  }

  /** The stage saved `between`. */
  saved(): void {
    this.between = undefined;
  }

  /**
   * An UNTIL condition that holds already at `relay`, where the stage starts: 'position' for a file/position
   * one (MySQL stops there), 'gtids' for a MySQL GTID set all executed (MySQL stops at once, with nothing to
   * apply).
   */
  metAtStart(relay: RelayLogPosition): 'position' | 'gtids' | undefined {
    if (this.untilPositionReached(relay)) return 'position';
    if (this.gtidUntil && untilGtidsMet(this.gtidUntil, this.mysqlExecuted())) return 'gtids';
    return undefined;
  }

  /**
   * START SLAVE UNTIL a file/position: whether the stage stops before `event`, read outside a group (an UNTIL
   * position inside a group stops after the group).
   */
  stopsBefore(event: RelayEvent): boolean {
    return !this.group && this.untilPositionReached({ relayLogFile: event.file, relayLogPos: event.pos });
  }

  /**
   * Feeds one decoded event, in relay log order. `inner`: one of the events of the TRANSACTION_PAYLOAD fed
   * before it, which stands at the payload's relay log entry and the source position after it (no saved
   * position falls inside a payload).
   */
  feed(event: RelayEvent, decoded: DecodedEvent, inner = false): GroupStep | undefined {
    const { header, event: e } = decoded;
    let ends: Ending | undefined;
    let step: GroupStep | undefined;
    let untilGtidReached = false;
    const skipping = this.options.counters.skip > 0 && SKIP_COUNTED.has(e.type);

    switch (e.type) {
      case 'rotate':
        if (this.group && (e.nextFile !== this.tracker.file || Number(e.position) !== this.tracker.pos)) {
          // The I/O stage restarted from another position: what was read of this group will come again.
          this.group = undefined;
        }
        break;
      case 'format_description':
        // The header of a binlog its source began at startup: the source restarted, and with it every session
        // whose temporary tables the applier holds (the copy a relay log file repeats after a rotation sits
        // elsewhere than at position 4).
        if (header.serverId !== this.options.replicaServerId && e.createTimestamp !== 0 && this.tracker.pos === 4) {
          step = { type: 'source-restarted' };
        }
        break;
      case 'gtid_list':
        // FLAG_IGN_GTIDS: groups the I/O stage did not write (domain or server id filters) count as done; only
        // the I/O stage's own list says so.
        if (!this.group && header.serverId === this.options.replicaServerId && ((e.flags ?? 0) & GTID_LIST_IGN_GTIDS) !== 0) {
          this.gtidMoved((from) => from.withAll(e.gtids));
        }
        untilGtidReached = e.flags !== undefined && (e.flags & GTID_LIST_UNTIL_REACHED) !== 0 &&
          this.options.until !== undefined && 'sourceGtidPos' in this.options.until;
        break;
      case 'previous_gtids':
      case 'binlog_checkpoint':
      case 'stop':
      case 'heartbeat':
      case 'start_encryption':
      case 'incident':
      case 'transaction_payload':
        // A payload's events come after it, fed one by one (inner): MySQL's applier too takes it apart, so
        // filters, the skip counter, UNTIL and the delay meet them as those of an uncompressed transaction.
        break;
      case 'gtid': {
        const group = this.open(event, decoded);
        group.events.push(decoded);
        if (e.flavor === 'mariadb') {
          group.gtid = mariadbGtidOf(e);
          if (!e.standalone) group.begun = true;
        } else if (!e.anonymous) {
          const next = mysqlGtidOf(e);
          const decision = untilGtidsDecision(this.gtidUntil, this.mysqlExecuted(), next);
          if (decision === 'stop-before') {
            this.group = undefined;
            return { type: 'until', gtid: next };
          }
          group.mysqlGtid = next;
          // MySQL's auto-skip: a transaction already executed (received again) is not applied twice.
          if (decision === 'skip') group.skipped = true;
          if (decision === 'apply-then-stop') group.lastUntil = true;
        }
        break;
      }
      case 'query': {
        const control = transactionControl(e.sql);
        if (control === 'BEGIN' || control === 'XA START') {
          this.group ??= this.open(event, decoded);
          this.group.begun = true;
        } else if (control === 'COMMIT' || control === 'XA END' || control === 'XA COMMIT') {
          if (this.group) ends = { kind: 'transaction', rollback: false };
        } else if (control === 'ROLLBACK') {
          if (this.group) ends = { kind: 'transaction', rollback: true };
        } else {
          ends = this.statement(event, decoded, e, skipping, commitsImplicitly(e.sql));
        }
        break;
      }
      case 'execute_load_query':
        ends = this.statement(event, decoded, e, skipping, false);
        break;
      case 'xid':
        if (this.group) ends = { kind: 'transaction', rollback: false };
        break;
      case 'unknown':
        if (header.typeCode === EventType.IGNORABLE || (header.flags & 0x80) !== 0) break;
        throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `unsupported event type ${header.typeCode} at relay log ` +
          `${event.file}:${event.pos} (source ${this.tracker.file}:${this.tracker.pos})`);
      case 'rows': {
        const group = this.group ??= this.open(event, decoded);
        const kept = this.options.filter.rows(e);
        if (kept) group.events.push(kept === e ? decoded : { header, event: kept });
        if (e.statementEnd && !group.begun) ends = { kind: 'transaction', rollback: false };
        break;
      }
      default:
        (this.group ??= this.open(event, decoded)).events.push(decoded);
    }
    const group = this.group;
    if (skipping) {
      if (group) group.skipped = true;
      this.countSkip(e.type, group !== undefined && ends === undefined);
    }
    if (group) group.bytes += event.raw.length;
    // The payload's own header moved the source position past all of it.
    if (!inner) this.tracker.advance(header, e);
    if (ends && group) {
      return { type: 'group', group: this.close(event, ends), bytes: group.bytes, timestamp: header.timestamp,
        untilReached: group.lastUntil === true };
    }
    if (!group) this.between = this.here(event, 'end');
    if (untilGtidReached) return { type: 'until' };
    return step;
  }

  private here(event: RelayEvent, at: 'start' | 'end'): ChannelPosition {
    return {
      relayLogFile: event.file,
      relayLogPos: at === 'start' ? event.pos : event.endPos,
      sourceLogFile: this.tracker.file,
      sourceLogPos: this.tracker.pos,
      gtidState: this.gtidText,
    };
  }

  private open(event: RelayEvent, decoded: DecodedEvent): OpenGroup {
    if (this.group) this.options.onDiscard?.(this.group.start);
    this.options.onOpen?.(decoded.header.timestamp);
    this.group = { events: [], start: this.here(event, 'start'), begun: false, bytes: 0, skipped: false };
    return this.group;
  }

  private close(event: RelayEvent, ends: Ending): TransactionGroup {
    const g = this.group!;
    this.group = undefined;
    if (g.gtid) this.gtidMoved((from) => from.with(g.gtid!));
    if (g.mysqlGtid && !this.mysqlExecuted().contains(g.mysqlGtid)) {
      this.gtidText = this.mysqlExecuted().add(g.mysqlGtid).toString();
    }
    this.between = undefined;
    // A group the skip counter entered applies nothing but still moves the position.
    return { kind: g.skipped ? 'transaction' : ends.kind, events: g.skipped ? [] : g.events, start: g.start,
      end: this.here(event, 'end'), rollback: ends.rollback && !g.skipped, database: this.database };
  }

  /**
   * A Query or Execute_load_query event: kept when neither the skip counter nor the rules drop it, and the end
   * of its group unless the group began with BEGIN.
   */
  private statement(event: RelayEvent, decoded: DecodedEvent, e: StatementEvent, skipping: boolean,
    ddl: boolean): Ending | undefined {
    const g = this.group ??= this.open(event, decoded);
    const applied = !skipping && !g.skipped && this.judge(e);
    if (applied) g.events.push(decoded);
    else dropContext(g.events);
    return g.begun ? undefined : { kind: applied && ddl ? 'ddl' : 'transaction', rollback: false };
  }

  /** Whether the channel's rules let a statement through; a statement they cannot judge stops the stage. */
  private judge(event: StatementEvent): boolean {
    try {
      return this.options.filter.statement(event).apply;
    } catch (err) {
      if (!(err instanceof StatementFilterError)) throw err;
      throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `Error in query '${err.statement.slice(0, 200)}' at source ` +
        `position ${this.tracker.file}:${this.tracker.pos}: ${err.message}`);
    }
  }

  /**
   * sql_slave_skip_counter, as MariaDB counts it: every event from the source counts one, except that the last
   * count is kept until the group it fell in ends (so that group is skipped whole), and that IntVar, Rand and
   * User_var events do not spend the last count, which belongs to the statement they prepare.
   */
  private countSkip(type: DecodedEvent['event']['type'], insideGroup: boolean): void {
    const counters = this.options.counters;
    if (counters.skip === 1 && (insideGroup || CONTEXT_EVENTS.has(type))) return;
    counters.skip--;
  }

  /** START SLAVE UNTIL a file/position: whether the next event, at `relay`, lies at or past it. */
  private untilPositionReached(relay: RelayLogPosition): boolean {
    const until = this.options.until;
    // The source itself ends a GTID until (GTID_LIST_UNTIL_REACHED); MySQL GTID sets are judged per transaction.
    if (!until || (!('sourceLogFile' in until) && !('relayLogFile' in until))) return false;
    return 'sourceLogFile' in until
      ? compareSourcePositions(this.tracker, { file: until.sourceLogFile, pos: until.sourceLogPos }) >= 0
      : compareRelayPositions(relay, until) >= 0;
  }

  private gtidMoved(move: (from: MariadbGtidPosition) => MariadbGtidPosition): void {
    this.gtid = move(this.gtid ?? MariadbGtidPosition.parse(this.gtidText ?? ''));
    this.gtidText = this.gtid.toString();
  }

  private mysqlExecuted(): MysqlGtidSet {
    return this.executed ??= executedGtidSet(this.gtidText, this.options.channel);
  }
}

/** UNTIL SQL_BEFORE_GTIDS / SQL_AFTER_GTIDS with its set parsed (checked by startReplica already). */
function mysqlGtidUntil(until: UntilCondition | undefined): GtidUntil | undefined {
  if (until && 'sqlBeforeGtids' in until) return { sqlBeforeGtids: MysqlGtidSet.parse(until.sqlBeforeGtids) };
  if (until && 'sqlAfterGtids' in until) return { sqlAfterGtids: MysqlGtidSet.parse(until.sqlAfterGtids) };
  return undefined;
}

/**
 * The channel's executed MySQL GTID set from the position row's GTID state; a MariaDB GTID position there (the
 * channel applied a MariaDB source by GTID before) is no MySQL set, and mixing the two would lose one of them.
 */
export function executedGtidSet(state: string | undefined, channel: string): MysqlGtidSet {
  if (state && !isMysqlGtidState(state)) {
    throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `the GTID state of channel '${channel}' is the MariaDB GTID ` +
      `position '${state}', not a MySQL GTID set: a channel that applied a MariaDB source by GTID cannot go on with ` +
      `a MySQL source's GTIDs; use a new channel, or resetReplica('${channel}') first`);
  }
  return MysqlGtidSet.parse(state ?? '');
}

/** Whether a GTID state is a MySQL GTID set (uuid:interval...), which a MariaDB position (d-s-n,...) never is. */
export function isMysqlGtidState(state: string | undefined): boolean {
  return state !== undefined && state.includes(':');
}

/**
 * Drops the events that belong to a statement the rules filtered out: IntVar, Rand and User_var carry only its
 * context, Begin_load_query and Append_block only its LOAD DATA file.
 */
function dropContext(events: DecodedEvent[]): void {
  while (events.length > 0 && STATEMENT_PARTS.has(events.at(-1)!.event.type)) events.pop();
}

const CONTEXT_EVENTS = new Set<DecodedEvent['event']['type']>(['intvar', 'rand', 'user_var']);
const STATEMENT_PARTS = new Set<DecodedEvent['event']['type']>([...CONTEXT_EVENTS, 'begin_load_query', 'append_block']);

// Events that come from the source's binlog and count for sql_slave_skip_counter; the relay log's own headers,
// Rotate and the binlog's bookkeeping events do not.
const SKIP_COUNTED = new Set<DecodedEvent['event']['type']>([
  'gtid', 'query', 'xid', 'rows', 'table_map', 'intvar', 'rand', 'user_var', 'unknown', 'execute_load_query',
  'begin_load_query', 'append_block', 'delete_file', 'legacy_load',
]);
