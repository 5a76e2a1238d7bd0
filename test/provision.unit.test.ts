// The pure parts of provisioning: how a source value becomes a literal (and a hostile one is refused), how a
// source definition becomes the target's CREATE TABLE, the catch-up's table restriction, the time estimate, and
// how a MySQL source's snapshot coordinates are read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyFilters, EventFilter, StatementFilterError } from '../src/filter/index.js';
import { DefinitionError, targetDefinition } from '../src/provision/definition.js';
import { secondsLeft } from '../src/provision/progress.js';
import { rowLiteral, selectExpression, SourceValueError, valueLiteral, type CopyColumn } from '../src/provision/values.js';
import type { RowsEvent, TableMapEvent } from '../src/binlog/events.js';
import { ReplicationError } from '../src/errors.js';
import { binaryLogStatusCoordinates, sourceFlavor } from '../src/provision/provision.js';
import { decodeKey, encodeKey } from '../src/provision/progress-table.js';

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
