// `tributary binlog`: the text of binlog events as `mariadb-binlog --verbose` prints them: for each event
// `# at POS` and the header line (`#YYMMDD HH:MM:SS server id N  end_log_pos N CRC32 0x... \tWhat`), the
// statements, and row events as `### INSERT INTO ...` pseudo-SQL. Every `#` line is mariadb-binlog's, byte for
// byte, for the events it knows; the lines it writes to be replayed by a client (BINLOG '...' blocks, the
// session SET statements) are left out: this output is for reading. MySQL 8 events mariadb-binlog cannot
// print are printed too, in MySQL's mysqlbinlog words where it has them: the events inside a
// TRANSACTION_PAYLOAD, PARTIAL_UPDATE_ROWS (as JSON_REPLACE/... of the column), tagged GTIDs, VECTOR values.
// Pure: raw events in, lines out. Control characters never reach the output (see `printable`).
import { INTEGER_WIDTH, ColumnType as T } from '../binlog/column-types.js';
import { BinlogDecoder } from '../binlog/decoder.js';
import { eventTypeName } from '../binlog/event-names.js';
import { EventType, LOG_EVENT_BINLOG_IN_USE_F, STMT_END_F, type ColumnValue, type DecodedEvent, type JsonDiff, type RowImage, type RowsEvent, type TableMapEvent } from '../binlog/events.js';
import { jsonPathText } from '../binlog/json-diff.js';
import { formatMysqlGtid, MysqlGtidSet } from '../gtid/mysql-gtid-set.js';
import { userVarValue } from '../relaylog/event-info.js';
import { printable } from './printable.js';

// MariaDB GTID flags2.
const FL_GROUP_COMMIT_ID = 2;
const FL_TRANSACTIONAL = 4;
const FL_DDL = 32;

/** A rows event's name in mariadb-binlog's header line: the servers' name without the version suffix. */
function rowsName(typeCode: number): string {
  return eventTypeName(typeCode).replace(/_v1$/, '');
}

const two = (n: number) => String(n).padStart(2, '0');

/** mariadb-binlog's timestamps: `YYMMDD HH:MM:SS` in local time, the hour padded with a space. */
export function binlogTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${two(d.getFullYear() % 100)}${two(d.getMonth() + 1)}${two(d.getDate())} ${String(d.getHours()).padStart(2, ' ')}:` +
    `${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** A name as mariadb-binlog quotes it. */
function quoteName(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/**
 * A string value as mariadb-binlog writes it: quoted, bytes below 0x20 as \xNN, everything else as it is. Where
 * mariadb-binlog copies any byte >= 0x7f, only whole printable UTF-8 characters are copied here; DEL and any
 * other byte are \xNN too, so that no value can send a control sequence to the terminal.
 */
export function quotedBytes(value: Buffer): string {
  let out = "'";
  for (let i = 0; i < value.length;) {
    const byte = value[i]!;
    if (byte >= 0x20 && byte < 0x7f) {
      out += String.fromCharCode(byte);
      i++;
      continue;
    }
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 0;
    const bytes = value.subarray(i, i + length);
    const char = length > 0 && bytes.length === length ? bytes.toString('utf8') : '';
    if (char && [...char].length === 1 && Buffer.from(char, 'utf8').equals(bytes) && printable(char) === char) {
      out += char;
      i += length;
    } else {
      out += `\\x${byte.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return `${out}'`;
}

/** C's %.<precision>g: `precision` significant digits, trailing zeros dropped, an exponent of two digits at least. */
export function formatG(value: number, precision = 6): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa, exp] = value.toExponential(precision - 1).split('e') as [string, string];
  const exponent = Number(exp);
  const trim = (digits: string) => digits.includes('.') ? digits.replace(/\.?0+$/, '') : digits;
  if (exponent < -4 || exponent >= precision) {
    return `${trim(mantissa)}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return trim(value.toFixed(Math.max(0, precision - 1 - exponent)));
}

/** One column value as `--verbose` shows it after `@N=`. */
export function formatValue(value: ColumnValue, type: number, length = 0): string {
  if (value === null) return 'NULL';
  const bytes = INTEGER_WIDTH[type];
  if (bytes !== undefined) {
    // Signed as stored, and the unsigned reading beside a negative one (the binlog does not say which it is).
    const signed = BigInt(value as number | bigint);
    return signed < 0n ? `${signed} (${signed + (1n << BigInt(bytes * 8))})` : String(signed);
  }
  switch (type) {
    case T.FLOAT:
      return formatG(value as number).padEnd(20);
    case T.DOUBLE:
      return formatG(value as number, 20);
    case T.YEAR:
    case T.ENUM:
      return String(value);
    case T.NEWDECIMAL:
    case T.DECIMAL:
      return String(value);
    case T.DATE:
    case T.NEWDATE:
      return `'${String(value).replace(/-/g, ':')}'`;
    case T.TIMESTAMP:
    case T.TIMESTAMP2: {
      const text = String(value);
      if (text.startsWith('0000-00-00')) return '0';
      const [whole, fraction] = text.split('.');
      return `${Date.parse(`${whole!.replace(' ', 'T')}Z`) / 1000}${fraction ? `.${fraction}` : ''}`;
    }
    case T.DATETIME:
    case T.DATETIME2:
    case T.TIME:
    case T.TIME2:
      return `'${String(value)}'`;
    case T.SET:
    case T.BIT: {
      // BIT(M): M bits; SET: the bits of its bytes (the metadata gives bits for BIT, bytes for SET).
      const width = type === T.SET ? length * 8 : length;
      const bits = typeof value === 'bigint' ? value.toString(2) : Buffer.isBuffer(value) ? [...value].map((b) => b.toString(2).padStart(8, '0')).join('') : String(value);
      return `b'${bits.padStart(width, '0').slice(-Math.max(width, 1))}'`;
    }
    case T.JSON:
      return quotedBytes(Buffer.from(String(value), 'utf8'));
    case T.VECTOR: {
      const buffer = value as Buffer;
      const floats: string[] = [];
      // MySQL's VECTOR_TO_STRING form, C's %.5e.
      for (let i = 0; i + 4 <= buffer.length; i += 4) floats.push(buffer.readFloatLE(i).toExponential(5).replace(/e([+-])(\d)$/, 'e$10$2'));
      return `[${floats.join(',')}]`;
    }
    default:
      return Buffer.isBuffer(value) ? quotedBytes(value) : printable(String(value));
  }
}

function jsonDiffText(column: string, diffs: readonly JsonDiff[]): string {
  return diffs.reduce((doc, diff) => {
    const path = quotedBytes(Buffer.from(jsonPathText(diff.path), 'utf8'));
    if (diff.operation === 'remove') return `JSON_REMOVE(${doc}, ${path})`;
    const name = diff.operation === 'replace' ? 'JSON_REPLACE' : 'member' in diff.path.at(-1)! ? 'JSON_INSERT' : 'JSON_ARRAY_INSERT';
    return `${name}(${doc}, ${path}, ${quotedBytes(Buffer.from(diff.value!, 'utf8'))})`;
  }, column);
}

function imageLines(image: RowImage, map: TableMapEvent, diffs?: Map<number, JsonDiff[]>): string[] {
  const lines: string[] = [];
  for (let i = 0; i < map.columnTypes.length; i++) {
    const diff = diffs?.get(i);
    if (diff) {
      lines.push(`###   @${i + 1}=${jsonDiffText(`@${i + 1}`, diff)}`);
      continue;
    }
    const value = image[i];
    if (value === undefined) continue;
    const meta = map.columnMeta[i]!;
    lines.push(`###   @${i + 1}=${formatValue(value, meta.realType, meta.length)}`);
  }
  return lines;
}

/** The `###` lines of a rows event and its row count, as --verbose prints them. */
export function rowsLines(event: RowsEvent): string[] {
  const table = `${quoteName(event.tableMap.database)}.${quoteName(event.tableMap.table)}`;
  const lines: string[] = [];
  for (const row of event.rows) {
    if (event.kind === 'write') lines.push(`### INSERT INTO ${table}`, '### SET', ...imageLines(row.after ?? [], event.tableMap));
    else if (event.kind === 'delete') lines.push(`### DELETE FROM ${table}`, '### WHERE', ...imageLines(row.before ?? [], event.tableMap));
    else {
      lines.push(`### UPDATE ${table}`, '### WHERE', ...imageLines(row.before ?? [], event.tableMap), '### SET',
        ...imageLines(row.after ?? [], event.tableMap, row.jsonDiffs));
    }
  }
  lines.push(`# Number of rows: ${event.rows.length}`);
  return lines;
}

function statementLines(text: string): string[] {
  return [...text.split('\n'), '/*!*/;'];
}

/**
 * Prints the events of one file in order. Keeps what later events need: the format (checksums), the Table_maps,
 * the default database of the last statement, and an Annotate_rows waiting for its Table_map (mariadb-binlog
 * prints the annotation after the next event's `# at`).
 */
export class BinlogPrinter {
  private readonly decoder = new BinlogDecoder();
  private database: string | undefined;
  private annotation: string[] | undefined;
  /** The lines of the event `raw` that starts at `pos`. */
  event(raw: Buffer, pos: number): string[] {
    const decoded = this.decoder.decode(raw);
    const lines = [`# at ${pos}`];
    if (this.annotation) lines.push(...this.annotation);
    this.annotation = undefined;
    const crc = this.decoder.format?.checksumAlg === 1 && decoded.header.typeCode !== EventType.FORMAT_DESCRIPTION
      ? raw.readUInt32LE(raw.length - 4) : decoded.event.type === 'format_description' && decoded.event.checksumAlg === 1
        ? raw.readUInt32LE(raw.length - 4) : undefined;
    const body = this.body(decoded, pos);
    const header = this.header(decoded, crc) + body[0];
    if (decoded.event.type === 'annotate_rows') {
      this.annotation = [header, ...body.slice(1)];
      return lines;
    }
    return [...lines, header, ...body.slice(1)].map(printableLine);
  }

  /** What is left to print at the end of the file: an Annotate_rows no event followed. */
  end(): string[] {
    const left = this.annotation ?? [];
    this.annotation = undefined;
    return left.map(printableLine);
  }

  private header(decoded: DecodedEvent, crc: number | undefined): string {
    const { header } = decoded;
    return `#${binlogTime(header.timestamp)} server id ${header.serverId}  end_log_pos ${header.logPos} ` +
      `${crc === undefined ? '' : `CRC32 0x${crc.toString(16).padStart(8, '0')} `}\t`;
  }

  /** The description after the header's tab, then the event's other lines. */
  private body(decoded: DecodedEvent, pos: number): string[] {
    const { header, event } = decoded;
    switch (event.type) {
      case 'format_description': {
        const created = event.createTimestamp ? `${binlogTime(header.timestamp)} at startup` : binlogTime(header.timestamp);
        return [`Start: binlog v ${event.binlogVersion}, server v ${event.serverVersion} created ${created}`,
          ...(header.flags & LOG_EVENT_BINLOG_IN_USE_F ? ['# Warning: this binlog is either in use or was not closed properly.'] : [])];
      }
      case 'rotate':
        return [`Rotate to ${event.nextFile}  pos: ${event.position}`];
      case 'stop':
        return ['Stop'];
      case 'gtid_list':
        return [`Gtid list [${event.gtids.map((g) => `${g.domainId}-${g.serverId}-${g.seqNo}`).join(',\n# ')}]`];
      case 'binlog_checkpoint':
        return [`Binlog checkpoint ${event.logFile}`];
      case 'gtid':
        if (event.flavor === 'mariadb') {
          const cid = event.flags2 & FL_GROUP_COMMIT_ID && event.commitId !== undefined ? ` cid=${event.commitId}` : '';
          const text = `GTID ${event.domainId}-${event.serverId}-${event.seqNo}${cid}${event.flags2 & FL_DDL ? ' ddl' : ''}` +
            `${event.flags2 & FL_TRANSACTIONAL ? ' trans' : ''}`;
          return [text, ...(event.standalone ? [] : event.xa ? ['XA START', '/*!*/;'] : ['START TRANSACTION', '/*!*/;'])];
        } else {
          const gtid = event.anonymous ? 'ANONYMOUS' : formatMysqlGtid(event);
          const name = event.anonymous ? 'Anonymous_GTID' : 'GTID';
          return [`${name}\tlast_committed=${event.lastCommitted ?? 0}\tsequence_number=${event.sequenceNumber ?? 0}\t` +
            `rbr_only=${event.commitFlag ? 'yes' : 'no'}`, `SET @@SESSION.GTID_NEXT= '${gtid}'/*!*/;`];
        }
      case 'previous_gtids':
        return ['Previous-GTIDs', ...MysqlGtidSet.fromSids(event.sids).toString().split('\n').map((l) => `# ${l}`)];
      case 'query':
      case 'execute_load_query': {
        const lines = [`Query\tthread_id=${event.threadId}\texec_time=${event.executionTime}\terror_code=${event.errorCode}` +
          `\txid=${event.statusVars.xid ?? 0}`];
        if (event.database && event.database !== this.database) lines.push(`use ${quoteName(event.database)}/*!*/;`);
        this.database = event.database || this.database;
        lines.push(`SET TIMESTAMP=${header.timestamp}/*!*/;`, ...statementLines(event.sql.toString('utf8')));
        return lines;
      }
      case 'xid':
        return [`Xid = ${event.xid}`, 'COMMIT/*!*/;'];
      case 'intvar':
        return ['Intvar', `SET ${event.kind === 'last_insert_id' ? 'LAST_INSERT_ID' : 'INSERT_ID'}=${event.value}/*!*/;`];
      case 'rand':
        return ['Rand', `SET @@RAND_SEED1=${event.seed1}, @@RAND_SEED2=${event.seed2}/*!*/;`];
      case 'user_var':
        return ['User_var', `SET @${quoteName(event.name)}:=${userVarValue(event, true)}/*!*/;`];
      case 'annotate_rows':
        return ['Annotate_rows:', ...event.sql.toString('utf8').split('\n').map((l) => `#Q> ${l}`)];
      case 'rows_query':
        return ['Rows_query', ...event.sql.toString('utf8').split('\n').map((l) => `# ${l}`)];
      case 'table_map':
        return [`Table_map: ${quoteName(event.database)}.${quoteName(event.table)} mapped to number ${event.tableId}`];
      case 'rows':
        return [`${rowsName(header.typeCode)}: table id ${event.tableId}${event.flags & STMT_END_F ? ' flags: STMT_END_F' : ''}`,
          ...rowsLines(event)];
      case 'transaction_payload':
        return this.payload(event.events, pos);
      case 'begin_load_query':
      case 'append_block':
        return [`${event.type === 'append_block' ? 'Append_block' : 'Begin_load_query'}: file_id: ${event.fileId}  block_len: ${event.data.length}`];
      case 'delete_file':
        return [`Delete_file: file_id=${event.fileId}`];
      case 'heartbeat':
        return [`Heartbeat ${event.logFile}`];
      case 'incident':
        return ['Incident'];
      case 'xa_prepare':
        return ['XA PREPARE'];
      case 'start_encryption':
        return ['Start_encryption'];
      default:
        return [`Unknown event type ${header.typeCode}`];
    }
  }

  /** A TRANSACTION_PAYLOAD and the events in it, as MySQL's mysqlbinlog shows them. */
  private payload(events: Buffer[], pos: number): string[] {
    const size = events.reduce((n, e) => n + e.length, 0);
    const lines = [`Transaction_Payload\tevents=${events.length}\tuncompressed_size=${size}`, '# Start of compressed events!'];
    for (const raw of events) {
      const inner = this.decoder.decode(raw, { checksum: false });
      const body = this.body(inner, pos);
      lines.push(this.header(inner, undefined) + body[0], ...body.slice(1));
    }
    lines.push('# End of compressed events!');
    return lines;
  }
}

function printableLine(line: string): string {
  // A line may hold line breaks of its own (a statement's); each part is made printable, the breaks and the
  // header's tabs kept (a tab cannot steer a terminal).
  return line.split('\n').map((part) => part.split('\t').map(printable).join('\t')).join('\n');
}
