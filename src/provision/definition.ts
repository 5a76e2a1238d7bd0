// A table's definition from the source (SHOW CREATE TABLE), made into the statement that creates it on the
// target. The text is untrusted: it runs only when it is one CREATE TABLE of the table asked for, and its name is
// replaced by the target's, written by the one quoting function.
import { bytes, qualifiedName } from '../apply/sql-text.js';
import { StatementParseError, tokenizeSql } from '../filter/index.js';

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
