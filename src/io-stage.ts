// The I/O stage of one channel (the replica's I/O thread): streams the source's binlog into the relay log,
// byte for byte. It decodes only what moves its own position (Rotate, Format_description) and never waits for
// the SQL stage. It owns reconnects.
import type { Logger } from 'pino';
import {
  BinlogChecksumError, BinlogDecoder, decodeHeader, encodeFormatDescription, encodeRotate,
} from './binlog/decoder.js';
import { EventType, type BinlogEvent } from './binlog/events.js';
import { SourcePositionTracker, type SourcePosition } from './binlog/position.js';
import { isDiskFull } from './info/files.js';
import { BinlogDump, SourceError, type SourcePublicKey, type SourceSsl } from './protocol/index.js';
import { RelayLogCutError, type RelayLog } from './relaylog/relay-log.js';
import { ErrorCodes, mysqlFailure } from './errors.js';
import { sleep } from './sleep.js';
import { IoState } from './status.js';

export interface SourceSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Seconds between reconnect attempts (MASTER_CONNECT_RETRY). */
  connectRetry: number;
  /** Reconnect attempts before giving up (MASTER_RETRY_COUNT). */
  retryCount: number;
  /** Seconds (MASTER_HEARTBEAT_PERIOD). */
  heartbeatPeriod: number;
  ignoreServerIds: number[];
  /** TLS settings when MASTER_SSL is set; undefined = plaintext. */
  ssl: SourceSsl | undefined;
  /** SOURCE_PUBLIC_KEY_PATH and GET_SOURCE_PUBLIC_KEY. */
  publicKey: SourcePublicKey;
}

export interface IoStageOptions {
  relayLog: RelayLog;
  logger: Logger;
  replicaServerId: number;
  replicateSameServerId: boolean;
  /** replica_net_timeout, seconds. */
  netTimeout: number;
  /** slave_max_allowed_packet, bytes. */
  maxAllowedPacket: number;
  /** relay_log_space_limit, bytes; 0 = no limit. */
  relayLogSpaceLimit: number;
  source: () => SourceSettings;
  /** Called when received events are in the relay log (Read_Master_Log_Pos moved). */
  onPosition: (position: SourcePosition) => void;
  onError: (errno: number, message: string) => void;
  /**
   * Called with the reason each time a connection attempt fails and will be retried (Last_IO_Errno and
   * Last_IO_Error meanwhile), and with undefined once connected, which clears them as MariaDB does.
   */
  onRetrying: (failure: { errno: number; message: string } | undefined) => void;
}

const FLUSH_BYTES = 1 << 20;
const NOT_YET = Symbol('not yet');
/** A write that found the disk full is tried again after this long, or as soon as a purge frees space. */
const DISK_FULL_RETRY_MS = 1000;

export class IoStage {
  state = '';
  running: 'Yes' | 'No' | 'Connecting' = 'No';
  sourceServerId = 0;
  receivedHeartbeats = 0;
  position: SourcePosition;

  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private dump: BinlogDump | undefined;
  /** The relay log's cut count that `position` belongs to. */
  private epoch: number;
  /** A relay log write found the disk full since the last flush that wrote all (said once in the log). */
  private diskFull = false;
  /** FLUSH RELAY LOGS asked while events are being received: resolved once the new file is started. */
  private rotationAsked: { promise: Promise<void>; resolve: () => void } | undefined;
  private wakeReceiver: (() => void) | undefined;

  constructor(private readonly options: IoStageOptions, start: SourcePosition) {
    this.position = start;
    this.epoch = options.relayLog.epoch;
  }

  start(): void {
    this.abort = new AbortController();
    this.running = 'Connecting';
    // A cut of the relay log ends the dump at once, whether it is waiting for the source or not.
    const onCut = () => this.dump?.close();
    this.options.relayLog.on('cut', onCut);
    this.loop = this.run().catch((err: unknown) => {
      this.options.logger.error({ err }, 'I/O stage stopped with an error');
      // What fails here without an errno of its own is taking events into the relay log.
      const failure = mysqlFailure(err, 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE');
      const local = failure.code === 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE' && !failure.message.startsWith('Relay log');
      this.options.onError(failure.errno, local ? `Relay log write failure: ${failure.message}` : failure.message);
    }).finally(() => {
      this.options.relayLog.off('cut', onCut);
      this.running = 'No';
      this.state = '';
    });
  }

  async stop(): Promise<void> {
    this.state = IoState.exiting;
    this.abort.abort();
    this.dump?.close();
    await this.loop;
  }

  /**
   * FLUSH RELAY LOGS: the relay log goes on in a new file. Resolves at once when no dump is being received,
   * since the next one starts a new file anyway.
   */
  rotateRelayLog(): Promise<void> {
    if (!this.wakeReceiver) return Promise.resolve();
    if (!this.rotationAsked) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => { resolve = r; });
      this.rotationAsked = { promise, resolve };
    }
    this.wakeReceiver();
    return this.rotationAsked.promise;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    let failedRead = false;
    let connected = false;
    while (!signal.aborted) {
      const { relayLog } = this.options;
      if (relayLog.epoch !== this.epoch) {
        // The SQL stage cut off a damaged part of the relay log: fetch again from where the whole events end.
        this.epoch = relayLog.epoch;
        this.position = relayLog.resumePosition ?? this.position;
      }
      const source = this.options.source();
      this.running = 'Connecting';
      this.state = failures === 0 ? IoState.connecting
        : failedRead ? IoState.reconnectingAfterRead : IoState.reconnectingAfterDump;
      let dump: BinlogDump;
      try {
        dump = await BinlogDump.open({
          host: source.host, port: source.port, user: source.user, password: source.password,
          replicaServerId: this.options.replicaServerId, file: this.position.file, position: this.position.pos,
          heartbeatPeriodSeconds: source.heartbeatPeriod, netTimeoutSeconds: this.options.netTimeout,
          connectTimeoutMs: Math.max(1000, Math.min(this.options.netTimeout * 1000, 30_000)), ssl: source.ssl,
          publicKey: source.publicKey, maxAllowedPacket: this.options.maxAllowedPacket,
        });
      } catch (err) {
        if (signal.aborted) return;
        if (!retryable(err)) throw err;
        failures++;
        // MariaDB's words (connect_to_master), which stay in Last_IO_Error if the retries run out.
        const { errno } = err as SourceError;
        const message = `error ${connected ? 'reconnecting' : 'connecting'} to master '${source.user}@${source.host}:` +
          `${source.port}' - retry-time: ${source.connectRetry}  maximum-retries: ${source.retryCount}  message: ` +
          (err as Error).message;
        if (source.retryCount > 0 && failures > source.retryCount) throw Object.assign(new Error(message), { errno });
        this.options.logger.warn({ errno, err: message, attempt: failures }, 'cannot reach the source; retrying');
        this.options.onRetrying({ errno: errno ?? ErrorCodes.CR_CONN_HOST_ERROR, message });
        this.state = failedRead ? IoState.waitingToReconnectAfterRead : IoState.waitingToReconnectAfterDump;
        await sleep(source.connectRetry * 1000, signal);
        continue;
      }
      this.dump = dump;
      try {
        if (signal.aborted) return;
        this.sourceServerId = dump.source.serverId;
        if (dump.source.serverId === this.options.replicaServerId && !this.options.replicateSameServerId) {
          throw Object.assign(new Error('Fatal error: The slave I/O thread stops because master and slave have ' +
            'equal MySQL server ids; give the engine a serverId different from the source\'s ' +
            `(${dump.source.serverId}), or set replicateSameServerId`), { errno: 1593 });
        }
        this.running = 'Yes';
        failures = 0;
        connected = true;
        this.options.onRetrying(undefined);
        // A FLUSH RELAY LOGS asked from here on is served at the next pause of the source.
        this.wakeReceiver = () => undefined;
        await this.receive(dump, source).catch(unlessCut).finally(() => {
          this.wakeReceiver = undefined;
          this.rotationAsked?.resolve();
          this.rotationAsked = undefined;
        });
      } catch (err) {
        if (signal.aborted) return;
        if (!retryable(err)) throw err;
        failedRead = true;
        failures++;
        this.options.logger.warn({ err: String((err as Error).message) }, 'lost the source; reconnecting');
        this.running = 'Connecting';
        this.state = IoState.waitingToReconnectAfterRead;
        await sleep(source.connectRetry * 1000, signal);
      } finally {
        dump.close();
        this.dump = undefined;
      }
    }
  }

  /**
   * Copies events into the relay log until the dump ends. Fails with RelayLogCutError when the relay log is cut
   * meanwhile: run() then fetches again from the cut.
   */
  private async receive(dump: BinlogDump, source: SourceSettings): Promise<void> {
    const { relayLog, replicaServerId, relayLogSpaceLimit: limit } = this.options;
    const epoch = this.epoch;
    const checksumAlg = dump.source.checksumAlg;
    const tracker = new SourcePositionTracker(this.position);
    const decoder = new BinlogDecoder();
    const ignored = new Set(source.ignoreServerIds);
    if (!this.options.replicateSameServerId) ignored.add(replicaServerId);
    const ownHeader = () => encodeFormatDescription({
      serverId: replicaServerId, timestamp: Math.floor(Date.now() / 1000),
      serverVersion: dump.source.serverVersion, checksumAlg,
    });
    const positionMark = (at: SourcePosition = tracker) => encodeRotate({
      serverId: replicaServerId, nextFile: at.file, position: BigInt(at.pos), checksumAlg,
    });

    // Every I/O stage start begins a relay log file, whose head says where its events come from.
    await this.write(() => relayLog.rotate([ownHeader(), positionMark()], epoch));
    let sourceFormat: Buffer | undefined;
    /** A new file whose events start at source position `at`. */
    const rotate = (at?: SourcePosition) => this.write(() =>
      relayLog.rotate([ownHeader(), positionMark(at), ...(sourceFormat ? [sourceFormat] : [])], epoch));
    let pending: Buffer[] = [];
    /** The source position after each pending event. */
    let ends: SourcePosition[] = [];
    let pendingBytes = 0;
    let skipped = false;
    const queue = (raw: Buffer) => {
      pending.push(raw);
      ends.push(tracker.position());
      pendingBytes += raw.length;
    };
    /** The last wait of the SQL stage at the end of the relay log that let an event past the space limit. */
    let granted = 0;

    const flush = async () => {
      // All in one write; on a disk too full for that, one event at a time, so that what fits gets applied and
      // purged, making room for the rest.
      for (let done = 0, batch = pending.length; done < pending.length; batch = 1) {
        this.state = IoState.queueing;
        const events = batch === pending.length ? pending : pending.slice(done, done + batch);
        if (!await this.write(() => relayLog.append(events, epoch), batch === 1)) continue;
        done += batch;
        this.position = ends[done - 1]!;
        this.options.onPosition(this.position);
        // Event by event, files still end at max_relay_log_size, so that the SQL stage can purge them.
        if (batch === 1 && done < pending.length && relayLog.needsRotation()) await rotate(this.position);
      }
      pending = [];
      ends = [];
      pendingBytes = 0;
      if (relayLog.needsRotation()) await rotate();
      if (this.diskFull) this.options.logger.info('the relay log has caught up with what was received after the disk was full');
      this.diskFull = false;
      this.state = IoState.waitingForEvent;
    };
    /** relay_log_space_limit: the next event waits until the SQL stage has purged, or has read everything. */
    const makeRoom = async () => {
      await flush();
      while (relayLog.space() > limit) {
        const reader = relayLog.readerWaiting();
        if (reader && reader.seq > granted) {
          granted = reader.seq;
          if (reader.rotate) await rotate();
          return;
        }
        this.state = IoState.waitingForRelaySpace;
        await relayLog.waitForSpace(this.abort.signal);
        this.abort.signal.throwIfAborted();
        if (relayLog.epoch !== epoch) throw new RelayLogCutError();
      }
      this.state = IoState.waitingForEvent;
    };

    this.state = IoState.waitingForEvent;
    for (;;) {
      const next = dump.next();
      let raw = await Promise.race([next, new Promise<typeof NOT_YET>((r) => setImmediate(() => r(NOT_YET)))]);
      if (raw === NOT_YET) {
        await flush();
        for (;;) {
          const asked = this.rotationAsked;
          if (asked) {
            await rotate();
            this.rotationAsked = undefined;
            asked.resolve();
          }
          const woken = new Promise<typeof NOT_YET>((r) => { this.wakeReceiver = () => r(NOT_YET); });
          raw = await Promise.race([next, woken]);
          if (raw !== NOT_YET) break;
        }
      }
      if (raw === null) {
        await flush();
        return;
      }
      const header = decodeHeader(raw);
      if (header.typeCode === EventType.HEARTBEAT || header.typeCode === EventType.HEARTBEAT_V2) {
        this.receivedHeartbeats++;
        continue;
      }
      const positional = header.typeCode === EventType.ROTATE || header.typeCode === EventType.FORMAT_DESCRIPTION;
      const decoded = positional ? decodeReceived(decoder, raw, tracker.position()) : undefined;
      if (header.typeCode === EventType.FORMAT_DESCRIPTION) sourceFormat = raw;
      if (!positional && ignored.has(header.serverId)) {
        tracker.advance(header);
        skipped = true;
        continue;
      }
      if (limit > 0 && relayLog.space() + pendingBytes > limit) await makeRoom();
      if (skipped) {
        // The relay log must say that the source position jumped over what was not written.
        queue(positionMark());
        skipped = false;
      }
      tracker.advance(header, decoded);
      queue(raw);
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
  }

  /**
   * Runs a relay log write. On a full disk it waits (state `Waiting for disk space`) and runs it again, as the
   * servers do: the relay log takes back what a failed write left, so nothing received is lost or doubled.
   * With `wait` false it returns false on a full disk instead.
   */
  private async write(work: () => Promise<unknown>, wait = true): Promise<boolean> {
    const { relayLog, logger } = this.options;
    const signal = this.abort.signal;
    for (;;) {
      try {
        await work();
        return true;
      } catch (err) {
        if (err instanceof RelayLogCutError) throw err;
        if (!isDiskFull(err)) {
          const e = err as NodeJS.ErrnoException;
          throw Object.assign(new Error(`Relay log write failure: could not queue event from master ` +
            `(${e.code ?? ''} ${e.message})`), { errno: 1595 });
        }
        if (!this.diskFull) {
          logger.warn({ dir: relayLog.options.dir }, 'Disk is full writing the relay log (Errcode: 28 "No space ' +
            'left on device"). Waiting for someone to free space...');
        }
        this.diskFull = true;
        if (!wait) return false;
        const state = this.state;
        this.state = IoState.waitingForDiskSpace;
        await relayLog.waitForSpace(signal, DISK_FULL_RETRY_MS);
        signal.throwIfAborted();
        this.state = state;
      }
    }
  }
}

function unlessCut(err: unknown): void {
  if (!(err instanceof RelayLogCutError)) throw err;
}

/** A Rotate or Format_description the stage must understand to go on; one it cannot stops it, naming where. */
function decodeReceived(decoder: BinlogDecoder, raw: Buffer, at: SourcePosition): BinlogEvent {
  try {
    return decoder.decode(raw).event;
  } catch (err) {
    const checksum = err instanceof BinlogChecksumError;
    throw Object.assign(new Error(`${checksum ? 'Replication event checksum verification failed while reading from ' +
      'network' : 'Relay log write failure: could not queue event from master'}: ${(err as Error).message}, in the ` +
      `event at source position ${at.file}:${at.pos}`), { errno: checksum ? 1743 : 1595 });
  }
}

function retryable(err: unknown): boolean {
  return err instanceof SourceError && err.retryable;
}
