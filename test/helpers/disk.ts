// Small real disks for tests of a full disk: a tmpfs mounted on a temp directory, and a filler file that takes
// what is free. Mounting needs root (as the tests run here and in CI); where it is refused, tests skip with the
// reason.
import { execFile } from 'node:child_process';
import { open, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './replica.js';

const run = promisify(execFile);

export interface SmallDisk {
  dir: string;
  unmount(): Promise<void>;
}

/** A tmpfs of `bytes` on a new temp directory, or why it could not be mounted. */
export async function mountSmallDisk(bytes: number): Promise<SmallDisk | string> {
  const dir = await tempDir('small-disk');
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 1024)}k,mode=0700`, 'tmpfs', dir]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs to fill (${(err as Error).message.trim()}): run the tests as root`;
  }
  return {
    dir,
    unmount: async () => {
      await run('umount', ['-l', dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/** Writes `<dir>/filler` until at most `leave` bytes are free; returns its path (delete it to free the disk). */
export async function fillDisk(dir: string, leave = 0): Promise<string> {
  const path = join(dir, 'filler');
  const handle = await open(path, 'a');
  try {
    for (let free = await freeBytes(dir); free > leave; free = await freeBytes(dir)) {
      const chunk = Buffer.alloc(Math.max(4096, Math.min(1 << 20, free - leave)), 0x66);
      try {
        await handle.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        break;
      }
    }
  } finally {
    await handle.close();
  }
  return path;
}
