// `tributary run --config` as an operator runs it: a child process replicating from a real source into a real
// target, `tributary status` beside it, SIGTERM / SIGINT stopping it cleanly with the positions kept, a second
// run going on from them; configuration mistakes refused naming the key; --help for each command.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { ReplicaStatus } from '../src/index.js';
import { hashLines, mariadbBinlogVerbose } from './helpers/mariadb-binlog.js';
import { sourceStatus, tempDir, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const exec = promisify(execFile);
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;
const SECRET = 's3cret-repl';

let source: TestServer;
let target: TestServer;
let dir: string;
let configPath: string;
const env = { ...process.env, DBSV1_PASSWORD: SECRET, TARGET_PASSWORD: '' };

function config(extra: Record<string, unknown> = {}, channel: Record<string, unknown> = {}): object {
  return {
    dataDir: './replica', serverId: 3001,
    target: { host: target.host, port: target.port, user: target.user, password: '${TARGET_PASSWORD}' },
    channels: {
      dbsv1: {
        source: { sourceHost: source.host, sourcePort: source.port, sourceUser: 'repl', sourcePassword: '${DBSV1_PASSWORD}' },
        filters: { replicateDoDb: ['ttt1'] }, start: true, ...channel,
      },
    },
    ...extra,
  };
}

async function writeConfig(name: string, value: object): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(value, null, 2));
  return path;
}

async function tributary(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: options.env ?? env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface Running {
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

/** `tributary run` in a child process, resolved once it says it runs. */
async function startRun(path: string, ...flags: string[]): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'run', '--config', path, ...flags], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let ready!: () => void;
  const running = new Promise<void>((resolve) => { ready = resolve; });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    log.push(line);
    if (line.includes('tributary running')) ready();
  });
  await Promise.race([running, exited.then((code) => {
    throw new Error(`tributary run exited with ${code}: ${log.join('\n')}`);
  })]);
  return { child, log, exited };
}

async function statusJson(): Promise<ReplicaStatus[]> {
  const { code, stdout, stderr } = await tributary(['status', '--config', configPath, '--json']);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as ReplicaStatus[];
}

async function targetRows(): Promise<number[]> {
  return (await target.sql('SELECT id FROM ttt1.t ORDER BY id') as { id: number }[]).map((r) => r.id);
}

before(async () => {
  [source, target] = await Promise.all([startMariaDb({ serverId: 11 }), startMariaDb({ serverId: 21, noBinlog: true })]);
  await source.sql(`CREATE USER repl@'%' IDENTIFIED BY '${SECRET}'`, "GRANT REPLICATION SLAVE ON *.* TO repl@'%'",
    // Each statement with its own database as the default one, which is what replicate-do-db looks at.
    'CREATE DATABASE ttt1', 'USE ttt1', 'CREATE TABLE t (id INT PRIMARY KEY)', 'INSERT INTO t VALUES (1), (2)',
    'CREATE DATABASE other', 'USE other', 'CREATE TABLE t (id INT PRIMARY KEY)', 'INSERT INTO t VALUES (1)');
  dir = await tempDir('cli');
  configPath = await writeConfig('tributary.json', config());
});

after(async () => {
  await Promise.all([source?.destroy(), target?.destroy()]);
});

test('run replicates until SIGTERM, stops cleanly and keeps its positions; status reports it running and stopped', async () => {
  const run = await startRun(configPath);
  try {
    await until('the first rows on the target', async () => (await targetRows().catch(() => [])).length === 2);
    await source.sql('INSERT INTO ttt1.t VALUES (3)', 'INSERT INTO other.t VALUES (2)');
    await until('the third row', async () => (await targetRows()).includes(3)).catch((err: Error) => { throw new Error(`${err.message}: ${run.log.join('\n')}`); });

    // The running engine's report of the last second (the I/O stage may still have been connecting at the first).
    const text = await until('status showing both stages running', async () => {
      const shown = await tributary(['status', '--config', configPath]);
      assert.equal(shown.code, 0, shown.stderr);
      return /\ndbsv1: I\/O Yes, SQL Yes, /.test(shown.stdout) && shown;
    });
    assert.match(text.stdout, new RegExp(`^engine running \\(pid ${run.child.pid}\\)`));
    const [running] = await statusJson();
    assert.equal(running!.channel, 'dbsv1');
    assert.equal(running!.replicateDoDb, 'ttt1');
    assert.equal(running!.ioRunning, 'Yes');
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exited, 0, run.log.join('\n'));
  const log = run.log.join('\n');
  assert.match(log, /SIGTERM: stopping the channels/);
  assert.match(log, /channel stopped/);
  // Not a terminal: no progress bars, only the log's JSON lines.
  assert.ok(run.log.every((line) => line.startsWith('{')), log);
  // The source password came from the environment and never reached the log.
  assert.doesNotMatch(log, new RegExp(SECRET));
  // The replicate-do-db of the configuration held.
  assert.deepEqual(await target.sql('SHOW DATABASES LIKE "other"'), []);

  const end = await sourceStatus(source);
  const [stopped] = await statusJson();
  assert.equal(stopped!.ioRunning, 'No');
  assert.equal(stopped!.sqlRunning, 'No');
  assert.deepEqual({ file: stopped!.relaySourceLogFile, pos: stopped!.execSourceLogPos }, end);
  assert.deepEqual({ file: stopped!.sourceLogFile, pos: stopped!.readSourceLogPos }, end);
  const text = await tributary(['status', '--config', configPath]);
  assert.match(text.stdout, /^engine not running; positions from the data directory/);
  assert.match(text.stdout, new RegExp(`applied     ${end.file}:${end.pos}`));
});

test('tributary binlog prints the relay log files the run left as mariadb-binlog --verbose does', async () => {
  const relayFiles = (await readdir(join(dir, 'replica'))).filter((n) => /^relay-bin-dbsv1\.\d+$/.test(n));
  assert.ok(relayFiles.length > 0);
  for (const name of relayFiles) {
    const file = join(dir, 'replica', name);
    const ours = await tributary(['binlog', file], { env: { ...env, TZ: 'UTC' } });
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(hashLines(ours.stdout), hashLines(await mariadbBinlogVerbose(file)), name);
  }
});

test('a second run goes on from the kept position; SIGINT stops it too', async () => {
  await source.sql('INSERT INTO ttt1.t VALUES (4)');
  const run = await startRun(configPath);
  try {
    await until('the fourth row', async () => (await targetRows()).includes(4));
  } finally {
    run.child.kill('SIGINT');
  }
  assert.equal(await run.exited, 0, run.log.join('\n'));
  assert.deepEqual(await targetRows(), [1, 2, 3, 4]);
  const [stopped] = await statusJson();
  assert.deepEqual({ file: stopped!.relaySourceLogFile, pos: stopped!.execSourceLogPos }, await sourceStatus(source));
});

test('the configuration\'s metrics key opens the metrics port of the running engine', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const run = await startRun(await writeConfig('metrics.json', config({ metrics: { port } })));
  try {
    const text = await until('the channel running in the metrics', async () => {
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return body.includes('tributary_replica_sql_running{channel="dbsv1"} 1') && body;
    });
    assert.match(text, /tributary_replica_io_running\{channel="dbsv1"\} [01]/);
  } finally {
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.log.join('\n'));
  }
});

test('the configuration\'s admin key opens the admin endpoint of the running engine, on the port --admin-port gives', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const run = await startRun(await writeConfig('admin.json', config({ admin: { port: 6033, user: 'admin', password: '${DBSV1_PASSWORD}' } })),
    '--admin-port', String(port));
  try {
    const text = await until('the channel running on the admin endpoint', async () => {
      const { stdout } = await exec('mariadb', ['-h127.0.0.1', `-P${port}`, '-uadmin', `-p${SECRET}`, '-e', 'SHOW ALL SLAVES STATUS\\G'])
        .catch(() => ({ stdout: '' }));
      return /Slave_SQL_Running: Yes/.test(stdout) && stdout;
    });
    assert.match(text, /Connection_name: dbsv1/);
    assert.match(text, /Replicate_Do_DB: ttt1/);
  } finally {
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.log.join('\n'));
  }
});

test('configuration mistakes are refused with exit 2, naming the key', async () => {
  const cases: [object, RegExp][] = [
    [config({}, { source: { sourceHost: source.host, sourcePort: 'x' } }), /channels\.dbsv1\.source\.sourcePort: must be a number, got "x"/],
    [config({}, { source: { sourceHost: source.host, sourcePort: 70000 } }), /channels\.dbsv1\.source\.sourcePort: must be a port from 1 to 65535/],
    [config({}, { source: { sourceHost: source.host, sourcePasword: 'x' } }), /channels\.dbsv1\.source\.sourcePasword: unknown key/],
    [config({}, { filters: { replicateDoDb: 'ttt1' } }), /channels\.dbsv1\.filters\.replicateDoDb: must be a list, got "ttt1"/],
    [config({}, { start: 'yes' }), /channels\.dbsv1\.start: must be a boolean/],
    [config({ serverId: undefined }), /serverId: is required/],
    [config({ target: { host: '127.0.0.1', prot: 3306 } }), /target\.prot: unknown key/],
    [config({ admin: { host: '127.0.0.1', port: 6033, user: 'admin', password: '' } }), /admin\.password is missing/],
    [config({ metrics: { port: 'x' } }), /metrics\.port: must be an integer/],
    [config({ relayLogSpaceLimit: -1 }), /relayLogSpaceLimit must be a number of bytes >= 0/],
  ];
  for (const [value, message] of cases) {
    const path = await writeConfig('bad.json', value);
    const { code, stderr } = await tributary(['run', '--config', path]);
    assert.equal(code, 2, `${stderr} for ${JSON.stringify(value)}`);
    assert.match(stderr, message);
  }
  const missing = await tributary(['run', '--config', configPath], { env: { ...env, DBSV1_PASSWORD: undefined } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /channels\.dbsv1\.source\.sourcePassword: environment variable DBSV1_PASSWORD is not set/);
  const notJson = await tributary(['status', '--config', await writeConfig('bad.json', { dataDir: 1, serverId: 3001, target: {} })]);
  assert.match(notJson.stderr, /dataDir: must be a string, got 1/);
  const absent = await tributary(['status', '--config', join(dir, 'absent.json')]);
  assert.equal(absent.code, 2);
  assert.match(absent.stderr, /cannot read the configuration file .*absent\.json/);
});

test('--help for the program and each command; unknown commands and options are usage errors', async () => {
  const top = await tributary(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Usage: tributary <command>/);
  for (const command of ['run', 'status', 'binlog']) {
    const help = await tributary([command, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^Usage: tributary ${command}`));
    assert.deepEqual(await tributary(['help', command]), help);
  }
  assert.equal((await tributary([])).code, 2);
  const unknown = await tributary(['rnu']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'rnu'/);
  const option = await tributary(['status', '--confgi', 'x']);
  assert.equal(option.code, 2);
  assert.match(option.stderr, /--confgi/);
  assert.match((await tributary(['--version'])).stdout, /^tributary \d+\.\d+\.\d+\n$/);
});

test('a channel\'s "provision" copies what its rules keep before it starts, shown by status; the next run only replicates', async () => {
  await source.sql('CREATE DATABASE provc', 'CREATE TABLE provc.t (id INT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO provc.t SELECT seq, CONCAT('v', seq) FROM provc.seq_1_to_3000", 'FLUSH BINARY LOGS');
  const [last] = (await source.sql('SHOW BINARY LOGS') as { Log_name: string }[]).slice(-1);
  // Replication from the start is impossible: only the copy brings the rows.
  await source.sql(`PURGE BINARY LOGS TO '${last!.Log_name}'`);
  const path = await writeConfig('provision.json', {
    dataDir: './replica-provision', serverId: 3001,
    target: { host: target.host, port: target.port, user: target.user, password: '' },
    channels: { prov: { source: { sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '' },
      filters: { replicateDoDb: ['provc'] }, provision: { chunkRows: 500, verify: true } } },
  });
  const provRows = async () => Number((await target.sql('SELECT COUNT(*) AS n FROM provc.t').catch(() => [{ n: 0 }]) as { n: number }[])[0]!.n);
  const shown = async () => {
    const { code, stdout, stderr } = await tributary(['status', '--config', path]);
    assert.equal(code, 0, stderr);
    return stdout;
  };
  const first = await startRun(path);
  try {
    await source.sql("INSERT INTO provc.t VALUES (3001, 'during')");
    const text = await until('status showing the channel provisioned and running', async () => {
      const out = await shown();
      return /\nprov: I\/O Yes, SQL Yes, /.test(out) && out;
    }, 60_000).catch((err: Error) => { throw new Error(`${err.message}: ${first.log.join('\n')}`); });
    assert.match(text, /\n {2}provision {3}done, 1\/1 tables, 300\d rows, [\d.]+ KiB\n/);
    await source.sql("INSERT INTO provc.t VALUES (3002, 'after')");
    await until('the rows written during and after the copy', async () => await provRows() === 3002);
  } finally {
    first.child.kill('SIGTERM');
  }
  assert.equal(await first.exited, 0, first.log.join('\n'));
  assert.match(first.log.join('\n'), /channel provisioned/);

  // The channel has its position: the second run replicates from it rather than copy again (which would refuse
  // the tables now holding rows).
  await source.sql("INSERT INTO provc.t VALUES (3003, 'second run')");
  const second = await startRun(path);
  try {
    await until('the row of the second run', async () => await provRows() === 3003)
      .catch((err: Error) => { throw new Error(`${err.message}: ${second.log.join('\n')}`); });
  } finally {
    second.child.kill('SIGTERM');
  }
  assert.equal(await second.exited, 0, second.log.join('\n'));
  assert.match(second.log.join('\n'), /provisioning: not needed/);
  assert.doesNotMatch(second.log.join('\n'), /provisioning failed/);
});
