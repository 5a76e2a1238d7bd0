// What the engine's log lines share: one shape for errors, and the secrets no line may show.
import { symbols, type Logger } from 'pino';
import { mysqlFailure, ReplicationError } from './errors.js';

/** The `err` of every log line: the error's type, MySQL's errno and symbolic code, its message and stack. */
export interface LoggedError {
  type: string;
  errno: number;
  code: string;
  message: string;
  stack?: string;
}

export function serializeError(err: unknown): LoggedError {
  const failure = mysqlFailure(err, 'ER_UNKNOWN_ERROR');
  const type = err instanceof Error ? err.name : typeof err === 'string' ? 'Error' : typeof err;
  return {
    type, errno: failure.errno, code: failure.code, message: failure.message,
    ...(err instanceof Error && err.stack ? { stack: err.stack } : {}),
  };
}

/**
 * The error a stage reports (status's errno and message) for a log line; `cause`, the error it came from, gives
 * its type and stack.
 */
export function failureError(failure: { errno: number; message: string }, cause?: unknown): Error {
  const err = new ReplicationError(failure.errno, failure.message);
  if (cause instanceof Error) {
    err.name = cause.name;
    if (cause.stack) err.stack = cause.stack;
  }
  return err;
}

// Keys that hold secrets, wherever an options object puts them: the source's password (CHANGE MASTER options,
// master.info), the target's and the admin endpoint's passwords, TLS private keys and their passphrases.
const SECRET_KEYS = ['password', 'sourcePassword', 'passphrase', 'key', 'sslKey', 'sourceSslKey', 'pfx'];
const DEPTHS = ['', '*.', '*.*.', '*.*.*.'];

/** pino `redact` paths: the secret keys at the top of a line and up to three levels into the objects it logs. */
export const REDACTED_PATHS = DEPTHS.flatMap((prefix) => SECRET_KEYS.map((key) => prefix + key));

/** pino's `redact` option for every logger of ours. */
export const REDACTION = { paths: REDACTED_PATHS, censor: '[redacted]' };

const SHOWN_BYTES = 64;

/**
 * pino's redaction copies each object along its wildcard paths into a new object of the same prototype, and a
 * Buffer copied so has no bytes behind it: writing the line then throws. So bytes in a logged object, as deep as
 * the redaction looks, are shown as their length and their first bytes in hex before the redaction sees them.
 */
export function bytesShown(value: object, depth = DEPTHS.length): object {
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { bytes: bytes.length, hex: bytes.subarray(0, SHOWN_BYTES).toString('hex') + (bytes.length > SHOWN_BYTES ? '...' : '') };
  }
  if (depth === 0) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, v] of Object.entries(value)) {
    if (v === null || typeof v !== 'object') continue;
    const shown = bytesShown(v as object, depth - 1);
    if (shown === v) continue;
    copy ??= (Array.isArray(value) ? [...value] : Object.assign(Object.create(Object.getPrototypeOf(value)) as object, value)) as Record<string, unknown>;
    copy[key] = shown;
  }
  return copy ?? value;
}

/**
 * The engine's logger: the user's, with the error serializer and redaction added, so that lines a channel
 * writes never show a secret, whatever object they log.
 */
export function engineLogger(logger: Logger): Logger {
  const userLog = (logger as unknown as Record<symbol, { log?: (o: object) => object }>)[symbols.formattersSym]?.log;
  return logger.child({}, {
    redact: REDACTION,
    serializers: { err: serializeError },
    formatters: { log: (o: object) => (userLog ? userLog(bytesShown(o)) : bytesShown(o)) as Record<string, unknown> },
  });
}
