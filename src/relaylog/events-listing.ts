// SHOW RELAYLOG EVENTS: the events of one relay log file as rows, read from the file up to the size the relay
// log knows holds whole events (never the part the I/O stage is writing).
import { open } from 'node:fs/promises';
import { BINLOG_MAGIC, EVENT_HEADER_LENGTH, EventType, STMT_END_F, type DecodedEvent } from '../binlog/events.js';
import { BinlogDecoder, decodeHeader, isRowsEventType } from '../binlog/decoder.js';
import { ReplicationError } from '../errors.js';
import { eventInfo, eventTypeName } from './event-info.js';
import type { RelayLog } from './relay-log.js';

/** One row of SHOW RELAYLOG EVENTS. */
export interface RelayLogEvent {
  /** Log_name: the relay log file. */
  logName: string;
  /** Pos: where the event starts in the file. */
  pos: number;
  /** Event_type: the servers' name of the type (Query, Table_map, Write_rows_v1, Gtid ...). */
  eventType: string;
  /** Server_id: of the server that wrote the event first. */
  serverId: number;
  /** End_log_pos: as the event's header says, the end of the event in the source's binlog. */
  endLogPos: number;
  /** Info: what the event says, as the servers show it. */
  info: string;
}

/** SHOW RELAYLOG EVENTS [IN 'file'] [FROM pos] [LIMIT [offset,] limit]. */
export interface RelayLogEventsOptions {
  /** The relay log file; the first one when left out. */
  file?: string;
  /** Where the first event listed starts; the first event of the file when left out. */
  pos?: number;
  /** At most this many rows. */
  limit?: number;
  /** Rows to leave out before the first one listed. */
  offset?: number;
}


function commandError(reason: string): ReplicationError {
  return new ReplicationError('ER_ERROR_WHEN_EXECUTING_COMMAND', `Error when executing command SHOW RELAYLOG EVENTS: ${reason}`);
}

function checkCount(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new ReplicationError('ER_WRONG_ARGUMENTS', `${name} must be an integer >= 0, got ${value}`);
  }
}

/** Event_type and Info of a decoded event (rows events are read only as far as table id and flags). */
function describe(raw: Buffer, decoder: BinlogDecoder): { eventType: string; info: string } {
  const typeCode = raw[4]!;
  if (isRowsEventType(typeCode)) {
    // Only table id and flags show, so the row images (which need their Table_map, perhaps before `pos`)
    // are not decoded.
    const idBytes = decoder.format?.postHeaderLengths[typeCode - 1] === 6 ? 4 : 6;
    if (raw.length < EVENT_HEADER_LENGTH + idBytes + 2) throw new Error(`${eventTypeName(typeCode)} event too short`);
    const tableId = raw.readUIntLE(EVENT_HEADER_LENGTH, idBytes);
    const flags = raw.readUInt16LE(EVENT_HEADER_LENGTH + idBytes);
    return { eventType: eventTypeName(typeCode), info: `table_id: ${tableId}${flags & STMT_END_F ? ' flags: STMT_END_F' : ''}` };
  }
  const decoded: DecodedEvent = decoder.decode(raw);
  return { eventType: eventTypeName(typeCode), info: eventInfo(decoded) };
}

/**
 * The rows of SHOW RELAYLOG EVENTS for `relayLog`. Errors as the servers give them: 1220 for a file the index
 * does not name, a position past the end, or one where no event starts.
 */
export async function listRelayLogEvents(relayLog: RelayLog, options: RelayLogEventsOptions = {}): Promise<RelayLogEvent[]> {
  checkCount('pos', options.pos);
  checkCount('limit', options.limit);
  checkCount('offset', options.offset);
  const file = options.file ?? relayLog.list()[0];
  if (file === undefined) return [];
  const size = relayLog.size(file);
  if (size === undefined) throw commandError('Could not find target log');
  const from = Math.max(options.pos ?? BINLOG_MAGIC.length, BINLOG_MAGIC.length);
  if (from > size) throw commandError(`Invalid pos specified. Requested from pos:${from} is greater than actual file size:${size}`);
  let skip = options.offset ?? 0;
  const limit = options.limit ?? Infinity;
  const rows: RelayLogEvent[] = [];
  const decoder = new BinlogDecoder();
  // The file may be purged or reset between the look at the index and here.
  const handle = await open(relayLog.path(file), 'r').catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? commandError('Could not find target log') : commandError(`I/O error: ${err.message}`);
  });
  try {
    const header = Buffer.alloc(EVENT_HEADER_LENGTH);
    let reached = false;
    for (let pos = BINLOG_MAGIC.length; pos < size && rows.length < limit;) {
      // The servers list from an event's start only.
      if (pos > from && !reached) throw commandError('Wrong offset or I/O error');
      reached ||= pos === from;
      await handle.read(header, 0, EVENT_HEADER_LENGTH, pos);
      const { eventLength, typeCode, serverId, logPos } = decodeHeader(header);
      if (eventLength < EVENT_HEADER_LENGTH || pos + eventLength > size) throw commandError('Wrong offset or I/O error');
      // Before `from` only Format_descriptions matter: they say how the events after them are laid out.
      if (pos >= from || typeCode === EventType.FORMAT_DESCRIPTION) {
        const raw = Buffer.alloc(eventLength);
        await handle.read(raw, 0, eventLength, pos);
        let described: { eventType: string; info: string };
        try {
          described = describe(raw, decoder);
        } catch (err) {
          throw commandError(`the event at ${file}:${pos} cannot be read (${(err as Error).message})`);
        }
        if (pos >= from) {
          if (skip > 0) skip--;
          else rows.push({ logName: file, pos, eventType: described.eventType, serverId, endLogPos: logPos, info: described.info });
        }
      }
      pos += eventLength;
    }
  } finally {
    await handle.close();
  }
  return rows;
}
