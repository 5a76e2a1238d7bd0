import type { ExecuteLoadQueryEvent, QueryEvent, QueryStatusVars } from './events.js';
import { mariadbUncompress } from './compression.js';
import { BinlogFormatError, ByteReader } from './reader.js';

// Status variable codes. MySQL numbers them upwards from 0; MariaDB's own start at 128.
const Q_FLAGS2_CODE = 0;
const Q_SQL_MODE_CODE = 1;
const Q_CATALOG_CODE = 2;
const Q_AUTO_INCREMENT = 3;
const Q_CHARSET_CODE = 4;
const Q_TIME_ZONE_CODE = 5;
const Q_CATALOG_NZ_CODE = 6;
const Q_LC_TIME_NAMES_CODE = 7;
const Q_CHARSET_DATABASE_CODE = 8;
const Q_TABLE_MAP_FOR_UPDATE_CODE = 9;
const Q_MASTER_DATA_WRITTEN_CODE = 10;
const Q_INVOKER = 11;
const Q_UPDATED_DB_NAMES = 12;
const Q_MICROSECONDS = 13;
const Q_COMMIT_TS = 14;
const Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP = 16;
const Q_DDL_LOGGED_WITH_XID = 17;
const Q_DEFAULT_COLLATION_FOR_UTF8MB4 = 18;
const Q_SQL_REQUIRE_PRIMARY_KEY = 19;
const Q_DEFAULT_TABLE_ENCRYPTION = 20;
const Q_HRNOW = 128;
const Q_XID = 129;
const Q_GTID_FLAGS3 = 130;
const Q_CHARACTER_SET_COLLATIONS = 131;

/** Q_UPDATED_DB_NAMES count meaning "too many databases to list". */
const OVER_MAX_DBS_IN_EVENT_MTS = 254;
// MariaDB Gtid_log_event flags_extra bits that carry a start-alter sequence number.
const FL_COMMIT_ALTER_E1 = 4;
const FL_ROLLBACK_ALTER_E1 = 8;

// Query event post-header: thread id, execution time, database name length, error code, status block length.
const QUERY_POST_HEADER_LENGTH = 13;
// Execute_load_query dup_handling values.
const DUPLICATES = ['error', 'ignore', 'replace'] as const;

/** `r` is positioned after the common header. */
export function decodeQuery(r: ByteReader, postHeaderLength: number, compressed: boolean): QueryEvent {
  const start = r.pos;
  const threadId = r.u32();
  const executionTime = r.u32();
  const dbLength = r.u8();
  const errorCode = r.u16();
  // Binlog v1/v3 Query events have no status block (post-header of 11 bytes).
  const statusLength = postHeaderLength >= QUERY_POST_HEADER_LENGTH ? r.u16() : 0;
  r.skipTo(start + postHeaderLength, 'Query post-header');
  const statusVars = decodeStatusVars(r.sub(statusLength, 'Query status variables'));
  const database = r.str(dbLength, 'database name');
  r.skip(1);
  const text = r.rest();
  const sql = compressed ? mariadbUncompress(text) : Buffer.from(text);
  return { type: 'query', threadId, executionTime, errorCode, database, statusVars, sql };
}

/** A Query event whose post-header goes on with the LOAD DATA file id and file name offsets. */
export function decodeExecuteLoadQuery(r: ByteReader, postHeaderLength: number): ExecuteLoadQueryEvent {
  r.need(postHeaderLength, 'Execute_load_query post-header');
  const fields = new ByteReader(r.buf, r.pos + QUERY_POST_HEADER_LENGTH, r.pos + postHeaderLength);
  const fileId = fields.u32();
  const filenameStart = fields.u32();
  const filenameEnd = fields.u32();
  const dup = fields.u8();
  const duplicates = DUPLICATES[dup];
  if (!duplicates) throw new BinlogFormatError(`Execute_load_query with unknown dup_handling ${dup}`);
  const query = decodeQuery(r, postHeaderLength, false);
  if (filenameStart > filenameEnd || filenameEnd > query.sql.length) {
    throw new BinlogFormatError(`Execute_load_query file name at ${filenameStart}..${filenameEnd} lies outside its ` +
      `${query.sql.length}-byte statement`);
  }
  return { ...query, type: 'execute_load_query', fileId, filenameStart, filenameEnd, duplicates };
}

/**
 * The server reads status variables in order and stops at the first code it does not know (their
 * lengths are implicit), keeping what it read; so do we. The statement itself is located from the block
 * length, so an unknown code never shifts it.
 */
export function decodeStatusVars(r: ByteReader): QueryStatusVars {
  const v: QueryStatusVars = {};
  try {
    while (r.remaining > 0) {
      const code = r.u8();
      switch (code) {
        case Q_FLAGS2_CODE: v.flags2 = r.u32(); break;
        case Q_SQL_MODE_CODE: v.sqlMode = r.u64(); break;
        case Q_CATALOG_CODE: v.catalog = r.str(r.u8(), 'catalog'); r.skip(1); break;
        case Q_AUTO_INCREMENT: v.autoIncrementIncrement = r.u16(); v.autoIncrementOffset = r.u16(); break;
        case Q_CHARSET_CODE: v.charset = { client: r.u16(), connection: r.u16(), server: r.u16() }; break;
        case Q_TIME_ZONE_CODE: v.timeZone = r.str(r.u8(), 'time zone'); break;
        case Q_CATALOG_NZ_CODE: v.catalog = r.str(r.u8(), 'catalog'); break;
        case Q_LC_TIME_NAMES_CODE: v.lcTimeNamesNumber = r.u16(); break;
        case Q_CHARSET_DATABASE_CODE: v.charsetDatabaseNumber = r.u16(); break;
        case Q_TABLE_MAP_FOR_UPDATE_CODE: v.tableMapForUpdate = r.u64(); break;
        case Q_MASTER_DATA_WRITTEN_CODE: v.masterDataWritten = r.u32(); break;
        case Q_INVOKER: {
          const user = r.str(r.u8(), 'invoker user');
          v.invoker = { user, host: r.str(r.u8(), 'invoker host') };
          break;
        }
        case Q_UPDATED_DB_NAMES: {
          const count = r.u8();
          if (count === OVER_MAX_DBS_IN_EVENT_MTS) {
            v.updatedDbNamesOverflow = true;
          } else {
            const names: string[] = [];
            for (let i = 0; i < count; i++) names.push(r.cstring().toString('utf8'));
            v.updatedDbNames = names;
          }
          break;
        }
        case Q_MICROSECONDS: v.microseconds = r.u24(); break;
        case Q_COMMIT_TS: v.commitTs = r.u64(); break;
        case Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP: v.explicitDefaultsForTimestamp = r.u8() !== 0; break;
        case Q_DDL_LOGGED_WITH_XID: v.ddlXid = r.u64(); break;
        case Q_DEFAULT_COLLATION_FOR_UTF8MB4: v.defaultCollationForUtf8mb4 = r.u16(); break;
        case Q_SQL_REQUIRE_PRIMARY_KEY: v.sqlRequirePrimaryKey = r.u8(); break;
        case Q_DEFAULT_TABLE_ENCRYPTION: v.defaultTableEncryption = r.u8(); break;
        case Q_HRNOW: v.hrnow = r.u24(); break;
        case Q_XID: v.xid = r.u64(); break;
        case Q_GTID_FLAGS3: {
          v.gtidFlagsExtra = r.u8();
          if (v.gtidFlagsExtra & (FL_COMMIT_ALTER_E1 | FL_ROLLBACK_ALTER_E1)) v.startAlterSeqNo = r.u64();
          break;
        }
        case Q_CHARACTER_SET_COLLATIONS: {
          const pairs: [number, number][] = [];
          for (let n = r.u8(); n > 0; n--) pairs.push([r.u16(), r.u16()]);
          v.characterSetCollations = pairs;
          break;
        }
        default:
          v.unknownStatusVar = code;
          return v;
      }
    }
  } catch (err) {
    if (!(err instanceof BinlogFormatError)) throw err;
    // A value running past the block: keep what was read and say so.
    v.truncatedStatusVars = true;
  }
  return v;
}
