// mariadb-binlog --verbose as `tributary binlog` is compared with it: its '#' lines, times in UTC.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The lines starting with '#': event headers, annotations, `###` rows, row counts. */
export const hashLines = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('#'));

/**
 * mariadb-binlog's output with the one difference documented: a byte that is not part of a printable UTF-8
 * character (DEL, a lone byte >= 0x80, a C1 control) is \xNN, where mariadb-binlog writes it as it is.
 */
function asTributaryEscapes(output: Buffer): string {
  let text = '';
  for (let i = 0; i < output.length;) {
    const byte = output[i]!;
    if (byte < 0x7f) {
      text += String.fromCharCode(byte);
      i++;
      continue;
    }
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 0;
    const char = length ? output.subarray(i, i + length).toString('utf8') : '';
    const whole = char && [...char].length === 1 && Buffer.from(char).equals(output.subarray(i, i + length));
    if (whole && !/[\u0080-\u009f]/.test(char)) {
      text += char;
      i += length;
    } else {
      text += `\\x${byte.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return text;
}

/** `mariadb-binlog --verbose FILE` with times in UTC, escaped as `tributary binlog` escapes. */
export async function mariadbBinlogVerbose(file: string): Promise<string> {
  const { stdout } = await run('mariadb-binlog', ['--verbose', file], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 64 << 20, encoding: 'buffer' });
  return asTributaryEscapes(stdout);
}
