// The replicate-* rules and the statement parsing they need, for the SQL stage and the engine.
export {
  emptyFilters,
  validateFilters,
  rewriteDb,
  hasAnyRules,
  filterRowEvent,
  filterStatement,
  explain,
  formatFilterList,
  type ReplicationFilters,
  type FilterOptions,
  type Decision,
  type StatementFilterInput,
  type ExplainQuery,
  type ExplainOptions,
  type FilterListStyle,
} from './rules.js';
export { likeMatch } from './like.js';
export {
  updatedTables,
  tokenizeSql,
  stringLiteralValue,
  TokenCursor,
  StatementParseError,
  type TableRef,
  type UpdatedTables,
  type StatementParseOptions,
  type Token,
} from './statement-tables.js';
export {
  EventFilter, StatementFilterError, PROTECTED_DATABASE_RULE, explainEvent, type EventFilterOptions, type StatementEvent,
} from './event-filter.js';
