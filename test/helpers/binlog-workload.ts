// A type-rich workload for a MariaDB source whose binlog the decoder tests read, and reading that binlog.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestServer } from './servers.js';

const TABLES = {
  nums: `id INT PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT,
    miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, f FLOAT, d DOUBLE, y YEAR,
    b1 BIT(1), b10 BIT(10), b64 BIT(64), d65 DECIMAL(65,30), d10 DECIMAL(10,0), d52 DECIMAL(5,2) UNSIGNED`,
  times: `id INT PRIMARY KEY, dt DATE, tm TIME, tm1 TIME(1), tm3 TIME(3), tm6 TIME(6), dtm DATETIME, dtm2 DATETIME(2),
    dtm6 DATETIME(6), ts TIMESTAMP NULL, ts2 TIMESTAMP(2) NULL, ts6 TIMESTAMP(6) NULL`,
  strs: `id INT PRIMARY KEY, c CHAR(10) CHARSET latin1, c2 CHAR(100) CHARSET utf8mb4, vc VARCHAR(10) CHARSET latin1,
    vc2 VARCHAR(300) CHARSET utf8mb4, bn BINARY(4), vb VARBINARY(300), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB,
    lb LONGBLOB, tt TINYTEXT CHARSET latin1, tx TEXT CHARSET utf8mb4, e ENUM('a','b','c'),
    e2 ENUM(${Array.from({ length: 300 }, (_, i) => `'v${i}'`).join(',')}), s SET('a','b','c'),
    s64 SET(${Array.from({ length: 64 }, (_, i) => `'s${i}'`).join(',')}), j JSON, g GEOMETRY, pt POINT`,
  partial: 'id INT PRIMARY KEY, a INT, b VARCHAR(20), t TEXT, bl BLOB',
  cmp: 'id INT PRIMARY KEY, v VARCHAR(200), n BIGINT UNSIGNED',
};

/** Old-format temporals: created with mysql56_temporal_format=OFF (fsp 0 only: see the unit tests). */
const OLD_TIME = 'id INT PRIMARY KEY, tm TIME, dtm DATETIME, ts TIMESTAMP NULL';

const nums = [
  `(1,-128,255,-32768,65535,-8388608,16777215,-2147483648,4294967295,-9223372036854775808,18446744073709551615,
    -1.5e38,-2.2250738585072014e-308,0,b'1',b'1111111111',
    b'1000000000000000000000000000000000000000000000000000000000000001',
    '-12345678901234567890123456789012345.123456789012345678901234567890',-9999999999,0.5)`,
  `(2,127,0,32767,0,8388607,0,2147483647,0,9223372036854775807,0,3.14,1e300,2155,b'0',b'0',b'0',0,0,999.99)`,
  '(3,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL)',
  `(4,-1,1,-1,1,-1,1,-1,1,-1,1,1e-45,-0.0,1901,b'1',b'1000000000',b'11',
    '0.000000000000000000000000000001',1,0)`,
];
const times = [
  `(1,'0000-00-00','-838:59:59','-00:00:01.5','-12:34:56.789','838:59:59.999999','0000-00-00 00:00:00',
    '2020-00-00 00:00:00.01','9999-12-31 23:59:59.999999','1970-01-01 00:00:01','2038-01-19 03:14:07.99',
    '2001-02-03 04:05:06.000001')`,
  `(2,'2020-00-00','00:00:00','00:00:00.0','-00:00:00.001','-838:59:59.000000','1000-01-01 00:00:00',
    '2020-02-29 12:00:00.50','2020-02-29 12:00:00.000001','0000-00-00 00:00:00','0000-00-00 00:00:00',
    '2001-02-03 04:05:06')`,
  `(3,'9999-12-31','-00:00:01','-00:00:00.9','00:00:00.001','-00:00:00.000001','2000-01-01 00:00:00',
    NULL,NULL,NULL,NULL,NULL)`,
];
const strs = [
  `(1,CONCAT('ab',X'E9'),REPEAT('é',100),X'FFFE',REPEAT('x',300),X'00FF0080',X'80818283',X'',X'DEADBEEF',X'27005C0A7F','',
    CONCAT('caf',X'E9'),'text é ''q'' \\\\ "dq"',0,'v299','a,c','s0,s63',
    '{"k": [1, 2.5, "x"], "a": null}',ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'),POINT(1.5,-2))`,
  `(2,'','','','','\\0\\0\\0\\0','',NULL,NULL,NULL,NULL,NULL,NULL,'c','v0','','',NULL,NULL,NULL)`,
  `(3,'a  ',REPEAT('ü',100),'a ',CONCAT(X'F09F9880','x'),'a',X'00',X'01',REPEAT('m',300),REPEAT(X'AB',70000),
    X'00',NULL,'x','b','v1','b',CONCAT_WS(',',${Array.from({ length: 64 }, (_, i) => `'s${i}'`).join(',')}),
    '[]',ST_GeomFromText('LINESTRING(0 0,1 1,2 3)'),NULL)`,
];

/**
 * Rows of every column type (FULL, MINIMAL and NOBLOB images, old and new temporal formats), compressed Query
 * and Rows events, statements with their context events; the binlog is flushed at the end.
 */
export async function typeRichWorkload(s: TestServer): Promise<void> {
  await s.sql("SET GLOBAL binlog_row_metadata='FULL'", 'CREATE DATABASE d', 'SET GLOBAL mysql56_temporal_format=OFF',
    `CREATE TABLE d.old_time (${OLD_TIME})`, 'SET GLOBAL mysql56_temporal_format=ON');
  for (const [name, def] of Object.entries(TABLES)) await s.sql(`CREATE TABLE d.${name} (${def})`);
  const conn = await s.connect();
  try {
    const q = async (...sql: string[]) => { for (const x of sql) await conn.query(x); };
    await q("SET time_zone='+00:00'", "SET sql_mode=''");
    await q(`INSERT INTO d.nums VALUES ${nums.join(',')}`, `INSERT INTO d.times VALUES ${times.join(',')}`,
      `INSERT INTO d.strs VALUES ${strs.join(',')}`);
    await q("INSERT INTO d.old_time VALUES (1,'-838:59:59','2020-01-02 03:04:05','2001-02-03 04:05:06'),"
      + "(2,'00:00:00','0000-00-00 00:00:00',NULL),(3,'12:00:01','9999-12-31 23:59:59','0000-00-00 00:00:00')");
    // Multi-row updates and deletes, in one transaction with several statements.
    await q('BEGIN', 'UPDATE d.nums SET i = i - 1, d52 = 1.25 WHERE id IN (2,4)',
      "UPDATE d.times SET tm3 = '-00:00:00.5', ts6 = '2001-01-01 00:00:00.5' WHERE id > 1",
      "UPDATE d.strs SET e = 'b', bl = REPEAT(X'00', 300) WHERE id IN (1,2)", 'DELETE FROM d.nums WHERE id = 3',
      'DELETE FROM d.strs WHERE id = 2', 'COMMIT');
    // Partial images.
    await q("INSERT INTO d.partial VALUES (1,1,'one','text one',X'01'),(2,2,'two','text two',X'02'),(3,3,'three','t3',X'03')");
    await q("SET SESSION binlog_row_image='MINIMAL'", "UPDATE d.partial SET b = 'uno' WHERE id = 1",
      'DELETE FROM d.partial WHERE id = 3', "INSERT INTO d.partial (id, a) VALUES (4, 4)");
    await q("SET SESSION binlog_row_image='NOBLOB'", 'UPDATE d.partial SET a = 20 WHERE id = 2',
      "UPDATE d.partial SET t = 'new text' WHERE id = 2", "SET SESSION binlog_row_image='FULL'");
    // Compressed Query and Rows events.
    await q('SET GLOBAL log_bin_compress=ON', 'SET GLOBAL log_bin_compress_min_len=10');
    await q(`INSERT INTO d.cmp VALUES (1, REPEAT('compressible ', 15), 18446744073709551615), (2, 'short', 0)`,
      "UPDATE d.cmp SET v = CONCAT(v, '!') WHERE id > 0", 'DELETE FROM d.cmp WHERE id = 2',
      `CREATE TABLE d.cmp_ddl (id INT PRIMARY KEY, note VARCHAR(50) DEFAULT 'a rather long default value')`,
      'SET GLOBAL log_bin_compress=OFF');
    // Statement-based events: Query with its context, IntVar, Rand, User_var.
    await q("SET SESSION binlog_format='STATEMENT'", 'CREATE TABLE d.sbr (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100), r DOUBLE)',
      "SET @s = CONVERT(CONCAT('caf', X'E9') USING latin1) COLLATE latin1_german1_ci, @i = -42, @u = CAST(18446744073709551615 AS UNSIGNED),"
      + ' @r = 2.5e-3, @dec = -123.4500, @n = NULL',
      'INSERT INTO d.sbr (v, r) VALUES (CONCAT(@s, @i, @u, @r, @dec, IFNULL(@n, \'null\')), RAND())',
      'INSERT INTO d.sbr (v) VALUES (LAST_INSERT_ID())', 'INSERT INTO d.sbr (v) VALUES (FROM_UNIXTIME(1))', "SET SESSION binlog_format='ROW'");
    await q('FLUSH BINARY LOGS');
  } finally {
    await conn.end();
  }
}

/** The server's binlog files, in order, as they are on disk. */
export async function readBinlogFiles(s: TestServer): Promise<{ name: string; data: Buffer }[]> {
  const index = await readFile(join(s.dataDir, 'mysql-bin.index'), 'utf8');
  const files: { name: string; data: Buffer }[] = [];
  for (const line of index.split('\n').filter(Boolean)) {
    const name = line.trim().replace(/^.*\//, '');
    files.push({ name, data: await readFile(join(s.dataDir, name)) });
  }
  return files;
}
