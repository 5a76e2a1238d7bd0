// `tributary run`: an engine from a configuration file, until SIGTERM or SIGINT; then the channels stop
// cleanly (the I/O stage's relay log synced, the SQL stage's last batch committed, the info files written).
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { ReplicationEngine } from '../engine.js';
import { ErrorCodes } from '../errors.js';
import { emptyFilters } from '../filter/index.js';
import { writeFileAtomic } from '../info/files.js';
import { bytesShown, REDACTION } from '../log.js';
import type { ReplicaStatus } from '../status.js';
import { ConfigError, parseConfig, withPorts, type ChannelConfig, type CliConfig, type PortFlags } from './config.js';
import { CatchUpProgress } from './progress.js';
import { RelayTransactionCounter } from './relay-transactions.js';

/** What `run` writes into the data directory every second, for `tributary status` while the engine runs. */
export const RUN_STATUS_FILE = 'tributary-run.json';

export interface RunStatusFile {
  pid: number;
  /** ISO time of the write. */
  updatedAt: string;
  channels: ReplicaStatus[];
}

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: Readonly<Record<string, string | undefined>>;
}

/** Secrets never reach the log, even when a whole options object is logged. */
const STATUS_INTERVAL_MS = 1000;

export async function readConfig(path: string, env: CliIo['env']): Promise<CliConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read the configuration file ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, env, dirname(path));
}

/** The engine's refusal of an option value (1210, the message names the option) is a configuration error. */
function asConfigError(err: unknown): unknown {
  const { errno, message } = err as { errno?: number; message?: string };
  return errno === ErrorCodes.ER_WRONG_ARGUMENTS && typeof message === 'string' ? new ConfigError('', message) : err;
}

/** Runs until `stop` resolves (a signal); returns the exit code. */
export async function run(configPath: string, io: CliIo, stop: Promise<string>, ports: PortFlags = {}): Promise<number> {
  const config = withPorts(await readConfig(configPath, io.env), ports);
  const progress = io.stderr.isTTY ? new CatchUpProgress(io.stderr) : undefined;
  const logger = pino({ level: config.logLevel, redact: REDACTION, formatters: { log: (o) => bytesShown(o) as Record<string, unknown> }, base: { pid: process.pid } },
    progress ? { write: (line: string) => progress.log(line) } : pino.destination(2));
  let engine: ReplicationEngine | undefined;
  const statusPath = join(config.engine.dataDir, RUN_STATUS_FILE);
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  try {
    engine = await ReplicationEngine.open({ ...config.engine, metrics: config.metrics, admin: config.admin, logger }).catch((err: unknown) => {
      throw asConfigError(err);
    });
    await setUpChannels(engine, config, logger, () => stopping);
    const opened = engine;
    const counters = new Map<string, RelayTransactionCounter>();
    const report = async () => {
      const channels = await opened.allReplicaStatus();
      if (progress) progress.update(channels, Date.now(), await transactionsBehind(config.engine.dataDir, channels, counters));
      const file: RunStatusFile = { pid: process.pid, updatedAt: new Date().toISOString(), channels };
      await writeFileAtomic(statusPath, JSON.stringify(file, null, 1));
    };
    await report();
    logger.info({ dataDir: config.engine.dataDir, channels: engine.channelNames() }, 'tributary running; SIGTERM or SIGINT stops it');
    let reporting: Promise<void> | undefined;
    timer = setInterval(() => {
      // A slow disk must not let an older report land after a newer one.
      reporting ??= report().catch((err: unknown) => logger.warn({ err }, 'could not write the run status file'))
        .finally(() => { reporting = undefined; });
    }, STATUS_INTERVAL_MS);
    const signal = await stop;
    stopping = true;
    logger.info({ signal }, `${signal}: stopping the channels`);
  } finally {
    clearInterval(timer);
    progress?.stop();
    if (engine) {
      await engine.close();
      await rm(statusPath, { force: true });
    }
  }
  const final = await finalPositions(config).catch((err: unknown) => {
    logger.warn({ err }, 'could not read the positions back');
    return [];
  });
  for (const status of final) {
    logger.info({ channel: status.channel, read: `${status.sourceLogFile}:${status.readSourceLogPos}`,
      applied: `${status.relaySourceLogFile}:${status.execSourceLogPos}` }, 'channel stopped');
  }
  return 0;
}

/** Per channel, the transactions its relay log holds past the applied position (sources that write GTIDs). */
async function transactionsBehind(dataDir: string, channels: ReplicaStatus[], counters: Map<string, RelayTransactionCounter>):
  Promise<Map<string, { behind: number; applied: number }>> {
  const found = new Map<string, { behind: number; applied: number }>();
  for (const status of channels) {
    let counter = counters.get(status.channel);
    if (!counter) counters.set(status.channel, counter = new RelayTransactionCounter(dataDir, status.channel));
    const applied = { file: status.relayLogFile, pos: status.relayLogPos };
    await counter.scan(applied);
    const behind = counter.behind(applied);
    if (behind !== undefined) found.set(status.channel, { behind, applied: counter.applied });
  }
  return found;
}

/** The positions the engine left in its data directory, read back as `tributary status` reads them. */
async function finalPositions(config: CliConfig): Promise<ReplicaStatus[]> {
  const engine = await ReplicationEngine.open({ ...config.engine });
  try {
    return await engine.allReplicaStatus();
  } finally {
    await engine.close();
  }
}

/**
 * A channel with "provision": provisionChannel if it needs it (no position yet, or a provisioning interrupted),
 * then started unless "start" is false. In the background: a copy can take hours, while `run` reports status and
 * stops on a signal (the next run continues the copy). A failure leaves the channel stopped, with
 * provisionState 'failed' in the status, and is logged.
 */
function provisionInBackground(engine: ReplicationEngine, channel: ChannelConfig, logger: Logger, stopping: () => boolean): void {
  void engine.provisionChannel(channel.name, { ...channel.provision, ifNeeded: true, start: channel.start }).then((done) => {
    if (done.state === 'done') logger.info({ channel: channel.name, tables: done.tablesTotal, rows: done.rowsCopied }, 'channel provisioned');
  }, (err: unknown) => {
    if (stopping()) logger.info({ channel: channel.name }, 'provisioning stopped with the engine; the next run continues it');
    else logger.error({ channel: channel.name, err }, `provisioning failed: ${(err as Error).message}`);
  });
}

/**
 * Each channel of the configuration is created or brought in line with it, then started unless `start` is false.
 * Its filters are the configuration's (the top-level `filters`, then the channel's own keys over them), set at
 * every run, so that a rule taken out of the file is gone. A channel's read position (sourceLogFile,
 * sourceLogPos) is taken only when the channel is created: at later runs it goes on from where it stopped.
 */
async function setUpChannels(engine: ReplicationEngine, config: CliConfig, logger: Logger, stopping: () => boolean): Promise<void> {
  const existing = new Set(engine.channelNames().map((name) => name.toLowerCase()));
  for (const channel of config.channels) {
    const at = `channels.${channel.name}`;
    const known = existing.has(channel.name.toLowerCase());
    const { sourceLogFile, sourceLogPos, ...rest } = channel.source;
    if (known && (sourceLogFile !== undefined || sourceLogPos !== undefined)) {
      logger.info({ channel: channel.name }, 'the channel exists: it goes on from its own position, not the ' +
        'configuration\'s sourceLogFile/sourceLogPos (they apply when a channel is created)');
    }
    try {
      await engine.changeReplicationSource(channel.name, known ? rest : channel.source);
      await engine.changeReplicationFilter(channel.name, { ...emptyFilters(), ...config.engine.filters, ...channel.filters });
      if (channel.provision) provisionInBackground(engine, channel, logger, stopping);
      else if (channel.start) await engine.startReplica(channel.name);
    } catch (err) {
      throw Object.assign(new ConfigError(at, (err as Error).message), { errno: (err as { errno?: number }).errno });
    }
  }
  const configured = new Set(config.channels.map((c) => c.name.toLowerCase()));
  for (const name of engine.channelNames()) {
    if (!configured.has(name.toLowerCase())) {
      logger.warn({ channel: name }, 'the channel is in the data directory but not in the configuration: left stopped');
    }
  }
}
