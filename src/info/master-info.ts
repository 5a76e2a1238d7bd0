// master.info as MariaDB 10.11 writes it. Line 1 is the number of numbered lines (33); lines 2-14 are the
// 5.1 manual's (5.5.5.2); then SSL verify, heartbeat period, and lines MySQL defined (bind, ignored server ids,
// uuid, retry count, CRL) or reserved (23-33, empty in MariaDB's files, MySQL 5.6+ uses some); then
// MariaDB's key=value lines up to END_MARKER, then ours: tls_version= (MySQL's MASTER_TLS_VERSION, which MySQL
// keeps at line 25 and MariaDB does not have; MariaDB passes over keys it does not know, and the line is
// written only when set, so files stay as MariaDB writes them); likewise public_key_path= and get_public_key=
// (MySQL's SOURCE_PUBLIC_KEY_PATH and GET_SOURCE_PUBLIC_KEY, its lines 26 and 27) and auto_position= (its line 23). MariaDB rewrites the file in place, so anything after
// END_MARKER is leftover from a longer earlier version and is ignored.

export type UsingGtid = 'no' | 'current_pos' | 'slave_pos';

export interface MasterInfo {
  sourceLogFile: string;
  readSourceLogPos: number;
  sourceHost: string;
  sourceUser: string;
  sourcePassword: string;
  sourcePort: number;
  sourceConnectRetry: number;
  sslAllowed: boolean;
  sslCa: string;
  sslCaPath: string;
  sslCert: string;
  sslCipher: string;
  sslKey: string;
  sslVerifyServerCert: boolean;
  /** Seconds; the file keeps three decimals. */
  heartbeatPeriod: number;
  /** MySQL's MASTER_BIND; MariaDB writes it empty. */
  bind: string;
  ignoreServerIds: number[];
  /** The source's server_uuid as MySQL records it; MariaDB writes it empty. */
  sourceUuid: string;
  /** MySQL's MASTER_RETRY_COUNT; MariaDB writes 0 and takes master_retry_count from its options. */
  retryCount: number;
  sslCrl: string;
  sslCrlPath: string;
  /** Lines 23-33 as found (MySQL 5.6+ puts e.g. auto_position there); empty in MariaDB's files. */
  reservedLines: string[];
  usingGtid: UsingGtid;
  doDomainIds: number[];
  ignoreDomainIds: number[];
  /** MASTER_TLS_VERSION, e.g. 'TLSv1.2,TLSv1.3'; '' = the defaults. */
  tlsVersion: string;
  /** MySQL's SOURCE_PUBLIC_KEY_PATH: the source's RSA public key (PEM); '' = none. */
  publicKeyPath: string;
  /** MySQL's GET_SOURCE_PUBLIC_KEY. */
  getPublicKey: boolean;
  /** MySQL's SOURCE_AUTO_POSITION (its line 23, reserved in MariaDB's file): the dump asks by GTID set. */
  autoPosition: boolean;
  /** Lines between the numbered lines and END_MARKER that this version does not know, kept in order. */
  extraLines: string[];
}

const LINES_IN_MASTER_INFO = 33;
const FIRST_RESERVED_LINE = 23;
const USING_GTID: readonly UsingGtid[] = ['no', 'current_pos', 'slave_pos'];

export function defaultMasterInfo(): MasterInfo {
  return {
    sourceLogFile: '', readSourceLogPos: 4, sourceHost: '', sourceUser: '', sourcePassword: '', sourcePort: 3306,
    sourceConnectRetry: 60, sslAllowed: false, sslCa: '', sslCaPath: '', sslCert: '', sslCipher: '', sslKey: '',
    sslVerifyServerCert: false, heartbeatPeriod: 0, bind: '', ignoreServerIds: [], sourceUuid: '', retryCount: 0,
    sslCrl: '', sslCrlPath: '', reservedLines: [], usingGtid: 'no', doDomainIds: [], ignoreDomainIds: [],
    tlsVersion: '', publicKeyPath: '', getPublicKey: false, autoPosition: false, extraLines: [],
  };
}

/** "N id1 ... idN", the form of ignore_server_ids and the domain id lists; MariaDB keeps them sorted. */
function formatIdList(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  return [sorted.length, ...sorted].join(' ');
}

function checkLine(value: string, field: string): string {
  if (/[\n\r]/.test(value)) throw new Error(`master info ${field} cannot contain a line break`);
  return value;
}

export function formatMasterInfo(info: MasterInfo): string {
  const reserved = Array.from({ length: LINES_IN_MASTER_INFO - FIRST_RESERVED_LINE + 1 },
    (_, i) => checkLine(info.reservedLines[i] ?? '', `line ${FIRST_RESERVED_LINE + i}`));
  const lines = [
    String(LINES_IN_MASTER_INFO),
    checkLine(info.sourceLogFile, 'Master_Log_File'),
    String(info.readSourceLogPos),
    checkLine(info.sourceHost, 'Master_Host'),
    checkLine(info.sourceUser, 'Master_User'),
    checkLine(info.sourcePassword, 'password'),
    String(info.sourcePort),
    String(info.sourceConnectRetry),
    info.sslAllowed ? '1' : '0',
    checkLine(info.sslCa, 'Master_SSL_CA_File'),
    checkLine(info.sslCaPath, 'Master_SSL_CA_Path'),
    checkLine(info.sslCert, 'Master_SSL_Cert'),
    checkLine(info.sslCipher, 'Master_SSL_Cipher'),
    checkLine(info.sslKey, 'Master_SSL_Key'),
    info.sslVerifyServerCert ? '1' : '0',
    info.heartbeatPeriod.toFixed(3),
    checkLine(info.bind, 'bind'),
    formatIdList(info.ignoreServerIds),
    checkLine(info.sourceUuid, 'uuid'),
    String(info.retryCount),
    checkLine(info.sslCrl, 'Master_SSL_Crl'),
    checkLine(info.sslCrlPath, 'Master_SSL_Crlpath'),
    ...reserved,
    `using_gtid=${USING_GTID.indexOf(info.usingGtid)}`,
    `do_domain_ids=${formatIdList(info.doDomainIds)}`,
    `ignore_domain_ids=${formatIdList(info.ignoreDomainIds)}`,
    ...(info.tlsVersion !== '' ? [`tls_version=${checkLine(info.tlsVersion, 'tls_version')}`] : []),
    ...(info.publicKeyPath !== '' ? [`public_key_path=${checkLine(info.publicKeyPath, 'public_key_path')}`] : []),
    ...(info.getPublicKey ? ['get_public_key=1'] : []),
    ...(info.autoPosition ? ['auto_position=1'] : []),
    ...info.extraLines.map((line) => checkLine(line, 'extra line')),
    'END_MARKER',
  ];
  return lines.join('\n') + '\n';
}

class LineReader {
  constructor(private readonly lines: string[], private readonly file: string) {}

  fail(line: number, message: string): never {
    throw new Error(`${this.file} line ${line}: ${message}`);
  }

  text(line: number, field: string): string {
    const value = this.lines[line - 1];
    if (value === undefined) this.fail(line, `${field} is missing (the file ends early)`);
    return value;
  }

  int(line: number, field: string): number {
    const value = this.text(line, field);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      this.fail(line, `${field} ${JSON.stringify(value)} is not a non-negative integer`);
    }
    return Number(value);
  }

  flag(line: number, field: string): boolean {
    const value = this.int(line, field);
    if (value > 1) this.fail(line, `${field} ${value} is neither 0 nor 1`);
    return value === 1;
  }

  idList(line: number, field: string, value = this.text(line, field)): number[] {
    if (value === '') return [];
    const parts = value.trim().split(/\s+/);
    if (!parts.every((p) => /^\d+$/.test(p))) this.fail(line, `${field} ${JSON.stringify(value)} is not a list of ids`);
    const [count, ...ids] = parts.map(Number) as [number, ...number[]];
    if (count !== ids.length) this.fail(line, `${field} ${JSON.stringify(value)} announces ${count} ids but has ${ids.length}`);
    return ids;
  }
}

/**
 * Parses a master info file. Files with fewer numbered lines (older servers) give defaults for the rest;
 * errors name the file line.
 */
export function parseMasterInfo(text: string, fileName = 'master.info'): MasterInfo {
  const lines = text.split('\n');
  // the newline ending the last line does not start another
  if (lines.at(-1) === '') lines.pop();
  const r = new LineReader(lines, fileName);
  const count = r.int(1, 'the number of lines');
  if (count < 14) r.fail(1, `${count} lines is fewer than any MySQL or MariaDB ever wrote (14)`);
  const info = defaultMasterInfo();
  info.sourceLogFile = r.text(2, 'Master_Log_File');
  info.readSourceLogPos = r.int(3, 'Read_Master_Log_Pos');
  info.sourceHost = r.text(4, 'Master_Host');
  info.sourceUser = r.text(5, 'Master_User');
  info.sourcePassword = r.text(6, 'password');
  info.sourcePort = r.int(7, 'Master_Port');
  info.sourceConnectRetry = r.int(8, 'Connect_Retry');
  info.sslAllowed = r.flag(9, 'Master_SSL_Allowed');
  info.sslCa = r.text(10, 'Master_SSL_CA_File');
  info.sslCaPath = r.text(11, 'Master_SSL_CA_Path');
  info.sslCert = r.text(12, 'Master_SSL_Cert');
  info.sslCipher = r.text(13, 'Master_SSL_Cipher');
  info.sslKey = r.text(14, 'Master_SSL_Key');
  if (count >= 15) info.sslVerifyServerCert = r.flag(15, 'Master_SSL_Verify_Server_Cert');
  if (count >= 16) {
    const value = r.text(16, 'heartbeat period');
    if (!/^\d+(\.\d*)?$/.test(value)) r.fail(16, `heartbeat period ${JSON.stringify(value)} is not a number of seconds`);
    info.heartbeatPeriod = Number(value);
  }
  if (count >= 17) info.bind = r.text(17, 'bind');
  if (count >= 18) info.ignoreServerIds = r.idList(18, 'Replicate_Ignore_Server_Ids');
  if (count >= 19) info.sourceUuid = r.text(19, 'uuid');
  if (count >= 20) {
    const value = r.text(20, 'retry count');
    info.retryCount = value === '' ? 0 : r.int(20, 'retry count');
  }
  if (count >= 21) info.sslCrl = r.text(21, 'Master_SSL_Crl');
  if (count >= 22) info.sslCrlPath = r.text(22, 'Master_SSL_Crlpath');
  for (let line = FIRST_RESERVED_LINE; line <= Math.min(count, LINES_IN_MASTER_INFO); line++) {
    info.reservedLines.push(r.text(line, `line ${line}`));
  }
  while (info.reservedLines.length > 0 && info.reservedLines.at(-1) === '') info.reservedLines.pop();
  if (count < LINES_IN_MASTER_INFO) return info;

  const seen = new Set<string>();
  for (let line = count + 1; line <= lines.length; line++) {
    const raw = lines[line - 1]!;
    if (raw === 'END_MARKER') break;
    const eq = raw.indexOf('=');
    const key = eq < 0 ? '' : raw.slice(0, eq);
    const value = raw.slice(eq + 1);
    // as MariaDB does, only the first occurrence of a key counts (10.0 wrote no END_MARKER)
    if (seen.has(key)) continue;
    if (key === 'using_gtid') {
      const n = /^\d+$/.test(value) ? Number(value) : -1;
      if (!(n in USING_GTID)) r.fail(line, `using_gtid ${JSON.stringify(value)} is not 0, 1 or 2`);
      info.usingGtid = USING_GTID[n]!;
    } else if (key === 'do_domain_ids') {
      info.doDomainIds = r.idList(line, 'do_domain_ids', value);
    } else if (key === 'ignore_domain_ids') {
      info.ignoreDomainIds = r.idList(line, 'ignore_domain_ids', value);
    } else if (key === 'tls_version') {
      info.tlsVersion = value;
    } else if (key === 'public_key_path') {
      info.publicKeyPath = value;
    } else if (key === 'get_public_key') {
      if (value !== '0' && value !== '1') r.fail(line, `get_public_key ${JSON.stringify(value)} is neither 0 nor 1`);
      info.getPublicKey = value === '1';
    } else if (key === 'auto_position') {
      if (value !== '0' && value !== '1') r.fail(line, `auto_position ${JSON.stringify(value)} is neither 0 nor 1`);
      info.autoPosition = value === '1';
    } else {
      info.extraLines.push(raw);
      continue;
    }
    seen.add(key);
  }
  return info;
}
