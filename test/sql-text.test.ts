// Value rendering for the target: the literal text renderValue / quoteString / quoteIdentifier produce, and then
// the strongest check: the literals run on a real mariadbd through a session set up like the applier's
// (binary client encoding, character_set_client=utf8mb4, NO_AUTO_VALUE_ON_ZERO, time_zone +00:00) and the
// stored bytes are read back with HEX().
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from 'mysql2/promise';
import { ColumnType as T } from '../src/binlog/column-types.js';
import type { ColumnValue } from '../src/binlog/events.js';
import { bytes, qualifiedName, quoteIdentifier, quoteString, renderValue, sendAsWritten } from '../src/apply/sql-text.js';
import type { TargetColumn } from '../src/apply/table-definitions.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const col = (unsigned = false): TargetColumn => ({ name: 'c', unsigned, generated: false });
const SIGNED = col(false);
const UNSIGNED = col(true);

describe('renderValue, text', () => {
  test('NULL', () => {
    assert.equal(renderValue(null, T.LONG, SIGNED), 'NULL');
    assert.equal(renderValue(null, T.BLOB, SIGNED), 'NULL');
  });

  const widths: [string, number, number][] = [['TINY', T.TINY, 1], ['SHORT', T.SHORT, 2], ['INT24', T.INT24, 3], ['LONG', T.LONG, 4]];
  for (const [name, type, width] of widths) {
    test(`${name}: signed values as they are, negative ones reinterpreted over ${width} bytes for UNSIGNED columns`, () => {
      const min = -(2 ** (8 * width - 1));
      const max = 2 ** (8 * width - 1) - 1;
      for (const v of [0, 1, 42, max, -1, -2, min, min + 1]) assert.equal(renderValue(v, type, SIGNED), String(v));
      assert.equal(renderValue(-1, type, UNSIGNED), String(2 ** (8 * width) - 1));
      assert.equal(renderValue(min, type, UNSIGNED), String(2 ** (8 * width - 1)));
      assert.equal(renderValue(-2, type, UNSIGNED), String(2 ** (8 * width) - 2));
      assert.equal(renderValue(max, type, UNSIGNED), String(max));
      assert.equal(renderValue(0, type, UNSIGNED), '0');
    });
  }

  test('LONGLONG (bigint): 64-bit reinterpretation, exact', () => {
    assert.equal(renderValue(-1n, T.LONGLONG, UNSIGNED), '18446744073709551615');
    assert.equal(renderValue(-9223372036854775808n, T.LONGLONG, UNSIGNED), '9223372036854775808');
    assert.equal(renderValue(-9223372036854775808n, T.LONGLONG, SIGNED), '-9223372036854775808');
    assert.equal(renderValue(9223372036854775807n, T.LONGLONG, UNSIGNED), '9223372036854775807');
    assert.equal(renderValue(9007199254740993n, T.LONGLONG, SIGNED), '9007199254740993');
  });

  test('SET bitmask (bigint) and ENUM index (number) as numbers', () => {
    assert.equal(renderValue(5n, T.SET, SIGNED), '5');
    assert.equal(renderValue(0xffffffffffffffffn, T.SET, SIGNED), '18446744073709551615');
    assert.equal(renderValue(3, T.ENUM, SIGNED), '3');
  });

  test('FLOAT/DOUBLE are never reinterpreted as unsigned', () => {
    assert.equal(renderValue(-1.5, T.DOUBLE, UNSIGNED), '-1.5');
    assert.equal(renderValue(-1, T.FLOAT, UNSIGNED), '-1');
    assert.equal(renderValue(-0.25, T.DOUBLE, SIGNED), '-0.25');
  });

  test('-0 keeps its sign as a double literal', () => {
    assert.equal(renderValue(-0, T.DOUBLE, SIGNED), '-0e0');
    assert.equal(renderValue(-0, T.FLOAT, SIGNED), '-0e0');
    assert.equal(renderValue(0, T.DOUBLE, SIGNED), '0');
  });

  test('DECIMAL unquoted, exactly as decoded', () => {
    assert.equal(renderValue('-12.3400', T.NEWDECIMAL, SIGNED), '-12.3400');
    assert.equal(renderValue('0.000', T.NEWDECIMAL, UNSIGNED), '0.000');
    assert.equal(renderValue('12345', T.DECIMAL, SIGNED), '12345');
  });

  test('temporal strings quoted', () => {
    assert.equal(renderValue('2024-02-29 23:59:59.123456', T.DATETIME2, SIGNED), "'2024-02-29 23:59:59.123456'");
    assert.equal(renderValue('-838:59:59', T.TIME2, SIGNED), "'-838:59:59'");
    assert.equal(renderValue('0000-00-00', T.DATE, SIGNED), "'0000-00-00'");
  });

  test('JSON text as a utf8mb4 literal', () => {
    assert.equal(renderValue('{"a": 1}', T.JSON, SIGNED), `_utf8mb4'{"a": 1}'`);
    assert.equal(renderValue('["é"]', T.JSON, SIGNED), "_utf8mb4 X'5b22c3a9225d'");
    assert.equal(renderValue(`{"q": "it's"}`, T.JSON, SIGNED), `_utf8mb4'{"q": "it''s"}'`);
    assert.equal(renderValue('["a\\"b"]', T.JSON, SIGNED), "_utf8mb4 X'5b22615c2262225d'");
  });

  test('BIT as its unsigned number (a hex literal compares as a string in WHERE)', () => {
    assert.equal(renderValue(Buffer.from([0x01, 0xff]), T.BIT, SIGNED), '511');
    assert.equal(renderValue(Buffer.from([0]), T.BIT, SIGNED), '0');
    assert.equal(renderValue(Buffer.alloc(8, 0xff), T.BIT, SIGNED), '18446744073709551615');
  });

  test('byte strings: printable ASCII quoted with quotes doubled, anything else as hex', () => {
    assert.equal(renderValue(Buffer.from('abc'), T.VARCHAR, SIGNED), "_binary'abc'");
    assert.equal(renderValue(Buffer.alloc(0), T.BLOB, SIGNED), "_binary''");
    assert.equal(renderValue(Buffer.from("a'b\"c`d%e_f"), T.BLOB, SIGNED), "_binary'a''b\"c`d%e_f'");
    assert.equal(renderValue(Buffer.from([0xe9]), T.STRING, SIGNED), "_binary X'e9'");
    assert.equal(renderValue(Buffer.from('a\\b'), T.BLOB, SIGNED), "_binary X'615c62'");
    assert.equal(renderValue(Buffer.from('a\nb'), T.BLOB, SIGNED), "_binary X'610a62'");
    assert.equal(renderValue(Buffer.from([0x41, 0x80, 0x27]), T.BLOB, SIGNED), "_binary X'418027'");
  });

  test('quoteString reads the same under any client character set and sql_mode: its output is plain ASCII', () => {
    assert.equal(quoteString('x', '_latin1'), "_latin1'x'");
    assert.equal(quoteString(Buffer.from([0xff]), '_latin1'), "_latin1 X'ff'");
    assert.equal(quoteString("it's"), "'it''s'");
    assert.equal(quoteString(''), "''");
    // A gbk lead byte before the closing quote would swallow it; a backslash would escape it.
    assert.equal(quoteString(Buffer.from([0x95, 0x27])), "X'9527'");
    assert.equal(quoteString('\\'), "X'5c'");
    assert.equal(quoteString('Europe/Zürich', '_utf8mb4'), "_utf8mb4 X'4575726f70652f5ac3bc72696368'");
    for (let b = 0; b < 256; b++) assert.match(quoteString(Buffer.from([b, 0x27, 0x5c])), /^[\x20-\x7e]*$/);
  });
});

describe('identifiers and byte strings', () => {
  test('bytes(): ASCII unchanged, anything else as its UTF-8 bytes one char each', () => {
    assert.equal(bytes('SELECT 1'), 'SELECT 1');
    assert.equal(bytes('é'), '\xc3\xa9');
    assert.equal(bytes('表'), '\xe8\xa1\xa8');
    assert.equal(bytes('😀'), '\xf0\x9f\x98\x80');
    for (const c of bytes('aé表😀')) assert.ok(c.charCodeAt(0) < 256);
  });

  test('quoteIdentifier doubles backticks', () => {
    assert.equal(quoteIdentifier('t'), '`t`');
    assert.equal(quoteIdentifier('a`b'), '`a``b`');
    assert.equal(quoteIdentifier('``'), '``````');
    assert.equal(quoteIdentifier('it\'s "x"'), '`it\'s "x"`');
    assert.equal(quoteIdentifier('café'), '`caf\xc3\xa9`');
    assert.equal(qualifiedName('d`b', 't.x'), '`d``b`.`t.x`');
  });

  test('sendAsWritten: target SQL goes as written, placeholders and all; values are refused, never dropped', () => {
    const sql = "INSERT INTO t VALUES ('?', 0x3f) /* ? */";
    assert.equal(sendAsWritten(sql, []), sql);
    assert.equal(sendAsWritten(sql, undefined), sql);
    assert.throws(() => sendAsWritten('SELECT ?', [1]), /take no placeholder values/);
    assert.throws(() => sendAsWritten('SELECT :a', { a: 1 }), /take no placeholder values/);
  });
});

describe('on a real server, through an applier-like session', () => {
  let server: TestServer;
  let conn: Connection;

  before(async () => {
    server = await startMariaDb({ serverId: 7102, noBinlog: true });
    // As the applier: binary client encoding, and no session tracking (with it, mysql2 switches its encoding to
    // the character_set_client the server reports, which would re-encode the byte strings as UTF-8).
    conn = await server.connect({ charset: 'BINARY', flags: ['-SESSION_TRACK'] });
    await conn.query("SET @@session.character_set_client=utf8mb4, sql_mode='NO_AUTO_VALUE_ON_ZERO', time_zone='+00:00'");
    await conn.query('SET @@session.character_set_results=utf8mb4, @@session.collation_connection=utf8mb4_general_ci');
    await conn.query('CREATE DATABASE d');
  });

  after(async () => {
    await conn?.end();
    await server?.destroy();
  });

  const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

  async function roundTrip(columnType: string, literal: string, read = 'HEX(c)'): Promise<string> {
    await conn.query('DROP TABLE IF EXISTS d.v');
    await conn.query(`CREATE TABLE d.v (c ${columnType})`);
    await conn.query(`INSERT INTO d.v (c) VALUES (${literal})`);
    const [rows] = await conn.query(`SELECT ${read} AS r FROM d.v`) as [{ r: unknown }[], unknown];
    return text(rows[0]!.r);
  }

  test('every integer width, signed and unsigned, at the edges', async () => {
    const cases: [string, number, number][] = [['TINYINT', T.TINY, 1], ['SMALLINT', T.SHORT, 2], ['MEDIUMINT', T.INT24, 3],
      ['INT', T.LONG, 4]];
    for (const [sqlType, type, width] of cases) {
      const bits = 8 * width;
      for (const v of [0, 1, -1, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1]) {
        assert.equal(await roundTrip(sqlType, renderValue(v, type, SIGNED), 'c'), String(v), `${sqlType} ${v}`);
        const stored = v < 0 ? v + 2 ** bits : v;
        assert.equal(await roundTrip(`${sqlType} UNSIGNED`, renderValue(v, type, UNSIGNED), 'c'), String(stored),
          `${sqlType} UNSIGNED from ${v}`);
      }
    }
    for (const v of [0n, -1n, -(2n ** 63n), 2n ** 63n - 1n, 9007199254740993n]) {
      assert.equal(await roundTrip('BIGINT', renderValue(v, T.LONGLONG, SIGNED), 'CAST(c AS CHAR)'), String(v));
      assert.equal(await roundTrip('BIGINT UNSIGNED', renderValue(v, T.LONGLONG, UNSIGNED), 'CAST(c AS CHAR)'),
        String(v < 0n ? v + 2n ** 64n : v));
    }
  });

  test('doubles and floats come back bit for bit', async () => {
    const doubles = [0.1, -0.1, 1 / 3, 1e300, -1.7976931348623157e308, 2.2250738585072014e-308, 123456789.123,
      1.2345678901234568e20, 1e21, 4.9406564584124654e-300, 2 ** 53 + 2, -1e-7, 5e-324, -2.225073858507201e-309];
    for (const v of doubles) {
      const back = await roundTrip('DOUBLE', renderValue(v, T.DOUBLE, SIGNED), 'c');
      assert.equal(Number(back), v, `DOUBLE ${v} rendered ${renderValue(v, T.DOUBLE, SIGNED)} came back ${back}`);
    }
    for (const v of [1.1, -3.4028234663852886e38, 1.401298464324817e-45, 0.3, 16777217]) {
      const f = Math.fround(v);
      const back = await roundTrip('FLOAT', renderValue(f, T.FLOAT, SIGNED), 'CAST(c AS DOUBLE)');
      assert.equal(Math.fround(Number(back)), f, `FLOAT ${f} came back ${back}`);
    }
  });

  test('-0 renders as a negative zero double (a DOUBLE column then stores 0, as on the source)', async () => {
    // ATAN2(y, -1) is -pi for y = -0 and pi for y = +0.
    const [rows] = await conn.query(`SELECT ATAN2(${renderValue(-0, T.DOUBLE, SIGNED)}, -1) AS a`) as [{ a: number }[], unknown];
    assert.equal(rows[0]!.a, -Math.PI);
    assert.equal(await roundTrip('DOUBLE', renderValue(-0, T.DOUBLE, SIGNED), 'ATAN2(c, -1)'), String(Math.PI));
  });

  test('DECIMAL exact, up to 65 digits', async () => {
    assert.equal(await roundTrip('DECIMAL(10,4)', renderValue('-12.3400', T.NEWDECIMAL, SIGNED), 'CAST(c AS CHAR)'), '-12.3400');
    const big = '12345678901234567890123456789012345678901234567890.123456789012345';
    assert.equal(await roundTrip('DECIMAL(65,15)', renderValue(big, T.NEWDECIMAL, SIGNED), 'CAST(c AS CHAR)'), big);
    const neg = '-0.000000000000000000000000000001';
    assert.equal(await roundTrip('DECIMAL(31,30)', renderValue(neg, T.NEWDECIMAL, SIGNED), 'CAST(c AS CHAR)'), neg);
  });

  test('BIT values', async () => {
    assert.equal(await roundTrip('BIT(16)', renderValue(Buffer.from([0x01, 0xff]), T.BIT, SIGNED)), '1FF');
    assert.equal(await roundTrip('BIT(64)', renderValue(Buffer.alloc(8, 0xff), T.BIT, SIGNED)), 'FFFFFFFFFFFFFFFF');
    assert.equal(await roundTrip('BIT(1)', renderValue(Buffer.from([1]), T.BIT, SIGNED)), '1');
    assert.equal(await roundTrip('BIT(7)', renderValue(Buffer.from([0]), T.BIT, SIGNED)), '0');
  });

  test('every byte 0x00-0xff, alone and together, lands byte for byte in binary columns', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    for (const type of ['VARBINARY(300)', 'BLOB', 'VARCHAR(256) CHARACTER SET binary', 'LONGBLOB']) {
      assert.equal(await roundTrip(type, renderValue(all, T.BLOB, SIGNED)), all.toString('hex').toUpperCase(), type);
    }
    for (let i = 0; i < 256; i++) {
      const one = Buffer.from([i]);
      assert.equal(await roundTrip('VARBINARY(4)', renderValue(one, T.VARCHAR, SIGNED)), one.toString('hex').toUpperCase(),
        `byte 0x${i.toString(16)}`);
    }
  });

  test('every printable ASCII byte but the backslash takes the quoted path, and every ASCII byte lands byte for byte', async () => {
    const printable = Buffer.from(Array.from({ length: 95 }, (_, i) => 0x20 + i).filter((b) => b !== 0x5c));
    const literal = renderValue(printable, T.BLOB, SIGNED);
    assert.match(literal, /^_binary'/);
    assert.equal(await roundTrip('BLOB', literal), printable.toString('hex').toUpperCase());
    const ascii = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
    assert.equal(await roundTrip('BLOB', renderValue(ascii, T.BLOB, SIGNED)), ascii.toString('hex').toUpperCase());
    const nasty = Buffer.from("'\\'\\\\\0\x1a\n\r\"''\\0%_\\%\\_");
    assert.equal(await roundTrip('BLOB', renderValue(nasty, T.BLOB, SIGNED)), nasty.toString('hex').toUpperCase());
  });

  test('text columns keep the stored bytes of their own character set', async () => {
    const utf8 = Buffer.from("café 表 😀 'q' \\", 'utf8');
    assert.equal(await roundTrip('VARCHAR(40) CHARACTER SET utf8mb4', renderValue(utf8, T.VARCHAR, SIGNED)),
      utf8.toString('hex').toUpperCase());
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x27, 0x5c, 0xff]);
    assert.equal(await roundTrip('TEXT CHARACTER SET latin1', renderValue(latin1, T.BLOB, SIGNED)),
      latin1.toString('hex').toUpperCase());
    // Shift-JIS / GBK: a second byte 0x5c (backslash) after a lead byte must not be taken as an escape.
    const sjis = Buffer.from([0x95, 0x5c, 0x27, 0x81, 0x5c]); // 表 ' ＼ in sjis
    assert.equal(await roundTrip('VARCHAR(10) CHARACTER SET sjis', renderValue(sjis, T.VARCHAR, SIGNED)),
      sjis.toString('hex').toUpperCase());
    const gbk = Buffer.from([0xd5, 0x5c, 0x27]);
    assert.equal(await roundTrip('VARCHAR(10) CHARACTER SET gbk', renderValue(gbk, T.VARCHAR, SIGNED)),
      gbk.toString('hex').toUpperCase());
    assert.equal(await roundTrip('CHAR(5) CHARACTER SET ascii', renderValue(Buffer.from('ab'), T.STRING, SIGNED)), '6162');
  });

  test('JSON text, with non-ASCII and quotes', async () => {
    const json = '{"k": "é表😀", "q": "it\'s \\"x\\" \\\\ \\u0000"}';
    assert.equal(await roundTrip('JSON', renderValue(json, T.JSON, SIGNED)), Buffer.from(json).toString('hex').toUpperCase());
    assert.equal(await roundTrip('JSON', renderValue('[1, 2]', T.JSON, SIGNED), 'JSON_LENGTH(c)'), '2');
  });

  test('temporal values, zero dates and negative TIME', async () => {
    const cases: [string, number, string][] = [
      ['DATETIME(6)', T.DATETIME2, '2024-02-29 23:59:59.123456'], ['DATETIME', T.DATETIME2, '0000-00-00 00:00:00'],
      ['DATE', T.DATE, '0000-00-00'], ['DATE', T.DATE, '9999-12-31'], ['TIME(6)', T.TIME2, '-838:59:59.000000'],
      ['TIME(3)', T.TIME2, '-00:00:00.001'], ['TIMESTAMP(6)', T.TIMESTAMP2, '2038-01-19 03:14:07.999999'],
      ['TIMESTAMP', T.TIMESTAMP2, '0000-00-00 00:00:00'], ['TIMESTAMP', T.TIMESTAMP2, '1970-01-01 00:00:01'],
    ];
    for (const [sqlType, type, value] of cases) {
      assert.equal(await roundTrip(sqlType, renderValue(value, type, SIGNED), 'CAST(c AS CHAR)'), value, `${sqlType} ${value}`);
    }
    // Under +00:00 the stored TIMESTAMP is the UTC value itself.
    assert.equal(await roundTrip('TIMESTAMP', renderValue('1970-01-01 00:00:01', T.TIMESTAMP2, SIGNED), 'UNIX_TIMESTAMP(c)'), '1');
  });

  test('YEAR, ENUM and SET', async () => {
    assert.equal(await roundTrip('YEAR', renderValue(0, T.YEAR, SIGNED), 'CAST(c AS CHAR)'), '0000');
    assert.equal(await roundTrip('YEAR', renderValue(2155, T.YEAR, SIGNED), 'CAST(c AS CHAR)'), '2155');
    assert.equal(await roundTrip('YEAR', renderValue(1901, T.YEAR, SIGNED), 'CAST(c AS CHAR)'), '1901');
    assert.equal(await roundTrip("ENUM('a','b','c')", renderValue(3, T.ENUM, SIGNED), 'c'), 'c');
    assert.equal(await roundTrip("ENUM('a','b','c')", renderValue(0, T.ENUM, SIGNED), 'c+0'), '0');
    assert.equal(await roundTrip("SET('a','b','c')", renderValue(5n, T.SET, SIGNED), 'c'), 'a,c');
    const members = Array.from({ length: 64 }, (_, i) => `'m${i}'`).join(',');
    assert.equal(await roundTrip(`SET(${members})`, renderValue(0x8000000000000001n, T.SET, SIGNED), 'c'), 'm0,m63');
  });

  test('identifiers: backticks and non-ASCII names create exactly the names given', async () => {
    const names = ['a`b', 'café', 'tëst_表', 'x y', "q'\"", '``'];
    for (const name of names) {
      await conn.query(`CREATE TABLE d.${quoteIdentifier(name)} (${quoteIdentifier(name + '_c')} INT)`);
      await conn.query(`INSERT INTO ${qualifiedName('d', name)} (${quoteIdentifier(name + '_c')}) VALUES (7)`);
      const [rows] = await conn.query(`SELECT ${quoteIdentifier(name + '_c')} AS v FROM ${qualifiedName('d', name)}`) as
        [{ v: number }[], unknown];
      assert.equal(rows[0]!.v, 7);
    }
    const [rows] = await conn.query(
      "SELECT HEX(TABLE_NAME) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'd' AND TABLE_NAME <> 'v'",
    ) as [{ n: unknown }[], unknown];
    assert.deepEqual(rows.map((r) => text(r.n)).sort(), names.map((n) => Buffer.from(n).toString('hex').toUpperCase()).sort());
  });

  test('a rendered value list of mixed types in one INSERT', async () => {
    await conn.query('CREATE TABLE d.mix (a TINYINT UNSIGNED, b BIGINT UNSIGNED, c DOUBLE, d DECIMAL(5,2), e VARBINARY(10), f BIT(8), g DATETIME)');
    const values: [ColumnValue, number, TargetColumn][] = [[-1, T.TINY, UNSIGNED], [-1n, T.LONGLONG, UNSIGNED],
      [-0, T.DOUBLE, SIGNED], ['-1.50', T.NEWDECIMAL, SIGNED], [Buffer.from([0, 0x27, 0xff]), T.VARCHAR, SIGNED],
      [Buffer.from([0x80]), T.BIT, SIGNED], [null, T.DATETIME2, SIGNED]];
    await conn.query(`INSERT INTO d.mix VALUES (${values.map(([v, t, c]) => renderValue(v, t, c)).join(',')})`);
    const [rows] = await conn.query(
      'SELECT CONCAT_WS(\'|\', a, b, CONCAT(c), d, HEX(e), HEX(f), IFNULL(g, \'null\')) AS r FROM d.mix',
    ) as [{ r: unknown }[], unknown];
    assert.equal(text(rows[0]!.r), '255|18446744073709551615|0|-1.50|0027FF|80|null');
  });
});
