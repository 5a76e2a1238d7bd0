// provisionChannel's row transport against real servers: rows travel as LOAD DATA LOCAL INFILE, and every column
// type of the type-rich workload, hostile bytes and the values LOAD DATA would read differently from a literal
// (an ENUM member spelt like another's index, YEAR 0, BIT) arrive exactly; a target that refuses LOAD DATA LOCAL
// (local_infile=OFF) gets the same rows through INSERT statements; secondary keys built after the copy leave the
// table's definition the source's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertSameData } from './helpers/compare.js';
import { openEngine, tempDir } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { createTypeRichSchema, extremeRows, runTransactions } from './helpers/workload.js';

const EVERY_BYTE = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex');

/** Statements of a kind the server has run: Com_load, Com_alter_table. */
async function statements(target: TestServer, counter: string): Promise<number> {
  const [row] = await target.sql(`SHOW GLOBAL STATUS LIKE '${counter}'`) as { Value: string }[];
  return Number(row!.Value);
}

describe('provisioning transport', { timeout: 180_000 }, () => {
  let source: TestServer;

  before(async () => {
    source = await startMariaDb({ serverId: 141 });
    const conn = await source.connect();
    try {
      await createTypeRichSchema(conn, 'tr');
      await extremeRows(conn, 'tr');
      await runTransactions(conn, 'tr', { count: 400, seed: 41 });
    } finally {
      await conn.end();
    }
    await source.sql('CREATE DATABASE edge',
      "CREATE TABLE edge.t (id INT PRIMARY KEY, e ENUM('2','1','x'), s SET('1','2','a'), y YEAR, b BIT(10), " +
      'bl BLOB, tx TEXT CHARACTER SET utf8mb4, l1 VARCHAR(40) CHARACTER SET latin1, d DOUBLE, KEY (e), UNIQUE KEY (l1), ' +
        "KEY `y, b` (y DESC, b) COMMENT 'built (after), the copy', KEY tx (tx(10)))",
      'CREATE TABLE edge.parent (id INT PRIMARY KEY, k INT, KEY (k))',
      'CREATE TABLE edge.child (id INT PRIMARY KEY, p INT, v INT, KEY (v), KEY p (p), FOREIGN KEY (p) REFERENCES edge.parent (id))',
      'INSERT INTO edge.parent VALUES (1, 10), (2, 20)', 'INSERT INTO edge.child VALUES (1, 1, 5), (2, 2, 6), (3, NULL, 7)',
      // '1' is the ENUM's second member and '2' its first: by text LOAD DATA would swap them; the SET's mask 1 is
      // member '1'; YEAR 0 is 0000 (the text '0' would be 2000).
      "INSERT INTO edge.t VALUES (1, '1', '2', 0, b'1010', NULL, '\\\\N', 'tab\\there', -0e0)",
      "INSERT INTO edge.t VALUES (2, 2, 1, 2000, 0, '', '', '', NULL)",
      `INSERT INTO edge.t VALUES (3, NULL, '', 2155, b'1111111111', X'${EVERY_BYTE}', ` +
        "'\\\\\\t\\n\\r\\0\\\\N €中😀', _latin1 X'5c4e09ff0a', 1.7976931348623157e308)",
      "INSERT INTO edge.t VALUES (4, 'x', '1,2,a', 1901, 1, '\\\\', '\\\\', 'NULL', 4.9e-324)");
  });

  after(async () => {
    await source?.destroy();
  });

  test('a copy stopped before its indexes were built builds them when provisionChannel continues it', async () => {
    await source.sql('CREATE DATABASE resume', 'CREATE TABLE resume.t (id INT PRIMARY KEY, a INT, b VARCHAR(20), KEY (a), KEY b (b, a))',
      "INSERT INTO resume.t SELECT seq, seq % 97, CONCAT('v', seq % 13) FROM resume.seq_1_to_3000");
    const target = await startMariaDb({ serverId: 243, noBinlog: true });
    const dataDir = await tempDir('provision-resume');
    try {
      const open = () => openEngine(target, { dataDir });
      const closing = await open();
      await closing.changeReplicationSource('rs', { sourceHost: source.host, sourcePort: source.port, sourceUser: 'root',
        sourcePassword: '', sourceConnectRetry: 1 });
      await closing.changeReplicationFilter('rs', { replicateDoDb: ['resume'] });
      let onCopy = (): void => undefined;
      const copied = new Promise<void>((resolve) => { onCopy = resolve; });
      const stopped = closing.provisionChannel('rs', { parallel: 1, chunkRows: 20,
        onProgress: (p) => p.state === 'copying' && p.rowsCopied > 0 && onCopy() });
      await copied;
      await closing.close();
      await assert.rejects(stopped);
      const engine = await open();
      try {
        assert.equal((await engine.provisionChannel('rs')).state, 'done');
      } finally {
        await engine.close();
      }
      const show = async (s: TestServer) => (await s.sql('SHOW CREATE TABLE resume.t') as Record<string, string>[])[0]!['Create Table'];
      assert.equal(await show(target), await show(source));
      const [a, b] = await Promise.all([source.connect(), target.connect()]);
      try {
        await assertSameData(a, b, ['resume']);
      } finally {
        await Promise.all([a.end(), b.end()]);
      }
    } finally {
      await target.destroy();
    }
  });

  for (const localInfile of [true, false]) {
    test(`every column type arrives exactly ${localInfile ? 'through LOAD DATA LOCAL INFILE' : 'through INSERT when the target refuses LOAD DATA LOCAL'}`, async () => {
      const target = await startMariaDb({ serverId: localInfile ? 241 : 242, noBinlog: true, args: [`--local-infile=${localInfile ? 1 : 0}`] });
      try {
        // MariaDB's SHOW CREATE TABLE writes the workload's 4-byte ENUM and SET members as '?': created beforehand.
        const conn = await target.connect();
        await createTypeRichSchema(conn, 'tr_scratch');
        await target.sql('CREATE DATABASE tr', 'CREATE TABLE tr.enums_bits LIKE tr_scratch.enums_bits', 'DROP DATABASE tr_scratch');
        await conn.end();
        const [loads, alters] = [await statements(target, 'Com_load'), await statements(target, 'Com_alter_table')];
        const engine = await openEngine(target);
        try {
          await engine.changeReplicationSource('tp', { sourceHost: source.host, sourcePort: source.port, sourceUser: 'root',
            sourcePassword: '', sourceConnectRetry: 1 });
          const done = await engine.provisionChannel('tp', { parallel: 2, chunkRows: 50 });
          assert.equal(done.state, 'done');
        } finally {
          await engine.close();
        }
        const [a, b] = await Promise.all([source.connect(), target.connect()]);
        try {
          await assertSameData(a, b, ['tr', 'edge']);
        } finally {
          await Promise.all([a.end(), b.end()]);
        }
        assert.deepEqual(await target.sql('SELECT id, e + 0 AS e, s + 0 AS s, y + 0 AS y, b + 0 AS b, HEX(bl) AS bl FROM edge.t ORDER BY id'), [
          { id: 1, e: 2, s: 2, y: 0, b: 10, bl: null },
          { id: 2, e: 2, s: 1, y: 2000, b: 0, bl: '' },
          { id: 3, e: null, s: 0, y: 2155, b: 1023, bl: EVERY_BYTE.toUpperCase() },
          { id: 4, e: 3, s: 7, y: 1901, b: 1, bl: '5C' },
        ]);
        if (localInfile) assert.ok(await statements(target, 'Com_load') > loads, 'the rows went as LOAD DATA');
        assert.ok(await statements(target, 'Com_alter_table') > alters, 'indexes were added after the copy');
        // Secondary keys built after the copy (or, with a foreign key, during it): the definitions are the source's.
        for (const table of ['t', 'parent', 'child']) {
          const show = async (s: TestServer) => (await s.sql(`SHOW CREATE TABLE edge.${table}`) as Record<string, string>[])[0]!['Create Table'];
          assert.equal(await show(target), await show(source), table);
        }
      } finally {
        await target.destroy();
      }
    });
  }
});
