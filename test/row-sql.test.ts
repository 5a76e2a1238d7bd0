// rowStatements: row events into SQL by column position. Hand-built Table_map / Rows events; the text is checked
// directly, and then executed on a throwaway mariadbd (table definitions read by TableDefinitions, as the
// applier does) and the resulting rows compared.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection, ResultSetHeader } from 'mysql2/promise';
import { ColumnType as T } from '../src/binlog/column-types.js';
import type { RowImage } from '../src/binlog/events.js';
import { RowMappingError, rowStatements, type RowStatement } from '../src/apply/row-sql.js';
import { TableDefinitions, type TargetTable } from '../src/apply/table-definitions.js';
import { deletes, tableMap, target, updates, writes } from './helpers/row-events.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const INTS3 = tableMap('d', 't', [T.LONG, T.LONG, T.LONG]);
const KEYED = target(['id', 'a', 'b'], [0]);
const UNKEYED = target(['id', 'a', 'b']);
const BIG = 1 << 30;

describe('rowStatements, text', () => {
  test('consecutive write events become one multi-row INSERT', () => {
    const e1 = writes(INTS3, [1, 10, 100], [2, 20, 200]);
    const e2 = writes(INTS3, [3, null, -1]);
    const out = rowStatements([e1, e2], KEYED, BIG);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.sql, 'INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (1,10,100),(2,20,200),(3,NULL,-1)');
    assert.equal(out[0]!.expectRows, undefined);
    assert.equal(out[0]!.source, e1);
  });

  test('rows with different column sets start a new INSERT', () => {
    const out = rowStatements([writes(INTS3, [1, 10, 100], [2, undefined, 200], [3, undefined, 300], [4, 40, 400])], KEYED, BIG);
    assert.deepEqual(out.map((s) => s.sql), [
      'INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (1,10,100)',
      'INSERT INTO `d`.`t` (`id`,`b`) VALUES (2,200),(3,300)',
      'INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (4,40,400)',
    ]);
  });

  test('an update or delete between writes keeps the order', () => {
    const out = rowStatements([writes(INTS3, [1, 1, 1]), deletes(INTS3, [1, 1, 1]), writes(INTS3, [1, 2, 2])], KEYED, BIG);
    assert.deepEqual(out.map((s) => s.sql), [
      'INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (1,1,1)',
      'DELETE FROM `d`.`t` WHERE `id`=1 LIMIT 1',
      'INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (1,2,2)',
    ]);
  });

  test('max bytes: every statement fits (unless one row alone is larger), rows kept in order, greedy', () => {
    const images: RowImage[] = Array.from({ length: 300 }, (_, i) => [i, i * 1000003 % 99991, i % 7 === 0 ? null : -i * 12345]);
    for (const max of [1, 40, 60, 61, 100, 257, 1000, 5000]) {
      const out = rowStatements([writes(INTS3, ...images.slice(0, 150)), writes(INTS3, ...images.slice(150))], KEYED, max);
      const head = 'INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES ';
      const tuples: string[][] = out.map((s) => {
        assert.ok(s.sql.startsWith(head));
        return s.sql.slice(head.length).replace(/^\(|\)$/g, '').split('),(');
      });
      for (const [i, s] of out.entries()) {
        if (tuples[i]!.length > 1) assert.ok(s.sql.length <= max, `max ${max}: statement of ${s.sql.length} bytes`);
        const next = tuples[i + 1];
        if (next) assert.ok(s.sql.length + 1 + next[0]!.length + 2 > max, `max ${max}: statement ${i} could take one more row`);
      }
      const all = tuples.flat().map((t) => t.split(',').map((v) => (v === 'NULL' ? null : Number(v))));
      assert.deepEqual(all, images);
    }
  });

  test('update and delete by key, with the after image in SET', () => {
    const out = rowStatements([updates(INTS3, [[1, 10, 100], [2, 20, null]]), deletes(INTS3, [3, 30, 300])], KEYED, BIG);
    assert.deepEqual(out.map((s) => [s.sql, s.expectRows]), [
      ['UPDATE `d`.`t` SET `id`=2,`a`=20,`b`=NULL WHERE `id`=1 LIMIT 1', 1],
      ['DELETE FROM `d`.`t` WHERE `id`=3 LIMIT 1', 1],
    ]);
  });

  test('a composite key, in key order', () => {
    const out = rowStatements([deletes(INTS3, [1, 2, 3])], target(['id', 'a', 'b'], [2, 0]), BIG);
    assert.equal(out[0]!.sql, 'DELETE FROM `d`.`t` WHERE `b`=3 AND `id`=1 LIMIT 1');
  });

  test('without a key: by all columns, NULL as IS NULL', () => {
    const out = rowStatements([updates(INTS3, [[1, null, 3], [1, 2, 3]]), deletes(INTS3, [null, null, 0])], UNKEYED, BIG);
    assert.deepEqual(out.map((s) => s.sql), [
      'UPDATE `d`.`t` SET `id`=1,`a`=2,`b`=3 WHERE `id`=1 AND `a` IS NULL AND `b`=3 LIMIT 1',
      'DELETE FROM `d`.`t` WHERE `id` IS NULL AND `a` IS NULL AND `b`=0 LIMIT 1',
    ]);
  });

  test('a before image without the key columns (MINIMAL from a differently keyed source) falls back to what it has', () => {
    const out = rowStatements([deletes(INTS3, [undefined, 5, 6])], KEYED, BIG);
    assert.equal(out[0]!.sql, 'DELETE FROM `d`.`t` WHERE `a`=5 AND `b`=6 LIMIT 1');
  });

  test('partial images (MINIMAL): only the columns present', () => {
    const out = rowStatements([updates(INTS3, [[1, undefined, undefined], [undefined, undefined, 9]]),
      deletes(INTS3, [4, undefined, undefined])], KEYED, BIG);
    assert.deepEqual(out.map((s) => s.sql), [
      'UPDATE `d`.`t` SET `b`=9 WHERE `id`=1 LIMIT 1',
      'DELETE FROM `d`.`t` WHERE `id`=4 LIMIT 1',
    ]);
  });

  test('a before image that identifies nothing is error 1032', () => {
    assert.throws(() => rowStatements([deletes(INTS3, [undefined, undefined, undefined])], UNKEYED, BIG),
      (err: unknown) => err instanceof RowMappingError && err.errno === 1032);
    assert.throws(() => rowStatements([deletes(INTS3, [])], KEYED, BIG),
      (err: unknown) => err instanceof RowMappingError && err.errno === 1032);
  });

  test('generated columns are skipped everywhere', () => {
    const table = target(['id', { name: 'g', generated: true }, 'b']);
    const out = rowStatements([writes(INTS3, [1, 2, 3]), updates(INTS3, [[1, 2, 3], [1, 5, 4]]), deletes(INTS3, [1, 5, 4])],
      table, BIG);
    assert.deepEqual(out.map((s) => s.sql), [
      'INSERT INTO `d`.`t` (`id`,`b`) VALUES (1,3)',
      'UPDATE `d`.`t` SET `id`=1,`b`=4 WHERE `id`=1 AND `b`=3 LIMIT 1',
      'DELETE FROM `d`.`t` WHERE `id`=1 AND `b`=4 LIMIT 1',
    ]);
  });

  test('values rendered through the target column: unsigned, bytes, identifiers', () => {
    const map = tableMap('d', 't', [T.TINY, T.VARCHAR, T.LONGLONG]);
    const table: TargetTable = {
      database: 'd`b', table: 'tä', key: [], triggers: false, transactional: true,
      columns: [{ name: 'u', unsigned: true, generated: false },
        { name: 's`', unsigned: false, generated: false },
        { name: 'n', unsigned: true, generated: false }],
    };
    const out = rowStatements([writes(map, [-1, Buffer.from("it's"), -1n])], table, BIG);
    assert.equal(out[0]!.sql,
      "INSERT INTO `d``b`.`t\xc3\xa4` (`u`,`s```,`n`) VALUES (255,_binary'it''s',18446744073709551615)");
  });

  test('MySQL 9 VECTOR values as binary strings: what a VECTOR column of MariaDB 11.7+ or MySQL 9 stores, and bytes elsewhere', () => {
    // Both servers' VECTOR columns take a binary string of the float32s (MariaDB's Field_vector::store refuses any
    // other character set); a VARBINARY or BLOB column keeps the same bytes. Without a key, the row is found by
    // its bytes (CAST AS BINARY, which both allow on a VECTOR, which compares with nothing else).
    const map = tableMap('d', 't', [T.LONGLONG, T.VECTOR]);
    const v = Buffer.from('cdcc8c3fcdcc0c4033335340', 'hex');
    const w = Buffer.from('0000803f000080bf00000000', 'hex');
    assert.deepEqual(rowStatements([writes(map, [1n, v]), updates(map, [[1n, v], [1n, w]]), deletes(map, [1n, w])],
      target(['id', 'v']), BIG).map((s) => s.sql), [
      "INSERT INTO `d`.`t` (`id`,`v`) VALUES (1,_binary X'cdcc8c3fcdcc0c4033335340')",
      "UPDATE `d`.`t` SET `id`=1,`v`=_binary X'0000803f000080bf00000000' WHERE `id`=1 AND BINARY `v`=_binary X'cdcc8c3fcdcc0c4033335340' LIMIT 1",
      "DELETE FROM `d`.`t` WHERE `id`=1 AND BINARY `v`=_binary X'0000803f000080bf00000000' LIMIT 1",
    ]);
  });

  test('a source with more columns than the target: error 1677 only when a value is present', () => {
    const map4 = tableMap('d', 't', [T.LONG, T.LONG, T.LONG, T.LONG]);
    assert.equal(rowStatements([writes(map4, [1, 2, 3, undefined])], KEYED, BIG)[0]!.sql,
      'INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (1,2,3)');
    assert.equal(rowStatements([writes(map4, [1, 2, 3, null])], KEYED, BIG)[0]!.sql,
      'INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (1,2,3)');
    for (const event of [writes(map4, [1, 2, 3, 4]), updates(map4, [[1, 2, 3, undefined], [1, 2, 3, 4]])]) {
      assert.throws(() => rowStatements([event], KEYED, BIG), (err: unknown) => {
        assert.ok(err instanceof RowMappingError);
        assert.equal(err.errno, 1677);
        assert.match(err.message, /d\.t .*3 columns.*4.*column 4/);
        return true;
      });
    }
    // A delete only needs to find the row.
    assert.equal(rowStatements([deletes(map4, [1, 2, 3, 4])], KEYED, BIG)[0]!.sql, 'DELETE FROM `d`.`t` WHERE `id`=1 LIMIT 1');
  });

  test('an update whose after image has nothing the target can take produces no statement', () => {
    const table = target(['id', { name: 'g', generated: true }], [0]);
    const map = tableMap('d', 't', [T.LONG, T.LONG]);
    assert.deepEqual(rowStatements([updates(map, [[1, 2], [undefined, 3]])], table, BIG), []);
  });
});

describe('rowStatements on a real server', () => {
  let server: TestServer;
  let conn: Connection;
  let tables: TableDefinitions;

  before(async () => {
    server = await startMariaDb({ serverId: 7103, noBinlog: true });
    conn = await server.connect({ charset: 'BINARY', flags: ['-SESSION_TRACK'], supportBigNumbers: true, bigNumberStrings: true });
    await conn.query("SET @@session.sql_mode='NO_AUTO_VALUE_ON_ZERO', @@session.time_zone='+00:00', " +
      '@@session.character_set_client=utf8mb4, @@session.collation_connection=utf8mb4_general_ci, @@session.character_set_results=utf8mb4');
    await conn.query('CREATE DATABASE d');
    tables = new TableDefinitions(async (sql) => (await conn.query(sql))[0]);
  });

  after(async () => {
    await conn?.end();
    await server?.destroy();
  });

  async function run(statements: RowStatement[]): Promise<void> {
    for (const s of statements) {
      const [result] = await conn.query(s.sql) as [ResultSetHeader, unknown];
      if (s.expectRows !== undefined) assert.equal(result.affectedRows, s.expectRows, `rows touched by ${s.sql}`);
    }
  }

  async function rows(sql: string): Promise<string[]> {
    const [result] = await conn.query(sql) as [Record<string, unknown>[], unknown];
    return result.map((r) => Object.values(r).map((v) => (v === null ? 'NULL' : Buffer.isBuffer(v) ? v.toString('latin1') : String(v))).join('|'));
  }

  test('insert, update and delete by key, many rows, several statements', async () => {
    await conn.query('CREATE TABLE d.k (id INT UNSIGNED PRIMARY KEY, a TINYINT UNSIGNED, b VARBINARY(255), c BIGINT UNSIGNED)');
    const table = (await tables.get('d', 'k'))!;
    assert.deepEqual(table.key, [0]);
    const map = tableMap('d', 'k', [T.LONG, T.TINY, T.VARCHAR, T.LONGLONG]);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const images: RowImage[] = Array.from({ length: 200 }, (_, i) => [i === 0 ? -1 : i, -(i % 128) - 1,
      all.subarray(i % 200, i % 200 + 50), -BigInt(i + 1)]);
    const statements = rowStatements([writes(map, ...images.slice(0, 120)), writes(map, ...images.slice(120))], table, 2000);
    assert.ok(statements.length > 3);
    await run(statements);
    assert.deepEqual(await rows('SELECT COUNT(*), MAX(id), MIN(a), MAX(c) FROM d.k'), ['200|4294967295|128|18446744073709551615']);
    const [hex] = await conn.query('SELECT HEX(b) AS h FROM d.k WHERE id = 7') as [{ h: Buffer }[], unknown];
    assert.equal(hex[0]!.h.toString(), all.subarray(7, 57).toString('hex').toUpperCase());

    await run(rowStatements([
      updates(map, [images[5]!, [5, 1, Buffer.from("x'\\"), 5n]], [images[0]!, [0, 0, null, 0n]]),
      deletes(map, images[6]!, images[7]!),
    ], table, 2000));
    assert.deepEqual(await rows('SELECT id, a, b, c FROM d.k WHERE id IN (0, 5, 6, 7, 4294967295) ORDER BY id'),
      ['0|0|NULL|0', "5|1|x'\\|5"]);
  });

  test('a row that is not there: the statement touches 0 rows (the applier reports 1032)', async () => {
    await conn.query('CREATE TABLE d.m (id INT PRIMARY KEY, a INT)');
    const table = (await tables.get('d', 'm'))!;
    const map = tableMap('d', 'm', [T.LONG, T.LONG]);
    for (const s of rowStatements([deletes(map, [1, 1]), updates(map, [[2, 2], [2, 3]])], table, BIG)) {
      const [result] = await conn.query(s.sql) as [ResultSetHeader, unknown];
      assert.equal(s.expectRows, 1);
      assert.equal(result.affectedRows, 0);
    }
  });

  test('without a key: duplicates, NULLs, floats and bytes are found by all columns, one row at a time', async () => {
    await conn.query('CREATE TABLE d.n (a INT, f FLOAT, x DOUBLE, b BLOB, t DATETIME(6), dc DECIMAL(8,3), y YEAR)');
    const table = (await tables.get('d', 'n'))!;
    assert.deepEqual(table.key, []);
    const map = tableMap('d', 'n', [T.LONG, T.FLOAT, T.DOUBLE, T.BLOB, T.DATETIME2, T.NEWDECIMAL, T.YEAR]);
    const r1: RowImage = [1, Math.fround(1.1), 0.1, Buffer.from([0, 0xff, 0x27]), '2024-01-01 00:00:00.000001', '-1.500', 0];
    const r2: RowImage = [null, null, null, null, null, null, null];
    const r3: RowImage = [2, Math.fround(-3.3e-5), 1e300, Buffer.alloc(0), '0000-00-00 00:00:00.000000', '0.000', 2155];
    await run(rowStatements([writes(map, r1, r1, r2, r2, r3)], table, BIG));
    await run(rowStatements([deletes(map, r1, r2, r3), updates(map, [r1, [...r1.slice(0, 5), '2.000', 1901]])], table, BIG));
    assert.deepEqual(await rows('SELECT a, dc, y FROM d.n ORDER BY a'), ['NULL|NULL|NULL', '1|2.000|1901']);
  });

  test('BIT values are found again, by all columns and by key', async () => {
    await conn.query('CREATE TABLE d.bits (e BIT(10), w BIT(64))');
    await conn.query('CREATE TABLE d.bitkey (e BIT(10) PRIMARY KEY, a INT)');
    const map = tableMap('d', 'bits', [T.BIT, T.BIT]);
    const keyMap = tableMap('d', 'bitkey', [T.BIT, T.LONG]);
    const bits = (await tables.get('d', 'bits'))!;
    const bitkey = (await tables.get('d', 'bitkey'))!;
    const r: RowImage = [Buffer.from([0x03, 0xff]), Buffer.alloc(8, 0xff)];
    await run(rowStatements([writes(map, r, [Buffer.from([0, 1]), Buffer.alloc(8, 0)])], bits, BIG));
    await run(rowStatements([writes(keyMap, [Buffer.from([0x02, 0x01]), 1])], bitkey, BIG));
    assert.deepEqual(await rows('SELECT HEX(e), HEX(w) FROM d.bits ORDER BY e'), ['1|0', '3FF|FFFFFFFFFFFFFFFF']);
    await run(rowStatements([deletes(map, r)], bits, BIG));
    await run(rowStatements([updates(keyMap, [[Buffer.from([0x02, 0x01]), 1], [Buffer.from([0x02, 0x01]), 2]])], bitkey, BIG));
    assert.deepEqual(await rows('SELECT HEX(e), HEX(w) FROM d.bits'), ['1|0']);
    assert.deepEqual(await rows('SELECT HEX(e), a FROM d.bitkey'), ['201|2']);
  });

  test('without a key: the exact row is found, not one equal under the column collation', async () => {
    // A native replica finds rows of a key-less table by comparing the stored values; 'abc' is not 'ABC' and
    // 'a' is not 'a ' there, even under a case-insensitive, PAD SPACE collation.
    await conn.query('CREATE TABLE d.ci (s VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, n INT)');
    const table = (await tables.get('d', 'ci'))!;
    const map = tableMap('d', 'ci', [T.VARCHAR, T.LONG]);
    await run(rowStatements([writes(map, [Buffer.from('abc'), 1], [Buffer.from('ABC'), 1], [Buffer.from('a'), 2],
      [Buffer.from('a '), 2])], table, BIG));
    await run(rowStatements([deletes(map, [Buffer.from('ABC'), 1]), updates(map, [[Buffer.from('a '), 2], [Buffer.from('a '), 3]])],
      table, BIG));
    assert.deepEqual(await rows('SELECT HEX(s), n FROM d.ci ORDER BY HEX(s)'), ['61|2', '6120|3', '616263|1']);
  });

  test('partial images on the server: MINIMAL before image by key, after image of changed columns only', async () => {
    await conn.query('CREATE TABLE d.p (id INT PRIMARY KEY, a INT, b VARCHAR(5) DEFAULT \'dflt\')');
    const table = (await tables.get('d', 'p'))!;
    const map = tableMap('d', 'p', [T.LONG, T.LONG, T.VARCHAR]);
    await run(rowStatements([writes(map, [1, 10, undefined], [2, 20, Buffer.from('x')]),
      updates(map, [[1, undefined, undefined], [undefined, 11, undefined]]), deletes(map, [2, undefined, undefined])], table, BIG));
    assert.deepEqual(await rows('SELECT * FROM d.p'), ['1|11|dflt']);
  });

  test('generated columns on the server', async () => {
    await conn.query('CREATE TABLE d.g (id INT, v INT AS (id * 2) VIRTUAL, s INT AS (id + 1) STORED, w INT)');
    const table = (await tables.get('d', 'g'))!;
    assert.deepEqual(table.columns.map((c) => c.generated), [false, true, true, false]);
    const map = tableMap('d', 'g', [T.LONG, T.LONG, T.LONG, T.LONG]);
    await run(rowStatements([writes(map, [1, 2, 2, 5], [2, 4, 3, 6]), updates(map, [[1, 2, 2, 5], [3, 6, 4, 7]]),
      deletes(map, [2, 4, 3, 6])], table, BIG));
    assert.deepEqual(await rows('SELECT * FROM d.g'), ['3|6|4|7']);
  });

  test('a target with fewer columns takes rows whose extra columns are empty', async () => {
    await conn.query('CREATE TABLE d.f (id INT PRIMARY KEY, a INT)');
    const table = (await tables.get('d', 'f'))!;
    const map = tableMap('d', 'f', [T.LONG, T.LONG, T.LONG]);
    await run(rowStatements([writes(map, [1, 1, null], [2, 2, undefined]), deletes(map, [2, 2, 99])], table, BIG));
    assert.deepEqual(await rows('SELECT * FROM d.f'), ['1|1']);
  });
});
