// Applies whole source transactions to the target through one connection per channel: decides what is applied
// together (segments of a batch, one target transaction each with the position row; a failed batch replayed
// group by group, then statement by statement), renders ahead (prepare), runs the DDL marker protocol described
// in PositionTable, and owns the connection's life (connect, reopen, close). What the target is sent comes from
// render.ts (pure); the target session (target-session.ts) sends it and classifies what the target answers.
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import type { Logger } from 'pino';
import { mysqlFailure, ReplicationError } from '../errors.js';
import type { ChannelPosition, PositionRow, PositionTable } from '../info/position-table.js';
import type { Collation } from './statement-context.js';
import { mysqlCollationName, targetCollation, type MysqlDdlMode, type TargetSyntax } from './mysql-ddl.js';
import { serverFlavor, versionAtLeast } from '../protocol/dump.js';
import {
  ApplyError, keepsTables, OWN_PARSING, renderDdl, renderTransaction, ROW_SESSION, segments, SEPARATOR, type Piece, type RenderOptions,
  type TableLookup, type TransactionGroup,
} from './render.js';
import { TableDefinitions } from './table-definitions.js';
import { sendAsWritten } from './sql-text.js';
import { groupFailure, TargetSession } from './target-session.js';
import { WatchedConnection } from './target-watchdog.js';

// What the SQL stage (and the grouper) know the applier by.
export { ApplyError, keepsTables, type TransactionGroup } from './render.js';

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

/** Thrown by the lookup of Applier.prepare for a table it has no definition of yet. */
const NOT_CACHED = new Error('table definition not cached');

// Errors that mean a DDL already took effect, when re-run after a crash that cut it off from its position.
const DDL_ALREADY_DONE = new Set([1007, 1008, 1050, 1051, 1054, 1060, 1061, 1091, 1146, 1049, 1025]);

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
  private session: TargetSession | undefined;
  /** The connection while connect() sets it up, before it becomes the session: a stop must reach it too. */
  private connecting: WatchedConnection | undefined;
  private readonly tables: TableDefinitions;
  private maxBytes: number;
  private collations = new Map<number, Collation>();
  /** The target is MariaDB: DDL from statements runs as its replicas run it (see idempotentDdl). */
  private idempotentDdl = false;
  /** What a MariaDB target accepts, for statements of a MySQL source; undefined for a MySQL target. */
  private targetSyntax: TargetSyntax | undefined;
  /** The server version of the source whose events are applied (its Format_description event). */
  sourceVersion: string | undefined;
  /** The target's lower_case_table_names is not 0: database names compare without regard to letter case. */
  namesIgnoreCase = false;

  constructor(private readonly options: ApplierOptions) {
    this.tables = new TableDefinitions((sql) => this.connection().query(sql));
    this.maxBytes = options.maxRoundTripBytes ?? 4 << 20;
  }

  private connection(): TargetSession {
    if (!this.session) throw new Error('applier is not open');
    return this.session;
  }

  /** How long a round trip may hear nothing before it is checked, and a stop waits for one. */
  private get checkIntervalMs(): number {
    return (this.options.netTimeout ?? 60) * 500;
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
   * tables), and reads the channel's position row from the target: what the target has committed, from where
   * a stage goes on (also after a lost connection, whose last COMMIT may or may not have taken effect).
   */
  async open(): Promise<PositionRow | undefined> {
    if (this.session) {
      try {
        await this.session.conn.query(`ROLLBACK${SEPARATOR}${OWN_PARSING}`);
      } catch {
        this.destroy();
      }
    }
    if (!this.session) {
      await this.connect().catch((err: unknown) => {
        this.destroy();
        throw targetError(err, this.options.target);
      });
    }
    // The target's tables may have changed meanwhile (columns, keys, triggers added by hand while stopped).
    this.tables.invalidate();
    const conn = this.connection().conn;
    await this.options.onOpen?.(conn);
    await this.options.positions.ensure(conn);
    return this.options.positions.read(conn);
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
    this.connecting = link;
    try {
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
    } catch (err) {
      raw.destroy();
      throw err;
    } finally {
      this.connecting = undefined;
    }
    this.session = new TargetSession(link, { logger: this.options.logger, skipErrors: this.options.skipErrors,
      maxBytes: this.maxBytes });
  }

  /** How groups are rendered now: the target's collations and flavor, the source's flavor, tables by `table`. */
  private renderOptions(table: TableLookup, pause?: () => Promise<void>): RenderOptions {
    const mode = this.options.mysqlDdl ?? 'map';
    const target = this.targetSyntax;
    const mysqlSource = mode === 'asis' || !target || this.sourceVersion === undefined ||
      serverFlavor(this.sourceVersion) === 'mariadb' ? undefined : {
        mode, target,
        onMapped: (changes: string[]) => this.options.logger.debug({ changes }, 'MySQL statement mapped for MariaDB'),
      };
    return {
      table, collation: (id) => this.collation(id), idempotentDdl: this.idempotentDdl, maxBytes: this.maxBytes,
      positionSql: (position) => this.options.positions.writeSql(position),
      ...(mysqlSource ? { mysqlSource } : {}), ...(pause ? { pause } : {}),
    };
  }

  async close(): Promise<void> {
    const link = this.session?.link ?? this.connecting;
    this.session = undefined;
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
      const link = this.session?.link ?? this.connecting;
      if (!link?.waiting) return;
      this.options.logger.warn('stopping: a round trip to the target has not ended; dropping the connection');
      link.drop('ECONNABORTED', 'stopped while a round trip to the target was in flight');
    }, this.checkIntervalMs);
    return () => clearTimeout(timer);
  }

  /** Forgets every temporary table of the source's sessions, which live on this connection, by replacing it. */
  async dropTemporaryTables(): Promise<void> {
    await this.close();
    await this.connect();
    await this.options.onOpen?.(this.connection().conn);
  }

  /** Drops a connection that no longer works. */
  private destroy(): void {
    this.session?.conn.destroy();
    this.session = undefined;
  }

  /** Records a position that no transaction carries (events between transactions: Rotate, checkpoints ...). */
  async savePosition(position: ChannelPosition): Promise<void> {
    await this.connection().query(this.options.positions.writeSql(position));
  }

  /** Forgets the channel's position on the target (RESET SLAVE). */
  async deletePosition(): Promise<void> {
    await this.connection().query(this.options.positions.deleteSql());
  }

  /**
   * Applies consecutive groups and records `groups.at(-1).end`. Transactions are batched into one target
   * transaction; on failure the batch is rolled back and replayed one group at a time, so that everything
   * before the failing group lands and the error names that group. Resolves with the position committed last
   * (undefined for no groups). Rejects with an ApplyError naming the first group not known to be committed:
   * the groups before it are.
   */
  async apply(groups: TransactionGroup[], ddlMaybeDone?: (group: TransactionGroup) => boolean,
    prepared?: PreparedBatch): Promise<ChannelPosition | undefined> {
    let committed: ChannelPosition | undefined;
    await this.readTables(groups);
    for (const segment of segments(groups, this.changesNonTransactional)) {
      committed = 'ddl' in segment
        ? await this.applyDdl(segment.ddl, ddlMaybeDone?.(segment.ddl) ?? false)
        : await this.applyTransactions(segment.transactions, this.preparedPieces(prepared, segment.transactions));
    }
    return committed;
  }

  /** Reads the definitions of the tables the groups' rows events change, for changesNonTransactional. */
  private async readTables(groups: TransactionGroup[]): Promise<void> {
    for (const group of groups) {
      for (const { database, table } of changedTables(group)) {
        if (!this.tables.known(database, table).known) await this.tables.get(database, table);
      }
    }
  }

  /**
   * The group changes rows of a table whose engine does not roll back (MyISAM, Aria): it ends its target
   * transaction, so that a failure after it never replays it (which would repeat its changes there). Statements
   * are not looked into. Only definitions already read count (see readTables).
   */
  private readonly changesNonTransactional = (group: TransactionGroup): boolean => {
    for (const { database, table } of changedTables(group)) {
      const found = this.tables.known(database, table);
      if (found.known && found.table && !found.table.transactional) return true;
    }
    return false;
  };

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
    const options = this.renderOptions(lookup, pause);
    for (const segment of segments(groups, this.changesNonTransactional)) {
      if ('ddl' in segment) break;
      let pieces: Piece[];
      try {
        pieces = await renderTransaction(segment.transactions, false, options);
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
   * names it, as the servers' does) and lets slave_skip_errors skip just that event. Resolves with the position
   * committed: the last group's end.
   */
  private async applyTransactions(groups: TransactionGroup[], prepared?: Piece[]): Promise<ChannelPosition> {
    try {
      return await this.runTransaction(groups, false, prepared);
    } catch (err) {
      if (!(err instanceof ApplyError) || err.transient) throw err;
      if (groups.length === 1) return this.runTransaction(groups, true);
      for (const group of groups) await this.applyTransactions([group]);
      return groups.at(-1)!.end;
    }
  }

  /** One target transaction; `prepared`: the pieces Applier.prepare rendered for exactly these groups, not stepwise. */
  private async runTransaction(groups: TransactionGroup[], stepwise: boolean, prepared?: Piece[]): Promise<ChannelPosition> {
    const first = groups[0]!;
    try {
      const pieces = prepared ?? await renderTransaction(groups, stepwise, this.renderOptions((d, t) => this.tables.get(d, t)));
      await this.connection().commit(pieces, first, stepwise);
    } catch (err) {
      throw groupFailure(err, first);
    }
    return groups.at(-1)!.end;
  }

  private async applyDdl(group: TransactionGroup, maybeDone: boolean): Promise<ChannelPosition> {
    const positions = this.options.positions;
    const end = { file: group.end.sourceLogFile, pos: group.end.sourceLogPos };
    try {
      const pieces = await renderDdl(group, this.renderOptions((d, t) => this.tables.get(d, t)));
      // The marker goes in with the position before the DDL, which is where a restart would begin.
      await this.connection().query(positions.writeSql(group.start, end));
      try {
        await this.connection().send(pieces, group, true);
      } catch (err) {
        if (!(maybeDone && err instanceof ApplyError && DDL_ALREADY_DONE.has(err.errno))) throw err;
        this.options.logger.warn({ errno: err.errno, sourcePos: end },
          'DDL interrupted by a crash had already taken effect; continuing');
      }
      this.tables.invalidate();
      await this.connection().conn.query(`${ROW_SESSION}${SEPARATOR}${positions.writeSql(group.end)}`);
    } catch (err) {
      throw groupFailure(err, group);
    }
    return group.end;
  }

  /** Table definitions are reloaded after DDL that the channel did not apply itself (e.g. RESET). */
  invalidateTables(): void {
    this.tables.invalidate();
  }
}

/** The tables a group's rows events change: each run of events on one Table_map once. */
function* changedTables(group: TransactionGroup): Generator<{ database: string; table: string }> {
  let last: unknown;
  for (const { event } of group.events) {
    if (event.type !== 'rows' || event.tableMap === last) continue;
    last = event.tableMap;
    yield event.tableMap;
  }
}

/** A failure to reach the target, in MySQL's errno, naming the target as the operator configured it. */
function targetError(err: unknown, target: ConnectionOptions): ReplicationError {
  const failure = mysqlFailure(err, 'CR_CONN_HOST_ERROR');
  const where = target.socketPath ?? `${target.host ?? 'localhost'}:${target.port ?? 3306}`;
  return new ReplicationError(failure, `cannot connect to the target ${where} as '${target.user ?? ''}': ` +
    failure.message, { cause: err });
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
