// The engine's Prometheus metrics. Counters the stages move on their hot paths are plain numbers here
// (ChannelStats); prom-client reads them, with each channel's status, when it is scraped.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ReplicaStatus } from '../status.js';

export type Stage = 'io' | 'sql';

/** What a channel's stages count, across their starts, for as long as the channel exists. */
export class ChannelStats {
  /** Bytes of events received from the source (heartbeats and ignored events included). */
  receivedBytes = 0;
  /** When the last event arrived, seconds since the epoch; 0 = none yet. */
  lastEventReceived = 0;
  appliedEvents = 0;
  appliedTransactions = 0;
  /** Errors by stage and errno: those a stage stopped on, and those it retried after. */
  readonly errors = new Map<string, { stage: Stage; errno: number; count: number }>();

  constructor(private readonly observeBatch: (seconds: number) => void) {}

  received(bytes: number): void {
    this.receivedBytes += bytes;
    this.lastEventReceived = Date.now() / 1000;
  }

  /** A batch committed on the target after `seconds`, with its source transactions and events. */
  batchApplied(seconds: number, transactions: number, events: number): void {
    this.appliedTransactions += transactions;
    this.appliedEvents += events;
    this.observeBatch(seconds);
  }

  failed(stage: Stage, errno: number): void {
    const key = `${stage} ${errno}`;
    const entry = this.errors.get(key) ?? { stage, errno, count: 0 };
    entry.count++;
    this.errors.set(key, entry);
  }
}

export interface ChannelView {
  status: ReplicaStatus;
  stats: ChannelStats;
}

const PREFIX = 'tributary_replica_';

/** One registry per engine, so that engines in one process (and tests) never share series. */
export class EngineMetrics {
  readonly registry = new Registry();
  private readonly batchSeconds: Histogram<'channel'>;

  constructor(channels: () => ChannelView[]) {
    const registers = [this.registry];
    /** A gauge whose values are read from each channel at scrape time; NaN (unknown) is left out. */
    const gauge = (name: string, help: string, value: (c: ChannelView) => number) => new Gauge({
      name: PREFIX + name, help, labelNames: ['channel'], registers,
      collect() {
        this.reset();
        for (const c of channels()) {
          const v = value(c);
          if (!Number.isNaN(v)) this.set({ channel: c.status.channel }, v);
        }
      },
    });
    const counter = (name: string, help: string, value: (c: ChannelView) => number) => new Counter({
      name: PREFIX + name, help, labelNames: ['channel'], registers,
      collect() {
        this.reset();
        for (const c of channels()) this.inc({ channel: c.status.channel }, value(c));
      },
    });
    gauge('io_running', 'Slave_IO_Running: 1 when the I/O stage is connected to the source, 0 when it is stopped or connecting.',
      (c) => c.status.ioRunning === 'Yes' ? 1 : 0);
    gauge('io_connecting', '1 while the I/O stage runs but is not connected (Slave_IO_Running: Connecting).',
      (c) => c.status.ioRunning === 'Connecting' ? 1 : 0);
    gauge('sql_running', 'Slave_SQL_Running: 1 when the SQL stage runs.', (c) => c.status.sqlRunning === 'Yes' ? 1 : 0);
    gauge('seconds_behind_source', 'Seconds_Behind_Master; absent while it is unknown (a stage stopped, the I/O stage not connected).',
      (c) => c.status.secondsBehindSource ?? NaN);
    gauge('relay_log_space_bytes', 'Relay_Log_Space: bytes of relay log files the channel holds.', (c) => c.status.relayLogSpace);
    gauge('read_source_log_pos', 'Read_Master_Log_Pos: position in the source binlog (Master_Log_File) the I/O stage has received up to.',
      (c) => c.status.readSourceLogPos);
    gauge('exec_source_log_pos', 'Exec_Master_Log_Pos: position in the source binlog (Relay_Master_Log_File) the SQL stage has applied up to.',
      (c) => c.status.execSourceLogPos);
    gauge('last_event_received_timestamp_seconds', 'When the I/O stage last received an event (heartbeats included), seconds since the epoch; absent before the first.',
      (c) => c.stats.lastEventReceived || NaN);
    counter('received_bytes_total', 'Bytes of binlog events received from the source.', (c) => c.stats.receivedBytes);
    counter('applied_events_total', 'Events applied on the target (after the filters).', (c) => c.stats.appliedEvents);
    counter('applied_transactions_total', 'Source transactions (event groups) committed on the target, filtered ones included.',
      (c) => c.stats.appliedTransactions);
    counter('retried_transactions_total', 'Retried_transactions: target transactions retried after a transient error or a lost target.',
      (c) => c.status.retriedTransactions);
    new Counter({
      name: `${PREFIX}errors_total`, labelNames: ['channel', 'stage', 'errno'], registers,
      help: 'Errors by stage (io, sql) and MySQL errno: those a stage stopped on and those it retried after.',
      collect() {
        this.reset();
        for (const c of channels()) {
          for (const e of c.stats.errors.values()) {
            this.inc({ channel: c.status.channel, stage: e.stage, errno: String(e.errno) }, e.count);
          }
        }
      },
    });
    this.batchSeconds = new Histogram({
      name: `${PREFIX}batch_apply_duration_seconds`, labelNames: ['channel'], registers,
      help: 'Time to apply and commit one batch of source transactions on the target.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
  }

  /** The counters of a channel, whose batches observe the histogram under its name. */
  channelStats(channel: string): ChannelStats {
    const histogram = this.batchSeconds.labels({ channel });
    return new ChannelStats((seconds) => histogram.observe(seconds));
  }

  /** A channel that is gone (RESET SLAVE ALL) leaves no series behind. */
  forget(channel: string): void {
    this.batchSeconds.remove({ channel });
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
