// A statement's bytes as the server's lexer reads them: characters of the statement's character_set_client.
// Pure. This matters for safety, not only for names: in big5, cp932, gbk, gb18030 and sjis the second byte of a
// character may be 0x5C (backslash) or 0x60 (backtick), so the same bytes read as another charset end a quoted
// name or escape a quote where the server sees neither. Characters are split by the servers' own rules (their
// ismbchar: lead and trail byte ranges per character set), never by a decoder's guess, so that a byte the server
// takes as ASCII is ASCII here too.
import iconv from 'iconv-lite';
import type { QueryEvent } from '../binlog/events.js';
import { tokenizeSql, type StatementParseOptions, type Token } from './statement-tables.js';

const inRange = (c: number | undefined, lo: number, hi: number) => c !== undefined && c >= lo && c <= hi;

/** Bytes of the multi-byte character at `i`, 0 when the byte there is a character of its own. */
type MultiByteLength = (b: Buffer, i: number) => number;

const sjisLead = (c: number | undefined) => inRange(c, 0x81, 0x9f) || inRange(c, 0xe0, 0xfc);
const sjisTrail = (c: number | undefined) => inRange(c, 0x40, 0x7e) || inRange(c, 0x80, 0xfc);
const gbkTrail = (c: number | undefined) => inRange(c, 0x40, 0x7e) || inRange(c, 0x80, 0xfe);
const eucByte = (c: number | undefined) => inRange(c, 0xa1, 0xfe);

const sjis: MultiByteLength = (b, i) => (sjisLead(b[i]) && sjisTrail(b[i + 1]) ? 2 : 0);
const eucJp: MultiByteLength = (b, i) => {
  const c = b[i]!;
  if (c === 0x8e) return inRange(b[i + 1], 0xa1, 0xdf) ? 2 : 0;
  if (c === 0x8f) return eucByte(b[i + 1]) && eucByte(b[i + 2]) ? 3 : 0;
  return eucByte(c) && eucByte(b[i + 1]) ? 2 : 0;
};

/** The multi-byte character sets a client may use, by MySQL name, with the encoding that maps their characters. */
const MULTI_BYTE = new Map<string, { length: MultiByteLength; encoding: string }>(Object.entries({
  big5: {
    length: (b, i) => (inRange(b[i], 0xa1, 0xf9) && (inRange(b[i + 1], 0x40, 0x7e) || inRange(b[i + 1], 0xa1, 0xfe)) ? 2 : 0),
    encoding: 'cp950',
  },
  sjis: { length: sjis, encoding: 'shiftjis' },
  cp932: { length: sjis, encoding: 'cp932' },
  gbk: { length: (b, i) => (inRange(b[i], 0x81, 0xfe) && gbkTrail(b[i + 1]) ? 2 : 0), encoding: 'gbk' },
  gb18030: {
    length: (b, i) => {
      if (!inRange(b[i], 0x81, 0xfe)) return 0;
      if (gbkTrail(b[i + 1])) return 2;
      return inRange(b[i + 1], 0x30, 0x39) && inRange(b[i + 2], 0x81, 0xfe) && inRange(b[i + 3], 0x30, 0x39) ? 4 : 0;
    },
    encoding: 'gb18030',
  },
  ujis: { length: eucJp, encoding: 'eucjp' },
  eucjpms: { length: eucJp, encoding: 'eucjp' },
  euckr: {
    length: (b, i) => (inRange(b[i], 0x81, 0xfe) &&
      (inRange(b[i + 1], 0x41, 0x5a) || inRange(b[i + 1], 0x61, 0x7a) || inRange(b[i + 1], 0x81, 0xfe)) ? 2 : 0),
    encoding: 'euckr',
  },
  gb2312: { length: (b, i) => (inRange(b[i], 0xa1, 0xf7) && eucByte(b[i + 1]) ? 2 : 0), encoding: 'gb2312' },
}));

/** Single-byte character sets by MySQL name, with the encoding that maps them; others read as latin1. */
const SINGLE_BYTE = new Map<string, string>(Object.entries({
  latin1: 'cp1252', latin2: 'iso88592', latin5: 'iso88599', latin7: 'iso885913', greek: 'iso88597',
  hebrew: 'iso88598', cp1250: 'cp1250', cp1251: 'cp1251', cp1256: 'cp1256', cp1257: 'cp1257', cp850: 'cp850',
  cp852: 'cp852', cp866: 'cp866', koi8r: 'koi8r', koi8u: 'koi8u', macce: 'maccenteuro', macroman: 'macroman',
  tis620: 'tis620', armscii8: 'armscii8', geostd8: 'georgianps', ascii: 'ascii',
}));

const characters = new Map<string, string>();

/** One multi-byte character as a code point of its own; one the mapping lacks stays a non-ASCII character. */
function character(bytes: Buffer, encoding: string): string {
  const key = encoding + bytes.toString('hex');
  let found = characters.get(key);
  if (found === undefined) {
    const decoded = iconv.decode(bytes, encoding);
    found = [...decoded].length === 1 && decoded.charCodeAt(0) >= 0x80 ? decoded : '\ufffd';
    characters.set(key, found);
  }
  return found;
}

/**
 * The statement as text, character for character as the server splits it under `charset` (a MySQL character
 * set name; an unknown one reads as utf8mb4, which never joins an ASCII byte to another).
 */
export function statementText(sql: Buffer, charset: string | undefined): string {
  const multi = charset === undefined ? undefined : MULTI_BYTE.get(charset);
  if (multi) {
    let out = '';
    let run = 0;
    for (let i = 0; i < sql.length;) {
      const length = sql[i]! >= 0x80 ? multi.length(sql, i) : 0;
      if (length === 0) {
        i++;
        continue;
      }
      out += sql.toString('latin1', run, i) + character(sql.subarray(i, i + length), multi.encoding);
      i += length;
      run = i;
    }
    // Lone bytes >= 0x80 are characters of their own to the server too; latin1 keeps them non-ASCII.
    return out + sql.toString('latin1', run);
  }
  const single = charset === undefined ? undefined : SINGLE_BYTE.get(charset);
  if (single) return iconv.decode(sql, single);
  if (charset === 'binary') return sql.toString('latin1');
  return sql.toString('utf8');
}

// sql_mode bits that change how a statement's text tokenizes.
const MODE_ANSI_QUOTES = 1n << 2n;
const MODE_NO_BACKSLASH_ESCAPES = 1n << 20n;

/** Collation id (as Query events name character_set_client) to character set name, as the target knows them. */
export type CharsetLookup = (collationId: number) => string | undefined;

/** How a statement event's text tokenizes: its characters under its client character set, its sql_mode. */
export function statementParse(event: Pick<QueryEvent, 'sql' | 'statusVars'>, charsetOf: CharsetLookup = () => undefined):
  { text: string; options: StatementParseOptions } {
  const mode = event.statusVars.sqlMode ?? 0n;
  const client = event.statusVars.charset?.client;
  return {
    text: statementText(event.sql, client === undefined ? undefined : charsetOf(client)),
    options: { ansiQuotes: (mode & MODE_ANSI_QUOTES) !== 0n, noBackslashEscapes: (mode & MODE_NO_BACKSLASH_ESCAPES) !== 0n },
  };
}

/**
 * Whether the server can only read the event as one statement: every quote and comment ends, and no `;` stands
 * outside them. A statement that is not (a stored program's body, or a source's attempt to append statements)
 * must reach the target where it cannot be split into several.
 */
export function isSingleStatement(event: Pick<QueryEvent, 'sql' | 'statusVars'>, charsetOf?: CharsetLookup): boolean {
  const { text, options } = statementParse(event, charsetOf);
  let tokens: Token[];
  try {
    tokens = tokenizeSql(text, options);
  } catch {
    return false;
  }
  return !tokens.some((t) => t.type === 'punct' && t.text === ';');
}
