// MySQL's binary DECIMAL (decimal2bin): digits in groups of nine, each group in 4 big-endian bytes, the
// leftover leading/trailing digits in the fewest bytes that hold them; the sign is the inverted top bit, and a
// negative number has every byte inverted so that the bytes sort like the numbers.

import { BinlogFormatError } from './reader.js';

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4] as const;
/** DECIMAL_MAX_PRECISION of MySQL and MariaDB. */
const MAX_PRECISION = 65;

/** Only scale <= precision <= 65 has a binary layout; corrupt metadata can say otherwise. */
export function checkDecimal(precision: number, scale: number): void {
  if (!(precision <= MAX_PRECISION && scale <= precision)) {
    throw new BinlogFormatError(`DECIMAL(${precision},${scale}) is not a valid DECIMAL`);
  }
}

export function decimalBinarySize(precision: number, scale: number): number {
  const intg = precision - scale;
  return Math.floor(intg / 9) * 4 + DIG2BYTES[intg % 9]! + Math.floor(scale / 9) * 4 + DIG2BYTES[scale % 9]!;
}

/** The decimal at buf[pos..] as text with exactly `scale` fraction digits ('-12.3400', '0.50', '7'). */
export function decodeDecimal(buf: Buffer, pos: number, precision: number, scale: number): string {
  checkDecimal(precision, scale);
  const size = decimalBinarySize(precision, scale);
  if (pos + size > buf.length) throw new BinlogFormatError(`DECIMAL(${precision},${scale}) needs ${size} bytes`);
  const b = Buffer.from(buf.subarray(pos, pos + size));
  const negative = (b[0]! & 0x80) === 0;
  b[0]! ^= 0x80;
  if (negative) for (let i = 0; i < size; i++) b[i] = b[i]! ^ 0xff;

  let p = 0;
  const group = (bytes: number, digits: number): string => {
    const v = b.readUIntBE(p, bytes);
    p += bytes;
    return String(v).padStart(digits, '0');
  };
  const intg = precision - scale;
  let intPart = '';
  if (intg % 9) intPart += group(DIG2BYTES[intg % 9]!, intg % 9);
  for (let i = 0; i < Math.floor(intg / 9); i++) intPart += group(4, 9);
  let frac = '';
  for (let i = 0; i < Math.floor(scale / 9); i++) frac += group(4, 9);
  if (scale % 9) frac += group(DIG2BYTES[scale % 9]!, scale % 9);

  intPart = intPart.replace(/^0+/, '') || '0';
  const text = scale > 0 ? `${intPart}.${frac}` : intPart;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}
