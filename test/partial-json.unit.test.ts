// MySQL partial JSON updates (PARTIAL_UPDATE_ROWS, binlog_row_value_options=PARTIAL_JSON): the event decoded
// from bytes laid out as MySQL lays them out (sql/rpl_record.cc, sql/json_diff.cc), the diffs refused where a
// source lies, and the SQL that applies them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinlogDecoder, BinlogFormatError, ColumnType as T, encodeFormatDescription } from '../src/binlog/decoder.js';
import { EventType, type RowsEvent } from '../src/binlog/events.js';
import { jsonDiffSql, rowStatements } from '../src/apply/row-sql.js';
import type { TargetTable } from '../src/apply/table-definitions.js';
import {
  bitmap, jsonDiffVector, rowImage, rowsEventV2, sharedImage, tableMapEvent, u32, type JsonDiffSpec,
} from './helpers/binlog-events.js';
import { mysqlJson } from './helpers/mysql-json.js';

const REPLACE = 0;
const INSERT = 1;
const REMOVE = 2;

// t (id INT, doc JSON, n INT, meta JSON): JSON columns 1 and 3, so partial_bits has two bits.
const TYPES = [T.LONG, T.JSON, T.LONG, T.JSON];
const json = (v: Parameters<typeof mysqlJson>[0]) => {
  const doc = mysqlJson(v);
  return Buffer.concat([u32(doc.length), doc]);
};

function decoder(): BinlogDecoder {
  const d = new BinlogDecoder();
  d.decode(encodeFormatDescription({ serverId: 1, timestamp: 0, serverVersion: '8.0.36', checksumAlg: 1 }));
  d.decode(tableMapEvent({ tableId: 5, database: 'd', table: 't', types: TYPES, meta: Buffer.from([4, 4]) }));
  return d;
}

function decodeRows(before: number[], after: number[], rows: Buffer, type: number = EventType.PARTIAL_UPDATE_ROWS): RowsEvent {
  const event = decoder().decode(rowsEventV2(type, 5, 4, [bitmap(4, before), bitmap(4, after)], rows)).event;
  assert.equal(event.type, 'rows');
  return event as RowsEvent;
}

const diffs = (...list: JsonDiffSpec[]) => jsonDiffVector(list);

test('FULL images: the partial JSON column holds its diffs, the other JSON column its document', () => {
  const event = decodeRows([0, 1, 2, 3], [0, 1, 2, 3], Buffer.concat([
    rowImage([u32(1), json({ a: 1, gone: true }), u32(7), json({ v: 1 })]),
    sharedImage(2, [0]),
    rowImage([u32(1), diffs(
      { operation: REPLACE, path: '$.a', value: mysqlJson('one') },
      { operation: INSERT, path: '$."new key"[0]', value: mysqlJson({ d: [true, null] }) },
      { operation: REMOVE, path: '$.gone' },
    ), u32(8), json({ v: 2 })]),
  ]));
  assert.equal(event.kind, 'update');
  assert.deepEqual(event.rows, [{
    before: [1, '{"a": 1, "gone": true}', 7, '{"v": 1}'],
    after: [1, undefined, 8, '{"v": 2}'],
    jsonDiffs: new Map([[1, [
      { operation: 'replace', path: [{ member: 'a' }], value: '"one"' },
      { operation: 'insert', path: [{ member: 'new key' }, { cell: 0 }], value: '{"d": [true, null]}' },
      { operation: 'remove', path: [{ member: 'gone' }] },
    ]]]),
  }]);
});

test('MINIMAL images, several rows, value_options 0 in one of them, the second JSON column partial', () => {
  const event = decodeRows([0], [3], Buffer.concat([
    rowImage([u32(1)]), sharedImage(2, [1]), rowImage([diffs({ operation: REPLACE, path: '$[last-1]', value: mysqlJson(2) })]),
    rowImage([u32(2)]), sharedImage(), rowImage([json([1])]),
    rowImage([u32(3)]), sharedImage(2, [1]), rowImage([null]),
  ]));
  assert.deepEqual(event.rows, [
    { before: [1, undefined, undefined, undefined], after: [undefined, undefined, undefined, undefined],
      jsonDiffs: new Map([[3, [{ operation: 'replace', path: [{ cell: 1, fromLast: true }], value: '2' }]]]) },
    { before: [2, undefined, undefined, undefined], after: [undefined, undefined, undefined, '[1]'] },
    // A NULL after image carries no diff, whatever its bit says.
    { before: [3, undefined, undefined, undefined], after: [undefined, undefined, undefined, null] },
  ]);
});

test('paths: every leg form MySQL writes, members quoted or not, escapes read as JSON', () => {
  const event = decodeRows([0], [1], Buffer.concat([
    rowImage([u32(1)]), sharedImage(2, [0]),
    rowImage([diffs({ operation: REMOVE, path: '$.a_1$.é[3][last]."q\\"\\\\ \\u00e9"[last-20]' })]),
  ]));
  assert.deepEqual(event.rows[0]!.jsonDiffs!.get(1)![0]!.path, [
    { member: 'a_1$' }, { member: 'é' }, { cell: 3 }, { cell: 0, fromLast: true }, { member: 'q"\\ é' },
    { cell: 20, fromLast: true },
  ]);
});

test('a partial update that lies is refused with BinlogFormatError, naming what is wrong', () => {
  const refused = (rows: Buffer, message: RegExp) => assert.throws(() => decodeRows([0], [1], rows),
    (err: Error) => err instanceof BinlogFormatError && message.test(err.message), message.source);
  const one = (diff: Buffer) => Buffer.concat([rowImage([u32(1)]), sharedImage(2, [0]), rowImage([diff])]);
  refused(Buffer.concat([rowImage([u32(1)]), Buffer.from([2]), rowImage([json(1)])]), /value_options 2/);
  refused(one(diffs({ operation: 3, path: '$.a' })), /unknown operation 3/);
  for (const path of ['$.*', '$**.a', '$[*]', '$[1 to 2]', '$[ 1]', '$[last - 1]', 'a', '$.a b', '$."open', '$."\\x"', '$[1', '$']) {
    refused(one(diffs({ operation: REMOVE, path })), /corrupt JSON diff: path/);
  }
  refused(one(diffs({ operation: REMOVE, path: Buffer.from([0x24, 0x2e, 0xff]) })), /not UTF-8/);
  refused(one(diffs({ operation: REMOVE, path: '$' + '[0]'.repeat(101) })), /more than 100 legs/);
  refused(one(diffs({ operation: REPLACE, path: '$.a', value: Buffer.alloc(0) })), /empty value/);
  refused(one(diffs({ operation: REPLACE, path: '$.a', value: Buffer.from([0x0c, 5]) })), /corrupt binary JSON/);
  // The diffs claim more bytes than the column has, and the column more than the event.
  const cut = diffs({ operation: REPLACE, path: '$.a', value: mysqlJson(1) });
  refused(one(Buffer.concat([u32(cut.length - 4 - 1), cut.subarray(4, cut.length - 1)])), /event too short reading JSON diff value/);
  refused(one(Buffer.concat([u32(1000), cut.subarray(4)])), /event too short reading JSON diff/);
});

test('an UPDATE_ROWS event (type 31) is not read as a partial one', () => {
  const event = decodeRows([0], [1], Buffer.concat([rowImage([u32(1)]), rowImage([json({ a: 1 })])]), EventType.UPDATE_ROWS);
  assert.deepEqual(event.rows, [{ before: [1, undefined, undefined, undefined], after: [undefined, '{"a": 1}', undefined, undefined] }]);
});

const column = { name: 'doc', unsigned: false, generated: false };

test('SQL: the diffs as JSON functions applied in order, paths and values as quoted literals', () => {
  assert.equal(jsonDiffSql('`doc`', [
    { operation: 'replace', path: [{ member: 'a' }], value: '"one"' },
    { operation: 'insert', path: [{ member: 'c' }], value: '{"d": [true, null]}' },
    { operation: 'insert', path: [{ member: 'b' }, { cell: 1 }], value: '1.5' },
    { operation: 'remove', path: [{ cell: 2, fromLast: true }, { cell: 0, fromLast: true }] },
  ], column),
  'JSON_REMOVE(JSON_ARRAY_INSERT(JSON_INSERT(JSON_REPLACE(`doc`,' +
    `_utf8mb4'$."a"',JSON_EXTRACT(_utf8mb4'"one"','$')),` +
    `_utf8mb4'$."c"',JSON_EXTRACT(_utf8mb4'{"d": [true, null]}','$')),` +
    `_utf8mb4'$."b"[1]',JSON_EXTRACT(_utf8mb4'1.5','$')),` +
    `_utf8mb4'$[last-2][last]')`);
});

test('SQL: a hostile member name or value stays inside its literal', () => {
  const member = "x'),`doc`=('\\";
  const sql = jsonDiffSql('`doc`', [{ operation: 'replace', path: [{ member }], value: JSON.stringify(member) }], column);
  // Backslashes and control characters go as hex literals, which no client character set or sql_mode reads otherwise.
  assert.equal(sql, `JSON_REPLACE(\`doc\`,_utf8mb4 X'${Buffer.from(`$.${JSON.stringify(member)}`).toString('hex')}',` +
    `JSON_EXTRACT(_utf8mb4 X'${Buffer.from(JSON.stringify(member)).toString('hex')}','$'))`);
  const quoteOnly = jsonDiffSql('`doc`', [{ operation: 'remove', path: [{ member: "it's" }] }], column);
  assert.equal(quoteOnly, `JSON_REMOVE(\`doc\`,_utf8mb4'$."it''s"')`);
});

test('rowStatements: a partial update sets the JSON column from itself, other columns from the after image', () => {
  const table: TargetTable = {
    database: 'd', table: 't', key: [0], triggers: false, transactional: true,
    columns: ['id', 'doc', 'n', 'meta'].map((name) => ({ name, unsigned: false, generated: false })),
  };
  const event = decodeRows([0, 1, 2, 3], [0, 1, 2, 3], Buffer.concat([
    rowImage([u32(1), json({ a: 1 }), u32(7), null]), sharedImage(2, [0]),
    rowImage([u32(1), diffs({ operation: REMOVE, path: '$.a' }), u32(8), null]),
    rowImage([u32(2), json([]), u32(7), null]), sharedImage(2, [0]),
    rowImage([u32(2), diffs(), u32(7), null]),
  ]));
  assert.deepEqual(rowStatements([event], table, 1 << 20).map((s) => [s.sql, s.expectRows]), [
    ["UPDATE `d`.`t` SET `id`=1,`doc`=JSON_REMOVE(`doc`,_utf8mb4'$.\"a\"'),`n`=8,`meta`=NULL WHERE `id`=1 LIMIT 1", 1],
    // No diff at all (the server writes an empty vector for an update that changed nothing in the document).
    ['UPDATE `d`.`t` SET `id`=2,`doc`=`doc`,`n`=7,`meta`=NULL WHERE `id`=2 LIMIT 1', 1],
  ]);
  // A target lacking the column that holds changes cannot apply them (a column of values would be 1677 too).
  const short: TargetTable = { ...table, columns: table.columns.slice(0, 1) };
  const minimal = decodeRows([0], [1], Buffer.concat([rowImage([u32(1)]), sharedImage(2, [0]),
    rowImage([diffs({ operation: REMOVE, path: '$.a' })])]));
  assert.throws(() => rowStatements([minimal], short, 1 << 20), (err: Error & { errno?: number }) => err.errno === 1677);
  // A target with the JSON column generated takes the rest of the row.
  const generated: TargetTable = { ...table, columns: table.columns.map((c, i) => (i === 1 ? { ...c, generated: true } : c)) };
  assert.deepEqual(rowStatements([event], generated, 1 << 20).map((s) => s.sql)[0],
    'UPDATE `d`.`t` SET `id`=1,`n`=8,`meta`=NULL WHERE `id`=1 LIMIT 1');
});
