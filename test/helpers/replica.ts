// Shared steps of integration tests: a fresh engine on a temp data directory, a replica in a process of its own,
// waiting for catch-up, polling.
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ReplicationEngine, type EngineOptions } from '../../src/index.js';
import type { TestServer } from './servers.js';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tributary-${prefix}-`));
}

export function testLogger() {
  return pino({ level: process.env.TRIBUTARY_LOG ?? 'silent' });
}

export async function openEngine(target: TestServer, options: Partial<EngineOptions> = {}): Promise<ReplicationEngine> {
  return ReplicationEngine.open({
    dataDir: options.dataDir ?? await tempDir('data'),
    serverId: 3001,
    target: { host: target.host, port: target.port, user: target.user, password: target.password },
    logger: testLogger(),
    ...options,
  });
}

export async function sourceStatus(source: TestServer): Promise<{ file: string; pos: number }> {
  const [row] = await source.sql('SHOW MASTER STATUS') as { File: string; Position: number }[];
  return { file: row!.File, pos: Number(row!.Position) };
}

/** Waits until the channel has applied everything the source has logged so far; fails with the status if not. */
export async function catchUp(engine: ReplicationEngine, channel: string, source: TestServer, timeoutSeconds = 120): Promise<void> {
  const { file, pos } = await sourceStatus(source);
  const waited = await engine.sourcePosWait(channel, file, pos, timeoutSeconds);
  if (waited === null || waited < 0) {
    const status = await engine.replicaStatus(channel);
    throw new Error(`channel '${channel}' did not reach ${file}:${pos} (sourcePosWait gave ${waited}): ` +
      JSON.stringify(status, null, 2));
  }
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const fixture = fileURLToPath(new URL('../fixtures/replica-process.ts', import.meta.url));

/** Starts the replica process and resolves once it replicates; `kill()` sends SIGKILL and waits for the end. */
export async function replicaProcess(config: object): Promise<{ pid: number; kill: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`replica process exited with ${code} before starting`)));
  });
  return {
    pid: child.pid!,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
