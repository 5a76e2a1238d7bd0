// A source is untrusted input (issue 8): a source that sends a crafted event over the replica protocol stops
// its channel with an error that says what and where, and the process lives on: the engine answers, another
// channel keeps replicating, and the stopped channel works again once pointed at a good source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReplicationEngine } from '../src/index.js';
import { EventSizeLimit } from '../src/protocol/event-size.js';
import { EventType } from '../src/binlog/events.js';
import {
  binlogEvent, compressionBomb, emptyBitmapRows, inTransaction, jsonBomb, jsonRows, MARIADB_VERSION, mariadbFormat,
  mariadbGtid, placeInBinlog, queryEvent, truncatedTableMap, xidEvent, zeroColumnRows,
} from './helpers/binlog-events.js';
import { oversizedPacket, startFakeSource, type DumpItem, type FakeSource } from './helpers/fake-source.js';
import { catchUp, openEngine, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const MiB = 1 << 20;

test('event size limit: follows packet headers across chunks and stops at the first sign of an oversized event', () => {
  const packet = (payload: Buffer, seq = 1) => {
    const h = Buffer.alloc(4);
    h.writeUIntLE(payload.length, 0, 3);
    h[3] = seq;
    return Buffer.concat([h, payload]);
  };
  const event = (length: number) => Buffer.concat([Buffer.from([0]), binlogEvent(EventType.QUERY, Buffer.alloc(length - 23))]);
  // Events at the limit pass, fed whole or a byte at a time.
  const stream = Buffer.concat([packet(event(100)), packet(event(1000)), packet(Buffer.from([0xfe, 0, 0, 2, 0]))]);
  const whole = new EventSizeLimit(1000);
  assert.equal(whole.check(stream), undefined);
  const bytewise = new EventSizeLimit(1000);
  for (const b of stream) assert.equal(bytewise.check(Buffer.from([b])), undefined);
  // One byte more is refused as soon as its packet header is read.
  assert.equal(new EventSizeLimit(1000).check(packet(event(1001)).subarray(0, 4)), 1001);
  // A 16 MiB packet whose event header claims 4 GiB: refused once the header's length field is in.
  const claim = oversizedPacket(0xffffffff, 100);
  const wire = Buffer.isBuffer(claim) ? claim : claim.wire;
  const limit = new EventSizeLimit(1 << 30);
  assert.equal(limit.check(wire.subarray(0, 10)), undefined);
  assert.equal(limit.check(wire.subarray(10, 20)), 0xffffffff);
  // A sequence of 16 MiB packets adds up, whatever its event header says.
  const sequence = new EventSizeLimit(20 * MiB);
  const first = Buffer.concat([packet(Buffer.alloc(0)).subarray(0, 4), event(100)]);
  first.writeUIntLE(0xffffff, 0, 3);
  assert.equal(sequence.check(first), undefined);
  assert.equal(sequence.check(Buffer.alloc(0xffffff - 101)), undefined);
  assert.equal(sequence.check(Buffer.from([0xff, 0xff, 0xff, 2])), 2 * 0xffffff - 1);
});

interface HostileCase {
  name: string;
  /** Events after the Format_description, or bytes for the wire after them. */
  events?: Buffer[];
  wire?: DumpItem;
  stage: 'io' | 'sql';
  errno: number;
  message: RegExp;
}

const CASES: HostileCase[] = [
  {
    name: 'a rows event that counts no columns', events: inTransaction(1n, zeroColumnRows()), stage: 'sql', errno: 1594,
    message: /WRITE_ROWS_V1 event: rows event on `h`.`zero` has no columns in its row images/,
  },
  {
    name: 'a rows event with an empty columns bitmap', events: inTransaction(2n, emptyBitmapRows()), stage: 'sql', errno: 1594,
    message: /rows event on `h`.`empty` has no columns in its row images \(column count 1\)/,
  },
  {
    name: 'a compressed Query that inflates to 256 MiB', events: [mariadbGtid(3n, true), compressionBomb(256 * MiB)],
    stage: 'sql', errno: 1594, message: /MARIA_QUERY_COMPRESSED event: compressed event inflates past the 32 bytes its header declares/,
  },
  {
    name: 'a 231-byte binary JSON value that prints as 67 million characters', events: inTransaction(4n, jsonRows(jsonBomb(22))),
    stage: 'sql', errno: 1594, message: /`h`.`json`: corrupt binary JSON: text longer than 6 characters per byte/,
  },
  {
    name: 'a Table_map whose metadata runs past the event', events: inTransaction(5n, truncatedTableMap()), stage: 'sql',
    errno: 1594, message: /TABLE_MAP event: event too short reading Table_map metadata block: need 200 bytes/,
  },
  {
    name: 'an event header claiming 4 GiB, of which 2 MiB arrive', wire: oversizedPacket(0xffffffff, 2 * MiB), stage: 'io',
    errno: 1153, message: /^Got a packet bigger than 'slave_max_allowed_packet' bytes: the source sends an event of 4294967295 bytes, replicaMaxAllowedPacket is 1073741824/,
  },
  {
    name: 'a Rotate cut short', events: [binlogEvent(EventType.ROTATE, Buffer.from([1, 2, 3]))], stage: 'io', errno: 1595,
    message: /^Relay log write failure: could not queue event from master: ROTATE event: event too short .* in the event at source position mysql-bin\.000001:\d+$/,
  },
];

/** A binlog that replicates: a database, a table and a transaction inserting two rows. */
function goodEvents(serverId: number): Buffer[] {
  return placeInBinlog([
    mariadbFormat(serverId), mariadbGtid(1n, true), queryEvent('CREATE DATABASE fake'), mariadbGtid(2n, true),
    queryEvent('CREATE TABLE t (id INT PRIMARY KEY)', 'fake'), mariadbGtid(3n), queryEvent('BEGIN'),
    queryEvent('INSERT INTO t VALUES (1), (2)', 'fake'), xidEvent(3n),
  ]);
}

describe('hostile sources', () => {
  let source: TestServer;
  let target: TestServer;
  let engine: ReplicationEngine;
  const fakes: FakeSource[] = [];
  const fake = async (serverId: number, events: DumpItem[]) => {
    const f = await startFakeSource({ serverId, version: MARIADB_VERSION, checksum: 'CRC32', events });
    fakes.push(f);
    return f;
  };
  const sourceOptions = (f: FakeSource) => ({
    sourceHost: f.host, sourcePort: f.port, sourceUser: 'repl', sourcePassword: '', sourceLogFile: 'mysql-bin.000001',
    sourceLogPos: 4, sourceConnectRetry: 1,
  });
  const targetRows = async (sql: string) => (await target.sql(sql) as unknown[]).length;
  /** Peak resident memory of this process so far, bytes. */
  const peakRss = () => process.resourceUsage().maxRSS * 1024;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 101 }), startMariaDb({ serverId: 201, noBinlog: true })]);
    await source.sql('CREATE DATABASE good', 'CREATE TABLE good.t (id INT PRIMARY KEY)');
    engine = await openEngine(target);
    await engine.changeReplicationSource('good', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '', sourceLogFile: 'mysql-bin.000001',
      sourceLogPos: 4, sourceConnectRetry: 1,
    });
    await engine.startReplica('good');
    await catchUp(engine, 'good', source);
  });

  after(async () => {
    await engine?.close();
    await Promise.all(fakes.map((f) => f.close()));
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  for (const [i, c] of CASES.entries()) {
    test(`${c.name}: the channel stops with ${c.errno}, and the rest goes on`, { timeout: 60_000 }, async () => {
      const channel = `h${i}`;
      const serverId = 900 + i;
      const events = placeInBinlog([mariadbFormat(serverId), ...(c.events ?? [])]);
      const f = await fake(serverId, c.wire ? [...events, c.wire] : events);
      const rss = peakRss();
      await engine.changeReplicationSource(channel, sourceOptions(f));
      await engine.startReplica(channel);
      const status = await until(`channel ${channel} stops with an error`, async () => {
        const s = await engine.replicaStatus(channel);
        return (c.stage === 'io' ? s.lastIoErrno : s.lastSqlErrno) !== 0 && s;
      });
      if (c.stage === 'io') {
        assert.equal(status.lastIoErrno, c.errno, status.lastIoError);
        assert.match(status.lastIoError, c.message);
        assert.equal(status.ioRunning, 'No');
      } else {
        assert.equal(status.lastSqlErrno, c.errno, status.lastSqlError);
        assert.match(status.lastSqlError, new RegExp(`^Relay log read failure: could not parse relay log event entry at ` +
          `relay-bin-${channel}\\.\\d{6}:\\d+ \\(`));
        assert.match(status.lastSqlError, c.message);
        assert.equal(status.sqlRunning, 'No');
      }
      // Nothing was held that the bytes sent did not stand for.
      assert.ok(peakRss() - rss < 128 * MiB, `peak memory grew by ${Math.round((peakRss() - rss) / MiB)} MiB`);
      // The process lives on: the engine answers and the other channel replicates.
      await source.sql(`INSERT INTO good.t VALUES (${i})`);
      await catchUp(engine, 'good', source);
      assert.equal(await targetRows(`SELECT id FROM good.t WHERE id = ${i}`), 1);
    });
  }

  test('an event larger than replicaMaxAllowedPacket stops the I/O stage with 1153', { timeout: 60_000 }, async () => {
    const small = await openEngine(target, { replicaMaxAllowedPacket: MiB, serverId: 3002 });
    try {
      const big = queryEvent(`SELECT '${'x'.repeat(2 * MiB)}'`);
      const f = await fake(950, placeInBinlog([mariadbFormat(950), mariadbGtid(1n, true), big]));
      await small.changeReplicationSource('big', sourceOptions(f));
      await small.startReplica('big');
      const status = await until('channel big stops with an error', async () => {
        const s = await small.replicaStatus('big');
        return s.lastIoErrno !== 0 && s;
      });
      assert.equal(status.lastIoErrno, 1153, status.lastIoError);
      assert.match(status.lastIoError, new RegExp(`an event of ${big.length} bytes, replicaMaxAllowedPacket is ${MiB}`));
    } finally {
      await small.close();
    }
    await assert.rejects(openEngine(target, { replicaMaxAllowedPacket: 100 }), /replicaMaxAllowedPacket must be an integer from 1024/);
  });

  test('a channel a hostile source stopped replicates again once reset to a good source', { timeout: 60_000 }, async () => {
    await engine.stopReplica('h0');
    await engine.resetReplica('h0');
    const f = await fake(960, goodEvents(960));
    await engine.changeReplicationSource('h0', sourceOptions(f));
    await engine.startReplica('h0');
    await until('the good source\'s rows on the target', async () =>
      await targetRows('SELECT id FROM fake.t').catch(() => 0) === 2);
    const s = await engine.replicaStatus('h0');
    assert.equal(s.lastSqlErrno, 0);
    assert.equal(s.lastIoErrno, 0);
    assert.equal(s.sourceServerId, 960);
  });
});
