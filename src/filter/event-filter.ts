// One channel's replicate-* rules applied to decoded binlog events, as the SQL stage meets them: a Table_map
// decides for the rows events that refer to it, a Query event is judged by its default database and the
// tables it updates. Pure: the SQL stage drops what this says to drop and still advances its positions.
//
// Before the replicate-* rules comes one the engine sets itself: the database of the position table belongs to
// the engine, and no source may write in it (a source that could would move other channels' positions).
import type { QueryEvent, RowsEvent, TableMapEvent } from '../binlog/events.js';
import { withTableMap } from '../binlog/rows.js';
import {
  explain, filterRowEvent, filterStatement, hasAnyRules, rewriteDb, type Decision, type ExplainOptions,
  type ExplainQuery, type FilterOptions, type ReplicationFilters,
} from './rules.js';
import { StatementParseError, tokenizeSql, updatedTables, type StatementParseOptions, type UpdatedTables } from './statement-tables.js';
import { statementParse } from './statement-text.js';

/** The rule name of decisions made by the protected-database rule. */
export const PROTECTED_DATABASE_RULE = 'protected database';

const NO_RULES: Decision = { apply: true, rule: 'no rules', reason: 'no replicate-* rules are set' };

/** What the rules read of a statement event (Query, or Execute_load_query, a Query with more post-header). */
export type StatementEvent = Pick<QueryEvent, 'sql' | 'database' | 'statusVars'>;

export interface EventFilterOptions extends FilterOptions {
  /**
   * The database of the engine's position table. No event that would write in it is applied, whatever the
   * replicate-* rules say: rows events on its tables, statements run with it as default database or naming it.
   */
  protectedDatabase?: string;
  /** Told of each event the protected-database rule drops; `repeat` for more rows events of a table already told. */
  onProtected?: (decision: Decision, repeat: boolean) => void;
  /**
   * Provisioning's catch-up (src/provision): only changes to the tables this accepts (target names, after
   * replicate-rewrite-db) are applied, after the rules; a statement changing some of them and others is refused.
   */
  tables?: (db: string, table: string) => boolean;
}

const NOT_PROVISIONED: Decision = {
  apply: false, rule: 'provisioning',
  reason: 'provisioning brings only the tables it copied before to its new snapshot; this one is copied at that snapshot',
};

export class StatementFilterError extends Error {
  constructor(message: string, readonly statement: string) {
    super(message);
    this.name = 'StatementFilterError';
  }
}

export class EventFilter {
  private readonly active: boolean;
  private readonly maps = new Map<bigint, { source: TableMapEvent; target: TableMapEvent; decision?: Decision }>();

  constructor(private readonly filters: ReplicationFilters, private readonly options: EventFilterOptions = {}) {
    this.active = hasAnyRules(filters) || filters.replicateRewriteDb.length > 0 || options.protectedDatabase !== undefined ||
      options.tables !== undefined;
  }

  /** The default database a Query event runs with on the target: its own, after replicate-rewrite-db. */
  database(event: Pick<QueryEvent, 'database'>): string {
    return rewriteDb(this.filters, event.database, this.options);
  }

  /**
   * A rows event as the target must see it: its Table_map's database rewritten, or undefined when the rules
   * keep its table out.
   */
  rows(event: RowsEvent): RowsEvent | undefined {
    if (!this.active) return event;
    let judged = this.maps.get(event.tableId);
    const repeat = judged?.source === event.tableMap;
    if (!judged || !repeat) {
      const source = event.tableMap;
      const db = rewriteDb(this.filters, source.database, this.options);
      let decision = protectedRows(db, this.options) ??
        (hasAnyRules(this.filters) ? filterRowEvent(this.filters, db, source.table, this.options) : undefined);
      if (decision?.apply !== false && this.options.tables?.(db, source.table) === false) decision = NOT_PROVISIONED;
      judged = { source, target: db === source.database ? source : { ...source, database: db }, ...(decision ? { decision } : {}) };
      this.maps.set(event.tableId, judged);
    }
    if (judged.decision?.apply === false) {
      if (judged.decision.rule === PROTECTED_DATABASE_RULE) this.options.onProtected?.(judged.decision, repeat);
      return undefined;
    }
    return judged.target === event.tableMap ? event : withTableMap(event, judged.target);
  }

  /**
   * Whether the rules let a statement through. Throws StatementFilterError when its tables cannot be found, or
   * when it mentions the protected database and cannot be parsed.
   */
  statement(event: StatementEvent): Decision {
    const decision = this.judgeStatement(event);
    const only = this.options.tables;
    if (!only || !decision.apply) return decision;
    const { text: sql, options: parse } = statementParse(event, this.options.charsetOf);
    let parsed: UpdatedTables;
    try {
      parsed = updatedTables(sql, this.database(event), parse);
    } catch (err) {
      if (!(err instanceof StatementParseError)) throw err;
      throw new StatementFilterError(`provisioning cannot tell which tables this statement changes (${err.message}); ` +
        'call provisionChannel again with dropExisting: true, which copies every table again', sql);
    }
    if (parsed.transactionControl) return decision;
    const kept = parsed.tables.filter((t) => only(rewriteDb(this.filters, t.db, this.options), t.table));
    if (kept.length === 0) return NOT_PROVISIONED;
    if (kept.length < parsed.tables.length || parsed.databaseLevel) {
      throw new StatementFilterError('provisioning cannot bring this statement to its snapshot: it changes tables ' +
        'copied at different snapshots; call provisionChannel again with dropExisting: true, which copies every ' +
        'table again', sql);
    }
    return decision;
  }

  private judgeStatement(event: StatementEvent): Decision {
    if (this.options.protectedDatabase === undefined && !hasAnyRules(this.filters)) return NO_RULES;
    const { text: sql, options: parse } = statementParse(event, this.options.charsetOf);
    const statement: StatementText = { sql, defaultDb: this.database(event), parse };
    const guard = protectedStatement(statement, this.options);
    if (guard.decision) {
      this.options.onProtected?.(guard.decision, false);
      return guard.decision;
    }
    if (!hasAnyRules(this.filters)) return NO_RULES;
    let parsed = guard.parsed;
    try {
      parsed ??= updatedTables(sql, statement.defaultDb, statement.parse);
    } catch (err) {
      if (!(err instanceof StatementParseError)) throw err;
      throw new StatementFilterError(`the replication filters cannot judge this statement because the tables it ` +
        `updates could not be found (${err.message}); change the filters so that they do not depend on it, or ` +
        `skip it with setSkipCounter`, sql);
    }
    return filterStatement(this.filters, {
      defaultDb: statement.defaultDb,
      updatedTables: parsed.tables,
      ...(parsed.databaseLevel ? { databaseLevel: parsed.databaseLevel } : {}),
      ...(parsed.transactionControl ? { transactionControl: true } : {}),
      ...(parsed.tableRulesExempt ? { tableRulesExempt: true } : {}),
    }, this.options);
  }
}

/**
 * explain() as the SQL stage decides: the protected-database rule first, then the replicate-* rules. Names are
 * the source's (before replicate-rewrite-db).
 */
export function explainEvent(filters: ReplicationFilters, query: ExplainQuery,
  options: ExplainOptions & EventFilterOptions = {}): Decision {
  if (options.protectedDatabase === undefined || (query.table !== undefined && query.statement !== undefined)) {
    return explain(filters, query, options);
  }
  const db = rewriteDb(filters, query.db, options);
  const guard = query.table !== undefined ? protectedRows(db, options)
    : protectedStatement({ sql: query.statement ?? '', defaultDb: db, parse: options }, options).decision;
  if (!guard) return explain(filters, query, options);
  return db === query.db ? guard
    : { ...guard, reason: `database '${query.db}' is rewritten to '${db}' by replicate-rewrite-db; ${guard.reason}` };
}

interface StatementText {
  sql: string;
  /** After replicate-rewrite-db. */
  defaultDb: string;
  parse: StatementParseOptions;
}

function refused(what: string, db: string): Decision {
  return {
    apply: false, rule: PROTECTED_DATABASE_RULE,
    reason: `${what} in database '${db}', which holds the engine's position table; no source may change it, whatever ` +
      'the replicate-* rules say',
  };
}

/** The protected-database rule for a rows event on a table of `db` (after replicate-rewrite-db). */
function protectedRows(db: string, options: EventFilterOptions): Decision | undefined {
  const guarded = options.protectedDatabase;
  return guarded !== undefined && isGuarded(db, guarded, options) ? refused('the rows event changes a table', db) : undefined;
}

/**
 * The protected-database rule for a statement: refused when its default database is the protected one (its
 * unqualified names land there), when it names a table there (db.name anywhere in its text, in a trigger or
 * routine body too) or acts on the database itself (CREATE/ALTER/DROP DATABASE). Statements whose text never
 * spells the name cannot do any of that and are not parsed here; what was parsed is handed on for the rules.
 */
function protectedStatement(statement: StatementText, options: EventFilterOptions): { decision?: Decision; parsed?: UpdatedTables } {
  const guarded = options.protectedDatabase;
  if (guarded === undefined) return {};
  const { sql, defaultDb, parse } = statement;
  const inDefault = defaultDb !== '' && isGuarded(defaultDb, guarded, options);
  if (!inDefault && !mentions(sql, guarded)) return {};
  let parsed: UpdatedTables;
  let names: boolean;
  try {
    parsed = updatedTables(sql, defaultDb, parse);
    const tokens = tokenizeSql(sql, parse);
    names = tokens.some((t, i) => (t.type === 'word' || t.type === 'ident') && isGuarded(t.text, guarded, options) &&
      tokens[i + 1]?.type === 'punct' && tokens[i + 1]!.text === '.');
  } catch (err) {
    if (!(err instanceof StatementParseError)) throw err;
    if (inDefault) return { decision: refused('the statement runs with its default database', defaultDb) };
    throw new StatementFilterError(`the statement mentions '${guarded}', the database of the engine's position table, ` +
      `and could not be parsed to tell whether it writes there (${err.message}); no source may write there: if it ` +
      'does not, apply it on the target by hand, and skip it with setSkipCounter', sql);
  }
  if (parsed.transactionControl) return { parsed };
  if (inDefault) return { decision: refused('the statement runs with its default database', defaultDb) };
  const database = parsed.databaseLevel?.db;
  if (database !== undefined && isGuarded(database, guarded, options)) {
    return { decision: refused(`the statement is ${parsed.command}`, database) };
  }
  if (names) return { decision: refused('the statement names a table', guarded) };
  return { parsed };
}

/**
 * Whether a database name is the protected one as the target may resolve it: exactly, or, where names ignore
 * letter case, alike after folding case, accents and compatibility forms. That is looser than the servers'
 * folding, never stricter: a lower_case_table_names target takes 'TRİBUTARY' for 'tributary'.
 */
function isGuarded(name: string, guarded: string, options: FilterOptions): boolean {
  return name === guarded || (options.caseInsensitiveNames === true && fold(name) === fold(guarded));
}

/** Whether the text spells `name` anywhere, in any letter case or accent: a cheap test before any parsing. */
function mentions(sql: string, name: string): boolean {
  return fold(sql).includes(fold(name));
}

function fold(text: string): string {
  return /^[\x00-\x7f]*$/.test(text) ? text.toLowerCase() : text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}
