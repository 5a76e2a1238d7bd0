// slave_max_allowed_packet, enforced on the bytes as they arrive. mysql2 hands a payload over only when it is
// whole, and assembles one of 16 MiB or more from a sequence of 0xFFFFFF-long packets however long the sequence
// runs: a source announcing a 4 GiB event would be buffered until memory runs out. This follows the packet
// headers itself and stops the dump at the first sign that an event is too large.

/** A packet of this length is continued by the next one (the protocol's 16 MiB split). */
const MAX_PACKET_PAYLOAD = 0xffffff;
/** The OK marker of a dump packet, then the event header up to and including event_length. */
const EVENT_LENGTH_END = 1 + 13;

export class EventSizeLimit {
  private readonly header = Buffer.alloc(4);
  private headerBytes = 0;
  private packetLength = 0;
  private payloadLeft = 0;
  /** Payload bytes the packets of the current sequence have announced so far. */
  private sequenceBytes = 0;
  /** The first bytes of the sequence's payload: marker and event header up to event_length. */
  private readonly head = Buffer.alloc(EVENT_LENGTH_END);
  private headBytes = 0;

  constructor(readonly max: number) {}

  /**
   * Takes the next bytes of the stream. Returns the size of an event found larger than `max` (as its header
   * says, or as its packets add up to so far), or undefined while everything is within bounds.
   */
  check(chunk: Buffer): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.headerBytes < 4) {
        this.header[this.headerBytes++] = chunk[i++]!;
        if (this.headerBytes < 4) continue;
        this.packetLength = this.header.readUIntLE(0, 3);
        this.payloadLeft = this.packetLength;
        this.sequenceBytes += this.packetLength;
        // The marker byte is not part of the event.
        if (this.sequenceBytes - 1 > this.max) return this.sequenceBytes - 1;
        if (this.payloadLeft === 0) this.endPacket();
        continue;
      }
      const take = Math.min(this.payloadLeft, chunk.length - i);
      if (this.headBytes < EVENT_LENGTH_END) {
        const n = Math.min(take, EVENT_LENGTH_END - this.headBytes);
        // Byte by byte: Buffer#copy of part of a chunk makes a view of it first, for every event.
        for (let k = 0; k < n; k++) this.head[this.headBytes++] = chunk[i + k]!;
        if (this.headBytes === EVENT_LENGTH_END && this.head[0] === 0x00) {
          const eventLength = this.head.readUInt32LE(EVENT_LENGTH_END - 4);
          if (eventLength > this.max) return eventLength;
        }
      }
      i += take;
      this.payloadLeft -= take;
      if (this.payloadLeft === 0) this.endPacket();
    }
    return undefined;
  }

  private endPacket(): void {
    this.headerBytes = 0;
    if (this.packetLength < MAX_PACKET_PAYLOAD) {
      this.sequenceBytes = 0;
      this.headBytes = 0;
    }
  }
}
