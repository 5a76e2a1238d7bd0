// A table's definition from the source (SHOW CREATE TABLE), made into the statement that creates it on the
// target. The text is untrusted: it runs only when it is one CREATE TABLE of the table asked for, and its name is
// replaced by the target's, written by the one quoting function.
import { bytes, qualifiedName } from '../apply/sql-text.js';
import { StatementParseError, tokenizeSql, type Token } from '../filter/index.js';

export class DefinitionError extends Error {}

/** The CREATE TABLE for `targetDb`.`table` as a byte string (see sql-text.ts), from the source's definition. */
export function targetDefinition(definition: string, table: string, targetDb: string): string {
  const refuse = (why: string): never => {
    throw new DefinitionError(`SHOW CREATE TABLE of '${table}' on the source gave a text that is not its definition ` +
      `(${why}); create the table on the target by hand and call provisionChannel again`);
  };
  let tokens;
  try {
    tokens = tokenizeSql(definition);
  } catch (err) {
    if (!(err instanceof StatementParseError)) throw err;
    return refuse(err.message);
  }
  const [create, kind, name, open] = tokens;
  if (create?.upper !== 'CREATE' || kind?.upper !== 'TABLE') refuse('it does not start with CREATE TABLE');
  if (name?.type !== 'ident' || name.text !== table) refuse('it names another table');
  if (open?.type !== 'punct' || open.text !== '(') refuse('no column list follows the name');
  if (tokens.some((t) => t.type === 'punct' && t.text === ';')) refuse('it holds more than one statement');
  return `CREATE TABLE ${qualifiedName(targetDb, table)} ${bytes(definition.slice(open!.pos))}`;
}

/** A secondary index left out of the table's CREATE TABLE, to be built once the rows are in (deferIndexes). */
export interface DeferredIndex {
  name: string;
  /** The index's element of the definition (`KEY \`k\` (\`a\`,\`b\`(10)) COMMENT '...'`), as written there. */
  element: string;
}

// What may follow the column list of an index that is built after the copy: MariaDB's index options, nothing else.
const INDEX_OPTIONS = new Set(['USING', 'BTREE', 'HASH', 'COMMENT', 'KEY_BLOCK_SIZE', 'IGNORED', 'NOT', 'VISIBLE', 'INVISIBLE']);

/**
 * The source's definition without its plain secondary indexes (KEY/INDEX: not primary, unique, fulltext or
 * spatial), and those indexes, which InnoDB builds faster by sorting once the rows are in than row by row while
 * they arrive. A table with a foreign key, or a CHECK or other constraint, keeps all its indexes (InnoDB would make
 * an index of its own for a foreign key that has lost its index); so does an index whose element holds anything but
 * a name, a column list and index options. A definition the tokenizer cannot read is returned as it is, for
 * targetDefinition to refuse.
 */
export function deferIndexes(definition: string): { definition: string; indexes: DeferredIndex[] } {
  let tokens: Token[];
  try {
    tokens = tokenizeSql(definition);
  } catch (err) {
    if (err instanceof StatementParseError) return { definition, indexes: [] };
    throw err;
  }
  const open = tokens.findIndex((t) => t.type === 'punct' && t.text === '(');
  // The elements of the column list: [first token, end token (the ',' or ')' after it)].
  const elements: [number, number][] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; open >= 0 && i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type !== 'punct') continue;
    if (t.text === '(') depth++;
    else if (t.text === ')' && --depth === 0) {
      elements.push([start, i]);
      break;
    } else if (t.text === ',' && depth === 1) {
      elements.push([start, i]);
      start = i + 1;
    }
  }
  const first = (e: [number, number]) => tokens[e[0]];
  const inElements = tokens.slice(open, elements.at(-1)?.[1] ?? open);
  // A CHECK anywhere (MariaDB writes a JSON column's as part of the column) keeps every key, as a foreign key does.
  if (tokens.some((t) => t.versioned) || inElements.some((t) => t.type === 'word' && t.upper === 'CHECK') ||
    elements.some((e) => first(e)?.upper === 'CONSTRAINT' || first(e)?.upper === 'FOREIGN')) return { definition, indexes: [] };
  // An AUTO_INCREMENT column must lead some key when the table is created (1075): a key it leads stays.
  const autoIncrement = new Set(elements.filter(([from, to]) => first([from, to])?.type === 'ident' &&
    tokens.slice(from, to).some((t) => t.type === 'word' && t.upper === 'AUTO_INCREMENT')).map(([from]) => tokens[from]!.text.toLowerCase()));
  const deferred = elements.filter(([from, to], n) => {
    const [kind, name, list, column] = tokens.slice(from, from + 4);
    if (!n || (kind?.upper !== 'KEY' && kind?.upper !== 'INDEX') || name?.type !== 'ident' || list?.text !== '(' || list.type !== 'punct') return false;
    if (column?.type === 'ident' && autoIncrement.has(column.text.toLowerCase())) return false;
    let i = from + 2;
    for (let d = 0; i < to; i++) {
      const t = tokens[i]!;
      if (t.type === 'punct' && t.text === '(') d++;
      if (t.type === 'punct' && t.text === ')' && --d === 0) break;
    }
    return tokens.slice(i + 1, to).every((t) => t.type === 'string' || (t.type === 'punct' && t.text === '=') ||
      (t.type === 'word' && (INDEX_OPTIONS.has(t.upper) || /^\d+$/.test(t.text))));
  });
  if (!deferred.length) return { definition, indexes: [] };
  const indexes = deferred.map(([from, to]) => ({ name: tokens[from + 1]!.text,
    element: definition.slice(tokens[from]!.pos, tokens[to]!.pos).trimEnd() }));
  let text = '';
  let at = 0;
  deferred.forEach(([from], n) => {
    // From the comma before the element (it is never the first) to the element's end.
    text += definition.slice(at, tokens[from - 1]!.pos);
    at = tokens[from]!.pos + indexes[n]!.element.length;
  });
  return { definition: text + definition.slice(at), indexes };
}

/** `ALTER TABLE` that builds the deferred indexes on the target table, in one pass over its rows. */
export function addIndexes(targetDb: string, table: string, indexes: DeferredIndex[]): string {
  return `ALTER TABLE ${qualifiedName(targetDb, table)} ${indexes.map((i) => `ADD ${bytes(i.element)}`).join(', ')}`;
}
