// The admin endpoint as an operator uses it: the `mariadb` client runs seed 000's multi-source sequence against
// tributary's admin port and against a native MariaDB 10.11 replica, and gets the same answers; mysql2 as a client
// sees the target's data through the same port, in sessions of its own, and the servers' errors. Before the admin
// endpoint existed, engine.adminAddress() and the `admin` option did not: every test here failed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { ReplicationEngine } from '../src/index.js';
import { startNativeReplica, type NativeReplica } from './helpers/native-replica.js';
import { openEngine, sourceStatus, tempDir } from './helpers/replica.js';
import { freePort, startMariaDb, type TestServer } from './helpers/servers.js';

const exec = promisify(execFile);
const USER = 'admin';
const PASSWORD = 'adm1n-secret';

let sources: TestServer[];
let target: TestServer;
let native: NativeReplica;
let engine: ReplicationEngine;
let adminPort: number;

interface Endpoint {
  port: number;
  user: string;
  password: string;
}

const admin = (): Endpoint => ({ port: adminPort, user: USER, password: PASSWORD });
const nativeEndpoint = (): Endpoint => ({ port: native.server.port, user: native.server.user, password: native.server.password });

/** Runs statements with the `mariadb` client binary, as an operator would; its stdout. */
async function client(endpoint: Endpoint, script: string): Promise<string> {
  const { stdout } = await exec('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${endpoint.port}`, `-u${endpoint.user}`,
    ...(endpoint.password ? [`-p${endpoint.password}`] : []), '-e', script]);
  return stdout;
}

/** The rows of `\G` output, each as [column, value] pairs in order. */
function vertical(output: string): [string, string][][] {
  const rows: [string, string][][] = [];
  for (const line of output.split('\n')) {
    if (/^\*+ \d+\. row \*+$/.test(line)) rows.push([]);
    else if (rows.length > 0 && /^\s*\w+: ?/.test(line)) {
      const at = line.indexOf(': ');
      rows.at(-1)!.push(at < 0 ? [line.trim().replace(/:$/, ''), ''] : [line.slice(0, at).trim(), line.slice(at + 2)]);
    }
  }
  return rows;
}

/** Tab-separated output of the client: the header and the rows. */
function table(output: string): { columns: string[]; rows: string[][] } {
  const [head = '', ...lines] = output.split('\n').filter((line) => line !== '');
  return { columns: head.split('\t'), rows: lines.map((line) => line.split('\t')) };
}

/** The columns whose values a replica of the same sources, with the same rules, must show the same. */
const AGREE = ['Connection_name', 'Master_Host', 'Master_User', 'Master_Port', 'Connect_Retry', 'Master_Log_File',
  'Read_Master_Log_Pos', 'Relay_Master_Log_File', 'Slave_IO_Running', 'Slave_SQL_Running', 'Replicate_Do_DB',
  'Replicate_Ignore_DB', 'Replicate_Do_Table', 'Replicate_Ignore_Table', 'Replicate_Wild_Do_Table',
  'Replicate_Wild_Ignore_Table', 'Last_Errno', 'Last_Error', 'Skip_Counter', 'Exec_Master_Log_Pos', 'Until_Condition',
  'Until_Log_File', 'Until_Log_Pos', 'Master_SSL_Allowed', 'Master_SSL_Verify_Server_Cert', 'Last_IO_Errno', 'Last_IO_Error',
  'Last_SQL_Errno', 'Last_SQL_Error', 'Replicate_Ignore_Server_Ids', 'Master_Server_Id', 'Using_Gtid', 'SQL_Delay',
  'SQL_Remaining_Delay', 'Replicate_Rewrite_DB', 'Retried_transactions', 'Max_relay_log_size'];

function assertSameStatus(ours: [string, string][][], theirs: [string, string][][], when: string): void {
  assert.equal(ours.length, theirs.length, `${when}: rows`);
  assert.ok(theirs.length > 0);
  for (const [i, row] of theirs.entries()) {
    assert.deepEqual(ours[i]!.map(([name]) => name), row.map(([name]) => name), `${when}: the columns, name for name and in order`);
    const mine = new Map(ours[i]);
    for (const [name, value] of row) {
      if (AGREE.includes(name)) assert.equal(mine.get(name), value, `${when}: ${name} of row ${i + 1}`);
    }
  }
}

before(async () => {
  [target, native, ...sources] = await Promise.all([
    startMariaDb({ serverId: 3101, noBinlog: true }), startNativeReplica({ serverId: 3102 }),
    startMariaDb({ serverId: 3111 }), startMariaDb({ serverId: 3112 }),
  ]) as [TestServer, NativeReplica, TestServer, TestServer];
  engine = await openEngine(target, { admin: { port: 0, user: USER, password: PASSWORD } });
  adminPort = engine.adminAddress()!.port;
});

after(async () => {
  await engine?.close();
  await Promise.all([target, native, ...(sources ?? [])].map((s) => s?.destroy()));
});

test('seed 000 with the mariadb client: two connections, replicate_do_db, START ALL SLAVES ... STOP ALL SLAVES, as on a native replica', async () => {
  const [dbsv1, dbsv2] = sources as [TestServer, TestServer];
  // Each source's schema exists on the replicas already, as the seed's dump put it there; replication starts after it.
  for (const [i, source] of [dbsv1, dbsv2].entries()) {
    await source.sql(`CREATE DATABASE ttt${i + 1}`, `CREATE DATABASE other${i + 1}`);
  }
  await target.sql('CREATE DATABASE ttt1', 'CREATE DATABASE ttt2');
  await native.server.sql('CREATE DATABASE ttt1', 'CREATE DATABASE ttt2');
  const starts = await Promise.all([dbsv1, dbsv2].map(sourceStatus));
  const setup = [dbsv1, dbsv2].map((source, i) => `CHANGE MASTER 'dbsv${i + 1}' TO MASTER_HOST = '127.0.0.1', ` +
    `MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_PORT = ${source.port}, MASTER_LOG_FILE = '${starts[i]!.file}', ` +
    `MASTER_LOG_POS = ${starts[i]!.pos}; SET GLOBAL dbsv${i + 1}.replicate_do_db = 'ttt${i + 1}';`).join('\n');
  const script = `SET @@default_master_connection='dbsv1';\n${setup}\nselect @@default_master_connection;\nstart all slaves;`;
  const [ours, theirs] = await Promise.all([client(admin(), script), client(nativeEndpoint(), script)]);
  assert.deepEqual(table(ours), table(theirs));
  assert.deepEqual(table(ours).rows, [['dbsv1']]);

  for (const [i, source] of [dbsv1, dbsv2].entries()) {
    // replicate_do_db judges statements by their default database, as the seed's applications use theirs.
    await source.sql(`USE ttt${i + 1}`, 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))',
      'INSERT INTO t VALUES (1, \'a\'), (2, \'b\'), (3, \'c\')', 'UPDATE t SET v = \'z\' WHERE id = 2',
      `USE other${i + 1}`, 'CREATE TABLE filtered (id INT PRIMARY KEY)', 'INSERT INTO filtered VALUES (1)');
  }
  for (const [i, source] of [dbsv1, dbsv2].entries()) {
    const { file, pos } = await sourceStatus(source);
    const wait = `SELECT MASTER_POS_WAIT('${file}', ${pos}, 60, 'dbsv${i + 1}');`;
    const [mine, native2] = (await Promise.all([client(admin(), wait), client(nativeEndpoint(), wait)])).map(table);
    assert.deepEqual(mine!.columns, native2!.columns);
    assert.ok(Number(mine!.rows[0]![0]) >= 0 && Number(native2!.rows[0]![0]) >= 0, `${mine!.rows} / ${native2!.rows}`);
  }

  const running = await Promise.all([client(admin(), 'SHOW ALL SLAVES STATUS\\G'), client(nativeEndpoint(), 'SHOW ALL SLAVES STATUS\\G')]);
  assertSameStatus(vertical(running[0]), vertical(running[1]), 'running');
  assert.deepEqual(vertical(running[0]).map((row) => new Map(row).get('Connection_name')), ['dbsv1', 'dbsv2']);

  const events = 'FLUSH RELAY LOGS \'dbsv1\';\nSHOW RELAYLOG \'dbsv1\' EVENTS LIMIT 5;';
  const [ourEvents, theirEvents] = (await Promise.all([client(admin(), events), client(nativeEndpoint(), events)])).map(table);
  assert.deepEqual(ourEvents!.columns, theirEvents!.columns);
  assert.deepEqual(ourEvents!.columns, ['Log_name', 'Pos', 'Event_type', 'Server_id', 'End_log_pos', 'Info']);
  assert.ok(ourEvents!.rows.length > 0 && ourEvents!.rows.length <= 5);
  assert.equal(ourEvents!.rows[0]![1], theirEvents!.rows[0]![1]);
  assert.equal(ourEvents!.rows[0]![2], theirEvents!.rows[0]![2]);

  await Promise.all([client(admin(), 'STOP ALL SLAVES;'), client(nativeEndpoint(), 'STOP ALL SLAVES;')]);
  const stopped = await Promise.all([client(admin(), 'SHOW ALL SLAVES STATUS\\G'), client(nativeEndpoint(), 'SHOW ALL SLAVES STATUS\\G')]);
  assertSameStatus(vertical(stopped[0]), vertical(stopped[1]), 'stopped');
  assert.ok(vertical(stopped[0]).every((row) => new Map(row).get('Slave_SQL_Running') === 'No'));

  // The rows went where the rules say, on both: ttt1 and ttt2, never other1 and other2.
  for (const db of ['ttt1', 'ttt2']) {
    const read = `SELECT id, v FROM ${db}.t ORDER BY id`;
    assert.deepEqual(table(await client(admin(), read)), table(await client(nativeEndpoint(), read)));
    assert.deepEqual(table(await client(admin(), read)).rows, [['1', 'a'], ['2', 'z'], ['3', 'c']]);
  }
  const databases = 'SHOW DATABASES LIKE \'other%\'';
  assert.equal(await client(admin(), databases), '');
  assert.equal(await client(nativeEndpoint(), databases), '');
});

test('SHOW SLAVE STATUS and SHOW REPLICA STATUS have the columns of the form asked', async () => {
  const slave = vertical(await client(admin(), 'SHOW SLAVE \'dbsv1\' STATUS\\G'));
  const nativeSlave = vertical(await client(nativeEndpoint(), 'SHOW SLAVE \'dbsv1\' STATUS\\G'));
  assertSameStatus(slave, nativeSlave, 'SHOW SLAVE STATUS');
  const replica = vertical(await client(admin(), 'SHOW REPLICA STATUS FOR CHANNEL \'dbsv2\'\\G'));
  assert.equal(replica.length, 1);
  const names = replica[0]!.map(([name]) => name);
  assert.equal(names[0], 'Replica_IO_State');
  assert.equal(names.length, 60);
  assert.equal(new Map(replica[0]).get('Channel_Name'), 'dbsv2');
  assert.equal(new Map(replica[0]).get('Source_Port'), String(sources[1]!.port));
  assert.equal(vertical(await client(admin(), 'SHOW REPLICA STATUS\\G')).length, 2, 'every channel without FOR CHANNEL, as MySQL');
});

test('mysql2 as a client: other statements reach the target in a session of their own, with their results', async () => {
  const options = { host: '127.0.0.1', port: adminPort, user: USER, password: PASSWORD };
  const a = await mysql.createConnection({ ...options, database: 'ttt1' });
  const b = await mysql.createConnection(options);
  try {
    await a.query('CREATE TABLE local_notes (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20))');
    const [inserted] = await a.query('INSERT INTO local_notes (note) VALUES (\'x\'), (\'y\')') as [mysql.ResultSetHeader, unknown];
    assert.equal(inserted.affectedRows, 2);
    assert.equal(inserted.insertId, 1);
    const [rows, fields] = await a.query('SELECT id, note, NULL AS nothing FROM local_notes ORDER BY id') as [any[], mysql.FieldPacket[]];
    assert.deepEqual(rows, [{ id: 1, note: 'x', nothing: null }, { id: 2, note: 'y', nothing: null }]);
    assert.deepEqual(fields.map((f) => f.name), ['id', 'note', 'nothing']);
    // Session state stays with the session: a user variable, a temporary table, the default database.
    await a.query('SET @mine = 42');
    await a.query('CREATE TEMPORARY TABLE scratch (x INT)');
    assert.deepEqual((await a.query('SELECT @mine AS v, DATABASE() AS db'))[0], [{ v: 42, db: 'ttt1' }]);
    assert.deepEqual((await b.query('SELECT @mine AS v, DATABASE() AS db'))[0], [{ v: null, db: null }]);
    await assert.rejects(b.query('SELECT * FROM ttt1.scratch'), (err: any) => err.errno === 1146 && err.sqlState === '42S02');
    // The data the channels replicated is there too: one replica server.
    assert.deepEqual((await b.query('SELECT COUNT(*) AS n FROM ttt2.t'))[0], [{ n: 3 }]);
    // A replication statement and a status read on the same session.
    await b.query('SET @@default_master_connection = \'dbsv2\'');
    const [status] = await b.query('SHOW SLAVE STATUS') as [any[], unknown];
    assert.equal(status[0].Master_Port, sources[1]!.port);
    assert.deepEqual((await a.query('SELECT @@default_master_connection AS c'))[0], [{ c: '' }]);
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});

test('errors come back as the servers send them: errno and SQLSTATE', async () => {
  const options = { host: '127.0.0.1', port: adminPort, user: USER, password: PASSWORD };
  await assert.rejects(mysql.createConnection({ ...options, password: 'wrong' }),
    (err: any) => err.errno === 1045 && err.sqlState === '28000' && /Access denied for user 'admin'/.test(err.message));
  await assert.rejects(client({ port: adminPort, user: USER, password: 'wrong' }, 'SELECT 1'), /ERROR 1045 \(28000\)/);
  const c = await mysql.createConnection(options);
  try {
    const fails = (sql: string, errno: number, sqlState: string, message?: RegExp) => assert.rejects(c.query(sql),
      (err: any) => err.errno === errno && err.sqlState === sqlState && (!message || message.test(err.message)));
    await fails('START SLAVE \'nope\'', 1617, 'HY000', /There is no master connection 'nope'/);
    await fails('SHOW SLAVE \'nope\' STATUS', 1617, 'HY000');
    await fails('CHANGE MASTER \'dbsv1\' TO MASTER_BOGUS = 1', 1064, '42000', /MASTER_BOGUS/);
    await fails('SET GLOBAL dbsv1.replicate_do_db = \'x\', autocommit = 1', 1064, '42000', /SET statement of their own/);
    await fails('START SLAVE \'dbsv1\' UNTIL MASTER_LOG_FILE = \'a\'', 1277, 'HY000');
    await fails('SELECT no_such_column', 1054, '42S22', /Unknown column/);
    await assert.rejects(c.execute('SELECT 1'), (err: any) => err.errno === 1295 && /prepared/.test(err.message));
    // The channel's SQL stage must be stopped to change its rules, as on the servers.
    await c.query('START SLAVE \'dbsv1\'');
    await fails('SET GLOBAL dbsv1.replicate_do_db = \'x\'', 1198, 'HY000');
    await c.query('STOP SLAVE \'dbsv1\'');
    await c.query('SET GLOBAL dbsv1.replicate_do_db = \'ttt1,ttt3\'');
    const [rows] = await c.query('SHOW SLAVE \'dbsv1\' STATUS') as [any[], unknown];
    assert.equal(rows[0].Replicate_Do_DB, 'ttt1,ttt3');
    // The session survives each error.
    assert.deepEqual((await c.query('SELECT 1 AS one'))[0], [{ one: 1 }]);
  } finally {
    await c.end();
  }
});

test('a value past 16 MiB comes back whole; a lost target connection ends the client\'s session', async () => {
  await target.sql('SET GLOBAL max_allowed_packet = 67108864');
  const options = { host: '127.0.0.1', port: adminPort, user: USER, password: PASSWORD };
  const c = await mysql.createConnection(options);
  try {
    const size = 17 * 1024 * 1024;
    const [rows] = await c.query(`SELECT REPEAT('ab', ${size / 2}) AS big, 7 AS after_it`) as [any[], unknown];
    assert.equal(rows[0].big.length, size);
    assert.equal(rows[0].after_it, 7);
    const [[{ id }]] = await c.query('SELECT CONNECTION_ID() AS id') as [any[], unknown];
    await target.sql(`KILL ${Number(id)}`);
    await assert.rejects(c.query('SELECT 1'), (err: any) => err.errno > 0);
    await assert.rejects(c.query('SHOW ALL SLAVES STATUS'), (err: any) => err.fatal === true);
  } finally {
    c.destroy();
  }
});

test('a target that cannot be reached is an error for the target\'s statements only', async () => {
  const lonely = await ReplicationEngine.open({ dataDir: await tempDir('admin'), serverId: 3001,
    target: { host: '127.0.0.1', port: await freePort(), user: 'root' }, admin: { port: 0, user: USER, password: PASSWORD } });
  const c = await mysql.createConnection({ host: '127.0.0.1', port: lonely.adminAddress()!.port, user: USER, password: PASSWORD });
  try {
    await assert.rejects(c.query('SELECT 1'), (err: any) => err.errno === 2003 && /Can't connect/.test(err.message));
    const [rows] = await c.query('SHOW ALL SLAVES STATUS') as [any[], unknown];
    assert.deepEqual(rows, []);
    await assert.rejects(c.query('SELECT 1'), (err: any) => err.errno === 2003);
  } finally {
    await c.end();
    await lonely.close();
  }
  await assert.rejects(ReplicationEngine.open({ dataDir: await tempDir('admin'), serverId: 3001, target: {},
    admin: { port: 0, user: USER, password: '' } }), (err: any) => err.errno === 1210 && /admin\.password is missing/.test(err.message));
});

test('a refused login runs nothing the client sends after it', async () => {
  const socket = connect(adminPort, '127.0.0.1');
  const received: Buffer[] = [];
  const packet = (seq: number, payload: Buffer) => {
    const header = Buffer.alloc(4);
    header.writeUIntLE(payload.length, 0, 3);
    header[3] = seq;
    return Buffer.concat([header, payload]);
  };
  let greeted = false;
  socket.on('data', (chunk: Buffer) => {
    received.push(chunk);
    if (greeted) return;
    greeted = true;
    // PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | LONG_PASSWORD, utf8mb4, user admin, a wrong token.
    const head = Buffer.alloc(32);
    head.writeUInt32LE(0x200 | 0x8000 | 0x80000 | 0x1, 0);
    head.writeUInt32LE(1 << 24, 4);
    head[8] = 45;
    const login = Buffer.concat([head, Buffer.from('admin\0'), Buffer.from([20]), Buffer.alloc(20, 7), Buffer.from('mysql_native_password\0')]);
    // The login and, without waiting for its answer, a statement.
    socket.write(Buffer.concat([packet(1, login), packet(0, Buffer.concat([Buffer.from([0x03]), Buffer.from('CREATE DATABASE refused_login_ran')]))]));
  });
  await new Promise<void>((resolve) => {
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve());
    socket.on('error', () => {});
  });
  const all = Buffer.concat(received);
  assert.ok(all.includes(Buffer.from('#28000Access denied')), all.toString('latin1'));
  // A statement that would have run had reached the target by the time a later session's statement did.
  const c = await mysql.createConnection({ host: '127.0.0.1', port: adminPort, user: USER, password: PASSWORD });
  try {
    await c.query('SELECT 1');
  } finally {
    await c.end();
  }
  assert.deepEqual(await target.sql('SHOW DATABASES LIKE \'refused_login_ran\''), [], 'the statement after the refused login must not run');
});

test('before its login a client may send only a few KiB: a flood is cut off and the endpoint goes on', async () => {
  const socket = connect(adminPort, '127.0.0.1');
  let sent = 0;
  socket.once('data', () => {
    // Packets of 16 MiB, then their bytes: mysql2 alone would gather them all before any check.
    const header = Buffer.from([0xff, 0xff, 0xff, 1]);
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    socket.write(header);
    const pump = () => {
      while (sent < 32 << 20 && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    pump();
  });
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => {});
  });
  // Loopback buffers hold a few MiB; the endpoint would have read all 32 without its bound.
  assert.ok(sent < 32 << 20, `the endpoint read ${sent} bytes before cutting the connection`);
  const c = await mysql.createConnection({ host: '127.0.0.1', port: adminPort, user: USER, password: PASSWORD });
  try {
    await c.query('SELECT 1');
  } finally {
    await c.end();
  }
});
