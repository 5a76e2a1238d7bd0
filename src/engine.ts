// ReplicationEngine: the replica as a whole. Owns the data directory, the channels listed in
// multi-master.info, and the engine-wide options; commands on one channel run one at a time.
import { access, chmod, mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { ConnectionOptions } from 'mysql2/promise';
import PQueue from 'p-queue';
import { pino, type Logger } from 'pino';
import type { MysqlDdlMode } from './apply/mysql-ddl.js';
import { Channel, type EngineSettings, type ReplicaThread, type ReplicationSourceOptions } from './channel.js';
import { ReplicationError } from './errors.js';
import { formatMultiMasterInfo, masterInfoFileName, parseMultiMasterInfo, removeAbandonedTempFiles, writeFileAtomic } from './info/index.js';
import { DataDirLock } from './info/data-dir-lock.js';
import { lowerConnectionName } from './info/filename-charset.js';
import { tlsVersionRange } from './protocol/index.js';
import { emptyFilters, validateFilters, type Decision, type ExplainQuery, type ReplicationFilters } from './filter/index.js';
import { DEFAULT_MAX_ALLOWED_PACKET } from './protocol/dump.js';
import { BatchBudget, type UntilCondition } from './sql-stage.js';
import type { ReplicaStatus } from './status.js';
import { MariadbGtidPosition } from './gtid/mariadb-gtid.js';
import { MysqlGtidSet } from './gtid/mysql-gtid-set.js';
import { provision, type ProvisionOptions } from './provision/provision.js';
import type { ProvisionProgress } from './provision/progress.js';
import { verify, type VerifyOptions, type VerifyResult } from './provision/verify.js';
import { engineLogger } from './log.js';
import { EngineMetrics } from './metrics/metrics.js';
import { MetricsServer, type MetricsOptions } from './metrics/server.js';
import { AdminServer, type AdminOptions } from './admin/server.js';
import { listRelayLogEvents, type RelayLogEvent, type RelayLogEventsOptions } from './relaylog/events-listing.js';

export type { UntilCondition, MetricsOptions, RelayLogEvent, RelayLogEventsOptions, AdminOptions };

export interface EngineOptions {
  /**
   * Relay logs and info files live here; created if missing. Open in one engine at a time. The directory is
   * made 0700 and its files 0600: relay logs hold the source's statements, master.info its password.
   */
  dataDir: string;
  /** This replica's server_id, sent to sources when registering; must differ from theirs. */
  serverId: number;
  /** The target server, as mysql2 connection options. */
  target: ConnectionOptions;
  /** A pino logger; each channel logs through a child with `{ channel }`. Silent when left out. */
  logger?: Logger;
  /** max_relay_log_size: a relay log file rotates at this size. Default 1 GiB. */
  maxRelayLogSize?: number;
  /** relay_log_purge: delete relay log files the SQL stage has finished. Default true. */
  relayLogPurge?: boolean;
  /**
   * relay_log_space_limit: bytes of relay log per channel at most; at the limit the I/O stage stops reading from
   * the source until the SQL stage has purged (it may pass it by one event so that neither waits for the other).
   * Default 0 = no limit.
   */
  relayLogSpaceLimit?: number;
  /**
   * replica_net_timeout in seconds: a source silent this long is reconnected; a round trip to the target silent
   * for half of it is checked, and its connection dropped unless the target is still running it. Default 60.
   */
  replicaNetTimeout?: number;
  /**
   * slave_max_allowed_packet in bytes: the I/O stage stops with error 1153 on a larger event, before buffering
   * it. 1024 to 1 GiB; default 1 GiB.
   */
  replicaMaxAllowedPacket?: number;
  /** replicate_same_server_id: keep events carrying this replica's own server_id. Default false. */
  replicateSameServerId?: boolean;
  /** Where the SQL stage keeps its positions on the target, `db.table`. Default `tributary.replication_position`. */
  positionTable?: string;
  /** replica_transaction_retries: retries of a transaction that hit a deadlock or lock wait timeout. Default 10. */
  replicaTransactionRetries?: number;
  /**
   * Seconds the SQL stage keeps reconnecting to a target it lost (refused, gone away, shutting down, out of
   * connections), pausing from 1 s doubling up to 60 s, before it stops with the error. Default 0: no limit.
   */
  targetRetryTimeout?: number;
  /**
   * The engine-wide replicate-* rules (my.cnf's replicate-do-db ...): a channel copies them when it is created,
   * then keeps its own (changeReplicationFilter).
   */
  filters?: Partial<ReplicationFilters>;
  /**
   * slave_skip_errors: target errnos (or 'all') on which the failing statement is skipped and its transaction
   * goes on, instead of stopping the SQL stage.
   */
  replicaSkipErrors?: number[] | 'all';
  /**
   * Statements (DDL above all) of a MySQL source on a MariaDB target: 'map' (default) rewrites what MariaDB
   * does not accept as written to its nearest equivalent (README, MySQL into MariaDB) and refuses what has none;
   * 'refuse' stops at any statement that would need mapping; 'asis' sends every statement as written.
   */
  mysqlDdl?: MysqlDdlMode;
  /**
   * Opens the metrics port: Prometheus metrics at /metrics, a status page at /. Listens on 127.0.0.1 unless
   * `host` says otherwise; `port` 0 picks a free one (metricsAddress()). Closed by close().
   */
  metrics?: MetricsOptions;
  /**
   * Opens the admin endpoint: a MySQL-protocol port where clients log in with `user` and `password` and run the
   * replication statements (CHANGE MASTER, START SLAVE, SHOW ALL SLAVES STATUS ...); every other statement goes to
   * the target. Listens on 127.0.0.1 unless `host` says otherwise; `port` 0 picks a free one (adminAddress()).
   */
  admin?: AdminOptions;
}

export interface StartOptions {
  /** Which stages to start; both when left out (START SLAVE IO_THREAD / SQL_THREAD). */
  threads?: ReplicaThread[];
  /**
   * START SLAVE UNTIL; needs the SQL stage among `threads` (`sourceGtidPos`, UNTIL master_gtid_pos: both stages).
   * A stop or a plain start clears it.
   */
  until?: UntilCondition;
}

/** What explainFilter says: whether the event would be applied, the rule that decided, and why. */
export type FilterDecision = Decision;

const MAX_CHANNEL_NAME = 64;
const DATA_DIR_MODE = 0o700;
const BOTH: ReplicaThread[] = ['IO_THREAD', 'SQL_THREAD'];

export class ReplicationEngine {
  private readonly channels = new Map<string, Channel>();
  private readonly queues = new Map<string, PQueue>();
  private closed = false;
  private metricsServer: MetricsServer | undefined;
  private adminServer: AdminServer | undefined;

  private constructor(private readonly settings: EngineSettings, private readonly lock: DataDirLock) {}

  /** Opens a data directory, restoring its channels and their positions. */
  static async open(options: EngineOptions): Promise<ReplicationEngine> {
    if (!options.dataDir) throw new ReplicationError('ER_WRONG_ARGUMENTS', 'open() needs a dataDir');
    if (!Number.isInteger(options.serverId) || options.serverId < 1 || options.serverId > 0xffffffff) {
      throw new ReplicationError('ER_WRONG_ARGUMENTS', `serverId must be an integer from 1 to 4294967295, got ${options.serverId}`);
    }
    // Before anything opens: a refused option leaves no channel loaded and no port listening.
    if (options.admin) checkAdmin(options.admin);
    await mkdir(options.dataDir, { recursive: true, mode: DATA_DIR_MODE });
    await chmod(options.dataDir, DATA_DIR_MODE);
    const lock = await DataDirLock.acquire(options.dataDir);
    try {
      await removeAbandonedTempFiles(options.dataDir);
      return await ReplicationEngine.load(options, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private static async load(options: EngineOptions, lock: DataDirLock): Promise<ReplicationEngine> {
    const settings: EngineSettings = {
      dataDir: options.dataDir,
      serverId: options.serverId,
      target: options.target,
      logger: engineLogger(options.logger ?? pino({ level: 'silent' })),
      maxRelayLogSize: options.maxRelayLogSize ?? 1 << 30,
      relayLogPurge: options.relayLogPurge ?? true,
      relayLogSpaceLimit: checkSpaceLimit(options.relayLogSpaceLimit ?? 0),
      replicaNetTimeout: options.replicaNetTimeout ?? 60,
      replicaMaxAllowedPacket: checkMaxAllowedPacket(options.replicaMaxAllowedPacket ?? DEFAULT_MAX_ALLOWED_PACKET),
      replicateSameServerId: options.replicateSameServerId ?? false,
      positionTable: options.positionTable ?? 'tributary.replication_position',
      replicaTransactionRetries: options.replicaTransactionRetries ?? 10,
      targetRetryTimeout: checkSeconds('targetRetryTimeout', options.targetRetryTimeout ?? 0),
      filters: { ...emptyFilters(), ...structuredClone(checkFilters(options.filters ?? {})) },
      replicaSkipErrors: checkSkipErrors(options.replicaSkipErrors ?? []),
      mysqlDdl: checkMysqlDdl(options.mysqlDdl ?? 'map'),
      metrics: new EngineMetrics(() => engine.channelViews()),
      batchBudget: new BatchBudget(),
    };
    const engine = new ReplicationEngine(settings, lock);
    // The default channel is not listed in multi-master.info: it exists when its master.info does.
    const names = await exists(join(options.dataDir, masterInfoFileName(''))) ? [''] : [];
    try {
      names.push(...parseMultiMasterInfo(await readFile(engine.multiMasterInfoPath, 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names) engine.channels.set(lowerConnectionName(name), await Channel.load(name, settings));
    const { logger: _logger, ...logged } = options;
    settings.logger.info({ options: logged, channels: engine.channelNames() }, `opened ${options.dataDir} with ` +
      `${names.length} channel(s)`);
    if (options.metrics) {
      try {
        engine.metricsServer = await MetricsServer.open(options.metrics, settings.metrics, () => engine.statuses(), settings.logger);
      } catch (err) {
        await Promise.all([...engine.channels.values()].map((c) => c.close()));
        const { host = '127.0.0.1', port } = options.metrics;
        throw new ReplicationError('ER_IPSOCK_ERROR', `cannot open the metrics port ${host}:${port} ` +
          `(${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): choose another host or port`, { cause: err });
      }
    }
    if (options.admin) {
      const admin = options.admin;
      try {
        engine.adminServer = await AdminServer.open(admin, engine, options.target, settings.logger);
      } catch (err) {
        await Promise.all([...engine.channels.values()].map((c) => c.close()));
        await engine.metricsServer?.close();
        throw new ReplicationError('ER_IPSOCK_ERROR', `cannot open the admin port ${admin.host ?? '127.0.0.1'}:${admin.port} ` +
          `(${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): choose another host or port`, { cause: err });
      }
    }
    return engine;
  }

  private get multiMasterInfoPath(): string {
    return join(this.settings.dataDir, 'multi-master.info');
  }

  /** Where the metrics port listens, when the `metrics` option opened it. */
  metricsAddress(): { address: string; port: number } | undefined {
    return this.metricsServer?.address();
  }

  /** Where the admin endpoint listens, when the `admin` option opened it. */
  adminAddress(): { address: string; port: number } | undefined {
    return this.adminServer?.address();
  }

  private statuses(): ReplicaStatus[] {
    return [...this.channels.values()].map((c) => c.status());
  }

  private channelViews(): { status: ReplicaStatus; stats: Channel['stats'] }[] {
    return [...this.channels.values()].map((c) => ({ status: c.status(), stats: c.stats }));
  }

  /** The names of all channels, in creation order, spelled as they were created. */
  channelNames(): string[] {
    return [...this.channels.values()].map((c) => c.name);
  }

  /**
   * CHANGE MASTER 'channel' TO ...: creates the channel if it is new. Channel names compare without regard to
   * letter case, as MariaDB's connection names do.
   */
  async changeReplicationSource(channel: string, options: ReplicationSourceOptions): Promise<void> {
    const name = checkName(channel);
    validateSourceOptions(options);
    return this.serial(name, async () => {
      this.settings.logger.info({ channel: name, options }, `changeReplicationSource '${name}'`);
      const existing = this.channels.get(lowerConnectionName(name));
      this.refuseSecondChannelToSource(name, existing, options);
      if (existing) return existing.change(options);
      const created = await Channel.create(name, this.settings, options);
      this.channels.set(lowerConnectionName(name), created);
      try {
        await this.writeChannelList();
      } catch (err) {
        this.channels.delete(lowerConnectionName(name));
        await created.discard();
        throw err;
      }
    });
  }

  /**
   * CHANGE REPLICATION FILTER ... FOR CHANNEL (SET GLOBAL 'channel'.replicate_do_db = ... on MariaDB): each key
   * given replaces that rule list, [] clears it, keys left out keep their lists. The SQL stage must be stopped.
   * Kept in the data directory, unlike the servers, which forget them on restart.
   */
  async changeReplicationFilter(channel: string, filters: Partial<ReplicationFilters>): Promise<void> {
    checkFilters(filters);
    return this.serial(channel, () => this.channel(channel).changeFilters(filters));
  }

  /**
   * Whether the channel's rules would apply an event, which rule decides and why: `{ db, table }` is a row
   * event on that table, `{ db, statement }` a statement run with default database `db`, `{ db }` a statement
   * that updates no table. Names are the source's (before replicate-rewrite-db).
   */
  explainFilter(channel: string, query: ExplainQuery): FilterDecision {
    try {
      return this.channel(channel).explainFilter(query);
    } catch (err) {
      if (err instanceof ReplicationError) throw err;
      throw new ReplicationError('ER_WRONG_ARGUMENTS', (err as Error).message);
    }
  }

  /** START SLAVE 'channel' [IO_THREAD | SQL_THREAD] [UNTIL ...]. */
  async startReplica(channel: string, options: StartOptions = {}): Promise<void> {
    const threads = options.threads ?? BOTH;
    if (options.until !== undefined) checkUntil(options.until, threads);
    return this.serial(channel, () => {
      const found = this.channel(channel);
      if (options.until && found.sqlRunning) {
        throw new ReplicationError('ER_SLAVE_MUST_STOP', `the SQL stage of '${channel}' is already running, so it ` +
          `cannot take an until position; stop it first`);
      }
      return found.start(threads, options.until);
    });
  }

  /** STOP SLAVE 'channel' [IO_THREAD | SQL_THREAD]. */
  stopReplica(channel: string, options: StartOptions = {}): Promise<void> {
    return this.serial(channel, () => this.channel(channel).stop(options.threads ?? BOTH));
  }

  /**
   * SET GLOBAL sql_slave_skip_counter (for the channel): the next start of the SQL stage skips `count` events
   * from the source; an event group the skip enters is skipped whole. The SQL stage must be stopped.
   */
  async setSkipCounter(channel: string, count: number): Promise<void> {
    if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
      throw new ReplicationError('ER_WRONG_ARGUMENTS', `the skip counter must be an integer from 0 to 4294967295, got ${count}`);
    }
    return this.serial(channel, async () => this.channel(channel).setSkipCounter(count));
  }

  /** START ALL SLAVES. */
  async startAllReplicas(): Promise<void> {
    await Promise.all(this.channelNames().map((name) => this.startReplica(name)));
  }

  /** STOP ALL SLAVES. */
  async stopAllReplicas(): Promise<void> {
    await Promise.all(this.channelNames().map((name) => this.stopReplica(name)));
  }

  /** RESET SLAVE 'channel' [ALL]: `all` also forgets the channel and its settings. */
  resetReplica(channel: string, options: { all?: boolean } = {}): Promise<void> {
    return this.serial(channel, async () => {
      await this.channel(channel).reset(options.all ?? false);
      if (options.all) {
        this.settings.metrics.forget(this.channel(channel).name);
        this.channels.delete(lowerConnectionName(channel));
        await this.writeChannelList();
      }
    });
  }

  /** SHOW SLAVE 'channel' STATUS. */
  async replicaStatus(channel: string): Promise<ReplicaStatus> {
    return this.channel(channel).status();
  }

  /** SHOW ALL SLAVES STATUS: one record per channel. */
  async allReplicaStatus(): Promise<ReplicaStatus[]> {
    return this.statuses();
  }

  /**
   * MASTER_POS_WAIT: resolves when the channel's SQL stage has applied up to `file`:`pos` of the source, with the
   * number of events it waited for; -1 on timeout (timeoutSeconds <= 0 waits without limit); null when the SQL
   * stage is not running or stops with an error while waiting.
   */
  async sourcePosWait(channel: string, file: string, pos: number, timeoutSeconds = 0): Promise<number | null> {
    const found = this.channels.get(lowerConnectionName(channel));
    if (!found) return null;
    return found.waitForSourcePosition({ file, pos }, timeoutSeconds);
  }

  /**
   * MASTER_GTID_WAIT: resolves with 0 once the channel has applied the GTID position `gtidPos` (in each domain
   * it lists, a sequence number at least as high), -1 after timeoutSeconds (0: answer at once; negative or left
   * out: no limit); null when there is no such channel. It waits whether the SQL stage runs or not, as the
   * function does. A malformed position fails with 1941 (ER_INCORRECT_GTID_STATE) or 1943.
   */
  async sourceGtidWait(channel: string, gtidPos: string, timeoutSeconds = -1): Promise<number | null> {
    const target = MariadbGtidPosition.parse(gtidPos);
    if (typeof timeoutSeconds !== 'number' || Number.isNaN(timeoutSeconds)) {
      throw new ReplicationError('ER_WRONG_ARGUMENTS', `timeoutSeconds must be a number of seconds, got ${String(timeoutSeconds)}`);
    }
    const found = this.channels.get(lowerConnectionName(channel));
    if (!found) return null;
    return found.waitForGtid(target, timeoutSeconds);
  }

  /**
   * SET GLOBAL gtid_purged = '+gtidSet', for one channel: the MySQL GTID set is added to the channel's executed
   * set (executedGtidSet), as transactions the target holds already, so that sourceAutoPosition does not ask
   * for them (a source that purged them refuses the dump with 1236 otherwise). The SQL stage must be stopped.
   * A malformed set fails with 1772.
   */
  async addGtidPurged(channel: string, gtidSet: string): Promise<void> {
    const set = MysqlGtidSet.parse(gtidSet);
    return this.serial(channel, () => this.channel(channel).addGtidPurged(set));
  }

  /**
   * Copies from the channel's source every table its rules keep (replicate-rewrite-db applied), at one snapshot,
   * creating databases and tables on the target from the source's definitions, and sets the channel's position to
   * the snapshot's binlog coordinates. The channel must be stopped. Called again after a crash, it continues.
   */
  async provisionChannel(channel: string, options: ProvisionOptions = {}): Promise<ProvisionProgress> {
    return this.serial(channel, () => provision(this.channel(channel), this.settings, options));
  }

  /**
   * Compares every table the channel's rules keep on the source with its target table (replicate-rewrite-db
   * applied), both at one source position: a running channel's SQL stage is paused there (UNTIL) and resumed
   * afterwards; a stopped channel is compared at its applied position and stays stopped. Says which rows differ.
   */
  async verifyChannel(channel: string, options: VerifyOptions = {}): Promise<VerifyResult> {
    return this.serial(channel, () => verify(this.channel(channel), this.settings, options));
  }

  /**
   * FLUSH RELAY LOGS 'channel': the I/O stage goes on in a new relay log file (when it is receiving; a stopped
   * one starts a new file at its next start anyway).
   */
  flushRelayLogs(channel: string): Promise<void> {
    return this.serial(channel, () => this.channel(channel).flushRelayLog());
  }

  /**
   * SHOW RELAYLOG 'channel' EVENTS [IN file] [FROM pos] [LIMIT [offset,] limit]: the events of one relay log
   * file (the first when `file` is left out). Unknown channel 1617; a file not in the relay log, or a position
   * past its end or not at an event's start, 1220, as the servers say.
   */
  async relayLogEvents(channel: string, options: RelayLogEventsOptions = {}): Promise<RelayLogEvent[]> {
    const found = this.channels.get(lowerConnectionName(channel));
    if (!found) throw new ReplicationError('WARN_NO_MASTER_INFO', `There is no master connection '${channel}'`);
    return listRelayLogEvents(found.relayLog, options);
  }

  /** Stops every channel and writes their info files. */
  async close(): Promise<void> {
    if (this.closed) return;
    // A provisioning would hold its channel's queue until the copy ends; called again, it continues.
    for (const c of this.channels.values()) c.provisionAbort?.abort();
    const closing = [...this.channels.values()].map((c) => this.serial(c.name, () => c.close()));
    this.closed = true;
    try {
      await this.adminServer?.close();
      await Promise.all(closing);
      await this.metricsServer?.close();
    } finally {
      await this.lock.release();
    }
    this.settings.logger.info(`closed ${this.settings.dataDir}`);
  }

  /** One source server feeds one channel, as MariaDB's ER_CONNECTION_ALREADY_EXISTS says. */
  private refuseSecondChannelToSource(name: string, existing: Channel | undefined, options: ReplicationSourceOptions): void {
    const host = options.sourceHost ?? existing?.sourceAddress().host;
    const port = options.sourcePort ?? existing?.sourceAddress().port ?? 3306;
    if (!host) return;
    for (const channel of this.channels.values()) {
      const address = channel.sourceAddress();
      const other = channel.name;
      if (channel !== existing && address.host === host && address.port === port) {
        throw new ReplicationError('ER_CONNECTION_ALREADY_EXISTS', `Connection '${other}' conflicts with existing ` +
          `connection '${name}': both would replicate from ${host}:${port}; use the existing channel`);
      }
    }
  }

  private channel(name: string): Channel {
    const found = this.channels.get(lowerConnectionName(name));
    if (!found) {
      throw new ReplicationError('ER_BAD_SLAVE', `There is no channel '${name}': create it with changeReplicationSource`);
    }
    return found;
  }

  private serial<T>(name: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ReplicationError('ER_WRONG_ARGUMENTS', 'the engine is closed'));
    const key = lowerConnectionName(name);
    let queue = this.queues.get(key);
    if (!queue) {
      queue = new PQueue({ concurrency: 1 });
      this.queues.set(key, queue);
    }
    return queue.add(work) as Promise<T>;
  }

  private async writeChannelList(): Promise<void> {
    await writeFileAtomic(this.multiMasterInfoPath, formatMultiMasterInfo(this.channelNames().filter((n) => n !== '')));
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Refuses a rule set the servers would refuse, before anything changes. */
function checkFilters(filters: Partial<ReplicationFilters>): Partial<ReplicationFilters> {
  try {
    validateFilters(filters);
  } catch (err) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', (err as Error).message);
  }
  return filters;
}

function checkSeconds(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `${name} must be a number of seconds >= 0, got ${value}`);
  }
  return value;
}

function checkSpaceLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `relayLogSpaceLimit must be a number of bytes >= 0 (0 = no limit), got ${limit}`);
  }
  return limit;
}

function checkSkipErrors(errors: number[] | 'all'): ReadonlySet<number> | 'all' {
  if (errors === 'all') return errors;
  if (!Array.isArray(errors) || !errors.every((e) => Number.isInteger(e) && e > 0)) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `replicaSkipErrors must be 'all' or a list of error numbers, like [1062, 1032]`);
  }
  return new Set(errors);
}

/** slave_max_allowed_packet's range on the servers. */
function checkMaxAllowedPacket(bytes: number): number {
  if (!Number.isInteger(bytes) || bytes < 1024 || bytes > DEFAULT_MAX_ALLOWED_PACKET) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `replicaMaxAllowedPacket must be an integer from 1024 to ` +
      `${DEFAULT_MAX_ALLOWED_PACKET} (1 GiB), got ${bytes}`);
  }
  return bytes;
}

/**
 * START SLAVE UNTIL takes a source or a relay log position, a MariaDB GTID position (which, as on MariaDB,
 * needs both stages: the source stops sending there), or one MySQL GTID set (SQL_BEFORE_GTIDS / SQL_AFTER_GTIDS).
 */
function checkUntil(until: UntilCondition, threads: ReplicaThread[]): void {
  const refuse = (why: string): never => {
    throw new ReplicationError('ER_BAD_SLAVE_UNTIL_COND', `Incorrect parameter or combination of parameters for ` +
      `START SLAVE UNTIL: ${why}`);
  };
  const given = (typeof until === 'object' && until !== null ? until : {}) as Record<string, unknown>;
  const keys = Object.keys(given).sort().join(',');
  if (keys === 'sourceGtidPos') {
    MariadbGtidPosition.parse(given.sourceGtidPos as string);
    if (!threads.includes('IO_THREAD') || !threads.includes('SQL_THREAD')) {
      refuse('until sourceGtidPos needs both stages (IO_THREAD and SQL_THREAD): the source stops sending there');
    }
    return;
  }
  if (keys === 'sqlBeforeGtids' || keys === 'sqlAfterGtids') {
    if (typeof given[keys] !== 'string') refuse(`${keys} must be a MySQL GTID set (text)`);
    MysqlGtidSet.parse(given[keys] as string);
    if (!threads.includes('SQL_THREAD')) refuse(`until ${keys} needs the SQL stage (SQL_THREAD) among the threads`);
    return;
  }
  if (/gtid/i.test(keys)) {
    refuse(`give { sourceGtidPos }, { sqlBeforeGtids }, { sqlAfterGtids }, { sourceLogFile, sourceLogPos } or ` +
      `{ relayLogFile, relayLogPos }, got { ${keys} }`);
  }
  const [fileKey, posKey] = keys === 'sourceLogFile,sourceLogPos' ? ['sourceLogFile', 'sourceLogPos']
    : keys === 'relayLogFile,relayLogPos' ? ['relayLogFile', 'relayLogPos']
      : refuse(`give either { sourceLogFile, sourceLogPos } or { relayLogFile, relayLogPos }, got { ${keys} }`);
  const file = given[fileKey];
  const pos = given[posKey];
  if (typeof file !== 'string' || file === '' || typeof pos !== 'number' || !Number.isInteger(pos) || pos < 0) {
    refuse('the log file must be a non-empty string and the position an integer >= 0');
  }
  if (!threads.includes('SQL_THREAD')) refuse('an until position needs the SQL stage (SQL_THREAD) among the threads');
}

/**
 * A channel name as MariaDB takes a connection name (any characters, at most 64), except what the files that
 * keep it cannot hold: control characters (multi-master.info has one name a line) and unpaired surrogates
 * (which UTF-8 cannot carry). Checked whole before anything is written.
 */
function checkName(channel: string): string {
  if (typeof channel !== 'string' || [...channel].length > MAX_CHANNEL_NAME) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `channel name must be a string of at most ${MAX_CHANNEL_NAME} characters`);
  }
  if (/[\p{Cc}\u2028\u2029]/u.test(channel) || Buffer.from(channel, 'utf8').toString('utf8') !== channel) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `channel name ${JSON.stringify(channel)} holds a line break, ` +
      'another control character or an unpaired surrogate, which the info files cannot keep; choose another name');
  }
  return channel;
}

// The maximum lengths of CHANGE MASTER's string options (seed 003's table).
const MAX_LENGTH: Partial<Record<keyof ReplicationSourceOptions, number>> = {
  sourceHost: 255, sourceUser: 96, sourcePassword: 32, sourceLogFile: 511, sourceSslCa: 511, sourceSslCapath: 511,
  sourceSslCert: 511, sourceSslKey: 511, sourceSslCipher: 511, sourceSslCrl: 511, sourceSslCrlpath: 511,
  sourceTlsVersion: 511, sourcePublicKeyPath: 511,
};

/**
 * Every option changeReplicationSource implements and what its value is; any other key is refused, so that
 * an option the engine does not have (or a misspelt one) is never silently ignored.
 */
export const SOURCE_OPTIONS: Record<keyof ReplicationSourceOptions, 'string' | 'path' | 'number' | 'boolean' | 'ids' | 'gtidMode'> = {
  sourceHost: 'string', sourcePort: 'number', sourceUser: 'string', sourcePassword: 'string', sourceLogFile: 'string',
  sourceLogPos: 'number', sourceConnectRetry: 'number', sourceRetryCount: 'number', sourceHeartbeatPeriod: 'number',
  ignoreServerIds: 'ids', sourceDelay: 'number', sourceSsl: 'boolean', sourceSslCa: 'path', sourceSslCapath: 'path',
  sourceSslCert: 'path', sourceSslKey: 'path', sourceSslCipher: 'string', sourceSslCrl: 'path', sourceSslCrlpath: 'path',
  sourceSslVerifyServerCert: 'boolean', sourceTlsVersion: 'string', sourcePublicKeyPath: 'path', getSourcePublicKey: 'boolean',
  sourceUseGtid: 'gtidMode', doDomainIds: 'ids', ignoreDomainIds: 'ids', sourceAutoPosition: 'boolean',
};

/** Refuses bad CHANGE MASTER values before anything changes. */
export function validateSourceOptions(options: ReplicationSourceOptions): void {
  for (const [key, value] of Object.entries(options) as [keyof ReplicationSourceOptions, unknown][]) {
    if (!Object.hasOwn(SOURCE_OPTIONS, key)) {
      throw new ReplicationError('ER_WRONG_ARGUMENTS', `unknown source option '${key}': the engine does not implement ` +
        `it (it takes ${Object.keys(SOURCE_OPTIONS).join(', ')})`);
    }
    if (value === undefined) continue;
    const kind = SOURCE_OPTIONS[key];
    if (kind === 'string' || kind === 'path') {
      if (typeof value !== 'string') throw new ReplicationError('ER_WRONG_ARGUMENTS', `${key} must be a string`);
      if (/[\n\r]/.test(value)) {
        throw new ReplicationError('ER_MASTER_INFO', `${key} must not contain a newline: master info files could not ` +
          'be read back');
      }
      const max = MAX_LENGTH[key];
      if (max !== undefined && value.length > max) {
        throw new ReplicationError('ER_WRONG_ARGUMENTS', `${key} is longer than ${max} characters`);
      }
      if (kind === 'path' && value !== '' && !isAbsolute(value)) {
        throw new ReplicationError('ER_WRONG_ARGUMENTS', `${key} must be an absolute path ('' clears it), got '${value}'`);
      }
    } else if (kind === 'ids') {
      if (!Array.isArray(value) || !value.every((id) => Number.isInteger(id) && id >= 0 && id <= 0xffffffff)) {
        throw new ReplicationError('ER_WRONG_ARGUMENTS', `${key} must be an array of ids (integers from 0 to 4294967295)`);
      }
    } else if (kind === 'gtidMode') {
      if (value !== 'no' && value !== 'slave_pos' && value !== 'current_pos') {
        throw new ReplicationError('ER_WRONG_ARGUMENTS', `sourceUseGtid must be 'no', 'slave_pos' or 'current_pos', got ${String(value)}`);
      }
    } else if (kind === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new ReplicationError('ER_WRONG_ARGUMENTS', `${key} must be a number >= 0, got ${String(value)}`);
      }
    } else if (typeof value !== 'boolean') {
      throw new ReplicationError('ER_WRONG_ARGUMENTS', `${key} must be true or false, got ${String(value)}`);
    }
  }
  if (options.sourceTlsVersion !== undefined) {
    try {
      tlsVersionRange(options.sourceTlsVersion);
    } catch (err) {
      throw new ReplicationError('ER_WRONG_ARGUMENTS', (err as Error).message);
    }
  }
  if (options.sourceDelay !== undefined && (!Number.isInteger(options.sourceDelay) || options.sourceDelay > 0x7fffffff)) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `sourceDelay must be an integer from 0 to 2147483647 seconds, got ${options.sourceDelay}`);
  }
  if (options.sourceLogPos !== undefined && options.sourceLogPos < 4) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', 'sourceLogPos must be at least 4 (the first event of a binlog)');
  }
}

/** The admin endpoint's login must be set: the port can change replication and the target's data. */
function checkAdmin(admin: AdminOptions): void {
  // An empty host would listen on every interface: the default is the loopback address.
  if (admin.host !== undefined && (typeof admin.host !== 'string' || admin.host === '')) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', 'admin.host must be a host name or address (127.0.0.1 when left out)');
  }
  if (typeof admin.user !== 'string' || admin.user === '') {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', 'admin.user must be a non-empty user name');
  }
  if (typeof admin.password !== 'string' || admin.password === '') {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', 'admin.password is missing: the admin endpoint needs a password');
  }
  if (!Number.isInteger(admin.port) || admin.port < 0 || admin.port > 65535) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `admin.port must be a port from 0 to 65535, got ${admin.port}`);
  }
}

function checkMysqlDdl(mode: MysqlDdlMode): MysqlDdlMode {
  if (mode === 'map' || mode === 'refuse' || mode === 'asis') return mode;
  throw new ReplicationError('ER_WRONG_ARGUMENTS', `mysqlDdl must be 'map', 'refuse' or 'asis', got ${String(mode)}`);
}
