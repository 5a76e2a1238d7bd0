// What a source sends reaches the target only as what it is: a statement runs as one statement, names and
// literals the applier writes stay names and literals whatever character set the source's last statement left
// the session in. Events are built by hand, as a hostile source could send them, and applied to a real target
// that holds a database no event may touch.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { Applier, ApplyError, type TransactionGroup } from '../src/apply/applier.js';
import { EventType, type BinlogEvent, type DecodedEvent, type QueryStatusVars } from '../src/binlog/events.js';
import { PositionTable } from '../src/info/position-table.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const GBK = 28;
const UTF8MB4 = 45;

function decoded(event: BinlogEvent, typeCode: number = EventType.QUERY): DecodedEvent {
  return { header: { timestamp: 1_700_000_000, typeCode, serverId: 1, eventLength: 0, logPos: 0, flags: 0 }, event };
}

function query(database: string, sql: Buffer | string, vars: QueryStatusVars = {}): DecodedEvent {
  return decoded({
    type: 'query', threadId: 7, executionTime: 0, errorCode: 0, database,
    statusVars: { charset: { client: UTF8MB4, connection: UTF8MB4, server: UTF8MB4 }, ...vars },
    sql: typeof sql === 'string' ? Buffer.from(sql, 'utf8') : sql,
  });
}

const gbk = (database: string, sql: string) =>
  query(database, sql, { charset: { client: GBK, connection: GBK, server: GBK } });

let at = 4;
function group(...events: DecodedEvent[]): TransactionGroup {
  const start = { relayLogFile: 'relay-bin.000001', relayLogPos: at, sourceLogFile: 'mysql-bin.000001', sourceLogPos: at };
  at += 100;
  const end = { ...start, relayLogPos: at, sourceLogPos: at };
  return { kind: 'transaction', events, start, end, rollback: false, database: (e) => e.database };
}

describe('hostile statements and names from a source', () => {
  let target: TestServer;
  let applier: Applier;

  before(async () => {
    target = await startMariaDb({ serverId: 401, noBinlog: true });
    await target.sql('CREATE DATABASE victim', 'CREATE TABLE victim.t (id INT PRIMARY KEY)', 'INSERT INTO victim.t VALUES (1)',
      'CREATE DATABASE tenant', 'CREATE TABLE tenant.t (id INT PRIMARY KEY)',
      // Their UTF-8 bytes end in 0xa8 (表) and 0x81 (Á), lead bytes of gbk and big5, and of sjis and cp932, that
      // join a backtick after them into one character.
      'CREATE DATABASE `tenant表`', 'CREATE TABLE `tenant表`.`t表` (`id表` INT PRIMARY KEY)',
      'CREATE DATABASE `tenantÁ`', 'CREATE TABLE `tenantÁ`.t (id INT PRIMARY KEY)');
    applier = new Applier({
      target: target.connectionOptions({ multipleStatements: false }),
      // An operator may name the position table anything.
      positions: new PositionTable('tribütary.`pos` table', 'ch', 3001), logger: pino({ level: 'silent' }),
    });
    await applier.open();
  });

  after(async () => {
    await applier?.close();
    await target?.destroy();
  });

  beforeEach(async () => {
    await target.sql('DELETE FROM tenant.t');
  });

  async function victimIntact(): Promise<void> {
    assert.deepEqual(await target.sql('SELECT id FROM victim.t'), [{ id: 1 }]);
  }

  async function refused(groups: TransactionGroup[], errno: number): Promise<void> {
    await assert.rejects(applier.apply(groups), (err: unknown) => err instanceof ApplyError && err.errno === errno);
    await applier.open();
    await victimIntact();
  }

  test("a time zone name with a quote is a time zone name, not SQL", async () => {
    await refused([group(query('tenant', 'INSERT INTO t VALUES (1)', { timeZone: "+00:00'; DROP DATABASE victim; #" }))], 1298);
    assert.deepEqual(await target.sql('SELECT id FROM tenant.t'), []);
  });

  test('a Query event holding two statements runs neither, as the SQL thread refuses it (1064)', async () => {
    await refused([group(query('tenant', 'INSERT INTO t VALUES (2); DROP DATABASE victim'))], 1064);
    await refused([group(query('tenant', 'INSERT INTO t VALUES (2) /*'), query('tenant', '*/; DROP DATABASE victim; /*'))], 1064);
    assert.deepEqual(await target.sql('SELECT id FROM tenant.t'), []);
  });

  test('a stored program body with semicolons still runs, as one statement', async () => {
    await applier.apply([group(query('tenant', 'CREATE PROCEDURE p() BEGIN INSERT INTO t VALUES (3); INSERT INTO t VALUES (4); END'),
      query('tenant', 'CALL p()'))]);
    assert.deepEqual(await target.sql('SELECT id FROM tenant.t ORDER BY id'), [{ id: 3 }, { id: 4 }]);
    await target.sql('DROP PROCEDURE tenant.p');
  });

  test('after a gbk statement, names the applier writes are still read as UTF-8: USE, user variables', async () => {
    const userVar = decoded({ type: 'user_var', name: 'v表', isNull: false, valueType: 2, charset: UTF8MB4,
      value: Buffer.alloc(8), decoded: 7n, unsigned: false }, EventType.USER_VAR);
    await applier.apply([group(
      gbk('tenant', 'INSERT INTO t VALUES (5)'),
      query('tenant表', 'INSERT INTO `t表` VALUES (6)'),
      gbk('tenant', 'INSERT INTO t VALUES (8)'),
      userVar,
      query('tenant', 'INSERT INTO t VALUES (@`v表`)'),
      gbk('tenant', "INSERT INTO t VALUES (9)"),
      query('tenantÁ', 'INSERT INTO t VALUES (10)', { charset: { client: 95, connection: 95, server: 95 } }),
    )]);
    assert.deepEqual(await target.sql('SELECT id FROM tenant.t ORDER BY id'), [{ id: 5 }, { id: 7 }, { id: 8 }, { id: 9 }]);
    assert.deepEqual(await target.sql('SELECT `id表` AS id FROM `tenant表`.`t表`'), [{ id: 6 }]);
    assert.deepEqual(await target.sql('SELECT id FROM `tenantÁ`.t'), [{ id: 10 }]);
    await victimIntact();
  });

  test('the position lands in the table the operator named, however it is spelled', async () => {
    const [row] = await target.sql('SELECT channel, source_log_pos FROM `tribütary`.```pos`` table`');
    assert.equal(row.channel, 'ch');
    assert.ok(Number(row.source_log_pos) > 4);
  });
});
