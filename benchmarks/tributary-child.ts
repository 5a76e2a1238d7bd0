// tributary's side of one benchmark run, in a process of its own so that its peak RSS and its CPU profile are
// tributary's alone (not the harness's mysql2 connections, backlog generator and result tables). The parent
// (catch-up.ts) forks this file, sends one Job and gets one Outcome back; the process then exits.
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { writeHeapSnapshot } from 'node:v8';
import { ReplicationEngine } from '../src/index.js';
import type { ReplicaThread } from '../src/index.js';
import { testLogger } from '../test/helpers/replica.js';
import { POLL_MS, processCpu, sleep, WAIT_SECONDS } from './harness.js';

/** Which stages the timed window covers: both (catch-up), the I/O stage until the relay log holds the whole
 *  backlog (io), or the SQL stage applying a relay log that is already complete (sql: a restart). */
export type Stage = 'both' | 'io' | 'sql';

export interface Job {
  dataDir: string;
  serverId: number;
  target: { host: string; port: number; pid: number };
  /** One channel per source; `file`/`pos` is the end of that source's backlog. */
  channels: Array<{ name: string; host: string; port: number; file: string; pos: number }>;
  /** Create the channels from mysql-bin.000001:4; false when the data directory already has them (restart). */
  configure: boolean;
  stage: Stage;
  /** After an `io` window: apply the relay log too (untimed), so that the parent can verify the target. */
  thenApply: boolean;
  /** Where to write a CPU profile of the timed window, if anywhere. */
  profile?: string;
}

export interface Outcome {
  seconds: number;
  /** CPU seconds of the target mariadbd during the timed window. */
  serverCpu: number;
  /** CPU seconds of this process during the timed window. */
  nodeCpu: number;
  /** Resident set size just before the timed window, bytes. */
  startRss: number;
  /** Highest resident set size sampled every SAMPLE_MS during the timed window, bytes. */
  windowRss: number;
  /** Peak resident set size of this process's whole life up to the end of the timed window (getrusage
   *  ru_maxrss: the kernel's high-water mark, which no sampling misses), bytes. */
  peakRss: number;
  /** Bytes of relay log files in the data directory at the end of the timed window. */
  relayBytes: number;
}

const SAMPLE_MS = 100;

async function relayBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    if (/^relay-bin.*\.\d+$/.test(name)) total += (await stat(join(dir, name))).size;
  }
  return total;
}

async function run(job: Job): Promise<Outcome> {
  const engine = await ReplicationEngine.open({
    dataDir: job.dataDir,
    serverId: job.serverId,
    target: { host: job.target.host, port: job.target.port, user: 'root', password: '' },
    logger: testLogger(),
  });
  try {
    if (job.configure) {
      for (const c of job.channels) {
        await engine.changeReplicationSource(c.name, {
          sourceHost: c.host, sourcePort: c.port, sourceUser: 'root', sourcePassword: '',
          sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
        });
      }
    }
    const start = (threads: ReplicaThread[]) => Promise.all(job.channels.map((c) => engine.startReplica(c.name, { threads })));
    const applied = () => Promise.all(job.channels.map(async (c) => {
      const waited = await engine.sourcePosWait(c.name, c.file, c.pos, WAIT_SECONDS);
      if (waited === null || waited < 0) {
        throw new Error(`tributary did not reach ${c.file}:${c.pos} on channel ${c.name} (sourcePosWait gave `
          + `${waited}): ${JSON.stringify(await engine.replicaStatus(c.name), null, 2)}`);
      }
    }));
    const read = () => Promise.all(job.channels.map(async (c) => {
      const deadline = Date.now() + WAIT_SECONDS * 1000;
      for (;;) {
        const s = await engine.replicaStatus(c.name);
        if (s.sourceLogFile === c.file && s.readSourceLogPos >= c.pos) return;
        if (!s.ioRunning || Date.now() > deadline) {
          throw new Error(`tributary's I/O stage did not reach ${c.file}:${c.pos} on channel ${c.name}: `
            + JSON.stringify(s, null, 2));
        }
        await sleep(POLL_MS);
      }
    }));

    const profiler = job.profile ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    // BENCH_HEAP_PROFILE=<file>: where the window's allocations come from, garbage included.
    const heapProfiler = process.env.BENCH_HEAP_PROFILE ? new Session() : undefined;
    if (heapProfiler) {
      heapProfiler.connect();
      await heapProfiler.post('HeapProfiler.startSampling', { samplingInterval: 32768,
        includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
    }
    const startRss = process.memoryUsage.rss();
    let windowRss = startRss;
    // BENCH_MEMORY_PARTS: the peaks of V8's heap and of Buffers beside RSS, and with --expose-gc in
    // BENCH_CHILD_NODE_OPTIONS the live heap (after a full collection every second): data held, not garbage.
    const parts = { heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
    const gc = (globalThis as { gc?: () => void }).gc;
    let samples = 0;
    let live = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      windowRss = Math.max(windowRss, m.rss);
      for (const k of Object.keys(parts) as (keyof typeof parts)[]) parts[k] = Math.max(parts[k], m[k]);
      if (gc && ++samples % 10 === 0) {
        gc();
        live = Math.max(live, process.memoryUsage().heapUsed);
      }
    }, SAMPLE_MS);
    // BENCH_HEAP_SNAPSHOT=<file>@<seconds>: the live heap (a snapshot collects garbage first) that far into the window.
    const [snapshotFile, snapshotAt] = (process.env.BENCH_HEAP_SNAPSHOT ?? '').split('@');
    const snapshot = snapshotFile ? setTimeout(() => writeHeapSnapshot(snapshotFile), Number(snapshotAt ?? 2) * 1000) : undefined;
    const serverBefore = processCpu(job.target.pid);
    const nodeBefore = process.cpuUsage();
    const started = performance.now();
    if (job.stage === 'io') {
      await start(['IO_THREAD']);
      await read();
    } else {
      await start(job.stage === 'sql' ? ['SQL_THREAD'] : ['IO_THREAD', 'SQL_THREAD']);
      await applied();
    }
    const seconds = (performance.now() - started) / 1000;
    const node = process.cpuUsage(nodeBefore);
    clearInterval(sampler);
    clearTimeout(snapshot);
    if (process.env.BENCH_MEMORY_PARTS === '1') {
      const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
      process.stderr.write(`memory peaks (MiB): ${Object.entries(parts).map(([k, v]) => `${k} ${mib(v)}`).join(', ')}` +
        `${gc ? `, live ${mib(live)}` : ''}\n`);
    }
    const outcome: Outcome = {
      seconds,
      serverCpu: processCpu(job.target.pid) - serverBefore,
      nodeCpu: (node.user + node.system) / 1e6,
      startRss,
      windowRss: Math.max(windowRss, process.memoryUsage.rss()),
      peakRss: process.resourceUsage().maxRSS * 1024,
      relayBytes: await relayBytes(job.dataDir),
    };
    if (heapProfiler) {
      const { profile } = await heapProfiler.post('HeapProfiler.stopSampling');
      await writeFile(process.env.BENCH_HEAP_PROFILE!, JSON.stringify(profile));
      heapProfiler.disconnect();
    }
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      await writeFile(job.profile!, JSON.stringify(profile));
      profiler.disconnect();
    }
    if (job.stage === 'io' && job.thenApply) {
      await start(['SQL_THREAD']);
      await applied();
    }
    await Promise.all(job.channels.map((c) => engine.stopReplica(c.name)));
    return outcome;
  } finally {
    await engine.close();
  }
}

// The parent going away (killed, interrupted) takes this process with it.
process.on('disconnect', () => process.exit(1));
process.once('message', (job: Job) => {
  run(job).then(
    (outcome) => process.send!({ outcome }, () => process.exit(0)),
    (err: Error) => process.send!({ error: err.stack ?? String(err) }, () => process.exit(1)),
  );
});
