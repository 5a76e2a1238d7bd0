// provisionChannel: copies what a channel's rules keep from its source to the target, at one snapshot, and points
// the channel at that snapshot's binlog coordinates (ARCHITECTURE.md, "Provisioning").
//
// The snapshot: FLUSH TABLES WITH READ LOCK is held only while every copy connection opens START TRANSACTION WITH
// CONSISTENT SNAPSHOT (and, on MySQL, SHOW BINARY LOG STATUS is read), so all connections see the source at the
// same binlog coordinates: MariaDB's binlog_snapshot_file/position, or MySQL's under the lock. The GTID state there
// (BINLOG_GTID_POS, or MySQL's executed set) becomes the channel's too. Tables are copied whole, in key order, in
// chunks: each chunk commits on the target with the table's progress row, and the last one marks the table done.
//
// After a crash the snapshot is gone. A new one is taken; the tables done before are brought to it by the
// channel's own SQL stage (applying the source from the channel's position, which is the old snapshot's, up to the
// new one, to those tables only); a table the crash interrupted is brought to it up to its last key copied by
// comparing chunk checksums (syncCopied) and copied on from there; a table without a key is copied again.
import { Readable } from 'node:stream';
import mysql from 'mysql2';
import type { Connection } from 'mysql2/promise';
import type { Channel, EngineSettings } from '../channel.js';
import { qualifiedName, quoteIdentifier, quoteString, sendAsWritten } from '../apply/sql-text.js';
import type { SourcePosition } from '../binlog/position.js';
import { ErrorCodes, mysqlFailure, ReplicationError } from '../errors.js';
import { MysqlGtidSet } from '../gtid/mysql-gtid-set.js';
import { PositionTable } from '../info/position-table.js';
import { serverFlavor, sourceWording } from '../protocol/dump.js';
import { upgradeWithSsl } from '../protocol/tls.js';
import { addIndexes, deferIndexes, targetDefinition, type DeferredIndex } from './definition.js';
import { decodeKey, encodeKey, ProgressTable, type TableProgress } from './progress-table.js';
import { checksumOf, checksumSql, keyRange, rowsOf, verify, type VerifyResult } from './verify.js';
import { secondsLeft, type ProvisionProgress } from './progress.js';
import { insertHead, keyText, loadDataRow, loadDataStatement, rowLiteral, selectExpression, selectRows, selectRowsWhere,
  type CopyColumn } from './values.js';

export interface ProvisionOptions {
  /** Tables copied at once, each on its own source and target connection. Default 4. */
  parallel?: number;
  /** Rows per target transaction (with the table's progress row). Default 1000. */
  chunkRows?: number;
  /** Called after every chunk and every table, with the channel's provisioning status. */
  onProgress?: (progress: ProvisionProgress) => void;
  /**
   * Replace target tables that already hold rows (DROP and CREATE from the source's definition), and copy every
   * table again even when an interrupted provisioning had finished some. Default false: such a table is refused.
   */
  dropExisting?: boolean;
  /** Start both stages of the channel once the copy is done. Default false. */
  start?: boolean;
  /**
   * Run verifyChannel after the copy, once replication has brought the channel past the snapshot: its result is
   * the returned progress's `verification`; differences fail the call (onProgress receives them first).
   * Default false.
   */
  verify?: boolean;
  /**
   * Provision only a channel that needs it: one with no binlog position yet, or whose provisioning was interrupted
   * (it continues). Any other channel is left where it is (and started with `start`); the progress returned then
   * has state ''. For applications that call provisionChannel at every start. Default false.
   */
  ifNeeded?: boolean;
}

/** Never copied: the servers' own schemas (seed 004's list of what an RDS replica must ignore). */
const SYSTEM_SCHEMAS = ['mysql', 'sys', 'performance_schema', 'information_schema'];
/** One INSERT's SQL text at most, below any max_allowed_packet a target keeps (16 MiB by default). */
const STATEMENT_BYTES = 4 << 20;
/** The errnos of a target that refuses LOAD DATA LOCAL INFILE (local_infile=OFF). */
const LOCAL_INFILE_REFUSED: number[] = [ErrorCodes.ER_LOAD_INFILE_CAPABILITY_DISABLED, ErrorCodes.ER_CLIENT_LOCAL_FILES_DISABLED,
  ErrorCodes.ER_NOT_ALLOWED_COMMAND];
/** The longest the source's writes wait for provisioning's read lock. */
const LOCK_WAIT_SECONDS = 10;

// As the applier writes rows (no strict-mode rejection of what the source stored, explicit zeros kept in
// AUTO_INCREMENT columns, TIMESTAMP in UTC), and without foreign key checks: tables arrive in any order.
const TARGET_SESSION = "SET @@session.sql_mode='NO_AUTO_VALUE_ON_ZERO', @@session.time_zone='+00:00', " +
  '@@session.character_set_client=utf8mb4, @@session.character_set_results=utf8mb4, ' +
  '@@session.collation_connection=utf8mb4_general_ci, @@session.foreign_key_checks=0, @@session.autocommit=1';
// Values as the bytes the tables hold (character_set_results=binary), TIMESTAMP in UTC; the connection is
// paused while the target is slow, so the source must wait for it.
const SOURCE_SESSION = "SET @@session.time_zone='+00:00', @@session.character_set_client=utf8mb4, " +
  '@@session.character_set_connection=utf8mb4, @@session.character_set_results=binary, ' +
  '@@session.net_write_timeout=3600';

export interface CopyTable {
  sourceDb: string;
  table: string;
  targetDb: string;
  /** Without generated columns, which the target computes. */
  columns: CopyColumn[];
  /** The primary key, or a unique key of NOT NULL columns; [] when there is none (copied whole in one pass). */
  key: CopyColumn[];
  definition: string;
  estimatedRows: number;
  /** ` CHARACTER SET x COLLATE y` of the source database, for tables replication creates there later. */
  databaseDefaults: string;
  /** ENUM/SET columns whose definition shows a '?' in a member (see createTable). */
  questionableMembers: string[];
}

type Row = (Buffer | null)[];

/** A table an interrupted run had begun: its progress row, and the last key it copied. */
interface Resumed {
  key: Row;
  progress: TableProgress;
}

export async function provision(channel: Channel, settings: EngineSettings, options: ProvisionOptions): Promise<ProvisionProgress> {
  const { parallel, chunkRows } = validateProvisionOptions(options);
  if (channel.ioRunning || channel.sqlRunning) {
    throw new ReplicationError('ER_SLAVE_MUST_STOP', `This operation cannot be performed with a running slave; ` +
      `run stopReplica('${channel.name}') first`);
  }
  channel.checkSourceHost();
  const run = new Provisioning(channel, settings, options, parallel, chunkRows);
  channel.provisionAbort = new AbortController();
  try {
    return await run.run(channel.provisionAbort.signal);
  } catch (err) {
    if (channel.provisioning && run.changed) channel.provisioning = { ...channel.provisioning, state: 'failed' };
    if (err instanceof ReplicationError) throw err;
    const failure = mysqlFailure(err, 'ER_SLAVE_FATAL_ERROR');
    throw new ReplicationError(failure, `provisioning of channel '${channel.name}' failed: ${failure.message}; ` +
      'call provisionChannel again to continue', { cause: err });
  } finally {
    channel.provisionAbort = undefined;
    run.destroy();
  }
}

/** The numbers of the options, defaults applied; out of range is refused (1210) naming the option. */
export function validateProvisionOptions(options: ProvisionOptions): { parallel: number; chunkRows: number } {
  const parallel = options.parallel ?? 4;
  const chunkRows = options.chunkRows ?? 1000;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `parallel must be an integer from 1 to 64, got ${parallel}`);
  }
  if (!Number.isInteger(chunkRows) || chunkRows < 1) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `chunkRows must be an integer >= 1, got ${chunkRows}`);
  }
  return { parallel, chunkRows };
}

class Provisioning {
  /** Whether anything changed on the target: a refused call changes nothing, status included. */
  changed = false;
  private readonly progressTable: ProgressTable;
  private readonly connections: Connection[] = [];
  private progress: ProvisionProgress = {
    state: 'snapshot', tablesDone: 0, tablesTotal: 0, rowsCopied: 0, bytesCopied: 0, secondsLeft: null, table: '',
    tablesWithoutKey: [],
  };
  private copiedThisRun = 0;
  private signal: AbortSignal | undefined;
  private estimatedLeft = 0;
  private copyStarted = 0;
  private readonly logger;
  /** The secondary indexes each table gets once its rows are in (deferIndexes). */
  private readonly indexesAfterCopy = new Map<CopyTable, DeferredIndex[]>();
  /** Whether the target takes LOAD DATA LOCAL INFILE (until it refuses). */
  private loadData = true;

  constructor(private readonly channel: Channel, private readonly settings: EngineSettings,
    private readonly options: ProvisionOptions, private readonly parallel: number, private readonly chunkRows: number) {
    const database = new PositionTable(settings.positionTable, channel.name, settings.serverId).database;
    this.progressTable = new ProgressTable(database, settings.serverId, channel.name);
    this.logger = settings.logger.child({ channel: channel.name, provisioning: true });
  }

  /** After a success: each connection quits. */
  async close(): Promise<void> {
    await Promise.all(this.connections.splice(0).map((c) => c.end().catch(() => undefined)));
  }

  /** After a failure: a connection may be in the middle of a stream or a transaction (rolled back). */
  destroy(): void {
    for (const c of this.connections.splice(0)) c.destroy();
  }

  async run(signal: AbortSignal): Promise<ProvisionProgress> {
    this.signal = signal;
    const target = await this.target();
    await this.progressTable.ensure(target);
    const previous = new Map((await this.progressTable.read(target)).map((p) => [tableKey(p.sourceDb, p.sourceTable), p]));
    if (this.options.ifNeeded && ![...previous.values()].some((p) => p.state === 'copying') &&
      this.channel.appliedSourcePosition().file !== '') {
      this.logger.info('provisioning: not needed, the channel has a position and no provisioning of it was interrupted');
      await this.close();
      if (this.options.start) await this.channel.start(['IO_THREAD', 'SQL_THREAD']);
      return { ...this.progress, state: '' };
    }
    const meta = await this.source();
    if (this.options.verify) await refuseVerifyOnMysql(meta);
    const tables = await keptTables(this.channel, meta);
    // A provisioning that finished is history: a new call starts afresh. One that did not is continued (unless
    // dropExisting asks for everything again): the tables it finished are kept, the others (its own, whatever rows
    // they hold) copied again.
    const unfinished = !this.options.dropExisting && [...previous.values()].some((p) => p.state === 'copying');
    const done = unfinished ? tables.filter((t) => previous.get(tableKey(t.sourceDb, t.table))?.state === 'done') : [];
    const owned = (t: CopyTable) => unfinished && previous.has(tableKey(t.sourceDb, t.table));
    const toCopy = tables.filter((t) => !done.includes(t));
    await this.refuseTablesWithRows(target, toCopy.filter((t) => !owned(t)));
    // Interrupted tables with a key continue after the last key copied (syncCopied); the others start again.
    const resumed = new Map<CopyTable, Resumed>();
    for (const t of toCopy) {
      const p = previous.get(tableKey(t.sourceDb, t.table));
      const key = p && owned(t) && t.key.length ? decodeKey(p.lastKey, t.key.length) : undefined;
      if (p && key) resumed.set(t, { key, progress: p });
    }

    this.changed = true;
    this.report({ tablesTotal: tables.length,
      tablesWithoutKey: tables.filter((t) => !t.key.length).map((t) => `${t.sourceDb}.${t.table}`) });
    const copiers = await this.snapshot(meta, Math.max(1, Math.min(this.parallel, toCopy.length)));
    const snapshot = copiers.snapshot.position;
    this.logger.info({ snapshot, gtid: copiers.snapshot.gtidState, tables: tables.length, copy: toCopy.length, kept: done.length }, 'provisioning: snapshot taken');
    // The progress rows are replaced in one transaction: every table to copy says 'copying' before the channel may
    // be positioned, so a crash at any point leaves the provisioning unfinished for ifNeeded, and tables no longer
    // kept (dropped on the source, filtered out since) leave no row behind that would make it look unfinished forever.
    // READ COMMITTED: no gap locks, so that channels provisioned at once into one target do not deadlock here.
    await target.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await target.query('START TRANSACTION');
    await target.query(this.progressTable.deleteSql());
    for (const t of done) await target.query(this.progressTable.writeSql(previous.get(tableKey(t.sourceDb, t.table))!));
    for (const t of toCopy) {
      await target.query(this.progressTable.writeSql(resumed.get(t)?.progress ?? tableProgress(t, snapshot, 'copying', 0, 0, '')));
    }
    await target.query('COMMIT');
    if (done.length) {
      for (const t of done) {
        const p = previous.get(tableKey(t.sourceDb, t.table))!;
        this.report({ tablesDone: this.progress.tablesDone + 1, rowsCopied: this.progress.rowsCopied + p.rows,
          bytesCopied: this.progress.bytesCopied + p.bytes });
      }
      this.report({ state: 'catching up' });
      const kept = new Set(done.map((t) => tableKey(t.targetDb, t.table)));
      await this.channel.catchUpTables(snapshot, (db, table) => kept.has(tableKey(db, table)));
    }
    for (const t of toCopy) {
      const p = previous.get(tableKey(t.sourceDb, t.table));
      const from = resumed.get(t);
      if (from) {
        this.report({ rowsCopied: this.progress.rowsCopied + from.progress.rows, bytesCopied: this.progress.bytesCopied + from.progress.bytes });
        this.logger.info({ table: `${t.sourceDb}.${t.table}`, lastKey: keyText(from.key, t.key), rows: p!.rows },
          'provisioning: a table the crash interrupted continues after its last key copied, once the rows up to it are brought to the new snapshot');
      } else if (p && owned(t)) {
        this.logger.info({ table: `${t.sourceDb}.${t.table}`, rows: p.rows }, 'provisioning: a table the crash ' +
          `interrupted is copied again from its start at the new snapshot (${t.key.length ? 'no last key copied' : 'no key'})`);
      }
    }
    this.checkAborted();
    for (const t of toCopy) await this.createTable(target, t, owned(t), resumed.has(t));
    // Once the tables' progress rows say 'copying': a crash before leaves the channel where it was, and ifNeeded
    // sees the provisioning unfinished either way.
    if (!done.length) await this.channel.startAtSnapshot(snapshot, copiers.snapshot.gtidState);

    this.report({ state: 'copying' });
    this.estimatedLeft = toCopy.reduce((n, t) => n + t.estimatedRows - (resumed.get(t)?.progress.rows ?? 0), 0);
    this.copyStarted = Date.now();
    const queue = [...toCopy].sort((a, b) => b.estimatedRows - a.estimatedRows);
    await Promise.all(copiers.connections.map(async (source) => {
      const conn = await this.target();
      for (let t = queue.shift(); t; t = queue.shift()) {
        const from = resumed.get(t);
        if (from) await this.syncCopied(source, conn, t, from.key);
        await this.copyTable(source, conn, t, snapshot, from);
      }
    }));
    this.report({ secondsLeft: 0, table: '' });
    await this.close();
    if (this.options.verify) await this.verify();
    this.report({ state: 'done' });
    this.logger.info({ snapshot, rows: this.progress.rowsCopied }, 'provisioning done');
    if (this.options.start) await this.channel.start(['IO_THREAD', 'SQL_THREAD']);
    return this.progress;
  }

  /**
   * verifyChannel once the copy is done: both stages run while it brings the channel to a consistent point past
   * the snapshot (the short catch-up), and stay running when `start` asks for it. Differences fail the call.
   */
  private async verify(): Promise<void> {
    this.report({ state: 'verifying' });
    await this.channel.start(['IO_THREAD', 'SQL_THREAD']);
    let verification: VerifyResult | undefined;
    try {
      verification = await verify(this.channel, this.settings, { chunkRows: this.chunkRows });
    } finally {
      if (!this.options.start || !verification?.equal) await this.channel.stop(['IO_THREAD', 'SQL_THREAD']);
    }
    this.report({ verification });
    if (verification.equal) return;
    // The differing tables are marked unfinished again: the next call (or ifNeeded run) copies them anew instead of
    // replicating onto a copy the check rejected.
    const target = await this.target();
    for (const t of verification.tables.filter((v) => !v.equal)) {
      await target.query(this.progressTable.writeSql({ sourceDb: t.sourceDb, sourceTable: t.table, state: 'copying', rows: 0,
        bytes: 0, lastKey: '', snapshot: verification.sourcePosition }));
    }
    await this.close();
    const differing = verification.tables.filter((t) => !t.equal).map((t) => `${t.targetDb}.${t.table}` +
      (t.error ? ` (${t.error})` : t.differences.length ? ` (${t.differences.slice(0, 3).map((d) =>
        `${d.kind} ${JSON.stringify(d.key)}`).join(', ')}${t.differences.length > 3 || t.truncated ? ', ...' : ''})` : ''));
    throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `provisioning of channel '${this.channel.name}' copied every ` +
      `table, but verifyChannel found the target different from the source at ${verification.sourcePosition.file}:` +
      `${verification.sourcePosition.pos} in ${differing.join('; ')}; onProgress received the differences. Find ` +
      'what changes the target (triggers, other writers), then call provisionChannel again: it copies those tables anew');
  }

  private checkAborted(): void {
    if (this.signal?.aborted) {
      throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `provisioning of channel '${this.channel.name}' stopped: ` +
        'the engine is closing; call provisionChannel again to continue');
    }
  }

  private report(change: Partial<ProvisionProgress>): void {
    this.progress = { ...this.progress, ...change };
    this.channel.provisioning = this.progress;
    this.options.onProgress?.(this.progress);
  }

  private async target(): Promise<Connection> {
    const conn = await connectTarget(this.settings);
    this.connections.push(conn);
    return conn;
  }

  private async source(): Promise<Connection> {
    const conn = await connectSource(this.channel);
    this.connections.push(conn);
    return conn;
  }

  /** A refused call changes nothing: every table is checked before anything is written. */
  private async refuseTablesWithRows(target: Connection, tables: CopyTable[]): Promise<void> {
    if (this.options.dropExisting) return;
    for (const t of tables) {
      if (await holdsRows(target, t)) {
        throw new ReplicationError('ER_TABLE_EXISTS_ERROR', `Table '${t.targetDb}.${t.table}' already exists on the ` +
          `target and holds rows, so provisioning channel '${this.channel.name}' would mix them with the source's; ` +
          'empty or drop it, or pass dropExisting: true to replace it. Nothing was changed');
      }
    }
  }

  /**
   * Opens `count` connections on one snapshot: the read lock is held only while they start their transactions
   * and the binlog coordinates are read. A MariaDB source user without RELOAD (no FLUSH TABLES WITH READ LOCK)
   * gets one connection, whose snapshot MariaDB reports the coordinates of without a lock; MySQL reports none, so
   * there the lock is needed.
   */
  private async snapshot(meta: Connection, count: number): Promise<{ connections: Connection[]; snapshot: SnapshotCoordinates }> {
    const [[{ version }]] = await meta.query('SELECT VERSION() AS version') as [[{ version: Buffer }], unknown];
    const flavor = sourceFlavor(version.toString());
    const connections = await Promise.all(Array.from({ length: count }, () => this.source()));
    let locked = true;
    // While FLUSH TABLES WITH READ LOCK waits for a long statement to end, it already holds every write back:
    // the wait is bounded, so that the source is never stopped for more than a moment.
    await meta.query(`SET @@session.lock_wait_timeout = ${LOCK_WAIT_SECONDS}`);
    try {
      await meta.query('FLUSH TABLES WITH READ LOCK');
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno === ErrorCodes.ER_LOCK_WAIT_TIMEOUT) {
        throw new ReplicationError('ER_LOCK_WAIT_TIMEOUT', `provisioning could not take the source's read lock within ` +
          `${LOCK_WAIT_SECONDS} s (a long statement or transaction holds a table); nothing was changed: call ` +
          'provisionChannel again when it has ended');
      }
      if (errno !== ErrorCodes.ER_SPECIFIC_ACCESS_DENIED_ERROR) throw err;
      if (flavor.name === 'mysql') {
        throw new ReplicationError('ER_SPECIFIC_ACCESS_DENIED_ERROR', `provisioning channel '${this.channel.name}' ` +
          'needs FLUSH TABLES WITH READ LOCK on a MySQL source, which gives a snapshot no binlog coordinates of its ' +
          'own: grant the source user RELOAD; nothing was changed');
      }
      this.logger.warn('provisioning: the source user may not FLUSH TABLES WITH READ LOCK (RELOAD); copying one table at a time');
      locked = false;
      connections.splice(1);
    }
    let coordinates: SnapshotCoordinates | undefined;
    try {
      for (const conn of connections) {
        await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      }
      if (flavor.name === 'mysql') {
        const [rows] = await meta.query(flavor.binaryLogStatus) as [Record<string, unknown>[], unknown];
        coordinates = binaryLogStatusCoordinates(rows[0]);
      }
    } finally {
      if (locked) await meta.query('UNLOCK TABLES');
    }
    return { connections, snapshot: coordinates ?? await mariadbSnapshot(connections[0]!) };
  }

  /** `resumed`: the table keeps its rows and its progress row (syncCopied). */
  private async createTable(target: Connection, t: CopyTable, owned: boolean, resumed: boolean): Promise<void> {
    // The whole definition is checked; the table is created without the indexes built after the copy.
    targetDefinition(t.definition, t.table, t.targetDb);
    const deferred = deferIndexes(t.definition);
    const create = targetDefinition(deferred.definition, t.table, t.targetDb);
    await target.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(t.targetDb)}${t.databaseDefaults}`);
    const exists = await holdsRows(target, t) !== undefined;
    // A table this provisioning began is emptied, keeping its definition (the source's, or one made beforehand).
    if (exists && owned && !this.options.dropExisting) {
      if (!resumed) await target.query(`TRUNCATE TABLE ${qualifiedName(t.targetDb, t.table)}`);
      // Created by the interrupted run without the indexes it builds after the copy: those it had not built yet.
      const built = new Set(((await target.query(`SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE ` +
        `TABLE_SCHEMA = ${quoteString(t.targetDb)} AND TABLE_NAME = ${quoteString(t.table)}`))[0] as { name: unknown }[])
        .map((r) => String(r.name)));
      this.indexesAfterCopy.set(t, deferred.indexes.filter((i) => !built.has(i.name)));
    }
    if (exists && this.options.dropExisting) await target.query(`DROP TABLE ${qualifiedName(t.targetDb, t.table)}`);
    if (!exists || this.options.dropExisting) {
      // Its foreign keys name their tables unqualified: in the target database.
      await target.query(`USE ${quoteIdentifier(t.targetDb)}`);
      await target.query(create);
      this.indexesAfterCopy.set(t, deferred.indexes);
      if (t.questionableMembers.length) {
        // MariaDB writes a 4-byte character of an ENUM or SET member as '?' in SHOW CREATE TABLE and
        // information_schema, so the member may be misspelt here. Values are copied by index, so they stay right
        // once the definition is; a table created on the target beforehand (empty) is kept as it is.
        this.logger.warn({ table: `${t.targetDb}.${t.table}`, columns: t.questionableMembers }, 'provisioning: an ' +
          "ENUM or SET member reads '?' in the source's definition, which MariaDB writes for 4-byte characters: " +
          'check the members on the target, or create the table there (empty) before provisioning');
      }
    }
  }

  /**
   * Brings the rows an interrupted run copied (keys up to `lastKey`, at its snapshot) to this run's snapshot: in
   * chunks of keys (boundaries from the source), each compared by verifyChannel's checksums on both sides, and a
   * chunk that differs replaced by the source's rows in one target transaction. What the source changed in that
   * range since is usually a small part, so this reads the copied part instead of sending it again.
   */
  private async syncCopied(source: Connection, target: Connection, t: CopyTable, lastKey: Row): Promise<void> {
    const order = t.key.map(selectExpression).join(', ');
    const upToLast = keyRange(t.key, lastKey, 'upTo');
    let lower: Row | undefined;
    let replaced = 0;
    for (;;) {
      this.checkAborted();
      const after = lower ? [keyRange(t.key, lower, 'after')] : [];
      const [upper] = await rowsOf(source, `SELECT ${order} FROM ${qualifiedName(t.sourceDb, t.table)} WHERE ` +
        `${[...after, upToLast].join(' AND ')} ORDER BY ${order} LIMIT 1 OFFSET ${this.chunkRows - 1}`);
      const where = [...after, upper ? keyRange(t.key, upper, 'upTo') : upToLast].join(' AND ');
      const theirs = checksumOf(await rowsOf(source, checksumSql(t.sourceDb, t, where)));
      if (theirs !== checksumOf(await rowsOf(target, checksumSql(t.targetDb, t, where)))) {
        const rows = await rowsOf(source, selectRowsWhere(t.sourceDb, t.table, t.columns, t.key, where));
        await target.query('START TRANSACTION');
        await target.query(`DELETE FROM ${qualifiedName(t.targetDb, t.table)} WHERE ${where}`);
        await this.sendRows(target, t, rows);
        await target.query('COMMIT');
        replaced += rows.length;
      }
      if (!upper) break;
      lower = upper;
    }
    this.logger.info({ table: `${t.sourceDb}.${t.table}`, replaced }, 'provisioning: the rows copied before are at the new snapshot');
  }

  /** Streams the table in key order from its snapshot into chunks, each committed with the table's progress. */
  private async copyTable(source: Connection, target: Connection, t: CopyTable, snapshot: SourcePosition, from?: Resumed): Promise<void> {
    const name = `${t.sourceDb}.${t.table}`;
    if (!t.key.length) {
      this.logger.info({ table: name }, 'provisioning: the table has no primary or unique NOT NULL key: copied whole in one pass');
    }
    this.report({ table: name });
    const keyAt = t.key.map((k) => t.columns.indexOf(k));
    let rows = from?.progress.rows ?? 0;
    let bytesCopied = from?.progress.bytes ?? 0;
    let lastKey = from?.progress.lastKey ?? '';
    // The rows of the transaction being built.
    let chunk: Row[] = [];
    const commit = async (state: 'copying' | 'done') => {
      // The last key of every chunk, full or not: a continued copy starts after the rows committed here.
      const last = chunk.at(-1);
      if (keyAt.length && last) lastKey = encodeKey(keyAt.map((i) => last[i]!));
      await target.query('START TRANSACTION');
      const bytes = await this.sendRows(target, t, chunk);
      rows += chunk.length;
      bytesCopied += bytes;
      await target.query(this.progressTable.writeSql(tableProgress(t, snapshot, state, rows, bytesCopied, lastKey)));
      await target.query('COMMIT');
      this.copiedThisRun += chunk.length;
      this.estimatedLeft -= chunk.length;
      this.report({ rowsCopied: this.progress.rowsCopied + chunk.length, bytesCopied: this.progress.bytesCopied + bytes,
        secondsLeft: secondsLeft(this.copiedThisRun, this.estimatedLeft, Date.now() - this.copyStarted),
        ...(state === 'done' ? { tablesDone: this.progress.tablesDone + 1 } : {}) });
      chunk = [];
    };
    const stream = (source as unknown as { connection: mysql.Connection }).connection.query({
      sql: from ? selectRowsWhere(t.sourceDb, t.table, t.columns, t.key, keyRange(t.key, from.key, 'after'))
        : selectRows(t.sourceDb, t.table, t.columns, t.key), rowsAsArray: true,
      typeCast: (field: { buffer(): Buffer | null }) => field.buffer(),
    } as mysql.QueryOptions).stream({ highWaterMark: this.chunkRows });
    for await (const row of stream as AsyncIterable<Row>) {
      chunk.push(row);
      if (chunk.length >= this.chunkRows) {
        this.checkAborted();
        await commit('copying');
      }
    }
    const indexes = this.indexesAfterCopy.get(t) ?? [];
    if (indexes.length) {
      // Built before the table is marked done, so that a crash meanwhile copies it again and then builds them.
      await commit('copying');
      this.logger.info({ table: name, indexes: indexes.map((i) => i.name) }, 'provisioning: building secondary indexes');
      await target.query(addIndexes(t.targetDb, t.table, indexes));
    }
    await commit('done');
    this.logger.info({ table: name, rows }, 'provisioning: table copied');
  }

  /**
   * Writes a chunk's rows in the open transaction; returns the bytes sent. LOAD DATA LOCAL INFILE unless the
   * target refuses it (local_infile off), then multi-row INSERTs for the rest of the run.
   */
  private async sendRows(target: Connection, t: CopyTable, chunk: Row[]): Promise<number> {
    if (!chunk.length) return 0;
    if (this.loadData) {
      const lines = chunk.map((row) => loadDataRow(row, t.columns));
      try {
        const [result] = await target.query({ sql: loadDataStatement(t.targetDb, t.table, t.columns),
          infileStreamFactory: () => Readable.from(pieces(lines)) }) as unknown as [{ affectedRows: number }];
        // LOAD DATA LOCAL skips a row whose key the table already holds, with a warning only.
        if (result.affectedRows !== chunk.length) {
          throw new ReplicationError('ER_DUP_ENTRY', `provisioning loaded ${result.affectedRows} of ${chunk.length} rows ` +
            `into '${t.targetDb}.${t.table}': the others repeat a unique key of the target table, whose definition ` +
            "differs from the source's; make its keys the source's (or drop it) and call provisionChannel again");
        }
        return lines.reduce((n, line) => n + line.length, 0);
      } catch (err) {
        const errno = (err as { errno?: number }).errno;
        if (!LOCAL_INFILE_REFUSED.includes(errno as number)) throw err;
        this.logger.warn({ errno }, 'provisioning: the target refuses LOAD DATA LOCAL INFILE (local_infile=OFF); ' +
          'copying with INSERT statements, which is slower');
        this.loadData = false;
      }
    }
    const head = insertHead(t.targetDb, t.table, t.columns);
    let bytes = 0;
    let values: string[] = [];
    let statementBytes = 0;
    for (const row of chunk) {
      const literal = rowLiteral(row, t.columns);
      if (values.length && statementBytes + literal.length > STATEMENT_BYTES) {
        await target.query(head + values.join(','));
        values = [];
        statementBytes = 0;
      }
      values.push(literal);
      statementBytes += literal.length + 1;
      bytes += literal.length + 1;
    }
    await target.query(head + values.join(','));
    return bytes;
  }
}

/** Every base table outside the system schemas that the channel's rules keep, with what copying it needs. */
export async function keptTables(channel: Channel, meta: Connection): Promise<CopyTable[]> {
  const system = SYSTEM_SCHEMAS.map((s) => quoteString(s)).join(', ');
  const query = async (sql: string) => (await meta.query(sql))[0] as Record<string, unknown>[];
  const kept = new Map<string, CopyTable>();
  for (const r of await query(`SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, TABLE_ROWS AS estimate
      FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (${system})`)) {
    const sourceDb = text(r.db)!;
    const table = text(r.tbl)!;
    const targetDb = channel.keptTable(sourceDb, table);
    if (targetDb === undefined) continue;
    kept.set(tableKey(sourceDb, table), { sourceDb, table, targetDb, columns: [], key: [], definition: '',
      estimatedRows: Number(text(r.estimate) ?? 0), databaseDefaults: '', questionableMembers: [] });
  }
  const defaults = new Map<string, string>();
  for (const r of await query(`SELECT SCHEMA_NAME AS db, DEFAULT_CHARACTER_SET_NAME AS charset,
      DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA`)) {
    const [charset, collation] = [text(r.charset)!, text(r.collation)!];
    // Names from the source: only plain ones become SQL (unquoted, as the grammar wants them).
    if (/^\w{1,64}$/.test(charset) && /^\w{1,64}$/.test(collation)) {
      defaults.set(text(r.db)!, ` CHARACTER SET ${charset} COLLATE ${collation}`);
    }
  }
  for (const t of kept.values()) t.databaseDefaults = defaults.get(t.sourceDb) ?? '';
  const notNull = new Set<string>();
  for (const r of await query(`SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS name, DATA_TYPE AS type,
      CHARACTER_SET_NAME AS charset, GENERATION_EXPRESSION AS generated, IS_NULLABLE AS nullable, COLUMN_TYPE AS full
      FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN (${system}) ORDER BY ORDINAL_POSITION`)) {
    const t = kept.get(tableKey(text(r.db)!, text(r.tbl)!));
    if (!t) continue;
    const name = text(r.name)!;
    if (text(r.nullable) === 'NO') notNull.add(`${tableKey(t.sourceDb, t.table)}\0${name}`);
    // MySQL has no IS_GENERATED; its GENERATION_EXPRESSION is '' where MariaDB's is NULL.
    if (text(r.generated)) continue;
    if (/^(enum|set)\(.*\?/.test(text(r.full)!)) t.questionableMembers.push(name);
    t.columns.push({ name, dataType: text(r.type)!.toLowerCase(), charset: text(r.charset) });
  }
  const candidates = new Map<string, { table: CopyTable; index: string; columns: string[] }>();
  for (const r of await query(`SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, INDEX_NAME AS idx, COLUMN_NAME AS col
      FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA NOT IN (${system})
      ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`)) {
    const t = kept.get(tableKey(text(r.db)!, text(r.tbl)!));
    if (!t) continue;
    const id = `${tableKey(t.sourceDb, t.table)}\0${text(r.idx)}`;
    const entry = candidates.get(id) ?? { table: t, index: text(r.idx)!, columns: [] };
    entry.columns.push(text(r.col)!);
    candidates.set(id, entry);
  }
  for (const { table: t, columns } of candidates.values()) {
    if (t.key.length) continue;
    const key = columns.map((c) => t.columns.find((col) => col.name === c));
    if (key.every((c, i) => c && notNull.has(`${tableKey(t.sourceDb, t.table)}\0${columns[i]}`))) t.key = key as CopyColumn[];
  }
  // Under binary results SHOW CREATE TABLE writes a 4-byte character of an ENUM member or default as '?'.
  await meta.query('SET @@session.character_set_results=utf8mb4');
  for (const t of kept.values()) {
    const [rows] = await meta.query(`SHOW CREATE TABLE ${qualifiedName(t.sourceDb, t.table)}`) as [Record<string, unknown>[], unknown];
    t.definition = text(rows[0]!['Create Table'])!;
  }
  return [...kept.values()];
}

/** A connection to the target in the session provisioning and verifying write and read it in. */
export async function connectTarget(settings: EngineSettings): Promise<Connection> {
  const conn = await mysqlConnection({ ...settings.target, charset: 'BINARY', flags: ['-SESSION_TRACK'] });
  await conn.query(TARGET_SESSION);
  return conn;
}

/** A connection to the channel's source, made as the I/O stage makes it, reading values as their bytes. */
export async function connectSource(channel: Channel): Promise<Connection> {
  const s = channel.sourceSettings();
  const conn = await mysqlConnection({ host: s.host, port: s.port, user: s.user, password: s.password,
    charset: 'BINARY', flags: ['-SESSION_TRACK'] }, s.ssl ? (core) => upgradeWithSsl(core, s.ssl!, s.host) : undefined);
  await conn.query(SOURCE_SESSION);
  return conn;
}

/** Where a snapshot stands in the source's binlog, and the GTID state of every transaction before it. */
export interface SnapshotCoordinates {
  position: SourcePosition;
  /** A MariaDB GTID position, or a MySQL source's executed GTID set ('' when it has none). */
  gtidState: string;
}

/** The kind of source a version string names, and the statement it reads its binlog coordinates with. */
/**
 * verifyChannel reads its source side on a snapshot whose binlog coordinates only MariaDB reports without a lock
 * (binlog_snapshot_*): a MySQL source is refused before anything is copied or compared.
 */
export async function refuseVerifyOnMysql(source: Connection): Promise<void> {
  const [[{ version }]] = await source.query('SELECT VERSION() AS version') as [[{ version: Buffer | string }], unknown];
  if (sourceFlavor(version.toString()).name === 'mysql') {
    throw new ReplicationError('ER_NOT_SUPPORTED_YET', 'verifyChannel (and provisionChannel\'s verify) needs a MariaDB ' +
      `source: a MySQL source (${version.toString()}) reports no binlog coordinates for a consistent snapshot; nothing was changed`);
  }
}

export function sourceFlavor(version: string): { name: 'mariadb' | 'mysql'; binaryLogStatus: string } {
  const name = serverFlavor(version);
  return { name, binaryLogStatus: sourceWording(name, version).binaryLogStatus };
}

/** A value of a source's information_schema or SHOW row as text (its bytes are UTF-8); null stays null. */
function text(v: unknown): string | null {
  return v === undefined || v === null ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** A MySQL source's coordinates from its SHOW BINARY LOG STATUS (or SHOW MASTER STATUS) row, read under the lock. */
export function binaryLogStatusCoordinates(row: Record<string, unknown> | undefined): SnapshotCoordinates {
  const field = (v: unknown) => text(v) ?? '';
  const position = checkedPosition(field(row?.File), field(row?.Position), 'SHOW BINARY LOG STATUS');
  return { position, gtidState: MysqlGtidSet.parse(field(row?.Executed_Gtid_Set)).toString() };
}

/** The binlog coordinates of the consistent snapshot `conn` opened (MariaDB's binlog_snapshot_file/position). */
export async function snapshotPosition(conn: Connection): Promise<SourcePosition> {
  const [rows] = await conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'") as [Record<string, Buffer>[], unknown];
  const value = (name: string) => rows.find((r) => r.Variable_name?.toString().toLowerCase() === name)?.Value?.toString() ?? '';
  return checkedPosition(value('binlog_snapshot_file'), value('binlog_snapshot_position'), 'binlog_snapshot_file');
}

/** A MariaDB snapshot's coordinates and the GTID position there, which a dump by GTID continues from. */
async function mariadbSnapshot(conn: Connection): Promise<SnapshotCoordinates> {
  const position = await snapshotPosition(conn);
  const [[row]] = await conn.query(`SELECT BINLOG_GTID_POS(${quoteString(position.file)}, ${position.pos}) AS gtid`) as
    [{ gtid: Buffer | null }[], unknown];
  // NULL, unlike '' (no GTID yet), says MariaDB could not find the position in its binlogs: an empty state would
  // make a dump by GTID start from the oldest binlog, replaying it over the copy.
  if (!row || row.gtid === null) {
    throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `the source gives no GTID position for its snapshot at ` +
      `${position.file}:${position.pos} (BINLOG_GTID_POS is NULL): check the source's binlog index, then call provisionChannel again`);
  }
  return { position, gtidState: row.gtid.toString() };
}

function checkedPosition(file: string, pos: string, what: string): SourcePosition {
  const position = { file, pos: Number(pos) };
  if (!file || !Number.isSafeInteger(position.pos) || position.pos < 4) {
    throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `the source reports no binlog coordinates for its snapshot ` +
      `(${what} '${file}'): provisioning needs a source with its binary log on`);
  }
  return position;
}

function tableKey(db: string, table: string): string {
  return `${db}\0${table}`;
}

function tableProgress(t: CopyTable, snapshot: SourcePosition, state: 'copying' | 'done', rows: number, bytesCopied: number,
  lastKey: string): TableProgress {
  return { sourceDb: t.sourceDb, sourceTable: t.table, state, rows, bytes: bytesCopied, lastKey, snapshot };
}

/** LOAD DATA's input in pieces of at most 1 MiB: mysql2 sends each piece as one packet, which must stay below 16 MiB. */
function* pieces(lines: Buffer[]): Generator<Buffer> {
  const size = 1 << 20;
  for (let first = 0; first < lines.length;) {
    let last = first;
    let bytes = 0;
    while (last < lines.length && (last === first || bytes + lines[last]!.length <= size)) bytes += lines[last++]!.length;
    const piece = last - first === 1 ? lines[first]! : Buffer.concat(lines.slice(first, last), bytes);
    for (let at = 0; at < piece.length; at += size) yield piece.subarray(at, at + size);
    first = last;
  }
}

/** Whether the target table holds rows; undefined when it does not exist. */
async function holdsRows(target: Connection, t: CopyTable): Promise<boolean | undefined> {
  try {
    const [rows] = await target.query(`SELECT 1 FROM ${qualifiedName(t.targetDb, t.table)} LIMIT 1`) as [unknown[], unknown];
    return rows.length > 0;
  } catch (err) {
    if ((err as { errno?: number }).errno === ErrorCodes.ER_NO_SUCH_TABLE) return undefined;
    throw err;
  }
}

/** A connected mysql2 connection (promise API); `prepare` may replace its TLS upgrade before it connects. */
async function mysqlConnection(options: mysql.ConnectionOptions, prepare?: (core: mysql.Connection) => void): Promise<Connection> {
  const core = mysql.createConnection({ ...options, ...(prepare ? { ssl: {} } : {}), queryFormat: sendAsWritten,
    supportBigNumbers: true, bigNumberStrings: true, dateStrings: true });
  core.on('error', () => undefined);
  prepare?.(core);
  await new Promise<void>((resolve, reject) => core.connect((err) => (err ? reject(err) : resolve())));
  return core.promise();
}
