// The servers' names of event types (SHOW BINLOG EVENTS' Event_type, their error messages): MariaDB 10.11's
// Log_event::get_type_str, and MySQL 8's for the events only MySQL writes.
import { EventType } from './events.js';

const TYPE_NAMES: Record<number, string> = {
  [EventType.START_V3]: 'Start_v3',
  [EventType.QUERY]: 'Query',
  [EventType.STOP]: 'Stop',
  [EventType.ROTATE]: 'Rotate',
  [EventType.INTVAR]: 'Intvar',
  [EventType.LOAD]: 'Load',
  [EventType.SLAVE]: 'Slave',
  [EventType.CREATE_FILE]: 'Create_file',
  [EventType.APPEND_BLOCK]: 'Append_block',
  [EventType.EXEC_LOAD]: 'Exec_load',
  [EventType.DELETE_FILE]: 'Delete_file',
  [EventType.NEW_LOAD]: 'New_load',
  [EventType.RAND]: 'RAND',
  [EventType.USER_VAR]: 'User var',
  [EventType.FORMAT_DESCRIPTION]: 'Format_desc',
  [EventType.XID]: 'Xid',
  [EventType.BEGIN_LOAD_QUERY]: 'Begin_load_query',
  [EventType.EXECUTE_LOAD_QUERY]: 'Execute_load_query',
  [EventType.TABLE_MAP]: 'Table_map',
  [EventType.WRITE_ROWS_V1]: 'Write_rows_v1',
  [EventType.UPDATE_ROWS_V1]: 'Update_rows_v1',
  [EventType.DELETE_ROWS_V1]: 'Delete_rows_v1',
  [EventType.INCIDENT]: 'Incident',
  [EventType.HEARTBEAT]: 'Heartbeat',
  [EventType.IGNORABLE]: 'Ignorable',
  [EventType.ROWS_QUERY]: 'Rows_query',
  [EventType.WRITE_ROWS]: 'Write_rows',
  [EventType.UPDATE_ROWS]: 'Update_rows',
  [EventType.DELETE_ROWS]: 'Delete_rows',
  [EventType.GTID]: 'Gtid',
  [EventType.ANONYMOUS_GTID]: 'Anonymous_Gtid',
  [EventType.PREVIOUS_GTIDS]: 'Previous_gtids',
  [EventType.TRANSACTION_CONTEXT]: 'Transaction_context',
  [EventType.VIEW_CHANGE]: 'View_change',
  [EventType.XA_PREPARE]: 'XA_prepare',
  [EventType.PARTIAL_UPDATE_ROWS]: 'Update_rows_partial',
  [EventType.TRANSACTION_PAYLOAD]: 'Transaction_payload',
  [EventType.HEARTBEAT_V2]: 'Heartbeat_v2',
  [EventType.GTID_TAGGED]: 'Gtid_tagged',
  [EventType.MARIA_ANNOTATE_ROWS]: 'Annotate_rows',
  [EventType.MARIA_BINLOG_CHECKPOINT]: 'Binlog_checkpoint',
  [EventType.MARIA_GTID]: 'Gtid',
  [EventType.MARIA_GTID_LIST]: 'Gtid_list',
  [EventType.MARIA_START_ENCRYPTION]: 'Start_encryption',
  [EventType.MARIA_QUERY_COMPRESSED]: 'Query_compressed',
  [EventType.MARIA_WRITE_ROWS_COMPRESSED_V1]: 'Write_rows_compressed_v1',
  [EventType.MARIA_UPDATE_ROWS_COMPRESSED_V1]: 'Update_rows_compressed_v1',
  [EventType.MARIA_DELETE_ROWS_COMPRESSED_V1]: 'Delete_rows_compressed_v1',
  [EventType.MARIA_WRITE_ROWS_COMPRESSED]: 'Write_rows_compressed',
  [EventType.MARIA_UPDATE_ROWS_COMPRESSED]: 'Update_rows_compressed',
  [EventType.MARIA_DELETE_ROWS_COMPRESSED]: 'Delete_rows_compressed',
};

/** Event_type as the servers name the type code. */
export function eventTypeName(typeCode: number): string {
  return TYPE_NAMES[typeCode] ?? 'Unknown';
}

