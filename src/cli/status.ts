// `tributary status`: every channel of the configuration's data directory. A running `tributary run` holds the
// data directory and writes its channels' status there every second (RUN_STATUS_FILE); when nothing holds it,
// the engine is opened on it just to read the info files.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ReplicationEngine } from '../engine.js';
import { ErrorCodes } from '../errors.js';
import type { ReplicaStatus } from '../status.js';
import { ConfigError, type CliConfig } from './config.js';
import { RUN_STATUS_FILE, type RunStatusFile } from './run.js';
import { formatBytes, formatDuration } from './progress.js';
import { printable } from './printable.js';

export interface StatusReport {
  /** `run`: a running engine's last report; `files`: read from the data directory with no engine running. */
  source: 'run' | 'files';
  /** The running engine's process id (source `run`). */
  pid?: number;
  updatedAt?: string;
  channels: ReplicaStatus[];
}

/** A run status file older than this is not taken as the engine's (the engine holding the directory is not `run`). */
const STALE_MS = 10_000;

export async function readStatus(config: CliConfig, now = Date.now()): Promise<StatusReport> {
  const dataDir = config.engine.dataDir;
  try {
    await access(dataDir);
  } catch {
    throw new ConfigError('dataDir', `${dataDir} does not exist: no engine has run with this configuration yet`);
  }
  let engine: ReplicationEngine;
  try {
    engine = await ReplicationEngine.open({ ...config.engine });
  } catch (err) {
    if ((err as { errno?: number }).errno !== ErrorCodes.ER_CANT_LOCK) throw err;
    return runningStatus(dataDir, err as Error, now);
  }
  try {
    return { source: 'files', channels: await engine.allReplicaStatus() };
  } finally {
    await engine.close();
  }
}

async function runningStatus(dataDir: string, locked: Error, now: number): Promise<StatusReport> {
  let file: RunStatusFile;
  try {
    file = JSON.parse(await readFile(join(dataDir, RUN_STATUS_FILE), 'utf8')) as RunStatusFile;
  } catch {
    throw new ConfigError('dataDir', `${locked.message}; it has no ${RUN_STATUS_FILE}, so it is not \`tributary run\` ` +
      'that holds it: ask that process (allReplicaStatus) instead');
  }
  if (now - Date.parse(file.updatedAt) > STALE_MS) {
    throw new ConfigError('dataDir', `${locked.message}; its ${RUN_STATUS_FILE} was last written at ${file.updatedAt}, ` +
      'so that process is not reporting (hung, or not `tributary run`)');
  }
  return { source: 'run', pid: file.pid, updatedAt: file.updatedAt, channels: file.channels };
}

function behind(status: ReplicaStatus): string {
  return status.secondsBehindSource === null ? 'lag unknown' : `${status.secondsBehindSource} s behind`;
}

/** The report as lines for a person: one block per channel. */
export function formatStatus(report: StatusReport): string {
  const head = report.source === 'run'
    ? `engine running (pid ${report.pid}), status of ${report.updatedAt}`
    : 'engine not running; positions from the data directory';
  const lines = [head];
  if (report.channels.length === 0) lines.push('no channels');
  for (const s of report.channels) {
    const name = s.channel === '' ? "'' (default channel)" : s.channel;
    lines.push('',
      `${name}: I/O ${s.ioRunning}, SQL ${s.sqlRunning}, ${behind(s)}`,
      `  source      ${s.sourceUser}@${s.sourceHost}:${s.sourcePort} (server id ${s.sourceServerId || 'not known yet'})`,
      `  read        ${s.sourceLogFile}:${s.readSourceLogPos}${s.ioState ? ` (${s.ioState})` : ''}`,
      `  applied     ${s.relaySourceLogFile}:${s.execSourceLogPos}${s.sqlState ? ` (${s.sqlState})` : ''}`,
      `  relay log   ${s.relayLogFile}:${s.relayLogPos}, ${formatBytes(s.relayLogSpace)} in all`);
    if (s.provisionState) {
      lines.push(`  provision   ${s.provisionState}, ${s.provisionTablesDone}/${s.provisionTablesTotal} tables, ` +
        `${s.provisionRowsCopied} rows, ${formatBytes(s.provisionBytesCopied)}` +
        `${s.provisionSecondsLeft === null ? '' : `, ${formatDuration(s.provisionSecondsLeft)} left`}`);
    }
    if (s.lastIoErrno) lines.push(`  I/O error   ${s.lastIoErrno} ${s.lastIoError} (${s.lastIoErrorTimestamp})`);
    if (s.lastSqlErrno) lines.push(`  SQL error   ${s.lastSqlErrno} ${s.lastSqlError} (${s.lastSqlErrorTimestamp})`);
  }
  // Names, hosts and error texts come from sources and files: nothing in them may steer the terminal.
  return lines.map(printable).join('\n') + '\n';
}
