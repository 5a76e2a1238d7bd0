// Errors a user of the engine sees, with the errno and symbolic code the servers use for the same condition,
// so that people who know MySQL/MariaDB can look them up. This is the one errno vocabulary: every errno that a
// status field or a ReplicationError shows is MySQL's, and mysqlFailure turns any error into one.

export const ErrorCodes = {
  ER_UNKNOWN_ERROR: 1105,
  ER_CANT_LOCK: 1015,
  ER_IPSOCK_ERROR: 1081,
  ER_BAD_SLAVE: 1200,
  ER_MASTER_INFO: 1201,
  ER_SLAVE_THREAD: 1202,
  ER_SLAVE_MUST_STOP: 1198,
  ER_SLAVE_NOT_RUNNING: 1199,
  ER_MASTER_FATAL_ERROR_READING_BINLOG: 1236,
  ER_SLAVE_RELAY_LOG_READ_FAILURE: 1594,
  ER_SLAVE_RELAY_LOG_WRITE_FAILURE: 1595,
  ER_SLAVE_FATAL_ERROR: 1593,
  ER_NETWORK_READ_EVENT_CHECKSUM_FAILURE: 1743,
  ER_BINLOG_READ_EVENT_CHECKSUM_FAILURE: 1744,
  ER_MALFORMED_GTID_SET_SPECIFICATION: 1772,
  ER_BAD_SLAVE_AUTO_POSITION: 1776,
  ER_SLAVE_CONVERSION_FAILED: 1677,
  ER_KEY_NOT_FOUND: 1032,
  ER_WRONG_ARGUMENTS: 1210,
  ER_NOT_SUPPORTED_YET: 1235,
  ER_BAD_SLAVE_UNTIL_COND: 1277,
  ER_CONNECTION_ALREADY_EXISTS: 1934,
  ER_INCORRECT_GTID_STATE: 1941,
  ER_DUPLICATE_GTID_DOMAIN: 1943,
  ER_MASTER_GTID_POS_CONFLICTS_WITH_BINLOG: 1948,
  ER_UNTIL_REQUIRES_USING_GTID: 1949,
  ER_CON_COUNT_ERROR: 1040,
  ER_TABLE_EXISTS_ERROR: 1050,
  ER_LOCK_WAIT_TIMEOUT: 1205,
  ER_NO_SUCH_TABLE: 1146,
  ER_DUP_ENTRY: 1062,
  // A server's refusal of LOAD DATA LOCAL INFILE (local_infile=OFF): MariaDB 10.5+, MySQL 8, older servers.
  ER_LOAD_INFILE_CAPABILITY_DISABLED: 4166,
  ER_CLIENT_LOCAL_FILES_DISABLED: 3948,
  ER_NOT_ALLOWED_COMMAND: 1148,
  ER_SPECIFIC_ACCESS_DENIED_ERROR: 1227,
  ER_ACCESS_DENIED_ERROR: 1045,
  ER_SERVER_SHUTDOWN: 1053,
  ER_NET_READ_ERROR: 1158,
  ER_NET_READ_INTERRUPTED: 1159,
  ER_NET_ERROR_ON_WRITE: 1160,
  ER_NET_WRITE_INTERRUPTED: 1161,
  ER_CONNECTION_KILLED: 1927,
  ER_ERROR_WHEN_EXECUTING_COMMAND: 1220,
  ER_PARSE_ERROR: 1064,
  ER_UNKNOWN_COM_ERROR: 1047,
  ER_UNSUPPORTED_PS: 1295,
  ER_KILL_DENIED_ERROR: 1095,
  ER_LOCAL_VARIABLE: 1228,
  ER_GLOBAL_VARIABLE: 1229,
  /** MariaDB's words for a connection name it does not know in SHOW RELAYLOG 'name' EVENTS. */
  WARN_NO_MASTER_INFO: 1617,
  // The client library's own (CR_*): a failure of the network, not an error the server sent.
  CR_CONNECTION_ERROR: 2002,
  CR_CONN_HOST_ERROR: 2003,
  CR_UNKNOWN_HOST: 2005,
  CR_SERVER_GONE_ERROR: 2006,
  CR_SERVER_LOST: 2013,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** The SQLSTATE the servers send with an errno in an ERR packet; HY000 ("general error") for the others. */
const SQL_STATES: Readonly<Record<number, string>> = {
  1045: '28000', 1047: '08S01', 1064: '42000', 1227: '42000', 1235: '42000', 1040: '08004', 1146: '42S02',
  1050: '42S01', 1053: '08S01', 1158: '08S01', 1159: '08S01', 1160: '08S01', 1161: '08S01', 1205: 'HY000',
  1927: '70100',
};

export function sqlStateOf(errno: number): string {
  return SQL_STATES[errno] ?? 'HY000';
}

/** An error in MySQL's terms. */
export interface MysqlFailure {
  errno: number;
  /** The symbolic name: ER_... for the server's errors, CR_... for the client's. */
  code: string;
  message: string;
  /** The SQLSTATE of an error the server sent (an ERR packet). */
  sqlState?: string;
}

/** The one error type of a failure the engine or a stage reports: what the status's errno and message show. */
export class ReplicationError extends Error {
  readonly errno: number;
  /** The servers' symbolic name of errno: ER_... , or CR_... for a failure to reach a server. */
  readonly code: string;

  /** `code` is ours, an errno a server sent, or the failure of a server (mysqlFailure) this error reports. */
  constructor(code: ErrorCode | number | MysqlFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReplicationError';
    if (typeof code === 'string') {
      this.code = code;
      this.errno = ErrorCodes[code];
    } else if (typeof code === 'number') {
      this.code = codeOf(code);
      this.errno = code;
    } else {
      this.code = code.code;
      this.errno = code.errno;
    }
  }
}

/**
 * Errors after which the connection is gone or was never made, while the server may well come back: it cannot
 * be reached or resolved, is shutting down or out of connections, or the connection was killed or broke. The
 * unknown host is among them because a restarting container's name resolves again only once it runs.
 */
const CONNECTION_ERRNOS: ReadonlySet<number> = new Set([1040, 1053, 1158, 1159, 1160, 1161, 1927, 2002, 2003, 2005,
  2006, 2013]);

export function isConnectionError(errno: number): boolean {
  return CONNECTION_ERRNOS.has(errno);
}

/** The client errors a failed or broken connection is reported as. */
type ClientError = 'CR_CONNECTION_ERROR' | 'CR_CONN_HOST_ERROR' | 'CR_UNKNOWN_HOST' | 'CR_SERVER_GONE_ERROR' | 'CR_SERVER_LOST';

/** Node's and mysql2's codes of a failed or broken connection, and the client error MySQL reports for each. */
const NETWORK_CODES: Readonly<Record<string, ClientError>> = {
  ECONNREFUSED: 'CR_CONN_HOST_ERROR',
  EHOSTUNREACH: 'CR_CONN_HOST_ERROR',
  EHOSTDOWN: 'CR_CONN_HOST_ERROR',
  ENETUNREACH: 'CR_CONN_HOST_ERROR',
  ENETDOWN: 'CR_CONN_HOST_ERROR',
  EADDRNOTAVAIL: 'CR_CONN_HOST_ERROR',
  ENOTFOUND: 'CR_UNKNOWN_HOST',
  EAI_AGAIN: 'CR_UNKNOWN_HOST',
  EAI_FAIL: 'CR_UNKNOWN_HOST',
  ECONNRESET: 'CR_SERVER_LOST',
  ECONNABORTED: 'CR_SERVER_LOST',
  EPIPE: 'CR_SERVER_LOST',
  PROTOCOL_CONNECTION_LOST: 'CR_SERVER_LOST',
  PROTOCOL_SEQUENCE_TIMEOUT: 'CR_SERVER_LOST',
};

interface ErrorLike {
  message?: unknown;
  errno?: unknown;
  code?: unknown;
  sqlState?: unknown;
  sqlMessage?: unknown;
  fatal?: unknown;
  syscall?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
}

/**
 * Any error in MySQL's terms. An errno > 0 is MySQL's already (an ERR packet mysql2 parsed, or one of ours);
 * a socket error becomes the client error MySQL reports for it (2003 for a refused connection, 2005 for an
 * unknown host, 2013 for a lost one, 2006 for a connection mysql2 has closed); anything else, a file system
 * error included, is the caller's own failure `local` (e.g. 1595 for the I/O stage's relay log writes).
 */
export function mysqlFailure(err: unknown, local: ErrorCode): MysqlFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const text = typeof e.message === 'string' ? e.message : String(err);
  const nodeCode = typeof e.code === 'string' ? e.code : undefined;
  if (typeof e.errno === 'number' && e.errno > 0) {
    return {
      errno: e.errno,
      code: nodeCode ?? codeOf(e.errno),
      message: typeof e.sqlMessage === 'string' ? e.sqlMessage : text,
      ...(typeof e.sqlState === 'string' ? { sqlState: e.sqlState } : {}),
    };
  }
  let client: ClientError | undefined = nodeCode === undefined ? undefined : NETWORK_CODES[nodeCode];
  if (nodeCode === 'ETIMEDOUT') client = e.syscall === 'connect' ? 'CR_CONN_HOST_ERROR' : 'CR_SERVER_LOST';
  if (nodeCode === 'ENOENT' && e.syscall === 'connect') client = 'CR_CONNECTION_ERROR';
  // mysql2 marks an error fatal when its connection is closed for good, e.g. "Can't add new command when
  // connection is in closed state".
  if (client === undefined && e.fatal === true) client = 'CR_SERVER_GONE_ERROR';
  if (client === undefined) return { errno: ErrorCodes[local], code: local, message: text };
  const where = typeof e.address === 'string'
    ? (typeof e.port === 'number' ? `${e.address}:${e.port}` : e.address)
    : typeof e.hostname === 'string' ? e.hostname : undefined;
  const reason = nodeCode ?? text;
  return { errno: ErrorCodes[client], code: client, message: CLIENT_MESSAGES[client](where, reason) };
}

/** The client library's words for its errors (MariaDB Connector/C's), with the system's reason. */
const CLIENT_MESSAGES: Readonly<Record<ClientError, (where: string | undefined, reason: string) => string>> = {
  CR_CONNECTION_ERROR: (where, reason) => `Can't connect to local server through socket '${where ?? ''}' (${reason})`,
  CR_CONN_HOST_ERROR: (where, reason) => `Can't connect to server${where ? ` on '${where}'` : ''} (${reason})`,
  CR_UNKNOWN_HOST: (where, reason) => `Unknown server host '${where ?? ''}' (${reason})`,
  CR_SERVER_GONE_ERROR: (_where, reason) => `Server has gone away (${reason})`,
  CR_SERVER_LOST: (_where, reason) => `Lost connection to server during query (${reason})`,
};

function codeOf(errno: number): string {
  return (Object.keys(ErrorCodes) as ErrorCode[]).find((code) => ErrorCodes[code] === errno) ?? `ER_${errno}`;
}
