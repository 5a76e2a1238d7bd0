// `tributary binlog FILE...`: reads binlog or relay log files event by event (a file of any size in bounded
// memory) and writes what BinlogPrinter makes of them.
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { BINLOG_MAGIC, EVENT_HEADER_LENGTH } from '../binlog/events.js';
import { decodeHeader } from '../binlog/decoder.js';
import { BinlogPrinter } from './binlog-print.js';
import { printable } from './printable.js';

/** Output is written in pieces of about this size, waiting for a slow reader (a pager) between them. */
const CHUNK = 1 << 16;

class BinlogFileError extends Error {
  override name = 'BinlogFileError';
}

async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

async function printFile(path: string, out: NodeJS.WritableStream): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const magic = Buffer.alloc(BINLOG_MAGIC.length);
    await handle.read(magic, 0, magic.length, 0);
    if (!magic.equals(BINLOG_MAGIC)) throw new BinlogFileError(`${path} is not a binlog or relay log file (no binlog magic number)`);
    const printer = new BinlogPrinter();
    const header = Buffer.alloc(EVENT_HEADER_LENGTH);
    let text = '';
    for (let pos = BINLOG_MAGIC.length; pos < size;) {
      if (pos + EVENT_HEADER_LENGTH > size) throw new BinlogFileError(`${path}: ${size - pos} bytes at ${pos}, fewer than an event header (a torn event)`);
      await handle.read(header, 0, EVENT_HEADER_LENGTH, pos);
      const length = decodeHeader(header).eventLength;
      if (length < EVENT_HEADER_LENGTH || pos + length > size) {
        throw new BinlogFileError(`${path}: the event at ${pos} says it is ${length} bytes long, the file ends at ${size}`);
      }
      const raw = Buffer.alloc(length);
      await handle.read(raw, 0, length, pos);
      try {
        text += printer.event(raw, pos).join('\n') + '\n';
      } catch (err) {
        throw new BinlogFileError(`${path}: the event at ${pos} cannot be read: ${(err as Error).message}`);
      }
      pos += length;
      if (text.length >= CHUNK) {
        await write(out, text);
        text = '';
      }
    }
    const left = printer.end();
    await write(out, text + (left.length ? `${left.join('\n')}\n` : '') + '# End of log file\n');
  } finally {
    await handle.close();
  }
}

/** Prints each file; returns 0, or 1 after a file that could not be read whole (the others are still printed). */
export async function printBinlogFiles(paths: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let code = 0;
  for (const path of paths) {
    try {
      await printFile(path, out);
    } catch (e) {
      err.write(`tributary: ${printable((e as Error).message)}\n`);
      code = 1;
    }
  }
  return code;
}
