// The session state a Query event carries, as the SET statements that recreate it on the target before the
// statement runs (what `mariadb-binlog` prints before each statement). Pure.
import type { BinlogEvent, QueryEvent } from '../binlog/events.js';
import { bytes, byteLiteral, quoteIdentifier } from './sql-text.js';
import { isDatabaseStatement } from './statement-kind.js';

// Q_FLAGS2 bits (the OPTION_* bits of the source session).
const OPTION_AUTO_IS_NULL = 1 << 14;
const OPTION_NOT_AUTOCOMMIT = 1 << 19;
const OPTION_NO_FOREIGN_KEY_CHECKS = 1 << 26;
const OPTION_RELAXED_UNIQUE_CHECKS = 1 << 27;

export interface Collation {
  name: string;
  charset: string;
}

/** Collations by id, as the target knows them (information_schema.COLLATIONS). */
export type CollationLookup = (id: number) => Collation | undefined;

/**
 * SET assignments for a Query event's status variables and timestamp. The event names collations by id;
 * character_set_client takes a character set, so ids go through the target's collation table.
 */
export function querySessionSql(event: QueryEvent, timestamp: number, collation: CollationLookup): string {
  const charsetOf = (id: number) => collation(id)?.charset ?? String(id);
  const collationOf = (id: number) => collation(id)?.name ?? String(id);
  const vars = event.statusVars;
  const set: string[] = [];
  const micro = vars.microseconds ?? vars.hrnow;
  set.push(`TIMESTAMP=${micro === undefined ? timestamp : `${timestamp}.${String(micro).padStart(6, '0')}`}`);
  if (vars.flags2 !== undefined) {
    const f = vars.flags2;
    set.push(`@@session.foreign_key_checks=${f & OPTION_NO_FOREIGN_KEY_CHECKS ? 0 : 1}`,
      `@@session.sql_auto_is_null=${f & OPTION_AUTO_IS_NULL ? 1 : 0}`,
      `@@session.unique_checks=${f & OPTION_RELAXED_UNIQUE_CHECKS ? 0 : 1}`,
      `@@session.autocommit=${f & OPTION_NOT_AUTOCOMMIT ? 0 : 1}`);
  }
  if (vars.sqlMode !== undefined) set.push(`@@session.sql_mode=${vars.sqlMode}`);
  if (vars.autoIncrementIncrement !== undefined) {
    set.push(`@@session.auto_increment_increment=${vars.autoIncrementIncrement}`,
      `@@session.auto_increment_offset=${vars.autoIncrementOffset ?? 1}`);
  }
  if (vars.charset) {
    set.push(`@@session.character_set_client=${charsetOf(vars.charset.client)}`,
      `@@session.collation_connection=${collationOf(vars.charset.connection)}`,
      `@@session.collation_server=${collationOf(vars.charset.server)}`);
  }
  set.push(`@@session.time_zone=${vars.timeZone === undefined ? '@@global.time_zone' : `'${bytes(vars.timeZone)}'`}`);
  set.push(`@@session.lc_time_names=${vars.lcTimeNamesNumber ?? 0}`);
  if (vars.charsetDatabaseNumber !== undefined) {
    set.push(`@@session.collation_database=${collationOf(vars.charsetDatabaseNumber)}`);
  }
  return `SET ${set.join(', ')}`;
}

/** The statement to run for an IntVar, Rand or User_var event, which set context for the next Query event. */
export function contextEventSql(event: BinlogEvent): string | undefined {
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
      if (typeof event.decoded === 'number' || typeof event.decoded === 'bigint') {
        const n = event.unsigned && typeof event.decoded === 'bigint' && event.decoded < 0n
          ? event.decoded + (1n << 64n) : event.decoded;
        return `SET ${name}:=${n}`;
      }
      if (typeof event.decoded === 'string') return `SET ${name}:=${event.decoded}`;
      return `SET ${name}:=${byteLiteral(event.decoded)}`;
    }
    default:
      return undefined;
  }
}

/** The statement text of a Query event as a byte string, under its default database when it has one. */
export function queryStatements(event: QueryEvent, database: string): string[] {
  const out: string[] = [];
  if (database && !isDatabaseStatement(event.sql)) out.push(`USE ${quoteIdentifier(database)}`);
  out.push(event.sql.toString('latin1'));
  return out;
}
