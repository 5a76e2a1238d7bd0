// RelayLog / RelayLogReader: files and index, rotation, purge, reset, space, the tail-following reader, crash
// recovery at open in bounded memory, a full disk, damage found by the reader and cutting the log there. Relay
// files are built from our own Format_description / Rotate and from the events of a binlog a real mariadbd
// wrote; mariadb-binlog must read the result.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, statfs, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinlogDecoder, crc32, decodeHeader, encodeFormatDescription, encodeRotate } from '../src/binlog/decoder.js';
import { BINLOG_MAGIC, EventType } from '../src/binlog/events.js';
import {
  RelayLog, RelayLogCorruptError, RelayLogCutError, scanRelayFile, type RelayEvent, type RelayLogOptions,
} from '../src/relaylog/relay-log.js';
import { fillDisk, freeBytes, mountSmallDisk, type SmallDisk } from './helpers/disk.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const run = promisify(execFile);

let server: TestServer;
let sourceFde: Buffer;
/** The source binlog's events after its Format_description, with CRC32. */
let sourceEvents: Buffer[] = [];
const dirs: string[] = [];

const ownFde = encodeFormatDescription({ serverId: 99, timestamp: 1_700_000_000, serverVersion: '10.11.0-tributary', checksumAlg: 1 });
const fakeRotate = (pos: bigint) => encodeRotate({ serverId: 7106, nextFile: 'mysql-bin.000001', position: pos, checksumAlg: 1 });

async function newDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-relay-test-'));
  dirs.push(dir);
  return dir;
}

const options = (dir: string, maxSize = 1 << 30): RelayLogOptions => ({ dir, baseName: 'relay-bin-ch', maxSize });
const header = () => [ownFde, fakeRotate(4n), sourceFde];

before(async () => {
  server = await startMariaDb({ serverId: 7106 });
  const conn = await server.connect();
  try {
    await conn.query('CREATE DATABASE d');
    await conn.query('CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v LONGBLOB)');
    for (let i = 0; i < 30; i++) await conn.query('INSERT INTO d.t (v) VALUES (?)', [Buffer.alloc(i * 97 + 1, i)]);
    await conn.query("UPDATE d.t SET v = REPEAT('z', 3000) WHERE id % 3 = 0");
    await conn.query('FLUSH BINARY LOGS');
  } finally {
    await conn.end();
  }
  const data = await readFile(join(server.dataDir, 'mysql-bin.000001'));
  const all: Buffer[] = [];
  for (let pos = 4; pos < data.length;) {
    const length = decodeHeader(data, pos).eventLength;
    all.push(data.subarray(pos, pos + length));
    pos += length;
  }
  sourceFde = all[0]!;
  sourceEvents = all.slice(1, -1); // without the FDE and the closing Rotate
  assert.equal(decodeHeader(sourceFde).typeCode, EventType.FORMAT_DESCRIPTION);
  assert.ok(sourceEvents.length > 50);
});

after(async () => {
  await server?.destroy();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function drain(reader: { tryNext(): Promise<RelayEvent | null> }): Promise<RelayEvent[]> {
  const out: RelayEvent[] = [];
  for (let e = await reader.tryNext(); e; e = await reader.tryNext()) out.push(e);
  return out;
}

describe('writer', () => {
  test('an empty directory: no files, no end, no space', async () => {
    const log = await RelayLog.open(options(await newDir()));
    assert.deepEqual(log.list(), []);
    assert.equal(log.end(), undefined);
    assert.equal(log.space(), 0);
    assert.equal(log.needsRotation(), false);
    await assert.rejects(log.append([sourceEvents[0]!]), /rotate\(\) first/);
    await log.close();
  });

  test('rotate, append: the file holds magic, header events and the events verbatim; the index lists it', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    assert.equal(await log.rotate(header()), 'relay-bin-ch.000001');
    const headerBytes = 4 + header().reduce((n, b) => n + b.length, 0);
    assert.deepEqual(log.end(), { file: 'relay-bin-ch.000001', pos: headerBytes });
    const first = await log.append(sourceEvents.slice(0, 10));
    const second = await log.append([sourceEvents[10]!]);
    const total = headerBytes + sourceEvents.slice(0, 11).reduce((n, b) => n + b.length, 0);
    assert.deepEqual(second, { file: 'relay-bin-ch.000001', pos: total });
    assert.equal(first.pos, total - sourceEvents[10]!.length);
    await log.sync();
    const data = await readFile(join(dir, 'relay-bin-ch.000001'));
    assert.ok(data.equals(Buffer.concat([BINLOG_MAGIC, ...header(), ...sourceEvents.slice(0, 11)])));
    assert.equal(log.size('relay-bin-ch.000001'), total);
    assert.equal(log.space(), total);
    assert.equal(await readFile(join(dir, 'relay-bin-ch.index'), 'utf8'), './relay-bin-ch.000001\n');
    await log.close();
  });

  test('rotation: numbering, the index, needsRotation at max size, space over all files', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir, 2000));
    await log.rotate(header());
    let files = 1;
    for (const event of sourceEvents) {
      if (log.needsRotation()) {
        assert.ok(log.end()!.pos >= 2000);
        await log.rotate(header());
        files++;
      }
      await log.append([event]);
    }
    assert.ok(files >= 3);
    const names = Array.from({ length: files }, (_, i) => `relay-bin-ch.${String(i + 1).padStart(6, '0')}`);
    assert.deepEqual(log.list(), names);
    assert.equal(await readFile(join(dir, 'relay-bin-ch.index'), 'utf8'), names.map((n) => `./${n}\n`).join(''));
    let space = 0;
    for (const name of names) space += (await stat(join(dir, name))).size;
    assert.equal(log.space(), space);
    await log.close();
  });

  test('mariadb-binlog reads a relay log file', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.append(sourceEvents);
    await log.close();
    const { stdout } = await run('mariadb-binlog', ['-v', join(dir, 'relay-bin-ch.000001')], { maxBuffer: 64 << 20 });
    assert.match(stdout, /CREATE TABLE d\.t/);
    assert.equal(stdout.match(/### INSERT INTO `d`\.`t`/g)?.length, 30);
    assert.match(stdout, /End of log file/);
  });

  test('purgeBefore deletes the earlier files and rewrites the index; unknown names do nothing', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    for (let i = 0; i < 4; i++) {
      await log.rotate(header());
      await log.append(sourceEvents.slice(i * 5, i * 5 + 5));
    }
    const spaceBefore = log.space();
    const size1 = log.size('relay-bin-ch.000001')!;
    const size2 = log.size('relay-bin-ch.000002')!;
    await log.purgeBefore('relay-bin-ch.000003');
    assert.deepEqual(log.list(), ['relay-bin-ch.000003', 'relay-bin-ch.000004']);
    assert.equal(log.space(), spaceBefore - size1 - size2);
    assert.equal(log.size('relay-bin-ch.000001'), undefined);
    assert.deepEqual((await readdir(dir)).sort(), ['relay-bin-ch.000003', 'relay-bin-ch.000004', 'relay-bin-ch.index']);
    assert.equal(await readFile(join(dir, 'relay-bin-ch.index'), 'utf8'), './relay-bin-ch.000003\n./relay-bin-ch.000004\n');
    await log.purgeBefore('relay-bin-ch.000099');
    await log.purgeBefore('relay-bin-ch.000003');
    assert.deepEqual(log.list(), ['relay-bin-ch.000003', 'relay-bin-ch.000004']);
    // Numbering goes on after a purge.
    assert.equal(await log.rotate(header()), 'relay-bin-ch.000005');
    await log.close();
  });

  test('reset deletes every file and the index; numbering starts again', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.rotate(header());
    await log.reset();
    assert.deepEqual(await readdir(dir), []);
    assert.deepEqual(log.list(), []);
    assert.equal(log.space(), 0);
    assert.equal(await log.rotate(header()), 'relay-bin-ch.000001');
    await log.close();
  });

  test('reopen: files, sizes and numbering come back from the index', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.append(sourceEvents.slice(0, 7));
    await log.rotate(header());
    await log.append(sourceEvents.slice(7, 9));
    const end = log.end();
    const space = log.space();
    await log.close();
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.list(), ['relay-bin-ch.000001', 'relay-bin-ch.000002']);
    assert.deepEqual(again.end(), end);
    assert.equal(again.space(), space);
    assert.equal(await again.rotate(header()), 'relay-bin-ch.000003');
    await again.close();
  });

  test('the index format: ./name lines, also names without ./, CRLF and blank lines', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.rotate(header());
    await log.close();
    await writeFile(join(dir, 'relay-bin-ch.index'), './relay-bin-ch.000001\r\n\nrelay-bin-ch.000002\r\n');
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.list(), ['relay-bin-ch.000001', 'relay-bin-ch.000002']);
    await again.close();
  });
});

describe('crash recovery at open', () => {
  async function written(events = sourceEvents.slice(0, 20)): Promise<{ dir: string; path: string; ends: number[] }> {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    const ends: number[] = [];
    for (const e of events) ends.push((await log.append([e])).pos);
    await log.close();
    return { dir, path: join(dir, 'relay-bin-ch.000001'), ends };
  }

  test('a whole file is left as it is', async () => {
    const { dir, path, ends } = await written();
    const log = await RelayLog.open(options(dir));
    assert.equal(log.end()!.pos, ends.at(-1));
    assert.equal((await stat(path)).size, ends.at(-1));
  });

  test('a last event cut in its body is cut off, on disk too', async () => {
    const { dir, path, ends } = await written();
    for (const cut of [ends.at(-1)! - 1, ends.at(-2)! + 20, ends.at(-2)! + 19]) {
      await truncate(path, cut);
      const log = await RelayLog.open(options(dir));
      assert.equal(log.end()!.pos, ends.at(-2), `cut at ${cut}`);
      assert.equal((await stat(path)).size, ends.at(-2));
      await log.close();
      const full = await written();
      await writeFile(path, await readFile(full.path));
    }
  });

  test('a last event cut in its header is cut off', async () => {
    const { dir, path, ends } = await written();
    await truncate(path, ends.at(-2)! + 7);
    const log = await RelayLog.open(options(dir));
    assert.equal(log.end()!.pos, ends.at(-2));
    assert.equal((await stat(path)).size, ends.at(-2));
  });

  test('a last event whose last bytes are garbage (CRC32 fails) is cut off', async () => {
    const { dir, path, ends } = await written();
    const data = await readFile(path);
    data.fill(0, data.length - 6);
    await writeFile(path, data);
    const log = await RelayLog.open(options(dir));
    assert.equal(log.end()!.pos, ends.at(-2));
    assert.equal((await stat(path)).size, ends.at(-2));
  });

  test('garbage in an event before the last is not the last event: only the tail is judged', async () => {
    // Zeros where the header of the last event should be: the walk stops there, the event before is checked.
    const { dir, path, ends } = await written();
    const data = await readFile(path);
    data.fill(0, ends.at(-3)! - 4, ends.at(-1)!);
    await writeFile(path, data);
    const log = await RelayLog.open(options(dir));
    assert.equal(log.end()!.pos, ends.at(-4));
  });

  test('after a cut, appending continues at the cut and readers see whole events only', async () => {
    const { dir, path, ends } = await written();
    await truncate(path, ends.at(-1)! - 3);
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.append([sourceEvents[19]!]);
    const events = await drain(log.reader({ file: 'relay-bin-ch.000001', pos: 4 }));
    assert.deepEqual(events.map((e) => e.raw.length), [...header(), ...sourceEvents.slice(0, 19), ...header(), sourceEvents[19]!]
      .map((b) => b.length));
    const decoder = new BinlogDecoder();
    for (const e of events) decoder.decode(e.raw);
    await log.close();
  });

  test('a last file with a cut Format_description keeps only the magic', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.rotate([ownFde]);
    await log.close();
    const path = join(dir, 'relay-bin-ch.000002');
    await truncate(path, 4 + ownFde.length - 2);
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.end(), { file: 'relay-bin-ch.000002', pos: 4 });
  });

  test('a last file whose Format_description has garbage in its last bytes is cut, open does not fail', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.rotate([ownFde]);
    await log.close();
    const path = join(dir, 'relay-bin-ch.000002');
    const data = await readFile(path);
    data.fill(0, data.length - 3);
    await writeFile(path, data);
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.end(), { file: 'relay-bin-ch.000002', pos: 4 });
  });

  test('a last file without even the magic is dropped', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.rotate(header());
    await log.close();
    await truncate(join(dir, 'relay-bin-ch.000002'), 2);
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.list(), ['relay-bin-ch.000001']);
    assert.equal(await readFile(join(dir, 'relay-bin-ch.index'), 'utf8'), './relay-bin-ch.000001\n');
    assert.equal(await again.rotate(header()), 'relay-bin-ch.000002');
    await again.close();
  });

  test('a file missing from the disk is dropped from the index; a reader there fails loudly', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    for (let i = 0; i < 3; i++) await log.rotate(header());
    await log.close();
    await rm(join(dir, 'relay-bin-ch.000002'));
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.list(), ['relay-bin-ch.000001', 'relay-bin-ch.000003']);
    assert.equal(await readFile(join(dir, 'relay-bin-ch.index'), 'utf8'), './relay-bin-ch.000001\n./relay-bin-ch.000003\n');
    const reader = again.reader({ file: 'relay-bin-ch.000002', pos: 4 });
    await assert.rejects(reader.tryNext(), /relay-bin-ch\.000002 is not in the relay log index/);
  });
});

describe('reader', () => {
  test('reads every event of every file in order, with file, start and end positions', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir, 3000));
    await log.rotate(header());
    const expected: { file: string; raw: Buffer }[] = header().map((raw) => ({ file: 'relay-bin-ch.000001', raw }));
    for (const event of sourceEvents) {
      if (log.needsRotation()) {
        const file = await log.rotate(header());
        for (const raw of header()) expected.push({ file, raw });
      }
      await log.append([event]);
      expected.push({ file: log.end()!.file, raw: event });
    }
    const reader = log.reader({ file: 'relay-bin-ch.000001', pos: 4 });
    const got = await drain(reader);
    assert.equal(got.length, expected.length);
    const at = new Map<string, number>();
    for (const [i, e] of got.entries()) {
      assert.equal(e.file, expected[i]!.file);
      assert.ok(e.raw.equals(expected[i]!.raw), `event ${i}`);
      assert.equal(e.pos, at.get(e.file) ?? 4);
      assert.equal(e.endPos, e.pos + e.raw.length);
      at.set(e.file, e.endPos);
    }
    assert.deepEqual(reader.position(), log.end());
    assert.equal(await reader.tryNext(), null);
    await reader.close();
    await log.close();
  });

  test('starts at a position inside a file', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    const { pos } = await log.append(sourceEvents.slice(0, 5));
    await log.append(sourceEvents.slice(5, 8));
    const got = await drain(log.reader({ file: 'relay-bin-ch.000001', pos }));
    assert.deepEqual(got.map((e) => e.raw), sourceEvents.slice(5, 8));
    await log.close();
  });

  test('large events (over the read chunk) come whole', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    const big = Buffer.alloc(3 << 20, 0x61);
    big.writeUInt32LE(big.length, 9);
    big[4] = EventType.IGNORABLE;
    await log.append([sourceEvents[0]!, big, sourceEvents[1]!]);
    const got = await drain(log.reader({ file: 'relay-bin-ch.000001', pos: 4 }));
    assert.deepEqual(got.slice(-3).map((e) => e.raw.length), [sourceEvents[0]!.length, big.length, sourceEvents[1]!.length]);
    assert.ok(got.at(-2)!.raw.equals(big));
    await log.close();
  });

  test('next() waits for the writer: appends and rotations wake it', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    const reader = log.reader({ file: 'relay-bin-ch.000001', pos: 4 });
    assert.equal((await drain(reader)).length, header().length);
    let settled = false;
    const pending = reader.next().then((e) => {
      settled = true;
      return e;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, false);
    await log.append([sourceEvents[0]!]);
    const e = await pending;
    assert.ok(e!.raw.equals(sourceEvents[0]!));
    // Across a rotation.
    const next = reader.next();
    await new Promise((r) => setTimeout(r, 20));
    await log.rotate(header());
    const first = await next;
    assert.equal(first!.file, 'relay-bin-ch.000002');
    assert.equal(first!.pos, 4);
    await reader.close();
    await log.close();
  });

  test('next() follows a writer appending concurrently, event by event, without losing a wake-up', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir, 4000));
    await log.rotate(header());
    const reader = log.reader({ file: 'relay-bin-ch.000001', pos: 4 });
    const writer = (async () => {
      for (const event of sourceEvents) {
        if (log.needsRotation()) await log.rotate(header());
        await log.append([event]);
        if (Math.random() < 0.3) await new Promise((r) => setImmediate(r));
      }
    })();
    const got: Buffer[] = [];
    const timeout = AbortSignal.timeout(10_000);
    while (got.length < sourceEvents.length) {
      const e = await reader.next(timeout);
      assert.ok(e, 'the reader stopped waiting (timeout)');
      if (decodeHeader(e.raw).serverId !== 7106 || e.raw.equals(sourceFde) || e.raw.equals(fakeRotate(4n))) continue;
      got.push(e.raw);
    }
    await writer;
    assert.deepEqual(got, sourceEvents);
    await reader.close();
    await log.close();
  });

  test('next() returns null when the signal aborts, also when aborted already', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    const reader = log.reader(log.end()!);
    const controller = new AbortController();
    const pending = reader.next(controller.signal);
    setTimeout(() => controller.abort(), 20);
    assert.equal(await pending, null);
    assert.equal(await reader.next(controller.signal), null);
    assert.equal(log.listenerCount('grow'), 0, 'the aborted wait left a listener behind');
    await log.close();
  });

  test('a reader at the file the writer will create next waits for it', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    const reader = log.reader({ file: 'relay-bin-ch.000002', pos: 4 });
    assert.equal(await reader.tryNext(), null);
    const pending = reader.next(AbortSignal.timeout(5000));
    await new Promise((r) => setTimeout(r, 20));
    await log.rotate([ownFde]);
    const e = await pending;
    assert.ok(e!.raw.equals(ownFde));
    await log.close();
  });

  test('a corrupt event length is an error naming the file and position', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate([ownFde]);
    const bad = Buffer.from(sourceEvents[0]!);
    bad.writeUInt32LE(5, 9);
    await log.append([bad]);
    const reader = log.reader({ file: 'relay-bin-ch.000001', pos: 4 + ownFde.length });
    await assert.rejects(reader.tryNext(), new RegExp(`relay-bin-ch\\.000001 is corrupt at position ${4 + ownFde.length}`));
    await log.close();
  });
});

/** An event the SQL stage skips (Ignorable, LOG_EVENT_IGNORABLE_F) of `length` bytes, CRC32 included. */
function ignorableEvent(length: number, fill = 0x61): Buffer {
  const event = Buffer.alloc(length, fill);
  event.writeUInt32LE(1_700_000_000, 0);
  event[4] = EventType.IGNORABLE;
  event.writeUInt32LE(7106, 5);
  event.writeUInt32LE(length, 9);
  event.writeUInt32LE(0, 13);
  event.writeUInt16LE(0x80, 17);
  event.writeUInt32LE(crc32(event.subarray(0, length - 4)), length - 4);
  return event;
}

/** The most the process's buffers and resident memory grew above where they were while `work` ran. */
async function memoryGrowth(work: () => Promise<void>): Promise<{ arrayBuffers: number; rss: number }> {
  const base = process.memoryUsage();
  const peak = { arrayBuffers: 0, rss: 0 };
  const sample = () => {
    const now = process.memoryUsage();
    peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers - base.arrayBuffers);
    peak.rss = Math.max(peak.rss, now.rss - base.rss);
  };
  const timer = setInterval(sample, 1);
  try {
    await work();
  } finally {
    clearInterval(timer);
    sample();
  }
  return peak;
}

describe('opening a large relay log reads its tail', () => {
  test('a 450 MB file opens, is checked and scanned with a few MiB of memory', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.close();
    const path = join(dir, 'relay-bin-ch.000001');
    // Events larger than a read chunk, so the last one's CRC32 is computed over more than one read.
    const event = ignorableEvent(1536 << 10);
    const handle = await open(path, 'a');
    for (let i = 0; i < 300; i++) await handle.write(event);
    await handle.close();
    const size = (await stat(path)).size;
    assert.ok(size > 450e6);
    const bound = 16 << 20;

    let opened: RelayLog | undefined;
    const atOpen = await memoryGrowth(async () => {
      opened = await RelayLog.open(options(dir));
    });
    assert.deepEqual(opened!.end(), { file: 'relay-bin-ch.000001', pos: size });
    assert.ok(atOpen.arrayBuffers < bound && atOpen.rss < bound,
      `open grew buffers by ${atOpen.arrayBuffers} and RSS by ${atOpen.rss} bytes for a ${size}-byte file`);
    const atScan = await memoryGrowth(async () => {
      const { source } = await scanRelayFile(opened!, 'relay-bin-ch.000001');
      // The source's Format_description at its position 4, then the events, all in the source's binlog.
      assert.deepEqual(source, { file: 'mysql-bin.000001', pos: 4 + sourceFde.length + 300 * event.length });
    });
    assert.ok(atScan.arrayBuffers < bound && atScan.rss < bound,
      `scan grew buffers by ${atScan.arrayBuffers} and RSS by ${atScan.rss} bytes for a ${size}-byte file`);
    await opened!.close();

    // A byte of the last event's body flipped: the event is cut off, the one before stays.
    const flip = await open(path, 'r+');
    await flip.write(Buffer.from([0x62]), 0, 1, size - event.length + 1_200_000);
    await flip.close();
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.end(), { file: 'relay-bin-ch.000001', pos: size - event.length });
    await again.close();
    await rm(path);
  });
});

describe('a full disk', () => {
  let disk: SmallDisk | string;
  before(async () => {
    disk = await mountSmallDisk(1 << 20);
  });
  after(async () => {
    if (typeof disk !== 'string') await disk.unmount();
  });
  /** A relay log on the small disk with one file (header and 10 events); skips when there is no small disk. */
  async function onSmallDisk(t: { skip(reason: string): void }, name: string): Promise<{ dir: string; log: RelayLog } | undefined> {
    if (typeof disk === 'string') {
      t.skip(disk);
      return undefined;
    }
    const dir = join(disk.dir, name);
    await mkdir(dir);
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    await log.append(sourceEvents.slice(0, 10));
    return { dir, log };
  }

  test('a failed append leaves only whole events on disk and is repeated at the same position', async (t) => {
    const made = await onSmallDisk(t, 'append');
    if (!made) return;
    const { dir, log } = made;
    const end = log.end()!;
    const big = ignorableEvent(64 << 10);
    const filler = await fillDisk((disk as SmallDisk).dir, 16 << 10);
    await assert.rejects(log.append([sourceEvents[10]!, big]), { code: 'ENOSPC' });
    assert.deepEqual(log.end(), end);
    assert.equal((await stat(join(dir, end.file))).size, end.pos, 'the part written was not cut back');
    await unlink(filler);
    assert.deepEqual(await log.append([sourceEvents[10]!, big]), { file: end.file, pos: end.pos + sourceEvents[10]!.length + big.length });
    const events = await drain(log.reader({ file: end.file, pos: 4 }));
    assert.deepEqual(events.slice(-2).map((e) => e.raw), [sourceEvents[10]!, big]);
    await log.close();
  });

  test('a failed rotation leaves no file and the index as it was; repeated, it numbers on', async (t) => {
    const made = await onSmallDisk(t, 'rotate');
    if (!made) return;
    const { dir, log } = made;
    const index = await readFile(log.indexPath, 'utf8');
    const filler = await fillDisk((disk as SmallDisk).dir);
    await assert.rejects(log.rotate(header()), { code: 'ENOSPC' });
    assert.deepEqual(log.list(), ['relay-bin-ch.000001']);
    assert.deepEqual((await readdir(dir)).sort(), ['relay-bin-ch.000001', 'relay-bin-ch.index']);
    assert.equal(await readFile(log.indexPath, 'utf8'), index);
    await unlink(filler);
    assert.equal(await log.rotate(header()), 'relay-bin-ch.000002');
    await log.close();
  });

  test('a rotation that fails writing the index is never seen by a reader, which reads on once it is repeated', async (t) => {
    const made = await onSmallDisk(t, 'rotate-index');
    if (!made) return;
    const { log } = made;
    const reader = log.reader({ file: 'relay-bin-ch.000001', pos: 4 });
    await drain(reader);
    // Room for the new file's header and none for the index rewritten after it.
    const page = (await statfs((disk as SmallDisk).dir)).bsize;
    const filler = await fillDisk((disk as SmallDisk).dir, page);
    assert.equal(await freeBytes((disk as SmallDisk).dir), page);
    let settled = false;
    const rotation = log.rotate(header());
    void rotation.then(() => undefined, () => undefined).then(() => {
      settled = true;
    });
    const seen: RelayEvent[] = [];
    while (!settled) {
      const event = await reader.tryNext();
      if (event) seen.push(event);
      await new Promise((r) => setImmediate(r));
    }
    await assert.rejects(rotation, { code: 'ENOSPC' });
    assert.deepEqual(seen, []);
    await unlink(filler);
    assert.equal(await log.rotate(header()), 'relay-bin-ch.000002');
    await log.append(sourceEvents.slice(10, 12));
    const expected = await drain(log.reader({ file: 'relay-bin-ch.000002', pos: 4 }));
    assert.deepEqual(await drain(reader), expected);
    await log.close();
  });

  test('purging needs no space: on a full disk the files go and the index follows', async (t) => {
    const made = await onSmallDisk(t, 'purge');
    if (!made) return;
    const { dir, log } = made;
    for (let i = 0; i < 3; i++) {
      await log.rotate(header());
      await log.append(sourceEvents.slice(10 + i * 5, 15 + i * 5));
    }
    const filler = await fillDisk((disk as SmallDisk).dir);
    await log.purgeBefore('relay-bin-ch.000003');
    assert.deepEqual(log.list(), ['relay-bin-ch.000003', 'relay-bin-ch.000004']);
    assert.deepEqual((await readdir(dir)).sort(), ['relay-bin-ch.000003', 'relay-bin-ch.000004', 'relay-bin-ch.index']);
    await log.close();
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.list(), ['relay-bin-ch.000003', 'relay-bin-ch.000004']);
    await again.close();
    await unlink(filler);
  });
});

describe('damage and cuts', () => {
  /** A relay log of three files, ten source events each after the header; returns the events' end positions. */
  async function threeFiles(): Promise<{ dir: string; log: RelayLog; ends: number[][] }> {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    const ends: number[][] = [];
    for (let f = 0; f < 3; f++) {
      await log.rotate(header());
      const fileEnds: number[] = [];
      for (const e of sourceEvents.slice(f * 10, f * 10 + 10)) fileEnds.push((await log.append([e])).pos);
      ends.push(fileEnds);
    }
    return { dir, log, ends };
  }

  test('a torn event in a file before the last is an error at its start, not a wait', async () => {
    const { dir, log, ends } = await threeFiles();
    await log.close();
    const path = join(dir, 'relay-bin-ch.000002');
    const torn = ends[1]!.at(-3)!;
    // Cut in the body, then in the header.
    for (const [cut, reason] of [[torn + 25, /runs past the end of the file/],
      [torn + 7, /7 bytes at the end of the file, fewer than an event header/]] as const) {
      await truncate(path, cut);
      const again = await RelayLog.open(options(dir));
      const reader = again.reader({ file: 'relay-bin-ch.000002', pos: ends[1]![0]! });
      await assert.rejects(drain(reader), (err: unknown) =>
        err instanceof RelayLogCorruptError && err.file === 'relay-bin-ch.000002' && err.pos === torn &&
        err.errno === 1594 && reason.test(err.message));
      await reader.close();
      await again.close();
    }
  });

  test('a partial event with garbage after it: an error at the partial event', async () => {
    const dir = await newDir();
    const log = await RelayLog.open(options(dir));
    await log.rotate(header());
    const { pos: start } = await log.append(sourceEvents.slice(0, 5));
    await log.append([ignorableEvent(4096), ...sourceEvents.slice(5, 10)]);
    await log.rotate(header());
    await log.close();
    const path = join(dir, 'relay-bin-ch.000001');
    const data = await readFile(path);
    await writeFile(path, Buffer.concat([data.subarray(0, start + 30), Buffer.alloc(500, 0xee)]));
    const again = await RelayLog.open(options(dir));
    const reader = again.reader({ file: 'relay-bin-ch.000001', pos: 4 });
    await assert.rejects(drain(reader), (err: unknown) => err instanceof RelayLogCorruptError && err.pos === start);
    await reader.close();
    await again.close();
  });

  test('a file that does not start with the magic number is an error at position 0', async () => {
    const { dir, log } = await threeFiles();
    await log.close();
    const handle = await open(join(dir, 'relay-bin-ch.000002'), 'r+');
    await handle.write(Buffer.from('junk'), 0, 4, 0);
    await handle.close();
    const again = await RelayLog.open(options(dir));
    await assert.rejects(drain(again.reader({ file: 'relay-bin-ch.000001', pos: 4 })),
      (err: unknown) => err instanceof RelayLogCorruptError && err.file === 'relay-bin-ch.000002' && err.pos === 0);
    await again.close();
  });

  test('cutAt: later files go, the file is cut, a writer from before cannot write, open sees the cut', async () => {
    const { dir, log, ends } = await threeFiles();
    const epoch = log.epoch;
    const cuts: unknown[] = [];
    log.on('cut', (resume) => cuts.push(resume));
    const resume = { file: 'mysql-bin.000001', pos: 4242 };
    await log.cutAt({ file: 'relay-bin-ch.000002', pos: ends[1]![4]! }, resume);
    assert.deepEqual(log.list(), ['relay-bin-ch.000001', 'relay-bin-ch.000002']);
    assert.deepEqual(log.end(), { file: 'relay-bin-ch.000002', pos: ends[1]![4]! });
    assert.equal((await stat(join(dir, 'relay-bin-ch.000002'))).size, ends[1]![4]!);
    assert.deepEqual((await readdir(dir)).sort(), ['relay-bin-ch.000001', 'relay-bin-ch.000002', 'relay-bin-ch.index']);
    assert.equal(await readFile(log.indexPath, 'utf8'), './relay-bin-ch.000001\n./relay-bin-ch.000002\n');
    assert.deepEqual(cuts, [resume]);
    assert.deepEqual(log.resumePosition, resume);
    assert.notEqual(log.epoch, epoch);
    await assert.rejects(log.rotate(header(), epoch), RelayLogCutError);
    await assert.rejects(log.append([sourceEvents[0]!], epoch), RelayLogCutError);
    // A reader at the cut goes on into the file written next.
    const reader = log.reader({ file: 'relay-bin-ch.000002', pos: ends[1]![4]! });
    assert.equal(await reader.tryNext(), null);
    assert.equal(await log.rotate(header()), 'relay-bin-ch.000003');
    await log.append([sourceEvents[29]!]);
    assert.deepEqual((await drain(reader)).map((e) => e.raw), [...header(), sourceEvents[29]!]);
    await reader.close();
    await log.close();
    const again = await RelayLog.open(options(dir));
    assert.deepEqual(again.list(), ['relay-bin-ch.000001', 'relay-bin-ch.000002', 'relay-bin-ch.000003']);
    await again.close();
  });

  test('cutAt the head of a file keeps a new magic number only', async () => {
    const { dir, log } = await threeFiles();
    await log.cutAt({ file: 'relay-bin-ch.000003', pos: 0 }, { file: 'mysql-bin.000001', pos: 4 });
    assert.deepEqual(log.end(), { file: 'relay-bin-ch.000003', pos: 4 });
    assert.ok((await readFile(join(dir, 'relay-bin-ch.000003'))).equals(BINLOG_MAGIC));
    await log.close();
  });
});
