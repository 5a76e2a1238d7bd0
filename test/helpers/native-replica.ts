// A native MariaDB multi-source replica driven with the statements the servers know, configured the way a
// test configures tributary: the reference every comparison test measures tributary against.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReplicationEngine, ReplicationFilters } from '../../src/index.js';
import { startMariaDb, type ServerOptions, type TestServer } from './servers.js';

const FILTER_VARIABLE: Record<keyof ReplicationFilters, string> = {
  replicateDoDb: 'replicate_do_db',
  replicateIgnoreDb: 'replicate_ignore_db',
  replicateDoTable: 'replicate_do_table',
  replicateIgnoreTable: 'replicate_ignore_table',
  replicateWildDoTable: 'replicate_wild_do_table',
  replicateWildIgnoreTable: 'replicate_wild_ignore_table',
  replicateRewriteDb: 'replicate_rewrite_db',
};

export type NativeUntil = { sourceLogFile: string; sourceLogPos: number } | { relayLogFile: string; relayLogPos: number } |
  { sourceGtidPos: string };

export interface NativeReplica {
  readonly server: TestServer;
  /** CHANGE MASTER 'name' TO the source as root, at `position` (the beginning of its first binlog by default). */
  changeSource(name: string, source: TestServer, position?: { file: string; pos: number }, extra?: string): Promise<void>;
  /** SET GLOBAL 'name'.replicate_* for each key given (the connection's SQL thread must be stopped). */
  setFilters(name: string, filters: Partial<ReplicationFilters>): Promise<void>;
  start(name: string, options?: { threads?: ('IO_THREAD' | 'SQL_THREAD')[]; until?: NativeUntil }): Promise<void>;
  stop(name: string, threads?: ('IO_THREAD' | 'SQL_THREAD')[]): Promise<void>;
  reset(name: string, all?: boolean): Promise<void>;
  /** SHOW SLAVE 'name' STATUS as a row of column name -> value. */
  status(name: string): Promise<Record<string, any>>;
  /** The connection's row of SHOW ALL SLAVES STATUS, which adds Retried_transactions, Executed_log_entries ... */
  allStatus(name: string): Promise<Record<string, any>>;
  /** SET GLOBAL sql_slave_skip_counter for the connection (through @@default_master_connection). */
  setSkipCounter(name: string, count: number): Promise<void>;
  /** Paths of the connection's relay log files, in the order of its index file. */
  relayLogFiles(name: string): Promise<string[]>;
  /** MASTER_POS_WAIT on the connection for everything `source` has logged; throws with the status if not reached. */
  catchUp(name: string, source: TestServer, timeoutSeconds?: number): Promise<void>;
  /** CHANGE MASTER 'name' TO the source as root, MASTER_USE_GTID=slave_pos, and `extra`. */
  changeSourceByGtid(name: string, source: TestServer, extra?: string): Promise<void>;
  /** MASTER_GTID_WAIT for everything `source` has logged (its @@gtid_binlog_pos); throws with the status if not reached. */
  gtidCatchUp(name: string, source: TestServer, timeoutSeconds?: number): Promise<void>;
  destroy(): Promise<void>;
}

function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The text a replicate_* variable takes: comma-separated values, rewrite pairs as from->to. */
export function filterVariableValue(key: keyof ReplicationFilters, value: ReplicationFilters[keyof ReplicationFilters]): string {
  if (key === 'replicateRewriteDb') return (value as [string, string][]).map(([from, to]) => `${from}->${to}`).join(',');
  return (value as string[]).join(',');
}

/** Starts a mariadbd meant to be a replica: no binlog unless asked, so it pays what tributary's target pays. */
export async function startNativeReplica(options: ServerOptions): Promise<NativeReplica> {
  const server = await startMariaDb({ noBinlog: true, ...options });
  return nativeReplica(server);
}

export function nativeReplica(server: TestServer): NativeReplica {
  const threadList = (threads?: ('IO_THREAD' | 'SQL_THREAD')[]) => (threads ? ' ' + threads.join(', ') : '');
  const replica: NativeReplica = {
    server,
    async changeSource(name, source, position, extra) {
      const at = position ?? { file: 'mysql-bin.000001', pos: 4 };
      await server.sql(`CHANGE MASTER ${quoteString(name)} TO MASTER_HOST='${source.host}', MASTER_PORT=${source.port}, ` +
        `MASTER_USER='${source.user}', MASTER_PASSWORD='${source.password}', MASTER_LOG_FILE=${quoteString(at.file)}, ` +
        `MASTER_LOG_POS=${at.pos}${extra ? ', ' + extra : ''}`);
    },
    async setFilters(name, filters) {
      const statements = (Object.keys(filters) as (keyof ReplicationFilters)[]).map((key) =>
        `SET GLOBAL \`${name.replace(/`/g, '``')}\`.${FILTER_VARIABLE[key]} = ${quoteString(filterVariableValue(key, filters[key]!))}`);
      if (statements.length > 0) await server.sql(...statements);
    },
    async start(name, options = {}) {
      let until = '';
      if (options.until && 'sourceLogFile' in options.until) {
        until = ` UNTIL MASTER_LOG_FILE=${quoteString(options.until.sourceLogFile)}, MASTER_LOG_POS=${options.until.sourceLogPos}`;
      } else if (options.until && 'sourceGtidPos' in options.until) {
        until = ` UNTIL MASTER_GTID_POS=${quoteString(options.until.sourceGtidPos)}`;
      } else if (options.until) {
        until = ` UNTIL RELAY_LOG_FILE=${quoteString(options.until.relayLogFile)}, RELAY_LOG_POS=${options.until.relayLogPos}`;
      }
      await server.sql(`START SLAVE ${quoteString(name)}${threadList(options.threads)}${until}`);
    },
    async stop(name, threads) {
      await server.sql(`STOP SLAVE ${quoteString(name)}${threadList(threads)}`);
    },
    async reset(name, all = false) {
      await server.sql(`RESET SLAVE ${quoteString(name)}${all ? ' ALL' : ''}`);
    },
    async status(name) {
      const rows = await server.sql(`SHOW SLAVE ${quoteString(name)} STATUS`) as Record<string, any>[];
      if (!rows[0]) throw new Error(`the native replica has no connection '${name}'`);
      return rows[0];
    },
    async allStatus(name) {
      const rows = await server.sql('SHOW ALL SLAVES STATUS') as Record<string, any>[];
      const row = rows.find((r) => String(r.Connection_name).toLowerCase() === name.toLowerCase());
      if (!row) throw new Error(`the native replica has no connection '${name}'`);
      return row;
    },
    async setSkipCounter(name, count) {
      // sql_slave_skip_counter acts on the connection that the session's @@default_master_connection names.
      await server.sql(`SET @@default_master_connection = ${quoteString(name)}`, `SET GLOBAL sql_slave_skip_counter = ${count}`);
    },
    async relayLogFiles(name) {
      // @@relay_log_basename is NULL when the name is the default one, derived from the pid file's; the index
      // lies beside the relay log file the status names.
      const current = String((await replica.status(name)).Relay_Log_File);
      const index = await readFile(join(server.dataDir, `${current.replace(/\.\d+$/, '')}.index`), 'utf8');
      return index.split('\n').filter((line) => line !== '')
        .map((line) => (line.startsWith('/') ? line : join(server.dataDir, line)));
    },
    async catchUp(name, source, timeoutSeconds = 120) {
      const [master] = await source.sql('SHOW MASTER STATUS') as { File: string; Position: number }[];
      const [row] = await server.sql(`SELECT MASTER_POS_WAIT(${quoteString(master!.File)}, ${Number(master!.Position)}, ` +
        `${timeoutSeconds}, ${quoteString(name)}) AS waited`) as { waited: number | null }[];
      if (row?.waited === null || row?.waited === undefined || Number(row.waited) < 0) {
        throw new Error(`native connection '${name}' did not reach ${master!.File}:${master!.Position} ` +
          `(MASTER_POS_WAIT gave ${row?.waited}): ${JSON.stringify(await replica.status(name), null, 2)}`);
      }
    },
    async changeSourceByGtid(name, source, extra) {
      await server.sql(`CHANGE MASTER ${quoteString(name)} TO MASTER_HOST='${source.host}', MASTER_PORT=${source.port}, ` +
        `MASTER_USER='${source.user}', MASTER_PASSWORD='${source.password}', MASTER_CONNECT_RETRY=1, ` +
        `MASTER_USE_GTID=slave_pos${extra ? ', ' + extra : ''}`);
    },
    async gtidCatchUp(name, source, timeoutSeconds = 120) {
      const [{ pos }] = await source.sql('SELECT @@gtid_binlog_pos AS pos') as [{ pos: string }];
      const [row] = await server.sql(`SELECT MASTER_GTID_WAIT(${quoteString(pos)}, ${timeoutSeconds}) AS waited`) as { waited: number }[];
      if (Number(row?.waited) !== 0) {
        throw new Error(`native connection '${name}' did not reach GTID ${pos} (MASTER_GTID_WAIT gave ${row?.waited}): ` +
          JSON.stringify(await replica.status(name), null, 2));
      }
    },
    destroy: () => server.destroy(),
  };
  return replica;
}

/** One source per binlog format, a native replica and tributary's target, started together. */
export async function startSourcesSideBySide(
  formats: readonly { channel: string; format: 'ROW' | 'STATEMENT' | 'MIXED'; serverId: number }[],
  ids: { native: number; target: number },
): Promise<{ sources: Map<string, TestServer>; native: NativeReplica; target: TestServer }> {
  const [native, target, ...started] = await Promise.all([
    startNativeReplica({ serverId: ids.native }), startMariaDb({ serverId: ids.target, noBinlog: true }),
    ...formats.map((f) => startMariaDb({ serverId: f.serverId, binlogFormat: f.format })),
  ]);
  return { sources: new Map(formats.map((f, i) => [f.channel, started[i]!])), native, target };
}

/**
 * The same channel, with the same filters, on the native replica and on the engine: both replicate `source`
 * from the beginning of its first binlog.
 */
export async function replicateSideBySide(native: NativeReplica, engine: ReplicationEngine, channel: string,
  source: TestServer, filters: Partial<ReplicationFilters>): Promise<void> {
  await native.changeSource(channel, source);
  await native.setFilters(channel, filters);
  await native.start(channel);
  await engine.changeReplicationSource(channel, {
    sourceHost: source.host, sourcePort: source.port, sourceUser: source.user, sourcePassword: source.password,
    sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
  });
  await engine.changeReplicationFilter(channel, filters);
  await engine.startReplica(channel);
}
