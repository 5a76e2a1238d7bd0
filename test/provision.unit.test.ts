// The pure parts of provisioning: how a source value becomes a literal (and a hostile one is refused), how a
// source definition becomes the target's CREATE TABLE, the catch-up's table restriction, the time estimate, and
// how a MySQL source's snapshot coordinates are read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyFilters, EventFilter, StatementFilterError } from '../src/filter/index.js';
import { addIndexes, deferIndexes, DefinitionError, targetDefinition } from '../src/provision/definition.js';
import { secondsLeft } from '../src/provision/progress.js';
import { escapeLoadData, loadDataRow, loadDataStatement, rowLiteral, selectExpression, SourceValueError, valueLiteral,
  type CopyColumn } from '../src/provision/values.js';
import type { RowsEvent, TableMapEvent } from '../src/binlog/events.js';
import { ReplicationError } from '../src/errors.js';
import { binaryLogStatusCoordinates, refuseVerifyOnMysql, sourceFlavor } from '../src/provision/provision.js';
import { decodeKey, encodeKey } from '../src/provision/progress-table.js';
import type { Connection } from 'mysql2/promise';

const col = (dataType: string, charset: string | null = null): CopyColumn => ({ name: `c_${dataType}`, dataType, charset });
const raw = (s: string) => Buffer.from(s, 'latin1');

describe('provisioning values', () => {
  test('each kind of column reads exactly and renders as the applier renders it', () => {
    assert.equal(selectExpression(col('float')), 'CAST(`c_float` AS DOUBLE)');
    assert.equal(selectExpression(col('enum')), '`c_enum` + 0');
    assert.equal(selectExpression(col('set')), '`c_set` + 0');
    assert.equal(selectExpression(col('varchar', 'utf8mb4')), '`c_varchar`');
    assert.equal(valueLiteral(null, col('int')), 'NULL');
    assert.equal(valueLiteral(raw('18446744073709551615'), col('bigint')), '18446744073709551615');
    assert.equal(valueLiteral(raw('-0'), col('double')), '-0e0');
    assert.equal(valueLiteral(raw('1.7976931348623157e308'), col('double')), '1.7976931348623157e+308');
    assert.equal(valueLiteral(raw('-12345678901234567890.123456789'), col('decimal')), '-12345678901234567890.123456789');
    assert.equal(valueLiteral(raw('0000-00-00 00:00:00.000000'), col('datetime')), "'0000-00-00 00:00:00.000000'");
    assert.equal(valueLiteral(raw('-838:59:59.000000'), col('time')), "'-838:59:59.000000'");
    assert.equal(valueLiteral(Buffer.from([1, 0]), col('bit')), '256');
    assert.equal(valueLiteral(Buffer.from("it's"), col('varchar', 'utf8mb4')), "_binary'it''s'");
    assert.equal(valueLiteral(Buffer.from([0xff, 0x27]), col('blob')), "_binary X'ff27'");
    assert.equal(rowLiteral([raw('1'), null], [col('int'), col('text', 'utf8mb4')]), '(1,NULL)');
  });

  test('a value that is not of its column type is refused, never written as SQL', () => {
    for (const [value, type] of [['1); DROP TABLE t; --', 'int'], ['1e5', 'decimal'], ["2020-01-01'", 'date'],
      ['0x10', 'double'], ['1 OR 1', 'enum']] as const) {
      assert.throws(() => valueLiteral(raw(value), col(type)), SourceValueError, `${type} ${value}`);
    }
  });
});

/**
 * How the server reads LOAD DATA's input under FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n'
 * (MariaDB's READ_INFO): a backslash takes the next byte as itself, except for the escapes 0 b n r t Z, and a
 * field that is exactly `\N` is NULL.
 */
function readLoadData(input: Buffer): (Buffer | null)[][] {
  const special: Record<number, number> = { 0x30: 0, 0x62: 8, 0x6e: 10, 0x72: 13, 0x74: 9, 0x5a: 0x1a };
  const lines: (Buffer | null)[][] = [];
  let fields: (Buffer | null)[] = [];
  let field: number[] = [];
  let nullField = false;
  for (let i = 0; i < input.length; i++) {
    const b = input[i]!;
    if (b === 0x5c) {
      const next = input[++i]!;
      if (next === 0x4e && field.length === 0 && (input[i + 1] === 9 || input[i + 1] === 10)) nullField = true;
      else field.push(special[next] ?? next);
    } else if (b === 9 || b === 10) {
      fields.push(nullField ? null : Buffer.from(field));
      field = [];
      nullField = false;
      if (b === 10) {
        lines.push(fields);
        fields = [];
      }
    } else {
      field.push(b);
    }
  }
  assert.equal(field.length + fields.length, 0, 'the input ends with a whole line');
  return lines;
}

describe("provisioning's LOAD DATA format", () => {
  const blob = col('blob');
  const text = col('text', 'utf8mb4');

  test('hostile bytes in text and binary values come back exactly, and only \\N is NULL', () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const hostile = [every, Buffer.from('\\N'), Buffer.from('N'), Buffer.from('\\'), Buffer.from('a\\'), Buffer.from('\t\n\r\0'),
      Buffer.from('\\\t\\\n'), Buffer.from(''), Buffer.from('NULL'), Buffer.from([0x5c, 0x4e, 0x09]), Buffer.from('€ 中 😀', 'utf8'),
      Buffer.from([0xff, 0xfe, 0x00, 0x5c])];
    for (const value of hostile) {
      const row = [value, null, Buffer.from(value)];
      assert.deepEqual(readLoadData(loadDataRow(row, [blob, text, text])), [row], value.toString('hex'));
    }
    const rows = hostile.map((v) => [v, Buffer.from('1')]);
    const input = Buffer.concat(rows.map((r) => loadDataRow(r, [blob, col('int')])));
    assert.deepEqual(readLoadData(input), rows, 'many lines read back as their rows');
    assert.equal(escapeLoadData(Buffer.from('plain')).toString(), 'plain');
    assert.equal(escapeLoadData(Buffer.from('a\tb\nc\\d\0e\r')).toString(), 'a\\tb\\nc\\\\d\\0e\\r');
  });

  test('numbers and temporals go as their checked text, BIT as its number; a value not of its type is refused', () => {
    const columns = [col('bigint'), col('double'), col('decimal'), col('datetime'), col('time'), col('bit'), col('enum'), col('year')];
    const line = loadDataRow([raw('-9223372036854775808'), raw('-0'), raw('-1.50'), raw('0000-00-00 00:00:00.000000'),
      raw('-838:59:59'), Buffer.from([1, 0]), raw('3'), raw('0')], columns);
    assert.equal(line.toString('latin1'), '-9223372036854775808\t-0\t-1.50\t0000-00-00 00:00:00.000000\t-838:59:59\t256\t3\t0\n');
    for (const [value, type] of [['1\t2', 'int'], ['1\n', 'decimal'], ['2020-01-01\\', 'date'], ['1 OR 1', 'enum'], ['\\N', 'year']] as const) {
      assert.throws(() => loadDataRow([raw(value)], [col(type)]), SourceValueError, `${type} ${JSON.stringify(value)}`);
    }
  });

  test('ENUM, SET, BIT and YEAR load through a number; the rest straight into their columns, as bytes', () => {
    const columns = [col('int'), col('enum'), col('set'), col('bit'), col('year'), { name: 'we`ird', dataType: 'varchar', charset: 'latin1' }];
    assert.equal(loadDataStatement('d', 't', columns), "LOAD DATA LOCAL INFILE 'rows' INTO TABLE `d`.`t` CHARACTER SET binary " +
      "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (`c_int`, @v1, @v2, @v3, @v4, `we``ird`) " +
      'SET `c_enum` = CAST(@v1 AS UNSIGNED), `c_set` = CAST(@v2 AS UNSIGNED), `c_bit` = CAST(@v3 AS UNSIGNED), ' +
      '`c_year` = CAST(@v4 AS UNSIGNED)');
  });
});

describe('provisioning definitions', () => {
  test("the source's CREATE TABLE is renamed into the target database", () => {
    const sql = targetDefinition('CREATE TABLE `t``x` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB', 't`x', 'rw');
    assert.equal(sql, 'CREATE TABLE `rw`.`t``x` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB');
    assert.equal(targetDefinition('CREATE TABLE `ü` (a int)', 'ü', 'd'), Buffer.from('CREATE TABLE `d`.`ü` (a int)').toString('latin1'));
  });

  test('a text that is not the definition of the table asked for is refused', () => {
    for (const text of ['CREATE TABLE `other` (a int)', 'DROP TABLE `t`', 'CREATE TABLE `t` (a int); DROP DATABASE x',
      'CREATE TABLE `t` SELECT 1', "CREATE TABLE `t` (a int COMMENT 'x)"]) {
      assert.throws(() => targetDefinition(text, 't', 'd'), DefinitionError, text);
    }
  });
});

describe('secondary indexes built after the copy', () => {
  const table = (elements: string[], options = ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4') =>
    `CREATE TABLE \`t\` (\n  ${elements.join(',\n  ')}\n)${options}`;
  const columns = ['`id` int(11) NOT NULL', "`a` varchar(20) DEFAULT 'x,y) KEY' COMMENT 'KEY `z` (`a`)'", '`b` int(11) DEFAULT NULL'];

  test('plain KEYs leave the definition and come back as one ALTER TABLE; the other keys stay', () => {
    const kept = ['PRIMARY KEY (`id`)', 'UNIQUE KEY `u` (`b`)', 'FULLTEXT KEY `f` (`a`)'];
    const plain = ['KEY `a_b` (`a`(10),`b` DESC)', "KEY `b` (`b`) USING BTREE COMMENT 'it''s, (odd)'", 'KEY `ign` (`b`,`a`) IGNORED'];
    const { definition, indexes } = deferIndexes(table([...columns, kept[0]!, plain[0]!, kept[1]!, plain[1]!, kept[2]!, plain[2]!]));
    assert.equal(definition, table([...columns, ...kept]));
    assert.deepEqual(indexes.map((i) => i.name), ['a_b', 'b', 'ign']);
    assert.deepEqual(indexes.map((i) => i.element), plain);
    assert.equal(addIndexes('rw', 't', indexes), 'ALTER TABLE `rw`.`t` ADD KEY `a_b` (`a`(10),`b` DESC), ' +
      "ADD KEY `b` (`b`) USING BTREE COMMENT 'it''s, (odd)', ADD KEY `ign` (`b`,`a`) IGNORED");
  });

  test('a table with a foreign key or a constraint keeps every index; so does an index with anything else in it', () => {
    for (const extra of ['CONSTRAINT `fk` FOREIGN KEY (`b`) REFERENCES `p` (`id`)', 'CONSTRAINT `c` CHECK (`b` > 0)']) {
      const text = table([...columns, 'PRIMARY KEY (`id`)', 'KEY `b` (`b`)', extra]);
      assert.deepEqual(deferIndexes(text), { definition: text, indexes: [] }, extra);
    }
    for (const odd of ['KEY `b` (`b`) PARTITION', 'KEY `b` (`b`) WITH PARSER `p`', 'KEY (`b`)']) {
      const text = table([...columns, 'PRIMARY KEY (`id`)', odd]);
      assert.deepEqual(deferIndexes(text), { definition: text, indexes: [] }, odd);
    }
    assert.deepEqual(deferIndexes("CREATE TABLE `t` (a int COMMENT 'x)").indexes, [], 'unreadable: left to targetDefinition');
    // MariaDB writes a JSON column's CHECK inside the column.
    const json = table([...columns, '`j` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`j`))',
      'PRIMARY KEY (`id`)', 'KEY `b` (`b`)']);
    assert.deepEqual(deferIndexes(json), { definition: json, indexes: [] });
  });

  test('a key an AUTO_INCREMENT column leads stays in the CREATE (InnoDB refuses the table without it: 1075)', () => {
    const auto = ['`tenant` int(11) NOT NULL', '`id` int(11) NOT NULL AUTO_INCREMENT', '`b` int(11) DEFAULT NULL'];
    const text = table([...auto, 'PRIMARY KEY (`tenant`,`id`)', 'KEY `by_id` (`id`)', 'KEY `by_b` (`b`,`id`)'],
      ' ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4');
    const { definition, indexes } = deferIndexes(text);
    assert.deepEqual(indexes.map((i) => i.name), ['by_b']);
    assert.equal(definition, table([...auto, 'PRIMARY KEY (`tenant`,`id`)', 'KEY `by_id` (`id`)'], ' ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4'));
  });
});

describe("provisioning's catch-up restriction", () => {
  const map = (database: string, table: string) => ({ database, table }) as TableMapEvent;
  const rows = (tableMap: TableMapEvent) => ({ tableId: BigInt(tableMap.table.length), tableMap }) as unknown as RowsEvent;
  const only = (db: string, table: string) => db === 'rw' && table === 'done';

  test('rows events of tables it does not accept are not applied, after the rules and rewrite', () => {
    const filter = new EventFilter({ ...emptyFilters(), replicateDoDb: ['rw'], replicateRewriteDb: [['src', 'rw']] }, { tables: only });
    assert.equal(filter.rows(rows(map('src', 'done')))?.tableMap.database, 'rw');
    assert.equal(filter.rows(rows(map('src', 'copying'))), undefined);
    assert.equal(filter.rows(rows(map('other', 'done'))), undefined);
    const unrestricted = new EventFilter({ ...emptyFilters(), replicateDoDb: ['rw'], replicateRewriteDb: [['src', 'rw']] });
    assert.notEqual(unrestricted.rows(rows(map('src', 'copying'))), undefined);
  });

  test('statements: applied when all their tables are accepted, skipped when none, refused when mixed', () => {
    const filter = new EventFilter(emptyFilters(), { tables: only });
    const statement = (sql: string) => filter.statement({ sql, database: 'rw', statusVars: {} } as never);
    assert.equal(statement('BEGIN').apply, true);
    assert.equal(statement('INSERT INTO done VALUES (1)').apply, true);
    assert.equal(statement('INSERT INTO copying VALUES (1)').apply, false);
    assert.throws(() => statement('UPDATE done, copying SET done.a = 1, copying.a = 2'), StatementFilterError);
  });
});

test('time left: rows still to copy at the rate of this run; unknown before any row', () => {
  assert.equal(secondsLeft(0, 1000, 5000), null);
  assert.equal(secondsLeft(500, 1000, 5000), 10);
  assert.equal(secondsLeft(500, -20, 5000), 0);
});

describe("a MySQL source's snapshot coordinates", () => {
  test('read with the statement its version understands: SHOW BINARY LOG STATUS from 8.2, SHOW MASTER STATUS before and on MariaDB', () => {
    assert.deepEqual(sourceFlavor('8.4.3'), { name: 'mysql', binaryLogStatus: 'SHOW BINARY LOG STATUS' });
    assert.deepEqual(sourceFlavor('8.2.0-commercial'), { name: 'mysql', binaryLogStatus: 'SHOW BINARY LOG STATUS' });
    assert.deepEqual(sourceFlavor('8.0.36-log'), { name: 'mysql', binaryLogStatus: 'SHOW MASTER STATUS' });
    assert.deepEqual(sourceFlavor('5.7.44'), { name: 'mysql', binaryLogStatus: 'SHOW MASTER STATUS' });
    assert.equal(sourceFlavor('10.11.6-MariaDB-log').name, 'mariadb');
    assert.equal(sourceFlavor('5.5.5-10.6.12-MariaDB').name, 'mariadb');
  });

  test('the row gives the position and the executed set; a source without its binary log is refused', () => {
    const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    const other = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
    assert.deepEqual(binaryLogStatusCoordinates({ File: Buffer.from('binlog.000007'), Position: Buffer.from('1234'),
      Binlog_Do_DB: Buffer.from(''), Executed_Gtid_Set: Buffer.from(`${other}:1-3:7,\n${uuid}:1-5`) }),
    { position: { file: 'binlog.000007', pos: 1234 }, gtidState: `${uuid}:1-5,\n${other}:1-3:7` });
    assert.deepEqual(binaryLogStatusCoordinates({ File: 'binlog.000001', Position: '157', Executed_Gtid_Set: '' }),
      { position: { file: 'binlog.000001', pos: 157 }, gtidState: '' });
    assert.throws(() => binaryLogStatusCoordinates(undefined), (err: unknown) =>
      err instanceof ReplicationError && err.errno === 1593 && /binary log on/.test(err.message));
  });
});

test('the last key copied is kept exactly; anything else (an earlier version\'s text, a wrong length) starts the table again', () => {
  const key = [Buffer.from('12'), Buffer.from([0, 0xff, 0x27])];
  assert.deepEqual(decodeKey(encodeKey(key), 2), key);
  assert.equal(encodeKey(key), '{"hex":["3132","00ff27"]}');
  assert.equal(decodeKey(encodeKey(key), 1), undefined);
  assert.equal(decodeKey('["12"]', 1), undefined, 'the text form of earlier versions');
  assert.equal(decodeKey('', 1), undefined);
  assert.equal(decodeKey('{"hex":[null]}', 1), undefined);
  assert.equal(decodeKey('{"hex":["abc"]}', 1), undefined);
});

test('verify refuses a MySQL source before anything is copied or compared (1235), a MariaDB source passes', async () => {
  const source = (version: string) => ({ query: async () => [[{ version: Buffer.from(version) }], []] }) as unknown as Connection;
  await assert.rejects(refuseVerifyOnMysql(source('8.4.3')), { errno: 1235, message: /needs a MariaDB source.*8\.4\.3/ });
  await refuseVerifyOnMysql(source('10.11.19-MariaDB-0+deb12u1'));
});
