// MySQL GTID sets (MASTER_AUTO_POSITION): which transactions, per source uuid and (MySQL 8.3+) tag, a server has.
// The text form is MySQL's: parsed as MySQL's Gtid_set parses @@gtid_executed, SQL_BEFORE_GTIDS and the like,
// printed exactly as SELECT @@gtid_executed and SHOW REPLICA STATUS print it. The binary form is the one
// COM_BINLOG_DUMP_GTID carries and Previous_GTIDs holds (src/binlog/control.ts reads it).
//
// Not @vlasky/zongji's GtidSet: it has no union, subtraction, subset or equality, accepts gno 2^63-1 (whose
// encoded exclusive end 2^63 MySQL reads as a negative number), prints ',' where MySQL prints ',\n', and its
// errors carry no errno.
import { ReplicationError } from '../errors.js';

/** One transaction's id: uuid:gno, or uuid:tag:gno for a tagged GTID of MySQL 8.3+. */
export interface MysqlGtid {
  uuid: string;
  /** Lowercase; absent (or '') for an untagged GTID. */
  tag?: string | undefined;
  gno: bigint;
}

/** One GTID as MySQL prints it: uuid:gno, or uuid:tag:gno. */
export function formatMysqlGtid(gtid: MysqlGtid): string {
  return `${gtid.uuid}${gtid.tag ? `:${gtid.tag}` : ''}:${gtid.gno}`;
}

/** The shape the decoder gives Previous_GTIDs: intervals [start, end) with `end` exclusive. */
export interface GtidSid {
  uuid: string;
  tag?: string | undefined;
  intervals: readonly (readonly [bigint, bigint])[];
}

/**
 * The largest gno MySQL accepts (GNO_END - 1): its intervals are stored with an exclusive end, which must still
 * fit a signed 64-bit integer.
 */
export const MAX_GNO = (1n << 63n) - 2n;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// MySQL's tags: a letter or underscore, then letters, digits and underscores, 32 at most; case-insensitive,
// kept lowercase.
const TAG = /^[a-z_][a-z0-9_]{0,31}$/i;
const GNO = /^[1-9][0-9]*$/;
// The characters MySQL's parser skips around the parts of a set (my_isspace).
const SPACE = /^[ \t\n\r\v\f]*$/;

/** A half-open interval [start, end) of gnos. */
type Interval = [bigint, bigint];

function sidKey(uuid: string, tag: string): string {
  return `${uuid}:${tag}`;
}

export class MysqlGtidSet {
  /** Per (uuid, tag) key: sorted, disjoint, non-adjacent intervals. Keys with no intervals are removed. */
  private readonly sids = new Map<string, { uuid: string; tag: string; intervals: Interval[] }>();

  /**
   * Parses a GTID set as MySQL does (uuid:interval[:interval]... joined by commas; a tag item names the source
   * of the intervals after it; whitespace around parts and empty items between commas are allowed). Anything
   * else throws ER_MALFORMED_GTID_SET_SPECIFICATION (1772).
   */
  static parse(text: string): MysqlGtidSet {
    const set = new MysqlGtidSet();
    for (const item of text.split(',')) {
      if (SPACE.test(item)) continue;
      const parts = item.split(':').map((p) => p.trim());
      const uuid = parts[0]!;
      if (!UUID.test(uuid)) malformed(text, `'${uuid}' is not a uuid (hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh)`);
      let tag = '';
      let intervalsOfTag = 0;
      if (parts.length < 2) malformed(text, `${uuid} has no interval`);
      for (const part of parts.slice(1)) {
        if (TAG.test(part)) {
          if (tag !== '' && intervalsOfTag === 0) malformed(text, `tag '${tag}' has no interval`);
          tag = part.toLowerCase();
          intervalsOfTag = 0;
          continue;
        }
        const bounds = part.split('-').map((b) => b.trim());
        if (bounds.length > 2) malformed(text, `'${part}' is not an interval (n or n-m)`);
        const start = gno(text, bounds[0]!);
        const end = bounds.length === 2 ? gno(text, bounds[1]!) : start;
        if (end < start) malformed(text, `interval ${part} ends before it starts`);
        set.addInterval(uuid.toLowerCase(), tag, start, end + 1n);
        intervalsOfTag++;
      }
      if (intervalsOfTag === 0) malformed(text, tag ? `tag '${tag}' has no interval` : `${uuid} has no interval`);
    }
    return set;
  }

  /** The set a Previous_GTIDs event (or a COM_BINLOG_DUMP_GTID request) holds, as the decoder presents it. */
  static fromSids(sids: readonly GtidSid[]): MysqlGtidSet {
    const set = new MysqlGtidSet();
    for (const sid of sids) {
      for (const [start, end] of sid.intervals) {
        if (start < 1n || end <= start || end > MAX_GNO + 1n) {
          throw new RangeError(`GTID interval [${start}, ${end}) of ${sid.uuid} is not a valid interval`);
        }
        set.addInterval(sid.uuid.toLowerCase(), sid.tag ?? '', start, end);
      }
    }
    return set;
  }

  private addInterval(uuid: string, tag: string, start: bigint, end: bigint): void {
    const key = sidKey(uuid, tag);
    const sid = this.sids.get(key);
    if (!sid) {
      this.sids.set(key, { uuid, tag, intervals: [[start, end]] });
      return;
    }
    const list = sid.intervals;
    const last = list[list.length - 1]!;
    // The common case, a source's next transaction, extends the last interval.
    if (start >= last[0] && start <= last[1]) {
      if (end > last[1]) last[1] = end;
      return;
    }
    if (start > last[1]) {
      list.push([start, end]);
      return;
    }
    sid.intervals = merged([...list, [start, end]]);
  }

  /** Adds one transaction (in place); returns this set. */
  add(gtid: MysqlGtid): this {
    if (gtid.gno < 1n || gtid.gno > MAX_GNO) throw new RangeError(`gno ${gtid.gno} is out of range 1..${MAX_GNO}`);
    if (!UUID.test(gtid.uuid) || (gtid.tag && !TAG.test(gtid.tag))) {
      throw new RangeError(`${gtid.uuid}:${gtid.tag ? `${gtid.tag}:` : ''}${gtid.gno} is not a GTID`);
    }
    this.addInterval(gtid.uuid.toLowerCase(), gtid.tag?.toLowerCase() ?? '', gtid.gno, gtid.gno + 1n);
    return this;
  }

  contains(gtid: MysqlGtid): boolean {
    const sid = this.sids.get(sidKey(gtid.uuid.toLowerCase(), gtid.tag?.toLowerCase() ?? ''));
    return sid !== undefined && sid.intervals.some(([start, end]) => gtid.gno >= start && gtid.gno < end);
  }

  /** Whether every GTID of `other` is in this set. */
  containsSet(other: MysqlGtidSet): boolean {
    for (const [key, sid] of other.sids) {
      const mine = this.sids.get(key)?.intervals ?? [];
      // Intervals are merged, so each of `other`'s must lie inside a single one of ours.
      if (!sid.intervals.every(([s, e]) => mine.some(([ms, me]) => ms <= s && e <= me))) return false;
    }
    return true;
  }

  /** Whether the two sets have a GTID in common. */
  intersects(other: MysqlGtidSet): boolean {
    for (const [key, sid] of other.sids) {
      const mine = this.sids.get(key)?.intervals ?? [];
      if (sid.intervals.some(([s, e]) => mine.some(([ms, me]) => ms < e && s < me))) return true;
    }
    return false;
  }

  equals(other: MysqlGtidSet): boolean {
    return this.containsSet(other) && other.containsSet(this);
  }

  isEmpty(): boolean {
    return this.sids.size === 0;
  }

  union(other: MysqlGtidSet): MysqlGtidSet {
    const result = this.clone();
    for (const sid of other.sids.values()) {
      for (const [start, end] of sid.intervals) result.addInterval(sid.uuid, sid.tag, start, end);
    }
    return result;
  }

  /** The GTIDs of this set that are not in `other`. */
  subtract(other: MysqlGtidSet): MysqlGtidSet {
    const result = new MysqlGtidSet();
    for (const [key, sid] of this.sids) {
      const cuts = other.sids.get(key)?.intervals ?? [];
      const kept: Interval[] = [];
      for (const [start, end] of sid.intervals) {
        let from = start;
        for (const [cs, ce] of cuts) {
          if (ce <= from || cs >= end) continue;
          if (cs > from) kept.push([from, cs]);
          from = ce;
          if (from >= end) break;
        }
        if (from < end) kept.push([from, end]);
      }
      if (kept.length > 0) result.sids.set(key, { uuid: sid.uuid, tag: sid.tag, intervals: kept });
    }
    return result;
  }

  /** The GTIDs of one source uuid, whatever their tag. */
  ofUuid(uuid: string): MysqlGtidSet {
    return this.filtered((sidUuid) => sidUuid === uuid.toLowerCase());
  }

  clone(): MysqlGtidSet {
    return this.filtered(() => true);
  }

  private filtered(keep: (uuid: string) => boolean): MysqlGtidSet {
    const result = new MysqlGtidSet();
    for (const [key, sid] of this.sids) {
      if (keep(sid.uuid)) {
        result.sids.set(key, { uuid: sid.uuid, tag: sid.tag, intervals: sid.intervals.map(([s, e]) => [s, e]) });
      }
    }
    return result;
  }

  /** Sources in MySQL's order: by uuid, the untagged one first, then tags in byte order. */
  private sorted(): { uuid: string; tag: string; intervals: Interval[] }[] {
    return [...this.sids.values()].sort((a, b) =>
      a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
  }

  /**
   * The text MySQL prints: lowercase uuids in order, each once, its untagged intervals then each tag with its
   * intervals (uuid:1-5:tag_a:1), uuids separated by ",\n"; '' for the empty set.
   */
  toString(): string {
    const blocks: string[] = [];
    let last = '';
    for (const { uuid, tag, intervals } of this.sorted()) {
      const text = intervals.map(([s, e]) => (e - 1n === s ? `${s}` : `${s}-${e - 1n}`)).join(':');
      const part = tag ? `${tag}:${text}` : text;
      if (uuid === last) blocks[blocks.length - 1] += `:${part}`;
      else blocks.push(`${uuid}:${part}`);
      last = uuid;
    }
    return blocks.join(',\n');
  }

  /**
   * The binary form (Gtid_set::encode): a u64 count of sources, then per source its 16 uuid bytes, a u64 count
   * of intervals and each interval as two signed 64-bit numbers, start and exclusive end. With a tag anywhere
   * (MySQL 8.3+) the tagged format: the first u64 holds the format 1 in its lowest and highest byte around a
   * 6-byte count, and each uuid is followed by its tag as a serialization-library string (length << 1 in one
   * byte, then the characters; 0 for none). Servers before 8.3 do not know the tagged format.
   */
  encode(): Buffer {
    const sids = this.sorted();
    const tagged = sids.some((s) => s.tag !== '');
    const parts: Buffer[] = [];
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(tagged ? (1n << 56n) | (BigInt(sids.length) << 8n) | 1n : BigInt(sids.length));
    parts.push(head);
    for (const { uuid, tag, intervals } of sids) {
      parts.push(Buffer.from(uuid.replace(/-/g, ''), 'hex'));
      if (tagged) parts.push(Buffer.from([tag.length << 1]), Buffer.from(tag, 'ascii'));
      const body = Buffer.alloc(8 + intervals.length * 16);
      body.writeBigUInt64LE(BigInt(intervals.length), 0);
      intervals.forEach(([s, e], i) => {
        body.writeBigInt64LE(s, 8 + i * 16);
        body.writeBigInt64LE(e, 16 + i * 16);
      });
      parts.push(body);
    }
    return Buffer.concat(parts);
  }
}

function merged(list: Interval[]): Interval[] {
  list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Interval[] = [];
  for (const [s, e] of list) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) {
      if (e > last[1]) last[1] = e;
    } else {
      out.push([s, e]);
    }
  }
  return out;
}

function gno(text: string, digits: string): bigint {
  if (!GNO.test(digits)) {
    malformed(text, digits === '' ? 'an interval is empty'
      : `'${digits}' is not a transaction number (decimal, from 1, without leading zeros)`);
  }
  const n = BigInt(digits);
  if (n > MAX_GNO) malformed(text, `${digits} is larger than the largest transaction number ${MAX_GNO}`);
  return n;
}

function malformed(text: string, why: string): never {
  throw new ReplicationError('ER_MALFORMED_GTID_SET_SPECIFICATION',
    `Malformed GTID set specification '${text}': ${why}; a GTID set is uuid:interval[:interval]... ` +
    `(MySQL 8.3+: uuid:tag:interval...), the uuids separated by commas, e.g. ` +
    `'3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11,2c256447-3f0d-431b-9a25-bddf1f1f6ef6:etl:1-3'`);
}
