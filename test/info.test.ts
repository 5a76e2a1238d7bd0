import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import {
  channelFileSuffix, defaultMasterInfo, formatMasterInfo, formatMultiMasterInfo, formatRelayLogInfo,
  masterInfoFileName, parseMasterInfo, parseMultiMasterInfo, parseRelayLogInfo, relayLogInfoFileName,
  writeFileAtomic, type MasterInfo,
} from '../src/info/index.js';
import { lowerConnectionName, toFilenameCharset } from '../src/info/filename-charset.js';

const full: MasterInfo = {
  ...defaultMasterInfo(),
  sourceLogFile: 'mysql-bin.000042', readSourceLogPos: 123456789012, sourceHost: 'db1.example', sourceUser: 'repl',
  sourcePassword: 'p=ss w0rd#', sourcePort: 3307, sourceConnectRetry: 11, sslAllowed: true, sslCa: '/ca.pem',
  sslCaPath: '/ca', sslCert: '/c.pem', sslCipher: 'AES256-SHA', sslKey: '/k.pem', sslVerifyServerCert: true,
  heartbeatPeriod: 7.5, ignoreServerIds: [3, 5], retryCount: 86400, sslCrl: '/crl', sslCrlPath: '/crls',
  usingGtid: 'slave_pos', doDomainIds: [1, 2], ignoreDomainIds: [], tlsVersion: 'TLSv1.2,TLSv1.3',
  extraLines: ['future_key=1 2 3'],
};

describe('master.info format', () => {
  test('round trip', () => {
    const text = formatMasterInfo(full);
    assert.deepEqual(parseMasterInfo(text), full);
    assert.equal(formatMasterInfo(parseMasterInfo(text)), text);
    const lines = text.split('\n');
    assert.equal(lines[0], '33');
    assert.equal(lines[15], '7.500');
    assert.equal(lines[17], '2 3 5');
    assert.ok(lines.includes('future_key=1 2 3'));
    assert.equal(lines.at(-2), 'END_MARKER');
  });

  test('TLS settings sit at the lines MariaDB keeps them on; MASTER_TLS_VERSION is a key=value line', () => {
    const lines = formatMasterInfo(full).split('\n');
    assert.deepEqual(lines.slice(8, 15), ['1', '/ca.pem', '/ca', '/c.pem', 'AES256-SHA', '/k.pem', '1']);
    assert.deepEqual(lines.slice(20, 22), ['/crl', '/crls']);
    assert.deepEqual(lines.slice(33, 37), ['using_gtid=2', 'do_domain_ids=2 1 2', 'ignore_domain_ids=0',
      'tls_version=TLSv1.2,TLSv1.3']);
    const withoutVersion = formatMasterInfo({ ...full, tlsVersion: '' });
    assert.equal(withoutVersion.includes('tls_version'), false, 'left out when unset, as MariaDB writes the file');
    assert.equal(parseMasterInfo(withoutVersion).tlsVersion, '');
    assert.throws(() => formatMasterInfo({ ...full, tlsVersion: 'TLSv1.2\nx' }), /tls_version cannot contain a line break/);
  });

  test('leftovers after END_MARKER are ignored, only the first of a repeated key counts', () => {
    const text = formatMasterInfo(full).replace('END_MARKER\n', 'using_gtid=0\nEND_MARKER\nusing_gtid=1\ngarbage');
    const parsed = parseMasterInfo(text);
    assert.equal(parsed.usingGtid, 'slave_pos');
    assert.deepEqual(parsed.extraLines, ['future_key=1 2 3']);
  });

  test('a MySQL 5.1 file with 15 lines gets defaults for the rest', () => {
    const text = ['15', 'bin.000003', '107', 'h', 'u', 'pw', '3306', '60', '0', '', '', '', '', '', '1', ''].join('\n');
    const parsed = parseMasterInfo(text);
    assert.equal(parsed.readSourceLogPos, 107);
    assert.equal(parsed.sslVerifyServerCert, true);
    assert.equal(parsed.heartbeatPeriod, 0);
    assert.equal(parsed.usingGtid, 'no');
  });

  test('errors name the file and the line', () => {
    const lines = formatMasterInfo(full).split('\n');
    const broken = (i: number, v: string) => lines.map((l, j) => (j === i ? v : l)).join('\n');
    assert.throws(() => parseMasterInfo(broken(6, 'x'), 'master-a.info'), /^Error: master-a\.info line 7: Master_Port "x"/);
    assert.throws(() => parseMasterInfo(broken(0, 'lines')), /master\.info line 1: the number of lines/);
    assert.throws(() => parseMasterInfo(broken(17, '3 1 2')), /line 18: .*announces 3 ids but has 2/);
    assert.throws(() => parseMasterInfo(broken(33, 'using_gtid=7')), /line 34: using_gtid "7"/);
    assert.throws(() => parseMasterInfo('33\nbin.000001\n4\n'), /line 4: Master_Host is missing/);
    assert.throws(() => parseMasterInfo(''), /line 1/);
    assert.throws(() => formatMasterInfo({ ...full, sourcePassword: 'a\nb' }), /line break/);
  });
});

describe('relay-log.info and multi-master.info formats', () => {
  test('relay-log.info round trip, old 4-line layout, errors', () => {
    const info = { relayLogFile: './relay-bin-a.000002', relayLogPos: 900, relaySourceLogFile: 'mysql-bin.000001',
      execSourceLogPos: 4000, sqlDelay: 30 };
    const text = formatRelayLogInfo(info);
    assert.equal(text, '5\n./relay-bin-a.000002\n900\nmysql-bin.000001\n4000\n30\n');
    assert.deepEqual(parseRelayLogInfo(text), info);
    const mysql = '7\n./r.000001\n4\nb.000001\n154\n0\n1\n1\n';
    assert.equal(formatRelayLogInfo(parseRelayLogInfo(mysql)), mysql);
    assert.deepEqual(parseRelayLogInfo('./r.000003\n77\nb.000002\n88\n'),
      { relayLogFile: './r.000003', relayLogPos: 77, relaySourceLogFile: 'b.000002', execSourceLogPos: 88, sqlDelay: 0 });
    assert.throws(() => parseRelayLogInfo('5\n./r.000001\nx\n', 'relay-log-a.info'), /relay-log-a\.info line 3: Relay_Log_Pos "x"/);
    assert.throws(() => parseRelayLogInfo('5\n./r.000001\n4\nb.000001\n'), /line 5: Exec_Master_Log_Pos is missing/);
  });

  test('multi-master.info', () => {
    assert.deepEqual(parseMultiMasterInfo('a\nsp ace\n'), ['a', 'sp ace']);
    assert.deepEqual(parseMultiMasterInfo(''), []);
    assert.equal(formatMultiMasterInfo(['a', 'sp ace']), 'a\nsp ace\n');
    assert.equal(formatMultiMasterInfo([]), '');
    assert.throws(() => formatMultiMasterInfo(['a\nb']));
  });

  test('file names', () => {
    assert.equal(masterInfoFileName(''), 'master.info');
    assert.equal(relayLogInfoFileName(''), 'relay-log.info');
    assert.equal(masterInfoFileName('dbsv1'), 'master-dbsv1.info');
    assert.equal(relayLogInfoFileName('dbsv1'), 'relay-log-dbsv1.info');
    assert.equal(channelFileSuffix(''), '');
    assert.equal(channelFileSuffix('A/b c'), 'a@002fb@0020c');
  });
});

test('writeFileAtomic replaces the file, sets the mode exactly, leaves no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-info-'));
  try {
    const path = join(dir, 'master.info');
    await writeFile(path, 'old contents that are longer than the new ones');
    await writeFileAtomic(path, 'new\n', 0o600);
    assert.equal(await readFile(path, 'utf8'), 'new\n');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await writeFileAtomic(join(dir, 'relay-log.info'), Buffer.from('x'));
    assert.deepEqual((await readdir(dir)).sort(), ['master.info', 'relay-log.info']);
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'f'), 'x'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('against files a native MariaDB replica writes', () => {
  let source: TestServer;
  let replica: TestServer;
  const names = ['dbsv1', 'a/b', 'sp ace', 'UPPER', 'Ünï', 'dot.x', 'per%c', 'dash-x', '@at', 'tab\tx', 'ünïcödé_ß'];

  before(async () => {
    [source, replica] = await Promise.all([startMariaDb({ serverId: 81 }), startMariaDb({ serverId: 82 })]);
    await source.sql('CREATE DATABASE d', 'CREATE TABLE d.t (id INT PRIMARY KEY)', 'INSERT INTO d.t VALUES (1), (2)');
    await replica.sql(
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${source.port}, MASTER_USER='root', ` +
      "MASTER_PASSWORD='', MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4, MASTER_DELAY=0",
      "CHANGE MASTER 'dbsv1' TO MASTER_HOST='127.0.0.2', MASTER_PORT=3399, MASTER_USER='repl', " +
      "MASTER_PASSWORD='s3cr et', MASTER_HEARTBEAT_PERIOD=7.5, IGNORE_SERVER_IDS=(5,3), MASTER_SSL=1, " +
      "MASTER_SSL_CA='/x/ca.pem', MASTER_SSL_KEY='/x/k.pem', MASTER_SSL_CAPATH='/x/cas', MASTER_SSL_CERT='/x/c.pem', " +
      "MASTER_SSL_CIPHER='ECDHE-RSA-AES128-GCM-SHA256', MASTER_SSL_CRL='/x/crl.pem', MASTER_SSL_CRLPATH='/x/crls', " +
      'MASTER_SSL_VERIFY_SERVER_CERT=1, MASTER_USE_GTID=slave_pos, DO_DOMAIN_IDS=(2,1), ' +
      'MASTER_DELAY=30, MASTER_CONNECT_RETRY=11',
      ...names.slice(1).map((name, i) => `CHANGE MASTER '${name}' TO MASTER_HOST='127.0.0.1', MASTER_PORT=${2000 + i}`),
      'START SLAVE',
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [status] = await replica.sql('SHOW SLAVE STATUS');
      const [master] = await source.sql('SHOW MASTER STATUS');
      if (status.Exec_Master_Log_Pos === Number(master.Position)) break;
      if (Date.now() > deadline) throw new Error(`native replica did not catch up: ${status.Last_IO_Error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await replica.sql('STOP SLAVE');
  });

  after(async () => {
    await Promise.all([source?.destroy(), replica?.destroy()]);
  });

  const read = (file: string) => readFile(join(replica.dataDir, file), 'utf8');

  test('master.info of the default channel: parsed, and formatted back byte for byte', async () => {
    const text = await read(masterInfoFileName(''));
    const info = parseMasterInfo(text);
    const [master] = await source.sql('SHOW MASTER STATUS');
    assert.equal(info.sourceLogFile, 'mysql-bin.000001');
    assert.equal(info.readSourceLogPos, Number(master.Position));
    assert.equal(info.sourceHost, '127.0.0.1');
    assert.equal(info.sourcePort, source.port);
    assert.equal(info.sourceUser, 'root');
    assert.equal(info.usingGtid, 'no');
    assert.equal(formatMasterInfo(info), text);
  });

  test('master.info of a named channel with every option set', async () => {
    const text = await read('master-dbsv1.info');
    const info = parseMasterInfo(text, 'master-dbsv1.info');
    assert.deepEqual(
      { ...info, extraLines: undefined },
      {
        ...defaultMasterInfo(), sourceHost: '127.0.0.2', sourcePort: 3399, sourceUser: 'repl', sourcePassword: 's3cr et',
        sourceLogFile: '', readSourceLogPos: 4, sourceConnectRetry: 11, sslAllowed: true, sslCa: '/x/ca.pem',
        sslKey: '/x/k.pem', sslCaPath: '/x/cas', sslCert: '/x/c.pem', sslCipher: 'ECDHE-RSA-AES128-GCM-SHA256',
        sslCrl: '/x/crl.pem', sslCrlPath: '/x/crls', sslVerifyServerCert: true, heartbeatPeriod: 7.5,
        ignoreServerIds: [3, 5], usingGtid: 'slave_pos', doDomainIds: [1, 2], extraLines: undefined,
      },
    );
    assert.equal(formatMasterInfo(info), text);
  });

  test('relay-log.info: parsed, and formatted back byte for byte', async () => {
    const text = await read(relayLogInfoFileName(''));
    const info = parseRelayLogInfo(text);
    const [master] = await source.sql('SHOW MASTER STATUS');
    assert.match(info.relayLogFile, /^\.\/.*relay-bin\.\d{6}$/);
    assert.equal(info.relaySourceLogFile, 'mysql-bin.000001');
    assert.equal(info.execSourceLogPos, Number(master.Position));
    assert.ok(info.relayLogPos > 4);
    assert.equal(formatRelayLogInfo(info), text);
    const delayed = parseRelayLogInfo(await read('relay-log-dbsv1.info'));
    assert.equal(delayed.sqlDelay, 30);
  });

  test('multi-master.info and the file names of unusual channel names', async () => {
    const text = await read('multi-master.info');
    assert.deepEqual(parseMultiMasterInfo(text), names);
    assert.equal(formatMultiMasterInfo(names), text);
    const files = new Set(await readdir(replica.dataDir));
    for (const name of names) {
      assert.ok(files.has(masterInfoFileName(name)), `${masterInfoFileName(name)} for ${JSON.stringify(name)}`);
      assert.ok(files.has(relayLogInfoFileName(name)), `${relayLogInfoFileName(name)} for ${JSON.stringify(name)}`);
      const relayInfo = parseRelayLogInfo(await read(relayLogInfoFileName(name)));
      assert.equal(relayInfo.relayLogFile, `./mariadbd-relay-bin-${channelFileSuffix(name)}.000001`);
    }
  });

  test('the filename charset and lower-casing match the server for the scripts they treat specially', async () => {
    const ranges = [[0x20, 0x7ff], [0x1000, 0x1fff], [0x2100, 0x2cff], [0xa600, 0xa7ff], [0xff00, 0xffff]];
    const codePoints = ranges.flatMap(([a, b]) => Array.from({ length: b! - a! + 1 }, (_, i) => a! + i));
    const conn = await replica.connect();
    try {
      for (let i = 0; i < codePoints.length; i += 1500) {
        const batch = codePoints.slice(i, i + 1500);
        const [rows] = await conn.query(batch.map((cp) => {
          const hex = Buffer.from(String.fromCodePoint(cp)).toString('hex');
          return `SELECT ${cp} AS cp, HEX(CAST(CONVERT(LOWER(CONVERT(X'${hex}' USING utf8mb3) COLLATE ` +
            'utf8mb3_general_ci) USING filename) AS BINARY)) AS fn';
        }).join(' UNION ALL ')) as unknown as [Array<{ cp: number; fn: string }>];
        for (const { cp, fn } of rows) {
          const expected = Buffer.from(fn, 'hex').toString('latin1');
          assert.equal(toFilenameCharset(lowerConnectionName(String.fromCodePoint(cp))), expected, `U+${cp.toString(16)}`);
        }
      }
    } finally {
      await conn.end();
    }
  });
});
