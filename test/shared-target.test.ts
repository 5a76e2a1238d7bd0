// One target shared by many sources and engines (issue 8, part 4): no source writes in the position table's
// database, whatever the filters say; each engine's position rows are its own (serverId, channel); an engine
// holds a lock on the target while a channel's SQL stage runs, so a second engine with the same serverId
// cannot run the same channel; and position tables of earlier versions are migrated on first use.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pino } from 'pino';
import { ReplicationError, type ReplicationEngine } from '../src/index.js';
import { EventFilter, explainEvent, emptyFilters, PROTECTED_DATABASE_RULE, StatementFilterError, type Decision } from '../src/filter/index.js';
import type { RowsEvent } from '../src/binlog/events.js';
import { ChannelLock } from '../src/info/channel-lock.js';
import { PositionTable } from '../src/info/position-table.js';
import { assertSameData } from './helpers/compare.js';
import { catchUp, openEngine, sourceStatus, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const POSITION_COLUMNS = `
  relay_log_file VARCHAR(512) NOT NULL,
  relay_log_pos BIGINT UNSIGNED NOT NULL,
  source_log_file VARCHAR(512) NOT NULL,
  source_log_pos BIGINT UNSIGNED NOT NULL,
  ddl_end_source_log_file VARCHAR(512) NULL,
  ddl_end_source_log_pos BIGINT UNSIGNED NULL,
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)`;

/** The position table as versions before the serverId key created it. */
function oldPositionTable(name: string): string {
  return `CREATE TABLE ${name} (
    channel VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, ${POSITION_COLUMNS}
  ) ENGINE=InnoDB`;
}

describe('the protected-database rule (pure)', () => {
  const guarded = { protectedDatabase: 'tributary' };
  const refused = (d: Decision) => {
    assert.equal(d.apply, false, d.reason);
    assert.equal(d.rule, PROTECTED_DATABASE_RULE, d.reason);
  };
  const applied = (d: Decision) => assert.equal(d.apply, true, `${d.rule}: ${d.reason}`);
  // The rules alone would apply all of these.
  const letThrough = { ...emptyFilters(), replicateDoDb: ['tributary', 'app'] };

  test('rows events on its tables, after replicate-rewrite-db too', () => {
    refused(explainEvent(letThrough, { db: 'tributary', table: 'replication_position' }, guarded));
    const rewritten = explainEvent({ ...letThrough, replicateRewriteDb: [['x', 'tributary']] }, { db: 'x', table: 't' }, guarded);
    refused(rewritten);
    assert.match(rewritten.reason, /rewritten to 'tributary'/);
    applied(explainEvent(letThrough, { db: 'app', table: 'replication_position' }, guarded));
  });

  test('statements that run in it, name a table of it, or act on it', () => {
    for (const [db, statement] of [
      ['app', "INSERT INTO tributary.replication_position (channel) VALUES ('victim')"],
      ['app', 'UPDATE `tributary` . `replication_position` SET source_log_pos = 4'],
      ['tributary', 'UPDATE replication_position SET source_log_pos = 4'],
      ['app', 'CREATE DATABASE tributary'],
      ['app', 'DROP SCHEMA IF EXISTS `tributary`'],
      ['app', 'ALTER DATABASE tributary CHARACTER SET latin1'],
      ['tributary', 'ALTER DATABASE CHARACTER SET latin1'],
      ['app', 'RENAME TABLE app.t TO tributary.replication_position'],
      ['app', 'CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW UPDATE tributary.replication_position SET source_log_pos = 4'],
      ['app', 'GRANT ALL ON tributary.* TO someone'],
      ['app', 'INSERT INTO app.t SELECT * FROM /* a comment */ tributary.replication_position'],
    ] as const) {
      refused(explainEvent(letThrough, { db, statement }, guarded));
    }
  });

  test('the name in a string, a comment or as a column is not a write', () => {
    applied(explainEvent(emptyFilters(), { db: 'app', statement: "INSERT INTO t VALUES ('tributary.replication_position')" }, guarded));
    applied(explainEvent(emptyFilters(), { db: 'app', statement: 'INSERT INTO t (tributary) VALUES (1) # tributary.x' }, guarded));
    applied(explainEvent(emptyFilters(), { db: 'app', statement: 'INSERT INTO tributary_archive.t VALUES (1)' }, guarded));
    applied(explainEvent(emptyFilters(), { db: 'tributary', statement: 'SAVEPOINT a' }, guarded));
  });

  test('letter case follows the target', () => {
    applied(explainEvent(emptyFilters(), { db: 'app', statement: 'DELETE FROM TRIBUTARY.replication_position' }, guarded));
    refused(explainEvent(emptyFilters(), { db: 'app', statement: 'DELETE FROM TRIBUTARY.replication_position' },
      { ...guarded, caseInsensitiveNames: true }));
    // lower_case_table_names folds the dotted capital I to a plain i.
    applied(explainEvent(emptyFilters(), { db: 'TR\u0130BUTARY', table: 'replication_position' }, guarded));
    refused(explainEvent(emptyFilters(), { db: 'TR\u0130BUTARY', table: 'replication_position' }, { ...guarded, caseInsensitiveNames: true }));
    refused(explainEvent(emptyFilters(), { db: 'app', statement: 'DELETE FROM `TR\u0130BUTARY`.replication_position' },
      { ...guarded, caseInsensitiveNames: true }));
  });

  test('a statement that mentions it and cannot be parsed stops; one that does not mention it is not parsed', () => {
    const filter = new EventFilter(emptyFilters(), guarded);
    const event = (sql: string) => ({ sql: Buffer.from(sql), database: 'app', statusVars: {} });
    assert.throws(() => filter.statement(event("INSERT INTO tributary.replication_position VALUES ('unterminated")),
      (err: unknown) => err instanceof StatementFilterError && /could not be parsed/.test(err.message));
    applied(filter.statement(event("INSERT INTO t VALUES ('unterminated")));
  });

  test('each dropped event is told once, rows events of one table map as repeats', () => {
    const told: boolean[] = [];
    const filter = new EventFilter(emptyFilters(), { ...guarded, onProtected: (_d, repeat) => told.push(repeat) });
    const map = { database: 'tributary', table: 'replication_position' };
    const rows = (tableMap: object) => ({ tableId: 7n, tableMap }) as unknown as RowsEvent;
    assert.equal(filter.rows(rows(map)), undefined);
    assert.equal(filter.rows(rows(map)), undefined);
    assert.equal(filter.rows(rows({ ...map })), undefined);
    const kept = rows({ database: 'app', table: 't' });
    assert.equal(filter.rows(kept), kept);
    assert.deepEqual(told, [false, true, false]);
  });
});

describe('a shared target', () => {
  let target: TestServer;
  let s1: TestServer;
  let s2: TestServer;

  before(async () => {
    [target, s1, s2] = await Promise.all([
      startMariaDb({ serverId: 801, noBinlog: true }), startMariaDb({ serverId: 811 }), startMariaDb({ serverId: 812 }),
    ]);
  });
  after(async () => Promise.all([target?.destroy(), s1?.destroy(), s2?.destroy()]));

  const from = async (source: TestServer) => {
    const at = await sourceStatus(source);
    return { sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: at.file, sourceLogPos: at.pos, sourceConnectRetry: 1 };
  };

  async function positionRows(table = 'tributary.replication_position'): Promise<Record<string, unknown>[]> {
    return target.sql(`SELECT server_id, channel, relay_log_file, relay_log_pos, source_log_file, source_log_pos
      FROM ${table} ORDER BY server_id, channel`);
  }

  async function assertRunning(engine: ReplicationEngine, channel: string): Promise<void> {
    const status = await engine.replicaStatus(channel);
    assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
    assert.equal(status.sqlRunning, 'Yes');
  }

  test('a source cannot write the position table database, in ROW and STATEMENT format, whatever the filters say', async () => {
    const warnings: { msg: string; rule?: string; reason?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(JSON.parse(line)); } });
    const engine = await openEngine(target, { serverId: 7001, logger });
    const source = await s2.connect();
    try {
      await engine.changeReplicationSource('victim', await from(s1));
      await s1.sql('CREATE DATABASE victim', 'CREATE TABLE victim.t (id INT PRIMARY KEY)', 'INSERT INTO victim.t VALUES (1), (2)');
      await engine.startReplica('victim');
      await catchUp(engine, 'victim', s1, 30);
      const victimBefore = await positionRows();

      await engine.changeReplicationSource('attacker', await from(s2));
      // Filters that would let everything through: the rule comes before them.
      await engine.changeReplicationFilter('attacker', { replicateDoDb: ['tributary', 'app_row', 'app_statement'] });
      await engine.startReplica('attacker');
      const victimFile = String(victimBefore[0]!.source_log_file);
      for (const [round, format] of ['ROW', 'STATEMENT'].entries()) {
        const app = `app_${format.toLowerCase()}`;
        for (const sql of [
          `SET SESSION binlog_format = '${format}'`,
          `CREATE DATABASE ${app}`,
          // Statements run in a database of replicate-do-db.
          `USE ${app}`,
          'CREATE DATABASE IF NOT EXISTS tributary',
          `CREATE TABLE IF NOT EXISTS tributary.replication_position (server_id INT UNSIGNED NOT NULL,
            channel VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, ${POSITION_COLUMNS},
            PRIMARY KEY (server_id, channel)) ENGINE=InnoDB`,
          `CREATE TABLE tributary.evil_${format} (id INT PRIMARY KEY)`,
          `CREATE TABLE ${app}.t (id INT PRIMARY KEY, note VARCHAR(100))`,
          `INSERT INTO ${app}.t VALUES (1, 'tributary.replication_position is named only in a string')`,
          // Rewinds the victim channel, if applied.
          `INSERT INTO tributary.replication_position (server_id, channel, relay_log_file, relay_log_pos, source_log_file,
            source_log_pos) VALUES (7001, 'victim', 'relay-bin-victim.000001', 4, '${victimFile}', 4)
            ON DUPLICATE KEY UPDATE source_log_pos = ${10 + round}`,
          'USE tributary',
          `UPDATE replication_position SET source_log_pos = ${20 + round}`,
          `USE ${app}`,
          `CREATE TRIGGER ${app}.tr AFTER INSERT ON ${app}.t FOR EACH ROW
            UPDATE tributary.replication_position SET source_log_pos = source_log_pos + 1`,
          `INSERT INTO ${app}.t VALUES (2, 'fires the trigger on the source')`,
          `INSERT INTO tributary.evil_${format} VALUES (1)`,
        ]) await source.query(sql);
      }
      await catchUp(engine, 'attacker', s2, 30);

      await assertRunning(engine, 'attacker');
      assert.deepEqual(await positionRows().then((rows) => rows.filter((r) => r.channel === 'victim')), victimBefore,
        "the victim channel's position row is untouched");
      assert.deepEqual((await target.sql('SHOW TABLES FROM tributary') as Record<string, string>[]).map((r) => Object.values(r)[0]),
        ['replication_position']);
      assert.deepEqual(await target.sql("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA LIKE 'app%'"), []);
      const targetConn = await target.connect();
      try {
        await assertSameData(source, targetConn, ['app_row', 'app_statement']);
      } finally {
        await targetConn.end();
      }
      const status = await engine.replicaStatus('attacker');
      // ROW: CREATE DATABASE, CREATE TABLE twice, CREATE TRIGGER, and rows events of the INSERT, the UPDATE, the
      // trigger's update and the INSERT into evil (8); STATEMENT: the same statements but for the IF NOT EXISTS
      // ones, which the source may not log again (at least 5).
      assert.ok(status.skippedProtectedEvents >= 13, `skippedProtectedEvents ${status.skippedProtectedEvents}`);
      assert.ok(warnings.some((w) => w.rule === PROTECTED_DATABASE_RULE && /position table/.test(w.reason ?? '')),
        'each dropped event is logged as a warning');
      assert.equal(engine.explainFilter('attacker', { db: 'tributary', table: 'replication_position' }).rule, PROTECTED_DATABASE_RULE);

      // The victim continues from where it was: a rewound position would apply its rows again (1062).
      await s1.sql('INSERT INTO victim.t VALUES (3)');
      await catchUp(engine, 'victim', s1, 30);
      await assertRunning(engine, 'victim');
      assert.deepEqual(await target.sql('SELECT id FROM victim.t ORDER BY id'), [{ id: 1 }, { id: 2 }, { id: 3 }]);
    } finally {
      await source.end();
      await engine.close();
    }
  });

  test('engines with their own data directories keep their own rows for one channel name', async () => {
    const [dir1, dir2] = [await tempDir('shared1'), await tempDir('shared2')];
    const open = () => Promise.all([openEngine(target, { serverId: 7101, dataDir: dir1 }), openEngine(target, { serverId: 7102, dataDir: dir2 })]);
    const write = async (from: number, to: number) => {
      for (let id = from; id <= to; id++) {
        await s1.sql(`INSERT INTO two_a.t VALUES (${id}, 'a')`);
        await s2.sql(`INSERT INTO two_b.t VALUES (${id}, '${'b'.repeat(10 + id)}')`);
      }
    };
    let [e1, e2] = await open();
    try {
      await e1.changeReplicationSource('dbsv1', await from(s1));
      await e2.changeReplicationSource('dbsv1', await from(s2));
      await s1.sql('CREATE DATABASE two_a', 'CREATE TABLE two_a.t (id INT PRIMARY KEY, v VARCHAR(100))');
      await s2.sql('CREATE DATABASE two_b', 'CREATE TABLE two_b.t (id INT PRIMARY KEY, v VARCHAR(100))');
      await write(1, 5);
      await Promise.all([e1.startReplica('dbsv1'), e2.startReplica('dbsv1')]);
      await Promise.all([catchUp(e1, 'dbsv1', s1, 30), catchUp(e2, 'dbsv1', s2, 30)]);
      const rows = (await positionRows()).filter((r) => r.channel === 'dbsv1');
      assert.deepEqual(rows.map((r) => [r.server_id, Number(r.source_log_pos)]),
        [[7101, (await sourceStatus(s1)).pos], [7102, (await sourceStatus(s2)).pos]]);

      await Promise.all([e1.close(), e2.close()]);
      await write(6, 10);
      [e1, e2] = await open();
      await Promise.all([e1.startReplica('dbsv1'), e2.startReplica('dbsv1')]);
      await Promise.all([catchUp(e1, 'dbsv1', s1, 30), catchUp(e2, 'dbsv1', s2, 30)]);
      await assertRunning(e1, 'dbsv1');
      await assertRunning(e2, 'dbsv1');
      const targetConn = await target.connect();
      const [c1, c2] = [await s1.connect(), await s2.connect()];
      try {
        await assertSameData(c1, targetConn, ['two_a']);
        await assertSameData(c2, targetConn, ['two_b']);
      } finally {
        await Promise.all([targetConn.end(), c1.end(), c2.end()]);
      }
    } finally {
      await Promise.all([e1.close(), e2.close()]);
    }
  });

  test('a second engine with the same serverId cannot run the channel while the first does', async () => {
    const lockName = 'tributary:7201:tributary.replication_position:dup';
    const holder = async () => (await target.sql(`SELECT IS_USED_LOCK('${lockName}') AS id`) as { id: number | null }[])[0]!.id;
    const [a, b] = await Promise.all([openEngine(target, { serverId: 7201 }), openEngine(target, { serverId: 7201 })]);
    const refusal = (err: unknown) => {
      assert.ok(err instanceof ReplicationError, String(err));
      assert.equal(err.errno, 1202);
      const named = /held by connection (\d+) from 127\.0\.0\.1:\d+ \(root\)/.exec(err.message);
      assert.ok(named, err.message);
      return Number(named[1]);
    };
    try {
      const start = await from(s1);
      await a.changeReplicationSource('dup', start);
      await b.changeReplicationSource('dup', start);
      await s1.sql('CREATE DATABASE dup', 'CREATE TABLE dup.t (id INT PRIMARY KEY)', 'INSERT INTO dup.t VALUES (1)');
      await a.startReplica('dup');
      await catchUp(a, 'dup', s1, 30);

      const refused = await b.startReplica('dup').then(() => undefined, (err: unknown) => err);
      assert.equal(refusal(refused), await holder(), "the message names the first engine's connection");
      assert.equal((await b.replicaStatus('dup')).sqlRunning, 'No');
      assert.equal((await b.replicaStatus('dup')).ioRunning, 'No');
      // Nor can it move the position the first one applies from.
      const rowBefore = await positionRows();
      refusal(await b.changeReplicationSource('dup', { sourceLogPos: 4 }).then(() => undefined, (err: unknown) => err));
      assert.deepEqual(await positionRows(), rowBefore);

      await a.stopReplica('dup');
      assert.equal(await holder(), null, 'the lock goes with the SQL stage');
      await s1.sql('INSERT INTO dup.t VALUES (2)');
      await b.startReplica('dup');
      await catchUp(b, 'dup', s1, 30);
      await assertRunning(b, 'dup');
      assert.deepEqual(await target.sql('SELECT id FROM dup.t ORDER BY id'), [{ id: 1 }, { id: 2 }]);

      // b's connection to the target drops while it idles; a takes the channel over. When b's SQL stage
      // reconnects to apply more, the lock is a's: it stops instead of applying.
      await b.stopReplica('dup', { threads: ['IO_THREAD'] });
      await target.sql(`KILL CONNECTION ${await holder()}`);
      await until('the lock is free after the kill', async () => (await holder()) === null);
      await a.startReplica('dup');
      await s1.sql('INSERT INTO dup.t VALUES (3)');
      await catchUp(a, 'dup', s1, 30);
      await b.startReplica('dup', { threads: ['IO_THREAD'] });
      const stopped = await until('b stops on the lock', async () => {
        const status = await b.replicaStatus('dup');
        return status.sqlRunning === 'No' && status;
      });
      assert.equal(stopped.lastSqlErrno, 1202, stopped.lastSqlError);
      assert.match(stopped.lastSqlError, /held by connection \d+ from 127\.0\.0\.1/);
      await assertRunning(a, 'dup');
      assert.deepEqual(await target.sql('SELECT id FROM dup.t ORDER BY id'), [{ id: 1 }, { id: 2 }, { id: 3 }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('the lock follows the applier to a new connection, ending the one the target still keeps', async () => {
    const name = 'tributary:test:stale';
    const [old, fresh, other] = await Promise.all([target.connect(), target.connect(), target.connect()]);
    const ids = async () => (await target.sql('SELECT ID AS id FROM information_schema.PROCESSLIST') as { id: number }[]).map((r) => r.id);
    try {
      const lock = new ChannelLock(name, "Channel 'stale'");
      lock.want();
      await lock.connected(old);
      // As after a network failure the applier did not see end: the target still has the old connection.
      await lock.connected(fresh);
      assert.ok(!(await ids()).includes(old.threadId), 'the replaced connection is ended');
      assert.equal((await target.sql(`SELECT IS_USED_LOCK('${name}') AS id`) as { id: number }[])[0]!.id, fresh.threadId);
      const second = new ChannelLock(name, "Channel 'stale'");
      second.want();
      await assert.rejects(second.connected(other), new RegExp(`held by connection ${fresh.threadId} from 127\\.0\\.0\\.1`));
      assert.ok((await ids()).includes(fresh.threadId), "another engine's refusal ends nothing");
      await lock.release();
      await second.connected(other);
    } finally {
      await Promise.all([old, fresh, other].map((c) => c.end().catch(() => undefined)));
    }
  });

  test('a position table of an earlier version is migrated and its row used', async () => {
    const table = 'legacy.positions';
    const dataDir = await tempDir('legacy');
    let engine = await openEngine(target, { serverId: 7301, dataDir, positionTable: table });
    const channel = 'mig';
    let afterFirst: { file: string; pos: number };
    try {
      await engine.changeReplicationSource(channel, await from(s1));
      await s1.sql('CREATE DATABASE mig', 'CREATE TABLE mig.t (id INT PRIMARY KEY)', 'INSERT INTO mig.t VALUES (1)');
      afterFirst = await sourceStatus(s1);
      await s1.sql('INSERT INTO mig.t VALUES (2)', 'INSERT INTO mig.t VALUES (3)');
      await engine.startReplica(channel);
      await catchUp(engine, channel, s1, 30);
    } finally {
      await engine.close();
    }
    // As an earlier version would have left it, at a position where rows 2 and 3 are still to come: only the
    // row says so (relay-log.info says all is applied).
    await target.sql('DROP TABLE legacy.positions', oldPositionTable(table),
      `INSERT INTO ${table} (channel, relay_log_file, relay_log_pos, source_log_file, source_log_pos)
        VALUES ('${channel}', 'relay-bin-mig.999999', 4, '${afterFirst.file}', ${afterFirst.pos})`,
      'DELETE FROM mig.t WHERE id > 1');
    await s1.sql('INSERT INTO mig.t VALUES (4)');

    engine = await openEngine(target, { serverId: 7301, dataDir, positionTable: table });
    try {
      await engine.startReplica(channel);
      await catchUp(engine, channel, s1, 30);
      await assertRunning(engine, channel);
      assert.deepEqual(await target.sql('SELECT id FROM mig.t ORDER BY id'), [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
      const rows = await positionRows(table);
      assert.deepEqual(rows.map((r) => [r.server_id, r.channel]), [[7301, channel]]);
      assert.deepEqual(await primaryKey(table), ['server_id', 'channel']);
    } finally {
      await engine.close();
    }
  });

  test('two engines migrating one old table at once both succeed', async () => {
    const table = 'race.positions';
    const conns: Connection[] = await Promise.all([target.connect(), target.connect()]);
    try {
      for (let round = 0; round < 5; round++) {
        await target.sql('DROP DATABASE IF EXISTS race', 'CREATE DATABASE race', oldPositionTable(table),
          `INSERT INTO ${table} (channel, relay_log_file, relay_log_pos, source_log_file, source_log_pos)
            VALUES ('c', 'relay-bin-c.000003', 120, 'mysql-bin.000002', 456)`);
        const tables = [new PositionTable(table, 'c', 1), new PositionTable(table, 'c', 2)];
        await Promise.all(tables.map((t, i) => t.ensure(conns[i]!)));
        assert.deepEqual(await primaryKey(table), ['server_id', 'channel']);
        const found = await Promise.all(tables.map((t, i) => t.read(conns[i]!)));
        // The row went to exactly one of them, whole.
        assert.equal(found.filter(Boolean).length, 1, JSON.stringify(found));
        assert.deepEqual({ ...found.find(Boolean)! }, { relayLogFile: 'relay-bin-c.000003', relayLogPos: 120,
          sourceLogFile: 'mysql-bin.000002', sourceLogPos: 456, ddlEndSourceLogFile: null, ddlEndSourceLogPos: null });
      }
    } finally {
      await Promise.all(conns.map((c) => c.end()));
    }
  });

  async function primaryKey(table: string): Promise<string[]> {
    const rows = await target.sql(`SHOW INDEX FROM ${table} WHERE Key_name = 'PRIMARY'`) as { Column_name: string; Seq_in_index: number }[];
    return rows.sort((x, y) => x.Seq_in_index - y.Seq_in_index).map((r) => r.Column_name);
  }
});
