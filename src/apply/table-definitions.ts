// Definitions of target tables, read from the target itself. Row events are applied by column position into
// the target table as it is now; the SQL stage applies DDL in order, so after each DDL the cache is dropped and
// the next row event sees the shape it was written against (DESIGN.md, Applier).
import type { Connection } from 'mysql2/promise';

export interface TargetColumn {
  name: string;
  dataType: string;
  unsigned: boolean;
  /** Virtual or stored generated columns take no values. */
  generated: boolean;
}

export interface TargetTable {
  database: string;
  table: string;
  columns: TargetColumn[];
  /** Column positions of the primary key, or of the first unique key over NOT NULL columns; empty if none. */
  key: number[];
}

export class TableDefinitions {
  private cache = new Map<string, Promise<TargetTable | undefined>>();
  /** Definitions already read (undefined: the table does not exist), for lookups that must not query. */
  private read = new Map<string, TargetTable | undefined>();
  /** Counts invalidations: what was looked up under another epoch may be stale. */
  epoch = 0;

  constructor(private readonly connection: () => Connection) {}

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
    const conn = this.connection();
    const [columns] = await conn.query(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, EXTRA AS extra
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [database, table],
    ) as [{ name: string; dataType: string; columnType: string; extra: string }[], unknown];
    if (columns.length === 0) return undefined;
    const [keys] = await conn.query(
      `SELECT INDEX_NAME AS indexName, COLUMN_NAME AS name, NON_UNIQUE AS nonUnique, NULLABLE AS nullable
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
         ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`,
      [database, table],
    ) as [{ indexName: string; name: string; nonUnique: number | string; nullable: string }[], unknown];
    const positions = new Map(columns.map((c, i) => [c.name.toLowerCase(), i]));
    const indexes = new Map<string, { unique: boolean; notNull: boolean; columns: number[] }>();
    for (const k of keys) {
      const index = indexes.get(k.indexName) ?? { unique: Number(k.nonUnique) === 0, notNull: true, columns: [] };
      index.columns.push(positions.get(k.name.toLowerCase())!);
      if (k.nullable === 'YES') index.notNull = false;
      indexes.set(k.indexName, index);
    }
    const key = [...indexes.values()].find((i) => i.unique && i.notNull)?.columns ?? [];
    return {
      database, table, key,
      columns: columns.map((c) => ({
        name: c.name,
        dataType: c.dataType.toLowerCase(),
        unsigned: /\bunsigned\b/i.test(c.columnType),
        generated: /\b(VIRTUAL|STORED|PERSISTENT)\b/i.test(c.extra),
      })),
    };
  }
}
