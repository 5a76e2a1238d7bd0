// The log an operator reads: a connect, catch-up, rotation, stop and reopen leave the lines needed to
// reconstruct what happened, errors have one shape, and no secret appears anywhere, whatever object is logged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ReplicationEngine, type EngineOptions } from '../src/index.js';
import { catchUp, tempDir, until } from './helpers/replica.js';
import { freePort, startMariaDb, type TestServer } from './helpers/servers.js';

const SOURCE_PASSWORD = 'src-Secret-7f3a';
const TARGET_PASSWORD = 'tgt-Secret-91bc';
const ADMIN_PASSWORD = 'adm-Secret-42de';
const SSL_KEY_PATH = '/etc/tributary/ssl-key-Secret-55aa.pem';

interface Line {
  level: number;
  msg: string;
  channel?: string;
  err?: { type: string; errno: number; code: string; message: string };
  [key: string]: unknown;
}

describe('operator log', () => {
  let source: TestServer;
  let target: TestServer;
  const text: string[] = [];
  const lines = () => text.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  const find = (pattern: RegExp, from = 0) => lines().slice(from).filter((l) => pattern.test(l.msg));

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 191 }), startMariaDb({ serverId: 291, noBinlog: true })]);
    await source.sql('SET sql_log_bin = 0', `CREATE USER 'repl'@'%' IDENTIFIED BY '${SOURCE_PASSWORD}'`,
      "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'%'");
    await target.sql(`CREATE USER 'applier'@'%' IDENTIFIED BY '${TARGET_PASSWORD}'`, "GRANT ALL ON *.* TO 'applier'@'%'");
    await source.sql('CREATE DATABASE shop', 'CREATE TABLE shop.t (id INT PRIMARY KEY)',
      ...Array.from({ length: 10 }, (_, i) => `INSERT INTO shop.t VALUES (${i})`));
  });

  after(async () => {
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('connect, catch up, rotate, stop and reopen are in the log, with no secret', async () => {
    const logger = pino({ level: 'debug' }, { write: (chunk: string) => { text.push(chunk); } });
    const options = {
      dataDir: await tempDir('logs'), serverId: 3001, logger,
      target: { host: target.host, port: target.port, user: 'applier', password: TARGET_PASSWORD },
      // The CLI passes its whole configuration; the admin endpoint's password is in it.
      admin: { host: '127.0.0.1', port: 6033, user: 'admin', password: ADMIN_PASSWORD },
    } as EngineOptions;
    let engine = await ReplicationEngine.open(options);
    await engine.changeReplicationSource('dbsv1', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'repl', sourcePassword: SOURCE_PASSWORD,
      sourceConnectRetry: 1, sourceSslKey: SSL_KEY_PATH,
    });
    await engine.startReplica('dbsv1');
    await catchUp(engine, 'dbsv1', source);
    await source.sql('FLUSH BINARY LOGS', 'INSERT INTO shop.t VALUES (100)');
    await catchUp(engine, 'dbsv1', source);
    await engine.stopReplica('dbsv1');
    const read = (await engine.replicaStatus('dbsv1')).readSourceLogPos;
    await engine.close();

    const reopenedAt = lines().length;
    engine = await ReplicationEngine.open(options);
    try {
      await engine.startReplica('dbsv1');
      await catchUp(engine, 'dbsv1', source);
    } finally {
      await engine.close();
    }

    const ours = lines().filter((l) => l.channel === 'dbsv1');
    const info = (pattern: RegExp, from = 0) => {
      const found = find(pattern, from).filter((l) => l.level === 30);
      assert.ok(found.length > 0, `an info line ${pattern}:\n${text.join('')}`);
      return found[0]!;
    };
    assert.equal(info(/^opened .* with 0 channel/).channels instanceof Array, true);
    assert.deepEqual(info(/^I\/O stage starting at source position \(first binlog\):4/).from, { file: '', pos: 4 });
    const connected = info(/^connected to the source 127\.0\.0\.1:\d+ \(.*MariaDB.*, server id 191\)/);
    assert.equal(connected.serverId, 191);
    assert.match(String(connected.serverVersion), /MariaDB/);
    info(/^SQL stage starting at relay log relay-bin-dbsv1\.000001:4/);
    info(/^caught up: applied everything received, up to source position mysql-bin\.000001:\d+/);
    info(/^the source rotated to binlog mysql-bin\.000002/);
    info(/^relay log rotated to relay-bin-dbsv1\.\d{6}/);
    const stopped = info(/^stopped IO_THREAD and SQL_THREAD \(stopReplica\) having read the source up to mysql-bin\.000002:\d+/);
    assert.equal(stopped.reason, 'stopReplica');
    assert.ok(ours.some((l) => l.level === 20 && l.msg === 'batch applied' && Number(l.transactions) >= 1),
      'a debug line per batch');
    // Reopened: the channel continues where it stopped, and says so.
    info(/^opened .* with 1 channel/, reopenedAt);
    const resumed = info(/^I\/O stage starting at source position mysql-bin\.000002:/, reopenedAt);
    assert.deepEqual(resumed.from, { file: 'mysql-bin.000002', pos: read });
    info(/^stopped IO_THREAD and SQL_THREAD \(engine closing\)/, reopenedAt);

    const all = text.join('');
    for (const secret of [SOURCE_PASSWORD, TARGET_PASSWORD, ADMIN_PASSWORD, SSL_KEY_PATH]) {
      assert.ok(!all.includes(secret), `${secret} appears in the log`);
    }
    assert.match(all, /"sourcePassword":"\[redacted\]"/, 'the CHANGE MASTER options were logged, redacted');
    assert.match(all, /"admin":\{[^}]*"password":"\[redacted\]"/, 'the engine options were logged, redacted');
  });

  test('errors have one shape: err with type, errno and message', async () => {
    const from = lines().length;
    const logger = pino({ level: 'info' }, { write: (chunk: string) => { text.push(chunk); } });
    const engine = await ReplicationEngine.open({
      dataDir: await tempDir('logs-err'), serverId: 3001, logger,
      target: { host: target.host, port: target.port, user: 'applier', password: TARGET_PASSWORD },
    });
    try {
      await engine.changeReplicationSource('nowhere', {
        sourceHost: '127.0.0.1', sourcePort: await freePort(), sourceUser: 'repl', sourcePassword: SOURCE_PASSWORD,
        sourceConnectRetry: 1, sourceRetryCount: 1,
      });
      await engine.startReplica('nowhere');
      await until('the I/O stage gave up', async () => (await engine.replicaStatus('nowhere')).ioRunning === 'No');
    } finally {
      await engine.close();
    }
    const retrying = find(/^cannot reach the source; retrying/, from)[0];
    assert.ok(retrying, text.join(''));
    assert.equal(retrying.level, 40);
    assert.equal(retrying.err!.errno, 2003);
    assert.equal(retrying.err!.code, 'CR_CONN_HOST_ERROR');
    assert.match(retrying.err!.message, /Can't connect to server on '127\.0\.0\.1:\d+'/);
    const stopped = find(/^I\/O stage stopped with an error/, from)[0];
    assert.ok(stopped, text.join(''));
    assert.equal(stopped.level, 50);
    assert.equal(stopped.err!.errno, 2003);
    assert.equal(typeof stopped.err!.type, 'string');
    assert.match(stopped.err!.message, /^error connecting to master 'repl@127\.0\.0\.1:\d+' - retry-time: 1 /);
    assert.ok(!text.join('').includes(SOURCE_PASSWORD));
  });
});
