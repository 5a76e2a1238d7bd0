// The pure parts of the CLI: the configuration (key paths, ${VAR}), the catch-up progress, the value text of
// `tributary binlog`, and the escaping of what goes to a terminal.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ColumnType as T } from '../src/binlog/column-types.js';
import type { RowsEvent, TableMapEvent } from '../src/binlog/events.js';
import { formatG, formatValue, quotedBytes, rowsLines } from '../src/cli/binlog-print.js';
import { ConfigError, parseConfig, withPorts } from '../src/cli/config.js';
import { printable } from '../src/cli/printable.js';
import { CatchUpProgress, CatchUpRate, catchUpSample, MIN_BACKLOG, progressLine, provisionLine } from '../src/cli/progress.js';
import type { ReplicaStatus } from '../src/index.js';

const base = {
  dataDir: './replica', serverId: 3001,
  target: { host: '127.0.0.1', port: 3306, user: 'root', password: '${TARGET_PASSWORD}' },
  channels: { dbsv1: { source: { sourceHost: '10.0.0.5', sourcePort: 3306, sourceUser: 'repl', sourcePassword: 'a${P1}b${P2}c' } } },
};
const env = { TARGET_PASSWORD: 't', P1: '1', P2: '' };
const parse = (value: object, e: Record<string, string | undefined> = env) => parseConfig(JSON.stringify(value), e, '/etc/tributary');
const refuses = (value: object, path: string, reason: RegExp, e: Record<string, string | undefined> = env) => assert.throws(() => parse(value, e),
  (err: ConfigError) => err instanceof ConfigError && err.path === path && reason.test(err.message) && err.message.startsWith(`${path}: `));

test('the issue\'s example configuration, with its secrets from the environment', () => {
  const config = parse({ ...base, admin: { port: 6033, user: 'admin', password: '${TARGET_PASSWORD}' }, metrics: { port: 9104 } });
  assert.equal(config.engine.dataDir, '/etc/tributary/replica');
  assert.equal(config.engine.target.password, 't');
  assert.deepEqual(config.channels, [{ name: 'dbsv1', start: true,
    source: { sourceHost: '10.0.0.5', sourcePort: 3306, sourceUser: 'repl', sourcePassword: 'a1bc' } }]);
  assert.deepEqual(config.admin, { host: '127.0.0.1', port: 6033, user: 'admin', password: 't' });
  assert.deepEqual(config.metrics, { host: '127.0.0.1', port: 9104 });
  assert.equal(config.logLevel, 'info');
  assert.equal(parse({ ...base, dataDir: '/var/lib/r' }).engine.dataDir, '/var/lib/r');
});

test('every mistake names its key', () => {
  refuses(base, 'target.password', /environment variable TARGET_PASSWORD is not set/, { P1: '', P2: '' });
  refuses({ ...base, target: { password: '${not-a-name}' } }, 'target.password', /is not an environment variable name/);
  refuses({ ...base, dataDir: '' }, 'dataDir', /must not be empty/);
  refuses({ ...base, serverId: 1.5 }, 'serverId', /must be an integer, got 1.5/);
  refuses({ ...base, replicaNetTimeout: '60' }, 'replicaNetTimeout', /must be a number/);
  refuses({ ...base, logLevel: 'loud' }, 'logLevel', /must be one of/);
  refuses({ ...base, extra: 1 }, 'extra', /unknown key/);
  refuses({ ...base, channels: [] }, 'channels', /must be an object, got a list/);
  refuses({ ...base, channels: { c: { source: {} } } }, 'channels.c.source.sourceHost', /is required/);
  refuses({ ...base, channels: { c: {} } }, 'channels.c.source', /is required/);
  refuses({ ...base, channels: { c: { source: { sourceHost: 'h', ignoreServerIds: [1, 'x'] } } } }, 'channels.c.source.ignoreServerIds[1]', /integer/);
  refuses({ ...base, channels: { c: { source: { sourceHost: 'h', sourceLogPos: 2 } } } }, 'channels.c.source.sourceLogPos', /at least 4/);
  refuses({ ...base, channels: { c: { source: { sourceHost: 'h', sourceSslCa: 'rel/ca.pem' } } } }, 'channels.c.source.sourceSslCa', /absolute path/);
  refuses({ ...base, channels: { c: { source: { sourceHost: 'h' }, filters: { replicateDoTable: ['nodot'] } } } }, 'channels.c.filters', /nodot/);
  refuses({ ...base, channels: { c: { source: { sourceHost: 'h' }, filters: { replicateRewriteDb: [['a']] } } } }, 'channels.c.filters.replicateRewriteDb[0]', /pair/);
  refuses({ ...base, channels: { c: { source: { sourceHost: 'h' }, filters: { replicateDoDB: [] } } } }, 'channels.c.filters.replicateDoDB', /unknown filter/);
  refuses({ ...base, filters: { replicateWildDoTable: ['db.t\\'] } }, 'filters', /lone/);
  refuses({ ...base, replicaSkipErrors: [1062, 'x'] }, 'replicaSkipErrors', /"all" or a list/);
  refuses({ ...base, admin: { port: 6033 } }, 'admin.user', /is required/);
  refuses({ ...base, metrics: { port: 0 } }, 'metrics.port', /port from 1 to 65535/);
  assert.throws(() => parseConfig('{', env, '/'), /not valid JSON/);
});

const status = (over: Partial<ReplicaStatus>): ReplicaStatus => ({
  channel: 'dbsv1', relayLogSpace: 0, relayLogPos: 4, executedLogEntries: 0, sqlRunning: 'Yes',
  ...over,
} as ReplicaStatus);

test('catch-up progress: bytes behind, net rate, time left', () => {
  const rate = new CatchUpRate();
  const first = catchUpSample(status({ relayLogSpace: 10_000_004, relayLogPos: 4 }), 0);
  assert.equal(first.behindBytes, 10_000_000);
  rate.add(first);
  assert.equal(rate.secondsLeft(first.behindBytes), undefined);
  const second = catchUpSample(status({ relayLogSpace: 10_000_004, relayLogPos: 2_000_004, executedLogEntries: 500 }), 2000);
  rate.add(second);
  assert.equal(rate.bytesPerSecond, 1_000_000);
  assert.equal(rate.eventsPerSecond, 250);
  assert.equal(rate.secondsLeft(second.behindBytes), 8);
  assert.equal(progressLine('dbsv1', 10_000_000, second, rate, 10),
    'dbsv1 [##--------] 20% | 7.6 MiB behind | 976.6 KiB/s | 250 events/s | 8s left');
  // A source that writes GTIDs: transactions behind and applied per second.
  const counted = new CatchUpRate();
  counted.add(catchUpSample(status({ relayLogSpace: 1000 }), 0, { behind: 90, applied: 10 }));
  const later = catchUpSample(status({ relayLogSpace: 1000, relayLogPos: 504 }), 1000, { behind: 45, applied: 55 });
  counted.add(later);
  assert.equal(progressLine('dbsv1', 996, later, counted, 10),
    'dbsv1 [#####-----] 50% | 496 B behind | 500 B/s | 45 transactions behind | 45 transactions/s | 1s left');
});

test('on a terminal, a bar per channel that is behind, gone once it has caught up', () => {
  const out = Object.assign(new PassThrough(), { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream & PassThrough;
  let text = '';
  out.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  const progress = new CatchUpProgress(out);
  progress.update([status({ relayLogSpace: MIN_BACKLOG * 4, relayLogPos: 4 }), status({ channel: 'small', relayLogSpace: 1000 })], 0);
  progress.update([status({ relayLogSpace: MIN_BACKLOG * 4, relayLogPos: MIN_BACKLOG * 2 })], 1000);
  progress.update([status({ relayLogSpace: MIN_BACKLOG * 4, relayLogPos: MIN_BACKLOG * 4 })], 2000);
  progress.stop();
  assert.match(text, /dbsv1 \[#+-+\] \d+% \| [\d.]+ MiB behind/);
  assert.match(text, /dbsv1: caught up\n/);
  assert.doesNotMatch(text, /small/);
});

test('values as mariadb-binlog --verbose writes them', () => {
  assert.deepEqual([0.0001, 0.00001, 123456, 1234567, 100000, 1.5, -0, 1e100].map((v) => formatG(v)),
    ['0.0001', '1e-05', '123456', '1.23457e+06', '100000', '1.5', '-0', '1e+100']);
  assert.equal(formatG(0.1, 20), '0.10000000000000000555');
  assert.equal(formatValue(-1, T.TINY), '-1 (255)');
  assert.equal(formatValue(-1n, T.LONGLONG), '-1 (18446744073709551615)');
  assert.equal(formatValue('2024-02-29', T.DATE), "'2024:02:29'");
  assert.equal(formatValue('1970-01-02 00:00:00.5', T.TIMESTAMP2), '86400.5');
  assert.equal(formatValue(5n, T.SET, 1), "b'00000101'");
  assert.equal(formatValue(Buffer.from([0x02, 0xaa]), T.BIT, 10), "b'1010101010'");
  assert.equal(formatValue(null, T.LONG), 'NULL');
  const vector = Buffer.alloc(8);
  vector.writeFloatLE(1.5, 0);
  vector.writeFloatLE(-2, 4);
  assert.equal(formatValue(vector, T.VECTOR), '[1.50000e+00,-2.00000e+00]');
});

test('bytes that could steer a terminal are escapes; printable UTF-8 stays as it is', () => {
  assert.equal(quotedBytes(Buffer.from("it's \\ été", 'utf8')), "'it's \\ été'");
  assert.equal(quotedBytes(Buffer.from('\x1b[2J\x07\n\x7f', 'latin1')), "'\\x1b[2J\\x07\\x0a\\x7f'");
  // C1 CSI as UTF-8, a right-to-left override, a lone continuation byte.
  assert.equal(quotedBytes(Buffer.from('\u009b31m \u202e x', 'utf8')), "'\\xc2\\x9b31m \\xe2\\x80\\xae x'");
  assert.equal(quotedBytes(Buffer.from([0x41, 0x80, 0xff])), "'A\\x80\\xff'");
  assert.equal(printable('a\u001b]0;title\u0007b\u202ec\td'), 'a\\x1b]0;title\\x07b\\u202ec\\td');
});

test('partial JSON updates print as the functions that make them', () => {
  const tableMap = { type: 'table_map', tableId: 1n, flags: 0, database: 'd', table: 't', columnTypes: [T.LONG, T.JSON],
    columnMeta: [{ realType: T.LONG }, { realType: T.JSON, length: 4 }], nullable: [false, true], optional: {} } as TableMapEvent;
  const event: RowsEvent = { type: 'rows', kind: 'update', tableId: 1n, tableMap, flags: 1, statementEnd: true, rows: [{
    before: [1, '{"a": 1}'], after: [1, undefined],
    jsonDiffs: new Map([[1, [{ operation: 'replace', path: [{ member: 'a' }], value: '2' },
      { operation: 'insert', path: [{ member: 'b' }, { cell: 0 }], value: '"x"' }, { operation: 'remove', path: [{ member: 'c' }] }]]]),
  }] };
  assert.deepEqual(rowsLines(event), [
    '### UPDATE `d`.`t`', '### WHERE', '###   @1=1', `###   @2='{"a": 1}'`, '### SET', '###   @1=1',
    `###   @2=JSON_REMOVE(JSON_ARRAY_INSERT(JSON_REPLACE(@2, '$."a"', '2'), '$."b"[0]', '"x"'), '$."c"')`,
    '# Number of rows: 1',
  ]);
});

test('a channel\'s provision key: true, or its options checked as provisionChannel checks them', () => {
  const channel = (provision: unknown) => ({ ...base, channels: { c: { source: { sourceHost: 'h' }, provision } } });
  assert.deepEqual(parse(channel(true)).channels[0]!.provision, {});
  assert.equal(parse(channel(false)).channels[0]!.provision, undefined);
  assert.deepEqual(parse(channel({ parallel: 2, chunkRows: 500, verify: true })).channels[0]!.provision,
    { parallel: 2, chunkRows: 500, verify: true });
  refuses(channel('yes'), 'channels.c.provision', /must be true, false or an object of parallel, chunkRows, verify/);
  refuses(channel({ parallel: 0 }), 'channels.c.provision.parallel', /must be an integer from 1 to 64, got 0/);
  refuses(channel({ chunkRows: 1.5 }), 'channels.c.provision.chunkRows', /must be an integer/);
  refuses(channel({ dropExisting: true }), 'channels.c.provision.dropExisting', /unknown key/);
  refuses(channel({ verify: 1 }), 'channels.c.provision.verify', /must be a boolean/);
});

test('on a terminal, a channel being provisioned shows its tables, rows, bytes and time left, then says how it ended', () => {
  const copying = status({ sqlRunning: 'No', provisionState: 'copying', provisionTablesDone: 3, provisionTablesTotal: 12,
    provisionRowsCopied: 120_000, provisionBytesCopied: 3 << 20, provisionSecondsLeft: 95 });
  assert.equal(provisionLine(copying, 12), 'dbsv1 provisioning [###---------] 3/12 tables | 120000 rows | 3.0 MiB | copying | 1m35s left');
  const out = Object.assign(new PassThrough(), { isTTY: true, columns: 160 }) as unknown as NodeJS.WriteStream & PassThrough;
  let text = '';
  out.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  const progress = new CatchUpProgress(out);
  progress.update([copying], 0);
  progress.update([{ ...copying, provisionState: 'done', provisionTablesDone: 12, provisionSecondsLeft: null }], 1000);
  progress.stop();
  assert.match(text, /dbsv1 provisioning \[#+-+\] 3\/12 tables \| 120000 rows/);
  assert.match(text, /dbsv1: provisioning done\n/);
});

test('--admin-port and --metrics-port replace the configuration\'s ports; an admin port needs the configuration\'s admin', () => {
  const base = parse({ dataDir: 'd', serverId: 9, target: { host: 'h', user: 'u' }, channels: {},
    admin: { port: 6033, user: 'admin', password: 'pw' } });
  const ported = withPorts(base, { adminPort: '7000', metricsPort: '9200' });
  assert.deepEqual(ported.admin, { host: '127.0.0.1', port: 7000, user: 'admin', password: 'pw' });
  assert.deepEqual(ported.metrics, { host: '127.0.0.1', port: 9200 });
  assert.equal(withPorts(base, {}).admin?.port, 6033);
  for (const bad of ['0', '65536', 'x', '80.5', '-1']) {
    assert.throws(() => withPorts(base, { metricsPort: bad }), /--metrics-port must be a port from 1 to 65535/);
  }
  const withoutAdmin = parse({ dataDir: 'd', serverId: 9, target: { host: 'h', user: 'u' }, channels: {} });
  assert.throws(() => withPorts(withoutAdmin, { adminPort: '7000' }), (err: unknown) =>
    err instanceof ConfigError && /--admin-port needs "admin"/.test(err.message));
});
