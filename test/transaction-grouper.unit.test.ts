// The SQL stage's pure transaction grouper with hand-built events: each grouping, UNTIL and skip-counter case
// in milliseconds (test/sql-controls.test.ts, skip-errors, gtid-* and crash cover the same against servers).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventType, type BinlogEvent, type EventHeader, type QueryEvent, type RowsEvent, type TableMapEvent } from '../src/binlog/events.js';
import { emptyFilters, EventFilter } from '../src/filter/index.js';
import { GTID_LIST_IGN_GTIDS, GTID_LIST_UNTIL_REACHED } from '../src/gtid/mariadb-gtid.js';
import type { ChannelPosition } from '../src/info/position-table.js';
import { ReplicationError } from '../src/errors.js';
import { TransactionGrouper, type GroupStep, type GrouperOptions } from '../src/transaction-grouper.js';

const REPLICA_ID = 99;
const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const START: ChannelPosition = { relayLogFile: 'relay-bin.000001', relayLogPos: 4, sourceLogFile: 'bin.000001', sourceLogPos: 4 };

/** A grouper fed hand-built events, each `LEN` bytes long, at growing relay and source positions. */
class Feed {
  readonly grouper: TransactionGrouper;
  readonly counters: { skip: number };
  readonly discarded: ChannelPosition[] = [];
  relayPos = START.relayLogPos;

  constructor(options: Partial<GrouperOptions> = {}, start: ChannelPosition = START) {
    this.counters = options.counters ?? { skip: 0 };
    this.grouper = new TransactionGrouper({
      filter: new EventFilter(emptyFilters()), replicaServerId: REPLICA_ID, channel: '', ...options,
      counters: this.counters, onDiscard: (at) => this.discarded.push(at),
    }, start);
    this.relayPos = start.relayLogPos;
  }

  /** Feeds one event; its step. */
  push(event: BinlogEvent, header: Partial<EventHeader> = {}): GroupStep | undefined {
    const length = header.eventLength ?? LEN;
    const relay = { raw: Buffer.alloc(length), file: START.relayLogFile, pos: this.relayPos, endPos: this.relayPos + length };
    this.relayPos += length;
    return this.grouper.feed(relay, { header: { timestamp: 1000, typeCode: 2, serverId: 1, eventLength: length, logPos: 0,
      flags: 0, ...header }, event });
  }

  /** Feeds events; the steps they gave. */
  all(...events: BinlogEvent[]): GroupStep[] {
    return events.map((e) => this.push(e)).filter((s): s is GroupStep => s !== undefined);
  }

  /** Whether the stage would stop before an event at the next relay position. */
  stopsBefore(): boolean {
    return this.grouper.stopsBefore({ raw: Buffer.alloc(LEN), file: START.relayLogFile, pos: this.relayPos, endPos: this.relayPos + LEN });
  }
}

const LEN = 100;
const query = (sql: string, database = 'd'): QueryEvent =>
  ({ type: 'query', threadId: 1, executionTime: 0, errorCode: 0, database, statusVars: {}, sql: Buffer.from(sql) });
const tableMap = (database = 'd', table = 't'): TableMapEvent =>
  ({ type: 'table_map', tableId: 1n, flags: 0, database, table, columnTypes: [3], columnMeta: [0], nullable: [false], optional: {} } as unknown as TableMapEvent);
const rows = (statementEnd = true, database = 'd'): RowsEvent =>
  ({ type: 'rows', kind: 'write', tableId: 1n, tableMap: tableMap(database), flags: statementEnd ? 1 : 0, statementEnd, rows: [] } as unknown as RowsEvent);
const xid: BinlogEvent = { type: 'xid', xid: 1n };
const intvar: BinlogEvent = { type: 'intvar', kind: 'insert_id', value: 5n };
const mariadbGtid = (seqNo: bigint, standalone = false): BinlogEvent =>
  ({ type: 'gtid', flavor: 'mariadb', domainId: 0, serverId: 1, seqNo, flags2: 0, standalone });
const mysqlGtid = (gno: bigint): BinlogEvent => ({ type: 'gtid', flavor: 'mysql', anonymous: false, uuid: UUID, gno });
const betweenState = (feed: Feed) => feed.grouper.between?.gtidState;
const groups = (steps: GroupStep[]) => steps.flatMap((s) => (s.type === 'group' ? [s.group] : []));
const types = (steps: GroupStep[]) => groups(steps).map((g) => g.events.map((e) => e.event.type));

describe('grouping', () => {
  test('BEGIN ... XID is one transaction; its positions are those before its first and after its last event', () => {
    const feed = new Feed();
    const steps = feed.all(query('BEGIN'), tableMap(), rows(), xid);
    assert.equal(steps.length, 1);
    const [group] = groups(steps);
    assert.equal(group!.kind, 'transaction');
    assert.equal(group!.rollback, false);
    assert.deepEqual(types(steps), [['table_map', 'rows']]);
    assert.deepEqual(group!.start, { ...START, gtidState: undefined });
    assert.deepEqual(group!.end, { relayLogFile: START.relayLogFile, relayLogPos: 4 + 4 * LEN, sourceLogFile: 'bin.000001',
      sourceLogPos: 4 + 4 * LEN, gtidState: undefined });
    assert.equal(steps[0]!.type === 'group' && steps[0]!.bytes, 4 * LEN);
    assert.equal(feed.grouper.inGroup, false);
  });

  test('a rows event with STMT_END_F and no BEGIN ends its group; without the flag the group stays open', () => {
    const feed = new Feed();
    assert.deepEqual(feed.all(tableMap(), rows(false)), []);
    assert.equal(feed.grouper.inGroup, true);
    assert.deepEqual(types(feed.all(rows(true))), [['table_map', 'rows', 'rows']]);
  });

  test('a statement outside BEGIN is a group of its own; DDL is a ddl group, DML and temporary tables are not', () => {
    const feed = new Feed();
    const kinds = feed.all(query('CREATE TABLE t (a INT)'), query('INSERT INTO t VALUES (1)'),
      query('/* c */ DROP /*!40005 TEMPORARY */ TABLE IF EXISTS tmp'), query('ALTER TABLE t ADD b INT'));
    assert.deepEqual(groups(kinds).map((g) => g.kind), ['ddl', 'transaction', 'transaction', 'ddl']);
  });

  test('ROLLBACK ends its transaction as rolled back; XA START ... XA END ends at XA END', () => {
    const feed = new Feed();
    const [rolledBack] = groups(feed.all(query('BEGIN'), query('INSERT INTO t VALUES (1)'), query('ROLLBACK')));
    assert.equal(rolledBack!.rollback, true);
    const xa = feed.all(query("XA START 'x'"), query('INSERT INTO t VALUES (1)'), query("XA END 'x'"));
    assert.deepEqual(types(xa), [['query']]);
  });

  test('a MariaDB GTID begins a group that its COMMIT or XID ends, and moves the GTID state; standalone ends with its statement', () => {
    const feed = new Feed();
    const [trx] = groups(feed.all(mariadbGtid(7n), tableMap(), rows(), xid));
    assert.deepEqual(types(feed.all(mariadbGtid(8n, true), query('CREATE TABLE u (a INT)'))), [['gtid', 'query']]);
    assert.equal(trx!.end.gtidState, '0-1-7');
    assert.equal(feed.grouper.between, undefined);
    feed.push({ type: 'binlog_checkpoint', logFile: 'bin.000001' });
    assert.equal(betweenState(feed), '0-1-8');
  });

  test("the I/O stage's Gtid_list with FLAG_IGN_GTIDS moves the GTID state; a source's does not", () => {
    const feed = new Feed();
    const gtids = [{ domainId: 1, serverId: 2, seqNo: 30n }];
    feed.push({ type: 'gtid_list', gtids, flags: GTID_LIST_IGN_GTIDS }, { serverId: 1 });
    assert.equal(feed.grouper.between?.gtidState, undefined);
    feed.push({ type: 'gtid_list', gtids, flags: GTID_LIST_IGN_GTIDS }, { serverId: REPLICA_ID });
    assert.equal(feed.grouper.between?.gtidState, '1-2-30');
  });

  test('a new group beginning while one is open discards the open one; a Rotate elsewhere drops it silently', () => {
    const feed = new Feed();
    feed.all(mariadbGtid(1n), tableMap());
    assert.deepEqual(types(feed.all(mariadbGtid(2n), tableMap(), rows(), xid)), [['gtid', 'table_map', 'rows']]);
    assert.equal(feed.discarded.length, 1);
    feed.all(query('BEGIN'), tableMap());
    feed.push({ type: 'rotate', position: 4n, nextFile: 'bin.000002' }, { typeCode: EventType.ROTATE });
    assert.equal(feed.grouper.inGroup, false);
    assert.deepEqual(feed.grouper.source, { file: 'bin.000002', pos: 4 });
  });

  test('a source that restarted (its Format_description at position 4) is told; the relay log\'s own header is not', () => {
    const feed = new Feed({}, { ...START, sourceLogFile: 'bin.000002', sourceLogPos: 4 });
    const description = { type: 'format_description', binlogVersion: 4, serverVersion: '10.11', createTimestamp: 1,
      headerLength: 19 } as BinlogEvent;
    assert.equal(feed.push(description, { typeCode: EventType.FORMAT_DESCRIPTION, serverId: REPLICA_ID }), undefined);
    assert.deepEqual(feed.push(description, { typeCode: EventType.FORMAT_DESCRIPTION, serverId: 1 }), { type: 'source-restarted' });
  });

  test('an unknown event type stops with 1593 naming where it is; an ignorable one is passed over', () => {
    const feed = new Feed();
    assert.equal(feed.push({ type: 'unknown', typeCode: 200 }, { typeCode: 200, flags: 0x80 }), undefined);
    assert.throws(() => feed.push({ type: 'unknown', typeCode: 200 }, { typeCode: 200 }),
      (err: unknown) => err instanceof ReplicationError && err.errno === 1593 && /unsupported event type 200 at relay log relay-bin\.000001:104/.test(err.message));
  });

  test('a statement the rules filter out goes with its IntVar; the group still moves the position', () => {
    const feed = new Feed({ filter: new EventFilter({ ...emptyFilters(), replicateIgnoreDb: ['d'] }) });
    const steps = feed.all(query('BEGIN'), intvar, query('INSERT INTO t VALUES (NULL)'), intvar,
      query('INSERT INTO t VALUES (NULL)', 'e'), query('COMMIT'));
    assert.deepEqual(types(steps), [['intvar', 'query']]);
    assert.equal(groups(steps)[0]!.end.relayLogPos, 4 + 6 * LEN);
  });
});

describe('the skip counter (sql_slave_skip_counter)', () => {
  test('the last count skips the whole group it falls in; the group still moves the position', () => {
    const feed = new Feed({ counters: { skip: 1 } });
    const [skipped] = groups(feed.all(query('BEGIN'), tableMap(), rows(), xid));
    assert.deepEqual(skipped!.events, []);
    assert.equal(skipped!.end.relayLogPos, 4 + 4 * LEN);
    assert.equal(feed.counters.skip, 0);
    assert.deepEqual(types(feed.all(query('BEGIN'), tableMap(), rows(), xid)), [['table_map', 'rows']]);
  });

  test('every event from the source counts one; IntVar does not spend the last count, its statement does', () => {
    const feed = new Feed({ counters: { skip: 3 } });
    const steps = feed.all(query('INSERT INTO t VALUES (1)'), intvar, intvar, query('INSERT INTO t VALUES (NULL)'),
      query('INSERT INTO t VALUES (2)'));
    assert.deepEqual(types(steps), [[], [], ['query']]);
    assert.equal(feed.counters.skip, 0);
  });

  test('a DDL the counter skips is no ddl group', () => {
    const feed = new Feed({ counters: { skip: 1 } });
    assert.deepEqual(groups(feed.all(query('CREATE TABLE t (a INT)'))).map((g) => [g.kind, g.events.length]), [['transaction', 0]]);
  });

  test('bookkeeping events do not count', () => {
    const feed = new Feed({ counters: { skip: 1 } });
    feed.push({ type: 'binlog_checkpoint', logFile: 'bin.000001' });
    assert.equal(feed.counters.skip, 1);
  });
});

describe('UNTIL', () => {
  test('a source position: the stage stops before the first group at or after it, never inside one', () => {
    const feed = new Feed({ until: { sourceLogFile: 'bin.000001', sourceLogPos: 4 + 2 * LEN } });
    assert.equal(feed.stopsBefore(), false);
    feed.all(query('BEGIN'), tableMap());
    assert.equal(feed.stopsBefore(), false);
    feed.all(rows(), xid);
    assert.equal(feed.stopsBefore(), true);
  });

  test('a relay log position, and one that holds already at the start', () => {
    const feed = new Feed({ until: { relayLogFile: 'relay-bin.000001', relayLogPos: 4 + LEN } });
    assert.equal(feed.grouper.metAtStart(START), undefined);
    feed.push(query('INSERT INTO t VALUES (1)'));
    assert.equal(feed.stopsBefore(), true);
    assert.equal(feed.grouper.metAtStart({ relayLogFile: 'relay-bin.000002', relayLogPos: 4 }), 'position');
  });

  test("master_gtid_pos: the source's Gtid_list with UNTIL_REACHED stops the stage", () => {
    const feed = new Feed({ until: { sourceGtidPos: '0-1-5' } });
    assert.deepEqual(feed.push({ type: 'gtid_list', gtids: [], flags: GTID_LIST_UNTIL_REACHED }), { type: 'until' });
    const other = new Feed();
    assert.equal(other.push({ type: 'gtid_list', gtids: [], flags: GTID_LIST_UNTIL_REACHED }), undefined);
  });

  test('SQL_BEFORE_GTIDS stops before the first transaction of the set', () => {
    const feed = new Feed({ until: { sqlBeforeGtids: `${UUID}:3-5` } });
    assert.equal(groups(feed.all(mysqlGtid(1n), query('BEGIN'), tableMap(), rows(), xid)).length, 1);
    assert.equal(feed.grouper.between, undefined);
    assert.deepEqual(feed.push(mysqlGtid(3n)), { type: 'until', gtid: { uuid: UUID, gno: 3n } });
    assert.equal(feed.grouper.inGroup, false);
  });

  test('SQL_AFTER_GTIDS stops after the transaction that completes the set; met at the start when executed already', () => {
    const feed = new Feed({ until: { sqlAfterGtids: `${UUID}:1-2` } });
    const first = feed.all(mysqlGtid(1n), query('CREATE TABLE t (a INT)'));
    const second = feed.all(mysqlGtid(2n), query('BEGIN'), tableMap(), rows(), xid);
    assert.deepEqual([...first, ...second].map((s) => s.type === 'group' && s.untilReached), [false, true]);
    assert.equal(groups(second)[0]!.end.gtidState, `${UUID}:1-2`);
    const done = new Feed({ until: { sqlAfterGtids: `${UUID}:1-2` } }, { ...START, gtidState: `${UUID}:1-9` });
    assert.equal(done.grouper.metAtStart(START), 'gtids');
  });

  test("a MySQL transaction already executed is skipped (MySQL's auto-skip) but moves the position", () => {
    const feed = new Feed({}, { ...START, gtidState: `${UUID}:1-5` });
    const steps = feed.all(mysqlGtid(5n), query('BEGIN'), tableMap(), rows(), xid, mysqlGtid(6n), query('BEGIN'), tableMap(), rows(), xid);
    assert.deepEqual(types(steps), [[], ['gtid', 'table_map', 'rows']]);
    assert.equal(groups(steps)[1]!.end.gtidState, `${UUID}:1-6`);
  });

  test('a MariaDB GTID position in the state refuses MySQL GTIDs with 1593', () => {
    const feed = new Feed({}, { ...START, gtidState: '0-1-5' });
    assert.throws(() => feed.push(mysqlGtid(1n)), (err: unknown) => err instanceof ReplicationError && err.errno === 1593);
  });
});
