// SourcePositionTracker and compareSourcePositions: hand-built event headers for every rule, then whole binlog
// files written by a real mariadbd, fed event by event (as from a dump at position 4 and at a later position).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareSourcePositions, SourcePositionTracker, type SourcePosition } from '../src/binlog/position.js';
import { EventType, LOG_EVENT_ARTIFICIAL_F, type BinlogEvent, type EventHeader } from '../src/binlog/events.js';
import { BinlogDecoder, decodeHeader, encodeRotate } from '../src/binlog/decoder.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

function header(typeCode: number, eventLength: number, logPos: number, flags = 0): EventHeader {
  return { timestamp: 1_700_000_000, typeCode, serverId: 1, eventLength, logPos, flags };
}

function rotate(nextFile: string, position: number, artificial: boolean): [EventHeader, BinlogEvent] {
  const length = 19 + 8 + nextFile.length + 4;
  return [
    header(EventType.ROTATE, length, artificial ? 0 : 999, artificial ? LOG_EVENT_ARTIFICIAL_F : 0),
    { type: 'rotate', nextFile, position: BigInt(position) },
  ];
}

const FDE_LENGTH = 256;

describe('SourcePositionTracker, hand-built headers', () => {
  test('starts where it is told and adds event lengths', () => {
    const t = new SourcePositionTracker({ file: 'mysql-bin.000003', pos: 1000 });
    assert.deepEqual(t.position(), { file: 'mysql-bin.000003', pos: 1000 });
    t.advance(header(EventType.MARIA_GTID, 42, 1042));
    t.advance(header(EventType.QUERY, 80, 1122));
    t.advance(header(EventType.XID, 31, 1153));
    assert.deepEqual(t.position(), { file: 'mysql-bin.000003', pos: 1153 });
  });

  test('header end positions are not trusted (MariaDB 11.4+ writes 0 inside transactions)', () => {
    const t = new SourcePositionTracker({ file: 'b.000001', pos: 500 });
    t.advance(header(EventType.MARIA_GTID, 42, 0));
    t.advance(header(EventType.TABLE_MAP, 50, 0));
    t.advance(header(EventType.WRITE_ROWS_V1, 60, 0));
    t.advance(header(EventType.XID, 31, 683));
    assert.equal(t.pos, 683);
    // A wrong non-zero end position in a header is ignored too.
    t.advance(header(EventType.QUERY, 100, 12345));
    assert.equal(t.pos, 783);
  });

  test('position() returns a copy', () => {
    const t = new SourcePositionTracker({ file: 'b.000001', pos: 4 });
    const p = t.position();
    t.advance(header(EventType.QUERY, 100, 104));
    assert.deepEqual(p, { file: 'b.000001', pos: 4 });
  });

  test('the start object is not kept', () => {
    const start: SourcePosition = { file: 'b.000001', pos: 4 };
    const t = new SourcePositionTracker(start);
    t.advance(header(EventType.QUERY, 100, 104));
    assert.deepEqual(start, { file: 'b.000001', pos: 4 });
  });

  test('dump from position 4: fake Rotate, then the Format_description with its real end position', () => {
    const t = new SourcePositionTracker({ file: 'mysql-bin.000001', pos: 4 });
    t.advance(...rotate('mysql-bin.000001', 4, true));
    assert.deepEqual(t.position(), { file: 'mysql-bin.000001', pos: 4 });
    t.advance(header(EventType.FORMAT_DESCRIPTION, FDE_LENGTH, 4 + FDE_LENGTH));
    assert.equal(t.pos, 4 + FDE_LENGTH);
    t.advance(header(EventType.MARIA_GTID_LIST, 25, 4 + FDE_LENGTH + 25));
    t.advance(header(EventType.MARIA_BINLOG_CHECKPOINT, 39, 4 + FDE_LENGTH + 25 + 39));
    assert.equal(t.pos, 4 + FDE_LENGTH + 25 + 39);
  });

  test('dump from a later position: the re-sent Format_description (logPos 0) occupies nothing', () => {
    const t = new SourcePositionTracker({ file: 'mysql-bin.000002', pos: 1234 });
    t.advance(...rotate('mysql-bin.000002', 1234, true));
    assert.equal(t.pos, 1234);
    t.advance(header(EventType.FORMAT_DESCRIPTION, FDE_LENGTH, 0));
    assert.equal(t.pos, 1234);
    t.advance(header(EventType.MARIA_GTID, 42, 1276));
    assert.equal(t.pos, 1276);
  });

  test('a Format_description away from position 4 never moves the position, whatever its end position says', () => {
    const t = new SourcePositionTracker({ file: 'mysql-bin.000002', pos: 1234 });
    t.advance(header(EventType.FORMAT_DESCRIPTION, FDE_LENGTH, 4 + FDE_LENGTH));
    assert.equal(t.pos, 1234);
    t.advance(header(EventType.FORMAT_DESCRIPTION, FDE_LENGTH, 1234 + FDE_LENGTH));
    assert.equal(t.pos, 1234);
  });

  test("at position 4, the replica's own Format_description (logPos 0) occupies nothing", () => {
    const t = new SourcePositionTracker({ file: 'mysql-bin.000001', pos: 4 });
    t.advance(header(EventType.FORMAT_DESCRIPTION, 200, 0));
    assert.equal(t.pos, 4);
    // ...and the source's own one after it still counts.
    t.advance(header(EventType.FORMAT_DESCRIPTION, FDE_LENGTH, 4 + FDE_LENGTH));
    assert.equal(t.pos, 4 + FDE_LENGTH);
  });

  test('a Format_description at position 4 whose end position does not match its length occupies nothing', () => {
    const t = new SourcePositionTracker({ file: 'mysql-bin.000001', pos: 4 });
    t.advance(header(EventType.FORMAT_DESCRIPTION, FDE_LENGTH, 4 + FDE_LENGTH + 1));
    assert.equal(t.pos, 4);
  });

  test('other artificial events occupy nothing', () => {
    const t = new SourcePositionTracker({ file: 'b.000001', pos: 700 });
    t.advance(header(EventType.MARIA_GTID_LIST, 40, 0, LOG_EVENT_ARTIFICIAL_F));
    t.advance(header(EventType.QUERY, 40, 0, LOG_EVENT_ARTIFICIAL_F | 0x1));
    assert.equal(t.pos, 700);
    // Flags other than ARTIFICIAL do not matter.
    t.advance(header(EventType.QUERY, 40, 740, 0x1 | 0x8 | 0x40));
    assert.equal(t.pos, 740);
  });

  test('heartbeats are never in the binlog and occupy nothing', () => {
    // A Heartbeat carries flags 0 (not marked artificial) and logPos = end of the last event sent.
    const t = new SourcePositionTracker({ file: 'b.000001', pos: 700 });
    t.advance(header(EventType.HEARTBEAT, 19 + 10 + 4, 700));
    assert.equal(t.pos, 700, 'Heartbeat (27) moved the position');
    t.advance(header(EventType.HEARTBEAT_V2, 19 + 30 + 4, 0));
    assert.equal(t.pos, 700, 'Heartbeat_v2 (41) moved the position');
  });

  test('a real Rotate (flags 0) sets the position it names, not its own end', () => {
    const t = new SourcePositionTracker({ file: 'mysql-bin.000001', pos: 900 });
    t.advance(...rotate('mysql-bin.000002', 4, false));
    assert.deepEqual(t.position(), { file: 'mysql-bin.000002', pos: 4 });
  });

  test('FLUSH BINARY LOGS: real Rotate, fake Rotate, new FDE, Gtid_list, Binlog_checkpoint', () => {
    const t = new SourcePositionTracker({ file: 'mysql-bin.000001', pos: 4 });
    t.advance(...rotate('mysql-bin.000001', 4, true));
    t.advance(header(EventType.FORMAT_DESCRIPTION, FDE_LENGTH, 4 + FDE_LENGTH));
    t.advance(header(EventType.QUERY, 140, 4 + FDE_LENGTH + 140));
    t.advance(...rotate('mysql-bin.000002', 4, false));
    t.advance(...rotate('mysql-bin.000002', 4, true));
    assert.deepEqual(t.position(), { file: 'mysql-bin.000002', pos: 4 });
    t.advance(header(EventType.FORMAT_DESCRIPTION, FDE_LENGTH, 4 + FDE_LENGTH));
    t.advance(header(EventType.MARIA_GTID_LIST, 29, 4 + FDE_LENGTH + 29));
    t.advance(header(EventType.MARIA_BINLOG_CHECKPOINT, 39, 4 + FDE_LENGTH + 29 + 39));
    assert.deepEqual(t.position(), { file: 'mysql-bin.000002', pos: 4 + FDE_LENGTH + 29 + 39 });
  });

  test('a Rotate to a position > 4 (CHANGE MASTER / reconnect) is taken as it is', () => {
    const t = new SourcePositionTracker({ file: 'a.000001', pos: 4 });
    t.advance(...rotate('a.000007', 123456, true));
    assert.deepEqual(t.position(), { file: 'a.000007', pos: 123456 });
  });

  test('a Rotate must come decoded', () => {
    const t = new SourcePositionTracker({ file: 'a.000001', pos: 4 });
    assert.throws(() => t.advance(header(EventType.ROTATE, 40, 0, LOG_EVENT_ARTIFICIAL_F)), /Rotate event must be decoded/);
    assert.throws(() => t.advance(header(EventType.ROTATE, 40, 0), { type: 'xid', xid: 1n }), /Rotate/);
    assert.deepEqual(t.position(), { file: 'a.000001', pos: 4 });
  });

  test('a Rotate encoded by encodeRotate and decoded again moves the tracker', () => {
    const raw = encodeRotate({ serverId: 9, nextFile: 'src-bin.000012', position: 4242n, checksumAlg: 1 });
    const decoded = new BinlogDecoder().decode(raw);
    const t = new SourcePositionTracker({ file: 'src-bin.000001', pos: 4 });
    t.advance(decoded.header, decoded.event);
    assert.deepEqual(t.position(), { file: 'src-bin.000012', pos: 4242 });
  });
});

describe('compareSourcePositions', () => {
  const p = (file: string, pos: number): SourcePosition => ({ file, pos });
  const sign = (n: number) => Math.sign(n);

  test('same file: by position', () => {
    assert.equal(sign(compareSourcePositions(p('b.000001', 4), p('b.000001', 100))), -1);
    assert.equal(sign(compareSourcePositions(p('b.000001', 100), p('b.000001', 4))), 1);
    assert.equal(compareSourcePositions(p('b.000001', 100), p('b.000001', 100)), 0);
  });

  test('different files: by sequence number, whatever the positions', () => {
    assert.equal(sign(compareSourcePositions(p('b.000001', 99999), p('b.000002', 4))), -1);
    assert.equal(sign(compareSourcePositions(p('b.000002', 4), p('b.000001', 99999))), 1);
    assert.equal(sign(compareSourcePositions(p('b.000009', 4), p('b.000010', 4))), -1);
    // Past 999999 the number gets a seventh digit; string order would put it first.
    assert.equal(sign(compareSourcePositions(p('b.999999', 4), p('b.1000000', 4))), -1);
    assert.equal(sign(compareSourcePositions(p('b.1000000', 4), p('b.999999', 4))), 1);
  });

  test('a base name with dots: only the last part is the sequence', () => {
    assert.equal(sign(compareSourcePositions(p('my.host-bin.000002', 4), p('my.host-bin.000010', 4))), -1);
  });

  test('equal sequences of different base names are ordered, consistently', () => {
    const a = p('a-bin.000003', 4);
    const b = p('b-bin.000003', 4);
    assert.equal(sign(compareSourcePositions(a, b)), -sign(compareSourcePositions(b, a)));
    assert.notEqual(compareSourcePositions(a, b), 0);
  });

  test('sorts a shuffled list', () => {
    const sorted = [p('b.000001', 4), p('b.000001', 256), p('b.000001', 7000), p('b.000002', 4), p('b.000002', 300),
      p('b.000010', 4), p('b.000100', 120)];
    const shuffled = [sorted[5]!, sorted[0]!, sorted[6]!, sorted[3]!, sorted[1]!, sorted[4]!, sorted[2]!];
    assert.deepEqual(shuffled.sort(compareSourcePositions), sorted);
  });
});

describe('SourcePositionTracker on binlog files a real mariadbd wrote', () => {
  let server: TestServer;
  const files: { name: string; data: Buffer }[] = [];

  before(async () => {
    server = await startMariaDb({ serverId: 7101 });
    const conn = await server.connect();
    try {
      await conn.query('CREATE DATABASE d');
      await conn.query('CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v LONGBLOB)');
      await conn.query("INSERT INTO d.t (v) VALUES ('a'), ('b'), (REPEAT('x', 70000))");
      await conn.query('START TRANSACTION');
      for (let i = 0; i < 20; i++) await conn.query('INSERT INTO d.t (v) VALUES (?)', [Buffer.alloc(i * 500, i)]);
      await conn.query('UPDATE d.t SET v = CONCAT(v, v)');
      await conn.query('COMMIT');
      await conn.query('FLUSH BINARY LOGS');
      await conn.query('DELETE FROM d.t WHERE id % 2 = 0');
      await conn.query("SET SESSION binlog_format='STATEMENT'");
      await conn.query('INSERT INTO d.t (v) VALUES (RAND())');
      await conn.query('FLUSH BINARY LOGS');
      await conn.query('ALTER TABLE d.t ADD COLUMN w INT');
      await conn.query('INSERT INTO d.t (v, w) VALUES (NULL, 1)');
    } finally {
      await conn.end();
    }
    const index = await readFile(join(server.dataDir, 'mysql-bin.index'), 'utf8');
    const names = index.split('\n').filter(Boolean).map((line) => line.trim().replace(/^.*\//, ''));
    // The server writes a Binlog_checkpoint event into the newest file on its own, after the commits of the older
    // ones are durable, which can come after the last statement: the files are read once the newest names itself,
    // after which nothing more is written to them.
    const last = names.at(-1)!;
    const decoder = new BinlogDecoder();
    const checkpointed = (data: Buffer) => {
      try {
        return events(data).some(({ raw }) => {
          const { event } = decoder.decode(raw);
          return event.type === 'binlog_checkpoint' && event.logFile === last;
        });
      } catch {
        return false; // read while an event was half written
      }
    };
    for (let waited = 0; !checkpointed(await readFile(join(server.dataDir, last))); waited += 50) {
      assert.ok(waited < 10_000, `a Binlog_checkpoint naming ${last} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const name of names) files.push({ name, data: await readFile(join(server.dataDir, name)) });
  });

  after(async () => {
    await server?.destroy();
  });

  function events(data: Buffer): { pos: number; raw: Buffer }[] {
    const out: { pos: number; raw: Buffer }[] = [];
    for (let pos = 4; pos < data.length;) {
      const length = decodeHeader(data, pos).eventLength;
      out.push({ pos, raw: data.subarray(pos, pos + length) });
      pos += length;
    }
    return out;
  }

  test('the server wrote three files', () => {
    assert.equal(files.length, 3);
  });

  test('from position 4, every header end position equals the tracker, and the end is the file size', () => {
    for (const [i, { name, data }] of files.entries()) {
      const decoder = new BinlogDecoder();
      const t = new SourcePositionTracker({ file: name, pos: 4 });
      // What a dump from position 4 starts with.
      const fake = decoder.decode(encodeRotate({ serverId: 7101, nextFile: name, position: 4n, checksumAlg: 1 }));
      t.advance(fake.header, fake.event);
      let checked = 0;
      const list = events(data);
      for (const [j, { pos, raw }] of list.entries()) {
        assert.deepEqual(t.position(), { file: name, pos }, `${name}: event ${j} starts at ${pos}`);
        const { header, event } = decoder.decode(raw);
        t.advance(header, event);
        if (header.typeCode === EventType.ROTATE) {
          assert.equal(j, list.length - 1, 'a Rotate ends its file');
          assert.equal(pos + header.eventLength, data.length);
          assert.deepEqual(t.position(), { file: files[i + 1]!.name, pos: 4 });
          continue;
        }
        if (header.logPos !== 0) {
          assert.equal(t.pos, header.logPos, `${name}: header end position of event type ${header.typeCode} at ${pos}`);
          checked++;
        }
      }
      assert.ok(checked > 3);
      if (i === files.length - 1) assert.deepEqual(t.position(), { file: name, pos: data.length });
    }
  });

  test('from every event boundary, as a dump from there: fake Rotate, FDE with logPos 0, events', () => {
    for (const { name, data } of files) {
      const list = events(data);
      const fdeRaw = Buffer.from(list[0]!.raw);
      assert.equal(decodeHeader(fdeRaw).typeCode, EventType.FORMAT_DESCRIPTION);
      fdeRaw.writeUInt32LE(0, 13); // re-sent with logPos 0 (the checksum no longer matches; the tracker needs no body)
      for (const { pos } of list.slice(1)) {
        const t = new SourcePositionTracker({ file: 'elsewhere.000001', pos: 77 });
        const decoder = new BinlogDecoder();
        const fake = decoder.decode(encodeRotate({ serverId: 7101, nextFile: name, position: BigInt(pos), checksumAlg: 1 }));
        t.advance(fake.header, fake.event);
        t.advance(decodeHeader(fdeRaw));
        assert.deepEqual(t.position(), { file: name, pos });
        // Only a Rotate needs its body; a dump from the middle of a transaction has no Table_map to decode rows.
        for (const e of list) {
          if (e.pos < pos) continue;
          const header = decodeHeader(e.raw);
          if (header.typeCode === EventType.ROTATE) break;
          t.advance(header);
          assert.equal(t.pos, e.pos + e.raw.length);
        }
      }
    }
  });

  test('positions from the server agree: SHOW MASTER STATUS is the tracker end of the last file', async () => {
    const [status] = await server.sql('SHOW MASTER STATUS') as { File: string; Position: number }[];
    const last = files.at(-1)!;
    assert.equal(status!.File, last.name);
    const t = new SourcePositionTracker({ file: last.name, pos: 4 });
    const decoder = new BinlogDecoder();
    for (const { raw } of events(last.data)) {
      const { header, event } = decoder.decode(raw);
      t.advance(header, event);
    }
    assert.equal(t.pos, Number(status!.Position));
  });
});
