// `npm run bench`: how long tributary takes to catch up on a backlog, as a ratio against a native MariaDB
// replica applying the same backlog in the same run on the same machine. Absolute seconds depend on the
// machine and on whatever else runs on it; the ratio is the figure that means something (benchmarks/README.md).
//
// For each workload: one source writes the whole backlog first; then, one contender at a time (never
// concurrently: the machine has 2 cores and both sides need them), a fresh server replicates it from
// mysql-bin.000001:4 and the clock runs from START SLAVE / startReplica until MASTER_POS_WAIT /
// sourcePosWait returns for the source's final position. Every contender starts from a fresh server so no run
// inherits a warm buffer pool or a relay log from the one before. Each measurement runs BENCH_RUNS times
// (default 2), interleaved, so a burst of outside load hurts one run of each rather than every run of one.
//
// Environment: BENCH_TRANSACTIONS (type-rich transactions, default 20000), BENCH_SMALL_TRANSACTIONS (single-row
// INSERT transactions, default 50000), BENCH_RUNS (default 2), BENCH_PARALLEL=0 to skip the native replica
// with 4 parallel SQL threads, BENCH_WORKLOADS=type-rich,small-inserts to choose, BENCH_WRITE_README=1 to
// replace the results block of benchmarks/README.md with this run's, TRIBUTARY_LOG=info for tributary's log.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Connection } from 'mysql2/promise';
import { ReplicationEngine } from '../src/index.js';
import { assertSameData } from '../test/helpers/compare.js';
import { tempDir, testLogger } from '../test/helpers/replica.js';
import { startMariaDb, type TestServer } from '../test/helpers/servers.js';
import { createTypeRichSchema, extremeRows, runTransactions } from '../test/helpers/workload.js';

const env = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(raw)}`);
  return n;
};

const TYPE_RICH_TRANSACTIONS = env('BENCH_TRANSACTIONS', 20_000);
const SMALL_TRANSACTIONS = env('BENCH_SMALL_TRANSACTIONS', 50_000);
const RUNS = Math.max(1, env('BENCH_RUNS', 2));
const PARALLEL = process.env.BENCH_PARALLEL !== '0';
const WORKLOADS = (process.env.BENCH_WORKLOADS ?? 'type-rich,small-inserts').split(',').map((s) => s.trim());
// Long enough for a slow run on a loaded machine, short enough that a stuck replica fails the benchmark.
const WAIT_SECONDS = 3600;
const CHANNEL = 'bench';

// ---------------------------------------------------------------------------------------------------------
// Cleanup: every server, engine and directory registers an undo step, run in reverse order in `finally` and
// on SIGINT/SIGTERM, so an interrupted or failed benchmark leaves no mariadbd and no temp directory behind.

const undo: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;
const late: Array<Promise<void>> = [];

// Shared by `finally` and the signal handler: after a signal, main() is still running and reaches its own
// `finally` while the handler is half way through; both must wait for the same, complete cleanup.
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    while (undo.length) {
      const step = undo.pop()!;
      try {
        await step();
      } catch (err) {
        console.error('cleanup step failed:', err);
      }
    }
  })();
  return cleaning.then(async () => {
    await Promise.all(late);
  });
}

function track<T>(value: T, release: (value: T) => Promise<void>): { value: T; release: () => Promise<void> } {
  let released: Promise<void> | undefined;
  // A second caller waits for the first one's release instead of returning while it is still running.
  const step = (): Promise<void> => (released ??= release(value));
  if (cleaning) {
    // Started after cleanup began (main() carries on after a signal): release at once, refuse to go on.
    late.push(step().catch((err) => console.error('cleanup step failed:', err)));
    throw new Error('benchmark interrupted');
  }
  undo.push(step);
  return {
    value,
    release: async () => {
      const at = undo.indexOf(step);
      if (at >= 0) undo.splice(at, 1);
      await step();
    },
  };
}

// `on`, not `once`: Ctrl-C reaches this process twice (from the terminal and relayed by the tsx parent), and a
// second, default-handled SIGINT would kill it half way through cleaning up.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (cleaning) return;
    console.error(`\n${signal}: stopping servers and removing temp directories ...`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function server(options: Parameters<typeof startMariaDb>[0]): Promise<{ value: TestServer; release: () => Promise<void> }> {
  return track(await startMariaDb(options), (s) => s.destroy());
}

// ---------------------------------------------------------------------------------------------------------
// Measurements

type Contender = 'native' | 'native-parallel' | 'tributary';

interface Measurement {
  seconds: number;
  /** CPU seconds of the mariadbd that applied the changes (native: the replica; tributary: its target). */
  serverCpu: number;
  /** CPU seconds of this Node process during the run (tributary only: the I/O stage, decoding, SQL building). */
  nodeCpu?: number;
}

interface Backlog {
  workload: string;
  description: string;
  databases: string[];
  /** Event groups in the binlog (GTID sequence number): transactions plus DDL. */
  transactions: number;
  binlogBytes: number;
  file: string;
  pos: number;
  writeSeconds: number;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds a process has used so far, from /proc (Linux). */
function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

async function query<T = Record<string, unknown>>(conn: Connection, sql: string, values?: unknown[]): Promise<T[]> {
  const [rows] = await conn.query(sql, values);
  return rows as T[];
}

async function describeBacklog(source: TestServer, workload: string, description: string, databases: string[],
  writeSeconds: number): Promise<Backlog> {
  const conn = await source.connect();
  try {
    const [master] = await query<{ File: string; Position: number }>(conn, 'SHOW MASTER STATUS');
    const logs = await query<{ File_size: number }>(conn, 'SHOW BINARY LOGS');
    const [gtid] = await query<{ pos: string }>(conn, 'SELECT @@gtid_binlog_pos AS pos');
    // One GTID per event group, all from this source in domain 0: the sequence number counts them.
    const transactions = Number(/(\d+)$/.exec(gtid!.pos)?.[1] ?? Number.NaN);
    return {
      workload, description, databases, transactions,
      binlogBytes: logs.reduce((n, l) => n + Number(l.File_size), 0),
      file: master!.File, pos: Number(master!.Position), writeSeconds,
    };
  } finally {
    await conn.end();
  }
}

/** The type-rich workload of the integration tests: every column type, multi-statement transactions. */
async function typeRichBacklog(source: TestServer): Promise<Backlog> {
  const started = performance.now();
  const conn = await source.connect();
  let committed: number;
  try {
    await createTypeRichSchema(conn, 'rich');
    await extremeRows(conn, 'rich');
    committed = await runTransactions(conn, 'rich', { count: TYPE_RICH_TRANSACTIONS, seed: 1 });
  } finally {
    await conn.end();
  }
  return describeBacklog(source, 'type-rich', `${TYPE_RICH_TRANSACTIONS} generated, ${committed} committed`,
    ['rich'], (performance.now() - started) / 1000);
}

/** Many tiny transactions: one single-row INSERT each into a two-column table, so the per-transaction
 *  overhead (event group handling, commit, position update) is nearly all there is to apply. */
async function smallInsertBacklog(source: TestServer): Promise<Backlog> {
  const started = performance.now();
  const conn = await source.connect();
  try {
    await conn.query('CREATE DATABASE small');
    await conn.query('CREATE TABLE small.t (id INT UNSIGNED NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB');
    // Autocommit statements sent many per round trip: still one transaction (one GTID, one Xid) each in the
    // binlog, and the backlog is written in seconds instead of one round trip per row.
    const perRoundTrip = 1000;
    for (let first = 1; first <= SMALL_TRANSACTIONS; first += perRoundTrip) {
      const last = Math.min(SMALL_TRANSACTIONS, first + perRoundTrip - 1);
      const statements: string[] = [];
      for (let id = first; id <= last; id++) statements.push(`INSERT INTO small.t VALUES (${id}, ${(id * 7919) % 100003})`);
      await conn.query(statements.join(';\n'));
    }
  } finally {
    await conn.end();
  }
  return describeBacklog(source, 'small-inserts', `${SMALL_TRANSACTIONS} single-row INSERTs, autocommit`, ['small'],
    (performance.now() - started) / 1000);
}

async function verify(source: TestServer, replica: TestServer, backlog: Backlog, who: string): Promise<void> {
  const [a, b] = await Promise.all([source.connect(), replica.connect()]);
  try {
    await assertSameData(a, b, backlog.databases);
  } catch (err) {
    (err as Error).message = `${who} differs from the source after catching up on ${backlog.workload}: ${(err as Error).message}`;
    throw err;
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
}

let nextServerId = 100;

async function runNative(source: TestServer, backlog: Backlog, parallel: boolean): Promise<Measurement> {
  const who = parallel ? 'native replica (4 parallel threads)' : 'native replica';
  // No binlog on the replica, like tributary's target: neither side pays for writing one.
  const replica = await server({
    serverId: nextServerId++, noBinlog: true,
    args: parallel ? ['--slave-parallel-threads=4', '--slave-parallel-mode=optimistic'] : [],
  });
  try {
    const conn = await replica.value.connect();
    let measurement: Measurement;
    try {
      await conn.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${source.port}, MASTER_USER='root', `
        + `MASTER_PASSWORD='', MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4`);
      const cpuBefore = processCpu(replica.value.pid);
      const started = performance.now();
      await conn.query('START SLAVE');
      const [row] = await query<{ w: number | null }>(conn, 'SELECT MASTER_POS_WAIT(?, ?, ?) AS w',
        [backlog.file, backlog.pos, WAIT_SECONDS]);
      const seconds = (performance.now() - started) / 1000;
      const serverCpu = processCpu(replica.value.pid) - cpuBefore;
      if (row?.w === null || row?.w === undefined || Number(row.w) < 0) {
        const [status] = await query(conn, 'SHOW SLAVE STATUS');
        throw new Error(`${who} did not reach ${backlog.file}:${backlog.pos} (MASTER_POS_WAIT gave ${row?.w}): `
          + JSON.stringify(status, null, 2));
      }
      measurement = { seconds, serverCpu };
      await conn.query('STOP SLAVE');
    } finally {
      await conn.end();
    }
    await verify(source, replica.value, backlog, who);
    return measurement;
  } finally {
    await replica.release();
  }
}

async function runTributary(source: TestServer, backlog: Backlog): Promise<Measurement> {
  const target = await server({ serverId: nextServerId++, noBinlog: true });
  const dataDir = track(await tempDir('bench'), (dir) => rm(dir, { recursive: true, force: true }));
  try {
    const engine = track(await ReplicationEngine.open({
      dataDir: dataDir.value,
      serverId: nextServerId++,
      target: { host: target.value.host, port: target.value.port, user: 'root', password: '' },
      logger: testLogger(),
    }), (e) => e.close());
    let measurement: Measurement;
    try {
      await engine.value.changeReplicationSource(CHANNEL, {
        sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
        sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
      });
      const serverBefore = processCpu(target.value.pid);
      const nodeBefore = process.cpuUsage();
      const started = performance.now();
      await engine.value.startReplica(CHANNEL);
      const waited = await engine.value.sourcePosWait(CHANNEL, backlog.file, backlog.pos, WAIT_SECONDS);
      const seconds = (performance.now() - started) / 1000;
      const node = process.cpuUsage(nodeBefore);
      const serverCpu = processCpu(target.value.pid) - serverBefore;
      if (waited === null || waited < 0) {
        const status = await engine.value.replicaStatus(CHANNEL);
        throw new Error(`tributary did not reach ${backlog.file}:${backlog.pos} (sourcePosWait gave ${waited}): `
          + JSON.stringify(status, null, 2));
      }
      measurement = { seconds, serverCpu, nodeCpu: (node.user + node.system) / 1e6 };
      await engine.value.stopReplica(CHANNEL);
    } finally {
      await engine.release();
    }
    await verify(source, target.value, backlog, 'tributary');
    return measurement;
  } finally {
    await dataDir.release();
    await target.release();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reporting

interface Result {
  backlog: Backlog;
  runs: Map<Contender, Measurement[]>;
}

const best = (ms: Measurement[]): Measurement => ms.reduce((a, b) => (b.seconds < a.seconds ? b : a));
const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

function resultTables(results: Result[]): string {
  const lines: string[] = [];
  const contenders: Contender[] = ['native', ...(PARALLEL ? ['native-parallel' as const] : []), 'tributary'];
  const label: Record<Contender, string> = {
    native: 'native, 1 SQL thread', 'native-parallel': 'native, 4 threads optimistic', tributary: 'tributary',
  };
  lines.push(`Best of ${RUNS} run${RUNS > 1 ? 's' : ''} each; ratio = tributary seconds / native seconds (< 1: tributary is faster).`);
  lines.push('');
  lines.push('| workload | transactions | binlog | native s | tributary s | ratio | native tx/s | tributary tx/s |'
    + (PARALLEL ? ' native 4-thread s | ratio vs 4-thread |' : ''));
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |' + (PARALLEL ? ' ---: | ---: |' : ''));
  for (const { backlog, runs } of results) {
    const n = best(runs.get('native')!);
    const t = best(runs.get('tributary')!);
    const cells = [backlog.workload, int(backlog.transactions), mib(backlog.binlogBytes), fmt(n.seconds), fmt(t.seconds),
      fmt(t.seconds / n.seconds), int(backlog.transactions / n.seconds), int(backlog.transactions / t.seconds)];
    if (PARALLEL) {
      const p = best(runs.get('native-parallel')!);
      cells.push(fmt(p.seconds), fmt(t.seconds / p.seconds));
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('Every run (seconds; CPU seconds of the applying mariadbd, and of the Node process for tributary):');
  lines.push('');
  lines.push('| workload | contender | run | seconds | mariadbd CPU s | Node CPU s |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const { backlog, runs } of results) {
    for (const c of contenders) {
      runs.get(c)!.forEach((m, i) => {
        lines.push(`| ${backlog.workload} | ${label[c]} | ${i + 1} | ${fmt(m.seconds)} | ${fmt(m.serverCpu)} | `
          + `${m.nodeCpu === undefined ? '' : fmt(m.nodeCpu)} |`);
      });
    }
  }
  lines.push('');
  lines.push('Backlogs:');
  lines.push('');
  for (const { backlog } of results) {
    lines.push(`- ${backlog.workload}: ${backlog.description}; ${int(backlog.transactions)} event groups (GTIDs) `
      + `in ${int(backlog.binlogBytes)} bytes of binlog, written by the source in ${fmt(backlog.writeSeconds, 1)} s.`);
  }
  return lines.join('\n');
}

function machine(): string {
  const mariadb = (() => {
    try {
      return execFileSync('mariadbd', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      try {
        return execFileSync('/usr/sbin/mariadbd', ['--version'], { encoding: 'utf8' }).trim();
      } catch {
        return 'unknown';
      }
    }
  })();
  const cpu = cpus();
  return [
    `- date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `- CPU: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown'} (nproc ${cpu.length})`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- MariaDB: ${mariadb}`,
    `- Node.js: ${process.version}`,
    `- settings: BENCH_TRANSACTIONS=${TYPE_RICH_TRANSACTIONS}, BENCH_SMALL_TRANSACTIONS=${SMALL_TRANSACTIONS}, `
      + `BENCH_RUNS=${RUNS}`,
  ].join('\n');
}

const README = fileURLToPath(new URL('./README.md', import.meta.url));
const START = '<!-- results:start -->';
const END = '<!-- results:end -->';

async function writeReadme(block: string): Promise<void> {
  const text = await readFile(README, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${README} has no ${START} ... ${END} block to replace`);
  await writeFile(README, `${text.slice(0, from + START.length)}\n${block}\n${text.slice(to)}`);
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const results: Result[] = [];
  const builders: Record<string, (s: TestServer) => Promise<Backlog>> = {
    'type-rich': typeRichBacklog,
    'small-inserts': smallInsertBacklog,
  };
  for (const workload of WORKLOADS) {
    const build = builders[workload];
    if (!build) throw new Error(`unknown workload ${workload}; choose from ${Object.keys(builders).join(', ')}`);
    const source = await server({ serverId: 1, binlogFormat: 'ROW' });
    try {
      console.log(`${workload}: writing the backlog on the source ...`);
      const backlog = await build(source.value);
      console.log(`${workload}: ${int(backlog.transactions)} event groups, ${mib(backlog.binlogBytes)} of binlog `
        + `(written in ${fmt(backlog.writeSeconds, 1)} s)`);
      const runs = new Map<Contender, Measurement[]>([['native', []], ['native-parallel', []], ['tributary', []]]);
      const report = (c: Contender, run: number, m: Measurement): void => {
        runs.get(c)!.push(m);
        console.log(`  run ${run} ${c.padEnd(15)} ${fmt(m.seconds).padStart(8)} s  `
          + `(${int(backlog.transactions / m.seconds)} tx/s; mariadbd CPU ${fmt(m.serverCpu)} s`
          + `${m.nodeCpu === undefined ? '' : `, Node CPU ${fmt(m.nodeCpu)} s`}), verified identical`);
      };
      for (let run = 1; run <= RUNS; run++) {
        report('native', run, await runNative(source.value, backlog, false));
        report('tributary', run, await runTributary(source.value, backlog));
        if (PARALLEL) report('native-parallel', run, await runNative(source.value, backlog, true));
      }
      results.push({ backlog, runs });
    } finally {
      await source.release();
    }
  }

  const block = `${machine()}\n\n${resultTables(results)}`;
  console.log(`\n${block}`);
  if (process.env.BENCH_WRITE_README === '1') {
    await writeReadme(block);
    console.log(`\nresults written into ${README}`);
  }
}

try {
  await main();
} catch (err) {
  // After a signal, the errors of servers going away under main() are expected and say nothing.
  if (!cleaning) console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// mysql2 pools and pino may keep handles open; the work is done.
process.exit(process.exitCode ?? 0);
