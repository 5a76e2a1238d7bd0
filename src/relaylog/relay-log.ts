// The relay log of one channel: `<baseName>.NNNNNN` files in binlog format plus `<baseName>.index`.
// One writer (the I/O stage) and in-process readers (the SQL stage). Readers only ever see whole events:
// they read up to the size the writer has finished writing, which this object tracks in memory.
import { EventEmitter } from 'node:events';
import { open, readFile, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BINLOG_MAGIC, EVENT_HEADER_LENGTH, EventType, type BinlogEvent } from '../binlog/events.js';
import { BinlogChecksumError, BinlogDecoder, crc32, decodeHeader } from '../binlog/decoder.js';
import { SourcePositionTracker, type SourcePosition } from '../binlog/position.js';
import { DATA_FILE_MODE, writeFileAtomic } from '../info/files.js';

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

export class RelayLog extends EventEmitter {
  private files: string[] = [];
  private sizes = new Map<string, number>();
  private handle: FileHandle | undefined;

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
    if (index && log.files.join() !== parseIndexNames(index).join()) await log.writeIndex();
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

  /** Starts the next file: magic, then `header` events (the replica's own Format_description etc.). */
  async rotate(header: Buffer[]): Promise<string> {
    await this.closeHandle();
    const last = this.files.at(-1);
    const seq = last === undefined ? 1 : Number(last.slice(last.lastIndexOf('.') + 1)) + 1;
    const file = `${this.options.baseName}.${String(seq).padStart(6, '0')}`;
    const handle = await open(this.path(file), 'w', DATA_FILE_MODE);
    const data = Buffer.concat([BINLOG_MAGIC, ...header]);
    await handle.write(data, 0, data.length, 0);
    await handle.sync();
    this.handle = handle;
    this.files.push(file);
    this.sizes.set(file, data.length);
    await this.writeIndex();
    this.emit('grow');
    return file;
  }

  /** Appends whole events to the current file. Durable only after `sync()`. */
  async append(events: Buffer[]): Promise<RelayPosition> {
    const file = this.files.at(-1);
    if (file === undefined || !this.handle) throw new Error('relay log has no open file: rotate() first');
    const data = events.length === 1 ? events[0]! : Buffer.concat(events);
    const pos = this.sizes.get(file)!;
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.handle.write(data, written, data.length - written, pos + written);
      written += bytesWritten;
    }
    this.sizes.set(file, pos + data.length);
    this.emit('grow');
    return { file, pos: pos + data.length };
  }

  async sync(): Promise<void> {
    await this.handle?.sync();
  }

  /** Resolves at the next append or rotation, or when `signal` aborts. */
  waitForGrowth(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.off('grow', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.on('grow', done);
      signal?.addEventListener('abort', done);
    });
  }

  /** Deletes the files before `file` (relay_log_purge: the SQL stage has finished them). */
  async purgeBefore(file: string): Promise<void> {
    const at = this.files.indexOf(file);
    if (at <= 0) return;
    const gone = this.files.splice(0, at);
    await this.writeIndex();
    for (const name of gone) {
      this.sizes.delete(name);
      await unlink(this.path(name)).catch(ignoreMissing);
    }
  }

  /** Deletes every file and the index (RESET SLAVE, CHANGE MASTER to a new position). */
  async reset(): Promise<void> {
    await this.closeHandle();
    const gone = this.files;
    this.files = [];
    this.sizes.clear();
    for (const name of gone) await unlink(this.path(name)).catch(ignoreMissing);
    await unlink(this.indexPath).catch(ignoreMissing);
  }

  async close(): Promise<void> {
    await this.closeHandle();
  }

  reader(from: RelayPosition): RelayLogReader {
    return new RelayLogReader(this, from);
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle) {
      await handle.sync();
      await handle.close();
    }
  }

  private async writeIndex(): Promise<void> {
    await writeFileAtomic(this.indexPath, this.files.map((name) => `./${name}\n`).join(''));
  }
}

function parseIndexNames(index: string): string[] {
  return index.split('\n').map((line) => line.trim().replace(/^\.\//, '')).filter(Boolean);
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

/**
 * The length of the longest prefix of a relay log file that holds only whole events. A crash can leave the
 * last event short (length past the end) or with unwritten bytes (checksum mismatch); both are cut off so
 * the I/O stage fetches that event again.
 */
async function validLength(path: string): Promise<number> {
  const data = await readFile(path);
  if (data.length < BINLOG_MAGIC.length || !data.subarray(0, 4).equals(BINLOG_MAGIC)) return 0;
  let pos = BINLOG_MAGIC.length;
  let checksummed = false;
  let lastStart = -1;
  while (pos + EVENT_HEADER_LENGTH <= data.length) {
    const header = decodeHeader(data, pos);
    if (header.eventLength < EVENT_HEADER_LENGTH || pos + header.eventLength > data.length) break;
    if (header.typeCode === EventType.FORMAT_DESCRIPTION) {
      try {
        const fde = new BinlogDecoder().decode(data.subarray(pos, pos + header.eventLength));
        if (fde.event.type === 'format_description') checksummed = fde.event.checksumAlg === 1;
      } catch {
        // A Format_description that does not decode (torn, bad checksum) is where the whole events end.
        return pos;
      }
    }
    lastStart = pos;
    pos += header.eventLength;
  }
  if (checksummed && lastStart >= 0 && lastStart + 4 < pos) {
    const body = data.subarray(lastStart, pos - 4);
    if (crc32(body) !== data.readUInt32LE(pos - 4)) return lastStart;
  }
  return pos;
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
 * Reads a relay log file from its head up to `until` (its end by default), decoding only the events that set
 * the format and the source position. Every file starts with a Rotate naming where its events come from, so
 * the result is the decoder state at `until` and the source position there.
 */
export async function scanRelayFile(log: RelayLog, file: string, until = Infinity):
  Promise<{ decoder: BinlogDecoder; source: SourcePosition | undefined }> {
  const reader = log.reader({ file, pos: BINLOG_MAGIC.length });
  const decoder = new BinlogDecoder();
  let tracker: SourcePositionTracker | undefined;
  try {
    for (let event = await reader.tryNext(); event && event.file === file && event.pos < until;
      event = await reader.tryNext()) {
      const header = decodeHeader(event.raw);
      const positional = header.typeCode === EventType.ROTATE || header.typeCode === EventType.FORMAT_DESCRIPTION;
      let decoded: BinlogEvent | undefined;
      try {
        decoded = positional ? decoder.decode(event.raw).event : undefined;
      } catch (err) {
        throw new RelayLogReadError(err, event.file, event.pos);
      }
      if (decoded?.type === 'rotate') tracker ??= new SourcePositionTracker({ file: decoded.nextFile, pos: 0 });
      tracker?.advance(header, decoded);
    }
  } finally {
    await reader.close();
  }
  return { decoder, source: tracker?.position() };
}

const CHUNK = 1 << 20;

/** Follows the relay log from a position, across files, waiting for the writer at the end. */
export class RelayLogReader {
  private file: string;
  private pos: number;
  private handle: FileHandle | undefined;
  private buffer = Buffer.alloc(0);
  private bufferStart = 0;

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

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private advanceFile(): boolean {
    const files = this.log.list();
    const at = files.indexOf(this.file);
    if (at < 0 || at + 1 >= files.length) return false;
    if (this.pos < (this.log.size(this.file) ?? 0)) return false;
    this.file = files[at + 1]!;
    this.pos = BINLOG_MAGIC.length;
    this.buffer = Buffer.alloc(0);
    this.bufferStart = this.pos;
    void this.handle?.close();
    this.handle = undefined;
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
    if (this.pos + EVENT_HEADER_LENGTH > size) return null;
    const header = await this.bytes(this.pos, EVENT_HEADER_LENGTH, size);
    const length = header.readUInt32LE(9);
    if (length < EVENT_HEADER_LENGTH) {
      throw new Error(`relay log ${this.file} is corrupt at position ${this.pos}: event length ${length}`);
    }
    if (this.pos + length > size) return null;
    const raw = await this.bytes(this.pos, length, size);
    const event = { raw, file: this.file, pos: this.pos, endPos: this.pos + length };
    this.pos += length;
    return event;
  }

  private async bytes(pos: number, length: number, size: number): Promise<Buffer> {
    const offset = pos - this.bufferStart;
    if (offset >= 0 && offset + length <= this.buffer.length) return this.buffer.subarray(offset, offset + length);
    this.handle ??= await open(this.log.path(this.file), 'r');
    const want = Math.min(Math.max(length, CHUNK), size - pos);
    const buffer = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.handle.read(buffer, got, want - got, pos + got);
      if (bytesRead === 0) throw new Error(`relay log ${this.file} ends before position ${pos + want}`);
      got += bytesRead;
    }
    this.buffer = buffer;
    this.bufferStart = pos;
    return buffer.subarray(0, length);
  }
}
