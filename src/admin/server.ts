// The admin endpoint: a MySQL-protocol port on which clients (the mariadb and mysql command-line clients, mysql2,
// monitoring) log in and run the replication statements, answered by the engine, and every other statement,
// forwarded to the target on a connection of the client's session, so that they see one replica server.
// mysql2's server side reads the connection phase and splits the packets; the commands and the replies are ours.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import mysql from 'mysql2';
import mysqlPromise, { type Connection, type ConnectionOptions, type FieldPacket, type ResultSetHeader } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { ReplicationEngine } from '../engine.js';
import { ReplicationError, mysqlFailure, sqlStateOf } from '../errors.js';
import { lowerConnectionName } from '../info/filename-charset.js';
import { parseAdminStatement, type AdminCommand } from './statements.js';
import { relayLogEventsResult, statusResult, valueResult, type ResultSet } from './results.js';
import {
  SERVER_MORE_RESULTS_EXISTS, SERVER_STATUS_AUTOCOMMIT, columnDefinitionPacket, columnOfKind, eofPacket, errorPacket, framed, lengthEncodedInteger,
  okPacket, textRowPacket, type ColumnDefinition,
} from './wire.js';

/** The engine option `admin` (and the CLI configuration's `admin` key). */
export interface AdminOptions {
  /** Default 127.0.0.1: the port lets its user change replication and read and write the target's data. */
  host?: string;
  /** 0 picks a free port (adminAddress()). */
  port: number;
  user: string;
  password: string;
}

/** What the endpoint asks of the engine: its public replication API, nothing else. */
export type AdminEngine = Pick<ReplicationEngine, 'channelNames' | 'changeReplicationSource' | 'changeReplicationFilter' |
  'startReplica' | 'stopReplica' | 'startAllReplicas' | 'stopAllReplicas' | 'resetReplica' | 'setSkipCounter' | 'replicaStatus' |
  'allReplicaStatus' | 'flushRelayLogs' | 'relayLogEvents' | 'sourcePosWait' | 'sourceGtidWait'>;

/** The server version the greeting names: a MariaDB 10.11 replica, as clients should treat it. */
const SERVER_VERSION = '5.5.5-10.11.0-MariaDB-tributary';
/** Connections at once (MariaDB's default max_connections), and what a client may send before its login. */
const MAX_CONNECTIONS = 151;
const LOGIN_BYTES = 64 * 1024;
const LOGIN_SECONDS = 10;
const UTF8MB4_GENERAL_CI = 45;
// LONG_PASSWORD | FOUND_ROWS | LONG_FLAG | CONNECT_WITH_DB | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION |
// MULTI_RESULTS | PLUGIN_AUTH: no TLS, no compression, no multi-statements.
const CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000;

const COM_QUIT = 0x01;
const COM_INIT_DB = 0x02;
const COM_QUERY = 0x03;
const COM_FIELD_LIST = 0x04;
const COM_PING = 0x0e;
const COM_STMT_PREPARE = 0x16;
const COM_STMT_CLOSE = 0x19;
const COM_RESET_CONNECTION = 0x1f;

/** The parts of mysql2's server-side connection used here; its typings do not describe the server side. */
interface ServerConnection {
  stream: Socket;
  sequenceId: number;
  serverConfig: object;
  clientHelloReply?: { user: string; database?: string };
  addCommand(command: object): void;
  writeError(args: { code: number; message: string }): void;
  close(): void;
  on(event: string, listener: (...args: any[]) => void): void;
}

interface MysqlPacket {
  sequenceId: number;
  readInt8(): number;
  buffer: Buffer;
  offset: number;
  end: number;
}

type AuthCallback = (params: { user: string; authPluginData1: Buffer; authPluginData2: Buffer; authToken: Buffer; address?: string },
  done: (err: null, failure?: { code: number; message: string }) => void) => void;

// mysql2's server-side handshake command and packets, past its exports map.
const requireCjs = createRequire(import.meta.url);
const mysql2Lib = join(dirname(requireCjs.resolve('mysql2')), 'lib');
const ServerHandshake = requireCjs(join(mysql2Lib, 'commands/server_handshake.js')) as { new (args: object): object };
const readClientReply = (ServerHandshake.prototype as {
  readClientReply(this: object, packet: MysqlPacket, connection: ServerConnection): unknown;
}).readClientReply;
const Packets = requireCjs(join(mysql2Lib, 'packets/index.js')) as {
  Handshake: new (args: object) => { authPluginData1: Buffer; authPluginData2: Buffer; toPacket(seq: number): unknown };
};

/** 20 random bytes without a zero: clients read the greeting's scramble up to one. */
function scramble(): Buffer {
  return Buffer.from(randomBytes(20).map((b) => (b % 255) + 1));
}

/** mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
function nativePasswordToken(password: string, salt: Buffer): Buffer {
  const sha1 = (data: Buffer) => createHash('sha1').update(data).digest();
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  const mix = sha1(Buffer.concat([salt, sha1(stage1)]));
  return Buffer.from(stage1.map((b, i) => b ^ mix[i]!));
}

/** A greeting with a scramble clients can read, then mysql2's reading of the reply; then the commands go to `onCommand`. */
class AdminHandshake extends ServerHandshake {
  constructor(private readonly options: object, private readonly onCommand: (packet: MysqlPacket) => void) {
    super(options);
  }

  start(_packet: unknown, connection: { writePacket(packet: unknown): void }): unknown {
    const hello = new Packets.Handshake(this.options);
    const salt = scramble();
    hello.authPluginData1 = salt.subarray(0, 8);
    hello.authPluginData2 = salt.subarray(8);
    (this as unknown as { serverHello: unknown }).serverHello = hello;
    connection.writePacket(hello.toPacket(0));
    return AdminHandshake.prototype.reply;
  }

  reply(packet: MysqlPacket, connection: ServerConnection): unknown {
    readClientReply.call(this, packet, connection);
    return AdminHandshake.prototype.command;
  }

  command(packet: MysqlPacket): unknown {
    this.onCommand(packet);
    return AdminHandshake.prototype.command;
  }
}

/** The listener and its sessions. */
export class AdminServer {
  private readonly sessions = new Set<Session>();
  private nextConnectionId = 1;

  private constructor(private readonly server: { close(cb: () => void): void; _server: { address(): AddressInfo } },
    readonly options: Required<AdminOptions>) {}

  static async open(options: AdminOptions, engine: AdminEngine, target: ConnectionOptions, logger: Logger): Promise<AdminServer> {
    const settings = { ...options, host: options.host ?? '127.0.0.1' } as Required<AdminOptions>;
    const server = mysql.createServer((conn) => admin.accept(conn as unknown as ServerConnection, engine, target, logger)) as unknown as {
      listen(port: number, host: string, cb: () => void): void;
      close(cb: () => void): void;
      _server: { address(): AddressInfo; maxConnections: number; once(event: 'error', listener: (err: Error) => void): void;
        on(event: 'error', listener: (err: Error) => void): void; off(event: 'error', listener: (err: Error) => void): void };
    };
    const admin = new AdminServer(server, settings);
    // Whoever reaches the port can open connections before logging in: their number is bounded as a server's is.
    server._server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server._server.once('error', reject);
      server.listen(settings.port, settings.host, () => {
        server._server.off('error', reject);
        resolve();
      });
    });
    // An accept that fails (too many open files) must not end the process.
    server._server.on('error', (err) => logger.warn({ err }, 'admin endpoint: a connection could not be accepted'));
    logger.info({ address: admin.address() }, 'admin endpoint listening');
    return admin;
  }

  address(): { address: string; port: number } {
    const { address, port } = this.server._server.address();
    return { address, port };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const session of this.sessions) session.end();
    });
  }

  private accept(conn: ServerConnection, engine: AdminEngine, target: ConnectionOptions, logger: Logger): void {
    conn.on('error', () => {});
    // Before the login, a client gets a few seconds and a few KiB: mysql2 would join packets of any size.
    let received = 0;
    conn.stream.prependListener('data', (chunk: Buffer) => {
      received += chunk.length;
      if (!session.authenticated && received > LOGIN_BYTES) session.end();
    });
    conn.stream.setTimeout(LOGIN_SECONDS * 1000, () => {
      if (!session.authenticated) session.end();
    });
    // mysql2's writer leaves the SQLSTATE blank; a refused login goes out with the servers' 28000.
    conn.writeError = ({ code, message }) => conn.stream.write(framed(errorPacket(code, message), conn.sequenceId).bytes);
    const session = new Session(conn, engine, target, logger);
    this.sessions.add(session);
    conn.stream.once('close', () => {
      this.sessions.delete(session);
      session.end();
    });
    const authCallback: AuthCallback = (params, done) => {
      const expected = nativePasswordToken(this.options.password, Buffer.concat([params.authPluginData1, params.authPluginData2]));
      const token = Buffer.from(params.authToken);
      // The token is compared whatever the user name, so that the time taken does not tell whether the name is right.
      const tokenOk = token.length === expected.length && timingSafeEqual(token, expected);
      const ok = params.user === this.options.user && tokenOk;
      if (!ok) {
        logger.warn({ user: params.user, address: params.address }, 'admin endpoint: login refused');
        done(null, { code: 1045, message: `Access denied for user '${params.user}'@'${params.address ?? 'localhost'}' ` +
          `(using password: ${token.length > 0 ? 'YES' : 'NO'})` });
        return;
      }
      done(null);
      conn.sequenceId = 0;
      session.authenticated = true;
      conn.stream.setTimeout(0);
    };
    const args = {
      protocolVersion: 10, serverVersion: SERVER_VERSION, connectionId: this.nextConnectionId++, statusFlags: SERVER_STATUS_AUTOCOMMIT,
      characterSet: UTF8MB4_GENERAL_CI, capabilityFlags: CAPABILITIES, authCallback,
    };
    conn.serverConfig = { ...args, encoding: 'utf8' };
    conn.addCommand(new AdminHandshake(args, (packet) => session.received(packet)));
  }
}

/** One client's session: its default connection name, its connection to the target, its commands one at a time. */
class Session {
  private defaultConnection = '';
  private target: Promise<Connection> | undefined;
  private queue: Promise<void> = Promise.resolve();
  private seq = 0;
  private ended = false;
  /** Set once the login succeeded: mysql2 only half-closes a refused connection, and what follows must not run. */
  authenticated = false;

  constructor(private readonly conn: ServerConnection, private readonly engine: AdminEngine,
    private readonly targetOptions: ConnectionOptions, private readonly logger: Logger) {}

  received(packet: MysqlPacket): void {
    if (!this.authenticated) return this.end();
    const seq = packet.sequenceId;
    const code = packet.readInt8();
    const payload = Buffer.from(packet.buffer.subarray(packet.offset, packet.end));
    this.queue = this.queue.then(() => this.command(code, payload, seq)).catch((err: unknown) => {
      this.logger.warn({ err }, 'admin endpoint: session ended on an error');
      this.end();
    });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.conn.stream.destroy();
    const target = this.target;
    this.target = undefined;
    // Destroyed, not ended: a statement still running there must not go on for a client that has gone.
    void target?.then((c) => c.destroy()).catch(() => {});
  }

  private send(payload: Buffer): void {
    const { bytes, next } = framed(payload, this.seq);
    this.seq = next;
    this.conn.stream.write(bytes);
  }

  private async command(code: number, payload: Buffer, seq: number): Promise<void> {
    // Commands the client sent before it went do not run.
    if (this.ended) return;
    this.seq = (seq + 1) % 256;
    try {
      switch (code) {
        case COM_QUIT:
          return this.end();
        case COM_STMT_CLOSE:
          return;
        case COM_PING:
          return this.send(okPacket());
        case COM_QUERY:
          return await this.query(payload.toString('utf8'));
        case COM_INIT_DB:
          return await this.forward(`USE \`${payload.toString('utf8').replace(/`/g, '``')}\``);
        case COM_FIELD_LIST:
          // No column list: clients use it only to complete names.
          return this.send(eofPacket());
        case COM_RESET_CONNECTION:
          this.defaultConnection = '';
          await this.closeTarget();
          return this.send(okPacket());
        case COM_STMT_PREPARE:
          return this.sendError(new ReplicationError('ER_UNSUPPORTED_PS', 'the admin endpoint does not take prepared ' +
            'statements: send the statement as text (mysql2: query() rather than execute())'));
        default:
          return this.sendError(new ReplicationError('ER_UNKNOWN_COM_ERROR', `Unknown command ${code} on the admin endpoint`));
      }
    } finally {
      // The next command starts counting packets at 0 again.
      this.conn.sequenceId = 0;
    }
  }

  private sendError(err: unknown): void {
    const failure = mysqlFailure(err, 'ER_UNKNOWN_ERROR');
    this.send(errorPacket(failure.errno, failure.message, failure.sqlState ?? sqlStateOf(failure.errno)));
  }

  private async query(sql: string): Promise<void> {
    let command: AdminCommand | undefined;
    try {
      command = parseAdminStatement(sql);
      if (command) return this.sendResult(await this.run(command));
    } catch (err) {
      return this.sendError(err);
    }
    return this.forward(sql);
  }

  private sendResult(result: ResultSet | undefined): void {
    if (result === undefined) return this.send(okPacket());
    this.sendColumns(result.columns.map((c) => columnOfKind(c.name, c.kind)));
    for (const row of result.rows) this.send(textRowPacket(row));
    this.send(eofPacket());
  }

  private sendColumns(columns: ColumnDefinition[]): void {
    this.send(lengthEncodedInteger(columns.length));
    for (const column of columns) this.send(columnDefinitionPacket(column));
    this.send(eofPacket());
  }

  /** The connection a statement names, or the session's default; one the engine does not have is 1617. */
  private channel(named: string | undefined): string {
    const channel = named ?? this.defaultConnection;
    if (!this.known(channel)) throw new ReplicationError('WARN_NO_MASTER_INFO', `There is no master connection '${channel}'`);
    return channel;
  }

  private known(channel: string): boolean {
    return this.engine.channelNames().some((name) => lowerConnectionName(name) === lowerConnectionName(channel));
  }

  private async run(command: AdminCommand): Promise<ResultSet | undefined> {
    const engine = this.engine;
    switch (command.kind) {
      case 'changeSource':
        return void await engine.changeReplicationSource(command.channel ?? this.defaultConnection, command.options);
      case 'changeFilter':
        return void await engine.changeReplicationFilter(this.channel(command.channel), command.filters);
      case 'start':
        return void await engine.startReplica(this.channel(command.channel), { threads: command.threads, until: command.until });
      case 'stop':
        return void await engine.stopReplica(this.channel(command.channel), { threads: command.threads });
      case 'startAll':
        return void await engine.startAllReplicas();
      case 'stopAll':
        return void await engine.stopAllReplicas();
      case 'reset':
        return void await engine.resetReplica(this.channel(command.channel), { all: command.all });
      case 'flushRelayLogs':
        return void await engine.flushRelayLogs(this.channel(command.channel));
      case 'setSkipCounter':
        return void await engine.setSkipCounter(this.channel(command.channel), command.count);
      case 'setDefaultConnection':
        this.defaultConnection = command.channel;
        return undefined;
      case 'selectDefaultConnection':
        return valueResult(command.column, 'string', this.defaultConnection);
      case 'showStatus':
        return this.showStatus(command.form, command.channel);
      case 'showRelayLogEvents': {
        const { kind: _kind, channel, ...options } = command;
        return relayLogEventsResult(await engine.relayLogEvents(this.channel(channel), options));
      }
      case 'sourcePosWait': {
        const waited = await engine.sourcePosWait(command.channel ?? this.defaultConnection, command.file, command.pos, command.timeout);
        return valueResult(command.column, 'bigint', waited);
      }
      case 'sourceGtidWait':
        return valueResult(command.column, 'int', await engine.sourceGtidWait(this.gtidWaitChannel(), command.gtidPos, command.timeout));
    }
  }

  private async showStatus(form: 'all' | 'slave' | 'replica', named: string | undefined): Promise<ResultSet> {
    const byName = (a: { channel: string }, b: { channel: string }) =>
      (lowerConnectionName(a.channel) < lowerConnectionName(b.channel) ? -1 : 1);
    if (form === 'all') return statusResult('all', (await this.engine.allReplicaStatus()).sort(byName));
    // MySQL's form without FOR CHANNEL lists every channel, as MySQL does.
    if (form === 'replica' && named === undefined) return statusResult('replica', (await this.engine.allReplicaStatus()).sort(byName));
    // The default connection unnamed and not there: no row, as MariaDB answers.
    if (named === undefined && this.defaultConnection === '' && !this.known('')) return statusResult(form, []);
    return statusResult(form, [await this.engine.replicaStatus(this.channel(named))]);
  }

  /**
   * MASTER_GTID_WAIT names no connection: on MariaDB it waits for the server's one applied position. Channels keep
   * their own, so it waits on the session's default connection, or on the only channel there is.
   */
  private gtidWaitChannel(): string {
    if (this.known(this.defaultConnection)) return this.defaultConnection;
    const names = this.engine.channelNames();
    if (names.length === 1) return names[0]!;
    throw new ReplicationError('WARN_NO_MASTER_INFO', `There is no master connection '${this.defaultConnection}': ` +
      'SET @@default_master_connection to the channel whose GTID position MASTER_GTID_WAIT waits for');
  }

  // ------------------------------------------------------------------------------------- the target's part

  private connectTarget(): Promise<Connection> {
    if (this.ended) return Promise.reject(new ReplicationError('ER_SERVER_SHUTDOWN', 'the admin session has ended'));
    if (this.target) return this.target;
    const database = this.conn.clientHelloReply?.database;
    const connecting = mysqlPromise.createConnection({
      ...this.targetOptions, ...(database ? { database } : {}), multipleStatements: false, rowsAsArray: true,
    });
    this.target = connecting;
    connecting.then((c) => c.on('error', () => {}), () => {});
    return connecting;
  }

  private async closeTarget(): Promise<void> {
    const target = this.target;
    this.target = undefined;
    await target?.then((c) => c.end()).catch(() => {});
  }

  /** Runs a statement on the session's target connection and passes its results back as the target sent them. */
  private async forward(sql: string): Promise<void> {
    let target: Connection;
    try {
      target = await this.connectTarget();
    } catch (err) {
      // Nothing of the session was there yet: the next statement tries again.
      this.target = undefined;
      return this.sendError(err);
    }
    let results: unknown;
    let fields: unknown;
    try {
      // Values come back as the bytes the target sent, so nothing is converted on the way.
      [results, fields] = await target.query({ sql, rowsAsArray: true, typeCast: (field: { buffer(): Buffer | null }) => field.buffer() });
    } catch (err) {
      this.sendError(err);
      // A lost target connection took the session's state with it: the client must know, and reconnect.
      if ((err as { fatal?: boolean }).fatal === true) this.end();
      return;
    }
    const sets = resultSets(results, fields);
    sets.forEach((set, i) => {
      const status = SERVER_STATUS_AUTOCOMMIT | (i < sets.length - 1 ? SERVER_MORE_RESULTS_EXISTS : 0);
      if ('header' in set) {
        const h = set.header;
        this.send(okPacket({ affectedRows: h.affectedRows, insertId: h.insertId, warnings: h.warningStatus, info: h.info,
          status: (h.serverStatus & ~SERVER_MORE_RESULTS_EXISTS) | (status & SERVER_MORE_RESULTS_EXISTS) }));
        return;
      }
      this.sendColumns(set.fields.map(columnDefinition));
      for (const row of set.rows) this.send(textRowPacket(row));
      this.send(eofPacket(status));
    });
  }
}

type ForwardedSet = { header: ResultSetHeader } | { fields: FieldPacket[]; rows: (Buffer | null)[][] };

/** mysql2's answer to one statement as the result sets the target sent: several for a CALL. */
function resultSets(results: unknown, fields: unknown): ForwardedSet[] {
  const one = (result: unknown, columns: unknown): ForwardedSet => (Array.isArray(result)
    ? { fields: (columns ?? []) as FieldPacket[], rows: result as (Buffer | null)[][] }
    : { header: result as ResultSetHeader });
  const multiple = Array.isArray(fields) && fields.some((f) => Array.isArray(f) || f === undefined) && Array.isArray(results);
  if (!multiple) return [one(results, fields)];
  return (results as unknown[]).map((result, i) => one(result, (fields as unknown[])[i]));
}

function columnDefinition(field: FieldPacket): ColumnDefinition {
  const f = field as FieldPacket & { columnType?: number; characterSet?: number; columnLength?: number };
  return {
    schema: f.schema ?? f.db, table: f.table, orgTable: f.orgTable, name: f.name, orgName: f.orgName,
    characterSet: f.characterSet ?? 63, columnLength: f.columnLength ?? f.length ?? 0, columnType: f.columnType ?? f.type ?? 253,
    flags: typeof f.flags === 'number' ? f.flags : 0, decimals: f.decimals ?? 0,
  };
}
