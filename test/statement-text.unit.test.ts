// A statement's bytes read as the server reads them: characters of its client character set. Where the second
// byte of a character is a backslash or a backtick (big5, cp932, gbk, sjis), reading the bytes in another
// character set ends a quoted name, or escapes a quote, where the server sees neither.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import iconv from 'iconv-lite';
import { isSingleStatement, statementText } from '../src/filter/statement-text.js';
import { tokenizeSql, updatedTables } from '../src/filter/statement-tables.js';

const encodings: Record<string, string> = { gbk: 'gbk', big5: 'cp950', sjis: 'shiftjis', cp932: 'cp932' };
// Characters whose second byte is 0x5c or 0x60 in each character set.
const TRAILS: Record<string, { backslash: string; backtick: string }> = {
  gbk: { backslash: '乗', backtick: '乣' },
  big5: { backslash: '么', backtick: '亡' },
  sjis: { backslash: '予', backtick: '伝' },
  cp932: { backslash: '十', backtick: '倭' },
};

const encode = (text: string, charset: string) => iconv.encode(text, encodings[charset]!);

describe('statementText', () => {
  for (const [charset, { backslash, backtick }] of Object.entries(TRAILS)) {
    test(`${charset}: a character ending in 0x5c or 0x60 stays one character`, () => {
      const sql = encode(`INSERT INTO \`t${backtick}\` VALUES ('${backslash}')`, charset);
      assert.equal(statementText(sql, charset), `INSERT INTO \`t${backtick}\` VALUES ('${backslash}')`);
      // Read as UTF-8 the same bytes end the name early and escape the closing quote.
      assert.throws(() => tokenizeSql(sql.toString('utf8')), /unterminated/);
      assert.deepEqual(updatedTables(statementText(sql, charset), 'db').tables, [{ db: 'db', table: `t${backtick}` }]);
    });
  }

  test('a lead byte before a byte that cannot follow it is a character of its own, as the server takes it', () => {
    // 0x81 0x27: 0x27 is no gbk trail byte, so the quote is a quote.
    const text = statementText(Buffer.from([0x27, 0x81, 0x27]), 'gbk');
    assert.equal(text.length, 3);
    assert.equal(text[2], "'");
    assert.ok(text.charCodeAt(1) >= 0x80);
  });

  test('sjis and big5 lead bytes differ from gbk: the same bytes split differently', () => {
    // 0xa8 0x60: a gbk and big5 character, but 0xa8 is a single (katakana) byte in sjis.
    const bytes = Buffer.from([0xa8, 0x60]);
    assert.equal(statementText(bytes, 'gbk').length, 1);
    assert.equal(statementText(bytes, 'big5').length, 1);
    assert.equal(statementText(bytes, 'sjis').length, 2);
    assert.equal(statementText(bytes, 'sjis')[1], '`');
  });

  test('gb18030 four-byte characters; EUC character sets never take an ASCII byte', () => {
    assert.equal(statementText(Buffer.from([0x81, 0x30, 0x81, 0x30, 0x60]), 'gb18030').length, 2);
    assert.equal(statementText(Buffer.from([0xa4, 0x60]), 'ujis').length, 2);
    assert.equal(statementText(Buffer.from([0xb0, 0xa1, 0x5c]), 'euckr').at(-1), '\\');
  });

  test('single-byte and unknown character sets: bytes map to their characters, utf8 by default', () => {
    assert.equal(statementText(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'latin1'), 'café');
    assert.equal(statementText(Buffer.from('café 数据', 'utf8'), 'utf8mb4'), 'café 数据');
    assert.equal(statementText(Buffer.from('café', 'utf8'), undefined), 'café');
    assert.equal(statementText(Buffer.from([0xe9, 0x60]), 'binary'), 'é`');
  });
});

describe('isSingleStatement', () => {
  const event = (sql: Buffer | string, client?: number, sqlMode = 0n) => ({
    sql: typeof sql === 'string' ? Buffer.from(sql, 'utf8') : sql,
    statusVars: { sqlMode, ...(client === undefined ? {} : { charset: { client, connection: client, server: client } }) },
  });
  const charsetOf = (id: number) => ({ 28: 'gbk', 33: 'utf8mb3', 45: 'utf8mb4' } as Record<number, string>)[id];

  test('statements the server can only read as one', () => {
    for (const sql of ['INSERT INTO t VALUES (1)', "INSERT INTO t VALUES ('a;b')", 'SELECT 1 /* ; */', 'SELECT `a;b`',
      "SELECT 'it''s; fine'", 'SELECT 1 -- ;\n', "SELECT 'a\\';'"]) {
      assert.equal(isSingleStatement(event(sql), charsetOf), true, sql);
    }
  });

  test('a `;` outside quotes, or a quote or comment that does not end, may be read as more statements', () => {
    for (const sql of ['INSERT INTO t VALUES (1); DROP DATABASE victim', 'SELECT 1 /*', "SELECT 'a", 'SELECT `a',
      'CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END', 'SELECT 1 /*!50000 ; DROP TABLE x */']) {
      assert.equal(isSingleStatement(event(sql), charsetOf), false, sql);
    }
  });

  test('under NO_BACKSLASH_ESCAPES a backslash does not escape the quote', () => {
    const sql = "INSERT INTO t VALUES ('a\\'); DROP DATABASE victim; -- ')";
    assert.equal(isSingleStatement(event(sql, undefined, 0n), charsetOf), true);
    assert.equal(isSingleStatement(event(sql, undefined, 1n << 20n), charsetOf), false);
  });

  test('a gbk statement is read in gbk: a backtick that is half a character hides no `;`, and one that is not, does', () => {
    // On the server under gbk the name is `t乣`; read as utf8mb4 the backtick of 乣 would end it early.
    const gbk = encode("INSERT INTO `t乣` VALUES ('x')", 'gbk');
    assert.equal(isSingleStatement(event(gbk, 28), charsetOf), true);
    assert.equal(isSingleStatement(event(gbk, 45), charsetOf), false);
    // Read in gbk, the quote here is escaped by nothing: `;` follows outside it.
    const hidden = Buffer.concat([Buffer.from("SELECT '", 'latin1'), Buffer.from([0x95, 0x5c]), Buffer.from("'; DROP DATABASE v; -- '")]);
    assert.equal(isSingleStatement(event(hidden, 28), charsetOf), false);
    assert.equal(isSingleStatement(event(hidden, 8), charsetOf), true);
  });
});
