#!/usr/bin/env node
// The `tributary` command: run, status, binlog. Exit codes: 0 done, 1 failed, 2 wrong usage or configuration.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { printBinlogFiles } from './binlog.js';
import { ConfigError } from './config.js';
import { printable } from './printable.js';
import { readConfig, run, type CliIo } from './run.js';
import { formatStatus, readStatus } from './status.js';

const HELP: Record<string, string> = {
  tributary: `Usage: tributary <command> [options]

A MySQL/MariaDB replica in a Node process: channels from sources, relay logs, replicate-* filters, one target.

Commands:
  run       run the replica of a configuration file until SIGTERM or SIGINT
  status    print every channel of a configuration's data directory
  binlog    print the events and rows of binlog or relay log files

Options:
  -h, --help     this help; \`tributary <command> --help\` for a command's
  -v, --version  the version
`,
  run: `Usage: tributary run [--config FILE] [--admin-port PORT] [--metrics-port PORT]

Opens the data directory of the configuration, creates or updates its channels (source, filters), starts
those without "start": false, and runs until SIGTERM or SIGINT; then it stops the channels cleanly (what was
received is kept in the relay log, what was applied is committed with its position) and exits 0.
On a terminal, each channel catching up shows a progress bar: bytes and transactions received and not yet
applied, the net rate at which that shrinks, transactions (or events) applied per second, and the time left. The log (pino, JSON lines) goes
to stderr.

Options:
  -c, --config FILE     the configuration (default ./tributary.json)
  --admin-port PORT     the admin endpoint's port instead of the configuration's (its user and password
                        come from the configuration's "admin")
  --metrics-port PORT   the metrics port instead of the configuration's (opened on 127.0.0.1 if the
                        configuration has no "metrics")
  -h, --help            this help

The configuration (JSON; "\${NAME}" in a string is the environment variable NAME, which must be set):
  {
    "dataDir": "./replica",        relay logs and info files; relative to the configuration file
    "serverId": 3001,              this replica's server_id
    "target": { "host": "127.0.0.1", "port": 3306, "user": "root", "password": "\${TARGET_PASSWORD}" },
    "channels": {
      "dbsv1": {
        "source": { "sourceHost": "10.0.0.5", "sourcePort": 3306, "sourceUser": "repl",
                    "sourcePassword": "\${DBSV1_PASSWORD}" },
        "filters": { "replicateDoDb": ["ttt1"] },
        "start": true
      }
    }
  }
A channel's "provision": true (or { "parallel": 4, "chunkRows": 1000, "verify": true }) copies the tables its
rules keep from the source before it starts (provisionChannel), while the other channels run: when the channel
has no position yet, or its copy was interrupted (the next run continues it); a progress bar shows it.
Also: the engine options of the README (maxRelayLogSize, relayLogSpaceLimit, replicaNetTimeout, filters,
replicaSkipErrors ...) at the top level, and "logLevel" (info by default). A channel's sourceLogFile and
sourceLogPos apply when the channel is created; later runs go on from the channel's own position.
"admin" opens the admin endpoint (mariadb -h HOST -P PORT -u USER -p runs CHANGE MASTER, START SLAVE, SHOW ALL
SLAVES STATUS ...; other statements go to the target); "metrics" opens the metrics port.
`,
  status: `Usage: tributary status [--config FILE] [--json]

Prints every channel of the configuration's data directory: whether its stages run, what it has read and
applied, the relay log, the last errors. With \`tributary run\` running, its status of the last second; with
no engine running, the positions its info files keep.

Options:
  -c, --config FILE  the configuration (default ./tributary.json)
      --json         the channels as JSON (the ReplicaStatus records of allReplicaStatus)
  -h, --help         this help
`,
  binlog: `Usage: tributary binlog FILE...

Prints the events of binlog or relay log files as \`mariadb-binlog --verbose\` does, row events as
\`### INSERT INTO ...\` pseudo-SQL, and also the MySQL 8 events mariadb-binlog cannot print: the transactions
inside TRANSACTION_PAYLOAD events, PARTIAL_UPDATE_ROWS (partial JSON updates), tagged GTIDs, VECTOR values.
Control characters in names and values are printed as escapes.

Options:
  -h, --help  this help
`,
};

class UsageError extends Error {}

function version(): string {
  // The same relative path from src/cli and dist/cli.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    const topic = command === 'help' && rest[0] && HELP[rest[0]] ? rest[0] : 'tributary';
    io.stdout.write(HELP[topic]!);
    return command === undefined ? 2 : 0;
  }
  if (command === '-v' || command === '--version') {
    io.stdout.write(`tributary ${version()}\n`);
    return 0;
  }
  if (!HELP[command] || command === 'tributary') throw new UsageError(`unknown command '${command}'; try tributary --help`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest, allowPositionals: command === 'binlog',
      options: {
        help: { type: 'boolean', short: 'h' },
        ...(command === 'binlog' ? {} : { config: { type: 'string', short: 'c', default: 'tributary.json' } }),
        ...(command === 'status' ? { json: { type: 'boolean' } } : {}),
        ...(command === 'run' ? { 'admin-port': { type: 'string' }, 'metrics-port': { type: 'string' } } : {}),
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; try tributary ${command} --help`);
  }
  const { values, positionals } = parsed as { values: { help?: boolean; config?: string; json?: boolean;
    'admin-port'?: string; 'metrics-port'?: string }; positionals: string[] };
  if (values.help) {
    io.stdout.write(HELP[command]!);
    return 0;
  }
  if (command === 'binlog') {
    if (positionals.length === 0) throw new UsageError('binlog needs at least one FILE; try tributary binlog --help');
    return printBinlogFiles(positionals, io.stdout);
  }
  if (command === 'status') {
    const report = await readStatus(await readConfig(values.config!, io.env));
    io.stdout.write(values.json ? `${JSON.stringify(report.channels, null, 2)}\n` : formatStatus(report));
    return 0;
  }
  const stop = new Promise<string>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        resolve(signal);
        // A second signal while stopping: the channels are being stopped, which a kill would interrupt.
        process.on(signal, () => io.stderr.write(`tributary: ${signal} again: already stopping the channels\n`));
      });
    }
  });
  return run(values.config!, io, stop, { adminPort: values['admin-port'], metricsPort: values['metrics-port'] });
}

const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };
main(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  const errno = (err as { errno?: unknown }).errno;
  const prefix = typeof errno === 'number' && errno > 0 ? `error ${errno}: ` : '';
  io.stderr.write(`tributary: ${printable(`${prefix}${(err as Error).message ?? String(err)}`)}\n`);
  process.exitCode = err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
});
