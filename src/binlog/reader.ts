// A bounds-checked cursor over one event's bytes. Every read past `end` throws, so a truncated or corrupt
// event surfaces as an error naming what was being read instead of as garbage values.

export class BinlogFormatError extends Error {
  override name = 'BinlogFormatError';
}

export class ByteReader {
  pos: number;

  constructor(readonly buf: Buffer, start = 0, public end = buf.length) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what = 'value'): void {
    // `!(n >= 0)` also refuses NaN, which a count computed from corrupt metadata can be.
    if (!(n >= 0) || this.pos + n > this.end) {
      throw new BinlogFormatError(`event too short reading ${what}: need ${n} bytes at offset ${this.pos}, `
        + `${this.remaining} left`);
    }
  }

  skip(n: number): void {
    this.need(n, 'skipped bytes');
    this.pos += n;
  }

  /** Moves forward to `pos` (the end of a post-header whose length the Format_description gives). */
  skipTo(pos: number, what: string): void {
    this.need(pos - this.pos, what);
    this.pos = pos;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Little-endian unsigned integer of 1..6 bytes. */
  uint(n: number): number {
    this.need(n);
    const v = this.buf.readUIntLE(this.pos, n);
    this.pos += n;
    return v;
  }

  /** Little-endian unsigned integer of 1..8 bytes, as bigint. */
  ubig(n: number): bigint {
    this.need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.buf[this.pos + i]!);
    this.pos += n;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Length-encoded integer as in the client/server protocol (0xfb, NULL, is not valid in binlog events). */
  packed(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      const v = this.u64();
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BinlogFormatError(`length-encoded integer ${v} too large`);
      return Number(v);
    }
    throw new BinlogFormatError(`invalid length-encoded integer prefix 0x${first.toString(16)} at ${this.pos - 1}`);
  }

  /** A reader over the next n bytes (a length-prefixed block), which are consumed. */
  sub(n: number, what: string): ByteReader {
    this.need(n, what);
    const block = new ByteReader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return block;
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  /** Bytes up to the next NUL (the NUL is consumed); up to the end when there is none. */
  cstring(): Buffer {
    const nul = this.buf.subarray(this.pos, this.end).indexOf(0);
    const i = nul < 0 ? this.end : this.pos + nul;
    const b = this.buf.subarray(this.pos, i);
    this.pos = Math.min(i + 1, this.end);
    return b;
  }

  /** A string of `n` bytes; identifiers and names in events are UTF-8 (utf8mb3 on old servers, a subset). */
  str(n: number, what = 'string'): string {
    return this.bytes(n, what).toString('utf8');
  }
}

/** Bit i of a little-endian bitmap as MySQL stores column bitmaps (bit 0 = lowest bit of byte 0). */
export function bitSet(bitmap: Buffer, i: number): boolean {
  return ((bitmap[i >> 3]! >> (i & 7)) & 1) === 1;
}
