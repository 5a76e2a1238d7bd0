// The log's error shape and redaction, without servers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { ReplicationError } from '../src/errors.js';
import { engineLogger, failureError, serializeError } from '../src/log.js';

test('errors are logged with type, MySQL errno, code and message', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', errno: -111,
    syscall: 'connect', address: '127.0.0.1', port: 1 });
  assert.deepEqual({ ...serializeError(refused), stack: undefined }, { type: 'Error', errno: 2003, code: 'CR_CONN_HOST_ERROR',
    message: "Can't connect to server on '127.0.0.1:1' (ECONNREFUSED)", stack: undefined });
  const ours = serializeError(new ReplicationError('ER_BAD_SLAVE', 'no channel'));
  assert.equal(ours.type, 'ReplicationError');
  assert.equal(ours.errno, 1200);
  assert.equal(ours.code, 'ER_BAD_SLAVE');
  assert.deepEqual(serializeError('plain text'), { type: 'Error', errno: 1105, code: 'ER_UNKNOWN_ERROR', message: 'plain text' });
  const reported = serializeError(failureError({ errno: 1593, message: 'what the status says' }, new TypeError('x')));
  assert.equal(reported.type, 'TypeError');
  assert.equal(reported.errno, 1593);
  assert.equal(reported.message, 'what the status says');
});

test('secrets are redacted at any of the first levels of a logged object, other values kept', () => {
  const lines: string[] = [];
  const logger = engineLogger(pino({ level: 'info' }, { write: (line: string) => { lines.push(line); } }));
  logger.child({ channel: 'c' }).info({
    sourcePassword: 'S1', options: { sourcePassword: 'S2', sourceSslKey: '/k.pem', target: { password: 'S3', ssl: { key: 'S4',
      passphrase: 'S5' } }, admin: { user: 'admin', password: 'S6' } },
  }, 'options');
  const text = lines.join('');
  for (const secret of ['S1', 'S2', '/k.pem', 'S3', 'S4', 'S5', 'S6']) assert.ok(!text.includes(`"${secret}"`), `${secret} in ${text}`);
  const line = JSON.parse(text) as { channel: string; options: { admin: { user: string; password: string } } };
  assert.equal(line.channel, 'c');
  assert.deepEqual(line.options.admin, { user: 'admin', password: '[redacted]' });
});

test('bytes anywhere in a logged object are shown as length and hex, and the user\'s own log formatter still runs', () => {
  const lines: string[] = [];
  const user = pino({ level: 'info', formatters: { log: (o) => ({ ...o, mine: true }) } }, { write: (line: string) => { lines.push(line); } });
  const logger = engineLogger(user).child({ channel: 'c' });
  // pino's redaction copies these objects along its wildcard paths: a copied Buffer made writing the line throw.
  logger.info({ raw: Buffer.from('abc'), relayLog: { event: { raw: Buffer.alloc(70, 1), password: 'S1' } } }, 'bytes');
  const line = JSON.parse(lines.join('')) as Record<string, any>;
  assert.deepEqual(line.raw, { bytes: 3, hex: '616263' });
  assert.deepEqual(line.relayLog.event, { raw: { bytes: 70, hex: '01'.repeat(64) + '...' }, password: '[redacted]' });
  assert.equal(line.mine, true);
});
