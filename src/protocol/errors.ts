import { ErrorCodes, isConnectionError, mysqlFailure } from '../errors.js';

/**
 * A failure talking to a source. `retryable` tells the I/O stage whether reconnecting can help (network
 * trouble, a killed connection, a source shutting down) or whether it must stop with Last_IO_Errno set, as a
 * real replica does on e.g. 1236 (the requested binlog is purged or absent).
 */
export class SourceError extends Error {
  errno?: number;
  sqlState?: string;
  retryable: boolean;

  constructor(message: string, options: { errno?: number; sqlState?: string; retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SourceError';
    if (options.errno !== undefined) this.errno = options.errno;
    if (options.sqlState !== undefined) this.sqlState = options.sqlState;
    this.retryable = options.retryable;
  }
}

/** Client error numbers, used when the failure is the network's, not an ERR packet from the source. */
export const CR_CONN_HOST_ERROR = ErrorCodes.CR_CONN_HOST_ERROR;
export const CR_SERVER_LOST = ErrorCodes.CR_SERVER_LOST;
/** "SSL connection error: %s": the TLS upgrade failed (verification, unreadable files, no TLS on the source). */
export const CR_SSL_CONNECTION_ERROR = 2026;
/** "Authentication plugin '%s' reported error: %s": the client side of an authentication plugin refused. */
export const CR_AUTH_PLUGIN_ERR = 2061;
/** "Authentication plugin '%s' cannot be loaded: %s": the source asked for a plugin the replica does not have. */
export const CR_AUTH_PLUGIN_CANNOT_LOAD = 2059;
/** "Fatal error: %s", what a real replica reports for a source it refuses to replicate from. */
export const ER_SLAVE_FATAL_ERROR = ErrorCodes.ER_SLAVE_FATAL_ERROR;
/** "Got fatal error %d from master when reading data from binary log: '%s'", a source refusing to go on. */
export const ER_MASTER_FATAL_ERROR_READING_BINLOG = ErrorCodes.ER_MASTER_FATAL_ERROR_READING_BINLOG;
/** "Relay log write failure: %s", what a real replica reports for an event it cannot take in. */
export const ER_SLAVE_RELAY_LOG_WRITE_FAILURE = ErrorCodes.ER_SLAVE_RELAY_LOG_WRITE_FAILURE;
/** "Got a packet bigger than 'max_allowed_packet' bytes": an event over slave_max_allowed_packet. */
export const ER_NET_PACKET_TOO_LARGE = 1153;

/** ERR packets during the dump after which a real replica stops instead of reconnecting. */
const DUMP_FATAL_ERRNOS = new Set([
  1041, // ER_OUT_OF_RESOURCES
  1153, // ER_NET_PACKET_TOO_LARGE: the event exceeds max_allowed_packet, it will every time
  1236, // ER_MASTER_FATAL_ERROR_READING_BINLOG: purged or absent binlog, bad position
]);

/**
 * Phases differ in what a server error means: while connecting everything is retried (the replica keeps
 * "Connecting" on access denied too); while setting up the session or registering, a server error is fatal
 * unless it is a network-class one; during the dump only a few errors are fatal.
 */
export type Phase = 'connect' | 'setup' | 'dump';

export function isRetryable(phase: Phase, errno: number | undefined): boolean {
  if (errno === undefined || phase === 'connect') return true;
  if (phase === 'dump') return !DUMP_FATAL_ERRNOS.has(errno);
  return isConnectionError(errno);
}

/** The codes mysql2 gives a failed TLS upgrade, whatever failed in it. */
const TLS_FAILURES = new Set(['HANDSHAKE_SSL_ERROR', 'HANDSHAKE_NO_SSL_SUPPORT']);

/**
 * Wraps an error from mysql2 (an ERR packet it parsed, or a socket error) as a SourceError whose message is the
 * reason as MySQL words it (the I/O stage says what it was doing); a failure that is not the server's is the
 * network's: the connection could not be made, or was lost.
 */
export function fromClientError(err: unknown, phase: Phase): SourceError {
  if (err instanceof SourceError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TLS_FAILURES.has(code)) {
    // A native replica retries these as any connection error: the certificate may be replaced meanwhile.
    return new SourceError(`SSL connection error: ${(err as Error).message ?? String(err)}`,
      { errno: CR_SSL_CONNECTION_ERROR, retryable: true, cause: err });
  }
  const unknownPlugin = /^Server requests authentication using unknown plugin (\S+?)\./.exec((err as Error | null)?.message ?? '');
  if (code === 'AUTH_SWITCH_PLUGIN_ERROR' && unknownPlugin) {
    return new SourceError(`Authentication plugin '${unknownPlugin[1]}' cannot be loaded: the source asks for it and ` +
      'this replica has caching_sha2_password, sha256_password, mysql_native_password and mysql_clear_password ' +
      '(give the replication user one of them)', { errno: CR_AUTH_PLUGIN_CANNOT_LOAD, retryable: true, cause: err });
  }
  const failure = mysqlFailure(err, phase === 'connect' ? 'CR_CONN_HOST_ERROR' : 'CR_SERVER_LOST');
  const fromServer = failure.sqlState !== undefined;
  return new SourceError(failure.message, {
    errno: failure.errno,
    ...(fromServer ? { sqlState: failure.sqlState } : {}),
    retryable: fromServer ? isRetryable(phase, failure.errno) : true,
    cause: err,
  });
}
