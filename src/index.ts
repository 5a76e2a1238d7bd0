export { ReplicationEngine, type EngineOptions, type StartOptions } from './engine.js';
export type { ReplicationSourceOptions, ReplicaThread } from './channel.js';
export type { ReplicaStatus } from './status.js';
export { ReplicationError, ErrorCodes, type ErrorCode } from './errors.js';
