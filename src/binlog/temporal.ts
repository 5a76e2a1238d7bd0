// Temporal column formats. Old formats (MySQL < 5.6.4, MariaDB with mysql56_temporal_format=OFF) are
// little-endian integers; the 5.6 formats (TIME2, DATETIME2, TIMESTAMP2) are big-endian with a separate
// fractional part of ceil(fsp/2) bytes.

// Every value of a temporal column is formatted (twice: a rows event decodes its rows when read), so the
// two-digit fields come from a table instead of a String and a padStart each.
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));
const p2 = (n: number) => TWO_DIGITS[n] ?? String(n).padStart(2, '0');
const p4 = (n: number) => (n >= 1000 ? String(n) : String(n).padStart(4, '0'));

/** Fraction digits exactly as the column declares them: none for fsp 0. */
export function fraction(micro: number, fsp: number): string {
  if (fsp === 0) return '';
  // 1000000 + micro has the six digits, zero-padded, after its leading 1 (a damaged fraction can exceed them).
  return micro < 1_000_000 ? `.${String(1_000_000 + micro).slice(1, 1 + fsp)}` : `.${String(micro).slice(0, fsp)}`;
}

export function fracBytes(fsp: number): number {
  return (fsp + 1) >> 1;
}

/** DATE: 3 bytes little-endian, day | month << 5 | year << 9. */
export function decodeDate(buf: Buffer, pos: number): string {
  const v = buf.readUIntLE(pos, 3);
  return `${p4(v >>> 9)}-${p2((v >>> 5) & 15)}-${p2(v & 31)}`;
}

/** Old TIME: 3 bytes little-endian signed, the decimal number [-]HHHMMSS. */
export function decodeTimeOld(buf: Buffer, pos: number): string {
  const v = buf.readIntLE(pos, 3);
  const a = Math.abs(v);
  return `${v < 0 ? '-' : ''}${p2(Math.floor(a / 10000))}:${p2(Math.floor(a / 100) % 100)}:${p2(a % 100)}`;
}

/** Old DATETIME: 8 bytes little-endian, the decimal number YYYYMMDDhhmmss. */
export function decodeDatetimeOld(buf: Buffer, pos: number): string {
  const v = Number(buf.readBigUInt64LE(pos));
  const d = Math.floor(v / 1_000_000);
  const t = v % 1_000_000;
  return `${p4(Math.floor(d / 10000))}-${p2(Math.floor(d / 100) % 100)}-${p2(d % 100)} `
    + `${p2(Math.floor(t / 10000))}:${p2(Math.floor(t / 100) % 100)}:${p2(t % 100)}`;
}

/** Seconds since the epoch as UTC text; 0 is the zero timestamp. */
export function formatTimestamp(seconds: number, micro: number, fsp: number): string {
  if (seconds === 0 && micro === 0) return `0000-00-00 00:00:00${fraction(0, fsp)}`;
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction(micro, fsp)}`;
}

/** Fractional part of the 5.6 formats as microseconds (unsigned reading: DATETIME2, TIMESTAMP2). */
function readFraction(buf: Buffer, pos: number, fsp: number): number {
  switch (fracBytes(fsp)) {
    case 0: return 0;
    case 1: return buf[pos]! * 10000;
    case 2: return buf.readUInt16BE(pos) * 100;
    default: return buf.readUIntBE(pos, 3);
  }
}

/** TIMESTAMP2: 4 bytes big-endian seconds, then the fraction. */
export function decodeTimestamp2(buf: Buffer, pos: number, fsp: number): string {
  return formatTimestamp(buf.readUInt32BE(pos), readFraction(buf, pos + 4, fsp), fsp);
}

/**
 * DATETIME2: 5 bytes big-endian, offset by 2^39: (year * 13 + month) << 22 | day << 17 | hour << 12 |
 * minute << 6 | second, then the fraction.
 */
export function decodeDatetime2(buf: Buffer, pos: number, fsp: number): string {
  const v = buf.readUIntBE(pos, 5) - 0x8000000000;
  const micro = readFraction(buf, pos + 5, fsp);
  // An update's before and after images mostly hold the same DATETIME: formatted once.
  const last = lastDatetime;
  if (last.v === v && last.micro === micro && last.fsp === fsp) return last.text;
  const ymd = Math.floor(v / 2 ** 17);
  const hms = v % 2 ** 17;
  const ym = Math.floor(ymd / 32);
  const text = `${p4(Math.floor(ym / 13))}-${p2(ym % 13)}-${p2(ymd % 32)} `
    + `${p2(Math.floor(hms / 4096))}:${p2(Math.floor(hms / 64) % 64)}:${p2(hms % 64)}${fraction(micro, fsp)}`;
  lastDatetime = { v, micro, fsp, text };
  return text;
}

let lastDatetime = { v: Number.NaN, micro: 0, fsp: 0, text: '' };

/**
 * TIME2: 3 bytes big-endian offset by 2^23 (sign, hour:10, minute:6, second:6), then the fraction. A negative
 * time with a fraction stores its integer part rounded down and the fraction as its complement, so that
 * the bytes sort; undo that into a signed count of microseconds (the server's "packed" time).
 */
export function decodeTime2(buf: Buffer, pos: number, fsp: number): string {
  let packed: number;
  const fb = fracBytes(fsp);
  if (fb === 3) {
    packed = buf.readUIntBE(pos, 6) - 0x800000000000;
  } else {
    let intPart = buf.readUIntBE(pos, 3) - 0x800000;
    let frac = 0;
    if (fb === 1) {
      frac = buf[pos + 3]!;
      if (intPart < 0 && frac) { intPart++; frac -= 0x100; }
      frac *= 10000;
    } else if (fb === 2) {
      frac = buf.readUInt16BE(pos + 3);
      if (intPart < 0 && frac) { intPart++; frac -= 0x10000; }
      frac *= 100;
    }
    packed = intPart * 2 ** 24 + frac;
  }
  const negative = packed < 0;
  const a = Math.abs(packed);
  const hms = Math.floor(a / 2 ** 24);
  const micro = a % 2 ** 24;
  return `${negative ? '-' : ''}${p2(Math.floor(hms / 4096) % 1024)}:${p2(Math.floor(hms / 64) % 64)}:`
    + `${p2(hms % 64)}${fraction(micro, fsp)}`;
}

/**
 * The server's packed 8-byte temporal (used inside MySQL binary JSON): a signed 64-bit integer, integer
 * part << 24 | microseconds.
 */
export function unpackTemporal(packed: bigint, kind: 'time' | 'date' | 'datetime'): string {
  const negative = packed < 0n;
  const a = negative ? -packed : packed;
  const micro = Number(a % (1n << 24n));
  const intPart = Number(a >> 24n);
  const frac6 = `.${String(micro).padStart(6, '0')}`;
  if (kind === 'time') {
    const h = Math.floor(intPart / 4096) % 1024;
    return `${negative ? '-' : ''}${p2(h)}:${p2(Math.floor(intPart / 64) % 64)}:${p2(intPart % 64)}${frac6}`;
  }
  const ymd = Math.floor(intPart / 2 ** 17);
  const hms = intPart % 2 ** 17;
  const ym = Math.floor(ymd / 32);
  const date = `${p4(Math.floor(ym / 13))}-${p2(ym % 13)}-${p2(ymd % 32)}`;
  if (kind === 'date') return date;
  return `${date} ${p2(Math.floor(hms / 4096))}:${p2(Math.floor(hms / 64) % 64)}:${p2(hms % 64)}${frac6}`;
}
