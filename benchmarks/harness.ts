// What every part of the benchmark shares: its environment variables, the undo steps that leave no mariadbd,
// child process or temp directory behind, and CPU readings from /proc.
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Connection } from 'mysql2/promise';
import { startMariaDb, type TestServer } from '../test/helpers/servers.js';

export const env = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(raw)}`);
  return n;
};

// ---------------------------------------------------------------------------------------------------------
// Cleanup: every server, engine process and directory registers an undo step, run in reverse order in
// `finally` and on SIGINT/SIGTERM, so an interrupted or failed benchmark leaves nothing behind.

const undo: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;
const late: Array<Promise<void>> = [];

export const interrupted = (): boolean => cleaning !== undefined;

// Shared by `finally` and the signal handler: after a signal, main() is still running and reaches its own
// `finally` while the handler is half way through; both must wait for the same, complete cleanup.
export function cleanup(): Promise<void> {
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

export interface Tracked<T> { value: T; release: () => Promise<void> }

export function track<T>(value: T, release: (value: T) => Promise<void>): Tracked<T> {
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

/** Runs cleanup on SIGINT/SIGTERM. `on`, not `once`: Ctrl-C reaches this process twice (from the terminal and
 *  relayed by the tsx parent), and a second, default-handled SIGINT would kill it half way through cleaning up. */
export function cleanupOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (cleaning) return;
      console.error(`\n${signal}: stopping servers and removing temp directories ...`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

export async function server(options: Parameters<typeof startMariaDb>[0]): Promise<Tracked<TestServer>> {
  return track(await startMariaDb(options), (s) => s.destroy());
}

// ---------------------------------------------------------------------------------------------------------

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds a process has used so far, from /proc (Linux). */
export function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

export async function query<T = Record<string, unknown>>(conn: Connection, sql: string, values?: unknown[]): Promise<T[]> {
  const [rows] = await conn.query(sql, values);
  return rows as T[];
}

// Long enough for a slow run on a loaded machine, short enough that a stuck replica fails the benchmark.
export const WAIT_SECONDS = 3600;
/** How often "has the relay log reached the end" is asked, of the native replica and of tributary alike. */
export const POLL_MS = 10;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------
// Reporting

/** The machine a results block was measured on, and the benchmark's settings. */
export function machine(settings: string): string {
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
    `- settings: ${settings}`,
  ].join('\n');
}

const README = fileURLToPath(new URL('./README.md', import.meta.url));

/** Replaces the block between `<!-- name:start -->` and `<!-- name:end -->` in benchmarks/README.md. */
export async function writeReadme(name: string, block: string): Promise<void> {
  const [start, end] = [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
  const text = await readFile(README, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${README} has no ${start} ... ${end} block to replace`);
  await writeFile(README, `${text.slice(0, from + start.length)}\n${block}\n${text.slice(to)}`);
}
