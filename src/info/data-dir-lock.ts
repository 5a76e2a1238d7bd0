// One engine at a time opens a data directory: two writing the same relay logs and info files would corrupt
// them. The lock is a listening local socket, which the kernel removes when its process ends however it ends
// (no stale lock file after kill -9): an abstract socket on Linux, a named pipe on Windows, a socket file in the
// data directory elsewhere (stale when nothing answers on it). Whoever finds it taken asks the holder for its
// process id.
import { createHash } from 'node:crypto';
import { chmod, realpath, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { ReplicationError } from '../errors.js';
import { DATA_FILE_MODE } from './files.js';

/** How long to wait for the holder to say who it is. */
const ASK_TIMEOUT_MS = 2000;

export class DataDirLock {
  private constructor(private readonly server: Server) {}

  /** Takes the lock of `dataDir` (which must exist), or refuses with ER_CANT_LOCK naming the holder. */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    const dir = await realpath(dataDir);
    const path = lockPath(dir);
    const file = !path.startsWith('\0') && process.platform !== 'win32';
    for (let attempt = 0; ; attempt++) {
      const server = createServer((socket) => socket.end(`${process.pid}\n`));
      try {
        await listen(server, path);
        server.unref();
        if (file) await chmod(path, DATA_FILE_MODE);
        return new DataDirLock(server);
      } catch (err) {
        server.close();
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
      const holder = await ask(path);
      if (holder === 'gone' && attempt < 2) {
        // A socket file its process left behind (an abstract socket or a pipe goes with its process).
        if (file) await unlink(path).catch(() => undefined);
        continue;
      }
      const who = typeof holder === 'number' ? `process ${holder}${holder === process.pid ? ' (this process)' : ''}` : 'another process';
      throw new ReplicationError('ER_CANT_LOCK', `The data directory ${dir} is already open in a ReplicationEngine of ` +
        `${who}: one engine at a time can use a data directory; close that engine first (engine.close()), or give ` +
        'this one its own dataDir');
    }
  }

  /** Lets go of the lock (a socket file goes with it). */
  async release(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function lockPath(dir: string): string {
  const hash = createHash('sha256').update(dir).digest('hex');
  if (process.platform === 'linux') return `\0tributary-${hash}`;
  if (process.platform === 'win32') return `\\\\?\\pipe\\tributary-${hash}`;
  return join(dir, '.tributary.lock');
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The holder's process id; 'gone' when nothing listens there any more; undefined when it does not say. */
function ask(path: string): Promise<number | 'gone' | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, ASK_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.once('end', () => {
      clearTimeout(timer);
      const pid = Number.parseInt(data, 10);
      resolve(Number.isInteger(pid) ? pid : undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'gone' : undefined);
    });
  });
}
