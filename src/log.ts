// What the engine's log lines share: one shape for errors, and the secrets no line may show.
import type { Logger } from 'pino';
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

/**
 * The engine's logger: the user's, with the error serializer and redaction added, so that lines a channel
 * writes never show a secret, whatever object they log.
 */
export function engineLogger(logger: Logger): Logger {
  return logger.child({}, {
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
  });
}
