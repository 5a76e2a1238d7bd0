// A channel from a MySQL 8.4 source (issue 9, parts 4 and 6): logging in as a MySQL 8.4 replica does
// (caching_sha2_password's fast path and full authentication, over TLS and over RSA with the source's key,
// sha256_password), the 8.4 words on connect (source_* user variables), and a real MySQL binlog replicated
// into a MariaDB target. The source is the simulated one (test/helpers/fake-source.ts) serving the binlog a
// MySQL 8.0.46 server wrote for the workload below, or, with TRIBUTARY_TEST_SOURCE set, a real MySQL 8.4
// given the same workload through SQL; TRIBUTARY_TEST_TARGET names a target instead of a throwaway mariadbd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { ReplicationEngine, ReplicaStatus } from '../src/index.js';
import { formatMasterInfo, parseMasterInfo, defaultMasterInfo } from '../src/info/master-info.js';
import { sha2Scramble } from '../src/protocol/auth.js';
import { sourceWording } from '../src/protocol/dump.js';
import { binlogFileEvents, mysqlFixtures } from './helpers/binlog-events.js';
import { externalServer, externalTarget, parseServerUrl, type ExternalServer } from './helpers/external-servers.js';
import { startFakeSource, type FakeSource } from './helpers/fake-source.js';
import { openEngine, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const FIXTURE = 'mysqlbinlog2parquet__01-basic-crud.binlog';
const FIXTURE_FILE = 'mysql-bin.000005';
/** The statements the fixture's binlog holds, in the database binlogtest. */
const WORKLOAD = [
  `CREATE TABLE IF NOT EXISTS customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64) NOT NULL,
    email VARCHAR(128) NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS items (id INT PRIMARY KEY AUTO_INCREMENT, sku VARCHAR(64) NOT NULL, qty INT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`,
  "INSERT INTO customers (name, email) VALUES ('Alice', 'alice@example.com'), ('Bob', 'bob@example.com')",
  "INSERT INTO items (sku, qty) VALUES ('sku-0001', 10), ('sku-0002', 25), ('sku-0003', 5)",
  "UPDATE items SET qty = 11 WHERE sku = 'sku-0001'",
  "UPDATE customers SET email = 'alice+new@example.com' WHERE name = 'Alice'",
  "DELETE FROM items WHERE sku = 'sku-0002'",
];
const CUSTOMERS = [
  { id: 1, name: 'Alice', email: 'alice+new@example.com' },
  { id: 2, name: 'Bob', email: 'bob@example.com' },
];
const ITEMS = [{ id: 1, sku: 'sku-0001', qty: 11 }, { id: 3, sku: 'sku-0003', qty: 5 }];

const PASSWORD = 'S3cret-pw';
/** One account per path, so that each login is the account's first (no cached fast path) unless a test wants it. */
const USERS = {
  rsaAsked: 'repl_rsa', tls: 'repl_tls', keyFile: 'repl_keyfile', refused: 'repl_refused', wrong: 'repl_wrong',
  sha256: 'repl_sha256', sha256Tls: 'repl_sha256_tls', ldap: 'repl_ldap',
} as const;

const run = promisify(execFile);

function pluginOf(user: string): string {
  return user === USERS.ldap ? 'authentication_ldap_sasl'
    : user.startsWith('repl_sha256') ? 'sha256_password' : 'caching_sha2_password';
}

/** The source the channels replicate from: where it is, where the workload starts and ends in its binlog. */
interface Source {
  host: string;
  port: number;
  start: { file: string; pos: number };
  end: { file: string; pos: number };
  /** The source's RSA public key (PEM). */
  publicKeyPem: string;
  /** Only with the simulated source: how each login went. */
  fake?: FakeSource;
}

async function fakeSource(certs: { key: string; cert: string }): Promise<Source> {
  const fixture = (await mysqlFixtures()).find((f) => f.name === FIXTURE);
  assert.ok(fixture, `fixture ${FIXTURE}`);
  const events = binlogFileEvents(fixture.data);
  const fake = await startFakeSource({
    serverId: 1, version: '8.4.3', checksum: 'CRC32', uuid: '8a18b986-434f-11f1-a27f-ce6a53da2f24',
    binlogFile: FIXTURE_FILE, events: events.map((e) => e.raw),
    mysqlAuth: {
      tls: certs,
      users: Object.values(USERS).map((user) => ({ user, password: PASSWORD, plugin: pluginOf(user) })),
    },
  });
  // The rows start after Format_description, Previous_gtids and the two CREATE TABLEs (Gtid and Query each); the
  // last event is the Rotate to the next file.
  return { host: fake.host, port: fake.port, start: { file: FIXTURE_FILE, pos: events[6]!.pos },
    end: { file: FIXTURE_FILE, pos: events.at(-1)!.pos }, publicKeyPem: fake.publicKeyPem, fake };
}

async function realSource(server: ExternalServer): Promise<Source> {
  for (const user of Object.values(USERS)) {
    const plugin = pluginOf(user);
    // MySQL Enterprise's LDAP plugin is not on the community server: that account is the simulated source's only.
    if (plugin === 'authentication_ldap_sasl') continue;
    await server.sql(`DROP USER IF EXISTS '${user}'@'%'`, `CREATE USER '${user}'@'%' IDENTIFIED WITH ${plugin} BY '${PASSWORD}'`,
      `GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${user}'@'%'`);
  }
  const [version] = await server.sql('SELECT VERSION() AS v') as { v: string }[];
  const status = sourceWording('mysql', version!.v).binaryLogStatus;
  const position = async () => {
    const [row] = await server.sql(status) as { File: string; Position: number }[];
    return { file: row!.File, pos: Number(row!.Position) };
  };
  await server.sql('DROP DATABASE IF EXISTS binlogtest', 'CREATE DATABASE binlogtest', 'USE binlogtest', ...WORKLOAD.slice(0, 2));
  const start = await position();
  await server.sql('USE binlogtest', ...WORKLOAD.slice(2));
  const [key] = await server.sql("SHOW STATUS LIKE 'Caching_sha2_password_rsa_public_key'") as { Value: string }[];
  return { host: server.host, port: server.port, start, end: await position(), publicKeyPem: key!.Value };
}

describe('a MySQL 8.4 source: authentication and the 8.4 words on connect', () => {
  let target: TestServer;
  let source: Source;
  let engine: ReplicationEngine;
  let dir: string;

  before(async () => {
    dir = await tempDir('mysql-source');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=fake-mysql-84']);
    const certs = { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') };
    const realSourceServer = externalServer('TRIBUTARY_TEST_SOURCE');
    source = realSourceServer ? await realSource(realSourceServer) : await fakeSource(certs);
    const realTarget = externalServer('TRIBUTARY_TEST_TARGET');
    target = realTarget ? externalTarget(realTarget) : await startMariaDb({ serverId: 301, noBinlog: true });
    engine = await openEngine(target, { dataDir: join(dir, 'data') });
  });

  after(async () => {
    await engine?.close();
    await source?.fake?.close();
    await target?.destroy();
  });

  /** A channel with these options, started; resolves with its status once it stopped retrying or failing. */
  async function connect(user: string, options: Record<string, unknown> = {}, password = PASSWORD): Promise<{ channel: string; status: ReplicaStatus }> {
    // One channel, cleared for each login: the engine refuses a second channel to the same source.
    const channel = 'mysql84';
    if (engine.channelNames().includes(channel)) {
      await engine.stopReplica(channel);
      await engine.resetReplica(channel, { all: true });
    }
    await engine.changeReplicationSource(channel, {
      sourceHost: source.host, sourcePort: source.port, sourceUser: user, sourcePassword: password,
      sourceLogFile: source.start.file, sourceLogPos: source.start.pos, sourceConnectRetry: 1, ...options,
    });
    await engine.startReplica(channel, { threads: ['IO_THREAD'] });
    const status = await until(`channel ${channel} connected or refused`, async () => {
      const s = await engine.replicaStatus(channel);
      return (s.ioRunning === 'Yes' || s.lastIoErrno !== 0) && s;
    });
    return { channel, status };
  }

  /**
   * Applies the workload's rows through the channel and compares the target with the rows the binlog holds.
   * MySQL 8 writes its DDL with its default collation, utf8mb4_0900_ai_ci (255), which MariaDB 10.11 does not
   * know (mapping it is issue 9's part 5): the tables are made on the target here, the channel starts after them.
   */
  async function replicates(channel: string): Promise<void> {
    await target.sql('DROP DATABASE IF EXISTS binlogtest', 'CREATE DATABASE binlogtest', 'USE binlogtest', ...WORKLOAD.slice(0, 2));
    await engine.startReplica(channel, { threads: ['SQL_THREAD'] });
    const waited = await engine.sourcePosWait(channel, source.end.file, source.end.pos, 60);
    const status = await engine.replicaStatus(channel);
    assert.ok(waited !== null && waited >= 0, `the channel did not reach the end of the workload: ${JSON.stringify(status)}`);
    assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
    assert.deepEqual(await target.sql('SELECT id, name, email FROM binlogtest.customers ORDER BY id'), CUSTOMERS);
    assert.deepEqual(await target.sql('SELECT id, sku, qty FROM binlogtest.items ORDER BY id'), ITEMS);
    await engine.stopReplica(channel);
  }

  function lastLogin(user: string) {
    return source.fake?.authentications.filter((a) => a.user === user).at(-1);
  }

  test('caching_sha2_password without TLS: full authentication with the key asked of the source (getSourcePublicKey), then the fast path without either', async () => {
    const { channel, status } = await connect(USERS.rsaAsked, { getSourcePublicKey: true });
    assert.equal(status.lastIoErrno, 0, status.lastIoError);
    if (source.fake) assert.deepEqual(lastLogin(USERS.rsaAsked), { user: USERS.rsaAsked, plugin: 'caching_sha2_password', method: 'rsa', keyRequested: true, ok: true });
    assert.equal(status.getSourcePublicKey, 1);
    await replicates(channel);
    // The next login finds the account in the source's cache: no password is sent, so neither TLS nor a key is needed.
    const again = await connect(USERS.rsaAsked);
    assert.equal(again.status.lastIoErrno, 0, again.status.lastIoError);
    if (source.fake) assert.equal(lastLogin(USERS.rsaAsked)!.method, 'fast');
    await engine.stopReplica(again.channel);
  });

  test('caching_sha2_password over TLS: the password goes over the encrypted channel, no key needed; heartbeats come', async () => {
    const { channel, status } = await connect(USERS.tls, { sourceSsl: true, sourceHeartbeatPeriod: 0.2 });
    assert.equal(status.lastIoErrno, 0, status.lastIoError);
    if (source.fake) assert.deepEqual(lastLogin(USERS.tls), { user: USERS.tls, plugin: 'caching_sha2_password', method: 'tls', keyRequested: false, ok: true });
    // The period went out as @source_heartbeat_period, the only name an 8.4 source reads.
    await until('a heartbeat from the idle source', async () => (await engine.replicaStatus(channel)).receivedHeartbeats > 0);
    await replicates(channel);
  });

  test('caching_sha2_password without TLS, the key read from sourcePublicKeyPath: never asked of the source; kept in master.info and shown', async () => {
    const keyFile = join(dir, 'source-public-key.pem');
    await writeFile(keyFile, source.publicKeyPem);
    const { channel, status } = await connect(USERS.keyFile, { sourcePublicKeyPath: keyFile });
    assert.equal(status.lastIoErrno, 0, status.lastIoError);
    if (source.fake) assert.deepEqual(lastLogin(USERS.keyFile), { user: USERS.keyFile, plugin: 'caching_sha2_password', method: 'rsa', keyRequested: false, ok: true });
    assert.equal(status.sourcePublicKeyPath, keyFile);
    assert.equal(status.getSourcePublicKey, 0);
    await replicates(channel);
    // Kept across a restart, in master.info as a line MariaDB passes over.
    assert.match(await readFile(join(dir, 'data', `master-${channel}.info`), 'utf8'), new RegExp(`\npublic_key_path=${keyFile}\n`));
    await engine.close();
    engine = await openEngine(target, { dataDir: join(dir, 'data') });
    assert.equal((await engine.replicaStatus(channel)).sourcePublicKeyPath, keyFile);
  });

  test('sha256_password: RSA with the key asked of the source without TLS (whatever getSourcePublicKey says), the password over TLS', async () => {
    const plain = await connect(USERS.sha256);
    assert.equal(plain.status.lastIoErrno, 0, plain.status.lastIoError);
    if (source.fake) assert.deepEqual(lastLogin(USERS.sha256), { user: USERS.sha256, plugin: 'sha256_password', method: 'rsa', keyRequested: true, ok: true });
    await replicates(plain.channel);
    const secure = await connect(USERS.sha256Tls, { sourceSsl: true });
    assert.equal(secure.status.lastIoErrno, 0, secure.status.lastIoError);
    if (source.fake) assert.equal(lastLogin(USERS.sha256Tls)!.method, 'tls');
    await engine.stopReplica(secure.channel);
  });

  test('without TLS, key file or permission to ask for the key: 2061, and the password is never sent', async () => {
    const { channel, status } = await connect(USERS.refused);
    assert.equal(status.lastIoErrno, 2061);
    assert.equal(status.ioRunning, 'Connecting');
    assert.match(status.lastIoError, /Authentication plugin 'caching_sha2_password' reported error: Authentication requires secure connection\./);
    if (source.fake) assert.deepEqual(lastLogin(USERS.refused), { user: USERS.refused, plugin: 'caching_sha2_password', method: 'none', keyRequested: false, ok: false });
    await engine.stopReplica(channel);
  });

  test('an account of a plugin the replica does not have: 2059 naming it', { skip: !!process.env.TRIBUTARY_TEST_SOURCE }, async () => {
    const { channel, status } = await connect(USERS.ldap);
    assert.equal(status.lastIoErrno, 2059);
    assert.match(status.lastIoError, /Authentication plugin 'authentication_ldap_sasl' cannot be loaded: /);
    await engine.stopReplica(channel);
  });

  test('a wrong password: 1045 in Last_IO_Errno while the I/O stage keeps retrying', async () => {
    const { channel, status } = await connect(USERS.wrong, { sourceSsl: true }, 'not-the-password');
    assert.equal(status.lastIoErrno, 1045);
    assert.equal(status.ioRunning, 'Connecting');
    assert.match(status.lastIoError, new RegExp(`Access denied for user '${USERS.wrong}'@`));
    await engine.stopReplica(channel);
  });
});

describe('the client side of caching_sha2_password', () => {
  test('the fast-path scramble is the one mysql2 computes (the simulated source checks it with the same function)', () => {
    // mysql2's own implementation, loaded past its exports map: an independent computation of the same formula.
    const requireCjs = createRequire(import.meta.url);
    const { calculateToken } = requireCjs(join(dirname(requireCjs.resolve('mysql2')), 'lib/auth_plugins/caching_sha2_password.js')) as
      { calculateToken: (password: string, scramble: Buffer) => Buffer };
    const scramble = Buffer.from('0123456789abcdefghij');
    for (const password of ['S3cret-pw', 'pässwörd', 'x']) {
      assert.deepEqual(sha2Scramble(password, scramble), calculateToken(password, scramble), password);
    }
  });
});

describe('the words a replica uses with each source version', () => {
  test('MySQL 8.0.26+ gets the source_* user variables, 8.2+ SHOW BINARY LOG STATUS; MariaDB and older MySQL the master_* ones', () => {
    assert.deepEqual(sourceWording('mysql', '8.4.3'), { checksumVariable: '@source_binlog_checksum',
      heartbeatVariable: '@source_heartbeat_period', binaryLogStatus: 'SHOW BINARY LOG STATUS' });
    assert.deepEqual(sourceWording('mysql', '8.0.26-log'), { checksumVariable: '@source_binlog_checksum',
      heartbeatVariable: '@source_heartbeat_period', binaryLogStatus: 'SHOW MASTER STATUS' });
    for (const [flavor, version] of [['mysql', '8.0.25'], ['mysql', '5.7.44-log'], ['mariadb', '11.4.2-MariaDB']] as const) {
      assert.deepEqual(sourceWording(flavor, version), { checksumVariable: '@master_binlog_checksum',
        heartbeatVariable: '@master_heartbeat_period', binaryLogStatus: 'SHOW MASTER STATUS' }, version);
    }
  });
});

describe('master.info keeps sourcePublicKeyPath and getSourcePublicKey as key=value lines MariaDB passes over', () => {
  test('written only when set, read back, and an unknown line still kept', () => {
    const plain = formatMasterInfo(defaultMasterInfo());
    assert.doesNotMatch(plain, /public_key/);
    const info = { ...defaultMasterInfo(), publicKeyPath: '/etc/keys/source.pem', getPublicKey: true, extraLines: ['future_key=7'] };
    const text = formatMasterInfo(info);
    assert.match(text, /\npublic_key_path=\/etc\/keys\/source\.pem\nget_public_key=1\nfuture_key=7\nEND_MARKER\n$/);
    assert.deepEqual(parseMasterInfo(text), info);
    assert.throws(() => parseMasterInfo(text.replace('get_public_key=1', 'get_public_key=yes')), /get_public_key "yes" is neither 0 nor 1/);
  });
});

describe('TRIBUTARY_TEST_SOURCE / TRIBUTARY_TEST_TARGET', () => {
  test('name a server as mysql://user:password@host:port; the scheme, user, password and port may be left out', () => {
    assert.deepEqual(parseServerUrl('mysql://repl:p%40ss@127.0.0.1:33061', 'X'), { host: '127.0.0.1', port: 33061, user: 'repl', password: 'p@ss' });
    assert.deepEqual(parseServerUrl('127.0.0.1:33063', 'X'), { host: '127.0.0.1', port: 33063, user: 'root', password: '' });
    assert.deepEqual(parseServerUrl('db.example', 'X'), { host: 'db.example', port: 3306, user: 'root', password: '' });
    assert.throws(() => parseServerUrl('postgres://h:1', 'TRIBUTARY_TEST_SOURCE'), /TRIBUTARY_TEST_SOURCE 'postgres:\/\/h:1' is not of the form/);
  });
});
