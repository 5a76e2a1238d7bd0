// Errors a user of the engine sees, with the errno and symbolic code the servers use for the same condition,
// so that people who know MySQL/MariaDB can look them up.

export const ErrorCodes = {
  ER_CANT_LOCK: 1015,
  ER_BAD_SLAVE: 1200,
  ER_MASTER_INFO: 1201,
  ER_SLAVE_THREAD: 1202,
  ER_SLAVE_MUST_STOP: 1198,
  ER_SLAVE_NOT_RUNNING: 1199,
  ER_MASTER_FATAL_ERROR_READING_BINLOG: 1236,
  ER_SLAVE_RELAY_LOG_READ_FAILURE: 1594,
  ER_SLAVE_RELAY_LOG_WRITE_FAILURE: 1595,
  ER_SLAVE_FATAL_ERROR: 1593,
  ER_BINLOG_READ_EVENT_CHECKSUM_FAILURE: 1744,
  ER_SLAVE_CONVERSION_FAILED: 1677,
  ER_KEY_NOT_FOUND: 1032,
  ER_WRONG_ARGUMENTS: 1210,
  ER_BAD_SLAVE_UNTIL_COND: 1277,
  ER_CONNECTION_ALREADY_EXISTS: 1934,
  ER_MASTER_GTID_POS_CONFLICTS_WITH_BINLOG: 1948,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class ReplicationError extends Error {
  readonly errno: number;
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReplicationError';
    this.code = code;
    this.errno = ErrorCodes[code];
  }
}
