// MariaDB GTID positions ('domain-server-seq,...': the last event group per replication domain), as
// @@gtid_slave_pos, @slave_connect_state, START SLAVE UNTIL master_gtid_pos and MASTER_GTID_WAIT take them.
// Pure: parsing (strict, with the servers' errnos), formatting, updating, and the "reached" test of UNTIL and
// MASTER_GTID_WAIT. Not @vlasky/zongji's MariadbGtidPosition: it has no per-domain access (UNTIL, the wait and
// the domain filters need one), throws errors without the servers' errnos, and its covers() refuses a GTID of
// another server id, where the servers compare sequence numbers within a domain whatever the server id.
import { ReplicationError } from '../errors.js';

// Gtid_list flags (the top 4 bits of its count): the source reached START SLAVE UNTIL master_gtid_pos; the
// replica's I/O stage left out the groups it lists (FLAG_UNTIL_REACHED, FLAG_IGN_GTIDS).
export const GTID_LIST_UNTIL_REACHED = 1;
export const GTID_LIST_IGN_GTIDS = 2;

export interface MariadbGtid {
  domainId: number;
  serverId: number;
  seqNo: bigint;
}

/** One GTID per domain, in domain order when formatted. Immutable: updates return a new position. */
export class MariadbGtidPosition {
  private constructor(private readonly domains: ReadonlyMap<number, MariadbGtid>) {}

  static readonly empty = new MariadbGtidPosition(new Map());

  /**
   * Parses a GTID list as the servers do: '' is the empty position; entries are separated by ',' with spaces
   * allowed around them; each is three decimal numbers (domain and server id 32-bit, seq_no 64-bit). Anything
   * else fails with 1941 (ER_INCORRECT_GTID_STATE), two entries of one domain with 1943
   * (ER_DUPLICATE_GTID_DOMAIN), as SET GLOBAL gtid_slave_pos and START SLAVE UNTIL master_gtid_pos do.
   */
  static parse(text: string): MariadbGtidPosition {
    if (typeof text !== 'string') {
      throw new ReplicationError('ER_INCORRECT_GTID_STATE', `Could not parse GTID list: a GTID position is a string, got ${typeof text}`);
    }
    const domains = new Map<number, MariadbGtid>();
    if (text.trim() === '') return MariadbGtidPosition.empty;
    for (const entry of text.split(',')) {
      const m = /^\s*(\d+)-(\d+)-(\d+)\s*$/.exec(entry);
      const gtid = m && { domainId: Number(m[1]), serverId: Number(m[2]), seqNo: BigInt(m[3]!) };
      if (!gtid || gtid.domainId > 0xffffffff || gtid.serverId > 0xffffffff || gtid.seqNo > 0xffffffffffffffffn) {
        throw new ReplicationError('ER_INCORRECT_GTID_STATE', `Could not parse GTID list ${JSON.stringify(text)}: ` +
          `'${entry.trim()}' is not domain-server-sequence (e.g. '0-1-100'; domain and server ids up to 4294967295)`);
      }
      const other = domains.get(gtid.domainId);
      if (other) {
        throw new ReplicationError('ER_DUPLICATE_GTID_DOMAIN', `GTID ${formatGtid(gtid)} and ${formatGtid(other)} ` +
          `conflict (duplicate domain id ${gtid.domainId})`);
      }
      domains.set(gtid.domainId, gtid);
    }
    return new MariadbGtidPosition(domains);
  }

  /** The position a Gtid_list event states: per domain, its last entry. */
  static fromList(gtids: readonly MariadbGtid[]): MariadbGtidPosition {
    return MariadbGtidPosition.empty.withAll(gtids);
  }

  get size(): number {
    return this.domains.size;
  }

  get(domainId: number): MariadbGtid | undefined {
    return this.domains.get(domainId);
  }

  list(): MariadbGtid[] {
    return [...this.domains.values()].sort((a, b) => a.domainId - b.domainId);
  }

  /** This position after the event group `gtid`: the last group of its domain, as gtid_slave_pos records it. */
  with(gtid: MariadbGtid): MariadbGtidPosition {
    return this.withAll([gtid]);
  }

  withAll(gtids: readonly MariadbGtid[]): MariadbGtidPosition {
    if (gtids.length === 0) return this;
    const next = new Map(this.domains);
    for (const { domainId, serverId, seqNo } of gtids) next.set(domainId, { domainId, serverId, seqNo });
    return new MariadbGtidPosition(next);
  }

  /**
   * Whether this position has reached `target` in every domain the target lists, comparing sequence numbers
   * only (MASTER_GTID_WAIT's rule): a domain this position lacks has not been reached.
   */
  reached(target: MariadbGtidPosition): boolean {
    return target.list().every((t) => this.reachedIn(t));
  }

  /** Whether the group `gtid` or a later one of its domain is in this position. */
  reachedIn(gtid: MariadbGtid): boolean {
    const at = this.domains.get(gtid.domainId);
    return at !== undefined && at.seqNo >= gtid.seqNo;
  }

  toString(): string {
    return this.list().map(formatGtid).join(',');
  }
}

export function formatGtid(gtid: MariadbGtid): string {
  return `${gtid.domainId}-${gtid.serverId}-${gtid.seqNo}`;
}
