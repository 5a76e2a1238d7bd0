// Provisioning progress on the target, beside the position table and keyed like it by (server_id, channel):
// one row per source table, written in the same target transaction as the rows it counts, so that after a crash
// the target says exactly which tables are complete (DESIGN: provisioning).
import type { Connection } from 'mysql2/promise';
import { qualifiedName, quoteIdentifier, quoteString } from '../apply/sql-text.js';
import type { SourcePosition } from '../binlog/position.js';

export const PROGRESS_TABLE = 'provision_progress';

export interface TableProgress {
  sourceDb: string;
  sourceTable: string;
  /** 'copying': rows may be on the target, not all of them; 'done': the table equals the source at the snapshot. */
  state: 'copying' | 'done';
  rows: number;
  bytes: number;
  /** The last key copied (encodeKey), '' for a table without a key or before its first chunk. */
  lastKey: string;
  /** The snapshot the table was copied from. */
  snapshot: SourcePosition;
}

const text = (s: string) => quoteString(s, '_utf8mb4');

export class ProgressTable {
  private readonly name: string;
  private readonly key: string;

  constructor(readonly database: string, private readonly serverId: number, private readonly channel: string) {
    this.name = qualifiedName(database, PROGRESS_TABLE);
    this.key = `server_id = ${serverId} AND channel = ${text(channel)}`;
  }

  async ensure(conn: Connection): Promise<void> {
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(this.database)}`);
    await conn.query(`CREATE TABLE IF NOT EXISTS ${this.name} (
      server_id INT UNSIGNED NOT NULL,
      channel VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      source_db VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      source_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      state VARCHAR(16) NOT NULL,
      rows_copied BIGINT UNSIGNED NOT NULL,
      bytes_copied BIGINT UNSIGNED NOT NULL,
      last_key MEDIUMTEXT CHARACTER SET utf8mb4 NOT NULL,
      snapshot_file VARCHAR(512) NOT NULL,
      snapshot_pos BIGINT UNSIGNED NOT NULL,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
      PRIMARY KEY (server_id, channel, source_db, source_table)
    ) ENGINE=InnoDB`);
  }

  async read(conn: Connection): Promise<TableProgress[]> {
    const [rows] = await conn.query(`SELECT source_db, source_table, state, rows_copied, bytes_copied, last_key,
        snapshot_file, snapshot_pos FROM ${this.name} WHERE ${this.key}`) as [Record<string, Buffer | string | number>[], unknown];
    const str = (v: Buffer | string | number | undefined) => Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    return rows.map((r) => ({
      sourceDb: str(r.source_db), sourceTable: str(r.source_table),
      state: str(r.state) === 'done' ? 'done' : 'copying',
      rows: Number(str(r.rows_copied)), bytes: Number(str(r.bytes_copied)), lastKey: str(r.last_key),
      snapshot: { file: str(r.snapshot_file), pos: Number(str(r.snapshot_pos)) },
    }));
  }

  /** Records a table's progress; runs inside the caller's transaction, with the rows it counts. */
  writeSql(p: TableProgress): string {
    return `INSERT INTO ${this.name} (server_id, channel, source_db, source_table, state, rows_copied, bytes_copied,
        last_key, snapshot_file, snapshot_pos)
      VALUES (${this.serverId}, ${text(this.channel)}, ${text(p.sourceDb)}, ${text(p.sourceTable)}, ${text(p.state)},
        ${p.rows}, ${p.bytes}, ${text(p.lastKey)}, ${text(p.snapshot.file)}, ${p.snapshot.pos})
      ON DUPLICATE KEY UPDATE state = VALUES(state), rows_copied = VALUES(rows_copied), bytes_copied = VALUES(bytes_copied),
        last_key = VALUES(last_key), snapshot_file = VALUES(snapshot_file), snapshot_pos = VALUES(snapshot_pos)`;
  }

  /** Forgets the channel's progress: a new provisioning starts. */
  deleteSql(): string {
    return `DELETE FROM ${this.name} WHERE ${this.key}`;
  }
}

/**
 * A key as the progress table keeps it: exactly, each value's bytes as hex, so that a copy continues after it.
 * An object, where earlier versions wrote a list of the values as text: those are never taken for a key.
 */
export function encodeKey(values: (Buffer | null)[]): string {
  return JSON.stringify({ hex: values.map((v) => v?.toString('hex') ?? null) });
}

/** The key encodeKey wrote, of `length` NOT NULL values; undefined for anything else (then the table starts again). */
export function decodeKey(text: string, length: number): Buffer[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const hex = (parsed as { hex?: unknown } | null)?.hex;
  if (!Array.isArray(hex) || hex.length !== length ||
    !hex.every((v) => typeof v === 'string' && /^(?:[0-9a-f]{2})*$/.test(v))) return undefined;
  return hex.map((v: string) => Buffer.from(v, 'hex'));
}
