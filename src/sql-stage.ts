// The SQL stage of one channel (the replica's SQL thread): reads the relay log as it grows, decodes events,
// groups them into source transactions and hands whole transactions to the applier in batches.
import type { Logger } from 'pino';
import { BinlogChecksumError } from './binlog/decoder.js';
import { EventType, type DecodedEvent } from './binlog/events.js';
import { StatementFilterError, type EventFilter, type StatementEvent } from './filter/index.js';
import { compareSourcePositions, SourcePositionTracker, type SourcePosition } from './binlog/position.js';
import { ApplyError, keepsTables, type Applier, type PreparedBatch, type TransactionGroup } from './apply/applier.js';
import { commitsImplicitly, firstKeyword } from './apply/statement-kind.js';
import type { ChannelPosition, PositionRow } from './info/position-table.js';
import {
  RelayLogCorruptError, RelayLogReadError, scanRelayFile, type RelayEvent, type RelayLog, type RelayPosition,
} from './relaylog/relay-log.js';
import { ErrorCodes, isConnectionError, mysqlFailure, ReplicationError } from './errors.js';
import { GTID_LIST_IGN_GTIDS, GTID_LIST_UNTIL_REACHED, MariadbGtidPosition, type MariadbGtid } from './gtid/mariadb-gtid.js';
import { MysqlGtidSet, type MysqlGtid } from './gtid/mysql-gtid-set.js';
import { untilGtidsDecision, untilGtidsMet, type GtidUntil } from './gtid/until-gtids.js';
import { sleep } from './sleep.js';
import { SqlState } from './status.js';
import type { ChannelStats } from './metrics/metrics.js';
import { failureError } from './log.js';

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

export interface SqlStageCounters {
  /** sql_slave_skip_counter: events still to skip. */
  skip: number;
  /** Retried_transactions. */
  retriedTransactions: number;
}

export interface SqlStageOptions {
  relayLog: RelayLog;
  applier: Applier;
  logger: Logger;
  /** The channel's counters: what was applied, errors, batch latency. */
  stats: ChannelStats;
  /** This replica's server_id: Format_description events with it are the relay log's own headers. */
  replicaServerId: number;
  /** Groups per target transaction, at most. */
  maxBatchGroups?: number;
  /** Raw event bytes per target transaction, at most. */
  maxBatchBytes?: number;
  /** Retries of a transaction that failed with a deadlock or lock wait timeout (replica_transaction_retries). */
  transactionRetries: number;
  /** Seconds to keep reconnecting to a target that cannot be reached before stopping with the error; 0 = no limit. */
  targetRetryTimeout: number;
  /** The channel's name, for the commands an error message names. */
  channel: string;
  relayLogPurge: boolean;
  /** The channel's replicate-* rules. */
  filter: EventFilter;
  /** START SLAVE UNTIL: stop before the first event group that starts at or after this position. */
  until?: UntilCondition;
  /** MASTER_DELAY, seconds. */
  delaySeconds: number;
  /** Counters the channel keeps across starts of the stage; the stage updates them. */
  counters: SqlStageCounters;
  /** Called after each commit (positions moved), e.g. to mirror relay-log.info. */
  onProgress: (position: ChannelPosition) => void;
  /** Called when the stage stops on its own after an error. */
  onError: (errno: number, message: string) => void;
  /** Called when the stage has stopped, for whatever reason. */
  onStop?: () => void;
  /**
   * Called with the reason while the stage waits for a target it lost (Last_SQL_Errno and Last_SQL_Error
   * meanwhile), and with undefined once it has the target back.
   */
  onRetrying: (failure: { errno: number; message: string } | undefined) => void;
}

interface OpenGroup {
  events: DecodedEvent[];
  start: ChannelPosition;
  timestamp: number;
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

interface Waiter {
  target: SourcePosition;
  eventsAtStart: number;
  resolve: (value: number | null) => void;
}

export class SqlStage {
  running = false;
  executedLogEntries = 0;
  /** Header timestamp of the transaction being applied, for Seconds_Behind_Master; undefined when idle. */
  applyingTimestamp: number | undefined;
  /** While a transaction waits for MASTER_DELAY: when it may be applied, seconds since the epoch. */
  delayUntil: number | undefined;
  /** The last position applied: what Relay_Log_File/Pos, Relay_Master_Log_File and Exec_Master_Log_Pos show. */
  position: ChannelPosition;

  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private waiters: Waiter[] = [];
  private activity = '';
  /** The target is lost and the stage waits to reconnect, whatever the rest of it is doing meanwhile. */
  private targetLost = false;
  /**
   * The position row read last (at the start, and again at each reconnect): its DDL marker says that the DDL
   * ending there may have taken effect already, its answer lost with the connection or the process.
   */
  private stored: PositionRow | undefined;

  constructor(private readonly options: SqlStageOptions, start: ChannelPosition) {
    this.position = start;
  }

  /** Slave_SQL_State. */
  get state(): string {
    return this.targetLost ? SqlState.waitingForTarget : this.activity;
  }

  set state(value: string) {
    this.activity = value;
  }

  start(stored: PositionRow | undefined): void {
    this.abort = new AbortController();
    this.running = true;
    this.state = SqlState.reading;
    this.loop = this.run(stored).catch((err: unknown) => {
      if (err instanceof StageStopped) return;
      // The advice names the position the stage stopped at, known once the batch in flight has ended.
      const failure = err instanceof RelayLogReadError
        ? { errno: ErrorCodes.ER_SLAVE_RELAY_LOG_READ_FAILURE, message: err.advise(this.options.channel, this.position) }
        : mysqlFailure(err, 'ER_SLAVE_FATAL_ERROR');
      this.options.logger.error({ err: failureError(failure, err), at: this.position }, 'SQL stage stopped with an error');
      this.options.stats.failed('sql', failure.errno);
      this.options.onError(failure.errno, failure.message);
    }).finally(() => {
      this.running = false;
      this.targetLost = false;
      this.state = '';
      this.applyingTimestamp = undefined;
      for (const waiter of this.waiters.splice(0)) waiter.resolve(null);
      this.options.onStop?.();
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** MASTER_POS_WAIT: events waited for, -1 on timeout, null when the stage is not running or stops. */
  waitForSourcePosition(target: SourcePosition, timeoutSeconds: number): Promise<number | null> {
    if (!this.running) return Promise.resolve(null);
    if (this.reached(target)) return Promise.resolve(0);
    return new Promise((resolve) => {
      const waiter: Waiter = { target, eventsAtStart: this.executedLogEntries, resolve: () => undefined };
      const timer = timeoutSeconds > 0
        ? setTimeout(() => finish(-1), timeoutSeconds * 1000)
        : undefined;
      const finish = (value: number | null) => {
        if (timer) clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(value);
      };
      waiter.resolve = finish;
      this.waiters.push(waiter);
    });
  }

  private reached(target: SourcePosition): boolean {
    const at = { file: this.position.sourceLogFile, pos: this.position.sourceLogPos };
    return compareSourcePositions(at, target) >= 0;
  }

  private committed(position: ChannelPosition): void {
    this.position = position;
    this.options.onProgress(position);
    for (const waiter of [...this.waiters]) {
      if (this.reached(waiter.target)) waiter.resolve(this.executedLogEntries - waiter.eventsAtStart);
    }
  }

  private async run(stored: PositionRow | undefined): Promise<void> {
    const { relayLog, applier, filter } = this.options;
    const signal = this.abort.signal;
    const tracker = new SourcePositionTracker({ file: this.position.sourceLogFile, pos: this.position.sourceLogPos });
    // Events after the start decode with the format the file's head set.
    const { decoder } = await scanRelayFile(relayLog, this.position.relayLogFile, this.position.relayLogPos);
    applier.sourceVersion = decoder.format?.serverVersion;
    const reader = relayLog.reader({ file: this.position.relayLogFile, pos: this.position.relayLogPos });
    this.stored = stored;
    const ddlMaybeDone = (group: TransactionGroup) => this.stored?.ddlEndSourceLogFile === group.end.sourceLogFile &&
      this.stored.ddlEndSourceLogPos === group.end.sourceLogPos;
    const maxGroups = this.options.maxBatchGroups ?? 1000;
    const maxBytes = this.options.maxBatchBytes ?? 2 << 20;

    const database = filter.database.bind(filter);
    let group: OpenGroup | undefined;
    let batch: TransactionGroup[] = [];
    let batchBytes = 0;
    // The position after the last event read, when no transaction is open: saved when idle.
    let between: ChannelPosition | undefined;
    // The MariaDB GTID state of what has been read up to here, kept with every position (its text formatted once
    // per change, not per event). Read from the stored text when a MariaDB GTID first moves it: until then a
    // channel that meets none (a MySQL source) leaves the stored state as it is.
    let gtidText = this.position.gtidState;
    let gtid: MariadbGtidPosition | undefined;
    const gtidMoved = (move: (from: MariadbGtidPosition) => MariadbGtidPosition) => {
      gtid = move(gtid ?? MariadbGtidPosition.parse(gtidText ?? ''));
      gtidText = gtid.toString();
    };
    // The log says "caught up" when the stage reaches the end of the relay log having applied transactions: the
    // first time after its start, and after each backlog (a full batch handed over), not at every idle moment.
    let caughtUp = false;
    let backlog = false;
    let appliedSince = false;
    // A MySQL source's GTIDs: the executed set (MySQL's gtid_executed, the channel's own), in the same text.
    let executed: MysqlGtidSet | undefined;
    const mysqlExecuted = () => executed ??= executedGtidSet(gtidText, this.options.channel);
    const gtidUntil = mysqlGtidUntil(this.options.until);
    // The events of the TRANSACTION_PAYLOAD read last, still to apply. Each stands at the payload's relay log
    // entry and the source position after it, so that no position saved falls inside the payload.
    const unpacked: { event: RelayEvent; decoded: DecodedEvent }[] = [];

    const here = (event: RelayEvent, at: 'start' | 'end'): ChannelPosition => ({
      relayLogFile: event.file,
      relayLogPos: at === 'start' ? event.pos : event.endPos,
      sourceLogFile: tracker.file,
      sourceLogPos: tracker.pos,
      gtidState: gtidText,
    });
    const open = (event: RelayEvent, decoded: DecodedEvent): OpenGroup => {
      if (group) {
        this.options.logger.warn({ at: group.start }, 'transaction without its end in the relay log; discarded');
      }
      // Seconds_Behind_Master from the moment a transaction is read, before its batch goes to the target.
      this.applyingTimestamp ??= decoded.header.timestamp;
      return { events: [], start: here(event, 'start'), timestamp: decoded.header.timestamp, begun: false, bytes: 0,
        skipped: false };
    };
    const close = (event: RelayEvent, kind: TransactionGroup['kind'], rollback: boolean): TransactionGroup => {
      const g = group!;
      group = undefined;
      if (g.gtid) gtidMoved((from) => from.with(g.gtid!));
      if (g.mysqlGtid && !mysqlExecuted().contains(g.mysqlGtid)) gtidText = mysqlExecuted().add(g.mysqlGtid).toString();
      // A group the skip counter entered applies nothing but still moves the position.
      const closed: TransactionGroup = { kind: g.skipped ? 'transaction' : kind, events: g.skipped ? [] : g.events,
        start: g.start, end: here(event, 'end'), rollback: rollback && !g.skipped, database };
      batchBytes += g.bytes;
      between = undefined;
      return closed;
    };
    // The batch being applied while the next one is read and decoded: the target's work and ours overlap.
    // Batches still commit one after another, and one that fails stops the stage before the next starts.
    let applying: Promise<void> = Promise.resolve();
    // The batch in flight, while its apply has not finished, and whether it leaves the target's tables as they
    // were (rows only: no DDL, no statements), so that the next batch's SQL may be rendered against them now.
    let inFlight: { done: boolean; keepsTables: boolean } | undefined;
    const handOver = async () => {
      const next = batch;
      batch = [];
      batchBytes = 0;
      let prepared: PreparedBatch | undefined;
      if (next.length > 0 && inFlight && !inFlight.done && inFlight.keepsTables) {
        // The target applies the batch in flight while we render this one's SQL.
        prepared = await applier.prepare(next);
      }
      await applying;
      if (next.length > 0) {
        const flight = { done: false, keepsTables: next.every(keepsTables) };
        inFlight = flight;
        applying = this.applyBatch(next, ddlMaybeDone, prepared).finally(() => { flight.done = true; });
        // Awaited by the next handOver or flush; until then its failure must not count as unhandled.
        applying.catch(() => undefined);
      }
    };
    /**
     * A Query or Execute_load_query event: kept when neither the skip counter nor the rules drop it, and the end
     * of its group unless the group began with BEGIN.
     */
    const statement = (event: RelayEvent, decoded: DecodedEvent, e: StatementEvent, skipping: boolean,
      ddl: boolean): { kind: TransactionGroup['kind']; rollback: boolean } | undefined => {
      const g = group ??= open(event, decoded);
      const applied = !skipping && !g.skipped && this.judge(e, tracker);
      if (applied) g.events.push(decoded);
      else dropContext(g.events);
      return g.begun ? undefined : { kind: applied && ddl ? 'ddl' : 'transaction', rollback: false };
    };
    const flush = async () => {
      await handOver();
      await applying;
    };
    const saveBetween = async () => {
      if (!between || group) return;
      const at = between;
      await this.retrying(() => applier.savePosition(at));
      this.committed(at);
      between = undefined;
      await this.purge();
    };
    // Where the relay log was last cut because of damage: damage found there again comes from the source.
    let refetchedAt: SourcePosition | undefined;
    /**
     * A damaged relay log (a torn or garbled event: a failed write, a crash, the disk): it is cut where its
     * whole events end, and the I/O stage fetches the rest from the source again; the open group goes on with
     * the events fetched again. The same damage again at the same source position is what the source sends.
     */
    const refetch = async (at: RelayPosition, reason: string): Promise<void> => {
      const source = tracker.position();
      if (refetchedAt && compareSourcePositions(refetchedAt, source) === 0) {
        throw Object.assign(new Error(`Relay log read failure: the event at relay log ${at.file}:${at.pos} is damaged ` +
          `(${reason}), also after fetching it again from the source at ${source.file}:${source.pos}, so the source ` +
          'sends it so: check its binlog there (mariadb-binlog)'), { errno: 1594 });
      }
      refetchedAt = source;
      this.options.logger.warn({ relayLog: at, source, reason }, `relay log damaged at ${at.file}:${at.pos} ` +
        `(${reason}): cut there; fetching again from the source at ${source.file}:${source.pos}`);
      await relayLog.cutAt(at, source);
    };
    const read = async (wait: boolean): Promise<RelayEvent | null> => {
      for (;;) {
        try {
          return wait ? await reader.next(signal) : await reader.tryNext();
        } catch (err) {
          if (!(err instanceof RelayLogCorruptError)) throw err;
          await refetch({ file: err.file, pos: err.pos }, err.message);
        }
      }
    };

    try {
      if (this.untilReached({ file: tracker.file, pos: tracker.pos }, this.position)) return;
      // MySQL stops at once when the condition holds already, with nothing to apply.
      if (gtidUntil && untilGtidsMet(gtidUntil, mysqlExecuted())) {
        this.options.logger.info({ until: this.options.until }, 'SQL stage stopped because its UNTIL GTID condition holds already');
        return;
      }
      while (!signal.aborted) {
        const inner = unpacked.shift();
        let event = inner?.event ?? reader.take() ?? await read(false);
        if (!event) {
          await flush();
          await saveBetween();
          if (appliedSince && (!caughtUp || backlog)) {
            const at = this.position;
            this.options.logger.info({ applied: at }, `caught up: applied everything received, up to source position ` +
              `${at.sourceLogFile}:${at.sourceLogPos}`);
            caughtUp = true;
            backlog = false;
            appliedSince = false;
          }
          this.state = SqlState.waitingForRelayLog;
          this.applyingTimestamp = undefined;
          // At the end of what is written; outside a transaction a new file would let this stage purge.
          relayLog.setReaderWaiting({ rotate: group === undefined && this.options.relayLogPurge });
          try {
            event = await read(true);
          } finally {
            relayLog.setReaderWaiting(undefined);
          }
          if (!event) break;
          this.state = SqlState.reading;
        }
        if (!inner && !group && this.untilReached({ file: tracker.file, pos: tracker.pos }, here(event, 'start'))) {
          await flush();
          await saveBetween();
          return;
        }
        let decoded: DecodedEvent;
        try {
          decoded = inner?.decoded ?? decoder.decode(event.raw);
        } catch (err) {
          if (err instanceof BinlogChecksumError) {
            await refetch({ file: event.file, pos: event.pos }, err.message);
            continue;
          }
          throw new RelayLogReadError(err, event.file, event.pos);
        }
        this.executedLogEntries++;
        const { header, event: e } = decoded;
        let ends: { kind: TransactionGroup['kind']; rollback: boolean } | undefined;
        let untilGtidReached = false;
        const skipping = this.options.counters.skip > 0 && SKIP_COUNTED.has(e.type);

        switch (e.type) {
          case 'rotate':
            if (group && (e.nextFile !== tracker.file || Number(e.position) !== tracker.pos)) {
              // The I/O stage restarted from another position: what was read of this group will come again.
              group = undefined;
            }
            break;
          case 'format_description':
            applier.sourceVersion = e.serverVersion;
            // The header of a binlog its source began at startup: the source restarted, and with it every
            // session whose temporary tables the applier holds (the copy a relay log file repeats after a
            // rotation sits elsewhere than at position 4).
            if (header.serverId !== this.options.replicaServerId && e.createTimestamp !== 0 && tracker.pos === 4) {
              await flush();
              await this.retrying(() => applier.dropTemporaryTables());
            }
            break;
          case 'gtid_list':
            // FLAG_IGN_GTIDS: groups the I/O stage did not write (domain or server id filters) count as done; only
            // the I/O stage's own list says so.
            if (!group && header.serverId === this.options.replicaServerId && ((e.flags ?? 0) & GTID_LIST_IGN_GTIDS) !== 0) {
              gtidMoved((from) => from.withAll(e.gtids));
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
            break;
          case 'gtid':
            group = open(event, decoded);
            group.events.push(decoded);
            if (e.flavor === 'mariadb') group.gtid = { domainId: e.domainId, serverId: e.serverId, seqNo: e.seqNo };
            if (e.flavor === 'mariadb' && !e.standalone) group.begun = true;
            if (e.flavor === 'mysql' && !e.anonymous) {
              const next: MysqlGtid = { uuid: e.uuid, ...(e.tag ? { tag: e.tag } : {}), gno: e.gno };
              const decision = untilGtidsDecision(gtidUntil, mysqlExecuted(), next);
              if (decision === 'stop-before') {
                group = undefined;
                await flush();
                await saveBetween();
                this.options.logger.info({ until: this.options.until, gtid: next }, 'SQL stage stopped because it reached its UNTIL GTID condition');
                return;
              }
              group.mysqlGtid = next;
              // MySQL's auto-skip: a transaction already executed (received again) is not applied twice.
              if (decision === 'skip') group.skipped = true;
              if (decision === 'apply-then-stop') group.lastUntil = true;
            }
            break;
          case 'query': {
            const keyword = firstKeyword(e.sql);
            if (keyword === 'BEGIN' || (keyword === 'XA' && /^\s*XA\s+START/i.test(e.sql.toString('latin1', 0, 32)))) {
              if (!group) group = open(event, decoded);
              group.begun = true;
            } else if (keyword === 'COMMIT' || (keyword === 'XA' && /^\s*XA\s+(END|COMMIT)/i.test(e.sql.toString('latin1', 0, 32)))) {
              if (group) ends = { kind: 'transaction', rollback: false };
            } else if (keyword === 'ROLLBACK') {
              if (group) ends = { kind: 'transaction', rollback: true };
            } else {
              ends = statement(event, decoded, e, skipping, commitsImplicitly(e.sql));
            }
            break;
          }
          case 'execute_load_query':
            ends = statement(event, decoded, e, skipping, false);
            break;
          case 'xid':
            if (group) ends = { kind: 'transaction', rollback: false };
            break;
          case 'transaction_payload':
            // MySQL's applier too takes the payload apart and applies its events one by one: filters, the skip
            // counter, UNTIL and the delay meet them as they meet those of an uncompressed transaction.
            if (inner) {
              throw new RelayLogReadError(new Error('a transaction payload inside a transaction payload'), event.file, event.pos);
            }
            for (const raw of e.events) {
              let decodedInner: DecodedEvent;
              try {
                decodedInner = decoder.decode(raw, { checksum: false });
              } catch (err) {
                throw new RelayLogReadError(err, event.file, event.pos);
              }
              unpacked.push({ event: { raw, file: event.file, pos: event.pos, endPos: event.endPos }, decoded: decodedInner });
            }
            break;
          case 'unknown':
            if (header.typeCode === EventType.IGNORABLE || (header.flags & 0x80) !== 0) break;
            throw Object.assign(new Error(`unsupported event type ${header.typeCode} at relay log ${event.file}:` +
              `${event.pos} (source ${tracker.file}:${tracker.pos})`), { errno: 1593 });
          case 'rows': {
            group ??= open(event, decoded);
            const kept = filter.rows(e);
            if (kept) group.events.push(kept === e ? decoded : { header, event: kept });
            if (e.statementEnd && !group.begun) ends = { kind: 'transaction', rollback: false };
            break;
          }
          default:
            group ??= open(event, decoded);
            group.events.push(decoded);
        }
        if (skipping) {
          if (group) group.skipped = true;
          this.countSkip(e.type, group !== undefined && ends === undefined);
        }
        if (group) group.bytes += event.raw.length;
        // The payload's own header moved the source position past all of it.
        if (!inner) tracker.advance(header, e);
        if (ends && group) {
          if (group.lastUntil) untilGtidReached = true;
          const closed = close(event, ends.kind, ends.rollback);
          const due = this.options.delaySeconds > 0 ? header.timestamp + this.options.delaySeconds : 0;
          if (due * 1000 > Date.now()) {
            await flush();
            if (!await this.waitForDelay(due, signal)) break;
          }
          batch.push(closed);
          appliedSince = true;
        } else if (!group) {
          between = here(event, 'end');
        }
        if (untilGtidReached) {
          await flush();
          await saveBetween();
          this.options.logger.info({ until: this.options.until }, 'SQL stage stopped because it reached its UNTIL GTID condition');
          return;
        }
        if (batch.length >= maxGroups || batchBytes >= maxBytes) backlog = true;
        if (batch.length >= maxGroups || batchBytes >= maxBytes || batch.at(-1)?.kind === 'ddl') await handOver();
      }
    } finally {
      try {
        await applying;
      } finally {
        await reader.close();
      }
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

  /** START SLAVE UNTIL: whether the next event, at `source` / `relay`, lies at or past the UNTIL position. */
  private untilReached(source: SourcePosition, relay: { relayLogFile: string; relayLogPos: number }): boolean {
    const until = this.options.until;
    if (!until) return false;
    // The source itself ends a GTID until (GTID_LIST_UNTIL_REACHED); MySQL GTID sets are judged per transaction.
    if (!('sourceLogFile' in until) && !('relayLogFile' in until)) return false;
    const reached = 'sourceLogFile' in until
      ? compareSourcePositions(source, { file: until.sourceLogFile, pos: until.sourceLogPos }) >= 0
      : compareRelayPositions(relay, until) >= 0;
    if (reached) this.options.logger.info({ until }, 'SQL stage stopped because it reached its UNTIL position');
    return reached;
  }

  /** MASTER_DELAY: waits until `due` (seconds since the epoch); false when the stage was stopped meanwhile. */
  private async waitForDelay(due: number, signal: AbortSignal): Promise<boolean> {
    this.state = SqlState.waitingForDelay;
    this.delayUntil = due;
    try {
      await sleep(due * 1000 - Date.now(), signal);
    } finally {
      this.delayUntil = undefined;
      this.state = SqlState.reading;
    }
    return !signal.aborted;
  }

  /** Whether the channel's rules let a statement through; a statement they cannot judge stops the stage. */
  private judge(event: StatementEvent, at: SourcePositionTracker): boolean {
    try {
      return this.options.filter.statement(event).apply;
    } catch (err) {
      if (!(err instanceof StatementFilterError)) throw err;
      throw Object.assign(new Error(`Error in query '${err.statement.slice(0, 200)}' at source position ` +
        `${at.file}:${at.pos}: ${err.message}`), { errno: 1593 });
    }
  }

  private async applyBatch(batch: TransactionGroup[], ddlMaybeDone: (g: TransactionGroup) => boolean,
    prepared?: PreparedBatch): Promise<void> {
    const { applier } = this.options;
    this.applyingTimestamp = batch[0]!.events[0]?.header.timestamp;
    const started = performance.now();
    await this.retrying(() => applier.apply(batch.filter((g) => compareChannel(g.start, applier.committed) >= 0),
      ddlMaybeDone, prepared));
    const seconds = (performance.now() - started) / 1000;
    const events = batch.reduce((n, g) => n + g.events.length, 0);
    this.options.stats.batchApplied(seconds, batch.length, events);
    this.options.logger.debug({ transactions: batch.length, events, from: batch[0]!.start, to: batch.at(-1)!.end,
      ms: Math.round(seconds * 1000) }, 'batch applied');
    this.committed(applier.committed!);
    await this.purge();
  }

  /** relay_log_purge: the files before the one the applied position is in go. */
  private async purge(): Promise<void> {
    if (this.options.relayLogPurge) await this.options.relayLog.purgeBefore(this.position.relayLogFile);
  }

  /**
   * Runs work on the target, retrying it on a new connection after a transient error: a lost target is waited
   * for with growing pauses, up to targetRetryTimeout; a deadlock or lock wait timeout is retried up to
   * replica_transaction_retries times. The work must read the applier's committed position afresh on each
   * attempt: a lost connection may have gone before or after a COMMIT, and only the position row on the target,
   * read again on a working connection (Applier.open), says which.
   */
  private async retrying(work: () => Promise<void>): Promise<void> {
    const { applier, logger } = this.options;
    const signal = this.abort.signal;
    let lockRetries = 0;
    let lost: { since: number; attempts: number } | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt > 0) this.stored = await applier.open();
        await work();
        if (lost) {
          logger.info({ attempts: lost.attempts }, 'reconnected to the target');
          this.targetLost = false;
          this.options.onRetrying(undefined);
        }
        return;
      } catch (err) {
        if (applier.committed) this.committed(applier.committed);
        const failure = mysqlFailure(err, 'ER_SLAVE_FATAL_ERROR');
        let pause: number;
        if (isConnectionError(failure.errno)) {
          // A stop that dropped the connection of a round trip in flight: not an error.
          if (signal.aborted) throw new StageStopped();
          lost ??= { since: Date.now(), attempts: 0 };
          const limit = this.options.targetRetryTimeout * 1000;
          const waited = Date.now() - lost.since;
          if (limit > 0 && waited >= limit) {
            throw new ReplicationError(failure, `${failure.message} (gave up after ${Math.round(waited / 1000)} s: ` +
              'targetRetryTimeout)', { cause: err });
          }
          // At once first (a killed connection reconnects right away), then from 1 s doubling up to a minute.
          pause = lost.attempts === 0 ? 0 : Math.min(MAX_TARGET_PAUSE_MS, 1000 * 2 ** (lost.attempts - 1));
          if (limit > 0) pause = Math.min(pause, limit - waited);
          lost.attempts++;
          this.targetLost = true;
          this.options.onRetrying({ errno: failure.errno, message: failure.message });
          logger.warn({ err: failureError(failure, err), attempt: lost.attempts, pauseMs: pause }, 'lost the target; reconnecting');
        } else if (err instanceof ApplyError && err.transient && lockRetries < this.options.transactionRetries) {
          lockRetries++;
          pause = Math.min(1000, 50 * 2 ** (lockRetries - 1));
          logger.warn({ err: failureError(failure, err), attempt: lockRetries }, 'transient target error; retrying');
        } else {
          throw err;
        }
        this.options.counters.retriedTransactions++;
        this.options.stats.failed('sql', failure.errno);
        await sleep(pause, signal);
        if (signal.aborted) throw new StageStopped();
      }
    }
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

/** The stage was stopped while it waited to retry: not an error. */
class StageStopped extends Error {}

/** The longest pause between attempts to reach a lost target. */
const MAX_TARGET_PAUSE_MS = 60_000;

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

/** Relay log positions in file order: files compare by their sequence number. */
function compareRelayPositions(a: { relayLogFile: string; relayLogPos: number }, b: { relayLogFile: string; relayLogPos: number }): number {
  const seq = (file: string) => Number(file.slice(file.lastIndexOf('.') + 1));
  return seq(a.relayLogFile) - seq(b.relayLogFile) || a.relayLogPos - b.relayLogPos;
}

/**
 * Orders channel positions by their relay log position, which only grows while the stage runs (source
 * positions do not: a GTID channel moved to another source goes on in that source's files); an unknown
 * position sorts first.
 */
function compareChannel(a: ChannelPosition, b: ChannelPosition | undefined): number {
  if (!b) return 1;
  return compareRelayPositions(a, b);
}
