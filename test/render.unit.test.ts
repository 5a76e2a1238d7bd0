// The renderer, table-driven: event groups built by hand in, the pieces the target would be sent out (their SQL
// and what each expects), or the error that refuses a group. No server: each case takes milliseconds (the same
// paths run against servers in rolled-back-transactions, skip-errors, statement-formats, hostile-statements ...).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ColumnType as T } from '../src/binlog/column-types.js';
import { EventType, type BinlogEvent } from '../src/binlog/events.js';
import {
  ApplyError, keepsTables, renderDdl, renderTransaction, ROW_SESSION, segments, type Piece, type RenderOptions,
  type TransactionGroup,
} from '../src/apply/render.js';
import type { TargetTable } from '../src/apply/table-definitions.js';
import { deletes, tableMap, target, updates, writes } from './helpers/row-events.js';
import { ddl, group, query, UTF8MB4 } from './helpers/groups.js';

const T_MAP = tableMap('d', 't', [T.LONG, T.LONG, T.LONG], 7n);
const U_MAP = tableMap('d', 'u', [T.LONG, T.LONG, T.LONG], 8n);
const TABLES = new Map<string, TargetTable>([
  ['d.t', target(['id', 'a', 'b'], [0])],
  ['d.u', { ...target(['id', 'a', 'b'], [0]), table: 'u' }],
  ['d.m', { ...target(['id', 'a', 'b'], [0], { transactional: false }), table: 'm' }],
]);
const M_MAP = tableMap('d', 'm', [T.LONG, T.LONG, T.LONG], 9n);
/** A MariaDB 11.4 target, as far as the mapping of MySQL statements asks. */
const MARIADB = { collations: new Set(['utf8mb4_uca1400_nopad_ai_ci']), charsets: new Set(['utf8mb4']), vector: false };
const NO_FOREIGN_KEY_CHECKS_F = 1 << 1;
const loadQuery = (fileId: number): BinlogEvent => {
  const sql = "LOAD DATA INFILE '/tmp/rows.txt' INTO TABLE t";
  return { ...query(sql), type: 'execute_load_query', fileId, filenameStart: 'LOAD DATA'.length,
    filenameEnd: sql.indexOf('TABLE'), duplicates: 'ignore' };
};
const gtid = (seqNo: bigint): BinlogEvent => ({ type: 'gtid', flavor: 'mariadb', domainId: 0, serverId: 1, seqNo, flags2: 0, standalone: false });
const insertId = (value: bigint): BinlogEvent => ({ type: 'intvar', kind: 'insert_id', value });
const noFkChecks = <E extends { flags: number }>(event: E): E => ({ ...event, flags: event.flags | NO_FOREIGN_KEY_CHECKS_F });

function options(overrides: Partial<RenderOptions> = {}): RenderOptions {
  return {
    table: (database, table) => TABLES.get(`${database}.${table}`),
    collation: (id) => (id === UTF8MB4 ? { name: 'utf8mb4_general_ci', charset: 'utf8mb4' } : undefined),
    idempotentDdl: false,
    maxBytes: 1 << 20,
    positionSql: (p) => `POSITION ${p.sourceLogFile}:${p.sourceLogPos}`,
    ...overrides,
  };
}

/** A piece as one line: its SQL (the two session setups by name) and, in brackets, what it expects. */
function show(piece: Piece): string {
  const sql = piece.sql === ROW_SESSION ? 'ROW_SESSION' : piece.sql.startsWith('SET TIMESTAMP=') ? 'QUERY_SESSION' : piece.sql;
  const marks = [
    piece.expectRows !== undefined ? `rows ${piece.expectRows}` : '',
    piece.expectError !== undefined ? `error ${piece.expectError}` : '',
    piece.confined ? 'confined' : '',
    piece.afterChecks ? 'after checks' : '',
    piece.infile ? `file ${piece.infile.name}: ${JSON.stringify(piece.infile.data.toString())}` : '',
  ].filter((m) => m !== '');
  return marks.length > 0 ? `${sql} [${marks.join(', ')}]` : sql;
}

const INSERT = (...ids: number[]) => `INSERT INTO \`d\`.\`t\` (\`id\`,\`a\`,\`b\`) VALUES ${ids.map((i) => `(${i},0,0)`).join(',')}`;
const OPEN = ['ROW_SESSION', 'START TRANSACTION'];
const close = (groups: TransactionGroup[]) => [`POSITION bin.000001:${groups.at(-1)!.end.sourceLogPos}`, 'COMMIT [after checks]'];

describe('target transactions', () => {
  const cases: { name: string; groups: () => TransactionGroup[]; stepwise?: boolean; options?: Partial<RenderOptions>;
    out: string[] }[] = [
    {
      name: 'consecutive write events go in one INSERT, across the groups of a target transaction',
      groups: () => [group([gtid(1n), T_MAP, writes(T_MAP, [1, 0, 0]), T_MAP, writes(T_MAP, [2, 0, 0], [3, 0, 0])]),
        group([gtid(2n), T_MAP, writes(T_MAP, [4, 0, 0])])],
      out: [INSERT(1, 2, 3, 4)],
    },
    {
      name: 'a table whose engine does not roll back keeps each group\'s rows in statements of their own',
      groups: () => [group([M_MAP, writes(M_MAP, [1, 0, 0]), M_MAP, writes(M_MAP, [2, 0, 0])]), group([M_MAP, writes(M_MAP, [3, 0, 0])])],
      out: ['INSERT INTO `d`.`m` (`id`,`a`,`b`) VALUES (1,0,0),(2,0,0)', 'INSERT INTO `d`.`m` (`id`,`a`,`b`) VALUES (3,0,0)'],
    },
    {
      name: 'deletes of consecutive groups go in one set',
      groups: () => [group([gtid(1n), T_MAP, deletes(T_MAP, [1, 0, 0])]), group([gtid(2n), T_MAP, deletes(T_MAP, [2, 0, 0])])],
      out: ['DELETE FROM `d`.`t` WHERE `id`=1 OR `id`=2 [rows 2]'],
    },
    {
      name: 'another table ends the run of rows',
      groups: () => [group([T_MAP, writes(T_MAP, [1, 0, 0]), U_MAP, writes(U_MAP, [1, 0, 0]), T_MAP, writes(T_MAP, [2, 0, 0])])],
      out: [INSERT(1), 'INSERT INTO `d`.`u` (`id`,`a`,`b`) VALUES (1,0,0)', INSERT(2)],
    },
    {
      name: 'deletes and updates by key go in sets, each expecting every row it names',
      groups: () => [group([T_MAP, deletes(T_MAP, [1, 0, 0], [2, 0, 0]), T_MAP, deletes(T_MAP, [3, 0, 0]),
        updates(T_MAP, [[4, 0, 0], [4, 1, 0]], [[5, 0, 0], [5, 2, 0]])])],
      out: ['DELETE FROM `d`.`t` WHERE `id`=1 OR `id`=2 OR `id`=3 [rows 3]',
        'UPDATE `d`.`t` SET `id`=CASE WHEN `id`=4 THEN 4 WHEN `id`=5 THEN 5 END,`a`=CASE WHEN `id`=4 THEN 1 WHEN `id`=5 ' +
        'THEN 2 END,`b`=CASE WHEN `id`=4 THEN 0 WHEN `id`=5 THEN 0 END WHERE `id`=4 OR `id`=5 [rows 2]'],
    },
    {
      name: 'stepwise: one statement per row, so that the failing row is found',
      groups: () => [group([T_MAP, deletes(T_MAP, [1, 0, 0], [2, 0, 0]), writes(T_MAP, [3, 0, 0], [4, 0, 0])])],
      stepwise: true,
      out: ['DELETE FROM `d`.`t` WHERE `id`=1 LIMIT 1 [rows 1]', 'DELETE FROM `d`.`t` WHERE `id`=2 LIMIT 1 [rows 1]',
        INSERT(3), INSERT(4)],
    },
    {
      name: 'a group the source rolled back is undone to a savepoint at its start, not by ROLLBACK',
      groups: () => [group([T_MAP, writes(T_MAP, [1, 0, 0])]), group([T_MAP, writes(T_MAP, [2, 0, 0])], { rollback: true }),
        group([T_MAP, writes(T_MAP, [3, 0, 0])]), group([T_MAP, writes(T_MAP, [4, 0, 0])])],
      out: [INSERT(1), 'SAVEPOINT tributary_source_transaction', INSERT(2),
        'ROLLBACK TO SAVEPOINT tributary_source_transaction', INSERT(3, 4)],
    },
    {
      name: 'a rows event without foreign key checks turns them off for itself, and the next one on again',
      groups: () => [group([T_MAP, writes(T_MAP, [1, 0, 0]), T_MAP, noFkChecks(writes(T_MAP, [2, 0, 0])),
        T_MAP, noFkChecks(writes(T_MAP, [3, 0, 0])), T_MAP, writes(T_MAP, [4, 0, 0])])],
      out: [INSERT(1), 'SET @@session.foreign_key_checks=0', INSERT(2, 3), 'SET @@session.foreign_key_checks=1', INSERT(4)],
    },
    {
      name: 'a statement with INSERT_ID: its context, its session, the statement, the INSERT_ID forgotten, rows\' session again',
      groups: () => [group([insertId(5n), query('INSERT INTO t VALUES (NULL, 0, 0)')])],
      out: ['SET INSERT_ID=5', 'USE `d`', 'QUERY_SESSION', 'INSERT INTO t VALUES (NULL, 0, 0)', 'SET INSERT_ID=0', 'ROW_SESSION'],
    },
    {
      name: 'a statement that failed on the source must fail the same way; a deadlock on the source says nothing',
      groups: () => [group([query('INSERT INTO t VALUES (1, 0, 0)', { errorCode: 1062 }),
        query('INSERT INTO t VALUES (2, 0, 0)', { errorCode: 1213 })])],
      out: ['USE `d`', 'QUERY_SESSION', 'INSERT INTO t VALUES (1, 0, 0) [error 1062]', 'USE `d`', 'QUERY_SESSION',
        'INSERT INTO t VALUES (2, 0, 0)', 'ROW_SESSION'],
    },
    {
      name: 'a statement the server could read as two is confined',
      groups: () => [group([query('INSERT INTO t VALUES (1, 0, 0); DROP TABLE t')])],
      out: ['USE `d`', 'QUERY_SESSION', 'INSERT INTO t VALUES (1, 0, 0); DROP TABLE t [confined]', 'ROW_SESSION'],
    },
    {
      name: 'LOAD DATA reads the file its Begin_load_query and Append_block events brought, under the SQL thread\'s name',
      groups: () => [group([{ type: 'begin_load_query', fileId: 3, data: Buffer.from('1\t0\t0\n') },
        { type: 'append_block', fileId: 3, data: Buffer.from('2\t0\t0\n') }, loadQuery(3)])],
      out: ['USE `d`', 'QUERY_SESSION', "LOAD DATA LOCAL INFILE 'SQL_LOAD-1-3.data' IGNORE INTO TABLE t " +
        '[file SQL_LOAD-1-3.data: "1\\t0\\t0\\n2\\t0\\t0\\n"]', 'ROW_SESSION'],
    },
    {
      name: 'a MySQL source\'s statement is mapped for a MariaDB target',
      groups: () => [group([query('CREATE TEMPORARY TABLE x (a INT) COLLATE utf8mb4_0900_ai_ci')])],
      options: { mysqlSource: { mode: 'map', target: MARIADB } },
      out: ['USE `d`', 'QUERY_SESSION', 'CREATE TEMPORARY TABLE x (a INT) COLLATE utf8mb4_uca1400_nopad_ai_ci', 'ROW_SESSION'],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const groups = c.groups();
      const pieces = await renderTransaction(groups, c.stepwise ?? false, options(c.options));
      assert.deepEqual(pieces.map(show), [...OPEN, ...c.out, ...close(groups)]);
    });
  }

  test('a run of rows across groups that cannot be rendered names the group of its first event', async () => {
    // The applier replays the groups one by one, which names the group that cannot be rendered.
    const [first, second] = [group([T_MAP, writes(T_MAP, [1, 0, 0])]), group([T_MAP, deletes(T_MAP, [undefined, undefined, undefined])])];
    await assert.rejects(renderTransaction([first, second], false, options()), (err: unknown) =>
      err instanceof ApplyError && err.errno === 1032 && err.group === first);
    await assert.rejects(renderTransaction([second], false, options()), (err: unknown) =>
      err instanceof ApplyError && err.errno === 1032 && err.group === second);
  });

  test('a row statement names its rows event; the others say what they are', async () => {
    const rows = writes(T_MAP, [1, 0, 0]);
    const pieces = await renderTransaction([group([T_MAP, rows, query('DO 1')])], false, options());
    assert.equal(pieces[2]!.rows?.event, rows);
    assert.equal(pieces[2]!.describe(), 'Write_rows event on table d.t');
    assert.equal(pieces.find((p) => p.sql === 'DO 1')!.describe(), "query. Default database: 'd'. Query: 'DO 1'");
    assert.equal(pieces.at(-1)!.describe(), 'COMMIT');
  });
});

describe('groups refused before anything is sent', () => {
  const cases: { name: string; events: BinlogEvent[]; options?: Partial<RenderOptions>; errno: number; message: RegExp }[] = [
    {
      name: 'rows of a table the target lacks: 1146',
      events: [tableMap('d', 'gone', [T.LONG]), writes(tableMap('d', 'gone', [T.LONG]), [1])],
      errno: 1146, message: /Table 'd\.gone' doesn't exist/,
    },
    {
      name: 'LOAD DATA as servers before 5.0 logged it: 1593, with what to do',
      events: [{ type: 'legacy_load', typeCode: EventType.LOAD }],
      errno: 1593, message: /^Load_log_event \(type 6\) at source position bin\.000001:\d+: .*skip the event group with the skip counter$/,
    },
    {
      name: 'LOAD DATA whose file the relay log does not hold: 1593',
      events: [loadQuery(4)],
      errno: 1593, message: /reads file 4, which no Begin_load_query event of its transaction brought/,
    },
    {
      name: 'a statement cut off on the source at an unknown point: 3001',
      events: [query('UPDATE t SET a = 1', { errorCode: 1317 })],
      errno: 3001, message: /^Query partially completed on the master \(error on master: 1317\)/,
    },
    {
      name: 'a row image that identifies no row: the row mapping\'s 1032',
      events: [T_MAP, deletes(T_MAP, [undefined, undefined, undefined])],
      errno: 1032, message: /no column of the row image identifies a row of d\.t/,
    },
    {
      name: 'a MySQL statement that would need mapping, with mysqlDdl refuse: 1235 naming the option',
      events: [query('CREATE TABLE x (a INT) COLLATE utf8mb4_0900_ai_ci')],
      options: { mysqlSource: { mode: 'refuse', target: MARIADB } },
      errno: 1235, message: /mysqlDdl is 'refuse'/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const refused = group(c.events);
      const groups = [group([U_MAP, writes(U_MAP, [1, 0, 0])]), refused];
      await assert.rejects(renderTransaction(groups, false, options(c.options)), (err: unknown) =>
        err instanceof ApplyError && err.errno === c.errno && err.group === refused && !err.transient && c.message.test(err.message));
    });
  }
});

describe('DDL', () => {
  test('a DDL group is its statement after its session, without a transaction or the position (the applier writes it)', async () => {
    const pieces = await renderDdl(ddl('CREATE TABLE t2 (id INT)'), options());
    assert.deepEqual(pieces.map(show), ['USE `d`', 'QUERY_SESSION', 'CREATE TABLE t2 (id INT)']);
  });

  test('on a MariaDB target DDL runs as its replicas run it', async () => {
    const pieces = await renderDdl(ddl('CREATE TABLE t2 (id INT)'), options({ idempotentDdl: true }));
    assert.equal(pieces.at(-1)!.sql, 'CREATE OR REPLACE TABLE t2 (id INT)');
  });
});

describe('segments and render-ahead', () => {
  test('a DDL is a segment alone; a temporary table\'s CREATE or DROP ends its transaction', () => {
    const [a, b, c, d, e] = [group([query('DO 1')]), group([query('DO 2')]), ddl('CREATE TABLE t2 (id INT)'),
      group([query('CREATE TEMPORARY TABLE tmp (id INT)')]), group([query('DO 3')])];
    assert.deepEqual(segments([a!, b!, c!, d!, e!]), [{ transactions: [a, b] }, { ddl: c }, { transactions: [d] }, { transactions: [e] }]);
  });

  test('a group the caller names (rows of a table that does not roll back) ends its transaction', () => {
    const [a, b, c] = [group([query('DO 1')]), group([query('DO 2')]), group([query('DO 3')])];
    assert.deepEqual(segments([a!, b!, c!], (g) => g === a), [{ transactions: [a] }, { transactions: [b, c] }]);
  });

  test('only a group of row events keeps the target\'s tables as they are', () => {
    assert.equal(keepsTables(group([T_MAP, writes(T_MAP, [1, 0, 0])])), true);
    assert.equal(keepsTables(group([query('UPDATE t SET a = 1')])), false);
    assert.equal(keepsTables(group([T_MAP, writes(T_MAP, [1, 0, 0]), insertId(1n)])), false);
    assert.equal(keepsTables(ddl('CREATE TABLE t2 (id INT)')), false);
  });
});
