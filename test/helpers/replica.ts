// Shared steps of integration tests: a fresh engine on a temp data directory, waiting for catch-up, polling.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import assert from 'node:assert/strict';
import { ReplicationEngine, type EngineOptions, type ReplicaStatus } from '../../src/index.js';
import { assertSameData } from './compare.js';
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

/** Every errno a status shows is MySQL's, never Node's negative ones. */
export function assertMysqlErrnos(status: ReplicaStatus): void {
  for (const key of ['lastErrno', 'lastIoErrno', 'lastSqlErrno'] as const) {
    assert.ok(status[key] >= 0, `${key} = ${status[key]}: ${status.lastSqlError || status.lastIoError}`);
  }
}

/** Asserts that `databases` hold the same on the target as on the source (assertSameData on fresh connections). */
export async function assertReplicated(source: TestServer, target: TestServer, databases: string[]): Promise<void> {
  const [a, b] = await Promise.all([source.connect(), target.connect()]);
  try {
    await assertSameData(a, b, databases);
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
}
