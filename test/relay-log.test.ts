// RelayLog / RelayLogReader: files and index, rotation, purge, reset, space, the tail-following reader, and crash
// recovery at open. Relay files are built from our own Format_description / Rotate and from the events of a
// binlog a real mariadbd wrote; mariadb-binlog must read the result.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinlogDecoder, decodeHeader, encodeFormatDescription, encodeRotate } from '../src/binlog/decoder.js';
import { BINLOG_MAGIC, EventType } from '../src/binlog/events.js';
import { RelayLog, type RelayEvent, type RelayLogOptions } from '../src/relaylog/relay-log.js';
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
