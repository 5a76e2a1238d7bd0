// The one errno vocabulary: whatever fails, the errno a user sees is MySQL's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isConnectionError, mysqlFailure, ReplicationError } from '../src/errors.js';

/** A Node system error as net and fs raise them: a negative errno and a code. */
function systemError(code: string, errno: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${extra.syscall ?? 'connect'} ${code}`), { code, errno, ...extra });
}

test('socket errors become the client errors MySQL reports, naming where', () => {
  const refused = mysqlFailure(systemError('ECONNREFUSED', -111, { syscall: 'connect', address: '127.0.0.1', port: 3306 }),
    'ER_SLAVE_FATAL_ERROR');
  assert.deepEqual(refused, { errno: 2003, code: 'CR_CONN_HOST_ERROR',
    message: "Can't connect to server on '127.0.0.1:3306' (ECONNREFUSED)" });
  const unknown = mysqlFailure(systemError('ENOTFOUND', -3008, { syscall: 'getaddrinfo', hostname: 'db.invalid' }),
    'ER_SLAVE_FATAL_ERROR');
  assert.deepEqual([unknown.errno, unknown.message], [2005, "Unknown server host 'db.invalid' (ENOTFOUND)"]);
  assert.equal(mysqlFailure(systemError('ECONNRESET', -104, { syscall: 'read' }), 'ER_SLAVE_FATAL_ERROR').errno, 2013);
  assert.equal(mysqlFailure(systemError('EPIPE', -32, { syscall: 'write' }), 'ER_SLAVE_FATAL_ERROR').errno, 2013);
  // mysql2's own connect timeout and a read that timed out
  assert.equal(mysqlFailure(systemError('ETIMEDOUT', -110, { syscall: 'connect' }), 'ER_SLAVE_FATAL_ERROR').errno, 2003);
  assert.equal(mysqlFailure(systemError('ETIMEDOUT', -110, { syscall: 'read' }), 'ER_SLAVE_FATAL_ERROR').errno, 2013);
  const closed = Object.assign(new Error('Connection lost: The server closed the connection.'),
    { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
  assert.equal(mysqlFailure(closed, 'ER_SLAVE_FATAL_ERROR').errno, 2013);
  const gone = Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true });
  assert.equal(mysqlFailure(gone, 'ER_SLAVE_FATAL_ERROR').errno, 2006);
});

test('an error the server sent keeps its errno, code, message and SQLSTATE', () => {
  const denied = Object.assign(new Error("Access denied for user 'repl'@'127.0.0.1' (using password: YES)"), {
    errno: 1045, code: 'ER_ACCESS_DENIED_ERROR', sqlState: '28000',
    sqlMessage: "Access denied for user 'repl'@'127.0.0.1' (using password: YES)",
  });
  assert.deepEqual(mysqlFailure(denied, 'ER_SLAVE_FATAL_ERROR'), { errno: 1045, code: 'ER_ACCESS_DENIED_ERROR',
    message: "Access denied for user 'repl'@'127.0.0.1' (using password: YES)", sqlState: '28000' });
  const ours = new ReplicationError('ER_SLAVE_MUST_STOP', 'stop it first');
  assert.deepEqual(mysqlFailure(ours, 'ER_SLAVE_FATAL_ERROR'),
    { errno: 1198, code: 'ER_SLAVE_MUST_STOP', message: 'stop it first' });
});

test('anything else is the caller\'s own failure, never a negative errno', () => {
  const full = systemError('ENOSPC', -28, { syscall: 'write', path: '/data/relay-bin.000002' });
  assert.deepEqual(mysqlFailure(full, 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE'),
    { errno: 1595, code: 'ER_SLAVE_RELAY_LOG_WRITE_FAILURE', message: 'write ENOSPC' });
  assert.equal(mysqlFailure(new RangeError('offset out of range'), 'ER_SLAVE_FATAL_ERROR').errno, 1593);
  assert.equal(mysqlFailure('a string', 'ER_SLAVE_FATAL_ERROR').message, 'a string');
});

test('a ReplicationError can carry a server\'s failure', () => {
  const failure = mysqlFailure(systemError('ECONNREFUSED', -111, { address: '10.0.0.1', port: 3306 }), 'ER_SLAVE_FATAL_ERROR');
  const err = new ReplicationError(failure, `cannot connect to the target 10.0.0.1:3306 as 'root': ${failure.message}`);
  assert.deepEqual([err.errno, err.code], [2003, 'CR_CONN_HOST_ERROR']);
});

test('connection errors: the server may come back; a refusal of credentials or a deadlock is not one', () => {
  for (const errno of [1040, 1053, 1927, 2002, 2003, 2005, 2006, 2013]) assert.ok(isConnectionError(errno), `${errno}`);
  for (const errno of [1045, 1205, 1213, 1062, 1236]) assert.ok(!isConnectionError(errno), `${errno}`);
});
