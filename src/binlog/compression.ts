import zlib from 'node:zlib';
import { Decompress as FzstdDecompress } from 'fzstd';
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

// node:zlib has zstd from Node 22.15 / 23.8; the library supports Node 20, so look it up at run time.
const nodeZstd = (zlib as unknown as { zstdDecompressSync?: ZstdDecompress }).zstdDecompressSync;

// libzstd's default limit on a frame's window (ZSTD_WINDOWLOG_LIMIT_DEFAULT), which node:zlib applies too.
const ZSTD_MAX_WINDOW = 1 << 27;

/**
 * The one zstd frame MySQL writes per transaction, checked before anything is allocated for it: it must fill
 * `data`, declare no content size other than `size`, and no window (which the decompressor allocates) beyond
 * libzstd's limit. Blocks are walked by their headers; none is decompressed here. Returned with its window cut
 * to the smallest that holds `size` bytes: no back-reference reaches further than the output, and MySQL
 * declares 2 MiB or more even for a transaction of a few hundred bytes, which fzstd would allocate each time.
 */
function boundedZstdFrame(data: Buffer, size: number): Buffer {
  if (data.length < 6 || data.readUInt32LE(0) !== 0xfd2fb528) throw new Error('not a zstd frame');
  const descriptor = data[4]!;
  const singleSegment = (descriptor >> 5) & 1;
  if (descriptor & 0x08) throw new Error('reserved bit set in the zstd frame header');
  let pos = 5;
  let window = 0;
  if (!singleSegment) {
    const exponent = 10 + (data[pos]! >> 3);
    window = 2 ** exponent + (2 ** exponent / 8) * (data[pos]! & 7);
    pos++;
  }
  pos += [0, 1, 2, 4][descriptor & 3]!;
  const contentSizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6]!;
  if (contentSizeBytes > 0) {
    if (pos + contentSizeBytes > data.length) throw new Error('zstd frame header cut short');
    const declared = contentSizeBytes === 8 ? Number(data.readBigUInt64LE(pos))
      : data.readUIntLE(pos, contentSizeBytes) + (contentSizeBytes === 2 ? 256 : 0);
    if (declared !== size) throw new Error(`the zstd frame declares ${declared} bytes`);
    if (singleSegment) window = declared;
    pos += contentSizeBytes;
  }
  if (window > ZSTD_MAX_WINDOW) throw new Error(`the zstd frame asks for a ${window}-byte window`);
  const windowLog = Math.max(10, Math.ceil(Math.log2(Math.max(1, size))));
  const cut = !singleSegment && 2 ** windowLog < window;
  for (let last = 0; !last;) {
    if (pos + 3 > data.length) throw new Error('zstd frame cut short');
    const header = data.readUIntLE(pos, 3);
    last = header & 1;
    const type = (header >> 1) & 3;
    if (type === 3) throw new Error('reserved zstd block type');
    pos += 3 + (type === 1 ? 1 : header >> 3);
  }
  if ((descriptor >> 2) & 1) pos += 4;
  if (pos !== data.length) throw new Error('the zstd frame does not fill the payload');
  if (!cut) return data;
  const frame = Buffer.from(data);
  frame[5] = (windowLog - 10) << 3;
  return frame;
}

/**
 * One zstd frame decompressed into at most `size` bytes: node:zlib's zstd where this Node has it, else fzstd
 * (pure JS, so it installs anywhere) streaming blocks of at most 128 KiB, stopped as soon as they add up past
 * the size. Errors are the caller's to word.
 */
export function zstdDecompress(data: Buffer, size: number): Buffer {
  if (typeof nodeZstd === 'function') return nodeZstd.call(zlib, data, { maxOutputLength: Math.max(1, size) });
  const frame = boundedZstdFrame(data, size);
  const blocks: Uint8Array[] = [];
  let total = 0;
  new FzstdDecompress((block) => {
    total += block.length;
    if (total > size) throw new Error('it inflates past them');
    blocks.push(block);
  }).push(frame, true);
  return Buffer.concat(blocks, total);
}
