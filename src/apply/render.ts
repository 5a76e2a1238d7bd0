// What the target is sent for event groups: the pieces of SQL of a target transaction (session setup, the
// groups' statements and row changes, the position row, COMMIT) or of a DDL. Pure: table definitions,
// collations and the position row's SQL come in as functions, and nothing is sent; the target session
// (target-session.ts) sends the pieces, the Applier decides what is rendered when.
import { EventType, type DecodedEvent, type ExecuteLoadQueryEvent, type QueryEvent, type RowsEvent } from '../binlog/events.js';
import { eventTypeName } from '../binlog/event-names.js';
import { ErrorCodes } from '../errors.js';
import type { ChannelPosition } from '../info/position-table.js';
import { isSingleStatement, statementParse } from '../filter/statement-text.js';
import { mapMysqlStatement, MysqlStatementError, type TargetSyntax } from './mysql-ddl.js';
import { RowMappingError, rowStatements, type RowStatement } from './row-sql.js';
import { contextEventSql, loadDataFileName, queryStatements, type CollationLookup } from './statement-context.js';
import { isTemporaryTableDdl } from './statement-kind.js';
import type { TargetTable } from './table-definitions.js';

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
 * A group that cannot be applied, or failed on the target: the errno and message Last_SQL_Errno and
 * Last_SQL_Error show. `transient`: a retry on a new connection may cure it (TRANSIENT in target-session.ts).
 */
export class ApplyError extends Error {
  constructor(
    readonly errno: number,
    message: string,
    readonly group: TransactionGroup,
    readonly transient: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface Piece {
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

/** Finds a table's definition (undefined: the target has no such table). */
export type TableLookup = (database: string, table: string) => Promise<TargetTable | undefined> | TargetTable | undefined;

export interface RenderOptions {
  table: TableLookup;
  collation: CollationLookup;
  /** The target is MariaDB: DDL from statements runs as its replicas run it (statement-kind.ts, idempotentDdl). */
  idempotentDdl: boolean;
  /** Upper bound of one statement's text, and of one round trip's. */
  maxBytes: number;
  /** The statement that writes the channel's position row. */
  positionSql: (position: ChannelPosition) => string;
  /**
   * The events are a MySQL source's and the target is MariaDB: statements are mapped, or refused where they would
   * need it (engine option mysqlDdl); `onMapped` hears what a mapping changed.
   */
  mysqlSource?: { mode: 'map' | 'refuse'; target: TargetSyntax; onMapped?: (changes: string[]) => void };
  /** Called after each group, for long renderings to give the event loop turns. */
  pause?: () => Promise<void>;
}

// Row events are applied the way the servers apply them: no strict-mode rejection of values the source stored
// (zero dates, ENUM index 0), explicit zeros kept in AUTO_INCREMENT columns, TIMESTAMP in UTC.
export const ROW_SESSION = "SET @@session.sql_mode='NO_AUTO_VALUE_ON_ZERO', @@session.time_zone='+00:00', " +
  '@@session.character_set_client=utf8mb4, @@session.collation_connection=utf8mb4_general_ci, ' +
  '@@session.unique_checks=1, @@session.foreign_key_checks=1, @@session.autocommit=1';

// What the applier's own statements are read under: a source's statement leaves the session in its character
// set, where a name's bytes could mean something else (see quoteIdentifier). Pure ASCII reads the same in every
// client character set, so only statements holding other bytes need it (ROW_SESSION sets it too).
export const OWN_PARSING = 'SET @@session.character_set_client=utf8mb4, @@session.character_set_results=utf8mb4';

const isAscii = (sql: string) => !/[^\x00-\x7f]/.test(sql);

// Between the statements of a round trip. The line break ends a `-- ` or `#` comment a statement may end with,
// which would otherwise swallow the semicolon.
export const SEPARATOR = '\n;\n';

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

const ROW_BOOKKEEPING = new Set<DecodedEvent['event']['type']>(['gtid', 'table_map', 'annotate_rows', 'rows_query']);
const ROW_EVENT_TYPES = new Set<DecodedEvent['event']['type']>(['rows', ...ROW_BOOKKEEPING]);

// Source errors that say nothing about the statement's outcome (deadlock, lock wait timeout, XA rollback after
// deadlock): the replica runs it and expects success.
const CONCURRENCY_ERRORS = new Set([1205, 1213, 1614]);
// Source errors that cut a statement off at an unknown point (killed, interrupted, lost connection, shutdown):
// the SQL thread refuses to guess what it did.
const UNEXPECTED_ERRORS = new Set([1158, 1160, 1317, 1969, 1184, 1053, 1927]);
const ER_ERROR_ON_MASTER = 3001;

// Events of LOAD DATA as pre-5.0 sources logged it.
const LEGACY_LOAD_EVENTS: Record<number, string> = {
  [EventType.LOAD]: 'Load', [EventType.CREATE_FILE]: 'Create_file', [EventType.EXEC_LOAD]: 'Exec_load',
  [EventType.NEW_LOAD]: 'New_load',
};

export type Segment = { ddl: TransactionGroup } | { transactions: TransactionGroup[] };

/**
 * The target transactions and DDL a batch is applied as: a DDL group alone, and consecutive transactions
 * together, except that a group with CREATE or DROP of a temporary table, or one `endsTransaction` names (rows
 * changed in a table whose engine does not roll back), ends its transaction: ROLLBACK does not undo those, so a
 * batch replayed group by group after a failure must not hold one before the failing group.
 */
export function segments(groups: TransactionGroup[], endsTransaction?: (group: TransactionGroup) => boolean): Segment[] {
  const out: Segment[] = [];
  let batch: TransactionGroup[] = [];
  for (const group of groups) {
    if (group.kind === 'ddl') {
      if (batch.length > 0) out.push({ transactions: batch });
      batch = [];
      out.push({ ddl: group });
    } else {
      batch.push(group);
      if (group.events.some(({ event }) => event.type === 'query' && isTemporaryTableDdl(event.sql)) ||
        endsTransaction?.(group)) {
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

/**
 * The SQL of one target transaction: its groups, the position row after the last and COMMIT. `stepwise`: one
 * statement per row, so that a failing row is found.
 */
export async function renderTransaction(groups: TransactionGroup[], stepwise: boolean, options: RenderOptions):
  Promise<Piece[]> {
  const writer = new PieceWriter({ rows: true, foreignKeyChecks: 1, ownParsing: true }, stepwise, options);
  const { pieces, session } = writer;
  pieces.push({ sql: ROW_SESSION, describe: () => 'session setup' }, { sql: 'START TRANSACTION', describe: () => 'START TRANSACTION' });
  for (const group of groups) {
    // A group the source rolled back (kept in its binlog for its non-transactional changes) is undone to where
    // it began: a ROLLBACK would also undo the groups before it in this target transaction. Its savepoint
    // encloses exactly its own statements, so no run of rows crosses it.
    if (group.rollback) {
      await writer.flushRows();
      pieces.push({ sql: `SAVEPOINT ${GROUP_SAVEPOINT}`, describe: () => 'SAVEPOINT' });
    }
    await writer.group(group);
    if (group.rollback || stepwise) await writer.flushRows();
    if (group.rollback) pieces.push({ sql: `ROLLBACK TO SAVEPOINT ${GROUP_SAVEPOINT}`, describe: () => 'ROLLBACK' });
    await options.pause?.();
  }
  await writer.flushRows();
  const last = groups.at(-1)!;
  // Statements leave the session of their source behind (sql_mode, character set ...).
  if (!session.rows) pieces.push({ sql: ROW_SESSION, describe: () => 'session setup' });
  pieces.push({ sql: options.positionSql(last.end), describe: () => 'position update' });
  pieces.push({ sql: 'COMMIT', describe: () => 'COMMIT', afterChecks: true });
  return pieces;
}

/** The SQL of a DDL group, one statement at a time, after whatever session the statements before it left. */
export async function renderDdl(group: TransactionGroup, options: RenderOptions): Promise<Piece[]> {
  const writer = new PieceWriter({ rows: false, foreignKeyChecks: -1, ownParsing: false }, true, options);
  await writer.group(group);
  await writer.flushRows();
  return writer.pieces;
}

/**
 * Appends the pieces of groups one after the other, keeping what the session is set to and the run of rows
 * events not rendered yet: consecutive rows events of one table with the same flags, which rowStatements turns
 * into as few statements as it can, also across the groups of one target transaction. `stepwise`: one statement
 * per row, so that a failing row is found.
 */
class PieceWriter {
  readonly pieces: Piece[] = [];
  /** The run, each rows event with its group. */
  private run: RunEvent[] = [];

  constructor(readonly session: SessionState, private readonly stepwise: boolean, private readonly options: RenderOptions) {}

  /** Appends a statement the applier wrote, making sure the target reads it under utf8mb4 if it needs to. */
  private own(piece: Piece): void {
    if (!this.session.ownParsing && !isAscii(piece.sql)) {
      this.pieces.push({ sql: OWN_PARSING, describe: () => 'session setup' });
      this.session.ownParsing = true;
    }
    this.pieces.push(piece);
  }

  /** Renders the run of rows events. An error names the group of its first event. */
  async flushRows(): Promise<void> {
    const run = this.run;
    if (run.length === 0) return;
    this.run = [];
    const { group } = run[0]!;
    const map = run[0]!.event.tableMap;
    const table = await this.options.table(map.database, map.table);
    if (!table) {
      throw new ApplyError(1146, `Error executing row event: 'Table '${map.database}.${map.table}' doesn't exist'`, group, false);
    }
    let statements: RowStatement[];
    try {
      statements = this.stepwise
        ? run.flatMap((r) => rowStatements([r.event], table, 0))
        // A table whose engine does not roll back keeps each group's rows apart, so that a statement failing
        // halfway has changed rows of its own group only. (The groups before a failing one in the same target
        // transaction are applied again alone after the rollback, which repeats their changes to such a table:
        // ARCHITECTURE.md, "Batching".)
        : table.transactional ? rowStatements(run.map((r) => r.event), table, this.options.maxBytes)
          : byGroup(run).flatMap((part) => rowStatements(part.map((r) => r.event), table, this.options.maxBytes));
    } catch (err) {
      if (err instanceof RowMappingError) throw new ApplyError(err.errno, err.message, group, false);
      throw err;
    }
    const decoded = new Map(run.map((r) => [r.event, r]));
    for (const s of statements) {
      const rows = decoded.get(s.source)!;
      this.own({ sql: s.sql, expectRows: s.expectRows, rows, describe: () => describeRows(rows) });
    }
  }

  /** Appends the pieces of one group; a run of rows events at its end stays open for the next group's. */
  async group(group: TransactionGroup): Promise<void> {
    const { session, options } = this;
    let insertId = false;
    // LOAD DATA files by file id: Begin_load_query and Append_block events bring them ahead of their statement.
    const loadFiles = new Map<number, Buffer[]>();
    for (const decoded of group.events) {
      const { header, event } = decoded;
      if (event.type === 'rows') {
        if (!session.rows) {
          this.pieces.push({ sql: ROW_SESSION, describe: () => 'session setup' });
          Object.assign(session, { rows: true, foreignKeyChecks: 1, ownParsing: true });
        }
        const fk = event.flags & NO_FOREIGN_KEY_CHECKS_F ? 0 : 1;
        const first = this.run[0]?.event;
        if (first && (first.tableId !== event.tableId || first.tableMap.table !== event.tableMap.table ||
          first.tableMap.database !== event.tableMap.database || fk !== session.foreignKeyChecks)) await this.flushRows();
        if (fk !== session.foreignKeyChecks) {
          this.own({ sql: `SET @@session.foreign_key_checks=${fk}`, describe: () => 'session setup' });
          session.foreignKeyChecks = fk;
        }
        this.run.push({ header, event, group });
        continue;
      }
      // A Table_map, an annotation or a GTID between two rows events of one table carries no SQL: the run goes
      // on, so that the rows of consecutive statements, and transactions, can go in one set (a new table id ends
      // it at the rows event).
      if (ROW_BOOKKEEPING.has(event.type)) continue;
      await this.flushRows();
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
          const mapStatement = event.type === 'query' ? mysqlStatement(event, group, database, options) : undefined;
          const statements = queryStatements(event, header, { database, collation: options.collation,
            idempotentDdl: options.idempotentDdl, ...(mapStatement ? { mapStatement } : {}) });
          const infile = event.type === 'execute_load_query' ? loadFile(event, header, loadFiles, group) : undefined;
          const expectError = event.errorCode !== 0 && !CONCURRENCY_ERRORS.has(event.errorCode) ? event.errorCode : undefined;
          const statement = statements.pop()!;
          const describe = () => `query. ${describeQuery(event, database)}`;
          for (const sql of statements) this.own({ sql, describe });
          const single = isSingleStatement({ sql: Buffer.from(statement, 'latin1'), statusVars: event.statusVars },
            (id) => options.collation(id)?.charset);
          this.pieces.push({
            sql: statement, describe, ...(infile ? { infile } : {}), ...(expectError ? { expectError } : {}),
            ...(single ? {} : { confined: true }),
          });
          session.rows = false;
          session.ownParsing = false;
          // The SQL thread forgets an INSERT_ID its statement did not use; a later statement would take it here.
          if (insertId) this.own({ sql: 'SET INSERT_ID=0', describe: () => 'session setup' });
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
          const context = contextEventSql(event, options.collation);
          if (context) this.own({ sql: context, describe: () => `${event.type} event` });
          if (event.type === 'intvar' && event.kind === 'insert_id') insertId = true;
        }
      }
    }
  }
}

/** A rows event of a run, with the group it belongs to. */
type RunEvent = DecodedEvent & { event: RowsEvent; group: TransactionGroup };

/** The events of a run in parts of one group each. */
function byGroup(run: RunEvent[]): RunEvent[][] {
  const parts: RunEvent[][] = [];
  for (const r of run) {
    if (parts.at(-1)?.[0]!.group !== r.group) parts.push([]);
    parts.at(-1)!.push(r);
  }
  return parts;
}

/** The file of a LOAD DATA statement, from the blocks its group brought ahead of it. */
function loadFile(event: ExecuteLoadQueryEvent, header: DecodedEvent['header'], files: Map<number, Buffer[]>,
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

/** Maps a MySQL source's statement for a MariaDB target, per mysqlDdl; undefined where nothing is to map. */
function mysqlStatement(event: QueryEvent, group: TransactionGroup, database: string, options: RenderOptions):
  ((text: string) => string) | undefined {
  const mysql = options.mysqlSource;
  if (!mysql) return undefined;
  const { mode, target } = mysql;
  return (bytes) => {
    const { text, options: parse } = statementParse(event, (id) => options.collation(id)?.charset);
    const refuse = (why: string, what: string) => new ApplyError(ErrorCodes.ER_NOT_SUPPORTED_YET, `Statement of a MySQL ` +
      `source ${why} (${what}); ${mode === 'map' ? 'it has no MariaDB equivalent' : "mysqlDdl is 'refuse'"}: apply ` +
      "it by hand and skip it with the skip counter, or set the engine option mysqlDdl to 'asis' to send it as " +
      `written${mode === 'map' ? '' : " or 'map' to map it"}. ${describeQuery(event, database)}`, group, false);
    try {
      const mapped = mapMysqlStatement(bytes, text, parse, target);
      if (mapped.changes.length > 0 && mode === 'refuse') throw refuse('needs mapping for MariaDB', mapped.changes.join('; '));
      if (mapped.changes.length > 0) mysql.onMapped?.(mapped.changes);
      return mapped.sql;
    } catch (err) {
      if (err instanceof MysqlStatementError) throw refuse('cannot run on MariaDB', err.message);
      throw err;
    }
  };
}

function describeRows({ header, event }: DecodedEvent & { event: RowsEvent }): string {
  const name = eventTypeName(header.typeCode);
  return `${name} event on table ${event.tableMap.database}.${event.tableMap.table}`;
}

function describeQuery(event: QueryEvent | ExecuteLoadQueryEvent, database: string): string {
  const text = event.sql.toString('utf8');
  return `Default database: '${database}'. Query: '${text.length > 1000 ? text.slice(0, 1000) + '...' : text}'`;
}
