// Hand-built event groups, as the TransactionGrouper hands them to the applier: for the renderer's unit tests and
// the applier's tests against a server.
import { EventType, type BinlogEvent, type DecodedEvent, type QueryEvent } from '../../src/binlog/events.js';
import type { ChannelPosition } from '../../src/info/position-table.js';
import type { TransactionGroup } from '../../src/apply/render.js';

export const UTF8MB4 = 45;
const ROWS_TYPE = { write: EventType.WRITE_ROWS, update: EventType.UPDATE_ROWS, delete: EventType.DELETE_ROWS };

let logPos = 4;
/** An event with a header: the type code of its kind, and growing end positions. */
export function decoded(event: BinlogEvent): DecodedEvent {
  logPos += 100;
  const typeCode = event.type === 'rows' ? ROWS_TYPE[event.kind] : event.type === 'query' ? EventType.QUERY : 0;
  return { header: { timestamp: 1_700_000_000, typeCode, serverId: 1, eventLength: 100, logPos, flags: 0 }, event };
}

export function position(pos: number): ChannelPosition {
  return { relayLogFile: 'relay-bin.000001', relayLogPos: pos, sourceLogFile: 'bin.000001', sourceLogPos: pos };
}

let at = 4;
/** A group of `events` at the next free positions, each group 1000 bytes after the one before. */
export function group(events: BinlogEvent[], { kind = 'transaction', rollback = false }:
  { kind?: TransactionGroup['kind']; rollback?: boolean } = {}): TransactionGroup {
  const start = position(at);
  at += 1000;
  return { kind, events: events.map(decoded), start, end: position(at), rollback, database: (e) => e.database };
}

export const ddl = (sql: string) => group([query(sql)], { kind: 'ddl' });

/** A Query event in utf8mb4 with default database `database`. */
export function query(sql: string, { errorCode = 0, database = 'd' } = {}): QueryEvent {
  return { type: 'query', threadId: 7, executionTime: 0, errorCode, database, sql: Buffer.from(sql, 'utf8'),
    statusVars: { charset: { client: UTF8MB4, connection: UTF8MB4, server: UTF8MB4 } } };
}
