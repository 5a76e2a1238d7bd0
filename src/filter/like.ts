// SQL LIKE matching as the servers apply it to replicate-wild-*-table patterns. Pure.

type PatternToken = { kind: 'literal'; ch: string } | { kind: 'one' } | { kind: 'many' };

/**
 * Splits a LIKE pattern into tokens. Works on code points, not UTF-16 units, so `_` stands for one character
 * of a name even outside the BMP. A backslash makes the next character literal (`\%`, `\_`, `\\`); a lone
 * backslash at the very end stands for itself, which is what the servers' wildcmp does with it.
 */
export function tokenizeLike(pattern: string): PatternToken[] {
  const chars = Array.from(pattern);
  const tokens: PatternToken[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) {
      tokens.push({ kind: 'literal', ch: chars[++i]! });
    } else if (c === '%') {
      // Consecutive % are one %; collapsing them keeps the matcher's work linear in the pattern.
      if (tokens.at(-1)?.kind !== 'many') tokens.push({ kind: 'many' });
    } else if (c === '_') {
      tokens.push({ kind: 'one' });
    } else {
      tokens.push({ kind: 'literal', ch: c });
    }
  }
  return tokens;
}

function sameChar(a: string, b: string, caseInsensitive: boolean): boolean {
  if (a === b) return true;
  return caseInsensitive && a.toLowerCase() === b.toLowerCase();
}

/**
 * LIKE with `%` (any run of characters, also none), `_` (exactly one character) and `\` escapes, matched
 * against the whole value.
 */
export function likeMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const tokens = tokenizeLike(pattern);
  const chars = Array.from(value);
  // Backtracking on the last % only is enough for LIKE: a later % can absorb anything an earlier one would
  // have had to, so the search stays O(pattern x value) without a table.
  let t = 0;
  let v = 0;
  let starToken = -1;
  let starValue = 0;
  while (v < chars.length) {
    const token = tokens[t];
    if (token !== undefined && token.kind === 'many') {
      starToken = t++;
      starValue = v;
    } else if (
      token !== undefined &&
      (token.kind === 'one' || sameChar(token.ch, chars[v]!, caseInsensitive))
    ) {
      t++;
      v++;
    } else if (starToken >= 0) {
      t = starToken + 1;
      v = ++starValue;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'many') t++;
  return t === tokens.length;
}
