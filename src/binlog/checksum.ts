import zlib from 'node:zlib';

/** CRC-32 (ISO-HDLC, the zlib one) as binlog checksums use it; `previous` continues the CRC of earlier bytes. */
export function crc32(buf: Buffer, previous = 0): number {
  return zlib.crc32(buf, previous) >>> 0;
}

/** crc32 of any bytes followed by their own crc32 (little-endian): an event's whole bytes when its checksum holds. */
export const CRC32_RESIDUE = 0x2144df1c;

/** The CRC32 stored in an event does not match its bytes. Callers add file and position to the message. */
export class BinlogChecksumError extends Error {
  override name = 'BinlogChecksumError';

  constructor(readonly expected: number, readonly actual: number, readonly typeCode: number) {
    super(`binlog event checksum mismatch (event type ${typeCode}): stored CRC32 0x${hex32(expected)}, `
      + `computed 0x${hex32(actual)}`);
  }
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
