// Definitions of target tables, read from the target itself. Row events are applied by column position into
// the target table as it is now; the SQL stage applies DDL in order, so after each DDL the cache is dropped and
// the next row event sees the shape it was written against (DESIGN.md, Applier).
import { sqlTypeComparisonKind, type ComparisonKind } from '../binlog/column-types.js';
import { qualifiedName, quoteString } from './sql-text.js';

/** Runs one statement the applier wrote and resolves with its rows. */
type Query = (sql: string) => Promise<unknown>;

// ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR: what SHOW COLUMNS says of a table that is not there.
const NO_SUCH_TABLE = new Set([1146, 1049]);

export interface TargetColumn {
  name: string;
  unsigned: boolean;
  /** How the column compares (SHOW COLUMNS' type); undefined for ENUM, SET, BIT, JSON, spatial and the like. */
  kind?: ComparisonKind | undefined;
  /** Virtual or stored generated columns take no values. */
  generated: boolean;
}

export interface TargetTable {
  database: string;
  table: string;
  columns: TargetColumn[];
  /** Column positions of the primary key, or of the first unique key over NOT NULL columns; empty if none. */
  key: number[];
  /** The table has triggers on the target (or one of the same name under another letter case): rows go one by one. */
  triggers: boolean;
  /**
   * The table's engine undoes its changes on ROLLBACK: only then may a set-based statement that fails be replayed
   * row by row, which would otherwise repeat what the set changed before it failed.
   */
  transactional: boolean;
}

export class TableDefinitions {
  private cache = new Map<string, Promise<TargetTable | undefined>>();
  /** Definitions already read (undefined: the table does not exist), for lookups that must not query. */
  private read = new Map<string, TargetTable | undefined>();
  /** Counts invalidations: what was looked up under another epoch may be stale. */
  epoch = 0;

  constructor(private readonly query: Query) {}

  get(database: string, table: string): Promise<TargetTable | undefined> {
    const name = `${database}\0${table}`;
    let found = this.cache.get(name);
    if (!found) {
      const epoch = this.epoch;
      found = this.load(database, table);
      found.then((definition) => {
        if (this.epoch === epoch) this.read.set(name, definition);
      }, () => this.cache.delete(name));
      this.cache.set(name, found);
    }
    return found;
  }

  /** A definition already read, without asking the target; `{ known: false }` when it has not been read. */
  known(database: string, table: string): { known: true; table: TargetTable | undefined } | { known: false } {
    const name = `${database}\0${table}`;
    return this.read.has(name) ? { known: true, table: this.read.get(name) } : { known: false };
  }

  invalidate(): void {
    this.cache.clear();
    this.read.clear();
    this.epoch++;
  }

  private async load(database: string, table: string): Promise<TargetTable | undefined> {
    // SHOW resolves the name exactly as the statements that follow will (letter case, character set), where
    // information_schema compares names under its own collation.
    const name = qualifiedName(database, table);
    let columns: { Field: string; Type: string; Extra: string }[];
    try {
      columns = await this.query(`SHOW COLUMNS FROM ${name}`) as typeof columns;
    } catch (err) {
      if (NO_SUCH_TABLE.has((err as { errno?: number }).errno ?? 0)) return undefined;
      throw err;
    }
    const keys = await this.query(`SHOW INDEX FROM ${name}`) as
      { Key_name: string; Column_name: string; Non_unique: number | string; Null: string }[];
    const positions = new Map(columns.map((c, i) => [c.Field.toLowerCase(), i]));
    const indexes = new Map<string, { unique: boolean; notNull: boolean; columns: number[] }>();
    for (const k of keys) {
      const position = positions.get(k.Column_name?.toLowerCase());
      const index = indexes.get(k.Key_name) ?? { unique: Number(k.Non_unique) === 0, notNull: true, columns: [] };
      // An index over an expression names no column: it cannot find a row by a row image.
      if (position === undefined) index.unique = false;
      else index.columns.push(position);
      if (k.Null === 'YES') index.notNull = false;
      indexes.set(k.Key_name, index);
    }
    // information_schema compares names without regard to letter case: a false positive only costs speed.
    const triggers = await this.query('SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA=' +
      `${quoteString(database, '_utf8mb4')} AND EVENT_OBJECT_TABLE=${quoteString(table, '_utf8mb4')}`) as { n: number | string }[];
    const engines = await this.query('SELECT e.TRANSACTIONS AS t FROM information_schema.TABLES s JOIN information_schema.ENGINES e ' +
      `ON e.ENGINE = s.ENGINE WHERE s.TABLE_SCHEMA=${quoteString(database, '_utf8mb4')} AND ` +
      `s.TABLE_NAME=${quoteString(table, '_utf8mb4')}`) as { t: string | Buffer | null }[];
    const primary = indexes.get('PRIMARY');
    const key = (primary?.unique ? primary : [...indexes.values()].find((i) => i.unique && i.notNull))?.columns ?? [];
    return {
      database, table, key, triggers: Number(triggers[0]?.n) > 0,
      // Matched without regard to letter case, like the triggers: any table of the name that is not transactional counts.
      transactional: engines.length > 0 && engines.every((e) => String(e.t) === 'YES'),
      columns: columns.map((c) => {
        // The type without its arguments: ENUM and SET values may spell anything.
        const type = c.Type.replace(/\(.*\)/s, '');
        return {
          name: c.Field,
          unsigned: /\bunsigned\b/i.test(type),
          kind: sqlTypeComparisonKind(type),
          generated: /\b(VIRTUAL|STORED|PERSISTENT)\b/i.test(c.Extra),
        };
      }),
    };
  }
}
