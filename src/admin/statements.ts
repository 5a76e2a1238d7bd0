// The replication statements of the admin endpoint, in MariaDB's and MySQL's vocabularies: statement text in,
// typed command out. Pure. Built on the filters' SQL tokenizer, so quoting and comments read as the servers read
// them. A statement that is none of these gives undefined: the endpoint forwards it to the target.
import type { ReplicaThread, ReplicationSourceOptions } from '../channel.js';
import { ReplicationError } from '../errors.js';
import { lowerConnectionName } from '../info/filename-charset.js';
import { stringLiteralValue, TokenCursor, tokenizeSql, type ReplicationFilters, type Token } from '../filter/index.js';
import type { UntilCondition } from '../sql-stage.js';

/**
 * `channel` undefined: the session's @@default_master_connection, as MariaDB takes a statement that names no
 * connection.
 */
export type AdminCommand =
  | { kind: 'changeSource'; channel?: string; options: ReplicationSourceOptions }
  | { kind: 'start'; channel?: string; threads?: ReplicaThread[]; until?: UntilCondition }
  | { kind: 'stop'; channel?: string; threads?: ReplicaThread[] }
  | { kind: 'startAll' }
  | { kind: 'stopAll' }
  /** 'all': SHOW ALL SLAVES STATUS; 'slave': SHOW SLAVE STATUS; 'replica': SHOW REPLICA STATUS, MySQL's columns. */
  | { kind: 'showStatus'; form: 'all' | 'slave' | 'replica'; channel?: string }
  | { kind: 'reset'; channel?: string; all: boolean }
  | { kind: 'flushRelayLogs'; channel?: string }
  | { kind: 'showRelayLogEvents'; channel?: string; file?: string; pos?: number; limit?: number; offset?: number }
  /** `column`: the select item as written (the servers' column name), or its alias. */
  | { kind: 'sourcePosWait'; column: string; file: string; pos: number; timeout?: number; channel?: string }
  | { kind: 'sourceGtidWait'; column: string; gtidPos: string; timeout?: number }
  | { kind: 'setDefaultConnection'; channel: string }
  | { kind: 'selectDefaultConnection'; column: string }
  | { kind: 'changeFilter'; channel?: string; filters: Partial<ReplicationFilters> }
  | { kind: 'setSkipCounter'; channel?: string; count: number };

type Kind = 'string' | 'number' | 'boolean' | 'ids' | 'gtidMode';

/** CHANGE MASTER's options by the servers' names (MariaDB's MASTER_*, MySQL's SOURCE_*), onto the engine's. */
const SOURCE_OPTION_NAMES: Record<string, [keyof ReplicationSourceOptions, Kind]> = {};
for (const [suffix, key, kind] of [
  ['HOST', 'sourceHost', 'string'], ['PORT', 'sourcePort', 'number'], ['USER', 'sourceUser', 'string'],
  ['PASSWORD', 'sourcePassword', 'string'], ['LOG_FILE', 'sourceLogFile', 'string'], ['LOG_POS', 'sourceLogPos', 'number'],
  ['CONNECT_RETRY', 'sourceConnectRetry', 'number'], ['RETRY_COUNT', 'sourceRetryCount', 'number'],
  ['HEARTBEAT_PERIOD', 'sourceHeartbeatPeriod', 'number'], ['DELAY', 'sourceDelay', 'number'], ['SSL', 'sourceSsl', 'boolean'],
  ['SSL_CA', 'sourceSslCa', 'string'], ['SSL_CAPATH', 'sourceSslCapath', 'string'], ['SSL_CERT', 'sourceSslCert', 'string'],
  ['SSL_KEY', 'sourceSslKey', 'string'], ['SSL_CIPHER', 'sourceSslCipher', 'string'], ['SSL_CRL', 'sourceSslCrl', 'string'],
  ['SSL_CRLPATH', 'sourceSslCrlpath', 'string'], ['SSL_VERIFY_SERVER_CERT', 'sourceSslVerifyServerCert', 'boolean'],
  ['TLS_VERSION', 'sourceTlsVersion', 'string'], ['PUBLIC_KEY_PATH', 'sourcePublicKeyPath', 'string'],
  ['USE_GTID', 'sourceUseGtid', 'gtidMode'], ['AUTO_POSITION', 'sourceAutoPosition', 'boolean'],
] as [string, keyof ReplicationSourceOptions, Kind][]) {
  SOURCE_OPTION_NAMES[`MASTER_${suffix}`] = [key, kind];
  SOURCE_OPTION_NAMES[`SOURCE_${suffix}`] = [key, kind];
}
Object.assign(SOURCE_OPTION_NAMES, {
  GET_MASTER_PUBLIC_KEY: ['getSourcePublicKey', 'boolean'], GET_SOURCE_PUBLIC_KEY: ['getSourcePublicKey', 'boolean'],
  IGNORE_SERVER_IDS: ['ignoreServerIds', 'ids'], DO_DOMAIN_IDS: ['doDomainIds', 'ids'], IGNORE_DOMAIN_IDS: ['ignoreDomainIds', 'ids'],
});

/** The replicate_* system variables and CHANGE REPLICATION FILTER's names, onto the engine's filter keys. */
const FILTER_NAMES: Record<string, keyof ReplicationFilters> = {
  REPLICATE_DO_DB: 'replicateDoDb', REPLICATE_IGNORE_DB: 'replicateIgnoreDb', REPLICATE_DO_TABLE: 'replicateDoTable',
  REPLICATE_IGNORE_TABLE: 'replicateIgnoreTable', REPLICATE_WILD_DO_TABLE: 'replicateWildDoTable',
  REPLICATE_WILD_IGNORE_TABLE: 'replicateWildIgnoreTable', REPLICATE_REWRITE_DB: 'replicateRewriteDb',
};

const SKIP_COUNTERS = new Set(['SQL_SLAVE_SKIP_COUNTER', 'SQL_REPLICA_SKIP_COUNTER']);
function syntaxError(sql: string, at: Token | undefined, why?: string): ReplicationError {
  const near = at === undefined ? '' : sql.slice(at.pos, at.pos + 80);
  return new ReplicationError('ER_PARSE_ERROR', `You have an error in your SQL syntax near '${near}' at line 1` +
    (why ? `: ${why}` : ''));
}

class Statement extends TokenCursor {
  constructor(private readonly sql: string, tokens: Token[]) {
    super(tokens);
  }

  fail(why?: string): never {
    throw syntaxError(this.sql, this.peek(), why);
  }

  expect(...words: string[]): void {
    if (!this.accept(...words)) this.fail(`expected ${words.join(' ')}`);
  }

  expectPunct(ch: string): void {
    if (!this.acceptPunct(ch)) this.fail(`expected '${ch}'`);
  }

  /** The end: nothing but a trailing `;`. */
  end(): void {
    this.acceptPunct(';');
    if (this.peek() !== undefined) this.fail();
  }

  string(what: string): string {
    const t = this.peek();
    if (t?.type !== 'string') this.fail(`expected ${what} as a quoted string`);
    this.i++;
    return stringLiteralValue(t.text);
  }

  /** A number: digits with an optional sign and fraction (the tokenizer splits `-1.5` into `-`, `1`, `.`, `5`). */
  number(what: string): number {
    let text = '';
    if (this.acceptPunct('-')) text = '-';
    else this.acceptPunct('+');
    const t = this.peek();
    if (t?.type !== 'word' || !/^\d+$/.test(t.text)) this.fail(`expected ${what} as a number`);
    this.i++;
    text += t.text;
    if (this.isPunct('.') && this.peek(1)?.type === 'word' && /^\d+$/.test(this.peek(1)!.text)) {
      text += `.${this.peek(1)!.text}`;
      this.i += 2;
    }
    return Number(text);
  }

  integer(what: string): number {
    const at = this.peek();
    const value = this.number(what);
    if (!Number.isSafeInteger(value) || value < 0) throw syntaxError(this.sql, at, `${what} must be an integer >= 0`);
    return value;
  }

  /** A connection name: a quoted string or a (quoted) identifier, as MariaDB takes one. */
  name(): string {
    const t = this.peek();
    if (t?.type === 'string') return this.string('a connection name');
    if (t?.type === 'ident' || t?.type === 'word') {
      this.i++;
      return t.text;
    }
    return this.fail('expected a connection name');
  }

  /** A connection name right after the keyword, MariaDB's form, when one is there. */
  optionalName(): string | undefined {
    const t = this.peek();
    return t?.type === 'string' || t?.type === 'ident' ? this.name() : undefined;
  }

  /** FOR CHANNEL 'c', MySQL's form (MariaDB 10.7 takes it too); a channel named both ways must agree. */
  forChannel(named: string | undefined): string | undefined {
    if (!this.accept('FOR', 'CHANNEL')) return named;
    const at = this.peek();
    const channel = this.name();
    if (named !== undefined && lowerConnectionName(named) !== lowerConnectionName(channel)) {
      throw syntaxError(this.sql, at, `the statement names two connections, '${named}' and '${channel}'`);
    }
    return channel;
  }

  /** The text from token `from` to the current token. */
  textFrom(from: Token): string {
    const last = this.tokens[this.i - 1]!;
    return this.sql.slice(from.pos, last.pos + last.text.length + (last.type === 'ident' ? 2 : 0));
  }

  // ------------------------------------------------------------------------------------------ statements

  parse(): AdminCommand | undefined {
    if (this.accept('CHANGE', 'MASTER')) return this.changeSource(this.optionalName());
    if (this.accept('CHANGE', 'REPLICATION', 'SOURCE')) return this.changeSource(undefined);
    if (this.accept('CHANGE', 'REPLICATION', 'FILTER')) return this.changeFilter();
    if (this.isWord('KILL')) {
      // A client's Ctrl-C sends KILL QUERY with the endpoint's connection id, which names some other thread of the target.
      throw new ReplicationError('ER_KILL_DENIED_ERROR', 'KILL on the admin endpoint would name a thread of the target ' +
        "that is not this session's: run KILL on the target itself");
    }
    // START TRANSACTION and the like are the target's.
    if ((this.isWord('START') || this.isWord('STOP')) && ['SLAVE', 'REPLICA', 'ALL'].includes(this.peek(1)?.upper ?? '')) {
      return this.startStop();
    }
    if (this.accept('SHOW')) return this.show();
    if (this.accept('RESET', 'SLAVE') || this.accept('RESET', 'REPLICA')) return this.reset();
    if (this.accept('FLUSH', 'RELAY', 'LOGS')) {
      const channel = this.forChannel(this.optionalName());
      this.end();
      return { kind: 'flushRelayLogs', ...(channel === undefined ? {} : { channel }) };
    }
    if (this.accept('SELECT')) return this.select();
    if (this.accept('SET')) return this.set();
    return undefined;
  }

  private changeSource(named: string | undefined): AdminCommand {
    this.expect('TO');
    const options: Record<string, unknown> = {};
    do {
      const at = this.peek();
      const option = at?.type === 'word' ? SOURCE_OPTION_NAMES[at.upper] : undefined;
      if (!option) {
        this.fail(`tributary's CHANGE MASTER options are ${[...new Set(Object.keys(SOURCE_OPTION_NAMES)
          .filter((n) => !n.startsWith('SOURCE_')))].join(', ')} (or their SOURCE_ names)`);
      }
      this.i++;
      this.expectPunct('=');
      const [key, kind] = option;
      if (Object.hasOwn(options, key)) throw syntaxError(this.sql, at, `${at!.text} is given twice`);
      options[key] = this.optionValue(at!.upper, kind);
    } while (this.acceptPunct(','));
    const channel = this.forChannel(named);
    this.end();
    return { kind: 'changeSource', ...(channel === undefined ? {} : { channel }), options: options as ReplicationSourceOptions };
  }

  private optionValue(name: string, kind: Kind): unknown {
    switch (kind) {
      case 'string':
        return this.string(name);
      case 'number':
        return this.number(name);
      case 'boolean': {
        const at = this.peek();
        const value = this.number(name);
        if (value !== 0 && value !== 1) throw syntaxError(this.sql, at, `${name} takes 0 or 1`);
        return value === 1;
      }
      case 'gtidMode': {
        const t = this.peek();
        const mode = t?.type === 'word' ? t.upper.toLowerCase() : undefined;
        if (mode !== 'no' && mode !== 'slave_pos' && mode !== 'current_pos') this.fail(`${name} takes no, slave_pos or current_pos`);
        this.i++;
        return mode;
      }
      case 'ids': {
        this.expectPunct('(');
        const ids: number[] = [];
        if (!this.acceptPunct(')')) {
          do ids.push(this.integer(name)); while (this.acceptPunct(','));
          this.expectPunct(')');
        }
        return ids;
      }
    }
  }

  private startStop(): AdminCommand {
    const start = this.peek()!.upper === 'START';
    this.i++;
    if (this.accept('ALL', 'SLAVES') || this.accept('ALL', 'REPLICAS')) {
      this.end();
      return { kind: start ? 'startAll' : 'stopAll' };
    }
    if (!this.accept('SLAVE') && !this.accept('REPLICA')) this.fail('expected SLAVE, REPLICA or ALL SLAVES');
    let channel = this.optionalName();
    const threads: ReplicaThread[] = [];
    while (this.isWord('IO_THREAD') || this.isWord('SQL_THREAD')) {
      const thread = this.peek()!.upper as ReplicaThread;
      this.i++;
      if (!threads.includes(thread)) threads.push(thread);
      if (!this.acceptPunct(',')) break;
    }
    let until: UntilCondition | undefined;
    if (start && this.accept('UNTIL')) until = this.until();
    channel = this.forChannel(channel);
    this.end();
    return {
      kind: start ? 'start' : 'stop', ...(channel === undefined ? {} : { channel }),
      ...(threads.length > 0 ? { threads } : {}), ...(until ? { until } : {}),
    };
  }

  private until(): UntilCondition {
    const values: Record<string, string | number> = {};
    do {
      const t = this.peek();
      const key = t?.type === 'word' ? t.upper : '';
      this.i++;
      this.expectPunct('=');
      if (/^(MASTER|SOURCE)_LOG_FILE$/.test(key)) values.sourceLogFile = this.string(key);
      else if (/^(MASTER|SOURCE)_LOG_POS$/.test(key)) values.sourceLogPos = this.integer(key);
      else if (key === 'RELAY_LOG_FILE') values.relayLogFile = this.string(key);
      else if (key === 'RELAY_LOG_POS') values.relayLogPos = this.integer(key);
      else if (key === 'MASTER_GTID_POS') values.sourceGtidPos = this.string(key);
      else if (key === 'SQL_BEFORE_GTIDS') values.sqlBeforeGtids = this.string(key);
      else if (key === 'SQL_AFTER_GTIDS') values.sqlAfterGtids = this.string(key);
      else throw syntaxError(this.sql, t, 'UNTIL takes MASTER_LOG_FILE and MASTER_LOG_POS, RELAY_LOG_FILE and ' +
        'RELAY_LOG_POS, MASTER_GTID_POS, SQL_BEFORE_GTIDS or SQL_AFTER_GTIDS');
    } while (this.acceptPunct(','));
    // The engine checks the combination, with the servers' 1277.
    return values as unknown as UntilCondition;
  }

  private show(): AdminCommand | undefined {
    if (this.accept('ALL', 'SLAVES', 'STATUS') || this.accept('ALL', 'REPLICAS', 'STATUS')) {
      this.end();
      return { kind: 'showStatus', form: 'all' };
    }
    if (this.isWord('SLAVE') || this.isWord('REPLICA')) {
      // SHOW SLAVE HOSTS and SHOW REPLICA HOSTS are the target's own business.
      const form = this.peek()!.upper === 'SLAVE' ? 'slave' : 'replica';
      const named = this.peek(1)?.type === 'string' || this.peek(1)?.type === 'ident';
      if (!named && !this.isWord('STATUS', 1)) return undefined;
      this.i++;
      let channel = this.optionalName();
      this.expect('STATUS');
      channel = this.forChannel(channel);
      this.end();
      return { kind: 'showStatus', form, ...(channel === undefined ? {} : { channel }) };
    }
    if (this.accept('RELAYLOG')) {
      const channel = this.optionalName();
      this.expect('EVENTS');
      const command: Extract<AdminCommand, { kind: 'showRelayLogEvents' }> = { kind: 'showRelayLogEvents' };
      if (this.accept('IN')) command.file = this.string('the relay log file');
      if (this.accept('FROM')) command.pos = this.integer('the position');
      if (this.accept('LIMIT')) {
        const first = this.integer('the limit');
        if (this.acceptPunct(',')) {
          command.offset = first;
          command.limit = this.integer('the limit');
        } else if (this.accept('OFFSET')) {
          command.limit = first;
          command.offset = this.integer('the offset');
        } else {
          command.limit = first;
        }
      }
      const named = this.forChannel(channel);
      this.end();
      return named === undefined ? command : { ...command, channel: named };
    }
    return undefined;
  }

  private reset(): AdminCommand {
    const named = this.optionalName();
    const all = this.accept('ALL');
    const channel = this.forChannel(named);
    this.end();
    return { kind: 'reset', ...(channel === undefined ? {} : { channel }), all };
  }

  /**
   * SELECT MASTER_POS_WAIT(...) / MASTER_GTID_WAIT(...) / @@default_master_connection, alone and with literal
   * arguments (refused otherwise); any other SELECT is the target's.
   */
  private select(): AdminCommand | undefined {
    const first = this.peek();
    if (first === undefined) return undefined;
    let command: AdminCommand;
    if (this.isWord('MASTER_POS_WAIT') || this.isWord('SOURCE_POS_WAIT')) {
      this.i++;
      if (!this.acceptPunct('(')) return undefined;
      const file = this.string('the binlog file');
      this.expectPunct(',');
      const pos = this.integer('the position');
      let timeout: number | undefined;
      let channel: string | undefined;
      if (this.acceptPunct(',')) {
        timeout = this.number('the timeout');
        if (this.acceptPunct(',')) channel = this.string('the connection name');
      }
      this.expectPunct(')');
      command = { kind: 'sourcePosWait', column: this.textFrom(first), file, pos,
        ...(timeout === undefined ? {} : { timeout }), ...(channel === undefined ? {} : { channel }) };
    } else if (this.isWord('MASTER_GTID_WAIT')) {
      this.i++;
      if (!this.acceptPunct('(')) return undefined;
      const gtidPos = this.string('the GTID position');
      const timeout = this.acceptPunct(',') ? this.number('the timeout') : undefined;
      this.expectPunct(')');
      command = { kind: 'sourceGtidWait', column: this.textFrom(first), gtidPos, ...(timeout === undefined ? {} : { timeout }) };
    } else if (this.isPunct('@') && this.isPunct('@', 1)) {
      this.i += 2;
      this.accept('SESSION') && this.expectPunct('.');
      if (!this.accept('DEFAULT_MASTER_CONNECTION')) return undefined;
      command = { kind: 'selectDefaultConnection', column: this.textFrom(first) };
    } else {
      return undefined;
    }
    if (this.accept('AS') || this.peek()?.type === 'ident' || (this.peek()?.type === 'word' && !this.isWord('LIMIT'))) {
      command.column = this.name();
    }
    if (this.accept('LIMIT')) this.integer('the limit');
    // The target would answer with its own value (NULL, ''), which is not the channels'.
    if (!this.atEnd()) this.fail(`on the admin endpoint, ${first.text} stands alone in its SELECT`);
    this.end();
    return command;
  }

  /**
   * SET @@default_master_connection = 'c'; SET GLOBAL [c.]replicate_* = '...'; SET GLOBAL sql_slave_skip_counter
   * = n. Any other SET is the target's; one that mixes ours with the target's is refused.
   */
  private set(): AdminCommand | undefined {
    const start = this.i;
    const command = this.assignment();
    if (command === undefined) {
      // A later assignment of ours would be run by the target as a variable of its own.
      if (this.mixed(start)) this.fail('set replication variables in a SET statement of their own');
      return undefined;
    }
    if (this.isPunct(',')) this.fail('set replication variables in a SET statement of their own');
    this.end();
    return command;
  }

  /** Whether any assignment of the SET at `start` is one of ours. */
  private mixed(start: number): boolean {
    for (let k = start; k < this.tokens.length; k++) {
      const t = this.tokens[k]!;
      if (t.type !== 'punct' || t.text !== ',') continue;
      this.i = k + 1;
      try {
        if (this.assignment() !== undefined) return true;
      } catch {
        // not ours: the target reads it
      }
    }
    return false;
  }

  private assignment(): AdminCommand | undefined {
    let scope: 'GLOBAL' | 'SESSION' | undefined;
    if (this.accept('GLOBAL')) scope = 'GLOBAL';
    else if (this.accept('SESSION') || this.accept('LOCAL')) scope = 'SESSION';
    else if (this.isPunct('@') && this.isPunct('@', 1)) {
      this.i += 2;
      scope = this.accept('GLOBAL') ? 'GLOBAL' : this.accept('SESSION') || this.accept('LOCAL') ? 'SESSION' : undefined;
      if (scope !== undefined) this.expectPunct('.');
    }
    // [connection.]variable: the connection part is MariaDB's, for the replicate_* variables.
    const first = this.peek();
    if (first?.type !== 'word' && first?.type !== 'ident') return undefined;
    this.i++;
    let channel: string | undefined;
    let variable = first;
    if (this.acceptPunct('.')) {
      const second = this.peek();
      if (second?.type !== 'word') return undefined;
      this.i++;
      channel = first.text;
      variable = second;
    }
    if (variable.type !== 'word') return undefined;
    const name = variable.upper;
    const filter = FILTER_NAMES[name];
    if (name !== 'DEFAULT_MASTER_CONNECTION' && !SKIP_COUNTERS.has(name) && filter === undefined) return undefined;
    if (!this.acceptPunct('=') && !(this.acceptPunct(':') && this.acceptPunct('='))) this.fail("expected '='");
    if (name === 'DEFAULT_MASTER_CONNECTION') {
      if (scope === 'GLOBAL') {
        throw new ReplicationError('ER_LOCAL_VARIABLE', `Variable '${variable.text}' is a SESSION variable and can't be ` +
          'used with SET GLOBAL: SET @@default_master_connection = ...');
      }
      return { kind: 'setDefaultConnection', channel: this.string('the connection name') };
    }
    if (scope !== 'GLOBAL') {
      throw new ReplicationError('ER_GLOBAL_VARIABLE', `Variable '${variable.text}' is a GLOBAL variable and should be set ` +
        `with SET GLOBAL: SET GLOBAL ${variable.text} = ...`);
    }
    if (filter === undefined) {
      return { kind: 'setSkipCounter', ...(channel === undefined ? {} : { channel }), count: this.integer(variable.text) };
    }
    const value = this.string(variable.text);
    return { kind: 'changeFilter', ...(channel === undefined ? {} : { channel }), filters: { [filter]: filterVariableList(filter, value) } };
  }

  /** CHANGE REPLICATION FILTER rule = (list), ... [FOR CHANNEL c], MySQL's form. */
  private changeFilter(): AdminCommand {
    const filters: Partial<Record<keyof ReplicationFilters, unknown>> = {};
    do {
      const t = this.peek();
      const key = t?.type === 'word' ? FILTER_NAMES[t.upper] : undefined;
      if (key === undefined) this.fail(`the rules are ${Object.keys(FILTER_NAMES).join(', ')}`);
      this.i++;
      this.expectPunct('=');
      this.expectPunct('(');
      const items: unknown[] = [];
      if (!this.acceptPunct(')')) {
        do items.push(key === 'replicateRewriteDb' ? this.pair() : this.filterItem()); while (this.acceptPunct(','));
        this.expectPunct(')');
      }
      filters[key] = items;
    } while (this.acceptPunct(','));
    const channel = this.forChannel(undefined);
    this.end();
    return { kind: 'changeFilter', ...(channel === undefined ? {} : { channel }), filters: filters as Partial<ReplicationFilters> };
  }

  /** A database, `db.table`, or a quoted pattern. */
  private filterItem(): string {
    if (this.peek()?.type === 'string') return this.string('a pattern');
    const first = this.name();
    return this.acceptPunct('.') ? `${first}.${this.name()}` : first;
  }

  private pair(): [string, string] {
    this.expectPunct('(');
    const from = this.name();
    this.expectPunct(',');
    const to = this.name();
    this.expectPunct(')');
    return [from, to];
  }
}

/** A replicate_* variable's value: comma-separated, rewrite pairs written from->to, '' for none. */
function filterVariableList(key: keyof ReplicationFilters, value: string): ReplicationFilters[keyof ReplicationFilters] {
  const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (key !== 'replicateRewriteDb') return items;
  return items.map((item) => {
    const arrow = item.indexOf('->');
    if (arrow < 0) throw new ReplicationError('ER_WRONG_ARGUMENTS', `replicate_rewrite_db takes from->to pairs, got '${item}'`);
    return [item.slice(0, arrow).trim(), item.slice(arrow + 2).trim()] as [string, string];
  });
}

/**
 * The command a statement asks for, or undefined when it is not a replication statement (the target runs it).
 * Throws ReplicationError 1064 for a replication statement the endpoint cannot read.
 */
export function parseAdminStatement(sql: string): AdminCommand | undefined {
  let tokens: Token[];
  try {
    tokens = tokenizeSql(sql);
  } catch {
    // Text the tokenizer cannot read is no statement of ours: the target says what is wrong with it.
    return undefined;
  }
  return new Statement(sql, tokens).parse();
}
