// Statement context (querySessionSql, contextEventSql, queryStatements) and statement kinds (firstKeyword,
// commitsImplicitly, transactionControl). Pure checks on hand-built events, then a STATEMENT-format source
// whose binlog is (1) compared with what mariadb-binlog prints for the same Query events and (2) replayed on a
// target through these functions, as the applier does; the target must end up with the source's data.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { BinlogDecoder, decodeHeader } from '../src/binlog/decoder.js';
import type { BinlogEvent, DecodedEvent, ExecuteLoadQueryEvent, QueryEvent } from '../src/binlog/events.js';
import { contextEventSql, loadDataFileName, querySessionSql, queryStatements, type Collation } from '../src/apply/statement-context.js';
import { commitsImplicitly, firstKeyword, idempotentDdl, isTemporaryTableDdl, transactionControl } from '../src/apply/statement-kind.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const run = promisify(execFile);
const sql = (text: string) => Buffer.from(text, 'latin1');

function query(statusVars: QueryEvent['statusVars'], text = 'INSERT INTO t VALUES (1)', database = 'd'): QueryEvent {
  return { type: 'query', threadId: 1, executionTime: 0, errorCode: 0, database, statusVars, sql: sql(text) };
}

const COLLATIONS = new Map<number, Collation>([[8, { name: 'latin1_swedish_ci', charset: 'latin1' }],
  [5, { name: 'latin1_german1_ci', charset: 'latin1' }], [45, { name: 'utf8mb4_general_ci', charset: 'utf8mb4' }],
  [224, { name: 'utf8mb4_unicode_ci', charset: 'utf8mb4' }], [33, { name: 'utf8mb3_general_ci', charset: 'utf8mb3' }],
  [63, { name: 'binary', charset: 'binary' }]]);
const lookup = (id: number) => COLLATIONS.get(id);

describe('firstKeyword', () => {
  const cases: [string, string][] = [
    ['INSERT INTO t VALUES (1)', 'INSERT'], ['  \n\tcreate table t (a int)', 'CREATE'], ['BEGIN', 'BEGIN'],
    ['/* note */ DROP TABLE t', 'DROP'], ['/* a */ /* b */\nALTER TABLE t ADD c INT', 'ALTER'],
    ['-- comment\nUPDATE t SET a = 1', 'UPDATE'], ['# hash comment\nDELETE FROM t', 'DELETE'],
    ['/*!50001 CREATE ALGORITHM=UNDEFINED VIEW v AS SELECT 1 */', 'CREATE'], ['/*!40000 ALTER TABLE t DISABLE KEYS */', 'ALTER'],
    ['/*!CREATE TABLE t (a INT)*/', 'CREATE'], ['/* x */ /*!50003 CREATE*/ /*!50017 DEFINER=`r`@`%`*/ /*!50003 TRIGGER tr */', 'CREATE'],
    ['/* multi\nline\ncomment */ TRUNCATE t', 'TRUNCATE'], ['xa start \'x\'', 'XA'], ['(SELECT 1)', ''], ['', ''],
    ['/* only a comment */', ''], ['COMMIT', 'COMMIT'], ['savepoint s1', 'SAVEPOINT'],
  ];
  for (const [text, keyword] of cases) {
    test(JSON.stringify(text), () => assert.equal(firstKeyword(sql(text)), keyword));
  }
});

describe('transactionControl', () => {
  const cases: [string, string | undefined][] = [
    ['BEGIN', 'BEGIN'], ['/* c */ begin', 'BEGIN'], ['COMMIT', 'COMMIT'], ['ROLLBACK', 'ROLLBACK'],
    ["XA START 'x'", 'XA START'], ["xa end 'x'", 'XA END'], ["XA COMMIT 'x'", 'XA COMMIT'], ["XA ROLLBACK 'x'", 'XA ROLLBACK'],
    ["XA PREPARE 'x'", undefined], ['INSERT INTO t VALUES (1)', undefined], ['SAVEPOINT s', undefined],
    ['-- c\nCOMMIT', 'COMMIT'], ['`BEGIN`', undefined], ['/* unterminated', undefined],
    ['ROLLBACK TO SAVEPOINT s', undefined], ['rollback work to s', undefined], ['ROLLBACK WORK', 'ROLLBACK'],
  ];
  for (const [text, control] of cases) {
    test(JSON.stringify(text), () => assert.equal(transactionControl(sql(text)), control));
  }
});

describe('commitsImplicitly', () => {
  const yes = ['CREATE TABLE t (a INT)', 'ALTER TABLE t ADD b INT', 'DROP TABLE t', 'RENAME TABLE a TO b', 'TRUNCATE TABLE t',
    "GRANT SELECT ON *.* TO 'u'@'%'", "REVOKE ALL ON *.* FROM 'u'", 'ANALYZE TABLE t', 'OPTIMIZE TABLE t', 'REPAIR TABLE t',
    'FLUSH PRIVILEGES', "INSTALL PLUGIN x SONAME 'x.so'", 'LOCK TABLES t WRITE', 'CACHE INDEX t IN k', 'LOAD INDEX INTO CACHE t',
    'CREATE DATABASE x', 'DROP DATABASE x', "CREATE USER 'u'", '/*!50001 CREATE VIEW v AS SELECT 1 */', 'create index i on t (a)',
    '/* temporary */ CREATE TABLE t (a INT)', 'CREATE TABLE temporary_x (a INT)'];
  const no = ['INSERT INTO t VALUES (1)', 'UPDATE t SET a = 2', 'DELETE FROM t', 'REPLACE INTO t VALUES (1)', 'BEGIN', 'COMMIT',
    "LOAD DATA INFILE 'x' INTO TABLE t", 'CREATE TEMPORARY TABLE t (a INT)', 'create temporary table t (a int)',
    'DROP TEMPORARY TABLE t', 'DROP TEMPORARY TABLE IF EXISTS t', '  CREATE\n TEMPORARY TABLE t (a INT)',
    '/* c */ CREATE TEMPORARY TABLE t (a INT)', 'SELECT 1', 'SET @a = 1', 'SAVEPOINT s', 'XA START \'x\''];
  for (const text of yes) test(`commits: ${text}`, () => assert.equal(commitsImplicitly(sql(text)), true));
  for (const text of no) test(`does not commit: ${text}`, () => assert.equal(commitsImplicitly(sql(text)), false));

  test('what the servers log when a session with temporary tables ends does not commit', () => {
    assert.equal(commitsImplicitly(sql('DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `tmp`')), false);
  });

  test('MariaDB CREATE OR REPLACE TEMPORARY TABLE does not commit', () => {
    assert.equal(commitsImplicitly(sql('CREATE OR REPLACE TEMPORARY TABLE t (a INT)')), false);
  });
});

describe('queryStatements', () => {
  const header = { timestamp: 1700000000, serverId: 7 };
  /** The statements without the session SET, which querySessionSql's tests cover. */
  const statements = (event: QueryEvent | ExecuteLoadQueryEvent, database: string, idempotentDdl = false) =>
    queryStatements(event, header, { database, collation: lookup, idempotentDdl }).filter((s) => !s.startsWith('SET '));

  test('USE the default database first, quoted, then the session, then the statement', () => {
    const all = queryStatements(query({}, 'INSERT INTO t VALUES (1)'), header, { database: 'd', collation: lookup, idempotentDdl: false });
    assert.deepEqual([all[0], all[2]], ['USE `d`', 'INSERT INTO t VALUES (1)']);
    assert.match(all[1]!, /^SET TIMESTAMP=1700000000, @@session\.pseudo_thread_id=1, @@session\.server_id=7,/);
    assert.deepEqual(statements(query({}, 'DROP TABLE t'), 'we`ird'), ['USE `we``ird`', 'DROP TABLE t']);
    assert.deepEqual(statements(query({}, 'SELECT 1'), 'café'), ['USE `caf\xc3\xa9`', 'SELECT 1']);
  });

  test('no USE without a default database', () => {
    assert.deepEqual(statements(query({}, 'CREATE TABLE x.t (a INT)', ''), ''), ['CREATE TABLE x.t (a INT)']);
  });

  test('no USE for CREATE / DROP DATABASE, which may act on a database that is not there', () => {
    assert.deepEqual(statements(query({}, 'CREATE DATABASE d'), 'd'), ['CREATE DATABASE d']);
    assert.deepEqual(statements(query({}, 'DROP DATABASE d'), 'd'), ['DROP DATABASE d']);
  });

  test('the statement bytes pass unchanged, one char per byte', () => {
    const raw = Buffer.from([0x49, 0x4e, 0x53, 0x20, 0xe9, 0xff, 0x00, 0x27]);
    const [, text] = statements({ ...query({}), sql: raw }, 'd');
    assert.ok(Buffer.from(text!, 'latin1').equals(raw));
  });

  test('DDL as an idempotent MariaDB replica runs it, only when asked', () => {
    const cases: [string, string][] = [
      ['CREATE TABLE t (a INT)', 'CREATE OR REPLACE TABLE t (a INT)'],
      ['create temporary table tmp (a int)', 'create OR REPLACE temporary table tmp (a int)'],
      ['/* c */ CREATE TABLE`t`(a INT)', '/* c */ CREATE OR REPLACE TABLE`t`(a INT)'],
      ['CREATE TABLE IF NOT EXISTS t (a INT)', 'CREATE TABLE IF NOT EXISTS t (a INT)'],
      ['CREATE OR REPLACE TABLE t (a INT)', 'CREATE OR REPLACE TABLE t (a INT)'],
      ['DROP TABLE t, u', 'DROP TABLE IF EXISTS t, u'],
      ['DROP TEMPORARY TABLE tmp', 'DROP TEMPORARY TABLE IF EXISTS tmp'],
      ['DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `tmp`', 'DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `tmp`'],
      ['DROP TABLE IF EXISTS t', 'DROP TABLE IF EXISTS t'],
      ['CREATE DATABASE d', 'CREATE DATABASE IF NOT EXISTS d'],
      ['CREATE SCHEMA IF NOT EXISTS d', 'CREATE SCHEMA IF NOT EXISTS d'],
      ['DROP DATABASE d', 'DROP DATABASE IF EXISTS d'],
      ['CREATE VIEW v AS SELECT 1', 'CREATE VIEW v AS SELECT 1'],
      ['CREATE TABLESPACE ts', 'CREATE TABLESPACE ts'],
      ['DROP INDEX i ON t', 'DROP INDEX i ON t'],
      ['INSERT INTO t SELECT \'CREATE TABLE x\'', 'INSERT INTO t SELECT \'CREATE TABLE x\''],
      // What mysqldump writes: the IF [NOT] EXISTS is there, in an executable comment.
      ['CREATE DATABASE /*!32312 IF NOT EXISTS*/ `d`', 'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `d`'],
      ['CREATE TABLE /*!32312 IF NOT EXISTS*/ t (a INT)', 'CREATE TABLE /*!32312 IF NOT EXISTS*/ t (a INT)'],
      ['DROP TABLE /*!32312 IF EXISTS*/ t', 'DROP TABLE /*!32312 IF EXISTS*/ t'],
    ];
    for (const [text, idempotent] of cases) {
      assert.equal(idempotentDdl(text), idempotent, text);
      assert.deepEqual(statements(query({}, text, ''), '', true), [idempotent], text);
      assert.deepEqual(statements(query({}, text, ''), '', false), [text], text);
    }
  });

  test('LOAD DATA reads the file the applier serves, with the duplicate handling of the event', () => {
    // As a MariaDB source logs it: the part the replica replaces runs from before LOCAL to after INTO.
    const text = "LOAD DATA LOCAL INFILE '/tmp/x.csv' IGNORE INTO TABLE `t` FIELDS TERMINATED BY ','";
    const start = text.indexOf(' LOCAL');
    const end = text.indexOf(' TABLE');
    const load = (duplicates: ExecuteLoadQueryEvent['duplicates']): ExecuteLoadQueryEvent =>
      ({ ...query({}, text), type: 'execute_load_query', fileId: 3, filenameStart: start, filenameEnd: end, duplicates });
    assert.equal(loadDataFileName(load('ignore'), header), 'SQL_LOAD-7-3.data');
    assert.deepEqual(statements(load('ignore'), 'd', true),
      ['USE `d`', "LOAD DATA LOCAL INFILE 'SQL_LOAD-7-3.data' IGNORE INTO  TABLE `t` FIELDS TERMINATED BY ','"]);
    assert.equal(statements(load('replace'), '')[0], "LOAD DATA LOCAL INFILE 'SQL_LOAD-7-3.data' REPLACE INTO  TABLE `t` FIELDS TERMINATED BY ','");
    assert.equal(statements(load('error'), '')[0], "LOAD DATA LOCAL INFILE 'SQL_LOAD-7-3.data' INTO  TABLE `t` FIELDS TERMINATED BY ','");
  });
});

describe('querySessionSql, hand-built', () => {
  test('no status variables: the servers\' defaults for what the event leaves out', () => {
    assert.equal(querySessionSql(query({}), { timestamp: 1700000000, serverId: 1 }, lookup),
      'SET TIMESTAMP=1700000000, @@session.pseudo_thread_id=1, @@session.server_id=1, ' +
      '@@session.auto_increment_increment=1, @@session.auto_increment_offset=1, ' +
      '@@session.time_zone=@@global.time_zone, @@session.lc_time_names=0');
  });

  test('microseconds (Q_MICROSECONDS / Q_HRNOW) padded to 6 digits', () => {
    assert.match(querySessionSql(query({ microseconds: 42 }), { timestamp: 1700000000, serverId: 1 }, lookup), /^SET TIMESTAMP=1700000000\.000042,/);
    assert.match(querySessionSql(query({ hrnow: 999999 }), { timestamp: 1, serverId: 1 }, lookup), /^SET TIMESTAMP=1\.999999,/);
    assert.match(querySessionSql(query({ hrnow: 0 }), { timestamp: 5, serverId: 1 }, lookup), /^SET TIMESTAMP=5\.000000,/);
  });

  test('flags2 bits; never autocommit, whose change would commit the applier\'s transaction', () => {
    const all = (1 << 14) | (1 << 19) | (1 << 26) | (1 << 27);
    const none = querySessionSql(query({ flags2: 0 }), { timestamp: 1, serverId: 1 }, lookup);
    const every = querySessionSql(query({ flags2: all }), { timestamp: 1, serverId: 1 }, lookup);
    assert.match(none, /@@session\.foreign_key_checks=1, @@session\.sql_auto_is_null=0, @@session\.unique_checks=1,/);
    assert.match(every, /@@session\.foreign_key_checks=0, @@session\.sql_auto_is_null=1, @@session\.unique_checks=0,/);
    for (const text of [none, every]) assert.doesNotMatch(text, /autocommit/);
  });

  test('the source session: pseudo_thread_id from the event, server_id from its header', () => {
    const text = querySessionSql({ ...query({}), threadId: 4242 }, { timestamp: 1, serverId: 77 }, lookup);
    assert.match(text, /@@session\.pseudo_thread_id=4242, @@session\.server_id=77,/);
  });

  test('sql_mode as a number (bits above 32 too), auto_increment, charsets by name, time zone, lc_time_names', () => {
    const text = querySessionSql(query({
      sqlMode: (1n << 34n) | 4n, autoIncrementIncrement: 5, autoIncrementOffset: 3,
      charset: { client: 5, connection: 224, server: 8 }, timeZone: '+05:30', lcTimeNamesNumber: 4, charsetDatabaseNumber: 45,
    }), { timestamp: 1, serverId: 1 }, lookup);
    assert.ok(text.includes(`@@session.sql_mode=${(1n << 34n) | 4n}`));
    assert.ok(text.includes('@@session.auto_increment_increment=5, @@session.auto_increment_offset=3'));
    assert.ok(text.includes('@@session.character_set_client=latin1, @@session.collation_connection=utf8mb4_unicode_ci, ' +
      '@@session.collation_server=latin1_swedish_ci'));
    assert.ok(text.includes("@@session.time_zone=_utf8mb4'+05:30'"));
    assert.ok(text.includes('@@session.lc_time_names=4'));
    assert.ok(text.includes('@@session.collation_database=utf8mb4_general_ci'));
  });

  test('a time zone name is a literal whatever its bytes: it cannot end the SET', () => {
    const text = querySessionSql(query({ timeZone: "x', @@global.read_only=1, @a='\\" }), { timestamp: 1, serverId: 1 }, lookup);
    assert.ok(text.includes("@@session.time_zone=_utf8mb4 X'78272c204040676c6f62616c2e726561645f6f6e6c793d312c2040613d275c'"), text);
  });

  test('collation ids the target does not know fall back to the number', () => {
    const text = querySessionSql(query({ charset: { client: 2000, connection: 2001, server: 2002 } }), { timestamp: 1, serverId: 1 }, () => undefined);
    assert.ok(text.includes('@@session.character_set_client=2000, @@session.collation_connection=2001, @@session.collation_server=2002'));
  });
});

describe('contextEventSql, hand-built', () => {
  const userVar = (over: Partial<Extract<BinlogEvent, { type: 'user_var' }>>): BinlogEvent => ({
    type: 'user_var', name: 'v', isNull: false, valueType: 0, charset: 45, value: Buffer.alloc(0), decoded: null,
    unsigned: false, ...over,
  });

  test('IntVar, Rand', () => {
    assert.equal(contextEventSql({ type: 'intvar', kind: 'insert_id', value: 18446744073709551615n }), 'SET INSERT_ID=18446744073709551615');
    assert.equal(contextEventSql({ type: 'intvar', kind: 'last_insert_id', value: 7n }), 'SET LAST_INSERT_ID=7');
    assert.equal(contextEventSql({ type: 'intvar', kind: 9, value: 7n }), undefined);
    assert.equal(contextEventSql({ type: 'rand', seed1: 165983328n, seed2: 503918457n }),
      'SET @@RAND_SEED1=165983328, @@RAND_SEED2=503918457');
  });

  test('User_var: NULL, integers, decimal', () => {
    assert.equal(contextEventSql(userVar({ isNull: true })), 'SET @`v`:=NULL');
    assert.equal(contextEventSql(userVar({ name: 'a`b', isNull: true })), 'SET @`a``b`:=NULL');
    assert.equal(contextEventSql(userVar({ valueType: 2, decoded: -42n })), 'SET @`v`:=-42');
    assert.equal(contextEventSql(userVar({ valueType: 2, decoded: 18446744073709551615n, unsigned: true })),
      'SET @`v`:=18446744073709551615');
    assert.equal(contextEventSql(userVar({ valueType: 2, decoded: -1n, unsigned: true })), 'SET @`v`:=18446744073709551615');
    assert.equal(contextEventSql(userVar({ valueType: 4, decoded: '-123.4500' })), 'SET @`v`:=-123.4500');
  });

  test('other events set no context', () => {
    assert.equal(contextEventSql({ type: 'xid', xid: 1n }), undefined);
    assert.equal(contextEventSql(query({})), undefined);
  });
});

describe('against a real source and target', () => {
  let source: TestServer;
  let target: TestServer;
  let conn: Connection;
  const collations = new Map<number, Collation>();
  const events: DecodedEvent[] = [];
  let binlogText = '';
  const replayErrors: { sql: string; error: string }[] = [];
  let sourceFlags2 = { base: 0, toggled: 0 };

  async function sourceWorkload(): Promise<void> {
    const c = await source.connect();
    const q = async (...statements: string[]) => {
      for (const s of statements) await c.query(s);
    };
    try {
      await q('CREATE DATABASE d', 'USE d',
        'CREATE TABLE base (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100))', "INSERT INTO base (v) VALUES ('flags base')");
      // flags2 bits, MariaDB's extra ones included.
      await q('CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB',
        'CREATE TABLE child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES parent (id)) ENGINE=InnoDB',
        'CREATE TABLE chk (a INT, CONSTRAINT pos CHECK (a > 0))',
        'SET foreign_key_checks=0, unique_checks=0, sql_auto_is_null=1, check_constraint_checks=0, ' +
        'explicit_defaults_for_timestamp=0, sql_if_exists=1',
        "INSERT INTO base (v) VALUES ('flags toggled')",
        'INSERT INTO child VALUES (1, 99)', 'INSERT INTO chk VALUES (-5)',
        'CREATE TABLE eds (id INT, ts TIMESTAMP, ts2 TIMESTAMP)',
        'SET foreign_key_checks=1, unique_checks=1, sql_auto_is_null=0, check_constraint_checks=1, ' +
        'explicit_defaults_for_timestamp=1, sql_if_exists=0');
      // sql_mode
      await q('CREATE TABLE sm (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))',
        "SET sql_mode='NO_BACKSLASH_ESCAPES,ANSI_QUOTES,EMPTY_STRING_IS_NULL'",
        "INSERT INTO \"sm\" (v) VALUES ('a\\b'), ('')", 'SET sql_mode=DEFAULT');
      // auto_increment_increment/offset
      await q('CREATE TABLE ai (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))',
        'SET auto_increment_increment=5, auto_increment_offset=3', "INSERT INTO ai (v) VALUES ('a'), ('b'), ('c')",
        'SET auto_increment_increment=1, auto_increment_offset=1');
      // character sets: statement text in latin1, collation_connection for literals
      await q('CREATE TABLE cs (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20) CHARACTER SET utf8mb4, w VARCHAR(20))');
      await c.query('SET NAMES latin1 COLLATE latin1_german1_ci');
      await c.query(Buffer.from("INSERT INTO cs (v, w) VALUES ('caf\xe9', IF('\xe4' = 'ae', 'german', 'swedish'))", 'latin1').toString('latin1'));
      await q('SET NAMES utf8mb4');
      // time zone, lc_time_names, microseconds
      await q('CREATE TABLE tz (id INT AUTO_INCREMENT PRIMARY KEY, dt DATETIME(6), ts TIMESTAMP(6) NULL, m VARCHAR(20), u BIGINT)',
        "SET time_zone='+05:30', lc_time_names='de_DE'",
        "INSERT INTO tz (dt, ts, m, u) VALUES (NOW(6), NOW(6), DATE_FORMAT('2024-03-01', '%M'), UNIX_TIMESTAMP('2024-01-01 00:00:00'))",
        "SET time_zone=DEFAULT, lc_time_names=DEFAULT");
      // User_var of each type, Rand, IntVar
      await q('CREATE TABLE uv (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200), r DOUBLE, l BIGINT)',
        "SET @s = _latin1 X'E9' COLLATE latin1_german1_ci, @t = _utf8mb4 'straße', @i = -42, " +
        '@u = CAST(18446744073709551615 AS UNSIGNED), @r = 0.1e0, @dec = -123.4500, @n = NULL',
        "INSERT INTO uv (v) VALUES (CONCAT_WS('|', UPPER(@s), UPPER(@t), CHARSET(@t), @i, @u, @dec, IFNULL(@n, 'null')))",
        "INSERT INTO uv (v) VALUES (CONCAT(@r / 3))",
        'INSERT INTO uv (r) VALUES (RAND())', 'INSERT INTO uv (l) VALUES (LAST_INSERT_ID())');
      // database statements
      await q('ALTER DATABASE CHARACTER SET latin1', 'CREATE OR REPLACE DATABASE d2', 'USE d2', 'CREATE TABLE t2 (a INT)',
        'USE d', 'CREATE TEMPORARY TABLE tmp (a INT)', 'INSERT INTO tmp VALUES (1)', 'INSERT INTO base (v) SELECT CONCAT(\'tmp \', a) FROM tmp');
    } finally {
      await c.end(); // ends the session: the source logs DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `tmp`
    }
  }

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 7104, binlogFormat: 'STATEMENT' }),
      startMariaDb({ serverId: 7105, noBinlog: true })]);
    await sourceWorkload();
    await new Promise((r) => setTimeout(r, 200)); // the temporary-table DROP is logged as the session ends
    await source.sql('FLUSH BINARY LOGS');
    const path = join(source.dataDir, 'mysql-bin.000001');
    const data = await readFile(path);
    const decoder = new BinlogDecoder();
    for (let pos = 4; pos < data.length;) {
      const length = decodeHeader(data, pos).eventLength;
      events.push(decoder.decode(data.subarray(pos, pos + length)));
      pos += length;
    }
    binlogText = (await run('mariadb-binlog', [path], { encoding: 'latin1', maxBuffer: 64 << 20 })).stdout;

    conn = await target.connect({ charset: 'BINARY', flags: ['-SESSION_TRACK'] });
    await conn.query('SET @@session.character_set_results=utf8mb4');
    const [rows] = await conn.query('SELECT ID AS id, COLLATION_NAME AS name, CHARACTER_SET_NAME AS charset FROM information_schema.COLLATIONS') as
      [{ id: number; name: Buffer | string; charset: Buffer | string }[], unknown];
    for (const r of rows) collations.set(Number(r.id), { name: String(r.name), charset: String(r.charset) });

    // Replay like the applier does for statements: context events, then session SET, USE and the statement.
    for (const { header, event } of events) {
      const run = async (text: string) => {
        try {
          await conn.query(text);
        } catch (err) {
          replayErrors.push({ sql: text, error: (err as Error).message });
        }
      };
      if (event.type === 'query') {
        const keyword = firstKeyword(event.sql);
        if (keyword === 'BEGIN' || keyword === 'COMMIT') continue;
        for (const s of queryStatements(event, header, { database: event.database, collation: (id) => collations.get(id), idempotentDdl: false })) await run(s);
      } else {
        const context = contextEventSql(event, (id) => collations.get(id));
        if (context) await run(context);
      }
    }
    const base = queries().find((e) => e.sql.toString().includes("'flags base'"))!;
    const toggled = queries().find((e) => e.sql.toString().includes("'flags toggled'"))!;
    sourceFlags2 = { base: base.statusVars.flags2!, toggled: toggled.statusVars.flags2! };
  });

  after(async () => {
    await conn?.end();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  function queries(): QueryEvent[] {
    return events.map((e) => e.event).filter((e): e is QueryEvent => e.type === 'query');
  }

  function queryWith(text: string): QueryEvent {
    const found = queries().find((e) => e.sql.toString('latin1').includes(text));
    assert.ok(found, `no Query event with ${text}`);
    return found;
  }

  /** The same query on source and target, on fresh connections of the same kind. */
  async function both(statement: string): Promise<[string[], string[]]> {
    const read = async (server: TestServer) => {
      const c = await server.connect();
      try {
        const [rows] = await c.query(statement) as [Record<string, unknown>[], unknown];
        return rows.map((r) => Object.values(r).map((v) => (v === null ? 'NULL' : Buffer.isBuffer(v) ? v.toString('hex') : String(v))).join('|'));
      } finally {
        await c.end();
      }
    };
    return [await read(source), await read(target)];
  }

  const errorsFor = (text: string) => replayErrors.filter((e) => e.sql.includes(text));

  /**
   * mariadb-binlog prints a session variable only when it changes; this follows its output and returns, for a
   * statement, the values in force (names as printed, values as printed).
   */
  function binlogStateAt(statementStart: string): Map<string, string> {
    const state = new Map<string, string>();
    for (const line of binlogText.split('\n')) {
      if (line.startsWith(statementStart)) return state;
      const m = /^SET (@@session\..*|TIMESTAMP=.*)\/\*!\*\/;$/.exec(line);
      if (!m) continue;
      for (const part of m[1]!.split(/,\s*(?=@@|TIMESTAMP)/)) {
        const eq = part.indexOf('=');
        state.set(part.slice(0, eq).replace(/^@@session\./, ''), part.slice(eq + 1));
      }
    }
    throw new Error(`mariadb-binlog printed no ${statementStart}`);
  }

  function ours(event: QueryEvent, header: { timestamp: number; serverId: number }): Map<string, string> {
    // MariaDB-only variables come in executable comments (`/*M!100201 , @@session.x=1 */`): read them as set.
    const text = querySessionSql(event, header, (id) => collations.get(id)).replace(/ \/\*M!\d+ (, [^*]*) \*\//g, '$1');
    const state = new Map<string, string>();
    for (const part of text.replace(/^SET /, '').split(/, (?=@@|TIMESTAMP)/)) {
      const eq = part.indexOf('=');
      // The time zone's literal says its character set; mariadb-binlog's does not.
      state.set(part.slice(0, eq).replace(/^@@session\./, ''), part.slice(eq + 1).replace(/^_utf8mb4'/, "'"));
    }
    return state;
  }

  const collationId = (nameOrId: string) => {
    if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
    for (const [id, c] of collations) if (c.name === nameOrId) return id;
    return -1;
  };

  test('every variable mariadb-binlog sets for a Query event is set to the same value', () => {
    const statements = ["INSERT INTO base (v) VALUES ('flags base')", "INSERT INTO base (v) VALUES ('flags toggled')",
      "INSERT INTO \"sm\" (v) VALUES ('a\\b'), ('')", "INSERT INTO ai (v) VALUES ('a'), ('b'), ('c')",
      'INSERT INTO cs (v, w) VALUES', 'INSERT INTO tz (dt, ts, m, u)', 'CREATE TABLE eds', 'INSERT INTO uv (r) VALUES (RAND())'];
    for (const statement of statements) {
      const decoded = events.find((e) => e.event.type === 'query' && e.event.sql.toString('latin1').startsWith(statement))!;
      assert.ok(decoded, statement);
      const theirs = binlogStateAt(statement);
      const mine = ours(decoded.event as QueryEvent, decoded.header);
      for (const [name, value] of theirs) {
        // The applier's transactions follow the events; SET autocommit=1 after 0 would commit one midway.
        if (name === 'autocommit') continue;
        if (name === 'collation_database' && value === 'DEFAULT') continue;
        // mariadb-binlog prints time_zone only when an event carries it and never resets it; an event without
        // it runs in the replica's default time zone, as on the native SQL thread.
        if (name === 'time_zone' && (decoded.event as QueryEvent).statusVars.timeZone === undefined) {
          assert.equal(mine.get(name), '@@global.time_zone', `${statement}: time_zone`);
          continue;
        }
        assert.ok(mine.has(name), `${statement}: mariadb-binlog sets ${name}=${value}, querySessionSql does not set ${name}`);
        const got = mine.get(name)!;
        if (name.startsWith('collation_')) assert.equal(collationId(got), collationId(value), `${statement}: ${name}`);
        else assert.equal(got, value, `${statement}: ${name}`);
      }
    }
  });

  test('flags2 from the source: the MariaDB bits differ between the two sessions', () => {
    assert.notEqual(sourceFlags2.base, sourceFlags2.toggled);
  });

  test('replay: foreign_key_checks=0 and check_constraint_checks=0 are honoured', async () => {
    assert.deepEqual(errorsFor('INSERT INTO child'), []);
    assert.deepEqual(errorsFor('INSERT INTO chk'), []);
    const [s, t] = await both('SELECT a FROM d.chk');
    assert.deepEqual(t, s);
  });

  test('replay: explicit_defaults_for_timestamp=0 shapes CREATE TABLE as on the source', async () => {
    const [s, t] = await both('SHOW CREATE TABLE d.eds');
    assert.deepEqual(t, s);
  });

  test('replay: sql_mode, auto_increment, character sets, time zone, lc_time_names, microseconds', async () => {
    for (const table of ['base', 'sm', 'ai', 'cs', 'tz']) {
      const [s, t] = await both(`SELECT * FROM d.${table} ORDER BY 1`);
      assert.deepEqual(t, s, `d.${table}`);
    }
    const [s] = await both('SELECT * FROM d.ai');
    assert.deepEqual(s.map((r) => r.split('|')[0]), ['3', '8', '13']);
  });

  test('replay: User_var, Rand and IntVar give the source rows', async () => {
    const [s, t] = await both('SELECT * FROM d.uv ORDER BY 1');
    assert.equal(t.length, s.length);
    for (const [i, row] of s.entries()) assert.equal(t[i], row, `d.uv row ${i + 1}`);
  });

  test('a string user variable keeps its character set and collation', async () => {
    const event = events.map((e) => e.event).find((e) => e.type === 'user_var' && e.name === 's')!;
    await conn.query(contextEventSql(event, (id) => collations.get(id))!);
    const [[row]] = await conn.query('SELECT CHARSET(@s) AS c, COLLATION(@s) AS k, HEX(@s) AS h') as [{ c: Buffer; k: Buffer; h: Buffer }[], unknown];
    assert.deepEqual([String(row!.c), String(row!.k), String(row!.h)], ['latin1', 'latin1_german1_ci', 'E9']);
  });

  test('a REAL user variable stays a double', async () => {
    const event = events.map((e) => e.event).find((e) => e.type === 'user_var' && e.name === 'r')!;
    await conn.query(contextEventSql(event)!);
    const [[row]] = await conn.query('SELECT CONCAT(@r / 3) AS a, CONCAT(0.1e0 / 3) AS b') as [{ a: Buffer; b: Buffer }[], unknown];
    assert.equal(String(row!.a), String(row!.b));
  });

  test('replay: nameless ALTER DATABASE acts on the default database', async () => {
    const statements = queryStatements(queryWith('ALTER DATABASE CHARACTER SET'), { timestamp: 1, serverId: 1 },
      { database: 'd', collation: lookup, idempotentDdl: false });
    assert.deepEqual(statements[0], 'USE `d`');
    const [s, t] = await both('SHOW CREATE DATABASE d');
    assert.deepEqual(t, s);
  });

  test('replay: CREATE OR REPLACE DATABASE runs without USE of the database it creates', async () => {
    const event = queryWith('CREATE OR REPLACE DATABASE d2');
    assert.equal(event.database, 'd2');
    const statements = queryStatements(event, { timestamp: 1, serverId: 1 }, { database: event.database, collation: lookup, idempotentDdl: false });
    assert.ok(statements.every((s) => !s.startsWith('USE')));
    assert.deepEqual(errorsFor('d2'), []);
    const [s, t] = await both("SHOW TABLES FROM d2");
    assert.deepEqual(t, s);
  });

  test('temporary tables as logged: neither the CREATE nor the DROP at session end commits', () => {
    assert.equal(commitsImplicitly(queryWith('CREATE TEMPORARY TABLE tmp').sql), false);
    const drop = queryWith('TEMPORARY */ TABLE IF EXISTS `tmp`');
    assert.equal(commitsImplicitly(drop.sql), false);
    assert.equal(isTemporaryTableDdl(drop.sql), true);
    assert.equal(isTemporaryTableDdl(queryWith('CREATE TEMPORARY TABLE tmp').sql), true);
    assert.equal(isTemporaryTableDdl(queryWith('CREATE TABLE base').sql), false);
    assert.equal(firstKeyword(drop.sql), 'DROP');
  });

  test('replay finished without other errors', () => {
    const known = ['INSERT INTO child', 'INSERT INTO chk', 'd2'];
    assert.deepEqual(replayErrors.filter((e) => !known.some((k) => e.sql.includes(k))), []);
  });
});
