// What kind of statement a Query event holds, as far as grouping and committing need to know. Pure. The words
// are read by the one SQL tokenizer (src/filter/statement-tables.ts): comments are skipped, executable comments
// (`/*!40005 TEMPORARY */`, `/*M!...`) are statement text.
import { StatementParseError, tokenizeSql, type Token } from '../filter/statement-tables.js';

/** The first `count` tokens of a statement; none when its start cannot be tokenized (an unterminated comment). */
function leadingTokens(text: string, count: number): Token[] {
  try {
    return tokenizeSql(text, {}, count);
  } catch (err) {
    if (err instanceof StatementParseError) return [];
    throw err;
  }
}

/** The first `count` words of a statement, upper case; '' for a token that is no word (a quoted name, a '('). */
function leadingWords(sql: Buffer, count: number): string[] {
  // The words that matter come first: the head of a long statement (a big INSERT) is enough.
  return leadingTokens(sql.toString('latin1', 0, Math.min(sql.length, 4096)), count).map((t) => t.upper);
}

/** The first keyword of a statement, upper case, skipping white space and comments. */
export function firstKeyword(sql: Buffer): string {
  return leadingWords(sql, 1)[0] ?? '';
}

/** The statements that begin or end a transaction, in the servers' words. */
export type TransactionControl = 'BEGIN' | 'COMMIT' | 'ROLLBACK' | 'XA START' | 'XA END' | 'XA COMMIT' | 'XA ROLLBACK';

/** Which transaction control statement a Query event holds, if any. */
export function transactionControl(sql: Buffer): TransactionControl | undefined {
  const [first, second, third] = leadingWords(sql, 3);
  // ROLLBACK [WORK] TO [SAVEPOINT] s undoes part of the transaction, which goes on.
  if (first === 'ROLLBACK' && (second === 'TO' || (second === 'WORK' && third === 'TO'))) return undefined;
  if (first === 'BEGIN' || first === 'COMMIT' || first === 'ROLLBACK') return first;
  if (first === 'XA' && (second === 'START' || second === 'END' || second === 'COMMIT' || second === 'ROLLBACK')) {
    return `XA ${second}`;
  }
  return undefined;
}

// Statements that commit implicitly on the servers: they cannot share a transaction with rows or a position.
const IMPLICIT_COMMIT = new Set([
  'CREATE', 'ALTER', 'DROP', 'RENAME', 'TRUNCATE', 'GRANT', 'REVOKE', 'ANALYZE', 'OPTIMIZE', 'REPAIR', 'FLUSH',
  'INSTALL', 'UNINSTALL', 'LOCK', 'UNLOCK', 'CACHE', 'LOAD',
]);

export function commitsImplicitly(sql: Buffer): boolean {
  const [first, second] = leadingWords(sql, 2);
  if (first === 'LOAD') return second === 'INDEX';
  if (first === 'CREATE' || first === 'DROP') return !isTemporaryTableDdl(sql);
  return first !== undefined && IMPLICIT_COMMIT.has(first);
}

/** CREATE or DROP of a temporary table; servers log `DROP /*!40005 TEMPORARY * / TABLE` at session end. */
export function isTemporaryTableDdl(sql: Buffer): boolean {
  const [first, second, third, fourth] = leadingWords(sql, 4);
  if (first === 'DROP') return second === 'TEMPORARY';
  return first === 'CREATE' && (second === 'TEMPORARY' || (second === 'OR' && third === 'REPLACE' && fourth === 'TEMPORARY'));
}

/** `text` with `insert` placed right after `token`. */
function after(text: string, token: Token, insert: string): string {
  const end = token.pos + (token.type === 'word' ? token.text.length : 0);
  return text.slice(0, end) + insert + text.slice(end);
}

/**
 * A statement's text (a byte string) as an idempotent MariaDB replica runs it (slave_ddl_exec_mode=IDEMPOTENT, a
 * MariaDB replica's default): DDL that would fail only because the replica is already in the state it creates
 * runs as CREATE OR REPLACE TABLE, DROP TABLE IF EXISTS, CREATE DATABASE IF NOT EXISTS, DROP DATABASE IF EXISTS.
 * A MIXED source relies on it: when a session switches to row logging it logs a DROP TEMPORARY TABLE IF EXISTS
 * naming the source database, which misses the table under replicate-rewrite-db, and the session's next CREATE
 * TEMPORARY TABLE of that name must replace it. Only a statement whose words stand outside executable comments
 * (but for the TEMPORARY the servers log in one) is changed.
 */
export function idempotentDdl(text: string): string {
  const tokens = leadingTokens(text, 6);
  const plain = (i: number) => tokens[i] !== undefined && tokens[i]!.type === 'word' && !tokens[i]!.versioned;
  const word = (i: number) => (plain(i) ? tokens[i]!.upper : '');
  // IF [NOT] EXISTS may stand in an executable comment (`/*!32312 IF NOT EXISTS*/`, as mysqldump writes it): then it
  // is there already, and a second one would be a syntax error.
  const follows = (i: number, ...words: string[]) => words.every((w, k) => tokens[i + k]?.type === 'word' && tokens[i + k]!.upper === w);
  if (word(0) === 'CREATE') {
    const table = word(1) === 'TEMPORARY' ? 2 : 1;
    if (word(table) === 'TABLE' && !follows(table + 1, 'IF', 'NOT', 'EXISTS')) return after(text, tokens[0]!, ' OR REPLACE');
    if ((word(1) === 'DATABASE' || word(1) === 'SCHEMA') && !follows(2, 'IF', 'NOT', 'EXISTS')) {
      return after(text, tokens[1]!, ' IF NOT EXISTS');
    }
  }
  if (word(0) === 'DROP') {
    const table = tokens[1]?.upper === 'TEMPORARY' ? 2 : 1;
    if ((word(table) === 'TABLE' || word(table) === 'TABLES') && !follows(table + 1, 'IF', 'EXISTS')) {
      return after(text, tokens[table]!, ' IF EXISTS');
    }
    if ((word(1) === 'DATABASE' || word(1) === 'SCHEMA') && !follows(2, 'IF', 'EXISTS')) return after(text, tokens[1]!, ' IF EXISTS');
  }
  return text;
}

/**
 * CREATE / DROP DATABASE carry the database they act on as the default database, which may not exist (yet, or
 * any more), so they run without USE. ALTER DATABASE keeps its USE: without a name it acts on the default one.
 */
export function runsWithoutDefaultDatabase(sql: Buffer): boolean {
  const [first, second, third, fourth] = leadingWords(sql, 4);
  if (first === 'CREATE' && second === 'OR' && third === 'REPLACE') return fourth === 'DATABASE' || fourth === 'SCHEMA';
  return (first === 'CREATE' || first === 'DROP') && (second === 'DATABASE' || second === 'SCHEMA');
}
