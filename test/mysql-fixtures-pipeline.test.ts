// Every event of every binlog file a real MySQL server wrote (../shared/fixtures/mysql, SOURCES.md there) goes
// through the whole pipeline: a fake MySQL source serving the file (test/helpers/fake-source.ts), the I/O stage,
// the relay log, the SQL stage, a MariaDB 10.11 target (issue 9, "Done when" item 2 and item 5). The target must
// then hold exactly the rows the file's row events leave, as the project's decoder reads them; JSON columns must
// be JSON that MariaDB's JSON functions read.
//
// Tables whose CREATE TABLE is not in the file are created here from their first Table_map event (types,
// nullability, and names, key and signedness where the source wrote them), and rows an UPDATE or DELETE finds
// that no event of the file wrote (they were there before the file) are inserted first. canal's file begins by
// altering wanshao.wanshao_test, so its table is created as it stood before: the first Table_map's columns less
// the one the ALTERs add. MySqlCdc's source had lower_case_table_names=1: it creates `MySqlCdc` and writes rows
// to `mysqlcdc`, which a case-sensitive target keeps apart. Files that share database names run one after
// another; the others side by side.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ReplicationEngine } from '../src/index.js';
import { BinlogDecoder } from '../src/binlog/decoder.js';
import { ColumnType as T } from '../src/binlog/column-types.js';
import type { ColumnValue, DecodedEvent, RowImage, TableMapEvent } from '../src/binlog/events.js';
import { updatedTables } from '../src/filter/statement-tables.js';
import { mysqlCollationName, targetCollation } from '../src/apply/mysql-ddl.js';
import { binlogFileEvents, mysqlFixtures } from './helpers/binlog-events.js';
import { startFakeSource, type FakeSource } from './helpers/fake-source.js';
import { openEngine, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

/** Tables a file alters before its first row event: how many of its first Table_map's columns they had before. */
const COLUMNS_BEFORE_FILE: Record<string, Record<string, number>> = {
  'canal__tsdb__mysql-bin.000003': { 'wanshao.wanshao_test': 3 },
};

/**
 * Files in statement format hold no row images: what their statements leave, from the values their events carry
 * (INSERT_ID 1 and the user variables 'test blog', 100, 1.00; the LOAD DATA file's one line `1,"abc"`). The LOAD
 * DATA file holds neither the CREATE TABLE nor a Table_map: its table is made from the statement's column list.
 */
const STATEMENT_FILES: Record<string, { setup: string[]; table: string; rows: string[][] }> = {
  'boxercrab__14_user_var__log.bin': { setup: [], table: '`default`.boxercrab', rows: [['1', 'test blog', '100', '1.0000']] },
  'boxercrab__17_18_load__log.bin': {
    setup: ['CREATE TABLE `default`.boxercrab (i INT, c VARCHAR(10))'], table: '`default`.boxercrab', rows: [['1', 'abc']],
  },
};

interface TableState {
  map: TableMapEvent;
  rows: RowImage[];
  /** Rows found by an UPDATE or DELETE that the file never wrote: they were on the source before it. */
  seeds: RowImage[];
  /** Created here, not by the file. */
  created: boolean;
  dropped: boolean;
}

interface Fixture {
  name: string;
  data: Buffer;
  version: string;
  serverId: number;
  checksum: 'CRC32' | 'NONE';
  binlogFile: string;
  /** Where the I/O stage stands after the last event: the file's end, or where its final Rotate points. */
  end: { file: string; pos: number };
  /** Where the SQL stage stands at least once it has applied the file: after its last whole transaction. */
  applied: { file: string; pos: number };
  databases: Set<string>;
  /**
   * Databases the file uses without creating them, with the collation_server of the first statement that uses
   * them (a database created without a character set takes it).
   */
  missingDatabases: Map<string, number>;
  tables: Map<string, TableState>;
  /** Tables a PARTIAL_UPDATE_ROWS event changes (another branch applies those). */
  partial: string[];
}

const PARTIAL_UPDATE_ROWS = 39;
const key = (db: string, table: string) => `${db}.${table}`;
const canon = (v: ColumnValue | undefined) => typeof v === 'bigint' ? `${v}n` : Buffer.isBuffer(v) ? `0x${v.toString('hex')}`
  : JSON.stringify(v);
const sameRow = (a: RowImage, b: RowImage) => a.length === b.length && a.every((v, i) => canon(v) === canon(b[i]));

/** Reads a file as the pipeline will and works out what the target must hold after it. */
function analyse(name: string, data: Buffer): Fixture {
  const decoder = new BinlogDecoder();
  const events: DecodedEvent[] = [];
  const raws = binlogFileEvents(data);
  let applied = 4;
  for (const { raw, pos } of raws) {
    const decoded = decoder.decode(raw);
    events.push(decoded);
    const e = decoded.event;
    // The end of the last whole transaction or statement.
    if (e.type === 'xid' || e.type === 'transaction_payload' || (e.type === 'query' && !/^BEGIN$/i.test(e.sql.toString('latin1')))) {
      applied = pos + raw.length;
    }
    if (decoded.event.type === 'transaction_payload') {
      for (const inner of decoded.event.events) events.push(decoder.decode(inner, { checksum: false }));
    }
  }
  const fde = events[0]!;
  assert.equal(fde.event.type, 'format_description');
  const format = fde.event as Extract<typeof fde.event, { type: 'format_description' }>;
  const binlogFile = /(?:^|__)([\w-]+\.\d{6})$/.exec(name)?.[1] ?? 'mysql-bin.000001';
  const last = events.at(-1)!.event;
  const fixture: Fixture = {
    name, data, version: format.serverVersion, serverId: fde.header.serverId, checksum: format.checksumAlg === 1 ? 'CRC32' : 'NONE',
    binlogFile, end: last.type === 'rotate' ? { file: last.nextFile, pos: Number(last.position) } : { file: binlogFile, pos: data.length },
    applied: last.type === 'rotate' ? { file: last.nextFile, pos: Number(last.position) } : { file: binlogFile, pos: applied },
    databases: new Set(), missingDatabases: new Map(), tables: new Map(), partial: [],
  };
  const createdDatabases = new Set<string>();
  const serverCollation = new Map<string, number>();
  const createdTables = new Set<string>();
  const tableIds = new Map<bigint, TableMapEvent>();
  for (const { header, event: e } of events) {
    if (e.type === 'query' || e.type === 'execute_load_query') {
      if (e.database) fixture.databases.add(e.database);
      if (e.database && e.statusVars.charset && !serverCollation.has(e.database)) serverCollation.set(e.database, e.statusVars.charset.server);
      const parsed = updatedTables(e.sql.toString('utf8'), e.database);
      if (parsed.databaseLevel) {
        fixture.databases.add(parsed.databaseLevel.db);
        if (parsed.command.startsWith('CREATE')) createdDatabases.add(parsed.databaseLevel.db);
        if (parsed.command.startsWith('DROP')) {
          for (const t of fixture.tables.values()) {
            if (t.map.database === parsed.databaseLevel.db) Object.assign(t, { rows: [], dropped: true });
          }
        }
      }
      for (const ref of parsed.tables) {
        fixture.databases.add(ref.db);
        const state = fixture.tables.get(key(ref.db, ref.table));
        if (parsed.command === 'CREATE TABLE') {
          createdTables.add(key(ref.db, ref.table));
          if (state?.dropped) state.dropped = false;
        }
        if (parsed.command === 'DROP TABLE' && state) {
          state.rows = [];
          state.dropped = true;
        }
      }
      continue;
    }
    if (e.type === 'table_map') {
      tableIds.set(e.tableId, e);
      fixture.databases.add(e.database);
      const k = key(e.database, e.table);
      const state = fixture.tables.get(k);
      if (!state) {
        fixture.tables.set(k, { map: e, rows: [], seeds: [], created: !createdTables.has(k), dropped: false });
      } else {
        // The ALTERs of these files add columns at the end and drop the last one.
        const n = e.columnTypes.length;
        state.rows = state.rows.map((r) => r.length < n ? [...r, ...new Array(n - r.length).fill(null)] : r.slice(0, n));
        state.map = e;
      }
      continue;
    }
    if (header.typeCode === PARTIAL_UPDATE_ROWS) {
      fixture.partial.push(e.type === 'rows' ? key(e.tableMap.database, e.tableMap.table) : '?');
      continue;
    }
    if (e.type !== 'rows') continue;
    const state = fixture.tables.get(key(e.tableMap.database, e.tableMap.table))!;
    for (const row of e.rows) {
      for (const image of [row.before, row.after]) {
        if (image) assert.ok(image.every((v) => v !== undefined), `${name}: a row image without every column (binlog_row_image=FULL expected)`);
      }
      if (row.before) {
        const at = state.rows.findIndex((r) => sameRow(r, row.before!));
        if (at >= 0) state.rows.splice(at, 1);
        else {
          assert.ok(state.created, `${name}: ${e.kind} of a row of ${key(e.tableMap.database, e.tableMap.table)} that was never written`);
          state.seeds.push(row.before);
        }
      }
      if (row.after) state.rows.push(row.after);
    }
  }
  for (const db of fixture.databases) if (!createdDatabases.has(db)) fixture.missingDatabases.set(db, serverCollation.get(db) ?? 45);
  return fixture;
}

/** Column definitions for a table the file does not create, from its Table_map. */
function columnsSql(map: TableMapEvent, count = map.columnTypes.length): string {
  const names = map.optional.columnNames;
  const cols = map.columnTypes.slice(0, count).map((type, i) => {
    const meta = map.columnMeta[i]!;
    const unsigned = map.optional.unsigned?.[i] ? ' UNSIGNED' : '';
    const real = meta.realType ?? type;
    let sql: string;
    switch (real) {
      case T.TINY: sql = `TINYINT${unsigned}`; break;
      case T.SHORT: sql = `SMALLINT${unsigned}`; break;
      case T.INT24: sql = `MEDIUMINT${unsigned}`; break;
      case T.LONG: sql = `INT${unsigned}`; break;
      case T.LONGLONG: sql = `BIGINT${unsigned}`; break;
      case T.FLOAT: sql = 'FLOAT'; break;
      case T.DOUBLE: sql = 'DOUBLE'; break;
      case T.NEWDECIMAL: sql = `DECIMAL(${meta.precision},${meta.scale})${unsigned}`; break;
      case T.VARCHAR: sql = `VARBINARY(${meta.length})`; break;
      case T.STRING: sql = `VARBINARY(${meta.length})`; break;
      case T.ENUM: sql = `ENUM(${Array.from({ length: 255 }, (_, j) => `'${j + 1}'`).join(',')})`; break;
      case T.SET: sql = `SET(${Array.from({ length: Math.min(64, 8 * meta.length!) }, (_, j) => `'${j + 1}'`).join(',')})`; break;
      case T.BLOB: sql = ['TINYBLOB', 'BLOB', 'MEDIUMBLOB', 'LONGBLOB'][meta.length! - 1]!; break;
      case T.JSON: sql = 'JSON'; break;
      case T.DATE: sql = 'DATE'; break;
      case T.YEAR: sql = 'YEAR'; break;
      case T.DATETIME2: sql = `DATETIME(${meta.fsp})`; break;
      case T.TIME2: sql = `TIME(${meta.fsp})`; break;
      case T.TIMESTAMP2: sql = `TIMESTAMP(${meta.fsp}) NULL`; break;
      case T.BIT: sql = 'BIT(64)'; break;
      case T.VECTOR: sql = `VARBINARY(${4 * (map.optional.vectorDimensions?.[0] ?? 2048)})`; break;
      default: throw new Error(`no column type for binlog type ${real} of ${map.database}.${map.table}`);
    }
    return `\`${names?.[i] ?? `c${i + 1}`}\` ${sql}${map.nullable[i] ? '' : ' NOT NULL'}`;
  });
  const key = map.optional.primaryKey?.filter((i) => i < count).map((i) => `\`${names?.[i] ?? `c${i + 1}`}\``);
  return cols.join(', ') + (key?.length ? `, PRIMARY KEY (${key.join(', ')})` : '');
}

/** A row as SQL literals, for rows that were on the source before the file. */
function valuesSql(row: RowImage, map: TableMapEvent): string {
  return row.map((v, i) => {
    if (v === null || v === undefined) return 'NULL';
    if (Buffer.isBuffer(v)) return map.columnTypes[i] === T.BIT ? `${BigInt(`0x${v.toString('hex') || '0'}`)}` : `X'${v.toString('hex')}'`;
    if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
    return String(v);
  }).join(', ');
}

/** What the target should return for a decoded value, under the projection `project` reads the column with. */
function expected(v: ColumnValue | undefined, type: number, unsigned: boolean): string | null {
  if (v === null || v === undefined) return null;
  const bits: Partial<Record<number, number>> = { [T.TINY]: 8, [T.SHORT]: 16, [T.INT24]: 24, [T.LONG]: 32, [T.LONGLONG]: 64 };
  if (bits[type] !== undefined) {
    const n = BigInt(v as number | bigint);
    return String(unsigned && n < 0n ? n + (1n << BigInt(bits[type]!)) : n);
  }
  if (type === T.FLOAT) return String(Math.fround(v as number));
  if (type === T.JSON) return JSON.stringify(JSON.parse(v as string));
  if (type === T.BIT) return String(BigInt(`0x${(v as Buffer).toString('hex') || '0'}`));
  if (Buffer.isBuffer(v)) return v.toString('hex').toUpperCase();
  return String(v);
}

/** How the target's value of a column is read for the comparison. */
function project(column: string, type: number, realType: number): string {
  const c = `\`${column}\``;
  if (realType === T.ENUM || realType === T.SET || type === T.BIT) return `CAST(${c} + 0 AS CHAR)`;
  if (type === T.FLOAT || type === T.DOUBLE) return `${c} + 0e0`;
  if (([T.VARCHAR, T.STRING, T.BLOB, T.GEOMETRY, T.VECTOR] as number[]).includes(type)) return `HEX(${c})`;
  return `CAST(${c} AS CHAR)`;
}

let target: TestServer;
let engine: ReplicationEngine;
let fixtures: Fixture[];
/** JSON columns whose values were read back with JSON_EXTRACT. */
const jsonChecked: string[] = [];
/** The target's collations by id. */
let collations: Map<number, string>;
const sources: FakeSource[] = [];

before(async () => {
  fixtures = (await mysqlFixtures()).map(({ name, data }) => analyse(name, data));
  target = await startMariaDb({ serverId: 301, noBinlog: true });
  engine = await openEngine(target);
  const rows: { id: string; name: string }[] = await target.sql('SELECT ID AS id, FULL_COLLATION_NAME AS name FROM ' +
    'information_schema.COLLATION_CHARACTER_SET_APPLICABILITY');
  collations = new Map(rows.map((r) => [Number(r.id), r.name]));
});

after(async () => {
  await engine?.close();
  await Promise.all(sources.map((s) => s.close()));
  await target?.destroy();
});

/** Runs fixtures side by side: those that use the same database names go in later rounds. */
function rounds(all: Fixture[]): Fixture[][] {
  const out: Fixture[][] = [];
  for (const f of all) {
    const round = out.find((r) => r.every((g) => ![...g.databases].some((db) => f.databases.has(db.toLowerCase()) || f.databases.has(db))));
    if (round) round.push(f);
    else out.push([f]);
  }
  return out;
}

test('every event of every MySQL fixture reaches a MariaDB target through the pipeline, and the target holds the rows the file leaves', async () => {
  const partial = fixtures.filter((f) => f.partial.length > 0);
  assert.deepEqual(partial.map((f) => f.name), [], 'files with PARTIAL_UPDATE_ROWS (applied on branch i9-rows-json)');
  let channel = 0;
  for (const round of rounds(fixtures)) {
    const running = await Promise.all(round.map(async (f) => {
      const name = `f${++channel}`;
      const statements = [...f.missingDatabases].map(([db, id]) =>
        `CREATE DATABASE IF NOT EXISTS \`${db}\` COLLATE ${collations.get(id) ?? targetCollation(mysqlCollationName(id)!, { collations: new Set(collations.values()) })}`);
      for (const t of f.tables.values()) {
        if (!t.created) continue;
        statements.push(`CREATE TABLE \`${t.map.database}\`.\`${t.map.table}\` (${columnsSql(t.map, COLUMNS_BEFORE_FILE[f.name]?.[key(t.map.database, t.map.table)])})`);
        if (t.seeds.length > 0) {
          statements.push("SET time_zone = '+00:00'",
            `INSERT INTO \`${t.map.database}\`.\`${t.map.table}\` VALUES ${t.seeds.map((r) => `(${valuesSql(r, t.map)})`).join(', ')}`);
        }
      }
      statements.push(...STATEMENT_FILES[f.name]?.setup ?? []);
      if (statements.length > 0) await target.sql(...statements);
      const source = await startFakeSource({ serverId: f.serverId, version: f.version, checksum: f.checksum, uuid: randomUUID(),
        binlogFile: f.binlogFile, events: binlogFileEvents(f.data).map((e) => e.raw) });
      sources.push(source);
      await engine.changeReplicationSource(name, { sourceHost: source.host, sourcePort: source.port, sourceUser: 'repl',
        sourcePassword: '', sourceLogFile: f.binlogFile, sourceLogPos: 4, sourceConnectRetry: 1 });
      await engine.startReplica(name);
      return { f, name };
    }));
    for (const { f, name } of running) {
      await until(`${f.name} read and applied`, async () => {
        const s = await engine.replicaStatus(name);
        assert.equal(s.lastSqlErrno, 0, `${f.name}: ${s.lastSqlError}`);
        assert.equal(s.lastIoErrno, 0, `${f.name}: ${s.lastIoError}`);
        return s.sourceLogFile === f.end.file && s.readSourceLogPos === f.end.pos &&
          (s.relaySourceLogFile !== f.applied.file ? s.relaySourceLogFile > f.applied.file : s.execSourceLogPos >= f.applied.pos);
      });
      await compareTables(f);
      const statementFile = STATEMENT_FILES[f.name];
      if (statementFile) {
        const [columns] = await target.sql(`SELECT GROUP_CONCAT('CAST(\`', COLUMN_NAME, '\` AS CHAR)' ORDER BY ORDINAL_POSITION) AS c ` +
          `FROM information_schema.COLUMNS WHERE CONCAT('\`', TABLE_SCHEMA, '\`.', TABLE_NAME) = '${statementFile.table}'`);
        const rows: Record<string, string>[] = await target.sql(`SELECT ${columns.c} FROM ${statementFile.table}`);
        assert.deepEqual(rows.map((r) => Object.values(r)), statementFile.rows, f.name);
      }
      await engine.stopReplica(name);
    }
    // The next round may create the same databases afresh.
    const databases = new Set(round.flatMap((f) => [...f.databases]));
    await target.sql(...[...databases].map((db) => `DROP DATABASE IF EXISTS \`${db}\``));
  }
  assert.equal(fixtures.length, 17);
  // A CREATE TABLE with JSON from MySQL (mysqlbinlog2parquet), and two made here from a Table_map.
  assert.deepEqual(jsonChecked.sort(), ['a.test_table_3.c10', 'binlogtest.metrics.payload', 'test.mysqlcdc.c13']);
});

async function compareTables(f: Fixture): Promise<void> {
  for (const t of f.tables.values()) {
    const where = `${f.name}: ${t.map.database}.${t.map.table}`;
    const [exists] = await target.sql(`SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${t.map.database}' AND TABLE_NAME = '${t.map.table}'`);
    if (t.dropped) {
      assert.equal(Number(exists.n), 0, `${where} was dropped`);
      continue;
    }
    const columns: { name: string; type: string }[] = await target.sql(`SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM ` +
      `information_schema.COLUMNS WHERE TABLE_SCHEMA = '${t.map.database}' AND TABLE_NAME = '${t.map.table}' ORDER BY ORDINAL_POSITION`);
    const map = t.map;
    assert.equal(columns.length, map.columnTypes.length, `${where}: columns`);
    const select = columns.map((c, i) => `${project(c.name, map.columnTypes[i]!, map.columnMeta[i]!.realType ?? map.columnTypes[i]!)} AS v${i}`);
    const conn = await target.connect({ dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
    let rows: Record<string, unknown>[];
    try {
      await conn.query("SET time_zone = '+00:00'");
      [rows] = await conn.query(`SELECT ${select.join(', ')} FROM \`${map.database}\`.\`${map.table}\``) as [Record<string, unknown>[], unknown];
    } finally {
      await conn.end();
    }
    const actual = rows.map((r) => columns.map((c, i) => {
      const v = r[`v${i}`];
      if (v === null) return null;
      if (map.columnTypes[i] === T.JSON) return JSON.stringify(JSON.parse(String(v)));
      if (map.columnTypes[i] === T.FLOAT) return String(Math.fround(Number(v)));
      if (map.columnTypes[i] === T.DOUBLE) return String(Number(v));
      return String(v);
    })).map((r) => JSON.stringify(r)).sort();
    const wanted = t.rows.map((row) => row.map((v, i) => expected(v, map.columnTypes[i]!, /unsigned/.test(columns[i]!.type))))
      .map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(actual, wanted, where);
    // MySQL's JSON columns are MariaDB JSON columns (a json_valid CHECK), holding text its JSON functions read.
    for (const [i, type] of map.columnTypes.entries()) {
      if (type !== T.JSON) continue;
      const column = `\`${columns[i]!.name}\``;
      const [check] = await target.sql(`SELECT COUNT(*) AS n FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ` +
        `'${map.database}' AND TABLE_NAME = '${map.table}' AND CHECK_CLAUSE LIKE 'json_valid(${column})'`);
      assert.equal(Number(check.n), 1, `${where}.${columns[i]!.name} is a JSON column`);
      jsonChecked.push(`${map.database}.${map.table}.${columns[i]!.name}`);
      const docs: { doc: string | null }[] = await target.sql(`SELECT CAST(JSON_EXTRACT(${column}, '$') AS CHAR) AS doc ` +
        `FROM \`${map.database}\`.\`${map.table}\` WHERE JSON_VALID(${column})`);
      assert.deepEqual(docs.map((d) => JSON.stringify(JSON.parse(d.doc!))).sort(),
        t.rows.filter((r) => r[i] !== null).map((r) => JSON.stringify(JSON.parse(r[i] as string))).sort(), `${where}.${columns[i]!.name}: JSON_EXTRACT`);
    }
  }
}
