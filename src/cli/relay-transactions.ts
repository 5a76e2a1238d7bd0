// Transactions behind, for the progress bars: the transactions the relay log holds past the applied position.
// Each transaction of a source that writes GTIDs (MariaDB, MySQL 5.7+) starts with a GTID event, so they are
// counted by reading event headers only, as the relay log grows; a source without GTID events shows none.
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BINLOG_MAGIC, EVENT_HEADER_LENGTH, EventType } from '../binlog/events.js';
import { Channel } from '../channel.js';

const GROUP_STARTS: ReadonlySet<number> = new Set([EventType.MARIA_GTID, EventType.GTID, EventType.ANONYMOUS_GTID, EventType.GTID_TAGGED]);
const CHUNK = 1 << 20;
/** Bytes of relay log read per scan at most, so that a large backlog is counted over several ticks. */
const SCAN_BUDGET = 64 << 20;

export interface RelayPosition {
  file: string;
  pos: number;
}

/** Relay log file names end in a sequence number of fixed width, so names order as positions do. */
function before(a: RelayPosition, b: RelayPosition): boolean {
  return a.file < b.file || (a.file === b.file && a.pos < b.pos);
}

export class RelayTransactionCounter {
  /** Where the next scan reads: the end of the last whole event seen. */
  private cursor: RelayPosition | undefined;
  /** Starts of transactions seen and not yet applied, in relay log order. */
  private readonly starts: RelayPosition[] = [];
  /** Transactions seen since the counter began and applied. */
  private dropped = 0;
  /** false once the relay log has shown events but no GTID: the count would mean nothing. */
  private gtids: boolean | undefined;

  constructor(private readonly dataDir: string, private readonly channel: string) {}

  /** Reads what the relay log gained since the last scan, from `applied` the first time. */
  async scan(applied: RelayPosition): Promise<void> {
    this.cursor ??= applied;
    let index: string;
    try {
      index = await readFile(join(this.dataDir, `${Channel.relayLogBaseName(this.channel)}.index`), 'utf8');
    } catch {
      return;
    }
    const files = index.split('\n').map((l) => l.trim().replace(/^\.\//, '')).filter(Boolean);
    let budget = SCAN_BUDGET;
    for (const file of files) {
      if (file < this.cursor.file || budget <= 0) continue;
      const from: number = file === this.cursor.file ? this.cursor.pos : BINLOG_MAGIC.length;
      const end: number | undefined = await this.scanFile(file, from, budget).catch(() => undefined);
      if (end === undefined) continue;
      budget -= end - from;
      this.cursor = { file, pos: end };
    }
  }

  /** Reads the headers of the whole events of `file` from `from`; returns where they end. */
  private async scanFile(file: string, from: number, budget: number): Promise<number> {
    const handle = await open(join(this.dataDir, file), 'r');
    try {
      const size = (await handle.stat()).size;
      const buffer = Buffer.alloc(CHUNK);
      let start = 0;
      let filled = 0;
      let pos = from;
      while (pos + EVENT_HEADER_LENGTH <= size && pos - from < budget) {
        if (pos < start || pos + EVENT_HEADER_LENGTH > start + filled) {
          start = pos;
          filled = (await handle.read(buffer, 0, CHUNK, pos)).bytesRead;
          if (filled < EVENT_HEADER_LENGTH) break;
        }
        const at = pos - start;
        const length = buffer.readUInt32LE(at + 9);
        if (length < EVENT_HEADER_LENGTH || pos + length > size) break;
        const type = buffer[at + 4]!;
        if (GROUP_STARTS.has(type)) {
          this.starts.push({ file, pos });
          this.gtids = true;
        } else if (type !== EventType.FORMAT_DESCRIPTION && type !== EventType.ROTATE && type !== EventType.PREVIOUS_GTIDS) {
          this.gtids ??= false;
        }
        pos += length;
      }
      return pos;
    } finally {
      await handle.close();
    }
  }

  /** Transactions received and not applied; undefined when the source writes no GTIDs. */
  behind(applied: RelayPosition): number | undefined {
    let drop = 0;
    while (drop < this.starts.length && before(this.starts[drop]!, applied)) drop++;
    this.starts.splice(0, drop);
    this.dropped += drop;
    return this.gtids === false ? undefined : this.starts.length;
  }

  /** Transactions applied since the counter began. */
  get applied(): number {
    return this.dropped;
  }
}
