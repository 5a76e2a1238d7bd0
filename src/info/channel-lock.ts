// The named lock (GET_LOCK) an engine holds on the target while a channel's SQL stage runs, so that no two
// engines apply the same channel of the same serverId into one target: both would write the same position row.
// The lock lives on the applier's connection and dies with it; the applier tells this object of every new
// connection, and the lock is taken again there before anything is applied.
import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { quoteString } from '../apply/sql-text.js';
import { ReplicationError } from '../errors.js';
import { lowerConnectionName } from './filename-charset.js';

/** The servers' limit on lock names (characters; they are ASCII here). */
const MAX_LOCK_NAME = 64;
const PREFIX = 'tributary:';

/**
 * The lock name of a channel: its position row's key (serverId, channel) and the position table, since
 * engines with different position tables share nothing. Readable when it fits, a hash when it does not.
 */
export function channelLockName(serverId: number, positionTable: string, channel: string): string {
  const name = `${PREFIX}${serverId}:${positionTable}:${lowerConnectionName(channel)}`;
  if (name.length <= MAX_LOCK_NAME && /^[\x20-\x7e]*$/.test(name)) return name;
  return PREFIX + createHash('sha256').update(name).digest('hex').slice(0, MAX_LOCK_NAME - PREFIX.length);
}

/** How long a reconnect waits for the server to end the connection it replaces, which held the lock. */
const STALE_HOLDER_WAIT_SECONDS = 10;
/**
 * How long another connection's lock is waited for before refusing: the connection of an engine killed a moment
 * ago (kill -9, then a restart) holds it until the server has seen it close, which it does as soon as the
 * connection's thread next reads from it.
 */
const DEAD_HOLDER_WAIT_SECONDS = 5;

interface Holder {
  conn: Connection;
  /** The holder's connection id and client address, as the server knows them. */
  id: number;
  host: string;
}

export class ChannelLock {
  /** The SQL stage runs (or starts): the lock must be held on the applier's connection. */
  private wanted = false;
  private holder: Holder | undefined;

  constructor(readonly name: string, private readonly describe: string) {}

  private get literal(): string {
    return quoteString(this.name);
  }

  /** From now on the applier's connection must hold the lock: taken by the next `connected`. */
  want(): void {
    this.wanted = true;
  }

  /**
   * The applier (re)opened `conn`: takes the lock there if it is wanted and not held on it. Refuses with
   * ER_SLAVE_THREAD, naming the holder, when another connection holds it.
   */
  async connected(conn: Connection): Promise<void> {
    if (!this.wanted || this.holder?.conn === conn) return;
    const previous = this.holder;
    this.holder = undefined;
    // The holder may let go between the queries: then try again.
    let waited = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.take(conn, 0)) return;
      const [[used]] = await conn.query(`SELECT IS_USED_LOCK(${this.literal}) AS id`) as [{ id: unknown }[], unknown];
      if (used!.id === null) continue;
      const id = Number(used!.id);
      const client = await this.client(conn, id);
      if (previous && id === previous.id && (client === undefined || client.host === previous.host)) {
        // The connection this one replaces, which the server has not ended yet (or never learnt was lost); gone
        // from the process list while it ends. A connection of another engine after a target restart may have
        // its id, but not its client address.
        await conn.query(`KILL CONNECTION ${id}`).catch(() => undefined);
        if (await this.take(conn, STALE_HOLDER_WAIT_SECONDS)) return;
        continue;
      }
      if (!waited) {
        waited = true;
        if (await this.take(conn, DEAD_HOLDER_WAIT_SECONDS)) return;
        continue;
      }
      const from = client ? ` from ${client.host} (${client.user})`
        : ' (its host and user show only to a user with the PROCESS privilege)';
      throw new ReplicationError('ER_SLAVE_THREAD', `${this.describe} runs in another engine on this target: the lock ` +
        `'${this.name}' is held by connection ${id}${from}. Two engines with the same serverId must not run the same ` +
        'channel into one target: stop it there (or give one of them another serverId), then try again here');
    }
    throw new ReplicationError('ER_SLAVE_THREAD', `${this.describe}: could not take the lock '${this.name}' on the target`);
  }

  /**
   * The SQL stage stopped: the lock goes. When its connection is lost, the target may still hold it there (a
   * frozen network, a stop that dropped the connection): the holder stays known, so that the next `connected`
   * ends that connection as the one it replaces.
   */
  async release(): Promise<void> {
    this.wanted = false;
    const holder = this.holder;
    this.holder = undefined;
    await holder?.conn.query(`DO RELEASE_LOCK(${this.literal})`).catch(() => {
      this.holder ??= holder;
    });
  }

  private async take(conn: Connection, waitSeconds: number): Promise<boolean> {
    const [[taken]] = await conn.query(`SELECT GET_LOCK(${this.literal}, ${waitSeconds}) AS l`) as [{ l: unknown }[], unknown];
    if (Number(taken!.l) !== 1) return false;
    const me = await this.client(conn, conn.threadId);
    this.holder = { conn, id: conn.threadId, host: me?.host ?? '' };
    return true;
  }

  /** A connection's client address and user, if the server shows them to us. */
  private async client(conn: Connection, id: number): Promise<{ host: string; user: string } | undefined> {
    const [[row]] = await conn.query(`SELECT HOST AS host, USER AS user FROM information_schema.PROCESSLIST WHERE ID = ${id}`) as
      [{ host: unknown; user: unknown }[], unknown];
    return row ? { host: String(row.host), user: String(row.user) } : undefined;
  }
}
