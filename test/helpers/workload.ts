// A deterministic workload for a source server: a schema that covers every column type a binlog can carry,
// rows with each type's extreme values, and seeded transactions that insert, update (keys included), delete
// and roll back. Integration tests, the demo and the benchmarks drive sources with it and then compare the
// target with compare.ts.
//
// Determinism: given the same seed and the same starting tables, the generated SQL is identical, so two
// servers fed the same calls end up with identical data. The only state the generator needs is read back from
// the tables at the start of runTransactions, which is why it can be called again after alterMidway, on a
// table that already holds rows, or on a second server.
import type { Connection } from 'mysql2/promise';

// ---------------------------------------------------------------------------------------------------------
// Seeded PRNG (xoshiro128**, seeded through splitmix32). Math.random would make failures unreproducible.

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const splitmix = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
    this.s2 = splitmix();
    this.s3 = splitmix();
  }

  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0; this.s1 >>>= 0; this.s2 >>>= 0; this.s3 >>>= 0;
    return result;
  }

  /** [0, 1) with 53 random bits. */
  float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** Integer in [lo, hi], both inclusive; exact while hi - lo < 2^53. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** BigInt in [lo, hi], both inclusive. */
  bigint(lo: bigint, hi: bigint): bigint {
    const span = hi - lo + 1n;
    let r = 0n;
    // 32 extra bits above the span keep the modulo bias out of sight.
    for (let bits = 0n; (1n << bits) < span << 32n; bits += 32n) r = (r << 32n) | BigInt(this.u32());
    return lo + (r % span);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// Server flavour: the few places where MySQL 5.5-8.4 and MariaDB 10.x need different DDL or functions.

export interface Flavor {
  mariadb: boolean;
  version: [number, number, number];
  /** Fractional seconds (MySQL 5.6.4+, MariaDB 5.3+). */
  fsp: boolean;
  /** A JSON column type exists (native on MySQL 5.7.8+, a LONGTEXT alias on MariaDB 10.2.7+). */
  json: boolean;
  /** Spatial functions carry the ST_ prefix (MySQL 8 removed the unprefixed names). */
  stPrefix: boolean;
}

export async function detectFlavor(conn: Connection): Promise<Flavor> {
  const [rows] = await conn.query('SELECT VERSION() AS v');
  const text = String((rows as Array<{ v: unknown }>)[0]!.v);
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  const version: [number, number, number] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const mariadb = /mariadb/i.test(text);
  const atLeast = (a: number, b: number, c: number): boolean =>
    version[0] !== a ? version[0] > a : version[1] !== b ? version[1] > b : version[2] >= c;
  return {
    mariadb,
    version,
    fsp: mariadb || atLeast(5, 6, 4),
    json: mariadb ? atLeast(10, 2, 7) : atLeast(5, 7, 8),
    stPrefix: mariadb || atLeast(5, 6, 1),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Value generators. Each returns an SQL literal; the schema below pairs every column with one.

/** Rows that extremeRows writes have keys at or above this; runTransactions never touches them, so the
 *  extreme values survive to the final comparison. */
export const EXTREME_ID_BASE = 1_000_000_000_000_000;

export interface WorkloadSizes {
  /** Most statements in one transaction (default 5). */
  statements?: number;
  /** Most rows one INSERT writes and one UPDATE/DELETE range spans (default 6). */
  rows?: number;
  /** Most bytes of a generated string or blob (default 2048); most values are far shorter. */
  bytes?: number;
}

interface GenContext {
  rng: Rng;
  flavor: Flavor;
  sizes: Required<WorkloadSizes>;
  /** Offset of the session time zone, in minutes; TIMESTAMP literals are written in it. */
  tzMinutes: number;
}

type Gen = (ctx: GenContext) => string;

const hex = (b: Buffer): string => `X'${b.toString('hex')}'`;

/** Escapes for a single-quoted literal under a sql_mode without NO_BACKSLASH_ESCAPES (the workload sets it). */
export function quote(s: string): string {
  return `'${s.replace(/[\\'\0\n\r\x1a]/g, (c) =>
    c === '\0' ? '\\0' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\x1a' ? '\\Z' : `\\${c}`)}'`;
}

function intGen(bits: number, unsigned: boolean): Gen {
  const min = unsigned ? 0n : -(1n << BigInt(bits - 1));
  const max = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
  const edges = [min, max, 0n, 1n, min + 1n, max - 1n, ...(unsigned ? [] : [-1n])];
  return ({ rng }) => {
    const r = rng.float();
    if (r < 0.15) return rng.pick(edges).toString();
    if (r < 0.5) return rng.bigint(min, max).toString();
    if (r < 0.75) {
      // A random magnitude, so that small and middling numbers are as common as huge ones.
      const b = BigInt(rng.int(1, bits - (unsigned ? 0 : 1)));
      const v = rng.bigint(0n, (1n << b) - 1n);
      return (unsigned || rng.chance(0.5) ? v : -v).toString();
    }
    return rng.bigint(min > -1000n ? min : -1000n, max < 1000n ? max : 1000n).toString();
  };
}

const f32 = new Float32Array(1);
const u32view = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u32pair = new Uint32Array(f64.buffer);

function randomFloat32(rng: Rng): number {
  for (;;) {
    u32view[0] = rng.u32();
    if (Number.isFinite(f32[0]!)) return f32[0]!;
  }
}

function randomFloat64(rng: Rng): number {
  for (;;) {
    u32pair[0] = rng.u32();
    u32pair[1] = rng.u32();
    if (Number.isFinite(f64[0]!)) return f64[0]!;
  }
}

// String(x) is the shortest text that reads back as the same double, so the server stores exactly x.
const FLOAT_EDGES = [0, 1, -1, Math.fround(1.17549435e-38), Math.fround(3.4028234663852886e38),
  -Math.fround(3.4028234663852886e38), Math.fround(1.401298464324817e-45), -Math.fround(1.401298464324817e-45),
  Math.fround(0.1), Math.fround(16777217)];
const DOUBLE_EDGES = [0, 1, -1, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE,
  2.2250738585072014e-308, 0.1, 9007199254740993];

function floatGen(double: boolean): Gen {
  return ({ rng }) => {
    const r = rng.float();
    let v: number;
    if (r < 0.15) v = rng.pick(double ? DOUBLE_EDGES : FLOAT_EDGES);
    else if (r < 0.55) v = double ? randomFloat64(rng) : randomFloat32(rng);
    else {
      v = (rng.float() * 2 - 1) * 10 ** rng.int(-6, 9);
      if (!double) v = Math.fround(v);
    }
    return String(v);
  };
}

function digits(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(48 + rng.int(0, 9));
  return s;
}

function decimalGen(precision: number, scale: number): Gen {
  const intDigits = precision - scale;
  const max = `${'9'.repeat(intDigits) || '0'}${scale ? `.${'9'.repeat(scale)}` : ''}`;
  const tiny = scale ? `0.${'0'.repeat(scale - 1)}1` : '1';
  const edges = [max, `-${max}`, '0', tiny, `-${tiny}`];
  return ({ rng }) => {
    if (rng.chance(0.12)) return rng.pick(edges);
    const whole = digits(rng, rng.int(0, intDigits)).replace(/^0+(?=\d)/, '') || '0';
    const frac = digits(rng, rng.int(0, scale));
    return `${rng.chance(0.4) ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
  };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function fraction(rng: Rng, fsp: number): string {
  return fsp ? `.${digits(rng, fsp)}` : '';
}

const DAY_MS = 86_400_000;
const MIN_DAY = Date.UTC(1000, 0, 1) / DAY_MS;
const MAX_DAY = Date.UTC(9999, 11, 31) / DAY_MS;

function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

const yearGen: Gen = ({ rng }) => (rng.chance(0.05) ? '0' : String(rng.int(1901, 2155)));

const dateGen: Gen = ({ rng }) => {
  if (rng.chance(0.03)) return `'0000-00-00'`;
  if (rng.chance(0.05)) return quote(isoDay(rng.pick([MIN_DAY, MAX_DAY])));
  return quote(isoDay(rng.int(MIN_DAY, MAX_DAY)));
};

function timeGen(fsp: number): Gen {
  return ({ rng }) => {
    if (rng.chance(0.08)) return quote(rng.pick(['838:59:59', '-838:59:59', '00:00:00', '-00:00:01']));
    const h = rng.chance(0.5) ? rng.int(0, 23) : rng.int(0, 838);
    const m = rng.int(0, 59);
    const s = rng.int(0, 59);
    // 838:59:59 is the ceiling: no fraction may follow it.
    const f = h === 838 && m === 59 && s === 59 ? '' : fraction(rng, fsp);
    const zero = h === 0 && m === 0 && s === 0 && !/[1-9]/.test(f);
    return quote(`${rng.chance(0.3) && !zero ? '-' : ''}${pad(h)}:${pad(m)}:${pad(s)}${f}`);
  };
}

function datetimeGen(fsp: number): Gen {
  return ({ rng }) => {
    if (rng.chance(0.02)) return `'0000-00-00 00:00:00'`;
    if (rng.chance(0.05)) {
      return quote(rng.chance(0.5) ? `1000-01-01 00:00:00${fsp ? `.${'0'.repeat(fsp)}` : ''}`
        : `9999-12-31 23:59:59${fsp ? `.${'9'.repeat(fsp)}` : ''}`);
    }
    const secs = rng.int(0, 86399);
    return quote(`${isoDay(rng.int(MIN_DAY, MAX_DAY))} ${pad(Math.floor(secs / 3600))}:${pad(Math.floor(secs / 60) % 60)}:`
      + `${pad(secs % 60)}${fraction(rng, fsp)}`);
  };
}

const TIMESTAMP_MAX = 2_147_483_647;

/** A TIMESTAMP literal for epoch second `epoch`, written in the session's time zone. */
function timestampLiteral(epoch: number, tzMinutes: number, frac = ''): string {
  return quote(`${new Date((epoch + tzMinutes * 60) * 1000).toISOString().slice(0, 19).replace('T', ' ')}${frac}`);
}

function timestampGen(fsp: number): Gen {
  return ({ rng, tzMinutes }) => {
    if (rng.chance(0.02)) return `'0000-00-00 00:00:00'`;
    if (rng.chance(0.05)) {
      return rng.chance(0.5) ? timestampLiteral(1, tzMinutes, fsp ? `.${'0'.repeat(fsp)}` : '')
        : timestampLiteral(TIMESTAMP_MAX, tzMinutes, fsp ? `.${'9'.repeat(fsp)}` : '');
    }
    return timestampLiteral(rng.int(1, TIMESTAMP_MAX), tzMinutes, fraction(rng, fsp));
  };
}

function enumGen(members: readonly string[]): Gen {
  // A number is the member's index, so both spellings appear in statement-based binlogs.
  return ({ rng }) => {
    const i = rng.int(1, members.length);
    return rng.chance(0.2) ? String(i) : quote(members[i - 1]!);
  };
}

function setGen(members: readonly string[]): Gen {
  const all = (1n << BigInt(members.length)) - 1n;
  return ({ rng }) => {
    const r = rng.float();
    const mask = r < 0.1 ? rng.pick([0n, all, 1n, 1n << BigInt(members.length - 1)])
      : r < 0.5 ? rng.bigint(0n, all)
        : members.reduce((acc, _, i) => (rng.chance(3 / members.length) ? acc | (1n << BigInt(i)) : acc), 0n);
    if (rng.chance(0.2)) return mask.toString();
    return quote(members.filter((_, i) => (mask >> BigInt(i)) & 1n).join(','));
  };
}

function bitGen(width: number): Gen {
  const max = (1n << BigInt(width)) - 1n;
  return ({ rng }) => {
    const v = rng.chance(0.15) ? rng.pick([0n, max, 1n << BigInt(width - 1)]) : rng.bigint(0n, max);
    return rng.chance(0.3) ? v.toString() : `b'${v.toString(2)}'`;
  };
}

// Code points by weight: mostly ASCII, then the escapes SQL and JSON care about, then 2-, 3- and 4-byte UTF-8.
const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ';
const SPECIAL = ['\'', '"', '\\', '%', '_', '\n', '\r', '\t', '\0', '\x1a', '`', ';'];
const WIDE = ['é', 'ß', 'ü', 'ñ', 'ж', 'ā', '€', '中', '文', '☃', '→', '\u00a0', '\ufeff'];
const ASTRAL = ['😀', '🎉', '𝄞', '🀄', '👍', '𠜎', '🏳'];

function codePoint(rng: Rng): string {
  const r = rng.float();
  if (r < 0.7) return ASCII[rng.int(0, ASCII.length - 1)]!;
  if (r < 0.8) return rng.pick(SPECIAL);
  if (r < 0.92) return rng.pick(WIDE);
  return rng.pick(ASTRAL);
}

/** A length in [0, max], mostly short, sometimes the maximum. */
function length(rng: Rng, max: number): number {
  const r = rng.float();
  if (r < 0.05) return 0;
  if (r < 0.08) return max;
  if (r < 0.85) return rng.int(0, Math.min(max, 24));
  return rng.int(0, max);
}

function utf8Text(rng: Rng, maxChars: number, maxBytes: number): string {
  let s = '';
  let bytes = 0;
  for (let n = length(rng, maxChars); n > 0; n--) {
    const c = codePoint(rng);
    const b = Buffer.byteLength(c);
    if (bytes + b > maxBytes) break;
    s += c;
    bytes += b;
  }
  return s;
}

function textGen(maxChars: number, maxBytes = Infinity, long = false): Gen {
  return ({ rng, sizes }) => {
    const s = utf8Text(rng, long ? Math.min(maxChars, sizes.bytes) : maxChars, Math.min(maxBytes, long ? sizes.bytes : Infinity));
    // Both spellings: a quoted literal and hex bytes with an introducer.
    return rng.chance(0.5) ? quote(s) : `_utf8mb4 ${hex(Buffer.from(s))}`;
  };
}

function latin1Gen(maxBytes: number, long = false): Gen {
  return ({ rng, sizes }) => {
    const n = length(rng, long ? Math.min(maxBytes, sizes.bytes) : maxBytes);
    const b = rng.bytes(n);
    // Mostly printable and high bytes; an occasional control byte.
    for (let i = 0; i < n; i++) if (b[i]! < 0x20 && !rng.chance(0.1)) b[i] = 0x20 + (b[i]! * 7) % 0x60;
    return `_latin1 ${hex(b)}`;
  };
}

function binaryGen(maxBytes: number, long = false): Gen {
  return ({ rng, sizes }) => hex(rng.bytes(length(rng, long ? Math.min(maxBytes, sizes.bytes) : maxBytes)));
}

function jsonText(rng: Rng, depth: number): string {
  const ws = (): string => (rng.chance(0.8) ? '' : rng.pick([' ', '  ', '\n', '\t ']));
  const r = rng.float();
  if (depth < 4 && r < 0.25) {
    const keys = new Set<string>();
    for (let n = rng.int(0, 5); n > 0; n--) keys.add(utf8Text(rng, 8, 32).replace(/\0/g, ''));
    const parts = [...keys].map((k) => `${ws()}${jsonString(rng, k)}${ws()}:${ws()}${jsonText(rng, depth + 1)}${ws()}`);
    return `{${parts.join(',')}}`;
  }
  if (depth < 4 && r < 0.45) {
    const parts: string[] = [];
    for (let n = rng.int(0, 5); n > 0; n--) parts.push(`${ws()}${jsonText(rng, depth + 1)}${ws()}`);
    return `[${parts.join(',')}]`;
  }
  if (r < 0.6) return jsonString(rng, utf8Text(rng, 20, 80));
  if (r < 0.7) return rng.pick(['true', 'false', 'null']);
  if (r < 0.8) {
    return rng.pick(['18446744073709551615', '-9223372036854775808', '9223372036854775807', '0', '-0', '1e-7',
      '1.5e300', '3.14159', '-2.5E-3', '12345678901234567890123']);
  }
  if (r < 0.9) return String(rng.int(-1_000_000, 1_000_000));
  return String(randomFloat64(rng));
}

function jsonString(rng: Rng, s: string): string {
  const text = JSON.stringify(s);
  // Escaped spellings of the same characters: MariaDB keeps the text as written, MySQL normalises it.
  return rng.chance(0.2)
    ? text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : text;
}

const jsonGen: Gen = ({ rng }) => {
  const r = rng.float();
  const text = r < 0.6 ? (rng.chance(0.5) ? jsonObject(rng) : `[${jsonText(rng, 1)}]`) : jsonText(rng, 0);
  return rng.chance(0.5) ? quote(text) : `_utf8mb4 ${hex(Buffer.from(text))}`;
};

function jsonObject(rng: Rng): string {
  const t = jsonText(rng, 1);
  return `{"k":${t},"n":${rng.int(0, 99)}}`;
}

// Geometries: built as a small tree, written as WKB (exact doubles) or as WKT when every coordinate's
// shortest text is plain decimal.
type Geom =
  | { t: 1; p: [number, number] }
  | { t: 2; ps: Array<[number, number]> }
  | { t: 3; rings: Array<Array<[number, number]>> }
  | { t: 4 | 5 | 6 | 7; parts: Geom[] };

function wkb(g: Geom): Buffer {
  const chunks: Buffer[] = [];
  const head = (type: number): void => {
    const b = Buffer.alloc(5);
    b[0] = 1;
    b.writeUInt32LE(type, 1);
    chunks.push(b);
  };
  const u32 = (n: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    chunks.push(b);
  };
  const pts = (ps: Array<[number, number]>): void => {
    const b = Buffer.alloc(16 * ps.length);
    ps.forEach(([x, y], i) => {
      b.writeDoubleLE(x, 16 * i);
      b.writeDoubleLE(y, 16 * i + 8);
    });
    chunks.push(b);
  };
  const walk = (g: Geom): void => {
    head(g.t);
    if (g.t === 1) pts([g.p]);
    else if (g.t === 2) {
      u32(g.ps.length);
      pts(g.ps);
    } else if (g.t === 3) {
      u32(g.rings.length);
      for (const ring of g.rings) {
        u32(ring.length);
        pts(ring);
      }
    } else {
      u32(g.parts.length);
      for (const part of g.parts) walk(part);
    }
  };
  walk(g);
  return Buffer.concat(chunks);
}

function wkt(g: Geom): string {
  const pt = ([x, y]: [number, number]): string => `${x} ${y}`;
  const list = (ps: Array<[number, number]>): string => `(${ps.map(pt).join(',')})`;
  switch (g.t) {
    case 1: return `POINT(${pt(g.p)})`;
    case 2: return `LINESTRING${list(g.ps)}`;
    case 3: return `POLYGON(${g.rings.map(list).join(',')})`;
    case 4: return `MULTIPOINT(${g.parts.map((p) => (p.t === 1 ? pt(p.p) : '')).join(',')})`;
    case 5: return `MULTILINESTRING(${g.parts.map((p) => (p.t === 2 ? list(p.ps) : '')).join(',')})`;
    case 6: return `MULTIPOLYGON(${g.parts.map((p) => (p.t === 3 ? `(${p.rings.map(list).join(',')})` : '')).join(',')})`;
    case 7: return g.parts.length ? `GEOMETRYCOLLECTION(${g.parts.map(wkt).join(',')})` : 'GEOMETRYCOLLECTION EMPTY';
  }
}

function coordinate(rng: Rng, wild: boolean): number {
  const r = rng.float();
  if (wild && r < 0.1) return randomFloat64(rng);
  if (r < 0.3) return (rng.float() * 2 - 1) * 1e6;
  return Number(((rng.float() * 2 - 1) * 180).toFixed(rng.int(0, 8)));
}

function randomPoint(rng: Rng, wild = true): Geom {
  return { t: 1, p: [coordinate(rng, wild), coordinate(rng, wild)] };
}

function randomLine(rng: Rng): Geom {
  const ps: Array<[number, number]> = [];
  for (let n = rng.int(2, 6); n > 0; n--) ps.push([coordinate(rng, true), coordinate(rng, true)]);
  return { t: 2, ps };
}

function ring(rng: Rng, cx: number, cy: number, radius: number): Array<[number, number]> {
  const n = rng.int(3, 8);
  const ps: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const angle = (2 * Math.PI * (i + rng.float() * 0.5)) / n;
    ps.push([cx + radius * Math.cos(angle), cy + radius * Math.sin(angle)]);
  }
  ps.push(ps[0]!);
  return ps;
}

function randomPolygon(rng: Rng): Geom {
  const cx = coordinate(rng, false);
  const cy = coordinate(rng, false);
  const radius = 1 + rng.float() * 100;
  const rings = [ring(rng, cx, cy, radius)];
  if (rng.chance(0.3)) rings.push(ring(rng, cx, cy, radius / 4).reverse());
  return { t: 3, rings };
}

function randomGeometry(rng: Rng, depth = 0): Geom {
  const r = rng.float();
  if (r < 0.25) return randomPoint(rng);
  if (r < 0.4) return randomLine(rng);
  if (r < 0.6) return randomPolygon(rng);
  const t = depth > 0 ? rng.pick([4, 5, 6] as const) : rng.pick([4, 5, 6, 7] as const);
  const parts: Geom[] = [];
  for (let n = rng.int(t === 7 ? 0 : 1, 4); n > 0; n--) {
    parts.push(t === 4 ? randomPoint(rng) : t === 5 ? randomLine(rng) : t === 6 ? randomPolygon(rng)
      : randomGeometry(rng, depth + 1));
  }
  return { t, parts };
}

function geometryLiteral(g: Geom, flavor: Flavor, rng: Rng): string {
  const fn = flavor.stPrefix ? 'ST_' : '';
  const text = wkt(g);
  if (!/e/i.test(text.replace(/[A-Z]+/g, '')) && rng.chance(0.5)) return `${fn}GeomFromText(${quote(text)})`;
  return `${fn}GeomFromWKB(${hex(wkb(g))})`;
}

function geometryGen(kind: 'any' | 'point' | 'polygon'): Gen {
  return ({ rng, flavor }) => geometryLiteral(
    kind === 'point' ? randomPoint(rng) : kind === 'polygon' ? randomPolygon(rng) : randomGeometry(rng), flavor, rng);
}

// ---------------------------------------------------------------------------------------------------------
// The schema.

interface ColumnSpec {
  name: string;
  type: string;
  gen: Gen;
  nullable: boolean;
}

type KeyKind = 'id' | 'composite' | 'none' | 'autoinc' | 'log';

interface TableSpec {
  name: string;
  key: KeyKind;
  /** Columns the generator writes (the key columns excluded), including those alterMidway adds. */
  columns: ColumnSpec[];
  /** Columns that exist only after alterMidway; excluded from CREATE TABLE. */
  added?: string[];
  options: string;
  /** How often a statement picks this table, relative to the others. */
  weight: number;
}

const UTF8 = 'DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';
const ENUM_MEMBERS = ['a', 'b', '', 'x y', 'ü', '😀', 'Zz'];
// More than 255 members: stored in two bytes, which the binlog reflects.
const ENUM_BIG = Array.from({ length: 300 }, (_, i) => `v${pad(i, 3)}`);
// 64 members, the maximum: the bitmap is 8 bytes.
const SET_MEMBERS = Array.from({ length: 64 }, (_, i) => (i === 7 ? 'é' : i === 40 ? '😀' : i === 63 ? 'last' : `m${pad(i)}`));
const SET_SMALL = ['x', 'y', 'z'];

const enumType = (members: readonly string[], kind = 'ENUM'): string => `${kind}(${members.map(quote).join(',')})`;

function c(name: string, type: string, gen: Gen): ColumnSpec {
  return { name, type, gen, nullable: !/NOT NULL/i.test(type) };
}

function schema(flavor: Flavor): TableSpec[] {
  const fsp = (n: number): string => (flavor.fsp && n ? `(${n})` : '');
  const f = (n: number): number => (flavor.fsp ? n : 0);
  const json = flavor.json ? 'JSON' : 'LONGTEXT';
  const wideTypes: Array<[string, Gen]> = [
    ['TINYINT', intGen(8, false)], ['INT UNSIGNED', intGen(32, true)], ['VARCHAR(10)', textGen(10)],
    ['DOUBLE', floatGen(true)], ['DATE', dateGen],
  ];
  return [
    {
      name: 'integers', key: 'id', options: UTF8, weight: 10, added: ['added_end'],
      columns: [
        c('ti', 'TINYINT', intGen(8, false)), c('tiu', 'TINYINT UNSIGNED', intGen(8, true)),
        c('si', 'SMALLINT', intGen(16, false)), c('siu', 'SMALLINT UNSIGNED', intGen(16, true)),
        c('mi', 'MEDIUMINT', intGen(24, false)), c('miu', 'MEDIUMINT UNSIGNED', intGen(24, true)),
        c('i', 'INT', intGen(32, false)), c('iu', 'INT UNSIGNED', intGen(32, true)),
        c('bi', 'BIGINT', intGen(64, false)), c('biu', 'BIGINT UNSIGNED', intGen(64, true)),
        c('i_nn', 'INT NOT NULL DEFAULT 0', intGen(32, false)),
        c('biu_nn', 'BIGINT UNSIGNED NOT NULL DEFAULT 18446744073709551615', intGen(64, true)),
        c('added_end', 'INT UNSIGNED NULL DEFAULT 7', intGen(32, true)),
      ],
    },
    {
      name: 'numerics', key: 'id', options: UTF8, weight: 10,
      columns: [
        c('f', 'FLOAT', floatGen(false)), c('d', 'DOUBLE', floatGen(true)),
        // alterMidway drops this one, so that later row images are one column narrower in the middle.
        c('doomed', 'VARCHAR(30)', textGen(30)),
        c('dec65', 'DECIMAL(65,30)', decimalGen(65, 30)), c('dec10', 'DECIMAL(10,0)', decimalGen(10, 0)),
        c('dec5', 'DECIMAL(5,2)', decimalGen(5, 2)), c('dec_odd', 'DECIMAL(19,9)', decimalGen(19, 9)),
        c('f_nn', 'FLOAT NOT NULL DEFAULT 0', floatGen(false)),
        c('dec_nn', 'DECIMAL(20,10) NOT NULL DEFAULT 0', decimalGen(20, 10)),
      ],
    },
    {
      name: 'temporals', key: 'id', options: UTF8, weight: 10, added: ['added_mid'],
      columns: [
        c('y', 'YEAR', yearGen), c('dt', 'DATE', dateGen),
        c('added_mid', `DATETIME${fsp(6)} NOT NULL DEFAULT '2001-02-03 04:05:06${flavor.fsp ? '.070809' : ''}'`,
          datetimeGen(f(6))),
        c('t', 'TIME', timeGen(0)), c('t1', `TIME${fsp(1)}`, timeGen(f(1))), c('t6', `TIME${fsp(6)}`, timeGen(f(6))),
        c('dtm', 'DATETIME', datetimeGen(0)), c('dtm3', `DATETIME${fsp(3)}`, datetimeGen(f(3))),
        c('dtm4', `DATETIME${fsp(4)}`, datetimeGen(f(4))), c('dtm6', `DATETIME${fsp(6)}`, datetimeGen(f(6))),
        // Explicit NULL/DEFAULT: without them MySQL < 8 makes the first TIMESTAMP column NOW() on every update.
        c('ts', 'TIMESTAMP NULL DEFAULT NULL', timestampGen(0)),
        c('ts2', `TIMESTAMP${fsp(2)} NULL DEFAULT NULL`, timestampGen(f(2))),
        c('ts6', `TIMESTAMP${fsp(6)} NULL DEFAULT NULL`, timestampGen(f(6))),
        c('ts_nn', `TIMESTAMP NOT NULL DEFAULT '2000-01-01 00:00:00'`, timestampGen(0)),
        c('dt_nn', `DATE NOT NULL DEFAULT '2000-01-01'`, dateGen),
      ],
    },
    {
      name: 'enums_bits', key: 'id', options: 'DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin', weight: 8,
      columns: [
        c('e', enumType(ENUM_MEMBERS), enumGen(ENUM_MEMBERS)),
        c('e_big', enumType(ENUM_BIG), enumGen(ENUM_BIG)),
        c('s', enumType(SET_MEMBERS, 'SET'), setGen(SET_MEMBERS)),
        c('s_small', enumType(SET_SMALL, 'SET'), setGen(SET_SMALL)),
        c('b1', 'BIT(1)', bitGen(1)), c('b17', 'BIT(17)', bitGen(17)), c('b64', 'BIT(64)', bitGen(64)),
        c('e_nn', `ENUM('on','off') NOT NULL DEFAULT 'off'`, enumGen(['on', 'off'])),
        c('b_nn', `BIT(8) NOT NULL DEFAULT b'0'`, bitGen(8)),
      ],
    },
    {
      name: 'strings', key: 'id', options: UTF8, weight: 10, added: ['added_mid'],
      columns: [
        c('c10', 'CHAR(10)', textGen(10)),
        c('added_mid', `VARCHAR(40) NOT NULL DEFAULT 'added ü'`, textGen(40)),
        // 255 characters of up to 4 bytes: the binlog stores its length in 2 bytes.
        c('c255', 'CHAR(255)', textGen(255)),
        c('vc20', 'VARCHAR(20)', textGen(20)),
        c('vc300', 'VARCHAR(300) CHARACTER SET latin1', latin1Gen(300)),
        c('vc1000', 'VARCHAR(1000)', textGen(1000)),
        c('bin16', 'BINARY(16)', binaryGen(16)), c('vbin500', 'VARBINARY(500)', binaryGen(500)),
        c('tt', 'TINYTEXT', textGen(255, 255)), c('tx', 'TEXT', textGen(65535, 65535, true)),
        c('mt', 'MEDIUMTEXT', textGen(1 << 24, 1 << 24, true)), c('lt', 'LONGTEXT', textGen(1 << 30, 1 << 30, true)),
        c('tb', 'TINYBLOB', binaryGen(255)), c('bl', 'BLOB', binaryGen(65535, true)),
        c('mb', 'MEDIUMBLOB', binaryGen(1 << 24, true)), c('lb', 'LONGBLOB', binaryGen(1 << 30, true)),
        c('vc_nn', `VARCHAR(50) NOT NULL DEFAULT ''`, textGen(50)),
      ],
    },
    {
      name: 'documents', key: 'id', options: UTF8, weight: 6,
      columns: [
        c('j', json, jsonGen), c('g', 'GEOMETRY', geometryGen('any')), c('p', 'POINT', geometryGen('point')),
        c('pg', 'POLYGON', geometryGen('polygon')), c('j2', json, jsonGen),
      ],
    },
    {
      name: 'latin1_bytes', key: 'id', options: 'DEFAULT CHARSET=latin1', weight: 4,
      columns: [c('c', 'CHAR(100)', latin1Gen(100)), c('v', 'VARCHAR(255)', latin1Gen(255)),
        c('t', 'TEXT', latin1Gen(65535, true))],
    },
    {
      name: 'all_bytes', key: 'id', options: UTF8, weight: 4,
      columns: [c('bin', 'BINARY(32)', binaryGen(32)), c('vb', 'VARBINARY(256)', binaryGen(256)),
        c('bl', 'BLOB', binaryGen(65535, true))],
    },
    {
      // More than 250 columns: the column count and bitmaps in the binlog take their long forms.
      name: 'wide', key: 'id', options: UTF8, weight: 1,
      columns: Array.from({ length: 260 }, (_, i) => {
        const [type, gen] = wideTypes[i % wideTypes.length]!;
        return c(`c${pad(i, 3)}`, type, gen);
      }),
    },
    {
      name: 'composite', key: 'composite', options: UTF8, weight: 8,
      columns: [c('val', 'BIGINT', intGen(64, false)), c('note', 'VARCHAR(100)', textGen(100))],
    },
    {
      name: 'nokey', key: 'none', options: UTF8, weight: 8, added: ['n0'],
      columns: [
        c('n0', 'SMALLINT NULL DEFAULT -5', intGen(16, false)),
        c('v', 'VARCHAR(50)', textGen(50)), c('d', 'DECIMAL(10,2)', decimalGen(10, 2)),
        c('b', 'BLOB', binaryGen(65535, true)), c('ts', `DATETIME${fsp(6)}`, datetimeGen(f(6))),
      ],
    },
    {
      name: 'autoinc', key: 'autoinc', options: UTF8, weight: 4,
      columns: [c('v', 'VARCHAR(30)', textGen(30)), c('x', 'DOUBLE', floatGen(true))],
    },
    { name: 'tx_log', key: 'log', options: UTF8, weight: 0, columns: [] },
  ];
}

function keyDdl(t: TableSpec): { head: string[]; tail: string[] } {
  switch (t.key) {
    case 'id': return { head: ['id BIGINT UNSIGNED NOT NULL'], tail: ['PRIMARY KEY (id)'] };
    case 'composite':
      return {
        head: ['a INT NOT NULL', 'b VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL', 'c DATE NOT NULL'],
        tail: ['PRIMARY KEY (a, b, c)'],
      };
    case 'none': return { head: ['k INT NOT NULL'], tail: [] };
    case 'autoinc':
      return { head: ['id INT UNSIGNED NOT NULL AUTO_INCREMENT', 'grp SMALLINT NOT NULL'], tail: ['PRIMARY KEY (id)'] };
    case 'log':
      return {
        head: ['txn BIGINT UNSIGNED NOT NULL', 'seed INT UNSIGNED NOT NULL', 'statements SMALLINT UNSIGNED NOT NULL'],
        tail: ['PRIMARY KEY (txn)'],
      };
  }
}

const ident = (s: string): string => `\`${s.replace(/`/g, '``')}\``;

// ---------------------------------------------------------------------------------------------------------
// Session handling. Every entry point sets the session it needs and puts the caller's settings back.

const STRICT = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION';

export interface WorkloadHooks {
  /** Called with every SQL text sent, in order, before it is sent: replaying these on another server
   *  reproduces the workload exactly. */
  onQuery?: (sql: string) => void;
}

async function withSession<T>(conn: Connection, hooks: WorkloadHooks, fn: (send: (sql: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const [saved] = await conn.query(
    'SELECT @@session.sql_mode AS m, @@session.time_zone AS tz, @@session.character_set_client AS cc, '
    + '@@session.character_set_connection AS cn, @@session.collation_connection AS co, '
    + '@@session.character_set_results AS cr');
  const s = (saved as Array<Record<string, string | null>>)[0]!;
  const send = async (sql: string): Promise<unknown> => {
    hooks.onQuery?.(sql);
    try {
      const [result] = await conn.query(sql);
      return result;
    } catch (err) {
      const e = err as Error;
      e.message = `${e.message}\n  in workload SQL: ${sql.length > 1000 ? `${sql.slice(0, 1000)}...` : sql}`;
      // mysql2 attaches the whole SQL text, which for a batch is megabytes of noise in a test report.
      if (typeof (e as { sql?: unknown }).sql === 'string') (e as { sql?: string }).sql = sql.slice(0, 1000);
      throw e;
    }
  };
  await send(`SET NAMES utf8mb4; SET SESSION sql_mode='${STRICT}'; SET SESSION time_zone='+00:00'`);
  try {
    return await fn(send);
  } finally {
    const lit = (v: string | null | undefined): string => (v == null ? 'NULL' : quote(v));
    await conn.query(`SET SESSION sql_mode=${lit(s.m)}, time_zone=${lit(s.tz)}, character_set_client=${lit(s.cc)}, `
      + `character_set_connection=${lit(s.cn)}, collation_connection=${lit(s.co)}, character_set_results=${lit(s.cr)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// createTypeRichSchema

/** Creates database `db` (if missing) and the workload's tables in it (which must not exist yet). */
export async function createTypeRichSchema(conn: Connection, db: string, hooks: WorkloadHooks = {}): Promise<void> {
  const flavor = await detectFlavor(conn);
  await withSession(conn, hooks, async (send) => {
    const statements = [`CREATE DATABASE IF NOT EXISTS ${ident(db)} DEFAULT CHARACTER SET utf8mb4`];
    for (const t of schema(flavor)) {
      const { head, tail } = keyDdl(t);
      const cols = t.columns.filter((col) => !t.added?.includes(col.name)).map((col) => `${ident(col.name)} ${col.type}`);
      statements.push(`CREATE TABLE ${ident(db)}.${ident(t.name)} (\n  ${[...head, ...cols, ...tail].join(',\n  ')}\n) ENGINE=InnoDB ${t.options}`);
    }
    // One DDL statement per query: a failing CREATE then names itself in the error.
    for (const sql of statements) await send(sql);
  });
}

/** Table names the workload creates, in creation order. */
export async function workloadTables(conn: Connection): Promise<string[]> {
  return schema(await detectFlavor(conn)).map((t) => t.name);
}

// ---------------------------------------------------------------------------------------------------------
// alterMidway

/**
 * Changes table shapes so that a backlog spans them: adds a column with a default in the middle of
 * `strings` and `temporals` (AFTER), at the front of `nokey` (FIRST) and at the end of `integers`, and drops
 * `numerics.doomed` from the middle. runTransactions afterwards writes the new columns. Running it twice is
 * harmless.
 */
export async function alterMidway(conn: Connection, db: string, hooks: WorkloadHooks = {}): Promise<void> {
  const flavor = await detectFlavor(conn);
  const specs = new Map(schema(flavor).map((t) => [t.name, t]));
  const [rows] = await conn.query(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?', [db]);
  const have = new Set((rows as Array<{ t: string; c: string }>).map((r) => `${r.t}.${r.c}`));
  const type = (table: string, column: string): string =>
    specs.get(table)!.columns.find((col) => col.name === column)!.type;
  const changes: Array<[string, string, string]> = [
    ['strings', 'added_mid', `ADD COLUMN added_mid ${type('strings', 'added_mid')} AFTER c10`],
    ['temporals', 'added_mid', `ADD COLUMN added_mid ${type('temporals', 'added_mid')} AFTER dt`],
    ['nokey', 'n0', `ADD COLUMN n0 ${type('nokey', 'n0')} FIRST`],
    ['integers', 'added_end', `ADD COLUMN added_end ${type('integers', 'added_end')}`],
  ];
  await withSession(conn, hooks, async (send) => {
    for (const [table, column, clause] of changes) {
      if (!have.has(`${table}.${column}`)) await send(`ALTER TABLE ${ident(db)}.${ident(table)} ${clause}`);
    }
    if (have.has('numerics.doomed')) await send(`ALTER TABLE ${ident(db)}.numerics DROP COLUMN doomed`);
  });
}

// ---------------------------------------------------------------------------------------------------------
// extremeRows

/**
 * Inserts rows holding each type's extreme and awkward values, with keys at or above EXTREME_ID_BASE
 * (composite: a < 0; nokey: k < 0; autoinc: grp < 0), which runTransactions leaves alone. Call it once per
 * database, after createTypeRichSchema.
 */
export async function extremeRows(conn: Connection, db: string, hooks: WorkloadHooks = {}): Promise<void> {
  const flavor = await detectFlavor(conn);
  const st = flavor.stPrefix ? 'ST_' : '';
  const q = (t: string): string => `${ident(db)}.${ident(t)}`;
  const id = (i: number): number => EXTREME_ID_BASE + i;
  const emoji = (n: number): string => '😀'.repeat(n);
  const blob = (n: number): string => hex(Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff)));
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const high = Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i));
  const decMax = `${'9'.repeat(35)}.${'9'.repeat(30)}`;
  const decTiny = `0.${'0'.repeat(29)}1`;
  const json1 = '{"a": [1, -1, 18446744073709551615, -9223372036854775808, 3.14159, 1e-7, 1.5e300, 0.1],'
    + ' "b": {"c": {"d": [true, false, null, "😀", "\\u00e9\\ud83d\\ude00", "\\"quoted\\" \\\\ back"]}},'
    + ' "": "", "ключ": {"日本": []}, "deep": [[[[[[[[["x"]]]]]]]]]}';
  const wkbPoint = (x: number, y: number): string => `${st}GeomFromWKB(${hex(wkb({ t: 1, p: [x, y] }))})`;
  const statements = [
    // Non-strict: ENUM index 0 from an invalid value, zero dates in every temporal type.
    `SET SESSION sql_mode=''`,
    `INSERT INTO ${q('integers')} (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, i_nn, biu_nn) VALUES
      (${id(0)}, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, -2147483648, 0),
      (${id(1)}, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,
        18446744073709551615, 2147483647, 18446744073709551615),
      (${id(2)}, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1),
      (${id(3)}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 9223372036854775808),
      (${id(4)}, 0, 128, 0, 32768, 0, 8388608, 0, 2147483648, 0, 9223372036854775808, 0, 0)`,
    `INSERT INTO ${q('numerics')} (id, f, d, doomed, dec65, dec10, dec5, dec_odd, f_nn, dec_nn) VALUES
      (${id(0)}, 1.17549e-38, 5e-324, 'x', '${decMax}', 9999999999, 999.99, 9999999999.999999999, 3.40282e+38,
        '9999999999.9999999999'),
      (${id(1)}, -3.40282e+38, -1.7976931348623157e308, '', '-${decMax}', -9999999999, -999.99,
        -9999999999.999999999, -1.17549e-38, '-9999999999.9999999999'),
      (${id(2)}, 3.4028234663852886e38, 1.7976931348623157e308, NULL, '${decTiny}', 0, 0.01, 0.000000001,
        1.401298464324817e-45, '0.0000000001'),
      (${id(3)}, NULL, NULL, NULL, '-${decTiny}', NULL, -0.01, -0.000000001, 0, 0),
      (${id(4)}, 0, 2.2250738585072014e-308, 'é', '0', 1, 0, NULL, -0, '-0.0000000001'),
      (${id(5)}, 0.1, 0.1, NULL, NULL, NULL, NULL, NULL, 16777217, 0)`,
    `SET SESSION time_zone='+00:00'`,
    `INSERT INTO ${q('temporals')} (id, y, dt, t, t1, t6, dtm, dtm3, dtm4, dtm6, ts, ts2, ts6, ts_nn, dt_nn) VALUES
      (${id(0)}, 1901, '1000-01-01', '-838:59:59', '-838:59:59.0', '-838:59:59.000000', '1000-01-01 00:00:00',
        '1000-01-01 00:00:00.000', '1000-01-01 00:00:00.0000', '1000-01-01 00:00:00.000000',
        '1970-01-01 00:00:01', '1970-01-01 00:00:01.00', '1970-01-01 00:00:01.000000', '1970-01-01 00:00:01',
        '1000-01-01'),
      (${id(1)}, 2155, '9999-12-31', '838:59:59', '838:59:59.0', '838:59:59.000000', '9999-12-31 23:59:59',
        '9999-12-31 23:59:59.999', '9999-12-31 23:59:59.9999', '9999-12-31 23:59:59.999999',
        '2038-01-19 03:14:07', '2038-01-19 03:14:07.99', '2038-01-19 03:14:07.999999', '2038-01-19 03:14:07',
        '9999-12-31'),
      (${id(2)}, 0, '0000-00-00', '00:00:00', '-00:00:00.5', '-00:00:01.500000', '0000-00-00 00:00:00',
        '0000-00-00 00:00:00.000', '0000-00-00 00:00:00.0000', '0000-00-00 00:00:00.000000',
        '0000-00-00 00:00:00', '0000-00-00 00:00:00.00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00',
        '0000-00-00'),
      (${id(3)}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2000-01-01 00:00:00',
        '2000-01-01'),
      (${id(4)}, 2000, '2000-00-00', '-00:00:00.000001', '00:00:00.1', '-00:00:00.000001', '2000-02-29 12:34:56',
        '2000-00-00 00:00:00.001', '2000-01-00 00:00:00.0001', '1999-12-31 23:59:59.000001',
        '2000-02-29 12:34:56', '2000-02-29 12:34:56.01', '2000-02-29 12:34:56.000001', '2000-02-29 12:34:56',
        '2000-01-00'),
      (${id(5)}, 1999, '1970-01-01', '-12:00:00', '-00:00:00.9', '123:45:56.789012', '1970-01-01 00:00:00',
        '1969-12-31 23:59:59.999', '2038-01-19 03:14:08.0000', '1969-12-31 23:59:59.999999',
        '1970-01-01 00:00:01', '2000-01-01 00:00:00.50', '1970-01-01 00:00:01.000001', '2038-01-19 03:14:07',
        '2000-01-01')`,
    `INSERT INTO ${q('enums_bits')} (id, e, e_big, s, s_small, b1, b17, b64, e_nn, b_nn) VALUES
      (${id(0)}, 'no such member', 'nope', '', '', b'0', b'0', 0, 'no', b'0'),
      (${id(1)}, '😀', 'v299', ${quote(SET_MEMBERS.join(','))}, 'x,y,z', b'1', b'11111111111111111',
        18446744073709551615, 'on', b'11111111'),
      (${id(2)}, '', 'v000', 'm00', 'y', 1, 65536, 9223372036854775808, 'off', 128),
      (${id(3)}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'on', 0),
      (${id(4)}, 3, 300, 18446744073709551615, 7, 0, 1, 1, 1, 1),
      (${id(5)}, 'ü', 'v255', 'é,😀,last', 'z,x', b'1', b'10000000000000000', b'1${'0'.repeat(63)}', 2, b'1010')`,
    `INSERT INTO ${q('strings')} (id, c10, c255, vc20, vc300, vc1000, bin16, vbin500, tt, tx, mt, lt, tb, bl, mb, lb, vc_nn)
      VALUES
      (${id(0)}, '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', ''),
      (${id(1)}, '${emoji(10)}', '${emoji(255)}', '${emoji(20)}', _latin1 ${hex(Buffer.alloc(300, 0xff))},
        '${emoji(1000)}', ${hex(Buffer.alloc(16, 0xff))}, ${blob(500)}, '${emoji(63)}abc', _utf8mb4 ${hex(Buffer.from('é'.repeat(32767) + 'a'))},
        _utf8mb4 ${hex(Buffer.from('ж'.repeat(40000)))}, _utf8mb4 ${hex(Buffer.from(`${emoji(50000)}end`))},
        ${blob(255)}, ${blob(65535)}, ${blob(70000)}, ${blob(300000)}, '${emoji(50)}'),
      (${id(2)}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ''),
      (${id(3)}, 'trail  ', 'pad   ', 'trail  ', ' lead', 'tab\\t', X'00', X'0000', '\\0', 'a\\\\b\\'c\\"d',
        '\\n\\r', '\\Z', X'00', X'00', X'00', X'00', ' '),
      (${id(4)}, 'ASCII', 'Grüße, 世界', 'é', _latin1 ${hex(high)}, 'mixed ü中😀', X'000102', ${hex(allBytes)},
        '中文', 'x', 'y', 'z', X'ff', X'fe', X'fd', X'fc', 'nn')`,
    `INSERT INTO ${q('documents')} (id, j, g, p, pg, j2) VALUES
      (${id(0)}, ${quote(json1)}, ${st}GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1,2 0),POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,2 3,3 3,2 2)))'),
        ${wkbPoint(-1.7976931348623157e308, 1.7976931348623157e308)},
        ${st}GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))'), '{}'),
      (${id(1)}, '[]', ${st}GeomFromText('MULTIPOLYGON(((0 0,1 0,0 1,0 0)),((5 5,6 5,5 6,5 5)))'),
        ${wkbPoint(5e-324, -0)}, ${st}GeomFromText('POLYGON((-180 -90,180 -90,180 90,-180 90,-180 -90),(0 0,0 1,1 0,0 0))'),
        '"just a string 😀"'),
      (${id(2)}, NULL, NULL, NULL, NULL, NULL),
      (${id(3)}, '{"n": 1.0, "i": 12345678901234567890, "neg": -0.0, "e": 2E+10, "s": "tab\\\\t nl\\\\n"}',
        ${st}GeomFromText('MULTIPOINT(0 0,1 1)'), ${st}GeomFromText('POINT(0 0)'),
        ${st}GeomFromText('POLYGON((0 0,0.1 0,0.1 0.1,0 0))'), 'null'),
      (${id(4)}, 'true', ${st}GeomFromText('LINESTRING(1.5 -2.25,3.125 4.0625)'), ${wkbPoint(0.1, -0.2)},
        ${st}GeomFromText('POLYGON((1 1,2 1,2 2,1 1))'), '[1, [2, [3, {"x": "ü"}]]]')`,
    `INSERT INTO ${q('latin1_bytes')} (id, c, v, t) VALUES
      (${id(0)}, _latin1 ${hex(high.subarray(0, 100))}, _latin1 ${hex(high)}, _latin1 ${hex(Buffer.concat([high, high]))}),
      (${id(1)}, '', '', ''),
      (${id(2)}, NULL, NULL, NULL),
      (${id(3)}, _latin1 X'a0', _latin1 X'ff', _latin1 ${hex(allBytes)})`,
    // Every byte value: one row holding all 256, then one row per byte.
    `INSERT INTO ${q('all_bytes')} (id, bin, vb, bl) VALUES
      (${id(0)}, ${hex(allBytes.subarray(0, 32))}, ${hex(allBytes)}, ${hex(Buffer.concat([allBytes, Buffer.from(allBytes).reverse()]))}),
      (${id(1)}, '', '', ''), (${id(2)}, NULL, NULL, NULL), (${id(3)}, X'00', X'00', X'00'),
      ${Array.from({ length: 256 }, (_, b) => {
        const x = b.toString(16).padStart(2, '0');
        return `(${id(10 + b)}, X'${x}', X'${x}', X'${x}')`;
      }).join(',\n      ')}`,
    `INSERT INTO ${q('wide')} (id, ${Array.from({ length: 260 }, (_, i) => `c${pad(i, 3)}`).join(', ')}) VALUES
      (${id(0)}, ${Array.from({ length: 260 }, (_, i) => ['127', '4294967295', `'${emoji(10)}'`, '-1.7976931348623157e308', `'9999-12-31'`][i % 5]).join(', ')}),
      (${id(1)}, ${Array.from({ length: 260 }, (_, i) => ['-128', '0', `''`, '5e-324', `'0000-00-00'`][i % 5]).join(', ')}),
      (${id(2)}, ${Array.from({ length: 260 }, () => 'NULL').join(', ')})`,
    `INSERT INTO ${q('composite')} (a, b, c, val, note) VALUES
      (-1, '', '0000-00-00', -9223372036854775808, ''), (-1, 'a', '1000-01-01', 9223372036854775807, NULL),
      (-1, 'a', '9999-12-31', NULL, '${emoji(100)}'), (-2147483648, 'zzzzzzzzzzzzzzzzzzzz', '2000-02-29', 0, 'x'),
      (-2, 'A', '1970-01-01', 1, 'upper'), (-2, 'a', '1970-01-01', 2, 'lower')`,
    // Duplicate rows in a table without a key: a replica must delete or update exactly one of them.
    `INSERT INTO ${q('nokey')} (k, v, d, b, ts) VALUES
      (-1, 'dup', 1.5, X'00ff', '2000-01-01 00:00:00.000001'), (-1, 'dup', 1.5, X'00ff', '2000-01-01 00:00:00.000001'),
      (-2, NULL, NULL, NULL, NULL), (-2, NULL, NULL, NULL, NULL), (-3, '', 0, '', '0000-00-00 00:00:00'),
      (-4, '${emoji(50)}', -99999999.99, ${blob(65535)}, '9999-12-31 23:59:59.999999')`,
    `INSERT INTO ${q('autoinc')} (grp, v, x) VALUES (-1, 'first', 0), (-1, NULL, NULL), (-2, '${emoji(30)}', 5e-324)`,
    `SET SESSION sql_mode='${STRICT}'`,
  ];
  await withSession(conn, hooks, async (send) => {
    for (const sql of statements) await send(sql);
  });
}

// ---------------------------------------------------------------------------------------------------------
// runTransactions: the model of what the tables hold (keys and counts only), with an undo journal so that a
// rolled-back transaction leaves the model as the server leaves the tables.

class Journal {
  private undo: Array<() => void> = [];
  push(fn: () => void): void {
    this.undo.push(fn);
  }
  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
    this.undo = [];
  }
  commit(): void {
    this.undo = [];
  }
}

/** Sorted unique integer keys below EXTREME_ID_BASE. New keys are always above every existing one. */
class KeySet {
  constructor(readonly keys: number[], public next: number, private journal: Journal) {}

  get size(): number {
    return this.keys.length;
  }

  private lowerBound(v: number): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  append(n: number): number[] {
    const added = Array.from({ length: n }, (_, i) => this.next + i);
    this.keys.push(...added);
    this.next += n;
    this.journal.push(() => {
      this.keys.length -= n;
      this.next -= n;
    });
    return added;
  }

  /** Removes the keys in [lo, hi] and returns them. */
  removeRange(lo: number, hi: number): number[] {
    const start = this.lowerBound(lo);
    const end = this.lowerBound(hi + 1);
    const removed = this.keys.splice(start, end - start);
    if (removed.length) this.journal.push(() => this.keys.splice(start, 0, ...removed));
    return removed;
  }

  remove(key: number): boolean {
    return this.removeRange(key, key).length > 0;
  }

  has(key: number): boolean {
    const i = this.lowerBound(key);
    return this.keys[i] === key;
  }

  random(rng: Rng): number | undefined {
    return this.keys.length ? this.keys[rng.int(0, this.keys.length - 1)] : undefined;
  }
}

/** Row counts by a non-unique small integer (nokey.k, autoinc.grp). */
class Counts {
  total = 0;
  constructor(readonly counts: Map<number, number>, private journal: Journal) {
    for (const n of counts.values()) this.total += n;
  }
  get(k: number): number {
    return this.counts.get(k) ?? 0;
  }
  add(k: number, n: number): void {
    const before = this.get(k);
    this.counts.set(k, before + n);
    this.total += n;
    this.journal.push(() => {
      this.counts.set(k, before);
      this.total -= n;
    });
  }
}

interface TableState {
  spec: TableSpec;
  /** The spec's columns that exist now, in table order. */
  columns: ColumnSpec[];
  /** Rows the workload does not touch (extreme rows). */
  fixed: number;
  ids?: KeySet;
  /** composite: groups by a (each a's rows have distinct b). */
  groups?: KeySet;
  members?: Map<number, string[]>;
  counts?: Counts;
}

export interface RunOptions extends WorkloadHooks {
  count: number;
  seed: number;
  sizes?: WorkloadSizes;
  /** Chance that a transaction ends in ROLLBACK (default 0.06). */
  rollbackRate?: number;
  /** Largest SQL text sent in one round trip, in bytes (default 256 KiB); several transactions share one. */
  batchBytes?: number;
}

export interface WorkloadResult {
  committed: number;
  rolledBack: number;
  /** Data statements executed (committed or not), SET statements excluded. */
  statements: number;
  /** Rows each table holds afterwards, per the generator's model: compare with SELECT COUNT(*). */
  rowCounts: Record<string, number>;
  millis: number;
}

/** Runs `count` transactions; returns how many committed. */
export async function runTransactions(conn: Connection, db: string, options: RunOptions): Promise<number> {
  return (await runWorkload(conn, db, options)).committed;
}

/** runTransactions with the details: rollbacks, statements, and the row counts the tables must now have. */
export async function runWorkload(conn: Connection, db: string, options: RunOptions): Promise<WorkloadResult> {
  const started = Date.now();
  const flavor = await detectFlavor(conn);
  const journal = new Journal();
  const states = await loadState(conn, db, flavor, journal);
  const sizes: Required<WorkloadSizes> = { statements: 5, rows: 6, bytes: 2048, ...options.sizes };
  const rng = new Rng(options.seed);
  const ctx: GenContext = { rng, flavor, sizes, tzMinutes: 0 };
  const batchBytes = options.batchBytes ?? 256 * 1024;
  const rollbackRate = options.rollbackRate ?? 0.06;
  const weighted = states.filter((s) => s.spec.weight > 0);
  const totalWeight = weighted.reduce((n, s) => n + s.spec.weight, 0);
  const log = states.find((s) => s.spec.key === 'log')!;
  const q = (t: string): string => `${ident(db)}.${ident(t)}`;
  let committed = 0;
  let rolledBack = 0;
  let statementCount = 0;

  const pickTable = (): TableState => {
    let r = rng.float() * totalWeight;
    for (const s of weighted) if ((r -= s.spec.weight) < 0) return s;
    return weighted[weighted.length - 1]!;
  };

  const values = (cols: ColumnSpec[]): string[] =>
    cols.map((col) => (col.nullable && rng.chance(0.1) ? 'NULL' : col.gen(ctx)));

  /** The columns an INSERT names: all of them, or now and then only some (the rest take defaults). */
  const insertColumns = (s: TableState): ColumnSpec[] =>
    rng.chance(0.15) ? s.columns.filter(() => rng.chance(0.6)) : s.columns;

  const assignments = (s: TableState): string[] => {
    const chosen = new Set<ColumnSpec>();
    for (let n = Math.min(rng.int(1, 4), s.columns.length); chosen.size < n;) chosen.add(rng.pick(s.columns));
    return [...chosen].map((col) => `${ident(col.name)} = ${col.nullable && rng.chance(0.1) ? 'NULL' : col.gen(ctx)}`);
  };

  const idStatement = (s: TableState): string => {
    const ids = s.ids!;
    const t = q(s.spec.name);
    const r = rng.float();
    if (r < 0.45 || ids.size === 0) {
      const cols = insertColumns(s);
      const keys = ids.append(rng.int(1, sizes.rows));
      const rows = keys.map((k) => `(${[String(k), ...values(cols)].join(', ')})`);
      const names = ['id', ...cols.map((col) => ident(col.name))].join(', ');
      if (s.spec.name === 'enums_bits' && rng.chance(0.1)) {
        // Invalid members under a non-strict sql_mode: stored as index 0, the empty string.
        return `SET SESSION sql_mode=''; INSERT INTO ${t} (id, e, e_big) VALUES (${ids.append(1)[0]}, 'not a member', 'nor this');\n`
          + `INSERT INTO ${t} (${names}) VALUES ${rows.join(', ')}; SET SESSION sql_mode='${STRICT}'`;
      }
      return `INSERT INTO ${t} (${names}) VALUES ${rows.join(', ')}`;
    }
    if (r < 0.52) {
      // REPLACE of an existing row: a delete and an insert (or an update) in the binlog.
      const k = ids.random(rng)!;
      const cols = insertColumns(s);
      return `REPLACE INTO ${t} (${['id', ...cols.map((col) => ident(col.name))].join(', ')}) VALUES (${[String(k), ...values(cols)].join(', ')})`;
    }
    const lo = ids.random(rng)!;
    const hi = lo + rng.int(0, sizes.rows * 2);
    if (r < 0.8) {
      if (rng.chance(0.25)) {
        // Move every row of the range above all existing keys, keeping their order: no transient duplicate.
        const moved = ids.removeRange(lo, hi);
        const shift = ids.next - lo;
        ids.keys.push(...moved.map((k) => k + shift));
        const oldNext = ids.next;
        ids.next = lo + shift + (hi - lo) + 1;
        journalShift(journal, ids, moved.length, oldNext);
        return `UPDATE ${t} SET id = id + ${shift}${['', ...assignments(s)].join(', ')} WHERE id BETWEEN ${lo} AND ${hi}`;
      }
      const set = assignments(s);
      if (!set.length) return `UPDATE ${t} SET id = id WHERE id = ${lo}`;
      if (rng.chance(0.3)) {
        const list = Array.from({ length: rng.int(1, sizes.rows) }, () => ids.random(rng)!);
        return `UPDATE ${t} SET ${set.join(', ')} WHERE id IN (${[...new Set(list)].join(', ')})`;
      }
      return `UPDATE ${t} SET ${set.join(', ')} WHERE id BETWEEN ${lo} AND ${hi}`;
    }
    if (rng.chance(0.3)) {
      const list = [...new Set(Array.from({ length: rng.int(1, sizes.rows) }, () => ids.random(rng)!))];
      for (const k of list) ids.remove(k);
      return `DELETE FROM ${t} WHERE id IN (${list.join(', ')})`;
    }
    ids.removeRange(lo, hi);
    return `DELETE FROM ${t} WHERE id BETWEEN ${lo} AND ${hi}`;
  };

  const compositeStatement = (s: TableState): string => {
    const groups = s.groups!;
    const members = s.members!;
    const t = q(s.spec.name);
    const r = rng.float();
    const newB = (taken: string[]): string => {
      for (;;) {
        const b = Array.from({ length: rng.int(0, 20) }, () => rng.pick([...'abcdefghijklmnopqrstuvwxyz0123456789'])).join('');
        if (!taken.includes(b)) return b;
      }
    };
    if (r < 0.45 || groups.size === 0) {
      const [a] = groups.append(1) as [number];
      const bs: string[] = [];
      for (let n = rng.int(1, sizes.rows); n > 0; n--) bs.push(newB(bs));
      setMembers(journal, members, a, bs);
      const cols = insertColumns(s);
      const rows = bs.map((b) => `(${[String(a), quote(b), dateGen(ctx), ...values(cols)].join(', ')})`);
      return `INSERT INTO ${t} (${['a', 'b', 'c', ...cols.map((col) => ident(col.name))].join(', ')}) VALUES ${rows.join(', ')}`;
    }
    const a = groups.random(rng)!;
    const bs = members.get(a)!;
    if (r < 0.6 && bs.length) {
      // Change the key's b and c of one row.
      const old = rng.pick(bs);
      const b = newB(bs);
      setMembers(journal, members, a, bs.map((x) => (x === old ? b : x)));
      return `UPDATE ${t} SET b = ${quote(b)}, c = ${dateGen(ctx)}${['', ...assignments(s)].join(', ')} WHERE a = ${a} AND b = ${quote(old)}`;
    }
    const hi = a + rng.int(0, sizes.rows);
    if (r < 0.8) {
      // Move whole groups to new, higher values of a.
      const moved = groups.removeRange(a, hi);
      const shift = groups.next - a;
      const oldNext = groups.next;
      groups.keys.push(...moved.map((k) => k + shift));
      groups.next = hi + shift + 1;
      journalShift(journal, groups, moved.length, oldNext);
      for (const k of moved) {
        setMembers(journal, members, k + shift, members.get(k)!);
        setMembers(journal, members, k, undefined);
      }
      return `UPDATE ${t} SET a = a + ${shift}${['', ...assignments(s)].join(', ')} WHERE a BETWEEN ${a} AND ${hi}`;
    }
    if (r < 0.9 && bs.length) {
      const old = rng.pick(bs);
      setMembers(journal, members, a, bs.filter((x) => x !== old));
      return `DELETE FROM ${t} WHERE a = ${a} AND b = ${quote(old)}`;
    }
    for (const k of groups.removeRange(a, hi)) setMembers(journal, members, k, undefined);
    return `DELETE FROM ${t} WHERE a BETWEEN ${a} AND ${hi}`;
  };

  const countedStatement = (s: TableState, column: 'k' | 'grp', domain: number): string => {
    const counts = s.counts!;
    const t = q(s.spec.name);
    const r = rng.float();
    if (r < 0.5) {
      const cols = insertColumns(s);
      const rows: string[] = [];
      for (let n = rng.int(1, sizes.rows); n > 0; n--) {
        const k = rng.int(0, domain - 1);
        const row = `(${[String(k), ...values(cols)].join(', ')})`;
        rows.push(row);
        counts.add(k, 1);
        // Identical rows: in a table without a key a replica must touch exactly one of them.
        if (column === 'k' && rng.chance(0.1)) {
          rows.push(row);
          counts.add(k, 1);
        }
      }
      return `INSERT INTO ${t} (${[column, ...cols.map((col) => ident(col.name))].join(', ')}) VALUES ${rows.join(', ')}`;
    }
    const k = rng.int(0, domain - 1);
    if (r < 0.8) {
      const set = assignments(s);
      if (rng.chance(0.3) || !set.length) {
        const k2 = rng.int(0, domain - 1);
        const n = counts.get(k);
        counts.add(k, -n);
        counts.add(k2, n);
        set.unshift(`${column} = ${k2}`);
      }
      return `UPDATE ${t} SET ${set.join(', ')} WHERE ${column} = ${k}`;
    }
    counts.add(k, -counts.get(k));
    return `DELETE FROM ${t} WHERE ${column} = ${k}`;
  };

  const statement = (s: TableState): string => {
    switch (s.spec.key) {
      case 'id': return idStatement(s);
      case 'composite': return compositeStatement(s);
      case 'none': return countedStatement(s, 'k', 200);
      case 'autoinc': return countedStatement(s, 'grp', 40);
      case 'log': throw new Error('tx_log is written once per transaction');
    }
  };

  await withSession(conn, options, async (send) => {
    let batch: string[] = [];
    let batchSize = 0;
    const flush = async (): Promise<void> => {
      if (!batch.length) return;
      const sql = batch.join(';\n');
      batch = [];
      batchSize = 0;
      await send(sql);
    };
    for (let n = 0; n < options.count; n++) {
      const parts: string[] = [];
      // A time zone other than UTC now and then: TIMESTAMP literals are then local to it.
      const tz = rng.chance(0.08) ? rng.pick([-300, 330, 780, -720]) : 0;
      if (tz) parts.push(`SET SESSION time_zone='${tz < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(tz) / 60))}:${pad(Math.abs(tz) % 60)}'`);
      ctx.tzMinutes = tz;
      const autocommit = rng.chance(0.05);
      const rollback = !autocommit && rng.chance(rollbackRate);
      const count = autocommit ? 1 : rng.int(1, sizes.statements);
      if (!autocommit) parts.push(rng.chance(0.5) ? 'START TRANSACTION' : 'BEGIN');
      for (let i = 0; i < count; i++) parts.push(statement(pickTable()));
      statementCount += count;
      if (!autocommit) {
        const txn = log.ids!.append(1)[0]!;
        parts.push(`INSERT INTO ${q('tx_log')} (txn, seed, statements) VALUES (${txn}, ${options.seed >>> 0}, ${count})`);
        parts.push(rollback ? 'ROLLBACK' : 'COMMIT');
      }
      if (tz) parts.push(`SET SESSION time_zone='+00:00'`);
      if (rollback) {
        journal.rollback();
        rolledBack++;
      } else {
        journal.commit();
        committed++;
      }
      const sql = parts.join(';\n');
      if (batchSize + sql.length > batchBytes) await flush();
      batch.push(sql);
      batchSize += sql.length;
    }
    await flush();
  });

  const rowCounts: Record<string, number> = {};
  for (const s of states) {
    rowCounts[s.spec.name] = s.fixed + (s.ids?.size ?? 0) + (s.counts?.total ?? 0)
      + (s.members ? [...s.members.values()].reduce((n, bs) => n + bs.length, 0) : 0);
  }
  return { committed, rolledBack, statements: statementCount, rowCounts, millis: Date.now() - started };
}

function journalShift(journal: Journal, keys: KeySet, count: number, oldNext: number): void {
  journal.push(() => {
    keys.keys.length -= count;
    keys.next = oldNext;
  });
}

function setMembers(journal: Journal, members: Map<number, string[]>, a: number, bs: string[] | undefined): void {
  const before = members.get(a);
  if (bs) members.set(a, bs);
  else members.delete(a);
  journal.push(() => {
    if (before) members.set(a, before);
    else members.delete(a);
  });
}

async function loadState(conn: Connection, db: string, flavor: Flavor, journal: Journal): Promise<TableState[]> {
  const [colRows] = await conn.query(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION',
    [db]);
  const present = new Map<string, string[]>();
  for (const r of colRows as Array<{ t: string; c: string }>) {
    const list = present.get(r.t) ?? [];
    list.push(r.c);
    present.set(r.t, list);
  }
  const q = (t: string): string => `${ident(db)}.${ident(t)}`;
  const states: TableState[] = [];
  for (const spec of schema(flavor)) {
    const names = present.get(spec.name);
    if (!names) throw new Error(`${db}.${spec.name} does not exist: run createTypeRichSchema first`);
    const byName = new Map(spec.columns.map((col) => [col.name, col]));
    const columns = names.map((n) => byName.get(n)).filter((col): col is ColumnSpec => !!col);
    const state: TableState = { spec, columns, fixed: 0 };
    // Keys at or above 2^53 exist only in the extreme range, which these queries leave out.
    const rows = async (sql: string): Promise<Array<Record<string, unknown>>> =>
      (await conn.query(sql))[0] as Array<Record<string, unknown>>;
    const scalar = async (sql: string): Promise<number> => Number(Object.values((await rows(sql))[0]!)[0] ?? 0);
    switch (spec.key) {
      case 'id':
      case 'log': {
        const key = spec.key === 'id' ? 'id' : 'txn';
        const ids = (await rows(`SELECT ${key} AS k FROM ${q(spec.name)} WHERE ${key} < ${EXTREME_ID_BASE} ORDER BY ${key}`))
          .map((r) => Number(r.k));
        state.ids = new KeySet(ids, (ids[ids.length - 1] ?? 0) + 1, journal);
        state.fixed = await scalar(`SELECT COUNT(*) FROM ${q(spec.name)} WHERE ${key} >= ${EXTREME_ID_BASE}`);
        break;
      }
      case 'composite': {
        const members = new Map<number, string[]>();
        for (const r of await rows(`SELECT a, b FROM ${q(spec.name)} WHERE a >= 0 ORDER BY a`)) {
          const a = Number(r.a);
          members.set(a, [...(members.get(a) ?? []), String(r.b)]);
        }
        const keys = [...members.keys()];
        state.groups = new KeySet(keys, (keys[keys.length - 1] ?? 0) + 1, journal);
        state.members = members;
        state.fixed = await scalar(`SELECT COUNT(*) FROM ${q(spec.name)} WHERE a < 0`);
        break;
      }
      case 'none':
      case 'autoinc': {
        const column = spec.key === 'none' ? 'k' : 'grp';
        const counts = new Map<number, number>();
        for (const r of await rows(`SELECT ${column} AS k, COUNT(*) AS n FROM ${q(spec.name)} WHERE ${column} >= 0 GROUP BY ${column}`)) {
          counts.set(Number(r.k), Number(r.n));
        }
        state.counts = new Counts(counts, journal);
        state.fixed = await scalar(`SELECT COUNT(*) FROM ${q(spec.name)} WHERE ${column} < 0`);
        break;
      }
    }
    states.push(state);
  }
  return states;
}
