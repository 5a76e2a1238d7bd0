// The I/O stage of one channel (the replica's I/O thread): streams the source's binlog into the relay log,
// byte for byte. It decodes only what moves its own position (Rotate, Format_description) and never waits for
// the SQL stage. It owns reconnects.
import type { Logger } from 'pino';
import {
  BinlogChecksumError, BinlogDecoder, decodeHeader, encodeFormatDescription, encodeRotate,
} from './binlog/decoder.js';
import { EventType, type BinlogEvent } from './binlog/events.js';
import { SourcePositionTracker, type SourcePosition } from './binlog/position.js';
import { BinlogDump, SourceError, type SourceSsl } from './protocol/index.js';
import type { RelayLog } from './relaylog/relay-log.js';
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

export class IoStage {
  state = '';
  running: 'Yes' | 'No' | 'Connecting' = 'No';
  sourceServerId = 0;
  receivedHeartbeats = 0;
  position: SourcePosition;

  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private dump: BinlogDump | undefined;

  constructor(private readonly options: IoStageOptions, start: SourcePosition) {
    this.position = start;
  }

  start(): void {
    this.abort = new AbortController();
    this.running = 'Connecting';
    this.loop = this.run().catch((err: unknown) => {
      this.options.logger.error({ err }, 'I/O stage stopped with an error');
      // What fails here without an errno of its own is taking events into the relay log.
      const failure = mysqlFailure(err, 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE');
      const local = failure.code === 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE' && !failure.message.startsWith('Relay log');
      this.options.onError(failure.errno, local ? `Relay log write failure: ${failure.message}` : failure.message);
    }).finally(() => {
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

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    let failedRead = false;
    let connected = false;
    while (!signal.aborted) {
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
          maxAllowedPacket: this.options.maxAllowedPacket,
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
        await this.receive(dump, source);
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

  /** Copies events into the relay log until the dump ends. */
  private async receive(dump: BinlogDump, source: SourceSettings): Promise<void> {
    const { relayLog, replicaServerId } = this.options;
    const checksumAlg = dump.source.checksumAlg;
    const tracker = new SourcePositionTracker(this.position);
    const decoder = new BinlogDecoder();
    const ignored = new Set(source.ignoreServerIds);
    if (!this.options.replicateSameServerId) ignored.add(replicaServerId);
    const ownHeader = () => encodeFormatDescription({
      serverId: replicaServerId, timestamp: Math.floor(Date.now() / 1000),
      serverVersion: dump.source.serverVersion, checksumAlg,
    });
    const positionMark = () => encodeRotate({
      serverId: replicaServerId, nextFile: tracker.file, position: BigInt(tracker.pos), checksumAlg,
    });

    // Every I/O stage start begins a relay log file, whose head says where its events come from.
    await relayLog.rotate([ownHeader(), positionMark()]);
    let sourceFormat: Buffer | undefined;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let skipped = false;

    const flush = async () => {
      if (pending.length > 0) {
        this.state = IoState.queueing;
        await relayLog.append(pending);
        pending = [];
        pendingBytes = 0;
        this.position = tracker.position();
        this.options.onPosition(this.position);
      }
      if (relayLog.needsRotation()) {
        await relayLog.rotate([ownHeader(), positionMark(), ...(sourceFormat ? [sourceFormat] : [])]);
      }
      this.state = IoState.waitingForEvent;
    };

    this.state = IoState.waitingForEvent;
    for (;;) {
      const next = dump.next();
      let raw = await Promise.race([next, new Promise<typeof NOT_YET>((r) => setImmediate(() => r(NOT_YET)))]);
      if (raw === NOT_YET) {
        await flush();
        raw = await next;
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
      if (skipped) {
        // The relay log must say that the source position jumped over what was not written.
        pending.push(positionMark());
        skipped = false;
      }
      tracker.advance(header, decoded);
      pending.push(raw);
      pendingBytes += raw.length;
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
  }
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
