// provisionChannel against real servers: a source whose binlogs no longer reach back to its tables' creation,
// written to the whole time, is copied through the channel's filters and rewrite at one snapshot, and replication
// from the snapshot's coordinates leaves the target identical to the source, by file and position or by GTID (the
// snapshot's GTID position); a copy killed with -9 continues and ends exact, in both modes; verify: true finds a
// row the target changed; a target table that already holds rows is refused, changing nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { ReplicationEngine, ReplicationError, type ProvisionProgress } from '../src/index.js';
import { assertSameData, compareDatabases } from './helpers/compare.js';
import { catchUp, openEngine, tempDir, testLogger, until } from './helpers/replica.js';
import { replicaProcess } from './helpers/replica-process.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { createTypeRichSchema, extremeRows, runTransactions } from './helpers/workload.js';

const CHANNEL = 'p1';

async function purgeBinlogs(source: TestServer): Promise<void> {
  await source.sql('FLUSH BINARY LOGS');
  const [last] = (await source.sql('SHOW BINARY LOGS') as { Log_name: string }[]).slice(-1);
  await source.sql(`PURGE BINARY LOGS TO '${last!.Log_name}'`);
}

/**
 * MariaDB's SHOW CREATE TABLE writes the workload's 4-byte ENUM and SET members as '?': as provisioning's warning
 * says, the table is created on the target beforehand (empty, so provisioning keeps it).
 */
async function precreateEnumsTable(target: TestServer, db: string): Promise<void> {
  const conn = await target.connect();
  try {
    await createTypeRichSchema(conn, `${db}_scratch`);
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await conn.query(`CREATE TABLE ${db}.enums_bits LIKE ${db}_scratch.enums_bits`);
    await conn.query(`DROP DATABASE ${db}_scratch`);
  } finally {
    await conn.end();
  }
}

async function tableNames(server: TestServer, db: string): Promise<string[]> {
  const rows = await server.sql(`SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db}' ORDER BY 1`) as { t: string }[];
  return rows.map((r) => r.t);
}

function sourceOptions(source: TestServer) {
  return { sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '', sourceConnectRetry: 1 };
}

async function sameData(source: TestServer, target: TestServer, databases: string[]): Promise<void> {
  const [a, b] = await Promise.all([source.connect(), target.connect()]);
  try {
    await assertSameData(a, b, databases);
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
}

/** Killed with -9 twice and closed during the copy, then provisioned again: ends exact. */
async function crashAndContinue(source: TestServer, target: TestServer, conn: Connection, db: string, channel: string,
  gtid: boolean): Promise<void> {
  await source.sql(`CREATE DATABASE ${db}`);
  await createTypeRichSchema(conn, db);
  await runTransactions(conn, db, { count: 1500, seed: 41 });
  await purgeBinlogs(source);
  await precreateEnumsTable(target, db);
  const dataDir = await tempDir('provision-crash');
  const targetOptions = { host: target.host, port: target.port, user: target.user, password: target.password };
  const traffic = runTransactions(await source.connect(), db, { count: 1500, seed: 42 });
  const config = {
    dataDir, serverId: 3001, target: targetOptions, channel,
    source: { ...sourceOptions(source), ...(gtid ? { sourceUseGtid: 'slave_pos' as const } : {}) },
    filters: { replicateDoDb: [db] }, provision: { parallel: 1, chunkRows: 20 },
  };
  const progress = async () => await target.sql("SELECT state, rows_copied AS n, snapshot_pos AS pos " +
    `FROM tributary.provision_progress WHERE channel = '${channel}'`).catch(() => []) as { state: string; n: string; pos: string }[];
  // Killed once some tables are done and one is half copied, so that both ways of continuing are taken.
  const first = await replicaProcess(config);
  await until('a table done and another half copied', async () => {
    const rows = await progress();
    return rows.some((r) => r.state === 'done') && rows.some((r) => r.state === 'copying' && Number(r.n) > 0);
  }, 60_000);
  const [copying] = await first.status();
  assert.equal(copying!.provisionState, 'copying');
  assert.ok(copying!.provisionTablesDone < copying!.provisionTablesTotal && copying!.provisionRowsCopied > 0);
  await first.kill();
  const firstSnapshot = (await progress())[0]!.pos;
  assert.ok((await progress()).some((r) => r.state === 'copying'), 'killed during the copy');
  // The second process brings the finished tables to its own snapshot, then is killed while it copies.
  const second = await replicaProcess(config);
  await until('a table done at the second snapshot', async () =>
    (await progress()).some((r) => r.pos !== firstSnapshot && r.state === 'done'), 60_000);
  await second.kill();
  assert.ok((await progress()).some((r) => r.state === 'copying'), 'killed again during the copy');

  // close() during the copy stops it there, and the next call continues too.
  const open = () => ReplicationEngine.open({ dataDir, serverId: 3001, target: targetOptions, logger: testLogger() });
  const closing = await open();
  let onCopy = (): void => undefined;
  const copied = new Promise<void>((resolve) => { onCopy = resolve; });
  const stopped = closing.provisionChannel(channel, { parallel: 1, chunkRows: 20,
    onProgress: (p) => p.state === 'copying' && p.rowsCopied > 0 && onCopy() });
  await copied;
  await closing.close();
  await assert.rejects(stopped, (err: unknown) => err instanceof ReplicationError && err.errno === 1593 && /closing/.test(err.message));

  const engine = await open();
  try {
    const done = await engine.provisionChannel(channel, { parallel: 2, chunkRows: 200, start: true });
    assert.equal(done.state, 'done');
    await traffic;
    await catchUp(engine, channel, source);
    await sameData(source, target, [db]);
    if (gtid) {
      // The GTID state went from snapshot to snapshot with the catch-ups, and on by GTID to the source's end.
      const [{ all }] = await source.sql('SELECT @@gtid_binlog_pos AS `all`') as [{ all: string }];
      const status = await engine.replicaStatus(channel);
      assert.equal(status.usingGtid, 'Slave_Pos');
      assert.equal(status.gtidSlavePos, all);
    }
  } finally {
    await engine.close();
  }
}

describe('provisionChannel', { timeout: 240_000 }, () => {
  let source: TestServer;
  let target: TestServer;
  let conn: Connection;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 131 }), startMariaDb({ serverId: 231, noBinlog: true })]);
    conn = await source.connect();
    await createTypeRichSchema(conn, 'prov');
    await extremeRows(conn, 'prov');
    await runTransactions(conn, 'prov', { count: 1500, seed: 31 });
    // A database the channel rewrites, a table its wild rule ignores, one it never sees, and a table in a system
    // schema, which is never copied.
    await source.sql('CREATE DATABASE src_rw CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', 'CREATE TABLE src_rw.kept (id INT PRIMARY KEY, v VARCHAR(20))',
      "INSERT INTO src_rw.kept VALUES (1, 'one'), (2, 'two')", 'CREATE TABLE src_rw.ignored_t (id INT PRIMARY KEY)',
      'INSERT INTO src_rw.ignored_t VALUES (1)', 'CREATE DATABASE skipped', 'CREATE TABLE skipped.t (id INT)',
      'INSERT INTO skipped.t VALUES (1)', 'CREATE TABLE mysql.provision_marker (id INT PRIMARY KEY)');
    await purgeBinlogs(source);
  });

  after(async () => {
    await conn?.end();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('copies what the filters keep while the source is written, then replicates from the snapshot: identical', async () => {
    await precreateEnumsTable(target, 'prov');
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource(CHANNEL, sourceOptions(source));
      await engine.changeReplicationFilter(CHANNEL, {
        replicateIgnoreDb: ['skipped'], replicateWildIgnoreTable: ['rw.ignored%'], replicateRewriteDb: [['src_rw', 'rw']],
      });
      const traffic = runTransactions(await source.connect(), 'prov', { count: 1500, seed: 32 });
      const reports: ProvisionProgress[] = [];
      const done = await engine.provisionChannel(CHANNEL, { parallel: 3, chunkRows: 200, onProgress: (p) => reports.push(p) });
      assert.equal(done.state, 'done');
      assert.deepEqual(done.tablesWithoutKey, ['prov.nokey']);
      assert.ok(reports.some((p) => p.state === 'copying' && p.secondsLeft !== null), 'a time estimate while copying');
      const status = await engine.replicaStatus(CHANNEL);
      assert.equal(status.provisionState, 'done');
      assert.equal(status.provisionTablesDone, status.provisionTablesTotal);
      assert.equal(status.provisionTablesTotal, (await tableNames(source, 'prov')).length + 1);
      assert.ok(status.provisionRowsCopied > 1000 && status.provisionBytesCopied > status.provisionRowsCopied);
      assert.equal(status.provisionSecondsLeft, null);
      // The binlogs before the snapshot are gone: only the snapshot's coordinates let the channel replicate.
      await engine.startReplica(CHANNEL);
      await traffic;
      await catchUp(engine, CHANNEL, source);
      await sameData(source, target, ['prov']);
      assert.deepEqual(await target.sql('SELECT id, v FROM rw.kept ORDER BY id'), [{ id: 1, v: 'one' }, { id: 2, v: 'two' }]);
      assert.deepEqual(await tableNames(target, 'rw'), ['kept']);
      assert.deepEqual(await target.sql("SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'rw'"),
        [{ c: 'utf8mb4_unicode_ci' }], "the source database's defaults, for tables replication creates there later");
      assert.deepEqual(await tableNames(target, 'src_rw'), []);
      assert.deepEqual(await tableNames(target, 'skipped'), []);
      assert.ok(!(await tableNames(target, 'mysql')).includes('provision_marker'));
    } finally {
      await engine.close();
    }
  });

  test('a channel by GTID starts at the GTID position of the snapshot and replicates by GTID: identical', async () => {
    await createTypeRichSchema(conn, 'gtidp');
    await runTransactions(conn, 'gtidp', { count: 600, seed: 61 });
    await source.sql('SET SESSION gtid_domain_id = 2', 'CREATE TABLE gtidp.d2 (id INT PRIMARY KEY)', 'INSERT INTO gtidp.d2 VALUES (1)',
      'SET SESSION gtid_domain_id = 0',
      'CREATE TABLE gtidp.gen (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL, s INT AS (a + 1) PERSISTENT)',
      'INSERT INTO gtidp.gen (id, a) VALUES (1, 10), (2, NULL)');
    await purgeBinlogs(source);
    await precreateEnumsTable(target, 'gtidp');
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource('g1', { ...sourceOptions(source), sourceUseGtid: 'slave_pos' });
      await engine.changeReplicationFilter('g1', { replicateDoDb: ['gtidp'] });
      const writer = await source.connect();
      const traffic = (async () => {
        await runTransactions(writer, 'gtidp', { count: 600, seed: 62 });
        await writer.query('SET SESSION gtid_domain_id = 2');
        await writer.query('INSERT INTO gtidp.d2 VALUES (2), (3)');
        await writer.end();
      })();
      await engine.provisionChannel('g1', { parallel: 2, chunkRows: 100 });
      // The position the snapshot stands at in GTID terms, as the source itself computes it from its coordinates.
      const [{ file, pos }] = await target.sql("SELECT snapshot_file AS file, snapshot_pos AS pos FROM tributary.provision_progress " +
        "WHERE channel = 'g1' LIMIT 1") as [{ file: string; pos: string }];
      const [{ gtid }] = await source.sql(`SELECT BINLOG_GTID_POS('${file}', ${pos}) AS gtid`) as [{ gtid: string }];
      const status = await engine.replicaStatus('g1');
      // Before: the channel was switched to file and position (Using_Gtid No) with an empty GTID position; had it
      // kept slave_pos with that empty position, its dump would ask for the purged binlogs (1236).
      assert.equal(status.usingGtid, 'Slave_Pos');
      assert.match(gtid, /^0-131-\d+/);
      assert.equal(status.gtidSlavePos, gtid);
      await engine.startReplica('g1');
      await traffic;
      const [{ all }] = await source.sql('SELECT @@gtid_binlog_pos AS `all`') as [{ all: string }];
      assert.equal(await engine.sourceGtidWait('g1', all, 60), 0);
      assert.equal((await engine.replicaStatus('g1')).gtidSlavePos, all);
      assert.equal((await engine.replicaStatus('g1')).lastErrno, 0);
      await sameData(source, target, ['gtidp']);
    } finally {
      await engine.close();
    }
  });

  test('verify: true compares the copy after a catch-up: a difference fails the call naming the row; equal, it is returned', async () => {
    await source.sql('CREATE DATABASE verp', 'CREATE TABLE verp.t (id INT PRIMARY KEY, v VARCHAR(20))',
      "INSERT INTO verp.t SELECT seq, CONCAT('v', seq) FROM verp.seq_1_to_300");
    // Created beforehand, empty (so provisioning keeps it), with a trigger that changes one row as it arrives.
    await target.sql('CREATE DATABASE verp', 'CREATE TABLE verp.t (id INT PRIMARY KEY, v VARCHAR(20))',
      "CREATE TRIGGER verp.tamper BEFORE INSERT ON verp.t FOR EACH ROW SET NEW.v = IF(NEW.id = 7, 'tampered', NEW.v)");
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource('v1', sourceOptions(source));
      await engine.changeReplicationFilter('v1', { replicateDoDb: ['verp'] });
      const writer = await source.connect();
      const traffic = (async () => {
        for (let i = 301; i <= 400; i++) await writer.query(`INSERT INTO verp.t VALUES (${i}, 'w${i}')`);
      })();
      const reports: ProvisionProgress[] = [];
      await assert.rejects(engine.provisionChannel('v1', { chunkRows: 50, verify: true, onProgress: (p) => reports.push(p) }),
        (err: unknown) => err instanceof ReplicationError && err.errno === 1593 && /verp\.t \(different \{"id":"7"\}\)/.test(err.message));
      assert.ok(reports.some((p) => p.state === 'verifying'));
      const verification = reports.at(-1)!.verification!;
      assert.equal(verification.equal, false);
      assert.deepEqual(verification.tables.flatMap((t) => t.differences), [{ kind: 'different', key: { id: '7' } }]);
      const status = await engine.replicaStatus('v1');
      assert.equal(status.provisionState, 'failed');
      assert.equal(status.sqlRunning, 'No', 'left stopped');

      // dropExisting creates the table from the source's definition, without the trigger: equal, and started.
      const done = await engine.provisionChannel('v1', { chunkRows: 50, verify: true, dropExisting: true, start: true });
      assert.equal(done.state, 'done');
      assert.equal(done.verification?.equal, true);
      assert.deepEqual(done.verification?.tables.map((t) => `${t.targetDb}.${t.table} ${t.sourceRows >= 300}`), ['verp.t true']);
      assert.equal((await engine.replicaStatus('v1')).sqlRunning, 'Yes');
      await traffic;
      await writer.end();
      await catchUp(engine, 'v1', source);
      await sameData(source, target, ['verp']);
    } finally {
      await engine.close();
    }
  });

  test('a target table holding rows, or a source lock held past 10 s, refuses the call and changes nothing; dropExisting replaces the table', async () => {
    await target.sql('CREATE DATABASE IF NOT EXISTS refuse_db', 'CREATE TABLE refuse_db.kept (id INT PRIMARY KEY, v VARCHAR(20))',
      "INSERT INTO refuse_db.kept VALUES (9, 'the target''s own')");
    await source.sql('CREATE DATABASE refuse_src', 'CREATE TABLE refuse_src.a (id INT PRIMARY KEY)', 'INSERT INTO refuse_src.a VALUES (1)',
      'CREATE TABLE refuse_src.kept (id INT PRIMARY KEY, v VARCHAR(20))', "INSERT INTO refuse_src.kept VALUES (1, 'source')");
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource('refuse', sourceOptions(source));
      await engine.changeReplicationFilter('refuse', { replicateDoDb: ['refuse_db'], replicateRewriteDb: [['refuse_src', 'refuse_db']] });
      await assert.rejects(engine.provisionChannel('refuse'), (err: unknown) => {
        assert.ok(err instanceof ReplicationError);
        assert.equal(err.errno, 1050);
        assert.match(err.message, /refuse_db\.kept/);
        return true;
      });
      assert.deepEqual(await tableNames(target, 'refuse_db'), ['kept'], 'no table created');
      assert.deepEqual(await target.sql("SELECT * FROM tributary.provision_progress WHERE channel = 'refuse'"), []);
      assert.deepEqual(await target.sql("SELECT source_log_file AS f FROM tributary.replication_position WHERE channel = 'refuse'"), [{ f: '' }]);
      const status = await engine.replicaStatus('refuse');
      assert.equal(status.provisionState, '');
      assert.equal(status.sourceLogFile, '');

      // A table held by a long lock on the source: the brief read lock is waited for 10 s at most, changing nothing.
      const holder = await source.connect();
      await holder.query('LOCK TABLES refuse_src.a WRITE');
      await assert.rejects(engine.provisionChannel('refuse', { dropExisting: true }),
        (err: unknown) => err instanceof ReplicationError && err.errno === 1205 && /read lock/.test(err.message));
      await holder.end();
      assert.deepEqual(await target.sql('SELECT id, v FROM refuse_db.kept'), [{ id: 9, v: "the target's own" }]);
      assert.equal((await engine.replicaStatus('refuse')).sourceLogFile, '');

      await engine.provisionChannel('refuse', { dropExisting: true });
      assert.deepEqual(await target.sql('SELECT id, v FROM refuse_db.kept'), [{ id: 1, v: 'source' }]);
      assert.deepEqual(await tableNames(target, 'refuse_db'), ['a', 'kept']);
      assert.notEqual((await engine.replicaStatus('refuse')).sourceLogFile, '');
    } finally {
      await engine.close();
    }
  });

  test('two sources provisioned at once into one target, one filtered and rewritten: identical', async () => {
    const [alpha, beta] = await Promise.all([startMariaDb({ serverId: 132 }), startMariaDb({ serverId: 133 })]);
    const engine = await openEngine(target);
    try {
      const [ca, cb] = await Promise.all([alpha.connect(), beta.connect()]);
      await Promise.all([createTypeRichSchema(ca, 'alpha'), createTypeRichSchema(cb, 'beta')]);
      await Promise.all([runTransactions(ca, 'alpha', { count: 800, seed: 51 }), runTransactions(cb, 'beta', { count: 800, seed: 52 })]);
      await beta.sql('CREATE DATABASE b_small', 'CREATE TABLE b_small.t (id INT PRIMARY KEY, v VARCHAR(10))',
        "INSERT INTO b_small.t VALUES (1, 'x'), (2, 'y')");
      await Promise.all([purgeBinlogs(alpha), purgeBinlogs(beta), precreateEnumsTable(target, 'alpha'),
        precreateEnumsTable(target, 'beta')]);
      await engine.changeReplicationSource('alpha', sourceOptions(alpha));
      await engine.changeReplicationSource('beta', sourceOptions(beta));
      await engine.changeReplicationFilter('beta', {
        replicateWildIgnoreTable: ['beta.wide'], replicateRewriteDb: [['b_small', 'b_rw']],
      });
      const traffic = Promise.all([runTransactions(ca, 'alpha', { count: 800, seed: 53 }),
        runTransactions(cb, 'beta', { count: 800, seed: 54 })]);
      await Promise.all([engine.provisionChannel('alpha', { parallel: 2, chunkRows: 100, start: true }),
        engine.provisionChannel('beta', { parallel: 2, chunkRows: 100, start: true })]);
      await traffic;
      await Promise.all([ca.end(), cb.end()]);
      await catchUp(engine, 'alpha', alpha);
      await catchUp(engine, 'beta', beta);
      await sameData(alpha, target, ['alpha']);
      const [b, t] = await Promise.all([beta.connect(), target.connect()]);
      try {
        const diffs = await compareDatabases(b, t, ['beta']);
        assert.deepEqual(diffs.map((d) => `${d.kind} ${d.table}`), ['missing-table wide']);
      } finally {
        await Promise.all([b.end(), t.end()]);
      }
      assert.deepEqual(await target.sql('SELECT id, v FROM b_rw.t ORDER BY id'), [{ id: 1, v: 'x' }, { id: 2, v: 'y' }]);
      assert.deepEqual(await tableNames(target, 'b_small'), []);
    } finally {
      await engine.close();
      await Promise.all([alpha.destroy(), beta.destroy()]);
    }
  });

  test('a table killed in its middle continues after its last key copied: those rows are not sent again', async () => {
    await source.sql('CREATE DATABASE resume_db', 'CREATE TABLE resume_db.big (id INT PRIMARY KEY, v VARCHAR(40))',
      "INSERT INTO resume_db.big SELECT seq * 2, CONCAT('value ', seq) FROM resume_db.seq_1_to_100000");
    // Created beforehand, empty (provisioning keeps it), with a trigger counting every row the target receives.
    await target.sql('CREATE DATABASE resume_db', 'CREATE TABLE resume_db.big (id INT PRIMARY KEY, v VARCHAR(40))',
      'CREATE DATABASE resume_count', 'CREATE TABLE resume_count.received (n INT NOT NULL)', 'INSERT INTO resume_count.received VALUES (0)',
      'CREATE TRIGGER resume_db.counted BEFORE INSERT ON resume_db.big FOR EACH ROW UPDATE resume_count.received SET n = n + 1');
    const dataDir = await tempDir('provision-resume');
    const targetOptions = { host: target.host, port: target.port, user: target.user, password: target.password };
    const chunkRows = 200;
    const first = await replicaProcess({ dataDir, serverId: 3001, target: targetOptions, channel: 'resume',
      source: sourceOptions(source), filters: { replicateDoDb: ['resume_db'] }, provision: { parallel: 1, chunkRows } });
    const progress = async () => (await target.sql("SELECT state, rows_copied AS n FROM tributary.provision_progress " +
      "WHERE channel = 'resume'").catch(() => []) as { state: string; n: string }[])[0];
    await until('the table half copied', async () => {
      const p = await progress();
      return p?.state === 'copying' && Number(p.n) >= 4000;
    }, 60_000);
    await first.kill();
    const copied = Number((await target.sql('SELECT COUNT(*) AS n FROM resume_db.big') as { n: number }[])[0]!.n);
    assert.equal(copied, Number((await progress())!.n));
    assert.ok(copied < 100_000, 'killed during the copy');
    // Changes in the copied part and past it, which the second run's snapshot holds.
    await source.sql("UPDATE resume_db.big SET v = 'changed' WHERE id = 10", 'DELETE FROM resume_db.big WHERE id = 20',
      "INSERT INTO resume_db.big VALUES (21, 'odd'), (999999, 'last')");
    await target.sql('UPDATE resume_count.received SET n = 0');

    const engine = await ReplicationEngine.open({ dataDir, serverId: 3001, target: targetOptions, logger: testLogger() });
    try {
      const done = await engine.provisionChannel('resume', { parallel: 1, chunkRows, start: true });
      assert.equal(done.state, 'done');
      await catchUp(engine, 'resume', source);
      await sameData(source, target, ['resume_db']);
      // The rows past the last key, and the one chunk the changes in the copied part fell in (ids 10-21);
      // copied again from the start, all 100001 rows would come.
      const [{ n }] = await target.sql('SELECT n FROM resume_count.received') as [{ n: number }];
      assert.ok(n <= 100_001 - copied + chunkRows, `${n} rows received after ${copied} copied before the kill`);
    } finally {
      await engine.close();
    }
  });

  test('kill -9 twice and close() during the copy, then open + provisionChannel again: continues and ends exact', async () => {
    await crashAndContinue(source, target, conn, 'crashp', 'crash', false);
  });

  test('the same by GTID: the GTID state follows each new snapshot', async () => {
    await crashAndContinue(source, target, conn, 'crashg', 'crashg', true);
  });
});

