// The configuration file of `tributary run` / `tributary status`: read, `${VAR}` replaced from the environment,
// and checked key by key, so that every error names the key as a path (channels.dbsv1.source.sourcePort).
// Pure: text and environment in, options out.
import { isAbsolute, resolve } from 'node:path';
import type { ReplicationSourceOptions } from '../channel.js';
import { SOURCE_OPTIONS, validateSourceOptions, type EngineOptions } from '../engine.js';
import { emptyFilters, validateFilters, type ReplicationFilters } from '../filter/index.js';
import { validateProvisionOptions, type ProvisionOptions } from '../provision/provision.js';

export class ConfigError extends Error {
  override name = 'ConfigError';

  /** `path` is the key the error is about ('' for the file as a whole). */
  constructor(readonly path: string, reason: string) {
    super(path ? `${path}: ${reason}` : reason);
  }
}

export interface ChannelConfig {
  name: string;
  source: ReplicationSourceOptions;
  filters?: Partial<ReplicationFilters>;
  /** Start both stages when `run` starts; default true. */
  start: boolean;
  /** `"provision": true | {...}`: provisionChannel (ifNeeded) before the channel starts. */
  provision?: Pick<ProvisionOptions, 'parallel' | 'chunkRows' | 'verify'>;
}

/** The admin endpoint's settings (the engine option `admin` takes the same object). */
export interface AdminConfig {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The metrics endpoint's settings (the engine option `metrics` takes the same object). */
export interface MetricsConfig {
  host: string;
  port: number;
}

export interface CliConfig {
  engine: Omit<EngineOptions, 'logger'>;
  /** pino's level for the log on stderr; default 'info'. */
  logLevel: string;
  channels: ChannelConfig[];
  admin?: AdminConfig;
  metrics?: MetricsConfig;
}

/** Ports given on the command line (`--admin-port`, `--metrics-port`): they replace the configuration's. */
export interface PortFlags {
  adminPort?: string;
  metricsPort?: string;
}

/**
 * The configuration with the command line's ports. An admin port needs the configuration's `admin` (its user and
 * password stay out of the command line, where every user of the machine sees them); a metrics port alone opens
 * the metrics endpoint on the loopback address.
 */
export function withPorts(config: CliConfig, flags: PortFlags): CliConfig {
  const flagPort = (text: string, flag: string) => {
    const value = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
    if (!(value >= 1 && value <= 65535)) throw new ConfigError('', `${flag} must be a port from 1 to 65535, got '${text}'`);
    return value;
  };
  const out = { ...config };
  if (flags.adminPort !== undefined) {
    const port = flagPort(flags.adminPort, '--admin-port');
    if (!config.admin) {
      throw new ConfigError('admin', '--admin-port needs "admin": { "user": ..., "password": ... } in the configuration');
    }
    out.admin = { ...config.admin, port };
  }
  if (flags.metricsPort !== undefined) {
    out.metrics = { host: config.metrics?.host ?? '127.0.0.1', port: flagPort(flags.metricsPort, '--metrics-port') };
  }
  return out;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Kind = 'string' | 'integer' | 'number' | 'boolean';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The engine options a configuration sets directly, and what each must be (EngineOptions checks the ranges). */
const ENGINE_SCALARS: Record<string, Kind> = {
  serverId: 'integer', maxRelayLogSize: 'integer', relayLogPurge: 'boolean', relayLogSpaceLimit: 'integer',
  replicaNetTimeout: 'number', replicaMaxAllowedPacket: 'integer', replicateSameServerId: 'boolean',
  positionTable: 'string', replicaTransactionRetries: 'integer', targetRetryTimeout: 'number', mysqlDdl: 'string',
};
const TOP_KEYS = ['dataDir', 'target', 'logLevel', 'filters', 'replicaSkipErrors', 'channels', 'admin', 'metrics',
  ...Object.keys(ENGINE_SCALARS)];
const TARGET_KEYS: Record<string, Kind> = { host: 'string', port: 'integer', user: 'string', password: 'string', socketPath: 'string' };
const ADMIN_KEYS: Record<string, Kind> = { host: 'string', port: 'integer', user: 'string', password: 'string' };
const METRICS_KEYS: Record<string, Kind> = { host: 'string', port: 'integer' };
const SOURCE_KINDS: Record<string, Kind | 'ids'> = Object.fromEntries(Object.entries(SOURCE_OPTIONS)
  .map(([key, kind]) => [key, kind === 'path' || kind === 'gtidMode' ? 'string' : kind]));
const FILTER_KEYS = Object.keys(emptyFilters());
const PROVISION_KEYS: Record<string, Kind> = { parallel: 'integer', chunkRows: 'integer', verify: 'boolean' };
const CHANNEL_KEYS = ['source', 'filters', 'start', 'provision'];

/**
 * Every `${NAME}` in a string value becomes the environment variable NAME's value; a variable that is not set is
 * an error naming it and the key. Secrets stay out of the file that way.
 */
function substitute(value: Json, path: string, env: Readonly<Record<string, string | undefined>>): Json {
  if (typeof value === 'string') {
    return value.replace(/\$\{([^}]*)\}/g, (_whole, name: string) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError(path, `\${${name}} is not an environment variable name`);
      const found = env[name];
      if (found === undefined) throw new ConfigError(path, `environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substitute(item, `${path}[${i}]`, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, join(path, key), env)]));
  }
  return value;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

function object(value: Json | undefined, path: string): Record<string, Json> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(path, `must be an object, got ${describe(value)}`);
  }
  return value;
}

function scalar(value: Json, path: string, kind: Kind): string | number | boolean {
  const ok = kind === 'string' ? typeof value === 'string'
    : kind === 'boolean' ? typeof value === 'boolean'
      : kind === 'integer' ? Number.isSafeInteger(value) : typeof value === 'number' && Number.isFinite(value);
  if (!ok) throw new ConfigError(path, `must be ${kind === 'integer' ? 'an integer' : `a ${kind}`}, got ${describe(value)}`);
  return value as string | number | boolean;
}

/** An object whose keys are all in `kinds`, each of its kind; `required` keys must be there. */
function record(value: Json | undefined, path: string, kinds: Record<string, Kind | 'ids'>, required: string[] = []): Record<string, unknown> {
  const given = object(value, path);
  const out: Record<string, unknown> = {};
  for (const key of required) if (!Object.hasOwn(given, key)) throw new ConfigError(join(path, key), 'is required');
  for (const [key, item] of Object.entries(given)) {
    const kind = kinds[key];
    if (kind === undefined) throw new ConfigError(join(path, key), `unknown key; the keys here are ${Object.keys(kinds).join(', ')}`);
    if (kind === 'ids') {
      if (!Array.isArray(item)) throw new ConfigError(join(path, key), `must be a list of ids, got ${describe(item)}`);
      out[key] = item.map((id, i) => scalar(id, `${join(path, key)}[${i}]`, 'integer'));
    } else {
      out[key] = scalar(item, join(path, key), kind);
    }
  }
  return out;
}

function port(value: unknown, path: string): void {
  if (typeof value === 'number' && (value < 1 || value > 65535)) throw new ConfigError(path, `must be a port from 1 to 65535, got ${value}`);
}

function filters(value: Json | undefined, path: string): Partial<ReplicationFilters> {
  const given = object(value, path);
  for (const [key, list] of Object.entries(given)) {
    const at = join(path, key);
    if (!FILTER_KEYS.includes(key)) throw new ConfigError(at, `unknown filter; the filters are ${FILTER_KEYS.join(', ')}`);
    if (!Array.isArray(list)) throw new ConfigError(at, `must be a list, got ${describe(list)}`);
    for (const [i, item] of list.entries()) {
      const pair = key === 'replicateRewriteDb';
      const ok = pair ? Array.isArray(item) && item.length === 2 && item.every((s) => typeof s === 'string') : typeof item === 'string';
      if (!ok) throw new ConfigError(`${at}[${i}]`, pair ? `must be a pair ["from", "to"], got ${describe(item)}` : `must be a string, got ${describe(item)}`);
    }
  }
  try {
    validateFilters(given as Partial<ReplicationFilters>);
  } catch (err) {
    throw new ConfigError(path, (err as Error).message);
  }
  return given as Partial<ReplicationFilters>;
}

function channel(name: string, value: Json | undefined, path: string): ChannelConfig {
  const given = object(value, path);
  for (const key of Object.keys(given)) {
    if (!CHANNEL_KEYS.includes(key)) throw new ConfigError(join(path, key), `unknown key; the keys here are ${CHANNEL_KEYS.join(', ')}`);
  }
  if (!Object.hasOwn(given, 'source')) throw new ConfigError(join(path, 'source'), 'is required');
  const source = record(given.source, join(path, 'source'), SOURCE_KINDS, ['sourceHost']) as ReplicationSourceOptions;
  port(source.sourcePort, join(path, 'source.sourcePort'));
  try {
    validateSourceOptions(source);
  } catch (err) {
    const message = (err as Error).message;
    const key = Object.keys(SOURCE_OPTIONS).find((k) => message.startsWith(`${k} `));
    throw new ConfigError(join(path, key ? `source.${key}` : 'source'), key ? message.slice(key.length + 1) : message);
  }
  const start = given.start === undefined ? true : scalar(given.start, join(path, 'start'), 'boolean') as boolean;
  return { name, source, ...(given.filters === undefined ? {} : { filters: filters(given.filters, join(path, 'filters')) }), start,
    ...provision(given.provision, join(path, 'provision')) };
}

function provision(value: Json | undefined, path: string): Pick<ChannelConfig, 'provision'> {
  if (value === undefined || value === false) return {};
  if (value === true) return { provision: {} };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(path, `must be true, false or an object of ${Object.keys(PROVISION_KEYS).join(', ')}, got ${describe(value)}`);
  }
  const options = record(value, path, PROVISION_KEYS) as ChannelConfig['provision'] & object;
  try {
    validateProvisionOptions(options);
  } catch (err) {
    const message = (err as Error).message;
    const key = Object.keys(PROVISION_KEYS).find((k) => message.startsWith(`${k} `))!;
    throw new ConfigError(join(path, key), message.slice(key.length + 1));
  }
  return { provision: options };
}

/**
 * Reads a configuration. `dir` is the configuration file's directory: a relative dataDir is taken from there,
 * so that the same file means the same directory whatever the working directory of the service.
 */
export function parseConfig(text: string, env: Readonly<Record<string, string | undefined>>, dir: string): CliConfig {
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch (err) {
    throw new ConfigError('', `the configuration is not valid JSON: ${(err as Error).message}`);
  }
  const top = object(substitute(parsed, '', env), '(configuration)');
  for (const key of Object.keys(top)) {
    if (!TOP_KEYS.includes(key)) throw new ConfigError(key, `unknown key; the keys are ${TOP_KEYS.join(', ')}`);
  }
  for (const key of ['dataDir', 'serverId', 'target']) if (!Object.hasOwn(top, key)) throw new ConfigError(key, 'is required');
  const dataDir = scalar(top.dataDir!, 'dataDir', 'string') as string;
  if (dataDir === '') throw new ConfigError('dataDir', 'must not be empty');
  const engine: Record<string, unknown> = { dataDir: isAbsolute(dataDir) ? dataDir : resolve(dir, dataDir) };
  for (const [key, kind] of Object.entries(ENGINE_SCALARS)) {
    if (Object.hasOwn(top, key)) engine[key] = scalar(top[key]!, key, kind);
  }
  engine.target = record(top.target, 'target', TARGET_KEYS);
  port((engine.target as { port?: number }).port, 'target.port');
  if (top.filters !== undefined) engine.filters = filters(top.filters, 'filters');
  if (top.replicaSkipErrors !== undefined) {
    const skip = top.replicaSkipErrors;
    if (skip !== 'all' && !(Array.isArray(skip) && skip.every((e) => Number.isSafeInteger(e) && (e as number) > 0))) {
      throw new ConfigError('replicaSkipErrors', `must be "all" or a list of error numbers like [1062, 1032], got ${describe(skip)}`);
    }
    engine.replicaSkipErrors = skip;
  }
  const logLevel = top.logLevel === undefined ? 'info' : scalar(top.logLevel, 'logLevel', 'string') as string;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const channels = Object.entries(top.channels === undefined ? {} : object(top.channels, 'channels'))
    .map(([name, value]) => channel(name, value, `channels.${name}`));
  const config: CliConfig = { engine: engine as unknown as CliConfig['engine'], logLevel, channels };
  if (top.admin !== undefined) {
    config.admin = record(top.admin, 'admin', ADMIN_KEYS, ['port', 'user', 'password']) as unknown as AdminConfig;
    config.admin.host ??= '127.0.0.1';
    port(config.admin.port, 'admin.port');
  }
  if (top.metrics !== undefined) {
    config.metrics = record(top.metrics, 'metrics', METRICS_KEYS, ['port']) as unknown as MetricsConfig;
    config.metrics.host ??= '127.0.0.1';
    port(config.metrics.port, 'metrics.port');
  }
  return config;
}
