// MySQL's partial JSON updates (binlog_row_value_options=PARTIAL_JSON): in a PARTIAL_UPDATE_ROWS event a JSON
// column of the after image can hold the changes made to the document instead of the document (MySQL's
// Json_diff_vector::write_binary): a 4-byte length, then diffs of an operation byte, a length-encoded JSON path
// text and, unless the operation removes, a length-encoded binary JSON value. The path is text a source wrote:
// it is parsed here into legs, so that nothing but a member name or an array position reaches the SQL.
import type { JsonDiff, JsonPathLeg } from './events.js';
import { jsonBinaryToText } from './json.js';
import { BinlogFormatError, ByteReader } from './reader.js';

// enum_json_diff_operation, in its order.
const OPERATIONS: readonly JsonDiff['operation'][] = ['replace', 'insert', 'remove'];

/** The server takes no deeper document (JSON_DOCUMENT_MAX_DEPTH), so it writes no longer path to a value. */
const MAX_PATH_LEGS = 100;

/** The diffs of one column, from the bytes after its length prefix. */
export function decodeJsonDiffs(bytes: Buffer): JsonDiff[] {
  const r = new ByteReader(bytes);
  const diffs: JsonDiff[] = [];
  while (r.remaining > 0) {
    const code = r.u8();
    const operation = OPERATIONS[code];
    if (!operation) throw new BinlogFormatError(`corrupt JSON diff: unknown operation ${code}`);
    const pathText = r.bytes(r.packed(), 'JSON diff path');
    const path = parseJsonPath(pathText);
    if (operation === 'remove') {
      diffs.push({ operation, path });
      continue;
    }
    const value = r.bytes(r.packed(), 'JSON diff value');
    // The server reads an empty value as an error (json_binary::parse_binary), not as null.
    if (value.length === 0) throw new BinlogFormatError('corrupt JSON diff: empty value');
    diffs.push({ operation, path, value: jsonBinaryToText(value) });
  }
  return diffs;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A path as MySQL's Json_path::to_string writes one: `$`, then members (`.name` or `."quoted name"`) and array
 * cells (`[3]`, `[last]`, `[last-2]`). Wildcards, ranges and whitespace are refused: the server writes diffs
 * only for paths to one value. The root alone is refused too: a diff never replaces the whole document.
 */
export function parseJsonPath(bytes: Buffer): JsonPathLeg[] {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new BinlogFormatError('corrupt JSON diff: the path is not UTF-8');
  }
  const bad = (why: string): never => {
    throw new BinlogFormatError(`corrupt JSON diff: path ${JSON.stringify(text.slice(0, 200))} ${why}`);
  };
  if (text[0] !== '$') bad('does not start with $');
  const legs: JsonPathLeg[] = [];
  let at = 1;
  while (at < text.length) {
    if (legs.length === MAX_PATH_LEGS) bad(`has more than ${MAX_PATH_LEGS} legs`);
    if (text[at] === '[') {
      const end = text.indexOf(']', at);
      if (end < 0) bad('has an unclosed [');
      const cell = /^(?:(\d{1,10})|last(?:-(\d{1,10}))?)$/.exec(text.slice(at + 1, end));
      if (!cell) bad(`has an array leg other than [n], [last] or [last-n] at ${at}`);
      legs.push(cell![1] !== undefined ? { cell: Number(cell![1]) } : { cell: Number(cell![2] ?? 0), fromLast: true });
      at = end + 1;
    } else if (text[at] === '.' && text[at + 1] === '"') {
      let end = at + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (end >= text.length) bad('has an unclosed quoted member');
      let member: unknown;
      try {
        member = JSON.parse(text.slice(at + 1, end + 1));
      } catch {
        bad(`has a bad escape in the member at ${at}`);
      }
      legs.push({ member: member as string });
      at = end + 1;
    } else if (text[at] === '.') {
      const name = /^[^.[\]"*\s]+/.exec(text.slice(at + 1));
      if (!name || text[at + 1 + name[0].length] === '*') bad(`has a member leg that is neither a name nor quoted at ${at}`);
      legs.push({ member: name![0] });
      at += 1 + name![0].length;
    } else {
      bad(`has ${JSON.stringify(text[at])} where a leg must start, at ${at}`);
    }
  }
  if (legs.length === 0) bad('names the whole document');
  return legs;
}

/** A path in the syntax MySQL and MariaDB both read, every member quoted. */
export function jsonPathText(legs: readonly JsonPathLeg[]): string {
  return '$' + legs.map((leg) => {
    if ('member' in leg) return `.${JSON.stringify(leg.member)}`;
    if (!leg.fromLast) return `[${leg.cell}]`;
    return leg.cell === 0 ? '[last]' : `[last-${leg.cell}]`;
  }).join('');
}
