// Traffic over many small schemas on one source, for multi-source and filter tests: the interesting part is
// not the values but which database and table each statement names, and from which default database it runs,
// because that is what replication filters look at.
//
// Every table has the same simple shape. Statements normally run with their own database as the default
// database and unqualified table names (the only form replicate-rewrite-db can rename), but some run from
// another of the source's databases with qualified names, which a STATEMENT or MIXED binlog filters by the
// default database and a ROW binlog by the table's own. Some INSERTs call UUID(), which MIXED logs as rows.
//
// Replicas that filter some statements end up without some rows, and later statements must not fail
// because of that: UPDATE and DELETE are always plain statements matched by ranges (a missing row is simply
// not matched), and the only statements MIXED logs as rows are INSERTs of new keys.
import type { Connection } from 'mysql2/promise';
import { Rng, quote } from './workload.js';

export interface TableSpec {
  name: string;
  /** No primary key: rows are found by their values. */
  keyless?: boolean;
  /** Created while the traffic runs rather than before it. */
  late?: boolean;
}

export interface SchemaSpec {
  db: string;
  tables: TableSpec[];
  /** Another source creates the same database: CREATE DATABASE IF NOT EXISTS. */
  shared?: boolean;
  /** DROP DATABASE when the traffic finishes. */
  dropAtEnd?: boolean;
}

export interface TrafficOptions {
  seed: number;
  /** Chance that a statement runs from another database with a qualified table name (default 0.15). */
  crossDbRate?: number;
  /** Chance that an INSERT calls UUID() (default 0.1). */
  unsafeRate?: number;
  /** Chance that a transaction ends in ROLLBACK (default 0.05). */
  rollbackRate?: number;
  /** Chance that a transaction is an ALTER TABLE instead (default 0.01; at most two per table). */
  alterRate?: number;
  /** Chance that a transaction is the next late CREATE TABLE instead (default 0.02). */
  lateRate?: number;
  /** Pause between transactions, so that several sources and replicas share two cores (default 2 ms). */
  pauseMs?: number;
}

interface TableState {
  db: string;
  spec: TableSpec;
  /** Roughly the highest id so far: UPDATE and DELETE ranges fall below it. */
  rows: number;
  alters: number;
}

const ident = (s: string): string => `\`${s.replace(/`/g, '``')}\``;

const TEXT = ['alpha', 'beta', 'Grüße', 'naïve', '€uro', '日本語', 'emoji 😀', "it's", 'back\\slash', 'x'];

function tableDdl(spec: TableSpec): string {
  const key = spec.keyless ? 'id INT NOT NULL' : 'id INT NOT NULL AUTO_INCREMENT PRIMARY KEY';
  return `CREATE TABLE ${ident(spec.name)} (${key}, k INT NOT NULL, v VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL, ` +
    `amount DECIMAL(12,2) NULL, at DATETIME(6) NULL, KEY (k)) ENGINE=InnoDB`;
}

export class SchemaTraffic {
  private readonly rng: Rng;
  private readonly options: Required<Omit<TrafficOptions, 'seed'>>;
  private readonly live: TableState[] = [];
  private readonly late: { db: string; spec: TableSpec }[] = [];
  private defaultDb = '';
  transactions = 0;

  constructor(private readonly conn: Connection, private readonly schemas: SchemaSpec[], options: TrafficOptions) {
    this.rng = new Rng(options.seed);
    this.options = {
      crossDbRate: 0.15, unsafeRate: 0.1, rollbackRate: 0.05, alterRate: 0.01, lateRate: 0.02, pauseMs: 2, ...options,
    };
  }

  /** CREATE DATABASE and the tables that are not late, each from its own database. */
  async create(): Promise<void> {
    for (const schema of this.schemas) {
      await this.conn.query(`CREATE DATABASE ${schema.shared ? 'IF NOT EXISTS ' : ''}${ident(schema.db)}`);
      for (const spec of schema.tables) {
        if (spec.late) this.late.push({ db: schema.db, spec });
        else await this.createTable(schema.db, spec);
      }
    }
  }

  /** Transactions until `done()` says so; returns how many ran. */
  async run(done: () => boolean): Promise<number> {
    const start = this.transactions;
    while (!done()) {
      await this.transaction();
      if (this.options.pauseMs > 0) await new Promise((r) => setTimeout(r, this.options.pauseMs));
    }
    return this.transactions - start;
  }

  /** Creates the late tables still missing, then drops the databases marked dropAtEnd. */
  async finish(): Promise<void> {
    while (this.late.length > 0) await this.createLateTable();
    for (const schema of this.schemas.filter((s) => s.dropAtEnd)) {
      await this.conn.query(`DROP DATABASE ${ident(schema.db)}`);
      if (this.defaultDb === schema.db) this.defaultDb = '';
      for (let i = this.live.length - 1; i >= 0; i--) if (this.live[i]!.db === schema.db) this.live.splice(i, 1);
    }
  }

  async transaction(): Promise<void> {
    this.transactions++;
    const { rng } = this;
    if (this.late.length > 0 && rng.chance(this.options.lateRate)) return this.createLateTable();
    const table = rng.pick(this.live);
    if (table.alters < 2 && rng.chance(this.options.alterRate)) {
      table.alters++;
      await this.use(table.db);
      await this.conn.query(`ALTER TABLE ${ident(table.spec.name)} ADD COLUMN x${table.alters} INT NOT NULL DEFAULT ${table.alters}`);
      return;
    }
    const others = this.schemas.filter((s) => s.db !== table.db && this.live.some((t) => t.db === s.db));
    const from = others.length > 0 && rng.chance(this.options.crossDbRate) ? rng.pick(others).db : table.db;
    await this.use(from);
    const name = from === table.db ? ident(table.spec.name) : `${ident(table.db)}.${ident(table.spec.name)}`;
    const statements = ['BEGIN'];
    for (let n = rng.int(1, 4); n > 0; n--) statements.push(this.statement(table, name));
    statements.push(rng.chance(this.options.rollbackRate) ? 'ROLLBACK' : 'COMMIT');
    await this.conn.query(statements.join(';\n'));
  }

  private statement(table: TableState, name: string): string {
    const { rng } = this;
    const r = rng.float();
    if (r < 0.55 || table.rows < 10) {
      const count = rng.int(1, 5);
      const unsafe = rng.chance(this.options.unsafeRate);
      const rows: string[] = [];
      for (let i = 0; i < count; i++) {
        const v = unsafe ? `CONCAT(${quote(rng.pick(TEXT))}, LEFT(UUID(), 8))` : quote(`${rng.pick(TEXT)} ${rng.int(0, 99999)}`);
        const amount = rng.chance(0.1) ? 'NULL' : `${rng.int(-99999, 99999)}.${String(rng.int(0, 99)).padStart(2, '0')}`;
        const at = rng.chance(0.1) ? 'NULL'
          : `'2024-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')} ` +
            `${String(rng.int(0, 23)).padStart(2, '0')}:${String(rng.int(0, 59)).padStart(2, '0')}:00.${String(rng.int(0, 999999)).padStart(6, '0')}'`;
        table.rows++;
        const id = table.spec.keyless ? `${table.rows}, ` : '';
        rows.push(`(${id}${rng.int(0, 200)}, ${v}, ${amount}, ${at})`);
      }
      return `INSERT INTO ${name} (${table.spec.keyless ? 'id, ' : ''}k, v, amount, at) VALUES ${rows.join(', ')}`;
    }
    const lo = rng.int(1, table.rows);
    const hi = lo + rng.int(0, 5);
    if (r < 0.85) {
      return `UPDATE ${name} SET v = CONCAT(LEFT(v, 40), ${quote(`+${rng.int(0, 999)}`)}), amount = amount + 1, ` +
        `k = k + 1 WHERE id BETWEEN ${lo} AND ${hi}`;
    }
    return `DELETE FROM ${name} WHERE id BETWEEN ${lo} AND ${hi}`;
  }

  private async use(db: string): Promise<void> {
    if (this.defaultDb === db) return;
    await this.conn.query(`USE ${ident(db)}`);
    this.defaultDb = db;
  }

  private async createTable(db: string, spec: TableSpec): Promise<void> {
    await this.use(db);
    await this.conn.query(tableDdl(spec));
    this.live.push({ db, spec, rows: 0, alters: 0 });
  }

  private async createLateTable(): Promise<void> {
    const { db, spec } = this.late.shift()!;
    await this.createTable(db, spec);
  }
}
