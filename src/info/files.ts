// File names of a channel's info files, as MariaDB's multi-source replication names them, and atomic writes.
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { lowerConnectionName, toFilenameCharset } from './filename-charset.js';

export const MULTI_MASTER_INFO_FILE = 'multi-master.info';

/**
 * The channel part of its file names: '' for the default channel, otherwise the name lower-cased and
 * encoded as MariaDB encodes table names in file names ('dbsv1' -> 'dbsv1', 'a/b' -> 'a@002fb',
 * 'UPPER' -> 'upper'). Relay log files use it too: `<basename>-<suffix>.000001`.
 */
export function channelFileSuffix(channel: string): string {
  return toFilenameCharset(lowerConnectionName(channel));
}

/** Inserts "-<suffix>" before the extension, as MariaDB does: master.info -> master-dbsv1.info. */
function withChannel(file: string, channel: string): string {
  const suffix = channelFileSuffix(channel);
  if (!suffix) return file;
  const dot = file.lastIndexOf('.');
  return dot > 0 ? `${file.slice(0, dot)}-${suffix}${file.slice(dot)}` : `${file}-${suffix}`;
}

export function masterInfoFileName(channel: string): string {
  return withChannel('master.info', channel);
}

export function relayLogInfoFileName(channel: string): string {
  return withChannel('relay-log.info', channel);
}

/** The channel's replicate-* rules. The servers keep them only in memory; tributary keeps them across restarts. */
export function filtersFileName(channel: string): string {
  return withChannel('replication-filters.json', channel);
}

/** Every file of the data directory: relay logs carry the source's statements, passwords included. */
export const DATA_FILE_MODE = 0o600;

/**
 * Whether a file system error says that there is no space left (a full disk, or the user's quota): a condition
 * that passes once space is freed, so writers wait and write again instead of failing.
 */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The temp files writeFileAtomic writes (`.<name>.<pid>.<12 hex digits>.tmp`). */
const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;

/**
 * Deletes the temp files of atomic writes that a killed process left in `dir`. Only for a directory that no
 * other process writes in (the data directory, under its lock).
 */
export async function removeAbandonedTempFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (TEMP_FILE.test(name)) await unlink(join(dir, name)).catch(() => undefined);
  }
}

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new content: a temp file in the
 * same directory, fsync, rename over the target, fsync of the directory (which makes the rename durable).
 * `mode` is set exactly (not subject to the umask). A failure (a full disk) leaves `path` as it was and no temp
 * file behind.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = DATA_FILE_MODE): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
