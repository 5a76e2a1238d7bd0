export {
  ReplicationEngine, type EngineOptions, type StartOptions, type UntilCondition, type FilterDecision,
  type RelayLogEvent, type RelayLogEventsOptions,
} from './engine.js';
export type { ReplicationFilters, ExplainQuery } from './filter/index.js';
export type { ReplicationSourceOptions, ReplicaThread } from './channel.js';
export type { ReplicaStatus } from './status.js';
export { ReplicationError, ErrorCodes, type ErrorCode } from './errors.js';
