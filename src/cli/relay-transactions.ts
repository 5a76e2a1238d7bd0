// Transactions behind, for the progress bars: the transactions the relay log holds past the applied position.
// Each transaction of a source that writes GTIDs (MariaDB, MySQL 5.7+) starts with a GTID event, so they are
// counted by reading event headers only, as the relay log grows; a source without GTID events shows none.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BINLOG_MAGIC, EventType } from '../binlog/events.js';
import { Channel } from '../channel.js';
import { parseIndexNames, walkFileEvents, type RelayPosition } from '../relaylog/relay-log.js';

const GROUP_STARTS: ReadonlySet<number> = new Set([EventType.MARIA_GTID, EventType.GTID, EventType.ANONYMOUS_GTID, EventType.GTID_TAGGED]);
/** Bytes of relay log read per scan at most, so that a large backlog is counted over several ticks. */
const SCAN_BUDGET = 64 << 20;

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
    const files = parseIndexNames(index);
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
  private scanFile(file: string, from: number, budget: number): Promise<number> {
    return walkFileEvents(join(this.dataDir, file), from, (pos, header) => {
      if (pos - from >= budget) return false;
      if (GROUP_STARTS.has(header.typeCode)) {
        this.starts.push({ file, pos });
        this.gtids = true;
      } else if (header.typeCode !== EventType.FORMAT_DESCRIPTION && header.typeCode !== EventType.ROTATE &&
        header.typeCode !== EventType.PREVIOUS_GTIDS) {
        this.gtids ??= false;
      }
      return undefined;
    });
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
