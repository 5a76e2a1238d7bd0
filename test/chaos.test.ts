// Chaos: a replica process with two channels, under live writes, through random faults one after another:
// kill -9 of the replica process, a source restarted, the target restarted, the network to a source or to the
// target frozen (silent, nothing closed), the replica's disk full (a kill -9 and a start on it too, then the disk freed). With
// no operator action but freeing the disk it ends with every channel running, no error left in the status, and
// the target identical to both sources. CHAOS_ROUNDS (default 6; the first rounds go through every
// fault once) and CHAOS_SEED set a longer or another run.
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { ReplicaStatus } from '../src/index.js';
import { compareSourcePositions } from '../src/binlog/position.js';
import { IoState } from '../src/status.js';
import { fillDisk, mountSmallDisk, type SmallDisk } from './helpers/disk.js';
import { startProxy, type Proxy } from './helpers/proxy.js';
import { assertMysqlErrnos, assertReplicated, sourceStatus, tempDir, until } from './helpers/replica.js';
import { replicaProcess, type ReplicaProcess } from './helpers/replica-process.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';
import { Rng, createTypeRichSchema, runTransactions } from './helpers/workload.js';

const ROUNDS = Number(process.env.CHAOS_ROUNDS ?? 6);
const SEED = Number(process.env.CHAOS_SEED ?? 2027);
// Short, so that a frozen network is noticed within seconds.
const NET_TIMEOUT = 4;
// The replica's data directory is a disk of its own, to fill, with room for both channels' relay logs, which
// relayLogSpaceLimit bounds (plus a transaction each) however far the SQL stages are behind.
const RELAY_LOG_SPACE_LIMIT = 2 << 20;
const DISK_SIZE = 8 << 20;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chaos', () => {
  let alpha: TestServer;
  let beta: TestServer;
  let target: TestServer;
  let proxy: Proxy;
  let disk: SmallDisk | string;
  let targetProxy: Proxy;

  before(async () => {
    disk = await mountSmallDisk(DISK_SIZE);
    [alpha, beta, target] = await Promise.all([startMariaDb({ serverId: 181 }), startMariaDb({ serverId: 182 }),
      startMariaDb({ serverId: 281, noBinlog: true })]);
    proxy = await startProxy(alpha);
    targetProxy = await startProxy(target);
    await Promise.all([[alpha, 'alpha'], [beta, 'beta']].map(async ([server, db]) => {
      const conn = await (server as TestServer).connect();
      await createTypeRichSchema(conn, db as string);
      await runTransactions(conn, db as string, { count: 800, seed: 1 });
      await conn.end();
    }));
  });
  after(async () => {
    await proxy?.close();
    await targetProxy?.close();
    await Promise.all([alpha?.destroy(), beta?.destroy(), target?.destroy()]);
    if (typeof disk === 'object') await disk.unmount();
  });

  test(`${ROUNDS} rounds of random faults, seed ${SEED}: every channel running, target identical`, async (t) => {
    const rng = new Rng(SEED);
    const source = (server: { host: string; port: number }) => ({
      sourceHost: server.host, sourcePort: server.port, sourceUser: 'root', sourcePassword: '',
      sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4, sourceConnectRetry: 1,
    });
    const config = {
      dataDir: typeof disk === 'object' ? join(disk.dir, 'data') : await tempDir('chaos'), serverId: 3001,
      maxRelayLogSize: 256 << 10, relayLogSpaceLimit: RELAY_LOG_SPACE_LIMIT, replicaNetTimeout: NET_TIMEOUT,
      target: { host: targetProxy.host, port: targetProxy.port, user: target.user, password: target.password },
      channels: { a: source(proxy), b: source(beta) },
    };
    let replica: ReplicaProcess = await replicaProcess(config);
    try {
      await chaos();
    } finally {
      await replica.kill();
    }

    async function chaos(): Promise<void> {
      // Live writes on both sources, in short runs that start over whenever their source goes away.
      let writing = true;
      const traffic = [[alpha, 'alpha'], [beta, 'beta']].map(async ([server, db], i) => {
        for (let run = 0; writing; run++) {
          let conn: Connection | undefined;
          try {
            conn = await (server as TestServer).connect();
            await runTransactions(conn, db as string, { count: 40, seed: 1000 * (i + 1) + run });
          } catch {
            await pause(300);
          } finally {
            await conn?.end().catch(() => conn?.destroy());
          }
        }
      });

      const faults: Record<string, () => Promise<void>> = {
        'kill -9 the replica': async () => {
          await replica.kill();
          await pause(rng.int(100, 1500));
          replica = await replicaProcess(config);
        },
        'restart a source': async () => {
          const server = rng.pick([alpha, beta]);
          await server.stop();
          await pause(rng.int(500, 3000));
          await server.restart();
        },
        'restart the target': async () => {
          await target.stop();
          await pause(rng.int(1000, 8000));
          await target.restart();
        },
        'fill the disk': async () => {
          if (typeof disk === 'string') return t.diagnostic(`no full disk: ${disk}`);
          const { dir } = disk;
          // From every channel running without an error, so that the errors looked for are the full disk's.
          await until('every channel running', async () => (await replica.status()).every((s) =>
            s.ioRunning === 'Yes' && s.sqlRunning === 'Yes' && s.lastIoErrno === 0 && s.lastSqlErrno === 0));
          // Full until the operator frees it: what purged relay log files free is taken again.
          let full = true;
          const filling = (async () => {
            let filler = '';
            while (full) {
              filler = await fillDisk(dir);
              await pause(50);
            }
            return filler;
          })();
          try {
            await waitingForDisk('every channel waiting for disk space');
            await pause(rng.int(500, 1500));
            // Killed on the full disk and started on it: the replica starts and waits again.
            await replica.kill();
            replica = await replicaProcess(config);
            await waitingForDisk('the restarted replica waiting for disk space');
          } finally {
            full = false;
            await unlink(await filling);
          }
        },
        'freeze the network to a source': async () => {
          proxy.freeze();
          await pause(rng.int(NET_TIMEOUT * 1000 + 1000, NET_TIMEOUT * 2000));
          proxy.thaw();
        },
        'freeze the network to the target': async () => {
          // Once the SQL stages are connected, so that the freeze catches their connections.
          await until('the SQL stages connected to the target', async () => (await replica.status())
            .every((s) => s.sqlRunning === 'Yes' && s.sqlState !== 'Waiting to reconnect to the target'), 90_000);
          targetProxy.freeze();
          await pause(rng.int(NET_TIMEOUT * 1000 + 1000, NET_TIMEOUT * 2000));
          // The network comes back, the connections it froze do not (a NAT or firewall forgot them).
          targetProxy.freezeConnections();
        },
      };
      /**
       * Until every I/O stage has been seen waiting for disk space; meanwhile both stages of every channel run, no
       * error shows, and the read position is not behind the executed one (master.info cannot be written).
       */
      const waitingForDisk = (what: string) => {
        const waited = new Set<string>();
        return until(what, async () => {
          const all = await replica.status();
          for (const s of all) {
            assert.notEqual(s.ioRunning, 'No', `${s.channel}: ${s.lastIoError}`);
            assert.equal(s.sqlRunning, 'Yes', `${s.channel}: ${s.lastSqlError}`);
            assert.deepEqual([s.channel, s.lastIoErrno, s.lastSqlErrno], [s.channel, 0, 0], `${s.lastIoError} ${s.lastSqlError}`);
            assert.ok(compareSourcePositions({ file: s.sourceLogFile, pos: s.readSourceLogPos },
              { file: s.relaySourceLogFile, pos: s.execSourceLogPos }) >= 0, JSON.stringify(s));
            if (s.ioState === IoState.waitingForDiskSpace) waited.add(s.channel);
          }
          return waited.size === all.length;
        });
      };
      const kinds = Object.keys(faults);
      const firstRounds = [...kinds].sort(() => rng.float() - 0.5);
      try {
        for (let round = 0; round < ROUNDS; round++) {
          const kind = firstRounds[round] ?? rng.pick(kinds);
          t.diagnostic(`round ${round + 1}: ${kind}`);
          await faults[kind]!();
          await pause(rng.int(300, 2000));
        }
      } finally {
        writing = false;
        await Promise.all(traffic);
      }

      const ends = { a: await sourceStatus(alpha), b: await sourceStatus(beta) };
      let last: ReplicaStatus[] = [];
      await until('every channel caught up and running', async () => {
        last = await replica.status();
        return last.every((s) => s.ioRunning === 'Yes' && s.sqlRunning === 'Yes' &&
          compareSourcePositions({ file: s.relaySourceLogFile, pos: s.execSourceLogPos },
            ends[s.channel as 'a' | 'b']) >= 0);
      }, 180_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(last, null, 2)}`);
      });
      for (const s of last) {
        assertMysqlErrnos(s);
        assert.deepEqual([s.channel, s.lastIoErrno, s.lastSqlErrno], [s.channel, 0, 0], `${s.lastIoError} ${s.lastSqlError}`);
      }
    }
    await assertReplicated(alpha, target, ['alpha']);
    await assertReplicated(beta, target, ['beta']);
  });
});
