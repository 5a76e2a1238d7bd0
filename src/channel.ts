// One channel (a MariaDB "connection"): its master info, relay log, I/O stage and SQL stage, and the commands
// CHANGE / START / STOP / RESET that act on them.
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionOptions } from 'mysql2/promise';
import type { Logger } from 'pino';
import { compareSourcePositions, type SourcePosition } from './binlog/position.js';
import { Applier } from './apply/applier.js';
import { ReplicationError } from './errors.js';
import {
  EventFilter, explainEvent, formatFilterList, type Decision, type EventFilterOptions, type ExplainQuery, type ReplicationFilters,
} from './filter/index.js';
import {
  channelFileSuffix, defaultMasterInfo, filtersFileName, formatMasterInfo, formatRelayLogInfo, isDiskFull, masterInfoFileName,
  parseMasterInfo, parseRelayLogInfo, relayLogInfoFileName, writeFileAtomic, type MasterInfo,
} from './info/index.js';
import { ChannelLock, channelLockName } from './info/channel-lock.js';
import { PositionTable, type ChannelPosition, type PositionRow } from './info/position-table.js';
import { IoStage } from './io-stage.js';
import { RelayLog, scanRelayFile } from './relaylog/relay-log.js';
import { SqlStage, type SqlStageCounters, type UntilCondition } from './sql-stage.js';
import type { ReplicaStatus } from './status.js';

/** Options of changeReplicationSource; a key left out keeps its value. */
export interface ReplicationSourceOptions {
  sourceHost?: string;
  sourcePort?: number;
  sourceUser?: string;
  sourcePassword?: string;
  /** Binlog file to start from; with sourceLogPos. A change of host or port without them starts at the beginning. */
  sourceLogFile?: string;
  sourceLogPos?: number;
  /** Seconds between reconnect attempts (MASTER_CONNECT_RETRY), default 60. */
  sourceConnectRetry?: number;
  /** Reconnect attempts before the I/O stage gives up (MASTER_RETRY_COUNT), default 100000; 0 = no limit. */
  sourceRetryCount?: number;
  /** Seconds between heartbeats from an idle source (MASTER_HEARTBEAT_PERIOD); default replicaNetTimeout / 2; 0 = none. */
  sourceHeartbeatPeriod?: number;
  /** Events from these server ids are not written to the relay log (IGNORE_SERVER_IDS); [] clears the list. */
  ignoreServerIds?: number[];
  /**
   * MASTER_DELAY: a transaction is applied no earlier than this many seconds after it committed on the source
   * (by the source's clock as its events carry it). The only option that needs the SQL stage, not the I/O
   * stage, stopped.
   */
  sourceDelay?: number;
  /**
   * MASTER_SSL: TLS to the source. As on MariaDB 10.x, the other TLS options take effect only with it set.
   * A CA file or path makes the source's certificate chain verified; sourceSslVerifyServerCert also checks
   * that the certificate names sourceHost. Paths are absolute; the files are read at every connect.
   */
  sourceSsl?: boolean;
  /** MASTER_SSL_CA: a PEM file of trusted CA certificates. */
  sourceSslCa?: string;
  /** MASTER_SSL_CAPATH: a directory whose files' PEM certificates are trusted CAs. */
  sourceSslCapath?: string;
  /** MASTER_SSL_CERT / MASTER_SSL_KEY: this replica's certificate and private key (PEM), for REQUIRE X509 users. */
  sourceSslCert?: string;
  sourceSslKey?: string;
  /** MASTER_SSL_CIPHER: an OpenSSL cipher list. */
  sourceSslCipher?: string;
  /** MASTER_SSL_CRL / MASTER_SSL_CRLPATH: PEM revocation lists, a file or every file of a directory. */
  sourceSslCrl?: string;
  sourceSslCrlpath?: string;
  /** MASTER_SSL_VERIFY_SERVER_CERT: the source's certificate must name sourceHost. */
  sourceSslVerifyServerCert?: boolean;
  /** MASTER_TLS_VERSION: the protocols allowed, e.g. 'TLSv1.2,TLSv1.3'; '' = TLSv1.2 and TLSv1.3 (Node's defaults). */
  sourceTlsVersion?: string;
  /**
   * SOURCE_PUBLIC_KEY_PATH: a PEM file with the source's RSA public key, with which a sha256_password or
   * caching_sha2_password user's password is encrypted on a connection without TLS.
   */
  sourcePublicKeyPath?: string;
  /** GET_SOURCE_PUBLIC_KEY: without TLS and sourcePublicKeyPath, caching_sha2_password may ask the source for its key. */
  getSourcePublicKey?: boolean;
}

export interface EngineSettings {
  dataDir: string;
  serverId: number;
  target: ConnectionOptions;
  logger: Logger;
  maxRelayLogSize: number;
  relayLogPurge: boolean;
  /** relay_log_space_limit, bytes per channel; 0 = no limit. */
  relayLogSpaceLimit: number;
  replicaNetTimeout: number;
  /** slave_max_allowed_packet, bytes. */
  replicaMaxAllowedPacket: number;
  replicateSameServerId: boolean;
  positionTable: string;
  replicaTransactionRetries: number;
  /** Seconds the SQL stage keeps reconnecting to a lost target; 0 = no limit. */
  targetRetryTimeout: number;
  /** Engine-wide rules, copied into a channel when it is created. */
  filters: ReplicationFilters;
  /** slave_skip_errors. */
  replicaSkipErrors: ReadonlySet<number> | 'all';
}

export type ReplicaThread = 'IO_THREAD' | 'SQL_THREAD';

const INFO_WRITE_INTERVAL_MS = 1000;
/** master_retry_count's default on MariaDB. */
const DEFAULT_RETRY_COUNT = 100000;

export class Channel {
  private io: IoStage | undefined;
  private sql: SqlStage | undefined;
  private applier: Applier | undefined;
  private lastIoError = { errno: 0, message: '', at: '' };
  private lastSqlError = { errno: 0, message: '', at: '' };
  /** START SLAVE UNTIL of the SQL stage started last; shown until a start without it, even after a stop. */
  private until: UntilCondition | undefined;
  private readonly counters: SqlStageCounters = { skip: 0, retriedTransactions: 0 };
  private infoTimer: NodeJS.Timeout | undefined;
  private infoDirty = false;
  /** CHANGE MASTER named a new read position: the I/O stage starts there, not where the relay log ends. */
  private readPositionChanged = false;
  private readonly logger: Logger;
  private readonly positions: PositionTable;
  /** Held on the target while the SQL stage runs, and while anything else writes the channel's position row. */
  private readonly lock: ChannelLock;
  /** Events not applied because they would write in the position table's database. */
  private skippedProtectedEvents = 0;

  private constructor(
    readonly name: string,
    private readonly settings: EngineSettings,
    private masterInfo: MasterInfo,
    /** The SQL stage's position when it is not running: what relay-log.info says. */
    private applied: ChannelPosition,
    readonly relayLog: RelayLog,
    private filters: ReplicationFilters,
    /** MASTER_DELAY, seconds; kept in relay-log.info as the servers keep it. */
    private sqlDelay: number,
  ) {
    this.logger = settings.logger.child({ channel: name });
    this.positions = new PositionTable(settings.positionTable, name, settings.serverId);
    this.lock = new ChannelLock(channelLockName(settings.serverId, settings.positionTable, name),
      `Channel '${name}' of serverId ${settings.serverId}`);
    // A cut (a damaged relay log) moves Read_Master_Log_Pos back: the I/O stage reads again from there.
    relayLog.on('cut', (resume: SourcePosition) => {
      this.masterInfo = { ...this.masterInfo, sourceLogFile: resume.file, readSourceLogPos: resume.pos };
      this.scheduleInfoWrite();
    });
  }

  static relayLogBaseName(name: string): string {
    return name === '' ? 'relay-bin' : `relay-bin-${channelFileSuffix(name)}`;
  }

  private static relayLogOptions(name: string, settings: EngineSettings) {
    return { dir: settings.dataDir, baseName: Channel.relayLogBaseName(name), maxSize: settings.maxRelayLogSize };
  }

  /** A channel that exists in the data directory. */
  static async load(name: string, settings: EngineSettings): Promise<Channel> {
    const masterPath = join(settings.dataDir, masterInfoFileName(name));
    const masterInfo = parseMasterInfo(await readFile(masterPath, 'utf8'));
    const relayLog = await RelayLog.open(Channel.relayLogOptions(name, settings));
    let applied: ChannelPosition;
    let sqlDelay = 0;
    try {
      const info = parseRelayLogInfo(await readFile(join(settings.dataDir, relayLogInfoFileName(name)), 'utf8'));
      applied = { relayLogFile: info.relayLogFile, relayLogPos: info.relayLogPos,
        sourceLogFile: info.relaySourceLogFile, sourceLogPos: info.execSourceLogPos };
      sqlDelay = info.sqlDelay;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      applied = startOf(name, { file: masterInfo.sourceLogFile, pos: masterInfo.readSourceLogPos });
    }
    let filters: ReplicationFilters;
    try {
      filters = JSON.parse(await readFile(join(settings.dataDir, filtersFileName(name)), 'utf8')) as ReplicationFilters;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      filters = structuredClone(settings.filters);
    }
    return new Channel(name, settings, masterInfo, applied, relayLog, filters, sqlDelay);
  }

  /** A new channel from CHANGE MASTER options (validated by the caller); when it fails, it leaves no files. */
  static async create(name: string, settings: EngineSettings, options: ReplicationSourceOptions): Promise<Channel> {
    const relayLog = await RelayLog.open(Channel.relayLogOptions(name, settings));
    const masterInfo = newMasterInfo(settings);
    const channel = new Channel(name, settings, masterInfo, startOf(name, { file: '', pos: 4 }), relayLog,
      structuredClone(settings.filters), 0);
    try {
      await relayLog.reset();
      await channel.change(options);
      await channel.writeFilters();
    } catch (err) {
      await channel.discard();
      throw err;
    }
    return channel;
  }

  /** Removes the files and the target connection of a channel that is not (or no longer) registered. */
  async discard(): Promise<void> {
    await this.closeApplier();
    await this.relayLog.reset().catch(() => undefined);
    await this.removeInfoFiles();
  }

  private async removeInfoFiles(): Promise<void> {
    for (const file of [masterInfoFileName(this.name), relayLogInfoFileName(this.name), filtersFileName(this.name)]) {
      await unlink(join(this.settings.dataDir, file)).catch(() => undefined);
    }
  }

  get ioRunning(): boolean {
    return this.io !== undefined && this.io.running !== 'No';
  }

  get sqlRunning(): boolean {
    return this.sql?.running ?? false;
  }

  sourceAddress(): { host: string; port: number } {
    return { host: this.masterInfo.sourceHost, port: this.masterInfo.sourcePort };
  }

  /**
   * CHANGE MASTER: a key left out keeps its value. Every option here belongs to the I/O stage, which must be
   * stopped; the SQL stage may keep running and applies what the relay log already holds (seed 003's rules).
   */
  async change(options: ReplicationSourceOptions): Promise<void> {
    const { sourceDelay, ...ioOptions } = options;
    if (this.ioRunning && Object.values(ioOptions).some((v) => v !== undefined)) {
      throw new ReplicationError('ER_SLAVE_MUST_STOP', `This operation cannot be performed with a running slave io ` +
        `thread; run stopReplica('${this.name}', { threads: ['IO_THREAD'] }) first`);
    }
    if (this.sqlRunning && sourceDelay !== undefined) {
      throw new ReplicationError('ER_SLAVE_MUST_STOP', `sourceDelay (MASTER_DELAY) cannot change while the SQL stage ` +
        `runs; run stopReplica('${this.name}', { threads: ['SQL_THREAD'] }) first`);
    }
    if (options.ignoreServerIds?.includes(this.settings.serverId) && this.settings.replicateSameServerId) {
      throw new ReplicationError('ER_WRONG_ARGUMENTS', `ignoreServerIds cannot hold this replica's own server id ` +
        `${this.settings.serverId} while replicateSameServerId is set`);
    }
    const next: MasterInfo = { ...this.masterInfo };
    const moved = (options.sourceHost !== undefined && options.sourceHost !== next.sourceHost) ||
      (options.sourcePort !== undefined && options.sourcePort !== next.sourcePort);
    if (options.sourceHost !== undefined) next.sourceHost = options.sourceHost;
    if (options.sourcePort !== undefined) next.sourcePort = options.sourcePort;
    if (options.sourceUser !== undefined) next.sourceUser = options.sourceUser;
    if (options.sourcePassword !== undefined) next.sourcePassword = options.sourcePassword;
    if (options.sourceConnectRetry !== undefined) next.sourceConnectRetry = options.sourceConnectRetry;
    if (options.sourceRetryCount !== undefined) next.retryCount = options.sourceRetryCount;
    if (options.sourceHeartbeatPeriod !== undefined) next.heartbeatPeriod = options.sourceHeartbeatPeriod;
    if (options.ignoreServerIds !== undefined) next.ignoreServerIds = [...new Set(options.ignoreServerIds)].sort((a, b) => a - b);
    if (options.sourceSsl !== undefined) next.sslAllowed = options.sourceSsl;
    if (options.sourceSslCa !== undefined) next.sslCa = options.sourceSslCa;
    if (options.sourceSslCapath !== undefined) next.sslCaPath = options.sourceSslCapath;
    if (options.sourceSslCert !== undefined) next.sslCert = options.sourceSslCert;
    if (options.sourceSslKey !== undefined) next.sslKey = options.sourceSslKey;
    if (options.sourceSslCipher !== undefined) next.sslCipher = options.sourceSslCipher;
    if (options.sourceSslCrl !== undefined) next.sslCrl = options.sourceSslCrl;
    if (options.sourceSslCrlpath !== undefined) next.sslCrlPath = options.sourceSslCrlpath;
    if (options.sourceSslVerifyServerCert !== undefined) next.sslVerifyServerCert = options.sourceSslVerifyServerCert;
    if (options.sourceTlsVersion !== undefined) next.tlsVersion = options.sourceTlsVersion;
    if (options.sourcePublicKeyPath !== undefined) next.publicKeyPath = options.sourcePublicKeyPath;
    if (options.getSourcePublicKey !== undefined) next.getPublicKey = options.getSourcePublicKey;
    const positioned = options.sourceLogFile !== undefined || options.sourceLogPos !== undefined;
    if (positioned) {
      next.sourceLogFile = options.sourceLogFile ?? next.sourceLogFile;
      next.readSourceLogPos = options.sourceLogPos ?? 4;
    } else if (moved) {
      // A new source: its binlog positions mean nothing here, so start at its beginning.
      next.sourceLogFile = '';
      next.readSourceLogPos = 4;
    }
    if ((positioned || moved) && !this.sqlRunning) {
      // The temporary tables of the old position's source sessions mean nothing at the new one.
      await this.closeApplier();
      await this.whileLocked(async (applier) => {
        // Relay logs hold events of the old position: they go, and both stages start at the new one. With the SQL
        // stage running they stay: it applies them, then follows the I/O stage to the new position.
        await this.relayLog.reset();
        this.applied = startOf(this.name, { file: next.sourceLogFile, pos: next.readSourceLogPos });
        await applier.savePosition(this.applied);
      });
      await this.writeRelayLogInfo();
    }
    this.masterInfo = next;
    this.readPositionChanged ||= positioned || moved;
    await this.writeMasterInfo();
    if (sourceDelay !== undefined) {
      this.sqlDelay = sourceDelay;
      await this.writeRelayLogInfo();
    }
  }

  /** CHANGE REPLICATION FILTER: keys given replace the channel's rules; the SQL stage must be stopped. */
  async changeFilters(filters: Partial<ReplicationFilters>): Promise<void> {
    if (this.sqlRunning) {
      throw new ReplicationError('ER_SLAVE_MUST_STOP', `This operation cannot be performed with a running slave sql ` +
        `thread; run stopReplica('${this.name}', { threads: ['SQL_THREAD'] }) first`);
    }
    this.filters = { ...this.filters, ...structuredClone(filters) };
    await this.writeFilters();
  }

  /** As the SQL stage applies the rules: the last target it opened says how database names compare. */
  explainFilter(query: ExplainQuery): Decision {
    return explainEvent(this.filters, query, this.filterOptions());
  }

  private filterOptions(): EventFilterOptions {
    return { caseInsensitiveNames: this.applier?.namesIgnoreCase ?? false, protectedDatabase: this.positions.database,
      charsetOf: (id) => this.applier?.charsetOf(id) };
  }

  /** sql_slave_skip_counter for the next start of the SQL stage, which must be stopped. */
  setSkipCounter(count: number): void {
    if (this.sqlRunning) {
      throw new ReplicationError('ER_SLAVE_MUST_STOP', `the skip counter cannot change while the SQL stage runs; ` +
        `run stopReplica('${this.name}', { threads: ['SQL_THREAD'] }) first`);
    }
    this.counters.skip = count;
  }

  async start(threads: ReplicaThread[], until?: UntilCondition): Promise<void> {
    if (!this.masterInfo.sourceHost) {
      throw new ReplicationError('ER_BAD_SLAVE', `Misconfigured slave: MASTER_HOST was not set for channel ` +
        `'${this.name}'; set it with changeReplicationSource`);
    }
    let wantIo = threads.includes('IO_THREAD') && !this.ioRunning;
    const wantSql = threads.includes('SQL_THREAD') && !this.sqlRunning;
    if (!wantIo && !wantSql) return;

    let stored: PositionRow | undefined;
    let restartIo = false;
    if (wantSql) {
      // The applier's connection outlives stops of the SQL stage, with the source sessions' temporary tables
      // on it, as a native replica keeps them across STOP/START SLAVE. The lock does not: it is taken at each start.
      this.lock.want();
      try {
        ({ stored } = await this.openApplier());
      } catch (err) {
        await this.lock.release();
        throw err;
      }
      if (stored) this.applied = stored;
      const end = await this.relayEndFromFiles();
      if (!this.relayLog.list().includes(this.applied.relayLogFile) ||
        (end && compareSourcePositions(end, sourceOf(this.applied)) < 0)) {
        // The relay log does not hold the applied position (deleted, or behind the target): fetch again from it.
        restartIo = this.ioRunning;
        await this.stopIo();
        await this.relayLog.reset();
        this.masterInfo = { ...this.masterInfo, sourceLogFile: this.applied.sourceLogFile,
          readSourceLogPos: this.applied.sourceLogPos };
        this.applied = startOf(this.name, sourceOf(this.applied));
      }
    }
    wantIo ||= restartIo;
    if (wantIo) {
      this.lastIoError = { errno: 0, message: '', at: '' };
      const named = { file: this.masterInfo.sourceLogFile, pos: this.masterInfo.readSourceLogPos };
      const start = this.readPositionChanged ? named : (await this.relayEndFromFiles()) ?? named;
      this.readPositionChanged = false;
      // master.info, written every second and not at all on a full disk, can be behind the relay log after a
      // crash; Read_Master_Log_Pos would say so for as long as the I/O stage cannot write.
      if (compareSourcePositions(start, named) > 0) {
        this.masterInfo = { ...this.masterInfo, sourceLogFile: start.file, readSourceLogPos: start.pos };
      }
      this.io = new IoStage({
        relayLog: this.relayLog,
        logger: this.logger,
        replicaServerId: this.settings.serverId,
        replicateSameServerId: this.settings.replicateSameServerId,
        netTimeout: this.settings.replicaNetTimeout,
        maxAllowedPacket: this.settings.replicaMaxAllowedPacket,
        relayLogSpaceLimit: this.settings.relayLogSpaceLimit,
        source: () => ({
          host: this.masterInfo.sourceHost, port: this.masterInfo.sourcePort, user: this.masterInfo.sourceUser,
          password: this.masterInfo.sourcePassword, connectRetry: this.masterInfo.sourceConnectRetry,
          retryCount: this.masterInfo.retryCount, heartbeatPeriod: this.heartbeatPeriod(),
          ignoreServerIds: this.masterInfo.ignoreServerIds,
          // master.info's ssl* fields are the TLS settings as they are
          ssl: this.masterInfo.sslAllowed ? this.masterInfo : undefined,
          publicKey: this.masterInfo,
        }),
        onPosition: (position) => {
          this.masterInfo = { ...this.masterInfo, sourceLogFile: position.file, readSourceLogPos: position.pos };
          this.scheduleInfoWrite();
        },
        onError: (errno, message) => {
          this.lastIoError = { errno, message, at: new Date().toISOString() };
        },
        onRetrying: (failure) => {
          this.lastIoError = retryingError(this.lastIoError, failure);
        },
      }, start);
      this.io.start();
    }
    if (wantSql) {
      this.lastSqlError = { errno: 0, message: '', at: '' };
      this.until = until;
      this.sql = new SqlStage({
        relayLog: this.relayLog,
        applier: this.applier!,
        logger: this.logger,
        replicaServerId: this.settings.serverId,
        transactionRetries: this.settings.replicaTransactionRetries,
        targetRetryTimeout: this.settings.targetRetryTimeout,
        channel: this.name,
        relayLogPurge: this.settings.relayLogPurge,
        filter: new EventFilter(this.filters, {
          ...this.filterOptions(),
          onProtected: (decision, repeat) => {
            this.skippedProtectedEvents++;
            if (!repeat) this.logger.warn({ rule: decision.rule, reason: decision.reason }, 'event not applied');
          },
        }),
        ...(until ? { until } : {}),
        delaySeconds: this.sqlDelay,
        counters: this.counters,
        onProgress: (position) => {
          this.applied = position;
          this.scheduleInfoWrite();
        },
        onError: (errno, message) => {
          this.lastSqlError = { errno, message, at: new Date().toISOString() };
        },
        onStop: () => {
          void this.lock.release();
        },
        onRetrying: (failure) => {
          this.lastSqlError = retryingError(this.lastSqlError, failure);
        },
      }, this.applied);
      this.sql.start(stored);
    }
  }

  async stop(threads: ReplicaThread[]): Promise<void> {
    if (threads.includes('IO_THREAD')) await this.stopIo();
    // A target that does not answer does not hold the stop up.
    const interrupt = threads.includes('SQL_THREAD') ? this.applier?.interruptAfterGrace() : undefined;
    try {
      if (threads.includes('SQL_THREAD') && this.sql) {
        await this.sql.stop();
        this.applied = this.sql.position;
      }
      // Also when a start failed after taking it.
      if (threads.includes('SQL_THREAD')) await this.lock.release();
    } finally {
      interrupt?.();
    }
    await this.flushInfo();
  }

  /** FLUSH RELAY LOGS: a running I/O stage goes on in a new relay log file. */
  flushRelayLog(): Promise<void> {
    return this.io?.rotateRelayLog() ?? Promise.resolve();
  }

  private async stopIo(): Promise<void> {
    if (!this.io) return;
    await this.io.stop();
    await this.relayLog.close();
  }

  /** RESET SLAVE: forgets relay logs and positions, keeps the connection settings; `all` forgets everything. */
  async reset(all: boolean): Promise<void> {
    if (this.ioRunning || this.sqlRunning) {
      throw new ReplicationError('ER_SLAVE_MUST_STOP', `This operation cannot be performed with a running slave; ` +
        `run stopReplica('${this.name}') first`);
    }
    await this.whileLocked(async (applier) => {
      await this.relayLog.reset();
      await applier.deletePosition();
    });
    // The source sessions' temporary tables go with the positions.
    await this.closeApplier();
    this.masterInfo = { ...this.masterInfo, sourceLogFile: '', readSourceLogPos: 4 };
    this.applied = startOf(this.name, { file: '', pos: 4 });
    this.lastIoError = { errno: 0, message: '', at: '' };
    this.lastSqlError = { errno: 0, message: '', at: '' };
    if (all) {
      await this.removeInfoFiles();
      return;
    }
    await this.writeMasterInfo();
    await this.writeRelayLogInfo();
  }

  waitForSourcePosition(target: SourcePosition, timeoutSeconds: number): Promise<number | null> {
    return this.sql ? this.sql.waitForSourcePosition(target, timeoutSeconds) : Promise.resolve(null);
  }

  status(): ReplicaStatus {
    const io = this.io;
    const sql = this.sql;
    const applied = sql?.position ?? this.applied;
    const ioRunning = io?.running ?? 'No';
    const sqlRunning = sql?.running ? 'Yes' : 'No';
    let secondsBehind: number | null = null;
    if (sqlRunning === 'Yes' && ioRunning === 'Yes') {
      const ts = sql!.applyingTimestamp;
      secondsBehind = ts === undefined ? 0 : Math.max(0, Math.floor(Date.now() / 1000) - ts);
    }
    return {
      channel: this.name,
      ioState: io?.running === 'No' ? '' : io?.state ?? '',
      sqlState: sql?.running ? sql.state : '',
      sourceHost: this.masterInfo.sourceHost,
      sourceUser: this.masterInfo.sourceUser,
      sourcePort: this.masterInfo.sourcePort,
      sourceConnectRetry: this.masterInfo.sourceConnectRetry,
      sourceLogFile: this.masterInfo.sourceLogFile,
      readSourceLogPos: this.masterInfo.readSourceLogPos,
      relayLogFile: applied.relayLogFile,
      relayLogPos: applied.relayLogPos,
      relaySourceLogFile: applied.sourceLogFile,
      ioRunning,
      sqlRunning,
      lastErrno: this.lastSqlError.errno,
      lastError: this.lastSqlError.message,
      replicateDoDb: formatFilterList(this.filters.replicateDoDb),
      replicateIgnoreDb: formatFilterList(this.filters.replicateIgnoreDb),
      replicateDoTable: formatFilterList(this.filters.replicateDoTable),
      replicateIgnoreTable: formatFilterList(this.filters.replicateIgnoreTable),
      replicateWildDoTable: formatFilterList(this.filters.replicateWildDoTable),
      replicateWildIgnoreTable: formatFilterList(this.filters.replicateWildIgnoreTable),
      replicateRewriteDb: formatFilterList(this.filters.replicateRewriteDb),
      skipCounter: this.counters.skip,
      execSourceLogPos: applied.sourceLogPos,
      relayLogSpace: this.relayLog.space(),
      ...untilFields(this.until),
      secondsBehindSource: secondsBehind,
      lastIoErrno: this.lastIoError.errno,
      lastIoError: this.lastIoError.message,
      lastSqlErrno: this.lastSqlError.errno,
      lastSqlError: this.lastSqlError.message,
      replicateIgnoreServerIds: [...this.masterInfo.ignoreServerIds],
      sourceServerId: io?.sourceServerId ?? 0,
      retriedTransactions: this.counters.retriedTransactions,
      maxRelayLogSize: this.settings.maxRelayLogSize,
      executedLogEntries: sql?.executedLogEntries ?? 0,
      receivedHeartbeats: io?.receivedHeartbeats ?? 0,
      heartbeatPeriod: this.heartbeatPeriod(),
      sqlDelay: this.sqlDelay,
      sqlRemainingDelay: sql?.delayUntil === undefined ? null : Math.max(0, Math.ceil(sql.delayUntil - Date.now() / 1000)),
      lastIoErrorTimestamp: this.lastIoError.at,
      lastSqlErrorTimestamp: this.lastSqlError.at,
      ...sslFields(this.masterInfo),
      sourcePublicKeyPath: this.masterInfo.publicKeyPath,
      getSourcePublicKey: this.masterInfo.getPublicKey ? 1 : 0,
      skippedProtectedEvents: this.skippedProtectedEvents,
    };
  }

  async close(): Promise<void> {
    await this.stop(['IO_THREAD', 'SQL_THREAD']);
    await this.closeApplier();
    await this.relayLog.close();
  }

  private heartbeatPeriod(): number {
    return this.masterInfo.heartbeatPeriod;
  }

  private newApplier(): Applier {
    return new Applier({ target: this.settings.target, positions: this.positions, logger: this.logger,
      skipErrors: this.settings.replicaSkipErrors, onOpen: (conn) => this.lock.connected(conn),
      netTimeout: this.settings.replicaNetTimeout });
  }

  /**
   * Runs `work` (which writes the position row) on the applier with the lock held, as the SQL stage holds it:
   * refused before anything changes when another engine runs the channel.
   */
  private async whileLocked(work: (applier: Applier) => Promise<void>): Promise<void> {
    this.lock.want();
    try {
      await work((await this.openApplier()).applier);
    } finally {
      await this.lock.release();
    }
  }

  /** The channel's applier, connected, with the position the target holds for the channel. */
  private async openApplier(): Promise<{ applier: Applier; stored: PositionRow | undefined }> {
    this.applier ??= this.newApplier();
    return { applier: this.applier, stored: await this.applier.open() };
  }

  private async closeApplier(): Promise<void> {
    await this.applier?.close();
    this.applier = undefined;
  }


  /**
   * Where the events in the relay log end, in source terms: the I/O stage continues from there. Found by reading
   * the last relay log file from its head, which names the source position its events start at.
   */
  private async relayEndFromFiles(): Promise<SourcePosition | undefined> {
    const last = this.relayLog.list().at(-1);
    return last === undefined ? undefined : (await scanRelayFile(this.relayLog, last)).source;
  }

  private scheduleInfoWrite(): void {
    this.infoDirty = true;
    this.infoTimer ??= setTimeout(() => {
      this.infoTimer = undefined;
      void this.flushInfo().catch((err) => this.logger.error({ err }, 'cannot write info files'));
    }, INFO_WRITE_INTERVAL_MS);
  }

  private async flushInfo(): Promise<void> {
    if (this.infoTimer) clearTimeout(this.infoTimer);
    this.infoTimer = undefined;
    if (!this.infoDirty) return;
    this.infoDirty = false;
    try {
      await this.relayLog.sync();
      await this.writeMasterInfo();
      await this.writeRelayLogInfo();
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      // Mirrors only (the target's position row is the truth, the relay log says where reading goes on):
      // they are written again later, and a full disk stops neither stage nor a command.
      this.logger.warn({ err: String(err) }, 'cannot write master.info / relay-log.info: the disk is full; retrying later');
      this.infoDirty = true;
      if (this.ioRunning || this.sqlRunning) this.scheduleInfoWrite();
    }
  }

  private async writeFilters(): Promise<void> {
    await writeFileAtomic(join(this.settings.dataDir, filtersFileName(this.name)), JSON.stringify(this.filters, null, 2) + '\n');
  }

  private async writeMasterInfo(): Promise<void> {
    await writeFileAtomic(join(this.settings.dataDir, masterInfoFileName(this.name)), formatMasterInfo(this.masterInfo));
  }

  private async writeRelayLogInfo(): Promise<void> {
    const a = this.sql?.position ?? this.applied;
    await writeFileAtomic(join(this.settings.dataDir, relayLogInfoFileName(this.name)), formatRelayLogInfo({
      relayLogFile: a.relayLogFile, relayLogPos: a.relayLogPos, relaySourceLogFile: a.sourceLogFile,
      execSourceLogPos: a.sourceLogPos, sqlDelay: this.sqlDelay,
    }));
  }
}

function untilFields(until: UntilCondition | undefined): Pick<ReplicaStatus, 'untilCondition' | 'untilLogFile' | 'untilLogPos'> {
  if (!until) return { untilCondition: 'None', untilLogFile: '', untilLogPos: 0 };
  return 'sourceLogFile' in until
    ? { untilCondition: 'Master', untilLogFile: until.sourceLogFile, untilLogPos: until.sourceLogPos }
    : { untilCondition: 'Relay', untilLogFile: until.relayLogFile, untilLogPos: until.relayLogPos };
}

type SslField = 'sourceSslAllowed' | 'sourceSslCaFile' | 'sourceSslCaPath' | 'sourceSslCert' | 'sourceSslCipher' |
  'sourceSslKey' | 'sourceSslVerifyServerCert' | 'sourceSslCrl' | 'sourceSslCrlpath' | 'sourceTlsVersion';

function sslFields(info: MasterInfo): Pick<ReplicaStatus, SslField> {
  return {
    sourceSslAllowed: info.sslAllowed ? 'Yes' : 'No', sourceSslCaFile: info.sslCa, sourceSslCaPath: info.sslCaPath,
    sourceSslCert: info.sslCert, sourceSslCipher: info.sslCipher, sourceSslKey: info.sslKey,
    sourceSslVerifyServerCert: info.sslVerifyServerCert ? 'Yes' : 'No', sourceSslCrl: info.sslCrl,
    sourceSslCrlpath: info.sslCrlPath, sourceTlsVersion: info.tlsVersion,
  };
}

/**
 * The Last_*_Error of a stage that retries a connection: the reason while it retries, with the time it first
 * appeared (MariaDB reports a connect error again only when it changes), and nothing once connected.
 */
function retryingError(last: { errno: number; message: string; at: string },
  failure: { errno: number; message: string } | undefined): { errno: number; message: string; at: string } {
  if (!failure) return { errno: 0, message: '', at: '' };
  if (failure.errno === last.errno && failure.message === last.message) return last;
  return { ...failure, at: new Date().toISOString() };
}

function sourceOf(position: ChannelPosition): SourcePosition {
  return { file: position.sourceLogFile, pos: position.sourceLogPos };
}

/** The position of a channel whose relay log is empty: the first relay log file will hold `source` onwards. */
function startOf(name: string, source: SourcePosition): ChannelPosition {
  return { relayLogFile: `${Channel.relayLogBaseName(name)}.000001`, relayLogPos: 4,
    sourceLogFile: source.file, sourceLogPos: source.pos };
}

function newMasterInfo(settings: EngineSettings): MasterInfo {
  return { ...defaultMasterInfo(), retryCount: DEFAULT_RETRY_COUNT, heartbeatPeriod: settings.replicaNetTimeout / 2 };
}
