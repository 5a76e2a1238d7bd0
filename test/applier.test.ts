// The applier against a real target, as the SQL stage uses it: apply resolves with the position it committed,
// which is what the target's position row (read by open) holds, and a batch that fails rejects with an ApplyError
// naming the group that failed, the groups before it committed. The stage takes its position from these alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Applier, ApplyError } from '../src/apply/applier.js';
import { ColumnType as T } from '../src/binlog/column-types.js';
import { PositionTable, type ChannelPosition } from '../src/info/position-table.js';
import { ddl, group } from './helpers/groups.js';
import { deletes, tableMap, writes } from './helpers/row-events.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const T_MAP = tableMap('d', 't', [T.LONG, T.LONG, T.LONG]);
const insert = (id: number) => group([T_MAP, writes(T_MAP, [id, 0, 0])]);

/** The positions of a channel position, without the row's other columns. */
const positions = (p: ChannelPosition | undefined) => p && {
  relayLogFile: p.relayLogFile, relayLogPos: p.relayLogPos, sourceLogFile: p.sourceLogFile, sourceLogPos: p.sourceLogPos,
};

describe('the applier', () => {
  let target: TestServer;
  let applier: Applier;

  before(async () => {
    target = await startMariaDb({ serverId: 411, noBinlog: true });
    await target.sql('CREATE DATABASE d', 'CREATE TABLE d.t (id INT PRIMARY KEY, a INT, b INT)');
    applier = new Applier({ target: target.connectionOptions(), positions: new PositionTable('tributary.positions', 'ch', 4001),
      logger: pino({ level: 'silent' }) });
    assert.equal(await applier.open(), undefined);
  });

  after(async () => {
    await applier?.close();
    await target?.destroy();
  });

  const ids = async () => (await target.sql('SELECT id FROM d.t ORDER BY id') as { id: number }[]).map((r) => r.id);

  test('apply resolves with the end of the last group, which is what the target\'s position row holds', async () => {
    const groups = [insert(1), insert(2), ddl('CREATE TABLE d.u (id INT)'), insert(3)];
    const committed = await applier.apply(groups);
    assert.deepEqual(committed, groups[3]!.end);
    assert.deepEqual(positions(await applier.open()), positions(committed));
    assert.deepEqual(await ids(), [1, 2, 3]);
  });

  test('a batch that fails: the groups before the failing one are committed, and the error names it', async () => {
    const [first, duplicate, last] = [insert(10), insert(1), insert(11)];
    await assert.rejects(applier.apply([first!, duplicate!, last!]), (err: unknown) => err instanceof ApplyError &&
      err.errno === 1062 && err.group === duplicate && !err.transient &&
      /^Could not execute Write_rows event on table d\.t; Duplicate entry '1'/.test(err.message));
    assert.deepEqual(positions(await applier.open()), positions(first!.end));
    assert.deepEqual(await ids(), [1, 2, 3, 10]);
  });

  test('a set of rows across groups that finds fewer rows is replayed group by group: the error names the group and its rows event', async () => {
    const [found, missing] = [group([T_MAP, deletes(T_MAP, [2, 0, 0])]), group([T_MAP, deletes(T_MAP, [99, 0, 0])])];
    await assert.rejects(applier.apply([found!, missing!]), (err: unknown) => err instanceof ApplyError && err.errno === 1032 &&
      err.group === missing && err.message === "Could not execute Delete_rows event on table d.t; Can't find record in 't', " +
      `Error_code: 1032; handler error HA_ERR_KEY_NOT_FOUND; the event's master log bin.000001, end_log_pos ${missing!.events[1]!.header.logPos}`);
    assert.deepEqual(positions(await applier.open()), positions(found!.end));
    assert.deepEqual(await ids(), [1, 3, 10]);
  });

  test('a group that changes a MyISAM table ends its target transaction: a later group failing does not apply it twice', async () => {
    await target.sql('CREATE TABLE d.m (a INT, b INT, c INT) ENGINE=MyISAM');
    const mMap = tableMap('d', 'm', [T.LONG, T.LONG, T.LONG]);
    const [kept, duplicate] = [group([mMap, writes(mMap, [7, 7, 7])]), insert(1)];
    await assert.rejects(applier.apply([kept!, duplicate!]), (err: unknown) => err instanceof ApplyError &&
      err.errno === 1062 && err.group === duplicate);
    // In one target transaction, the rollback would keep the MyISAM row and the replay of the first group alone
    // would write it again.
    assert.deepEqual(await target.sql('SELECT a FROM d.m'), [{ a: 7 }]);
    assert.deepEqual(positions(await applier.open()), positions(kept!.end));
  });

  test('a failure outside the group\'s statements (the DDL marker cannot be written) names the group too', async () => {
    await target.sql('RENAME TABLE tributary.positions TO tributary.gone');
    try {
      const create = ddl('CREATE TABLE d.v (id INT)');
      await assert.rejects(applier.apply([create]), (err: unknown) => err instanceof ApplyError && err.errno === 1146 &&
        err.group === create && !err.transient);
    } finally {
      await target.sql('RENAME TABLE tributary.gone TO tributary.positions');
    }
    // The marker goes in before the DDL runs.
    assert.deepEqual(await target.sql("SHOW TABLES FROM d LIKE 'v'"), []);
  });
});
