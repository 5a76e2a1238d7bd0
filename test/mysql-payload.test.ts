// MySQL 8.0.20+ with binlog_transaction_compression=ON writes each transaction's events as one zstd-compressed
// TRANSACTION_PAYLOAD event (issue 9, item 4). On Node 20, which has no zstd in node:zlib, the channel
// decompresses it and applies the transaction it holds, positions being the payload event's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import type { ReplicationEngine } from '../src/index.js';
import { BinlogDecoder } from '../src/binlog/decoder.js';
import { BinlogFormatError } from '../src/binlog/reader.js';
import { EventType } from '../src/binlog/events.js';
import {
  binlogEvent, binlogFileEvents, mysqlFixtures, transactionPayloadEvent as payloadEvent, placeInBinlog, u64,
} from './helpers/binlog-events.js';
import { startFakeSource, type FakeSource } from './helpers/fake-source.js';
import { openEngine, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const FIXTURE = 'apecloud__mysql-bin.000057';

test('a zstd payload that inflates past the size it declares is refused', () => {
  // A zstd frame (2 MiB window, no content size) of one RLE block: 64 KiB of zeros in 4 bytes. It claims 100.
  const block = Buffer.alloc(3);
  block.writeUIntLE(((64 << 10) << 3) | (1 << 1) | 1, 0, 3);
  const compressed = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]), block, Buffer.from([0])]);
  const decoder = new BinlogDecoder();
  assert.throws(() => decoder.decode(payloadEvent(compressed, 100)),
    (err: Error) => (err instanceof BinlogFormatError || err.cause instanceof BinlogFormatError) &&
      /transaction payload does not decompress to the 100 bytes it declares/.test(err.message));
  // The same bytes declaring their true size decode, to events (here: a cut one, since they are zeros).
  assert.throws(() => decoder.decode(payloadEvent(compressed, 64 << 10)), /cut event at offset 0/);
  // Before anything is allocated for it: a frame asking for a 2 TiB window, and one declaring another size.
  const hugeWindow = Buffer.from(compressed);
  hugeWindow[5] = 0xf8;
  const declares = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x58, 0x00, 0x00, 0x01, 0x00]), block, Buffer.from([0])]);
  if (!('zstdDecompressSync' in zlib)) {
    assert.throws(() => decoder.decode(payloadEvent(hugeWindow, 100)), /the zstd frame asks for a 2199023255552-byte window/);
    assert.throws(() => decoder.decode(payloadEvent(declares, 100)), /the zstd frame declares 65536 bytes/);
    // Within the window and one block: the output itself is stopped at the declared size.
    assert.throws(() => decoder.decode(payloadEvent(compressed, 60_000)), /60000 bytes it declares: it inflates past them/);
  }
});

describe('MySQL 8.0 compressed transactions (TRANSACTION_PAYLOAD) applied', () => {
  let target: TestServer;
  let engine: ReplicationEngine;
  let fake: FakeSource;
  let fileLength: number;
  let fixtureEvents: Buffer[];
  const sourceOptions = (f: FakeSource, file: string) => ({
    sourceHost: f.host, sourcePort: f.port, sourceUser: 'repl', sourcePassword: '', sourceLogFile: file, sourceLogPos: 4,
    sourceConnectRetry: 1,
  });

  before(async () => {
    const fixture = (await mysqlFixtures()).find((f) => f.name === FIXTURE);
    assert.ok(fixture, `fixture ${FIXTURE}`);
    fileLength = fixture.data.length;
    fixtureEvents = binlogFileEvents(fixture.data).map((e) => e.raw);
    fake = await startFakeSource({
      serverId: 1, version: '8.0.31', checksum: 'CRC32', uuid: '76f3e7be-6720-11ed-9cad-0242ac110002',
      binlogFile: 'mysql-bin.000057', events: fixtureEvents,
    });
    target = await startMariaDb({ serverId: 201, noBinlog: true });
    // The file creates a.b; the database and a.test_table_3 (with the row the UPDATE finds) come from before
    // it, so they are made here with the column types its Table_map gives.
    await target.sql('CREATE DATABASE a', `CREATE TABLE a.test_table_3 (
      product_id INT NOT NULL PRIMARY KEY, product_item VARCHAR(255) CHARACTER SET utf8mb3 NOT NULL, d1 DATE, n1 INT,
      description_1 TEXT CHARACTER SET utf8mb3, t1 TIMESTAMP NULL, enum_field ENUM('x-small','small','medium','large'),
      set_field SET('a','b','c','d'), bin_field BINARY(3), json_field JSON,
      product_item_2 VARCHAR(255) CHARACTER SET utf8mb3 NOT NULL, d2 DATE NOT NULL, d3 DATE, n2 INT,
      description_3 TEXT CHARACTER SET utf8mb3, t2 TIMESTAMP NULL, d4 DATE, n3 INT, description_4 TEXT CHARACTER SET utf8mb3,
      t3 TIMESTAMP NULL)`,
    "SET time_zone = '+00:00'",
    `INSERT INTO a.test_table_3 VALUES (55555, 'product_item_value_2', '2022-11-20', 111, 'description_1',
      '2022-11-20 13:40:30', 'large', 'd', 'b3', '{"c": 1}', 'product_item_2_value', '2022-11-20', '2022-11-20', 2222,
      'description_3_value', '2022-11-20 13:40:30', '2022-11-20', 222, 'description_4_value', '2022-11-20 13:40:30')`);
    engine = await openEngine(target);
  });

  after(async () => {
    await engine?.close();
    await fake?.close();
    await target?.destroy();
  });

  test('UNTIL a position inside a payload stops the SQL stage after its transaction, at the payload\'s end; filters see its rows', async () => {
    await engine.changeReplicationSource('mysql', sourceOptions(fake, 'mysql-bin.000057'));
    // The first payload spans 457 to 651 of the file: it holds the insert into a.b, which the filter drops (as
    // it drops the CREATE TABLE before it: a row kept would stop the channel with 1146).
    await engine.changeReplicationFilter('mysql', { replicateIgnoreTable: ['a.b'] });
    await engine.startReplica('mysql', { until: { sourceLogFile: 'mysql-bin.000057', sourceLogPos: 500 } });
    const status = await until('the SQL stage stopped by UNTIL', async () => {
      const s = await engine.replicaStatus('mysql');
      return s.sqlRunning === 'No' && s;
    });
    assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
    assert.equal(status.execSourceLogPos, 651);
    assert.deepEqual(await target.sql("SHOW TABLES FROM a LIKE 'b'"), []);
    assert.deepEqual(await target.sql('SELECT product_id, product_item_2 FROM a.test_table_3'),
      [{ product_id: 55555, product_item_2: 'product_item_2_value' }]);
  });

  test('the transactions inside the payloads reach the target, and Exec_Master_Log_Pos stands after the last payload', async () => {
    await engine.changeReplicationFilter('mysql', { replicateIgnoreTable: [] });
    await engine.startReplica('mysql', { threads: ['SQL_THREAD'] });
    const status = await until('the SQL stage at the end of the file', async () => {
      const s = await engine.replicaStatus('mysql');
      assert.equal(s.lastSqlErrno, 0, s.lastSqlError);
      return s.execSourceLogPos === fileLength && s;
    });
    assert.equal(status.relaySourceLogFile, 'mysql-bin.000057');
    const rows = await target.sql(`SELECT product_id, product_item, enum_field, set_field,
      product_item_2, json_field, CAST(CONVERT_TZ(t1, @@session.time_zone, '+00:00') AS CHAR) AS t1, CAST(d2 AS CHAR) AS d2, n3 FROM a.test_table_3 ORDER BY product_id`);
    assert.deepEqual(rows.map((r: Record<string, unknown>) => ({ ...r, json_field: typeof r.json_field === 'string' ? JSON.parse(r.json_field) : r.json_field })), [
      { product_id: 6666, product_item: 'product_item_value_2', enum_field: 'large', set_field: 'd',
        product_item_2: 'product_item_2_value', json_field: { c: 1 }, t1: '2022-11-20 13:53:32', d2: '2022-11-20', n3: 222 },
      { product_id: 55555, product_item: 'product_item_value_2', enum_field: 'large', set_field: 'c',
        product_item_2: 'product_3_value', json_field: { c: 1 }, t1: '2022-11-20 13:40:30', d2: '2022-11-20', n3: 222 },
    ]);
  });

  test('a payload inside a payload stops the channel with 1594 (MySQL writes none)', async () => {
    // Events inside a payload carry no CRC.
    const inner = binlogEvent(EventType.XID, u64(1n), false);
    const nested = payloadEvent(inner, inner.length, 255, false);
    // The fixture's Format_description and a GTID, then the nested payload.
    const events = placeInBinlog([fixtureEvents[0]!, fixtureEvents[2]!, payloadEvent(nested, nested.length, 255)]);
    const source = await startFakeSource({ serverId: 2, version: '8.0.31', checksum: 'CRC32', events });
    try {
      await engine.changeReplicationSource('nested', sourceOptions(source, 'mysql-bin.000001'));
      await engine.startReplica('nested');
      const status = await until('the SQL stage stopped', async () => {
        const s = await engine.replicaStatus('nested');
        return s.sqlRunning === 'No' && s;
      });
      assert.equal(status.lastSqlErrno, 1594);
      assert.match(status.lastSqlError, /a transaction payload inside a transaction payload/);
    } finally {
      await engine.stopReplica('nested');
      await source.close();
    }
  });
});
