// The replicate-* rules against 5.5.6 and the --replicate-* descriptions (5.1.3) of the MySQL 5.1 manual.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  emptyFilters,
  explain,
  filterRowEvent,
  filterStatement,
  formatFilterList,
  likeMatch,
  rewriteDb,
  validateFilters,
  type Decision,
  type FilterOptions,
  type ReplicationFilters,
  type StatementFilterInput,
} from '../src/filter/index.js';

function filters(partial: Partial<ReplicationFilters>): ReplicationFilters {
  return { ...emptyFilters(), ...partial };
}

function t(name: string): { db: string; table: string } {
  const dot = name.indexOf('.');
  return { db: name.slice(0, dot), table: name.slice(dot + 1) };
}

type Event =
  | { row: string }
  | { statement: Omit<StatementFilterInput, 'updatedTables'> & { updatedTables?: string[] } };

interface Case {
  name: string;
  rules: Partial<ReplicationFilters>;
  event: Event;
  apply: boolean;
  rule: string;
  reason?: RegExp;
  options?: FilterOptions;
}

function judge(c: Case): Decision {
  const f = filters(c.rules);
  if ('row' in c.event) {
    const { db, table } = t(c.event.row);
    return filterRowEvent(f, db, table, c.options);
  }
  const { updatedTables = [], ...rest } = c.event.statement;
  return filterStatement(f, { ...rest, updatedTables: updatedTables.map(t) }, c.options);
}

function runCases(cases: Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const d = judge(c);
      assert.equal(d.apply, c.apply, `apply: ${d.rule}: ${d.reason}`);
      assert.equal(d.rule, c.rule, d.reason);
      if (c.reason) assert.match(d.reason, c.reason);
      assert.ok(d.reason.length > 0);
    });
  }
}

const stmt = (defaultDb: string, updatedTables: string[], extra: Omit<Partial<StatementFilterInput>, 'updatedTables' | 'defaultDb'> = {}): Event => ({
  statement: { defaultDb, updatedTables, ...extra },
});
const row = (name: string): Event => ({ row: name });

describe('no rules', () => {
  runCases([
    { name: 'statement: every statement is applied', rules: {}, event: stmt('db', ['db.t']), apply: true, rule: 'no rules' },
    { name: 'row: every row event is applied', rules: {}, event: row('db.t'), apply: true, rule: 'no rules' },
    { name: 'rewrite alone is not a rule that filters', rules: { replicateRewriteDb: [['a', 'b']] }, event: stmt('a', ['a.t']), apply: true, rule: 'no rules' },
    { name: 'database-level statement', rules: {}, event: stmt('x', [], { databaseLevel: { db: 'x' } }), apply: true, rule: 'no rules' },
  ]);
});

describe('5.5.6 stage 1: database rules', () => {
  runCases([
    // Yes -> Permit -> table stage (none) -> execute.
    { name: 'do-db lists the default database, no table rules: applied', rules: { replicateDoDb: ['sales'] }, event: stmt('sales', ['sales.t']), apply: true, rule: 'replicate-do-db', reason: /'sales' is in replicate-do-db.*no table rules/ },
    // 5.1.3 --replicate-do-db example: USE prices; UPDATE sales.january ... is not replicated.
    { name: '5.1.3 do-db=sales, USE prices; UPDATE sales.january: ignored', rules: { replicateDoDb: ['sales'] }, event: stmt('prices', ['sales.january']), apply: false, rule: 'replicate-do-db', reason: /default database 'prices' is not in replicate-do-db \('sales'\)/ },
    // 5.1.3 --replicate-ignore-db example: the same statement is replicated.
    { name: '5.1.3 ignore-db=sales, USE prices; UPDATE sales.january: applied', rules: { replicateIgnoreDb: ['sales'] }, event: stmt('prices', ['sales.january']), apply: true, rule: 'replicate-ignore-db (not listed)' },
    { name: 'ignore-db lists the default database: ignored', rules: { replicateIgnoreDb: ['sales'] }, event: stmt('sales', ['prices.t']), apply: false, rule: 'replicate-ignore-db', reason: /default database 'sales' is in replicate-ignore-db/ },
    { name: 'do-db and ignore-db both list it: do-db decides (as binlog-do-db)', rules: { replicateDoDb: ['a'], replicateIgnoreDb: ['a'] }, event: stmt('a', ['a.t']), apply: true, rule: 'replicate-do-db' },
    { name: 'do-db present, database only in ignore-db list: ignored by do-db', rules: { replicateDoDb: ['a'], replicateIgnoreDb: ['b'] }, event: stmt('c', ['c.t']), apply: false, rule: 'replicate-do-db' },
    { name: 'several do-db entries: any one matches', rules: { replicateDoDb: ['a', 'b', 'c'] }, event: stmt('b', []), apply: true, rule: 'replicate-do-db' },
    { name: 'no default database: no do-db lists the empty name, so it is ignored', rules: { replicateDoDb: ['x'] }, event: stmt('', ['x.t']), apply: false, rule: 'replicate-do-db', reason: /none was selected/ },
    { name: 'no default database: ignore-db rules do not list the empty name, so it is applied', rules: { replicateIgnoreDb: ['x'] }, event: stmt('', ['x.t']), apply: true, rule: 'replicate-ignore-db (not listed)' },
    { name: 'database rules are exact by default (lower_case_table_names=0)', rules: { replicateDoDb: ['Sales'] }, event: stmt('sales', []), apply: false, rule: 'replicate-do-db' },
    { name: 'caseInsensitiveNames: database rules ignore letter case', rules: { replicateDoDb: ['Sales'] }, event: stmt('sales', []), apply: true, rule: 'replicate-do-db', options: { caseInsensitiveNames: true } },
    { name: 'caseInsensitiveNames: ignore-db too', rules: { replicateIgnoreDb: ['SALES'] }, event: stmt('sales', []), apply: false, rule: 'replicate-ignore-db', options: { caseInsensitiveNames: true } },
    // Row events: the table's own database is judged, not the default database.
    { name: 'row: do-db judges the table database', rules: { replicateDoDb: ['sales'] }, event: row('sales.january'), apply: true, rule: 'replicate-do-db', reason: /database 'sales'/ },
    { name: 'row: do-db, other database: ignored', rules: { replicateDoDb: ['sales'] }, event: row('prices.t'), apply: false, rule: 'replicate-do-db' },
    { name: 'row: ignore-db lists the table database: ignored', rules: { replicateIgnoreDb: ['sales'] }, event: row('sales.january'), apply: false, rule: 'replicate-ignore-db' },
    { name: 'row: ignore-db, other database: applied', rules: { replicateIgnoreDb: ['sales'] }, event: row('prices.t'), apply: true, rule: 'replicate-ignore-db (not listed)' },
    // 5.5.6 stage 2 note: USE bar; INSERT INTO foo.sometable, replicating database foo.
    { name: '5.5.6 foo example, statement-based: USE bar; INSERT INTO foo.sometable is ignored', rules: { replicateDoDb: ['foo'] }, event: stmt('bar', ['foo.sometable']), apply: false, rule: 'replicate-do-db' },
    { name: '5.5.6 foo example, row-based: the rows of foo.sometable are applied', rules: { replicateDoDb: ['foo'] }, event: row('foo.sometable'), apply: true, rule: 'replicate-do-db' },
  ]);
});

describe('5.5.6 stage 2: table rules', () => {
  runCases([
    // Step 1 "no table rules": execute whatever stage 1 permitted.
    { name: 'step 1: no table rules, database rules permit: applied', rules: { replicateIgnoreDb: ['x'] }, event: stmt('db', ['db.t']), apply: true, rule: 'replicate-ignore-db (not listed)', reason: /no table rules/ },
    // Steps 2-5, each rule kind matching.
    { name: 'step 2: do-table matches: applied', rules: { replicateDoTable: ['db.t'] }, event: stmt('db', ['db.t']), apply: true, rule: 'replicate-do-table', reason: /table db\.t matches replicate-do-table 'db\.t'/ },
    { name: 'step 3: ignore-table matches: ignored', rules: { replicateIgnoreTable: ['db.t'] }, event: stmt('db', ['db.t']), apply: false, rule: 'replicate-ignore-table' },
    { name: 'step 4: wild-do-table matches: applied', rules: { replicateWildDoTable: ['db.t%'] }, event: stmt('db', ['db.t1']), apply: true, rule: 'replicate-wild-do-table', reason: /pattern 'db\.t%'/ },
    { name: 'step 5: wild-ignore-table matches: ignored', rules: { replicateWildIgnoreTable: ['db.t%'] }, event: stmt('db', ['db.t1']), apply: false, rule: 'replicate-wild-ignore-table' },
    // Order of steps within one table.
    { name: 'do-table before ignore-table for the same table', rules: { replicateDoTable: ['db.t'], replicateIgnoreTable: ['db.t'] }, event: stmt('db', ['db.t']), apply: true, rule: 'replicate-do-table' },
    { name: 'ignore-table before wild-do-table', rules: { replicateIgnoreTable: ['db.t'], replicateWildDoTable: ['db.%'] }, event: stmt('db', ['db.t']), apply: false, rule: 'replicate-ignore-table' },
    { name: 'wild-do-table before wild-ignore-table', rules: { replicateWildDoTable: ['db.%'], replicateWildIgnoreTable: ['db.t%'] }, event: stmt('db', ['db.t']), apply: true, rule: 'replicate-wild-do-table' },
    { name: 'do-table before wild-ignore-table', rules: { replicateDoTable: ['db.t'], replicateWildIgnoreTable: ['db.%'] }, event: stmt('db', ['db.t']), apply: true, rule: 'replicate-do-table' },
    { name: 'do rules exist but name another table; wild-ignore matches this one', rules: { replicateDoTable: ['db.other'], replicateWildIgnoreTable: ['db.%'] }, event: stmt('db', ['db.t']), apply: false, rule: 'replicate-wild-ignore-table' },
    // Step 6: nothing matched.
    { name: 'step 6: no match, do-table rules exist: ignored', rules: { replicateDoTable: ['db.other'] }, event: stmt('db', ['db.t']), apply: false, rule: 'replicate-do-table (no table rule matched)', reason: /table db\.t matches no table rule/ },
    { name: 'step 6: no match, only wild-do rules exist: ignored', rules: { replicateWildDoTable: ['other.%'] }, event: stmt('db', ['db.t']), apply: false, rule: 'replicate-wild-do-table (no table rule matched)' },
    { name: 'step 6: no match, only ignore rules: applied', rules: { replicateIgnoreTable: ['db.other'], replicateWildIgnoreTable: ['x%.%'] }, event: stmt('db', ['db.t']), apply: true, rule: 'replicate-*-table (no table rule matched)' },
    // The 5.5.6 closing example: do-db=db1, do-table=db2.mytbl2, USE db1; INSERT INTO mytbl1.
    { name: '5.5.6 example: do-db=db1 + do-table=db2.mytbl2, INSERT INTO db1.mytbl1: ignored', rules: { replicateDoDb: ['db1'], replicateDoTable: ['db2.mytbl2'] }, event: stmt('db1', ['db1.mytbl1']), apply: false, rule: 'replicate-do-table (no table rule matched)' },
    { name: '5.5.6 example, same rules, USE db1; INSERT INTO db2.mytbl2: applied', rules: { replicateDoDb: ['db1'], replicateDoTable: ['db2.mytbl2'] }, event: stmt('db1', ['db2.mytbl2']), apply: true, rule: 'replicate-do-table' },
    { name: '5.5.6 example, same rules, USE db2; INSERT INTO mytbl2: stage 1 ignores before do-table is seen', rules: { replicateDoDb: ['db1'], replicateDoTable: ['db2.mytbl2'] }, event: stmt('db2', ['db2.mytbl2']), apply: false, rule: 'replicate-do-db' },
    // Mixed database/table options, statement vs row (ignore-db=db1, do-table=db2.tbl2; USE db1; INSERT INTO db2.tbl2).
    { name: 'ignore-db=db1 + do-table=db2.tbl2, statement from db1: ignored at stage 1', rules: { replicateIgnoreDb: ['db1'], replicateDoTable: ['db2.tbl2'] }, event: stmt('db1', ['db2.tbl2']), apply: false, rule: 'replicate-ignore-db' },
    { name: 'ignore-db=db1 + do-table=db2.tbl2, rows of db2.tbl2: applied', rules: { replicateIgnoreDb: ['db1'], replicateDoTable: ['db2.tbl2'] }, event: row('db2.tbl2'), apply: true, rule: 'replicate-do-table' },
    // Rows go through the same table stage.
    { name: 'row: do-table matches', rules: { replicateDoTable: ['db.t'] }, event: row('db.t'), apply: true, rule: 'replicate-do-table' },
    { name: 'row: ignore-table matches', rules: { replicateIgnoreTable: ['db.t'] }, event: row('db.t'), apply: false, rule: 'replicate-ignore-table' },
    { name: 'row: wild-do matches', rules: { replicateWildDoTable: ['d_.%'] }, event: row('db.t'), apply: true, rule: 'replicate-wild-do-table' },
    { name: 'row: wild-ignore matches', rules: { replicateWildIgnoreTable: ['%.t'] }, event: row('db.t'), apply: false, rule: 'replicate-wild-ignore-table' },
    { name: 'row: no match with do rules', rules: { replicateDoTable: ['db.x'] }, event: row('db.t'), apply: false, rule: 'replicate-do-table (no table rule matched)' },
    { name: 'row: no match without do rules', rules: { replicateIgnoreTable: ['db.x'] }, event: row('db.t'), apply: true, rule: 'replicate-*-table (no table rule matched)' },
    { name: 'row: database permitted, then table refused', rules: { replicateDoDb: ['db'], replicateIgnoreTable: ['db.t'] }, event: row('db.t'), apply: false, rule: 'replicate-ignore-table' },
    // Statements that update no table are judged by the database stage alone.
    { name: 'statement updating no table, table rules present: applied', rules: { replicateDoTable: ['db.x'] }, event: stmt('db', []), apply: true, rule: 'no table updated' },
    { name: 'statement updating no table, database refused: ignored', rules: { replicateDoDb: ['x'], replicateDoTable: ['db.x'] }, event: stmt('db', []), apply: false, rule: 'replicate-do-db' },
    // Table rules ignore letter case whatever lower_case_table_names says, as on a MariaDB 10.11 replica.
    { name: 'do-table ignores case', rules: { replicateDoTable: ['Db.T'] }, event: stmt('db', ['db.t']), apply: true, rule: 'replicate-do-table' },
    { name: 'ignore-table ignores case', rules: { replicateIgnoreTable: ['db.secret'] }, event: row('db.SECRET'), apply: false, rule: 'replicate-ignore-table' },
    { name: 'wild patterns ignore case', rules: { replicateWildIgnoreTable: ['DB%.%'] }, event: row('db1.t'), apply: false, rule: 'replicate-wild-ignore-table' },
    { name: 'wild patterns ignore case on database statements', rules: { replicateWildDoTable: ['Shop%.%'] }, event: stmt('', [], { databaseLevel: { db: 'shop1' } }), apply: true, rule: 'replicate-wild-do-table' },
    // Exemptions the servers make.
    { name: 'transaction control passes even a refusing do-db', rules: { replicateDoDb: ['x'] }, event: stmt('y', [], { transactionControl: true }), apply: true, rule: 'transaction control' },
    { name: 'DROP TEMPORARY TABLE IF EXISTS is exempt from table rules', rules: { replicateDoTable: ['db.x'] }, event: stmt('db', ['db.tmp'], { tableRulesExempt: true }), apply: true, rule: 'DROP TEMPORARY TABLE IF EXISTS' },
    { name: 'DROP TEMPORARY TABLE IF EXISTS still meets the database stage', rules: { replicateDoDb: ['x'], replicateDoTable: ['db.x'] }, event: stmt('db', ['db.tmp'], { tableRulesExempt: true }), apply: false, rule: 'replicate-do-db' },
  ]);
});

describe('5.5.6 stage 2: a statement that updates several tables', () => {
  const rules = { replicateDoTable: ['db.a'], replicateIgnoreTable: ['db.b'] };
  runCases([
    { name: 'first table matches do, later one matches ignore: applied (first match decides)', rules, event: stmt('db', ['db.a', 'db.b']), apply: true, rule: 'replicate-do-table', reason: /db\.a/ },
    { name: 'first table matches ignore, later one matches do: ignored', rules, event: stmt('db', ['db.b', 'db.a']), apply: false, rule: 'replicate-ignore-table', reason: /db\.b/ },
    { name: 'first table undecided, second matches do: applied', rules, event: stmt('db', ['db.c', 'db.a']), apply: true, rule: 'replicate-do-table' },
    { name: 'first table undecided, second matches ignore: ignored', rules, event: stmt('db', ['db.c', 'db.b']), apply: false, rule: 'replicate-ignore-table' },
    { name: 'no table matches, do rules exist: ignored, naming every table', rules, event: stmt('db', ['db.c', 'db.d']), apply: false, rule: 'replicate-do-table (no table rule matched)', reason: /none of the tables db\.c, db\.d/ },
    { name: 'no table matches, only ignore rules: applied', rules: { replicateIgnoreTable: ['db.b'] }, event: stmt('db', ['db.c', 'db.d']), apply: true, rule: 'replicate-*-table (no table rule matched)' },
    { name: 'wild do on the first table beats an exact ignore on the second', rules: { replicateWildDoTable: ['db.a%'], replicateIgnoreTable: ['db.b'] }, event: stmt('db', ['db.a1', 'db.b']), apply: true, rule: 'replicate-wild-do-table' },
    { name: 'exact ignore on the first table beats a wild do on the second', rules: { replicateWildDoTable: ['db.a%'], replicateIgnoreTable: ['db.b'] }, event: stmt('db', ['db.b', 'db.a1']), apply: false, rule: 'replicate-ignore-table' },
  ]);
});

describe('database-level statements and wild rules with table pattern %', () => {
  const dbStmt = (db: string, defaultDb = db): Event => stmt(defaultDb, [], { databaseLevel: { db } });
  runCases([
    { name: '5.1.3 wild-do foo%.%: CREATE DATABASE foo1 is applied', rules: { replicateWildDoTable: ['foo%.%'] }, event: dbStmt('foo1'), apply: true, rule: 'replicate-wild-do-table', reason: /database foo1 matches replicate-wild-do-table pattern 'foo%\.%'/ },
    { name: 'wild-do foo%.%: CREATE DATABASE bar is ignored', rules: { replicateWildDoTable: ['foo%.%'] }, event: dbStmt('bar'), apply: false, rule: 'replicate-wild-do-table (no pattern matched the database)' },
    { name: 'wild-do foo%.bar%: a table pattern other than % never matches a database', rules: { replicateWildDoTable: ['foo%.bar%'] }, event: dbStmt('foo1'), apply: false, rule: 'replicate-wild-do-table (no pattern matched the database)' },
    { name: 'wild-ignore foo%.%: DROP DATABASE foo2 is ignored', rules: { replicateWildIgnoreTable: ['foo%.%'] }, event: dbStmt('foo2'), apply: false, rule: 'replicate-wild-ignore-table' },
    { name: 'wild-ignore foo%.%: DROP DATABASE other is applied', rules: { replicateWildIgnoreTable: ['foo%.%'] }, event: dbStmt('other'), apply: true, rule: 'replicate-*-table (no pattern matched the database)' },
    { name: 'wild-do before wild-ignore for databases too', rules: { replicateWildDoTable: ['foo%.%'], replicateWildIgnoreTable: ['foo1.%'] }, event: dbStmt('foo1'), apply: true, rule: 'replicate-wild-do-table' },
    { name: 'exact do-table rules cannot match a database: applied', rules: { replicateDoTable: ['db2.t'] }, event: dbStmt('x'), apply: true, rule: 'replicate-*-table (no pattern matched the database)' },
    { name: 'do-db judges the database of CREATE DATABASE', rules: { replicateDoDb: ['a'] }, event: dbStmt('b'), apply: false, rule: 'replicate-do-db' },
    { name: 'do-db lists it, no table rules: applied', rules: { replicateDoDb: ['a'] }, event: dbStmt('a'), apply: true, rule: 'replicate-do-db', reason: /no table rules/ },
    { name: 'default database passes but the named one is refused', rules: { replicateDoDb: ['a'] }, event: dbStmt('b', 'a'), apply: false, rule: 'replicate-do-db', reason: /database 'b'/ },
    { name: 'database rules permit, then wild-ignore refuses', rules: { replicateDoDb: ['foo1'], replicateWildIgnoreTable: ['foo%.%'] }, event: dbStmt('foo1'), apply: false, rule: 'replicate-wild-ignore-table' },
  ]);
});

describe('likeMatch', () => {
  const cases: [pattern: string, value: string, expected: boolean, ci?: boolean][] = [
    ['foo%.bar%', 'foo.bar', true],
    ['foo%.bar%', 'foo1.bar2', true],
    ['foo%.bar%', 'xfoo.bar', false],
    ['foo%.bar%', 'foo.xbar', false],
    // 5.1.3: my\_own\%db matches my_own%db, not my1ownAABCdb.
    ['my\\_own\\%db.%', 'my_own%db.t', true],
    ['my\\_own\\%db.%', 'my1ownAABCdb.t', false],
    ['my\\_own\\%db.%', 'my_ownXdb.t', false],
    ['db.t\\_1', 'db.t_1', true],
    ['db.t\\_1', 'db.tx1', false],
    ['db.100\\%', 'db.100%', true],
    ['db.100\\%', 'db.1000', false],
    ['a\\\\b.t', 'a\\b.t', true],
    ['a\\\\b.t', 'a\\\\b.t', false],
    ['db.t\\', 'db.t\\', true], // a trailing lone backslash stands for itself
    ['db.\\t', 'db.t', true], // escaping an ordinary character is harmless
    ['db\\.t', 'db.t', true], // an escaped dot is still the dot
    ['db\\.t', 'dbxt', false],
    ['db.t_', 'db.t1', true],
    ['db.t_', 'db.t', false],
    ['db.t_', 'db.t12', false],
    ['db._', 'db.😀', true], // one character, not one UTF-16 unit
    ['db.__', 'db.😀', false],
    ['db.t%', 'db.t', true], // a trailing % matches nothing too
    ['db.%', 'db.', true],
    ['db%', 'db', true],
    ['%', '', true],
    ['%%%', 'abc', true],
    ['', '', true],
    ['', 'a', false],
    ['a%b%c', 'aXbYc', true],
    ['a%b%c', 'aXbY', false],
    ['a%b', 'abab', true],
    ['%a%a', 'baaXa', true],
    ['d%1', 'db.t1', true], // % spans the dot: the servers match the whole 'db.table' string
    ['db_t.x', 'db.t.x', true],
    ['DB.T', 'db.t', false],
    ['DB.T', 'db.t', true, true],
    ['DB%._', 'dbx.q', true, true],
  ];
  for (const [pattern, value, expected, ci] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(value)}${ci ? ' (case-insensitive)' : ''}`, () => {
      assert.equal(likeMatch(pattern, value, ci), expected);
    });
  }
});

describe('replicate-rewrite-db', () => {
  const f = filters({ replicateRewriteDb: [['olddb', 'newdb'], ['a', 'b'], ['b', 'c']] });
  const cases: [db: string, expected: string, options?: FilterOptions][] = [
    ['olddb', 'newdb'],
    ['other', 'other'],
    ['a', 'b'], // not chained on to c
    ['b', 'c'],
    ['OLDDB', 'OLDDB'],
    ['OLDDB', 'newdb', { caseInsensitiveNames: true }],
  ];
  for (const [db, expected, options] of cases) {
    it(`${db} -> ${expected}${options ? ' (case-insensitive)' : ''}`, () => assert.equal(rewriteDb(f, db, options), expected));
  }
});

describe('explain: rewrite first, then the rules', () => {
  const cases: { name: string; rules: Partial<ReplicationFilters>; query: { db: string; table?: string; statement?: string }; apply: boolean; rule: string; reason?: RegExp }[] = [
    { name: 'row event: rules see the rewritten database', rules: { replicateRewriteDb: [['olddb', 'newdb']], replicateDoDb: ['newdb'] }, query: { db: 'olddb', table: 't' }, apply: true, rule: 'replicate-do-db', reason: /^database 'olddb' is rewritten to 'newdb' by replicate-rewrite-db; / },
    { name: 'row event: a rule on the old name no longer matches', rules: { replicateRewriteDb: [['olddb', 'newdb']], replicateDoDb: ['olddb'] }, query: { db: 'olddb', table: 't' }, apply: false, rule: 'replicate-do-db' },
    { name: 'row event: table rules see the rewritten database', rules: { replicateRewriteDb: [['olddb', 'newdb']], replicateDoTable: ['newdb.t'] }, query: { db: 'olddb', table: 't' }, apply: true, rule: 'replicate-do-table' },
    { name: 'statement: the default database is rewritten before do-db', rules: { replicateRewriteDb: [['olddb', 'newdb']], replicateDoDb: ['newdb'] }, query: { db: 'olddb', statement: 'INSERT INTO t VALUES (1)' }, apply: true, rule: 'replicate-do-db' },
    { name: 'statement: unqualified tables resolve in the rewritten database', rules: { replicateRewriteDb: [['a', 'b']], replicateDoTable: ['b.t'] }, query: { db: 'a', statement: 'UPDATE t SET x = 1' }, apply: true, rule: 'replicate-do-table' },
    { name: 'statement: qualified names in the text are not rewritten', rules: { replicateRewriteDb: [['a', 'b']], replicateDoTable: ['b.t'] }, query: { db: 'a', statement: 'UPDATE a.t SET x = 1' }, apply: false, rule: 'replicate-do-table (no table rule matched)' },
    { name: 'statement: INSERT ... SELECT judges only the target (ignore on the source table)', rules: { replicateIgnoreTable: ['db.prices'] }, query: { db: 'db', statement: 'INSERT INTO sales SELECT * FROM prices' }, apply: true, rule: 'replicate-*-table (no table rule matched)' },
    { name: 'statement: INSERT ... SELECT judges only the target (ignore on the target)', rules: { replicateIgnoreTable: ['db.sales'] }, query: { db: 'db', statement: 'INSERT INTO sales SELECT * FROM prices' }, apply: false, rule: 'replicate-ignore-table' },
    { name: 'statement: multi-table UPDATE judges the SET tables', rules: { replicateIgnoreTable: ['db.t2'] }, query: { db: 'db', statement: 'UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.v = t2.v' }, apply: true, rule: 'replicate-*-table (no table rule matched)' },
    { name: 'statement: CREATE DATABASE names its own database, not rewritten', rules: { replicateRewriteDb: [['a', 'b']], replicateDoDb: ['b'] }, query: { db: 'a', statement: 'CREATE DATABASE a' }, apply: false, rule: 'replicate-do-db', reason: /database 'a' is not in replicate-do-db/ },
    { name: 'statement: CREATE DATABASE with wild-do foo%.%', rules: { replicateWildDoTable: ['foo%.%'] }, query: { db: 'foo9', statement: 'CREATE DATABASE foo9' }, apply: true, rule: 'replicate-wild-do-table' },
    { name: 'statement: BEGIN is always applied', rules: { replicateDoDb: ['x'] }, query: { db: 'y', statement: 'BEGIN' }, apply: true, rule: 'transaction control' },
    { name: 'statement: DROP TEMPORARY TABLE IF EXISTS is exempt from table rules', rules: { replicateDoTable: ['db.x'] }, query: { db: 'db', statement: 'DROP TEMPORARY TABLE IF EXISTS `tmp1`' }, apply: true, rule: 'DROP TEMPORARY TABLE IF EXISTS' },
    { name: 'statement: CREATE PROCEDURE updates no table', rules: { replicateDoTable: ['db.x'] }, query: { db: 'db', statement: 'CREATE PROCEDURE p() UPDATE t SET a = 1' }, apply: true, rule: 'no table updated' },
    { name: 'db only: judged by the database stage', rules: { replicateIgnoreDb: ['db'] }, query: { db: 'db' }, apply: false, rule: 'replicate-ignore-db' },
    { name: 'no rewrite: reason has no rewrite note', rules: { replicateIgnoreDb: ['x'] }, query: { db: 'db', table: 't' }, apply: true, rule: 'replicate-ignore-db (not listed)', reason: /^database 'db' is not in replicate-ignore-db/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = explain(filters(c.rules), c.query);
      assert.equal(d.apply, c.apply, d.reason);
      assert.equal(d.rule, c.rule, d.reason);
      if (c.reason) assert.match(d.reason, c.reason);
    });
  }
  it('refuses a query that is both a row event and a statement', () => {
    assert.throws(() => explain(emptyFilters(), { db: 'd', table: 't', statement: 'BEGIN' }), /either a table .* or a statement/);
  });
});

describe('validateFilters', () => {
  const bad: [name: string, f: unknown, message: RegExp][] = [
    ['do-table without a dot', { replicateDoTable: ['nodot'] }, /replicate-do-table: "nodot" has no '\.'/],
    ['ignore-table with an empty database part', { replicateIgnoreTable: ['.t'] }, /replicate-ignore-table: "\.t" needs both a database and a table part/],
    ['do-table with an empty table part', { replicateDoTable: ['db.'] }, /needs both a database and a table part/],
    ['empty do-db', { replicateDoDb: [''] }, /replicate-do-db: database name is empty/],
    ['blank ignore-db', { replicateIgnoreDb: ['  '] }, /replicate-ignore-db: database name is empty/],
    ['comma inside a name', { replicateDoDb: ['a,b'] }, /contains a comma; give each name as its own list entry/],
    ['leading space', { replicateDoDb: [' a'] }, /leading or trailing spaces/],
    ['non-string entry', { replicateDoDb: [1] }, /must be a string/],
    ['not a list', { replicateDoDb: 'a' }, /replicate-do-db must be a list of strings/],
    ['wild pattern without a dot', { replicateWildDoTable: ['db%'] }, /replicate-wild-do-table: "db%" has no '\.'/],
    ['wild pattern ending in a lone backslash', { replicateWildIgnoreTable: ['db.t\\'] }, /ends with a lone '\\'/],
    ['wild pattern with an empty table part', { replicateWildIgnoreTable: ['db%.'] }, /needs both a database and a table part/],
    ['rewrite entry that is not a pair', { replicateRewriteDb: [['a']] }, /replicate-rewrite-db: \["a"\] is not a \[from, to\] pair/],
    ['rewrite entry with three names', { replicateRewriteDb: [['a', 'b', 'c']] }, /is not a \[from, to\] pair/],
    ['rewrite entry that is a string', { replicateRewriteDb: ['a->b'] }, /is not a \[from, to\] pair/],
    ['rewrite to an empty name', { replicateRewriteDb: [['a', '']] }, /'to' database name is empty/],
    ['rewrite from an empty name', { replicateRewriteDb: [['', 'b']] }, /'from' database name is empty/],
    ['rewrite name containing ->', { replicateRewriteDb: [['a->b', 'c']] }, /contains '->'/],
    ['duplicate rewrite from', { replicateRewriteDb: [['a', 'b'], ['a', 'c']] }, /database "a" is rewritten twice \(to "b" and to "c"\)/],
    ['unknown filter name', { replicateDoDB: ['a'] }, /unknown replication filter "replicateDoDB"/],
    ['not an object', null, /must be an object/],
  ];
  for (const [name, f, message] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => validateFilters(f as Partial<ReplicationFilters>), message));
  }
  it('refuses a rewrite duplicate by case only when names are case-insensitive', () => {
    const f = { replicateRewriteDb: [['a', 'b'], ['A', 'c']] as [string, string][] };
    assert.doesNotThrow(() => validateFilters(f));
    assert.throws(() => validateFilters(f, { caseInsensitiveNames: true }), /rewritten twice/);
  });
  it('accepts empty filters, a partial set and every kind of rule', () => {
    validateFilters(emptyFilters());
    validateFilters({});
    validateFilters({ replicateDoDb: ['a'] });
    validateFilters({
      replicateDoDb: ['sales', 'my db'],
      replicateIgnoreDb: ['mysql'],
      replicateDoTable: ['db.t', 'db.t.with.dots'],
      replicateIgnoreTable: ['db.x'],
      replicateWildDoTable: ['foo%.bar%', 'my\\_own\\%db.%', 'db.t\\\\', 'db\\..%', 'db\\.t'],
      replicateWildIgnoreTable: ['%.tmp\\_%'],
      replicateRewriteDb: [['olddb', 'newdb'], ['a', 'a']],
    });
  });
});

describe('formatFilterList (SHOW SLAVE STATUS)', () => {
  const cases: [values: string[] | [string, string][], style: 'mariadb' | 'mysql' | undefined, expected: string][] = [
    [[], undefined, ''],
    [['a'], undefined, 'a'],
    [['a', 'b'], undefined, 'a,b'],
    [['db.t1', 'db.t2'], undefined, 'db.t1,db.t2'],
    [['foo%.bar%', 'my\\_own\\%db.%'], undefined, 'foo%.bar%,my\\_own\\%db.%'],
    [[['a', 'b']], undefined, 'a->b'],
    [[['primary_db1', 'replica_db1'], ['x', 'y']], 'mariadb', 'primary_db1->replica_db1,x->y'],
    [[['db1', 'db2'], ['db3', 'db4']], 'mysql', '(db1,db2),(db3,db4)'],
    [[] as [string, string][], 'mysql', ''],
  ];
  for (const [values, style, expected] of cases) {
    it(`${JSON.stringify(values)}${style ? ` (${style})` : ''} -> ${JSON.stringify(expected)}`, () => {
      assert.equal(formatFilterList(values, style), expected);
    });
  }
});
