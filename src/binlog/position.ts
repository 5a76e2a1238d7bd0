// Positions and their order, one module for all of them: source binlog positions, relay log positions and a
// channel's positions. Source positions are computed from the event stream, as ARCHITECTURE.md "Positions" says:
// by adding event lengths, since MariaDB 11.4+ writes 0 as the end position of events inside transactions. One
// tracker serves the I/O stage (Read_Master_Log_Pos) and the SQL stage (Exec_Master_Log_Pos).
import { EventType, LOG_EVENT_ARTIFICIAL_F, type BinlogEvent, type EventHeader } from './events.js';

export interface SourcePosition {
  file: string;
  pos: number;
}

/** Orders two source positions: negative, zero or positive like a comparator. */
export function compareSourcePositions(a: SourcePosition, b: SourcePosition): number {
  if (a.file !== b.file) {
    const seqA = binlogSequence(a.file);
    const seqB = binlogSequence(b.file);
    if (seqA !== seqB) return seqA < seqB ? -1 : 1;
    return a.file < b.file ? -1 : 1;
  }
  return a.pos - b.pos;
}

/** The sequence number of a binlog or relay log file name (`mysql-bin.000042` is 42); -1 when it has none. */
export function binlogSequence(file: string): number {
  const dot = file.lastIndexOf('.');
  const seq = Number(file.slice(dot + 1));
  return Number.isFinite(seq) ? seq : -1;
}

/** A position in this replica's relay log (Relay_Log_File / Relay_Log_Pos). */
export interface RelayLogPosition {
  relayLogFile: string;
  relayLogPos: number;
}

/** Orders two relay log positions: files by their sequence number, then positions. */
export function compareRelayPositions(a: RelayLogPosition, b: RelayLogPosition): number {
  return binlogSequence(a.relayLogFile) - binlogSequence(b.relayLogFile) || a.relayLogPos - b.relayLogPos;
}

/**
 * Orders a channel's positions by their relay log position, which only grows while the SQL stage runs (source
 * positions do not: a GTID channel moved to another source goes on in that source's files); an unknown
 * position sorts first.
 */
export function compareChannelPositions(a: RelayLogPosition, b: RelayLogPosition | undefined): number {
  if (!b) return 1;
  return compareRelayPositions(a, b);
}

export class SourcePositionTracker {
  file: string;
  pos: number;

  constructor(start: SourcePosition) {
    this.file = start.file;
    this.pos = start.pos;
  }

  position(): SourcePosition {
    return { file: this.file, pos: this.pos };
  }

  /**
   * Moves past one event. `event` is needed only for Rotate (which names the next position); other events are
   * judged by their header alone:
   * - Rotate, real or artificial, sets the position it names.
   * - A Format_description occupies bytes only when it is the one at position 4 of the file; the copy a source
   *   sends at the start of a dump from a later position, and the one a replica writes at the head of its relay
   *   log files, are not in the source's binlog there.
   * - Other artificial events, and heartbeats, are made up by the sender and occupy nothing.
   */
  advance(header: EventHeader, event?: BinlogEvent): void {
    if (header.typeCode === EventType.ROTATE) {
      if (event?.type !== 'rotate') throw new Error('Rotate event must be decoded to advance a source position');
      this.file = event.nextFile;
      this.pos = Number(event.position);
      return;
    }
    if (header.typeCode === EventType.FORMAT_DESCRIPTION) {
      if (this.pos === 4 && header.logPos === 4 + header.eventLength) this.pos = header.logPos;
      return;
    }
    // Heartbeats are made up by the source too, though MariaDB sends them without the artificial flag.
    if (header.flags & LOG_EVENT_ARTIFICIAL_F || header.typeCode === EventType.HEARTBEAT ||
      header.typeCode === EventType.HEARTBEAT_V2) return;
    this.pos += header.eventLength;
  }
}
