import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { BinlogDump, SourceError, type DumpRequest } from '../src/protocol/index.js';

const ROTATE = 4;
const FORMAT_DESCRIPTION = 15;
const HEARTBEAT = 27;
const ARTIFICIAL = 0x20;

const type = (ev: Buffer) => ev[4]!;
const logPos = (ev: Buffer) => ev.readUInt32LE(13);
const flags = (ev: Buffer) => ev.readUInt16LE(17);

let source: TestServer;

function request(extra: Partial<DumpRequest> = {}): DumpRequest {
  return {
    host: source.host, port: source.port, user: source.user, password: source.password, replicaServerId: 901,
    file: 'mysql-bin.000001', position: 4, heartbeatPeriodSeconds: 0, netTimeoutSeconds: 30, ...extra,
  };
}

/** Reads events until one matches, returning all read (the match last). */
async function readUntil(dump: BinlogDump, stop: (ev: Buffer) => boolean): Promise<Buffer[]> {
  const events: Buffer[] = [];
  for (;;) {
    const ev = await dump.next();
    assert.ok(ev, 'dump ended early');
    events.push(ev);
    if (stop(ev)) return events;
  }
}

before(async () => {
  source = await startMariaDb({ serverId: 71 });
  await source.sql(
    'CREATE DATABASE d',
    'CREATE TABLE d.t (id INT PRIMARY KEY, v LONGBLOB)',
    "INSERT INTO d.t VALUES (1, 'one'), (2, REPEAT('x', 70000))",
    "UPDATE d.t SET v = 'uno' WHERE id = 1",
    'DELETE FROM d.t WHERE id = 2',
    'FLUSH BINARY LOGS',
  );
});

after(async () => {
  await source?.destroy();
});

test('a closed binlog file arrives byte for byte, behind a fake Rotate', async () => {
  const file = await readFile(join(source.dataDir, 'mysql-bin.000001'));
  const dump = await BinlogDump.open(request());
  try {
    assert.equal(dump.source.serverId, 71);
    assert.equal(dump.source.flavor, 'mariadb');
    assert.equal(dump.source.checksumAlg, 1);
    const [fake, ...events] = await readUntil(dump, (ev) => type(ev) === ROTATE && flags(ev) === 0);
    assert.equal(type(fake!), ROTATE);
    assert.equal(flags(fake!) & ARTIFICIAL, ARTIFICIAL);
    assert.equal(logPos(fake!), 0);
    assert.equal(fake!.readUInt32LE(0), 0, 'fake Rotate timestamp');
    assert.equal(fake!.readBigUInt64LE(19), 4n);
    assert.equal(fake!.toString('latin1', 27, fake!.length - 4), 'mysql-bin.000001');
    assert.equal(type(events[0]!), FORMAT_DESCRIPTION);
    let position = 4;
    for (const ev of events) {
      assert.deepEqual(ev, file.subarray(position, position + ev.length), `event at ${position}`);
      position += ev.length;
      assert.equal(logPos(ev), position);
    }
    assert.equal(position, file.length, 'the whole file arrived, ending with its Rotate');
  } finally {
    dump.close();
  }
});

test('a dump from the middle of a file: fake Rotate, Format_description with logPos 0, then the events', async () => {
  const file = await readFile(join(source.dataDir, 'mysql-bin.000001'));
  const events: Array<{ Pos: number; Event_type: string }> = await source.sql("SHOW BINLOG EVENTS IN 'mysql-bin.000001'");
  const start = events.find((e) => e.Event_type === 'Table_map')!.Pos;
  const dump = await BinlogDump.open(request({ position: start }));
  try {
    const fake = (await dump.next())!;
    assert.equal(type(fake), ROTATE);
    assert.equal(flags(fake) & ARTIFICIAL, ARTIFICIAL);
    assert.equal(fake.readBigUInt64LE(19), BigInt(start));
    const fde = (await dump.next())!;
    assert.equal(type(fde), FORMAT_DESCRIPTION);
    assert.equal(logPos(fde), 0);
    const stored = file.subarray(4, 4 + fde.length);
    assert.deepEqual(fde.subarray(19, 19 + 2 + 50), stored.subarray(19, 19 + 2 + 50), 'same binlog and server version');
    let position = start;
    const rest = await readUntil(dump, (ev) => type(ev) === ROTATE);
    for (const ev of rest) {
      assert.deepEqual(ev, file.subarray(position, position + ev.length), `event at ${position}`);
      position += ev.length;
    }
    assert.equal(position, file.length);
  } finally {
    dump.close();
  }
});

test('a missing binlog file is error 1236, not retryable, with the source message', async () => {
  await assert.rejects(
    async () => {
      const dump = await BinlogDump.open(request({ file: 'mysql-bin.999999' }));
      try {
        await dump.next(); // the fake Rotate, if the source sends one first
        for (;;) await dump.next();
      } finally {
        dump.close();
      }
    },
    (err: unknown) => {
      assert.ok(err instanceof SourceError);
      assert.equal(err.errno, 1236);
      assert.equal(err.retryable, false);
      assert.match(err.message, /Could not find first log file name in binary log index file/);
      return true;
    },
  );
});

test('heartbeats arrive from an idle source; close() ends a pending next() with null', async () => {
  const dump = await BinlogDump.open(request({ file: 'mysql-bin.000002', heartbeatPeriodSeconds: 1, netTimeoutSeconds: 5 }));
  try {
    const started = Date.now();
    const heartbeats: Buffer[] = [];
    while (heartbeats.length < 2) {
      const ev = (await dump.next())!;
      if (type(ev) === HEARTBEAT) heartbeats.push(ev);
    }
    assert.ok(Date.now() - started < 4000, 'two heartbeats within 4 s at a 1 s period');
    const hb = heartbeats[1]!;
    assert.equal(hb.readUInt32LE(0), 0);
    assert.equal(hb.toString('latin1', 19, hb.length - 4), 'mysql-bin.000002');
    const pending = dump.next();
    const [status] = await source.sql('SHOW MASTER STATUS');
    assert.equal(logPos(hb), Number(status.Position));
    dump.close();
    dump.close();
    const rest = await pending;
    // a heartbeat may have been queued in between; after close() nothing more comes
    assert.ok(rest === null || type(rest) === HEARTBEAT);
    assert.equal(await dump.next(), null);
  } finally {
    dump.close();
  }
});

test('a 20 MiB row event arrives whole, and a slow consumer still gets every event', async () => {
  await source.sql('SET GLOBAL max_allowed_packet = 64 * 1024 * 1024');
  const [status] = await source.sql('SHOW MASTER STATUS');
  const big = 20 * 1024 * 1024;
  await source.sql(
    `INSERT INTO d.t VALUES (3, REPEAT('y', ${big}))`,
    ...Array.from({ length: 200 }, (_, i) => `INSERT INTO d.t VALUES (${100 + i}, REPEAT('z', 100000))`),
  );
  const file = await readFile(join(source.dataDir, status.File));
  const dump = await BinlogDump.open(request({ file: status.File, position: Number(status.Position) }));
  try {
    await dump.next(); // fake Rotate
    await dump.next(); // Format_description
    let position = Number(status.Position);
    let largest = 0;
    while (position < file.length) {
      // slow consumer: the source must be held back, not buffered without bound
      if (position % 7 === 0) await new Promise((r) => setTimeout(r, 1));
      const ev = (await dump.next())!;
      assert.deepEqual(ev, file.subarray(position, position + ev.length), `event at ${position}`);
      position += ev.length;
      largest = Math.max(largest, ev.length);
    }
    assert.ok(largest > big, `largest event ${largest} bytes`);
    assert.equal(position, file.length);
  } finally {
    dump.close();
  }
});

test('the source going away fails next() with a retryable error', async () => {
  const doomed = await startMariaDb({ serverId: 72 });
  try {
    const dump = await BinlogDump.open({
      host: doomed.host, port: doomed.port, user: 'root', password: '', replicaServerId: 902,
      file: 'mysql-bin.000001', position: 4, heartbeatPeriodSeconds: 0, netTimeoutSeconds: 30,
    });
    const failed = (async () => {
      for (;;) await dump.next();
    })().catch((err: unknown) => err);
    await doomed.stop();
    const err = await failed;
    assert.ok(err instanceof SourceError);
    assert.equal(err.retryable, true);
    dump.close();
  } finally {
    await doomed.destroy();
  }
});

test('silence longer than the net timeout fails with a retryable error', async () => {
  const dump = await BinlogDump.open(request({ file: 'mysql-bin.000002', heartbeatPeriodSeconds: 0, netTimeoutSeconds: 1 }));
  const started = Date.now();
  await assert.rejects(
    async () => {
      for (;;) await dump.next();
    },
    (err: unknown) => {
      assert.ok(err instanceof SourceError);
      assert.equal(err.retryable, true);
      assert.equal(err.errno, 2013);
      return true;
    },
  );
  assert.ok(Date.now() - started < 3000);
  dump.close();
});

test('connecting to a port nobody listens on is a retryable connect error', async () => {
  await assert.rejects(
    BinlogDump.open(request({ port: 1, connectTimeoutMs: 2000 })),
    (err: unknown) => err instanceof SourceError && err.retryable && err.errno === 2003,
  );
});
