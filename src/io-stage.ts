// The I/O stage of one channel (the replica's I/O thread): streams the source's binlog into the relay log,
// byte for byte. It decodes only what moves its own position (Rotate, Format_description) and never waits for
// the SQL stage. It owns reconnects.
import type { Logger } from 'pino';
import {
  BinlogChecksumError, BinlogDecoder, decodeHeader, encodeFormatDescription, encodeRotate,
} from './binlog/decoder.js';
import { encodeGtidList } from './binlog/encode.js';
import { EventType, LOG_EVENT_ARTIFICIAL_F, type BinlogEvent } from './binlog/events.js';
import { MariadbGroupTracker, MysqlGroupTracker } from './gtid/event-groups.js';
import { mysqlGroupEvent, relayLogGtidPosition, relayLogMysqlGtids } from './gtid/relay-gtid.js';
import type { MysqlGtid, MysqlGtidSet } from './gtid/mysql-gtid-set.js';
import { GTID_LIST_IGN_GTIDS, GTID_LIST_UNTIL_REACHED, type MariadbGtidPosition } from './gtid/mariadb-gtid.js';
import { SourcePositionTracker, type SourcePosition } from './binlog/position.js';
import { isDiskFull } from './info/files.js';
import { BinlogDump, SourceError, type SourcePublicKey, type SourceSsl } from './protocol/index.js';
import { RelayLogCutError, type RelayLog } from './relaylog/relay-log.js';
import { ErrorCodes, mysqlFailure, ReplicationError } from './errors.js';
import { sleep } from './sleep.js';
import { IoState } from './status.js';
import { failureError } from './log.js';
import type { ChannelStats } from './metrics/metrics.js';

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
  /** DO_DOMAIN_IDS / IGNORE_DOMAIN_IDS (GTID mode): groups of other domains are not written to the relay log. */
  doDomainIds: number[];
  ignoreDomainIds: number[];
}

export interface IoStageOptions {
  relayLog: RelayLog;
  logger: Logger;
  /** The channel's counters: bytes received, errors. */
  stats: ChannelStats;
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
  /**
   * MASTER_USE_GTID: the dump asks for what follows this GTID position (Gtid_IO_Pos), which then moves with
   * each whole group written; undefined = by file and position.
   */
  gtid?: MariadbGtidPosition | undefined;
  /** START SLAVE UNTIL master_gtid_pos: the source stops there, and so does the stage (no error). */
  untilGtid?: string | undefined;
  /**
   * MASTER_AUTO_POSITION (MySQL sources): the dump asks for what is in neither the executed set (read afresh
   * at each connect) nor `retrieved` (Retrieved_Gtid_Set, which grows with each whole transaction written).
   */
  mysqlGtid?: { executed: () => MysqlGtidSet; retrieved: MysqlGtidSet } | undefined;
}

const FLUSH_BYTES = 256 << 10;
const NOT_YET = Symbol('not yet');
/** A write that found the disk full is tried again after this long, or as soon as a purge frees space. */
const DISK_FULL_RETRY_MS = 1000;

export class IoStage {
  state = '';
  running: 'Yes' | 'No' | 'Connecting' = 'No';
  sourceServerId = 0;
  receivedHeartbeats = 0;
  position: SourcePosition;
  /** Gtid_IO_Pos: the GTID position of the whole groups in the relay log (GTID mode only). */
  gtidPosition: MariadbGtidPosition | undefined;
  /** Retrieved_Gtid_Set (MASTER_AUTO_POSITION only). */
  retrievedGtidSet: MysqlGtidSet | undefined;

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
    this.gtidPosition = options.gtid;
    this.retrievedGtidSet = options.mysqlGtid?.retrieved;
    this.epoch = options.relayLog.epoch;
  }

  start(): void {
    this.abort = new AbortController();
    this.running = 'Connecting';
    // A cut of the relay log ends the dump at once, whether it is waiting for the source or not.
    const onCut = () => this.dump?.close();
    this.options.relayLog.on('cut', onCut);
    this.loop = this.run().catch((err: unknown) => {
      // What fails here without an errno of its own is taking events into the relay log.
      const failure = mysqlFailure(err, 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE');
      const local = failure.code === 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE' && !failure.message.startsWith('Relay log');
      const reported = { errno: failure.errno, message: local ? `Relay log write failure: ${failure.message}` : failure.message };
      this.options.logger.error({ err: failureError(reported, err), at: this.position }, 'I/O stage stopped with an error');
      this.options.stats.failed('io', failure.errno);
      this.options.onError(reported.errno, reported.message);
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
        // By GTID from what the relay log still holds; nothing of this run left, from where this run began.
        if (this.gtidPosition) {
          this.gtidPosition = await relayLogGtidPosition(relayLog, this.options.replicaServerId) ?? this.options.gtid;
        }
        // What was cut must be asked for again: the whole transactions the relay log still holds, and the executed set.
        if (this.retrievedGtidSet) this.retrievedGtidSet = await relayLogMysqlGtids(relayLog);
      }
      const source = this.options.source();
      this.running = 'Connecting';
      this.state = failures === 0 ? IoState.connecting
        : failedRead ? IoState.reconnectingAfterRead : IoState.reconnectingAfterDump;
      let dump: BinlogDump;
      try {
        dump = await BinlogDump.open({
          host: source.host, port: source.port, user: source.user, password: source.password,
          replicaServerId: this.options.replicaServerId,
          // By GTID the source finds the place itself; file and position are not looked at.
          file: this.gtidPosition ? '' : this.position.file, position: this.gtidPosition ? 4 : this.position.pos,
          mariadbGtid: this.gtidPosition && { connectState: this.gtidPosition.toString(), until: this.options.untilGtid },
          mysqlGtidSet: this.retrievedGtidSet && this.options.mysqlGtid!.executed().union(this.retrievedGtidSet),
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
        if (source.retryCount > 0 && failures > source.retryCount) throw new ReplicationError(errno ?? 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE', message);
        this.options.logger.warn({ err: failureError({ errno: errno ?? ErrorCodes.CR_CONN_HOST_ERROR, message }, err), attempt: failures },
          `cannot reach the source; retrying in ${source.connectRetry} s`);
        this.options.stats.failed('io', errno ?? ErrorCodes.CR_CONN_HOST_ERROR);
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
          throw new ReplicationError('ER_SLAVE_FATAL_ERROR', 'Fatal error: The slave I/O thread stops because master ' +
            'and slave have equal MySQL server ids; give the engine a serverId different from the source\'s ' +
            `(${dump.source.serverId}), or set replicateSameServerId`);
        }
        this.running = 'Yes';
        this.options.logger.info({ source: `${source.host}:${source.port}`, serverVersion: dump.source.serverVersion,
          serverId: dump.source.serverId, from: this.position }, `connected to the source ${source.host}:${source.port} ` +
          `(${dump.source.serverVersion}, server id ${dump.source.serverId}), reading from ` +
          `${this.position.file || '(first binlog)'}:${this.position.pos}`);
        failures = 0;
        connected = true;
        this.options.onRetrying(undefined);
        // A FLUSH RELAY LOGS asked from here on is served at the next pause of the source.
        this.wakeReceiver = () => undefined;
        const ended = await this.receive(dump, source).catch(unlessCut).finally(() => {
          this.wakeReceiver = undefined;
          this.rotationAsked?.resolve();
          this.rotationAsked = undefined;
        });
        if (ended === 'until') {
          this.options.logger.info({ until: this.options.untilGtid }, 'I/O stage stopped because the source reached UNTIL master_gtid_pos');
          return;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (!retryable(err)) throw err;
        failedRead = true;
        failures++;
        const failure = mysqlFailure(err, 'CR_SERVER_LOST');
        this.options.stats.failed('io', failure.errno);
        this.options.logger.warn({ err: failureError(failure, err), at: this.position },
          `lost the source; reconnecting in ${source.connectRetry} s`);
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
   * Copies events into the relay log until the dump ends ('until': at UNTIL master_gtid_pos). Fails with
   * RelayLogCutError when the relay log is cut meanwhile: run() then fetches again from the cut.
   */
  private async receive(dump: BinlogDump, source: SourceSettings): Promise<'until' | undefined> {
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
    // GTID mode: the groups read, the GTID position of the whole ones queued (`gtid`), and the relay log files'
    // heads, which state Gtid_IO_Pos so that it can be found again from the last file after a crash.
    const groups = new MariadbGroupTracker();
    let gtid = this.gtidPosition;
    const gtidMark = (flags: number) => gtid ? [encodeGtidList({ serverId: replicaServerId, gtids: gtid.list(), flags, checksumAlg })] : [];
    const domainFiltered = (domainId: number) => source.doDomainIds.length > 0
      ? !source.doDomainIds.includes(domainId) : source.ignoreDomainIds.includes(domainId);

    let sourceFormat: Buffer | undefined;
    /** A new file whose events start at source position `at`. */
    const rotate = async (at?: SourcePosition) => {
      let file = '';
      await this.write(async () => {
        file = await relayLog.rotate([ownHeader(), positionMark(at), ...gtidMark(0), ...(sourceFormat ? [sourceFormat] : [])],
          epoch);
      });
      this.options.logger.info({ relayLogFile: file }, `relay log rotated to ${file}`);
    };
    // Every I/O stage start begins a relay log file, whose head says where its events come from.
    await rotate();
    // MASTER_AUTO_POSITION: the MySQL transactions read, each added to Retrieved_Gtid_Set once written whole.
    const mysqlGroups = this.retrievedGtidSet ? new MysqlGroupTracker() : undefined;
    const decodeMysqlGroupEvent = (raw: Buffer) => decodeReceived(decoder, raw, this.position);
    let pending: PendingEvent[] = [];
    let pendingBytes = 0;
    let skipped = false;
    const queue = (raw: Buffer, mysqlEnded?: MysqlGtid) => {
      pending.push({ raw, file: tracker.file, pos: tracker.pos, gtid, mysqlEnded });
      pendingBytes += raw.length;
    };
    /** The last wait of the SQL stage at the end of the relay log that let an event past the space limit. */
    let granted = 0;

    const flush = async () => {
      // All in one write; on a disk too full for that, one event at a time, so that what fits gets applied and
      // purged, making room for the rest.
      for (let done = 0, batch = pending.length; done < pending.length; batch = 1) {
        this.state = IoState.queueing;
        const events = pending.slice(done, done + batch);
        if (!await this.write(() => relayLog.append(events.map((e) => e.raw), epoch), batch === 1)) continue;
        for (const { mysqlEnded } of events) if (mysqlEnded) this.retrievedGtidSet!.add(mysqlEnded);
        done += batch;
        const last = events.at(-1)!;
        this.position = { file: last.file, pos: last.pos };
        this.gtidPosition = last.gtid;
        this.options.onPosition(this.position);
        // Event by event, files still end at max_relay_log_size, so that the SQL stage can purge them.
        if (batch === 1 && done < pending.length && relayLog.needsRotation()) await rotate(this.position);
      }
      pending = [];
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
      // What has been received is taken without a promise per event; the relay log is written when the source
      // has sent nothing more for a turn of the event loop (or every FLUSH_BYTES).
      const raw = dump.take() ?? await this.waitForEvent(dump, flush, rotate);
      if (raw === null) {
        await flush();
        return;
      }
      this.options.stats.received(raw.length);
      const header = decodeHeader(raw);
      if (header.typeCode === EventType.HEARTBEAT || header.typeCode === EventType.HEARTBEAT_V2) {
        this.receivedHeartbeats++;
        continue;
      }
      const positional = header.typeCode === EventType.ROTATE || header.typeCode === EventType.FORMAT_DESCRIPTION;
      const decoded = positional || (gtid && GROUP_EVENTS.has(header.typeCode))
        ? decodeReceived(decoder, raw, tracker.position()) : undefined;
      if (header.typeCode === EventType.FORMAT_DESCRIPTION) sourceFormat = raw;
      if (decoded?.type === 'rotate' && decoded.nextFile !== tracker.file) {
        this.options.logger.info({ sourceLogFile: decoded.nextFile }, `the source rotated to binlog ${decoded.nextFile}`);
      }
      if ((gtid || mysqlGroups) && !positional && header.logPos !== 0) {
        // A source dumping from a GTID position does not send the groups before it: an event that says it
        // starts past here follows such a gap, as does the Gtid_list a MariaDB source makes up after them; the
        // relay log says so with a position mark. (Only by GTID: elsewhere header end positions are not trusted.)
        const start = (header.flags & LOG_EVENT_ARTIFICIAL_F) !== 0
          ? (header.typeCode === EventType.MARIA_GTID_LIST ? header.logPos : 0) : header.logPos - header.eventLength;
        if (start > tracker.pos) {
          tracker.pos = start;
          skipped = true;
        }
      }
      // By GTID, the groups of filtered domains and ignored server ids are left out whole, and the GTID
      // position written after them says they count as done (FLAG_IGN_GTIDS, as MariaDB's I/O thread does).
      const ended = gtid && decoded ? groups.event(decoded) : undefined;
      const group = groups.open?.gtid ?? ended;
      const leftOut = !positional && (ignored.has(header.serverId) ||
        (gtid !== undefined && group !== undefined && (domainFiltered(group.domainId) || ignored.has(group.serverId))));
      if (leftOut) {
        tracker.advance(header);
        skipped = true;
        if (ended) {
          // Said at once, so that the SQL stage's positions do not wait for the next group to pass it.
          gtid = gtid!.with(ended);
          queue(gtidMark(GTID_LIST_IGN_GTIDS)[0]!);
          queue(positionMark());
          skipped = false;
        }
        continue;
      }
      if (gtid && decoded?.type === 'gtid_list' && (header.flags & LOG_EVENT_ARTIFICIAL_F) !== 0 &&
        ((decoded.flags ?? 0) & GTID_LIST_UNTIL_REACHED) !== 0) {
        // The source reached UNTIL master_gtid_pos and ends the dump: the SQL stage stops at this event.
        queue(raw);
        await flush();
        return 'until';
      }
      if (limit > 0 && relayLog.space() + pendingBytes > limit) await makeRoom();
      if (skipped) {
        // The relay log must say that the source position jumped over what was not written.
        queue(positionMark());
        skipped = false;
      }
      tracker.advance(header, decoded);
      if (ended) gtid = gtid!.with(ended);
      queue(raw, mysqlGroups && mysqlGroupEvent(mysqlGroups, header.typeCode, raw, decodeMysqlGroupEvent));
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
  }

  /**
   * The next event once none is queued: after one turn of the event loop without one, what is pending is
   * written, and FLUSH RELAY LOGS served, while the source is quiet. Null when the dump ends.
   */
  private async waitForEvent(dump: BinlogDump, flush: () => Promise<void>, rotate: () => Promise<void>): Promise<Buffer | null> {
    const next = dump.next();
    const raw = await Promise.race([next, new Promise<typeof NOT_YET>((r) => setImmediate(() => r(NOT_YET)))]);
    if (raw !== NOT_YET) return raw;
    await flush();
    for (;;) {
      const asked = this.rotationAsked;
      if (asked) {
        await rotate();
        this.rotationAsked = undefined;
        asked.resolve();
      }
      const woken = new Promise<typeof NOT_YET>((r) => { this.wakeReceiver = () => r(NOT_YET); });
      const raw = await Promise.race([next, woken]);
      if (raw !== NOT_YET) return raw;
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
          throw new ReplicationError('ER_SLAVE_RELAY_LOG_WRITE_FAILURE', `Relay log write failure: could not queue ` +
            `event from master (${e.code ?? ''} ${e.message})`);
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

/** The events that begin, end or state a MariaDB event group, decoded in GTID mode. */
const GROUP_EVENTS = new Set<number>([EventType.MARIA_GTID, EventType.MARIA_GTID_LIST, EventType.XID, EventType.XA_PREPARE,
  EventType.QUERY]);

/**
 * An event queued for the relay log, with what its write makes true: the source position after it, the GTID
 * position of the whole groups up to it, and the MySQL transaction it ends.
 */
interface PendingEvent {
  raw: Buffer;
  file: string;
  pos: number;
  gtid: MariadbGtidPosition | undefined;
  mysqlEnded: MysqlGtid | undefined;
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
    throw new ReplicationError(checksum ? 'ER_NETWORK_READ_EVENT_CHECKSUM_FAILURE' : 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE',
      `${checksum ? 'Replication event checksum verification failed while reading from network' : 'Relay log write ' +
      'failure: could not queue event from master'}: ${(err as Error).message}, in the event at source position ` +
      `${at.file}:${at.pos}`);
  }
}

function retryable(err: unknown): boolean {
  return err instanceof SourceError && err.retryable;
}
