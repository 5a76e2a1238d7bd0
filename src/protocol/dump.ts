// A binlog dump from one source, on a mysql2 connection: the session setup a replica does, COM_REGISTER_SLAVE,
// COM_BINLOG_DUMP, then every event handed up as the exact bytes of the source's binlog file.
//
// What MariaDB 10.11 sends, observed (the I/O stage's position arithmetic relies on it):
// - Dump from position 4: a fake Rotate (timestamp 0, flags LOG_EVENT_ARTIFICIAL_F, logPos 0, body: position 4
//   and the file name), then the file's Format_description with its real logPos (e.g. 256), then the events
//   after it. While the file is still being written, the copy in the file carries LOG_EVENT_BINLOG_IN_USE_F
//   (0x1); the sent copy has it cleared, otherwise identical (the checksum is computed without that flag), so
//   it equals what the file holds once closed.
// - Dump from a position > 4: the same fake Rotate (body: the requested position), then the file's
//   Format_description re-sent with logPos 0 and its created-timestamp 0 (checksum recomputed), then the events
//   from the requested position on. Neither is in the binlog at that place; neither moves the position.
// - FLUSH BINARY LOGS: the real Rotate at the end of the old file (flags 0, logPos = its end there), then a
//   fake Rotate for the new file (as above), the new file's Format_description (real logPos), Gtid_list,
//   Binlog_checkpoint, ...
// - An idle source, heartbeat period set: a Heartbeat event (type 27, timestamp 0, flags 0 — not marked
//   artificial — body: the current binlog file name, logPos: the end of the last event sent) per period.
//   Heartbeats are never in the binlog.
import { createConnection, type Connection } from 'mysql2';
import { sourceAuthPlugins, type SourcePublicKey } from './auth.js';
import { SourceError, fromClientError, CR_SERVER_LOST, ER_MASTER_FATAL_ERROR_READING_BINLOG, ER_NET_PACKET_TOO_LARGE,
  ER_SLAVE_FATAL_ERROR, ER_SLAVE_RELAY_LOG_WRITE_FAILURE, isRetryable, type Phase } from './errors.js';
import { EventSizeLimit } from './event-size.js';
import { BINLOG_SEND_ANNOTATE_ROWS_EVENT, binlogDumpGtidPayload, binlogDumpPayload, parseErrPacket,
  registerReplicaPayload } from './packets.js';
import type { MysqlGtidSet } from '../gtid/mysql-gtid-set.js';
import { quoteString } from '../apply/sql-text.js';
import { RawCommand, type CoreConnection, type WirePacket } from './raw-command.js';
import { upgradeWithSsl, type SourceSsl } from './tls.js';

export interface DumpRequest {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Our server_id, sent in COM_REGISTER_SLAVE and COM_BINLOG_DUMP. */
  replicaServerId: number;
  /** Where to start (4 = beginning of the file). */
  file: string;
  position: number;
  /** 0 = off; callers default to replica_net_timeout / 2. */
  heartbeatPeriodSeconds: number;
  /** No bytes from the source for this long fails the dump with a retryable error. */
  netTimeoutSeconds: number;
  connectTimeoutMs?: number;
  /** MASTER_SSL=1 and its settings; left out, the connection is plaintext. */
  ssl?: SourceSsl | undefined;
  /** SOURCE_PUBLIC_KEY_PATH and GET_SOURCE_PUBLIC_KEY, for sha256_password and caching_sha2_password users. */
  publicKey?: SourcePublicKey | undefined;
  /** slave_max_allowed_packet: the largest event taken in, bytes. Default 1 GiB. */
  maxAllowedPacket?: number;
  /**
   * MASTER_AUTO_POSITION on a MySQL source: the transactions the channel has (its executed and retrieved sets
   * together); the dump asks for everything else with COM_BINLOG_DUMP_GTID, and `file` / `position` are not sent.
   */
  mysqlGtidSet?: MysqlGtidSet | undefined;
  /**
   * MASTER_USE_GTID: a MariaDB source starts from this GTID position ('domain-server-seq,...') instead of
   * file and position, and with `until` stops after that GTID position (START SLAVE UNTIL master_gtid_pos).
   */
  mariadbGtid?: { connectState: string; until?: string } | undefined;
}

/** slave_max_allowed_packet's default and maximum. */
export const DEFAULT_MAX_ALLOWED_PACKET = 1 << 30;

export interface SourceInfo {
  serverId: number;
  serverVersion: string;
  flavor: 'mariadb' | 'mysql';
  /** binlog_checksum as negotiated: 0 = NONE, 1 = CRC32 (the last 4 bytes of every event). */
  checksumAlg: 0 | 1;
  uuid?: string;
}

/**
 * Received events held for a slow consumer: above the high mark the socket is paused (TCP pushes back on the
 * source), below the low mark it resumes. One socket chunk may still arrive after the pause, and one event
 * can be larger than the bound by itself.
 */
const PAUSE_ABOVE_BYTES = 1024 * 1024;
const RESUME_BELOW_BYTES = 256 * 1024;

const EVENT_HEADER_LENGTH = 19;

// MariaDB 10.0 brought GTID events and @mariadb_slave_capability=4; MySQL 5.6 binlog checksums and heartbeats
// as used here.
const MIN_MARIADB: readonly number[] = [10, 0];
const MIN_MYSQL: readonly number[] = [5, 6];

function eventTooLarge(size: number, max: number): SourceError {
  return new SourceError(`Got a packet bigger than 'slave_max_allowed_packet' bytes: the source sends an event of ` +
    `${size} bytes, replicaMaxAllowedPacket is ${max}; if the event is genuine, raise replicaMaxAllowedPacket ` +
    '(at most 1 GiB)', { errno: ER_NET_PACKET_TOO_LARGE, retryable: false });
}

/** Whether a version string ('8.0.36-log', '10.11.6-MariaDB') is at least `min` (major, minor[, patch]). */
export function versionAtLeast(version: string, min: readonly number[]): boolean {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return false;
  const parts = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  for (let i = 0; i < min.length; i++) {
    if (parts[i]! !== min[i]!) return parts[i]! > min[i]!;
  }
  return true;
}

/**
 * The words a replica uses with a source of this version, as a MySQL 8.4 replica picks them: MySQL 8.0.26
 * renamed the user variables a replica announces itself with to source_* (8.4 replicas send only those), and
 * 8.2 added SHOW BINARY LOG STATUS, the only form 8.4 accepts; older MySQL and MariaDB know the master_* words.
 */
/** Which server a VERSION() string names: MariaDB says so in it (5.5.5-10.11.0-MariaDB ...); anything else is MySQL. */
export function serverFlavor(version: string): 'mariadb' | 'mysql' {
  return /mariadb/i.test(version) ? 'mariadb' : 'mysql';
}

export function sourceWording(flavor: 'mariadb' | 'mysql', version: string): {
  checksumVariable: string; heartbeatVariable: string; binaryLogStatus: string;
} {
  const renamed = flavor === 'mysql' && versionAtLeast(version, [8, 0, 26]);
  return {
    checksumVariable: renamed ? '@source_binlog_checksum' : '@master_binlog_checksum',
    heartbeatVariable: renamed ? '@source_heartbeat_period' : '@master_heartbeat_period',
    binaryLogStatus: flavor === 'mysql' && versionAtLeast(version, [8, 2]) ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS',
  };
}

export class BinlogDump {
  private readonly queue: Buffer[] = [];
  private head = 0;
  private queuedBytes = 0;
  private paused = false;
  private closed = false;
  private failure: SourceError | undefined;
  private waiter: { resolve: (ev: Buffer | null) => void; reject: (err: SourceError) => void } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly core: CoreConnection,
    readonly source: SourceInfo,
    private readonly netTimeoutMs: number,
  ) {}

  /**
   * Connects, checks the source, sets the replica session variables, registers and starts the dump.
   * Rejects with a SourceError.
   */
  static async open(req: DumpRequest): Promise<BinlogDump> {
    let phase: Phase = 'connect';
    let conn: Connection | undefined;
    const netTimeoutMs = req.netTimeoutSeconds * 1000;
    try {
      conn = createConnection({
        host: req.host, port: req.port, user: req.user, password: req.password,
        connectTimeout: req.connectTimeoutMs ?? 10_000, charset: 'utf8mb4', ...(req.ssl ? { ssl: {} } : {}),
        authPlugins: sourceAuthPlugins(req.publicKey ?? { publicKeyPath: '', getPublicKey: false }),
      });
      if (req.ssl) upgradeWithSsl(conn, req.ssl, req.host);
      // Without a listener a late socket error would be an uncaught 'error' event; failures reach us
      // through the command's onResult or the query promises.
      conn.on('error', () => {});
      await new Promise<void>((resolve, reject) => conn!.connect((err) => (err ? reject(err) : resolve())));
      const core = conn as unknown as CoreConnection;
      phase = 'setup';
      const session = conn.promise();
      const query = async (sql: string) => {
        const [rows] = await session.query({ sql, timeout: netTimeoutMs || undefined });
        return rows as Record<string, unknown>[];
      };
      const [ver] = await query('SELECT VERSION() AS version');
      const serverVersion = String(ver!.version);
      const flavor = serverFlavor(serverVersion);
      if (!versionAtLeast(serverVersion, flavor === 'mariadb' ? MIN_MARIADB : MIN_MYSQL)) {
        throw new SourceError(
          `Fatal error: source ${req.host}:${req.port} runs ${serverVersion}; replicating needs MariaDB 10.0+ ` +
          'or MySQL 5.6+', { errno: ER_SLAVE_FATAL_ERROR, retryable: false });
      }
      // The source sends events with checksums only to a replica that announces it understands them; announcing
      // the source's own algorithm makes the events arrive exactly as stored.
      const words = sourceWording(flavor, serverVersion);
      await query(`SET ${words.checksumVariable} = @@global.binlog_checksum`);
      if (flavor === 'mariadb') {
        // 4 = MARIA_SLAVE_CAPABILITY_GTID: GTID, Binlog_checkpoint and other 10.0+ events are sent as they are
        // instead of being replaced by dummy events for an old replica.
        await query('SET @mariadb_slave_capability = 4');
      }
      if (req.mariadbGtid) {
        if (flavor !== 'mariadb') {
          throw new SourceError(`Fatal error: sourceUseGtid asks for MariaDB GTID positions, but source ${req.host}:` +
            `${req.port} runs ${serverVersion}; set sourceUseGtid to 'no'`, { errno: ER_SLAVE_FATAL_ERROR, retryable: false });
        }
        // What a MariaDB replica sets (get_master_version_and_clock); strict mode and duplicate skipping at
        // their defaults, as the position the source checks is ours alone.
        await query(`SET @slave_connect_state = ${quoteString(req.mariadbGtid.connectState)}`);
        await query('SET @slave_gtid_strict_mode = 0');
        await query('SET @slave_gtid_ignore_duplicates = 0');
        if (req.mariadbGtid.until !== undefined) await query(`SET @slave_until_gtid = ${quoteString(req.mariadbGtid.until)}`);
      }
      if (req.heartbeatPeriodSeconds > 0) {
        await query(`SET ${words.heartbeatVariable} = ${BigInt(Math.round(req.heartbeatPeriodSeconds * 1e9))}`);
      }
      const [vars] = await query(
        `SELECT @@server_id AS serverId, ${words.checksumVariable} AS checksum${
          flavor === 'mysql' ? ', @@server_uuid AS uuid' : ''}`);
      const checksum = String(vars!.checksum ?? 'NONE').toUpperCase();
      if (checksum !== 'NONE' && checksum !== 'CRC32') {
        throw new SourceError(`Fatal error: source binlog_checksum ${checksum} is not supported`,
          { errno: ER_SLAVE_FATAL_ERROR, retryable: false });
      }
      const source: SourceInfo = {
        serverId: Number(vars!.serverId), serverVersion, flavor, checksumAlg: checksum === 'CRC32' ? 1 : 0,
        ...(vars!.uuid ? { uuid: String(vars!.uuid) } : {}),
      };

      if (req.mysqlGtidSet && flavor === 'mariadb') {
        throw new SourceError(`Fatal error: source ${req.host}:${req.port} runs ${serverVersion}; sourceAutoPosition ` +
          "(MySQL's GTID auto-positioning) needs a MySQL source: for MariaDB use sourceUseGtid",
        { errno: ER_SLAVE_FATAL_ERROR, retryable: false });
      }
      const dump = new BinlogDump(core, source, netTimeoutMs);
      await dump.register(req.replicaServerId);
      phase = 'dump';
      dump.startDump(req, flavor === 'mariadb' ? BINLOG_SEND_ANNOTATE_ROWS_EVENT : 0);
      return dump;
    } catch (err) {
      conn?.destroy();
      throw fromClientError(err, phase);
    }
  }

  private register(serverId: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.core.addCommand(new RawCommand(
        registerReplicaPayload({ serverId }),
        (packet) => {
          const payload = packet.buffer.subarray(packet.start + 4, packet.end);
          if (payload[0] === 0xff) {
            const e = parseErrPacket(payload);
            reject(new SourceError(`COM_REGISTER_SLAVE failed: ${e.message}`, {
              errno: e.errno, ...(e.sqlState ? { sqlState: e.sqlState } : {}), retryable: isRetryable('setup', e.errno),
            }));
          } else {
            resolve();
          }
          return true;
        },
        reject,
      ));
    });
  }

  private startDump(req: DumpRequest, flags: number): void {
    const limit = new EventSizeLimit(req.maxAllowedPacket ?? DEFAULT_MAX_ALLOWED_PACKET);
    // core.stream is the stream mysql2 reads packets from now, not necessarily the socket it connected: with
    // TLS, mysql2 swaps in the TLSSocket during the handshake and parses the decrypted bytes it emits. Listening
    // first, the limit sees each chunk before mysql2 buffers it, and nothing from the socket after a failure.
    this.core.stream.prependListener('data', (chunk: Buffer) => {
      this.idleTimer?.refresh();
      const size = limit.check(chunk);
      if (size !== undefined) this.fail(eventTooLarge(size, limit.max));
    });
    this.armIdleTimer();
    this.core.addCommand(new RawCommand(
      req.mysqlGtidSet ? binlogDumpGtidPayload(req.replicaServerId, req.mysqlGtidSet)
        : binlogDumpPayload(req.replicaServerId, req.file, req.position, flags),
      (packet) => this.onDumpPacket(packet),
      (err) => this.fail(fromClientError(err, 'dump')),
    ));
  }

  private onDumpPacket(packet: WirePacket): boolean {
    const { buffer, start, end } = packet;
    const marker = buffer[start + 4];
    if (marker === 0x00) {
      // mysql2 hands a multi-packet (> 16 MiB) payload as one fresh buffer that owns its whole memory; that
      // one is kept as is, anything else is copied so the socket's chunk is not retained.
      const owned = start === 0 && end === buffer.length && buffer.byteLength === buffer.buffer.byteLength;
      const event = owned ? buffer.subarray(start + 5, end) : Buffer.from(buffer.subarray(start + 5, end));
      if (event.length < EVENT_HEADER_LENGTH || event.readUInt32LE(9) !== event.length) {
        this.fail(new SourceError(
          `Relay log write failure: received an event of ${event.length} bytes whose header says ` +
          `${event.length >= EVENT_HEADER_LENGTH ? event.readUInt32LE(9) : 'nothing'}`,
          { errno: ER_SLAVE_RELAY_LOG_WRITE_FAILURE, retryable: false }));
        return true;
      }
      this.push(event);
      return false;
    }
    if (marker === 0xff) {
      const e = parseErrPacket(buffer.subarray(start + 4, end));
      // A refusal to go on is reported in MariaDB's words and errno; anything else is retried.
      const retryable = isRetryable('dump', e.errno);
      this.fail(new SourceError(retryable ? e.message
        : `Got fatal error ${e.errno} from master when reading data from binary log: '${e.message}'`, {
        errno: retryable ? e.errno : ER_MASTER_FATAL_ERROR_READING_BINLOG, ...(e.sqlState ? { sqlState: e.sqlState } : {}),
        retryable,
      }));
      return true;
    }
    // EOF: only a non-blocking dump ends normally, and we do not ask for one.
    this.fail(new SourceError('source ended the binlog dump (EOF packet: it is shutting down)', { errno: CR_SERVER_LOST, retryable: true }));
    return true;
  }

  private push(event: Buffer): void {
    if (this.closed) return;
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(event);
      return;
    }
    this.queue.push(event);
    this.queuedBytes += event.length;
    if (!this.paused && this.queuedBytes > PAUSE_ABOVE_BYTES) {
      this.paused = true;
      this.core.stream.pause();
      // a paused socket is silent by our choice, not the source's
      clearTimeout(this.idleTimer);
    }
  }

  private armIdleTimer(): void {
    if (this.netTimeoutMs <= 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.fail(new SourceError(
        `no data from the source for ${this.netTimeoutMs / 1000} s (replica_net_timeout)`,
        { errno: CR_SERVER_LOST, retryable: true }));
    }, this.netTimeoutMs);
  }

  private fail(err: SourceError): void {
    if (this.closed || this.failure) return;
    this.failure = err;
    this.shutdown();
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(err);
    }
  }

  private shutdown(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.core.destroy();
    this.core.stream.destroy();
  }

  /**
   * The next event already received, without a promise: a reader drains what one socket chunk brought in a
   * synchronous loop and awaits `next()` only when this returns undefined. Undefined too after a failure, which
   * `next()` then reports.
   */
  take(): Buffer | undefined {
    if (this.closed || this.head >= this.queue.length) return undefined;
    const event = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as Buffer;
    this.queuedBytes -= event.length;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.paused && this.queuedBytes < RESUME_BELOW_BYTES && !this.failure) {
      this.paused = false;
      this.core.stream.resume();
      this.armIdleTimer();
    }
    return event;
  }

  /**
   * The next event, raw. Events received before a failure are still handed out, then the failure rejects
   * (every call from then on). Resolves null once closed.
   */
  next(): Promise<Buffer | null> {
    if (this.closed) return Promise.resolve(null);
    const event = this.take();
    if (event) return Promise.resolve(event);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error('BinlogDump.next() called while a previous next() is pending'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Ends the dump; idempotent. A pending next() resolves null. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
    if (!this.failure) this.shutdown();
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(null);
    }
  }
}
