// MySQL GTID sets (src/gtid/mysql-gtid-set.ts): MySQL's text form in and out, the set operations (checked
// against a plain model on random sets), the binary form of COM_BINLOG_DUMP_GTID / Previous_GTIDs (checked
// against the Previous_GTIDs real MySQL servers wrote); and the UNTIL SQL_BEFORE_GTIDS / SQL_AFTER_GTIDS
// decisions of seed 002 (src/gtid/until-gtids.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinlogDecoder } from '../src/binlog/decoder.js';
import { decodePreviousGtids } from '../src/binlog/control.js';
import { ByteReader } from '../src/binlog/reader.js';
import { EVENT_HEADER_LENGTH, EventType, type BinlogEvent } from '../src/binlog/events.js';
import { MysqlGroupTracker } from '../src/gtid/event-groups.js';
import { ReplicationError } from '../src/errors.js';
import { MAX_GNO, MysqlGtidSet, type MysqlGtid } from '../src/gtid/mysql-gtid-set.js';
import { untilGtidsDecision, untilGtidsMet, type GtidUntil } from '../src/gtid/until-gtids.js';
import { binlogFileEvents, mysqlFixtures } from './helpers/binlog-events.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '2c256447-3f0d-431b-9a25-bddf1f1f6ef6';
const C = 'ffffffff-0000-0000-0000-000000000001';

const set = (text: string) => MysqlGtidSet.parse(text);
const gtid = (uuid: string, gno: number | bigint, tag?: string): MysqlGtid => ({ uuid, gno: BigInt(gno), ...(tag ? { tag } : {}) });

function decodeEncoded(s: MysqlGtidSet): MysqlGtidSet {
  const event = decodePreviousGtids(new ByteReader(s.encode()));
  assert.equal(event.type, 'previous_gtids');
  return MysqlGtidSet.fromSids((event as Extract<typeof event, { type: 'previous_gtids' }>).sids);
}

test('the text form is printed as MySQL prints it: lowercase, sorted, merged, ",\\n" between uuids', () => {
  assert.equal(set('').toString(), '');
  assert.equal(set(`${A.toUpperCase()}:1-5`).toString(), `${A}:1-5`);
  assert.equal(set(`${A}:11-18:1-5:6-10`).toString(), `${A}:1-18`);
  assert.equal(set(`${A}:3:1:2:7-9:5`).toString(), `${A}:1-3:5:7-9`);
  assert.equal(set(`${A}:1-5:3-8:20`).toString(), `${A}:1-8:20`);
  assert.equal(set(`${A}:1-5,${B}:1-27`).toString(), `${B}:1-27,\n${A}:1-5`);
  assert.equal(set(`${A}:1-5,${A}:6`).toString(), `${A}:1-6`);
  // what SELECT @@gtid_executed prints is read back as it is
  assert.equal(set(`${B}:1-27,\n${A}:1-5`).toString(), `${B}:1-27,\n${A}:1-5`);
});

test('MySQL 8.3+ tags: lowercase, after the untagged intervals of their uuid, in order; a tag is its own source', () => {
  assert.equal(set(`${A}:1-5:Tag_B:1:tag_a:3-4`).toString(), `${A}:1-5:tag_a:3-4:tag_b:1`);
  // a tag names the intervals after it
  assert.equal(set(`${A}:tag_a:1-5:3`).toString(), `${A}:tag_a:1-5`);
  assert.equal(set(`${A}:etl:1-3`).toString(), `${A}:etl:1-3`);
  assert.equal(set(`${A}:etl:1-3,${B}:7,${A}:2`).toString(), `${B}:7,\n${A}:2:etl:1-3`);
  const s = set(`${A}:1-5:etl:1-3`);
  assert.ok(s.contains(gtid(A, 2, 'etl')));
  assert.ok(s.contains(gtid(A, 5)));
  assert.ok(!s.contains(gtid(A, 5, 'etl')));
  assert.ok(!s.contains(gtid(A, 2, 'other')));
  assert.ok(s.contains({ uuid: A.toUpperCase(), tag: 'etl', gno: 1n }));
});

test('whitespace around the parts and empty items between commas are accepted, as MySQL accepts them', () => {
  assert.equal(set(`  ${A} : 1 - 5 : 7 ,\n\t${B}:3  `).toString(), `${B}:3,\n${A}:1-5:7`);
  assert.equal(set(`,${A}:1,,`).toString(), `${A}:1`);
  assert.equal(set(' \n ').toString(), '');
  assert.ok(set(',').isEmpty());
});

test('malformed sets are refused with ER_MALFORMED_GTID_SET_SPECIFICATION (1772), naming the input and the fault', () => {
  const bad: [string, RegExp][] = [
    [A, /has no interval/],
    [`${A}:`, /interval is empty/],
    [`${A}:0`, /'0' is not a transaction number/],
    [`${A}:01`, /'01' is not a transaction number/],
    [`${A}:-3`, /interval is empty/],
    [`${A}:3-`, /interval is empty/],
    [`${A}:5-3`, /ends before it starts/],
    [`${A}:1-2-3`, /is not an interval/],
    [`${A}:1 2`, /'1 2' is not a transaction number/],
    [`${A}:0x10`, /is not a transaction number/],
    [`${A}:1e3`, /is not a transaction number/],
    [`${A}:${(1n << 63n) - 1n}`, /larger than the largest transaction number/],
    [`${A}:etl`, /tag 'etl' has no interval/],
    [`${A}:1:etl:other:2`, /tag 'etl' has no interval/],
    [`${A}:1:${'t'.repeat(33)}:2`, /is not a transaction number/],
    [`${A}:1:t-x:2`, /is not a transaction number/],
    ['3e11fa47-71ca-11e1-9e33-c80aa942956:1', /is not a uuid/],
    ['3e11fa4771ca11e19e33c80aa9429562:1', /is not a uuid/],
    [`{${A}}:1`, /is not a uuid/],
    [`${A}:1;${B}:1`, /is not an interval/],
    [`${A}:1 ${B}:1`, /is not an interval/],
    ['0-1-100', /is not a uuid/],
  ];
  for (const [text, why] of bad) {
    assert.throws(() => set(text), (err: unknown) => {
      assert.ok(err instanceof ReplicationError, text);
      assert.equal(err.errno, 1772, text);
      assert.equal(err.code, 'ER_MALFORMED_GTID_SET_SPECIFICATION');
      assert.ok(err.message.startsWith(`Malformed GTID set specification '${text}': `), err.message);
      assert.match(err.message, why, text);
      return true;
    });
  }
});

test('transaction numbers go up to 2^63-2 (MySQL\'s GNO_END - 1) exactly, in text and in the binary form', () => {
  const top = set(`${A}:${MAX_GNO - 1n}-${MAX_GNO}`);
  assert.equal(top.toString(), `${A}:9223372036854775805-9223372036854775806`);
  assert.ok(top.contains(gtid(A, MAX_GNO)));
  assert.ok(!top.contains(gtid(A, MAX_GNO - 2n)));
  assert.ok(decodeEncoded(top).equals(top));
  assert.equal(top.encode().readBigInt64LE(8 + 16 + 8 + 8), MAX_GNO + 1n, 'the exclusive end fits a signed 64-bit number');
  assert.throws(() => new MysqlGtidSet().add(gtid(A, MAX_GNO + 1n)), RangeError);
  assert.throws(() => new MysqlGtidSet().add(gtid(A, 0)), RangeError);
});

test('add, contains, containsSet, intersects, union, subtract, equals on examples', () => {
  const s = new MysqlGtidSet();
  for (const n of [1, 2, 3, 5, 4, 10]) s.add(gtid(A, n));
  s.add(gtid(B, 7, 'ETL'));
  assert.equal(s.toString(), `${B}:etl:7,\n${A}:1-5:10`);
  assert.ok(s.contains(gtid(A, 4)) && !s.contains(gtid(A, 6)) && s.contains(gtid(B, 7, 'etl')));
  assert.ok(s.containsSet(set(`${A}:2-4:10`)));
  assert.ok(!s.containsSet(set(`${A}:2-6`)));
  assert.ok(s.containsSet(new MysqlGtidSet()));
  assert.ok(new MysqlGtidSet().containsSet(new MysqlGtidSet()));
  assert.ok(!new MysqlGtidSet().containsSet(s));
  assert.ok(s.intersects(set(`${A}:5-9`)));
  assert.ok(!s.intersects(set(`${A}:6-9:11-20,${B}:7`)));
  assert.equal(s.union(set(`${A}:6-9,${C}:1`)).toString(), `${B}:etl:7,\n${A}:1-10,\n${C}:1`);
  assert.equal(s.subtract(set(`${A}:2-3:10,${B}:etl:7`)).toString(), `${A}:1:4-5`);
  assert.equal(set(`${A}:1-100`).subtract(set(`${A}:10-20:30:50-200`)).toString(), `${A}:1-9:21-29:31-49`);
  assert.ok(s.subtract(s).isEmpty());
  assert.ok(set(`${A}:1-3:4-5,${B}:1`).equals(set(`${B}:1,${A}:1-5`)));
  assert.ok(!set(`${A}:1-5`).equals(set(`${A}:1-5:etl:1`)));
  assert.equal(s.ofUuid(A.toUpperCase()).toString(), `${A}:1-5:10`);
  // union and subtract leave their operands alone
  assert.equal(s.toString(), `${B}:etl:7,\n${A}:1-5:10`);
});

test('the binary form: untagged sets in the classic layout, any tag switches the whole set to the tagged one', () => {
  const plain = set(`${A}:1-5:11-18`).encode();
  const expected = Buffer.alloc(8 + 16 + 8 + 32);
  expected.writeBigUInt64LE(1n, 0);
  Buffer.from(A.replace(/-/g, ''), 'hex').copy(expected, 8);
  expected.writeBigUInt64LE(2n, 24);
  [1n, 6n, 11n, 19n].forEach((n, i) => expected.writeBigInt64LE(n, 32 + i * 8));
  assert.deepEqual(plain, expected);
  assert.deepEqual(new MysqlGtidSet().encode(), Buffer.alloc(8));

  const tagged = set(`${A}:1:mytag:2-3`).encode();
  assert.equal(tagged.readBigUInt64LE(0), (1n << 56n) | (2n << 8n) | 1n);
  assert.equal(tagged[8 + 16], 0, 'the untagged source has an empty tag');
  assert.equal(tagged[8 + 16 + 1 + 8 + 16 + 16], 5 << 1);
  assert.equal(tagged.toString('ascii', 8 + 16 + 1 + 8 + 16 + 16 + 1, 8 + 16 + 1 + 8 + 16 + 16 + 6), 'mytag');
  for (const text of ['', `${A}:1-5:11-18,${B}:1`, `${A}:1:mytag:2-3,${C}:z:9`]) {
    assert.ok(decodeEncoded(set(text)).equals(set(text)), text);
  }
});

test('the binary form equals the Previous_GTIDs body real MySQL servers wrote (5.7, 8.0, 9.6 tagged)', async () => {
  let checked = 0;
  const seen: string[] = [];
  for (const { name, data } of await mysqlFixtures()) {
    const decoder = new BinlogDecoder();
    for (const { raw } of binlogFileEvents(data)) {
      if (raw[4] !== EventType.PREVIOUS_GTIDS && raw[4] !== EventType.FORMAT_DESCRIPTION) continue;
      const decoded = decoder.decode(raw);
      if (decoded.event.type !== 'previous_gtids') continue;
      const s = MysqlGtidSet.fromSids(decoded.event.sids);
      const encoded = s.encode();
      assert.deepEqual(encoded, raw.subarray(EVENT_HEADER_LENGTH, EVENT_HEADER_LENGTH + encoded.length), name);
      assert.ok([0, 4].includes(raw.length - EVENT_HEADER_LENGTH - encoded.length), `${name}: nothing but a CRC32 after it`);
      checked++;
      if (!s.isEmpty()) seen.push(s.toString());
    }
  }
  assert.ok(checked >= 10, `${checked} Previous_GTIDs events`);
  // MySQL 9.6's tagged Previous_GTIDs, and 5.7's and 8.0's untagged ones
  assert.ok(seen.includes('55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2'), seen.join(' | '));
  assert.ok(seen.includes('58cf6502-63db-11ed-8079-0242ac110002:1-52'), seen.join(' | '));
  assert.ok(seen.includes('b9b88c66-0755-11f1-9899-4a9da94c4d71:1-2'), seen.join(' | '));
});

// A tiny seeded generator, so that a failing case can be replayed.
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

const UUIDS = [A, B, C];
const TAGS = ['', '', 'etl', 'b'];
const RANGE = 40;

/** A random set and the same set as a plain set of 'uuid:tag:gno' strings. */
function randomSet(next: () => number): { s: MysqlGtidSet; model: Set<string> } {
  let s = new MysqlGtidSet();
  const model = new Set<string>();
  const runs = Math.floor(next() * 6);
  for (let i = 0; i < runs; i++) {
    const uuid = UUIDS[Math.floor(next() * UUIDS.length)]!;
    const tag = TAGS[Math.floor(next() * TAGS.length)]!;
    const start = 1 + Math.floor(next() * RANGE);
    const length = 1 + Math.floor(next() * 8);
    // added out of order and overlapping, one GTID at a time or as a parsed interval
    if (next() < 0.5) {
      for (let g = start; g < start + length; g++) s.add(gtid(uuid, g, tag));
    } else {
      s = s.union(set(`${uuid}:${tag ? `${tag}:` : ''}${start}-${start + length - 1}`));
    }
    for (let g = start; g < start + length; g++) model.add(`${uuid}:${tag}:${g}`);
  }
  return { s, model };
}

function everyGtid(): MysqlGtid[] {
  const all: MysqlGtid[] = [];
  for (const uuid of UUIDS) for (const tag of new Set(TAGS)) for (let g = 1; g <= RANGE + 10; g++) all.push(gtid(uuid, g, tag));
  return all;
}

const key = (g: MysqlGtid) => `${g.uuid}:${g.tag ?? ''}:${g.gno}`;

function assertModel(s: MysqlGtidSet, model: Set<string>, what: string): void {
  for (const g of everyGtid()) assert.equal(s.contains(g), model.has(key(g)), `${what}: ${key(g)} in ${s}`);
}

test('set laws on random sets, against a plain model', () => {
  const next = random(20261201);
  for (let round = 0; round < 300; round++) {
    const { s: a, model: ma } = randomSet(next);
    const { s: b, model: mb } = randomSet(next);
    assertModel(a, ma, 'a');
    const union = a.union(b);
    assertModel(union, new Set([...ma, ...mb]), 'a ∪ b');
    const difference = a.subtract(b);
    assertModel(difference, new Set([...ma].filter((g) => !mb.has(g))), 'a − b');
    assert.ok(union.equals(b.union(a)), 'union commutes');
    assert.ok(union.containsSet(a) && union.containsSet(b), 'a ∪ b contains a and b');
    assert.ok(!difference.intersects(b), '(a − b) ∩ b = ∅');
    assert.ok(difference.union(b).equals(union), '(a − b) ∪ b = a ∪ b');
    assert.equal(b.containsSet(a), a.subtract(b).isEmpty(), 'a ⊆ b ⟺ a − b = ∅');
    assert.equal(b.containsSet(a), [...ma].every((g) => mb.has(g)), 'containsSet matches the model');
    assert.equal(a.intersects(b), [...ma].some((g) => mb.has(g)), 'intersects matches the model');
    assert.equal(a.intersects(b), !a.subtract(b).equals(a), 'a ∩ b ≠ ∅ ⟺ a − b ≠ a');
    assert.equal(a.equals(b), ma.size === mb.size && [...ma].every((g) => mb.has(g)), 'equals matches the model');
    assert.ok(a.subtract(a.subtract(b)).equals(b.subtract(b.subtract(a))), 'a ∩ b is symmetric');
    // the text and binary forms are exact and canonical
    const text = a.toString();
    assert.ok(set(text).equals(a), text);
    assert.equal(set(text).toString(), text);
    assert.equal(set(text.replace(/,\n/g, ',')).toString(), text);
    assert.ok(decodeEncoded(a).equals(a), text);
    assert.ok(a.clone().equals(a));
  }
});

// UNTIL SQL_BEFORE_GTIDS / SQL_AFTER_GTIDS, seed 002.

const before = (text: string): GtidUntil => ({ sqlBeforeGtids: set(text) });
const after = (text: string): GtidUntil => ({ sqlAfterGtids: set(text) });

test('SQL_BEFORE_GTIDS = uuid:11-56: transactions up to 10 are applied, the one numbered 11 is not', () => {
  const until = before(`${A}:11-56`);
  const executed = set(`${A}:1-9`);
  assert.equal(untilGtidsMet(until, executed), false);
  assert.equal(untilGtidsDecision(until, executed, gtid(A, 10)), 'apply');
  executed.add(gtid(A, 10));
  assert.equal(untilGtidsDecision(until, executed, gtid(B, 1)), 'apply', 'another source\'s transaction');
  assert.equal(untilGtidsDecision(until, executed, undefined), 'apply', 'an anonymous transaction');
  assert.equal(untilGtidsDecision(until, executed, gtid(A, 11)), 'stop-before');
  // any GTID of the set stops it, not only the first number
  assert.equal(untilGtidsDecision(until, executed, gtid(A, 30)), 'stop-before');
  assert.equal(untilGtidsDecision(until, executed, gtid(A, 11, 'etl')), 'apply', 'a tag is another source');
});

test('SQL_BEFORE_GTIDS whose GTIDs are already executed (all or some) stops at once, before any transaction', () => {
  for (const executedText of [`${A}:1-56`, `${A}:1-11`, `${A}:30`]) {
    const executed = set(executedText);
    assert.equal(untilGtidsMet(before(`${A}:11-56`), executed), true, executedText);
    assert.equal(untilGtidsDecision(before(`${A}:11-56`), executed, gtid(B, 1)), 'stop-before', executedText);
  }
  // an empty set is never reached
  assert.equal(untilGtidsMet(before(''), set(`${A}:1-100`)), false);
  assert.equal(untilGtidsDecision(before(''), set(`${A}:1-100`), gtid(A, 101)), 'apply');
});

test('SQL_AFTER_GTIDS waits for every listed GTID, in whatever order they come, and stops after the last', () => {
  const until = after(`${A}:11-12,${B}:etl:5`);
  const executed = set(`${A}:1-10,${B}:etl:1-4`);
  assert.equal(untilGtidsMet(until, executed), false);
  assert.equal(untilGtidsDecision(until, executed, gtid(C, 1)), 'apply', 'transactions outside the set are applied');
  assert.equal(untilGtidsDecision(until, executed, gtid(A, 12)), 'apply');
  executed.add(gtid(A, 12));
  assert.equal(untilGtidsDecision(until, executed, gtid(B, 5, 'etl')), 'apply');
  executed.add(gtid(B, 5, 'etl'));
  assert.equal(untilGtidsDecision(until, executed, gtid(B, 5)), 'apply', 'the untagged GTID is not the tagged one');
  assert.equal(untilGtidsDecision(until, executed, gtid(A, 11)), 'apply-then-stop');
  executed.add(gtid(A, 11));
  assert.equal(untilGtidsMet(until, executed), true);
  assert.equal(untilGtidsDecision(until, executed, gtid(A, 13)), 'stop-before');
});

test('SQL_AFTER_GTIDS = uuid:11-56: the transaction numbered 56 is the last one applied', () => {
  const until = after(`${A}:11-56`);
  const executed = set(`${A}:1-55`);
  assert.equal(untilGtidsDecision(until, executed, gtid(A, 56)), 'apply-then-stop');
  assert.equal(untilGtidsDecision(until, set(`${A}:1-54`), gtid(A, 55)), 'apply');
});

test('SQL_AFTER_GTIDS already executed at start stops at once; an empty set too', () => {
  assert.equal(untilGtidsMet(after(`${A}:11-56`), set(`${A}:1-100`)), true);
  assert.equal(untilGtidsDecision(after(`${A}:11-56`), set(`${A}:1-100`), gtid(A, 101)), 'stop-before');
  assert.equal(untilGtidsMet(after(''), new MysqlGtidSet()), true);
  assert.equal(untilGtidsMet(after(`${A}:11-56`), set(`${A}:1-55`)), false);
});

test('a transaction whose GTID is already executed is skipped (GTID auto-skip), with or without UNTIL', () => {
  const executed = set(`${A}:1-10`);
  assert.equal(untilGtidsDecision(undefined, executed, gtid(A, 7)), 'skip');
  assert.equal(untilGtidsDecision(undefined, executed, gtid(A, 11)), 'apply');
  assert.equal(untilGtidsDecision(undefined, executed, undefined), 'apply');
  assert.equal(untilGtidsDecision(after(`${A}:11-12`), executed, gtid(A, 3)), 'skip');
  assert.equal(untilGtidsDecision(before(`${A}:11-12`), executed, gtid(A, 3)), 'skip');
});

test('MysqlGroupTracker: where MySQL transactions end, as Retrieved_Gtid_Set counts them', () => {
  const uuid = '8a18b986-434f-11f1-a27f-ce6a53da2f24';
  const gtid = (gno: bigint, tag?: string) => ({ type: 'gtid', flavor: 'mysql', anonymous: false, uuid, gno, ...(tag ? { tag } : {}) }) as BinlogEvent;
  const query = (sql: string) => ({ type: 'query', sql: Buffer.from(sql) }) as BinlogEvent;
  const run = (events: (BinlogEvent | { type: 'xid' | 'xa_prepare' | 'transaction_payload' })[]) => {
    const tracker = new MysqlGroupTracker();
    return events.map((e) => tracker.event(e)).filter((g) => g !== undefined).map((g) => `${g.tag ?? ''}:${g.gno}`);
  };
  // BEGIN ... XID; a DDL alone; BEGIN ... COMMIT; XA: XA START ... XA END, XA PREPARE; a compressed payload.
  assert.deepEqual(run([gtid(1n), query('BEGIN'), { type: 'xid' }]), [':1']);
  assert.deepEqual(run([gtid(2n), query('CREATE TABLE t (a INT)')]), [':2']);
  assert.deepEqual(run([gtid(3n), query('BEGIN'), query('INSERT INTO t VALUES (1)'), query('COMMIT')]), [':3']);
  assert.deepEqual(run([gtid(4n), query("XA START 'x'"), query("XA END 'x'"), { type: 'xa_prepare' }]), [':4']);
  assert.deepEqual(run([gtid(5n, 'etl'), { type: 'transaction_payload' }]), ['etl:5']);
  assert.deepEqual(run([gtid(6n), query(' begin '), query('ROLLBACK')]), [':6']);
  // A transaction cut (the connection lost) and sent again from its GTID: counted once, when whole.
  assert.deepEqual(run([gtid(7n), query('BEGIN'), gtid(7n), query('BEGIN'), { type: 'xid' }]), [':7']);
  // Anonymous transactions (gtid_mode OFF) and events outside a transaction are not counted.
  const anonymous = { type: 'gtid', flavor: 'mysql', anonymous: true, uuid, gno: 0n } as BinlogEvent;
  assert.deepEqual(run([anonymous, query('BEGIN'), { type: 'xid' }, { type: 'xid' }, query('COMMIT')]), []);
});
