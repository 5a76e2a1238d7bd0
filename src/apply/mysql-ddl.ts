// Statements of a MySQL source as a MariaDB target accepts them (issue 9, item 5). Pure.
//
// A MySQL 8 source writes syntax MariaDB refuses: its default collations (utf8mb4_0900_*), clauses MariaDB lacks
// (DEFAULT ENCRYPTION, SECONDARY_ENGINE, [NOT] ENFORCED ...) or spells otherwise (SRID, index VISIBLE/INVISIBLE,
// VECTOR), and executable comments of versions 50700 to 99999, which MariaDB skips on purpose while MySQL runs
// them (`/*!80023 INVISIBLE */` would leave a column visible). Only tokens of the project's tokenizer that a rule
// recognizes are rewritten; every other byte of the statement stays as it was. What has no MariaDB equivalent
// (functional key parts, NOT ENFORCED checks, MySQL-only authentication plugins, collations MariaDB lacks) is
// refused with a MysqlStatementError rather than changed into something else.
import { tokenizeSql, type StatementParseOptions, type Token } from '../filter/statement-tables.js';

/** How statements from a MySQL source reach a MariaDB target: mapped, refused when they would need it, or as they are. */
export type MysqlDdlMode = 'map' | 'refuse' | 'asis';

/** What the target accepts, as far as the mapping needs to know. */
export interface TargetSyntax {
  /** Collation names the target knows, lower case. */
  collations: ReadonlySet<string>;
  /** Character set names the target knows, lower case. */
  charsets: ReadonlySet<string>;
  /** The target has a VECTOR type (MariaDB 11.7+). */
  vector: boolean;
}

/** A statement that has no MariaDB equivalent. */
export class MysqlStatementError extends Error {
  override name = 'MysqlStatementError';
}

export interface MappedStatement {
  /** The statement as a byte string (a latin1 string of its bytes), as the applier sends statements. */
  sql: string;
  /** What was changed, for the log and for refusals, e.g. `COLLATE utf8mb4_0900_ai_ci -> utf8mb4_uca1400_nopad_ai_ci`. */
  changes: string[];
}

// MySQL's UCA 9.0.0 tailorings in collation id order (255 + index for _ai_ci, 278 + index for _as_cs), with the
// MariaDB UCA 14.0.0 tailoring MariaDB 11.4.5+ makes them aliases of (strings/ctype-uca0900.c, MDEV-20912);
// fa and si are disabled in MySQL and have none.
const TAILORINGS: [string, string | undefined][] = [
  ['', ''], ['de_pb', 'german2'], ['is', 'icelandic'], ['lv', 'latvian'], ['ro', 'romanian'], ['sl', 'slovenian'],
  ['pl', 'polish'], ['et', 'estonian'], ['es', 'spanish'], ['sv', 'swedish'], ['tr', 'turkish'], ['cs', 'czech'],
  ['da', 'danish'], ['lt', 'lithuanian'], ['sk', 'slovak'], ['es_trad', 'spanish2'], ['la', 'roman'],
  ['fa', undefined], ['eo', 'esperanto'], ['hu', 'hungarian'], ['hr', 'croatian'], ['si', undefined],
  ['vi', 'vietnamese'],
];

// The other utf8mb4 collations of MySQL 8 by id; MariaDB maps none of them but utf8mb4_0900_as_ci and _0900_bin.
const OTHER_0900: [number, string][] = [
  [303, 'ja_0900_as_cs'], [304, 'ja_0900_as_cs_ks'], [305, '0900_as_ci'], [306, 'ru_0900_ai_ci'],
  [307, 'ru_0900_as_cs'], [308, 'zh_0900_as_cs'], [309, '0900_bin'], [310, 'nb_0900_ai_ci'], [311, 'nb_0900_as_cs'],
  [312, 'nn_0900_ai_ci'], [313, 'nn_0900_as_cs'], [314, 'sr_latn_0900_ai_ci'], [315, 'sr_latn_0900_as_cs'],
  [316, 'bs_0900_ai_ci'], [317, 'bs_0900_as_cs'], [318, 'bg_0900_ai_ci'], [319, 'bg_0900_as_cs'],
  [320, 'gl_0900_ai_ci'], [321, 'gl_0900_as_cs'], [322, 'mn_cyrl_0900_ai_ci'], [323, 'mn_cyrl_0900_as_cs'],
];

/** MySQL collation ids MariaDB has no collation of (a MySQL source's session may use them), by name. */
const MYSQL_COLLATION_IDS = new Map<number, string>([
  ...TAILORINGS.flatMap(([mysql], i): [number, string][] => [
    [255 + i, `utf8mb4_${mysql ? mysql + '_' : ''}0900_ai_ci`], [278 + i, `utf8mb4_${mysql ? mysql + '_' : ''}0900_as_cs`],
  ]),
  ...OTHER_0900.map(([id, name]): [number, string] => [id, `utf8mb4_${name}`]),
]);

/** MySQL collation name to the MariaDB collation MariaDB 11.4.5+ makes it an alias of. */
const COLLATION_MAP = new Map<string, string>([
  ...TAILORINGS.filter(([, maria]) => maria !== undefined).flatMap(([mysql, maria]) =>
    ['ai_ci', 'as_cs'].map((suffix): [string, string] => [`utf8mb4_${mysql ? mysql + '_' : ''}0900_${suffix}`,
      `utf8mb4_uca1400_${maria ? maria + '_' : ''}nopad_${suffix}`])),
  ['utf8mb4_0900_as_ci', 'utf8mb4_uca1400_nopad_as_ci'],
  ['utf8mb4_0900_bin', 'utf8mb4_nopad_bin'],
]);

/** The name of a MySQL collation id that MariaDB does not have, or undefined. */
export function mysqlCollationName(id: number): string | undefined {
  return MYSQL_COLLATION_IDS.get(id);
}

/**
 * The collation the target uses for a collation name it lacks: MariaDB's alias of a utf8mb4_0900 collation, or
 * the other spelling of a utf8 one (MySQL 8.0.30+ writes utf8mb3_*, MariaDB before 10.6 knows only utf8_*).
 */
export function targetCollation(name: string, target: Pick<TargetSyntax, 'collations'>): string | undefined {
  const lower = name.toLowerCase();
  if (target.collations.has(lower)) return lower;
  const candidates = [COLLATION_MAP.get(lower), lower.replace(/^utf8mb3_/, 'utf8_'), lower.replace(/^utf8_/, 'utf8mb3_')];
  return candidates.find((c): c is string => c !== undefined && target.collations.has(c));
}

// The lowest and highest version of an executable comment MariaDB skips although a MySQL server runs it
// (MariaDB's lexer: MySQL 5.7+ syntax it may not understand).
const MYSQL_ONLY_VERSIONS = [50700, 99999];

const GEOMETRY_TYPES = new Set(['GEOMETRY', 'POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING',
  'MULTIPOLYGON', 'GEOMETRYCOLLECTION', 'GEOMCOLLECTION']);
const INDEX_WORDS = new Set(['INDEX', 'KEY', 'UNIQUE', 'PRIMARY', 'FULLTEXT', 'SPATIAL', 'CONSTRAINT', 'FOREIGN']);
/** Table options MariaDB does not have and that change nothing a replica keeps: dropped. */
const DROPPED_TABLE_OPTIONS = new Set(['SECONDARY_ENGINE', 'SECONDARY_ENGINE_ATTRIBUTE', 'ENGINE_ATTRIBUTE', 'AUTOEXTEND_SIZE']);
const MYSQL_ONLY_AUTH = new Set(['caching_sha2_password', 'sha256_password', 'authentication_ldap_sasl',
  'authentication_ldap_simple', 'authentication_kerberos', 'authentication_fido', 'authentication_webauthn',
  'authentication_openid_connect']);

/** One change, in token indexes of the statement as MariaDB reads it: tokens from..to replaced by `text`. */
interface Edit {
  from: number;
  to: number;
  text: string;
  /** Insert after token `to` instead of replacing. */
  insert?: boolean;
  /** `text` is a name for a quoted identifier: it keeps the identifier's quote character. */
  quoted?: boolean;
}

/**
 * A MySQL source's statement as a MariaDB target accepts it. `bytes` is the statement as a byte string, `text`
 * the same statement read under its client character set (statementParse), `options` its sql_mode's reading.
 * Throws MysqlStatementError for what has no MariaDB equivalent. A statement the tokenizer cannot read is
 * returned as it is: the target reports its own error for it.
 */
export function mapMysqlStatement(bytes: string, text: string, options: StatementParseOptions,
  target: TargetSyntax): MappedStatement {
  let tokens: Token[];
  try {
    tokens = tokenizeSql(text, options);
  } catch {
    return { sql: bytes, changes: [] };
  }
  const edits: Edit[] = [];
  const changes: string[] = [];
  const refuse = (what: string): never => {
    throw new MysqlStatementError(what);
  };

  // Executable comments MariaDB skips: a known clause inside is taken out of its comment, so that MariaDB runs
  // it as MySQL did; anything else inside stays skipped, and no rule looks at it.
  const unwrapped = new Set<Token['versioned']>();
  const skipped = (t: Token) => {
    const v = t.versioned;
    return v !== undefined && !v.mariadb && v.version !== undefined && v.version >= MYSQL_ONLY_VERSIONS[0]! &&
      v.version <= MYSQL_ONLY_VERSIONS[1]!;
  };
  const checked = new Set<Token['versioned']>();
  for (const token of tokens) {
    const v = token.versioned;
    if (!skipped(token) || checked.has(v)) continue;
    checked.add(v);
    const body = tokens.filter((t) => t.versioned === v).map((t) => t.upper || t.text);
    if ((body.length === 1 && (body[0] === 'INVISIBLE' || body[0] === 'VISIBLE')) ||
      (body.length === 2 && body[0] === 'SRID' && /^\d+$/.test(body[1]!))) {
      unwrapped.add(v);
      changes.push(`/*!${v!.version} ${body.join(' ')} */ -> ${body.join(' ')}`);
    }
  }
  const visible = tokens.map((t, index) => ({ t, index })).filter(({ t }) => !skipped(t) || unwrapped.has(t.versioned));
  const at = (k: number) => visible[k]?.t;
  const word = (k: number, ...words: string[]) => at(k)?.type === 'word' && words.includes(at(k)!.upper);
  const punct = (k: number, c: string) => at(k)?.type === 'punct' && at(k)!.text === c;
  const edit = (from: number, to: number, replacement: string, change: string, more: Pick<Edit, 'insert' | 'quoted'> = {}) => {
    edits.push({ from: visible[from]!.index, to: visible[to]!.index, text: replacement, ...more });
    if (change) changes.push(change);
  };

  // Parenthesis depth of each token, and the statement's kind.
  const depth: number[] = [];
  let d = 0;
  for (let k = 0; k < visible.length; k++) {
    if (punct(k, ')')) d--;
    depth.push(d);
    if (punct(k, '(')) d++;
  }
  const head = visible.slice(0, 4).map(({ t }) => t.upper);
  const tableDdl = (head[0] === 'CREATE' || head[0] === 'ALTER') && head.includes('TABLE');
  const indexDdl = head[0] === 'CREATE' && head.slice(1, 3).includes('INDEX');
  const schemaDdl = (head[0] === 'CREATE' || head[0] === 'ALTER') && (head.includes('DATABASE') || head.includes('SCHEMA'));
  const accountStatement = head[0] === 'GRANT' || ((head[0] === 'CREATE' || head[0] === 'ALTER') && head[1] === 'USER');

  /**
   * The first token of the comma-separated item token k stands in (a column, an index, an ALTER TABLE action),
   * after ADD / MODIFY / CHANGE / DROP / ALTER [COLUMN].
   */
  const itemStart = (k: number) => {
    let j = k;
    while (j > 0 && !(depth[j - 1] === depth[k] && punct(j - 1, ',')) && !(depth[j - 1]! < depth[k]!)) j--;
    if (depth[k] === 0 && tableDdl && word(j, 'ALTER', 'CREATE')) {
      // The first action of an ALTER TABLE: after the table name.
      while (j < k && !word(j, 'TABLE')) j++;
      j++;
      if (at(j + 1)?.text === '.') j += 2;
      j++;
    }
    if (word(j, 'ADD', 'MODIFY', 'CHANGE', 'DROP', 'ALTER')) j++;
    if (word(j, 'COLUMN')) j++;
    return j;
  };
  const isIndexItem = (k: number) => {
    if (indexDdl) return depth[k] === 0;
    return word(itemStart(k), ...INDEX_WORDS);
  };
  /** The '(' that opens the parentheses token k stands in, or -1. */
  const enclosing = (k: number) => {
    let j = k - 1;
    while (j >= 0 && depth[j]! >= depth[k]!) j--;
    return j;
  };
  /**
   * Whether token k stands where an attribute does: after a column's type, after an index's key part list,
   * after the name of ALTER INDEX. (A column or an index may be named VISIBLE.)
   */
  const isAttribute = (k: number) => {
    const s = itemStart(k);
    if (word(s - 1, 'ALTER') && word(s, 'INDEX', 'KEY')) return k >= s + 2;
    if (isIndexItem(k)) return visible.slice(s, k).some(({ t }, j) => t.text === ')' && depth[s + j] === depth[k]);
    const type = columnType(k);
    return type >= 0 && k > type;
  };
  /** The column type of the column definition token k stands in, by index, or -1. */
  const columnType = (k: number) => {
    const s = itemStart(k);
    if (isIndexItem(k)) return -1;
    // CHANGE [COLUMN] old new type: the type follows two names.
    const type = word(s - 1, 'CHANGE') || word(s - 2, 'CHANGE') ? s + 2 : s + 1;
    return at(type)?.type === 'word' && type <= k ? type : -1;
  };

  for (let k = 0; k < visible.length; k++) {
    const t = at(k)!;
    if (t.type === 'word' && t.upper === 'COLLATE') {
      // COLLATE [=] name, in a column, a table or database option, or an expression.
      const n = punct(k + 1, '=') ? k + 2 : k + 1;
      const name = at(n);
      if (!name || name.type === 'punct' || target.collations.size === 0) continue;
      const written = name.type === 'string' ? name.text.slice(1, -1) : name.text;
      const mapped = targetCollation(written, target);
      if (mapped === undefined) refuse(`collation '${written}' is not known to the target and has no MariaDB equivalent`);
      if (mapped !== written.toLowerCase()) {
        const quote = name.type === 'string' ? name.text[0]! : '';
        edit(n, n, `${quote}${mapped}${quote}`, `COLLATE ${written} -> ${mapped}`, { quoted: name.type === 'ident' });
      }
      continue;
    }
    if (t.type === 'word' && (t.upper === 'CHARSET' || (t.upper === 'CHARACTER' && word(k + 1, 'SET')))) {
      const n = (t.upper === 'CHARSET' ? k + 1 : k + 2) + (punct(t.upper === 'CHARSET' ? k + 1 : k + 2, '=') ? 1 : 0);
      const name = at(n);
      if (name?.type !== 'word' || target.charsets.has(name.text.toLowerCase()) || target.charsets.size === 0) continue;
      const lower = name.text.toLowerCase();
      if (lower === 'utf8mb3' && target.charsets.has('utf8')) edit(n, n, 'utf8', `CHARACTER SET utf8mb3 -> utf8`);
      else refuse(`character set '${name.text}' is not known to the target`);
      continue;
    }
    if ((tableDdl || indexDdl) && punct(k, '(') && (punct(k - 1, '(') || punct(k - 1, ','))) {
      const list = enclosing(k);
      if (list >= 0 && isIndexItem(list) && !word(list - 1, 'CHECK')) {
        refuse('a functional key part (MariaDB indexes expressions only through generated columns)');
      }
    }
    if (t.type !== 'word') continue;
    if (accountStatement && t.upper === 'WITH' && word(k - 1, 'IDENTIFIED')) {
      const plugin = at(k + 1);
      const name = plugin?.type === 'string' ? plugin.text.slice(1, -1) : plugin?.text ?? '';
      if (MYSQL_ONLY_AUTH.has(name.toLowerCase())) refuse(`authentication plugin '${name}' is MySQL's only`);
      continue;
    }
    if (!tableDdl && !schemaDdl && !indexDdl) continue;
    if (t.upper === 'ENCRYPTION' && (punct(k + 1, '=') || at(k + 1)?.type === 'string')) {
      const v = punct(k + 1, '=') ? k + 2 : k + 1;
      const value = at(v)?.type === 'string' ? at(v)!.text.slice(1, -1).toUpperCase() : '';
      if (value !== 'N') refuse(`ENCRYPTION=${at(v)?.text ?? ''} (MariaDB encrypts tables with ENCRYPTED=YES and key management)`);
      dropClause(word(k - 1, 'DEFAULT') ? k - 1 : k, v, `${word(k - 1, 'DEFAULT') ? 'DEFAULT ' : ''}ENCRYPTION='N' dropped`);
      continue;
    }
    if (!tableDdl && !indexDdl) continue;
    if (DROPPED_TABLE_OPTIONS.has(t.upper) && depth[k] === 0 && punct(k + 1, '=') && at(k + 2)) {
      dropClause(k, k + 2, `${t.upper}=${at(k + 2)!.text} dropped`);
      continue;
    }
    if (t.upper === 'ENFORCED' && (punct(k - 1, ')') || (word(k - 1, 'NOT') && punct(k - 2, ')')) ||
      (word(itemStart(k) - 1, 'ALTER') && word(itemStart(k), 'CHECK', 'CONSTRAINT')))) {
      if (word(k - 1, 'NOT') || !punct(k - 1, ')')) {
        refuse('a CHECK constraint NOT ENFORCED or ALTER CHECK (MariaDB enforces every CHECK constraint it has)');
      }
      edit(k, k, '', 'ENFORCED dropped');
      continue;
    }
    if ((t.upper === 'INVISIBLE' || t.upper === 'VISIBLE') && isAttribute(k)) {
      if (isIndexItem(k)) {
        const mapped = t.upper === 'INVISIBLE' ? 'IGNORED' : 'NOT IGNORED';
        edit(k, k, mapped, `index ${t.upper} -> ${mapped}`);
      } else if (t.upper === 'VISIBLE') {
        edit(k, k, '', 'column VISIBLE dropped (the default)');
      }
      continue;
    }
    if (t.upper === 'SRID' && at(k + 1)?.type === 'word' && /^\d+$/.test(at(k + 1)!.text)) {
      const type = columnType(k);
      if (type < 0 || !GEOMETRY_TYPES.has(at(type)!.upper)) refuse('SRID outside a geometry column definition');
      edit(type, type, ` REF_SYSTEM_ID=${at(k + 1)!.text}`, `SRID ${at(k + 1)!.text} -> REF_SYSTEM_ID=${at(k + 1)!.text}`,
        { insert: true });
      edit(k, k + 1, '', '');
      continue;
    }
    if (t.upper === 'VECTOR' && !target.vector && columnType(k) === k) {
      const dims = punct(k + 1, '(') && at(k + 2)?.type === 'word' && /^\d+$/.test(at(k + 2)!.text) && punct(k + 3, ')')
        ? Number(at(k + 2)!.text) : punct(k + 1, '(') ? undefined : 2048;
      if (dims === undefined) refuse('a VECTOR type with an unreadable dimension');
      edit(k, dims === 2048 && !punct(k + 1, '(') ? k : k + 3, `VARBINARY(${dims! * 4})`,
        `VECTOR(${dims}) -> VARBINARY(${dims! * 4}) (the target has no VECTOR type; rows keep MySQL's float32 bytes)`);
      continue;
    }
  }

  /** Drops tokens from..to, with a comma of a table option list next to them. */
  function dropClause(from: number, to: number, change: string): void {
    if (punct(from - 1, ',') && depth[from - 1] === 0) from--;
    else if (punct(to + 1, ',') && depth[to + 1] === 0) to++;
    edit(from, to, '', change);
  }

  if (edits.length === 0 && unwrapped.size === 0) return { sql: bytes, changes: [] };
  return { sql: applyEdits(bytes, tokens, options, edits, unwrapped), changes };
}

/**
 * The edits made on the byte string. Positions come from the byte string's own tokens, which must be the
 * statement's tokens one for one: where the client character set reads differently from latin1 at an edit
 * (a multi-byte character whose trail byte is a quote or a backslash), the statement is refused instead.
 */
function applyEdits(bytes: string, tokens: Token[], options: StatementParseOptions, edits: Edit[],
  unwrapped: Set<Token['versioned']>): string {
  let byteTokens: Token[];
  try {
    byteTokens = tokenizeSql(bytes, options);
  } catch {
    byteTokens = [];
  }
  const aligned = byteTokens.length === tokens.length && tokens.every((t, i) => {
    const b = byteTokens[i]!;
    const ascii = !/[^\x00-\x7f]/.test(t.text);
    return b.type === t.type && (!ascii || b.text === t.text) && (b.versioned === undefined) === (t.versioned === undefined);
  });
  if (!aligned) {
    throw new MysqlStatementError('its character set reads differently from its bytes where it would be changed');
  }
  const end = (t: Token) => t.pos + (t.type === 'ident' ? bytes.indexOf(bytes[t.pos]!, t.pos + 1) - t.pos + 1 : t.text.length);
  const ranges: { start: number; end: number; text: string }[] = [];
  for (const e of edits) {
    const from = byteTokens[e.from]!;
    const to = byteTokens[e.to]!;
    const text = e.quoted ? `${bytes[from.pos]}${e.text}${bytes[from.pos]}` : e.text;
    ranges.push(e.insert ? { start: end(to), end: end(to), text } : { start: from.pos, end: end(to), text });
  }
  for (const v of new Set(byteTokens.filter((_, i) => unwrapped.has(tokens[i]!.versioned)).map((t) => t.versioned!))) {
    ranges.push({ start: v.start, end: v.bodyStart, text: ' ' }, { start: v.end - 2, end: v.end, text: ' ' });
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let done = 0;
  for (const r of ranges) {
    if (r.start < done) throw new MysqlStatementError('two changes overlap');
    out += bytes.slice(done, r.start) + r.text;
    done = r.end;
  }
  return out + bytes.slice(done);
}
