// The decoded shape of binlog events, shared by the decoder (src/binlog) and its consumers (SQL stage,
// applier). Decoding is pure: Buffers in, these objects out.

/** Event type codes as MySQL and MariaDB number them. */
export const EventType = {
  UNKNOWN: 0,
  START_V3: 1,
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  LOAD: 6,
  SLAVE: 7,
  CREATE_FILE: 8,
  APPEND_BLOCK: 9,
  EXEC_LOAD: 10,
  DELETE_FILE: 11,
  NEW_LOAD: 12,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  BEGIN_LOAD_QUERY: 17,
  EXECUTE_LOAD_QUERY: 18,
  TABLE_MAP: 19,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS: 30,
  UPDATE_ROWS: 31,
  DELETE_ROWS: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  GTID_TAGGED: 42,
  MARIA_ANNOTATE_ROWS: 160,
  MARIA_BINLOG_CHECKPOINT: 161,
  MARIA_GTID: 162,
  MARIA_GTID_LIST: 163,
  MARIA_START_ENCRYPTION: 164,
  MARIA_QUERY_COMPRESSED: 165,
  MARIA_WRITE_ROWS_COMPRESSED_V1: 166,
  MARIA_UPDATE_ROWS_COMPRESSED_V1: 167,
  MARIA_DELETE_ROWS_COMPRESSED_V1: 168,
  MARIA_WRITE_ROWS_COMPRESSED: 169,
  MARIA_UPDATE_ROWS_COMPRESSED: 170,
  MARIA_DELETE_ROWS_COMPRESSED: 171,
} as const;

/** Header flag: the event was made up by the sender (fake Rotate etc.), it is not in the source's binlog. */
export const LOG_EVENT_ARTIFICIAL_F = 0x20;
/** Header flag of a Format_description: the binlog is being written (or was not closed properly). */
export const LOG_EVENT_BINLOG_IN_USE_F = 0x0001;
/** Rows event flag: the last rows event of its statement. */
export const STMT_END_F = 0x0001;

export const EVENT_HEADER_LENGTH = 19;
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);

export interface EventHeader {
  timestamp: number;
  typeCode: number;
  serverId: number;
  /** Whole event length, header and checksum included. */
  eventLength: number;
  /** End position in the source binlog as the header says (0 for artificial events; see DESIGN.md). */
  logPos: number;
  flags: number;
}

/**
 * Column values, lossless (DESIGN.md "Value fidelity"):
 * - null: SQL NULL
 * - number: TINY/SHORT/INT24/LONG as the *signed* interpretation of their bytes (the applier reinterprets as
 *   unsigned from the target column's definition), FLOAT/DOUBLE, YEAR (0 for year 0), ENUM index
 * - bigint: LONGLONG (signed interpretation), SET bitmask
 * - string: DECIMAL ('-12.3400' exactly as the column's scale), DATE 'YYYY-MM-DD', TIME '[-]HH:MM:SS[.ffffff]'
 *   (hours may exceed 99), DATETIME 'YYYY-MM-DD HH:MM:SS[.ffffff]', TIMESTAMP as UTC
 *   'YYYY-MM-DD HH:MM:SS[.ffffff]' ('0000-00-00 00:00:00' for zero), MySQL binary JSON as its JSON text.
 *   Fraction digits are exactly the column's declared precision (none when 0).
 * - Buffer: every string and blob type (CHAR, VARCHAR, BINARY, TEXT, BLOB ...) as raw stored bytes, BIT as
 *   its bytes (big-endian, ceil(M/8) long), GEOMETRY as its stored bytes (SRID + WKB), VECTOR (MySQL 9) as its
 *   stored bytes (4 per dimension: little-endian float32s).
 */
export type ColumnValue = null | number | bigint | string | Buffer;

/** One row image, indexed by column position; `undefined` where the image does not carry the column. */
export type RowImage = (ColumnValue | undefined)[];

export interface TableMapEvent {
  type: 'table_map';
  tableId: bigint;
  flags: number;
  database: string;
  table: string;
  /** Binlog column type codes (MYSQL_TYPE_*), one per column. */
  columnTypes: number[];
  /** Type metadata per column, decoded: see `ColumnMeta`. */
  columnMeta: ColumnMeta[];
  nullable: boolean[];
  /** From optional metadata (binlog_row_metadata), when the source wrote it. */
  optional: {
    /**
     * true = unsigned, numeric columns only, in column order. Numeric: TINY..LONGLONG, FLOAT, DOUBLE, DECIMAL,
     * and for MariaDB sources also YEAR (MariaDB writes a bit for it; mariadb-binlog misreads that).
     */
    signedness?: boolean[]; // true = unsigned, numeric columns only, in column order
    /** `signedness` spread over column positions (false for non-numeric columns). */
    unsigned?: boolean[];
    columnNames?: string[];
    primaryKey?: number[];
    /** One list per ENUM column, in column order. */
    enumValues?: Buffer[][];
    /** One list per SET column, in column order. */
    setValues?: Buffer[][];
    /** Collation id per column position (0 for columns without one: numbers, temporals, BIT, GEOMETRY, JSON). */
    charsets?: number[];
    /** Geometry subtype per GEOMETRY column, in column order. */
    geometryTypes?: number[];
    /** Prefix length per `primaryKey` entry (0 = whole column), when the source wrote PRIMARY_KEY_WITH_PREFIX. */
    primaryKeyPrefixes?: number[];
    /** Per column position (MySQL 8.0.23+ invisible columns). */
    visible?: boolean[];
    /** Dimensions per VECTOR column, in column order (MySQL 9 VECTOR_DIMENSIONALITY). */
    vectorDimensions?: number[];
  };
}

export interface ColumnMeta {
  /** Real type after unpacking MYSQL_TYPE_STRING metadata (ENUM/SET/STRING), otherwise the binlog type. */
  realType: number;
  /** Length bytes for VARCHAR/BLOB/GEOMETRY/JSON, max byte length for CHAR, bits for BIT, bytes for FLOAT/DOUBLE. */
  length?: number;
  precision?: number;
  scale?: number;
  /** Fractional second precision for TIME2/DATETIME2/TIMESTAMP2. */
  fsp?: number;
}

export type RowsKind = 'write' | 'update' | 'delete';

/** One leg of a JSON path: an object member, or an array cell counted from the start or (`fromLast`) the end. */
export type JsonPathLeg = { member: string } | { cell: number; fromLast?: true };

/**
 * One change of a partial JSON update, with MySQL's semantics (Json_diff): `replace` as JSON_REPLACE, `insert`
 * as JSON_INSERT for a member or JSON_ARRAY_INSERT for an array cell, `remove` as JSON_REMOVE.
 */
export interface JsonDiff {
  operation: 'replace' | 'insert' | 'remove';
  /** Never empty: a diff changes a value inside the document. */
  path: JsonPathLeg[];
  /** The new value as JSON text (MySQL's formatting); absent for `remove`. */
  value?: string;
}

export interface RowsEvent {
  type: 'rows';
  kind: RowsKind;
  tableId: bigint;
  /** The Table_map this event refers to. */
  tableMap: TableMapEvent;
  flags: number;
  /** STMT_END_F: the last rows event of its statement. */
  statementEnd: boolean;
  /**
   * Before image for update/delete, after image for write/update. `jsonDiffs` (PARTIAL_UPDATE_ROWS): the JSON
   * columns the after image holds as changes to the current document, by column position, in the order they
   * apply; the after image has no value (undefined) there.
   */
  rows: { before?: RowImage; after?: RowImage; jsonDiffs?: Map<number, JsonDiff[]> }[];
  /** v2 rows events: the extra-data block (after its length), when not empty. */
  extraData?: Buffer;
}

export interface QueryStatusVars {
  flags2?: number;
  sqlMode?: bigint;
  catalog?: string;
  autoIncrementIncrement?: number;
  autoIncrementOffset?: number;
  charset?: { client: number; connection: number; server: number };
  timeZone?: string;
  lcTimeNamesNumber?: number;
  charsetDatabaseNumber?: number;
  tableMapForUpdate?: bigint;
  /** Q_MASTER_DATA_WRITTEN (relay logs of pre-5.0 sources). */
  masterDataWritten?: number;
  invoker?: { user: string; host: string };
  updatedDbNames?: string[];
  /** Q_UPDATED_DB_NAMES said the statement touched too many databases to list them. */
  updatedDbNamesOverflow?: boolean;
  microseconds?: number;
  /** Q_COMMIT_TS (MySQL 5.7 labs builds). */
  commitTs?: bigint;
  explicitDefaultsForTimestamp?: boolean;
  ddlXid?: bigint;
  defaultCollationForUtf8mb4?: number;
  sqlRequirePrimaryKey?: number;
  defaultTableEncryption?: number;
  /** MariaDB Q_HRNOW (microsecond part of the timestamp). */
  hrnow?: number;
  /** MariaDB Q_XID. */
  xid?: bigint;
  /** MariaDB Q_GTID_FLAGS3 (flags_extra of the GTID, e.g. for split ALTER). */
  gtidFlagsExtra?: number;
  /** MariaDB Q_GTID_FLAGS3: sequence number of the START ALTER a COMMIT/ROLLBACK ALTER refers to. */
  startAlterSeqNo?: bigint;
  /** MariaDB Q_CHARACTER_SET_COLLATIONS: [character set id, default collation id] pairs. */
  characterSetCollations?: [number, number][];
  /** Status parsing stopped at this code, which this decoder does not know (later variables are lost). */
  unknownStatusVar?: number;
  /** A status variable ran past the status block; parsing stopped there. */
  truncatedStatusVars?: boolean;
}

export interface QueryEvent {
  type: 'query';
  threadId: number;
  executionTime: number;
  errorCode: number;
  /** Default database ('' for none). */
  database: string;
  statusVars: QueryStatusVars;
  /** Statement text as raw bytes (its character set is character_set_client of the status vars). */
  sql: Buffer;
}

/**
 * LOAD DATA as sources from MySQL 5.0 on log it: the file's contents went ahead in Begin_load_query and
 * Append_block events with the same `fileId`; the statement names the file between `filenameStart` and
 * `filenameEnd` (byte offsets in `sql`), the part a replica replaces with its own copy of the file.
 */
export interface ExecuteLoadQueryEvent extends Omit<QueryEvent, 'type'> {
  type: 'execute_load_query';
  fileId: number;
  filenameStart: number;
  filenameEnd: number;
  duplicates: 'error' | 'ignore' | 'replace';
}

export interface FormatDescriptionEvent {
  type: 'format_description';
  binlogVersion: number;
  serverVersion: string;
  createTimestamp: number;
  headerLength: number;
  postHeaderLengths: Buffer;
  /** 0 = none, 1 = CRC32. */
  checksumAlg: number;
}

export type BinlogEvent =
  | FormatDescriptionEvent
  | { type: 'rotate'; position: bigint; nextFile: string }
  | QueryEvent
  | { type: 'xid'; xid: bigint }
  | { type: 'stop' }
  | { type: 'intvar'; kind: 'last_insert_id' | 'insert_id' | number; value: bigint }
  | { type: 'rand'; seed1: bigint; seed2: bigint }
  | {
    type: 'user_var';
    name: string;
    isNull: boolean;
    /** STRING_RESULT 0, REAL_RESULT 1, INT_RESULT 2, DECIMAL_RESULT 4. */
    valueType: number;
    charset: number;
    /** Raw value bytes, as the event stores them. */
    value: Buffer;
    /** Decoded: Buffer for strings, number for REAL, bigint for INT (unsigned when `unsigned`), string for DECIMAL. */
    decoded: Buffer | number | bigint | string | null;
    unsigned: boolean;
  }
  | TableMapEvent
  | RowsEvent
  | { type: 'heartbeat'; logFile: string; /** HEARTBEAT_V2 only; v1 carries it in the header's logPos. */ position?: bigint }
  | {
    type: 'gtid';
    flavor: 'mysql';
    anonymous: boolean;
    uuid: string;
    /** MySQL 8.3+ tagged GTID (uuid:tag:gno, GTID_TAGGED_LOG_EVENT); absent for an untagged one. */
    tag?: string;
    gno: bigint;
    /** FLAG_MAY_HAVE_SBR cleared: the transaction is row-based only. */
    commitFlag?: boolean;
    lastCommitted?: bigint;
    sequenceNumber?: bigint;
    /** Microseconds since the epoch. */
    immediateCommitTimestamp?: bigint;
    originalCommitTimestamp?: bigint;
    transactionLength?: bigint;
    immediateServerVersion?: number;
    originalServerVersion?: number;
    commitGroupTicket?: bigint;
  }
  /** Intervals as stored: [start, end) with `end` exclusive (uuid:1-5 is [1n, 6n]). */
  | { type: 'previous_gtids'; sids: { uuid: string; /** MySQL 8.3+; absent when untagged. */ tag?: string; intervals: [bigint, bigint][] }[] }
  | {
    type: 'gtid';
    flavor: 'mariadb';
    domainId: number;
    serverId: number;
    seqNo: bigint;
    flags2: number;
    /** FL_STANDALONE: no BEGIN, the group is one statement ending without XID/COMMIT. */
    standalone: boolean;
    commitId?: bigint;
    /** XA PREPARE (prepared) or XA COMMIT/ROLLBACK of a prepared transaction. */
    xa?: { prepared: boolean; formatId: number; gtrid: Buffer; bqual: Buffer };
    flagsExtra?: number;
    extraEngines?: number;
    /** COMMIT/ROLLBACK ALTER of a split ALTER: the GTID seq_no of its START ALTER. */
    startAlterSeqNo?: bigint;
  }
  | { type: 'gtid_list'; gtids: { domainId: number; serverId: number; seqNo: bigint }[]; flags?: number }
  | { type: 'binlog_checkpoint'; logFile: string }
  | { type: 'annotate_rows'; sql: Buffer }
  | { type: 'rows_query'; sql: Buffer }
  /**
   * MySQL binlog_transaction_compression: the inner raw events, in order. They carry no CRC of their own:
   * decode them with the same decoder, `decode(raw, { checksum: false })`.
   */
  | { type: 'transaction_payload'; events: Buffer[] }
  /** A block of a LOAD DATA file (Begin_load_query holds the first). */
  | { type: 'begin_load_query' | 'append_block'; fileId: number; data: Buffer }
  | ExecuteLoadQueryEvent
  | { type: 'delete_file'; fileId: number }
  /** Load, Create_file, Exec_load, New_load: LOAD DATA as pre-5.0 servers logged it. */
  | { type: 'legacy_load'; typeCode: number }
  | { type: 'incident' | 'xa_prepare' | 'start_encryption' }
  | { type: 'unknown'; typeCode: number };

export interface DecodedEvent {
  header: EventHeader;
  event: BinlogEvent;
}
