// A network to the target that freezes (nothing closed, no error, only silence: TCP never gives up by itself) is
// noticed: the SQL stage says it waits for the target, and once the network is back (or new connections go through
// while the old one stays frozen) it goes on from the position the target recorded, applying nothing twice. A stop
// during a freeze returns. A statement that legitimately runs long on the target is not cut off; a DDL whose answer
// is lost is found done, not applied twice.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ReplicationEngine } from '../src/index.js';
import { judgeThread } from '../src/apply/target-watchdog.js';
import { startProxy, type Proxy } from './helpers/proxy.js';
import { assertMysqlErrnos, assertReplicated, catchUp, openEngine, sourceStatus, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { createTypeRichSchema, runTransactions } from './helpers/workload.js';

const WAITING = 'Waiting to reconnect to the target';
// Short, so that a round trip without an answer is checked after a second.
const NET_TIMEOUT = 2;

// A test that hangs fails after this long.
const LIMIT = { timeout: 120_000 };

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('judgeThread: what the target says of a round trip without an answer', () => {
  const host = '127.0.0.1:40000';

  test('a thread that runs a command (or is being killed) still works on it: the wait goes on', () => {
    assert.deepEqual(judgeThread({ command: 'Query', time: 7200, host }, host), { verdict: 'working' });
    assert.deepEqual(judgeThread({ command: 'Killed', time: 3, host }, host), { verdict: 'working' });
    assert.deepEqual(judgeThread({ command: 'Set option', time: 40, host }, undefined), { verdict: 'working' });
  });

  test('a thread that waits for the next command answered: the answer is lost, unless it may still be on its way', () => {
    assert.equal(judgeThread({ command: 'Sleep', time: 1, host }, host).verdict, 'lost');
    assert.equal(judgeThread({ command: 'Sleep', time: 0, host }, host).verdict, 'unsure');
  });

  test('no thread, or one of another client that got the id after a restart: lost', () => {
    assert.equal(judgeThread(undefined, host).verdict, 'lost');
    assert.equal(judgeThread({ command: 'Query', time: 1, host: '10.0.0.9:5000' }, host).verdict, 'lost');
  });
});

describe('frozen network to the target', () => {
  let source: TestServer;
  let target: TestServer;
  let proxy: Proxy;
  let engine: ReplicationEngine;
  let marks = 0;

  before(async () => {
    [source, target] = await Promise.all([startMariaDb({ serverId: 171 }), startMariaDb({ serverId: 271, noBinlog: true })]);
    proxy = await startProxy(target);
    const conn = await source.connect();
    await createTypeRichSchema(conn, 'shop');
    await conn.query('CREATE TABLE shop.marks (id INT PRIMARY KEY)');
    await runTransactions(conn, 'shop', { count: 1500, seed: 41 });
    await conn.end();
    engine = await openEngine(target, {
      target: { host: proxy.host, port: proxy.port, user: target.user, password: target.password, connectTimeout: 2000 },
      replicaNetTimeout: NET_TIMEOUT,
    });
    await engine.changeReplicationSource('n', {
      sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
  });
  after(async () => {
    await engine?.close();
    await proxy?.close();
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  /** A transaction on the source that the SQL stage must send to the target: a round trip after a freeze. */
  async function mark(): Promise<void> {
    await source.sql(`INSERT INTO shop.marks VALUES (${++marks})`);
  }

  /** Freezes the network to the target (`how`) under live writes on the source, runs `during`, thaws. */
  async function whileFrozen(how: 'freeze' | 'freezeConnections', seed: number, during: () => Promise<void>): Promise<void> {
    const traffic = source.connect().then(async (conn) => {
      try {
        await runTransactions(conn, 'shop', { count: 600, seed });
      } finally {
        await conn.end();
      }
    });
    try {
      proxy[how]();
      await mark();
      await during();
    } finally {
      proxy.thaw();
      await traffic;
    }
  }

  async function assertCaughtUp(): Promise<void> {
    await catchUp(engine, 'n', source);
    const status = await engine.replicaStatus('n');
    assertMysqlErrnos(status);
    assert.deepEqual([status.sqlRunning, status.ioRunning, status.lastSqlErrno], ['Yes', 'Yes', 0], status.lastSqlError);
    assert.notEqual(status.sqlState, WAITING);
    await assertReplicated(source, target, ['shop']);
  }

  test('frozen during catch-up: the SQL stage waits for the target, then goes on with everything once', LIMIT, async () => {
    await engine.startReplica('n');
    await until('the SQL stage applying', async () => (await engine.replicaStatus('n')).execSourceLogPos > 4);
    await whileFrozen('freeze', 42, async () => {
      const waiting = await until('the SQL stage waiting for the target', async () => {
        const s = await engine.replicaStatus('n');
        assertMysqlErrnos(s);
        assert.equal(s.sqlRunning, 'Yes', `the SQL stage stopped: ${s.lastSqlErrno} ${s.lastSqlError}`);
        return s.sqlState === WAITING && s;
      });
      assert.ok([2003, 2013].includes(waiting.lastSqlErrno), `${waiting.lastSqlErrno} ${waiting.lastSqlError}`);
      // Frozen for a while longer: the stage keeps waiting, it does not give up.
      await pause(3000);
      const s = await engine.replicaStatus('n');
      assert.deepEqual([s.sqlRunning, s.sqlState], ['Yes', WAITING], `${s.lastSqlErrno} ${s.lastSqlError}`);
    });
    await assertCaughtUp();
  });

  test('a connection that stops answering while new ones go through: replaced, everything once', LIMIT, async () => {
    // Applied while the old connection is still frozen.
    await whileFrozen('freezeConnections', 43, () => catchUp(engine, 'n', source, 60));
    await assertCaughtUp();
  });

  test('stopReplica during a freeze returns; started again after it, everything once', LIMIT, async () => {
    await whileFrozen('freeze', 44, async () => {
      const { file, pos } = await sourceStatus(source);
      // The mark is in the relay log: the SQL stage has its round trip on the frozen network, or is about to.
      await until('the I/O stage reading the mark', async () => {
        const s = await engine.replicaStatus('n');
        return s.sourceLogFile === file && s.readSourceLogPos >= pos;
      });
      await engine.stopReplica('n');
      const s = await engine.replicaStatus('n');
      assert.deepEqual([s.sqlRunning, s.ioRunning, s.lastSqlErrno], ['No', 'No', 0], s.lastSqlError);
    });
    await engine.startReplica('n');
    await assertCaughtUp();
  });

  test('a statement that runs longer than the check on the target is not cut off', LIMIT, async () => {
    const conn = await source.connect();
    try {
      await conn.query("SET SESSION binlog_format = 'STATEMENT'");
      await conn.query('CREATE TABLE shop.slow (id INT PRIMARY KEY, v INT)');
      // Runs for three seconds on the target as on the source: longer than the whole replicaNetTimeout.
      await conn.query(`INSERT INTO shop.slow VALUES (1, SLEEP(${NET_TIMEOUT + 1}))`);
    } finally {
      await conn.end();
    }
    const retried = (await engine.replicaStatus('n')).retriedTransactions;
    await assertCaughtUp();
    assert.equal((await engine.replicaStatus('n')).retriedTransactions, retried, 'the statement was applied once, not retried');
    assert.deepEqual(await target.sql('SELECT id, v FROM shop.slow'), [{ id: 1, v: 0 }]);
  });

  test('a DDL whose answer is lost: found done on the new connection, not applied twice', LIMIT, async () => {
    await source.sql('CREATE TABLE shop.altered (id INT PRIMARY KEY)', 'INSERT INTO shop.altered VALUES (1)');
    await catchUp(engine, 'n', source);
    // A reader on the target holds the table's metadata lock: the replicated ALTER waits for it, running.
    const reader = await target.connect();
    try {
      await reader.query('START TRANSACTION');
      await reader.query('SELECT * FROM shop.altered');
      await source.sql('ALTER TABLE shop.altered ADD COLUMN extra INT');
      await until('the ALTER waiting on the target', async () => {
        const rows = await target.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%altered%'");
        return (rows as unknown[]).length > 0;
      });
      proxy.freezeConnections();
      // The ALTER ends on the target; its answer stays in the frozen connection.
      await reader.query('COMMIT');
      await catchUp(engine, 'n', source, 60);
    } finally {
      proxy.thaw();
      await reader.end();
    }
    await assertCaughtUp();
  });
});
