// Catch-up progress of `tributary run` on a terminal: one bar per channel while it has relay log left to apply,
// or while it is provisioned (tables copied of all, rows, bytes, time left: the provision* status fields).
// What is behind is what the channel has received and not applied: bytes (Relay_Log_Space minus the applied
// part of the current relay log file) and transactions (RelayTransactionCounter); the source's binlog not yet
// received is not known without asking the source.
import cliProgress from 'cli-progress';
import type { ProvisionState, ReplicaStatus } from '../status.js';

export interface CatchUpSample {
  /** Bytes received from the source and not applied yet. */
  behindBytes: number;
  /** Events applied so far (Executed_log_entries). */
  appliedEvents: number;
  /** Transactions received and not applied, and those applied so far, when the source writes GTIDs. */
  transactions?: { behind: number; applied: number };
  /** Milliseconds since the epoch. */
  at: number;
}

export function catchUpSample(status: ReplicaStatus, at: number, transactions?: CatchUpSample['transactions']): CatchUpSample {
  return { behindBytes: Math.max(0, status.relayLogSpace - status.relayLogPos), appliedEvents: status.executedLogEntries,
    ...(transactions ? { transactions } : {}), at };
}

/** Rates as a channel drains its backlog: smoothed so that one slow batch does not swing the time left. */
export class CatchUpRate {
  private last: CatchUpSample | undefined;
  /** Net bytes per second the backlog shrinks by (negative while the source writes faster than we apply). */
  bytesPerSecond: number | undefined;
  eventsPerSecond: number | undefined;
  transactionsPerSecond: number | undefined;

  add(sample: CatchUpSample): void {
    const last = this.last;
    this.last = sample;
    if (!last || sample.at <= last.at) return;
    const seconds = (sample.at - last.at) / 1000;
    const smooth = (old: number | undefined, now: number) => old === undefined ? now : old * 0.7 + now * 0.3;
    this.bytesPerSecond = smooth(this.bytesPerSecond, (last.behindBytes - sample.behindBytes) / seconds);
    this.eventsPerSecond = smooth(this.eventsPerSecond, (sample.appliedEvents - last.appliedEvents) / seconds);
    if (sample.transactions && last.transactions) {
      this.transactionsPerSecond = smooth(this.transactionsPerSecond, (sample.transactions.applied - last.transactions.applied) / seconds);
    }
  }

  /** Seconds until nothing is behind at the current rate; undefined when it is not shrinking. */
  secondsLeft(behindBytes: number): number | undefined {
    return this.bytesPerSecond !== undefined && this.bytesPerSecond > 0 ? behindBytes / this.bytesPerSecond : undefined;
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

/** The line of one channel: name, bar, bytes behind, rates and time left. */
export function progressLine(channel: string, backlog: number, sample: CatchUpSample, rate: CatchUpRate, width = 24): string {
  const done = backlog > 0 ? Math.min(1, Math.max(0, (backlog - sample.behindBytes) / backlog)) : 1;
  const filled = Math.round(done * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  const bytesRate = rate.bytesPerSecond === undefined ? '--' : `${formatBytes(Math.round(rate.bytesPerSecond))}/s`;
  const perSecond = (value: number | undefined, what: string) => value === undefined ? `-- ${what}/s` : `${Math.round(value)} ${what}/s`;
  const work = sample.transactions
    ? `${sample.transactions.behind} transactions behind | ${perSecond(rate.transactionsPerSecond, 'transactions')}`
    : perSecond(rate.eventsPerSecond, 'events');
  return `${channel} [${bar}] ${Math.floor(done * 100)}% | ${formatBytes(sample.behindBytes)} behind | ${bytesRate} | ` +
    `${work} | ${formatDuration(rate.secondsLeft(sample.behindBytes))} left`;
}

/** The line of a channel being provisioned: the bar counts tables, as the source's row counts are estimates. */
export function provisionLine(status: ReplicaStatus, width = 24): string {
  const total = status.provisionTablesTotal;
  const filled = total > 0 ? Math.round((status.provisionTablesDone / total) * width) : 0;
  return `${status.channel} provisioning [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` +
    `${status.provisionTablesDone}/${total} tables | ${status.provisionRowsCopied} rows | ` +
    `${formatBytes(status.provisionBytesCopied)} | ${status.provisionState} | ` +
    `${formatDuration(status.provisionSecondsLeft ?? undefined)} left`;
}

/** The states of a provisioning under way. */
const PROVISIONING: readonly ProvisionState[] = ['snapshot', 'catching up', 'copying', 'verifying'];

/** A channel shows a bar from this much behind: below it, a steady flow would make bars come and go. */
export const MIN_BACKLOG = 1 << 20;

interface ChannelBar {
  bar: cliProgress.SingleBar;
  /** The most bytes behind seen since the bar appeared: the 0% of the bar. */
  backlog: number;
  rate: CatchUpRate;
}

/**
 * The bars of all channels, on a terminal only. A channel gets a bar when it has something to apply and loses
 * it once it has applied everything; log lines go above the bars through `log`.
 */
export class CatchUpProgress {
  private readonly bars = new Map<string, ChannelBar>();
  private readonly provisionBars = new Map<string, cliProgress.SingleBar>();
  private readonly multi: cliProgress.MultiBar;

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar({
      stream, hideCursor: false, clearOnComplete: false, fps: 5,
      format: (_options, _params, payload: { line: string }) => payload.line,
    });
  }

  /** A line above the bars (the bars' library holds lines back until its next frame, and has none without bars). */
  log(line: string): void {
    const text = line.endsWith('\n') ? line : `${line}\n`;
    if (!this.multi.isActive) {
      this.stream.write(text);
      return;
    }
    this.multi.log(text);
    // Out now: a line held for the next frame would be lost if the bars stopped first.
    this.multi.update();
  }

  /** `transactions`: per channel, what RelayTransactionCounter says. */
  update(statuses: ReplicaStatus[], at = Date.now(), transactions = new Map<string, CatchUpSample['transactions']>()): void {
    for (const status of statuses) {
      if (this.provisioning(status)) continue;
      const sample = catchUpSample(status, at, transactions.get(status.channel));
      let entry = this.bars.get(status.channel);
      if (!entry && sample.behindBytes >= MIN_BACKLOG && status.sqlRunning === 'Yes') {
        entry = { bar: this.multi.create(1, 0, { line: '' }), backlog: 0, rate: new CatchUpRate() };
        this.bars.set(status.channel, entry);
      }
      if (!entry) continue;
      entry.rate.add(sample);
      entry.backlog = Math.max(entry.backlog, sample.behindBytes);
      entry.bar.update(0, { line: progressLine(status.channel, entry.backlog, sample, entry.rate) });
      if (sample.behindBytes === 0 || status.sqlRunning !== 'Yes') {
        entry.bar.update(0, { line: `${status.channel}: ${sample.behindBytes === 0 ? 'caught up' : 'SQL stage stopped'}` });
        this.multi.remove(entry.bar);
        this.log(`${status.channel}: ${sample.behindBytes === 0 ? 'caught up' : `SQL stage stopped with ${formatBytes(sample.behindBytes)} not applied`}`);
        this.bars.delete(status.channel);
      }
    }
    if (!this.multi.isActive) return;
    // Drawn now rather than at the next frame; with no bar left the bars stop, and log lines go straight out.
    this.multi.update();
    if (this.bars.size === 0 && this.provisionBars.size === 0) this.multi.stop();
  }

  /** Whether the channel is being provisioned (its bar shows it); when that ends, the log says how. */
  private provisioning(status: ReplicaStatus): boolean {
    let bar = this.provisionBars.get(status.channel);
    if (PROVISIONING.includes(status.provisionState)) {
      if (!bar) this.provisionBars.set(status.channel, bar = this.multi.create(1, 0, { line: '' }));
      bar.update(0, { line: provisionLine(status) });
      return true;
    }
    if (bar) {
      this.multi.remove(bar);
      this.provisionBars.delete(status.channel);
      this.log(`${status.channel}: provisioning ${status.provisionState || 'stopped'}`);
    }
    return false;
  }

  stop(): void {
    if (this.multi.isActive) this.multi.stop();
  }
}
