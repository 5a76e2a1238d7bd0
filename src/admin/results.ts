// The result sets of the admin endpoint's SHOW statements and functions, as the servers send them: the same
// column names in the same order, each value as the text the server's type gives it. Pure.
import { formatFilterList, type ReplicationFilters } from '../filter/index.js';
import type { RelayLogEvent } from '../relaylog/events-listing.js';
import type { ReplicaStatus } from '../status.js';

/** A column's type as the servers declare it for these statements: text, INT, BIGINT, DOUBLE with 3 decimals. */
export type ColumnKind = 'string' | 'int' | 'bigint' | 'double';

export interface ResultColumn {
  name: string;
  kind: ColumnKind;
}

export interface ResultSet {
  columns: ResultColumn[];
  /** Values as the text protocol carries them; null is SQL NULL. */
  rows: (string | null)[][];
}

type Value = string | number | null;
type Field = [name: string, kind: ColumnKind, value: (s: ReplicaStatus) => Value];

const str = (name: string, value: (s: ReplicaStatus) => Value): Field => [name, 'string', value];
const int = (name: string, value: (s: ReplicaStatus) => Value): Field => [name, 'int', value];
const big = (name: string, value: (s: ReplicaStatus) => Value): Field => [name, 'bigint', value];
const ids = (list: number[]) => list.join(',');

/** The replicate_* columns, in the servers' order (Replicate_Rewrite_DB comes later in both forms). */
const FILTER_COLUMNS: [string, keyof ReplicaStatus][] = [
  ['Replicate_Do_DB', 'replicateDoDb'], ['Replicate_Ignore_DB', 'replicateIgnoreDb'],
  ['Replicate_Do_Table', 'replicateDoTable'], ['Replicate_Ignore_Table', 'replicateIgnoreTable'],
  ['Replicate_Wild_Do_Table', 'replicateWildDoTable'], ['Replicate_Wild_Ignore_Table', 'replicateWildIgnoreTable'],
];
const filterFields = FILTER_COLUMNS.map(([name, key]) => str(name, (s) => s[key] as string));

/**
 * SHOW SLAVE STATUS on MariaDB 10.11, column for column. Parallel_Mode is 'none': the SQL stage applies in source
 * order, one transaction after the other. The group counters (Slave_DDL_Groups ...) are not kept: 0.
 */
const MARIADB_FIELDS: Field[] = [
  str('Slave_IO_State', (s) => s.ioState), str('Master_Host', (s) => s.sourceHost), str('Master_User', (s) => s.sourceUser),
  int('Master_Port', (s) => s.sourcePort), int('Connect_Retry', (s) => s.sourceConnectRetry),
  str('Master_Log_File', (s) => s.sourceLogFile), big('Read_Master_Log_Pos', (s) => s.readSourceLogPos),
  str('Relay_Log_File', (s) => s.relayLogFile), big('Relay_Log_Pos', (s) => s.relayLogPos),
  str('Relay_Master_Log_File', (s) => s.relaySourceLogFile), str('Slave_IO_Running', (s) => s.ioRunning),
  str('Slave_SQL_Running', (s) => s.sqlRunning), ...filterFields,
  int('Last_Errno', (s) => s.lastErrno), str('Last_Error', (s) => s.lastError), int('Skip_Counter', (s) => s.skipCounter),
  big('Exec_Master_Log_Pos', (s) => s.execSourceLogPos), big('Relay_Log_Space', (s) => s.relayLogSpace),
  str('Until_Condition', (s) => s.untilCondition), str('Until_Log_File', (s) => s.untilLogFile),
  big('Until_Log_Pos', (s) => s.untilLogPos), str('Master_SSL_Allowed', (s) => s.sourceSslAllowed),
  str('Master_SSL_CA_File', (s) => s.sourceSslCaFile), str('Master_SSL_CA_Path', (s) => s.sourceSslCaPath),
  str('Master_SSL_Cert', (s) => s.sourceSslCert), str('Master_SSL_Cipher', (s) => s.sourceSslCipher),
  str('Master_SSL_Key', (s) => s.sourceSslKey), big('Seconds_Behind_Master', (s) => s.secondsBehindSource),
  str('Master_SSL_Verify_Server_Cert', (s) => s.sourceSslVerifyServerCert), int('Last_IO_Errno', (s) => s.lastIoErrno),
  str('Last_IO_Error', (s) => s.lastIoError), int('Last_SQL_Errno', (s) => s.lastSqlErrno),
  str('Last_SQL_Error', (s) => s.lastSqlError), str('Replicate_Ignore_Server_Ids', (s) => ids(s.replicateIgnoreServerIds)),
  int('Master_Server_Id', (s) => s.sourceServerId), str('Master_SSL_Crl', (s) => s.sourceSslCrl),
  str('Master_SSL_Crlpath', (s) => s.sourceSslCrlpath), str('Using_Gtid', (s) => s.usingGtid),
  str('Gtid_IO_Pos', (s) => s.gtidIoPos), str('Replicate_Do_Domain_Ids', (s) => ids(s.replicateDoDomainIds)),
  str('Replicate_Ignore_Domain_Ids', (s) => ids(s.replicateIgnoreDomainIds)), str('Parallel_Mode', () => 'none'),
  int('SQL_Delay', (s) => s.sqlDelay), int('SQL_Remaining_Delay', (s) => s.sqlRemainingDelay),
  str('Slave_SQL_Running_State', (s) => s.sqlState), big('Slave_DDL_Groups', () => 0),
  big('Slave_Non_Transactional_Groups', () => 0), big('Slave_Transactional_Groups', () => 0),
  str('Replicate_Rewrite_DB', (s) => s.replicateRewriteDb),
];

/** SHOW ALL SLAVES STATUS: the connection's name and SQL state first, and five counters and the GTID position last. */
const MARIADB_ALL_FIELDS: Field[] = [
  str('Connection_name', (s) => s.channel), str('Slave_SQL_State', (s) => s.sqlState), ...MARIADB_FIELDS,
  int('Retried_transactions', (s) => s.retriedTransactions), big('Max_relay_log_size', (s) => s.maxRelayLogSize),
  int('Executed_log_entries', (s) => s.executedLogEntries), int('Slave_received_heartbeats', (s) => s.receivedHeartbeats),
  ['Slave_heartbeat_period', 'double', (s) => s.heartbeatPeriod.toFixed(3)], str('Gtid_Slave_Pos', (s) => s.gtidSlavePos),
];

/** MySQL's Last_*_Error_Timestamp: 'YYMMDD HH:MM:SS' in the server's time zone, '' when there was none. */
function mysqlTimestamp(iso: string): string {
  if (iso === '') return '';
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getFullYear() % 100)}${two(d.getMonth() + 1)}${two(d.getDate())} ${two(d.getHours())}:` +
    `${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The rewrite pairs as MySQL lists them, from the channel's MariaDB-style 'from->to' list. */
function mysqlRewriteList(mariadb: string): string {
  const pairs = mariadb === '' ? [] : mariadb.split(',').map((pair) => pair.split('->') as [string, string]);
  return formatFilterList(pairs as ReplicationFilters['replicateRewriteDb'], 'mysql');
}

/**
 * SHOW REPLICA STATUS as MySQL 8 shows it (its reference manual's column list). Fields the engine has no use for
 * are empty: Source_UUID (MariaDB sources have none), Source_Info_File, Source_Bind, Network_Namespace;
 * Source_Retry_Count is not in the status record: NULL.
 */
const MYSQL_FIELDS: Field[] = [
  str('Replica_IO_State', (s) => s.ioState), str('Source_Host', (s) => s.sourceHost), str('Source_User', (s) => s.sourceUser),
  int('Source_Port', (s) => s.sourcePort), int('Connect_Retry', (s) => s.sourceConnectRetry),
  str('Source_Log_File', (s) => s.sourceLogFile), big('Read_Source_Log_Pos', (s) => s.readSourceLogPos),
  str('Relay_Log_File', (s) => s.relayLogFile), big('Relay_Log_Pos', (s) => s.relayLogPos),
  str('Relay_Source_Log_File', (s) => s.relaySourceLogFile), str('Replica_IO_Running', (s) => s.ioRunning),
  str('Replica_SQL_Running', (s) => s.sqlRunning), ...filterFields,
  int('Last_Errno', (s) => s.lastErrno), str('Last_Error', (s) => s.lastError), int('Skip_Counter', (s) => s.skipCounter),
  big('Exec_Source_Log_Pos', (s) => s.execSourceLogPos), big('Relay_Log_Space', (s) => s.relayLogSpace),
  str('Until_Condition', (s) => (s.untilCondition === 'Master' ? 'Source' : s.untilCondition)),
  str('Until_Log_File', (s) => s.untilLogFile), big('Until_Log_Pos', (s) => s.untilLogPos),
  str('Source_SSL_Allowed', (s) => s.sourceSslAllowed), str('Source_SSL_CA_File', (s) => s.sourceSslCaFile),
  str('Source_SSL_CA_Path', (s) => s.sourceSslCaPath), str('Source_SSL_Cert', (s) => s.sourceSslCert),
  str('Source_SSL_Cipher', (s) => s.sourceSslCipher), str('Source_SSL_Key', (s) => s.sourceSslKey),
  big('Seconds_Behind_Source', (s) => s.secondsBehindSource),
  str('Source_SSL_Verify_Server_Cert', (s) => s.sourceSslVerifyServerCert), int('Last_IO_Errno', (s) => s.lastIoErrno),
  str('Last_IO_Error', (s) => s.lastIoError), int('Last_SQL_Errno', (s) => s.lastSqlErrno),
  str('Last_SQL_Error', (s) => s.lastSqlError), str('Replicate_Ignore_Server_Ids', (s) => ids(s.replicateIgnoreServerIds)),
  int('Source_Server_Id', (s) => s.sourceServerId), str('Source_UUID', () => ''), str('Source_Info_File', () => ''),
  int('SQL_Delay', (s) => s.sqlDelay), int('SQL_Remaining_Delay', (s) => s.sqlRemainingDelay),
  str('Replica_SQL_Running_State', (s) => s.sqlState), big('Source_Retry_Count', () => null), str('Source_Bind', () => ''),
  str('Last_IO_Error_Timestamp', (s) => mysqlTimestamp(s.lastIoErrorTimestamp)),
  str('Last_SQL_Error_Timestamp', (s) => mysqlTimestamp(s.lastSqlErrorTimestamp)),
  str('Source_SSL_Crl', (s) => s.sourceSslCrl), str('Source_SSL_Crlpath', (s) => s.sourceSslCrlpath),
  str('Retrieved_Gtid_Set', (s) => s.retrievedGtidSet), str('Executed_Gtid_Set', (s) => s.executedGtidSet),
  int('Auto_Position', (s) => s.autoPosition), str('Replicate_Rewrite_DB', (s) => mysqlRewriteList(s.replicateRewriteDb)),
  str('Channel_Name', (s) => s.channel), str('Source_TLS_Version', (s) => s.sourceTlsVersion),
  str('Source_public_key_path', (s) => s.sourcePublicKeyPath), int('Get_Source_public_key', (s) => s.getSourcePublicKey),
  str('Network_Namespace', () => ''),
];

const STATUS_FORMS = { all: MARIADB_ALL_FIELDS, slave: MARIADB_FIELDS, replica: MYSQL_FIELDS } as const;

function text(value: Value): string | null {
  return value === null ? null : String(value);
}

/** The rows of SHOW ALL SLAVES STATUS ('all'), SHOW SLAVE STATUS ('slave') or SHOW REPLICA STATUS ('replica'). */
export function statusResult(form: keyof typeof STATUS_FORMS, statuses: ReplicaStatus[]): ResultSet {
  const fields = STATUS_FORMS[form];
  return {
    columns: fields.map(([name, kind]) => ({ name, kind })),
    rows: statuses.map((status) => fields.map(([, , value]) => text(value(status)))),
  };
}

/** SHOW RELAYLOG EVENTS. */
export function relayLogEventsResult(events: RelayLogEvent[]): ResultSet {
  return {
    columns: [
      { name: 'Log_name', kind: 'string' }, { name: 'Pos', kind: 'bigint' }, { name: 'Event_type', kind: 'string' },
      { name: 'Server_id', kind: 'int' }, { name: 'End_log_pos', kind: 'bigint' }, { name: 'Info', kind: 'string' },
    ],
    rows: events.map((e) => [e.logName, String(e.pos), e.eventType, String(e.serverId), String(e.endLogPos), e.info]),
  };
}

/** A one-row, one-column result, as SELECT of a function or variable gives. */
export function valueResult(name: string, kind: ColumnKind, value: Value): ResultSet {
  return { columns: [{ name, kind }], rows: [[text(value)]] };
}
