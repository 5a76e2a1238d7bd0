// One connection's work on the target: pieces (render.ts) sent in multi-statement round trips of bounded size,
// the rows each statement touched checked, a target transaction committed with its position row or rolled back,
// and the target's errors classified: retry material (TRANSIENT), skipped (slave_skip_errors), or the group's
// failure, worded as a MariaDB replica words it.
import { Readable } from 'node:stream';
import type { Connection, ResultSetHeader } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { RowsEvent } from '../binlog/events.js';
import { mysqlFailure } from '../errors.js';
import { setMultiStatements, type CoreConnection } from '../protocol/raw-command.js';
import { ApplyError, OWN_PARSING, SEPARATOR, type Piece, type TransactionGroup } from './render.js';
import type { WatchedConnection } from './target-watchdog.js';

/** Target errors a retry can cure (deadlock, lock wait timeout, lost or killed connection). */
const TRANSIENT = new Set([1205, 1213, 2006, 2013, 1158, 1159, 1160, 1161, 1927]);

const ER_INCONSISTENT_ERROR = 3002;

export interface TargetSessionOptions {
  logger: Logger;
  /** slave_skip_errors: a statement failing with one of these is skipped and its transaction goes on. */
  skipErrors?: ReadonlySet<number> | 'all' | undefined;
  /** Upper bound of one round trip's SQL text, under the target's max_allowed_packet. */
  maxBytes: number;
}

export class TargetSession {
  constructor(readonly link: WatchedConnection, private readonly options: TargetSessionOptions) {}

  get conn(): Connection {
    return this.link.conn;
  }

  /**
   * Runs statements the applier wrote, outside a batch, after whatever a source's statement left the session
   * in: under OWN_PARSING. Resolves with the result of the last one.
   */
  async query(sql: string): Promise<unknown> {
    const [results] = await this.conn.query(`${OWN_PARSING}${SEPARATOR}${sql}`);
    return (results as unknown[]).at(-1);
  }

  /** The mysql2 connection underneath the promise wrapper, for commands mysql2 does not have. */
  private core(): CoreConnection {
    return (this.conn as unknown as { connection: CoreConnection }).connection;
  }

  /**
   * Sends the pieces of one target transaction, which end with its position row and COMMIT; on failure the
   * transaction is rolled back, so that `group` (its first) and the groups after it can be applied again.
   */
  async commit(pieces: Piece[], group: TransactionGroup, stepwise: boolean): Promise<void> {
    try {
      await this.send(pieces, group, stepwise);
    } catch (err) {
      await this.conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * Sends pieces in multi-statement round trips (`stepwise`: one per round trip) and checks the rows each
   * statement touched. Stepwise, a statement failing with an error of slave_skip_errors is skipped, with the
   * rest of its rows event, and the transaction goes on. Errors name `group`.
   */
  async send(pieces: Piece[], group: TransactionGroup, stepwise = false): Promise<void> {
    const conn = this.conn;
    const link = this.link;
    let at = 0;
    // A statement expected to fail goes alone: its error must not stop the statements after it, and it must be
    // the one that failed. So does a confined one.
    const alone = (piece: Piece) => stepwise || piece.expectError !== undefined || piece.confined === true
      || piece.afterChecks === true;
    let skippedRows: RowsEvent | undefined;
    while (at < pieces.length) {
      let end = at;
      let bytes = 0;
      do {
        bytes += pieces[end]!.sql.length + SEPARATOR.length;
        end++;
      } while (end < pieces.length && !alone(pieces[end - 1]!) && !alone(pieces[end]!) &&
        bytes + pieces[end]!.sql.length < this.options.maxBytes);
      const chunk = pieces.slice(at, end);
      at = end;
      if (skippedRows && chunk[0]!.rows?.event === skippedRows) continue;
      skippedRows = undefined;
      const expected = chunk[0]!.expectError;
      const infiles = new Map(chunk.flatMap((p) => (p.infile ? [[p.infile.name, p.infile.data] as const] : [])));
      let results: unknown;
      let failure: { errno: number; message: string } | undefined;
      const confined = chunk[0]!.confined === true;
      try {
        if (confined) await link.roundTrip(setMultiStatements(this.core(), false));
        try {
          [results] = await conn.query({
            sql: chunk.map((p) => p.sql).join(SEPARATOR),
            // The target reads only the files of this round trip's LOAD DATA statements, whatever a statement asks.
            infileStreamFactory: (name: string) => {
              const data = infiles.get(name);
              return data ? Readable.from([data]) : new Readable({ read() { this.destroy(new Error(`no LOAD DATA file ${name}`)); } });
            },
          });
        } finally {
          if (confined) await link.roundTrip(setMultiStatements(this.core(), true));
        }
      } catch (err) {
        const e = err as { errno?: number; sqlMessage?: string; message?: string };
        const lost = mysqlFailure(err, 'CR_SERVER_LOST');
        if (typeof e.errno !== 'number' || lost.sqlState === undefined) {
          // A client-side failure (lost connection): retry material.
          throw new ApplyError(lost.errno, `Lost connection to the target: ${lost.message}`, group, true);
        }
        if (expected !== undefined) {
          if (e.errno !== expected) throw inconsistentError(expected, e, chunk[0]!, group);
          continue;
        }
        failure = { errno: e.errno, message: e.sqlMessage ?? '' };
      }
      if (!failure) {
        if (expected !== undefined) throw inconsistentError(expected, {}, chunk[0]!, group);
        const list = chunk.length === 1 ? [results] : results as unknown[];
        const missed = chunk.findIndex((piece, i) => piece.expectRows !== undefined &&
          (list[i] as ResultSetHeader).affectedRows !== piece.expectRows);
        if (missed < 0) continue;
        const table = chunk[missed]!.rows?.event.tableMap.table ?? '';
        failure = { errno: 1032, message: `Can't find record in '${table}'` };
      }
      if (stepwise && this.skips(failure.errno)) {
        this.options.logger.warn({ errno: failure.errno, event: chunk[0]!.describe() },
          'statement skipped by replicaSkipErrors (slave_skip_errors)');
        skippedRows = chunk[0]!.rows?.event;
        continue;
      }
      throw new ApplyError(failure.errno, stepwise ? errorMessage(chunk[0]!, failure, group)
        : `Error '${failure.message}'`, group, TRANSIENT.has(failure.errno));
    }
  }

  private skips(errno: number): boolean {
    const skip = this.options.skipErrors;
    return skip !== undefined && !TRANSIENT.has(errno) && (skip === 'all' || skip.has(errno));
  }
}

/**
 * Any failure while applying `group` as an ApplyError naming it. The connection can go at any query, reading
 * table definitions included: mysql2's fatal errors are a lost connection, retry material.
 */
export function groupFailure(err: unknown, group: TransactionGroup): ApplyError {
  if (err instanceof ApplyError) return err;
  const e = err as { fatal?: boolean; message?: string };
  if (e.fatal) return new ApplyError(2013, `Lost connection to the target: ${e.message}`, group, true);
  const failure = mysqlFailure(err, 'ER_SLAVE_FATAL_ERROR');
  return new ApplyError(failure.errno, failure.message, group, TRANSIENT.has(failure.errno), { cause: err });
}

function inconsistentError(expected: number, actual: { errno?: number; sqlMessage?: string }, piece: Piece,
  group: TransactionGroup): ApplyError {
  return new ApplyError(ER_INCONSISTENT_ERROR, `Query caused different errors on master and slave. Error on master: ` +
    `error code=${expected}; Error on slave: actual message='${actual.sqlMessage ?? 'no error'}', error code=` +
    `${actual.errno ?? 0}, on ${piece.describe()}`, group, false);
}

// The storage engine's error behind a target errno, as the servers' row event errors name it.
const HANDLER_ERRORS: Record<number, string> = {
  1062: 'HA_ERR_FOUND_DUPP_KEY', 1032: 'HA_ERR_KEY_NOT_FOUND', 1205: 'HA_ERR_LOCK_WAIT_TIMEOUT',
  1213: 'HA_ERR_LOCK_DEADLOCK', 1451: 'HA_ERR_ROW_IS_REFERENCED', 1452: 'HA_ERR_NO_REFERENCED_ROW',
};

/** Last_SQL_Error for a statement that failed on the target, worded as a MariaDB replica words it. */
function errorMessage(piece: Piece, failure: { errno: number; message: string }, group: TransactionGroup): string {
  if (!piece.rows) return `Error '${failure.message}' on ${piece.describe()}`;
  const handler = HANDLER_ERRORS[failure.errno];
  return `Could not execute ${piece.describe()}; ${failure.message}, Error_code: ${failure.errno};` +
    `${handler ? ` handler error ${handler};` : ''} the event's master log ${group.start.sourceLogFile}, ` +
    `end_log_pos ${piece.rows.header.logPos}`;
}
