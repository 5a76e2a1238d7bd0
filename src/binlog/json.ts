// MySQL's binary JSON (the storage format of JSON columns, MySQL 5.7+) to JSON text exactly as MySQL prints
// it (Json_wrapper::to_string): ", " and ": " separators, object keys in stored order, doubles through
// my_gcvt plus ".0" for integral values, DECIMAL/DATE/TIME/DATETIME opaque values as the server formats them,
// other opaque values as "base64:typeNN:...". MariaDB stores JSON as text and never produces this format.
import { decodeDecimal } from './decimal.js';
import { BinlogFormatError } from './reader.js';
import { unpackTemporal } from './temporal.js';

const SMALL_OBJECT = 0x00;
const LARGE_OBJECT = 0x01;
const SMALL_ARRAY = 0x02;
const LARGE_ARRAY = 0x03;
const LITERAL = 0x04;
const INT16 = 0x05;
const UINT16 = 0x06;
const INT32 = 0x07;
const UINT32 = 0x08;
const INT64 = 0x09;
const UINT64 = 0x0a;
const DOUBLE = 0x0b;
const STRING = 0x0c;
const OPAQUE = 0x0f;

const MYSQL_TYPE_TIMESTAMP = 7;
const MYSQL_TYPE_DATE = 10;
const MYSQL_TYPE_TIME = 11;
const MYSQL_TYPE_DATETIME = 12;
const MYSQL_TYPE_NEWDECIMAL = 246;
const MYSQL_TYPE_VAR_STRING = 253;

/** JSON_DOCUMENT_MAX_DEPTH: the server refuses to store a document nested deeper. */
const MAX_DEPTH = 100;
/**
 * The most text one byte of a document the server wrote can print as: a control character in a string or key
 * is one byte and six characters (\u0001); every other value prints in fewer characters than it has bytes,
 * counting its entry in the container. A document whose entries share values could print exponentially more.
 */
const TEXT_PER_BYTE = 6;
const TEXT_SLACK = 16;

/** Binary JSON document to text. An empty document is JSON null, as the server reads it. */
export function jsonBinaryToText(doc: Buffer): string {
  if (doc.length === 0) return 'null';
  return new JsonReader(doc).value(doc[0]!, 1, doc.length, 0);
}

class JsonReader {
  /** Characters the text may still take; decoding stops when a corrupt document would print more. */
  private budget: number;

  constructor(private readonly doc: Buffer) {
    this.budget = TEXT_PER_BYTE * doc.length + TEXT_SLACK;
  }

  private fail(what: string, at: number): never {
    throw new BinlogFormatError(`corrupt binary JSON: ${what} at offset ${at}`);
  }

  private charge(chars: number, at: number): void {
    this.budget -= chars;
    if (this.budget < 0) this.fail(`text longer than ${TEXT_PER_BYTE} characters per byte of the ${this.doc.length}-byte document`, at);
  }

  private spend(text: string, at: number): string {
    this.charge(text.length, at);
    return text;
  }

  private check(pos: number, n: number, end: number): void {
    if (pos < 0 || pos + n > end) this.fail(`${n} bytes out of bounds`, pos);
  }

  /**
   * The value of type `type` whose data starts at `pos`; `end` bounds the enclosing document or container,
   * `depth` counts the containers around it.
   */
  value(type: number, pos: number, end: number, depth: number): string {
    switch (type) {
      case SMALL_OBJECT: case LARGE_OBJECT:
        return this.container(pos, end, type === LARGE_OBJECT, true, depth + 1);
      case SMALL_ARRAY: case LARGE_ARRAY:
        return this.container(pos, end, type === LARGE_ARRAY, false, depth + 1);
      default:
        return this.spend(this.scalar(type, pos, end), pos);
    }
  }

  private scalar(type: number, pos: number, end: number): string {
    const d = this.doc;
    switch (type) {
      case LITERAL:
        this.check(pos, 1, end);
        return this.literal(d[pos]!, pos);
      case INT16: this.check(pos, 2, end); return String(d.readInt16LE(pos));
      case UINT16: this.check(pos, 2, end); return String(d.readUInt16LE(pos));
      case INT32: this.check(pos, 4, end); return String(d.readInt32LE(pos));
      case UINT32: this.check(pos, 4, end); return String(d.readUInt32LE(pos));
      case INT64: this.check(pos, 8, end); return String(d.readBigInt64LE(pos));
      case UINT64: this.check(pos, 8, end); return String(d.readBigUInt64LE(pos));
      case DOUBLE: {
        this.check(pos, 8, end);
        const x = d.readDoubleLE(pos);
        if (!Number.isFinite(x)) this.fail(`double ${x}`, pos);
        return formatJsonDouble(x);
      }
      case STRING: {
        const [len, at] = this.varLength(pos, end);
        this.check(at, len, end);
        return quote(d.toString('utf8', at, at + len));
      }
      case OPAQUE: {
        this.check(pos, 1, end);
        const fieldType = d[pos]!;
        const [len, at] = this.varLength(pos + 1, end);
        this.check(at, len, end);
        return this.opaque(fieldType, d.subarray(at, at + len), at);
      }
      default:
        return this.fail(`unknown value type 0x${type.toString(16)}`, pos);
    }
  }

  private literal(b: number, pos: number): string {
    if (b === 0) return 'null';
    if (b === 1) return 'true';
    if (b === 2) return 'false';
    return this.fail(`unknown literal ${b}`, pos);
  }

  private opaque(fieldType: number, data: Buffer, at: number): string {
    switch (fieldType) {
      case MYSQL_TYPE_NEWDECIMAL:
        if (data.length < 2) this.fail('short DECIMAL', at);
        return decodeDecimal(data, 2, data[0]!, data[1]!);
      case MYSQL_TYPE_DATE: case MYSQL_TYPE_TIME: case MYSQL_TYPE_DATETIME: case MYSQL_TYPE_TIMESTAMP: {
        if (data.length < 8) this.fail('short temporal', at);
        const kind = fieldType === MYSQL_TYPE_DATE ? 'date' : fieldType === MYSQL_TYPE_TIME ? 'time' : 'datetime';
        return `"${unpackTemporal(data.readBigInt64LE(0), kind)}"`;
      }
      case MYSQL_TYPE_VAR_STRING:
        return quote(data.toString('utf8'));
      default: {
        // The server's base64_encode breaks lines every 76 characters; the newlines get escaped by quote().
        const b64 = data.toString('base64').replace(/(.{76})(?=.)/g, '$1\n');
        return quote(`base64:type${fieldType}:${b64}`);
      }
    }
  }

  /** Variable-length size: 7 bits per byte, least significant first, high bit = more bytes follow. */
  private varLength(pos: number, end: number): [number, number] {
    let len = 0;
    for (let i = 0; i < 5; i++) {
      this.check(pos + i, 1, end);
      const b = this.doc[pos + i]!;
      len += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return [len, pos + i + 1];
    }
    return this.fail('variable length longer than 5 bytes', pos);
  }

  private container(base: number, end: number, large: boolean, isObject: boolean, depth: number): string {
    if (depth > MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH}`, base);
    const d = this.doc;
    const w = large ? 4 : 2;
    const read = (p: number): number => {
      this.check(p, w, end);
      return large ? d.readUInt32LE(p) : d.readUInt16LE(p);
    };
    const count = read(base);
    const size = read(base + w);
    const limit = base + size;
    if (limit > end) this.fail(`container size ${size} exceeds its parent`, base);
    const keyEntries = base + 2 * w;
    const valueEntries = keyEntries + (isObject ? count * (w + 2) : 0);
    const parts: string[] = [];
    // Brackets and separators.
    this.charge(2 * Math.max(1, count), base);
    for (let i = 0; i < count; i++) {
      const entry = valueEntries + i * (1 + w);
      this.check(entry, 1 + w, limit);
      const type = d[entry]!;
      const inlined = type === LITERAL || type === INT16 || type === UINT16
        || (large && (type === INT32 || type === UINT32));
      const at = inlined ? entry + 1 : base + read(entry + 1);
      const text = this.value(type, at, limit, depth);
      if (isObject) {
        const keyEntry = keyEntries + i * (w + 2);
        const keyOffset = read(keyEntry);
        this.check(keyEntry + w, 2, limit);
        const keyLength = d.readUInt16LE(keyEntry + w);
        this.check(base + keyOffset, keyLength, limit);
        const key = this.spend(`${quote(d.toString('utf8', base + keyOffset, base + keyOffset + keyLength))}: `, keyEntry);
        parts.push(key + text);
      } else {
        parts.push(text);
      }
    }
    return isObject ? `{${parts.join(', ')}}` : `[${parts.join(', ')}]`;
  }
}

const ESCAPES: Record<string, string> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r', '"': '\\"', '\\': '\\\\' };

/** The server's double_quote(): escape '"', '\' and control characters 0x00-0x1f, nothing else. */
function quote(s: string): string {
  return `"${s.replace(/[\u0000-\u001f"\\]/g, (c) => ESCAPES[c] ?? `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}

const MY_GCVT_MAX_FIELD_WIDTH = 34; // DBL_DIG + 4 + max(5, MAX_DECPT_FOR_F_FORMAT)
const MAX_DECPT_FOR_F_FORMAT = 15; // DBL_DIG

/**
 * A double as the server's JSON printer writes it: my_gcvt(d, MY_GCVT_ARG_DOUBLE, 34) on the shortest
 * round-trip digits (what dtoa mode 4 yields at that width), choosing fixed or exponent notation by its
 * rules, then ".0" when the result has neither '.' nor 'e'.
 */
export function formatJsonDouble(x: number): string {
  const text = myGcvt(x, MY_GCVT_MAX_FIELD_WIDTH);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

function myGcvt(x: number, width: number): string {
  const negative = x < 0 || Object.is(x, -0);
  if (x < 0) width--;
  // toExponential() without an argument gives the shortest digits that round-trip, like dtoa mode 0/4.
  const [mantissa, exponent] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = x === 0 ? '0' : mantissa.replace('.', '');
  const len = digits.length;
  let decpt = Number(exponent) + 1;
  const expLen = 1 + (decpt >= 101 || decpt <= -99 ? 1 : 0) + (decpt >= 11 || decpt <= -9 ? 1 : 0);
  const haveSpace = (decpt <= 0 ? len - decpt + 2 : decpt < len ? len + 1 : decpt) <= width;
  const forceE = decpt <= 0 && width <= 2 - decpt && width >= 3 + expLen;
  const useF = (haveSpace || (decpt <= width && (decpt >= -1 || (decpt === -2 && (len > 1 || !forceE))) && !forceE))
    && (!haveSpace || (decpt >= -MAX_DECPT_FOR_F_FORMAT + 1 && (decpt <= MAX_DECPT_FOR_F_FORMAT || len > decpt)));
  const sign = negative ? '-' : '';
  if (useF) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt < len) return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
    return `${sign}${digits}${'0'.repeat(decpt - len)}`;
  }
  decpt--;
  const m = len > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${decpt < 0 ? '-' : ''}${Math.abs(decpt)}`;
}
