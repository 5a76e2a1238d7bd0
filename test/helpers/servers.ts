// Throwaway mariadbd servers for tests, demo and benchmarks: each in a temp data directory on a loopback
// port, started from a data directory template that mariadb-install-db fills once per process.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, cp, access } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';

const run = promisify(execFile);

export interface ServerOptions {
  serverId: number;
  binlogFormat?: 'ROW' | 'STATEMENT' | 'MIXED';
  /** Extra mariadbd arguments, e.g. replica settings for a native replica. */
  args?: string[];
  /** Start without a binary log (a pure target). */
  noBinlog?: boolean;
}

export interface TestServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  readonly serverId: number;
  readonly pid: number;
  /** Connection options for mysql2. */
  connectionOptions(extra?: mysql.ConnectionOptions): mysql.ConnectionOptions;
  connect(extra?: mysql.ConnectionOptions): Promise<mysql.Connection>;
  /** Runs statements one by one on a fresh connection and returns the last result's rows. */
  sql(...statements: string[]): Promise<any>;
  /** SIGTERM and wait; keeps the data directory. */
  stop(): Promise<void>;
  /** Starts the stopped server again on the same port and data directory; a running one is left as it is. */
  restart(): Promise<void>;
  /** Stops (if running) and removes the data directory. */
  destroy(): Promise<void>;
}

let template: Promise<string> | undefined;

async function findBinary(name: string): Promise<string> {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) {
    try {
      await access(join(dir, name));
      return join(dir, name);
    } catch {
      // try the next directory
    }
  }
  throw new Error(`${name} not found: install the Debian packages mariadb-server and mariadb-client`);
}

async function dataDirTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-template-'));
    // A private tmpdir: the bootstrap's temporary tables must not meet other processes' files in /tmp.
    const scratch = await mkdtemp(join(tmpdir(), 'tributary-bootstrap-'));
    try {
      await run(await findBinary('mariadb-install-db'), [
        '--no-defaults', `--datadir=${dir}`, '--auth-root-authentication-method=normal', '--skip-test-db',
        '--user=root', `--tmpdir=${scratch}`,
      ]);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
  return template;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

export async function startMariaDb(options: ServerOptions): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), `tributary-mariadb-${options.serverId}-`));
  await cp(await dataDirTemplate(), dataDir, { recursive: true });
  const port = await freePort();
  const args = [
    '--no-defaults', `--datadir=${dataDir}`, `--port=${port}`, '--bind-address=127.0.0.1',
    `--socket=${join(dataDir, 'sock')}`, `--server-id=${options.serverId}`, '--user=root',
    `--log-error=${join(dataDir, 'error.log')}`, `--tmpdir=${dataDir}`, `--pid-file=${join(dataDir, 'mariadbd.pid')}`,
    '--innodb-buffer-pool-size=64M', '--innodb-log-file-size=64M', '--skip-name-resolve',
    '--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0', '--max-connections=200',
    ...(options.noBinlog ? [] : [`--log-bin=${join(dataDir, 'mysql-bin')}`,
      `--binlog-format=${options.binlogFormat ?? 'ROW'}`]),
    ...(options.args ?? []),
  ];
  const binary = await findBinary('mariadbd');
  let child: ChildProcess;
  let exited = false;
  let exitPromise: Promise<void>;
  const launch = async () => {
    child = spawn(binary, args, { stdio: 'ignore' });
    started.add(child);
    exited = false;
    const self = child;
    exitPromise = new Promise<void>((resolve) => self.once('exit', () => {
      exited = true;
      started.delete(self);
      resolve();
    }));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`mariadbd exited at start; see ${join(dataDir, 'error.log')}`);
      try {
        const conn = await server.connect({ connectTimeout: 1000 });
        await conn.end();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  const server: TestServer = {
    host: '127.0.0.1', port, user: 'root', password: '', dataDir, serverId: options.serverId,
    get pid() {
      return child.pid ?? 0;
    },
    connectionOptions: (extra) => ({
      host: '127.0.0.1', port, user: 'root', password: '', multipleStatements: true, ...extra,
    }),
    connect: (extra) => mysql.createConnection(server.connectionOptions(extra)),
    async sql(...statements) {
      const conn = await server.connect();
      try {
        let last: any;
        for (const statement of statements) [last] = await conn.query(statement);
        return last;
      } finally {
        await conn.end();
      }
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await exitPromise;
    },
    async restart() {
      if (!exited) return;
      await launch();
    },
    async destroy() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };

  await launch();
  return server;
}
