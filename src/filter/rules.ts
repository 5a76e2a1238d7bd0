// The replica's replicate-* rules: which received events the SQL stage applies. Pure functions.
//
// The evaluation order is 5.5.6 of the MySQL 5.1 manual ("how servers evaluate replication rules"), which
// MariaDB still follows: a database stage (replicate-do-db / replicate-ignore-db) that can only ignore or
// pass on, then a table stage (do-table, ignore-table, wild-do-table, wild-ignore-table, in that order, table
// by table) for events that update tables. replicate-rewrite-db renames the database before any rule sees it.

import { likeMatch } from './like.js';
import { updatedTables, type StatementParseOptions, type TableRef } from './statement-tables.js';

export interface ReplicationFilters {
  replicateDoDb: string[];
  replicateIgnoreDb: string[];
  /** 'db.table' */
  replicateDoTable: string[];
  /** 'db.table' */
  replicateIgnoreTable: string[];
  /** LIKE patterns over 'db.table', e.g. 'db%.t\_%' */
  replicateWildDoTable: string[];
  replicateWildIgnoreTable: string[];
  /** [from, to] */
  replicateRewriteDb: [string, string][];
}

export interface FilterOptions {
  /**
   * Compare database names in replicate-do-db / ignore-db / rewrite-db without regard to letter case, as a
   * target with lower_case_table_names=1 (or 2) does (the SQL stage sets it from the target's variable). Off
   * by default: with lower_case_table_names=0, the Linux default, the servers compare them exactly. Table rules (do/ignore/wild) ignore letter case either way, as
   * MariaDB's do (checked against a 10.11 replica).
   */
  caseInsensitiveNames?: boolean;
  /**
   * The character set of a collation id, as Query events name their character_set_client: statements are read
   * in their own character set (the SQL stage takes the target's collation table).
   */
  charsetOf?: (collationId: number) => string | undefined;
}

export type Decision = {
  apply: boolean;
  /** The rule that decided, e.g. 'replicate-do-db', 'replicate-wild-ignore-table', 'no rules'. */
  rule: string;
  /** One sentence naming the database/table and the rule value that decided. */
  reason: string;
};

export type { TableRef } from './statement-tables.js';

export interface StatementFilterInput {
  /** The statement's default database on the replica (after replicate-rewrite-db); '' when none was selected. */
  defaultDb: string;
  /** Tables the statement updates, unqualified names already qualified with the default database. */
  updatedTables: TableRef[];
  /** CREATE/ALTER/DROP DATABASE: the database named in the statement. */
  databaseLevel?: { db: string };
  /** BEGIN/COMMIT/ROLLBACK/SAVEPOINT/XA: applied whatever the rules say. */
  transactionControl?: boolean;
  /** DROP TEMPORARY TABLE IF EXISTS: the servers never apply table rules to it. */
  tableRulesExempt?: boolean;
}

export function emptyFilters(): ReplicationFilters {
  return {
    replicateDoDb: [],
    replicateIgnoreDb: [],
    replicateDoTable: [],
    replicateIgnoreTable: [],
    replicateWildDoTable: [],
    replicateWildIgnoreTable: [],
    replicateRewriteDb: [],
  };
}

// ------------------------------------------------------------------------------------------- validation

const LIST_KEYS = [
  'replicateDoDb',
  'replicateIgnoreDb',
  'replicateDoTable',
  'replicateIgnoreTable',
  'replicateWildDoTable',
  'replicateWildIgnoreTable',
] as const;

const OPTION_NAME: Record<keyof ReplicationFilters, string> = {
  replicateDoDb: 'replicate-do-db',
  replicateIgnoreDb: 'replicate-ignore-db',
  replicateDoTable: 'replicate-do-table',
  replicateIgnoreTable: 'replicate-ignore-table',
  replicateWildDoTable: 'replicate-wild-do-table',
  replicateWildIgnoreTable: 'replicate-wild-ignore-table',
  replicateRewriteDb: 'replicate-rewrite-db',
};

function checkName(option: string, value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${option}: ${what} must be a string, got ${JSON.stringify(value)}`);
  if (value.trim() === '') throw new Error(`${option}: ${what} is empty`);
  if (value !== value.trim()) {
    throw new Error(`${option}: ${what} ${JSON.stringify(value)} has leading or trailing spaces, which no database or table name can have`);
  }
  // The servers' list variables (and SHOW SLAVE STATUS) separate values with commas, so a comma inside a
  // value could not be set or shown the same way; the 5.1 manual warns about exactly this for do-db.
  if (value.includes(',')) {
    throw new Error(`${option}: ${what} ${JSON.stringify(value)} contains a comma; give each name as its own list entry`);
  }
  return value;
}

/** Splits 'db.table' at the first dot, as the servers do. */
function splitTableRule(option: string, value: string): [string, string] {
  const dot = value.indexOf('.');
  if (dot < 0) {
    throw new Error(`${option}: ${JSON.stringify(value)} has no '.'; table rules are written db_name.tbl_name`);
  }
  const db = value.slice(0, dot);
  const table = value.slice(dot + 1);
  if (db === '' || table === '') {
    throw new Error(`${option}: ${JSON.stringify(value)} needs both a database and a table part around the '.'`);
  }
  return [db, table];
}

/**
 * Refuses a filter set the servers would refuse, or one whose meaning would be unclear, with a message that
 * names the option and the value. Accepts a partial set, as a CHANGE REPLICATION FILTER that sets only some.
 */
export function validateFilters(f: Partial<ReplicationFilters>, options: FilterOptions = {}): void {
  if (typeof f !== 'object' || f === null) throw new Error('replication filters must be an object');
  for (const key of Object.keys(f)) {
    if (!(key in OPTION_NAME)) {
      throw new Error(`unknown replication filter ${JSON.stringify(key)}; known filters are ${Object.keys(OPTION_NAME).join(', ')}`);
    }
  }
  for (const key of LIST_KEYS) {
    const list = f[key];
    if (list === undefined) continue;
    const option = OPTION_NAME[key];
    if (!Array.isArray(list)) throw new Error(`${option} must be a list of strings`);
    for (const value of list) {
      const what = key === 'replicateDoDb' || key === 'replicateIgnoreDb' ? 'database name' : key.includes('Wild') ? 'pattern' : 'table';
      checkName(option, value, what);
      if (key === 'replicateDoDb' || key === 'replicateIgnoreDb') continue;
      splitTableRule(option, value);
      if (key === 'replicateWildDoTable' || key === 'replicateWildIgnoreTable') {
        // A pattern ending in a lone backslash escapes nothing; it is almost surely a shell quoting accident.
        const trailing = /\\+$/.exec(value)?.[0].length ?? 0;
        if (trailing % 2 === 1) {
          throw new Error(`${option}: pattern ${JSON.stringify(value)} ends with a lone '\\'; write '\\\\' for a literal backslash`);
        }
      }
    }
  }
  const pairs = f.replicateRewriteDb;
  if (pairs !== undefined) {
    const option = OPTION_NAME.replicateRewriteDb;
    if (!Array.isArray(pairs)) throw new Error(`${option} must be a list of [from, to] pairs`);
    const seen = new Map<string, string>();
    for (const pair of pairs as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new Error(`${option}: ${JSON.stringify(pair)} is not a [from, to] pair of two database names`);
      }
      const from = checkName(option, pair[0], "'from' database name");
      const to = checkName(option, pair[1], "'to' database name");
      if (from.includes('->') || to.includes('->')) {
        throw new Error(`${option}: ${JSON.stringify(pair)} contains '->', which separates from and to in the option's text form`);
      }
      const key = options.caseInsensitiveNames ? from.toLowerCase() : from;
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        throw new Error(`${option}: database ${JSON.stringify(from)} is rewritten twice (to ${JSON.stringify(earlier)} and to ${JSON.stringify(to)}); only the first would ever apply`);
      }
      seen.set(key, to);
    }
  }
}

// -------------------------------------------------------------------------------------------- matching

// The servers keep table rules in hashes and match wild patterns under a case-insensitive collation.
const TABLE_RULES: FilterOptions = { caseInsensitiveNames: true };

function nameEq(a: string, b: string, options: FilterOptions): boolean {
  return a === b || (options.caseInsensitiveNames === true && a.toLowerCase() === b.toLowerCase());
}

function qualified(db: string, table: string): string {
  return `${db}.${table}`;
}

/**
 * replicate-rewrite-db: the first pair whose 'from' is `db` gives the new name. Pairs are not chained (a->b,
 * b->c leaves a as b), as on the servers.
 */
export function rewriteDb(filters: ReplicationFilters, db: string, options: FilterOptions = {}): string {
  for (const [from, to] of filters.replicateRewriteDb) {
    if (nameEq(from, db, options)) return to;
  }
  return db;
}

function hasTableRules(f: ReplicationFilters): boolean {
  return (
    f.replicateDoTable.length > 0 ||
    f.replicateIgnoreTable.length > 0 ||
    f.replicateWildDoTable.length > 0 ||
    f.replicateWildIgnoreTable.length > 0
  );
}

function hasDbRules(f: ReplicationFilters): boolean {
  return f.replicateDoDb.length > 0 || f.replicateIgnoreDb.length > 0;
}

export function hasAnyRules(f: ReplicationFilters): boolean {
  return hasDbRules(f) || hasTableRules(f);
}

function list(values: string[]): string {
  return values.map((v) => `'${v}'`).join(', ');
}

type Stage = { done: Decision } | { passed: Decision };

/**
 * Stage 1 of 5.5.6. Its outcome is "ignore" (final) or "permit" (go on to the table stage); the permit
 * decision is what the caller reports if no table rule has anything to say.
 * `subject` says which database this is ("default database", "database") for the reason text.
 */
function databaseStage(f: ReplicationFilters, db: string, subject: string, options: FilterOptions): Stage {
  if (!hasDbRules(f)) {
    return { passed: { apply: true, rule: 'no database rules', reason: `there are no replicate-do-db or replicate-ignore-db rules` } };
  }
  // A statement run with no default database carries an empty name, and the replica's SQL thread compares that
  // name like any other (Rpl_filter::db_ok is given "", not NULL): no replicate-do-db lists it, so do-db rules
  // skip the statement, and ignore-db rules alone never do. A native 10.11 replica behaves so (multi-source test).
  if (db === '') subject += ' (none was selected: the empty name)';
  // As for binlog-do-db: when do-db rules exist they alone decide, and ignore-db rules are not consulted.
  if (f.replicateDoDb.length > 0) {
    const match = f.replicateDoDb.find((d) => nameEq(d, db, options));
    if (match === undefined) {
      return { done: { apply: false, rule: 'replicate-do-db', reason: `${subject} '${db}' is not in replicate-do-db (${list(f.replicateDoDb)})` } };
    }
    return { passed: { apply: true, rule: 'replicate-do-db', reason: `${subject} '${db}' is in replicate-do-db (${list(f.replicateDoDb)})` } };
  }
  const match = f.replicateIgnoreDb.find((d) => nameEq(d, db, options));
  if (match !== undefined) {
    return { done: { apply: false, rule: 'replicate-ignore-db', reason: `${subject} '${db}' is in replicate-ignore-db (${list(f.replicateIgnoreDb)})` } };
  }
  return { passed: { apply: true, rule: 'replicate-ignore-db (not listed)', reason: `${subject} '${db}' is not in replicate-ignore-db (${list(f.replicateIgnoreDb)})` } };
}

/**
 * Stage 2 of 5.5.6, steps 2-6, over the updated tables in order. The first table that any rule matches
 * decides for the whole statement, and within one table the rules are tried do-table, ignore-table,
 * wild-do-table, wild-ignore-table; so an earlier table's do match wins over a later table's ignore match
 * and vice versa. Only when no table matched anything do the do rules' mere existence decide.
 */
function tableStage(f: ReplicationFilters, tables: TableRef[]): Decision {
  const exact = (rule: string, t: TableRef): boolean => {
    const [db, table] = splitTableRule('', rule);
    return nameEq(db, t.db, TABLE_RULES) && nameEq(table, t.table, TABLE_RULES);
  };
  for (const t of tables) {
    const name = qualified(t.db, t.table);
    const doRule = f.replicateDoTable.find((r) => exact(r, t));
    if (doRule !== undefined) {
      return { apply: true, rule: 'replicate-do-table', reason: `table ${name} matches replicate-do-table '${doRule}'` };
    }
    const ignoreRule = f.replicateIgnoreTable.find((r) => exact(r, t));
    if (ignoreRule !== undefined) {
      return { apply: false, rule: 'replicate-ignore-table', reason: `table ${name} matches replicate-ignore-table '${ignoreRule}'` };
    }
    // Wild patterns match the whole 'db.table' string, as the servers do (so % may span the dot).
    const wildDo = f.replicateWildDoTable.find((p) => likeMatch(p, name, true));
    if (wildDo !== undefined) {
      return { apply: true, rule: 'replicate-wild-do-table', reason: `table ${name} matches replicate-wild-do-table pattern '${wildDo}'` };
    }
    const wildIgnore = f.replicateWildIgnoreTable.find((p) => likeMatch(p, name, true));
    if (wildIgnore !== undefined) {
      return { apply: false, rule: 'replicate-wild-ignore-table', reason: `table ${name} matches replicate-wild-ignore-table pattern '${wildIgnore}'` };
    }
  }
  const names = tables.map((t) => qualified(t.db, t.table)).join(', ');
  const which = tables.length === 1 ? `table ${names} matches` : `none of the tables ${names} matches`;
  if (f.replicateDoTable.length > 0) {
    return {
      apply: false,
      rule: 'replicate-do-table (no table rule matched)',
      reason: `${which} no table rule, and replicate-do-table (${list(f.replicateDoTable)}) means only tables it names are applied`,
    };
  }
  if (f.replicateWildDoTable.length > 0) {
    return {
      apply: false,
      rule: 'replicate-wild-do-table (no table rule matched)',
      reason: `${which} no table rule, and replicate-wild-do-table (${list(f.replicateWildDoTable)}) means only tables it matches are applied`,
    };
  }
  return { apply: true, rule: 'replicate-*-table (no table rule matched)', reason: `${which} no table rule, and there are no do-table rules, so it is applied` };
}

/**
 * The wild-table rules for a statement that acts on a whole database (5.1.3: a table pattern of '%' makes a
 * wild rule apply to CREATE/ALTER/DROP DATABASE). The database is matched as 'db.' against the pattern, so
 * 'foo%.%' matches database foo1 while 'foo%.bar%' does not. Plain do-table/ignore-table rules name tables
 * and cannot match a database.
 */
function databaseWildStage(f: ReplicationFilters, db: string): Decision | undefined {
  const key = `${db}.`;
  const wildDo = f.replicateWildDoTable.find((p) => likeMatch(p, key, true));
  if (wildDo !== undefined) {
    return { apply: true, rule: 'replicate-wild-do-table', reason: `database ${db} matches replicate-wild-do-table pattern '${wildDo}'` };
  }
  const wildIgnore = f.replicateWildIgnoreTable.find((p) => likeMatch(p, key, true));
  if (wildIgnore !== undefined) {
    return { apply: false, rule: 'replicate-wild-ignore-table', reason: `database ${db} matches replicate-wild-ignore-table pattern '${wildIgnore}'` };
  }
  if (f.replicateWildDoTable.length > 0) {
    return {
      apply: false,
      rule: 'replicate-wild-do-table (no pattern matched the database)',
      reason: `database ${db} matches no replicate-wild-do-table pattern (${list(f.replicateWildDoTable)}), so a statement on the whole database is not applied`,
    };
  }
  return undefined;
}

const NO_RULES: Decision = { apply: true, rule: 'no rules', reason: 'no replicate-* rules are set, so every event is applied' };

/**
 * A row-based event on `db`.`table` (db already rewritten by replicate-rewrite-db). The database stage looks
 * at the table's own database, not the default database of the statement that made the rows; then the
 * table stage judges that one table.
 */
export function filterRowEvent(filters: ReplicationFilters, db: string, table: string, options: FilterOptions = {}): Decision {
  if (!hasAnyRules(filters)) return NO_RULES;
  const stage = databaseStage(filters, db, 'database', options);
  if ('done' in stage) return stage.done;
  if (!hasTableRules(filters)) return withNoTableRules(stage.passed);
  return tableStage(filters, [{ db, table }]);
}

function withNoTableRules(passed: Decision): Decision {
  return { ...passed, reason: `${passed.reason}, and there are no table rules` };
}

/**
 * A statement-based event. The database stage judges the default database (already rewritten); the table
 * stage judges the tables the statement updates. Statements that update no table are judged by the
 * database stage alone; CREATE/ALTER/DROP DATABASE are also judged on the database they name, by the
 * database rules and by wild-table rules.
 */
export function filterStatement(filters: ReplicationFilters, input: StatementFilterInput, options: FilterOptions = {}): Decision {
  if (input.transactionControl) {
    return { apply: true, rule: 'transaction control', reason: 'BEGIN, COMMIT, ROLLBACK, SAVEPOINT and XA statements are applied whatever the rules say' };
  }
  if (!hasAnyRules(filters)) return NO_RULES;
  const stage = databaseStage(filters, input.defaultDb, 'default database', options);
  if ('done' in stage) return stage.done;

  if (input.databaseLevel) {
    const db = input.databaseLevel.db;
    // The source writes the database a CREATE/ALTER/DROP DATABASE acts on as the event's default database;
    // the servers check the name in the statement again because rewrite-db may have changed the former.
    let passed = stage.passed;
    if (db !== input.defaultDb) {
      const named = databaseStage(filters, db, 'database', options);
      if ('done' in named) return named.done;
      passed = named.passed;
    }
    return databaseWildStage(filters, db) ?? (hasTableRules(filters) ? {
      apply: true,
      rule: 'replicate-*-table (no pattern matched the database)',
      reason: `database ${db} matches no wild-table pattern and there are no replicate-wild-do-table rules, so the statement on the database is applied`,
    } : withNoTableRules(passed));
  }

  if (!hasTableRules(filters)) return withNoTableRules(stage.passed);
  if (input.tableRulesExempt) {
    return { apply: true, rule: 'DROP TEMPORARY TABLE IF EXISTS', reason: 'DROP TEMPORARY TABLE IF EXISTS is never filtered by table rules, so temporary tables can always be cleaned up' };
  }
  if (input.updatedTables.length === 0) {
    return { apply: true, rule: 'no table updated', reason: `${stage.passed.reason}, and the statement updates no table, so the table rules do not apply` };
  }
  return tableStage(filters, input.updatedTables);
}

// ------------------------------------------------------------------------------------------------ explain

export interface ExplainQuery {
  /** The database as the source wrote it: the table's database for a row event, else the default database. */
  db: string;
  /** A row event on this table of `db`. */
  table?: string;
  /** A statement-based event: the SQL text, run with `db` as its default database. */
  statement?: string;
}

export interface ExplainOptions extends FilterOptions, StatementParseOptions {}

/**
 * What the rules do with an event described by source-side names: replicate-rewrite-db first, then the row
 * or statement rules. `{ db, table }` is a row event; `{ db, statement }` a statement event (its updated
 * tables found by parsing it); `{ db }` alone a statement that updates no table.
 */
export function explain(filters: ReplicationFilters, query: ExplainQuery, options: ExplainOptions = {}): Decision {
  if (query.table !== undefined && query.statement !== undefined) {
    throw new Error('explain: give either a table (row event) or a statement, not both');
  }
  const db = rewriteDb(filters, query.db, options);
  const rewritten = db !== query.db ? `database '${query.db}' is rewritten to '${db}' by replicate-rewrite-db; ` : '';
  const prefix = (d: Decision): Decision => (rewritten === '' ? d : { ...d, reason: rewritten + d.reason });
  if (query.table !== undefined) return prefix(filterRowEvent(filters, db, query.table, options));
  if (query.statement === undefined) {
    return prefix(filterStatement(filters, { defaultDb: db, updatedTables: [] }, options));
  }
  // Unqualified names in the statement resolve against the rewritten default database, as on the replica;
  // names the statement qualifies itself, and a database a CREATE/DROP DATABASE names, are not rewritten.
  const parsed = updatedTables(query.statement, db, options);
  const input: StatementFilterInput = { defaultDb: db, updatedTables: parsed.tables };
  if (parsed.databaseLevel) input.databaseLevel = parsed.databaseLevel;
  if (parsed.transactionControl) input.transactionControl = true;
  if (parsed.tableRulesExempt) input.tableRulesExempt = true;
  return prefix(filterStatement(filters, input, options));
}

// ------------------------------------------------------------------------------------------------ display

export type FilterListStyle = 'mariadb' | 'mysql';

/**
 * A rule list as SHOW SLAVE STATUS shows it: values joined by ','. Rewrite pairs are shown the way the
 * server asked shows Replicate_Rewrite_DB: MariaDB 'from->to,from2->to2' (the replicate_rewrite_db variable's
 * own syntax), MySQL '(from,to),(from2,to2)'.
 */
export function formatFilterList(values: string[] | [string, string][], style: FilterListStyle = 'mariadb'): string {
  return (values as (string | [string, string])[])
    .map((v) => (typeof v === 'string' ? v : style === 'mysql' ? `(${v[0]},${v[1]})` : `${v[0]}->${v[1]}`))
    .join(',');
}
