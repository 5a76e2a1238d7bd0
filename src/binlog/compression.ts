import zlib from 'node:zlib';
import { BinlogFormatError } from './reader.js';

/**
 * MariaDB's compressed Query/Rows payloads (log_bin_compress): one header byte 0x80 | (algorithm << 4) | n,
 * then the uncompressed length in n big-endian bytes, then a zlib stream. Algorithm 0 (zlib) is the only one
 * MariaDB defines.
 */
export function mariadbUncompress(data: Buffer): Buffer {
  if (data.length < 1 || (data[0]! & 0x80) === 0) {
    throw new BinlogFormatError('compressed event payload lacks the MariaDB compression header');
  }
  const algorithm = (data[0]! & 0x70) >> 4;
  const lengthBytes = data[0]! & 0x07;
  if (algorithm !== 0) throw new BinlogFormatError(`unknown MariaDB binlog compression algorithm ${algorithm}`);
  if (lengthBytes < 1 || lengthBytes > 4 || data.length < 1 + lengthBytes) {
    throw new BinlogFormatError(`bad MariaDB compressed length header 0x${data[0]!.toString(16)}`);
  }
  const length = data.readUIntBE(1, lengthBytes);
  if (length === 0) throw new BinlogFormatError('compressed event payload declares 0 bytes');
  let out: Buffer;
  try {
    // Inflating stops at the declared length, as the server's does: a few bytes of zlib stream can stand for
    // gigabytes, and they are not held before the length is checked.
    out = zlib.inflateSync(data.subarray(1 + lengthBytes), { maxOutputLength: length });
  } catch (err) {
    throw new BinlogFormatError((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
      ? `compressed event inflates past the ${length} bytes its header declares`
      : `compressed event does not inflate: ${(err as Error).message}`);
  }
  if (out.length !== length) {
    throw new BinlogFormatError(`compressed event inflated to ${out.length} bytes, header says ${length}`);
  }
  return out;
}

type ZstdDecompress = (buf: Buffer, options: { maxOutputLength: number }) => Buffer;

/** node:zlib has zstd from Node 22.15 / 23.8; the library supports Node 20, so look it up at run time. */
export function zstdDecompressor(): ZstdDecompress | undefined {
  const fn = (zlib as unknown as { zstdDecompressSync?: ZstdDecompress }).zstdDecompressSync;
  return typeof fn === 'function' ? fn.bind(zlib) : undefined;
}
