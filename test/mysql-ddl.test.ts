// DDL of a MySQL 8 source on a MariaDB 10.11 target (issue 9, item 5): a fake MySQL 8.0 source serves statements
// as MySQL writes them (session collation 255, utf8mb4_0900_ai_ci; 0900 collations, DEFAULT ENCRYPTION, MySQL's
// own executable comments, index visibility, ENFORCED, SECONDARY_ENGINE), which MariaDB refuses as written. With
// mysqlDdl 'map' (the default) they land as their nearest MariaDB equivalents and a statement that has none
// stops the SQL stage with 1235 naming the statement and the option; 'refuse' stops at the first statement that
// would need mapping; 'asis' sends them as written, and the target's own error stops the channel.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ReplicationEngine } from '../src/index.js';
import { encodeFormatDescription } from '../src/binlog/encode.js';
import { EventType } from '../src/binlog/events.js';
import { binlogEvent, placeInBinlog, u16, u32 } from './helpers/binlog-events.js';
import { startFakeSource, type FakeSource } from './helpers/fake-source.js';
import { openEngine, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const UTF8MB4_0900_AI_CI = 255;
const Q_CHARSET_CODE = 4;

/** A Query event as MySQL 8 writes it: the session's character sets are utf8mb4_0900_ai_ci. */
function mysqlQuery(sql: string, database = ''): Buffer {
  const db = Buffer.from(database);
  const status = Buffer.concat([Buffer.from([Q_CHARSET_CODE]), u16(UTF8MB4_0900_AI_CI), u16(UTF8MB4_0900_AI_CI), u16(UTF8MB4_0900_AI_CI)]);
  return binlogEvent(EventType.QUERY, Buffer.concat([
    u32(1), u32(0), Buffer.from([db.length]), u16(0), u16(status.length), status, db, Buffer.from([0]), Buffer.from(sql),
  ]));
}

/** The statements, in a binlog file of a MySQL 8.0.36 server, acting on database `db`. */
function mysqlBinlog(db: string): Buffer[] {
  return placeInBinlog([
    encodeFormatDescription({ serverId: 7, timestamp: 1_700_000_000, serverVersion: '8.0.36', checksumAlg: 1 }),
    mysqlQuery(`CREATE DATABASE ${db} DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci DEFAULT ENCRYPTION='N'`),
    mysqlQuery(`CREATE TABLE items (
      id INT PRIMARY KEY,
      name VARCHAR(20) COLLATE utf8mb4_0900_as_cs,
      code VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin,
      g POINT NOT NULL /*!80003 SRID 4326 */,
      hidden INT DEFAULT 7 /*!80023 INVISIBLE */,
      INDEX by_name (name) INVISIBLE,
      CONSTRAINT positive CHECK (id > 0) ENFORCED
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci SECONDARY_ENGINE=RAPID`, db),
    mysqlQuery('BEGIN', db),
    mysqlQuery("INSERT INTO items (id, name, code, g) VALUES (1, 'Äpfel', 'x', ST_GeomFromText('POINT(1 1)', 4326))", db),
    mysqlQuery('COMMIT', db),
    mysqlQuery('ALTER TABLE items ADD INDEX by_sum ((id + 1))', db),
    mysqlQuery('ALTER TABLE items ADD COLUMN note VARCHAR(10) COLLATE utf8mb4_0900_ai_ci', db),
  ]);
}

describe('DDL of a MySQL 8 source on a MariaDB target', () => {
  let target: TestServer;
  const engines: ReplicationEngine[] = [];
  const sources: FakeSource[] = [];

  before(async () => {
    target = await startMariaDb({ serverId: 401, noBinlog: true });
  });

  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await Promise.all(sources.map((s) => s.close()));
    await target?.destroy();
  });

  /** An engine with the mode, and a channel named `db` from a source serving the statements on database `db`. */
  async function run(mode: 'map' | 'refuse' | 'asis' | undefined, db: string) {
    const engine = await openEngine(target, mode ? { mysqlDdl: mode } : {});
    engines.push(engine);
    const source = await startFakeSource({ serverId: 7, version: '8.0.36', checksum: 'CRC32', uuid: randomUUID(),
      binlogFile: 'binlog.000001', events: mysqlBinlog(db) });
    sources.push(source);
    await engine.changeReplicationSource(db, { sourceHost: source.host, sourcePort: source.port, sourceUser: 'repl',
      sourcePassword: '', sourceLogFile: 'binlog.000001', sourceLogPos: 4, sourceConnectRetry: 1 });
    await engine.startReplica(db);
    const stopped = () => until('the SQL stage stopped', async () => {
      const s = await engine.replicaStatus(db);
      return s.sqlRunning === 'No' && s;
    });
    return { engine, stopped };
  }

  test("'map' (the default): the DDL lands as MariaDB's nearest equivalent, and a functional index stops with 1235", async () => {
    const { engine, stopped } = await run(undefined, 'shop');
    const status = await stopped();
    assert.equal(status.lastSqlErrno, 1235);
    assert.match(status.lastSqlError, /^Statement of a MySQL source cannot run on MariaDB \(a functional key part .*\); it has no MariaDB equivalent: apply it by hand and skip it with the skip counter, or set the engine option mysqlDdl to 'asis' to send it as written\. Default database: 'shop'\. Query: 'ALTER TABLE items ADD INDEX by_sum \(\(id \+ 1\)\)'$/);

    const [schema] = await target.sql("SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'");
    assert.equal(schema.c, 'utf8mb4_uca1400_nopad_ai_ci');
    const [table] = await target.sql("SELECT TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items'");
    assert.equal(table.c, 'utf8mb4_uca1400_nopad_ai_ci');
    assert.deepEqual(await target.sql("SELECT COLUMN_NAME AS name, COLLATION_NAME AS collation, EXTRA AS extra FROM information_schema.COLUMNS " +
      "WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items' ORDER BY ORDINAL_POSITION"), [
      { name: 'id', collation: null, extra: '' },
      { name: 'name', collation: 'utf8mb4_uca1400_nopad_as_cs', extra: '' },
      { name: 'code', collation: 'utf8mb4_nopad_bin', extra: '' },
      { name: 'g', collation: null, extra: '' },
      { name: 'hidden', collation: null, extra: 'INVISIBLE' },
    ]);
    assert.deepEqual(await target.sql("SELECT INDEX_NAME AS name, IGNORED AS ignored FROM information_schema.STATISTICS " +
      "WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items' ORDER BY INDEX_NAME"),
    [{ name: 'by_name', ignored: 'YES' }, { name: 'PRIMARY', ignored: 'NO' }]);
    assert.deepEqual(await target.sql("SELECT G_GEOMETRY_COLUMN AS name, SRID AS srid FROM information_schema.GEOMETRY_COLUMNS " +
      "WHERE G_TABLE_SCHEMA = 'shop'"), [{ name: 'g', srid: 4326 }]);
    const [create] = await target.sql('SHOW CREATE TABLE shop.items');
    assert.match(create['Create Table'], /CONSTRAINT `positive` CHECK \(`id` > 0\)/);
    // The statement ran in its session's character set (utf8mb4 for collation 255), the invisible column took its default.
    assert.deepEqual(await target.sql('SELECT id, HEX(name) AS name, ST_SRID(g) AS srid, hidden FROM shop.items'),
      [{ id: 1, name: Buffer.from('Äpfel').toString('hex').toUpperCase(), srid: 4326, hidden: 7 }]);

    // Skipped, the channel goes on with the next statement.
    await engine.setSkipCounter('shop', 1);
    await engine.startReplica('shop');
    await until('the last statement applied', async () => {
      const s = await engine.replicaStatus('shop');
      assert.equal(s.lastSqlErrno, 0, s.lastSqlError);
      const [note] = await target.sql("SELECT COLLATION_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND COLUMN_NAME = 'note'");
      return note?.c === 'utf8mb4_uca1400_nopad_ai_ci';
    });
  });

  test("'refuse': the first statement that would need mapping stops with 1235, naming what it would map", async () => {
    const { stopped } = await run('refuse', 'shop_refuse');
    const status = await stopped();
    assert.equal(status.lastSqlErrno, 1235);
    assert.match(status.lastSqlError, /^Statement of a MySQL source needs mapping for MariaDB \(COLLATE utf8mb4_0900_ai_ci -> utf8mb4_uca1400_nopad_ai_ci; DEFAULT ENCRYPTION='N' dropped\); mysqlDdl is 'refuse': .* or 'map' to map it\. Default database: ''\. Query: 'CREATE DATABASE shop_refuse /);
    assert.deepEqual(await target.sql("SHOW DATABASES LIKE 'shop_refuse'"), []);
  });

  test("'asis': statements go as written, and the target's own error stops the channel", async () => {
    const { stopped } = await run('asis', 'shop_asis');
    const status = await stopped();
    assert.equal(status.lastSqlErrno, 1273);
    assert.match(status.lastSqlError, /^Error 'Unknown collation: 'utf8mb4_0900_ai_ci'' on query/);
  });

  test('mysqlDdl takes only its three values', async () => {
    await assert.rejects(openEngine(target, { mysqlDdl: 'rewrite' as 'map' }),
      { code: 'ER_WRONG_ARGUMENTS', message: "mysqlDdl must be 'map', 'refuse' or 'asis', got rewrite" });
  });
});
