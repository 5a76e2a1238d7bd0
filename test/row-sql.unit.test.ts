// rowStatements' set-based statements, table-driven: rows events and a target table in, the statements the
// target is sent out, with the row count each must touch. Every case where a set would not provably give what
// the rows give one by one keeps one statement per row, with the same text as before sets existed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ColumnType as T } from '../src/binlog/column-types.js';
import type { RowImage, RowsEvent } from '../src/binlog/events.js';
import { MAX_SET_ROWS, rowStatements } from '../src/apply/row-sql.js';
import { deletes, rowsEvent, tableMap, target, updates, writes } from './helpers/row-events.js';

const INTS = tableMap('d', 't', [T.LONG, T.LONG, T.LONG]);
const KEYED = target(['id', 'a', 'b'], [0]);
const COMPOSITE = target(['id', 'a', 'b'], [2, 0]);
const BIG = 1 << 30;

const DEL = (id: number) => `DELETE FROM \`d\`.\`t\` WHERE \`id\`=${id} LIMIT 1`;
const UPD = (set: string, id: number) => `UPDATE \`d\`.\`t\` SET ${set} WHERE \`id\`=${id} LIMIT 1`;
/** One UPDATE for rows by key: `rows` are [id, ...values of `columns`]. */
const CASES = (columns: string[], rows: (number | string)[][]) => `UPDATE \`d\`.\`t\` SET ${columns.map((c, k) =>
  `\`${c}\`=CASE${rows.map(([id, ...values]) => ` WHEN \`id\`=${id} THEN ${values[k]}`).join('')} END`).join(',')} ` +
  `WHERE ${rows.map(([id]) => `\`id\`=${id}`).join(' OR ')}`;
const ALL = ['id', 'a', 'b'];

const cases: { name: string; events: RowsEvent[]; table?: typeof KEYED; max?: number; out: [string, number | undefined][] }[] = [
  {
    name: 'consecutive deletes by key: one DELETE by the rows\' conditions, expecting every row',
    events: [deletes(INTS, [1, 0, 0], [2, 0, 0]), deletes(INTS, [3, 0, 0])],
    out: [['DELETE FROM `d`.`t` WHERE `id`=1 OR `id`=2 OR `id`=3', 3]],
  },
  {
    name: 'a composite key, in key order',
    events: [deletes(INTS, [1, 0, 7], [2, 0, 8])],
    table: COMPOSITE,
    out: [['DELETE FROM `d`.`t` WHERE `b`=7 AND `id`=1 OR `b`=8 AND `id`=2', 2]],
  },
  {
    name: 'consecutive updates of the same columns: one UPDATE choosing the values of each row by its key',
    events: [updates(INTS, [[1, 0, 0], [1, 10, 100]], [[2, 0, 0], [2, 20, null]])],
    out: [[CASES(ALL, [[1, 1, 10, 100], [2, 2, 20, 'NULL']]), 2]],
  },
  {
    name: 'MINIMAL images: the key from the before image, only the changed columns set',
    events: [updates(INTS, [[1, undefined, undefined], [undefined, undefined, 5]], [[2, undefined, undefined], [undefined, undefined, 6]])],
    out: [[CASES(['b'], [[1, 5], [2, 6]]), 2]],
  },
  {
    name: 'one row alone: the statement of one row',
    events: [deletes(INTS, [1, 0, 0]), writes(INTS, [9, 9, 9]), updates(INTS, [[2, 0, 0], [2, 1, 1]])],
    out: [[DEL(1), 1], ['INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (9,9,9)', undefined], [UPD('`id`=2,`a`=1,`b`=1', 2), 1]],
  },
  {
    name: 'kinds keep their order: a write or another kind ends the set',
    events: [deletes(INTS, [1, 0, 0], [2, 0, 0]), writes(INTS, [1, 5, 5]), deletes(INTS, [3, 0, 0], [4, 0, 0]),
      updates(INTS, [[5, 0, 0], [5, 1, 1]], [[6, 0, 0], [6, 1, 1]]), deletes(INTS, [7, 0, 0], [8, 0, 0])],
    out: [
      ['DELETE FROM `d`.`t` WHERE `id`=1 OR `id`=2', 2],
      ['INSERT INTO `d`.`t` (`id`,`a`,`b`) VALUES (1,5,5)', undefined],
      ['DELETE FROM `d`.`t` WHERE `id`=3 OR `id`=4', 2],
      [CASES(ALL, [[5, 5, 1, 1], [6, 6, 1, 1]]), 2],
      ['DELETE FROM `d`.`t` WHERE `id`=7 OR `id`=8', 2],
    ],
  },
  {
    name: 'the same key twice: the second change starts the next set, in order',
    events: [updates(INTS, [[1, 0, 0], [1, 1, 1]], [[2, 0, 0], [2, 1, 1]]), updates(INTS, [[1, 1, 1], [1, 2, 2]], [[3, 0, 0], [3, 1, 1]])],
    out: [
      [CASES(ALL, [[1, 1, 1, 1], [2, 2, 1, 1]]), 2],
      [CASES(ALL, [[1, 1, 2, 2], [3, 3, 1, 1]]), 2],
    ],
  },
  {
    name: 'an update that changes the key: one statement per row, the sets around it kept',
    events: [updates(INTS, [[1, 0, 0], [1, 1, 1]], [[2, 0, 0], [2, 1, 1]], [[3, 0, 0], [30, 1, 1]], [[4, 0, 0], [4, 1, 1]])],
    out: [[CASES(ALL, [[1, 1, 1, 1], [2, 2, 1, 1]]), 2], [UPD('`id`=30,`a`=1,`b`=1', 3), 1],
      [UPD('`id`=4,`a`=1,`b`=1', 4), 1]],
  },
  {
    name: 'different columns set: a new set',
    events: [updates(INTS, [[1, 0, 0], [undefined, 1, undefined]], [[2, 0, 0], [undefined, 1, undefined]],
      [[3, 0, 0], [undefined, undefined, 1]])],
    out: [[CASES(['a'], [[1, 1], [2, 1]]), 2], [UPD('`b`=1', 3), 1]],
  },
  {
    name: 'a table without a usable key: by all columns, one row each',
    events: [deletes(INTS, [1, 2, 3], [4, 5, 6])],
    table: target(['id', 'a', 'b']),
    out: [['DELETE FROM `d`.`t` WHERE `id`=1 AND `a`=2 AND `b`=3 LIMIT 1', 1], ['DELETE FROM `d`.`t` WHERE `id`=4 AND `a`=5 AND `b`=6 LIMIT 1', 1]],
  },
  {
    name: 'a table with triggers: one row each, so that they fire in the source order',
    events: [deletes(INTS, [2, 0, 0], [1, 0, 0])],
    table: { ...KEYED, triggers: true },
    out: [[DEL(2), 1], [DEL(1), 1]],
  },
  {
    name: 'a before image without the key columns: by the columns it has, one row each',
    events: [deletes(INTS, [undefined, 5, 6], [undefined, 7, 8])],
    out: [['DELETE FROM `d`.`t` WHERE `a`=5 AND `b`=6 LIMIT 1', 1], ['DELETE FROM `d`.`t` WHERE `a`=7 AND `b`=8 LIMIT 1', 1]],
  },
  {
    name: 'a NULL key value (the source allows it, the target key does not): one row each',
    events: [deletes(INTS, [null, 5, 6], [null, 7, 8])],
    out: [['DELETE FROM `d`.`t` WHERE `id` IS NULL LIMIT 1', 1], ['DELETE FROM `d`.`t` WHERE `id` IS NULL LIMIT 1', 1]],
  },
  {
    name: 'a key of any kind the target key has: the one-row conditions as they are (a float; an ENUM index)',
    events: [deletes(tableMap('d', 't', [T.DOUBLE, T.LONG, T.LONG]), [1.5, 0, 0], [2.5, 0, 0])],
    out: [['DELETE FROM `d`.`t` WHERE `id`=1.5 OR `id`=2.5', 2]],
  },
  {
    name: 'an ENUM key',
    events: [deletes(tableMap('d', 't', [T.ENUM, T.LONG, T.LONG]), [3, 0, 0], [4, 0, 0])],
    table: target([{ name: 'id', kind: 'enum' }, 'a', 'b'], [0]),
    out: [['DELETE FROM `d`.`t` WHERE `id`=3 OR `id`=4', 2]],
  },
  {
    name: 'a key the target compares as another kind (a number with a VARCHAR key finds \'5\' and \'05\'): one row each',
    events: [deletes(INTS, [5, 0, 0], [6, 0, 0])],
    table: target([{ name: 'id', kind: 'string' }, 'a', 'b'], [0]),
    out: [[DEL(5), 1], [DEL(6), 1]],
  },
  {
    name: 'a table whose engine does not roll back (a failed set is replayed row by row): one row each',
    events: [deletes(INTS, [1, 0, 0], [2, 0, 0])],
    table: target(['id', 'a', 'b'], [0], { transactional: false }),
    out: [[DEL(1), 1], [DEL(2), 1]],
  },
  {
    name: 'string and temporal keys as their literals',
    events: [deletes(tableMap('d', 't', [T.VARCHAR, T.DATETIME2, T.LONG]), [Buffer.from('a'), '2020-01-01 00:00:00', 0],
      [Buffer.from("it's\n"), '2021-01-01 00:00:00', 0])],
    table: target([{ name: 'id', kind: 'string' }, { name: 'a', kind: 'temporal' }, 'b'], [0, 1]),
    out: [["DELETE FROM `d`.`t` WHERE `id`=_binary'a' AND `a`='2020-01-01 00:00:00' OR `id`=_binary X'697427730a' AND `a`='2021-01-01 00:00:00'", 2]],
  },
  {
    name: 'a partial JSON update: one row each',
    events: [rowsEvent('update', tableMap('d', 't', [T.LONG, T.JSON, T.LONG]), [1, 2].map((id) => ({
      before: [id, '{}', 0], after: [id, undefined, 0],
      jsonDiffs: new Map([[1, [{ operation: 'remove' as const, path: [{ member: 'a' }] }]]]),
    })))],
    out: [1, 2].map((id) => [`UPDATE \`d\`.\`t\` SET \`id\`=${id},\`a\`=JSON_REMOVE(\`a\`,_utf8mb4'$."a"'),\`b\`=0 WHERE \`id\`=${id} LIMIT 1`, 1]),
  },
  {
    name: 'a composite key: the CASE conditions are the one-row WHERE',
    events: [updates(INTS, [[1, 0, 7], [1, 5, 7]], [[2, 0, 8], [2, 6, 8]])],
    table: COMPOSITE,
    out: [['UPDATE `d`.`t` SET `id`=CASE WHEN `b`=7 AND `id`=1 THEN 1 WHEN `b`=8 AND `id`=2 THEN 2 END,' +
      '`a`=CASE WHEN `b`=7 AND `id`=1 THEN 5 WHEN `b`=8 AND `id`=2 THEN 6 END,`b`=CASE WHEN `b`=7 AND `id`=1 THEN 7 ' +
      'WHEN `b`=8 AND `id`=2 THEN 8 END WHERE `b`=7 AND `id`=1 OR `b`=8 AND `id`=2', 2]],
  },
  {
    name: 'values a CASE would change (FLOAT, DOUBLE, BIGINT UNSIGNED, BIT, SET): one row each',
    events: [T.FLOAT, T.DOUBLE, T.LONGLONG, T.BIT, T.SET].map((type) => {
      const map = tableMap('d', 't', [T.LONG, type, T.LONG]);
      const value = type === T.BIT ? Buffer.from([1]) : type === T.SET ? 3n : type === T.LONGLONG ? 2n : 1.5;
      return updates(map, [[1, null, 0], [1, value, 0]], [[2, null, 0], [2, value, 0]]);
    }),
    table: target(['id', { name: 'a', unsigned: true }, 'b'], [0]),
    out: ['1.5', '1.5', '2', '1', '3'].flatMap((v): [string, number][] =>
      [[UPD(`\`id\`=1,\`a\`=${v},\`b\`=0`, 1), 1], [UPD(`\`id\`=2,\`a\`=${v},\`b\`=0`, 2), 1]]),
  },
  {
    name: 'a generated key column: one row each',
    events: [deletes(INTS, [1, 0, 0], [2, 0, 0])],
    table: target([{ name: 'id', generated: true }, 'a', 'b'], [0]),
    out: [[DEL(1), 1], [DEL(2), 1]],
  },
  {
    name: 'no room (maxStatementBytes 0, the stepwise replay): one statement per row',
    events: [deletes(INTS, [1, 0, 0], [2, 0, 0]), updates(INTS, [[3, 0, 0], [3, 1, 1]], [[4, 0, 0], [4, 1, 1]])],
    max: 0,
    out: [[DEL(1), 1], [DEL(2), 1], [UPD('`id`=3,`a`=1,`b`=1', 3), 1], [UPD('`id`=4,`a`=1,`b`=1', 4), 1]],
  },
];

for (const c of cases) {
  test(`rowStatements: ${c.name}`, () => {
    const out = rowStatements(c.events, c.table ?? KEYED, c.max ?? BIG);
    assert.deepEqual(out.map((s) => [s.sql, s.expectRows]), c.out);
  });
}

test(`rowStatements: at most ${MAX_SET_ROWS.delete} rows in one DELETE, ${MAX_SET_ROWS.update} in one UPDATE, in order`, () => {
  for (const kind of ['delete', 'update'] as const) {
    const ids = Array.from({ length: MAX_SET_ROWS[kind] + 2 }, (_, i) => i + 1);
    const out = rowStatements([kind === 'delete' ? deletes(INTS, ...ids.map((id) => [id, 0, 0]))
      : updates(INTS, ...ids.map((id): [RowImage, RowImage] => [[id, 0, 0], [undefined, 1, 1]]))], KEYED, BIG);
    assert.deepEqual(out.map((s) => s.expectRows), [MAX_SET_ROWS[kind], 2]);
    assert.ok(out[1]!.sql.endsWith(`WHERE \`id\`=${ids.at(-2)} OR \`id\`=${ids.at(-1)}`));
  }
});

test('rowStatements: every set fits in maxStatementBytes, rows in order', () => {
  const map = tableMap('d', 't', [T.LONG, T.VARCHAR, T.LONG]);
  const table = target(['id', 'a name that is long', 'b'], [0]);
  const ids = Array.from({ length: 60 }, (_, i) => i * 997);
  const events = [deletes(map, ...ids.map((id) => [id, Buffer.from('x'), 0])),
    updates(map, ...ids.map((id): [RowImage, RowImage] => [[id, null, 0], [id, Buffer.from('y'.repeat(id % 50)), id]]))];
  for (const max of [100, 200, 300, 500, 1000, 3000]) {
    const out = rowStatements(events, table, max);
    const rows = out.map((s) => s.expectRows!);
    assert.equal(rows.reduce((a, b) => a + b), 2 * ids.length);
    for (const s of out) if (s.expectRows! > 1) assert.ok(s.sql.length <= max, `${s.sql.length} > ${max}`);
    const order = out.flatMap((s) => [...s.sql.slice(s.sql.lastIndexOf(' WHERE ')).matchAll(/`id`=(\d+)/g)].map((m) => Number(m[1])));
    assert.deepEqual(order, [...ids, ...ids]);
  }
  assert.ok(rowStatements(events, table, 3000).length < 20);
});

test('rowStatements: a set names the rows event of its first row', () => {
  const first = deletes(INTS, [1, 0, 0]);
  const out = rowStatements([first, deletes(INTS, [2, 0, 0])], KEYED, BIG);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.source, first);
});
