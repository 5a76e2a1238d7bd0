// Gtid_IO_Pos found again in the relay log after a restart or a kill -9: the I/O stage states it at the head of
// every relay log file it begins (its own Gtid_list), and after groups it left out (FLAG_IGN_GTIDS); the whole
// groups after that in the last file move it on. The relay log is written before anything else records what
// was received, so nothing kept beside it can be ahead of or behind it.
import { BinlogDecoder, decodeHeader } from '../binlog/decoder.js';
import { EventType } from '../binlog/events.js';
import type { RelayLog } from '../relaylog/relay-log.js';
import { MariadbGroupTracker } from './event-groups.js';
import { GTID_LIST_IGN_GTIDS, MariadbGtidPosition } from './mariadb-gtid.js';

/** The events read: the ones a group tracker needs, and those that keep the decoder's format. */
const READ = new Set<number>([EventType.FORMAT_DESCRIPTION, EventType.MARIA_GTID, EventType.MARIA_GTID_LIST,
  EventType.XID, EventType.XA_PREPARE, EventType.QUERY]);

/**
 * The GTID position of the whole groups the relay log holds, from its last file; undefined when that file was
 * not written in GTID mode (or there is none): the I/O stage then starts from the applied GTID state.
 */
export async function relayLogGtidPosition(relayLog: RelayLog, replicaServerId: number): Promise<MariadbGtidPosition | undefined> {
  const last = relayLog.list().at(-1);
  if (last === undefined) return undefined;
  const reader = relayLog.reader({ file: last, pos: 4 });
  const decoder = new BinlogDecoder();
  const groups = new MariadbGroupTracker();
  let position: MariadbGtidPosition | undefined;
  try {
    for (let event = await reader.tryNext(); event && event.file === last; event = await reader.tryNext()) {
      const header = decodeHeader(event.raw);
      if (!READ.has(header.typeCode)) continue;
      const e = decoder.decode(event.raw).event;
      if (e.type === 'gtid_list' && header.serverId === replicaServerId) {
        // Our own: the head of the file (flags 0), or the position after groups left out (FLAG_IGN_GTIDS).
        if (position === undefined || ((e.flags ?? 0) & GTID_LIST_IGN_GTIDS) !== 0) position = MariadbGtidPosition.fromList(e.gtids);
        continue;
      }
      const ended = groups.event(e);
      if (ended && position) position = position.with(ended);
    }
  } finally {
    await reader.close();
  }
  return position;
}
