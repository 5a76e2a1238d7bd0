// What kind of statement a Query event holds, as far as grouping and committing need to know. Pure.

/** The first keyword of a statement, upper case, skipping white space and comments. */
export function firstKeyword(sql: Buffer): string {
  const text = sql.toString('latin1', 0, Math.min(sql.length, 4096));
  const stripped = text.replace(/^(\s+|\/\*(?!!)[\s\S]*?\*\/|--[^\n]*\n|#[^\n]*\n)*/, '');
  const match = /^\/\*!\d*\s*([A-Za-z]+)|^([A-Za-z]+)/.exec(stripped);
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
    // Temporary tables do not commit.
    return !/^\s*(CREATE|DROP)\s+TEMPORARY\b/i.test(sql.toString('latin1', 0, 64).replace(/\/\*[\s\S]*?\*\//g, ' '));
  }
  return IMPLICIT_COMMIT.has(keyword);
}

/**
 * CREATE / ALTER / DROP DATABASE (or SCHEMA). Their events carry the database they act on as the default
 * database, which may not exist (yet, or any more), so they run without USE; rewrite-db leaves them alone.
 */
export function isDatabaseStatement(sql: Buffer): boolean {
  const head = sql.toString('latin1', 0, 256).replace(/\/\*(?!!)[\s\S]*?\*\//g, ' ');
  return /^\s*(CREATE|ALTER|DROP)\s+(DATABASE|SCHEMA)\b/i.test(head);
}
