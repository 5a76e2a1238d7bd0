// A workload whose STATEMENT and MIXED binlogs need every piece of session context a replica must recreate:
// NOW() under several time zones, RAND() with and without seeds, LAST_INSERT_ID(), auto-increment under
// auto_increment_increment/offset, user variables of every type, temporary tables, INSERT ... ON DUPLICATE KEY
// UPDATE, multi-table UPDATE and DELETE, statements on a schema other than the default one, latin1 literals,
// collation_connection, sql_mode, lc_time_names, foreign_key_checks, autocommit=0, CONNECTION_ID(), LOAD DATA of
// client and server files (the larger ones in several blocks), a MyISAM statement that fails halfway (logged with
// its error) and statements that end in comments.
//
// Several source sessions stay open at once. One loop drives them in a seeded order, one whole action (its own
// transaction) at a time, so their statements interleave in the binlog under different pseudo_thread_ids while
// no session ever waits for another's locks. Every session creates its temporary table under the same name and
// sets the same user variables, so a replica that mixes sessions up produces other data. The SQL generated
// depends only on the seed.
//
// Schemas: `<prefix>_app` (the default database of most sessions; tests rewrite it with replicate-rewrite-db),
// `<prefix>_other` (reached with qualified names from `_app` sessions, and as the default database of others).
// `_app.audit` and `_other.scratch_*` exist for replicate-ignore-table / replicate-wild-ignore-table rules:
// nothing else reads them, so filtering them out changes no other table. No statement names `_app` explicitly:
// a rewritten replica would look for it under its old name, as the servers do.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import mysql, { type Connection } from 'mysql2/promise';
import { Rng } from './workload.js';
import type { TestServer } from './servers.js';

export interface StatementWorkloadOptions {
  /** Schema name prefix. */
  prefix: string;
  seed: number;
  /** Source sessions open at once (default 4). */
  sessions?: number;
  /** Actions run, over all sessions (default 300). */
  actions?: number;
}

export function statementSchemas(prefix: string): { app: string; other: string } {
  return { app: `${prefix}_app`, other: `${prefix}_other` };
}

/** What one action runs on its session. */
interface Action {
  statements: string[];
  /** The session has the temporary table `tmp` afterwards (true) or not (false); unchanged when absent. */
  tmp?: boolean;
  /** The file a LOAD DATA LOCAL INFILE of the action sends. */
  localFile?: Buffer;
  /** Files LOAD DATA INFILE statements of the action read from the source's data directory, by name. */
  serverFiles?: Map<string, Buffer>;
}

interface Session {
  conn: Connection;
  /** Number the rows it writes carry, to tell sessions apart in the tables. */
  n: number;
  charset: 'latin1' | 'utf8mb4';
  database: 'app' | 'other' | undefined;
  autocommit: boolean;
  /** sql_mode has NO_BACKSLASH_ESCAPES. */
  noBackslashEscapes: boolean;
  /** The temporary table `tmp` exists in this session. */
  tmp: boolean;
}

const TIME_ZONES = ["'+00:00'", "'+05:30'", "'-08:00'", "'SYSTEM'", "'+12:45'"];
// NO_BACKSLASH_ESCAPES changes how every later string literal of the session reads, a replica's included.
const SQL_MODES = ["''", "'NO_BACKSLASH_ESCAPES'", "'PIPES_AS_CONCAT,NO_ENGINE_SUBSTITUTION'",
  "'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION'", "'ANSI_QUOTES,STRICT_ALL_TABLES'"];
const LC_TIME_NAMES = ['en_US', 'de_DE', 'fr_FR', 'ja_JP', 'es_ES'];
const AUTO_INCREMENT: [number, number][] = [[1, 1], [3, 2], [5, 5], [2, 1]];
// Words in latin1 (any session may send them) and words only utf8mb4 sessions may send.
const LATIN1_WORDS = ['Ærøskøbing', 'Straße', 'naïve', 'façade', 'señor', '½°±', 'Ålborg', 'crème brûlée', 'plain',
  "O'Brien", 'back\\slash\\n'];
const UTF8_WORDS = ['東京', 'Łódź', 'emoji 🎉', 'Ελλάδα', 'Москва', ...LATIN1_WORDS];

/** Creates the schemas and tables on the source, under session settings the replica has to reproduce. */
export async function createStatementSchema(source: TestServer, prefix: string): Promise<void> {
  const { app, other } = statementSchemas(prefix);
  const conn = await source.connect();
  try {
    // The server collation decides `_other`'s default character set: a replica must carry collation_server.
    await conn.query(`SET SESSION collation_server = latin1_german1_ci; CREATE DATABASE \`${other}\`;
      SET SESSION collation_server = DEFAULT; CREATE DATABASE \`${app}\`; USE \`${app}\``);
    await conn.query(`
      CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, kind INT NOT NULL, qty INT NOT NULL DEFAULT 0,
        price DECIMAL(10,2), note VARCHAR(40) CHARACTER SET latin1, touched INT NOT NULL DEFAULT 0, seq INT,
        changed TIMESTAMP(6) NULL,
        KEY (kind)) ENGINE=InnoDB;
      CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY, sess INT, label VARCHAR(40) CHARACTER SET utf8mb4,
        created DATETIME(6), ts TIMESTAMP(6) NULL, day VARCHAR(80) CHARACTER SET utf8mb4, conn BIGINT, r DOUBLE,
        li BIGINT, amount DECIMAL(20,6), flag INT) ENGINE=InnoDB;
      CREATE TABLE kv (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(16) NOT NULL UNIQUE, v INT NOT NULL,
        hits INT NOT NULL DEFAULT 1, at TIMESTAMP(6) NULL) ENGINE=InnoDB;
      CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, item_id INT, note VARCHAR(20),
        FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE) ENGINE=InnoDB;
      CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40), n INT NOT NULL DEFAULT 0) ENGINE=InnoDB;
      CREATE TABLE hits (id INT PRIMARY KEY, sess INT) ENGINE=MyISAM;
      CREATE TABLE bulk (id INT AUTO_INCREMENT PRIMARY KEY, sess INT, word VARCHAR(40) CHARACTER SET latin1, n INT,
        at DATETIME) ENGINE=InnoDB;
      CREATE TABLE \`${other}\`.log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(60), ref BIGINT, at DATETIME,
        sess INT) ENGINE=InnoDB;
      CREATE TABLE \`${other}\`.totals (kind INT PRIMARY KEY, total BIGINT NOT NULL DEFAULT 0, note VARCHAR(20)) ENGINE=InnoDB;
      CREATE TABLE \`${other}\`.scratch_a (id INT AUTO_INCREMENT PRIMARY KEY, v DOUBLE) ENGINE=InnoDB;
      INSERT INTO \`${other}\`.totals (kind) VALUES (0), (1), (2), (3), (4), (5), (6), (7);
      INSERT INTO kv (k, v) VALUES ('a', 1), ('b', 2), ('c', 3);
      INSERT INTO hits VALUES (1, 0), (2, 0), (3, 0);
      INSERT INTO items (kind, qty, price, note) VALUES (1, 5, 9.99, 'first'), (2, 7, 0.5, 'second'), (3, 1, 100, 'third')`);
  } finally {
    await conn.end();
  }
}

async function openSession(source: TestServer, rng: Rng, n: number, app: string, other: string): Promise<Session> {
  const charset = rng.chance(0.4) ? 'latin1' : 'utf8mb4';
  const database = rng.pick(['app', 'app', 'app', 'other', undefined] as const);
  const conn = await mysql.createConnection(source.connectionOptions({
    charset: charset === 'latin1' ? 'LATIN1_SWEDISH_CI' : 'UTF8MB4_GENERAL_CI',
    ...(database ? { database: database === 'app' ? app : other } : {}),
  }));
  const [increment, offset] = rng.pick(AUTO_INCREMENT);
  const autocommit = rng.chance(0.8);
  const sqlMode = rng.pick(SQL_MODES);
  const set = [`time_zone = ${rng.pick(TIME_ZONES)}`, `sql_mode = ${sqlMode}`,
    `lc_time_names = ${rng.pick(LC_TIME_NAMES)}`, `auto_increment_increment = ${increment}`,
    `auto_increment_offset = ${offset}`, `autocommit = ${autocommit ? 1 : 0}`,
    `foreign_key_checks = ${rng.chance(0.8) ? 1 : 0}`];
  if (charset === 'latin1') set.push(`collation_connection = ${rng.pick(['latin1_swedish_ci', 'latin1_german2_ci', 'latin1_bin'])}`);
  await conn.query(`SET SESSION ${set.join(', ')}`);
  return { conn, n, charset, database, autocommit, noBackslashEscapes: sqlMode.includes('NO_BACKSLASH_ESCAPES'), tmp: false };
}

// Quotes doubled, backslashes left alone: valid under any sql_mode, and a backslash reads as an escape or as
// itself as the session's NO_BACKSLASH_ESCAPES says, which the replicas must follow.
const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** One action's statements for session `s`: a whole transaction (or several autocommitted statements). */
function action(rng: Rng, s: Session, other: string, dataDir: string): Action {
  const word = () => quote(rng.pick(s.charset === 'latin1' ? LATIN1_WORDS : UTF8_WORDS));
  const latin1Word = () => quote(rng.pick(LATIN1_WORDS));
  const kind = () => rng.int(0, 7);
  // `_other` tables, qualified unless `_other` is the default database.
  const o = (table: string) => (s.database === 'other' ? table : `\`${other}\`.${table}`);

  if (s.database !== 'app') {
    // Sessions outside `_app` work on `_other` only.
    const pick = rng.int(0, 5);
    if (pick === 0) {
      return { statements: [`INSERT INTO ${o('log')} (msg, ref, at, sess) VALUES (${word()}, CONNECTION_ID(), NOW(), ${s.n})`] };
    }
    if (pick === 1) {
      return { statements: [`UPDATE ${o('totals')} SET total = total + FLOOR(RAND() * 100), note = ${latin1Word()} WHERE kind = ${kind()}`] };
    }
    if (pick === 2) return { statements: [`INSERT INTO ${o('scratch_a')} (v) VALUES (RAND()), (RAND(${rng.int(0, 1000)}))`] };
    if (pick === 3 && !s.tmp) {
      return {
        statements: [`CREATE TEMPORARY TABLE ${o('tmp')} (id INT PRIMARY KEY, v INT)`,
          `INSERT INTO ${o('tmp')} VALUES (1, ${s.n}), (2, CONNECTION_ID() % 1000), (3, FLOOR(RAND() * 1000))`],
        tmp: true,
      };
    }
    if (pick === 3 || pick === 4) {
      if (!s.tmp) return { statements: [`SET @v = ${rng.int(-5, 5)}`, `UPDATE ${o('totals')} SET total = total * 2 + @v WHERE kind = ${kind()}`] };
      return {
        statements: [`UPDATE ${o('totals')} t JOIN ${o('tmp')} x ON x.id = t.kind SET t.total = t.total + x.v`,
          `INSERT INTO ${o('log')} (msg, ref, sess) SELECT 'from tmp', v, ${s.n} FROM ${o('tmp')}`],
      };
    }
    return { statements: [`INSERT INTO ${o('log')} (msg, ref, at, sess) VALUES ('li', LAST_INSERT_ID(), UTC_TIMESTAMP(), ${s.n})`] };
  }

  // LOAD DATA lines: a latin1 file whatever the session's character set, as CHARACTER SET latin1 says.
  const loadLines = (count: number) => Buffer.from(Array.from({ length: count },
    () => `${s.n},${rng.pick(LATIN1_WORDS)},${rng.int(-1000, 1000)}\n`).join(''), 'latin1');

  // LOAD DATA does not replicate under NO_BACKSLASH_ESCAPES: the source logs ESCAPED BY '\\', which the replica
  // then reads as two characters and refuses (a native replica stops on it too).
  const pick = rng.int(0, 16);
  switch (s.noBackslashEscapes && (pick === 13 || pick === 14) ? 4 : pick) {
    case 0:
      return {
        statements: [`INSERT INTO events (sess, label, created, ts, day, conn) VALUES (${s.n}, ${word()}, NOW(6), ` +
          `CURRENT_TIMESTAMP(6), DATE_FORMAT(NOW(), '%W %d %M %Y %H:%i'), CONNECTION_ID())`],
      };
    case 1:
      return {
        statements: [`INSERT INTO events (sess, r, label) VALUES (${s.n}, RAND(), 'rand'), (${s.n}, RAND(), 'rand2')`,
          `INSERT INTO events (sess, r, label) VALUES (${s.n}, RAND(${rng.int(0, 1 << 30)}), 'seeded')`,
          `UPDATE items SET price = ROUND(RAND() * 1000, 2), changed = NOW(6) WHERE id % 5 = ${rng.int(0, 4)}`],
      };
    case 2: {
      const statements = [`SET @i = ${rng.int(-1000, 1000)}, @r = ${rng.int(0, 1e6)}.${rng.int(0, 999)}e-2, @d = ${rng.int(-99999, 99999)}.${rng.int(0, 999)}, ` +
        `@s = ${word()}, @u = 18446744073709551615, @n = NULL`,
      `INSERT INTO events (sess, label, r, li, amount, flag) VALUES (${s.n}, @s, @r, @i, @d, @n)`,
      `INSERT INTO events (sess, li, label) VALUES (${s.n}, @u, CONCAT(@s, IFNULL(@unset_${rng.int(0, 3)}, '-')))`,
      `UPDATE items SET qty = qty + @i WHERE kind = ${kind()}`];
      if (rng.chance(0.5)) statements.push('SET @cnt = 0', `UPDATE items SET seq = (@cnt := @cnt + 1) WHERE kind = ${kind()} ORDER BY id`);
      return { statements };
    }
    case 3:
      return {
        statements: [`INSERT INTO items (kind, qty, price, note) VALUES (${kind()}, ${rng.int(0, 50)}, 1.25, ${latin1Word()})`,
          `INSERT INTO ${o('log')} (msg, ref, at, sess) VALUES ('new item', LAST_INSERT_ID(), NOW(), ${s.n})`,
          `UPDATE kv SET v = LAST_INSERT_ID(v + 1) WHERE k = '${rng.pick(['a', 'b', 'c'])}'`,
          `INSERT INTO events (sess, li, label) VALUES (${s.n}, LAST_INSERT_ID(), 'li')`,
          `INSERT INTO child (item_id, note) VALUES (LAST_INSERT_ID(), 'parent?')`],
      };
    case 4: {
      const rows = Array.from({ length: rng.int(1, 5) }, () => `(${kind()}, ${rng.int(0, 9)}, NULL, ${latin1Word()})`);
      // Statements end in comments as clients write them: the applier must not let one swallow what follows.
      const comment = rng.pick(['', ` -- from session ${s.n}`, ` # session ${s.n}`, ' /* trailing */']);
      return { statements: [`INSERT INTO items (kind, qty, price, note) VALUES ${rows.join(', ')}${comment}`] };
    }
    case 5: {
      const keys = Array.from({ length: rng.int(1, 3) }, () => `('${rng.pick(['a', 'b', 'c', 'd', 'e', 'f'])}${rng.int(0, 9)}', ${rng.int(1, 9)}, NOW())`);
      return {
        statements: [`INSERT INTO kv (k, v, at) VALUES ${keys.join(', ')} ON DUPLICATE KEY UPDATE hits = hits + 1, v = v + VALUES(v), id = LAST_INSERT_ID(id)`,
          `INSERT INTO events (sess, li, label) VALUES (${s.n}, LAST_INSERT_ID(), 'odku')`],
      };
    }
    case 6:
      return {
        statements: [`UPDATE items i JOIN ${o('totals')} t ON t.kind = i.kind SET t.total = t.total + i.qty, ` +
          `i.touched = i.touched + 1 WHERE i.id % 4 = ${rng.int(0, 3)}`],
      };
    case 7:
      return {
        statements: [`DELETE i, c FROM items i LEFT JOIN child c ON c.item_id = i.id WHERE i.id % 13 = ${rng.int(0, 12)} AND i.kind = ${kind()}`],
      };
    case 8:
      if (!s.tmp) {
        return {
          statements: ['CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, v INT, s VARCHAR(40) CHARACTER SET utf8mb4)',
            `INSERT INTO tmp VALUES (1, ${s.n}, ${word()}), (2, CONNECTION_ID() % 1000, 'conn'), (3, FLOOR(RAND() * 1000), 'rand')`],
          tmp: true,
        };
      }
      return {
        statements: ['UPDATE tmp SET v = v + 1',
          `INSERT INTO events (sess, label, li) SELECT ${s.n}, s, v FROM tmp`,
          'UPDATE items JOIN tmp ON items.kind = tmp.id SET items.qty = tmp.v'],
      };
    case 9:
      if (s.tmp && rng.chance(0.5)) return { statements: ['DROP TEMPORARY TABLE tmp'], tmp: false };
      return {
        statements: [`INSERT INTO events (sess, label, flag) VALUES (${s.n}, ${word()}, 'ä' = 'ae'), ` +
          `(${s.n}, 'Strasse', 'Straße' = 'Strasse'), (${s.n}, ${latin1Word()}, 'a' || 'b')`,
        `UPDATE items SET note = ${latin1Word()} WHERE kind = ${kind()}`],
      };
    case 10:
      // Too long for the column: truncated under a lenient sql_mode, refused (and not logged) under a strict one.
      return { statements: [`INSERT IGNORE INTO events (sess, label, amount) VALUES (${s.n}, REPEAT('x', 50), 1/0)`] };
    case 11:
      return {
        statements: [`INSERT INTO audit (what, n) VALUES (${word()}, ${s.n})`,
          `UPDATE items i JOIN audit a ON a.id = i.id SET a.n = a.n + 1, i.touched = i.touched + 10 WHERE i.kind = ${kind()}`],
      };
    case 12:
      return { statements: [`INSERT INTO ${o('scratch_a')} (v) VALUES (RAND())`, `INSERT INTO ${o('log')} (msg, at, sess) VALUES (${latin1Word()}, NOW() - INTERVAL 1 DAY, ${s.n})`] };
    case 13: {
      const lines = rng.chance(0.2) ? 3000 : rng.int(1, 20);
      return {
        statements: [`LOAD DATA LOCAL INFILE 'bulk.csv' INTO TABLE bulk CHARACTER SET latin1 FIELDS TERMINATED BY ',' ` +
          '(sess, word, @n) SET n = @n * 2, at = NOW()',
        // Into the table replicate-ignore-table keeps out: the whole LOAD DATA must be filtered, file and all.
        ...(rng.chance(0.3) ? ["LOAD DATA LOCAL INFILE 'bulk.csv' INTO TABLE audit CHARACTER SET latin1 FIELDS TERMINATED BY ',' (@s, what, n)"] : [])],
        localFile: loadLines(lines),
      };
    }
    case 14: {
      const kv = `kv-${s.n}-${rng.int(0, 1 << 30)}.csv`;
      const bulk = `bulk-${s.n}-${rng.int(0, 1 << 30)}.csv`;
      const keys = Array.from({ length: rng.int(1, 4) }, () => `${rng.pick(['a', 'b', 'c', 'd'])}${rng.int(0, 9)},${rng.int(0, 99)}\n`);
      return {
        statements: [`LOAD DATA INFILE ${quote(join(dataDir, kv))} ${rng.pick(['REPLACE', 'IGNORE'])} INTO TABLE kv ` +
          "FIELDS TERMINATED BY ',' (k, v) SET at = NOW(), hits = CONNECTION_ID() % 7",
        `LOAD DATA INFILE ${quote(join(dataDir, bulk))} INTO TABLE bulk CHARACTER SET latin1 FIELDS TERMINATED BY ',' (sess, word, n)`],
        // A source sends a file it reads itself in blocks of read_buffer_size (128 KiB): Begin_load_query, then
        // Append_block events.
        serverFiles: new Map([[kv, Buffer.from(keys.join(''))], [bulk, loadLines(rng.chance(0.3) ? 12_000 : rng.int(1, 20))]]),
      };
    }
    case 15: {
      // A non-transactional statement that fails halfway: logged with its error, which the replica must meet too.
      return { statements: [`INSERT INTO hits VALUES (${rng.int(10, 1e9)}, ${s.n}), (${rng.int(1, 3)}, ${s.n}), (${rng.int(10, 1e9)}, ${s.n})`] };
    }
    default:
      return {
        statements: [`INSERT INTO child (item_id, note) VALUES (${rng.int(1, 40)}, 'maybe orphan')`,
          `UPDATE ${o('totals')} SET total = total - 1 WHERE kind = ${kind()}`],
      };
  }
}

/** Runs the interleaved sessions on `source`, whose schema createStatementSchema made; they all end at the end. */
export async function runStatementWorkload(source: TestServer, options: StatementWorkloadOptions): Promise<void> {
  const { app, other } = statementSchemas(options.prefix);
  const rng = new Rng(options.seed);
  let opened = 0;
  const open = () => openSession(source, rng, ++opened, app, other);
  const sessions: Session[] = [];
  for (let i = 0; i < (options.sessions ?? 4); i++) sessions.push(await open());
  try {
    for (let done = 0; done < (options.actions ?? 300); done++) {
      const at = rng.int(0, sessions.length - 1);
      const s = sessions[at]!;
      if (rng.chance(0.03)) {
        // A session that ends with its temporary table still there: the source logs the DROP for it.
        await s.conn.end();
        sessions[at] = await open();
        continue;
      }
      const { statements, tmp, localFile, serverFiles } = action(rng, s, other, source.dataDir);
      for (const [name, data] of serverFiles ?? []) await writeFile(join(source.dataDir, name), data);
      const transaction = !s.autocommit || rng.chance(0.3);
      const rollback = transaction && tmp === undefined && rng.chance(0.1);
      const text = transaction
        ? [...(s.autocommit ? ['BEGIN'] : []), ...statements, rollback ? 'ROLLBACK' : 'COMMIT']
        : statements;
      for (const sql of text) {
        try {
          await s.conn.query({ sql, infileStreamFactory: () => Readable.from([localFile ?? Buffer.alloc(0)]) });
        } catch (err) {
          // Strict sessions refuse some statements (the source logs nothing for them); anything else is a bug here.
          if (!/incorrect|data too long|division by 0|cannot add or update a child row|out of range|duplicate entry/i.test((err as Error).message)) {
            throw new Error(`${(err as Error).message} in: ${sql}`);
          }
        }
      }
      if (tmp !== undefined) s.tmp = tmp;
    }
  } finally {
    await Promise.all(sessions.map((s) => s.conn.end()));
  }
}
