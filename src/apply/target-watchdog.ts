// Watches the round trips of the applier's connection to the target. When the network to the target freezes (or a
// NAT or firewall forgets the connection), the answer to a round trip never comes and nothing says so: the kernel
// at the far end, or a proxy's, still acknowledges what is sent, so TCP does not give up. A timeout on the round
// trip would cut off statements that legitimately run long on the target (a big ALTER TABLE, a long UPDATE from a
// statement-format source). So a round trip that has heard nothing for a check interval is asked about on a
// second, short-lived connection: the target's process list says whether the connection's server thread still
// works on it. If it does, the wait goes on; if the thread waits for a command, is gone, or the target cannot be
// reached within a check interval either, the answer is lost and the connection is dropped, so that the round trip
// fails as a lost connection (which the SQL stage retries on a new connection, from the position the target holds).
import type { Socket } from 'node:net';
import mysql from 'mysql2';
import type { Connection, ConnectionOptions } from 'mysql2/promise';
import type { Logger } from 'pino';
import { mysqlFailure } from '../errors.js';

/** The row of the target's process list for a connection. */
export interface ServerThread {
  /** COMMAND: 'Sleep' while it waits for the client's next command, 'Query' while it runs one, ... */
  command: string;
  /** TIME: seconds in that command. */
  time: number;
  /** HOST: the client's address and port as the target knows them. */
  host: string;
}

export type ThreadVerdict = { verdict: 'working' } | { verdict: 'unsure' } | { verdict: 'lost'; reason: string };

/**
 * What the target's process list says of a connection whose round trip has heard nothing for a while. `host`:
 * the connection's HOST when it was opened; a thread of the same id with another address is another client's
 * (the target restarted and gave the id out again).
 */
export function judgeThread(thread: ServerThread | undefined, host: string | undefined): ThreadVerdict {
  if (!thread) return { verdict: 'lost', reason: 'the target no longer has the connection' };
  if (host !== undefined && thread.host !== host) {
    return { verdict: 'lost', reason: `the target gave the connection's id to another client (${thread.host})` };
  }
  if (thread.command !== 'Sleep') return { verdict: 'working' };
  // Within the second after the target answered, the answer may still be on its way.
  if (thread.time < 1) return { verdict: 'unsure' };
  return { verdict: 'lost', reason: `the target waits for the next command since ${thread.time} s: its answer is lost` };
}

export interface WatchdogOptions {
  /** The target's connection options, for the check connection. */
  target: ConnectionOptions;
  /** A round trip that hears nothing this long is checked; a check gets as long to connect and answer. */
  intervalMs: number;
  logger: Logger;
}

/** mysql2's connection under the promise wrapper: its socket. */
interface Core {
  stream: Socket;
}

/** A connection to the target whose round trips are watched: `conn` is the connection with every query watched. */
export class WatchedConnection {
  readonly conn: Connection;
  /** The connection's HOST in the target's process list, once read. */
  host: string | undefined;
  private readonly stream: Socket;
  private inFlight = 0;

  constructor(raw: Connection, private readonly options: WatchdogOptions) {
    this.stream = (raw as unknown as { connection: Core }).connection.stream;
    // Every caller of query (the applier, the position table, the channel lock) gets the watch with it.
    const query = (...args: unknown[]) => this.roundTrip((raw.query as (...a: unknown[]) => Promise<unknown>).apply(raw, args));
    this.conn = new Proxy(raw, {
      get(target, key) {
        if (key === 'query') return query;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** A round trip is in flight. */
  get waiting(): boolean {
    return this.inFlight > 0;
  }

  /** Watches a round trip on the connection until it settles. */
  roundTrip<T>(run: Promise<T>): Promise<T> {
    this.inFlight++;
    const started = Date.now();
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let seen = this.progress();
    let reported = false;
    const check = async () => {
      const now = this.progress();
      // Bytes came in (a long result, the statements of a multi-statement round trip as they end) or went out
      // (a long request still being sent): the connection is alive.
      if (now !== seen) {
        seen = now;
        timer = setTimeout(check, this.options.intervalMs);
        return;
      }
      const judged = await this.check();
      if (done) return;
      const waited = Math.round((Date.now() - started) / 1000);
      if (judged.verdict === 'lost') {
        this.options.logger.warn({ threadId: this.conn.threadId, waitedSeconds: waited, reason: judged.reason },
          'no answer from the target: dropping the connection');
        this.drop('ETIMEDOUT', `no answer from the target for ${waited} s: ${judged.reason}`);
        return;
      }
      if (judged.verdict === 'working' && !reported) {
        reported = true;
        this.options.logger.info({ threadId: this.conn.threadId, waitedSeconds: waited },
          'a statement runs long on the target; waiting for it');
      }
      seen = this.progress();
      timer = setTimeout(check, this.options.intervalMs);
    };
    timer = setTimeout(check, this.options.intervalMs);
    return run.finally(() => {
      this.inFlight--;
      done = true;
      clearTimeout(timer);
    });
  }

  /**
   * Drops the connection: the round trip in flight, and any after it, fail as a lost connection. What the target
   * committed is what its position row says.
   */
  drop(code: string, message: string): void {
    this.stream.destroy(Object.assign(new Error(message), { code }));
  }

  /** Bytes read, and bytes still waiting to be sent. */
  private progress(): string {
    return `${this.stream.bytesRead}/${this.stream.writableLength}`;
  }

  /** Asks the target, on a connection of its own, about this connection's server thread. */
  private async check(): Promise<ThreadVerdict> {
    try {
      return judgeThread(await serverThread(this.options.target, this.conn.threadId, this.options.intervalMs), this.host);
    } catch (err) {
      const failure = mysqlFailure(err, 'CR_SERVER_LOST');
      // The client's own errors (CR_*): the target cannot be reached. An error the target sent (too many
      // connections, say) says nothing about the connection: the wait goes on.
      if (failure.errno >= 2000) return { verdict: 'lost', reason: `the target cannot be reached: ${failure.message}` };
      this.options.logger.warn({ errno: failure.errno, err: failure.message },
        'cannot ask the target about a round trip without an answer; waiting on');
      return { verdict: 'unsure' };
    }
  }
}

/** The process list row of connection `id`, read on a new connection that must answer within `timeoutMs`. */
function serverThread(target: ConnectionOptions, id: number, timeoutMs: number): Promise<ServerThread | undefined> {
  return new Promise((resolve, reject) => {
    const conn = mysql.createConnection({ ...target, connectTimeout: timeoutMs });
    const stream = (conn as unknown as Core).stream;
    const timer = setTimeout(() => {
      stream.destroy();
      reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT', syscall: 'connect' }));
    }, timeoutMs);
    conn.on('error', () => undefined);
    conn.query(`SELECT COMMAND AS command, TIME AS time, HOST AS host FROM information_schema.PROCESSLIST WHERE ID = ${id}`,
      (err, rows) => {
        clearTimeout(timer);
        if (err) {
          stream.destroy();
          reject(err);
          return;
        }
        conn.end();
        const row = (rows as { command: string; time: number | string; host: string }[])[0];
        resolve(row && { command: String(row.command), time: Number(row.time), host: String(row.host) });
      });
  });
}
