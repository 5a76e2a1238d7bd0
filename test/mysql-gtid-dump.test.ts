// MASTER_AUTO_POSITION on the wire: BinlogDump (src/protocol/dump.ts) given the channel's GTID set asks a MySQL
// source with COM_BINLOG_DUMP_GTID, and receives exactly the transactions missing from the set, each event byte
// for byte as the binlog file holds it: across a chain of real MySQL 8.0 binlog files, from a MySQL 9.6 file with
// tagged GTIDs, and from one whose transactions are compressed payloads. A source that purged transactions the
// set lacks, or that never had GTIDs of its own uuid the set claims, refuses with errno 1236, which reaches the
// caller. The source is test/helpers/fake-source.ts, answering as MySQL's dump thread does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BinlogDecoder, crc32 } from '../src/binlog/decoder.js';
import { EventType } from '../src/binlog/events.js';
import { MysqlGtidSet } from '../src/gtid/mysql-gtid-set.js';
import { BinlogDump, type DumpRequest } from '../src/protocol/dump.js';
import { SourceError } from '../src/protocol/errors.js';
import { MYSQL_CHAIN_UUID as CHAIN_UUID, mysqlFixtures, mysqlGtidChain, servedBinlog } from './helpers/binlog-events.js';
import { startFakeSource, type FakeSource, type GtidBinlog } from './helpers/fake-source.js';

const LOG_EVENT_ARTIFICIAL_F = 0x20;
const MYSQL_VERSION = '8.4.3';

const fixtures = new Map<string, Buffer>();
const sources: FakeSource[] = [];

before(async () => {
  for (const { name, data } of await mysqlFixtures()) fixtures.set(name, data);
});

after(async () => {
  await Promise.all(sources.map((s) => s.close()));
});

const binlog = (fixture: string, name: string): GtidBinlog => servedBinlog(fixtures, fixture, name);
const chain = () => mysqlGtidChain(fixtures);

async function source(files: GtidBinlog[], uuid?: string): Promise<FakeSource> {
  const s = await startFakeSource({
    serverId: 1, version: MYSQL_VERSION, checksum: 'CRC32', events: [], gtidBinlogs: files, ...(uuid ? { uuid } : {}),
  });
  sources.push(s);
  return s;
}

function request(s: FakeSource, gtids: string): DumpRequest {
  return {
    host: s.host, port: s.port, user: 'repl', password: 'secret', replicaServerId: 901, file: '', position: 4,
    heartbeatPeriodSeconds: 0, netTimeoutSeconds: 20, mysqlGtidSet: MysqlGtidSet.parse(gtids),
  };
}

interface Received { file: string; raw: Buffer }

/**
 * Events up to and including the last event of `lastFile` (its final Rotate), each with the file the source
 * said it is in (the artificial Rotates name it); the artificial Rotates and the heartbeats are checked and left
 * out: each heartbeat must say where the next event starts, so that the replica's position moves past what
 * the source left out.
 */
async function receive(dump: BinlogDump, lastFile: GtidBinlog): Promise<{ events: Received[]; firstFile: string; heartbeats: number }> {
  const last = lastFile.events[lastFile.events.length - 1]!;
  const events: Received[] = [];
  let file = '';
  let firstFile = '';
  let heartbeatAt: number | undefined;
  let heartbeats = 0;
  for (;;) {
    const raw = await dump.next();
    assert.ok(raw, 'the dump ended early');
    const type = raw[4];
    if (type === EventType.ROTATE && (raw.readUInt16LE(17) & LOG_EVENT_ARTIFICIAL_F) !== 0) {
      assert.equal(raw.readBigUInt64LE(19), 4n, 'a GTID dump starts each file at its beginning');
      file = raw.toString('utf8', 27, raw.length - 4);
      firstFile ||= file;
      continue;
    }
    if (type === EventType.HEARTBEAT) {
      assert.equal(raw.toString('utf8', 19, raw.length - 4), file);
      heartbeatAt = raw.readUInt32LE(13);
      heartbeats++;
      continue;
    }
    if (heartbeatAt !== undefined) {
      assert.equal(raw.readUInt32LE(13) - raw.length, heartbeatAt, 'the heartbeat names where the next event starts');
      heartbeatAt = undefined;
    }
    events.push({ file, raw });
    if (file === lastFile.name && raw.equals(last)) return { events, firstFile, heartbeats };
  }
}

/**
 * What the replica must receive from `files` (from `startAt` on): per file its Format_description and
 * Previous_GTIDs, every event of each transaction whose GTID is in `wanted` (from its GTID event to the next
 * GTID event or the Rotate), and the Rotate.
 */
function expected(files: GtidBinlog[], startAt: string, wanted: string[]): Received[] {
  const out: Received[] = [];
  for (const f of files.slice(files.findIndex((x) => x.name === startAt))) {
    const decoder = new BinlogDecoder();
    let keep = true;
    for (const raw of f.events) {
      const type = raw[4];
      if (type === EventType.GTID || type === EventType.GTID_TAGGED) {
        const { event } = decoder.decode(raw);
        assert.ok(event.type === 'gtid' && event.flavor === 'mysql');
        keep = wanted.includes(`${event.uuid}:${event.tag ? `${event.tag}:` : ''}${event.gno}`);
      } else if (type === EventType.ROTATE || type === EventType.FORMAT_DESCRIPTION || type === EventType.PREVIOUS_GTIDS) {
        if (type === EventType.FORMAT_DESCRIPTION) decoder.decode(raw);
        keep = true;
      }
      if (keep) out.push({ file: f.name, raw });
    }
  }
  return out;
}

/** The GTIDs of the transactions received, in order. */
function gtidsOf(events: Received[]): string[] {
  const decoder = new BinlogDecoder();
  const out: string[] = [];
  for (const { raw } of events) {
    const type = raw[4];
    if (type !== EventType.FORMAT_DESCRIPTION && type !== EventType.GTID && type !== EventType.GTID_TAGGED) continue;
    const { event } = decoder.decode(raw);
    if (event.type === 'gtid' && event.flavor === 'mysql') out.push(`${event.uuid}:${event.tag ? `${event.tag}:` : ''}${event.gno}`);
  }
  return out;
}

function assertSameEvents(actual: Received[], wanted: Received[]): void {
  assert.equal(actual.length, wanted.length, 'number of events');
  actual.forEach((a, i) => {
    assert.equal(a.file, wanted[i]!.file, `event ${i}: file`);
    assert.ok(a.raw.equals(wanted[i]!.raw), `event ${i} (type ${a.raw[4]}, ends at ${a.raw.readUInt32LE(13)}) differs from the file's`);
  });
}

const chainGtids = (...gnos: number[]) => gnos.map((n) => `${CHAIN_UUID}:${n}`);

test('the dump starts in the newest file whose Previous_GTIDs the set covers and sends only the missing transactions', async () => {
  const files = chain();
  const s = await source(files, CHAIN_UUID);
  // file 2's Previous_GTIDs (1-13) is covered, file 3's (1-16) is not: 15 is missing
  const dump = await BinlogDump.open(request(s, `${CHAIN_UUID}:1-14:16`));
  try {
    const { events, firstFile } = await receive(dump, files[2]!);
    assert.equal(firstFile, 'mysql-bin.000006');
    assert.deepEqual(gtidsOf(events), chainGtids(15, 17, 18, 19));
    assertSameEvents(events, expected(files, 'mysql-bin.000006', chainGtids(15, 17, 18, 19)));
  } finally {
    dump.close();
  }
  assert.deepEqual(s.dumps, [{ file: '', position: 4, gtidSet: `${CHAIN_UUID}:1-14:16` }]);
});

test('transactions the set has are left out wherever they are, across files, byte for byte', async () => {
  const files = chain();
  const s = await source(files, CHAIN_UUID);
  const dump = await BinlogDump.open(request(s, `${CHAIN_UUID}:1-6:9:12-14`));
  try {
    const { events, firstFile, heartbeats } = await receive(dump, files[2]!);
    assert.equal(firstFile, 'mysql-bin.000005');
    // after 9, after 12-13 (before file 1's Rotate), after 14 (the head of file 2)
    assert.equal(heartbeats, 3);
    const wanted = chainGtids(7, 8, 10, 11, 15, 16, 17, 18, 19);
    assert.deepEqual(gtidsOf(events), wanted);
    assertSameEvents(events, expected(files, 'mysql-bin.000005', wanted));
  } finally {
    dump.close();
  }
});

test('MySQL 9.6 tagged GTIDs: the set goes out in the tagged format, and a tagged transaction is sent or left out by its tag', async () => {
  const file = binlog('rust_mysql_common__binlog_transaction_with_GTID_TAG.000001', 'binlog.000001');
  const uuid = '55778904-0299-11f1-b1b8-4ef0c4956feb';
  const s = await source([file], uuid);
  for (const [have, wanted] of [[`${uuid}:1-13:mytag:1-2`, [`${uuid}:mytag:3`]], [`${uuid}:1-13:mytag:1-3`, []]] as const) {
    const dump = await BinlogDump.open(request(s, have));
    try {
      const { events } = await receive(dump, file);
      assert.deepEqual(gtidsOf(events), wanted, have);
      assertSameEvents(events, expected([file], 'binlog.000001', [...wanted]));
    } finally {
      dump.close();
    }
  }
  assert.deepEqual(s.dumps.map((d) => d.gtidSet), [`${uuid}:1-13:mytag:1-2`, `${uuid}:1-13:mytag:1-3`]);
});

test('compressed transactions (TRANSACTION_PAYLOAD) are sent as the file holds them; the first binlog after a source start loses its created timestamp when its first transaction is left out', async () => {
  const file = binlog('apecloud__mysql-bin.000057', 'mysql-bin.000057');
  const uuid = '76f3e7be-6720-11ed-9cad-0242ac110002';
  const s = await source([file], uuid);
  for (const [have, wanted, created] of [
    [`${uuid}:1-10`, [`${uuid}:11`, `${uuid}:12`, `${uuid}:13`], 1668952319],
    [`${uuid}:1-11`, [`${uuid}:12`, `${uuid}:13`], 0],
  ] as const) {
    const dump = await BinlogDump.open(request(s, have));
    try {
      const { events } = await receive(dump, file);
      assert.deepEqual(gtidsOf(events), wanted);
      assert.ok(events.some((e) => e.raw[4] === EventType.TRANSACTION_PAYLOAD));
      const [format, ...rest] = events;
      assert.equal(format!.raw.readUInt32LE(FDE_CREATED_AT), created, have);
      const [fileFormat, ...fileRest] = expected([file], file.name, [...wanted]);
      assert.ok(withCreated(format!.raw, 1668952319).equals(fileFormat!.raw), 'the Format_description differs from the file\'s');
      assertSameEvents(rest, fileRest);
    } finally {
      dump.close();
    }
  }
});

/** Where a Format_description holds the time its server started (0 but in the first binlog after a start). */
const FDE_CREATED_AT = 19 + 2 + 50;

/** A Format_description with another created timestamp, its CRC32 recomputed. */
function withCreated(format: Buffer, created: number): Buffer {
  const copy = Buffer.from(format);
  copy.writeUInt32LE(created, FDE_CREATED_AT);
  copy.writeUInt32LE(crc32(copy.subarray(0, copy.length - 4)), copy.length - 4);
  return copy;
}

async function refusal(s: FakeSource, gtids: string): Promise<SourceError> {
  const dump = await BinlogDump.open(request(s, gtids));
  try {
    for (;;) await dump.next();
  } catch (err) {
    assert.ok(err instanceof SourceError, String(err));
    return err;
  } finally {
    dump.close();
  }
}

test('a set that lacks transactions the source purged is refused with 1236, naming what is missing', async () => {
  // mysql-bin.000005 is purged: the source's gtid_purged is mysql-bin.000006's Previous_GTIDs, 1-13
  const s = await source(chain().slice(1), CHAIN_UUID);
  const err = await refusal(s, `${CHAIN_UUID}:1-10`);
  assert.equal(err.errno, 1236);
  assert.equal(err.retryable, false);
  assert.equal(err.message, 'Got fatal error 1236 from master when reading data from binary log: \'Cannot replicate ' +
    'because the source purged required binary logs. Replicate the missing transactions from elsewhere, or ' +
    'provision a new replica from backup. Consider increasing the source\'s binary log expiration period. The GTID ' +
    `set sent by the replica is '${CHAIN_UUID}:1-10', and the missing transactions are '${CHAIN_UUID}:11-13'.'`);

  // a tag is a source of its own: the untagged transactions alone do not cover the purged tagged ones
  const uuid = '55778904-0299-11f1-b1b8-4ef0c4956feb';
  const tagged = await source([binlog('rust_mysql_common__binlog_transaction_with_GTID_TAG.000001', 'binlog.000001')], uuid);
  const taggedErr = await refusal(tagged, `${uuid}:1-13`);
  assert.equal(taggedErr.errno, 1236);
  assert.match(taggedErr.message, new RegExp(`the missing transactions are '${uuid}:mytag:1-2'`));
});

test('a set with GTIDs of the source\'s own uuid that the source never had is refused with 1236', async () => {
  const s = await source(chain(), CHAIN_UUID);
  const err = await refusal(s, `${CHAIN_UUID}:1-25`);
  assert.equal(err.errno, 1236);
  assert.equal(err.retryable, false);
  assert.match(err.message, /^Got fatal error 1236 from master when reading data from binary log: 'Replica has more GTIDs than the source has, using the source's SERVER_UUID\./);
  // GTIDs of other servers are no concern of this check
  const other = await source(chain(), '00000000-0000-0000-0000-0000000000aa');
  const dump = await BinlogDump.open(request(other, `${CHAIN_UUID}:1-25,00000000-0000-0000-0000-0000000000ab:1`));
  try {
    const { events, firstFile } = await receive(dump, chain()[2]!);
    assert.equal(firstFile, 'mysql-bin.000007');
    assert.deepEqual(gtidsOf(events), []);
  } finally {
    dump.close();
  }
});

test('a GTID set for a MariaDB source is refused before any dump (MariaDB positions by its own GTIDs)', async () => {
  const s = await startFakeSource({ serverId: 2, version: '10.11.9-MariaDB-log', checksum: 'CRC32', events: [] });
  sources.push(s);
  await assert.rejects(BinlogDump.open(request(s, `${CHAIN_UUID}:1-5`)), (err: unknown) => {
    assert.ok(err instanceof SourceError);
    assert.equal(err.errno, 1593);
    assert.match(err.message, /sourceAutoPosition .* needs a MySQL source: for MariaDB use sourceUseGtid/);
    return true;
  });
  assert.deepEqual(s.dumps, []);
});
