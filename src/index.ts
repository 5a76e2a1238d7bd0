export {
  ReplicationEngine, type EngineOptions, type StartOptions, type UntilCondition, type FilterDecision,
  type RelayLogEvent, type RelayLogEventsOptions,
} from './engine.js';
export type { ReplicationFilters, ExplainQuery } from './filter/index.js';
export type { ReplicationSourceOptions, ReplicaThread } from './channel.js';
export type { ReplicaStatus, ProvisionState } from './status.js';
export type { MysqlDdlMode } from './apply/mysql-ddl.js';
export type { ProvisionOptions } from './provision/provision.js';
export type { ProvisionProgress } from './provision/progress.js';
export type { RowDifference, TableVerification, VerifyOptions, VerifyResult } from './provision/verify.js';
export { ReplicationError, ErrorCodes, type ErrorCode } from './errors.js';
