// The SQL stage's position, kept in a table on the target and updated in the same target transaction as the
// changes it covers, so that after any crash the target knows exactly which source transactions it holds
// (DESIGN.md, Positions). relay-log.info is only a readable mirror of the row.
import type { Connection } from 'mysql2/promise';
import { qualifiedName, quoteIdentifier, quoteString } from '../apply/sql-text.js';

export interface ChannelPosition {
  relayLogFile: string;
  relayLogPos: number;
  sourceLogFile: string;
  sourceLogPos: number;
  /**
   * The GTID state the applied rows contain (for a MariaDB source its GTID position, 'domain-server-seq,...');
   * undefined = not known here: a write leaves the stored one as it is.
   */
  gtidState?: string | undefined;
}

export interface PositionRow extends ChannelPosition {
  /**
   * Set while a DDL runs: DDL commits on its own, so a crash between it and the position update leaves this
   * marker, naming the source position at the end of that DDL, and the restart knows the DDL may already be done.
   */
  ddlEndSourceLogFile: string | null;
  ddlEndSourceLogPos: number | null;
}

// Duplicate column name.
const ER_DUP_FIELDNAME = 1060;

/** `db.table` split and quoted; the default is `tributary.replication_position`. */
export class PositionTable {
  readonly database: string;
  readonly table: string;

  /**
   * `serverId` is the engine's: with the channel it keys the row, so that engines with their own data
   * directories sharing a target (and a channel name) keep their own positions.
   */
  constructor(qualified: string, readonly channel: string, readonly serverId: number) {
    const dot = qualified.indexOf('.');
    if (dot <= 0 || dot === qualified.length - 1) {
      throw new Error(`positionTable must be 'database.table', got '${qualified}'`);
    }
    this.database = qualified.slice(0, dot);
    this.table = qualified.slice(dot + 1);
  }

  private get name(): string {
    return qualifiedName(this.database, this.table);
  }

  private get channelLiteral(): string {
    return quoteString(this.channel, '_utf8mb4');
  }

  private get key(): string {
    return `server_id = ${this.serverId} AND channel = ${this.channelLiteral}`;
  }

  async ensure(conn: Connection): Promise<void> {
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(this.database)}`);
    await conn.query(`CREATE TABLE IF NOT EXISTS ${this.name} (
      server_id INT UNSIGNED NOT NULL,
      channel VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      relay_log_file VARCHAR(512) NOT NULL,
      relay_log_pos BIGINT UNSIGNED NOT NULL,
      source_log_file VARCHAR(512) NOT NULL,
      source_log_pos BIGINT UNSIGNED NOT NULL,
      ddl_end_source_log_file VARCHAR(512) NULL,
      ddl_end_source_log_pos BIGINT UNSIGNED NULL,
      gtid_state TEXT CHARACTER SET ascii NULL,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
      PRIMARY KEY (server_id, channel)
    ) ENGINE=InnoDB`);
    await this.migrate(conn);
  }

  /** Earlier versions keyed the table by channel alone, and had no gtid_state. */
  private async migrate(conn: Connection): Promise<void> {
    await this.migrateServerId(conn);
    await this.addColumn(conn, 'gtid_state', 'TEXT CHARACTER SET ascii NULL AFTER ddl_end_source_log_pos');
  }

  /**
   * Earlier versions keyed the table by channel alone. Their rows were written by an engine that knew no
   * server id: they go to the first engine that opens the table now, which is the one that wrote them when the
   * table was its own. Engines racing here are safe: the ALTER of the second fails with 1060 (the column is
   * there) after waiting for the first's.
   */
  private async migrateServerId(conn: Connection): Promise<void> {
    await this.addColumn(conn, 'server_id', `INT UNSIGNED NOT NULL DEFAULT ${this.serverId} FIRST,
        DROP PRIMARY KEY, ADD PRIMARY KEY (server_id, channel)`);
  }

  /** Adds a column a table of an earlier version lacks; a racing engine that added it first is no error. */
  private async addColumn(conn: Connection, column: string, definition: string): Promise<void> {
    const [columns] = await conn.query(`SHOW COLUMNS FROM ${this.name} LIKE '${column}'`) as [unknown[], unknown];
    if (columns.length > 0) return;
    try {
      await conn.query(`ALTER TABLE ${this.name} ADD COLUMN ${column} ${definition}`);
    } catch (err) {
      if ((err as { errno?: number }).errno !== ER_DUP_FIELDNAME) throw err;
    }
  }

  async read(conn: Connection): Promise<PositionRow | undefined> {
    const [rows] = await conn.query(
      `SELECT relay_log_file AS relayLogFile, relay_log_pos AS relayLogPos, source_log_file AS sourceLogFile,
              source_log_pos AS sourceLogPos, ddl_end_source_log_file AS ddlEndSourceLogFile,
              ddl_end_source_log_pos AS ddlEndSourceLogPos, gtid_state AS gtidState
         FROM ${this.name} WHERE ${this.key}`,
    ) as [Record<string, unknown>[], unknown];
    const row = rows[0];
    if (!row) return undefined;
    return {
      relayLogFile: String(row.relayLogFile),
      relayLogPos: Number(row.relayLogPos),
      sourceLogFile: String(row.sourceLogFile),
      sourceLogPos: Number(row.sourceLogPos),
      ddlEndSourceLogFile: row.ddlEndSourceLogFile == null ? null : String(row.ddlEndSourceLogFile),
      ddlEndSourceLogPos: row.ddlEndSourceLogPos == null ? null : Number(row.ddlEndSourceLogPos),
      ...(row.gtidState == null ? {} : { gtidState: String(row.gtidState) }),
    };
  }

  /** The statement that records `position` (and clears or sets the DDL marker); runs inside the caller's transaction. */
  writeSql(position: ChannelPosition, ddlEnd?: { file: string; pos: number }): string {
    const text = (s: string) => quoteString(s, '_utf8mb4');
    const marker = ddlEnd ? `${text(ddlEnd.file)}, ${ddlEnd.pos}` : 'NULL, NULL';
    const gtid = position.gtidState === undefined ? undefined : quoteString(position.gtidState, '_ascii');
    return `INSERT INTO ${this.name} (server_id, channel, relay_log_file, relay_log_pos, source_log_file, source_log_pos,
        ddl_end_source_log_file, ddl_end_source_log_pos, gtid_state)
      VALUES (${this.serverId}, ${this.channelLiteral}, ${text(position.relayLogFile)}, ${position.relayLogPos}, ${text(position.sourceLogFile)},
        ${position.sourceLogPos}, ${marker}, ${gtid ?? 'NULL'})
      ON DUPLICATE KEY UPDATE relay_log_file = VALUES(relay_log_file), relay_log_pos = VALUES(relay_log_pos),
        source_log_file = VALUES(source_log_file), source_log_pos = VALUES(source_log_pos),
        ddl_end_source_log_file = VALUES(ddl_end_source_log_file), ddl_end_source_log_pos = VALUES(ddl_end_source_log_pos)${
  gtid === undefined ? '' : ', gtid_state = VALUES(gtid_state)'}`;
  }

  deleteSql(): string {
    return `DELETE FROM ${this.name} WHERE ${this.key}`;
  }
}
