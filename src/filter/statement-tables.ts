// Which tables a replicated SQL statement updates, as the table stage of the replication filters needs to
// know (5.5.6 of the 5.1 manual: "only the tables to be updated are compared with the rules"). Pure.
//
// The servers decide this from their own parse tree: a table in the statement's table list is judged only if
// it was opened for update. This module reproduces that list for the statements that reach a replica as text
// (DDL always, DML under STATEMENT/MIXED binlog formats), with a real tokenizer so that names inside string
// literals, comments and backtick quotes never count as tables.

export interface TableRef {
  db: string;
  table: string;
}

export interface UpdatedTables {
  /** Updated tables in the order the statement names them; the order matters to the table stage (5.5.6). */
  tables: TableRef[];
  /** CREATE/ALTER/DROP DATABASE: the database the statement acts on (not rewritten by replicate-rewrite-db). */
  databaseLevel?: { db: string };
  /** The statement's verb, e.g. 'INSERT', 'CREATE TABLE', 'DROP DATABASE', 'BEGIN'; '' when there is none. */
  command: string;
  /** BEGIN/COMMIT/ROLLBACK/SAVEPOINT/XA: the servers apply these whatever the filters say. */
  transactionControl?: boolean;
  /**
   * DROP TEMPORARY TABLE IF EXISTS. The servers' replica never applies table rules to it: the source writes it
   * itself when a session that had temporary tables ends, and the replica must be able to clean those up even
   * if the rules would not have let it create them.
   */
  tableRulesExempt?: boolean;
}

export interface StatementParseOptions {
  /** sql_mode ANSI_QUOTES: "x" is an identifier, not a string. */
  ansiQuotes?: boolean;
  /** sql_mode NO_BACKSLASH_ESCAPES: a backslash inside a string literal is an ordinary character. */
  noBackslashEscapes?: boolean;
}

export class StatementParseError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} (at offset ${position})`);
    this.name = 'StatementParseError';
    this.position = position;
  }
}

// ---------------------------------------------------------------------------------------------- tokenizer

export type TokenType = 'word' | 'ident' | 'string' | 'punct';

export interface Token {
  type: TokenType;
  /** word: as written; ident: the name with quoting removed; string: the raw literal; punct: the character. */
  text: string;
  /** Upper-case form of a word, for keyword tests; '' for other types (a quoted name is never a keyword). */
  upper: string;
  pos: number;
  /** The executable comment (`/*!50001 ... *\/`, `/*M!100201 ... *\/`) the token stands in, if any. */
  versioned?: VersionedComment;
}

export interface VersionedComment {
  /** The version digits; undefined when there are none (the comment runs on every server). */
  version: number | undefined;
  /** `/*M!`: only MariaDB runs it. */
  mariadb: boolean;
  /** Where `/*` starts, where its body starts (after the digits), and where it ends (after `*\/`). */
  start: number;
  bodyStart: number;
  end: number;
}

function isWordChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f || // _
    code === 0x24 || // $
    code >= 0x80 // identifiers may use any non-ASCII character
  );
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d || code === 0x0b || code === 0x0c;
}

/** The statement's tokens; with `limit`, only its first `limit` tokens (the text after them is not read). */
export function tokenizeSql(sql: string, options: StatementParseOptions = {}, limit = Infinity): Token[] {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  // Inside /*!50001 ... */ the text is SQL the replica executes, so it is tokenized; only its closing */ is
  // dropped. The servers do not nest these, so one flag is enough.
  let inVersioned = false;
  let comment: VersionedComment | undefined;
  const push = (token: Token) => tokens.push(inVersioned ? { ...token, versioned: comment! } : token);

  const quoted = (quote: string, start: number, backslashEscapes: boolean): number => {
    let j = start + 1;
    while (j < n) {
      const c = sql[j]!;
      if (backslashEscapes && c === '\\') {
        j += 2;
        continue;
      }
      if (c === quote) {
        if (sql[j + 1] === quote) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      j++;
    }
    throw new StatementParseError(`unterminated ${quote} quote`, start);
  };

  while (i < n && tokens.length < limit) {
    const c = sql[i]!;
    const code = sql.charCodeAt(i);
    if (isSpace(code)) {
      i++;
      continue;
    }
    if (c === '#') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    // "-- " starts a comment only when followed by white space or a control character; "--1" is minus minus one.
    if (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || sql.charCodeAt(i + 2) <= 0x20)) {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    if (c === '*' && sql[i + 1] === '/' && inVersioned) {
      inVersioned = false;
      comment!.end = i + 2;
      i += 2;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const bang = sql[i + 2] === '!' ? i + 2 : sql[i + 2] === 'M' && sql[i + 3] === '!' ? i + 3 : -1;
      if (bang >= 0 && !inVersioned) {
        let j = bang + 1;
        // MySQL writes five version digits, MariaDB five or six.
        let digits = 0;
        while (j < n && digits < 6 && sql.charCodeAt(j) >= 0x30 && sql.charCodeAt(j) <= 0x39) {
          j++;
          digits++;
        }
        inVersioned = true;
        comment = { version: digits > 0 ? Number(sql.slice(bang + 1, j)) : undefined, mariadb: bang === i + 3, start: i,
          bodyStart: j, end: n };
        i = j;
        continue;
      }
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) throw new StatementParseError('unterminated /* comment', i);
      i = end + 2;
      continue;
    }
    if (c === '`' || (c === '"' && options.ansiQuotes)) {
      const end = quoted(c, i, false);
      push({ type: 'ident', text: sql.slice(i + 1, end - 1).split(c + c).join(c), upper: '', pos: i });
      i = end;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = quoted(c, i, !options.noBackslashEscapes);
      push({ type: 'string', text: sql.slice(i, end), upper: '', pos: i });
      i = end;
      continue;
    }
    if (isWordChar(code)) {
      let j = i + 1;
      while (j < n && isWordChar(sql.charCodeAt(j))) j++;
      const text = sql.slice(i, j);
      push({ type: 'word', text, upper: text.toUpperCase(), pos: i });
      i = j;
      continue;
    }
    push({ type: 'punct', text: c, upper: '', pos: i });
    i++;
  }
  if (inVersioned && tokens.length < limit) throw new StatementParseError('unterminated /*! comment', n);
  return tokens;
}

const ESCAPES: Readonly<Record<string, string>> = { '0': '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a' };

/**
 * A string literal token's value as the servers read it: a doubled quote is one, and with backslash escapes
 * (unless sql_mode has NO_BACKSLASH_ESCAPES) `\n` and the others are their characters, `\%` and `\_` keep their
 * backslash (they are LIKE escapes), and a backslash before any other character is dropped.
 */
export function stringLiteralValue(literal: string, backslashEscapes = true): string {
  const quote = literal[0]!;
  const body = literal.slice(1, -1);
  if (!backslashEscapes) return body.split(quote + quote).join(quote);
  return body.replace(new RegExp(`\\\\(.)|${quote}${quote}`, 'gs'), (whole, escaped: string | undefined) => {
    if (escaped === undefined) return quote;
    return escaped === '%' || escaped === '_' ? whole : ESCAPES[escaped] ?? escaped;
  });
}

// ------------------------------------------------------------------------------------------------- parser

// Words that end a table factor instead of naming its alias when they follow a table name without AS.
const NOT_AN_ALIAS = new Set([
  'ON', 'USING', 'WHERE', 'SET', 'JOIN', 'INNER', 'CROSS', 'LEFT', 'RIGHT', 'NATURAL', 'STRAIGHT_JOIN', 'FULL',
  'OUTER', 'USE', 'IGNORE', 'FORCE', 'FROM', 'ORDER', 'LIMIT', 'GROUP', 'HAVING', 'PARTITION', 'VALUES', 'VALUE',
  'SELECT', 'RETURNING', 'WINDOW', 'UNION', 'EXCEPT', 'INTERSECT', 'FOR', 'LOCK', 'INTO', 'WITH', 'DEFAULT',
  'TO', 'WAIT', 'NOWAIT', 'RESTRICT', 'CASCADE', 'AS', 'OJ',
]);

const TABLE_STATEMENT_END = new Set(['WHERE', 'ORDER', 'LIMIT', 'RETURNING']);

interface RefEntry {
  ref: TableRef;
  alias?: string;
}

/** A position in a statement's tokens, with the keyword and punctuation tests every statement reader needs. */
export class TokenCursor {
  protected i = 0;
  constructor(protected readonly tokens: Token[]) {}

  peek(k = 0): Token | undefined {
    return this.tokens[this.i + k];
  }

  next(): Token | undefined {
    return this.tokens[this.i++];
  }

  atEnd(): boolean {
    const t = this.peek();
    return t === undefined || (t.type === 'punct' && t.text === ';');
  }

  isWord(word: string, k = 0): boolean {
    const t = this.peek(k);
    return t !== undefined && t.type === 'word' && t.upper === word;
  }

  isPunct(ch: string, k = 0): boolean {
    const t = this.peek(k);
    return t !== undefined && t.type === 'punct' && t.text === ch;
  }

  accept(...words: string[]): boolean {
    if (words.every((w, k) => this.isWord(w, k))) {
      this.i += words.length;
      return true;
    }
    return false;
  }

  acceptPunct(ch: string): boolean {
    if (this.isPunct(ch)) {
      this.i++;
      return true;
    }
    return false;
  }
}

class Parser extends TokenCursor {
  constructor(
    tokens: Token[],
    private readonly defaultDb: string,
    private readonly backslashEscapes: boolean,
  ) {
    super(tokens);
  }

  fail(message: string): never {
    const t = this.peek();
    throw new StatementParseError(message, t?.pos ?? -1);
  }

  isNameToken(k = 0): boolean {
    const t = this.peek(k);
    return t !== undefined && (t.type === 'word' || t.type === 'ident');
  }

  /** One identifier part of a name. */
  name(what: string): string {
    if (!this.isNameToken()) this.fail(`expected ${what}`);
    return this.next()!.text;
  }

  /** [db.]name, with the default database filled in when the name is not qualified. */
  qualifiedName(what = 'a table name'): TableRef & { qualified: boolean } {
    const first = this.name(what);
    if (this.isPunct('.') && this.isNameToken(1)) {
      this.i++;
      return { db: first, table: this.next()!.text, qualified: true };
    }
    return { db: this.defaultDb, table: first, qualified: false };
  }

  /** Skips a balanced ( ... ) starting at the current '('. */
  skipParens(): void {
    if (!this.acceptPunct('(')) this.fail("expected '('");
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t === undefined) this.fail("missing ')'");
      if (t.type === 'punct') {
        if (t.text === '(') depth++;
        else if (t.text === ')') depth--;
      }
    }
  }

  acceptIfExists(): void {
    this.accept('IF', 'EXISTS');
  }

  acceptIfNotExists(): void {
    this.accept('IF', 'NOT', 'EXISTS');
  }

  /** DEFINER = user, where user is CURRENT_USER[()], CURRENT_ROLE, or name@host in any quoting. */
  skipDefiner(): void {
    this.acceptPunct('=');
    const t = this.next();
    if (t === undefined) this.fail('expected a definer');
    if (t.type === 'word' && (t.upper === 'CURRENT_USER' || t.upper === 'CURRENT_ROLE')) {
      if (this.isPunct('(') && this.isPunct(')', 1)) this.i += 2;
      return;
    }
    if (this.acceptPunct('@')) this.next();
  }

  // ---------------------------------------------------------------------------------- table references

  private isJoinStart(): boolean {
    const t = this.peek();
    if (t === undefined || t.type !== 'word') return false;
    switch (t.upper) {
      case 'JOIN':
      case 'INNER':
      case 'CROSS':
      case 'NATURAL':
      case 'STRAIGHT_JOIN':
      case 'FULL':
        return true;
      case 'LEFT':
      case 'RIGHT':
        // LEFT(...) and RIGHT(...) are string functions inside an ON condition.
        return !this.isPunct('(', 1);
      default:
        return false;
    }
  }

  /** table_references: comma and JOIN lists of table factors, until something that cannot continue them. */
  tableReferences(out: RefEntry[], stop: ReadonlySet<string>): void {
    for (;;) {
      this.tableFactor(out);
      for (;;) {
        if (this.isJoinStart()) {
          while (!this.accept('JOIN') && !this.accept('STRAIGHT_JOIN')) {
            if (this.next() === undefined) this.fail('expected JOIN');
          }
          this.tableFactor(out);
          if (this.accept('ON')) this.skipCondition(stop);
          else if (this.accept('USING')) this.skipParens();
          continue;
        }
        break;
      }
      if (!this.acceptPunct(',')) return;
    }
  }

  private skipCondition(stop: ReadonlySet<string>): void {
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t === undefined) return;
      if (t.type === 'punct') {
        if (t.text === '(') depth++;
        else if (t.text === ')') {
          if (depth === 0) return;
          depth--;
        } else if (depth === 0 && (t.text === ',' || t.text === ';' || t.text === '}')) return;
      } else if (depth === 0 && t.type === 'word' && (stop.has(t.upper) || this.isJoinStart())) {
        return;
      }
      this.i++;
    }
  }

  private tableFactor(out: RefEntry[]): void {
    if (this.isPunct('{') && this.isWord('OJ', 1)) {
      this.i += 2;
      this.tableReferences(out, new Set());
      if (!this.acceptPunct('}')) this.fail("expected '}'");
      return;
    }
    if (this.isPunct('(')) {
      let k = 1;
      while (this.isPunct('(', k)) k++;
      if (this.isWord('SELECT', k) || this.isWord('WITH', k) || this.isWord('VALUES', k) || this.isWord('TABLE', k)) {
        // A derived table is read, never updated; only its alias matters, and nothing refers to it here.
        this.skipParens();
        this.alias();
        if (this.isPunct('(')) this.skipParens();
        return;
      }
      this.i++;
      this.tableReferences(out, new Set());
      if (!this.acceptPunct(')')) this.fail("expected ')'");
      return;
    }
    const { db, table } = this.qualifiedName();
    if (this.accept('PARTITION')) this.skipParens();
    const alias = this.alias();
    // Index hints: USE|IGNORE|FORCE INDEX|KEY [FOR JOIN|ORDER BY|GROUP BY] (list), any number of them.
    while ((this.isWord('USE') || this.isWord('IGNORE') || this.isWord('FORCE')) && (this.isWord('INDEX', 1) || this.isWord('KEY', 1))) {
      this.i += 2;
      if (this.accept('FOR')) {
        if (!this.accept('JOIN')) {
          this.next();
          this.accept('BY');
        }
      }
      this.skipParens();
    }
    out.push(alias === undefined ? { ref: { db, table } } : { ref: { db, table }, alias });
  }

  private alias(): string | undefined {
    if (this.accept('AS')) {
      const t = this.next();
      if (t === undefined || t.type === 'punct') this.fail('expected an alias after AS');
      return t.type === 'string' ? stringLiteralValue(t.text, this.backslashEscapes) : t.text;
    }
    const t = this.peek();
    if (t === undefined) return undefined;
    if (t.type === 'ident' || (t.type === 'word' && !NOT_AN_ALIAS.has(t.upper))) {
      this.i++;
      return t.text;
    }
    if (t.type === 'string') {
      this.i++;
      return stringLiteralValue(t.text, this.backslashEscapes);
    }
    return undefined;
  }

  /** Moves to the next word at parenthesis depth 0 that is in `words`; false if the statement ends first. */
  seekWord(words: ReadonlySet<string>): boolean {
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t === undefined) return false;
      if (t.type === 'punct') {
        if (t.text === '(') depth++;
        else if (t.text === ')') depth--;
        else if (t.text === ';' && depth === 0) return false;
      } else if (depth === 0 && t.type === 'word' && words.has(t.upper)) {
        return true;
      }
      this.i++;
    }
  }

  // -------------------------------------------------------------------------------------- statements

  statement(): UpdatedTables {
    // A statement may be wrapped in parentheses only when it is a query; those update nothing.
    const first = this.peek();
    if (first === undefined) return { tables: [], command: '' };
    if (first.type !== 'word') return { tables: [], command: '' };
    switch (first.upper) {
      case 'WITH':
        return this.withStatement();
      case 'INSERT':
      case 'REPLACE':
        return this.insert();
      case 'UPDATE':
        return this.update();
      case 'DELETE':
        return this.delete();
      case 'CREATE':
        return this.create();
      case 'ALTER':
        return this.alter();
      case 'DROP':
        return this.drop();
      case 'RENAME':
        return this.rename();
      case 'TRUNCATE':
        this.i++;
        this.accept('TABLE');
        return { tables: [this.ref()], command: 'TRUNCATE TABLE' };
      case 'LOAD':
        return this.load();
      case 'OPTIMIZE':
      case 'ANALYZE':
      case 'REPAIR':
        return this.adminTables(first.upper);
      case 'BEGIN':
      case 'COMMIT':
      case 'ROLLBACK':
      case 'SAVEPOINT':
      case 'XA':
        return { tables: [], command: first.upper, transactionControl: true };
      case 'RELEASE':
        return { tables: [], command: 'RELEASE SAVEPOINT', transactionControl: this.isWord('SAVEPOINT', 1) };
      case 'START':
        if (this.isWord('TRANSACTION', 1)) return { tables: [], command: 'START TRANSACTION', transactionControl: true };
        return { tables: [], command: 'START' };
      default:
        return { tables: [], command: first.upper };
    }
  }

  private ref(): TableRef {
    const { db, table } = this.qualifiedName();
    return { db, table };
  }

  private withStatement(): UpdatedTables {
    this.i++;
    this.accept('RECURSIVE');
    for (;;) {
      this.name('a common table expression name');
      if (this.isPunct('(')) this.skipParens();
      if (!this.accept('AS')) this.fail('expected AS in WITH');
      this.skipParens();
      if (!this.acceptPunct(',')) break;
    }
    const rest = this.statement();
    // WITH ... SELECT updates nothing; WITH ... UPDATE/DELETE/INSERT update what the main statement does.
    return rest;
  }

  private insert(): UpdatedTables {
    const command = this.next()!.upper;
    while (this.accept('LOW_PRIORITY') || this.accept('DELAYED') || this.accept('HIGH_PRIORITY') || this.accept('IGNORE')) {
      // modifiers
    }
    this.accept('INTO');
    // INSERT ... SELECT reads its source tables; only the target is updated (5.5.6's own example).
    return { tables: [this.ref()], command };
  }

  private update(): UpdatedTables {
    this.i++;
    while (this.accept('LOW_PRIORITY') || this.accept('IGNORE')) {
      // modifiers
    }
    const refs: RefEntry[] = [];
    this.tableReferences(refs, new Set(['SET']));
    if (refs.length <= 1) return { tables: refs.map((r) => r.ref), command: 'UPDATE' };
    // Multi-table UPDATE: the servers judge only the tables opened for update, i.e. those whose columns
    // appear on the left of SET. A column that names no table cannot be placed without the schema, so then
    // every listed table is taken as updated.
    if (!this.seekWord(new Set(['SET']))) return { tables: dedupe(refs.map((r) => r.ref)), command: 'UPDATE' };
    this.i++;
    const assigned: TableRef[] = [];
    let unsure = false;
    for (;;) {
      const parts: string[] = [this.name('a column name')];
      while (this.isPunct('.') && this.isNameToken(1)) {
        this.i++;
        parts.push(this.next()!.text);
      }
      const owners = resolveColumnOwner(parts, refs);
      if (owners.length === 0) unsure = true;
      assigned.push(...owners);
      // Skip the assigned value up to the next assignment or the end of SET.
      let depth = 0;
      for (;;) {
        const t = this.peek();
        if (t === undefined) break;
        if (t.type === 'punct') {
          if (t.text === '(') depth++;
          else if (t.text === ')') depth--;
          else if (depth === 0 && (t.text === ',' || t.text === ';')) break;
        } else if (depth === 0 && t.type === 'word' && TABLE_STATEMENT_END.has(t.upper)) break;
        this.i++;
      }
      if (!this.acceptPunct(',')) break;
    }
    if (unsure) return { tables: dedupe(refs.map((r) => r.ref)), command: 'UPDATE' };
    // Report in table-list order, which is the order the servers walk when they judge the tables.
    const keys = new Set(assigned.map(refKey));
    return { tables: dedupe(refs.map((r) => r.ref).filter((r) => keys.has(refKey(r)))), command: 'UPDATE' };
  }

  private deleteTargets(): { ref: TableRef; qualified: boolean }[] {
    const targets: { ref: TableRef; qualified: boolean }[] = [];
    for (;;) {
      const { db, table, qualified } = this.qualifiedName();
      if (this.isPunct('.') && this.isPunct('*', 1)) this.i += 2;
      targets.push({ ref: { db, table }, qualified });
      if (!this.acceptPunct(',')) return targets;
    }
  }

  private delete(): UpdatedTables {
    this.i++;
    while (this.accept('LOW_PRIORITY') || this.accept('QUICK') || this.accept('IGNORE')) {
      // modifiers
    }
    const stop = new Set([...TABLE_STATEMENT_END]);
    if (this.accept('FROM')) {
      const start = this.i;
      const targets = this.deleteTargets();
      if (this.accept('USING')) {
        const refs: RefEntry[] = [];
        this.tableReferences(refs, stop);
        return { tables: dedupe(targets.map((t) => resolveDeleteTarget(t, refs))), command: 'DELETE' };
      }
      // Single-table DELETE: re-read just the one name; what follows it (alias, PARTITION, WHERE) is irrelevant.
      this.i = start;
      return { tables: [this.ref()], command: 'DELETE' };
    }
    const targets = this.deleteTargets();
    if (!this.accept('FROM')) this.fail('expected FROM in multi-table DELETE');
    const refs: RefEntry[] = [];
    this.tableReferences(refs, stop);
    return { tables: dedupe(targets.map((t) => resolveDeleteTarget(t, refs))), command: 'DELETE' };
  }

  /** Skips CREATE/ALTER modifiers that come before the object keyword. */
  private skipObjectModifiers(): void {
    for (;;) {
      if (this.accept('OR', 'REPLACE')) continue;
      if (this.accept('DEFINER')) {
        this.skipDefiner();
        continue;
      }
      if (this.accept('ALGORITHM')) {
        this.acceptPunct('=');
        this.next();
        continue;
      }
      if (this.accept('SQL', 'SECURITY')) {
        this.next();
        continue;
      }
      if (this.accept('ONLINE') || this.accept('OFFLINE') || this.accept('IGNORE')) continue;
      return;
    }
  }

  private create(): UpdatedTables {
    this.i++;
    this.skipObjectModifiers();
    const temporary = this.accept('TEMPORARY');
    if (this.accept('TABLE')) {
      this.acceptIfNotExists();
      return { tables: [this.ref()], command: temporary ? 'CREATE TEMPORARY TABLE' : 'CREATE TABLE' };
    }
    if (this.accept('SEQUENCE')) {
      // A sequence is a table on MariaDB, named in the table list like one.
      this.acceptIfNotExists();
      return { tables: [this.ref()], command: 'CREATE SEQUENCE' };
    }
    if (this.accept('DATABASE') || this.accept('SCHEMA')) {
      this.acceptIfNotExists();
      return { tables: [], databaseLevel: { db: this.name('a database name') }, command: 'CREATE DATABASE' };
    }
    this.accept('UNIQUE') || this.accept('FULLTEXT') || this.accept('SPATIAL');
    if (this.accept('INDEX')) {
      this.acceptIfNotExists();
      if (!this.seekWord(new Set(['ON']))) this.fail('expected ON in CREATE INDEX');
      this.i++;
      return { tables: [this.ref()], command: 'CREATE INDEX' };
    }
    if (this.accept('VIEW')) {
      // The servers put the view's own name in the table list as a table opened for update, so table rules
      // judge CREATE VIEW by the view's name (never by the tables it selects from).
      this.acceptIfNotExists();
      return { tables: [this.ref()], command: 'CREATE VIEW' };
    }
    if (this.accept('TRIGGER')) {
      // Likewise the table a trigger is created ON is opened for update.
      this.acceptIfNotExists();
      this.qualifiedName('a trigger name');
      if (!this.seekWord(new Set(['ON']))) this.fail('expected ON in CREATE TRIGGER');
      this.i++;
      return { tables: [this.ref()], command: 'CREATE TRIGGER' };
    }
    const t = this.peek();
    const object = t?.type === 'word' ? t.upper : '';
    // PROCEDURE, FUNCTION, EVENT, USER, ROLE, SERVER ...: no table list, so only the database stage applies.
    return { tables: [], command: object === '' ? 'CREATE' : `CREATE ${object === 'AGGREGATE' ? 'FUNCTION' : object}` };
  }

  private alter(): UpdatedTables {
    this.i++;
    this.skipObjectModifiers();
    if (this.accept('TABLE')) {
      // RENAME TO inside ALTER TABLE is not in the table list; the servers judge only the altered table.
      this.acceptIfExists();
      return { tables: [this.ref()], command: 'ALTER TABLE' };
    }
    if (this.accept('SEQUENCE')) {
      this.acceptIfExists();
      return { tables: [this.ref()], command: 'ALTER SEQUENCE' };
    }
    if (this.accept('DATABASE') || this.accept('SCHEMA')) {
      // ALTER DATABASE without a name acts on the default database.
      const t = this.peek();
      const named = t !== undefined && (t.type === 'ident' || (t.type === 'word' && !ALTER_DATABASE_OPTION.has(t.upper)));
      const db = named ? this.next()!.text : this.defaultDb;
      return { tables: [], databaseLevel: { db }, command: 'ALTER DATABASE' };
    }
    if (this.accept('VIEW')) return { tables: [this.ref()], command: 'ALTER VIEW' };
    const t = this.peek();
    return { tables: [], command: t?.type === 'word' ? `ALTER ${t.upper}` : 'ALTER' };
  }

  private nameList(): TableRef[] {
    const out: TableRef[] = [];
    do out.push(this.ref());
    while (this.acceptPunct(','));
    return out;
  }

  private drop(): UpdatedTables {
    this.i++;
    const temporary = this.accept('TEMPORARY');
    if (this.accept('TABLE') || this.accept('TABLES')) {
      const ifExists = this.isWord('IF') && this.isWord('EXISTS', 1);
      this.acceptIfExists();
      const tables = this.nameList();
      const result: UpdatedTables = { tables, command: temporary ? 'DROP TEMPORARY TABLE' : 'DROP TABLE' };
      if (temporary && ifExists) result.tableRulesExempt = true;
      return result;
    }
    if (this.accept('SEQUENCE')) {
      this.acceptIfExists();
      return { tables: this.nameList(), command: 'DROP SEQUENCE' };
    }
    if (this.accept('DATABASE') || this.accept('SCHEMA')) {
      this.acceptIfExists();
      return { tables: [], databaseLevel: { db: this.name('a database name') }, command: 'DROP DATABASE' };
    }
    if (this.accept('INDEX')) {
      if (!this.seekWord(new Set(['ON']))) this.fail('expected ON in DROP INDEX');
      this.i++;
      return { tables: [this.ref()], command: 'DROP INDEX' };
    }
    if (this.accept('VIEW')) {
      this.acceptIfExists();
      return { tables: this.nameList(), command: 'DROP VIEW' };
    }
    const t = this.peek();
    // DROP TRIGGER names the trigger, not its table: there is no table list, as for routines and events.
    return { tables: [], command: t?.type === 'word' ? `DROP ${t.upper}` : 'DROP' };
  }

  private rename(): UpdatedTables {
    this.i++;
    if (!this.accept('TABLE') && !this.accept('TABLES')) {
      const t = this.peek();
      return { tables: [], command: t?.type === 'word' ? `RENAME ${t.upper}` : 'RENAME' };
    }
    this.acceptIfExists();
    // Both the old and the new name of every pair are in the table list, opened for update.
    const tables: TableRef[] = [];
    do {
      tables.push(this.ref());
      if (this.accept('WAIT')) this.next();
      else this.accept('NOWAIT');
      if (!this.accept('TO')) this.fail('expected TO in RENAME TABLE');
      tables.push(this.ref());
    } while (this.acceptPunct(','));
    return { tables, command: 'RENAME TABLE' };
  }

  private load(): UpdatedTables {
    this.i++;
    const kind = this.isWord('XML') ? 'LOAD XML' : 'LOAD DATA';
    if (!this.isWord('DATA') && !this.isWord('XML')) {
      const t = this.peek();
      return { tables: [], command: t?.type === 'word' ? `LOAD ${t.upper}` : 'LOAD' };
    }
    while (!this.atEnd()) {
      if (this.accept('INTO', 'TABLE')) return { tables: [this.ref()], command: kind };
      this.i++;
    }
    this.fail(`expected INTO TABLE in ${kind}`);
  }

  private adminTables(verb: string): UpdatedTables {
    this.i++;
    this.accept('NO_WRITE_TO_BINLOG') || this.accept('LOCAL');
    if (!this.accept('TABLE') && !this.accept('TABLES')) return { tables: [], command: verb };
    return { tables: this.nameList(), command: `${verb} TABLE` };
  }
}

const ALTER_DATABASE_OPTION = new Set(['DEFAULT', 'CHARACTER', 'CHARSET', 'COLLATE', 'COMMENT', 'READ', 'ENCRYPTION']);

function refKey(r: TableRef): string {
  return `${r.db}\u0000${r.table}`;
}

function dedupe(refs: TableRef[]): TableRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const k = refKey(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// Aliases compare case-insensitively on the servers; being lenient with table names here can only find the
// table a valid statement meant, because the server has already resolved the statement without ambiguity.
function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The table(s) a SET column reference belongs to; empty when the reference does not say. */
function resolveColumnOwner(parts: string[], refs: RefEntry[]): TableRef[] {
  if (parts.length === 3) {
    return refs.filter((r) => r.alias === undefined && sameName(r.ref.db, parts[0]!) && sameName(r.ref.table, parts[1]!)).map((r) => r.ref);
  }
  if (parts.length === 2) {
    const q = parts[0]!;
    const byAlias = refs.filter((r) => r.alias !== undefined && sameName(r.alias, q));
    if (byAlias.length > 0) return byAlias.map((r) => r.ref);
    return refs.filter((r) => r.alias === undefined && sameName(r.ref.table, q)).map((r) => r.ref);
  }
  return [];
}

/** A multi-table DELETE target names an alias or a table of the FROM/USING list. */
function resolveDeleteTarget(target: { ref: TableRef; qualified: boolean }, refs: RefEntry[]): TableRef {
  if (target.qualified) return target.ref;
  const name = target.ref.table;
  const byAlias = refs.find((r) => r.alias !== undefined && sameName(r.alias, name));
  if (byAlias) return byAlias.ref;
  const byTable = refs.find((r) => r.alias === undefined && sameName(r.ref.table, name));
  return byTable ? byTable.ref : target.ref;
}

/**
 * The tables `sql` updates (unqualified names resolved against `defaultDb`, the default database the
 * statement runs with on the replica, i.e. after replicate-rewrite-db), and the database a
 * CREATE/ALTER/DROP DATABASE acts on. Statements that update no table (routines, events, triggers' DROP,
 * GRANT, SET ...) give no tables: only the database stage judges them.
 * Throws StatementParseError for text that cannot be tokenized or a statement whose table cannot be found.
 */
export function updatedTables(sql: string, defaultDb: string, options: StatementParseOptions = {}): UpdatedTables {
  const tokens = tokenizeSql(sql, options);
  // Parentheses around a whole statement only ever wrap a query.
  return new Parser(tokens, defaultDb, !options.noBackslashEscapes).statement();
}
