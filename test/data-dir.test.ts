// The data directory (issue 8, parts 4d and 5): one engine at a time opens it, in this process or any other,
// and a killed holder leaves no lock behind; its files are 0600 and the directory 0700, since relay logs hold
// the source's statements and master.info its password; a channel name is checked whole before anything is
// written, and a failed creation leaves no files.
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ReplicationError } from '../src/index.js';
import { catchUp, openEngine, sourceStatus, tempDir } from './helpers/replica.js';
import { replicaProcess } from './helpers/replica-process.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

describe('the data directory', () => {
  let target: TestServer;
  let source: TestServer;

  before(async () => {
    [target, source] = await Promise.all([startMariaDb({ serverId: 901, noBinlog: true }), startMariaDb({ serverId: 911 })]);
    await source.sql('CREATE DATABASE d', 'CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT)');
  });
  after(async () => Promise.all([target?.destroy(), source?.destroy()]));

  const sourceOptions = () => ({ sourceHost: source.host, sourcePort: source.port, sourceUser: 'root', sourcePassword: '',
    sourceConnectRetry: 1 });

  const refusedAsOpen = (dir: string, holder: RegExp) => (err: unknown) => {
    assert.ok(err instanceof ReplicationError, String(err));
    assert.equal(err.errno, 1015);
    assert.ok(err.message.includes(dir), err.message);
    assert.match(err.message, holder);
    return true;
  };

  test('a second open is refused while the first engine has it, in this process or another, until it closes or dies', async () => {
    const dataDir = await tempDir('lock');
    const real = await realpath(dataDir);
    const first = await openEngine(target, { dataDir });
    await assert.rejects(openEngine(target, { dataDir }), refusedAsOpen(real, new RegExp(`process ${process.pid} \\(this process\\)`)));
    // Another path to the same directory is the same directory.
    const link = join(await tempDir('link'), 'data');
    await symlink(dataDir, link);
    await assert.rejects(openEngine(target, { dataDir: link }), refusedAsOpen(real, /this process/));
    await first.close();
    await (await openEngine(target, { dataDir })).close();

    const child = await replicaProcess({
      dataDir, serverId: 3001, channel: 'c1',
      target: { host: target.host, port: target.port, user: target.user, password: target.password },
      source: { ...sourceOptions(), sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4 },
    });
    try {
      await assert.rejects(openEngine(target, { dataDir }), refusedAsOpen(real, new RegExp(`process ${child.pid}[^\\d]`)));
    } finally {
      await child.kill();
    }
    const after = await openEngine(target, { dataDir });
    try {
      assert.deepEqual(after.channelNames(), ['c1']);
    } finally {
      await after.close();
    }
  });

  test('after a replication run every file is 0600 and the directory 0700; temp files of a killed process go', async () => {
    const dataDir = await tempDir('modes');
    await chmod(dataDir, 0o755);
    // What a kill -9 in the middle of an atomic write of master.info leaves behind.
    await writeFile(join(dataDir, '.master-c1.info.4242.0123456789ab.tmp'), 'partial', { mode: 0o644 });
    const engine = await openEngine(target, { dataDir, maxRelayLogSize: 4096 });
    try {
      const at = await sourceStatus(source);
      // Every kind of file, relay logs rotated several times.
      await engine.changeReplicationSource('c1', { ...sourceOptions(), sourceLogFile: at.file, sourceLogPos: at.pos });
      await engine.changeReplicationFilter('c1', { replicateIgnoreDb: ['nothing'] });
      await engine.startReplica('c1');
      await source.sql('CREATE DATABASE modes', 'CREATE TABLE modes.t (id INT PRIMARY KEY, v TEXT)');
      for (let id = 1; id <= 20; id++) await source.sql(`INSERT INTO modes.t VALUES (${id}, REPEAT('x', 1000))`);
      await catchUp(engine, 'c1', source, 30);
    } finally {
      await engine.close();
    }
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    const files = await readdir(dataDir);
    for (const expected of ['multi-master.info', 'master-c1.info', 'relay-log-c1.info', 'replication-filters-c1.json',
      'relay-bin-c1.index']) {
      assert.ok(files.includes(expected), `${expected} in ${files.join(', ')}`);
    }
    for (const file of files) {
      assert.equal(((await stat(join(dataDir, file))).mode & 0o777).toString(8), '600', file);
    }
    assert.ok(files.filter((f) => /^relay-bin-c1\.\d{6}$/.test(f)).length > 0, files.join(', '));
  });

  test('a channel name with a line break or another control character is refused before anything is written', async () => {
    const dataDir = await tempDir('names');
    let engine = await openEngine(target, { dataDir });
    try {
      const before = await readdir(dataDir);
      for (const name of ['a\nb', 'a\rb', 'nul\0', 'tab\tx', 'line\u2028separator', 'lone \ud800 surrogate']) {
        await assert.rejects(engine.changeReplicationSource(name, sourceOptions()),
          (err: unknown) => err instanceof ReplicationError && err.code === 'ER_WRONG_ARGUMENTS', JSON.stringify(name));
      }
      assert.deepEqual(await readdir(dataDir), before);
      assert.deepEqual(engine.channelNames(), []);

      // A creation that fails half way (here its filters file cannot be written) leaves no files either.
      await mkdir(join(dataDir, 'replication-filters-half.json'));
      const half = await readdir(dataDir);
      await assert.rejects(engine.changeReplicationSource('half', sourceOptions()));
      assert.deepEqual((await readdir(dataDir)).sort(), half.sort());
      assert.deepEqual(engine.channelNames(), []);

      await engine.changeReplicationSource('ok', sourceOptions());
      await engine.changeReplicationSource('ok2', { ...sourceOptions(), sourcePort: 1 });
      assert.deepEqual(engine.channelNames(), ['ok', 'ok2']);
      await engine.close();
      engine = await openEngine(target, { dataDir });
      assert.deepEqual(engine.channelNames(), ['ok', 'ok2']);
    } finally {
      await engine.close();
    }
  });
});
