// A source that speaks the replica protocol without being a server: mysql2's server side answers what the I/O
// stage asks while it sets up (src/protocol/dump.ts), COM_REGISTER_SLAVE, and COM_BINLOG_DUMP by streaming
// the events it was given as a source streams its binlog file; COM_BINLOG_DUMP_GTID as MySQL answers it, from
// binlog files given for it. It plays sources no local server can be: hostile
// ones, and MySQL ones serving the binlog files real MySQL servers wrote.
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import mysql from 'mysql2';
import { BinlogDecoder, crc32, encodeRotate } from '../../src/binlog/decoder.js';
import { decodePreviousGtids } from '../../src/binlog/control.js';
import { EVENT_HEADER_LENGTH, EventType } from '../../src/binlog/events.js';
import { ByteReader } from '../../src/binlog/reader.js';
import { MysqlGtidSet } from '../../src/gtid/mysql-gtid-set.js';

/** An event of the binlog file, or bytes written to the socket as they are (packet headers included). */
export type DumpItem = Buffer | { wire: Buffer };

export interface FakeSourceOptions {
  serverId: number;
  /** What SELECT VERSION() says; a version naming MariaDB makes the replica treat the source as MariaDB. */
  version: string;
  checksum: 'CRC32' | 'NONE';
  /** @@server_uuid, which the replica asks a MySQL source for. */
  uuid?: string;
  /** The binlog file the events are in. */
  binlogFile?: string;
  /**
   * The binlog file's events in order from offset 4, its Format_description first, served to every dump from
   * the position it asks for; a function gives them afresh for each dump. When they run out the dump stays
   * open, as a source's does, with heartbeats if the replica asked for them.
   */
  events: readonly DumpItem[] | (() => Iterable<DumpItem> | AsyncIterable<DumpItem>);
  /**
   * The binlog files COM_BINLOG_DUMP_GTID is served from, oldest first, each its events from offset 4
   * (Format_description, Previous_GTIDs, the transactions, the Rotate to the next file). The source's
   * gtid_purged is the first file's Previous_GTIDs (the files before it are gone), its gtid_executed that and
   * every GTID in the files.
   */
  gtidBinlogs?: readonly GtidBinlog[];
}

export interface GtidBinlog {
  name: string;
  events: readonly Buffer[];
}

export interface FakeSource {
  readonly host: string;
  readonly port: number;
  /** COM_BINLOG_DUMP requests received so far, with the position each asked for (the set, for a GTID dump). */
  readonly dumps: { file: string; position: number; gtidSet?: string }[];
  close(): Promise<void>;
}

/** The parts of mysql2's server-side connection used here; its typings do not describe the server side. */
interface ServerConnection {
  stream: Socket;
  sequenceId: number;
  serverHandshake(args: Record<string, unknown>): void;
  on(event: string, listener: (...args: any[]) => void): void;
  writeColumns(columns: Record<string, unknown>[]): void;
  writeTextRow(values: (string | null)[]): void;
  writeEof(): void;
}

const COM_BINLOG_DUMP = 0x12;
const COM_REGISTER_SLAVE = 0x15;
const COM_BINLOG_DUMP_GTID = 0x1e;
const MAX_PACKET_PAYLOAD = 0xffffff;
// CLIENT_LONG_PASSWORD | FOUND_ROWS | LONG_FLAG | CONNECT_WITH_DB | PROTOCOL_41 | TRANSACTIONS |
// SECURE_CONNECTION | MULTI_STATEMENTS | MULTI_RESULTS | PLUGIN_AUTH: no SSL, no compression, no session tracking.
const CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x80000;
const UTF8MB4_GENERAL_CI = 45;
const MYSQL_TYPE_VAR_STRING = 253;
const ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236;

export async function startFakeSource(options: FakeSourceOptions): Promise<FakeSource> {
  const binlogFile = options.binlogFile ?? 'mysql-bin.000001';
  const sockets = new Set<Socket>();
  const dumps: { file: string; position: number; gtidSet?: string }[] = [];
  let connections = 0;

  const server = mysql.createServer((c) => {
    const conn = c as unknown as ServerConnection;
    sockets.add(conn.stream);
    conn.stream.once('close', () => sockets.delete(conn.stream));
    conn.on('error', () => {});
    const session = new Map<string, string | null>();

    /** One payload as the protocol sends it: packets of at most 0xFFFFFF bytes, the last one shorter. */
    const send = async (payload: Buffer) => {
      for (let at = 0; ; at += MAX_PACKET_PAYLOAD) {
        const part = payload.subarray(at, at + MAX_PACKET_PAYLOAD);
        const header = Buffer.alloc(4);
        header.writeUIntLE(part.length, 0, 3);
        header[3] = conn.sequenceId;
        conn.sequenceId = (conn.sequenceId + 1) % 256;
        await write(conn.stream, Buffer.concat([header, part]));
        if (part.length < MAX_PACKET_PAYLOAD) return;
      }
    };
    const ok = () => send(Buffer.from([0, 0, 0, 2, 0, 0, 0]));
    const error = (errno: number, message: string) => {
      const head = Buffer.alloc(3);
      head[0] = 0xff;
      head.writeUInt16LE(errno, 1);
      return send(Buffer.concat([head, Buffer.from(`#HY000${message}`)]));
    };
    // A reply ends the exchange: the next command starts counting packets at 0 again.
    const reply = (answer: () => Promise<void> | void) => {
      void Promise.resolve().then(answer).then(() => { conn.sequenceId = 0; }, () => conn.stream.destroy());
    };

    const value = (expr: string): string | null => {
      const e = expr.trim();
      const known: Record<string, string> = {
        'version()': options.version, '@@server_id': String(options.serverId), '@@global.server_id': String(options.serverId),
        '@@server_uuid': options.uuid ?? '3e11fa47-71ca-11e1-9e33-c80aa9429562',
        '@@global.binlog_checksum': options.checksum, '@@binlog_checksum': options.checksum,
      };
      if (known[e.toLowerCase()] !== undefined) return known[e.toLowerCase()]!;
      if (/^@\w+$/.test(e)) return session.get(e.toLowerCase()) ?? null;
      if (/^-?\d+$/.test(e)) return e;
      const quoted = /^'(.*)'$/.exec(e);
      if (quoted) return quoted[1]!;
      throw new Error(`the fake source cannot evaluate ${e}`);
    };
    const query = (sql: string) => reply(async () => {
      const set = /^SET\s+(@\w+)\s*=\s*(.+)$/is.exec(sql.trim());
      if (set) {
        session.set(set[1]!.toLowerCase(), value(set[2]!));
        return ok();
      }
      const select = /^SELECT\s+(.+)$/is.exec(sql.trim());
      if (!select) return error(1064, `the fake source does not run ${sql}`);
      const items = select[1]!.split(',').map((item) => {
        const [, expr, alias] = /^(.*?)(?:\s+AS\s+(\w+))?$/is.exec(item.trim())!;
        return { name: alias ?? expr!.trim(), value: value(expr!) };
      });
      conn.writeColumns(items.map(({ name }) => ({
        catalog: 'def', schema: '', table: '', orgTable: '', name, orgName: name, characterSet: UTF8MB4_GENERAL_CI,
        columnLength: 255, columnType: MYSQL_TYPE_VAR_STRING, flags: 0, decimals: 0,
      })));
      conn.writeTextRow(items.map((item) => item.value));
      conn.writeEof();
    });

    conn.serverHandshake({
      protocolVersion: 10, serverVersion: options.version, connectionId: ++connections, statusFlags: 2,
      characterSet: UTF8MB4_GENERAL_CI, capabilityFlags: CAPABILITIES,
      // Any user and password are let in; the OK ends the handshake's packet count.
      authCallback: (_params: unknown, done: (err: null) => void) => {
        done(null);
        conn.sequenceId = 0;
      },
    });
    conn.on('query', query);
    // mysql2's server hands SET statements to this event, whatever the protocol they came in.
    conn.on('stmt_prepare', query);
    conn.on('packet', (packet: { buffer: Buffer; start: number; end: number }, _known: boolean, command: number) => {
      if (command === COM_REGISTER_SLAVE) reply(ok);
      if (command === COM_BINLOG_DUMP) {
        const payload = packet.buffer.subarray(packet.start + 4, packet.end);
        const request = { position: payload.readUInt32LE(1), file: payload.subarray(11).toString('utf8') };
        dumps.push(request);
        void dump(request).catch(() => conn.stream.destroy());
      }
      if (command === COM_BINLOG_DUMP_GTID) {
        const request = gtidDumpRequest(packet.buffer.subarray(packet.start + 4, packet.end));
        dumps.push({ file: request.file, position: request.position, gtidSet: request.gtids.toString() });
        const uuid = options.uuid ?? '3e11fa47-71ca-11e1-9e33-c80aa9429562';
        void serveGtidDump(options.gtidBinlogs ?? [], uuid, request.gtids, {
          event, error, closed: () => conn.stream.destroyed,
          heartbeat: (file, pos) => event(heartbeat(options.serverId, file, pos, checksummed)),
          rotate: (file) => event(encodeRotate({
            serverId: options.serverId, nextFile: file, position: 4n, checksumAlg: checksummed ? 1 : 0,
          })),
          idle: beatWhileIdle,
        }).catch(() => conn.stream.destroy());
      }
    });

    const checksummed = options.checksum === 'CRC32';
    const event = (e: Buffer) => send(Buffer.concat([Buffer.from([0]), e]));
    const dump = async (request: { file: string; position: number }) => {
      if (request.file !== binlogFile) {
        return error(ER_MASTER_FATAL_ERROR_READING_BINLOG, 'Could not find first log file name in binary log index file');
      }
      // As a source does: a Rotate naming where the dump starts, the file's Format_description, then the
      // events from the position asked for.
      await event(encodeRotate({
        serverId: options.serverId, nextFile: binlogFile, position: BigInt(request.position), checksumAlg: checksummed ? 1 : 0,
      }));
      const items = typeof options.events === 'function' ? options.events() : options.events;
      let pos = 4;
      for await (const item of items) {
        if (conn.stream.destroyed) return;
        if (!Buffer.isBuffer(item)) {
          await write(conn.stream, item.wire);
          continue;
        }
        const at = pos;
        pos += item.length;
        if (item[4] === EventType.FORMAT_DESCRIPTION && at === 4) {
          // Away from the head of the file, the Format_description is sent as not being there (end position 0).
          await event(request.position > 4 ? unplaced(item) : item);
        } else if (at >= request.position) {
          await event(item);
        }
      }
      beatWhileIdle(binlogFile, pos);
    };
    /** Once everything is sent: a heartbeat per period, if the replica asked for them. */
    const beatWhileIdle = (file: string, pos: number) => {
      const period = Number(session.get('@master_heartbeat_period') ?? 0) / 1e9;
      if (period > 0) {
        const beat = setInterval(() => {
          if (conn.stream.destroyed) clearInterval(beat);
          else void event(heartbeat(options.serverId, file, pos, checksummed)).catch(() => clearInterval(beat));
        }, period * 1000);
        conn.stream.once('close', () => clearInterval(beat));
      }
    };
  });
  const net = (server as unknown as { _server: NetServer })._server;

  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    host: '127.0.0.1',
    port: (net.address() as AddressInfo).port,
    dumps,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
}

/** COM_BINLOG_DUMP_GTID's payload: flags, server id, file name, position, then the replica's GTID set. */
function gtidDumpRequest(payload: Buffer): { file: string; position: number; gtids: MysqlGtidSet } {
  const nameLength = payload.readUInt32LE(7);
  const at = 11 + nameLength;
  const dataLength = payload.readUInt32LE(at + 8);
  const event = decodePreviousGtids(new ByteReader(payload, at + 12, at + 12 + dataLength));
  if (event.type !== 'previous_gtids') throw new Error('not a GTID set');
  return {
    file: payload.toString('utf8', 11, at), position: Number(payload.readBigUInt64LE(at)),
    gtids: MysqlGtidSet.fromSids(event.sids),
  };
}

interface GtidDumpWire {
  event(e: Buffer): Promise<void>;
  error(errno: number, message: string): Promise<void>;
  heartbeat(file: string, pos: number): Promise<void>;
  rotate(file: string): Promise<void>;
  idle(file: string, pos: number): void;
  closed(): boolean;
}

const GTID_DUMP_EVENTS: ReadonlySet<number> = new Set([EventType.FORMAT_DESCRIPTION, EventType.PREVIOUS_GTIDS,
  EventType.GTID, EventType.GTID_TAGGED, EventType.ANONYMOUS_GTID]);

/** A file's Previous_GTIDs, and each event with the GTID it starts a transaction with (null: anonymous). */
function readGtidBinlog(file: GtidBinlog): { previous: MysqlGtidSet; gtids: (MysqlGtidSet | null | undefined)[] } {
  const decoder = new BinlogDecoder();
  let previous: MysqlGtidSet | undefined;
  const gtids = file.events.map((raw) => {
    if (!GTID_DUMP_EVENTS.has(raw[4]!)) return undefined;
    const { event } = decoder.decode(raw);
    if (event.type === 'previous_gtids') previous = MysqlGtidSet.fromSids(event.sids);
    if (event.type !== 'gtid' || event.flavor !== 'mysql') return undefined;
    return event.anonymous ? null : new MysqlGtidSet().add(event);
  });
  if (!previous) throw new Error(`${file.name} has no Previous_GTIDs: a GTID dump cannot be served from it`);
  return { previous, gtids };
}

const REPLICA_HAS_MORE_GTIDS = "Replica has more GTIDs than the source has, using the source's SERVER_UUID. This " +
  'may indicate that the end of the binary log was truncated or that the last binary log file was lost, e.g., ' +
  'after a power or disk failure when sync_binlog != 1. The source may or may not have rolled back transactions ' +
  'that were already replicated to the replica. Suggest to replicate any transactions that source has rolled back ' +
  'from replica to source, and/or commit empty transactions on source to account for transactions that have ' +
  'been committed on source but are not included in GTID_EXECUTED.';
const SOURCE_PURGED_REQUIRED_GTIDS = 'Cannot replicate because the source purged required binary logs. Replicate ' +
  'the missing transactions from elsewhere, or provision a new replica from backup. Consider increasing the ' +
  "source's binary log expiration period.";

/**
 * What MySQL's dump thread does for COM_BINLOG_DUMP_GTID (rpl_binlog_sender.cc): refuses a replica that has
 * GTIDs of the source's own uuid the source never had, and one that lacks GTIDs the source has purged; starts
 * from the newest file whose Previous_GTIDs the replica has entirely; per file sends a Rotate naming it, then its
 * events, leaving out each transaction whose GTID the replica has (its events up to the next GTID, Rotates
 * excepted) and sending a heartbeat at the end of what it left out before the next event it sends. When the
 * replica has the first transaction of the start file, the Format_descriptions go out with their created
 * timestamp 0, so that the replica does not take the dump for a restarted source and drop its temporary tables.
 */
async function serveGtidDump(files: readonly GtidBinlog[], sourceUuid: string, replica: MysqlGtidSet,
  wire: GtidDumpWire): Promise<void> {
  const read = files.map(readGtidBinlog);
  const purged = read[0]?.previous ?? new MysqlGtidSet();
  let executed = purged;
  for (const { gtids } of read) for (const g of gtids) if (g) executed = executed.union(g);
  if (!executed.ofUuid(sourceUuid).containsSet(replica.ofUuid(sourceUuid))) {
    return wire.error(ER_MASTER_FATAL_ERROR_READING_BINLOG, REPLICA_HAS_MORE_GTIDS);
  }
  if (!replica.containsSet(purged)) {
    return wire.error(ER_MASTER_FATAL_ERROR_READING_BINLOG, `${SOURCE_PURGED_REQUIRED_GTIDS} The GTID set sent by ` +
      `the replica is '${replica}', and the missing transactions are '${purged.subtract(replica)}'.`);
  }
  let first = read.length - 1;
  while (first > 0 && !replica.containsSet(read[first]!.previous)) first--;
  const firstGtid = read[Math.max(first, 0)]?.gtids.find((g) => g);
  const clearCreated = firstGtid ? replica.containsSet(firstGtid) : false;
  let file = files[0]?.name ?? 'binlog.000001';
  let pos = 4;
  for (let i = Math.max(first, 0); i < files.length; i++) {
    file = files[i]!.name;
    pos = 4;
    await wire.rotate(file);
    let excluding = false;
    let excludedUpTo = 0;
    for (const [n, raw] of files[i]!.events.entries()) {
      if (wire.closed()) return;
      pos += raw.length;
      const gtid = read[i]!.gtids[n];
      if (gtid === null) {
        return wire.error(ER_MASTER_FATAL_ERROR_READING_BINLOG, 'Cannot replicate anonymous transaction when ' +
          `AUTO_POSITION = 1, at file '${file}', position ${pos - raw.length}.`);
      }
      if (gtid) excluding = replica.containsSet(gtid);
      else if (raw[4] === EventType.ROTATE) excluding = false;
      if (excluding) {
        excludedUpTo = pos;
        continue;
      }
      if (excludedUpTo) await wire.heartbeat(file, excludedUpTo);
      excludedUpTo = 0;
      await wire.event(clearCreated && raw[4] === EventType.FORMAT_DESCRIPTION ? uncreated(raw) : raw);
    }
    if (excluding) await wire.heartbeat(file, pos);
  }
  wire.idle(file, pos);
}

/** Writes, waiting for the socket to drain (or close) when its buffer is full. */
function write(socket: Socket, bytes: Buffer): Promise<void> {
  if (socket.destroyed || socket.write(bytes)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

function sealed(event: Buffer, checksummed: boolean): Buffer {
  if (checksummed) event.writeUInt32LE(crc32(event.subarray(0, event.length - 4)), event.length - 4);
  return event;
}

/** A Format_description as a source re-sends it for a dump that does not start at the head of the file. */
function unplaced(format: Buffer): Buffer {
  const copy = Buffer.from(format);
  copy.writeUInt32LE(0, 13);
  // Format_descriptions always carry a CRC32 (servers that know checksums write one whatever the algorithm).
  return sealed(copy, true);
}

/** A Format_description with its created timestamp 0 (the time its server started, in the first binlog after). */
function uncreated(format: Buffer): Buffer {
  const copy = Buffer.from(format);
  copy.writeUInt32LE(0, EVENT_HEADER_LENGTH + 2 + 50);
  return sealed(copy, true);
}

/** MariaDB's heartbeat: the binlog file name, the end of the last event sent as its end position. */
function heartbeat(serverId: number, file: string, pos: number, checksummed: boolean): Buffer {
  const name = Buffer.from(file);
  const event = Buffer.alloc(EVENT_HEADER_LENGTH + name.length + (checksummed ? 4 : 0));
  event[4] = EventType.HEARTBEAT;
  event.writeUInt32LE(serverId, 5);
  event.writeUInt32LE(event.length, 9);
  event.writeUInt32LE(pos, 13);
  name.copy(event, EVENT_HEADER_LENGTH);
  return sealed(event, checksummed);
}

/**
 * The start of a packet sequence that claims a 16 MiB packet and, inside it, an event of `eventLength` bytes,
 * followed by only `sent` bytes of it: what a hostile source sends to make a replica buffer without end.
 */
export function oversizedPacket(eventLength: number, sent: number): DumpItem {
  const header = Buffer.alloc(EVENT_HEADER_LENGTH);
  header[4] = EventType.QUERY;
  header.writeUInt32LE(eventLength >>> 0, 9);
  const packet = Buffer.alloc(4 + 1 + sent);
  packet.writeUIntLE(MAX_PACKET_PAYLOAD, 0, 3);
  packet[3] = 1;
  header.copy(packet, 5);
  return { wire: packet };
}
