// MariaDB GTID positions (parsing as the servers parse, the errnos they refuse with, updates, the reached
// test of UNTIL and MASTER_GTID_WAIT), where event groups end, and the Gtid_list the I/O stage writes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MariadbGtidPosition as ZongjiPosition } from '@vlasky/zongji';
import { BinlogDecoder, encodeFormatDescription } from '../src/binlog/decoder.js';
import { encodeGtidList } from '../src/binlog/encode.js';
import type { BinlogEvent } from '../src/binlog/events.js';
import { MariadbGroupTracker } from '../src/gtid/event-groups.js';
import { GTID_LIST_IGN_GTIDS, MariadbGtidPosition } from '../src/gtid/mariadb-gtid.js';

const parse = MariadbGtidPosition.parse;

describe('MariadbGtidPosition', () => {
  test('parses what SET GLOBAL gtid_slave_pos takes, and formats in domain order', () => {
    assert.equal(parse('').toString(), '');
    assert.equal(parse('  ').size, 0);
    assert.equal(parse('0-1-5').toString(), '0-1-5');
    assert.equal(parse('2-1-5, 0-7-9').toString(), '0-7-9,2-1-5');
    assert.equal(parse(' 0-1-5').toString(), '0-1-5');
    assert.equal(parse('01-1-5').toString(), '1-1-5');
    assert.equal(parse('4294967295-4294967295-18446744073709551615').toString(), '4294967295-4294967295-18446744073709551615');
  });

  test('refuses what the servers refuse, with their errnos', () => {
    for (const bad of ['0-1-5,', ',0-1-5', '0-1', '0-1-x', '0-1-5-6', '-1-1-1', '4294967296-1-1', '1-4294967296-1',
      '1-1-18446744073709551616', '0x1-1-1', '1-1-1e3', '0-1-5;', '0 -1-5']) {
      assert.throws(() => parse(bad), { errno: 1941, code: 'ER_INCORRECT_GTID_STATE' }, bad);
    }
    assert.throws(() => parse('0-1-5,0-2-3'), { errno: 1943, message: /GTID 0-2-3 and 0-1-5 conflict \(duplicate domain id 0\)/ });
    assert.throws(() => parse(undefined as unknown as string), { errno: 1941 });
  });

  test('agrees with @vlasky/zongji on every position both take', () => {
    for (const text of ['', '0-1-5', '2-1-5,0-7-9', '0-1-5, 1-2-3', '4294967295-1-18446744073709551615']) {
      assert.equal(parse(text).toString(), ZongjiPosition.parse(text).toString(), text);
    }
  });

  test('an update replaces the domain\'s GTID, whatever its server id or sequence number (gtid_slave_pos)', () => {
    const p = parse('0-1-10,1-1-3');
    assert.equal(p.with({ domainId: 0, serverId: 2, seqNo: 4n }).toString(), '0-2-4,1-1-3');
    assert.equal(p.with({ domainId: 5, serverId: 1, seqNo: 1n }).toString(), '0-1-10,1-1-3,5-1-1');
    assert.equal(p.toString(), '0-1-10,1-1-3', 'positions are immutable');
    assert.equal(MariadbGtidPosition.fromList([
      { domainId: 0, serverId: 1, seqNo: 5n }, { domainId: 0, serverId: 2, seqNo: 6n }, { domainId: 1, serverId: 1, seqNo: 2n },
    ]).toString(), '0-2-6,1-1-2');
  });

  test('reached: every listed domain at or past its sequence number, any server id (MASTER_GTID_WAIT)', () => {
    const p = parse('0-1-10,1-1-3');
    assert.ok(p.reached(parse('')));
    assert.ok(p.reached(parse('0-1-10')));
    assert.ok(p.reached(parse('0-1-9,1-1-3')));
    assert.ok(p.reached(parse('0-9-10')));
    assert.ok(!p.reached(parse('0-1-11')));
    assert.ok(!p.reached(parse('0-1-1,2-1-1')), 'a domain the position lacks');
  });
});

describe('MariadbGroupTracker', () => {
  const gtid = (seqNo: bigint, standalone = false): BinlogEvent => ({
    type: 'gtid', flavor: 'mariadb', domainId: 3, serverId: 1, seqNo, flags2: standalone ? 1 : 0, standalone,
  });
  const query = (sql: string) => ({ type: 'query', sql: Buffer.from(sql) }) as unknown as BinlogEvent;
  const ends = (events: BinlogEvent[]) => {
    const t = new MariadbGroupTracker();
    return events.map((e) => t.event(e)?.seqNo);
  };

  test('a transaction ends with its XID, COMMIT, ROLLBACK or XA PREPARE; nothing ends before its GTID', () => {
    const rows = { type: 'table_map' } as BinlogEvent;
    assert.deepEqual(ends([{ type: 'xid', xid: 1n }, gtid(1n), query('BEGIN'), rows, { type: 'xid', xid: 2n }]),
      [undefined, undefined, undefined, undefined, 1n]);
    assert.deepEqual(ends([gtid(2n), query('BEGIN'), query('INSERT INTO t VALUES (1)'), query('COMMIT')]),
      [undefined, undefined, undefined, 2n]);
    assert.deepEqual(ends([gtid(3n), query('BEGIN'), query('/* x */ ROLLBACK')]), [undefined, undefined, 3n]);
    assert.deepEqual(ends([gtid(4n), query('XA START 1'), { type: 'xa_prepare' }]), [undefined, undefined, 4n]);
    assert.deepEqual(ends([gtid(5n, true), query('XA COMMIT 1')]), [undefined, 5n]);
  });

  test('a standalone group ends with its one statement', () => {
    assert.deepEqual(ends([gtid(7n, true), { type: 'intvar', kind: 'insert_id', value: 1n }, query('CREATE TABLE t (a INT)')]),
      [undefined, undefined, 7n]);
  });

  test('a GTID in the middle of a group starts another (the cut one is sent again)', () => {
    assert.deepEqual(ends([gtid(8n), query('BEGIN'), gtid(8n), query('BEGIN'), { type: 'xid', xid: 3n }]),
      [undefined, undefined, undefined, undefined, 8n]);
  });
});

test('the Gtid_list the I/O stage writes decodes to what it states, flags included', () => {
  for (const checksumAlg of [0, 1] as const) {
    const decoder = new BinlogDecoder();
    decoder.decode(encodeFormatDescription({ serverId: 9, timestamp: 0, serverVersion: '10.11.19-MariaDB-log', checksumAlg }));
    const gtids = [{ domainId: 0, serverId: 1, seqNo: 2n ** 63n + 5n }, { domainId: 4294967295, serverId: 4294967295, seqNo: 1n }];
    const raw = encodeGtidList({ serverId: 9, gtids, flags: GTID_LIST_IGN_GTIDS, checksumAlg });
    const { header, event } = decoder.decode(raw);
    assert.equal(header.serverId, 9);
    assert.deepEqual(event, { type: 'gtid_list', gtids, flags: GTID_LIST_IGN_GTIDS });
  }
});
