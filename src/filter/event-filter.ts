// One channel's replicate-* rules applied to decoded binlog events, as the SQL stage meets them: a Table_map
// decides for the rows events that refer to it, a Query event is judged by its default database and the
// tables it updates. Pure: the SQL stage drops what this says to drop and still advances its positions.
import type { QueryEvent, RowsEvent, TableMapEvent } from '../binlog/events.js';
import { filterRowEvent, filterStatement, hasAnyRules, rewriteDb, type Decision, type FilterOptions, type ReplicationFilters } from './rules.js';
import { StatementParseError, updatedTables } from './statement-tables.js';
import { statementParse } from './statement-text.js';

/** What the rules read of a statement event (Query, or Execute_load_query, a Query with more post-header). */
export type StatementEvent = Pick<QueryEvent, 'sql' | 'database' | 'statusVars'>;

export class StatementFilterError extends Error {
  constructor(message: string, readonly statement: string) {
    super(message);
    this.name = 'StatementFilterError';
  }
}

export class EventFilter {
  private readonly active: boolean;
  private readonly maps = new Map<bigint, { source: TableMapEvent; target: TableMapEvent; apply: boolean }>();

  constructor(private readonly filters: ReplicationFilters, private readonly options: FilterOptions = {}) {
    this.active = hasAnyRules(filters) || filters.replicateRewriteDb.length > 0;
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
    if (judged?.source !== event.tableMap) {
      const source = event.tableMap;
      const db = rewriteDb(this.filters, source.database, this.options);
      judged = {
        source,
        target: db === source.database ? source : { ...source, database: db },
        apply: filterRowEvent(this.filters, db, source.table, this.options).apply,
      };
      this.maps.set(event.tableId, judged);
    }
    if (!judged.apply) return undefined;
    return judged.target === event.tableMap ? event : { ...event, tableMap: judged.target };
  }

  /** Whether the rules let a statement through. Throws StatementFilterError when its tables cannot be found. */
  statement(event: StatementEvent): Decision {
    if (!hasAnyRules(this.filters)) return { apply: true, rule: 'no rules', reason: 'no replicate-* rules are set' };
    const { text: sql, options } = statementParse(event, this.options.charsetOf);
    const defaultDb = this.database(event);
    let parsed;
    try {
      parsed = updatedTables(sql, defaultDb, options);
    } catch (err) {
      if (!(err instanceof StatementParseError)) throw err;
      throw new StatementFilterError(`the replication filters cannot judge this statement because the tables it ` +
        `updates could not be found (${err.message}); change the filters so that they do not depend on it, or ` +
        `skip it with setSkipCounter`, sql);
    }
    return filterStatement(this.filters, {
      defaultDb,
      updatedTables: parsed.tables,
      ...(parsed.databaseLevel ? { databaseLevel: parsed.databaseLevel } : {}),
      ...(parsed.transactionControl ? { transactionControl: true } : {}),
      ...(parsed.tableRulesExempt ? { tableRulesExempt: true } : {}),
    }, this.options);
  }
}
