// Unit tests of the binlog decoder on hand-built bytes: formats no local server writes (MySQL binary JSON,
// TRANSACTION_PAYLOAD, MySQL GTIDs), value encodings at their edges, checksums, and the events we encode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  BinlogChecksumError, BinlogDecoder, BinlogFormatError, ColumnType, MissingTableMapError, crc32, decodeHeader,
  encodeFormatDescription, encodeRotate, jsonBinaryToText,
} from '../src/binlog/decoder.js';
import { decodeDecimal } from '../src/binlog/decimal.js';
import { decodeStatusVars } from '../src/binlog/query.js';
import { ByteReader } from '../src/binlog/reader.js';
import { withTableMap } from '../src/binlog/rows.js';
import { decodeDatetime2, decodeTime2, decodeTimestamp2 } from '../src/binlog/temporal.js';
import { BINLOG_MAGIC, EventType, LOG_EVENT_ARTIFICIAL_F } from '../src/binlog/events.js';
import {
  binlogEvent as event, compressedQueryEvent, compressionBomb, emptyBitmapRows, jsonBomb, mariadbCompressed, rowsEventV2,
  tableMapEvent, truncatedTableMap, u16, u32, u64, zeroColumnRows,
} from './helpers/binlog-events.js';
import { mysqlJson as doc, type J } from './helpers/mysql-json.js';

const run = promisify(execFile);


function decoderWithFormat(checksumAlg: 0 | 1 = 1): BinlogDecoder {
  const d = new BinlogDecoder();
  d.decode(encodeFormatDescription({ serverId: 1, timestamp: 0, serverVersion: '10.11.19-MariaDB-log', checksumAlg }));
  return d;
}


test('Format_description round trip, and the post-header table of a real MariaDB 10.11', () => {
  const fde = encodeFormatDescription({ serverId: 9, timestamp: 123, serverVersion: '10.11.19-MariaDB-log', checksumAlg: 1 });
  const d = new BinlogDecoder();
  const { header, event: e } = d.decode(fde);
  assert.equal(header.typeCode, EventType.FORMAT_DESCRIPTION);
  assert.equal(header.logPos, 0);
  assert.equal(header.eventLength, 252); // as mariadbd 10.11 writes it
  assert.ok(e.type === 'format_description');
  assert.equal(e.checksumAlg, 1);
  assert.equal(e.binlogVersion, 4);
  assert.equal(e.serverVersion, '10.11.19-MariaDB-log');
  assert.equal(e.postHeaderLengths.length, 171);
  assert.equal(e.postHeaderLengths[EventType.QUERY - 1], 13);
  assert.equal(e.postHeaderLengths[EventType.TABLE_MAP - 1], 8);
  assert.equal(e.postHeaderLengths[EventType.MARIA_GTID - 1], 19);
  assert.equal(d.format, e);
  // The checksum-alg byte and the CRC are there whatever the algorithm (as the servers write it).
  const off = encodeFormatDescription({ serverId: 9, timestamp: 123, serverVersion: '10.11.19-MariaDB-log', checksumAlg: 0 });
  assert.equal(off.length, 252);
  assert.equal(off[off.length - 5], 0);
  assert.equal(new BinlogDecoder().decode(off).event.type, 'format_description');
});

test('artificial Rotate round trip, with and without CRC', () => {
  for (const checksumAlg of [0, 1] as const) {
    const raw = encodeRotate({ serverId: 3, nextFile: 'mysql-bin.000042', position: 123456789n, checksumAlg });
    const { header, event: e } = decoderWithFormat(checksumAlg).decode(raw);
    assert.equal(header.flags & LOG_EVENT_ARTIFICIAL_F, LOG_EVENT_ARTIFICIAL_F);
    assert.equal(header.logPos, 0);
    assert.deepEqual(e, { type: 'rotate', position: 123456789n, nextFile: 'mysql-bin.000042' });
    // Before any Format_description the CRC is recognised by matching it.
    assert.deepEqual(new BinlogDecoder().decode(raw).event, e);
  }
});

test('mariadb-binlog reads a relay log file made of our Format_description and Rotate', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-binlog-'));
  try {
    const file = join(dir, 'relay-bin.000001');
    await writeFile(file, Buffer.concat([
      BINLOG_MAGIC,
      encodeFormatDescription({ serverId: 5, timestamp: 1_700_000_000, serverVersion: '10.11.19-MariaDB-log', checksumAlg: 1 }),
      encodeRotate({ serverId: 11, nextFile: 'mysql-bin.000007', position: 4n, checksumAlg: 1 }),
    ]));
    const { stdout } = await run('mariadb-binlog', ['--verify-binlog-checksum', file]);
    assert.match(stdout, /Start: binlog v 4, server v 10\.11\.19-MariaDB-log/);
    assert.match(stdout, /Rotate to mysql-bin\.000007 {2}pos: 4/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a flipped byte gives BinlogChecksumError with expected and actual', () => {
  const raw = encodeRotate({ serverId: 3, nextFile: 'mysql-bin.000002', position: 4n, checksumAlg: 1 });
  const bad = Buffer.from(raw);
  bad[25]! ^= 0x01;
  const d = decoderWithFormat(1);
  assert.throws(() => d.decode(bad), (err: unknown) => {
    assert.ok(err instanceof BinlogChecksumError);
    assert.equal(err.expected, raw.readUInt32LE(raw.length - 4));
    assert.equal(err.actual, crc32(bad.subarray(0, bad.length - 4)));
    return true;
  });
  const fde = encodeFormatDescription({ serverId: 1, timestamp: 0, serverVersion: '10.11.19-MariaDB-log', checksumAlg: 1 });
  fde[30]! ^= 0x40;
  assert.throws(() => new BinlogDecoder().decode(fde), BinlogChecksumError);
});

test('unknown events decode to unknown; rows without a Table_map throw a clear error', () => {
  const d = decoderWithFormat(1);
  assert.deepEqual(d.decode(event(99, Buffer.from('whatever'))).event, { type: 'unknown', typeCode: 99 });
  const rows = Buffer.concat([Buffer.from([42, 0, 0, 0, 0, 0]), u16(1), Buffer.from([1, 1, 0, 5])]);
  assert.throws(() => d.decode(event(EventType.WRITE_ROWS_V1, rows)), (err: unknown) =>
    err instanceof MissingTableMapError && /table id 42/.test(err.message));
});

test('Query status variables: every code, and an unknown code stops parsing without touching the statement', () => {
  const str = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
  const vars = Buffer.concat([
    Buffer.from([0]), u32(0x4000), Buffer.from([1]), u64(0x1234n), Buffer.from([6]), str('std'),
    Buffer.from([3]), u16(2), u16(1), Buffer.from([4]), u16(33), u16(8), u16(45), Buffer.from([5]), str('+01:00'),
    Buffer.from([7]), u16(1), Buffer.from([8]), u16(224), Buffer.from([9]), u64(3n), Buffer.from([10]), u32(99),
    Buffer.from([11]), str('root'), str('localhost'), Buffer.from([12, 2]), Buffer.from('db1\0db2\0'),
    Buffer.from([13]), Buffer.from([0x3f, 0x42, 0x0f]), Buffer.from([14]), u64(77n), Buffer.from([16, 1]),
    Buffer.from([17]), u64(555n), Buffer.from([18]), u16(255), Buffer.from([19, 1]), Buffer.from([20, 0]),
    Buffer.from([128]), Buffer.from([1, 0, 0]), Buffer.from([129]), u64(12n), Buffer.from([130, 4]), u64(8n),
    Buffer.from([131, 1]), u16(8), u16(47),
  ]);
  const v = decodeStatusVars(new ByteReader(vars));
  assert.deepEqual(v, {
    flags2: 0x4000, sqlMode: 0x1234n, catalog: 'std', autoIncrementIncrement: 2, autoIncrementOffset: 1,
    charset: { client: 33, connection: 8, server: 45 }, timeZone: '+01:00', lcTimeNamesNumber: 1,
    charsetDatabaseNumber: 224, tableMapForUpdate: 3n, masterDataWritten: 99, invoker: { user: 'root', host: 'localhost' },
    updatedDbNames: ['db1', 'db2'], microseconds: 999_999, commitTs: 77n, explicitDefaultsForTimestamp: true,
    ddlXid: 555n, defaultCollationForUtf8mb4: 255, sqlRequirePrimaryKey: 1, defaultTableEncryption: 0, hrnow: 1,
    xid: 12n, gtidFlagsExtra: 4, startAlterSeqNo: 8n, characterSetCollations: [[8, 47]],
  });
  assert.deepEqual(decodeStatusVars(new ByteReader(Buffer.from([0, 1, 0, 0, 0, 12, 254]))), { flags2: 1, updatedDbNamesOverflow: true });
  assert.deepEqual(decodeStatusVars(new ByteReader(Buffer.from([0, 1, 0, 0, 0, 200, 1, 2, 3]))), { flags2: 1, unknownStatusVar: 200 });
  assert.deepEqual(decodeStatusVars(new ByteReader(Buffer.from([0, 1, 0, 0, 0, 1, 2]))), { flags2: 1, truncatedStatusVars: true });

  // In a whole event: the unknown code does not shift the database or the statement.
  const status = Buffer.from([0, 1, 0, 0, 0, 250, 9, 9, 9]);
  const body = Buffer.concat([u32(5), u32(0), Buffer.from([2]), u16(0), u16(status.length), status, Buffer.from('db\0SELECT 1')]);
  const { event: q } = decoderWithFormat(1).decode(event(EventType.QUERY, body));
  assert.ok(q.type === 'query');
  assert.equal(q.database, 'db');
  assert.equal(q.sql.toString(), 'SELECT 1');
  assert.equal(q.threadId, 5);
});

test('DECIMAL: 65 digits, negatives, zero scale, leading zeros', () => {
  // 1234567890.12 as DECIMAL(12,2): intg 10 = 1 digit (1 byte) + 9 digits (4 bytes), frac 2 digits (1 byte).
  const pos = Buffer.from([0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x0c]);
  assert.equal(decodeDecimal(pos, 0, 12, 2), '1234567890.12');
  const neg = Buffer.from(pos.map((b) => b ^ 0xff));
  assert.equal(decodeDecimal(neg, 0, 12, 2), '-1234567890.12');
  assert.equal(decodeDecimal(Buffer.from([0x80, 0, 0, 0, 0x05]), 0, 10, 0), '5');
  assert.equal(decodeDecimal(Buffer.from([0x80, 0, 0x32]), 0, 5, 2), '0.50');
  assert.equal(decodeDecimal(Buffer.from([0x7f, 0xff, 0xcd]), 0, 5, 2), '-0.50');
  // DECIMAL(65,30): 8 + 27 integer digits in 4 + 12 bytes, 27 + 3 fraction digits in 12 + 2 bytes.
  const big = Buffer.alloc(30, 0);
  big[0] = 0x80;
  big.writeUInt16BE(999, 28);
  assert.equal(decodeDecimal(big, 0, 65, 30), `0.${'0'.repeat(27)}999`);
  const nines = Buffer.alloc(30);
  nines.writeUInt32BE(99_999_999, 0);
  for (let p = 4; p < 28; p += 4) nines.writeUInt32BE(999_999_999, p);
  nines.writeUInt16BE(999, 28);
  nines[0]! |= 0x80;
  assert.equal(decodeDecimal(nines, 0, 65, 30), `${'9'.repeat(35)}.${'9'.repeat(30)}`);
  assert.equal(decodeDecimal(Buffer.from(nines.map((b) => b ^ 0xff)), 0, 65, 30), `-${'9'.repeat(35)}.${'9'.repeat(30)}`);
});

test('temporal 5.6 formats at their edges', () => {
  const time2 = (hex: string, fsp: number) => decodeTime2(Buffer.from(hex, 'hex'), 0, fsp);
  assert.equal(time2('800000', 0), '00:00:00');
  assert.equal(time2('b46efb', 0), '838:59:59');
  assert.equal(time2('4b9105', 0), '-838:59:59');
  // -00:00:01.5: the integer part is rounded down to -2 seconds and the fraction stored as its complement
  // (one byte of hundredths: 256 - 50).
  assert.equal(time2('7ffffece', 1), '-00:00:01.5');
  assert.equal(time2('7ffffffc18', 3), '-00:00:00.100');
  assert.equal(time2('7ffffffffff6', 6), '-00:00:00.000010');
  assert.equal(time2('8000010001f4', 6), '00:00:01.000500');
  // DATETIME2 9999-12-31 23:59:59.999999 and the zero datetime.
  assert.equal(decodeDatetime2(Buffer.from('fef3ff7efb0f423f', 'hex'), 0, 6), '9999-12-31 23:59:59.999999');
  assert.equal(decodeDatetime2(Buffer.from('8000000000', 'hex'), 0, 0), '0000-00-00 00:00:00');
  // The same bytes again, and the same seconds under another precision or fraction (the last one is remembered).
  assert.equal(decodeDatetime2(Buffer.from('fef3ff7efb0f423f', 'hex'), 0, 6), '9999-12-31 23:59:59.999999');
  assert.equal(decodeDatetime2(Buffer.from('fef3ff7efb0f423f', 'hex'), 0, 0), '9999-12-31 23:59:59');
  assert.equal(decodeDatetime2(Buffer.from('fef3ff7efb0f423e', 'hex'), 0, 6), '9999-12-31 23:59:59.999998');
  assert.equal(decodeTimestamp2(Buffer.from('7fffffff63', 'hex'), 0, 2), '2038-01-19 03:14:07.99');
  assert.equal(decodeTimestamp2(Buffer.from('0000000000', 'hex'), 0, 2), '0000-00-00 00:00:00.00');
});

test('MySQL binary JSON: a hand-laid small object', () => {
  // {"a": 1, "bb": true}: count, size, key entries (offset, length), value entries (type, inlined value), keys.
  const bytes = Buffer.from('00' + '0200' + '1500' + '12000100' + '13000200' + '050100' + '040100' + '61' + '6262', 'hex');
  assert.equal(jsonBinaryToText(bytes), '{"a": 1, "bb": true}');
});

test('MySQL binary JSON: containers, scalars, literals, escaping', () => {
  const value: J = { k: [1, -40000, 2147483647, 9223372036854775807n, null, false, 'x'], nested: { e: [], o: {} }, s: 'q"\\\n\t\u0001\u001fé😀' };
  const expected = '{"k": [1, -40000, 2147483647, 9223372036854775807, null, false, "x"], "nested": {"e": [], "o": {}}, '
    + '"s": "q\\"\\\\\\n\\t\\u0001\\u001fé😀"}';
  assert.equal(jsonBinaryToText(doc(value)), expected);
  assert.equal(jsonBinaryToText(doc(value, true)), expected);
  assert.equal(jsonBinaryToText(doc('top')), '"top"');
  assert.equal(jsonBinaryToText(doc(null)), 'null');
  assert.equal(jsonBinaryToText(Buffer.alloc(0)), 'null');
  // uint16/uint32/uint64 and a large array with inlined int32.
  assert.equal(jsonBinaryToText(Buffer.from('06ffff', 'hex')), '65535');
  assert.equal(jsonBinaryToText(Buffer.from('08ffffffff', 'hex')), '4294967295');
  assert.equal(jsonBinaryToText(Buffer.from('0affffffffffffffff', 'hex')), '18446744073709551615');
  const largeArray = Buffer.from('03' + '01000000' + '0d000000' + '07' + '00000080', 'hex');
  assert.equal(jsonBinaryToText(largeArray), '[-2147483648]');
});

test('MySQL binary JSON: doubles as the server prints them', () => {
  const cases: [number, string][] = [
    [1, '1.0'], [0.1, '0.1'], [-2.5, '-2.5'], [0, '0.0'], [-0, '-0.0'], [1e300, '1e300'], [1e15, '1e15'],
    [1e14, '100000000000000.0'], [123456.789, '123456.789'], [1.5e-7, '0.00000015'], [0.0001, '0.0001'],
    [1e-15, '0.000000000000001'], [1e-16, '1e-16'], [1.2345678901234568e20, '1.2345678901234568e20'],
    [-1.7976931348623157e308, '-1.7976931348623157e308'], [5e-324, '5e-324'],
  ];
  for (const [d, text] of cases) assert.equal(jsonBinaryToText(doc({ double: d })), text, String(d));
});

test('MySQL binary JSON: opaque DECIMAL, dates and times, other opaque types', () => {
  const dec = Buffer.from([5, 2, 0x80, 0x7b, 0x2d]); // DECIMAL(5,2) 123.45
  assert.equal(jsonBinaryToText(doc({ opaque: 246, data: dec })), '123.45');
  const packed = (intPart: bigint, micro: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64LE((intPart << 24n) + micro); return b; };
  const ymd = ((2015n * 13n + 1n) << 5n) | 15n;
  const hms = (23n << 12n) | (24n << 6n) | 25n;
  assert.equal(jsonBinaryToText(doc({ opaque: 10, data: packed(ymd << 17n, 0n) })), '"2015-01-15"');
  assert.equal(jsonBinaryToText(doc({ opaque: 12, data: packed((ymd << 17n) | hms, 6n) })), '"2015-01-15 23:24:25.000006"');
  assert.equal(jsonBinaryToText(doc({ opaque: 7, data: packed((ymd << 17n) | hms, 0n) })), '"2015-01-15 23:24:25.000000"');
  const t = (12n << 12n) | (34n << 6n) | 56n;
  const negTime = Buffer.alloc(8);
  negTime.writeBigInt64LE(-((t << 24n) + 500000n));
  assert.equal(jsonBinaryToText(doc({ opaque: 11, data: negTime })), '"-12:34:56.500000"');
  assert.equal(jsonBinaryToText(doc({ opaque: 253, data: Buffer.from('as string') })), '"as string"');
  assert.equal(jsonBinaryToText(doc({ opaque: 252, data: Buffer.from([0xde, 0xad]) })), '"base64:type252:3q0="');
  const long = Buffer.alloc(60, 0xff);
  assert.equal(jsonBinaryToText(doc({ opaque: 15, data: long })), `"base64:type15:${long.toString('base64').slice(0, 76)}\\n${long.toString('base64').slice(76)}"`);
});

test('MySQL JSON column in a rows event', () => {
  const d = decoderWithFormat(1);
  // Table_map: id 5, db "db", table "t", one JSON column (type 245, metadata 4 = length bytes), nullable.
  const tm = Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0]), u16(1), Buffer.from('\x02db\x00\x01t\x00', 'latin1'),
    Buffer.from([1, 245, 1, 4, 1])]);
  d.decode(event(EventType.TABLE_MAP, tm));
  const json = doc({ a: [1, 'x'] });
  const rows = Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0]), u16(1), u16(2), Buffer.from([1, 1, 0]), u32(json.length), json,
    Buffer.from([1])]);
  const { event: e } = d.decode(event(EventType.WRITE_ROWS, rows));
  assert.ok(e.type === 'rows');
  assert.deepEqual(e.rows, [{ after: ['{"a": [1, "x"]}'] }, { after: [null] }]);
  assert.equal(e.statementEnd, true);
});

test('a MySQL 9 VECTOR value is whole float32s, or the event is refused', () => {
  const vector = (value: Buffer) => {
    const d = decoderWithFormat(1);
    d.decode(tableMapEvent({ tableId: 6, database: 'd', table: 'v', types: [ColumnType.VECTOR], meta: Buffer.from([4]) }));
    return d.decode(rowsEventV2(EventType.WRITE_ROWS, 6, 1, [Buffer.from([1])], Buffer.concat([Buffer.from([0]), u32(value.length), value])));
  };
  const floats = Buffer.from('0000803f000080bf', 'hex');
  const { event: e } = vector(floats);
  assert.ok(e.type === 'rows');
  assert.deepEqual(e.rows, [{ after: [floats] }]);
  assert.throws(() => vector(Buffer.alloc(5)), (err: Error) => err instanceof BinlogFormatError && /VECTOR value of 5 bytes/.test(err.message));
});

test('MySQL GTID, Previous_GTIDs and TRANSACTION_PAYLOAD', () => {
  const d = new BinlogDecoder();
  d.decode(event(EventType.FORMAT_DESCRIPTION, Buffer.concat([u16(4), Buffer.from('8.0.36'.padEnd(50, '\0')), u32(0),
    Buffer.from([19]), Buffer.alloc(41, 0), Buffer.from([1])]), true));
  assert.equal(d.format?.checksumAlg, 1);
  const sid = Buffer.from('3e11fa4771ca11e19e33c80aa9429562', 'hex');
  const ts = u64(1_700_000_000_000_000n | (1n << 55n)).subarray(0, 7); // high bit: original timestamp follows
  const gtid = Buffer.concat([Buffer.from([1]), sid, u64(23n), Buffer.from([2]), u64(7n), u64(8n), ts,
    Buffer.from([1, 2, 3, 4, 5, 6, 0]), Buffer.from([0xfc, 0x10, 0x27]), u32(80036)]);
  const { event: g } = d.decode(event(EventType.GTID, gtid));
  assert.deepEqual(g, {
    type: 'gtid', flavor: 'mysql', anonymous: false, uuid: '3e11fa47-71ca-11e1-9e33-c80aa9429562', gno: 23n,
    commitFlag: true, lastCommitted: 7n, sequenceNumber: 8n, immediateCommitTimestamp: 1_700_000_000_000_000n,
    originalCommitTimestamp: 0x060504030201n, transactionLength: 10000n, immediateServerVersion: 80036,
    originalServerVersion: 80036,
  });
  const prev = Buffer.concat([u64(1n), sid, u64(2n), u64(1n), u64(6n), u64(10n), u64(11n)]);
  assert.deepEqual(d.decode(event(EventType.PREVIOUS_GTIDS, prev)).event, {
    type: 'previous_gtids', sids: [{ uuid: '3e11fa47-71ca-11e1-9e33-c80aa9429562', intervals: [[1n, 6n], [10n, 11n]] }],
  });

  // Payload with compression NONE: inner events have no CRC.
  const inner = [event(EventType.XID, u64(99n), false), event(EventType.STOP, Buffer.alloc(0), false)];
  const data = Buffer.concat(inner);
  const fields = Buffer.from([2, 3, 0xfc, 0xff, 0, 3, 1, data.length, 1, 1, data.length, 0]); // NONE = 255, length-encoded
  const { event: p } = d.decode(event(EventType.TRANSACTION_PAYLOAD, Buffer.concat([fields, data])));
  assert.ok(p.type === 'transaction_payload');
  assert.deepEqual(p.events, inner);
  assert.deepEqual(d.decode(p.events[0]!, { checksum: false }).event, { type: 'xid', xid: 99n });

  // ZSTD, on every Node: a single-segment frame holding the same events in one raw block.
  const rawBlock = Buffer.alloc(3);
  rawBlock.writeUIntLE((data.length << 3) | 1, 0, 3);
  const frame = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, data.length]), rawBlock, data]);
  const zfields = Buffer.from([2, 1, 0, 3, 1, data.length, 1, 1, frame.length, 0]);
  const { event: z } = d.decode(event(EventType.TRANSACTION_PAYLOAD, Buffer.concat([zfields, frame])));
  assert.ok(z.type === 'transaction_payload');
  assert.deepEqual(z.events, inner);
  const zevent = event(EventType.TRANSACTION_PAYLOAD, Buffer.concat([Buffer.from([2, 1, 0, 3, 1, 4, 1, 1, 4, 0]), Buffer.from('ABCD')]));
  assert.throws(() => d.decode(zevent), /transaction payload does not decompress to the 4 bytes it declares/);
});

test('MariaDB GTID flags, commit id and GTID_LIST', () => {
  const d = decoderWithFormat(1);
  const gtid = Buffer.concat([u64(77n), u32(3), Buffer.from([0x02 | 0x08]), u64(1234n)]);
  assert.deepEqual(d.decode(event(EventType.MARIA_GTID, gtid)).event, {
    type: 'gtid', flavor: 'mariadb', domainId: 3, serverId: 7, seqNo: 77n, flags2: 10, standalone: false, commitId: 1234n,
  });
  const standalone = Buffer.concat([u64(78n), u32(0), Buffer.from([0x01]), Buffer.alloc(6)]);
  const e = d.decode(event(EventType.MARIA_GTID, standalone)).event;
  assert.ok(e.type === 'gtid' && e.flavor === 'mariadb' && e.standalone && e.commitId === undefined);
  const list = Buffer.concat([u32(2), u32(0), u32(1), u64(10n), u32(1), u32(2), u64(20n)]);
  assert.deepEqual(d.decode(event(EventType.MARIA_GTID_LIST, list)).event, {
    type: 'gtid_list', flags: 0, gtids: [{ domainId: 0, serverId: 1, seqNo: 10n }, { domainId: 1, serverId: 2, seqNo: 20n }],
  });
  assert.equal(decodeHeader(event(EventType.XID, u64(1n))).eventLength, 31);
});

// Bounds (issue 8): whatever the bytes, a decode ends soon, holds little, and fails only with a typed error.

const formatError = (pattern: RegExp) => (err: unknown) => err instanceof BinlogFormatError && pattern.test(err.message);

test('a rows event with no columns in its images is refused instead of read forever', () => {
  for (const events of [zeroColumnRows(), emptyBitmapRows()]) {
    const d = decoderWithFormat(1);
    d.decode(events[0]!);
    assert.throws(() => d.decode(events[1]!), formatError(/WRITE_ROWS_V1 event: .* has no columns in its row images/));
  }
});

test('a compressed event inflates no further than the length its header declares', () => {
  const d = decoderWithFormat(1);
  assert.throws(() => d.decode(compressionBomb(64 << 20)),
    formatError(/MARIA_QUERY_COMPRESSED event: compressed event inflates past the 32 bytes its header declares/));
  // A stream shorter than declared, or none at all, is as wrong.
  const short = compressedQueryEvent(mariadbCompressed(100, zlib.deflateSync(Buffer.from('SELECT 1'))));
  assert.throws(() => d.decode(short), formatError(/inflated to 8 bytes, header says 100/));
  assert.throws(() => d.decode(compressedQueryEvent(mariadbCompressed(8, Buffer.from('not zlib')))),
    formatError(/does not inflate/));
  const good = compressedQueryEvent(mariadbCompressed(8, zlib.deflateSync(Buffer.from('SELECT 1'))));
  assert.equal((d.decode(good).event as { sql: Buffer }).sql.toString(), 'SELECT 1');
});

test('MySQL binary JSON: shared values cannot make the text exponential, nor nesting the stack deep', () => {
  const bomb = jsonBomb(22);
  assert.equal(bomb.length, 231);
  assert.throws(() => jsonBinaryToText(bomb), formatError(/corrupt binary JSON: text longer than 6 characters per byte/));
  // Sharing that stays within the bound is printed: one level, two entries pointing at one [null, null].
  assert.equal(jsonBinaryToText(jsonBomb(1)), '[[null, null], [null, null]]');
  // A container pointing at itself.
  const self = Buffer.concat([Buffer.from([2]), u16(1), u16(7), Buffer.from([2]), u16(0)]);
  assert.throws(() => jsonBinaryToText(self), formatError(/corrupt binary JSON/));
  const nested = (depth: number) => doc(Array.from({ length: depth - 1 }).reduce<J>((inner) => [inner], []));
  assert.equal(jsonBinaryToText(nested(100)), `${'['.repeat(100)}${']'.repeat(100)}`);
  assert.throws(() => jsonBinaryToText(nested(101)), formatError(/nested deeper than 100/));
  assert.throws(() => jsonBinaryToText(doc({ double: Number.NaN })), formatError(/double NaN/));
  // The bound leaves room for the widest text a real document prints: control characters, six each.
  const controls = '\u0001'.repeat(1000);
  assert.equal(jsonBinaryToText(doc([controls, { [controls]: controls }])).length, 18_000 + 14);
});

test('counts and lengths are checked against the bytes present; other failures are typed too', () => {
  const d = decoderWithFormat(1);
  // The metadata block claims 200 bytes where 2 are left.
  assert.throws(() => d.decode(truncatedTableMap()[0]!), formatError(/TABLE_MAP event: .*Table_map metadata block: need 200 bytes/));
  const tableMap = (types: number[], meta: Buffer, optional = Buffer.alloc(0)) => {
    const raw = tableMapEvent({ tableId: 9, database: 'd', table: 't', types, meta });
    const body = Buffer.concat([raw.subarray(19, raw.length - 4), optional]);
    return event(EventType.TABLE_MAP, body);
  };
  assert.throws(() => d.decode(tableMap([ColumnType.NEWDECIMAL], Buffer.from([10, 20]))), formatError(/DECIMAL\(10,20\)/));
  assert.throws(() => d.decode(tableMap([ColumnType.DATETIME2], Buffer.from([7]))), formatError(/precision 7/));
  const signedness = Buffer.from([1, 1, 0x80]);
  assert.ok(d.decode(tableMap([ColumnType.LONG], Buffer.alloc(0), signedness)).event.type === 'table_map');
  assert.throws(() => d.decode(tableMap([ColumnType.LONG], Buffer.alloc(0), Buffer.concat([signedness, signedness]))),
    formatError(/optional metadata field 1 is repeated/));
  // A status block longer than the event, a user variable whose value is shorter than its type.
  const query = Buffer.concat([u32(1), u32(0), Buffer.from([0]), u16(0), u16(500), Buffer.from('\0BEGIN')]);
  assert.throws(() => d.decode(event(EventType.QUERY, query)), formatError(/Query status variables: need 500 bytes/));
  const userVar = Buffer.concat([u32(1), Buffer.from('x'), Buffer.from([0, 1]), u32(33), u32(2), Buffer.from([1, 2])]);
  assert.throws(() => d.decode(event(EventType.USER_VAR, userVar)), formatError(/@x: 2-byte value, 8 expected/));
  // A Format_description too short to hold its fixed part.
  assert.throws(() => new BinlogDecoder().decode(event(EventType.FORMAT_DESCRIPTION, Buffer.alloc(10))),
    formatError(/Format_description of 33 bytes/));
});

test('a Table_map mapped again with the same bytes is the same decoded map; changed bytes are decoded anew', () => {
  const d = decoderWithFormat(1);
  const map = (table: string) => d.decode(tableMapEvent({ tableId: 7, database: 'd', table, types: [ColumnType.LONG],
    meta: Buffer.alloc(0) })).event;
  const first = map('t');
  assert.equal(map('t'), first);
  const altered = map('u');
  assert.ok(altered.type === 'table_map' && altered.table === 'u');
  // A rows event after the changed map decodes against it.
  const { event: e } = d.decode(event(EventType.WRITE_ROWS_V1, Buffer.concat([Buffer.from([7, 0, 0, 0, 0, 0]), u16(1),
    Buffer.from([1, 1, 0]), u32(42)])));
  assert.ok(e.type === 'rows' && e.tableMap.table === 'u');
  assert.deepEqual(e.rows, [{ after: [42] }]);
});

test('a rows event keeps its bytes: its rows read alike every time, after other events, under a rewritten database; damage fails at decode', () => {
  const d = decoderWithFormat(1);
  // VARCHAR(20) (metadata 20: one length byte) and INT, two rows, the second with a NULL.
  const map = () => tableMapEvent({ tableId: 9, database: 'd', table: 't', types: [ColumnType.VARCHAR, ColumnType.LONG],
    meta: Buffer.from([20, 0]) });
  const image = (s: string, n: number | null) => n === null
    ? Buffer.concat([Buffer.from([0b10, s.length]), Buffer.from(s)])
    : Buffer.concat([Buffer.from([0, s.length]), Buffer.from(s), u32(n)]);
  const rows = (images: Buffer) => rowsEventV2(EventType.WRITE_ROWS, 9, 2, [Buffer.from([0b11])], images);
  const tableMap = d.decode(map()).event;
  assert.ok(tableMap.type === 'table_map');
  const { event: e } = d.decode(rows(Buffer.concat([image('abc', 7), image('xyz', null)])));
  assert.ok(e.type === 'rows');
  const expected = [{ after: [Buffer.from('abc'), 7] }, { after: [Buffer.from('xyz'), null] }];
  assert.deepEqual(e.rows, expected);
  // Other rows events decoded since (the decoder keeps the last rows read) do not change what this one holds.
  d.decode(map());
  const other = d.decode(rows(image('qq', 1))).event;
  assert.ok(other.type === 'rows');
  assert.deepEqual(other.rows, [{ after: [Buffer.from('qq'), 1] }]);
  assert.deepEqual(e.rows, expected);
  const rewritten = withTableMap(e, { ...tableMap, database: 'elsewhere' });
  assert.equal(rewritten.tableMap.database, 'elsewhere');
  assert.deepEqual(rewritten.rows, expected);
  // A string longer than its bytes: refused when the event is decoded, not later when its rows are read.
  d.decode(map());
  const torn = Buffer.concat([Buffer.from([0, 30]), Buffer.from('abc'), u32(7)]);
  assert.throws(() => d.decode(rows(torn)), formatError(/column 1 .*`d`\.`t`/));
});
