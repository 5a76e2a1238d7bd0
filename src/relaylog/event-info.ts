// The Event_type and Info columns of SHOW RELAYLOG EVENTS / SHOW BINLOG EVENTS for one decoded event, in
// MariaDB 10.11's words (its Log_event::get_type_str and pack_info); the MySQL-only events in MySQL 8's.
// Pure: an event in, two strings out.
import type { BinlogEvent, DecodedEvent } from '../binlog/events.js';
import { formatGtid } from '../gtid/mariadb-gtid.js';
import { formatMysqlGtid, MysqlGtidSet } from '../gtid/mysql-gtid-set.js';

export { eventTypeName } from '../binlog/event-names.js';

/**
 * The collations a user variable's Info names (`_utf8mb4 X'..' COLLATE utf8mb4_unicode_ci`). The common ones
 * only: another id is shown as `COLLATE <id>`, which the servers never print.
 */
const COLLATIONS: Record<number, string> = {
  8: 'latin1_swedish_ci', 11: 'ascii_general_ci', 28: 'gbk_chinese_ci', 33: 'utf8mb3_general_ci', 45: 'utf8mb4_general_ci',
  46: 'utf8mb4_bin', 47: 'latin1_bin', 63: 'binary', 83: 'utf8mb3_bin', 192: 'utf8mb3_unicode_ci',
  224: 'utf8mb4_unicode_ci', 255: 'utf8mb4_0900_ai_ci',
};

/**
 * `_charset X'hex' COLLATE name`, the servers' form of a string value in an Info column; mariadb-binlog quotes
 * the collation name (`quoteCollation`).
 */
export function stringLiteral(value: Buffer, collationId: number, quoteCollation = false): string {
  const name = COLLATIONS[collationId];
  const charset = name === undefined ? 'binary' : name.split('_')[0]!;
  const collation = name === undefined ? String(collationId) : quoteCollation ? `\`${name}\`` : name;
  return `_${charset} X'${value.toString('hex').toUpperCase()}' COLLATE ${collation}`;
}

function quoteName(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/** LOG_EVENT_SUPPRESS_USE_F: the statement's database is for filters only (CREATE/DROP DATABASE). */
const SUPPRESS_USE_F = 0x0008;

function statementInfo(database: string, sql: Buffer, flags: number): string {
  const text = sql.toString('utf8');
  return database && !(flags & SUPPRESS_USE_F) ? `use ${quoteName(database)}; ${text}` : text;
}

/** A user variable's value as SHOW BINLOG EVENTS (or, `quoteCollation`, mariadb-binlog) shows it. */
export function userVarValue(event: Extract<BinlogEvent, { type: 'user_var' }>, quoteCollation = false): string {
  if (event.isNull || event.decoded === null) return 'NULL';
  if (Buffer.isBuffer(event.decoded)) return stringLiteral(event.decoded, event.charset, quoteCollation);
  return String(event.decoded);
}

/** Info of the event `decoded`, as SHOW BINLOG EVENTS shows it. */
export function eventInfo(decoded: DecodedEvent): string {
  const event = decoded.event;
  switch (event.type) {
    case 'format_description':
      return `Server ver: ${event.serverVersion}, Binlog ver: ${event.binlogVersion}`;
    case 'rotate':
      return `${event.nextFile};pos=${event.position}`;
    case 'query':
      return statementInfo(event.database, event.sql, decoded.header.flags);
    case 'execute_load_query':
      return `${statementInfo(event.database, event.sql, decoded.header.flags)} ;file_id=${event.fileId}`;
    case 'xid':
      return `COMMIT /* xid=${event.xid} */`;
    case 'intvar':
      return `${event.kind === 'last_insert_id' ? 'LAST_INSERT_ID' : event.kind === 'insert_id' ? 'INSERT_ID' : 'INVALID_INT'}=${event.value}`;
    case 'rand':
      return `rand_seed1=${event.seed1},rand_seed2=${event.seed2}`;
    case 'user_var':
      return `@${quoteName(event.name)}=${userVarValue(event)}`;
    case 'table_map':
      return `table_id: ${event.tableId} (${event.database}.${event.table})`;
    case 'rows':
      return `table_id: ${event.tableId}${event.statementEnd ? ' flags: STMT_END_F' : ''}`;
    case 'gtid':
      if (event.flavor === 'mysql') {
        const gtid = event.anonymous ? 'ANONYMOUS' : formatMysqlGtid(event);
        return `SET @@SESSION.GTID_NEXT= '${gtid}'`;
      } else {
        const id = `GTID ${formatGtid(event)}`;
        const cid = event.commitId === undefined ? '' : ` cid=${event.commitId}`;
        if (event.xa?.prepared) return `XA START ${xid(event.xa)} ${id}${cid}`;
        return `${event.standalone ? '' : 'BEGIN '}${id}${cid}`;
      }
    case 'previous_gtids':
      return MysqlGtidSet.fromSids(event.sids).toString();
    case 'gtid_list':
      return `[${event.gtids.map(formatGtid).join(',')}]`;
    case 'binlog_checkpoint':
      return event.logFile;
    case 'annotate_rows':
      return event.sql.toString('utf8');
    case 'rows_query':
      return `# ${event.sql.toString('utf8')}`;
    case 'transaction_payload':
      return `decompressed_size=${event.events.reduce((n, e) => n + e.length, 0)} bytes, events=${event.events.length}`;
    case 'begin_load_query':
    case 'append_block':
      return `;file_id=${event.fileId};block_len=${event.data.length}`;
    case 'delete_file':
      return `;file_id=${event.fileId}`;
    case 'heartbeat':
      return event.logFile;
    default:
      return '';
  }
}

function xid(xa: { formatId: number; gtrid: Buffer; bqual: Buffer }): string {
  return `X'${xa.gtrid.toString('hex')}',X'${xa.bqual.toString('hex')}',${xa.formatId}`;
}
