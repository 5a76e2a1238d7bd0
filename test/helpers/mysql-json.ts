// MySQL binary JSON (the storage format of JSON columns and of the values in partial JSON updates), built
// from the documented format (sql/json_binary.h), for events the tests encode.

export type J = null | boolean | number | bigint | string | J[] | { [k: string]: J } | { opaque: number; data: Buffer } | { double: number };

function varLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}

/** [type, data] of a value; scalars that fit are inlined by the container. */
function encodeJson(v: J, large = false): [number, Buffer] {
  if (v === null) return [4, Buffer.from([0])];
  if (v === true) return [4, Buffer.from([1])];
  if (v === false) return [4, Buffer.from([2])];
  if (typeof v === 'bigint') { const b = Buffer.alloc(8); b.writeBigInt64LE(v); return [9, b]; }
  if (typeof v === 'number' && !Number.isInteger(v)) return encodeJson({ double: v });
  if (typeof v === 'number') {
    if (v >= -32768 && v <= 32767) { const b = Buffer.alloc(2); b.writeInt16LE(v); return [5, b]; }
    const b = Buffer.alloc(4); b.writeInt32LE(v); return [7, b];
  }
  if (typeof v === 'string') { const s = Buffer.from(v); return [12, Buffer.concat([varLength(s.length), s])]; }
  if (Array.isArray(v)) return [large ? 3 : 2, container(v.map((x) => [undefined, x]), large)];
  if ('double' in v) { const b = Buffer.alloc(8); b.writeDoubleLE(v.double as number); return [11, b]; }
  if ('opaque' in v) return [15, Buffer.concat([Buffer.from([v.opaque as number]), varLength((v.data as Buffer).length), v.data as Buffer])];
  return [large ? 1 : 0, container(Object.entries(v).map(([k, x]) => [k, x]), large)];
}

function container(items: [string | undefined, J][], large: boolean): Buffer {
  const w = large ? 4 : 2;
  const isObject = items.length > 0 && items[0]![0] !== undefined;
  const header = 2 * w + (isObject ? items.length * (w + 2) : 0) + items.length * (1 + w);
  const keys = items.map(([k]) => Buffer.from(k ?? ''));
  let offset = header + keys.reduce((n, k) => n + k.length, 0);
  const keyEntries: Buffer[] = [];
  const valueEntries: Buffer[] = [];
  const values: Buffer[] = [];
  let keyOffset = header;
  for (const [i, [, x]] of items.entries()) {
    if (isObject) {
      const e = Buffer.alloc(w + 2);
      if (large) e.writeUInt32LE(keyOffset); else e.writeUInt16LE(keyOffset);
      e.writeUInt16LE(keys[i]!.length, w);
      keyEntries.push(e);
      keyOffset += keys[i]!.length;
    }
    const [type, data] = encodeJson(x, large);
    const entry = Buffer.alloc(1 + w);
    entry[0] = type;
    if (type === 4 || type === 5 || type === 6 || (large && (type === 7 || type === 8))) {
      data.copy(entry, 1);
    } else {
      if (large) entry.writeUInt32LE(offset, 1); else entry.writeUInt16LE(offset, 1);
      values.push(data);
      offset += data.length;
    }
    valueEntries.push(entry);
  }
  const head = Buffer.alloc(2 * w);
  if (large) { head.writeUInt32LE(items.length); head.writeUInt32LE(offset, 4); } else { head.writeUInt16LE(items.length); head.writeUInt16LE(offset, 2); }
  return Buffer.concat([head, ...keyEntries, ...valueEntries, ...(isObject ? keys : []), ...values]);
}

/** A whole document: its type byte, then the value (`large`: containers with 4-byte offsets). */
export const mysqlJson = (v: J, large = false): Buffer => { const [t, d] = encodeJson(v, large); return Buffer.concat([Buffer.from([t]), d]); };
