// Applies whole source transactions to the target through one mysql2 connection per channel. Several
// consecutive transactions go into one target transaction together with the position row; SQL goes in
// multi-statement round trips of bounded size (DESIGN.md, Batching). DDL commits on its own and gets the
// marker protocol described in PositionTable.
import { Readable } from 'node:stream';
import mysql, { type Connection, type ConnectionOptions, type ResultSetHeader } from 'mysql2/promise';
import type { Logger } from 'pino';
import { EventType, type DecodedEvent, type ExecuteLoadQueryEvent, type QueryEvent, type RowsEvent } from '../binlog/events.js';
import { eventTypeName } from '../binlog/event-names.js';
import { ErrorCodes, mysqlFailure, ReplicationError } from '../errors.js';
import type { ChannelPosition, PositionRow, PositionTable } from '../info/position-table.js';
import { RowMappingError, rowStatements, type RowStatement } from './row-sql.js';
import { contextEventSql, loadDataFileName, queryStatements, type Collation } from './statement-context.js';
import { isTemporaryTableDdl } from './statement-kind.js';
import { isSingleStatement, statementParse } from '../filter/statement-text.js';
import { mapMysqlStatement, MysqlStatementError, mysqlCollationName, targetCollation, type MysqlDdlMode,
  type TargetSyntax } from './mysql-ddl.js';
import { serverFlavor, versionAtLeast } from '../protocol/dump.js';
import { setMultiStatements, type CoreConnection } from '../protocol/raw-command.js';
import { TableDefinitions, type TargetTable } from './table-definitions.js';
import { sendAsWritten } from './sql-text.js';
import { WatchedConnection } from './target-watchdog.js';

export interface TransactionGroup {
  /** 'ddl' commits implicitly on the target and is applied alone. */
  kind: 'transaction' | 'ddl';
  events: DecodedEvent[];
  /** Positions before the group's first event (a restart from here re-applies it) and after its last. */
  start: ChannelPosition;
  end: ChannelPosition;
  /** The group ended with ROLLBACK on the source (non-transactional changes are kept, the rest undone). */
  rollback: boolean;
  /** Default database to run statements under (after rewrite rules), per Query event. */
  database: (event: Pick<QueryEvent, 'database'>) => string;
}

/**
 * The SQL of a batch rendered ahead of its turn (Applier.prepare), while the batch before it is applied: the
 * pieces of its leading target transactions, by their first group. Applier.apply uses what still holds and
 * renders the rest as usual.
 */
export interface PreparedBatch {
  /** The table definitions and round-trip bound the pieces were rendered with, which must still hold. */
  epoch: number;
  maxBytes: number;
  transactions: Map<TransactionGroup, { groups: TransactionGroup[]; pieces: Piece[] }>;
}

/** Finds a table's definition for rendering. */
type TableLookup = (database: string, table: string) => Promise<TargetTable | undefined> | TargetTable | undefined;

/** Thrown by the lookup of Applier.prepare for a table it has no definition of yet. */
const NOT_CACHED = new Error('table definition not cached');

/**
 * The target transactions and DDL a batch is applied as: a DDL group alone, and consecutive transactions
 * together, except that a group with CREATE or DROP of a temporary table ends its transaction (ROLLBACK does
 * not undo those, so a batch replayed after a failure must not hold one before the failing group).
 */
function segments(groups: TransactionGroup[]): ({ ddl: TransactionGroup } | { transactions: TransactionGroup[] })[] {
  const out: ({ ddl: TransactionGroup } | { transactions: TransactionGroup[] })[] = [];
  let batch: TransactionGroup[] = [];
  for (const group of groups) {
    if (group.kind === 'ddl') {
      if (batch.length > 0) out.push({ transactions: batch });
      batch = [];
      out.push({ ddl: group });
    } else {
      batch.push(group);
      if (group.events.some(({ event }) => event.type === 'query' && isTemporaryTableDdl(event.sql))) {
        out.push({ transactions: batch });
        batch = [];
      }
    }
  }
  if (batch.length > 0) out.push({ transactions: batch });
  return out;
}

/**
 * Whether applying a group leaves the target's tables as they are: it holds row events only, no DDL and no
 * statement (or piece of one), so SQL rendered against the definitions of now stays right after it.
 */
export function keepsTables(group: TransactionGroup): boolean {
  return group.kind === 'transaction' && group.events.every(({ event }) => ROW_EVENT_TYPES.has(event.type));
}

const ROW_BOOKKEEPING = new Set<DecodedEvent['event']['type']>(['table_map', 'annotate_rows', 'rows_query']);
const ROW_EVENT_TYPES = new Set<DecodedEvent['event']['type']>(['gtid', 'rows', ...ROW_BOOKKEEPING]);

export class ApplyError extends Error {
  constructor(
    readonly errno: number,
    message: string,
    readonly group: TransactionGroup,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

/** Target errors a retry can cure (deadlock, lock wait timeout, lost or killed connection). */
const TRANSIENT = new Set([1205, 1213, 2006, 2013, 1158, 1159, 1160, 1161, 1927]);

// Row events are applied the way the servers apply them: no strict-mode rejection of values the source stored
// (zero dates, ENUM index 0), explicit zeros kept in AUTO_INCREMENT columns, TIMESTAMP in UTC.
const ROW_SESSION = "SET @@session.sql_mode='NO_AUTO_VALUE_ON_ZERO', @@session.time_zone='+00:00', " +
  '@@session.character_set_client=utf8mb4, @@session.collation_connection=utf8mb4_general_ci, ' +
  '@@session.unique_checks=1, @@session.foreign_key_checks=1, @@session.autocommit=1';

// What the applier's own statements are read under: a source's statement leaves the session in its character
// set, where a name's bytes could mean something else (see quoteIdentifier). Pure ASCII reads the same in every
// client character set, so only statements holding other bytes need it (ROW_SESSION sets it too).
const OWN_PARSING = 'SET @@session.character_set_client=utf8mb4, @@session.character_set_results=utf8mb4';

const isAscii = (sql: string) => !/[^\x00-\x7f]/.test(sql);

// Between the statements of a round trip. The line break ends a `-- ` or `#` comment a statement may end with,
// which would otherwise swallow the semicolon.
const SEPARATOR = '\n;\n';

/** What the pieces sent so far left the session set to, across the groups of a batch. */
interface SessionState {
  /** ROW_SESSION is in force: no statement has set its own session since. */
  rows: boolean;
  /** foreign_key_checks in force for row events (meaningful while `rows`). */
  foreignKeyChecks: number;
  /** The applier's statements are read under utf8mb4 (OWN_PARSING or ROW_SESSION, and no statement of a source since). */
  ownParsing: boolean;
}

// Rows event flags.
const NO_FOREIGN_KEY_CHECKS_F = 1 << 1;
const GROUP_SAVEPOINT = 'tributary_source_transaction';

// Errors that mean a DDL already took effect, when re-run after a crash that cut it off from its position.
const DDL_ALREADY_DONE = new Set([1007, 1008, 1050, 1051, 1054, 1060, 1061, 1091, 1146, 1049, 1025]);

interface Piece {
  sql: string;
  expectRows?: number;
  /** The rows event a row statement comes from: its error message names it, and a skipped error skips it whole. */
  rows?: DecodedEvent & { event: RowsEvent };
  /** A LOAD DATA LOCAL INFILE statement's file, served to the target under this name. */
  infile?: { name: string; data: Buffer };
  /** The error the statement met on the source (its Query event's error code), which it must meet here too. */
  expectError?: number;
  /**
   * A source's statement that the server might read as several (a `;` outside quotes and comments, or a quote
   * or comment that does not end): it goes alone, with multiple statements turned off on the connection, so
   * that the target runs at most one statement of it, as the servers' SQL thread does.
   */
  confined?: boolean;
  /**
   * Goes in a round trip of its own, once the row counts of the statements before it are checked: a COMMIT sent
   * with a statement that changed fewer rows than its rows event would commit the transaction without that row.
   */
  afterChecks?: boolean;
  describe: () => string;
}

// Source errors that say nothing about the statement's outcome (deadlock, lock wait timeout, XA rollback after
// deadlock): the replica runs it and expects success.
const CONCURRENCY_ERRORS = new Set([1205, 1213, 1614]);
// Source errors that cut a statement off at an unknown point (killed, interrupted, lost connection, shutdown):
// the SQL thread refuses to guess what it did.
const UNEXPECTED_ERRORS = new Set([1158, 1160, 1317, 1969, 1184, 1053, 1927]);
const ER_ERROR_ON_MASTER = 3001;
const ER_INCONSISTENT_ERROR = 3002;

// Events of LOAD DATA as pre-5.0 sources logged it.
const LEGACY_LOAD_EVENTS: Record<number, string> = {
  [EventType.LOAD]: 'Load', [EventType.CREATE_FILE]: 'Create_file', [EventType.EXEC_LOAD]: 'Exec_load',
  [EventType.NEW_LOAD]: 'New_load',
};

export interface ApplierOptions {
  target: ConnectionOptions;
  positions: PositionTable;
  logger: Logger;
  /** Upper bound of one round trip's SQL text; also kept under the target's max_allowed_packet. */
  maxRoundTripBytes?: number;
  /** slave_skip_errors: a statement failing with one of these is skipped and its transaction goes on. */
  skipErrors?: ReadonlySet<number> | 'all';
  /** Statements of a MySQL source on a MariaDB target: mapped (default), refused where they would need it, or as written. */
  mysqlDdl?: MysqlDdlMode;
  /** Runs on the connection at every open and reconnect, before anything is read or applied (the channel's lock). */
  onOpen?: (conn: Connection) => Promise<void>;
  /**
   * replica_net_timeout, seconds (default 60): a round trip that hears nothing from the target for half of it is
   * checked on a second connection (WatchedConnection); a stop waits as long for a round trip in flight.
   */
  netTimeout?: number;
}

export class Applier {
  private link: WatchedConnection | undefined;
  private readonly tables: TableDefinitions;
  private maxBytes: number;
  private collations = new Map<number, Collation>();
  /** The target is MariaDB: DDL from statements runs as its replicas run it (see idempotentDdl). */
  private idempotentDdl = false;
  /** What a MariaDB target accepts, for statements of a MySQL source; undefined for a MySQL target. */
  private targetSyntax: TargetSyntax | undefined;
  /** The server version of the source whose events are applied (its Format_description event). */
  sourceVersion: string | undefined;
  /** The position of the last commit on the target. */
  committed: ChannelPosition | undefined;
  /** The target's lower_case_table_names is not 0: database names compare without regard to letter case. */
  namesIgnoreCase = false;

  constructor(private readonly options: ApplierOptions) {
    this.tables = new TableDefinitions((sql) => this.ownQuery(sql));
    this.maxBytes = options.maxRoundTripBytes ?? 4 << 20;
  }

  private get conn(): Connection | undefined {
    return this.link?.conn;
  }

  private connection(): Connection {
    if (!this.conn) throw new Error('applier is not open');
    return this.conn;
  }

  /** How long a round trip may hear nothing before it is checked, and a stop waits for one. */
  private get checkIntervalMs(): number {
    return (this.options.netTimeout ?? 60) * 500;
  }

  /**
   * Runs statements the applier wrote, outside a batch, after whatever a source's statement left the session
   * in: under OWN_PARSING. Resolves with the result of the last one.
   */
  private async ownQuery(sql: string): Promise<unknown> {
    const [results] = await this.connection().query(`${OWN_PARSING}${SEPARATOR}${sql}`);
    return (results as unknown[]).at(-1);
  }

  /** The mysql2 connection underneath the promise wrapper, for commands mysql2 does not have. */
  private core(): CoreConnection {
    return (this.connection() as unknown as { connection: CoreConnection }).connection;
  }

  /** The character set of a collation id, as the target names it. */
  charsetOf(collationId: number): string | undefined {
    return this.collation(collationId)?.charset;
  }

  /**
   * A collation by id, as the target knows it. A MySQL 8 source's sessions use ids MariaDB lacks (255,
   * utf8mb4_0900_ai_ci, is its default): those are the collation MariaDB 11.4.5+ makes an alias of them.
   */
  private collation(id: number): Collation | undefined {
    const known = this.collations.get(id);
    const name = known || !this.targetSyntax ? undefined : mysqlCollationName(id);
    const mapped = name === undefined ? undefined : targetCollation(name, this.targetSyntax!);
    return known ?? (mapped === undefined ? undefined : { name: mapped, charset: 'utf8mb4' });
  }

  /**
   * Connects, or keeps the connection it has if it still works (it holds the source sessions' temporary
   * tables), and reads the channel's position from the target.
   */
  async open(): Promise<PositionRow | undefined> {
    if (this.conn) {
      try {
        await this.conn.query(`ROLLBACK${SEPARATOR}${OWN_PARSING}`);
      } catch {
        this.destroy();
      }
    }
    if (!this.conn) {
      await this.connect().catch((err: unknown) => {
        this.destroy();
        throw targetError(err, this.options.target);
      });
    }
    // The target's tables may have changed meanwhile (columns, keys, triggers added by hand while stopped).
    this.tables.invalidate();
    const conn = this.connection();
    await this.options.onOpen?.(conn);
    await this.options.positions.ensure(conn);
    const row = await this.options.positions.read(conn);
    this.committed = row;
    return row;
  }

  private async connect(): Promise<void> {
    const raw = await mysql.createConnection({
      ...this.options.target,
      charset: 'BINARY',
      // mysql2 re-encodes later queries when session tracking reports a new character_set_client; statements
      // set it per event, and every byte we send must stay as it is.
      flags: ['-SESSION_TRACK'],
      multipleStatements: true,
      queryFormat: sendAsWritten,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
    });
    raw.on('error', () => undefined);
    const link = new WatchedConnection(raw, { target: this.options.target, intervalMs: this.checkIntervalMs,
      logger: this.options.logger });
    this.link = link;
    const conn = link.conn;
    await conn.query(OWN_PARSING);
    const [[server]] = await conn.query('SELECT @@max_allowed_packet AS m, VERSION() AS v, @@lower_case_table_names AS l, ' +
      '(SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()) AS h') as
      [{ m: string; v: string; l: string; h: unknown }[], unknown];
    if (server!.h != null) link.host = String(server!.h);
    this.namesIgnoreCase = Number(server!.l) !== 0;
    this.maxBytes = Math.min(this.maxBytes, Number(server!.m) - 1024);
    this.idempotentDdl = serverFlavor(String(server!.v)) === 'mariadb';
    const [collations] = await conn.query(
      'SELECT ID AS id, COLLATION_NAME AS name, CHARACTER_SET_NAME AS charset FROM information_schema.COLLATIONS',
    ) as [{ id: number | string; name: string; charset: string }[], unknown];
    for (const c of collations) this.collations.set(Number(c.id), { name: c.name, charset: c.charset });
    this.targetSyntax = this.idempotentDdl ? await mariadbSyntax(conn, String(server!.v), collations) : undefined;
  }

  /** Maps a MySQL source's statement for a MariaDB target, per mysqlDdl; undefined where nothing is to map. */
  private mysqlStatement(event: QueryEvent, group: TransactionGroup, database: string): ((text: string) => string) | undefined {
    const mode = this.options.mysqlDdl ?? 'map';
    const target = this.targetSyntax;
    if (mode === 'asis' || !target || this.sourceVersion === undefined || serverFlavor(this.sourceVersion) === 'mariadb') return undefined;
    return (bytes) => {
      const { text, options } = statementParse(event, (id) => this.charsetOf(id));
      const refuse = (why: string, what: string) => new ApplyError(ErrorCodes.ER_NOT_SUPPORTED_YET, `Statement of a MySQL ` +
        `source ${why} (${what}); ${mode === 'map' ? 'it has no MariaDB equivalent' : "mysqlDdl is 'refuse'"}: apply ` +
        "it by hand and skip it with the skip counter, or set the engine option mysqlDdl to 'asis' to send it as " +
        `written${mode === 'map' ? '' : " or 'map' to map it"}. ${describeQuery(event, database)}`, group, false);
      try {
        const mapped = mapMysqlStatement(bytes, text, options, target);
        if (mapped.changes.length > 0 && mode === 'refuse') throw refuse('needs mapping for MariaDB', mapped.changes.join('; '));
        if (mapped.changes.length > 0) this.options.logger.debug({ changes: mapped.changes }, 'MySQL statement mapped for MariaDB');
        return mapped.sql;
      } catch (err) {
        if (err instanceof MysqlStatementError) throw refuse('cannot run on MariaDB', err.message);
        throw err;
      }
    };
  }

  async close(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    // Nothing waits for a round trip still in flight (the lock's release on a frozen network, say).
    if (link?.waiting) link.drop('ECONNABORTED', 'closed while a round trip to the target was in flight');
    await link?.conn.end().catch(() => link.conn.destroy());
  }

  /**
   * For a stop: a round trip still in flight after the check interval loses its connection, so that the stop
   * returns (the position row on the target says what was committed). Returns the function that calls it off.
   */
  interruptAfterGrace(): () => void {
    const timer = setTimeout(() => {
      if (!this.link?.waiting) return;
      this.options.logger.warn('stopping: a round trip to the target has not ended; dropping the connection');
      this.link.drop('ECONNABORTED', 'stopped while a round trip to the target was in flight');
    }, this.checkIntervalMs);
    return () => clearTimeout(timer);
  }

  /** Forgets every temporary table of the source's sessions, which live on this connection, by replacing it. */
  async dropTemporaryTables(): Promise<void> {
    await this.close();
    await this.connect();
    await this.options.onOpen?.(this.connection());
  }

  /** Drops a connection that no longer works. */
  private destroy(): void {
    this.conn?.destroy();
    this.link = undefined;
  }

  /** Records a position that no transaction carries (events between transactions: Rotate, checkpoints ...). */
  async savePosition(position: ChannelPosition): Promise<void> {
    await this.ownQuery(this.options.positions.writeSql(position));
    this.committed = position;
  }

  /** Forgets the channel's position on the target (RESET SLAVE). */
  async deletePosition(): Promise<void> {
    await this.ownQuery(this.options.positions.deleteSql());
    this.committed = undefined;
  }

  /**
   * Applies consecutive groups and records `groups.at(-1).end`. Transactions are batched into one target
   * transaction; on failure the batch is rolled back and replayed one group at a time, so that everything
   * before the failing group lands and the error names that group. Resolves with the last position written.
   */
  async apply(groups: TransactionGroup[], ddlMaybeDone?: (group: TransactionGroup) => boolean,
    prepared?: PreparedBatch): Promise<void> {
    let batch: TransactionGroup[] = [];
    let current = groups[0]!;
    try {
      for (const segment of segments(groups)) {
        if ('ddl' in segment) {
          batch = [];
          current = segment.ddl;
          await this.applyDdl(segment.ddl, ddlMaybeDone?.(segment.ddl) ?? false);
        } else {
          batch = segment.transactions;
          current = batch.at(-1)!;
          await this.applyTransactions(batch, this.preparedPieces(prepared, batch));
        }
      }
    } catch (err) {
      // The connection can go at any query, reading table definitions included: that is retry material too.
      const e = err as { fatal?: boolean; message?: string };
      if (err instanceof ApplyError || !e.fatal) throw err;
      throw new ApplyError(2013, `Lost connection to the target: ${e.message}`, batch[0] ?? current, true);
    }
  }

  /**
   * Renders the SQL of a batch ahead of its turn, for Applier.apply to send when the batch before it has been
   * applied. The caller must make sure that nothing applied before this batch changes the target's tables
   * (no DDL, no statements), as only what the definitions are now is looked at. Only definitions already read
   * are used: rendering ahead sends nothing to the target, whose connection the batch in flight holds. It stops
   * at the first DDL, at a table not read yet, after a target transaction holding statements, and at any error,
   * which is left for the batch's turn to raise in order; the rest is rendered then.
   */
  async prepare(groups: TransactionGroup[]): Promise<PreparedBatch | undefined> {
    const epoch = this.tables.epoch;
    const lookup: TableLookup = (database, table) => {
      const found = this.tables.known(database, table);
      if (!found.known) throw NOT_CACHED;
      return found.table;
    };
    const prepared: PreparedBatch = { epoch, maxBytes: this.maxBytes, transactions: new Map() };
    let since = performance.now();
    // Rendering is long CPU work: the event loop gets turns to hand the batch in flight its next round trips.
    const pause = async () => {
      if (performance.now() - since < 4) return;
      await new Promise((resolve) => setImmediate(resolve));
      since = performance.now();
    };
    for (const segment of segments(groups)) {
      if ('ddl' in segment) break;
      let pieces: Piece[];
      try {
        pieces = await this.transactionPieces(segment.transactions, false, lookup, pause);
      } catch {
        break;
      }
      if (this.tables.epoch !== epoch) return undefined;
      prepared.transactions.set(segment.transactions[0]!, { groups: segment.transactions, pieces });
      if (!segment.transactions.every(keepsTables)) break;
    }
    return prepared.transactions.size > 0 ? prepared : undefined;
  }

  /** The pieces rendered ahead for exactly these groups, if the definitions they were rendered with still hold. */
  private preparedPieces(prepared: PreparedBatch | undefined, groups: TransactionGroup[]): Piece[] | undefined {
    if (!prepared || prepared.epoch !== this.tables.epoch || prepared.maxBytes !== this.maxBytes) return undefined;
    const found = prepared.transactions.get(groups[0]!);
    if (!found || found.groups.length !== groups.length || found.groups.some((g, i) => g !== groups[i])) return undefined;
    // Sent once: a retry renders afresh.
    prepared.transactions.delete(groups[0]!);
    return found.pieces;
  }

  /**
   * A batch that fails is rolled back and replayed group by group; a group that fails alone is replayed once
   * more statement by statement and row by row, which finds the event that fails (for an error message that
   * names it, as the servers' does) and lets slave_skip_errors skip just that event.
   */
  private async applyTransactions(groups: TransactionGroup[], prepared?: Piece[]): Promise<void> {
    if (groups.length === 0) return;
    try {
      await this.runTransaction(groups, false, prepared);
    } catch (err) {
      if (!(err instanceof ApplyError) || err.transient) throw err;
      if (groups.length > 1) {
        for (const group of groups) await this.applyTransactions([group]);
      } else {
        await this.runTransaction(groups, true);
      }
    }
  }

  /** `prepared`: the pieces Applier.prepare rendered for exactly these groups, not stepwise. */
  private async runTransaction(groups: TransactionGroup[], stepwise: boolean, prepared?: Piece[]): Promise<void> {
    const pieces = prepared ?? await this.transactionPieces(groups, stepwise, (d, t) => this.tables.get(d, t));
    const last = groups.at(-1)!;
    try {
      await this.send(pieces, groups, stepwise);
    } catch (err) {
      await this.conn?.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    this.committed = last.end;
  }

  /** The SQL of one target transaction: its groups, the position row and COMMIT. */
  private async transactionPieces(groups: TransactionGroup[], stepwise: boolean, lookup: TableLookup,
    pause?: () => Promise<void>): Promise<Piece[]> {
    const pieces: Piece[] = [{ sql: ROW_SESSION, describe: () => 'session setup' }, { sql: 'START TRANSACTION', describe: () => 'START TRANSACTION' }];
    const session: SessionState = { rows: true, foreignKeyChecks: 1, ownParsing: true };
    for (const group of groups) {
      // A group the source rolled back (kept in its binlog for its non-transactional changes) is undone to where
      // it began: a ROLLBACK would also undo the groups before it in this target transaction.
      if (group.rollback) pieces.push({ sql: `SAVEPOINT ${GROUP_SAVEPOINT}`, describe: () => 'SAVEPOINT' });
      await this.groupPieces(group, pieces, session, stepwise, lookup);
      if (group.rollback) pieces.push({ sql: `ROLLBACK TO SAVEPOINT ${GROUP_SAVEPOINT}`, describe: () => 'ROLLBACK' });
      await pause?.();
    }
    const last = groups.at(-1)!;
    // Statements leave the session of their source behind (sql_mode, character set ...).
    if (!session.rows) pieces.push({ sql: ROW_SESSION, describe: () => 'session setup' });
    pieces.push({ sql: this.options.positions.writeSql(last.end), describe: () => 'position update' });
    pieces.push({ sql: 'COMMIT', describe: () => 'COMMIT', afterChecks: true });
    return pieces;
  }

  private async applyDdl(group: TransactionGroup, maybeDone: boolean): Promise<void> {
    const positions = this.options.positions;
    const end = { file: group.end.sourceLogFile, pos: group.end.sourceLogPos };
    const pieces: Piece[] = [];
    await this.groupPieces(group, pieces, { rows: false, foreignKeyChecks: -1, ownParsing: false }, true,
      (d, t) => this.tables.get(d, t));
    // The marker goes in with the position before the DDL, which is where a restart would begin.
    await this.ownQuery(positions.writeSql(group.start, end));
    try {
      await this.send(pieces, [group], true);
    } catch (err) {
      if (!(maybeDone && err instanceof ApplyError && DDL_ALREADY_DONE.has(err.errno))) throw err;
      this.options.logger.warn({ errno: err.errno, sourcePos: end },
        'DDL interrupted by a crash had already taken effect; continuing');
    }
    this.tables.invalidate();
    await this.connection().query(`${ROW_SESSION}${SEPARATOR}${positions.writeSql(group.end)}`);
    this.committed = group.end;
  }

  /** Appends the SQL of one group; `stepwise`: one statement per row, so that a failing row is found. */
  private async groupPieces(group: TransactionGroup, pieces: Piece[], session: SessionState, stepwise: boolean,
    lookup: TableLookup): Promise<void> {
    let rowRun: (DecodedEvent & { event: RowsEvent })[] = [];
    let insertId = false;
    // LOAD DATA files by file id: Begin_load_query and Append_block events bring them ahead of their statement.
    const loadFiles = new Map<number, Buffer[]>();
    /** Appends a statement the applier wrote, making sure the target reads it under utf8mb4 if it needs to. */
    const own = (piece: Piece) => {
      if (!session.ownParsing && !isAscii(piece.sql)) {
        pieces.push({ sql: OWN_PARSING, describe: () => 'session setup' });
        session.ownParsing = true;
      }
      pieces.push(piece);
    };
    const flushRows = async () => {
      if (rowRun.length === 0) return;
      const map = rowRun[0]!.event.tableMap;
      const table = await lookup(map.database, map.table);
      if (!table) {
        throw new ApplyError(1146, `Error executing row event: 'Table '${map.database}.${map.table}' doesn't exist'`, group, false);
      }
      const decoded = new Map(rowRun.map((r) => [r.event, r]));
      let statements: RowStatement[];
      try {
        statements = stepwise
          ? rowRun.flatMap((r) => rowStatements([r.event], table, 0))
          : rowStatements(rowRun.map((r) => r.event), table, this.maxBytes);
      } catch (err) {
        if (err instanceof RowMappingError) throw new ApplyError(err.errno, err.message, group, false);
        throw err;
      }
      for (const s of statements) {
        const rows = decoded.get(s.source)!;
        own({ sql: s.sql, expectRows: s.expectRows, rows, describe: () => describeRows(rows) });
      }
      rowRun = [];
    };

    for (const decoded of group.events) {
      const { header, event } = decoded;
      if (event.type === 'rows') {
        if (!session.rows) {
          pieces.push({ sql: ROW_SESSION, describe: () => 'session setup' });
          Object.assign(session, { rows: true, foreignKeyChecks: 1, ownParsing: true });
        }
        const fk = event.flags & NO_FOREIGN_KEY_CHECKS_F ? 0 : 1;
        const first = rowRun[0]?.event;
        if (first && (first.tableId !== event.tableId || fk !== session.foreignKeyChecks)) await flushRows();
        if (fk !== session.foreignKeyChecks) {
          own({ sql: `SET @@session.foreign_key_checks=${fk}`, describe: () => 'session setup' });
          session.foreignKeyChecks = fk;
        }
        rowRun.push({ header, event });
        continue;
      }
      // A Table_map (or annotation) between two rows events of one table carries no SQL: the run goes on, so that
      // the rows of consecutive statements can go in one set (a new table id ends it at the rows event).
      if (ROW_BOOKKEEPING.has(event.type)) continue;
      await flushRows();
      switch (event.type) {
        case 'query':
        case 'execute_load_query': {
          if (UNEXPECTED_ERRORS.has(event.errorCode)) {
            throw new ApplyError(ER_ERROR_ON_MASTER, `Query partially completed on the master (error on master: ` +
              `${event.errorCode}) and was aborted. There is a chance that your master is inconsistent at this point. ` +
              'If you are sure that your master is ok, run this query manually on the target and skip it with the ' +
              `skip counter. ${describeQuery(event, group.database(event))}`, group, false);
          }
          const database = group.database(event);
          const mapStatement = event.type === 'query' ? this.mysqlStatement(event, group, database) : undefined;
          const statements = queryStatements(event, header, { database, collation: (id) => this.collation(id),
            idempotentDdl: this.idempotentDdl, ...(mapStatement ? { mapStatement } : {}) });
          const infile = event.type === 'execute_load_query' ? this.loadFile(event, header, loadFiles, group) : undefined;
          const expectError = event.errorCode !== 0 && !CONCURRENCY_ERRORS.has(event.errorCode) ? event.errorCode : undefined;
          const statement = statements.pop()!;
          const describe = () => `query. ${describeQuery(event, database)}`;
          for (const sql of statements) own({ sql, describe });
          const single = isSingleStatement({ sql: Buffer.from(statement, 'latin1'), statusVars: event.statusVars },
            (id) => this.charsetOf(id));
          pieces.push({
            sql: statement, describe, ...(infile ? { infile } : {}), ...(expectError ? { expectError } : {}),
            ...(single ? {} : { confined: true }),
          });
          session.rows = false;
          session.ownParsing = false;
          // The SQL thread forgets an INSERT_ID its statement did not use; a later statement would take it here.
          if (insertId) own({ sql: 'SET INSERT_ID=0', describe: () => 'session setup' });
          insertId = false;
          break;
        }
        case 'begin_load_query':
          loadFiles.set(event.fileId, [event.data]);
          break;
        case 'append_block':
          loadFiles.get(event.fileId)?.push(event.data);
          break;
        case 'delete_file':
          loadFiles.delete(event.fileId);
          break;
        case 'legacy_load':
          throw new ApplyError(1593, `${LEGACY_LOAD_EVENTS[event.typeCode]}_log_event (type ${event.typeCode}) at source ` +
            `position ${group.start.sourceLogFile}:${group.start.sourceLogPos}: LOAD DATA as servers before 5.0 logged ` +
            'it cannot be applied; load that data on the target and skip the event group with the skip counter', group, false);
        default: {
          const context = contextEventSql(event, (id) => this.collation(id));
          if (context) own({ sql: context, describe: () => `${event.type} event` });
          if (event.type === 'intvar' && event.kind === 'insert_id') insertId = true;
        }
      }
    }
    await flushRows();
  }

  /** The file of a LOAD DATA statement, from the blocks its group brought ahead of it. */
  private loadFile(event: ExecuteLoadQueryEvent, header: DecodedEvent['header'], files: Map<number, Buffer[]>,
    group: TransactionGroup): { name: string; data: Buffer } {
    const blocks = files.get(event.fileId);
    if (!blocks) {
      throw new ApplyError(1593, `Execute_load_query_log_event at source position ${group.start.sourceLogFile}:` +
        `${group.start.sourceLogPos} reads file ${event.fileId}, which no Begin_load_query event of its transaction ` +
        'brought: the relay log lacks the start of this LOAD DATA', group, false);
    }
    files.delete(event.fileId);
    return { name: loadDataFileName(event, header), data: Buffer.concat(blocks) };
  }

  /**
   * Sends pieces in multi-statement round trips (`stepwise`: one per round trip) and checks the rows each
   * statement touched. Stepwise, a statement failing with an error of slave_skip_errors is skipped, with the
   * rest of its rows event, and the transaction goes on.
   */
  private async send(pieces: Piece[], groups: TransactionGroup[], stepwise = false): Promise<void> {
    const conn = this.connection();
    const link = this.link!;
    let at = 0;
    // A statement expected to fail goes alone: its error must not stop the statements after it, and it must be
    // the one that failed. So does a confined one.
    const alone = (piece: Piece) => stepwise || piece.expectError !== undefined || piece.confined === true
      || piece.afterChecks === true;
    let skippedRows: RowsEvent | undefined;
    while (at < pieces.length) {
      let end = at;
      let bytes = 0;
      do {
        bytes += pieces[end]!.sql.length + SEPARATOR.length;
        end++;
      } while (end < pieces.length && !alone(pieces[end - 1]!) && !alone(pieces[end]!) &&
        bytes + pieces[end]!.sql.length < this.maxBytes);
      const chunk = pieces.slice(at, end);
      at = end;
      if (skippedRows && chunk[0]!.rows?.event === skippedRows) continue;
      skippedRows = undefined;
      const expected = chunk[0]!.expectError;
      const infiles = new Map(chunk.flatMap((p) => (p.infile ? [[p.infile.name, p.infile.data] as const] : [])));
      let results: unknown;
      let failure: { errno: number; message: string } | undefined;
      const confined = chunk[0]!.confined === true;
      try {
        if (confined) await link.roundTrip(setMultiStatements(this.core(), false));
        try {
          [results] = await conn.query({
            sql: chunk.map((p) => p.sql).join(SEPARATOR),
            // The target reads only the files of this round trip's LOAD DATA statements, whatever a statement asks.
            infileStreamFactory: (name: string) => {
              const data = infiles.get(name);
              return data ? Readable.from([data]) : new Readable({ read() { this.destroy(new Error(`no LOAD DATA file ${name}`)); } });
            },
          });
        } finally {
          if (confined) await link.roundTrip(setMultiStatements(this.core(), true));
        }
      } catch (err) {
        const e = err as { errno?: number; sqlMessage?: string; message?: string };
        const lost = mysqlFailure(err, 'CR_SERVER_LOST');
        if (typeof e.errno !== 'number' || lost.sqlState === undefined) {
          // A client-side failure (lost connection): retry material.
          throw new ApplyError(lost.errno, `Lost connection to the target: ${lost.message}`, groups[0]!, true);
        }
        if (expected !== undefined) {
          if (e.errno !== expected) throw inconsistentError(expected, e, chunk[0]!, groups[0]!);
          continue;
        }
        failure = { errno: e.errno, message: e.sqlMessage ?? '' };
      }
      if (!failure) {
        if (expected !== undefined) throw inconsistentError(expected, {}, chunk[0]!, groups[0]!);
        const list = chunk.length === 1 ? [results] : results as unknown[];
        const missed = chunk.findIndex((piece, i) => piece.expectRows !== undefined &&
          (list[i] as ResultSetHeader).affectedRows !== piece.expectRows);
        if (missed < 0) continue;
        const table = chunk[missed]!.rows?.event.tableMap.table ?? '';
        failure = { errno: 1032, message: `Can't find record in '${table}'` };
      }
      if (stepwise && this.skips(failure.errno)) {
        this.options.logger.warn({ errno: failure.errno, event: chunk[0]!.describe() },
          'statement skipped by replicaSkipErrors (slave_skip_errors)');
        skippedRows = chunk[0]!.rows?.event;
        continue;
      }
      throw new ApplyError(failure.errno, stepwise ? errorMessage(chunk[0]!, failure, groups[0]!)
        : `Error '${failure.message}'`, groups[0]!, TRANSIENT.has(failure.errno));
    }
  }

  private skips(errno: number): boolean {
    const skip = this.options.skipErrors;
    return skip !== undefined && !TRANSIENT.has(errno) && (skip === 'all' || skip.has(errno));
  }

  /** Table definitions are reloaded after DDL that the channel did not apply itself (e.g. RESET). */
  invalidateTables(): void {
    this.tables.invalidate();
  }
}

/** A failure to reach the target, in MySQL's errno, naming the target as the operator configured it. */
function targetError(err: unknown, target: ConnectionOptions): ReplicationError {
  const failure = mysqlFailure(err, 'CR_CONN_HOST_ERROR');
  const where = target.socketPath ?? `${target.host ?? 'localhost'}:${target.port ?? 3306}`;
  return new ReplicationError(failure, `cannot connect to the target ${where} as '${target.user ?? ''}': ` +
    failure.message, { cause: err });
}

function inconsistentError(expected: number, actual: { errno?: number; sqlMessage?: string }, piece: Piece,
  group: TransactionGroup): ApplyError {
  return new ApplyError(ER_INCONSISTENT_ERROR, `Query caused different errors on master and slave. Error on master: ` +
    `error code=${expected}; Error on slave: actual message='${actual.sqlMessage ?? 'no error'}', error code=` +
    `${actual.errno ?? 0}, on ${piece.describe()}`, group, false);
}

// The storage engine's error behind a target errno, as the servers' row event errors name it.
const HANDLER_ERRORS: Record<number, string> = {
  1062: 'HA_ERR_FOUND_DUPP_KEY', 1032: 'HA_ERR_KEY_NOT_FOUND', 1205: 'HA_ERR_LOCK_WAIT_TIMEOUT',
  1213: 'HA_ERR_LOCK_DEADLOCK', 1451: 'HA_ERR_ROW_IS_REFERENCED', 1452: 'HA_ERR_NO_REFERENCED_ROW',
};

/** Last_SQL_Error for a statement that failed on the target, worded as a MariaDB replica words it. */
function errorMessage(piece: Piece, failure: { errno: number; message: string }, group: TransactionGroup): string {
  if (!piece.rows) return `Error '${failure.message}' on ${piece.describe()}`;
  const handler = HANDLER_ERRORS[failure.errno];
  return `Could not execute ${piece.describe()}; ${failure.message}, Error_code: ${failure.errno};` +
    `${handler ? ` handler error ${handler};` : ''} the event's master log ${group.start.sourceLogFile}, ` +
    `end_log_pos ${piece.rows.header.logPos}`;
}

function describeRows({ header, event }: DecodedEvent & { event: RowsEvent }): string {
  const name = eventTypeName(header.typeCode);
  return `${name} event on table ${event.tableMap.database}.${event.tableMap.table}`;
}

function describeQuery(event: QueryEvent | ExecuteLoadQueryEvent, database: string): string {
  const text = event.sql.toString('utf8');
  return `Default database: '${database}'. Query: '${text.length > 1000 ? text.slice(0, 1000) + '...' : text}'`;
}

/**
 * What a MariaDB target accepts: its collation and character set names (the UCA 14.0.0 collations of 10.10+
 * are listed only in COLLATION_CHARACTER_SET_APPLICABILITY), and whether it has VECTOR (11.7+).
 */
async function mariadbSyntax(conn: Connection, version: string, collations: { name: string; charset: string }[]):
  Promise<TargetSyntax> {
  // information_schema lists the UCA 14.0.0 collations of 10.10+ once more without a character set.
  const names = new Set(collations.filter((c) => c.name && c.charset).map((c) => c.name.toLowerCase()));
  try {
    const [full] = await conn.query('SELECT FULL_COLLATION_NAME AS name FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY') as
      [{ name: string }[], unknown];
    for (const c of full) if (c.name) names.add(c.name.toLowerCase());
  } catch (err) {
    // Before 10.10 the table has no FULL_COLLATION_NAME, and COLLATIONS names every collation.
    if ((err as { errno?: number }).errno !== 1054) throw err;
  }
  const charsets = new Set(collations.filter((c) => c.charset).map((c) => c.charset.toLowerCase()));
  // MariaDB 10.6+ lists utf8mb3 and takes utf8 (old_mode UTF8_IS_UTF8MB3, the default) as its alias.
  if (charsets.has('utf8mb3')) {
    charsets.add('utf8');
    for (const name of [...names]) if (name.startsWith('utf8mb3_')) names.add(`utf8_${name.slice('utf8mb3_'.length)}`);
  }
  return { collations: names, charsets, vector: versionAtLeast(version, [11, 7]) };
}
