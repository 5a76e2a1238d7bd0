// SHOW RELAYLOG EVENTS over what MySQL sources write: each MySQL fixture laid down as a relay log file is listed
// whole, every event named, with MySQL's words for the events only MySQL writes.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
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
