// The admin endpoint's statements: MariaDB's and MySQL's forms in, the engine's commands out; anything else is the
// target's (undefined); a replication statement that cannot be read is 1064.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAdminStatement } from '../src/admin/statements.js';
import { stringLiteralValue } from '../src/filter/index.js';
import { relayLogEventsResult, statusResult } from '../src/admin/results.js';
import { columnDefinitionPacket, columnOfKind, errorPacket, framed, okPacket, textRowPacket } from '../src/admin/wire.js';
import type { ReplicaStatus } from '../src/index.js';

const parse = parseAdminStatement;
const refuses = (sql: string, message?: RegExp) => assert.throws(() => parse(sql),
  (err: any) => err.errno === 1064 && (!message || message.test(err.message)), sql);

test('CHANGE MASTER and CHANGE REPLICATION SOURCE, every option onto the engine\'s', () => {
  assert.deepEqual(parse(`CHANGE MASTER 'dbsv1' TO MASTER_HOST = '192.168.111.106', MASTER_USER = 'slave',
    MASTER_PASSWORD = 'slavepasswd', MASTER_PORT = 3306 , MASTER_LOG_FILE = 'mysql-bin.001961', MASTER_LOG_POS = 3018345 ;`), {
    kind: 'changeSource', channel: 'dbsv1', options: { sourceHost: '192.168.111.106', sourceUser: 'slave',
      sourcePassword: 'slavepasswd', sourcePort: 3306, sourceLogFile: 'mysql-bin.001961', sourceLogPos: 3018345 },
  });
  assert.deepEqual(parse('change master to master_host=\'h\''), { kind: 'changeSource', options: { sourceHost: 'h' } });
  assert.deepEqual(parse('CHANGE MASTER `My Conn` TO MASTER_HOST="h"'), { kind: 'changeSource', channel: 'My Conn', options: { sourceHost: 'h' } });
  assert.deepEqual(parse(`CHANGE REPLICATION SOURCE TO SOURCE_HOST='h', SOURCE_PORT=3307, SOURCE_SSL=1, SOURCE_SSL_CA='/ca.pem',
    SOURCE_SSL_VERIFY_SERVER_CERT=0, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=5, SOURCE_RETRY_COUNT=0, SOURCE_DELAY=60,
    SOURCE_HEARTBEAT_PERIOD=2.5, GET_SOURCE_PUBLIC_KEY=1, SOURCE_TLS_VERSION='TLSv1.3' FOR CHANNEL 'c2'`), {
    kind: 'changeSource', channel: 'c2', options: { sourceHost: 'h', sourcePort: 3307, sourceSsl: true, sourceSslCa: '/ca.pem',
      sourceSslVerifyServerCert: false, sourceAutoPosition: true, sourceConnectRetry: 5, sourceRetryCount: 0, sourceDelay: 60,
      sourceHeartbeatPeriod: 2.5, getSourcePublicKey: true, sourceTlsVersion: 'TLSv1.3' },
  });
  assert.deepEqual(parse('CHANGE MASTER TO MASTER_USE_GTID = slave_pos, IGNORE_SERVER_IDS = (2, 3), DO_DOMAIN_IDS = (), ' +
    'IGNORE_DOMAIN_IDS = (1)'), { kind: 'changeSource', options: { sourceUseGtid: 'slave_pos', ignoreServerIds: [2, 3],
    doDomainIds: [], ignoreDomainIds: [1] } });
  assert.deepEqual(parse("CHANGE MASTER TO MASTER_PASSWORD = 'it''s \\'q\\' \\\\ \\n'"),
    { kind: 'changeSource', options: { sourcePassword: "it's 'q' \\ \n" } });
  refuses('CHANGE MASTER TO MASTER_BOGUS = 1', /MASTER_BOGUS.*MASTER_HOST/);
  refuses('CHANGE MASTER TO MASTER_HOST = 1', /quoted string/);
  refuses('CHANGE MASTER TO MASTER_PORT = \'x\'', /number/);
  refuses('CHANGE MASTER TO MASTER_SSL = 2', /0 or 1/);
  refuses('CHANGE MASTER TO MASTER_USE_GTID = maybe', /slave_pos/);
  refuses('CHANGE MASTER TO MASTER_HOST = \'a\', MASTER_HOST = \'b\'', /twice/);
  refuses('CHANGE MASTER \'a\' TO MASTER_HOST = \'h\' FOR CHANNEL \'b\'', /two connections/);
  refuses('CHANGE MASTER TO MASTER_HOST = \'h\' junk');
});

test('START/STOP SLAVE and REPLICA: connection, threads, UNTIL, FOR CHANNEL; ALL SLAVES', () => {
  assert.deepEqual(parse('start all slaves'), { kind: 'startAll' });
  assert.deepEqual(parse('STOP ALL REPLICAS;'), { kind: 'stopAll' });
  assert.deepEqual(parse('START SLAVE'), { kind: 'start' });
  assert.deepEqual(parse('START SLAVE \'dbsv1\' IO_THREAD'), { kind: 'start', channel: 'dbsv1', threads: ['IO_THREAD'] });
  assert.deepEqual(parse('STOP REPLICA SQL_THREAD, IO_THREAD FOR CHANNEL \'c\''), { kind: 'stop', channel: 'c', threads: ['SQL_THREAD', 'IO_THREAD'] });
  assert.deepEqual(parse('START SLAVE \'c\' SQL_THREAD UNTIL MASTER_LOG_FILE = \'mysql-bin.000002\', MASTER_LOG_POS = 120'), {
    kind: 'start', channel: 'c', threads: ['SQL_THREAD'], until: { sourceLogFile: 'mysql-bin.000002', sourceLogPos: 120 },
  });
  assert.deepEqual(parse('START REPLICA UNTIL SOURCE_LOG_FILE=\'f\', SOURCE_LOG_POS=4 FOR CHANNEL \'c\''),
    { kind: 'start', channel: 'c', until: { sourceLogFile: 'f', sourceLogPos: 4 } });
  assert.deepEqual(parse('START SLAVE UNTIL RELAY_LOG_FILE=\'r.000001\', RELAY_LOG_POS=4'), { kind: 'start', until: { relayLogFile: 'r.000001', relayLogPos: 4 } });
  assert.deepEqual(parse('START SLAVE UNTIL master_gtid_pos = \'0-1-10\''), { kind: 'start', until: { sourceGtidPos: '0-1-10' } });
  assert.deepEqual(parse('START REPLICA SQL_THREAD UNTIL SQL_AFTER_GTIDS = \'3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5\''),
    { kind: 'start', threads: ['SQL_THREAD'], until: { sqlAfterGtids: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5' } });
  refuses('START SLAVE UNTIL MASTER_LOG_NAME = \'f\'', /UNTIL takes/);
  refuses('START ALL', /SLAVE/);
  refuses('STOP SLAVE \'c\' NOW');
});

test('SHOW [ALL] SLAVE[S] STATUS, SHOW REPLICA STATUS, SHOW RELAYLOG EVENTS; other SHOWs are the target\'s', () => {
  assert.deepEqual(parse('SHOW ALL SLAVES STATUS'), { kind: 'showStatus', form: 'all' });
  assert.deepEqual(parse('show all replicas status'), { kind: 'showStatus', form: 'all' });
  assert.deepEqual(parse('SHOW SLAVE STATUS'), { kind: 'showStatus', form: 'slave' });
  assert.deepEqual(parse('SHOW SLAVE \'dbsv1\' STATUS'), { kind: 'showStatus', form: 'slave', channel: 'dbsv1' });
  assert.deepEqual(parse('SHOW SLAVE STATUS FOR CHANNEL \'dbsv1\''), { kind: 'showStatus', form: 'slave', channel: 'dbsv1' });
  assert.deepEqual(parse('SHOW REPLICA STATUS'), { kind: 'showStatus', form: 'replica' });
  assert.deepEqual(parse('SHOW REPLICA STATUS FOR CHANNEL c'), { kind: 'showStatus', form: 'replica', channel: 'c' });
  assert.deepEqual(parse('SHOW RELAYLOG \'dbsv1\' EVENTS LIMIT 5'), { kind: 'showRelayLogEvents', channel: 'dbsv1', limit: 5 });
  assert.deepEqual(parse('SHOW RELAYLOG EVENTS IN \'relay-bin.000002\' FROM 256 LIMIT 2, 10'),
    { kind: 'showRelayLogEvents', file: 'relay-bin.000002', pos: 256, offset: 2, limit: 10 });
  assert.deepEqual(parse('SHOW RELAYLOG EVENTS LIMIT 10 OFFSET 3 FOR CHANNEL \'c\''), { kind: 'showRelayLogEvents', channel: 'c', limit: 10, offset: 3 });
  for (const other of ['SHOW TABLES', 'SHOW SLAVE HOSTS', 'SHOW REPLICA HOSTS', 'SHOW MASTER STATUS', 'SHOW DATABASES', 'SHOW VARIABLES LIKE \'x\'']) {
    assert.equal(parse(other), undefined, other);
  }
  refuses('SHOW SLAVE \'c\' HOSTS', /STATUS/);
  refuses('SHOW RELAYLOG EVENTS LIMIT -1', /integer/);
});

test('RESET SLAVE [ALL], FLUSH RELAY LOGS', () => {
  assert.deepEqual(parse('RESET SLAVE'), { kind: 'reset', all: false });
  assert.deepEqual(parse('RESET SLAVE \'dbsv1\' ALL'), { kind: 'reset', channel: 'dbsv1', all: true });
  assert.deepEqual(parse('RESET REPLICA ALL FOR CHANNEL \'c\''), { kind: 'reset', channel: 'c', all: true });
  assert.deepEqual(parse('FLUSH RELAY LOGS'), { kind: 'flushRelayLogs' });
  assert.deepEqual(parse('FLUSH RELAY LOGS \'dbsv1\''), { kind: 'flushRelayLogs', channel: 'dbsv1' });
  assert.deepEqual(parse('FLUSH RELAY LOGS FOR CHANNEL \'c\''), { kind: 'flushRelayLogs', channel: 'c' });
  assert.equal(parse('FLUSH TABLES'), undefined);
  assert.equal(parse('FLUSH LOGS'), undefined);
  assert.equal(parse('RESET MASTER'), undefined);
});

test('SELECT MASTER_POS_WAIT / MASTER_GTID_WAIT / @@default_master_connection, named as the servers name the column', () => {
  assert.deepEqual(parse('SELECT MASTER_POS_WAIT(\'mysql-bin.001961\', 3018345)'), {
    kind: 'sourcePosWait', column: 'MASTER_POS_WAIT(\'mysql-bin.001961\', 3018345)', file: 'mysql-bin.001961', pos: 3018345,
  });
  assert.deepEqual(parse('select master_pos_wait(\'f\',4,60,\'dbsv1\') as waited;'), {
    kind: 'sourcePosWait', column: 'waited', file: 'f', pos: 4, timeout: 60, channel: 'dbsv1',
  });
  assert.deepEqual(parse('SELECT SOURCE_POS_WAIT(\'f\', 4, 0.5)'), { kind: 'sourcePosWait', column: 'SOURCE_POS_WAIT(\'f\', 4, 0.5)', file: 'f', pos: 4, timeout: 0.5 });
  assert.deepEqual(parse('SELECT MASTER_GTID_WAIT(\'0-1-100\', 10) w'), { kind: 'sourceGtidWait', column: 'w', gtidPos: '0-1-100', timeout: 10 });
  assert.deepEqual(parse('select @@default_master_connection'), { kind: 'selectDefaultConnection', column: '@@default_master_connection' });
  assert.deepEqual(parse('SELECT @@session.default_master_connection AS `c`'), { kind: 'selectDefaultConnection', column: 'c' });
  for (const other of ['SELECT 1', 'SELECT @@version', 'SELECT * FROM t', 'SELECT master_pos_wait FROM t']) {
    assert.equal(parse(other), undefined, other);
  }
  // The target would answer them with its own NULL or ''.
  refuses('SELECT MASTER_POS_WAIT(@f, 4)', /quoted string/);
  refuses('SELECT MASTER_POS_WAIT(\'f\', 4) + 1', /stands alone/);
  refuses('SELECT @@default_master_connection, 1', /stands alone/);
});

test('SET: default_master_connection, [connection.]replicate_*, sql_slave_skip_counter; other SETs are the target\'s', () => {
  assert.deepEqual(parse('SET @@default_master_connection=\'dbsv1\''), { kind: 'setDefaultConnection', channel: 'dbsv1' });
  assert.deepEqual(parse('SET default_master_connection = \'\''), { kind: 'setDefaultConnection', channel: '' });
  assert.deepEqual(parse('SET SESSION default_master_connection = "x"'), { kind: 'setDefaultConnection', channel: 'x' });
  assert.deepEqual(parse('SET GLOBAL dbsv1.replicate_do_db = \'ttt1,ttt2\''),
    { kind: 'changeFilter', channel: 'dbsv1', filters: { replicateDoDb: ['ttt1', 'ttt2'] } });
  assert.deepEqual(parse('SET GLOBAL `my conn`.replicate_wild_ignore_table = \'db%.tmp\\\\_%\''),
    { kind: 'changeFilter', channel: 'my conn', filters: { replicateWildIgnoreTable: ['db%.tmp\\_%'] } });
  assert.deepEqual(parse('SET @@global.replicate_rewrite_db = \'a->b, c->d\''),
    { kind: 'changeFilter', filters: { replicateRewriteDb: [['a', 'b'], ['c', 'd']] } });
  assert.deepEqual(parse('SET GLOBAL replicate_ignore_table = \'\''), { kind: 'changeFilter', filters: { replicateIgnoreTable: [] } });
  assert.deepEqual(parse('SET GLOBAL sql_slave_skip_counter = 3'), { kind: 'setSkipCounter', count: 3 });
  assert.deepEqual(parse('SET GLOBAL ch2.sql_slave_skip_counter = 1'), { kind: 'setSkipCounter', channel: 'ch2', count: 1 });
  assert.deepEqual(parse('SET @@GLOBAL.sql_replica_skip_counter=1'), { kind: 'setSkipCounter', count: 1 });
  for (const other of ['SET @x = 1', 'SET NAMES utf8mb4', 'SET autocommit = 0', 'SET SESSION sql_mode = \'\'', 'SET GLOBAL max_connections = 10',
    'SET @a = 1, @b = \'x,y\'']) {
    assert.equal(parse(other), undefined, other);
  }
  // The servers' errnos for a variable set in the wrong scope.
  assert.throws(() => parse('SET GLOBAL default_master_connection = \'x\''), { errno: 1228, message: /SESSION variable/ });
  assert.throws(() => parse('SET replicate_do_db = \'x\''), { errno: 1229, message: /GLOBAL variable/ });
  assert.throws(() => parse('SET sql_slave_skip_counter = 1'), { errno: 1229, message: /GLOBAL variable/ });
  refuses('SET GLOBAL sql_slave_skip_counter = 1, autocommit = 1', /of their own/);
  refuses('SET autocommit = 1, GLOBAL sql_slave_skip_counter = 1', /of their own/);
  assert.throws(() => parse('SET GLOBAL replicate_rewrite_db = \'a\''), (err: any) => err.errno === 1210);
});

test('CHANGE REPLICATION FILTER, MySQL\'s form', () => {
  assert.deepEqual(parse('CHANGE REPLICATION FILTER REPLICATE_DO_DB = (d1, `d 2`), REPLICATE_IGNORE_TABLE = (db.t1), ' +
    'REPLICATE_WILD_DO_TABLE = (\'db%.%\'), REPLICATE_REWRITE_DB = ((a, b), (c, d)) FOR CHANNEL \'c\''), {
    kind: 'changeFilter', channel: 'c', filters: { replicateDoDb: ['d1', 'd 2'], replicateIgnoreTable: ['db.t1'],
      replicateWildDoTable: ['db%.%'], replicateRewriteDb: [['a', 'b'], ['c', 'd']] },
  });
  assert.deepEqual(parse('CHANGE REPLICATION FILTER REPLICATE_DO_DB = ()'), { kind: 'changeFilter', filters: { replicateDoDb: [] } });
  refuses('CHANGE REPLICATION FILTER REPLICATE_DO_THING = (a)', /REPLICATE_DO_DB/);
});

test('statements that are not replication statements are left to the target, text it cannot read included', () => {
  for (const other of ['INSERT INTO t VALUES (1)', 'USE db', 'BEGIN', 'CREATE TABLE t (a INT)', 'CHANGE', 'START TRANSACTION',
    'START TRANSACTION WITH CONSISTENT SNAPSHOT', 'STOP', 'select \'unterminated', '', '/* SHOW ALL SLAVES STATUS */ SELECT 1']) {
    assert.equal(parse(other), undefined, other);
  }
  refuses('START SLAVE IO_THREAD SQL_THREAD UNTIL', /./);
  assert.throws(() => parse('KILL QUERY 7'), { errno: 1095 });
  assert.deepEqual(parse('/* a comment */ SHOW ALL SLAVES STATUS -- and another'), { kind: 'showStatus', form: 'all' });
});

test('string literals read as the servers read them', () => {
  assert.equal(stringLiteralValue("'a''b'"), "a'b");
  assert.equal(stringLiteralValue('"a""b"'), 'a"b');
  assert.equal(stringLiteralValue("'\\0\\b\\n\\r\\t\\Z\\\\\\'\\x'"), '\0\b\n\r\t\x1a\\\'x');
  assert.equal(stringLiteralValue("'a\\%b\\_c'"), 'a\\%b\\_c');
  // sql_mode NO_BACKSLASH_ESCAPES: a backslash is a character like any other.
  assert.equal(stringLiteralValue("'a\\n''b'", false), "a\\n'b");
});

test('result sets: the column lists of the three status forms and SHOW RELAYLOG EVENTS, values as text', () => {
  const status = { channel: 'c', secondsBehindSource: null, heartbeatPeriod: 30, replicateIgnoreServerIds: [2, 3],
    replicateDoDomainIds: [], replicateIgnoreDomainIds: [], replicateRewriteDb: 'a->b,c->d', untilCondition: 'Master',
    lastIoErrorTimestamp: '', lastSqlErrorTimestamp: '' } as unknown as ReplicaStatus;
  const all = statusResult('all', [status]);
  assert.equal(all.columns.length, 62);
  assert.deepEqual(all.columns.slice(0, 3).map((c) => c.name), ['Connection_name', 'Slave_SQL_State', 'Slave_IO_State']);
  const row = new Map(all.columns.map((c, i) => [c.name, all.rows[0]![i]]));
  assert.equal(row.get('Seconds_Behind_Master'), null);
  assert.equal(row.get('Slave_heartbeat_period'), '30.000');
  assert.equal(row.get('Replicate_Ignore_Server_Ids'), '2,3');
  assert.equal(row.get('Replicate_Rewrite_DB'), 'a->b,c->d');
  assert.equal(statusResult('slave', [status]).columns.length, 54);
  const mysql = statusResult('replica', [status]);
  const mysqlRow = new Map(mysql.columns.map((c, i) => [c.name, mysql.rows[0]![i]]));
  assert.equal(mysql.columns.length, 60);
  assert.equal(mysqlRow.get('Replicate_Rewrite_DB'), '(a,b),(c,d)');
  assert.equal(mysqlRow.get('Until_Condition'), 'Source');
  assert.equal(mysqlRow.get('Channel_Name'), 'c');
  assert.deepEqual(relayLogEventsResult([{ logName: 'r.000001', pos: 4, eventType: 'Format_desc', serverId: 1, endLogPos: 256, info: 'i' }]).rows,
    [['r.000001', '4', 'Format_desc', '1', '256', 'i']]);
});

test('packets: OK with its info length-encoded, ERR with SQLSTATE, column definitions, NULL in a text row', () => {
  assert.deepEqual(okPacket(), Buffer.from([0, 0, 0, 2, 0, 0, 0]));
  assert.deepEqual(okPacket({ affectedRows: 300, insertId: 1, info: 'ab' }), Buffer.from([0, 0xfc, 0x2c, 0x01, 1, 2, 0, 0, 0, 2, 0x61, 0x62]));
  assert.deepEqual(errorPacket(1045, 'no'), Buffer.concat([Buffer.from([0xff, 0x15, 0x04]), Buffer.from('#28000no')]));
  assert.deepEqual(errorPacket(1617, 'x').subarray(3, 9).toString(), '#HY000');
  assert.deepEqual(textRowPacket(['ab', null, Buffer.from([1])]), Buffer.from([2, 0x61, 0x62, 0xfb, 1, 1]));
  const column = columnDefinitionPacket(columnOfKind('Pos', 'bigint'));
  assert.deepEqual(column.subarray(0, 4), Buffer.from([3, 0x64, 0x65, 0x66]));
  assert.equal(column[column.length - 13], 0x0c);
  assert.equal(column[column.length - 6], 8);
});

test('a payload of 0xFFFFFF bytes or more goes in several packets, the last one shorter (empty if need be)', () => {
  const small = framed(Buffer.from('ab'), 3);
  assert.deepEqual(small, { bytes: Buffer.from([2, 0, 0, 3, 0x61, 0x62]), next: 4 });
  const exact = framed(Buffer.alloc(0xffffff, 1), 255);
  assert.equal(exact.bytes.length, 4 + 0xffffff + 4);
  assert.deepEqual(exact.bytes.subarray(0, 4), Buffer.from([0xff, 0xff, 0xff, 255]));
  assert.deepEqual(exact.bytes.subarray(4 + 0xffffff), Buffer.from([0, 0, 0, 0]));
  assert.equal(exact.next, 1);
});
