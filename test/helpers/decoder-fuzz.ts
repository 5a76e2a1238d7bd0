// Fuzzing the binlog decoder: events cut from real binlogs, mutated under fixed seeds, decoded in a worker
// thread so that a decode that never ends or eats the heap fails the test instead of hanging or killing it.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { BinlogChecksumError, BinlogDecoder, BinlogFormatError, crc32 } from '../../src/binlog/decoder.js';
import { EVENT_HEADER_LENGTH, EventType } from '../../src/binlog/events.js';
import { binlogFileEvents, packed } from './binlog-events.js';

/** One event and the context a decoder needs for it, as a replica meets it in its binlog. */
export interface FuzzCase {
  /** File and offset it was cut from. */
  label: string;
  /** The Format_description in force; none for a Format_description itself. */
  format?: Buffer;
  /** The Table_maps of the statement so far. */
  tableMaps: Buffer[];
  raw: Buffer;
  /** The event ends with a CRC32. */
  checksum: boolean;
}

const V1_ROWS = [EventType.WRITE_ROWS_V1, EventType.UPDATE_ROWS_V1, EventType.DELETE_ROWS_V1,
  EventType.MARIA_WRITE_ROWS_COMPRESSED_V1, EventType.MARIA_UPDATE_ROWS_COMPRESSED_V1, EventType.MARIA_DELETE_ROWS_COMPRESSED_V1];
const V2_ROWS = [EventType.WRITE_ROWS, EventType.UPDATE_ROWS, EventType.DELETE_ROWS, EventType.MARIA_WRITE_ROWS_COMPRESSED,
  EventType.MARIA_UPDATE_ROWS_COMPRESSED, EventType.MARIA_DELETE_ROWS_COMPRESSED];
const ROWS = new Set<number>([...V1_ROWS, ...V2_ROWS]);
const STMT_END_F = 1;

/**
 * Every event of a binlog file as a case, with its context. Only the Format_descriptions are decoded here (the
 * rest is told from the headers and the table id's 6 bytes), so that a decoder that hangs does so in the worker.
 */
export function fuzzCases(name: string, file: Buffer): FuzzCase[] {
  const cases: FuzzCase[] = [];
  let format: Buffer | undefined;
  let checksum = false;
  let tableMaps: Buffer[] = [];
  for (const { pos, raw } of binlogFileEvents(file)) {
    const type = raw[4]!;
    const isFormat = type === EventType.FORMAT_DESCRIPTION;
    cases.push({
      label: `${name}@${pos}`, ...(isFormat || !format ? {} : { format }), tableMaps: [...tableMaps], raw,
      checksum: !isFormat && checksum,
    });
    if (isFormat) {
      format = raw;
      const { event } = new BinlogDecoder().decode(raw);
      checksum = event.type === 'format_description' && event.checksumAlg === 1;
    }
    if (type === EventType.TABLE_MAP) tableMaps.push(raw);
    if (ROWS.has(type) && raw.readUInt16LE(EVENT_HEADER_LENGTH + 6) & STMT_END_F) tableMaps = [];
  }
  return cases;
}

/** mulberry32: small, fast and good enough to pick bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Random {
  (): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

function random(seed: number, iteration: number): Random {
  const next = prng(Math.imul(seed, 0x9e3779b1) ^ Math.imul(iteration, 0x85ebca6b)) as Random;
  next.int = (n) => Math.floor(next() * n);
  next.pick = (items) => items[next.int(items.length)]!;
  return next;
}

/** The mutated case a seed and an iteration stand for. */
export interface Mutation {
  label: string;
  kind: string;
  format?: Buffer;
  tableMaps: Buffer[];
  raw: Buffer;
}

// Values that make counts and lengths lie: packed integers of every width, all-ones, zero, the sign bit.
const LIES = [
  [0xfb], [0xfc, 0xff, 0xff], [0xfd, 0xff, 0xff, 0xff], [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
  [0xfe, 0, 0, 0, 0, 1, 0, 0, 0], [0xff], [0xff, 0xff], [0xff, 0xff, 0xff, 0xff], [0xff, 0xff, 0xff, 0x7f],
  [0, 0, 0, 0x80], [0], [0, 0], [1], [0xfa],
].map((b) => Buffer.from(b));

/** Rewrites the header's length after a change of size. */
function resized(raw: Buffer): Buffer {
  raw.writeUInt32LE(raw.length, 9);
  return raw;
}

/** The CRC32 recomputed, so that the body is what the decoder judges. */
function resealed(raw: Buffer): Buffer {
  if (raw.length >= EVENT_HEADER_LENGTH + 4) raw.writeUInt32LE(crc32(raw.subarray(0, raw.length - 4)), raw.length - 4);
  return raw;
}

function packedLength(first: number): number {
  return first < 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : first === 0xfe ? 9 : 1;
}

/** Where the column count and the metadata block of a Table_map are (post-header of 8 bytes). */
function tableMapLayout(raw: Buffer): { count: number; metaLength: number; meta: number; metaEnd: number } | undefined {
  let p = EVENT_HEADER_LENGTH + 8;
  if (p >= raw.length) return undefined;
  p += 1 + raw[p]! + 1;
  if (p >= raw.length) return undefined;
  p += 1 + raw[p]! + 1;
  if (p >= raw.length) return undefined;
  const count = p;
  const n = raw[p]! < 0xfb ? raw[p]! : raw.length;
  p += packedLength(raw[p]!) + n;
  if (p >= raw.length) return undefined;
  const metaLength = p;
  const length = raw[p]! < 0xfb ? raw[p]! : 0;
  const meta = p + packedLength(raw[p]!);
  return { count, metaLength, meta, metaEnd: Math.min(meta + length, raw.length) };
}

/** Replaces bytes [at, at + removed) with `bytes`. */
function splice(raw: Buffer, at: number, removed: number, bytes: Buffer): Buffer {
  return resized(Buffer.concat([raw.subarray(0, at), bytes, raw.subarray(at + removed)]));
}

function flip(raw: Buffer, rnd: Random, from = EVENT_HEADER_LENGTH, to = raw.length): Buffer {
  if (to <= from) return raw;
  for (let n = 1 + rnd.int(4); n > 0; n--) raw[from + rnd.int(to - from)]! ^= 1 + rnd.int(255);
  return raw;
}

function lie(raw: Buffer, rnd: Random, from = EVENT_HEADER_LENGTH, to = raw.length): Buffer {
  if (to <= from) return raw;
  const at = from + rnd.int(to - from);
  const bytes = rnd.pick(LIES);
  // Overwrite in place, or insert (the header's length follows), so that later fields shift or not.
  return rnd() < 0.5 ? (bytes.copy(raw, at), raw) : splice(raw, at, Math.min(1, raw.length - at), bytes);
}

/** Lies told by the fields that say how much follows, where this test knows where they are. */
function structured(raw: Buffer, rnd: Random): Buffer {
  const type = raw[4]!;
  const body = EVENT_HEADER_LENGTH;
  if (type === EventType.TABLE_MAP) {
    const layout = tableMapLayout(raw);
    if (!layout) return lie(raw, rnd);
    const field = rnd.pick(['count', 'metaLength', 'meta'] as const);
    if (field === 'meta') return lie(raw, rnd, layout.meta, Math.max(layout.meta + 1, layout.metaEnd));
    const at = layout[field];
    return splice(raw, at, packedLength(raw[at]!), packed(rnd.pick([0, 1, 250, 251, 4096, 4097, 65_536, 2 ** 24, 2 ** 40])));
  }
  if (ROWS.has(type)) {
    const v2 = V2_ROWS.includes(type as typeof V2_ROWS[number]);
    const at = body + 8 + (v2 && raw.length > body + 10 ? raw.readUInt16LE(body + 8) : 0);
    if (at >= raw.length) return lie(raw, rnd);
    const n = raw[at]!;
    if (rnd() < 0.5) return splice(raw, at, packedLength(n), packed(rnd.pick([0, 1, n + 1, 4096, 2 ** 24])));
    // An empty (or full) columns bitmap.
    raw.fill(rnd() < 0.7 ? 0 : 0xff, at + 1, Math.min(raw.length, at + 1 + ((n + 7) >> 3)));
    return raw;
  }
  if (type === EventType.QUERY || type === EventType.MARIA_QUERY_COMPRESSED) {
    if (raw.length < body + 13) return lie(raw, rnd);
    const field = rnd.int(3);
    if (field === 0) raw[body + 8] = rnd.pick([0, 255, raw[body + 8]! + 1]);
    else if (field === 1) raw.writeUInt16LE(rnd.pick([0, 0xffff, raw.readUInt16LE(body + 11) + 1]), body + 11);
    else if (type === EventType.MARIA_QUERY_COMPRESSED) {
      // The declared uncompressed length of the payload after the status block and the database name.
      const payload = body + 13 + raw.readUInt16LE(body + 11) + raw[body + 8]! + 1;
      const width = (raw[payload] ?? 0) & 0x07;
      if (payload + 1 + width <= raw.length && width > 0) {
        raw.writeUIntBE(rnd.pick([0, 1, 2 ** (8 * width) - 1, Math.min(2 ** (8 * width) - 1, raw.readUIntBE(payload + 1, width) * 2)]),
          payload + 1, width);
      }
    } else return lie(raw, rnd);
    return raw;
  }
  return lie(raw, rnd);
}

/** Iteration `iteration` of seed `seed`: which case, and how it is changed. */
export function mutation(cases: readonly FuzzCase[], seed: number, iteration: number): Mutation {
  const rnd = random(seed, iteration);
  const c = rnd.pick(cases);
  let raw: Buffer = Buffer.from(c.raw);
  let tableMaps = c.tableMaps;
  const roll = rnd();
  let kind: string;
  if (roll < 0.3) {
    kind = 'flip';
    raw = flip(raw, rnd);
  } else if (roll < 0.45) {
    kind = 'truncate';
    raw = resized(Buffer.from(raw.subarray(0, EVENT_HEADER_LENGTH + rnd.int(raw.length - EVENT_HEADER_LENGTH))));
  } else if (roll < 0.65) {
    kind = 'lie';
    raw = lie(raw, rnd);
  } else if (roll < 0.85 || tableMaps.length === 0) {
    kind = 'structured';
    raw = structured(raw, rnd);
  } else {
    // The Table_map the event is read against is the corrupt one.
    kind = 'table-map';
    const k = rnd.int(tableMaps.length);
    let map: Buffer = Buffer.from(tableMaps[k]!);
    const layout = tableMapLayout(map);
    map = rnd() < 0.5 || !layout ? structured(map, rnd) : flip(map, rnd, layout.meta, Math.max(layout.meta + 1, layout.metaEnd));
    if (c.checksum) resealed(map);
    tableMaps = tableMaps.map((m, i) => (i === k ? map : m));
  }
  // Mostly the CRC is made to match, so that the body is decoded; sometimes not, so that the CRC is what refuses.
  const sealed = c.checksum && rnd() < 0.75;
  if (sealed) resealed(raw);
  return { label: c.label, kind: `${kind}${c.checksum ? (sealed ? ', CRC recomputed' : ', CRC left') : ''}`, ...(c.format ? { format: c.format } : {}), tableMaps, raw };
}

/** The size of what a decode returned: characters, bytes, and one per number, array slot and object key. */
export function weight(value: unknown): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') total += v.length;
    else if (Buffer.isBuffer(v)) total += v.length;
    else if (Array.isArray(v)) { total += v.length; stack.push(...v); }
    else if (v && typeof v === 'object') { const values = Object.values(v); total += values.length; stack.push(...values); }
    else total += 1;
  }
  return total;
}

const COMPRESSED_TYPES = new Set<number>([
  EventType.MARIA_QUERY_COMPRESSED, EventType.MARIA_WRITE_ROWS_COMPRESSED_V1, EventType.MARIA_UPDATE_ROWS_COMPRESSED_V1,
  EventType.MARIA_DELETE_ROWS_COMPRESSED_V1, EventType.MARIA_WRITE_ROWS_COMPRESSED, EventType.MARIA_UPDATE_ROWS_COMPRESSED,
  EventType.MARIA_DELETE_ROWS_COMPRESSED, EventType.TRANSACTION_PAYLOAD,
]);

/**
 * What a decode may return, in weight, for the bytes it was given: a value slot per column per byte at most
 * (the tables here have fewer than 64 columns), times deflate's largest ratio (1032:1) for compressed events.
 */
function maxWeight(m: Mutation): number {
  const bytes = m.raw.length + m.tableMaps.reduce((n, t) => n + t.length, 0);
  return 64 * bytes * (COMPRESSED_TYPES.has(m.raw[4]!) ? 1032 : 1) + 4096;
}

export interface FuzzReport {
  decoded: number;
  outcomes: { decoded: number; formatError: number; checksumError: number };
  slowestMs: number;
  slowest: string;
  /** Largest heap + ArrayBuffer use sampled during the run, bytes. */
  peakMemory: number;
  failures: string[];
}

interface FuzzJob {
  decoderFuzz: true;
  cases: FuzzCase[];
  seeds: number[];
  perSeed: number;
  /** [decodes done, seed, iteration] as the worker goes. */
  progress: SharedArrayBuffer;
}

function describe(m: Mutation): string {
  return `${m.label} (${m.kind}): ${m.raw.toString('hex').slice(0, 400)}`;
}

function runJob(job: FuzzJob): FuzzReport {
  const progress = new Int32Array(job.progress);
  const report: FuzzReport = {
    decoded: 0, outcomes: { decoded: 0, formatError: 0, checksumError: 0 }, slowestMs: 0, slowest: '', peakMemory: 0, failures: [],
  };
  const attempt = (m: Mutation, decode: () => unknown): void => {
    try {
      const out = decode();
      report.outcomes.decoded++;
      const w = weight(out);
      if (w > maxWeight(m)) report.failures.push(`output of weight ${w} from ${describe(m)}`);
    } catch (err) {
      if (err instanceof BinlogChecksumError) report.outcomes.checksumError++;
      else if (err instanceof BinlogFormatError) report.outcomes.formatError++;
      else report.failures.push(`${(err as Error)?.stack ?? String(err)}\n  from ${describe(m)}`);
    }
  };
  for (const seed of job.seeds) {
    for (let i = 0; i < job.perSeed; i++) {
      Atomics.store(progress, 1, seed);
      Atomics.store(progress, 2, i);
      const m = mutation(job.cases, seed, i);
      const started = performance.now();
      const decoder = new BinlogDecoder();
      if (m.format) attempt(m, () => decoder.decode(m.format!));
      for (const map of m.tableMaps) attempt(m, () => decoder.decode(map));
      attempt(m, () => decoder.decode(m.raw));
      const ms = performance.now() - started;
      if (ms > report.slowestMs) {
        report.slowestMs = ms;
        report.slowest = `${m.label} (${m.kind})`;
      }
      report.decoded++;
      Atomics.add(progress, 0, 1);
      if ((i & 63) === 0) {
        const { heapUsed, arrayBuffers } = process.memoryUsage();
        report.peakMemory = Math.max(report.peakMemory, heapUsed + arrayBuffers);
      }
    }
  }
  return report;
}

if (!isMainThread && (workerData as FuzzJob | undefined)?.decoderFuzz) {
  // Buffers arrive as plain Uint8Arrays: structured cloning keeps the bytes, not the class.
  const buffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const job = workerData as FuzzJob;
  job.cases = job.cases.map((c) => ({
    ...c, raw: buffer(c.raw), tableMaps: c.tableMaps.map(buffer), ...(c.format ? { format: buffer(c.format) } : {}),
  }));
  parentPort!.postMessage(runJob(job));
}

/** Heap the worker may use: a decode that needs more kills it, which fails the run. */
const WORKER_HEAP_MB = 512;

/**
 * Runs `perSeed` mutations for each seed in a worker thread. Rejects naming the mutation being decoded when
 * the worker makes no progress for `stallMs` (a decode that does not end) or dies (out of heap).
 */
export function runFuzz(cases: FuzzCase[], options: { seeds: number[]; perSeed: number; stallMs: number }): Promise<FuzzReport> {
  const progress = new SharedArrayBuffer(12);
  const counters = new Int32Array(progress);
  const job: FuzzJob = { decoderFuzz: true, cases, seeds: options.seeds, perSeed: options.perSeed, progress };
  // The worker runs TypeScript: tsx is registered in it before the module is imported.
  const tsx = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const worker = new Worker(`import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(self)}); })`, {
    eval: true, workerData: job, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
  });
  const current = () => describe(mutation(cases, Atomics.load(counters, 1), Atomics.load(counters, 2)));
  return new Promise((resolve, reject) => {
    let seen = -1;
    const watchdog = setInterval(() => {
      const done = Atomics.load(counters, 0);
      if (done === seen) {
        clearInterval(watchdog);
        void worker.terminate();
        reject(new Error(`a decode did not end within ${options.stallMs} ms: ${current()}`));
      }
      seen = done;
    }, options.stallMs);
    worker.once('message', (report: FuzzReport) => {
      clearInterval(watchdog);
      resolve(report);
    });
    worker.once('error', (err) => {
      clearInterval(watchdog);
      reject(new Error(`the fuzz worker died (${err.message}) decoding ${current()}`));
    });
  });
}
