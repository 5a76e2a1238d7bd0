// Every event of the binlog files real MySQL servers wrote (../shared/fixtures/mysql, SOURCES.md there) decodes,
// and the MySQL 8.3+ / 9.x events among them decode to what the servers wrote: tagged GTIDs and Previous_GTIDs,
// VECTOR columns with FULL row metadata, and Aurora's ignorable padding event; and HEARTBEAT_LOG_EVENT_V2, which
// no file holds (the servers send it only on the replication stream).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BinlogDecoder, BinlogFormatError } from '../src/binlog/decoder.js';
import { ColumnType } from '../src/binlog/column-types.js';
import { EVENT_HEADER_LENGTH, EventType, type DecodedEvent, type TableMapEvent } from '../src/binlog/events.js';
import { binlogEvent, binlogFileEvents, mysqlFixtures, packed } from './helpers/binlog-events.js';

/** Header flag of events a replica may skip when it does not know their type (the SQL stage skips them). */
const LOG_EVENT_IGNORABLE_F = 0x80;

interface Decoded { pos: number; raw: Buffer; decoded: DecodedEvent }

const files = new Map<string, Decoded[]>();
/** TRANSACTION_PAYLOAD events this Node.js could not decompress (no zstd), by file and position. */
const undecompressed: string[] = [];
const failures: string[] = [];

before(async () => {
  for (const { name, data } of await mysqlFixtures()) {
    const decoder = new BinlogDecoder();
    const events: Decoded[] = [];
    for (const { pos, raw } of binlogFileEvents(data)) {
      let decoded: DecodedEvent;
      try {
        decoded = decoder.decode(raw);
      } catch (err) {
        if (raw[4] === EventType.TRANSACTION_PAYLOAD && err instanceof BinlogFormatError
          && /binlog_transaction_compression/.test(err.message)) {
          undecompressed.push(`${name}:${pos}`);
        } else {
          failures.push(`${name}:${pos}: ${(err as Error).message}`);
        }
        continue;
      }
      events.push({ pos, raw, decoded });
      if (decoded.event.type === 'transaction_payload') {
        for (const inner of decoded.event.events) {
          try {
            decoder.decode(inner, { checksum: false });
          } catch (err) {
            failures.push(`${name}:${pos} (inside the payload): ${(err as Error).message}`);
          }
        }
      }
    }
    files.set(name, events);
  }
});

function fixture(name: string): Decoded[] {
  const events = files.get(name);
  assert.ok(events, `fixture ${name} is missing`);
  return events;
}

test('every event of every MySQL fixture decodes (compressed payloads where this Node.js has zstd)', () => {
  assert.ok(files.size >= 17, `${files.size} fixtures`);
  assert.deepEqual(failures, []);
  // Only apecloud__mysql-bin.000057 compresses its transactions; without zstd exactly its two payloads stay shut.
  assert.ok(undecompressed.length === 0 || undecompressed.join() === 'apecloud__mysql-bin.000057:457,apecloud__mysql-bin.000057:730',
    undecompressed.join());
});

test('MySQL 9.6 tagged GTID (GTID_TAGGED_LOG_EVENT) and tagged Previous_GTIDs', () => {
  const events = fixture('rust_mysql_common__binlog_transaction_with_GTID_TAG.000001');
  const uuid = '55778904-0299-11f1-b1b8-4ef0c4956feb';
  const previous = events.find((e) => e.decoded.event.type === 'previous_gtids')!.decoded.event;
  assert.deepEqual(previous, {
    type: 'previous_gtids',
    sids: [{ uuid, intervals: [[1n, 14n]] }, { uuid, tag: 'mytag', intervals: [[1n, 3n]] }],
  });
  const at = events.findIndex((e) => e.raw[4] === EventType.GTID_TAGGED);
  const gtid = events[at]!.decoded.event;
  assert.equal(gtid.type, 'gtid');
  assert.ok(gtid.type === 'gtid' && gtid.flavor === 'mysql');
  assert.equal(gtid.uuid, uuid);
  assert.equal(gtid.tag, 'mytag');
  assert.equal(gtid.gno, 3n);
  assert.equal(gtid.anonymous, false);
  assert.equal(gtid.lastCommitted, 0n);
  assert.equal(gtid.sequenceNumber, 1n);
  assert.equal(gtid.immediateServerVersion, 90600);
  assert.equal(gtid.originalServerVersion, 90600);
  assert.equal(gtid.originalCommitTimestamp, gtid.immediateCommitTimestamp);
  // The commit time in microseconds and the header's in seconds are the same moment.
  assert.equal(gtid.immediateCommitTimestamp! / 1_000_000n, BigInt(events[at]!.decoded.header.timestamp));
  // transaction_length counts the GTID event and all of its transaction's, up to the XID.
  const end = events.findIndex((e, i) => i > at && e.decoded.event.type === 'xid');
  const length = events.slice(at, end + 1).reduce((n, e) => n + e.raw.length, 0);
  assert.equal(gtid.transactionLength, BigInt(length));
});

test('MySQL 9 VECTOR columns decode as their bytes, 4 per dimension, with FULL row metadata', () => {
  const events = fixture('rust_mysql_common__vector.binlog');
  const maps = events.map((e) => e.decoded.event).filter((e): e is TableMapEvent => e.type === 'table_map');
  const foo = maps.find((m) => m.table === 'foo')!;
  const bar = maps.find((m) => m.table === 'bar')!;
  assert.deepEqual(foo.columnTypes, [ColumnType.LONGLONG, ColumnType.VECTOR]);
  assert.deepEqual(foo.optional.vectorDimensions, [3]);
  assert.deepEqual(bar.optional.vectorDimensions, [2, 4]);
  assert.deepEqual(bar.optional.columnNames, ['id', 'vector_column', 'foo', 'vector_column2']);
  // VECTOR columns count among the charset field's columns: the TEXT column's utf8mb4 is the exception.
  assert.deepEqual(bar.optional.charsets, [0, 63, 255, 63]);

  let vectors = 0;
  for (const { decoded: { event } } of events) {
    if (event.type !== 'rows') continue;
    const dimensions = event.tableMap.optional.vectorDimensions!;
    const vectorColumns = event.tableMap.columnTypes.flatMap((t, i) => (t === ColumnType.VECTOR ? [i] : []));
    for (const row of event.rows) {
      for (const image of [row.before, row.after]) {
        if (!image) continue;
        vectorColumns.forEach((c, k) => {
          const value = image[c];
          assert.ok(Buffer.isBuffer(value));
          assert.equal(value.length, 4 * dimensions[k]!);
          vectors++;
        });
      }
    }
  }
  assert.equal(vectors, 16);
  const first = events.find((e) => e.decoded.event.type === 'rows')!.decoded.event;
  assert.ok(first.type === 'rows');
  const v = first.rows[0]!.after![1] as Buffer;
  assert.deepEqual([0, 4, 8].map((o) => Math.round(v.readFloatLE(o) * 10) / 10), [1.1, 2.2, 3.3]);
});

test("Aurora's padding event (type 100, ignorable) decodes to one the SQL stage skips, and what follows decodes", () => {
  const events = fixture('mysql-binlog-connector-java__mysql-bin.aurora-padding');
  const padding = events.find((e) => e.raw[4] === 100)!;
  assert.deepEqual(padding.decoded.event, { type: 'unknown', typeCode: 100 });
  assert.ok(padding.decoded.header.flags & LOG_EVENT_IGNORABLE_F);
  assert.equal(events.at(-1)!.decoded.event.type, 'query');
  assert.equal(events.at(-1)!.pos, padding.pos + padding.raw.length);
});

test('tagged GTID and Previous_GTIDs events that lie are refused with BinlogFormatError', () => {
  const events = fixture('rust_mysql_common__binlog_transaction_with_GTID_TAG.000001');
  const format = events[0]!.raw;
  const body = (type: number) => {
    const raw = events.find((e) => e.raw[4] === type)!.raw;
    return Buffer.from(raw.subarray(EVENT_HEADER_LENGTH, raw.length - 4));
  };
  const refused = (type: number, b: Buffer, message: RegExp) => {
    const decoder = new BinlogDecoder();
    decoder.decode(format);
    assert.throws(() => decoder.decode(binlogEvent(type, b)), (err: Error) =>
      err instanceof BinlogFormatError && message.test(err.message), message.source);
  };
  const gtid = body(EventType.GTID_TAGGED);
  // Serialization version, message size (60, one byte: 60 << 1), last non-ignorable field id, then fields.
  assert.deepEqual([...gtid.subarray(0, 3)], [2, 60 << 1, 0]);

  const longer = Buffer.from(gtid);
  longer[1] = 61 << 1;
  refused(EventType.GTID_TAGGED, longer, /message size 61/);
  const needsNewer = Buffer.from(gtid);
  needsNewer[2] = 12 << 1;
  refused(EventType.GTID_TAGGED, needsNewer, /needs field 12/);
  const tagAt = gtid.indexOf('mytag');
  const badTag = Buffer.from(gtid);
  badTag[tagAt] = 0x27; // a quote: no tag can hold one
  refused(EventType.GTID_TAGGED, badTag, /not a valid tag/);
  const longTag = Buffer.from(gtid);
  longTag[tagAt - 1] = 33 << 1;
  refused(EventType.GTID_TAGGED, longTag, /tag length 33/);
  refused(EventType.GTID_TAGGED, gtid.subarray(0, 20), /message size 60 \(at most 20\)/);
  const cut = Buffer.from(gtid.subarray(0, 20));
  cut[1] = 20 << 1;
  refused(EventType.GTID_TAGGED, cut, /event too short/);

  const previous = body(EventType.PREVIOUS_GTIDS);
  const unknownFormat = Buffer.from(previous);
  unknownFormat[7] = 2;
  refused(EventType.PREVIOUS_GTIDS, unknownFormat, /unknown GTID set format 2/);
  const moreSids = Buffer.from(previous);
  moreSids[1] = 3;
  refused(EventType.PREVIOUS_GTIDS, moreSids, /event too short/);
});

test('HEARTBEAT_LOG_EVENT_V2: log file and position fields, unknown fields skipped', () => {
  const decoder = new BinlogDecoder();
  decoder.decode(fixture('rust_mysql_common__vector.binlog')[0]!.raw);
  const name = Buffer.from('binlog.000041');
  const position = packed(123_456_789);
  const body = Buffer.concat([packed(1), packed(name.length), name, packed(7), packed(2), Buffer.from([9, 9]),
    packed(2), packed(position.length), position, packed(0)]);
  assert.deepEqual(decoder.decode(binlogEvent(EventType.HEARTBEAT_V2, body)).event,
    { type: 'heartbeat', logFile: 'binlog.000041', position: 123_456_789n });
  assert.throws(() => decoder.decode(binlogEvent(EventType.HEARTBEAT_V2, body.subarray(0, 10))), BinlogFormatError);
});
