// relay-log.info. The 5.1 manual's layout (5.5.5.2) is four lines: Relay_Log_File, Relay_Log_Pos,
// Relay_Master_Log_File, Exec_Master_Log_Pos. MariaDB 10.11 writes a line count first (5) and SQL_Delay as the
// fifth line, e.g. "5\n./mariadbd-relay-bin.000001\n4\nmysql-bin.000001\n4\n0\n". A first line that is a
// number of at least 5 marks that layout; a relay log file name is never all digits.

export interface RelayLogInfo {
  /** As the server writes it, with the directory (MariaDB: "./<name>"). */
  relayLogFile: string;
  relayLogPos: number;
  relaySourceLogFile: string;
  execSourceLogPos: number;
  /** MASTER_DELAY, seconds. */
  sqlDelay: number;
  /** Numbered lines after the fifth that this version does not know (MySQL 5.6+ writes some), kept. */
  extraLines?: string[];
}

const LINES_WITH_DELAY = 5;

export function formatRelayLogInfo(info: RelayLogInfo): string {
  const extra = info.extraLines ?? [];
  const text = [info.relayLogFile, info.relaySourceLogFile, ...extra];
  if (text.some((line) => /[\n\r]/.test(line))) throw new Error('relay log info lines cannot contain line breaks');
  return [
    LINES_WITH_DELAY + extra.length,
    info.relayLogFile, info.relayLogPos, info.relaySourceLogFile, info.execSourceLogPos, info.sqlDelay,
    ...extra,
  ].join('\n') + '\n';
}

export function parseRelayLogInfo(text: string, fileName = 'relay-log.info'): RelayLogInfo {
  const lines = text.split('\n');
  // the newline ending the last line does not start another
  if (lines.at(-1) === '') lines.pop();
  const fail = (line: number, message: string): never => {
    throw new Error(`${fileName} line ${line}: ${message}`);
  };
  const at = (line: number, field: string): string => lines[line - 1] ?? fail(line, `${field} is missing (the file ends early)`);
  const int = (line: number, field: string): number => {
    const value = at(line, field);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      fail(line, `${field} ${JSON.stringify(value)} is not a non-negative integer`);
    }
    return Number(value);
  };
  const first = at(1, 'Relay_Log_File');
  const counted = /^\d+$/.test(first) && Number(first) >= LINES_WITH_DELAY;
  const base = counted ? 1 : 0;
  const info: RelayLogInfo = {
    relayLogFile: at(base + 1, 'Relay_Log_File'),
    relayLogPos: int(base + 2, 'Relay_Log_Pos'),
    relaySourceLogFile: at(base + 3, 'Relay_Master_Log_File'),
    execSourceLogPos: int(base + 4, 'Exec_Master_Log_Pos'),
    sqlDelay: counted ? int(6, 'SQL_Delay') : 0,
  };
  if (counted && Number(first) > LINES_WITH_DELAY) {
    info.extraLines = [];
    for (let line = 7; line <= Number(first) + 1; line++) info.extraLines.push(at(line, `line ${line}`));
  }
  return info;
}
