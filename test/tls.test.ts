// TLS to the source (issue 8, item 6): CHANGE MASTER's MASTER_SSL_* options, as MariaDB 10.x applies them,
// against mariadbd sources with certificates made here by the openssl command and replication users that
// REQUIRE SSL / REQUIRE X509.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { ReplicationEngine, ReplicationSourceOptions } from '../src/index.js';
import { tlsConnectOptions, tlsVersionRange, type SourceSsl, type SslFiles } from '../src/protocol/tls.js';
import type { ReplicaStatus } from '../src/status.js';
import { catchUp, openEngine, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const run = promisify(execFile);

describe('TLS options from master.info', () => {
  const none: SourceSsl = {
    sslCa: '', sslCaPath: '', sslCert: '', sslKey: '', sslCipher: '', sslCrl: '', sslCrlPath: '',
    sslVerifyServerCert: false, tlsVersion: '',
  };
  const noFiles: SslFiles = { ca: [], cert: undefined, key: undefined, crl: [] };
  const ca = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----';
  const forOther = { subject: { CN: 'otherhost' }, subjectaltname: 'DNS:otherhost' } as PeerCertificate;
  const forLoopback = { subject: { CN: 'x' }, subjectaltname: 'IP Address:127.0.0.1, DNS:localhost' } as PeerCertificate;

  test('MASTER_SSL alone: encrypted, the source not authenticated', () => {
    const options = tlsConnectOptions(none, noFiles, '127.0.0.1');
    assert.equal(options.rejectUnauthorized, false);
    assert.equal('ca' in options, false);
    assert.equal(options.checkServerIdentity!('127.0.0.1', forOther), undefined);
    assert.equal('servername' in options, false, 'SNI takes host names, not addresses');
  });

  test('a CA verifies the chain; the host name only with sourceSslVerifyServerCert', () => {
    const withCa = tlsConnectOptions({ ...none, sslCa: '/ca.pem' }, { ...noFiles, ca: [ca] }, '127.0.0.1');
    assert.equal(withCa.rejectUnauthorized, true);
    assert.deepEqual(withCa.ca, [ca]);
    assert.equal(withCa.checkServerIdentity!('127.0.0.1', forOther), undefined);

    const verified = tlsConnectOptions({ ...none, sslCa: '/ca.pem', sslVerifyServerCert: true }, { ...noFiles, ca: [ca] },
      '127.0.0.1');
    assert.equal(verified.checkServerIdentity!('127.0.0.1', forLoopback), undefined);
    const refused = verified.checkServerIdentity!('127.0.0.1', forOther);
    assert.match(String(refused?.message), /certificate is not for 127\.0\.0\.1 \(it names DNS:otherhost\)/);

    const byName = tlsConnectOptions({ ...none, sslVerifyServerCert: true }, noFiles, 'db1.example');
    assert.equal(byName.servername, 'db1.example');
    assert.equal(byName.rejectUnauthorized, true, 'verifying without a CA checks the chain against the default roots');
    assert.equal('ca' in byName, false);
    assert.ok(byName.checkServerIdentity!('db1.example', forOther));
  });

  test('a CA path without certificates trusts nothing, rather than the default roots', () => {
    const options = tlsConnectOptions({ ...none, sslCaPath: '/empty' }, noFiles, '127.0.0.1');
    assert.deepEqual(options.ca, []);
    assert.equal(options.rejectUnauthorized, true);
  });

  test('certificate, key, CRLs, ciphers and protocol versions are passed on', () => {
    const files: SslFiles = { ca: [ca], cert: 'CERT', key: 'KEY', crl: ['CRL1', 'CRL2'] };
    const options = tlsConnectOptions({ ...none, sslCa: '/ca.pem', sslCert: '/c.pem', sslKey: '/k.pem',
      sslCrl: '/crl.pem', sslCipher: 'ECDHE-ECDSA-AES128-GCM-SHA256', tlsVersion: 'TLSv1.3,TLSv1.2' }, files, '::1');
    assert.equal(options.cert, 'CERT');
    assert.equal(options.key, 'KEY');
    assert.deepEqual(options.crl, ['CRL1', 'CRL2']);
    assert.equal(options.ciphers, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    assert.equal(options.minVersion, 'TLSv1.2');
    assert.equal(options.maxVersion, 'TLSv1.3');
  });

  test('MASTER_TLS_VERSION lists', () => {
    assert.deepEqual(tlsVersionRange(''), {});
    assert.deepEqual(tlsVersionRange('tlsv1.3'), { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
    assert.deepEqual(tlsVersionRange('TLSv1.1, TLSv1.2'), { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.2' });
    assert.throws(() => tlsVersionRange('TLSv1.1,TLSv1.3'), /leaves out a version between TLSv1\.1 and TLSv1\.3/);
    assert.throws(() => tlsVersionRange('SSLv3'), /'SSLv3' is not one of TLSv1, TLSv1\.1, TLSv1\.2, TLSv1\.3/);
  });
});

/** A CA, certificates it signs, a revocation list and a second, unrelated CA, made by the openssl command. */
async function makeCertificates(dir: string): Promise<void> {
  try {
    await run('openssl', ['version']);
  } catch {
    throw new Error('the openssl command is missing: install the Debian package openssl (this test makes its ' +
      'certificates with it)');
  }
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tributary-test-ca');
  await openssl('req', '-x509', ...ec, '-keyout', 'wrong-ca.key', '-out', 'wrong-ca.pem', '-days', '2', '-subj', '/CN=another-ca');
  for (const [name, names] of [['server', 'IP:127.0.0.1,DNS:localhost'], ['other', 'DNS:otherhost'], ['client', 'DNS:repl-client']]) {
    await openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    await writeFile(join(dir, `${name}.ext`), `subjectAltName=${names}\n`);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
  }
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'crlnumber'), '01\n');
  await writeFile(join(dir, 'ca.cnf'), `[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = ${join(dir, 'index.txt')}\n` +
    `crlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 2\n`);
  await openssl('ca', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-revoke', 'other.pem');
  await openssl('ca', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-gencrl', '-out', 'crl.pem');
  // A CA directory and a CRL directory, each with a file that holds none of what is looked for.
  await mkdir(join(dir, 'cas'));
  await copyFile(join(dir, 'ca.pem'), join(dir, 'cas', 'ca.pem'));
  await copyFile(join(dir, 'crl.pem'), join(dir, 'cas', 'crl.pem'));
  await mkdir(join(dir, 'crls'));
  await copyFile(join(dir, 'crl.pem'), join(dir, 'crls', 'crl.pem'));
  await writeFile(join(dir, 'crls', 'README'), 'revocation lists of the test CA\n');
}

describe('TLS to a mariadbd source', () => {
  const password = 'tls-pw';
  let certs: string;
  let sourceA: TestServer;
  let sourceB: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;
  let dataDir: string;
  const file = (name: string) => join(certs, name);

  before(async () => {
    certs = await tempDir('certs');
    await makeCertificates(certs);
    const withCertificate = (name: string) => [`--ssl-ca=${file('ca.pem')}`, `--ssl-cert=${file(`${name}.pem`)}`,
      `--ssl-key=${file(`${name}.key`)}`];
    // A's certificate names 127.0.0.1; B's names only 'otherhost', and the CRL revokes it.
    [sourceA, sourceB, target] = await Promise.all([
      startMariaDb({ serverId: 131, args: withCertificate('server') }),
      startMariaDb({ serverId: 132, args: withCertificate('other') }),
      startMariaDb({ serverId: 231, noBinlog: true }),
    ]);
    for (const [source, db] of [[sourceA, 'tls_a'], [sourceB, 'tls_b']] as const) {
      await source.sql('SET SESSION sql_log_bin = 0',
        `CREATE USER 'repl'@'%' IDENTIFIED BY '${password}' REQUIRE SSL`,
        `CREATE USER 'x509'@'%' IDENTIFIED BY '${password}' REQUIRE X509`,
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%', 'x509'@'%'");
      await source.sql(`CREATE DATABASE ${db}`, `CREATE TABLE ${db}.t (id INT PRIMARY KEY, v VARCHAR(20))`,
        `INSERT INTO ${db}.t VALUES (1, 'one'), (2, 'two')`);
    }
    dataDir = await tempDir('tls');
    engine = await openEngine(target, { dataDir });
  });

  after(async () => {
    await engine?.close();
    await Promise.all([sourceA?.destroy(), sourceB?.destroy(), target?.destroy()]);
    if (certs) await rm(certs, { recursive: true, force: true });
  });

  const connection = (source: TestServer): ReplicationSourceOptions => ({
    sourceHost: '127.0.0.1', sourcePort: source.port, sourceUser: 'repl', sourcePassword: password,
    sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1, sourceRetryCount: 1,
  });

  /** Starts the channel, waits for the I/O stage's error, stops the channel and returns the status seen. */
  async function ioFailure(channel: string): Promise<ReplicaStatus> {
    await engine.startReplica(channel);
    const status = await until(`an I/O error on '${channel}'`, async () => {
      const s = await engine.replicaStatus(channel);
      return s.lastIoErrno !== 0 && s;
    });
    await engine.stopReplica(channel);
    return status;
  }

  async function rows(server: TestServer, db: string): Promise<unknown[]> {
    const [exists] = await server.sql(`SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${db}'`);
    return Number(exists.n) === 0 ? [] : server.sql(`SELECT id, v FROM ${db}.t ORDER BY id`);
  }

  async function assertReplicated(channel: string, source: TestServer, db: string): Promise<void> {
    await catchUp(engine, channel, source, 60);
    assert.deepEqual(await rows(target, db), await rows(source, db));
    const s = await engine.replicaStatus(channel);
    assert.equal(s.lastIoErrno, 0);
  }

  test('a wrong CA is refused with error 2026, even without host name checks, and nothing is replicated', async () => {
    await engine.changeReplicationSource('b', { ...connection(sourceB), sourceSsl: true, sourceSslCa: file('wrong-ca.pem') });
    const s = await ioFailure('b');
    assert.equal(s.lastIoErrno, 2026);
    // mariadbd sends its CA along with its certificate
    assert.match(s.lastIoError, /SSL connection error: self-signed certificate in certificate chain \(SELF_SIGNED_CERT_IN_CHAIN\)/);
    assert.equal(s.readSourceLogPos, 4);
    assert.deepEqual(await rows(target, 'tls_b'), []);
  });

  test('a certificate for another host name is refused with sourceSslVerifyServerCert, accepted without', async () => {
    await engine.changeReplicationSource('b', { sourceSslCa: file('ca.pem'), sourceSslVerifyServerCert: true });
    const s = await ioFailure('b');
    assert.equal(s.lastIoErrno, 2026);
    assert.match(s.lastIoError, /SSL connection error: the source's certificate is not for 127\.0\.0\.1 \(it names DNS:otherhost\)/);
    assert.deepEqual(await rows(target, 'tls_b'), []);

    await engine.changeReplicationSource('b', { sourceSslVerifyServerCert: false });
    await engine.startReplica('b');
    await assertReplicated('b', sourceB, 'tls_b');
    await engine.stopReplica('b');
  });

  test('a certificate the CRL revokes is refused; without the CRL replication goes on', async () => {
    await engine.changeReplicationSource('b', { sourceSslCrl: file('crl.pem') });
    await sourceB.sql("INSERT INTO tls_b.t VALUES (3, 'three')");
    const s = await ioFailure('b');
    assert.equal(s.lastIoErrno, 2026);
    assert.match(s.lastIoError, /SSL connection error: certificate revoked/);
    assert.equal((await rows(target, 'tls_b')).length, 2);

    await engine.changeReplicationSource('b', { sourceSslCrl: '' });
    await engine.startReplica('b');
    await assertReplicated('b', sourceB, 'tls_b');
    await engine.stopReplica('b');
  });

  test('replicates over TLS with a verified certificate; the REQUIRE SSL user proves the connection is TLS', async () => {
    await assert.rejects(mysql.createConnection({ ...sourceA.connectionOptions(), user: 'repl', password }),
      { errno: 1045 }, 'the user cannot log in without TLS');
    // The other TLS options do nothing without sourceSsl, as on MariaDB 10.x.
    await engine.changeReplicationSource('a', { ...connection(sourceA), sourceSslCa: file('ca.pem') });
    assert.match((await ioFailure('a')).lastIoError, /Access denied for user 'repl'/);
    assert.deepEqual(await rows(target, 'tls_a'), []);

    await engine.changeReplicationSource('a', {
      sourceSsl: true, sourceSslCa: '', sourceSslCapath: join(certs, 'cas'), sourceSslVerifyServerCert: true,
      sourceSslCrlpath: join(certs, 'crls'), sourceTlsVersion: 'TLSv1.2,TLSv1.3',
    });
    await engine.startReplica('a');
    await assertReplicated('a', sourceA, 'tls_a');
    const s = await engine.replicaStatus('a');
    assert.equal(s.sourceSslAllowed, 'Yes');
    assert.equal(s.sourceSslCaFile, '');
    assert.equal(s.sourceSslCaPath, join(certs, 'cas'));
    assert.equal(s.sourceSslVerifyServerCert, 'Yes');
    assert.equal(s.sourceSslCrlpath, join(certs, 'crls'));
    assert.equal(s.sourceTlsVersion, 'TLSv1.2,TLSv1.3');
    await engine.stopReplica('a');
  });

  test('sourceTlsVersion is applied: a protocol neither side allows is an SSL connection error', async () => {
    await engine.changeReplicationSource('a', { sourceTlsVersion: 'TLSv1.1' });
    const s = await ioFailure('a');
    assert.equal(s.lastIoErrno, 2026);
    assert.match(s.lastIoError, /SSL connection error: /);
    await engine.changeReplicationSource('a', { sourceTlsVersion: 'TLSv1.2,TLSv1.3' });
  });

  test('a REQUIRE X509 user replicates with the client certificate and key, and is refused without', async () => {
    await engine.changeReplicationSource('a', { sourceUser: 'x509' });
    await sourceA.sql("INSERT INTO tls_a.t VALUES (3, 'three')");
    assert.match((await ioFailure('a')).lastIoError, /Access denied for user 'x509'/);
    assert.equal((await rows(target, 'tls_a')).length, 2);

    await engine.changeReplicationSource('a', {
      sourceSslCa: file('ca.pem'), sourceSslCert: file('client.pem'), sourceSslKey: file('client.key'),
      sourceSslCrl: file('crl.pem'), sourceSslCipher: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384',
    });
    await engine.startReplica('a');
    await assertReplicated('a', sourceA, 'tls_a');
    await engine.stopReplica('a');
  });

  test('an unreadable file is an SSL connection error that names it', async () => {
    await engine.changeReplicationSource('a', { sourceSslKey: join(certs, 'missing.key') });
    const s = await ioFailure('a');
    assert.equal(s.lastIoErrno, 2026);
    assert.match(s.lastIoError, /SSL connection error: cannot read sourceSslKey '.*missing\.key': ENOENT/);
    await engine.changeReplicationSource('a', { sourceSslKey: file('client.key') });
  });

  test('master.info keeps the options at MariaDB\'s lines; they survive reopening the engine', async () => {
    const lines = (await readFile(join(dataDir, 'master-a.info'), 'utf8')).split('\n');
    assert.deepEqual(lines.slice(8, 15), ['1', file('ca.pem'), join(certs, 'cas'), file('client.pem'),
      'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384', file('client.key'), '1']);
    assert.deepEqual(lines.slice(20, 22), [file('crl.pem'), join(certs, 'crls')]);
    assert.ok(lines.includes('tls_version=TLSv1.2,TLSv1.3'));
    assert.ok(lines.indexOf('tls_version=TLSv1.2,TLSv1.3') > lines.indexOf('ignore_domain_ids=0'));

    const before = await engine.replicaStatus('a');
    await engine.close();
    engine = await openEngine(target, { dataDir });
    const after = await engine.replicaStatus('a');
    for (const key of ['sourceSslAllowed', 'sourceSslCaFile', 'sourceSslCaPath', 'sourceSslCert', 'sourceSslCipher',
      'sourceSslKey', 'sourceSslVerifyServerCert', 'sourceSslCrl', 'sourceSslCrlpath', 'sourceTlsVersion'] as const) {
      assert.equal(after[key], before[key], key);
    }
    assert.equal(after.sourceSslCert, file('client.pem'));
    await sourceA.sql("INSERT INTO tls_a.t VALUES (4, 'four')");
    await engine.startReplica('a');
    await assertReplicated('a', sourceA, 'tls_a');
    await engine.stopReplica('a');
  });

  test('options the engine does not implement, wrong types and bad values are refused; nothing changes', async () => {
    const info = await readFile(join(dataDir, 'master-a.info'), 'utf8');
    const refused = async (options: Record<string, unknown>, message: RegExp) =>
      assert.rejects(engine.changeReplicationSource('a', options as ReplicationSourceOptions),
        { code: 'ER_WRONG_ARGUMENTS', errno: 1210, message });
    await refused({ sourceTlsCiphersuites: 'TLS_AES_128_GCM_SHA256' }, /unknown source option 'sourceTlsCiphersuites'/);
    await refused({ sourceSSL: true }, /unknown source option 'sourceSSL'/);
    await refused({ sourceHost: '127.0.0.1', sourceCompressionAlgorithms: 'zstd' }, /'sourceCompressionAlgorithms'/);
    await refused({ sourceSsl: 1 }, /sourceSsl must be true or false/);
    await refused({ sourceSslVerifyServerCert: 'yes' }, /sourceSslVerifyServerCert must be true or false/);
    await refused({ sourcePort: '3306' }, /sourcePort must be a number/);
    await refused({ sourceSslCa: 'certs/ca.pem' }, /sourceSslCa must be an absolute path/);
    await refused({ sourceSslCert: `/${'c'.repeat(511)}` }, /sourceSslCert is longer than 511 characters/);
    await refused({ sourceTlsVersion: 'TLSv1.1,TLSv1.3' }, /leaves out a version/);
    await refused({ sourceTlsVersion: 'SSLv3' }, /'SSLv3' is not one of/);
    assert.equal(await readFile(join(dataDir, 'master-a.info'), 'utf8'), info);
  });
});
