// `npm run bench`: how long tributary takes to catch up on a backlog, as a ratio against a native MariaDB
// replica applying the same backlog in the same run on the same machine. Absolute seconds depend on the
// machine and on whatever else runs on it; the ratio is the figure that means something (benchmarks/README.md).
//
// For each workload: the sources write the whole backlog first; then, one contender at a time (never
// concurrently: the machine has 2 cores and both sides need them), a fresh server replicates it from
// mysql-bin.000001:4 and the clock runs over the stage(s) the workload's mode times (`catch-up`: START SLAVE /
// startReplica until MASTER_POS_WAIT / sourcePosWait returns for the source's final position; `io`: the I/O
// thread / stage alone until the relay log holds the whole backlog; `restart`: the SQL thread / stage alone on a
// relay log already complete, tributary in a fresh process). Every contender starts from a fresh server so no
// run inherits a warm buffer pool or a relay log from the one before. Each measurement runs BENCH_RUNS times,
// interleaved, so a burst of outside load hurts one run of each rather than every run of one. tributary runs in
// a child process (tributary-child.ts), so that its peak RSS and CPU profile are its own.
//
// Environment variables: benchmarks/README.md.
import { execFileSync, fork } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Connection } from 'mysql2/promise';
import { assertSameData } from '../test/helpers/compare.js';
import { tempDir } from '../test/helpers/replica.js';
import type { TestServer } from '../test/helpers/servers.js';
import { cleanup, cleanupOnSignals, env, interrupted, machine, POLL_MS, query, processCpu, server, sleep, track,
  type Tracked, WAIT_SECONDS, writeReadme } from './harness.js';
import { provisionBenchmark } from './provision.js';
import { summarize } from './profile-summary.js';
import type { Job, Outcome, Stage } from './tributary-child.js';
import { SHAPES, SIZES } from './workloads.js';

const RUNS = Math.max(1, env('BENCH_RUNS', 2));
const PARALLEL = process.env.BENCH_PARALLEL !== '0';
const PROFILE = process.env.BENCH_PROFILE === '1';
const DEFAULT_WORKLOADS = 'type-rich,small-inserts,update-delete,many-sources,wide-rows,memory,io:type-rich,restart:wide-rows,provision';
const WORKLOADS = (process.env.BENCH_WORKLOADS || DEFAULT_WORKLOADS).split(',').map((s) => s.trim()).filter(Boolean);
const MODES = ['catch-up', 'io', 'restart'] as const;
type Mode = (typeof MODES)[number];
const PROFILE_DIR = fileURLToPath(new URL('./profiles/', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Where benchmarks/tsconfig.child.json compiles the child and the library to (inside the checkout, so that
 *  node_modules resolves). */
const BUILD = fileURLToPath(new URL('./.build/', import.meta.url));

/**
 * tributary's process runs the library compiled by tsc, as a user's does, not under tsx: tsx's loader thread
 * and transforms alone add some 48 MiB of RSS (and esbuild's keepNames closures some CPU) that no user pays.
 */
function compiledChild(): string {
  execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}benchmarks/tsconfig.child.json`],
    { stdio: 'inherit' });
  return `${BUILD}benchmarks/tributary-child.js`;
}
let compiled: string | undefined;

cleanupOnSignals();

// ---------------------------------------------------------------------------------------------------------
// Backlogs

type Contender = 'native' | 'native-parallel' | 'tributary';

interface Measurement {
  seconds: number;
  /** CPU seconds of the mariadbd that applied the changes (native: the replica; tributary: its target). */
  serverCpu: number;
  /** tributary only: CPU seconds, RSS before the timed window and peak RSS of its process, relay log bytes. */
  nodeCpu?: number;
  startRss?: number;
  windowRss?: number;
  peakRss?: number;
  relayBytes?: number;
}

interface SourceBacklog {
  server: TestServer;
  release: () => Promise<void>;
  databases: string[];
  /** The end of the backlog: the source's SHOW MASTER STATUS after writing it. */
  file: string;
  pos: number;
  /** Event groups in the binlog (GTID sequence number): transactions plus DDL. */
  transactions: number;
  binlogBytes: number;
}

interface Backlog {
  workload: string;
  mode: Mode;
  description: string;
  sources: SourceBacklog[];
  transactions: number;
  binlogBytes: number;
  writeSeconds: number;
}

async function describeSource(source: Tracked<TestServer>, databases: string[]): Promise<SourceBacklog> {
  const conn = await source.value.connect();
  try {
    const [master] = await query<{ File: string; Position: number }>(conn, 'SHOW MASTER STATUS');
    const logs = await query<{ File_size: number }>(conn, 'SHOW BINARY LOGS');
    const [gtid] = await query<{ pos: string }>(conn, 'SELECT @@gtid_binlog_pos AS pos');
    // One GTID per event group, all from this source in its own domain: the sequence number counts them.
    const transactions = Number(/(\d+)$/.exec(gtid!.pos)?.[1] ?? Number.NaN);
    return {
      server: source.value, release: source.release, databases, transactions,
      binlogBytes: logs.reduce((n, l) => n + Number(l.File_size), 0),
      file: master!.File, pos: Number(master!.Position),
    };
  } finally {
    await conn.end();
  }
}

/** `[mode:]shape`, e.g. `update-delete` or `io:type-rich`. */
function parseWorkload(entry: string): { mode: Mode; shape: string } {
  const [first, second] = entry.split(':');
  const mode = (second === undefined ? 'catch-up' : first) as Mode;
  const shape = second ?? first!;
  if (!MODES.includes(mode) || !SHAPES[shape]) {
    throw new Error(`unknown workload ${entry}: use [mode:]shape with mode one of ${MODES.join(', ')} and shape one `
      + `of ${Object.keys(SHAPES).join(', ')}`);
  }
  return { mode, shape };
}

async function writeBacklog(workload: string, mode: Mode, shapeName: string): Promise<Backlog> {
  const shape = SHAPES[shapeName]!;
  const sources: SourceBacklog[] = [];
  const descriptions: string[] = [];
  const started = performance.now();
  for (let index = 0; index < shape.sources; index++) {
    // Each source its own server id and GTID domain, as multi-source replication asks for.
    const source = await server({ serverId: index + 1, binlogFormat: 'ROW', args: index ? [`--gtid-domain-id=${index}`] : [] });
    const conn = await source.value.connect();
    try {
      const { description, databases } = await shape.write(conn, index);
      descriptions.push(description);
      sources.push(await describeSource(source, databases));
    } finally {
      await conn.end();
    }
  }
  return {
    workload, mode, sources,
    description: shape.sources > 1 ? `${shape.sources} sources, each ${descriptions[0]}` : descriptions[0]!,
    transactions: sources.reduce((n, s) => n + s.transactions, 0),
    binlogBytes: sources.reduce((n, s) => n + s.binlogBytes, 0),
    writeSeconds: (performance.now() - started) / 1000,
  };
}

async function verify(replica: TestServer, backlog: Backlog, who: string): Promise<void> {
  for (const source of backlog.sources) {
    const [a, b] = await Promise.all([source.server.connect(), replica.connect()]);
    try {
      await assertSameData(a, b, source.databases);
    } catch (err) {
      (err as Error).message = `${who} differs from the source after catching up on ${backlog.workload}: ${(err as Error).message}`;
      throw err;
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Contenders

let nextServerId = 100;

/** The native replica: one connection (named s1, s2 ... when there are several sources) per source. */
async function runNative(backlog: Backlog, parallel: boolean): Promise<Measurement> {
  const who = parallel ? 'native replica (4 parallel threads)' : 'native replica';
  // No binlog on the replica, like tributary's target: neither side pays for writing one.
  const replica = await server({
    serverId: nextServerId++, noBinlog: true,
    args: parallel ? ['--slave-parallel-threads=4', '--slave-parallel-mode=optimistic'] : [],
  });
  try {
    const conn = await replica.value.connect();
    const multi = backlog.sources.length > 1;
    const names = backlog.sources.map((_, i) => (multi ? `s${i + 1}` : ''));
    let measurement: Measurement;
    try {
      for (const [i, source] of backlog.sources.entries()) {
        await conn.query(`CHANGE MASTER ${multi ? `'${names[i]}' ` : ''}TO MASTER_HOST='127.0.0.1', `
          + `MASTER_PORT=${source.server.port}, MASTER_USER='root', MASTER_PASSWORD='', `
          + `MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4`);
      }
      const start = (thread = '') => conn.query(`${multi ? 'START ALL SLAVES' : 'START SLAVE'}${thread}`);
      const applied = async () => {
        for (const [i, source] of backlog.sources.entries()) {
          const [row] = await query<{ w: number | null }>(conn, 'SELECT MASTER_POS_WAIT(?, ?, ?, ?) AS w',
            [source.file, source.pos, WAIT_SECONDS, names[i]]);
          if (row?.w === null || row?.w === undefined || Number(row.w) < 0) {
            throw new Error(`${who} did not reach ${source.file}:${source.pos} (MASTER_POS_WAIT gave ${row?.w}): `
              + JSON.stringify(await query(conn, 'SHOW ALL SLAVES STATUS'), null, 2));
          }
        }
      };
      const read = async () => {
        for (;;) {
          const rows = await query<Record<string, string | number>>(conn, 'SHOW ALL SLAVES STATUS');
          const done = backlog.sources.every((source, i) => {
            const row = rows.find((r) => r.Connection_name === names[i]);
            if (row?.Slave_IO_Running === 'No') throw new Error(`${who}'s I/O thread stopped: ${JSON.stringify(row, null, 2)}`);
            return row?.Master_Log_File === source.file && Number(row.Read_Master_Log_Pos) >= source.pos;
          });
          if (done) return;
          await sleep(POLL_MS);
        }
      };
      if (backlog.mode === 'restart') {
        await start(' IO_THREAD');
        await read();
      }
      const cpuBefore = processCpu(replica.value.pid);
      const started = performance.now();
      if (backlog.mode === 'io') {
        await start(' IO_THREAD');
        await read();
      } else {
        await start(backlog.mode === 'restart' ? ' SQL_THREAD' : '');
        await applied();
      }
      measurement = { seconds: (performance.now() - started) / 1000, serverCpu: processCpu(replica.value.pid) - cpuBefore };
      if (backlog.mode === 'io') {
        await start(' SQL_THREAD');
        await applied();
      }
      await conn.query('STOP ALL SLAVES');
    } finally {
      await conn.end();
    }
    await verify(replica.value, backlog, who);
    return measurement;
  } finally {
    await replica.release();
  }
}

/** One job in a fresh tributary process (tributary-child.ts). */
async function inChild(job: Job): Promise<Outcome> {
  compiled ??= compiledChild();
  const execArgv = (process.env.BENCH_CHILD_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const running = track(fork(compiled, [], { stdio: 'inherit', execArgv }), async (c) => {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGKILL');
      await exited;
    }
  });
  try {
    const reply = await new Promise<{ outcome?: Outcome; error?: string }>((resolve, reject) => {
      running.value.once('message', (m) => resolve(m as { outcome?: Outcome; error?: string }));
      running.value.once('close', (code, signal) => reject(new Error(`tributary's process exited (${signal ?? code}) without an answer`)));
      running.value.send(job);
    });
    if (reply.error !== undefined) throw new Error(`in tributary's process: ${reply.error}`);
    await new Promise((resolve) => (running.value.exitCode === null ? running.value.once('exit', resolve) : resolve(undefined)));
    return reply.outcome!;
  } finally {
    await running.release();
  }
}

async function runTributary(backlog: Backlog, run: number): Promise<Measurement> {
  const target = await server({ serverId: nextServerId++, noBinlog: true });
  const dataDir = track(await tempDir('bench'), (dir) => rm(dir, { recursive: true, force: true }));
  try {
    const multi = backlog.sources.length > 1;
    const job = (stage: Stage, configure: boolean, thenApply: boolean, profile?: string): Job => ({
      dataDir: dataDir.value,
      serverId: 99,
      target: { host: target.value.host, port: target.value.port, pid: target.value.pid },
      channels: backlog.sources.map((s, i) => ({
        name: multi ? `bench${i + 1}` : 'bench', host: s.server.host, port: s.server.port, file: s.file, pos: s.pos,
      })),
      configure, stage, thenApply, profile,
    });
    let profile: string | undefined;
    if (PROFILE) {
      await mkdir(PROFILE_DIR, { recursive: true });
      profile = `${PROFILE_DIR}${backlog.workload.replace(':', '-')}-run${run}.cpuprofile`;
    }
    let measurement: Measurement;
    if (backlog.mode === 'restart') {
      // The first process only fills the relay log; the measured one starts on it, as after a restart.
      const filled = await inChild(job('io', true, false));
      measurement = { ...await inChild(job('sql', false, false, profile)), relayBytes: filled.relayBytes };
    } else if (backlog.mode === 'io') {
      measurement = await inChild(job('io', true, true, profile));
    } else {
      measurement = await inChild(job('both', true, false, profile));
    }
    await verify(target.value, backlog, 'tributary');
    if (profile) console.log(`\nCPU profile of tributary, ${backlog.workload} run ${run}: ${profile}\n\n${summarize(JSON.parse(await readFile(profile, 'utf8')))}\n`);
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

const best = (ms: Measurement[]): Measurement | undefined => ms.reduce<Measurement | undefined>(
  (a, b) => (a === undefined || b.seconds < a.seconds ? b : a), undefined);
const fmt = (n: number | undefined, digits = 2): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '-');
const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const mib = (bytes: number | undefined): string => (bytes === undefined ? '' : `${(bytes / 1048576).toFixed(1)} MiB`);
const peak = (ms: Measurement[]): number | undefined => ms.reduce<number | undefined>(
  (a, m) => (m.peakRss === undefined ? a : Math.max(a ?? 0, m.peakRss)), undefined);

function resultTables(results: Result[]): string {
  const lines: string[] = [];
  const contenders: Contender[] = ['native', ...(PARALLEL ? ['native-parallel' as const] : []), 'tributary'];
  const label: Record<Contender, string> = {
    native: 'native, 1 SQL thread', 'native-parallel': 'native, 4 threads optimistic', tributary: 'tributary',
  };
  lines.push(`Best of ${RUNS} run${RUNS > 1 ? 's' : ''} each; ratio = tributary seconds / native seconds (< 1: tributary is faster). `
    + 'Workloads without a prefix time the whole catch-up; `io:` times the I/O stage alone (against the native I/O '
    + 'thread), `restart:` the SQL stage alone in a fresh process on a complete relay log. Peak RSS: the highest of '
    + "tributary's process over the runs.");
  lines.push('');
  lines.push('| workload | transactions | binlog | native s | tributary s | ratio | native tx/s | tributary tx/s |'
    + (PARALLEL ? ' native 4-thread s | ratio vs 4-thread |' : '') + ' tributary peak RSS |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |' + (PARALLEL ? ' ---: | ---: |' : '') + ' ---: |');
  for (const { backlog, runs } of results) {
    const n = best(runs.get('native')!)!;
    const t = best(runs.get('tributary')!)!;
    const cells = [backlog.workload, int(backlog.transactions), mib(backlog.binlogBytes), fmt(n.seconds), fmt(t.seconds),
      fmt(t.seconds / n.seconds), int(backlog.transactions / n.seconds), int(backlog.transactions / t.seconds)];
    if (PARALLEL) {
      const p = best(runs.get('native-parallel')!);
      cells.push(fmt(p?.seconds), fmt(p && t.seconds / p.seconds));
    }
    cells.push(mib(peak(runs.get('tributary')!)));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('Every run (seconds; CPU seconds of the applying mariadbd, and of the Node process for tributary; '
    + "tributary's RSS before the timed window, the highest sampled every 100 ms during it, and the process's "
    + 'peak from getrusage, which includes its start-up):');
  lines.push('');
  lines.push('| workload | contender | run | seconds | mariadbd CPU s | Node CPU s | RSS at start | RSS in window | peak RSS |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { backlog, runs } of results) {
    for (const c of contenders) {
      runs.get(c)!.forEach((m, i) => {
        lines.push(`| ${backlog.workload} | ${label[c]} | ${i + 1} | ${fmt(m.seconds)} | ${fmt(m.serverCpu)} | `
          + `${m.nodeCpu === undefined ? '' : fmt(m.nodeCpu)} | ${mib(m.startRss)} | ${mib(m.windowRss)} | ${mib(m.peakRss)} |`);
      });
    }
  }
  lines.push('');
  lines.push('Backlogs:');
  lines.push('');
  for (const { backlog, runs } of results) {
    const relay = runs.get('tributary')![0]?.relayBytes;
    lines.push(`- ${backlog.workload}: ${backlog.description}; ${int(backlog.transactions)} event groups (GTIDs) `
      + `in ${int(backlog.binlogBytes)} bytes of binlog, written by the source${backlog.sources.length > 1 ? 's' : ''} `
      + `in ${fmt(backlog.writeSeconds, 1)} s${backlog.mode === 'restart' && relay !== undefined
        ? `; tributary restarted on ${int(relay)} bytes of relay log` : ''}.`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (PROFILE && process.env.BENCH_WRITE_README === '1') {
    throw new Error('BENCH_PROFILE=1 slows tributary down: its figures do not belong in the README (drop one of the two)');
  }
  const plan = WORKLOADS.filter((entry) => entry !== 'provision').map((entry) => ({ entry, ...parseWorkload(entry) }));
  const results: Result[] = [];
  // Provisioning is timed against mariadb-dump | mariadb, not a replica: its own module, its own results block.
  if (WORKLOADS.includes('provision')) await provisionBenchmark();
  for (const { entry, mode, shape } of plan) {
    console.log(`${entry}: writing the backlog on the source${SHAPES[shape]!.sources > 1 ? 's' : ''} ...`);
    const backlog = await writeBacklog(entry, mode, shape);
    try {
      console.log(`${entry}: ${int(backlog.transactions)} event groups, ${mib(backlog.binlogBytes)} of binlog `
        + `(written in ${fmt(backlog.writeSeconds, 1)} s)`);
      const runs = new Map<Contender, Measurement[]>([['native', []], ['native-parallel', []], ['tributary', []]]);
      const report = (c: Contender, run: number, m: Measurement): void => {
        runs.get(c)!.push(m);
        console.log(`  run ${run} ${c.padEnd(15)} ${fmt(m.seconds).padStart(8)} s  `
          + `(${int(backlog.transactions / m.seconds)} tx/s; mariadbd CPU ${fmt(m.serverCpu)} s`
          + `${m.nodeCpu === undefined ? '' : `, Node CPU ${fmt(m.nodeCpu)} s, peak RSS ${mib(m.peakRss)}`}), verified identical`);
      };
      for (let run = 1; run <= RUNS; run++) {
        report('native', run, await runNative(backlog, false));
        report('tributary', run, await runTributary(backlog, run));
        // The I/O thread is the same whatever the SQL threads.
        if (PARALLEL && mode !== 'io') report('native-parallel', run, await runNative(backlog, true));
      }
      results.push({ backlog, runs });
    } finally {
      for (const source of backlog.sources) await source.release();
    }
  }

  if (!results.length) return;
  const settings = `${Object.entries(SIZES).map(([k, v]) => `${k}=${v}`).join(', ')}, BENCH_RUNS=${RUNS}`;
  const block = `${machine(settings)}\n\n${resultTables(results)}`;
  console.log(`\n${block}`);
  if (process.env.BENCH_WRITE_README === '1') {
    await writeReadme('results', block);
    console.log('\nresults written into benchmarks/README.md');
  }
}

try {
  await main();
} catch (err) {
  // After a signal, the errors of servers going away under main() are expected and say nothing.
  if (!interrupted()) console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// mysql2 pools and pino may keep handles open; the work is done.
process.exit(process.exitCode ?? 0);
