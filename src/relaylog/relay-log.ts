// The relay log of one channel: `<baseName>.NNNNNN` files in binlog format plus `<baseName>.index`.
// One writer (the I/O stage) and in-process readers (the SQL stage). Readers only ever see whole events:
// they read up to the size the writer has finished writing, which this object tracks in memory.
import { EventEmitter } from 'node:events';
import { open, readFile, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BINLOG_MAGIC, EVENT_HEADER_LENGTH, EventType, type BinlogEvent, type EventHeader } from '../binlog/events.js';
import { BinlogChecksumError, BinlogDecoder, crc32, decodeHeader } from '../binlog/decoder.js';
import { SourcePositionTracker, type SourcePosition } from '../binlog/position.js';
import { DATA_FILE_MODE, isDiskFull, writeFileAtomic } from '../info/files.js';

export interface RelayLogOptions {
  dir: string;
  /** `relay-bin` for the default channel, `relay-bin-<channel>` otherwise. */
  baseName: string;
  /** Rotate when the current file reaches this many bytes (max_relay_log_size). */
  maxSize: number;
}

export interface RelayPosition {
  file: string;
  pos: number;
}

export interface RelayEvent {
  raw: Buffer;
  file: string;
  /** Start of the event in `file`. */
  pos: number;
  endPos: number;
}

/** Bytes in a relay log file that do not make whole events: a torn or garbled event, or a file not ours. */
export class RelayLogCorruptError extends Error {
  override name = 'RelayLogCorruptError';
  /** ER_SLAVE_RELAY_LOG_READ_FAILURE, when it reaches the status. */
  readonly errno = 1594;

  constructor(readonly file: string, readonly pos: number, reason: string) {
    super(`relay log ${file} is corrupt at position ${pos}: ${reason}`);
  }
}

/** A write of a writer that began before the relay log was cut: what it fetched belongs to the old tail. */
export class RelayLogCutError extends Error {
  override name = 'RelayLogCutError';

  constructor() {
    super('the relay log was cut since this write began: fetch again from the source position after the cut');
  }
}

/** The SQL stage waiting at the end of the relay log, as the writer sees it (see `setReaderWaiting`). */
export interface WaitingReader {
  /** Counts the waits, so a writer lets one event through per wait. */
  seq: number;
  rotate: boolean;
}

export class RelayLog extends EventEmitter {
  private files: string[] = [];
  private sizes = new Map<string, number>();
  private handle: FileHandle | undefined;
  /** Changes of the file list and the index, appends included, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private cuts = 0;
  private resume: SourcePosition | undefined;
  private waitingReader: WaitingReader | undefined;
  private readerWaits = 0;
  /** The bytes of one append, gathered (appends run one at a time): reused, not allocated per write. */
  private gathered = Buffer.alloc(0);

  private constructor(readonly options: RelayLogOptions) {
    super();
    this.setMaxListeners(0);
  }

  get indexPath(): string {
    return join(this.options.dir, `${this.options.baseName}.index`);
  }

  path(file: string): string {
    return join(this.options.dir, file);
  }

  /** Opens the relay log of a channel, cutting off a torn last event left by a crash. */
  static async open(options: RelayLogOptions): Promise<RelayLog> {
    const log = new RelayLog(options);
    let index = '';
    try {
      index = await readFile(log.indexPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // A name whose file is gone was purged (files are deleted before the index is rewritten) or cut off.
    for (const name of parseIndexNames(index)) {
      try {
        log.sizes.set(name, (await stat(log.path(name))).size);
        log.files.push(name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const last = log.files.at(-1);
    if (last !== undefined) {
      const good = await validLength(log.path(last));
      if (good < BINLOG_MAGIC.length) {
        await unlink(log.path(last));
        log.files.pop();
        log.sizes.delete(last);
      } else if (good < log.sizes.get(last)!) {
        await truncate(log.path(last), good);
        log.sizes.set(last, good);
      }
    }
    if (index && log.files.join() !== parseIndexNames(index).join()) await log.writeIndex().catch(unlessDiskFull);
    return log;
  }

  list(): readonly string[] {
    return this.files;
  }

  /** Bytes written to `file` and visible to readers. */
  size(file: string): number | undefined {
    return this.sizes.get(file);
  }

  /** Relay_Log_Space: the total size of all relay log files. */
  space(): number {
    let total = 0;
    for (const size of this.sizes.values()) total += size;
    return total;
  }

  end(): RelayPosition | undefined {
    const file = this.files.at(-1);
    return file === undefined ? undefined : { file, pos: this.sizes.get(file)! };
  }

  needsRotation(): boolean {
    const end = this.end();
    return end !== undefined && end.pos >= this.options.maxSize;
  }

  /** Counts the cuts: a writer passes the value it started with to `append` and `rotate`. */
  get epoch(): number {
    return this.cuts;
  }

  /** The source position the last cut left the relay log ending at: where the I/O stage fetches again. */
  get resumePosition(): SourcePosition | undefined {
    return this.resume;
  }

  /**
   * Starts the next file: magic, then `header` events (the replica's own Format_description etc.). All or
   * nothing: a failure (a full disk) leaves no new file and the index as it was, so the call can be repeated.
   */
  rotate(header: Buffer[], epoch = this.cuts): Promise<string> {
    return this.exclusive(async () => {
      this.checkEpoch(epoch);
      await this.closeHandle();
      const last = this.files.at(-1);
      const seq = last === undefined ? 1 : Number(last.slice(last.lastIndexOf('.') + 1)) + 1;
      const file = `${this.options.baseName}.${String(seq).padStart(6, '0')}`;
      const handle = await open(this.path(file), 'w', DATA_FILE_MODE);
      try {
        const data = Buffer.concat([BINLOG_MAGIC, ...header]);
        await writeFully(handle, data, 0);
        await handle.sync();
        // The file joins the list, where readers find it, once the index names it: a reader that opened a file
        // the failure then deletes would read on in it after the repeated rotation has made a new one.
        await this.writeIndex([...this.files, file]);
        this.files.push(file);
        this.sizes.set(file, data.length);
      } catch (err) {
        await handle.close().catch(() => undefined);
        await unlink(this.path(file)).catch(() => undefined);
        throw err;
      }
      this.handle = handle;
      this.emit('grow');
      return file;
    });
  }

  /**
   * Appends whole events to the current file. Durable only after `sync()`. A failed write (a full disk) is
   * cut back off the file, so that calling again with the same events writes them at the same position.
   */
  append(events: Buffer[], epoch = this.cuts): Promise<RelayPosition> {
    return this.exclusive(async () => {
      this.checkEpoch(epoch);
      const file = this.files.at(-1);
      const handle = this.handle;
      if (file === undefined || !handle) throw new Error('relay log has no open file: rotate() first');
      const data = events.length === 1 ? events[0]! : this.gather(events);
      const pos = this.sizes.get(file)!;
      try {
        await writeFully(handle, data, pos);
      } catch (err) {
        // Readers never see the part written, but a restart would, in the middle of the log once a file follows.
        await handle.truncate(pos).catch(() => undefined);
        throw err;
      }
      this.sizes.set(file, pos + data.length);
      this.emit('grow');
      return { file, pos: pos + data.length };
    });
  }

  /** The events' bytes in one buffer; the one reused for appends of up to GATHER_MAX bytes. */
  private gather(events: Buffer[]): Buffer {
    let total = 0;
    for (let i = 0; i < events.length; i++) total += events[i]!.length;
    if (total > GATHER_MAX) return Buffer.concat(events, total);
    if (this.gathered.length < total) this.gathered = Buffer.allocUnsafe(Math.max(total, GATHER_MIN));
    for (let i = 0, at = 0; i < events.length; at += events[i]!.length, i++) this.gathered.set(events[i]!, at);
    return this.gathered.subarray(0, total);
  }

  sync(): Promise<void> {
    return this.exclusive(async () => {
      await this.handle?.sync();
    });
  }

  /** Resolves at the next append or rotation, or when `signal` aborts. */
  waitForGrowth(signal?: AbortSignal): Promise<void> {
    return this.waitFor(['grow'], signal);
  }

  /**
   * Resolves when space may have been freed (a purge, a cut, a reset), when the SQL stage starts waiting at the
   * end (`setReaderWaiting`), after `timeoutMs`, or when `signal` aborts.
   */
  waitForSpace(signal: AbortSignal, timeoutMs?: number): Promise<void> {
    return this.waitFor(['shrink', 'reader'], signal, timeoutMs);
  }

  /**
   * The SQL stage says that it has read everything written and waits for more, or (undefined) that it reads
   * again. `rotate`: it is between transactions, so a new file would let it purge the one it is in. A writer
   * held back by relay_log_space_limit then writes one event more (after a rotation when `rotate`), since
   * otherwise neither stage could move, as the servers do.
   */
  setReaderWaiting(waiting: { rotate: boolean } | undefined): void {
    this.waitingReader = waiting && { seq: ++this.readerWaits, rotate: waiting.rotate };
    if (waiting) this.emit('reader');
  }

  readerWaiting(): WaitingReader | undefined {
    return this.waitingReader;
  }

  /**
   * Deletes the files before `file` (relay_log_purge: the SQL stage has finished them). Files go before the
   * index is rewritten: deleting needs no space, so this frees a full disk, and an index naming deleted files
   * reads right (open skips them) should the rewrite fail or a crash come between.
   */
  purgeBefore(file: string): Promise<void> {
    return this.exclusive(async () => {
      const at = this.files.indexOf(file);
      if (at <= 0) return;
      for (const name of this.files.slice(0, at)) {
        await unlink(this.path(name)).catch(ignoreMissing);
        this.files.shift();
        this.sizes.delete(name);
      }
      this.emit('shrink');
      await this.writeIndex().catch(unlessDiskFull);
    });
  }

  /**
   * Cuts the relay log at `at`, where it stops holding whole events: the files after it are deleted (last
   * first, so that a crash on the way leaves the damage in place to be found again, never a gap) and `at.file`
   * is truncated there. `resume` is the source position of the events before `at`: the writer fetches again
   * from it. A writer that started before the cut cannot write any more (RelayLogCutError).
   */
  cutAt(at: RelayPosition, resume: SourcePosition): Promise<void> {
    return this.exclusive(async () => {
      const index = this.files.indexOf(at.file);
      if (index < 0) throw new Error(`relay log file ${at.file} is not in the relay log index`);
      await this.closeHandle();
      for (const name of this.files.slice(index + 1).reverse()) {
        await unlink(this.path(name)).catch(ignoreMissing);
        this.files.pop();
        this.sizes.delete(name);
      }
      if (at.pos <= BINLOG_MAGIC.length) {
        // Not even the magic number was right: the file keeps only a new one.
        await truncate(this.path(at.file), 0);
        const handle = await open(this.path(at.file), 'r+');
        try {
          await writeFully(handle, BINLOG_MAGIC, 0);
        } finally {
          await handle.close();
        }
      } else {
        await truncate(this.path(at.file), at.pos);
      }
      this.sizes.set(at.file, Math.max(at.pos, BINLOG_MAGIC.length));
      this.cuts++;
      this.resume = resume;
      await this.writeIndex().catch(unlessDiskFull);
      this.emit('cut', resume);
      this.emit('shrink');
    });
  }

  /** Deletes every file and the index (RESET SLAVE, CHANGE MASTER to a new position). */
  reset(): Promise<void> {
    return this.exclusive(async () => {
      await this.closeHandle();
      const gone = this.files;
      this.files = [];
      this.sizes.clear();
      for (const name of gone) await unlink(this.path(name)).catch(ignoreMissing);
      await unlink(this.indexPath).catch(ignoreMissing);
      this.emit('shrink');
    });
  }

  close(): Promise<void> {
    return this.exclusive(() => this.closeHandle());
  }

  reader(from: RelayPosition): RelayLogReader {
    return new RelayLogReader(this, from);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private checkEpoch(epoch: number): void {
    if (epoch !== this.cuts) throw new RelayLogCutError();
  }

  private waitFor(events: string[], signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const event of events) this.off(event, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      if (signal?.aborted) return done();
      for (const event of events) this.on(event, done);
      signal?.addEventListener('abort', done);
    });
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle) {
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }

  private async writeIndex(files = this.files): Promise<void> {
    await writeFileAtomic(this.indexPath, files.map((name) => `./${name}\n`).join(''));
  }
}

export function parseIndexNames(index: string): string[] {
  return index.split('\n').map((line) => line.trim().replace(/^\.\//, '')).filter(Boolean);
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

/** For index rewrites that can wait for the next one: an index naming files that are gone reads right. */
function unlessDiskFull(err: unknown): void {
  if (!isDiskFull(err)) throw err;
}

async function writeFully(handle: FileHandle, data: Buffer, pos: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, pos + written);
    written += bytesWritten;
  }
}

/**
 * Reads of one file through a window that moves along it: bounded memory, few reads for small events. With
 * `reuse`, each read overwrites the bytes the last one returned (callers copy what they keep), so that walking
 * a file allocates nothing per event.
 */
class FileWindow {
  private buffer = Buffer.alloc(0);
  private start = 0;
  private filled = 0;

  constructor(private readonly handle: FileHandle, private readonly file: string, private readonly window: number,
    private readonly reuse = false) {}

  /** `length` bytes at `pos` if the last read holds them. */
  held(pos: number, length: number): Buffer | undefined {
    const offset = pos - this.start;
    return offset >= 0 && offset + length <= this.filled ? this.buffer.subarray(offset, offset + length) : undefined;
  }

  /** The little-endian 32-bit integer at `pos` if the last read holds it (no view made: one per event adds up). */
  u32(pos: number): number | undefined {
    const offset = pos - this.start;
    return offset >= 0 && offset + 4 <= this.filled ? this.buffer.readUInt32LE(offset) : undefined;
  }

  /** `length` bytes at `pos`; `size` is where the readable part of the file ends. */
  async bytes(pos: number, length: number, size: number): Promise<Buffer> {
    const held = this.held(pos, length);
    if (held) return held;
    const want = Math.min(Math.max(length, this.window), size - pos);
    if (!this.reuse || this.buffer.length < want) this.buffer = Buffer.allocUnsafe(want);
    this.filled = 0;
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.handle.read(this.buffer, got, want - got, pos + got);
      if (bytesRead === 0) throw new Error(`relay log ${this.file} ends before position ${pos + want}`);
      got += bytesRead;
    }
    this.start = pos;
    this.filled = want;
    return this.buffer.subarray(0, length);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Event headers are read through this window when bodies are not needed: a few KiB per read, whatever the file. */
const HEADER_WINDOW = 64 << 10;
/** The last event's checksum is computed over reads of at most this size. */
const CHECKSUM_CHUNK = 1 << 20;

/**
 * Calls `visit` for each whole event of a file from `from` while it returns nothing (false stops), reading only
 * headers. Returns where the walk stopped: `end`, the first byte that does not start a whole event before
 * `end`, or the event `visit` stopped at.
 */
async function walkEvents(window: FileWindow, from: number, end: number,
  visit: (pos: number, header: EventHeader) => Promise<boolean | void>): Promise<number> {
  let pos = from;
  while (pos + EVENT_HEADER_LENGTH <= end) {
    const header = decodeHeader(await window.bytes(pos, EVENT_HEADER_LENGTH, end));
    if (header.eventLength < EVENT_HEADER_LENGTH || pos + header.eventLength > end) return pos;
    if (await visit(pos, header) === false) return pos;
    pos += header.eventLength;
  }
  return pos;
}

/**
 * walkEvents over the file at `path` up to its current size, for readers outside the relay log (the CLI's
 * transaction counter); returns where the walk stopped.
 */
export async function walkFileEvents(path: string, from: number, visit: (pos: number, header: EventHeader) => boolean | void): Promise<number> {
  const handle = await open(path, 'r');
  const window = new FileWindow(handle, path, HEADER_WINDOW, true);
  try {
    return await walkEvents(window, from, (await handle.stat()).size, async (pos, header) => visit(pos, header));
  } finally {
    await window.close();
  }
}

/** Error 1594: an event of the relay log that does not decode, named by where it is. */
export class RelayLogReadError extends Error {
  readonly errno = 1594;

  constructor(cause: unknown, readonly file: string, readonly pos: number) {
    super(`Relay log read failure: could not parse relay log event entry at ${file}:${pos} (${
      cause instanceof BinlogChecksumError ? 'event checksum failure' : (cause as Error).message})`, { cause });
  }

  /**
   * The message with what to do: fetch the source's events again from the position applied last, which
   * changeReplicationSource does when given a position (it resets the relay log to start there).
   */
  advise(channel: string, applied: { sourceLogFile: string; sourceLogPos: number }): string {
    const name = JSON.stringify(channel);
    return `${this.message}. The relay log may be corrupt; to fetch it again from the source from the last ` +
      `applied position, run: stopReplica(${name}); changeReplicationSource(${name}, { sourceLogFile: ` +
      `${JSON.stringify(applied.sourceLogFile)}, sourceLogPos: ${applied.sourceLogPos} }); startReplica(${name}). ` +
      'If the same event fails again, the source\'s binary log is damaged there';
  }
}

/**
 * The length of the longest prefix of a relay log file that holds only whole events. A crash can leave the
 * last event short (length past the end) or with unwritten bytes (checksum mismatch); both are cut off so
 * the I/O stage fetches that event again. Reads headers and the last event, never the whole file at once.
 */
async function validLength(path: string): Promise<number> {
  const handle = await open(path, 'r');
  const window = new FileWindow(handle, path, HEADER_WINDOW, true);
  try {
    const size = (await handle.stat()).size;
    if (size < BINLOG_MAGIC.length || !(await window.bytes(0, BINLOG_MAGIC.length, size)).equals(BINLOG_MAGIC)) return 0;
    let checksummed = false;
    let lastStart = -1;
    let tornFormat = false;
    const end = await walkEvents(window, BINLOG_MAGIC.length, size, async (pos, header) => {
      if (header.typeCode === EventType.FORMAT_DESCRIPTION) {
        try {
          const fde = new BinlogDecoder().decode(await window.bytes(pos, header.eventLength, size));
          if (fde.event.type === 'format_description') checksummed = fde.event.checksumAlg === 1;
        } catch {
          // A Format_description that does not decode (torn, bad checksum) is where the whole events end.
          tornFormat = true;
          return false;
        }
      }
      lastStart = pos;
    });
    if (tornFormat) return end;
    if (checksummed && lastStart >= 0 && lastStart + EVENT_HEADER_LENGTH + 4 <= end &&
      !await checksumMatches(window, lastStart, end)) return lastStart;
    return end;
  } finally {
    await window.close();
  }
}

/** Whether the CRC32 in the last 4 bytes of the event at [start, end) matches the bytes before it. */
async function checksumMatches(window: FileWindow, start: number, end: number): Promise<boolean> {
  let crc = 0;
  for (let pos = start; pos < end - 4; pos += CHECKSUM_CHUNK) {
    crc = crc32(await window.bytes(pos, Math.min(CHECKSUM_CHUNK, end - 4 - pos), end), crc);
  }
  return crc === (await window.bytes(end - 4, 4, end)).readUInt32LE(0);
}

/**
 * Reads a relay log file from its head up to `until` (its end by default), decoding only the events that set
 * the format and the source position. Every file starts with a Rotate naming where its events come from, so
 * the result is the decoder state at `until` and the source position there. Reads headers, and the bodies of
 * those events only; stops where the file stops holding whole events.
 */
export async function scanRelayFile(log: RelayLog, file: string, until = Infinity):
  Promise<{ decoder: BinlogDecoder; source: SourcePosition | undefined }> {
  const decoder = new BinlogDecoder();
  let tracker: SourcePositionTracker | undefined;
  const size = log.size(file) ?? 0;
  if (size <= BINLOG_MAGIC.length) return { decoder, source: undefined };
  const window = new FileWindow(await open(log.path(file), 'r'), file, HEADER_WINDOW, true);
  try {
    await walkEvents(window, BINLOG_MAGIC.length, size, async (pos, header) => {
      if (pos >= until) return false;
      const positional = header.typeCode === EventType.ROTATE || header.typeCode === EventType.FORMAT_DESCRIPTION;
      const raw = positional ? Buffer.from(await window.bytes(pos, header.eventLength, size)) : undefined;
      let decoded: BinlogEvent | undefined;
      try {
        decoded = raw && decoder.decode(raw).event;
      } catch (err) {
        throw new RelayLogReadError(err, file, pos);
      }
      if (decoded?.type === 'rotate') tracker ??= new SourcePositionTracker({ file: decoded.nextFile, pos: 0 });
      tracker?.advance(header, decoded);
    });
  } finally {
    await window.close();
  }
  return { decoder, source: tracker?.position() };
}

const CHUNK = 256 << 10;
/** Appends gathered in the reused buffer: the I/O stage writes every 256 KiB; larger ones get a buffer of their own. */
const GATHER_MIN = 256 << 10;
const GATHER_MAX = 1 << 20;

/**
 * Follows the relay log from a position, across files, waiting for the writer at the end. Whatever lies
 * before the size the relay log knows for a file must be whole events (the writer's sizes count only those,
 * and open checks the last file); anything else there is reported as a RelayLogCorruptError, never waited on.
 */
export class RelayLogReader {
  private file: string;
  private pos: number;
  private window: FileWindow | undefined;
  /** The file's magic number has been read and is right. */
  private checked = false;

  constructor(private readonly log: RelayLog, from: RelayPosition) {
    this.file = from.file;
    this.pos = from.pos;
  }

  position(): RelayPosition {
    return { file: this.file, pos: this.pos };
  }

  /** The next whole event, or null once `signal` aborts. */
  async next(signal?: AbortSignal): Promise<RelayEvent | null> {
    for (;;) {
      if (signal?.aborted) return null;
      const event = await this.tryRead();
      if (event) return event;
      if (!this.advanceFile()) await this.log.waitForGrowth(signal);
    }
  }

  /** The next event if one is already written, without waiting; null at the end of what is written. */
  async tryNext(): Promise<RelayEvent | null> {
    for (;;) {
      const event = await this.tryRead();
      if (event) return event;
      if (!this.advanceFile()) return null;
    }
  }

  /**
   * The next event if it lies whole in what was last read from the file, without a promise or a read: the
   * SQL stage takes the events of one chunk this way. Undefined otherwise (also where `tryNext` would report
   * damage: it does so).
   */
  take(): RelayEvent | undefined {
    const window = this.window;
    const size = this.log.size(this.file);
    if (!window || !this.checked || size === undefined || this.pos + EVENT_HEADER_LENGTH > size) return undefined;
    const length = window.u32(this.pos + 9);
    if (length === undefined || length < EVENT_HEADER_LENGTH || this.pos + length > size) return undefined;
    const raw = window.held(this.pos, length);
    if (!raw) return undefined;
    const event = { raw, file: this.file, pos: this.pos, endPos: this.pos + length };
    this.pos += length;
    return event;
  }

  async close(): Promise<void> {
    const window = this.window;
    this.window = undefined;
    await window?.close();
  }

  private advanceFile(): boolean {
    const files = this.log.list();
    const at = files.indexOf(this.file);
    if (at < 0 || at + 1 >= files.length) return false;
    if (this.pos < (this.log.size(this.file) ?? 0)) return false;
    this.file = files[at + 1]!;
    this.pos = BINLOG_MAGIC.length;
    this.checked = false;
    void this.window?.close();
    this.window = undefined;
    return true;
  }

  private async tryRead(): Promise<RelayEvent | null> {
    const size = this.log.size(this.file);
    if (size === undefined) {
      // A position in the file the I/O stage will write next is a wait, anything else a lost file.
      const last = this.log.list().at(-1);
      if (last === undefined || this.file > last) return null;
      throw new Error(`relay log file ${this.file} is not in the relay log index`);
    }
    if (this.pos >= size) return null;
    if (!this.checked) {
      if (!(await this.bytes(0, BINLOG_MAGIC.length, size)).equals(BINLOG_MAGIC)) {
        throw new RelayLogCorruptError(this.file, 0, 'the file does not start with the binlog magic number');
      }
      this.checked = true;
    }
    if (this.pos + EVENT_HEADER_LENGTH > size) {
      throw new RelayLogCorruptError(this.file, this.pos,
        `${size - this.pos} bytes at the end of the file, fewer than an event header`);
    }
    const header = await this.bytes(this.pos, EVENT_HEADER_LENGTH, size);
    const length = header.readUInt32LE(9);
    if (length < EVENT_HEADER_LENGTH) throw new RelayLogCorruptError(this.file, this.pos, `event length ${length}`);
    if (this.pos + length > size) {
      throw new RelayLogCorruptError(this.file, this.pos,
        `event length ${length} runs past the end of the file at ${size} (a torn event)`);
    }
    const raw = await this.bytes(this.pos, length, size);
    const event = { raw, file: this.file, pos: this.pos, endPos: this.pos + length };
    this.pos += length;
    return event;
  }

  private async bytes(pos: number, length: number, size: number): Promise<Buffer> {
    this.window ??= new FileWindow(await open(this.log.path(this.file), 'r'), this.file, CHUNK);
    return this.window.bytes(pos, length, size);
  }
}
