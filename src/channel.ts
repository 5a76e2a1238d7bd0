// One channel (a MariaDB "connection"): its master info, relay log, I/O stage and SQL stage, and the commands
// CHANGE / START / STOP / RESET that act on them.
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionOptions } from 'mysql2/promise';
import type { Logger } from 'pino';
import { compareSourcePositions, type SourcePosition } from './binlog/position.js';
import type { MysqlDdlMode } from './apply/mysql-ddl.js';
import { Applier } from './apply/applier.js';
import { ReplicationError } from './errors.js';
import {
  EventFilter, explainEvent, formatFilterList, type Decision, type EventFilterOptions, type ExplainQuery, type ReplicationFilters,
} from './filter/index.js';
import {
  channelFileSuffix, defaultMasterInfo, filtersFileName, formatMasterInfo, formatRelayLogInfo, isDiskFull, masterInfoFileName,
  parseMasterInfo, parseRelayLogInfo, relayLogInfoFileName, writeFileAtomic, type MasterInfo, type UsingGtid,
} from './info/index.js';
import { ChannelLock, channelLockName } from './info/channel-lock.js';
import { PositionTable, type ChannelPosition, type PositionRow } from './info/position-table.js';
import { IoStage } from './io-stage.js';
import { MariadbGtidPosition } from './gtid/mariadb-gtid.js';
import { relayLogGtidPosition, relayLogMysqlGtids } from './gtid/relay-gtid.js';
import type { MysqlGtidSet } from './gtid/mysql-gtid-set.js';
import { RelayLog, scanRelayFile } from './relaylog/relay-log.js';
import {
  type BatchBudget, executedGtidSet, isMysqlGtidState, SqlStage, type SqlStageCounters, type UntilCondition,
} from './sql-stage.js';
import type { ChannelStats, EngineMetrics } from './metrics/metrics.js';
import type { ReplicaStatus } from './status.js';
import { provisionFields, type ProvisionProgress } from './provision/progress.js';
import type { SourceSsl } from './protocol/index.js';
import { rewriteDb } from './filter/index.js';

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
  /**
   * MASTER_USE_GTID (MariaDB sources): 'slave_pos' (or 'current_pos', the same here: the engine logs no
   * transactions of its own) connects by the channel's GTID position instead of file and position; 'no' by
   * file and position. Giving sourceLogFile/sourceLogPos without it sets 'no', as on MariaDB.
   */
  sourceUseGtid?: UsingGtid;
  /** DO_DOMAIN_IDS / IGNORE_DOMAIN_IDS (GTID mode): only / all but these replication domains; [] clears. */
  doDomainIds?: number[];
  ignoreDomainIds?: number[];
  /**
   * MASTER_AUTO_POSITION (MySQL sources): the dump asks by GTID set (COM_BINLOG_DUMP_GTID) for every transaction
   * missing from the channel's executed and retrieved sets, instead of by file and position. Refused together
   * with sourceLogFile/sourceLogPos (1776) and with sourceUseGtid.
   */
  sourceAutoPosition?: boolean;
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
  /** Statements of a MySQL source on a MariaDB target: mapped, refused, or as written. */
  mysqlDdl: MysqlDdlMode;
  metrics: EngineMetrics;
  /** Batch bytes shared by the engine's SQL stages. */
  batchBudget?: BatchBudget;
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
  /** sourceGtidWait calls waiting for the applied GTID state to reach a position. */
  private gtidWaiters: { target: MariadbGtidPosition; resolve: (value: number) => void }[] = [];
  /** What provisionChannel did last in this process, for status(). */
  provisioning: ProvisionProgress | undefined;
  /** Set while provisionChannel or verifyChannel runs: the engine's close() stops it there. */
  provisionAbort: AbortController | undefined;
  /** What the metrics count for this channel. */
  readonly stats: ChannelStats;

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
    this.stats = settings.metrics.channelStats(name);
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
    if (((options.sourceUseGtid ?? this.masterInfo.usingGtid) !== this.masterInfo.usingGtid ||
      (options.sourceAutoPosition ?? this.masterInfo.autoPosition) !== this.masterInfo.autoPosition) && this.sqlRunning) {
      throw new ReplicationError('ER_SLAVE_MUST_STOP', `sourceUseGtid and sourceAutoPosition cannot change while the SQL stage runs (the ` +
        `relay log and the applied position must agree on how positions are kept); run stopReplica('${this.name}') first`);
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
    // A file and position to start from is the old way of positioning (MariaDB's CHANGE MASTER does the same).
    if (positioned && options.sourceUseGtid === undefined) next.usingGtid = 'no';
    if (options.sourceUseGtid !== undefined) next.usingGtid = options.sourceUseGtid;
    if (options.doDomainIds !== undefined) next.doDomainIds = [...new Set(options.doDomainIds)].sort((a, b) => a - b);
    if (options.ignoreDomainIds !== undefined) next.ignoreDomainIds = [...new Set(options.ignoreDomainIds)].sort((a, b) => a - b);
    if (options.sourceAutoPosition !== undefined) next.autoPosition = options.sourceAutoPosition;
    checkGtidOptions(next, positioned);
    const gtidModeChanged = next.usingGtid !== this.masterInfo.usingGtid || next.autoPosition !== this.masterInfo.autoPosition;
    // By GTID a move to another server of the topology keeps everything: the GTID position says where to go on.
    const byGtid = (next.usingGtid !== 'no' || next.autoPosition) && !gtidModeChanged;
    if (positioned) {
      next.sourceLogFile = options.sourceLogFile ?? next.sourceLogFile;
      next.readSourceLogPos = options.sourceLogPos ?? 4;
    } else if (moved) {
      // A new source: its binlog positions mean nothing here, so start at its beginning (or, by GTID, where
      // the GTID position is in its binlog).
      next.sourceLogFile = '';
      next.readSourceLogPos = 4;
    }
    if ((positioned || (moved && !byGtid) || gtidModeChanged) && !this.sqlRunning) {
      // The temporary tables of the old position's source sessions mean nothing at the new one.
      await this.closeApplier();
      await this.whileLocked(async (applier, stored) => {
        // Relay logs hold events of the old position: they go, and both stages start at the new one. With the SQL
        // stage running they stay: it applies them, then follows the I/O stage to the new position. A change of
        // sourceUseGtid alone starts again from what is applied, by file and position or by GTID.
        await this.relayLog.reset();
        const applied = stored ?? this.applied;
        const from = positioned || moved ? { file: next.sourceLogFile, pos: next.readSourceLogPos } : sourceOf(applied);
        next.sourceLogFile = from.file;
        next.readSourceLogPos = from.pos;
        // The GTID state stays: the rows it covers stay on the target.
        this.applied = { ...startOf(this.name, from), gtidState: applied.gtidState };
        await applier.savePosition(this.applied);
      });
      await this.writeRelayLogInfo();
    }
    this.masterInfo = next;
    this.readPositionChanged ||= positioned || moved || gtidModeChanged;
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

  /** 1200 unless the channel has a source host: nothing that reads the source can run without one. */
  checkSourceHost(): void {
    if (!this.masterInfo.sourceHost) {
      throw new ReplicationError('ER_BAD_SLAVE', `Misconfigured slave: MASTER_HOST was not set for channel ` +
        `'${this.name}'; set it with changeReplicationSource`);
    }
  }

  /** `only`: provisioning's catch-up (EventFilterOptions.tables). */
  async start(threads: ReplicaThread[], until?: UntilCondition, only?: (db: string, table: string) => boolean): Promise<void> {
    this.checkSourceHost();
    const untilGtid = until && 'sourceGtidPos' in until ? until.sourceGtidPos : undefined;
    if (untilGtid !== undefined) {
      if (this.masterInfo.usingGtid === 'no') {
        throw new ReplicationError('ER_UNTIL_REQUIRES_USING_GTID', `START SLAVE UNTIL master_gtid_pos requires that ` +
          `slave is using GTID: set sourceUseGtid on channel '${this.name}' first`);
      }
      if (this.ioRunning || this.sqlRunning) {
        throw new ReplicationError('ER_SLAVE_MUST_STOP', `until sourceGtidPos starts both stages afresh (the source ` +
          `stops sending at it); run stopReplica('${this.name}') first`);
      }
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
      // By GTID the relay log may hold several sources' files, whose positions do not compare with each other.
      const behind = this.masterInfo.usingGtid === 'no' && !this.masterInfo.autoPosition && end &&
        compareSourcePositions(end, sourceOf(this.applied)) < 0;
      // START SLAVE UNTIL master_gtid_pos fetches afresh from the applied GTID position, as MariaDB does.
      if (!this.relayLog.list().includes(this.applied.relayLogFile) || behind || untilGtid !== undefined) {
        // The relay log does not hold the applied position (deleted, or behind the target): fetch again from it.
        restartIo = this.ioRunning;
        await this.stopIo();
        try {
          await this.relayLog.reset();
          this.masterInfo = { ...this.masterInfo, sourceLogFile: this.applied.sourceLogFile,
            readSourceLogPos: this.applied.sourceLogPos };
          this.applied = { ...startOf(this.name, sourceOf(this.applied)), gtidState: this.applied.gtidState };
          // The target's row names the new relay log position, which the retries of the SQL stage compare with.
          await this.applier!.savePosition(this.applied);
        } catch (err) {
          await this.lock.release();
          throw err;
        }
      }
    }
    wantIo ||= restartIo;
    if (wantIo) {
      this.lastIoError = { errno: 0, message: '', at: '' };
      const named = { file: this.masterInfo.sourceLogFile, pos: this.masterInfo.readSourceLogPos };
      const start = this.readPositionChanged ? named : (await this.relayEndFromFiles()) ?? named;
      this.readPositionChanged = false;
      const gtid = this.masterInfo.usingGtid === 'no' ? undefined : await this.gtidIoStart();
      const mysqlGtid = this.masterInfo.autoPosition ? await this.mysqlGtidIoStart() : undefined;
      // master.info, written every second and not at all on a full disk, can be behind the relay log after a
      // crash; Read_Master_Log_Pos would say so for as long as the I/O stage cannot write.
      if (compareSourcePositions(start, named) > 0) {
        this.masterInfo = { ...this.masterInfo, sourceLogFile: start.file, readSourceLogPos: start.pos };
      }
      this.logger.info({ from: start, source: `${this.masterInfo.sourceHost}:${this.masterInfo.sourcePort}` },
        `I/O stage starting at source position ${start.file || '(first binlog)'}:${start.pos}`);
      this.io = new IoStage({
        relayLog: this.relayLog,
        logger: this.logger,
        stats: this.stats,
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
          doDomainIds: this.masterInfo.doDomainIds, ignoreDomainIds: this.masterInfo.ignoreDomainIds,
        }),
        gtid,
        untilGtid,
        mysqlGtid,
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
      this.logger.info({ from: this.applied, ...(until ? { until } : {}) }, `SQL stage starting at relay log ` +
        `${this.applied.relayLogFile}:${this.applied.relayLogPos}, source position ` +
        `${this.applied.sourceLogFile || '(first binlog)'}:${this.applied.sourceLogPos}`);
      this.sql = new SqlStage({
        relayLog: this.relayLog,
        applier: this.applier!,
        logger: this.logger,
        stats: this.stats,
        replicaServerId: this.settings.serverId,
        transactionRetries: this.settings.replicaTransactionRetries,
        targetRetryTimeout: this.settings.targetRetryTimeout,
        channel: this.name,
        relayLogPurge: this.settings.relayLogPurge,
        ...(this.settings.batchBudget ? { batchBudget: this.settings.batchBudget } : {}),
        filter: new EventFilter(this.filters, {
          ...this.filterOptions(),
          onProtected: (decision, repeat) => {
            this.skippedProtectedEvents++;
            if (!repeat) this.logger.warn({ rule: decision.rule, reason: decision.reason }, 'event not applied');
          },
          ...(only ? { tables: only } : {}),
        }),
        ...(until ? { until } : {}),
        delaySeconds: this.sqlDelay,
        counters: this.counters,
        onProgress: (position) => {
          this.applied = position;
          this.scheduleInfoWrite();
          this.wakeGtidWaiters();
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

  /** Stops the stages named; `reason` is what the log says made them stop. */
  async stop(threads: ReplicaThread[], reason = 'stopReplica'): Promise<void> {
    const stopping = threads.filter((t) => t === 'IO_THREAD' ? this.ioRunning : this.sqlRunning);
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
    if (stopping.length > 0) {
      const read = { file: this.masterInfo.sourceLogFile, pos: this.masterInfo.readSourceLogPos };
      this.logger.info({ threads: stopping, reason, read, applied: this.applied },
        `stopped ${stopping.join(' and ')} (${reason}) having read the source up to ${read.file}:${read.pos} and ` +
        `applied up to ${this.applied.sourceLogFile}:${this.applied.sourceLogPos}`);
    }
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

  /**
   * MASTER_GTID_WAIT on the channel's applied GTID state: 0 once it has reached `target` in each domain the
   * target lists, -1 after timeoutSeconds (0: at once; negative: no limit). Like the function, it waits
   * whether the SQL stage runs or not.
   */
  async waitForGtid(target: MariadbGtidPosition, timeoutSeconds: number): Promise<number> {
    if (this.appliedGtid()?.reached(target)) return 0;
    if (timeoutSeconds === 0) return -1;
    return new Promise((resolve) => {
      const timer = timeoutSeconds > 0 ? setTimeout(() => finish(-1), timeoutSeconds * 1000) : undefined;
      const waiter = { target, resolve: (value: number) => finish(value) };
      const finish = (value: number) => {
        if (timer) clearTimeout(timer);
        this.gtidWaiters = this.gtidWaiters.filter((w) => w !== waiter);
        resolve(value);
      };
      this.gtidWaiters.push(waiter);
    });
  }

  /** The applied GTID state as a MariaDB GTID position; undefined when it is none (a MySQL source's GTID set). */
  private appliedGtid(): MariadbGtidPosition | undefined {
    try {
      return MariadbGtidPosition.parse((this.sql?.position ?? this.applied).gtidState ?? '');
    } catch {
      return undefined;
    }
  }

  private wakeGtidWaiters(): void {
    if (this.gtidWaiters.length === 0) return;
    const applied = this.appliedGtid();
    for (const waiter of [...this.gtidWaiters]) if (applied?.reached(waiter.target)) waiter.resolve(0);
  }

  /**
   * Where a GTID dump starts: Gtid_IO_Pos as the relay log holds it (what was received is not fetched again),
   * or, when the relay log has nothing by GTID, the GTID state applied on the target.
   */
  private async gtidIoStart(): Promise<MariadbGtidPosition> {
    const received = await relayLogGtidPosition(this.relayLog, this.settings.serverId);
    if (received) return received;
    return MariadbGtidPosition.parse(await this.appliedGtidState() ?? '');
  }

  /** The applied GTID state; read from the target when it has not been since the engine opened. */
  private async appliedGtidState(): Promise<string | undefined> {
    if (this.applied.gtidState === undefined && !this.sqlRunning) {
      const { stored } = await this.openApplier();
      if (stored) this.applied = stored;
    }
    return (this.sql?.position ?? this.applied).gtidState;
  }

  /**
   * MASTER_AUTO_POSITION: Retrieved_Gtid_Set as the relay log holds it, and the executed set as applied when
   * the dump is asked for (the SQL stage moves it meanwhile), so that the dump asks for everything else.
   */
  private async mysqlGtidIoStart(): Promise<{ executed: () => MysqlGtidSet; retrieved: MysqlGtidSet }> {
    // A state that is no MySQL GTID set (a MariaDB GTID position) is refused here, before anything starts.
    executedGtidSet(await this.appliedGtidState(), this.name);
    return {
      executed: () => executedGtidSet((this.sql?.position ?? this.applied).gtidState, this.name),
      retrieved: await relayLogMysqlGtids(this.relayLog),
    };
  }

  /**
   * SET GLOBAL gtid_purged = '+set' for the channel: the set is added to the channel's executed set, as
   * transactions it holds already (a target provisioned from a backup of the source, or a source whose binlogs
   * before the channel's start are purged). The SQL stage must be stopped.
   */
  async addGtidPurged(set: MysqlGtidSet): Promise<void> {
    if (this.sqlRunning) {
      throw new ReplicationError('ER_SLAVE_MUST_STOP', `the executed GTID set cannot change while the SQL stage runs; ` +
        `run stopReplica('${this.name}', { threads: ['SQL_THREAD'] }) first`);
    }
    await this.whileLocked(async (applier, stored) => {
      const { relayLogFile, relayLogPos, sourceLogFile, sourceLogPos, gtidState } = stored ?? this.applied;
      const position = { relayLogFile, relayLogPos, sourceLogFile, sourceLogPos,
        gtidState: executedGtidSet(gtidState, this.name).union(set).toString() };
      await applier.savePosition(position);
      this.applied = position;
      // What status() shows of a stopped SQL stage.
      if (this.sql) this.sql.position = position;
    });
  }

  status(): ReplicaStatus {
    const io = this.io;
    const sql = this.sql;
    const applied = sql?.position ?? this.applied;
    const ioRunning = io?.running ?? 'No';
    const sqlRunning = sql?.running ? 'Yes' : 'No';
    let secondsBehind: number | null = null;
    if (sqlRunning === 'Yes' && ioRunning === 'Yes') {
      // Unknown unless both stages run and the source is connected. 0 once everything received is applied,
      // whatever the last transaction's age; until then, the age of the transaction being applied.
      const read = { file: this.masterInfo.sourceLogFile, pos: this.masterInfo.readSourceLogPos };
      const caughtUp = compareSourcePositions(sourceOf(applied), read) >= 0;
      const ts = sql!.applyingTimestamp;
      secondsBehind = caughtUp ? 0 : ts === undefined ? null : Math.max(0, Math.floor(Date.now() / 1000) - ts);
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
      usingGtid: USING_GTID_STATUS[this.masterInfo.usingGtid],
      gtidIoPos: io?.gtidPosition?.toString() ?? '',
      gtidSlavePos: isMysqlGtidState(applied.gtidState) ? '' : applied.gtidState ?? '',
      autoPosition: this.masterInfo.autoPosition ? 1 : 0,
      retrievedGtidSet: io?.retrievedGtidSet?.toString() ?? '',
      executedGtidSet: isMysqlGtidState(applied.gtidState) ? applied.gtidState! : '',
      replicateDoDomainIds: [...this.masterInfo.doDomainIds],
      replicateIgnoreDomainIds: [...this.masterInfo.ignoreDomainIds],
      ...provisionFields(this.provisioning),
    };
  }

  // ---- provisioning (src/provision) ----

  /** How provisioning connects to the source: as the I/O stage does. */
  sourceSettings(): { host: string; port: number; user: string; password: string; ssl: SourceSsl | undefined } {
    const m = this.masterInfo;
    return { host: m.sourceHost, port: m.sourcePort, user: m.sourceUser, password: m.sourcePassword,
      ssl: m.sslAllowed ? m : undefined };
  }

  /** The target database of a source table as the SQL stage applies its rows events; undefined when the rules keep it out. */
  keptTable(db: string, table: string): string | undefined {
    return this.explainFilter({ db, table }).apply ? rewriteDb(this.filters, db, this.filterOptions()) : undefined;
  }

  /**
   * Points the stopped channel at a provisioning snapshot: its binlog coordinates and the GTID state of
   * everything before them (the next dump by GTID starts there), in every GTID mode, as the SQL stage keeps
   * that state in every mode. The relay log goes: it holds nothing of the snapshot's.
   */
  async startAtSnapshot(snapshot: SourcePosition, gtidState: string): Promise<void> {
    await this.closeApplier();
    await this.whileLocked(async (applier) => {
      await this.relayLog.reset();
      this.applied = { ...startOf(this.name, snapshot), gtidState };
      await applier.savePosition(this.applied);
      // What status() shows of a stopped SQL stage.
      if (this.sql) this.sql.position = this.applied;
    });
    this.masterInfo = { ...this.masterInfo, sourceLogFile: snapshot.file, readSourceLogPos: snapshot.pos };
    this.readPositionChanged = true;
    await this.writeMasterInfo();
    await this.writeRelayLogInfo();
  }

  /**
   * Applies the source from the channel's position up to `until` (a transaction boundary), to the tables `only`
   * accepts, then stops both stages: provisioning brings the tables it copied before a crash to a new snapshot.
   */
  async catchUpTables(until: SourcePosition, only: (db: string, table: string) => boolean): Promise<void> {
    const { stored } = await this.openApplier();
    if (stored) this.applied = stored;
    if (compareSourcePositions(sourceOf(this.applied), until) >= 0) return;
    await this.start(['IO_THREAD', 'SQL_THREAD'], { sourceLogFile: until.file, sourceLogPos: until.pos }, only);
    try {
      await this.waitForUntil(until, this.provisionAbort?.signal);
    } finally {
      await this.stop(['IO_THREAD', 'SQL_THREAD']);
    }
    this.checkReached(until, 'provisioning could not bring the tables it copied before to');
  }

  /**
   * Applies the source from the stopped SQL stage's position up to `until` (a transaction boundary) and stops
   * the SQL stage there: verifyChannel's consistent point. A stopped I/O stage runs meanwhile and is stopped again.
   */
  async applyUntil(until: SourcePosition, signal?: AbortSignal): Promise<void> {
    const ioWasRunning = this.ioRunning;
    await this.start(['IO_THREAD', 'SQL_THREAD'], { sourceLogFile: until.file, sourceLogPos: until.pos });
    try {
      await this.waitForUntil(until, signal);
    } finally {
      await this.stop(ioWasRunning ? ['SQL_THREAD'] : ['IO_THREAD', 'SQL_THREAD'], 'verifyChannel');
    }
    this.checkReached(until, 'verifyChannel could not bring the channel to');
  }

  private async waitForUntil(until: SourcePosition, signal: AbortSignal | undefined): Promise<void> {
    // The SQL stage stops by itself at the first event at or past `until`; an idle source sends none.
    const reached = () => compareSourcePositions(sourceOf(this.sql!.position), until) >= 0;
    while (this.sqlRunning && !reached() && !(this.io?.running === 'No' && this.lastIoError.errno !== 0) && !signal?.aborted) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private checkReached(until: SourcePosition, what: string): void {
    const failed = this.lastSqlError.errno ? this.lastSqlError : this.lastIoError;
    if (compareSourcePositions(sourceOf(this.applied), until) < 0) {
      throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `${what} ` +
        `${until.file}:${until.pos}: ${failed.errno ? `error ${failed.errno}: ${failed.message}` : 'the channel stopped before it'}`);
    }
  }

  /** The source position the SQL stage has applied up to. */
  appliedSourcePosition(): SourcePosition {
    return sourceOf(this.sql?.position ?? this.applied);
  }

  /** The UNTIL condition of a running SQL stage. */
  runningUntil(): UntilCondition | undefined {
    return this.sqlRunning ? this.until : undefined;
  }

  async close(): Promise<void> {
    await this.stop(['IO_THREAD', 'SQL_THREAD'], 'engine closing');
    await this.closeApplier();
    await this.relayLog.close();
  }

  private heartbeatPeriod(): number {
    return this.masterInfo.heartbeatPeriod;
  }

  private newApplier(): Applier {
    return new Applier({ target: this.settings.target, positions: this.positions, logger: this.logger,
      skipErrors: this.settings.replicaSkipErrors, onOpen: (conn) => this.lock.connected(conn),
      netTimeout: this.settings.replicaNetTimeout, mysqlDdl: this.settings.mysqlDdl });
  }

  /**
   * Runs `work` (which writes the position row) on the applier with the lock held, as the SQL stage holds it:
   * refused before anything changes when another engine runs the channel. `stored` is the row it found.
   */
  private async whileLocked(work: (applier: Applier, stored: PositionRow | undefined) => Promise<void>): Promise<void> {
    this.lock.want();
    try {
      const { applier, stored } = await this.openApplier();
      await work(applier, stored);
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

const USING_GTID_STATUS = { no: 'No', slave_pos: 'Slave_Pos', current_pos: 'Current_Pos' } as const;

/**
 * MariaDB's rules for the domain filters: one kind at a time, and only by GTID (ER_MASTER_INFO otherwise).
 * A file and position given with a GTID mode contradict each other.
 */
function checkGtidOptions(info: MasterInfo, positioned: boolean): void {
  if (info.doDomainIds.length > 0 && info.ignoreDomainIds.length > 0) {
    throw new ReplicationError('ER_MASTER_INFO', 'doDomainIds and ignoreDomainIds cannot both be set: clear one with []');
  }
  if (info.usingGtid === 'no' && (info.doDomainIds.length > 0 || info.ignoreDomainIds.length > 0)) {
    throw new ReplicationError('ER_MASTER_INFO', 'doDomainIds and ignoreDomainIds need sourceUseGtid (the domain of a ' +
      "group is its GTID's): set it, or clear the lists with []");
  }
  if (info.autoPosition && info.usingGtid !== 'no') {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', 'sourceAutoPosition (a MySQL source, by GTID set) and sourceUseGtid ' +
      "(a MariaDB source, by GTID position) cannot both be set: set sourceUseGtid to 'no' or sourceAutoPosition to false");
  }
  if (positioned && info.autoPosition) {
    throw new ReplicationError('ER_BAD_SLAVE_AUTO_POSITION', 'Parameters sourceLogFile and sourceLogPos cannot be set ' +
      'when sourceAutoPosition is active: the channel is positioned by its GTID sets; give one or the other');
  }
  if (positioned && info.usingGtid !== 'no') {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', "sourceLogFile/sourceLogPos position by file; with sourceUseGtid " +
      "other than 'no' the channel is positioned by its GTID state: give one or the other");
  }
}

function untilFields(until: UntilCondition | undefined): Pick<ReplicaStatus, 'untilCondition' | 'untilLogFile' | 'untilLogPos'> {
  if (!until) return { untilCondition: 'None', untilLogFile: '', untilLogPos: 0 };
  if ('sourceGtidPos' in until) return { untilCondition: 'Gtid', untilLogFile: '', untilLogPos: 0 };
  if ('sqlBeforeGtids' in until) return { untilCondition: 'SQL_BEFORE_GTIDS', untilLogFile: '', untilLogPos: 0 };
  if ('sqlAfterGtids' in until) return { untilCondition: 'SQL_AFTER_GTIDS', untilLogFile: '', untilLogPos: 0 };
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
