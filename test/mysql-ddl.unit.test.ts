// Statements of a MySQL 8 source as a MariaDB target accepts them (issue 9, item 5): the utf8mb4_0900 collations
// mapped as MariaDB 11.4.5+ maps them, MySQL-only clauses mapped or dropped, executable comments MariaDB skips
// opened where they hold a clause MySQL ran, and what has no equivalent refused. Everything else stays byte for byte.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import iconv from 'iconv-lite';
import { mapMysqlStatement, mysqlCollationName, MysqlStatementError, targetCollation, type TargetSyntax }
  from '../src/apply/mysql-ddl.js';
import { statementParse } from '../src/filter/statement-text.js';

// What a MariaDB 10.11 target knows, as far as these statements go.
const MARIADB_1011: TargetSyntax = {
  collations: new Set(['utf8mb4_general_ci', 'utf8mb4_unicode_ci', 'utf8mb4_bin', 'utf8mb4_nopad_bin', 'utf8mb3_general_ci',
    'utf8_general_ci', 'utf8mb3_bin', 'latin1_swedish_ci', 'utf8mb4_uca1400_nopad_ai_ci', 'utf8mb4_uca1400_nopad_as_cs',
    'utf8mb4_uca1400_nopad_as_ci', 'utf8mb4_uca1400_german2_nopad_ai_ci', 'utf8mb4_uca1400_spanish2_nopad_as_cs',
    'utf8mb4_uca1400_croatian_nopad_as_cs', 'utf8mb4_uca1400_vietnamese_nopad_ai_ci', 'gbk_chinese_ci']),
  charsets: new Set(['utf8mb4', 'utf8mb3', 'utf8', 'latin1', 'gbk', 'binary']),
  vector: false,
};
// MariaDB 10.5: utf8 names only, no UCA 14.0.0.
const MARIADB_105: TargetSyntax = {
  collations: new Set(['utf8_general_ci', 'utf8_bin', 'utf8mb4_general_ci']), charsets: new Set(['utf8', 'utf8mb4']), vector: false,
};

const collations = (id: number) => ({ 45: 'utf8mb4', 28: 'gbk' } as Record<number, string>)[id];

/** The statement mapped; `charset` is its client character set (collation id 45 utf8mb4, 28 gbk). */
function map(sql: string | Buffer, target = MARIADB_1011, client = 45, sqlMode = 0n) {
  const bytes = typeof sql === 'string' ? Buffer.from(sql) : sql;
  const { text, options } = statementParse({ sql: bytes, statusVars: { charset: { client, connection: client, server: client }, sqlMode } },
    collations);
  const mapped = mapMysqlStatement(bytes.toString('latin1'), text, options, target);
  return { ...mapped, sql: Buffer.from(mapped.sql, 'latin1').toString(typeof sql === 'string' ? 'utf8' : 'latin1') };
}
const mapped = (sql: string, target = MARIADB_1011) => map(sql, target).sql;
const refused = (sql: string, message: RegExp, target = MARIADB_1011) =>
  assert.throws(() => map(sql, target), (err: Error) => err instanceof MysqlStatementError && message.test(err.message));

describe('collations', () => {
  test('the utf8mb4_0900 collations become the UCA 14.0.0 NO PAD collations MariaDB 11.4.5+ makes them aliases of', () => {
    assert.equal(mapped('CREATE TABLE t (a VARCHAR(5) COLLATE utf8mb4_0900_ai_ci) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci'),
      'CREATE TABLE t (a VARCHAR(5) COLLATE utf8mb4_uca1400_nopad_ai_ci) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_ai_ci');
    const all = MARIADB_1011;
    assert.equal(targetCollation('utf8mb4_0900_as_cs', all), 'utf8mb4_uca1400_nopad_as_cs');
    assert.equal(targetCollation('utf8mb4_0900_as_ci', all), 'utf8mb4_uca1400_nopad_as_ci');
    assert.equal(targetCollation('UTF8MB4_0900_BIN', all), 'utf8mb4_nopad_bin');
    assert.equal(targetCollation('utf8mb4_de_pb_0900_ai_ci', all), 'utf8mb4_uca1400_german2_nopad_ai_ci');
    assert.equal(targetCollation('utf8mb4_es_trad_0900_as_cs', all), 'utf8mb4_uca1400_spanish2_nopad_as_cs');
    assert.equal(targetCollation('utf8mb4_hr_0900_as_cs', all), 'utf8mb4_uca1400_croatian_nopad_as_cs');
    assert.equal(targetCollation('utf8mb4_vi_0900_ai_ci', all), 'utf8mb4_uca1400_vietnamese_nopad_ai_ci');
  });

  test('MySQL collation ids MariaDB lacks are named, for the sessions of a MySQL source', () => {
    assert.equal(mysqlCollationName(255), 'utf8mb4_0900_ai_ci');
    assert.equal(mysqlCollationName(256), 'utf8mb4_de_pb_0900_ai_ci');
    assert.equal(mysqlCollationName(277), 'utf8mb4_vi_0900_ai_ci');
    assert.equal(mysqlCollationName(278), 'utf8mb4_0900_as_cs');
    assert.equal(mysqlCollationName(300), 'utf8mb4_vi_0900_as_cs');
    assert.equal(mysqlCollationName(305), 'utf8mb4_0900_as_ci');
    assert.equal(mysqlCollationName(309), 'utf8mb4_0900_bin');
    assert.equal(mysqlCollationName(45), undefined);
  });

  test('collations MariaDB has no alias for are refused, naming them', () => {
    refused('CREATE TABLE t (a TEXT COLLATE utf8mb4_ja_0900_as_cs)', /collation 'utf8mb4_ja_0900_as_cs' is not known to the target/);
    refused('CREATE TABLE t (a TEXT COLLATE utf8mb4_ru_0900_ai_ci)', /utf8mb4_ru_0900_ai_ci/);
    refused('CREATE TABLE t (a TEXT COLLATE utf8mb4_fa_0900_ai_ci)', /utf8mb4_fa_0900_ai_ci/);
    refused('SELECT 1 COLLATE no_such_collation', /no_such_collation/);
  });

  test('a collation the target knows stays as it is written, also a utf8mb4_0900 one on MariaDB 11.4.5+', () => {
    const sql = 'CREATE TABLE t (a TEXT CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci, b TEXT COLLATE Utf8mb4_Bin)';
    assert.equal(mapped(sql), sql);
    const withAliases = { ...MARIADB_1011, collations: new Set([...MARIADB_1011.collations, 'utf8mb4_0900_ai_ci']) };
    assert.equal(mapped('CREATE TABLE t (a TEXT COLLATE utf8mb4_0900_ai_ci)', withAliases), 'CREATE TABLE t (a TEXT COLLATE utf8mb4_0900_ai_ci)');
  });

  test('utf8mb3 names become utf8 ones on a target older than MariaDB 10.6', () => {
    assert.equal(mapped('CREATE TABLE t (a TEXT CHARACTER SET utf8mb3 COLLATE utf8mb3_bin) CHARSET = utf8mb3', MARIADB_105),
      'CREATE TABLE t (a TEXT CHARACTER SET utf8 COLLATE utf8_bin) CHARSET = utf8');
    refused('CREATE TABLE t (a TEXT CHARACTER SET gb18030)', /character set 'gb18030' is not known to the target/);
  });

  test('quoted, with =, and in expressions; the quote character is kept', () => {
    assert.equal(mapped("ALTER TABLE t MODIFY a TEXT COLLATE `utf8mb4_0900_ai_ci`, DEFAULT COLLATE = 'utf8mb4_0900_as_cs'"),
      "ALTER TABLE t MODIFY a TEXT COLLATE `utf8mb4_uca1400_nopad_ai_ci`, DEFAULT COLLATE = 'utf8mb4_uca1400_nopad_as_cs'");
    assert.equal(mapped("UPDATE t SET a = 1 WHERE b = _utf8mb4'x' COLLATE utf8mb4_0900_ai_ci"),
      "UPDATE t SET a = 1 WHERE b = _utf8mb4'x' COLLATE utf8mb4_uca1400_nopad_ai_ci");
    // ANSI_QUOTES: "name" is an identifier.
    assert.equal(map('SELECT 1 COLLATE "utf8mb4_0900_ai_ci"', MARIADB_1011, 45, 4n).sql, 'SELECT 1 COLLATE "utf8mb4_uca1400_nopad_ai_ci"');
  });

  test('names in strings, comments and quoted names are not statement text and stay', () => {
    for (const sql of [
      "INSERT INTO t VALUES ('COLLATE utf8mb4_0900_ai_ci')",
      'INSERT INTO t VALUES (1) -- COLLATE utf8mb4_0900_ai_ci',
      'INSERT INTO t VALUES (1) /* COLLATE utf8mb4_0900_ai_ci */',
      'INSERT INTO t VALUES (1) # COLLATE utf8mb4_0900_ai_ci',
      'INSERT INTO `COLLATE utf8mb4_0900_ai_ci` VALUES (1)',
      // MariaDB skips MySQL's executable comments of 5.7+ versions, and so does the mapping.
      'CREATE TABLE t (a TEXT /*!80000 COLLATE utf8mb4_0900_ai_ci */)',
    ]) {
      assert.deepEqual(map(sql), { sql, changes: [] }, sql);
    }
    // An executable comment MariaDB runs is mapped inside.
    assert.equal(mapped('CREATE TABLE t (a TEXT) /*!40101 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci */'),
      'CREATE TABLE t (a TEXT) /*!40101 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_ai_ci */');
  });

  test('the rest of the statement stays byte for byte, in its own character set', () => {
    const sql = "CREATE TABLE `tä` (a TEXT COMMENT 'kommentär ✓' COLLATE utf8mb4_0900_ai_ci)\r\n-- ✓\r\n";
    assert.equal(mapped(sql), sql.replace('utf8mb4_0900_ai_ci', 'utf8mb4_uca1400_nopad_ai_ci'));
    // gbk: 乗 is 0x81 0x5c (a backslash as its second byte), which read as latin1 would escape the quote.
    const gbk = iconv.encode("SELECT '乗' COLLATE gbk_chinese_ci", 'gbk');
    assert.deepEqual(map(gbk, MARIADB_1011, 28).sql, gbk.toString('latin1'));
    assert.throws(() => map(iconv.encode("SELECT '乗', 'x' COLLATE utf8mb4_0900_ai_ci", 'gbk'), MARIADB_1011, 28),
      /its character set reads differently from its bytes/);
    // A statement the tokenizer cannot read goes as it is: the target reports its own error.
    assert.deepEqual(map("SELECT 'x COLLATE utf8mb4_0900_ai_ci"), { sql: "SELECT 'x COLLATE utf8mb4_0900_ai_ci", changes: [] });
  });
});

describe('clauses', () => {
  test("DEFAULT ENCRYPTION='N' is dropped, as MariaDB skips it in MySQL's own comment; 'Y' is refused", () => {
    assert.equal(mapped("CREATE DATABASE d DEFAULT CHARACTER SET utf8mb4 DEFAULT ENCRYPTION='N'"),
      'CREATE DATABASE d DEFAULT CHARACTER SET utf8mb4 ');
    assert.equal(mapped("CREATE TABLE t (a INT) ENCRYPTION = 'n', ENGINE=InnoDB"), 'CREATE TABLE t (a INT)  ENGINE=InnoDB');
    assert.equal(mapped("CREATE DATABASE d /*!80016 DEFAULT ENCRYPTION='N' */"), "CREATE DATABASE d /*!80016 DEFAULT ENCRYPTION='N' */");
    refused("ALTER DATABASE d ENCRYPTION 'Y'", /ENCRYPTION='Y'/);
    // A column named encryption is a column.
    assert.equal(mapped('CREATE TABLE t (encryption CHAR(1))'), 'CREATE TABLE t (encryption CHAR(1))');
  });

  test('SECONDARY_ENGINE, ENGINE_ATTRIBUTE and AUTOEXTEND_SIZE table options are dropped with their comma', () => {
    assert.equal(mapped('CREATE TABLE t (a INT) ENGINE=InnoDB, SECONDARY_ENGINE=RAPID'), 'CREATE TABLE t (a INT) ENGINE=InnoDB');
    assert.equal(mapped("CREATE TABLE t (a INT) ENGINE_ATTRIBUTE='{}' AUTOEXTEND_SIZE=4M ROW_FORMAT=DYNAMIC"),
      'CREATE TABLE t (a INT)   ROW_FORMAT=DYNAMIC');
    assert.equal(mapped('ALTER TABLE t SECONDARY_ENGINE = NULL'), 'ALTER TABLE t ');
    assert.equal(mapped('CREATE TABLE t (secondary_engine INT)'), 'CREATE TABLE t (secondary_engine INT)');
  });

  test('CHECK ... ENFORCED loses ENFORCED; NOT ENFORCED has no MariaDB equivalent', () => {
    assert.equal(mapped('CREATE TABLE t (a INT, CONSTRAINT c CHECK (a > 0) ENFORCED)'), 'CREATE TABLE t (a INT, CONSTRAINT c CHECK (a > 0) )');
    refused('CREATE TABLE t (a INT CHECK (a > 0) NOT ENFORCED)', /NOT ENFORCED/);
    refused('ALTER TABLE t ALTER CHECK c ENFORCED', /ALTER CHECK/);
    assert.equal(mapped('CREATE TABLE t (enforced INT)'), 'CREATE TABLE t (enforced INT)');
  });

  test('invisible columns and indexes: columns keep INVISIBLE, indexes become IGNORED; VISIBLE is the default', () => {
    assert.equal(mapped('CREATE TABLE t (a INT, b INT INVISIBLE, c INT VISIBLE, INDEX i (a) INVISIBLE, KEY j (b) VISIBLE)'),
      'CREATE TABLE t (a INT, b INT INVISIBLE, c INT , INDEX i (a) IGNORED, KEY j (b) NOT IGNORED)');
    assert.equal(mapped('ALTER TABLE db.t ALTER INDEX i INVISIBLE, ADD INDEX k (c) VISIBLE'),
      'ALTER TABLE db.t ALTER INDEX i IGNORED, ADD INDEX k (c) NOT IGNORED');
    assert.equal(mapped('ALTER TABLE t ALTER INDEX visible VISIBLE'), 'ALTER TABLE t ALTER INDEX visible NOT IGNORED');
    // Columns and indexes named so.
    assert.equal(mapped('CREATE TABLE t (visible INT, invisible INT, INDEX visible (visible))'),
      'CREATE TABLE t (visible INT, invisible INT, INDEX visible (visible))');
  });

  test('MySQL 8.0.23+ executable comments that MariaDB would skip are opened: INVISIBLE, SRID', () => {
    // MySQL's generated invisible primary key (sql_generate_invisible_primary_key), as SHOW CREATE TABLE writes it.
    assert.equal(mapped('CREATE TABLE t (my_row_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT /*!80023 INVISIBLE */, a INT, PRIMARY KEY (my_row_id))'),
      'CREATE TABLE t (my_row_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT   INVISIBLE  , a INT, PRIMARY KEY (my_row_id))');
    assert.equal(mapped('CREATE TABLE t (g POINT NOT NULL /*!80003 SRID 4326 */, SPATIAL KEY (g))'),
      'CREATE TABLE t (g POINT REF_SYSTEM_ID=4326 NOT NULL     , SPATIAL KEY (g))');
    assert.deepEqual(map('CREATE TABLE t (a INT /*!80023 INVISIBLE */)').changes, ['/*!80023 INVISIBLE */ -> INVISIBLE']);
  });

  test('SRID n becomes REF_SYSTEM_ID=n right after the geometry type, where MariaDB takes it', () => {
    assert.equal(mapped('CREATE TABLE t (id INT, g GEOMETRY NOT NULL SRID 0)'), 'CREATE TABLE t (id INT, g GEOMETRY REF_SYSTEM_ID=0 NOT NULL )');
    assert.equal(mapped('ALTER TABLE t ADD COLUMN p POINT SRID 4326 NOT NULL'), 'ALTER TABLE t ADD COLUMN p POINT REF_SYSTEM_ID=4326  NOT NULL');
    assert.equal(mapped('ALTER TABLE t CHANGE p q POINT SRID 4326'), 'ALTER TABLE t CHANGE p q POINT REF_SYSTEM_ID=4326 ');
    refused('CREATE TABLE t (a INT SRID 4326)', /SRID outside a geometry column/);
  });

  test('functional key parts are refused; CHECK expressions are not key parts', () => {
    refused('CREATE TABLE t (a INT, INDEX i ((a + 1)))', /functional key part/);
    refused('ALTER TABLE t ADD UNIQUE INDEX i (a, (LOWER(b)))', /functional key part/);
    refused('CREATE INDEX i ON t ((a * 2))', /functional key part/);
    assert.equal(mapped('CREATE UNIQUE INDEX i ON t (a(10)) INVISIBLE'), 'CREATE UNIQUE INDEX i ON t (a(10)) IGNORED');
    assert.equal(mapped('CREATE TABLE t (a INT, CONSTRAINT c CHECK ((a > 0)), INDEX i (a(10)))'),
      'CREATE TABLE t (a INT, CONSTRAINT c CHECK ((a > 0)), INDEX i (a(10)))');
  });

  test('VECTOR(n) becomes VARBINARY(4n) on a target without VECTOR, and stays on one with it', () => {
    assert.equal(mapped('CREATE TABLE bar(id SERIAL, vector_column VECTOR(2) NOT NULL, foo TEXT, vector_column2 VECTOR(4) NOT NULL)'),
      'CREATE TABLE bar(id SERIAL, vector_column VARBINARY(8) NOT NULL, foo TEXT, vector_column2 VARBINARY(16) NOT NULL)');
    assert.equal(mapped('ALTER TABLE t ADD v VECTOR'), 'ALTER TABLE t ADD v VARBINARY(8192)');
    const sql = 'CREATE TABLE foo(id SERIAL, vector_column VECTOR(3) NOT NULL)';
    assert.equal(mapped(sql, { ...MARIADB_1011, vector: true }), sql);
    assert.equal(mapped('CREATE TABLE t (vector INT)'), 'CREATE TABLE t (vector INT)');
  });

  test('accounts with an authentication plugin only MySQL has are refused', () => {
    refused("CREATE USER 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x'", /caching_sha2_password/);
    refused("ALTER USER u IDENTIFIED WITH sha256_password BY 'x'", /sha256_password/);
    const sql = "CREATE USER 'u'@'%' IDENTIFIED WITH mysql_native_password AS '*0123'";
    assert.equal(mapped(sql), sql);
  });

  test('a statement that needs nothing is returned as it is, with no changes', () => {
    for (const sql of ['BEGIN', 'CREATE TABLE t (a INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
      "INSERT INTO t VALUES (1, 'VECTOR(3)', 'SRID 4326')", 'DROP TABLE `t` /* generated by server */']) {
      assert.deepEqual(map(sql), { sql, changes: [] });
    }
  });
});
