// A command of our own on a mysql2 connection: mysql2 sends only the commands it knows, and a replica needs
// others (COM_REGISTER_SLAVE, COM_BINLOG_DUMP, COM_SET_OPTION).
import type { Socket } from 'node:net';
import { parseErrPacket } from './packets.js';

/** The parts of a mysql2 packet read here; mysql2 reuses the object, so its bytes are copied out at once. */
export interface WirePacket {
  buffer: Buffer;
  start: number;
  end: number;
}

/** mysql2 connection internals a command needs; mysql2 exports no command base class. */
export interface CoreConnection {
  addCommand(command: RawCommand): unknown;
  write(data: Buffer): void;
  _resetSequenceId(): void;
  _bumpSequenceId(packets: number): void;
  stream: Socket;
  destroy(): void;
}

/**
 * A mysql2 command (the duck type its connection drives: execute() per packet, onResult() on a connection
 * error) that sends one payload and hands each response payload to `onPayload` until that returns true.
 */
export class RawCommand {
  private sent = false;

  constructor(
    private readonly payload: Buffer,
    private readonly onPayload: (packet: WirePacket) => boolean,
    readonly onResult: (err: Error) => void,
  ) {}

  execute(packet: WirePacket | undefined, connection: CoreConnection): boolean {
    if (!this.sent) {
      this.sent = true;
      connection._resetSequenceId();
      const header = Buffer.alloc(4);
      header.writeUIntLE(this.payload.length, 0, 3);
      connection._bumpSequenceId(1);
      connection.write(Buffer.concat([header, this.payload]));
      return false;
    }
    return packet ? this.onPayload(packet) : false;
  }
}

const COM_SET_OPTION = 0x1b;

/**
 * COM_SET_OPTION: turns multiple statements per query on or off for the session (what the handshake's
 * CLIENT_MULTI_STATEMENTS said). Rejects with the server's errno.
 */
export function setMultiStatements(core: CoreConnection, on: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    core.addCommand(new RawCommand(Buffer.from([COM_SET_OPTION, on ? 0 : 1, 0]), (packet) => {
      const payload = packet.buffer.subarray(packet.start + 4, packet.end);
      if (payload[0] === 0xff) {
        const e = parseErrPacket(payload);
        reject(Object.assign(new Error(e.message), { errno: e.errno, sqlMessage: e.message }));
      } else {
        resolve();
      }
      return true;
    }, reject));
  });
}
