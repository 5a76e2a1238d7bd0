// What kind of statement a Query event holds, as far as grouping and committing need to know. Pure.

/** The first keyword of a statement, upper case, skipping white space and comments. */
export function firstKeyword(sql: Buffer): string {
  const text = sql.toString('latin1', 0, Math.min(sql.length, 4096));
  const stripped = text.replace(/^(\s+|\/\*(?!M?!)[\s\S]*?\*\/|--[^\n]*\n|#[^\n]*\n)*/, '');
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
  if (keyword === 'CREATE' || keyword === 'DROP') {
    // Temporary tables do not commit; servers log `DROP /*!40005 TEMPORARY */ TABLE` at session end.
    return !/^\s*(CREATE\s+(OR\s+REPLACE\s+)?|DROP\s+)TEMPORARY\b/i.test(statementHead(sql));
  }
  return IMPLICIT_COMMIT.has(keyword);
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
