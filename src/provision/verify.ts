// verifyChannel: compares every table a channel keeps on its source with its target table, both at one source
// position (ARCHITECTURE.md, "Provisioning").
//
// The point: a running SQL stage is stopped, the source opens a consistent snapshot whose binlog coordinates are
// read, the SQL stage applies up to them (UNTIL) and stops; both sides then hold the same data, and the channel
// is resumed once the comparison is done. A stopped channel is compared where it stands, against the source now.
//
// The comparison: the same SQL on both servers checksums chunks of rows by ranges of the key (bounds taken from
// the source), each row as the hex of its columns' bytes, so that collations and character sets cannot make
// different bytes compare equal; a chunk whose checksums differ is read row by row (key and row hash) on both
// sides to name the rows. A table without a key is checksummed whole, order-independently (sums of row hashes).
import type { Connection } from 'mysql2/promise';
import type { Channel, EngineSettings } from '../channel.js';
import { qualifiedName } from '../apply/sql-text.js';
import type { SourcePosition } from '../binlog/position.js';
import { mysqlFailure, ReplicationError } from '../errors.js';
import { connectSource, connectTarget, keptTables, refuseVerifyOnMysql, snapshotPosition, type CopyTable } from './provision.js';
import { keyText, selectExpression, valueLiteral, type CopyColumn } from './values.js';

export interface VerifyOptions {
  /** Rows per checksummed chunk. Default 1000. */
  chunkRows?: number;
  /** Differing rows named per table at most; the table's `truncated` says when there were more. Default 100. */
  maxDifferences?: number;
}

export interface RowDifference {
  /** missing: on the source only; extra: on the target only; different: on both, with other values. */
  kind: 'missing' | 'extra' | 'different';
  /** The row's key, column name to value: text as text, other values as their text or as 0x hex bytes. */
  key: Record<string, string | null>;
}

export interface TableVerification {
  /** The source's database and table name. */
  sourceDb: string;
  table: string;
  /** The target's database (replicate-rewrite-db applied). */
  targetDb: string;
  equal: boolean;
  /** 'chunks': by key ranges, differing rows named; 'whole': no primary or NOT NULL unique key, no rows named. */
  method: 'chunks' | 'whole';
  /** Rows the source table holds at the snapshot. */
  sourceRows: number;
  differences: RowDifference[];
  /** More rows differ than maxDifferences. */
  truncated: boolean;
  /** Why the target table could not be compared (it does not exist, has other columns ...); '' when it could. */
  error: string;
}

export interface VerifyResult {
  /** Every table equal. */
  equal: boolean;
  /** The source's binlog coordinates its side was read at. */
  sourcePosition: SourcePosition;
  /**
   * The source position the target had applied when read: sourcePosition for a running channel; for a stopped
   * one its applied position, which can be behind (then rows the source changed since may differ).
   */
  appliedPosition: SourcePosition;
  tables: TableVerification[];
}

type Row = (Buffer | null)[];
type Checksum = string;

export async function verify(channel: Channel, settings: EngineSettings, options: VerifyOptions): Promise<VerifyResult> {
  const chunkRows = options.chunkRows ?? 1000;
  const maxDifferences = options.maxDifferences ?? 100;
  if (!Number.isInteger(chunkRows) || chunkRows < 1) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `chunkRows must be an integer >= 1, got ${chunkRows}`);
  }
  if (!Number.isInteger(maxDifferences) || maxDifferences < 0) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `maxDifferences must be an integer >= 0, got ${maxDifferences}`);
  }
  channel.checkSourceHost();
  if (channel.runningUntil()) {
    throw new ReplicationError('ER_SLAVE_MUST_STOP', `the SQL stage of channel '${channel.name}' runs with an UNTIL ` +
      'condition, which verifyChannel would have to replace; call it when the stage has stopped, or restart it without one');
  }
  const running = channel.sqlRunning;
  const connections: Connection[] = [];
  const open = async (connect: Promise<Connection>) => {
    const conn = await connect;
    connections.push(conn);
    return conn;
  };
  const abort = new AbortController();
  channel.provisionAbort = abort;
  const checkAborted = () => {
    if (abort.signal.aborted) {
      throw new ReplicationError('ER_SLAVE_FATAL_ERROR', `verifyChannel of channel '${channel.name}' stopped: the ` +
        'engine is closing');
    }
  };
  let stopped = false;
  // As it was: a stage that stops again on an error of its own shows it in the status, as it would have running.
  // A closing engine stops the channel anyway.
  const resume = async () => {
    if (stopped && !abort.signal.aborted) await channel.start(['SQL_THREAD']);
  };
  let result: VerifyResult;
  try {
    const source = await open(connectSource(channel));
    await refuseVerifyOnMysql(source);
    const tables = await keptTables(channel, await open(connectSource(channel)));
    const target = await open(connectTarget(settings));
    if (running) {
      await channel.stop(['SQL_THREAD'], 'verifyChannel');
      stopped = true;
    }
    await source.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await source.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const sourcePosition = await snapshotPosition(source);
    if (running) await channel.applyUntil(sourcePosition, abort.signal);
    checkAborted();
    const appliedPosition = channel.appliedSourcePosition();
    const results: TableVerification[] = [];
    for (const t of tables) results.push(await verifyTable(source, target, t, chunkRows, maxDifferences, checkAborted));
    result = { equal: results.every((r) => r.equal), sourcePosition, appliedPosition, tables: results };
  } catch (err) {
    await resume().catch((failure: unknown) => settings.logger.error({ channel: channel.name, err: failure },
      `verifyChannel could not start the SQL stage again: start it with startReplica('${channel.name}')`));
    if (err instanceof ReplicationError) throw err;
    const failure = mysqlFailure(err, 'ER_SLAVE_FATAL_ERROR');
    throw new ReplicationError(failure, `verifyChannel of channel '${channel.name}' failed: ${failure.message}`, { cause: err });
  } finally {
    channel.provisionAbort = undefined;
    for (const c of connections) c.destroy();
  }
  await resume();
  return result;
}

/** The select-list expression of a column's exact bytes as hex ('N' for NULL, which hex never is). */
function columnHex(column: CopyColumn): string {
  return `COALESCE(HEX(CAST(${selectExpression(column)} AS BINARY)), 'N')`;
}

/** MD5 of a row's column bytes, separated unambiguously (hex has no comma). */
function rowHash(t: CopyTable): string {
  return `MD5(CONCAT_WS(',', ${t.columns.map(columnHex).join(', ')}))`;
}

/** Row count and two sums of row hashes (64 bits of the MD5, and a CRC32): equal for equal sets of rows, in any order. */
export function checksumSql(db: string, t: CopyTable, where: string): string {
  const hash = rowHash(t);
  return `SELECT COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(${hash}, 16), 16, 10) AS UNSIGNED)), 0), ` +
    `COALESCE(SUM(CRC32(${hash})), 0) FROM ${qualifiedName(db, t.table)}${where ? ` WHERE ${where}` : ''}`;
}

/** A comparison of the key with `values` in key order: `after` (strictly greater) or `upTo` (less or equal). */
export function keyRange(key: CopyColumn[], values: Row, direction: 'after' | 'upTo'): string {
  const col = (i: number) => selectExpression(key[i]!);
  // A _binary literal compared with a text column takes the column's collation (the column's coercibility is
  // lower), so the bounds follow ORDER BY's order.
  const lit = (i: number) => valueLiteral(values[i]!, key[i]!);
  const prefix = (n: number) => Array.from({ length: n }, (_, j) => `${col(j)} = ${lit(j)}`);
  const terms = key.map((_, i) => [...prefix(i), `${col(i)} ${direction === 'after' ? '>' : '<'} ${lit(i)}`].join(' AND '));
  if (direction === 'upTo') terms.push(prefix(key.length).join(' AND '));
  return `(${terms.map((term) => `(${term})`).join(' OR ')})`;
}

export async function rowsOf(conn: Connection, sql: string): Promise<Row[]> {
  const [rows] = await conn.query({ sql, rowsAsArray: true,
    typeCast: (field: { buffer(): Buffer | null }) => field.buffer() } as Parameters<Connection['query']>[0]);
  return rows as unknown as Row[];
}

class TargetTableError extends Error {}

/** The target's rows for `sql`; a failure there (no such table, other columns) says why the table cannot be compared. */
async function targetRows(target: Connection, sql: string): Promise<Row[]> {
  try {
    return await rowsOf(target, sql);
  } catch (err) {
    const { errno } = err as { errno?: number };
    if (errno === undefined) throw err;
    throw new TargetTableError(`error ${errno}: ${(err as Error).message}`);
  }
}

export function checksumOf(rows: Row[]): Checksum {
  return rows[0]!.map((v) => v?.toString('latin1') ?? '').join('/');
}

async function verifyTable(source: Connection, target: Connection, t: CopyTable, chunkRows: number,
  maxDifferences: number, checkAborted: () => void): Promise<TableVerification> {
  const result: TableVerification = { sourceDb: t.sourceDb, table: t.table, targetDb: t.targetDb, equal: true,
    method: t.key.length ? 'chunks' : 'whole', sourceRows: 0, differences: [], truncated: false, error: '' };
  try {
    if (!t.key.length) {
      const theirs = await rowsOf(source, checksumSql(t.sourceDb, t, ''));
      result.sourceRows = Number(theirs[0]![0]!.toString());
      result.equal = checksumOf(theirs) === checksumOf(await targetRows(target, checksumSql(t.targetDb, t, '')));
      return result;
    }
    const order = t.key.map(selectExpression).join(', ');
    let lower: Row | undefined;
    for (;;) {
      checkAborted();
      const after = lower ? keyRange(t.key, lower, 'after') : '';
      const [upper] = await rowsOf(source, `SELECT ${order} FROM ${qualifiedName(t.sourceDb, t.table)}` +
        `${after ? ` WHERE ${after}` : ''} ORDER BY ${order} LIMIT 1 OFFSET ${chunkRows - 1}`);
      // The last chunk has no upper bound: it holds the target's rows past the source's last key too.
      const where = [after, ...(upper ? [keyRange(t.key, upper, 'upTo')] : [])].filter(Boolean).join(' AND ');
      const theirs = await rowsOf(source, checksumSql(t.sourceDb, t, where));
      result.sourceRows += Number(theirs[0]![0]!.toString());
      if (checksumOf(theirs) !== checksumOf(await targetRows(target, checksumSql(t.targetDb, t, where)))) {
        result.equal = false;
        await differingRows(source, target, t, where, result, maxDifferences);
      }
      if (!upper) return result;
      lower = upper;
    }
  } catch (err) {
    if (!(err instanceof TargetTableError)) throw err;
    return { ...result, equal: false, error: err.message };
  }
}

/** Names the rows of one chunk that differ, by key and row hash on both sides, up to maxDifferences. */
async function differingRows(source: Connection, target: Connection, t: CopyTable, where: string,
  result: TableVerification, maxDifferences: number): Promise<void> {
  const select = (db: string) => `SELECT ${t.key.map(selectExpression).join(', ')}, ${rowHash(t)} ` +
    `FROM ${qualifiedName(db, t.table)}${where ? ` WHERE ${where}` : ''}`;
  const byKey = (rows: Row[]) => new Map(rows.map((r) => [r.slice(0, -1).map((v) => v!.toString('hex')).join(','), r]));
  const ours = byKey(await rowsOf(source, select(t.sourceDb)));
  const theirs = byKey(await targetRows(target, select(t.targetDb)));
  const add = (kind: RowDifference['kind'], row: Row) => {
    if (result.differences.length >= maxDifferences) {
      result.truncated = true;
      return;
    }
    const values = keyText(row.slice(0, -1), t.key);
    result.differences.push({ kind, key: Object.fromEntries(t.key.map((c, i) => [c.name, values[i]!])) });
  };
  for (const [k, row] of ours) {
    const other = theirs.get(k);
    if (!other) add('missing', row);
    else if (!other.at(-1)!.equals(row.at(-1)!)) add('different', row);
  }
  for (const [k, row] of theirs) if (!ours.has(k)) add('extra', row);
}
