// MariaDB GTID (MASTER_USE_GTID): channels positioned by GTID against real mariadbd servers, side by side with
// a native MariaDB replica configured the same way; UNTIL master_gtid_pos, MASTER_GTID_WAIT, the domain
// filters, and the GTID state kept on the target with the rows.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine, ReplicationSourceOptions } from '../src/index.js';
import { startNativeReplica, type NativeReplica } from './helpers/native-replica.js';
import { assertReplicated, openEngine, sourceStatus, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

/** Waits until the channel's relay log holds everything the source has logged (Gtid_IO_Pos). */
async function receivedAll(engine: ReplicationEngine, channel: string, source: TestServer): Promise<void> {
  const pos = await gtidBinlogPos(source);
  await until(`Gtid_IO_Pos ${pos}`, async () => (await engine.replicaStatus(channel)).gtidIoPos === pos);
}

function sourceOptions(source: TestServer, extra: ReplicationSourceOptions = {}): ReplicationSourceOptions {
  return { sourceHost: source.host, sourcePort: source.port, sourceUser: source.user, sourcePassword: source.password,
    sourceConnectRetry: 1, ...extra };
}

async function gtidBinlogPos(server: TestServer): Promise<string> {
  const [row] = await server.sql('SELECT @@gtid_binlog_pos AS pos') as { pos: string }[];
  return row!.pos;
}

/** The gtid_state column of the channel's row in the position table. */
async function storedGtidState(target: TestServer, channel: string): Promise<string | null | undefined> {
  const rows = await target.sql(`SELECT gtid_state AS g FROM tributary.replication_position WHERE channel = '${channel}'`) as { g: string | null }[];
  return rows[0]?.g;
}

/** Writes `count` one-row transactions into db.t in `domain` (gtid_domain_id), ids from `first`. */
async function traffic(source: TestServer, db: string, domain: number, first: number, count: number): Promise<void> {
  const conn = await source.connect();
  try {
    await conn.query(`SET gtid_domain_id = ${domain}`);
    for (let i = first; i < first + count; i++) await conn.query(`INSERT INTO ${db}.t VALUES (${i}, ${domain}, REPEAT('x', ${i % 50}))`);
    await conn.query(`UPDATE ${db}.t SET v = v + 10 WHERE id % 7 = 0 AND v = ${domain}`);
  } finally {
    await conn.end();
  }
}

/** Waits with sourceGtidWait for everything the source has logged; fails with the status if not reached. */
async function gtidCatchUp(engine: ReplicationEngine, channel: string, source: TestServer): Promise<void> {
  const pos = await gtidBinlogPos(source);
  const waited = await engine.sourceGtidWait(channel, pos, 60);
  if (waited !== 0) throw new Error(`channel '${channel}' did not reach ${pos}: ${JSON.stringify(await engine.replicaStatus(channel), null, 2)}`);
}

describe('MariaDB GTID channels', () => {
  const started: TestServer[] = [];
  after(async () => Promise.all(started.map((s) => s.destroy())));

  /** A source with database `db` (table t), tributary's target and a native replica, for one test. */
  async function trio(serverId: number, db: string): Promise<{ source: TestServer; target: TestServer; native: NativeReplica }> {
    const [source, target, native] = await Promise.all([
      startMariaDb({ serverId }), startMariaDb({ serverId: serverId + 1, noBinlog: true }), startNativeReplica({ serverId: serverId + 2 }),
    ]);
    started.push(source, target, native.server);
    await source.sql(`CREATE DATABASE ${db}`, `CREATE TABLE ${db}.t (id INT PRIMARY KEY, v INT, s TEXT)`);
    return { source, target, native };
  }

  test('slave_pos and current_pos: rows, status and the stored GTID state, across restarts, equal to a native replica', async () => {
    const { source, target, native } = await trio(1401, 'g1');
    await traffic(source, 'g1', 0, 1, 20);
    await traffic(source, 'g1', 1, 100, 20);
    const engine = await openEngine(target);
    try {
      // The channel starts from the GTID state the target holds for it: none, so from the source's beginning.
      await engine.changeReplicationSource('slave', sourceOptions(source, { sourceUseGtid: 'slave_pos' }));
      await engine.startReplica('slave');
      await gtidCatchUp(engine, 'slave', source);
      let status = await engine.replicaStatus('slave');
      const pos = await gtidBinlogPos(source);
      assert.equal(status.usingGtid, 'Slave_Pos');
      assert.equal(status.gtidSlavePos, pos);
      assert.equal(status.gtidIoPos, pos);
      assert.equal(await storedGtidState(target, 'slave'), pos);

      // Received but not applied when both stages stop, then more traffic: the I/O stage goes on from what the
      // relay log holds (Gtid_IO_Pos), the SQL stage from what the target holds: nothing twice, nothing lost.
      await engine.stopReplica('slave', { threads: ['SQL_THREAD'] });
      await traffic(source, 'g1', 0, 200, 10);
      await receivedAll(engine, 'slave', source);
      await engine.stopReplica('slave');
      await traffic(source, 'g1', 1, 300, 10);
      await engine.startReplica('slave');
      await gtidCatchUp(engine, 'slave', source);
      status = await engine.replicaStatus('slave');
      assert.equal(status.gtidSlavePos, await gtidBinlogPos(source));
      assert.equal(status.lastSqlErrno, 0, status.lastSqlError);

      // current_pos is slave_pos here (the engine logs no transactions of its own into the source's topology).
      await engine.stopReplica('slave');
      await engine.changeReplicationSource('slave', { sourceUseGtid: 'current_pos' });
      await traffic(source, 'g1', 0, 400, 10);
      await engine.startReplica('slave');
      await gtidCatchUp(engine, 'slave', source);
      status = await engine.replicaStatus('slave');
      assert.equal(status.usingGtid, 'Current_Pos');
      assert.equal(status.gtidSlavePos, await gtidBinlogPos(source));
    } finally {
      await engine.close();
    }

    // A new engine on the same data directory would find it in the relay log; one on a new data directory, with
    // the same serverId and channel, finds the GTID state on the target and goes on from there.
    await traffic(source, 'g1', 1, 500, 10);
    const fresh = await openEngine(target);
    try {
      await fresh.changeReplicationSource('slave', sourceOptions(source, { sourceUseGtid: 'slave_pos' }));
      await fresh.startReplica('slave');
      await gtidCatchUp(fresh, 'slave', source);
      const status = await fresh.replicaStatus('slave');
      assert.equal(status.lastSqlErrno, 0);
      // The source skipped the groups before the GTID position without sending them: the file positions
      // still name the source's binlog as it is.
      const { file, pos } = await sourceStatus(source);
      assert.deepEqual([status.sourceLogFile, status.readSourceLogPos], [file, pos]);
      assert.deepEqual([status.relaySourceLogFile, status.execSourceLogPos], [file, pos]);
    } finally {
      await fresh.close();
    }

    await native.changeSourceByGtid('', source);
    await native.start('');
    await native.gtidCatchUp('', source);
    await assertReplicated(source, target, ['g1']);
    await assertReplicated(native.server, target, ['g1']);
  });

  test('UNTIL master_gtid_pos stops both stages after that GTID and replicates only the domains it lists, as MariaDB does', async () => {
    const { source, target, native } = await trio(1411, 'g2');
    // Domains 0 and 1 interleaved: 0-1411-3 .. 0-1411-7 and 1-1411-1 .. 1-1411-5.
    for (let i = 0; i < 10; i++) await traffic(source, 'g2', i % 2, 10 * i, 1);
    const untilPos = '0-1411-5';
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource('u', sourceOptions(source, { sourceUseGtid: 'slave_pos' }));
      await engine.startReplica('u', { until: { sourceGtidPos: untilPos } });
      assert.equal((await engine.replicaStatus('u')).untilCondition, 'Gtid');
      const stopped = await until('both stages stopped at the UNTIL position', async () => {
        const s = await engine.replicaStatus('u');
        return s.sqlRunning === 'No' && s.ioRunning === 'No' && s;
      });
      assert.equal(stopped.lastSqlErrno, 0, stopped.lastSqlError);
      assert.equal(stopped.lastIoErrno, 0, stopped.lastIoError);
      assert.equal(stopped.gtidSlavePos, untilPos);

      await native.changeSourceByGtid('', source);
      await native.start('', { until: { sourceGtidPos: untilPos } });
      await until('the native replica stopped at the UNTIL position', async () =>
        (await native.status('')).Slave_SQL_Running === 'No');
      await assertReplicated(native.server, target, ['g2']);
      const [{ pos }] = await native.server.sql('SELECT @@gtid_slave_pos AS pos') as [{ pos: string }];
      assert.equal(stopped.gtidSlavePos, pos);

      // A plain start goes on with everything, the domain left out included.
      await engine.startReplica('u');
      await gtidCatchUp(engine, 'u', source);
      assert.equal((await engine.replicaStatus('u')).untilCondition, 'None');
      await assertReplicated(source, target, ['g2']);
    } finally {
      await engine.close();
    }
  });

  test('sourceGtidWait: 0 when reached, -1 on timeout, waits while the SQL stage is stopped; bad positions are refused', async () => {
    const { source, target } = await trio(1421, 'g3');
    await traffic(source, 'g3', 5, 1, 3);
    // The position table as the previous version made it: gtid_state is added on first use.
    await target.sql('CREATE DATABASE tributary', `CREATE TABLE tributary.replication_position (
      server_id INT UNSIGNED NOT NULL, channel VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      relay_log_file VARCHAR(512) NOT NULL, relay_log_pos BIGINT UNSIGNED NOT NULL, source_log_file VARCHAR(512) NOT NULL,
      source_log_pos BIGINT UNSIGNED NOT NULL, ddl_end_source_log_file VARCHAR(512) NULL, ddl_end_source_log_pos BIGINT UNSIGNED NULL,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
      PRIMARY KEY (server_id, channel)) ENGINE=InnoDB`);
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource('w', sourceOptions(source, { sourceUseGtid: 'slave_pos' }));
      const reached = await gtidBinlogPos(source);
      assert.equal(await engine.sourceGtidWait('w', reached, 0), -1);
      // Not running yet: the wait goes on, and ends once the channel has applied it.
      const waiting = engine.sourceGtidWait('w', reached, 60);
      await engine.startReplica('w');
      assert.equal(await waiting, 0);
      assert.equal(await engine.sourceGtidWait('w', reached, 0), 0);
      assert.equal(await engine.sourceGtidWait('w', '', 0), 0);
      assert.equal(await engine.sourceGtidWait('w', '5-1421-999', 0.2), -1);
      assert.equal(await engine.sourceGtidWait('w', '6-1421-1', 0.2), -1, 'a domain the channel has not seen is not reached');
      // Sequence numbers compare within a domain whatever the server id, as MASTER_GTID_WAIT compares them.
      assert.equal(await engine.sourceGtidWait('w', '5-7-2', 0), 0);
      assert.equal(await engine.sourceGtidWait('nope', reached, 0), null);
      await assert.rejects(engine.sourceGtidWait('w', '5-1-x'), { errno: 1941 });
      await assert.rejects(engine.sourceGtidWait('w', '5-1-1,'), { errno: 1941 });
      await assert.rejects(engine.sourceGtidWait('w', '5-1-1,5-2-2'), { errno: 1943 });
      const later = engine.sourceGtidWait('w', '5-1421-6', -1);
      await traffic(source, 'g3', 5, 100, 3);
      assert.equal(await later, 0);
      assert.equal(await storedGtidState(target, 'w'), await gtidBinlogPos(source));
    } finally {
      await engine.close();
    }
  });

  test('doDomainIds / ignoreDomainIds leave out the other domains as a native replica does; bad GTID options change nothing', async () => {
    const { source, target, native } = await trio(1431, 'g4');
    const engine = await openEngine(target);
    try {
      await engine.changeReplicationSource('d', sourceOptions(source, { sourceUseGtid: 'slave_pos', ignoreDomainIds: [1] }));
      await native.changeSourceByGtid('', source, 'IGNORE_DOMAIN_IDS=(1)');
      const before = await engine.replicaStatus('d');
      assert.deepEqual(before.replicateIgnoreDomainIds, [1]);
      // Refused, and nothing changes: the servers' errnos.
      await assert.rejects(engine.changeReplicationSource('d', { doDomainIds: [2] }), { errno: 1201 });
      await assert.rejects(engine.changeReplicationSource('d', { sourceUseGtid: 'no' }), { errno: 1201 });
      await assert.rejects(engine.changeReplicationSource('d', { sourceUseGtid: 'yes' as 'no' }), { errno: 1210 });
      await assert.rejects(engine.changeReplicationSource('d', { doDomainIds: [-1] }), { errno: 1210 });
      await assert.rejects(engine.startReplica('d', { until: { sourceGtidPos: '0-1-x' } }), { errno: 1941 });
      await assert.rejects(engine.startReplica('d', { until: { sourceGtidPos: '0-1-1,0-2-2' } }), { errno: 1943 });
      await assert.rejects(engine.startReplica('d', { threads: ['SQL_THREAD'], until: { sourceGtidPos: '0-1-1' } }), { errno: 1277 });
      assert.deepEqual(await engine.replicaStatus('d'), before);

      for (let i = 0; i < 12; i++) await traffic(source, 'g4', i % 3, 10 * i, 1);
      await engine.startReplica('d');
      await native.start('');
      await gtidCatchUp(engine, 'd', source);
      await native.gtidCatchUp('', source);
      await assertReplicated(native.server, target, ['g4']);

      // Then only domain 2.
      await engine.stopReplica('d');
      await native.stop('');
      await engine.changeReplicationSource('d', { ignoreDomainIds: [], doDomainIds: [2] });
      await native.server.sql('CHANGE MASTER TO IGNORE_DOMAIN_IDS=(), DO_DOMAIN_IDS=(2)');
      // Ending with a group left out: the positions still reach the source's end.
      for (let i = 12; i < 25; i++) await traffic(source, 'g4', i % 3, 10 * i, 1);
      await engine.startReplica('d');
      await native.start('');
      await gtidCatchUp(engine, 'd', source);
      await native.gtidCatchUp('', source);
      await assertReplicated(native.server, target, ['g4']);
      const status = await engine.replicaStatus('d');
      assert.deepEqual(status.replicateDoDomainIds, [2]);
      assert.equal(status.gtidSlavePos, await gtidBinlogPos(source));
      const end = await sourceStatus(source);
      assert.deepEqual([status.relaySourceLogFile, status.execSourceLogPos], [end.file, end.pos]);
      const [{ pos: nativePos }] = await native.server.sql('SELECT @@gtid_slave_pos AS pos') as [{ pos: string }];
      assert.equal(status.gtidSlavePos, nativePos);

      const [row] = await target.sql('SELECT COUNT(DISTINCT v MOD 10) AS domains FROM g4.t') as { domains: number }[];
      assert.equal(Number(row!.domains), 2, 'domain 1 never arrived; domain 0 stopped arriving');
    } finally {
      await engine.close();
    }
  });

  test('two independent sources both in domain 0: each channel keeps its own GTID position', async () => {
    const [a, b, target] = await Promise.all([startMariaDb({ serverId: 1451 }), startMariaDb({ serverId: 1452 }),
      startMariaDb({ serverId: 1453, noBinlog: true })]);
    started.push(a, b, target);
    await a.sql('CREATE DATABASE ga', 'CREATE TABLE ga.t (id INT PRIMARY KEY, v INT, s TEXT)');
    await b.sql('CREATE DATABASE gb', 'CREATE TABLE gb.t (id INT PRIMARY KEY, v INT, s TEXT)');
    const dataDir = await tempDir('gtid-two');
    let engine = await openEngine(target, { dataDir });
    try {
      await engine.changeReplicationSource('a', sourceOptions(a, { sourceUseGtid: 'slave_pos' }));
      await engine.changeReplicationSource('b', sourceOptions(b, { sourceUseGtid: 'slave_pos' }));
      await engine.startAllReplicas();
      await Promise.all([traffic(a, 'ga', 0, 1, 20), traffic(b, 'gb', 0, 1, 30)]);
      await Promise.all([gtidCatchUp(engine, 'a', a), gtidCatchUp(engine, 'b', b)]);
    } finally {
      await engine.close();
    }
    // Restarted from the target's positions alone, each channel asks its source for its own domain 0.
    await Promise.all([traffic(a, 'ga', 0, 100, 20), traffic(b, 'gb', 0, 100, 5)]);
    engine = await openEngine(target, { dataDir: await tempDir('gtid-two-lost') });
    try {
      await engine.changeReplicationSource('a', sourceOptions(a, { sourceUseGtid: 'slave_pos' }));
      await engine.changeReplicationSource('b', sourceOptions(b, { sourceUseGtid: 'slave_pos' }));
      await engine.startAllReplicas();
      await Promise.all([gtidCatchUp(engine, 'a', a), gtidCatchUp(engine, 'b', b)]);
      assert.equal((await engine.replicaStatus('a')).gtidSlavePos, await gtidBinlogPos(a));
      assert.equal((await engine.replicaStatus('b')).gtidSlavePos, await gtidBinlogPos(b));
      await assertReplicated(a, target, ['ga']);
      await assertReplicated(b, target, ['gb']);
    } finally {
      await engine.close();
    }
  });

  test('a damaged relay log is cut and fetched again by GTID from where its whole groups end', async () => {
    const [source, target] = await Promise.all([startMariaDb({ serverId: 1441 }), startMariaDb({ serverId: 1442, noBinlog: true })]);
    started.push(source, target);
    await source.sql('CREATE DATABASE g5', 'CREATE TABLE g5.t (id INT PRIMARY KEY, v INT, s TEXT)');
    const dataDir = await tempDir('gtid-torn');
    const options = { dataDir, maxRelayLogSize: 8 << 10 };
    let engine = await openEngine(target, options);
    try {
      await engine.changeReplicationSource('torn', sourceOptions(source, { sourceUseGtid: 'slave_pos' }));
      await engine.startReplica('torn', { threads: ['IO_THREAD'] });
      for (let burst = 0; burst < 6; burst++) {
        await traffic(source, 'g5', burst % 2, burst * 100, 30);
        await receivedAll(engine, 'torn', source);
      }
    } finally {
      await engine.close();
    }
    // A byte flipped in the middle of a file in the middle of the relay log: its CRC32 fails there.
    const files = (await readFile(join(dataDir, 'relay-bin-torn.index'), 'utf8')).split('\n').filter(Boolean)
      .map((line) => line.replace(/^\.\//, ''));
    assert.ok(files.length >= 5, `only ${files.length} relay log files`);
    const damaged = join(dataDir, files[files.length >> 1]!);
    const data = await readFile(damaged);
    data.writeUInt8(data.readUInt8(data.length >> 1) ^ 0xff, data.length >> 1);
    await writeFile(damaged, data);

    engine = await openEngine(target, options);
    try {
      await engine.startReplica('torn');
      await gtidCatchUp(engine, 'torn', source);
      const status = await engine.replicaStatus('torn');
      assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
      assert.equal(status.gtidIoPos, await gtidBinlogPos(source));
      await assertReplicated(source, target, ['g5']);
    } finally {
      await engine.close();
    }
  });
});

describe('failover by GTID', () => {
  let primary: TestServer;
  let replica: NativeReplica;
  let target: TestServer;
  let native: NativeReplica;

  before(async () => {
    // The primary's native replica logs what it applies with the primary's GTIDs: it can become the primary.
    [primary, replica, target, native] = await Promise.all([
      startMariaDb({ serverId: 1501 }),
      startNativeReplica({ serverId: 1502, noBinlog: false, args: ['--log-slave-updates'] }),
      startMariaDb({ serverId: 1503, noBinlog: true }),
      startNativeReplica({ serverId: 1504 }),
    ]);
    await primary.sql('CREATE DATABASE f', 'CREATE TABLE f.t (id INT PRIMARY KEY, v INT, s TEXT)');
    await replica.changeSourceByGtid('', primary);
    await replica.start('');
  });
  after(async () => Promise.all([primary?.destroy(), replica?.destroy(), target?.destroy(), native?.destroy()]));

  test('the primary killed, the channel moved to its replica: nothing lost or doubled, with and without local GTID state', async () => {
    const dataDir = await tempDir('failover');
    let engine = await openEngine(target, { dataDir });
    try {
      await engine.changeReplicationSource('f', sourceOptions(primary, { sourceUseGtid: 'slave_pos' }));
      await engine.startReplica('f');
      await native.changeSourceByGtid('', primary);
      await native.start('');
      await traffic(primary, 'f', 0, 1, 30);
      await traffic(primary, 'f', 1, 100, 30);
      await gtidCatchUp(engine, 'f', primary);
      // The channel falls behind: some received and not applied, some not received, which it must get from
      // the new primary.
      await engine.stopReplica('f', { threads: ['SQL_THREAD'] });
      await traffic(primary, 'f', 0, 200, 30);
      await receivedAll(engine, 'f', primary);
      await engine.stopReplica('f', { threads: ['IO_THREAD'] });
      await traffic(primary, 'f', 1, 250, 30);
      await replica.gtidCatchUp('', primary);
      await native.gtidCatchUp('', primary);

      process.kill(primary.pid, 'SIGKILL');
      await primary.stop();
      await replica.server.sql('STOP SLAVE', 'RESET SLAVE ALL');
      const moved = sourceOptions(replica.server);
      await engine.changeReplicationSource('f', { sourceHost: moved.sourceHost!, sourcePort: moved.sourcePort! });
      await engine.startReplica('f');
      await native.stop('');
      await native.server.sql(`CHANGE MASTER TO MASTER_HOST='${replica.server.host}', MASTER_PORT=${replica.server.port}`);
      await native.start('');
      await traffic(replica.server, 'f', 0, 300, 30);
      await traffic(replica.server, 'f', 1, 400, 30);
      await gtidCatchUp(engine, 'f', replica.server);
      await native.gtidCatchUp('', replica.server);
      const status = await engine.replicaStatus('f');
      assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
      assert.equal(status.gtidSlavePos, await gtidBinlogPos(replica.server));
      await assertReplicated(replica.server, target, ['f']);
      await assertReplicated(replica.server, native.server, ['f']);
    } finally {
      await engine.close();
    }

    // The data directory lost: only the target's position table knows where the channel is.
    await traffic(replica.server, 'f', 0, 500, 30);
    engine = await openEngine(target, { dataDir: await tempDir('failover-lost') });
    try {
      await engine.changeReplicationSource('f', sourceOptions(replica.server, { sourceUseGtid: 'slave_pos' }));
      await engine.startReplica('f');
      await traffic(replica.server, 'f', 1, 600, 30);
      await gtidCatchUp(engine, 'f', replica.server);
      await native.gtidCatchUp('', replica.server);
      const status = await engine.replicaStatus('f');
      assert.equal(status.lastSqlErrno, 0, status.lastSqlError);
      await assertReplicated(replica.server, target, ['f']);
      await assertReplicated(native.server, target, ['f']);
    } finally {
      await engine.close();
    }
  });
});
