/**
 * A failure talking to a source. `retryable` tells the I/O stage whether reconnecting can help (network
 * trouble, a killed connection, a source shutting down) or whether it must stop with Last_IO_Errno set, as a
 * real replica does on e.g. 1236 (the requested binlog is purged or absent).
 */
export class SourceError extends Error {
  errno?: number;
  sqlState?: string;
  retryable: boolean;
  /** The replica's own verdict on what the source sent (its errno is Last_IO_Errno as is), not the source's. */
  local: boolean;

  constructor(message: string, options: {
    errno?: number; sqlState?: string; retryable: boolean; local?: boolean; cause?: unknown;
  }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SourceError';
    if (options.errno !== undefined) this.errno = options.errno;
    if (options.sqlState !== undefined) this.sqlState = options.sqlState;
    this.retryable = options.retryable;
    this.local = options.local ?? false;
  }
}

/** Client error numbers, used when the failure is the network's, not an ERR packet from the source. */
export const CR_CONN_HOST_ERROR = 2003;
export const CR_SERVER_LOST = 2013;
/** "Fatal error: %s", what a real replica reports for a source it refuses to replicate from. */
export const ER_SLAVE_FATAL_ERROR = 1593;
/** "Relay log write failure: %s", what a real replica reports for an event it cannot take in. */
export const ER_SLAVE_RELAY_LOG_WRITE_FAILURE = 1595;
/** "Got a packet bigger than 'max_allowed_packet' bytes": an event over slave_max_allowed_packet. */
export const ER_NET_PACKET_TOO_LARGE = 1153;

/**
 * Errors a real replica treats as the network's (MySQL's is_network_error, plus MariaDB's
 * ER_CONNECTION_KILLED): too many connections, shutdown, interrupted reads/writes, lost connections.
 */
const NETWORK_ERRNOS = new Set([1040, 1053, 1159, 1161, 1927, 2002, 2003, 2006, 2013]);

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
  return NETWORK_ERRNOS.has(errno);
}

interface ClientErrorLike {
  message?: string;
  errno?: number;
  sqlState?: string;
  code?: string;
}

/** Wraps an error from mysql2 (an ERR packet it parsed, or a socket error) as a SourceError. */
export function fromClientError(err: unknown, phase: Phase, what: string): SourceError {
  if (err instanceof SourceError) return err;
  const e = (err ?? {}) as ClientErrorLike;
  // mysql2 puts the server's errno on ERR-packet errors and Node's negative errno on socket errors.
  const fromServer = typeof e.errno === 'number' && e.errno > 0 && typeof e.sqlState === 'string';
  const errno = fromServer ? e.errno : phase === 'connect' ? CR_CONN_HOST_ERROR : CR_SERVER_LOST;
  const detail = e.message ?? String(err);
  const code = !fromServer && e.code ? ` (${e.code})` : '';
  return new SourceError(`${what}: ${detail}${code}`, {
    errno,
    ...(fromServer ? { sqlState: e.sqlState } : {}),
    retryable: fromServer ? isRetryable(phase, errno) : true,
    cause: err,
  });
}
