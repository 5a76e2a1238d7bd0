// What kind of statement a Query event holds, as far as grouping and committing need to know. Pure.

// White space and comments before a statement's first keyword (executable comments are statement text).
const LEADING = String.raw`(?:\s+|\/\*(?!M?!)[\s\S]*?\*\/|--[^\n]*\n|#[^\n]*\n)*`;

/** The first keyword of a statement, upper case, skipping white space and comments. */
export function firstKeyword(sql: Buffer): string {
  const text = sql.toString('latin1', 0, Math.min(sql.length, 4096));
  const stripped = text.replace(new RegExp(`^${LEADING}`), '');
  const match = /^\/\*M?!\d*\s*([A-Za-z]+)|^([A-Za-z]+)/.exec(stripped);
  return (match?.[1] ?? match?.[2] ?? '').toUpperCase();
}

// Statements that commit implicitly on the servers: they cannot share a transaction with rows or a position.
const IMPLICIT_COMMIT = new Set([
  'CREATE', 'ALTER', 'DROP', 'RENAME', 'TRUNCATE', 'GRANT', 'REVOKE', 'ANALYZE', 'OPTIMIZE', 'REPAIR', 'FLUSH',
  'INSTALL', 'UNINSTALL', 'LOCK', 'UNLOCK', 'CACHE', 'LOAD',
]);

export function commitsImplicitly(sql: Buffer): boolean {
  const keyword = firstKeyword(sql);
  if (keyword === 'LOAD') return /^\s*LOAD\s+INDEX/i.test(sql.toString('latin1', 0, 64));
  if (keyword === 'CREATE' || keyword === 'DROP') return !isTemporaryTableDdl(sql);
  return IMPLICIT_COMMIT.has(keyword);
}

/** CREATE or DROP of a temporary table; servers log `DROP /*!40005 TEMPORARY * / TABLE` at session end. */
export function isTemporaryTableDdl(sql: Buffer): boolean {
  return /^\s*(CREATE\s+(OR\s+REPLACE\s+)?|DROP\s+)TEMPORARY\b/i.test(statementHead(sql));
}

// slave_ddl_exec_mode=IDEMPOTENT, a MariaDB replica's default: DDL that would fail only because the replica is
// already in the state it creates runs as CREATE OR REPLACE TABLE, DROP TABLE IF EXISTS, CREATE DATABASE IF NOT
// EXISTS, DROP DATABASE IF EXISTS. A MIXED source relies on it: when a session switches to row logging it logs a
// DROP TEMPORARY TABLE IF EXISTS naming the source database, which misses the table under replicate-rewrite-db,
// and the session's next CREATE TEMPORARY TABLE of that name must replace it.
const IDEMPOTENT_DDL: [RegExp, string][] = [
  [new RegExp(`^(${LEADING})(CREATE)(?=\\s+(?:TEMPORARY\\s+)?TABLE\\b(?!\\s+IF\\s+NOT\\s+EXISTS\\b))`, 'i'), '$1$2 OR REPLACE'],
  [new RegExp(`^(${LEADING})(DROP\\s+(?:TEMPORARY\\s+|\\/\\*!\\d*\\s*TEMPORARY\\s*\\*\\/\\s*)?TABLES?\\b)(?!\\s+IF\\s+EXISTS\\b)`, 'i'), '$1$2 IF EXISTS'],
  [new RegExp(`^(${LEADING})(CREATE\\s+(?:DATABASE|SCHEMA)\\b)(?!\\s+IF\\s+NOT\\s+EXISTS\\b)`, 'i'), '$1$2 IF NOT EXISTS'],
  [new RegExp(`^(${LEADING})(DROP\\s+(?:DATABASE|SCHEMA)\\b)(?!\\s+IF\\s+EXISTS\\b)`, 'i'), '$1$2 IF EXISTS'],
];

/** A statement's text (a byte string) as an idempotent MariaDB replica runs it. */
export function idempotentDdl(text: string): string {
  for (const [pattern, replacement] of IDEMPOTENT_DDL) if (pattern.test(text)) return text.replace(pattern, replacement);
  return text;
}

/** The start of a statement with executable comments (`/*!NNNNN ...* /`, `/*M!...* /`) opened and others removed. */
function statementHead(sql: Buffer): string {
  return sql.toString('latin1', 0, 256)
    .replace(/\/\*M?!\d*\s*([\s\S]*?)\*\//g, ' $1 ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ');
}

/** CREATE / ALTER / DROP DATABASE (or SCHEMA): rewrite-db leaves them alone. */
export function isDatabaseStatement(sql: Buffer): boolean {
  return /^\s*(CREATE(\s+OR\s+REPLACE)?|ALTER|DROP)\s+(DATABASE|SCHEMA)\b/i.test(statementHead(sql));
}

/**
 * CREATE / DROP DATABASE carry the database they act on as the default database, which may not exist (yet, or
 * any more), so they run without USE. ALTER DATABASE keeps its USE: without a name it acts on the default one.
 */
export function runsWithoutDefaultDatabase(sql: Buffer): boolean {
  return /^\s*(CREATE(\s+OR\s+REPLACE)?|DROP)\s+(DATABASE|SCHEMA)\b/i.test(statementHead(sql));
}
