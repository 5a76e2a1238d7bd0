// How a Query event runs on the target: the session state it carries, as the SET statements that recreate it
// before the statement (what `mariadb-binlog` prints before each statement), and the statement as the SQL thread
// runs it. Pure.
import type { BinlogEvent, EventHeader, ExecuteLoadQueryEvent, QueryEvent } from '../binlog/events.js';
import { quoteIdentifier, quoteString } from './sql-text.js';
import { idempotentDdl, runsWithoutDefaultDatabase } from './statement-kind.js';

// Q_FLAGS2 bits (the OPTION_* bits of the source session).
const OPTION_AUTO_IS_NULL = 1 << 14;
// MariaDB's own bits; MySQL never sets them, so their absence means the servers' defaults.
const OPTION_NO_CHECK_CONSTRAINT_CHECKS = 1 << 15;
const OPTION_EXPLICIT_DEF_TIMESTAMP = 1 << 24;
const OPTION_IF_EXISTS = 1 << 28;
const OPTION_INSERT_HISTORY = 1 << 30;
const OPTION_NO_FOREIGN_KEY_CHECKS = 1 << 26;
const OPTION_RELAXED_UNIQUE_CHECKS = 1 << 27;

export interface Collation {
  name: string;
  charset: string;
}

/** Collations by id, as the target knows them (information_schema.COLLATIONS). */
export type CollationLookup = (id: number) => Collation | undefined;

/**
 * SET assignments for a Query event's status variables, timestamp and session. The event names collations by
 * id; character_set_client takes a character set, so ids go through the target's collation table.
 */
export function querySessionSql(event: Pick<QueryEvent, 'threadId' | 'statusVars'>,
  header: Pick<EventHeader, 'timestamp' | 'serverId'>, collation: CollationLookup): string {
  const { timestamp } = header;
  const charsetOf = (id: number) => collation(id)?.charset ?? String(id);
  const collationOf = (id: number) => collation(id)?.name ?? String(id);
  const vars = event.statusVars;
  const micro = vars.microseconds ?? vars.hrnow;
  // The servers key temporary tables by (server_id, pseudo_thread_id), which the SQL thread sets per event:
  // one connection then keeps the temporary tables of every source session apart. CONNECTION_ID() reads the
  // pseudo thread id too.
  const set = [`TIMESTAMP=${micro === undefined ? timestamp : `${timestamp}.${String(micro).padStart(6, '0')}`}`,
    `@@session.pseudo_thread_id=${event.threadId}`, `@@session.server_id=${header.serverId}`];
  if (vars.flags2 !== undefined) {
    const f = vars.flags2;
    // Not autocommit: the SQL thread copies that bit without committing, but SET autocommit=1 after 0 commits
    // the open transaction, and the applier's transactions are bounded by the events, not by the source session.
    set.push(`@@session.foreign_key_checks=${f & OPTION_NO_FOREIGN_KEY_CHECKS ? 0 : 1}`,
      `@@session.sql_auto_is_null=${f & OPTION_AUTO_IS_NULL ? 1 : 0}`,
      `@@session.unique_checks=${f & OPTION_RELAXED_UNIQUE_CHECKS ? 0 : 1}`);
    if (vars.explicitDefaultsForTimestamp === undefined) {
      set.push(`@@session.explicit_defaults_for_timestamp=${f & OPTION_EXPLICIT_DEF_TIMESTAMP ? 1 : 0}`);
    }
  }
  if (vars.explicitDefaultsForTimestamp !== undefined) {
    set.push(`@@session.explicit_defaults_for_timestamp=${vars.explicitDefaultsForTimestamp ? 1 : 0}`);
  }
  if (vars.sqlMode !== undefined) set.push(`@@session.sql_mode=${vars.sqlMode}`);
  // Sources write these only when they differ from 1; absent means 1, not the target session's value.
  set.push(`@@session.auto_increment_increment=${vars.autoIncrementIncrement ?? 1}`,
    `@@session.auto_increment_offset=${vars.autoIncrementOffset ?? 1}`);
  if (vars.charset) {
    set.push(`@@session.character_set_client=${charsetOf(vars.charset.client)}`,
      `@@session.collation_connection=${collationOf(vars.charset.connection)}`,
      `@@session.collation_server=${collationOf(vars.charset.server)}`);
  }
  set.push(`@@session.time_zone=${vars.timeZone === undefined ? '@@global.time_zone' : quoteString(vars.timeZone, '_utf8mb4')}`);
  set.push(`@@session.lc_time_names=${vars.lcTimeNamesNumber ?? 0}`);
  if (vars.charsetDatabaseNumber !== undefined) {
    set.push(`@@session.collation_database=${collationOf(vars.charsetDatabaseNumber)}`);
  }
  let text = `SET ${set.join(', ')}`;
  if (vars.flags2 !== undefined) {
    // Variables only MariaDB has, in executable comments that a MySQL target skips.
    const f = vars.flags2;
    text += ` /*M!100201 , @@session.check_constraint_checks=${f & OPTION_NO_CHECK_CONSTRAINT_CHECKS ? 0 : 1} */` +
      ` /*M!100502 , @@session.sql_if_exists=${f & OPTION_IF_EXISTS ? 1 : 0} */` +
      ` /*M!101100 , @@session.system_versioning_insert_history=${f & OPTION_INSERT_HISTORY ? 1 : 0} */`;
  }
  return text;
}

/**
 * The statement to run for an IntVar, Rand or User_var event, which set context for the next Query event. A
 * string user variable keeps its character set and collation when `collation` knows them.
 */
export function contextEventSql(event: BinlogEvent, collation: CollationLookup = () => undefined): string | undefined {
  switch (event.type) {
    case 'intvar':
      if (event.kind === 'insert_id') return `SET INSERT_ID=${event.value}`;
      if (event.kind === 'last_insert_id') return `SET LAST_INSERT_ID=${event.value}`;
      return undefined;
    case 'rand':
      return `SET @@RAND_SEED1=${event.seed1}, @@RAND_SEED2=${event.seed2}`;
    case 'user_var': {
      const name = '@' + quoteIdentifier(event.name);
      if (event.isNull || event.decoded === null) return `SET ${name}:=NULL`;
      if (typeof event.decoded === 'number') {
        // A REAL variable must stay a double: a plain literal like 0.1 would make it a DECIMAL.
        const text = String(event.decoded);
        return `SET ${name}:=${/e/i.test(text) ? text : `${text}e0`}`;
      }
      if (typeof event.decoded === 'bigint') {
        const n = event.unsigned && event.decoded < 0n ? event.decoded + (1n << 64n) : event.decoded;
        return `SET ${name}:=${n}`;
      }
      // A DECIMAL, as the decoder spells it: digits, sign and point only.
      if (typeof event.decoded === 'string') return `SET ${name}:=${event.decoded}`;
      const c = collation(event.charset);
      return c
        ? `SET ${name}:=_${c.charset} X'${event.decoded.toString('hex')}' COLLATE ${quoteIdentifier(c.name)}`
        : `SET ${name}:=${quoteString(event.decoded, '_binary')}`;
    }
    default:
      return undefined;
  }
}

export interface QueryContext {
  /** The default database on the target (after replicate-rewrite-db); '' for none. */
  database: string;
  collation: CollationLookup;
  /** Run DDL as a MariaDB replica does by default (slave_ddl_exec_mode=IDEMPOTENT; see idempotentDdl). */
  idempotentDdl: boolean;
  /** The statement (a byte string) as the target accepts it: a MySQL source's mapped for a MariaDB target. */
  mapStatement?: (text: string) => string;
}

/**
 * The statements, as byte strings, that run a Query or Execute_load_query event on the target: USE of its
 * default database (first: USE resets collation_database, which the event may set), its session state, and the
 * statement.
 */
export function queryStatements(event: QueryEvent | ExecuteLoadQueryEvent,
  header: Pick<EventHeader, 'timestamp' | 'serverId'>, context: QueryContext): string[] {
  const out: string[] = [];
  if (context.database && !runsWithoutDefaultDatabase(event.sql)) out.push(`USE ${quoteIdentifier(context.database)}`);
  out.push(querySessionSql(event, header, context.collation));
  if (event.type === 'execute_load_query') {
    out.push(loadDataText(event, loadDataFileName(event, header)));
  } else {
    const written = event.sql.toString('latin1');
    const text = context.mapStatement ? context.mapStatement(written) : written;
    // As the SQL thread: a statement that failed on the source must fail the same way here, IF EXISTS would hide it.
    out.push(context.idempotentDdl && event.errorCode === 0 ? idempotentDdl(text) : text);
  }
  return out;
}

/** The name under which the applier serves a LOAD DATA file to the target (the SQL thread's SQL_LOAD-<server>-<file>). */
export function loadDataFileName(event: ExecuteLoadQueryEvent, header: Pick<EventHeader, 'serverId'>): string {
  return `SQL_LOAD-${header.serverId}-${event.fileId}.data`;
}

/**
 * The LOAD DATA statement reading `file` from the client, spliced in where the SQL thread splices its own copy of
 * the file. LOCAL lets the target read a file that lives here; it also makes the target skip duplicate keys when
 * the statement says neither IGNORE nor REPLACE, where the SQL thread would fail. Sources log LOCAL loads as
 * IGNORE, so only a load of a file on the source's own disk can differ, and only if the replica has diverged.
 */
function loadDataText(event: ExecuteLoadQueryEvent, file: string): string {
  const text = event.sql.toString('latin1');
  const duplicates = { error: '', ignore: ' IGNORE', replace: ' REPLACE' }[event.duplicates];
  // The replaced part runs from before [LOCAL] INFILE to after INTO.
  return `${text.slice(0, event.filenameStart)} LOCAL INFILE '${file}'${duplicates} INTO ${text.slice(event.filenameEnd)}`;
}
