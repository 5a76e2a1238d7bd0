// Row values MySQL 8.0 / 9.x write that MariaDB never does, through the whole pipeline (I/O stage, relay log, SQL
// stage) from the fake source into a MariaDB target (issue 9, item 4).
//
// Partial JSON updates: with binlog_row_value_options=PARTIAL_JSON, updates made by JSON_SET / JSON_REPLACE /
// JSON_REMOVE are logged as PARTIAL_UPDATE_ROWS events that carry the changes instead of the document. No fixture
// holds one, so the binlog is built with the project's encoder as MySQL lays it out, behind a real MySQL 8.0.31
// Format_description and anonymous GTID. Every update goes to two tables: as partial updates to one, as the full
// after images a source without PARTIAL_JSON writes to the other; both must end as the expected documents.
//
// VECTOR (MySQL 9): the bytes of each value (float32s) land in VARBINARY / BLOB columns, MariaDB 10.11 having no
// VECTOR type, and find the rows a delete names by those bytes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReplicationEngine } from '../src/index.js';
import { ColumnType as T } from '../src/binlog/column-types.js';
import { EventType } from '../src/binlog/events.js';
import {
  binlogEvent, binlogFileEvents, bitmap, jsonDiffVector, mysqlFixtures, placeInBinlog, queryEvent, rowImage, rowsEventV2,
  sharedImage, tableMapEvent, transactionPayloadEvent, u32, xidEvent, zstdStoredFrame, type JsonDiffSpec,
} from './helpers/binlog-events.js';
import { mysqlJson, type J } from './helpers/mysql-json.js';
import { startFakeSource, type FakeSource } from './helpers/fake-source.js';
import { openEngine, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const FIXTURE = 'mysql-cdc-rs__8.0-02_query_bigger__binlog.000733';
const REPLACE = 0;
const INSERT = 1;
const REMOVE = 2;

// Both tables: (id INT PRIMARY KEY, doc JSON, n INT, meta JSON).
const TYPES = [T.LONG, T.JSON, T.LONG, T.JSON];
const PARTIAL = { id: 101, table: 'docs_partial' };
const FULL = { id: 102, table: 'docs_full' };
const ALL = [0, 1, 2, 3];

interface Row { id: number; doc: J; n: number; meta: J | undefined }

const json = (v: J) => {
  const doc = mysqlJson(v);
  return Buffer.concat([u32(doc.length), doc]);
};
/** A column's value as a row image holds it; null for SQL NULL (meta undefined). */
const value = (row: Row, column: number) =>
  [u32(row.id), json(row.doc), u32(row.n), row.meta === undefined ? null : json(row.meta)][column]!;
const image = (row: Row, columns = ALL) => rowImage(columns.map((c) => value(row, c)));

/** The same event without its CRC, as events inside a TRANSACTION_PAYLOAD are stored. */
const withoutCrc = (e: Buffer) => binlogEvent(e[4]!, e.subarray(19, e.length - 4), false);

/** A Table_map and a rows event of one of the tables. */
const rows = (type: number, t: typeof PARTIAL, present: number[][], data: Buffer[]) => [
  tableMapEvent({ tableId: t.id, database: 'pj', table: t.table, types: TYPES, meta: Buffer.from([4, 4]) }),
  rowsEventV2(type, t.id, 4, present.map((p) => bitmap(4, p)), Buffer.concat(data)),
];

/** One statement's updates: partial images into docs_partial, full ones into docs_full. */
interface Update {
  before: Row;
  after: Row;
  /** Diffs by column (1: doc, 3: meta); a column without them goes as its full value. */
  diffs: Partial<Record<1 | 3, JsonDiffSpec[]>>;
}

/**
 * BEGIN and the rows events of updates sharing one image shape in docs_partial (FULL: every column in both
 * images; MINIMAL: the key before, the changed columns after); docs_full gets FULL images.
 */
function transactionEvents(updates: Update[], beforeColumns: number[], afterColumns: number[]): Buffer[] {
  const partialRows = updates.flatMap((u) => [
    image(u.before, beforeColumns),
    sharedImage(2, ([1, 3] as const).flatMap((c, k) => (u.diffs[c] ? [k] : []))),
    rowImage(afterColumns.map((c) => {
      const diffs = c === 1 || c === 3 ? u.diffs[c] : undefined;
      return diffs ? jsonDiffVector(diffs) : value(u.after, c);
    })),
  ]);
  return [
    queryEvent('BEGIN'),
    ...rows(EventType.PARTIAL_UPDATE_ROWS, PARTIAL, [beforeColumns, afterColumns], partialRows),
    ...rows(EventType.UPDATE_ROWS, FULL, [ALL, ALL], updates.flatMap((u) => [image(u.before), image(u.after)])),
  ];
}

let target: TestServer;
let engine: ReplicationEngine;

before(async () => {
  target = await startMariaDb({ serverId: 202, noBinlog: true });
  engine = await openEngine(target);
});

after(async () => {
  await engine?.close();
  await target?.destroy();
});

/** Starts a new channel on the binlog `fake` serves, from `position`. */
async function startChannel(channel: string, fake: FakeSource, file: string, position: number): Promise<void> {
  await engine.changeReplicationSource(channel, {
    sourceHost: fake.host, sourcePort: fake.port, sourceUser: 'repl', sourcePassword: '',
    sourceLogFile: file, sourceLogPos: position, sourceConnectRetry: 1,
  });
  await engine.startReplica(channel);
}

/** Replicates the binlog `fake` serves from `position` on a new channel, until the SQL stage is at `end`. */
async function replicate(channel: string, fake: FakeSource, file: string, position: number, end: number): Promise<void> {
  await startChannel(channel, fake, file, position);
  await until(`the SQL stage of ${channel} at ${end}`, async () => {
    const s = await engine.replicaStatus(channel);
    assert.equal(s.lastSqlErrno, 0, s.lastSqlError);
    return s.execSourceLogPos === end && s;
  });
  await engine.stopReplica(channel);
}

describe('MySQL partial JSON updates (PARTIAL_UPDATE_ROWS) applied to a MariaDB target', () => {
  let fake: FakeSource;
  let fileLength: number;
  let format: Buffer;
  let gtid: Buffer;
  const key = "we'ird \\key";

  const initial: Row[] = [
    { id: 1, doc: { a: 1, b: [1, 2, 3], gone: true, s: 'x' }, n: 1, meta: { v: 1 } },
    { id: 2, doc: [10, 20, { k: 'v' }], n: 2, meta: undefined },
    { id: 3, doc: { [key]: { n: 1 } }, n: 3, meta: { t: [] } },
  ];
  const r1a: Row = { id: 1, doc: { a: 'one', b: [1, 1.5, 2, 3], s: 'x', c: { d: [true, null] } }, n: 10, meta: { v: 2 } };
  const r2a: Row = { id: 2, doc: [20, { k: 'w' }, 99], n: 2, meta: undefined };
  const r3b: Row = { id: 3, doc: { [key]: { n: 2, é: 'ü' } }, n: 3, meta: { t: [] } };
  const r1b: Row = { ...r1a, doc: { a: 'one', b: [1, 1.5, 2, 30], s: 'x', c: { d: [true, null] } }, meta: { v: 2, w: 'x' } };
  const r2b: Row = { id: 2, doc: ['first', 20, { k: 'w' }, 99], n: 2, meta: { set: 'now' } };
  const expected = [r1b, r2b, r3b];

  before(async () => {
    const fixture = (await mysqlFixtures()).find((f) => f.name === FIXTURE);
    assert.ok(fixture, `fixture ${FIXTURE}`);
    const fixtureEvents = binlogFileEvents(fixture.data).map((e) => e.raw);
    format = fixtureEvents[0]!;
    gtid = fixtureEvents.find((e) => e[4] === EventType.ANONYMOUS_GTID)!;

    // binlog_row_image=FULL: every column in both images, doc changed in place, meta and n as values.
    const full: Update[] = [
      { before: initial[0]!, after: r1a, diffs: { 1: [
        { operation: REPLACE, path: '$.a', value: mysqlJson('one') },
        { operation: INSERT, path: '$.c', value: mysqlJson({ d: [true, null] }) },
        { operation: INSERT, path: '$.b[1]', value: mysqlJson(1.5) },
        { operation: REMOVE, path: '$.gone' },
      ] } },
      { before: initial[1]!, after: r2a, diffs: { 1: [
        { operation: REPLACE, path: '$[2].k', value: mysqlJson('w') },
        { operation: REMOVE, path: '$[0]' },
        { operation: INSERT, path: '$[5]', value: mysqlJson(99) },
      ] } },
    ];
    // binlog_row_image=MINIMAL: the key before, the changed JSON columns after, both in place.
    const minimal: Update[] = [
      { before: initial[2]!, after: r3b, diffs: { 1: [
        { operation: REPLACE, path: `$.${JSON.stringify(key)}.n`, value: mysqlJson(2) },
        { operation: INSERT, path: `$.${JSON.stringify(key)}."é"`, value: mysqlJson('ü') },
      ] } },
      { before: r1a, after: r1b, diffs: {
        1: [{ operation: REPLACE, path: '$.b[last]', value: mysqlJson(30) }],
        3: [{ operation: INSERT, path: '$.w', value: mysqlJson('x') }],
      } },
    ];
    // In a zstd-compressed TRANSACTION_PAYLOAD: an insert at the head of an array, meta set from NULL.
    const compressed: Update[] = [
      { before: r2a, after: r2b, diffs: { 1: [
        { operation: INSERT, path: '$[0]', value: mysqlJson('first') },
      ] } },
    ];
    const inner = Buffer.concat([...transactionEvents(compressed, ALL, ALL), xidEvent(5n)].map(withoutCrc));

    // The file's own Format_description stays as it is: its CRC leaves out the in-use flag the server set.
    const events = [format, ...placeInBinlog([
      format,
      gtid, queryEvent('BEGIN'),
      ...rows(EventType.WRITE_ROWS, PARTIAL, [ALL], initial.map((r) => image(r))),
      ...rows(EventType.WRITE_ROWS, FULL, [ALL], initial.map((r) => image(r))),
      xidEvent(1n),
      gtid, ...transactionEvents(full, ALL, ALL), xidEvent(2n),
      gtid, ...transactionEvents(minimal.slice(0, 1), [0], [1]), xidEvent(3n),
      gtid, ...transactionEvents(minimal.slice(1), [0], [1, 3]), xidEvent(4n),
      gtid, transactionPayloadEvent(zstdStoredFrame(inner), inner.length),
    ]).slice(1)];
    fileLength = 4 + events.reduce((n, e) => n + e.length, 0);
    fake = await startFakeSource({ serverId: 1, version: '8.0.31', checksum: 'CRC32', events });
    await target.sql('CREATE DATABASE pj CHARACTER SET utf8mb4',
      ...[PARTIAL, FULL].map((t) => `CREATE TABLE pj.${t.table} (id INT PRIMARY KEY, doc JSON, n INT, meta JSON)`));
  });

  after(async () => {
    await fake?.close();
  });

  // mysql2 parses what MariaDB marks as JSON; the documents are compared as values, not as text.
  const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) as J : v as J);
  const read = async (table: string) => (await target.sql(`SELECT id, doc, n, meta FROM pj.${table} ORDER BY id`) as
    { id: number; doc: unknown; n: number; meta: unknown }[])
    .map((r) => ({ id: r.id, doc: parse(r.doc), n: r.n, meta: r.meta === null ? undefined : parse(r.meta) }));

  test('the documents changed in place equal the full updates, row images FULL and MINIMAL, compressed or not', async () => {
    await replicate('partial_json', fake, 'mysql-bin.000001', 4, fileLength);
    assert.deepEqual(await read(FULL.table), expected);
    assert.deepEqual(await read(PARTIAL.table), expected);
  });

  test('a diff whose path names no single value (a wildcard) stops the channel with 1594, the row untouched', async () => {
    const events = [format, ...placeInBinlog([
      format,
      gtid, ...transactionEvents([{ before: r1b, after: r1b, diffs: { 1: [{ operation: REMOVE, path: '$.*' }] } }], [0], [1]),
      xidEvent(6n),
    ]).slice(1)];
    const hostile = await startFakeSource({ serverId: 2, version: '8.0.31', checksum: 'CRC32', events });
    try {
      await startChannel('hostile', hostile, 'mysql-bin.000001', 4);
      const status = await until('the SQL stage stopped', async () => {
        const s = await engine.replicaStatus('hostile');
        return s.sqlRunning === 'No' && s;
      });
      assert.equal(status.lastSqlErrno, 1594);
      assert.match(status.lastSqlError, /PARTIAL_UPDATE_ROWS event: cannot decode column 2 .*corrupt JSON diff: path "\$\.\*"/);
      assert.deepEqual(await read(PARTIAL.table), expected);
    } finally {
      await engine.stopReplica('hostile');
      await hostile.close();
    }
  });
});

describe('MySQL 9 VECTOR values applied as their bytes to a target without VECTOR', () => {
  const VECTOR_FIXTURE = 'rust_mysql_common__vector.binlog';
  // The second run of the file: its CREATE TABLE statements (VECTOR columns, which MariaDB 10.11 cannot create)
  // end at 2303, then come writes to dtb.foo and dtb.bar, and a transaction that deletes a bar row and writes one.
  const FROM = 2303;
  let fake: FakeSource;
  let fileLength: number;

  before(async () => {
    const fixture = (await mysqlFixtures()).find((f) => f.name === VECTOR_FIXTURE);
    assert.ok(fixture, `fixture ${VECTOR_FIXTURE}`);
    fileLength = fixture.data.length;
    fake = await startFakeSource({
      serverId: 1, version: '9.0.1', checksum: 'CRC32', binlogFile: 'binlog.000001',
      events: binlogFileEvents(fixture.data).map((e) => e.raw),
    });
    // bar has no key: the delete finds its row by every column, the vectors' bytes among them.
    await target.sql('CREATE DATABASE dtb CHARACTER SET utf8mb4',
      'CREATE TABLE dtb.foo (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, vector_column VARBINARY(12) NOT NULL)',
      'CREATE TABLE dtb.bar (id BIGINT UNSIGNED NOT NULL, vector_column BLOB NOT NULL, foo TEXT, ' +
        'vector_column2 VARBINARY(16) NOT NULL)');
  });

  after(async () => {
    await fake?.close();
  });

  test('the float32 bytes of each vector reach the target unchanged', async () => {
    await replicate('vector', fake, 'binlog.000001', FROM, fileLength);
    assert.deepEqual(await target.sql('SELECT id, HEX(vector_column) AS v FROM dtb.foo ORDER BY id'), [
      { id: 1, v: 'CDCC8C3FCDCC0C4033335340' }, // [1.1, 2.2, 3.3]
      { id: 2, v: '0000803F000080BF00000000' }, // [1, -1, 0]
    ]);
    assert.deepEqual(await target.sql('SELECT id, HEX(vector_column) AS v, foo, HEX(vector_column2) AS v2 FROM dtb.bar ORDER BY id'), [
      { id: 1, v: 'CDCC8C3FCDCC0C40', foo: null, v2: 'CDCC8C3FCDCC0C4033335340CDCC8C40' },
      { id: 3, v: 'D7A30040D7A300C0', foo: null, v2: '66662842CDCC2C42333331429A993542' },
    ]);
  });
});
