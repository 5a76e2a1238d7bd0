// A source that speaks the replica protocol without being a server: mysql2's server side answers what the I/O
// stage asks while it sets up (src/protocol/dump.ts), COM_REGISTER_SLAVE, and COM_BINLOG_DUMP by streaming
// the events it was given as a source streams its binlog file; COM_BINLOG_DUMP_GTID as MySQL answers it, from
// binlog files given for it. It plays sources no local server can be: hostile
// ones, and MySQL ones serving the binlog files real MySQL servers wrote.
import { constants, generateKeyPairSync, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import mysql from 'mysql2';
import { AuthByte, sha2Scramble } from '../../src/protocol/auth.js';
import { versionAtLeast } from '../../src/protocol/dump.js';
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
  /** Log in as MySQL 8.4 does (caching_sha2_password, TLS); left out, any user and password are let in. */
  mysqlAuth?: MysqlAuthOptions;
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
  /** With mysqlAuth: every login, in order. */
  readonly authentications: Authentication[];
  /** With mysqlAuth: the RSA public key (PEM) the source sends when asked for it. */
  readonly publicKeyPem: string;
  close(): Promise<void>;
}

/** The parts of mysql2's server-side connection used here; its typings do not describe the server side. */
interface ServerConnection {
  stream: Socket;
  sequenceId: number;
  packetParser: { execute(chunk: Buffer): void };
  addCommand(command: object): void;
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
  const authentications: Authentication[] = [];
  const cache = new Set<string>();
  const keys = options.mysqlAuth ? serverKeys() : undefined;

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
      const removed = removedForm(options.version, sql);
      if (removed) {
        return error(1064, 'You have an error in your SQL syntax; check the manual that corresponds to your MySQL ' +
          `server version for the right syntax to use near '${removed}' at line 1`);
      }
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

    if (options.mysqlAuth) {
      void mysqlLogin(conn, options.version, ++connections, options.mysqlAuth, keys!, cache, authentications)
        .catch(() => conn.stream.destroy());
    } else conn.serverHandshake({
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
      if (checksummed && String(announced(options.version, session, 'binlog_checksum') ?? 'NONE').toUpperCase() !== 'CRC32') {
        return error(ER_MASTER_FATAL_ERROR_READING_BINLOG, 'Replica can not handle replication events with the ' +
          'checksum that source is configured to log');
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
      const period = Number(announced(options.version, session, 'heartbeat_period') ?? 0) / 1e9;
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
    authentications,
    publicKeyPem: keys?.publicPem ?? '',
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

/**
 * A user variable a replica announces itself with (binlog_checksum, heartbeat_period), by the names this version
 * reads: master_* before MySQL 8.0.26, both until 8.4, only source_* from 8.4 on (the fake is strict there, so
 * that a replica still using the old names is caught), master_* on MariaDB.
 */
function announced(version: string, session: Map<string, string | null>, name: string): string | null | undefined {
  const mysql = !/mariadb/i.test(version);
  const prefixes = !mysql || !versionAtLeast(version, [8, 0, 26]) ? ['master']
    : versionAtLeast(version, [8, 4]) ? ['source'] : ['source', 'master'];
  return prefixes.map((prefix) => session.get(`@${prefix}_${name}`)).find((value) => value !== undefined);
}

/** What MySQL 8.4 no longer parses (SHOW MASTER STATUS, SHOW SLAVE STATUS/HOSTS ...): the text its error quotes. */
function removedForm(version: string, sql: string): string | undefined {
  if (/mariadb/i.test(version) || !versionAtLeast(version, [8, 4])) return undefined;
  return /^\s*SHOW\s+((?:MASTER|SLAVE)\b.*)$/is.exec(sql)?.[1];
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

/**
 * MySQL 8.4's side of the connection phase (sql_authentication.cc, sha2_password): the greeting names
 * caching_sha2_password; an account of another plugin, or a client that answered for another one, gets an auth
 * switch; TLS when the client asks for it (SSLRequest). caching_sha2_password: the fast path for an account
 * in the cache (filled by each full authentication, as the server's is), else full authentication: the
 * password over TLS, or RSA-encrypted with the source's key, sent on request (2). sha256_password: the same
 * without a cache, the key requested with 1. Wrong passwords get 1045 as the server words it.
 */
export interface MysqlAuthOptions {
  /** Accounts; a plugin other than these two is only named in the auth switch, as a server without it would not. */
  users: { user: string; password: string; plugin: string }[];
  /** TLS offered with this key and certificate (PEM); left out, the greeting does not offer TLS. */
  tls?: { key: string; cert: string };
}

/** How one login went, for tests to tell the paths apart. */
export interface Authentication {
  user: string;
  plugin: string;
  /** fast: caching_sha2_password's cache; tls: the password over TLS; rsa: RSA-encrypted without TLS. */
  method: 'fast' | 'tls' | 'rsa' | 'none';
  /** The client asked for the source's public key. */
  keyRequested: boolean;
  ok: boolean;
}

const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x200000;
const ER_ACCESS_DENIED_ERROR = 1045;

/** mysql2's server-side command that dispatches COM_* to the connection's events, borrowed past its exports map. */
const requireCjs = createRequire(import.meta.url);
const ServerHandshake = requireCjs(join(dirname(requireCjs.resolve('mysql2')), 'lib/commands/server_handshake.js')) as
  { new (args: object): { dispatchCommands: unknown }; prototype: { dispatchCommands: unknown } };

/** The command that takes over once logged in: no greeting of its own, straight to dispatching commands. */
class LoggedIn extends ServerHandshake {
  start(): unknown {
    return ServerHandshake.prototype.dispatchCommands;
  }
}

interface ServerKeys {
  privateKey: KeyObject;
  publicPem: string;
}

function scrambleBytes(): Buffer {
  // Never a zero byte: the greeting ends the scramble's second part with one.
  return Buffer.from(randomBytes(20).map((b) => (b % 127) + 1));
}

/** Reads the packets of the connection phase from a stream, before mysql2's parser gets the stream. */
class PhaseReader {
  private pending: Buffer = Buffer.alloc(0);
  private waiting: ((packet: { seq: number; payload: Buffer }) => void) | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.pending = Buffer.concat([this.pending, chunk]);
    this.deliver();
  };

  constructor(private stream: Duplex) {
    stream.on('data', this.onData);
  }

  private deliver(): void {
    if (!this.waiting || this.pending.length < 4) return;
    const length = this.pending.readUIntLE(0, 3);
    if (this.pending.length < 4 + length) return;
    const packet = { seq: this.pending[3]!, payload: this.pending.subarray(4, 4 + length) };
    this.pending = this.pending.subarray(4 + length);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting(packet);
  }

  next(): Promise<{ seq: number; payload: Buffer }> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deliver();
    });
  }

  /** Stops reading this stream; the bytes read past the last packet. */
  release(): Buffer {
    this.stream.off('data', this.onData);
    return this.pending;
  }

  switchTo(stream: Duplex, head: Buffer): void {
    this.stream = stream;
    this.pending = head;
    stream.on('data', this.onData);
  }
}

/** A server-side TLS socket over `raw`, given the bytes already read from it (the client's hello may be among them). */
function acceptTls(raw: Socket, head: Buffer, tls: { key: string; cert: string }): TLSSocket {
  const feed = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      raw.write(chunk, callback);
    },
    final(callback) {
      raw.end();
      callback();
    },
    destroy(err, callback) {
      raw.destroy();
      callback(err);
    },
  });
  if (head.length > 0) feed.push(head);
  raw.on('data', (chunk: Buffer) => feed.push(chunk));
  raw.on('end', () => feed.push(null));
  raw.on('close', () => feed.destroy());
  return new TLSSocket(feed, { isServer: true, key: tls.key, cert: tls.cert });
}

/**
 * Logs a client in as MySQL 8.4 does, then hands the connection (on its TLS socket when TLS was asked for) to
 * mysql2's command dispatch.
 */
async function mysqlLogin(conn: ServerConnection, version: string, connectionId: number, auth: MysqlAuthOptions,
  keys: ServerKeys, cache: Set<string>, log: Authentication[]): Promise<void> {
  const raw = conn.stream;
  // mysql2 reads the socket from the start; the connection phase is read here instead.
  raw.removeAllListeners('data');
  let stream: Duplex = raw;
  const reader = new PhaseReader(raw);
  let seq = 0;
  const write = (payload: Buffer) => {
    const header = Buffer.alloc(4);
    header.writeUIntLE(payload.length, 0, 3);
    header[3] = seq;
    seq = (seq + 1) % 256;
    stream.write(Buffer.concat([header, payload]));
  };
  const read = async () => {
    const packet = await reader.next();
    seq = (packet.seq + 1) % 256;
    return packet.payload;
  };

  const scramble = scrambleBytes();
  const capabilities = CAPABILITIES | (auth.tls ? CLIENT_SSL : 0);
  const greeting = Buffer.alloc(1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let at = greeting.writeUInt8(10, 0);
  at = greeting.writeUInt32LE(connectionId, at);
  at += scramble.copy(greeting, at, 0, 8) + 1;
  at = greeting.writeUInt16LE(capabilities & 0xffff, at);
  at = greeting.writeUInt8(UTF8MB4_GENERAL_CI, at);
  at = greeting.writeUInt16LE(2, at);
  at = greeting.writeUInt16LE(capabilities >>> 16, at);
  greeting.writeUInt8(21, at);
  write(Buffer.concat([
    greeting.subarray(0, 1), Buffer.from(`${version}\0`), greeting.subarray(1, 5), scramble.subarray(0, 8), greeting.subarray(13),
    scramble.subarray(8), Buffer.from('\0caching_sha2_password\0'),
  ]));

  let response = await read();
  if (response.length === 32 && (response.readUInt32LE(0) & CLIENT_SSL) !== 0 && auth.tls) {
    const secure = acceptTls(raw, reader.release(), auth.tls);
    reader.switchTo(secure, Buffer.alloc(0));
    stream = secure;
    conn.stream = secure as unknown as Socket;
    response = await read();
  }
  const secure = stream instanceof TLSSocket;
  const flags = response.readUInt32LE(0) & capabilities;
  let p = 32;
  const zeroEnded = () => {
    const end = response.indexOf(0, p);
    const text = response.toString('utf8', p, end < 0 ? response.length : end);
    p = end < 0 ? response.length : end + 1;
    return text;
  };
  const user = zeroEnded();
  let token: Buffer;
  if ((flags & (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SECURE_CONNECTION)) !== 0) {
    const length = response[p]!;
    token = response.subarray(p + 1, p + 1 + length);
    p += 1 + length;
  } else {
    token = Buffer.from(zeroEnded());
  }
  if (flags & CLIENT_CONNECT_WITH_DB) zeroEnded();
  const clientPlugin = flags & CLIENT_PLUGIN_AUTH ? zeroEnded() : 'mysql_native_password';

  // An unknown user goes through the default plugin and is refused as a wrong password is.
  const account = auth.users.find((u) => u.user === user)
    ?? { user, password: randomBytes(16).toString('hex'), plugin: 'caching_sha2_password' };
  const entry: Authentication = { user, plugin: account.plugin, method: 'none', keyRequested: false, ok: false };
  log.push(entry);
  if (clientPlugin !== account.plugin) {
    write(Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${account.plugin}\0`), scramble, Buffer.from([0])]));
    token = await read();
  }
  const moreData = (data: Buffer | string) => write(Buffer.concat([Buffer.from([1]), Buffer.from(data)]));
  /** The password of a full authentication: as it is over TLS, else RSA-encrypted, the key sent when asked with `ask`. */
  const fullPassword = async (first: Buffer, ask: number): Promise<string | undefined> => {
    let packet = first;
    if (secure) {
      entry.method = 'tls';
      return packet.toString('utf8').replace(/\0$/, '');
    }
    if (packet.length === 1 && packet[0] === ask) {
      entry.keyRequested = true;
      moreData(keys.publicPem);
      packet = await read();
    }
    entry.method = 'rsa';
    try {
      const clear = privateDecrypt({ key: keys.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, packet);
      for (let i = 0; i < clear.length; i++) clear[i]! ^= scramble[i % scramble.length]!;
      return clear.toString('utf8').replace(/\0$/, '');
    } catch {
      // A password in clear without TLS, or one encrypted with another key.
      return undefined;
    }
  };

  let ok: boolean;
  if (account.password === '') {
    ok = token.length === 0 || (token.length === 1 && token[0] === 0);
  } else if (account.plugin === 'sha256_password') {
    ok = (await fullPassword(token, AuthByte.SHA256_REQUEST_PUBLIC_KEY)) === account.password;
  } else if (cache.has(user)) {
    ok = token.equals(sha2Scramble(account.password, scramble));
    if (ok) {
      entry.method = 'fast';
      moreData(Buffer.from([AuthByte.FAST_AUTH_SUCCESS]));
    }
  } else {
    moreData(Buffer.from([AuthByte.PERFORM_FULL_AUTHENTICATION]));
    ok = (await fullPassword(await read(), AuthByte.CACHING_SHA2_REQUEST_PUBLIC_KEY)) === account.password;
    if (ok) cache.add(user);
  }
  entry.ok = ok;
  if (!ok) {
    const message = `Access denied for user '${user}'@'${raw.remoteAddress ?? 'localhost'}' (using password: ` +
      `${account.password === '' && token.length === 0 ? 'NO' : 'YES'})`;
    const head = Buffer.alloc(3);
    head[0] = 0xff;
    head.writeUInt16LE(ER_ACCESS_DENIED_ERROR, 1);
    write(Buffer.concat([head, Buffer.from(`#28000${message}`)]));
    stream.end();
    return;
  }
  write(Buffer.from([0, 0, 0, 2, 0, 0, 0]));
  const rest = reader.release();
  conn.sequenceId = 0;
  // What mysql2's own handshake leaves for its command dispatch and result writers.
  Object.assign(conn, { clientHelloReply: { user, encoding: 'utf8' }, serverConfig: { encoding: 'utf8' } });
  stream.on('data', (chunk: Buffer) => conn.packetParser.execute(chunk));
  conn.addCommand(new LoggedIn({}));
  if (rest.length > 0) conn.packetParser.execute(rest);
}

function serverKeys(): ServerKeys {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}
