// Binlog events built by hand (the well-formed pieces of a MariaDB transaction, and hostile events that each
// break one bound of the decoder: zero-column rows, compression and JSON bombs, a truncated Table_map), and
// events cut from binlog files, including the ones real MySQL servers wrote.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { crc32, encodeFormatDescription } from '../../src/binlog/decoder.js';
import { ColumnType } from '../../src/binlog/column-types.js';
import { BINLOG_MAGIC, EVENT_HEADER_LENGTH, EventType } from '../../src/binlog/events.js';
import { MysqlGtidSet } from '../../src/gtid/mysql-gtid-set.js';

/** One event: the common header (server id 7, end position 0), the body and (by default) its CRC32. */
export function binlogEvent(type: number, body: Buffer, crc = true): Buffer {
  const h = Buffer.alloc(EVENT_HEADER_LENGTH);
  h.writeUInt32LE(1_700_000_000, 0);
  h[4] = type;
  h.writeUInt32LE(7, 5);
  h.writeUInt32LE(EVENT_HEADER_LENGTH + body.length + (crc ? 4 : 0), 9);
  const e = Buffer.concat([h, body]);
  return crc ? withCrc32(e) : e;
}

function withCrc32(e: Buffer): Buffer {
  const c = Buffer.alloc(4);
  c.writeUInt32LE(crc32(e));
  return Buffer.concat([e, c]);
}

/**
 * Events (with CRC32s) as a binlog file holds them from offset 4: each header's end position set, CRCs
 * recomputed. The first must be the Format_description.
 */
export function placeInBinlog(events: Buffer[]): Buffer[] {
  let pos = 4;
  return events.map((e) => {
    pos += e.length;
    const placed = Buffer.from(e);
    placed.writeUInt32LE(pos, 13);
    return withCrc32(placed.subarray(0, placed.length - 4));
  });
}

/** The events of a binlog file (magic included), with the offset each starts at. */
export function binlogFileEvents(data: Buffer): { pos: number; raw: Buffer }[] {
  const events: { pos: number; raw: Buffer }[] = [];
  for (let pos = BINLOG_MAGIC.length; pos + EVENT_HEADER_LENGTH <= data.length;) {
    const length = data.readUInt32LE(pos + 9);
    if (length < EVENT_HEADER_LENGTH || pos + length > data.length) throw new Error(`cut event at offset ${pos}`);
    events.push({ pos, raw: data.subarray(pos, pos + length) });
    pos += length;
  }
  return events;
}

/**
 * Binlog files that real MySQL servers wrote (5.7 to 9.x), in ../shared/fixtures/mysql beside the repository
 * (SOURCES.md there says where each comes from). TRIBUTARY_MYSQL_FIXTURES names another folder.
 */
export async function mysqlFixtures(): Promise<{ name: string; path: string; data: Buffer }[]> {
  const dir = process.env.TRIBUTARY_MYSQL_FIXTURES
    ?? fileURLToPath(new URL('../../../shared/fixtures/mysql/', import.meta.url));
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => !name.endsWith('.md')).sort();
  } catch (err) {
    throw new Error(`the MySQL binlog fixtures are missing: ${dir} (${(err as Error).message}). They live in the ` +
      'shared/ folder beside the repository; set TRIBUTARY_MYSQL_FIXTURES to their folder if it is elsewhere');
  }
  if (names.length === 0) throw new Error(`no MySQL binlog fixtures in ${dir}`);
  return Promise.all(names.map(async (name) => ({ name, path: join(dir, name), data: await readFile(join(dir, name)) })));
}

export const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
export const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
export const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };

function tableId(id: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntLE(id, 0, 6);
  return b;
}

/** A length-encoded integer as binlog events store counts and lengths. */
export function packed(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.concat([Buffer.from([0xfc]), u16(n)]);
  if (n < 0x1000000) { const b = Buffer.alloc(4); b[0] = 0xfd; b.writeUIntLE(n, 1, 3); return b; }
  return Buffer.concat([Buffer.from([0xfe]), u64(BigInt(n))]);
}

export const MARIADB_VERSION = '10.11.19-MariaDB-log';

export function mariadbFormat(serverId = 7, checksumAlg: 0 | 1 = 1): Buffer {
  return encodeFormatDescription({ serverId, timestamp: 1_700_000_000, serverVersion: MARIADB_VERSION, checksumAlg });
}

/** MariaDB GTID: opening a transaction (a BEGIN follows), or a standalone statement (DDL). */
export function mariadbGtid(seqNo: bigint, standalone = false): Buffer {
  const flags = standalone ? 1 : 0;
  return binlogEvent(EventType.MARIA_GTID, Buffer.concat([u64(seqNo), u32(0), Buffer.from([flags]), Buffer.alloc(6)]));
}

export function queryEvent(sql: string, database = ''): Buffer {
  const db = Buffer.from(database);
  return binlogEvent(EventType.QUERY, Buffer.concat([
    u32(1), u32(0), Buffer.from([db.length]), u16(0), u16(0), db, Buffer.from([0]), Buffer.from(sql),
  ]));
}

export function xidEvent(xid: bigint): Buffer {
  return binlogEvent(EventType.XID, u64(xid));
}

export interface TableMapSpec {
  tableId: number;
  database: string;
  table: string;
  types: number[];
  /** The metadata block, as Table_map stores it. */
  meta: Buffer;
  /** Overrides the metadata block's length field (a lie about its size). */
  metaLength?: number;
}

export function tableMapEvent(spec: TableMapSpec): Buffer {
  const db = Buffer.from(spec.database);
  const table = Buffer.from(spec.table);
  const n = spec.types.length;
  return binlogEvent(EventType.TABLE_MAP, Buffer.concat([
    tableId(spec.tableId), u16(1), Buffer.from([db.length]), db, Buffer.from([0]), Buffer.from([table.length]), table,
    Buffer.from([0]), packed(n), Buffer.from(spec.types), packed(spec.metaLength ?? spec.meta.length), spec.meta,
    Buffer.alloc((n + 7) >> 3, 0xff),
  ]));
}

const STMT_END_F = 1;

/** Write_rows (v1): `columns` in the count, `present` as the columns bitmap, `rows` the row images. */
export function writeRowsEvent(id: number, columns: number, present: Buffer, rows: Buffer): Buffer {
  return binlogEvent(EventType.WRITE_ROWS_V1, Buffer.concat([tableId(id), u16(STMT_END_F), packed(columns), present, rows]));
}

/** A MariaDB compressed payload (log_bin_compress): header byte, declared length, zlib stream. */
export function mariadbCompressed(declaredLength: number, stream: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(declaredLength);
  return Buffer.concat([Buffer.from([0x80 | 4]), length, stream]);
}

export function compressedQueryEvent(payload: Buffer, database = ''): Buffer {
  const db = Buffer.from(database);
  return binlogEvent(EventType.MARIA_QUERY_COMPRESSED, Buffer.concat([
    u32(1), u32(0), Buffer.from([db.length]), u16(0), u16(0), db, Buffer.from([0]), payload,
  ]));
}

/** The transaction a hostile event sits in, so that the stage meets it where a real one would be. */
export function inTransaction(seqNo: bigint, events: Buffer[]): Buffer[] {
  return [mariadbGtid(seqNo), queryEvent('BEGIN'), ...events, xidEvent(seqNo)];
}

/** A Table_map of one INT column, then a rows event that counts 0 columns and still carries row bytes. */
export function zeroColumnRows(): Buffer[] {
  return [
    tableMapEvent({ tableId: 70, database: 'h', table: 'zero', types: [ColumnType.LONG], meta: Buffer.alloc(0) }),
    writeRowsEvent(70, 0, Buffer.alloc(0), Buffer.from([0, 1, 2, 3])),
  ];
}

/** The same with the column counted but absent from the columns bitmap. */
export function emptyBitmapRows(): Buffer[] {
  return [
    tableMapEvent({ tableId: 71, database: 'h', table: 'empty', types: [ColumnType.LONG], meta: Buffer.alloc(0) }),
    writeRowsEvent(71, 1, Buffer.from([0]), Buffer.from([0, 1, 2, 3])),
  ];
}

/** A zlib stream that inflates to `bytes` zero bytes, about a thousandth of that long. */
export function zlibBomb(bytes: number): Buffer {
  return zlib.deflateSync(Buffer.alloc(bytes), { level: 9 });
}

/** A compressed Query event whose header declares a short statement and whose stream inflates to `bytes`. */
export function compressionBomb(bytes: number): Buffer {
  return compressedQueryEvent(mariadbCompressed(32, zlibBomb(bytes)), 'h');
}

/**
 * MySQL binary JSON whose containers point both their entries at the same child: `depth` levels of 10 bytes
 * expand to 2^depth copies of the innermost array: depth 22 is 231 bytes and 67 million characters of text.
 */
export function jsonBomb(depth: number): Buffer {
  const SMALL_ARRAY = 0x02;
  const LITERAL = 0x04;
  // Innermost: [null, null], literals inlined in the entries.
  let body = Buffer.concat([u16(2), u16(10), Buffer.from([LITERAL, 0, 0, LITERAL, 0, 0])]);
  for (let i = 0; i < depth; i++) {
    const size = 10 + body.length;
    body = Buffer.concat([u16(2), u16(size), Buffer.from([SMALL_ARRAY]), u16(10), Buffer.from([SMALL_ARRAY]), u16(10), body]);
  }
  return Buffer.concat([Buffer.from([SMALL_ARRAY]), body]);
}

/** A Table_map of one JSON column and a rows event carrying `doc` as its value. */
export function jsonRows(doc: Buffer): Buffer[] {
  return [
    tableMapEvent({ tableId: 72, database: 'h', table: 'json', types: [ColumnType.JSON], meta: Buffer.from([4]) }),
    writeRowsEvent(72, 1, Buffer.from([1]), Buffer.concat([Buffer.from([0]), u32(doc.length), doc])),
  ];
}

/** A Table_map whose metadata block claims more bytes than the event holds. */
export function truncatedTableMap(): Buffer[] {
  return [tableMapEvent({
    tableId: 73, database: 'h', table: 'cut', types: new Array<number>(8).fill(ColumnType.VARCHAR),
    meta: Buffer.from([10]), metaLength: 200,
  })];
}

/**
 * A v2 rows event (MySQL's WRITE/UPDATE/DELETE_ROWS, PARTIAL_UPDATE_ROWS): `columns` in the count, `present`
 * the columns bitmap(s) (two for updates), `rows` the row images; STMT_END_F set. `crc` false: as inside a
 * TRANSACTION_PAYLOAD.
 */
export function rowsEventV2(type: number, id: number, columns: number, present: Buffer[], rows: Buffer, crc = true): Buffer {
  return binlogEvent(type, Buffer.concat([tableId(id), u16(STMT_END_F), u16(2), packed(columns), ...present, rows]), crc);
}

/** A row image: the null bitmap of the columns it holds, then their values (null: SQL NULL), each encoded. */
export function rowImage(values: (Buffer | null)[]): Buffer {
  const nulls = Buffer.alloc((values.length + 7) >> 3);
  values.forEach((v, i) => {
    if (v === null) nulls[i >> 3]! |= 1 << (i & 7);
  });
  return Buffer.concat([nulls, ...values.filter((v): v is Buffer => v !== null)]);
}

/** A columns (or partial_bits) bitmap of `n` bits with the given positions set. */
export function bitmap(n: number, set: number[]): Buffer {
  const b = Buffer.alloc((n + 7) >> 3);
  for (const i of set) b[i >> 3]! |= 1 << (i & 7);
  return b;
}

/**
 * The shared image of a PARTIAL_UPDATE_ROWS row, between its before and after image: value_options 0, or 1
 * (PARTIAL_JSON) and the partial_bits of the table's `jsonColumns` JSON columns (the `partial`-th ones set).
 */
export function sharedImage(jsonColumns?: number, partial: number[] = []): Buffer {
  return jsonColumns === undefined ? packed(0) : Buffer.concat([packed(1), bitmap(jsonColumns, partial)]);
}

/** One diff of a partial JSON update: operation (0 replace, 1 insert, 2 remove), path text, binary JSON value. */
export interface JsonDiffSpec { operation: number; path: string | Buffer; value?: Buffer }

/** A JSON column's value in partial form (Json_diff_vector::write_binary): a 4-byte length, then the diffs. */
export function jsonDiffVector(diffs: JsonDiffSpec[]): Buffer {
  const body = Buffer.concat(diffs.flatMap((d) => {
    const path = Buffer.isBuffer(d.path) ? d.path : Buffer.from(d.path);
    return [Buffer.from([d.operation]), packed(path.length), path, ...(d.value ? [packed(d.value.length), d.value] : [])];
  }));
  return Buffer.concat([u32(body.length), body]);
}

/**
 * A TRANSACTION_PAYLOAD event: size, compression type (0: zstd, 255: none), uncompressed size, end mark, then
 * the payload. `crc` false: as inside another payload.
 */
export function transactionPayloadEvent(compressed: Buffer, uncompressedSize: number, compression = 0, crc = true): Buffer {
  const field = (type: number, value: number) => Buffer.concat([packed(type), packed(packed(value).length), packed(value)]);
  return binlogEvent(EventType.TRANSACTION_PAYLOAD, Buffer.concat([
    field(1, compressed.length), field(2, compression), field(3, uncompressedSize), packed(0), compressed,
  ]), crc);
}

/**
 * A zstd frame holding `data` as stored (raw) blocks: what a zstd stream is when nothing compresses, and all
 * that a test needs to build the payloads MySQL writes without a zstd compressor.
 */
export function zstdStoredFrame(data: Buffer): Buffer {
  const MAX_BLOCK = 128 << 10;
  // Single segment, 4-byte content size.
  const head = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0]), u32(data.length)]);
  const blocks: Buffer[] = [];
  for (let at = 0; at === 0 || at < data.length; at += MAX_BLOCK) {
    const part = data.subarray(at, at + MAX_BLOCK);
    const header = Buffer.alloc(3);
    header.writeUIntLE((part.length << 3) | (at + MAX_BLOCK >= data.length ? 1 : 0), 0, 3);
    blocks.push(header, part);
  }
  return Buffer.concat([head, ...blocks]);
}

/** The server_uuid of the server that wrote mysqlGtidChain's files. */
export const MYSQL_CHAIN_UUID = '8a18b986-434f-11f1-a27f-ce6a53da2f24';

/** A fixture's events (mysqlFixtures, by name), as a fake source serves them under the binlog file name `name`. */
export function servedBinlog(fixtures: ReadonlyMap<string, Buffer>, fixture: string, name: string): { name: string; events: Buffer[] } {
  const data = fixtures.get(fixture);
  if (!data) throw new Error(`no MySQL fixture ${fixture}`);
  return { name, events: binlogFileEvents(data).map((e) => e.raw) };
}

/**
 * Three consecutive binlog files of one MySQL 8.0.46 server (GTID mode): GTIDs 7-13, 14-16 and 17-19 of
 * MYSQL_CHAIN_UUID; 1-6 were in files before them.
 */
export function mysqlGtidChain(fixtures: ReadonlyMap<string, Buffer>): { name: string; events: Buffer[] }[] {
  return [
    servedBinlog(fixtures, 'mysqlbinlog2parquet__01-basic-crud.binlog', 'mysql-bin.000005'),
    servedBinlog(fixtures, 'mysqlbinlog2parquet__02-multi-statement-txn.binlog', 'mysql-bin.000006'),
    servedBinlog(fixtures, 'mysqlbinlog2parquet__03-mixed-types.binlog', 'mysql-bin.000007'),
  ];
}

/**
 * MySQL GTID binlog files built from mysqlGtidChain's first file: `files` files of `perFile` transactions each,
 * every one a copy of its transaction that inserts three rows into binlogtest.items (GTID, BEGIN, Rows_query,
 * Table_map, Write_rows, XID) with its own GTID, MYSQL_CHAIN_UUID:1 onwards; each file's Previous_GTIDs names
 * the transactions of the files before it, and a Rotate ends every file but the last. Applied to an items table
 * without a primary key, the row count says how many transactions were applied, doubled ones included.
 */
export function mysqlGtidInserts(fixtures: ReadonlyMap<string, Buffer>, files: number, perFile: number): { name: string; events: Buffer[] }[] {
  const source = servedBinlog(fixtures, 'mysqlbinlog2parquet__01-basic-crud.binlog', 'x').events;
  const format = source[0]!;
  // The transaction of GTID 10: its GTID event and the five that follow.
  const at = source.findIndex((e) => e[4] === EventType.GTID && e.readBigInt64LE(GTID_GNO) === 10n);
  const transaction = source.slice(at, at + 6);
  const name = (i: number) => `mysql-bin.${String(i + 1).padStart(6, '0')}`;
  const out: { name: string; events: Buffer[] }[] = [];
  for (let f = 0; f < files; f++) {
    const first = f * perFile + 1;
    const previous = MysqlGtidSet.parse(first > 1 ? `${MYSQL_CHAIN_UUID}:1-${first - 1}` : '').encode();
    const events = [format, binlogEvent(EventType.PREVIOUS_GTIDS, previous)];
    for (let gno = first; gno < first + perFile; gno++) {
      const gtid = Buffer.from(transaction[0]!);
      gtid.writeBigInt64LE(BigInt(gno), GTID_GNO);
      events.push(gtid, ...transaction.slice(1));
    }
    if (f < files - 1) events.push(binlogEvent(EventType.ROTATE, Buffer.concat([u64(4n), Buffer.from(name(f + 1))])));
    out.push({ name: name(f), events: placeInBinlog(events) });
  }
  return out;
}

/** Where a MySQL GTID event holds its transaction number: after the header, the flags byte and the uuid. */
const GTID_GNO = EVENT_HEADER_LENGTH + 1 + 16;
