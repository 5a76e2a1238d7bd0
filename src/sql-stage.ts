// The SQL stage of one channel (the replica's SQL thread): reads the relay log as it grows, decodes events,
// groups them into source transactions and hands whole transactions to the applier in batches.
import type { Logger } from 'pino';
import { BinlogChecksumError, type BinlogDecoder } from './binlog/decoder.js';
import type { DecodedEvent } from './binlog/events.js';
import { compareChannelPositions, compareSourcePositions, type SourcePosition } from './binlog/position.js';
import { ApplyError, keepsTables, type Applier, type PreparedBatch, type TransactionGroup } from './apply/applier.js';
import type { ChannelPosition, PositionRow } from './info/position-table.js';
import {
  RelayLogCorruptError, RelayLogReadError, scanRelayFile, type RelayEvent, type RelayLog, type RelayPosition,
} from './relaylog/relay-log.js';
import { ErrorCodes, isConnectionError, mysqlFailure, ReplicationError } from './errors.js';
import type { EventFilter } from './filter/index.js';
import { TransactionGrouper, type UntilCondition } from './transaction-grouper.js';
import { sleep } from './sleep.js';
import { SqlState } from './status.js';
import type { ChannelStats } from './metrics/metrics.js';
import { failureError } from './log.js';

export { executedGtidSet, isMysqlGtidState, type UntilCondition } from './transaction-grouper.js';

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
  /** The engine's budget of batch bytes, shared by its running SQL stages (instead of maxBatchBytes). */
  batchBudget?: BatchBudget;
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

  /** The stage's loop: read -> decode -> group (filters, skip counter, UNTIL) -> delay -> batch -> apply. */
  private async run(stored: PositionRow | undefined): Promise<void> {
    const { relayLog, applier, logger } = this.options;
    const signal = this.abort.signal;
    this.stored = stored;
    // Events after the start decode with the format the file's head set.
    const { decoder } = await scanRelayFile(relayLog, this.position.relayLogFile, this.position.relayLogPos);
    applier.sourceVersion = decoder.format?.serverVersion;
    const grouper = new TransactionGrouper({
      ...this.options,
      onOpen: (timestamp) => {
        // Seconds_Behind_Master from the moment a transaction is read, before its batch goes to the target.
        this.applyingTimestamp ??= timestamp;
      },
      onDiscard: (at) => logger.warn({ at }, 'transaction without its end in the relay log; discarded'),
    }, this.position);
    const events = new RelayEvents(relayLog, decoder, logger, () => grouper.source,
      { file: this.position.relayLogFile, pos: this.position.relayLogPos });
    const batches = new Batches(this.options, (batch, prepared) => this.applyBatch(batch, prepared));
    const leaveBudget = this.options.batchBudget?.join();
    const caughtUp = new CatchUpLog(logger);
    const stopHere = async () => {
      await batches.flush();
      await this.saveBetween(grouper);
    };

    try {
      const met = grouper.metAtStart(this.position);
      if (met) {
        logger.info({ until: this.options.until }, met === 'position'
          ? 'SQL stage stopped because it reached its UNTIL position'
          : 'SQL stage stopped because its UNTIL GTID condition holds already');
        return;
      }
      while (!signal.aborted) {
        let event = events.take() ?? await events.next(false, signal);
        if (!event) {
          await stopHere();
          caughtUp.idle(this.position);
          event = await this.waitForRelayLog(events, grouper.inGroup, signal);
          if (!event) break;
        }
        const inner = event.decoded !== undefined;
        if (!inner && grouper.stopsBefore(event)) {
          logger.info({ until: this.options.until }, 'SQL stage stopped because it reached its UNTIL position');
          await stopHere();
          return;
        }
        const decoded = event.decoded ?? events.decode(event);
        if (decoded instanceof BinlogChecksumError) {
          await events.refetch({ file: event.file, pos: event.pos }, decoded.message);
          continue;
        }
        this.executedLogEntries++;
        const e = decoded.event;
        if (e.type === 'format_description') applier.sourceVersion = e.serverVersion;
        if (e.type === 'transaction_payload') events.unpack(event, e.events, inner);
        const step = grouper.feed(event, decoded, inner);
        if (step?.type === 'source-restarted') {
          await batches.flush();
          await this.retrying(() => applier.dropTemporaryTables());
        } else if (step?.type === 'until') {
          await stopHere();
          logger.info({ until: this.options.until, ...(step.gtid ? { gtid: step.gtid } : {}) },
            'SQL stage stopped because it reached its UNTIL GTID condition');
          return;
        } else if (step?.type === 'group') {
          const due = this.options.delaySeconds > 0 ? step.timestamp + this.options.delaySeconds : 0;
          if (due * 1000 > Date.now()) {
            await batches.flush();
            if (!await this.waitForDelay(due, signal)) break;
          }
          const handOver = batches.add(step.group, step.bytes);
          caughtUp.applied(batches.full);
          if (handOver) await batches.handOver();
          if (step.untilReached) {
            await stopHere();
            logger.info({ until: this.options.until }, 'SQL stage stopped because it reached its UNTIL GTID condition');
            return;
          }
        }
      }
    } finally {
      leaveBudget?.();
      try {
        await batches.settled();
      } finally {
        await events.close();
      }
    }
  }

  /** At the end of what is written: waits for the relay log to grow; null when the stage was stopped. */
  private async waitForRelayLog(events: RelayEvents, inGroup: boolean, signal: AbortSignal): Promise<StageEvent | null> {
    const { relayLog } = this.options;
    this.state = SqlState.waitingForRelayLog;
    this.applyingTimestamp = undefined;
    // Outside a transaction a new file would let this stage purge.
    relayLog.setReaderWaiting({ rotate: !inGroup && this.options.relayLogPurge });
    try {
      const next = await events.next(true, signal);
      if (next) this.state = SqlState.reading;
      return next;
    } finally {
      relayLog.setReaderWaiting(undefined);
    }
  }

  /** Saves the position after the last event read when no group is open (events between groups moved it). */
  private async saveBetween(grouper: TransactionGrouper): Promise<void> {
    const at = grouper.between;
    if (!at || grouper.inGroup) return;
    await this.retrying(() => this.options.applier.savePosition(at));
    this.committed(at);
    grouper.saved();
    await this.purge();
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

  /** Applies one batch, retrying it on a new connection after a transient error, then commits its position. */
  private async applyBatch(batch: TransactionGroup[], prepared?: PreparedBatch): Promise<void> {
    const { applier } = this.options;
    this.applyingTimestamp = batch[0]!.events[0]?.header.timestamp;
    const started = performance.now();
    let committed: ChannelPosition | undefined;
    await this.retrying(async () => {
      // After a reconnect, the groups the target committed already (its position row says so) are not applied again.
      const todo = batch.filter((g) => compareChannelPositions(g.start, this.position) >= 0);
      try {
        committed = await applier.apply(todo, (g) => this.ddlMaybeDone(g), prepared);
      } catch (err) {
        // The groups before the one that failed are committed.
        const failed = err instanceof ApplyError ? todo.indexOf(err.group) : -1;
        if (failed > 0) this.committed(todo[failed - 1]!.end);
        throw err;
      }
    });
    const seconds = (performance.now() - started) / 1000;
    const events = batch.reduce((n, g) => n + g.events.length, 0);
    this.options.stats.batchApplied(seconds, batch.length, events);
    this.options.logger.debug({ transactions: batch.length, events, from: batch[0]!.start, to: batch.at(-1)!.end,
      ms: Math.round(seconds * 1000) }, 'batch applied');
    this.committed(committed ?? this.position);
    await this.purge();
  }

  /** The DDL ending where the stored position row's DDL marker says may have taken effect already. */
  private ddlMaybeDone(group: TransactionGroup): boolean {
    return this.stored?.ddlEndSourceLogFile === group.end.sourceLogFile &&
      this.stored.ddlEndSourceLogPos === group.end.sourceLogPos;
  }

  /** relay_log_purge: the files before the one the applied position is in go. */
  private async purge(): Promise<void> {
    if (this.options.relayLogPurge) await this.options.relayLog.purgeBefore(this.position.relayLogFile);
  }

  /**
   * Runs work on the target, retrying it on a new connection after a transient error: a lost target is waited
   * for with growing pauses, up to targetRetryTimeout; a deadlock or lock wait timeout is retried up to
   * replica_transaction_retries times. The work must read the stage's position afresh on each attempt: a lost
   * connection may have gone before or after a COMMIT, and only the position row on the target, read again on a
   * working connection (Applier.open) and taken as the stage's position, says which.
   */
  private async retrying(work: () => Promise<void>): Promise<void> {
    const { applier, logger } = this.options;
    const signal = this.abort.signal;
    let lockRetries = 0;
    let lost: { since: number; attempts: number } | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt > 0) {
          this.stored = await applier.open();
          if (this.stored) this.committed(this.stored);
        }
        await work();
        if (lost) {
          logger.info({ attempts: lost.attempts }, 'reconnected to the target');
          this.targetLost = false;
          this.options.onRetrying(undefined);
        }
        return;
      } catch (err) {
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

/** The stage was stopped while it waited to retry: not an error. */
class StageStopped extends Error {}

/** The longest pause between attempts to reach a lost target. */
const MAX_TARGET_PAUSE_MS = 60_000;


/** A relay log event as the stage reads it; one of a transaction payload's comes decoded already. */
type StageEvent = RelayEvent & { decoded?: DecodedEvent };

/**
 * The relay log as the SQL stage reads it: its events in order, the events of a TRANSACTION_PAYLOAD right after
 * it (each at the payload's relay log entry and the source position after it, so that no position saved falls
 * inside the payload), and a damaged relay log (a torn or garbled event: a failed write, a crash, the disk) cut
 * where its whole events end, for the I/O stage to fetch the rest from the source again; the open group goes on
 * with the events fetched again.
 */
class RelayEvents {
  private readonly reader: ReturnType<RelayLog['reader']>;
  private readonly unpacked: StageEvent[] = [];
  // Where the relay log was last cut because of damage: damage found there again comes from the source.
  private refetchedAt: SourcePosition | undefined;

  constructor(private readonly relayLog: RelayLog, private readonly decoder: BinlogDecoder, private readonly logger: Logger,
    private readonly source: () => SourcePosition, start: RelayPosition) {
    this.reader = relayLog.reader(start);
  }

  /** The next event if it is already in memory, without a promise (most events of a backlog are). */
  take(): StageEvent | undefined {
    return this.unpacked.shift() ?? this.reader.take();
  }

  /** The next event; with `wait`, waits for the relay log to grow; null at its end, or when the stage stops. */
  async next(wait: boolean, signal: AbortSignal): Promise<StageEvent | null> {
    const inner = this.unpacked.shift();
    if (inner) return inner;
    for (;;) {
      try {
        return wait ? await this.reader.next(signal) : await this.reader.tryNext();
      } catch (err) {
        if (!(err instanceof RelayLogCorruptError)) throw err;
        await this.refetch({ file: err.file, pos: err.pos }, err.message);
      }
    }
  }

  /** The event decoded, or the checksum failure that says it is damaged (to refetch). */
  decode(event: RelayEvent): DecodedEvent | BinlogChecksumError {
    try {
      return this.decoder.decode(event.raw);
    } catch (err) {
      if (err instanceof BinlogChecksumError) return err;
      throw new RelayLogReadError(err, event.file, event.pos);
    }
  }

  /** A payload's events, to be read next (MySQL's applier too takes it apart). */
  unpack(payload: RelayEvent, events: Buffer[], inner: boolean): void {
    if (inner) throw new RelayLogReadError(new Error('a transaction payload inside a transaction payload'), payload.file, payload.pos);
    for (const raw of events) {
      let decoded: DecodedEvent;
      try {
        decoded = this.decoder.decode(raw, { checksum: false });
      } catch (err) {
        throw new RelayLogReadError(err, payload.file, payload.pos);
      }
      this.unpacked.push({ raw, file: payload.file, pos: payload.pos, endPos: payload.endPos, decoded });
    }
  }

  /** Cuts a damaged relay log at `at`; the same damage again at the same source position is what the source sends. */
  async refetch(at: RelayPosition, reason: string): Promise<void> {
    const source = this.source();
    if (this.refetchedAt && compareSourcePositions(this.refetchedAt, source) === 0) {
      throw new ReplicationError('ER_SLAVE_RELAY_LOG_READ_FAILURE', `Relay log read failure: the event at relay log ` +
        `${at.file}:${at.pos} is damaged (${reason}), also after fetching it again from the source at ` +
        `${source.file}:${source.pos}, so the source sends it so: check its binlog there (mariadb-binlog)`);
    }
    this.refetchedAt = source;
    this.logger.warn({ relayLog: at, source, reason }, `relay log damaged at ${at.file}:${at.pos} ` +
      `(${reason}): cut there; fetching again from the source at ${source.file}:${source.pos}`);
    await this.relayLog.cutAt(at, source);
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}

/**
 * Batches of groups for the applier: at most maxBatchGroups groups or maxBatchBytes bytes of events, ended early
 * by a DDL. One batch is applied while the next is read, decoded and, when the batch in flight holds rows only,
 * rendered ahead (the target's work and ours overlap). Batches still commit one after another, and one that fails
 * stops the stage before the next starts.
 */
class Batches {
  private batch: TransactionGroup[] = [];
  private bytes = 0;
  private applying: Promise<void> = Promise.resolve();
  // The batch in flight, while its apply has not finished, and whether it leaves the target's tables as they
  // were (rows only: no DDL, no statements), so that the next batch's SQL may be rendered against them now.
  private inFlight: { done: boolean; keepsTables: boolean } | undefined;
  private readonly maxGroups: number;

  constructor(private readonly options: SqlStageOptions,
    private readonly apply: (batch: TransactionGroup[], prepared?: PreparedBatch) => Promise<void>) {
    this.maxGroups = options.maxBatchGroups ?? 1000;
  }

  private get maxBytes(): number {
    return this.options.batchBudget?.share ?? this.options.maxBatchBytes ?? MAX_BATCH_BYTES;
  }

  /** The batch is full: a backlog is being applied. */
  get full(): boolean {
    return this.batch.length >= this.maxGroups || this.bytes >= this.maxBytes;
  }

  /** Adds a group of `bytes` event bytes; true when the batch is to be handed over now. */
  add(group: TransactionGroup, bytes: number): boolean {
    this.batch.push(group);
    this.bytes += bytes;
    return this.full || group.kind === 'ddl';
  }

  /** Starts applying the batch gathered, once the one in flight has committed. */
  async handOver(): Promise<void> {
    const next = this.batch;
    this.batch = [];
    this.bytes = 0;
    let prepared: PreparedBatch | undefined;
    if (next.length > 0 && this.inFlight && !this.inFlight.done && this.inFlight.keepsTables) {
      // The target applies the batch in flight while we render this one's SQL.
      prepared = await this.options.applier.prepare(next);
    }
    await this.applying;
    if (next.length > 0) {
      const flight = { done: false, keepsTables: next.every(keepsTables) };
      this.inFlight = flight;
      this.applying = this.apply(next, prepared).finally(() => { flight.done = true; });
      // Awaited by the next handOver or flush; until then its failure must not count as unhandled.
      this.applying.catch(() => undefined);
    }
  }

  /** Applies everything gathered and waits until it has committed. */
  async flush(): Promise<void> {
    await this.handOver();
    await this.applying;
  }

  /** The batch in flight, settled. */
  settled(): Promise<void> {
    return this.applying;
  }
}

/** Raw event bytes of one batch, at most: a batch is held twice (in flight, and the next one, rendered ahead). */
const MAX_BATCH_BYTES = 1 << 20;
/** A stage's share of a shared budget does not go below this: smaller batches would cost round trips. */
const MIN_BATCH_BYTES = 256 << 10;

/**
 * The batch bytes an engine's SQL stages hold at once. Each running stage batches up to an equal share of the
 * total (at most MAX_BATCH_BYTES, at least MIN_BATCH_BYTES), so that six channels hold about what four do, not
 * six times what one does: what a Node process holds, V8 lets its heap grow to a multiple of.
 */
export class BatchBudget {
  private stages = 0;

  constructor(private readonly total = 4 * MAX_BATCH_BYTES) {}

  /** A stage starts batching; the function returned says it has stopped. */
  join(): () => void {
    this.stages++;
    let left = false;
    return () => {
      if (!left) this.stages--;
      left = true;
    };
  }

  /** What one stage may batch now. */
  get share(): number {
    return Math.max(MIN_BATCH_BYTES, Math.min(MAX_BATCH_BYTES, Math.floor(this.total / Math.max(1, this.stages))));
  }
}

/**
 * The log says "caught up" when the stage reaches the end of the relay log having applied transactions: the
 * first time after its start, and after each backlog (a full batch handed over), not at every idle moment.
 */
class CatchUpLog {
  private caughtUp = false;
  private backlog = false;
  private appliedSince = false;

  constructor(private readonly logger: Logger) {}

  /** A group was batched; `full`: its batch is full. */
  applied(full: boolean): void {
    this.appliedSince = true;
    if (full) this.backlog = true;
  }

  /** The stage reached the end of the relay log, everything read applied up to `at`. */
  idle(at: ChannelPosition): void {
    if (!this.appliedSince || (this.caughtUp && !this.backlog)) return;
    this.logger.info({ applied: at }, `caught up: applied everything received, up to source position ` +
      `${at.sourceLogFile}:${at.sourceLogPos}`);
    this.caughtUp = true;
    this.backlog = false;
    this.appliedSince = false;
  }
}
