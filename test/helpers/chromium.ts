// Headless Chromium (Debian's `chromium` package, which scripts/prerequisites.mjs installs) for the status page
// test, and a PNG reader to look at its screenshots.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';

const run = promisify(execFile);

/** The chromium binary, or undefined when it is not installed. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

function chromium(args: string[], profile: string): Promise<{ stdout: string }> {
  // Root has no sandbox; virtual time lets the page's script fetch and render before the DOM is taken.
  return run(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    `--user-data-dir=${profile}`, '--virtual-time-budget=5000', ...args], { maxBuffer: 16 << 20, timeout: 120_000 });
}

/** The page's DOM after its scripts ran. */
export async function dumpDom(url: string, profile: string): Promise<string> {
  return (await chromium(['--dump-dom', url], profile)).stdout;
}

/** Writes a screenshot of the page to `dir`/page.png and returns its path. */
export async function screenshot(url: string, dir: string): Promise<string> {
  const path = join(dir, 'page.png');
  await chromium([`--screenshot=${path}`, '--window-size=1200,1000', '--hide-scrollbars', url], join(dir, 'profile'));
  return path;
}

export interface Image {
  width: number;
  height: number;
  /** RGB of the pixel at x, y. */
  pixel(x: number, y: number): [number, number, number];
}

/** Reads an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes). */
export async function readPng(path: string): Promise<Image> {
  const file = await readFile(path);
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (pos < file.length) {
    const length = file.readUInt32BE(pos);
    const type = file.toString('latin1', pos + 4, pos + 8);
    const body = file.subarray(pos + 8, pos + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = body.subarray(8);
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
        throw new Error(`unexpected PNG format: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      }
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      data.push(body);
    }
    pos += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const predictor = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c);
      pixels[y * stride + x] = (line[x]! + predictor) & 0xff;
    }
  }
  return {
    width, height,
    pixel: (x, y) => {
      const at = y * stride + x * channels;
      return [pixels[at]!, pixels[at + 1]!, pixels[at + 2]!];
    },
  };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
