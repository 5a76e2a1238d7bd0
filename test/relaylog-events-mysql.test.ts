// MySQL fixtures laid down as relay log files: SHOW RELAYLOG EVENTS lists each whole, every event named, with
// MySQL's words for the events only MySQL writes; the progress bars count the transactions in them.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EventType } from '../src/binlog/events.js';
import { RelayTransactionCounter } from '../src/cli/relay-transactions.js';
import { RelayLog } from '../src/relaylog/relay-log.js';
import { listRelayLogEvents, type RelayLogEvent } from '../src/relaylog/events-listing.js';
import { binlogFileEvents, mysqlFixtures } from './helpers/binlog-events.js';
import { tempDir } from './helpers/replica.js';

async function listFixture(data: Buffer): Promise<RelayLogEvent[]> {
  const dir = await tempDir('relaylog-mysql');
  await writeFile(join(dir, 'relay-bin-m.000001'), data);
  await writeFile(join(dir, 'relay-bin-m.index'), './relay-bin-m.000001\n');
  const log = await RelayLog.open({ dir, baseName: 'relay-bin-m', maxSize: 1 << 30 });
  try {
    return await listRelayLogEvents(log);
  } finally {
    await log.close();
  }
}

test('every MySQL fixture is listed whole, each event with its type and Info', async () => {
  const listed = new Map<string, RelayLogEvent[]>();
  for (const fixture of await mysqlFixtures()) {
    const rows = await listFixture(fixture.data);
    const events = binlogFileEvents(fixture.data);
    assert.deepEqual(rows.map((r) => r.pos), events.map((e) => e.pos), fixture.name);
    // Aurora's type 100 is the only event no server names.
    assert.deepEqual(rows.filter((r) => r.eventType === 'Unknown').map((r) => r.pos),
      events.filter((e) => e.raw[4] === 100).map((e) => e.pos), fixture.name);
    listed.set(fixture.name, rows);
  }
  const all = [...listed.values()].flat();
  assert.ok(all.some((r) => r.eventType === 'Transaction_payload' && /^decompressed_size=\d+ bytes, events=\d+$/.test(r.info)));
  assert.ok(all.some((r) => r.eventType === 'Gtid' && /^SET @@SESSION.GTID_NEXT= '[0-9a-f-]{36}:\d+'$/.test(r.info)));
  assert.ok(all.some((r) => r.eventType === 'Anonymous_Gtid' && r.info === "SET @@SESSION.GTID_NEXT= 'ANONYMOUS'"));
  assert.ok(all.some((r) => r.eventType === 'Write_rows' && /^table_id: \d+ flags: STMT_END_F$/.test(r.info)));
  assert.ok(all.some((r) => r.eventType === 'Previous_gtids'));
  const tagged = listed.get('rust_mysql_common__binlog_transaction_with_GTID_TAG.000001')!;
  assert.ok(tagged.some((r) => r.eventType === 'Gtid_tagged' && /:mytag:\d+'$/.test(r.info)), JSON.stringify(tagged));
});

test('transactions behind (the progress bars): GTID events past the applied position, counted as the relay log grows', async () => {
  const starts = new Set<number>([EventType.MARIA_GTID, EventType.GTID, EventType.ANONYMOUS_GTID, EventType.GTID_TAGGED]);
  let withGtids = 0;
  for (const fixture of await mysqlFixtures()) {
    const events = binlogFileEvents(fixture.data);
    const gtids = events.filter((e) => starts.has(e.raw[4]!));
    const dir = await tempDir('relay-transactions');
    const file = 'relay-bin-m.000001';
    await writeFile(join(dir, 'relay-bin-m.index'), `./${file}\n`);
    // The relay log grows: half the file (cut inside an event), then all of it.
    const half = Math.floor(fixture.data.length / 2);
    await writeFile(join(dir, file), fixture.data.subarray(0, half));
    const counter = new RelayTransactionCounter(dir, 'm');
    const head = { file, pos: 4 };
    await counter.scan(head);
    assert.equal(counter.behind(head) ?? 0, gtids.filter((e) => e.pos + e.raw.length <= half).length, fixture.name);
    await writeFile(join(dir, file), fixture.data);
    await counter.scan(head);
    if (gtids.length === 0) {
      // Transactions without GTIDs cannot be counted: no count rather than a wrong one.
      const heads = new Set<number>([EventType.FORMAT_DESCRIPTION, EventType.ROTATE, EventType.PREVIOUS_GTIDS]);
      const transactions = events.some((e) => !heads.has(e.raw[4]!));
      assert.equal(counter.behind(head), transactions ? undefined : 0, fixture.name);
      continue;
    }
    withGtids++;
    assert.equal(counter.behind(head), gtids.length, fixture.name);
    // The SQL stage has applied the first transaction and stands at the start of the second.
    const second = gtids[1] ? { file, pos: gtids[1].pos } : { file, pos: fixture.data.length };
    assert.equal(counter.behind(second), gtids.length - 1, fixture.name);
    assert.equal(counter.applied, 1);
  }
  assert.ok(withGtids >= 5);
});
