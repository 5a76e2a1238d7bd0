// `tributary binlog FILE...` against `mariadb-binlog --verbose`: on binlogs a local MariaDB server wrote, every
// line both print that starts with '#' (event headers, annotations, the `###` rows, row counts) is the same, in
// the same order; the lines mariadb-binlog writes for replaying (BINLOG '...' blocks, session SETs) are not
// printed (README). Every MySQL fixture prints without error, MySQL-only events included, and nothing a source
// wrote reaches the terminal as a control character.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { mysqlFixtures } from './helpers/binlog-events.js';
import { hashLines, mariadbBinlogVerbose } from './helpers/mariadb-binlog.js';

const run = promisify(execFile);
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;
// Both print times in the local time zone.
const ENV = { ...process.env, TZ: 'UTC' };

let server: TestServer;
let files: string[];

async function tributary(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: ENV, maxBuffer: 64 << 20 });
}


before(async () => {
  server = await startMariaDb({ serverId: 7 });
  await server.sql(
    'CREATE DATABASE d',
    `CREATE TABLE d.types (id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, bi BIGINT,
      bu BIGINT UNSIGNED, f FLOAT, db DOUBLE, de DECIMAL(12,4), da DATE, dt DATETIME(3), ts TIMESTAMP(6) NULL, tm TIME(2),
      y YEAR, c CHAR(5), vc VARCHAR(40), vb VARBINARY(20), tx TEXT, bl BLOB, bt BIT(10), en ENUM('a','b','c'),
      st SET('x','y','z'), js JSON, g POINT NULL) DEFAULT CHARSET=utf8mb4`,
    `INSERT INTO d.types VALUES (1, -128, 255, -32768, -8388608, -9223372036854775808, 18446744073709551615, 1.25,
      -3.14159265358979, -12345678.1234, '2024-02-29', '2024-02-29 23:59:58.123', '2021-06-01 12:00:00.654321', '-838:59:59.99',
      2155, 'ab', 'it''s a \\\\ back\\nslash', X'00FF1B5B33316D', 'été ünïcödé', X'0102', b'1010101010', 'b', 'x,z',
      '{"k": [1, 2.5, "s"]}', ST_GeomFromText('POINT(1 2)'))`,
    'INSERT INTO d.types (id) VALUES (2)',
    `INSERT INTO d.types (id, vc, f, db) VALUES (3, '\\x1b[31mred', 1e20, 1.5e-7)`,
    "UPDATE d.types SET vc = CONCAT(vc, '!'), ti = ti + 1 WHERE id IN (1, 3)",
    'DELETE FROM d.types WHERE id = 2',
    'CREATE TABLE d.`we``ird\u00e9` (a INT)',
    "INSERT INTO d.`we``ird\u00e9` VALUES (1), (2), (3)",
    "SET @s = 'str', @i = -5, @r = 2.5e0, @dec = 1.50, @nul = NULL",
    'SET binlog_format = STATEMENT',
    'INSERT INTO d.`we``ird\u00e9` VALUES (@i), (LENGTH(@s)), (@dec), (@r)',
    'FLUSH LOGS',
    "INSERT INTO d.types (id, vc) VALUES (10, 'second file')",
    'FLUSH LOGS',
  );
  const names = (await readdir(server.dataDir)).filter((n) => /^mysql-bin\.\d+$/.test(n)).sort();
  // The last file is still being written; the closed ones are compared.
  files = names.slice(0, -1).map((n) => join(server.dataDir, n));
  assert.equal(files.length, 2);
});

after(async () => {
  await server?.destroy();
});

test("every '#' line of mariadb-binlog --verbose, in order, on a MariaDB server's binlogs", async () => {
  for (const file of files) {
    const theirs = await mariadbBinlogVerbose(file);
    const ours = (await tributary('binlog', file)).stdout;
    assert.deepEqual(hashLines(ours), hashLines(theirs), file);
    if (file === files[0]) assert.ok(ours.includes('### UPDATE `d`.`types`'));
  }
});

test('several files in one call, each as alone', async () => {
  const both = (await tributary('binlog', ...files)).stdout;
  const each = (await Promise.all(files.map(async (f) => (await tributary('binlog', f)).stdout))).join('');
  assert.equal(both, each);
});

test('names and values from the binlog cannot send control characters to the terminal', async () => {
  const ours = (await tributary('binlog', ...files)).stdout;
  // The ESC of the VARCHAR value and the VARBINARY bytes are escaped; the statement's newline is a line break.
  assert.doesNotMatch(ours, /[\x00-\x08\x0b-\x1f\x7f]/);
  assert.match(ours, /'\\x1b\[31mred'/);
  assert.match(ours, /INSERT INTO `d`.`we``irdé`/);
});

test('every MySQL fixture prints whole, with the events mariadb-binlog cannot print', async () => {
  const printed = new Map<string, string>();
  for (const fixture of await mysqlFixtures()) {
    const { stdout, stderr } = await tributary('binlog', fixture.path);
    assert.equal(stderr, '', fixture.name);
    assert.match(stdout, /# End of log file\n$/, fixture.name);
    assert.doesNotMatch(stdout, /[\x00-\x08\x0b-\x1f\x7f]/, fixture.name);
    printed.set(fixture.name, stdout);
  }
  const all = [...printed.values()].join('');
  // TRANSACTION_PAYLOAD: the rows inside a zstd payload.
  assert.match(all, /Transaction_Payload\tevents=\d+\tuncompressed_size=\d+\n# Start of compressed events!\n[^]*?### UPDATE `a`.`test_table_3`/);
  // GTID_TAGGED.
  assert.match(printed.get('rust_mysql_common__binlog_transaction_with_GTID_TAG.000001')!, /GTID_NEXT= '[0-9a-f-]{36}:mytag:\d+'/);
  // VECTOR values as MySQL's VECTOR_TO_STRING shows them.
  assert.match(printed.get('rust_mysql_common__vector.binlog')!, /###   @2=\[1.10000e\+00,2.20000e\+00,3.30000e\+00\]/);
});

test('a file that is not a binlog: exit 1 naming it, the other files still printed', async () => {
  await assert.rejects(tributary('binlog', MAIN, files[0]!), (err: { code: number; stderr: string; stdout: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /main\.ts is not a binlog or relay log file/);
    assert.match(err.stdout, /# End of log file/);
    return true;
  });
});
