// updatedTables(): which tables a replicated statement updates, for the table stage of the filters.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatementParseError, tokenizeSql, updatedTables, type StatementParseOptions } from '../src/filter/index.js';

interface Case {
  sql: string;
  /** Expected updated tables as 'db.table' (the default database is 'd'). */
  tables: string[];
  command?: string;
  databaseLevel?: string;
  transactionControl?: boolean;
  tableRulesExempt?: boolean;
  options?: StatementParseOptions;
}

function check(cases: Case[]): void {
  for (const c of cases) {
    it(c.sql.replace(/\s+/g, ' '), () => {
      const r = updatedTables(c.sql, 'd', c.options);
      assert.deepEqual(
        r.tables.map((t) => `${t.db}.${t.table}`),
        c.tables,
      );
      if (c.command !== undefined) assert.equal(r.command, c.command);
      assert.equal(r.databaseLevel?.db, c.databaseLevel);
      assert.equal(r.transactionControl === true, c.transactionControl === true);
      assert.equal(r.tableRulesExempt === true, c.tableRulesExempt === true);
    });
  }
}

describe('INSERT / REPLACE', () => {
  check([
    { sql: 'INSERT INTO t VALUES (1)', tables: ['d.t'], command: 'INSERT' },
    { sql: 'insert low_priority ignore into `db`.`t` (a) values (1)', tables: ['db.t'] },
    { sql: 'INSERT HIGH_PRIORITY t SET a = 1', tables: ['d.t'] },
    { sql: 'INSERT DELAYED INTO db . t VALUES (1)', tables: ['db.t'] },
    // 5.5.6: for INSERT INTO sales SELECT * FROM prices only sales is compared with the rules.
    { sql: 'INSERT INTO sales SELECT * FROM prices', tables: ['d.sales'] },
    { sql: 'INSERT INTO a.t1 (x) SELECT y FROM b.t2 JOIN c.t3 ON t2.id = t3.id', tables: ['a.t1'] },
    { sql: 'INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE other.c = 1', tables: ['d.t'] },
    { sql: 'REPLACE INTO t VALUES (1)', tables: ['d.t'], command: 'REPLACE' },
    { sql: 'REPLACE LOW_PRIORITY db.t SELECT * FROM u', tables: ['db.t'] },
    { sql: "INSERT INTO t VALUES ('INTO x.y')", tables: ['d.t'] },
    { sql: 'INSERT INTO `we``ird`.`ta ble` VALUES (1)', tables: ['we`ird.ta ble'] },
    { sql: 'INSERT INTO `tëst`.tàble VALUES (1)', tables: ['tëst.tàble'] },
    { sql: 'INSERT INTO db.$t1 VALUES (1)', tables: ['db.$t1'] },
    { sql: 'INSERT INTO t PARTITION (p0) VALUES (1)', tables: ['d.t'] },
    { sql: 'INSERT INTO t VALUES (1) RETURNING id', tables: ['d.t'] },
  ]);
});

describe('UPDATE', () => {
  check([
    { sql: 'UPDATE t SET a = 1 WHERE b IN (SELECT c FROM u)', tables: ['d.t'], command: 'UPDATE' },
    { sql: 'UPDATE LOW_PRIORITY IGNORE db.t AS x SET x.a = 1', tables: ['db.t'] },
    { sql: 'UPDATE t1 SET a = (SELECT MAX(b) FROM t2)', tables: ['d.t1'] },
    // Multi-table: only the tables whose columns are assigned.
    { sql: 'UPDATE t1, t2 SET t1.a = t2.a', tables: ['d.t1'] },
    { sql: 'UPDATE t1 AS a JOIN t2 AS b ON a.id = b.id SET b.x = a.x', tables: ['d.t2'] },
    { sql: 'UPDATE t1 a INNER JOIN db2.t2 b USING (id) SET a.x = 1, b.y = 2', tables: ['d.t1', 'db2.t2'] },
    { sql: 'UPDATE t1 LEFT JOIN t2 ON LEFT(t1.a, 2) = t2.b SET t1.c = 3', tables: ['d.t1'] },
    { sql: 'UPDATE t1 LEFT OUTER JOIN t2 ON t1.a = t2.b RIGHT JOIN t3 ON t3.x = t2.x SET t3.c = 3 WHERE t1.z = 1', tables: ['d.t3'] },
    { sql: 'UPDATE t1 JOIN (SELECT id FROM t3) AS dt ON dt.id = t1.id SET t1.v = 1', tables: ['d.t1'] },
    { sql: 'UPDATE db.t1, db.t2 SET db.t2.v = 1', tables: ['db.t2'] },
    { sql: "UPDATE t1, t2 SET t2.v = 'SET t1.v = 1'", tables: ['d.t2'] },
    { sql: 'UPDATE (t1 JOIN t2 ON t1.a = t2.a) SET t1.x = 1', tables: ['d.t1'] },
    { sql: 'UPDATE t1 USE INDEX (i) JOIN t2 FORCE INDEX FOR JOIN (j) ON t1.a = t2.a SET t2.x = 1', tables: ['d.t2'] },
    { sql: 'UPDATE t1 IGNORE KEY FOR ORDER BY (i) STRAIGHT_JOIN t2 SET t2.x = 1', tables: ['d.t2'] },
    { sql: 'UPDATE t1 NATURAL JOIN t2 CROSS JOIN t3 SET t3.x = 1, t1.y = 2', tables: ['d.t1', 'd.t3'] },
    { sql: 'UPDATE `T1` AS `A`, t2 SET a.x = 1', tables: ['d.T1'] },
    { sql: 'UPDATE t1, t2 SET t1.a = 1, t1.b = 2 ORDER BY t1.a', tables: ['d.t1'] },
    // A column that names no table cannot be placed without the schema: every listed table counts.
    { sql: 'UPDATE t1, t2 SET a = 1', tables: ['d.t1', 'd.t2'] },
    { sql: 'UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = 1, b = 2', tables: ['d.t1', 'd.t2'] },
    { sql: 'UPDATE t1 AS x JOIN t1 AS y ON x.p = y.id SET x.v = y.v', tables: ['d.t1'] },
    { sql: 'WITH c AS (SELECT id FROM a) UPDATE t JOIN c ON t.id = c.id SET t.v = 1', tables: ['d.t'] },
    { sql: 'WITH RECURSIVE c (n) AS (SELECT 1 UNION SELECT n + 1 FROM c) DELETE FROM t WHERE id IN (SELECT n FROM c)', tables: ['d.t'] },
  ]);
});

describe('DELETE', () => {
  check([
    { sql: 'DELETE FROM t WHERE a = 1', tables: ['d.t'], command: 'DELETE' },
    { sql: 'DELETE LOW_PRIORITY QUICK IGNORE FROM db.t WHERE a = 1 ORDER BY b LIMIT 1', tables: ['db.t'] },
    { sql: 'DELETE FROM t AS a WHERE a.x = 1', tables: ['d.t'] },
    { sql: 'DELETE FROM t PARTITION (p1) WHERE 1', tables: ['d.t'] },
    { sql: 'DELETE FROM t RETURNING id', tables: ['d.t'] },
    // Multi-table forms: only the tables deleted from.
    { sql: 'DELETE t1, t2 FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id = t2.id AND t2.id = t3.id', tables: ['d.t1', 'd.t2'] },
    { sql: 'DELETE FROM t1, t2 USING t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id = t2.id', tables: ['d.t1', 'd.t2'] },
    { sql: 'DELETE a FROM db1.t1 AS a JOIN db2.t2 AS b ON a.id = b.id', tables: ['db1.t1'] },
    { sql: 'DELETE b FROM db1.t1 a, db2.t2 b WHERE a.id = b.id', tables: ['db2.t2'] },
    { sql: 'DELETE t1.* FROM t1 LEFT JOIN t2 ON t1.id = t2.id WHERE t2.id IS NULL', tables: ['d.t1'] },
    { sql: 'DELETE FROM a.* USING db.t1 AS a, t2', tables: ['db.t1'] },
    { sql: 'DELETE x.t1 FROM x.t1 JOIN y.t2 ON t1.id = t2.id', tables: ['x.t1'] },
  ]);
});

describe('CREATE', () => {
  check([
    { sql: 'CREATE TABLE t (a INT)', tables: ['d.t'], command: 'CREATE TABLE' },
    { sql: 'CREATE TEMPORARY TABLE IF NOT EXISTS db.t (a INT)', tables: ['db.t'], command: 'CREATE TEMPORARY TABLE' },
    { sql: 'CREATE OR REPLACE TABLE t AS SELECT * FROM u', tables: ['d.t'] },
    { sql: 'CREATE TABLE t LIKE other.u', tables: ['d.t'] },
    { sql: 'CREATE TABLE t SELECT 1 AS a', tables: ['d.t'] },
    { sql: 'CREATE /*M!100100 OR REPLACE */ TABLE `t` (a INT)', tables: ['d.t'] },
    { sql: 'CREATE UNIQUE INDEX i USING BTREE ON db.t (a)', tables: ['db.t'], command: 'CREATE INDEX' },
    { sql: 'CREATE INDEX IF NOT EXISTS i ON t (a)', tables: ['d.t'] },
    { sql: 'CREATE FULLTEXT INDEX ft ON t (body)', tables: ['d.t'] },
    { sql: 'CREATE SEQUENCE s START WITH 1', tables: ['d.s'], command: 'CREATE SEQUENCE' },
    { sql: 'CREATE DATABASE IF NOT EXISTS `shop`', tables: [], databaseLevel: 'shop', command: 'CREATE DATABASE' },
    { sql: 'CREATE SCHEMA s CHARACTER SET utf8mb4', tables: [], databaseLevel: 's' },
    // mysqldump's form: versioned comments whose content counts.
    { sql: 'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `db1` /*!40100 DEFAULT CHARACTER SET latin1 */', tables: [], databaseLevel: 'db1' },
    // Views and triggers: the servers open the view, and the trigger's table, for update.
    {
      sql: '/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */ /*!50001 VIEW `v1` AS select `t`.`a` AS `a` from `t` */',
      tables: ['d.v1'],
      command: 'CREATE VIEW',
    },
    { sql: "CREATE OR REPLACE DEFINER='u'@'%' VIEW db.v AS SELECT * FROM x.t", tables: ['db.v'] },
    { sql: 'CREATE DEFINER=`root`@`%` TRIGGER trg BEFORE INSERT ON db.t FOR EACH ROW SET NEW.a = 1', tables: ['db.t'], command: 'CREATE TRIGGER' },
    { sql: 'CREATE TRIGGER IF NOT EXISTS d2.trg AFTER UPDATE ON t FOR EACH ROW INSERT INTO log VALUES (1)', tables: ['d.t'] },
    // Routines and events update no table themselves.
    { sql: 'CREATE DEFINER=CURRENT_USER PROCEDURE p() BEGIN UPDATE t SET a = 1; END', tables: [], command: 'CREATE PROCEDURE' },
    { sql: 'CREATE DEFINER = CURRENT_USER() FUNCTION f() RETURNS INT RETURN 1', tables: [], command: 'CREATE FUNCTION' },
    { sql: 'CREATE AGGREGATE FUNCTION agg(x INT) RETURNS INT BEGIN RETURN 1; END', tables: [], command: 'CREATE FUNCTION' },
    { sql: 'CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t', tables: [], command: 'CREATE EVENT' },
    { sql: "CREATE USER 'u'@'%' IDENTIFIED BY 'p'", tables: [], command: 'CREATE USER' },
  ]);
});

describe('ALTER', () => {
  check([
    { sql: 'ALTER TABLE t ADD COLUMN b INT', tables: ['d.t'], command: 'ALTER TABLE' },
    // Only the altered table is in the table list; the new name of RENAME TO is not.
    { sql: 'ALTER TABLE db.t RENAME TO db.u', tables: ['db.t'] },
    { sql: 'ALTER IGNORE TABLE t ADD UNIQUE (a)', tables: ['d.t'] },
    { sql: 'ALTER ONLINE TABLE t ADD INDEX (a)', tables: ['d.t'] },
    { sql: 'ALTER TABLE IF EXISTS t ENGINE = InnoDB', tables: ['d.t'] },
    { sql: 'ALTER SEQUENCE IF EXISTS s RESTART 1', tables: ['d.s'] },
    { sql: 'ALTER DATABASE shop CHARACTER SET utf8mb4', tables: [], databaseLevel: 'shop', command: 'ALTER DATABASE' },
    { sql: 'ALTER DATABASE CHARACTER SET utf8mb4', tables: [], databaseLevel: 'd' },
    { sql: 'ALTER SCHEMA DEFAULT COLLATE utf8mb4_bin', tables: [], databaseLevel: 'd' },
    { sql: "ALTER SCHEMA `x` COMMENT 'y'", tables: [], databaseLevel: 'x' },
    { sql: 'ALTER ALGORITHM=MERGE DEFINER=`a`@`b` SQL SECURITY INVOKER VIEW v AS SELECT 1', tables: ['d.v'], command: 'ALTER VIEW' },
    { sql: "ALTER PROCEDURE p COMMENT 'x'", tables: [], command: 'ALTER PROCEDURE' },
    { sql: 'ALTER EVENT e DISABLE', tables: [], command: 'ALTER EVENT' },
  ]);
});

describe('DROP, RENAME, TRUNCATE', () => {
  check([
    { sql: 'DROP TABLE t1, db.t2', tables: ['d.t1', 'db.t2'], command: 'DROP TABLE' },
    { sql: 'DROP TABLE IF EXISTS `t1` /* generated by server */', tables: ['d.t1'] },
    { sql: 'DROP TABLE t1 CASCADE', tables: ['d.t1'] },
    { sql: 'DROP TEMPORARY TABLE IF EXISTS `t1`', tables: ['d.t1'], command: 'DROP TEMPORARY TABLE', tableRulesExempt: true },
    { sql: 'DROP TEMPORARY TABLE t1', tables: ['d.t1'], command: 'DROP TEMPORARY TABLE' },
    { sql: 'DROP SEQUENCE IF EXISTS s1, s2', tables: ['d.s1', 'd.s2'] },
    { sql: 'DROP DATABASE IF EXISTS shop', tables: [], databaseLevel: 'shop', command: 'DROP DATABASE' },
    { sql: 'DROP SCHEMA `a b`', tables: [], databaseLevel: 'a b' },
    { sql: 'DROP INDEX i ON db.t', tables: ['db.t'], command: 'DROP INDEX' },
    { sql: 'DROP INDEX IF EXISTS `PRIMARY` ON t', tables: ['d.t'] },
    { sql: 'DROP VIEW IF EXISTS v1, x.v2', tables: ['d.v1', 'x.v2'], command: 'DROP VIEW' },
    { sql: 'DROP TRIGGER IF EXISTS db.trg', tables: [], command: 'DROP TRIGGER' },
    { sql: 'DROP PROCEDURE p', tables: [], command: 'DROP PROCEDURE' },
    { sql: 'DROP FUNCTION IF EXISTS f', tables: [], command: 'DROP FUNCTION' },
    { sql: 'DROP EVENT e', tables: [], command: 'DROP EVENT' },
    // RENAME TABLE: old and new names of every pair.
    { sql: 'RENAME TABLE a TO b, db.c TO db2.d', tables: ['d.a', 'd.b', 'db.c', 'db2.d'], command: 'RENAME TABLE' },
    { sql: 'RENAME TABLE IF EXISTS a WAIT 5 TO b', tables: ['d.a', 'd.b'] },
    { sql: "RENAME USER 'a' TO 'b'", tables: [], command: 'RENAME USER' },
    { sql: 'TRUNCATE TABLE t', tables: ['d.t'], command: 'TRUNCATE TABLE' },
    { sql: 'truncate db.t', tables: ['db.t'] },
  ]);
});

describe('LOAD DATA and table maintenance', () => {
  check([
    { sql: "LOAD DATA LOCAL INFILE '/tmp/INTO TABLE x.txt' REPLACE INTO TABLE db.t FIELDS TERMINATED BY ','", tables: ['db.t'], command: 'LOAD DATA' },
    { sql: "LOAD DATA CONCURRENT INFILE 'f' IGNORE INTO TABLE t CHARACTER SET utf8 (a, @b) SET c = @b", tables: ['d.t'] },
    { sql: "LOAD XML INFILE 'f.xml' INTO TABLE t ROWS IDENTIFIED BY '<r>'", tables: ['d.t'], command: 'LOAD XML' },
    { sql: 'OPTIMIZE TABLE t1, db.t2', tables: ['d.t1', 'db.t2'], command: 'OPTIMIZE TABLE' },
    { sql: 'ANALYZE LOCAL TABLE t', tables: ['d.t'] },
    { sql: 'REPAIR NO_WRITE_TO_BINLOG TABLE t', tables: ['d.t'] },
  ]);
});

describe('transaction control and statements without tables', () => {
  check([
    { sql: 'BEGIN', tables: [], transactionControl: true },
    { sql: 'COMMIT', tables: [], transactionControl: true },
    { sql: 'ROLLBACK TO SAVEPOINT s', tables: [], transactionControl: true },
    { sql: 'SAVEPOINT s', tables: [], transactionControl: true },
    { sql: 'RELEASE SAVEPOINT s', tables: [], transactionControl: true },
    { sql: "XA START 'x'", tables: [], transactionControl: true },
    { sql: 'START TRANSACTION', tables: [], transactionControl: true },
    { sql: 'SET @a = 1', tables: [], command: 'SET' },
    { sql: 'GRANT SELECT ON db.* TO u', tables: [], command: 'GRANT' },
    { sql: 'SELECT 1', tables: [], command: 'SELECT' },
    { sql: '', tables: [], command: '' },
    { sql: '  /* only a comment */  ', tables: [], command: '' },
    { sql: '(SELECT 1)', tables: [], command: '' },
  ]);
});

describe('comments, quoting and string literals', () => {
  check([
    { sql: '-- INSERT INTO x\nINSERT INTO t VALUES (1)', tables: ['d.t'] },
    { sql: '# DELETE FROM x\nDELETE FROM t', tables: ['d.t'] },
    { sql: '/* UPDATE x SET a=1 */ UPDATE t SET a = 1', tables: ['d.t'] },
    { sql: 'UPDATE /*+ NO_RANGE_OPTIMIZATION(t) */ t SET a = 1', tables: ['d.t'] },
    { sql: 'INSERT /* INTO x */ INTO t VALUES (1)', tables: ['d.t'] },
    { sql: 'INSERT INTO t VALUES (1--1)', tables: ['d.t'] },
    { sql: 'INSERT INTO t VALUES (1)-- trailing', tables: ['d.t'] },
    { sql: 'INSERT INTO t VALUES (1)--', tables: ['d.t'] },
    { sql: 'DROP/*!50000 TEMPORARY*/ TABLE/*!32312 IF EXISTS*/ t1', tables: ['d.t1'], tableRulesExempt: true },
    { sql: '/*!40101 INSERT INTO t VALUES (1) */', tables: ['d.t'] },
    { sql: '/*!100101 DROP TABLE t1 */', tables: ['d.t1'] },
    { sql: "INSERT INTO t VALUES ('it''s', \"a\\\"b\", 'x\\'y', '/* not a comment', '-- nor this')", tables: ['d.t'] },
    { sql: 'UPDATE t1, t2 SET t1.a = "t2.b = 1", t1.c = `t2`.d', tables: ['d.t1'] },
    { sql: 'DELETE FROM `db``x`.`from` WHERE `where` = 1', tables: ['db`x.from'] },
    { sql: "INSERT INTO t VALUES ('C:\\'), ('x')", tables: ['d.t'], options: { noBackslashEscapes: true } },
    { sql: 'INSERT INTO "db"."t" VALUES (1)', tables: ['db.t'], options: { ansiQuotes: true } },
    { sql: 'INSERT INTO t VALUES ("db"."t")', tables: ['d.t'] },
    { sql: 'delete from T where 1', tables: ['d.T'] },
    { sql: 'INSERT INTO t VALUES (1); DROP TABLE u', tables: ['d.t'] },
  ]);
});

describe('errors', () => {
  const bad: [sql: string, message: RegExp, options?: StatementParseOptions][] = [
    ["INSERT INTO t VALUES ('x", /unterminated ' quote \(at offset 22\)/],
    ['UPDATE t SET a = 1 /* unterminated', /unterminated \/\* comment/],
    ['/*!50001 CREATE TABLE t (a INT)', /unterminated \/\*! comment/],
    ['DROP TABLE `t', /unterminated ` quote/],
    ['INSERT INTO', /expected a table name/],
    ['DELETE t1 WHERE 1', /expected FROM in multi-table DELETE/],
    ['RENAME TABLE a b', /expected TO in RENAME TABLE/],
    ["LOAD DATA INFILE 'f'", /expected INTO TABLE in LOAD DATA/],
    // Without NO_BACKSLASH_ESCAPES the backslash escapes the closing quote.
    ["INSERT INTO t VALUES ('C:\\'), ('x')", /unterminated ' quote/],
  ];
  for (const [sql, message, options] of bad) {
    it(`refuses ${JSON.stringify(sql)}`, () => {
      assert.throws(() => updatedTables(sql, 'd', options), (e: unknown) => e instanceof StatementParseError && message.test(e.message));
    });
  }
});

describe('tokenizeSql', () => {
  it('drops comments, keeps versioned comment content, unquotes names', () => {
    const tokens = tokenizeSql("/* c */ SELECT `a``b`, 'x''y' /*!50001 , z */ # end\n-- x\n;");
    assert.deepEqual(
      tokens.map((t) => [t.type, t.text]),
      [
        ['word', 'SELECT'],
        ['ident', 'a`b'],
        ['punct', ','],
        ['string', "'x''y'"],
        ['punct', ','],
        ['word', 'z'],
        ['punct', ';'],
      ],
    );
  });
  it('records the offset of every token', () => {
    assert.deepEqual(tokenizeSql('a  .b').map((t) => t.pos), [0, 3, 4]);
  });
  it('with a limit, reads only the first tokens: what follows them may be cut off', () => {
    assert.deepEqual(tokenizeSql("/*!40005 DROP TEMPORARY */ TABLE 'unterminated", {}, 3).map((t) => t.upper), ['DROP', 'TEMPORARY', 'TABLE']);
    assert.deepEqual(tokenizeSql('/*!40005 DROP', {}, 1).map((t) => t.upper), ['DROP']);
    assert.throws(() => tokenizeSql("BEGIN 'x", {}, 2), StatementParseError);
  });
});
