// Text from sources, relay logs and data files goes to a terminal only through here: a control character (an
// escape sequence, a carriage return, a bell) or a bidirectional override in a table name, a statement or an
// error message must not move the cursor, recolour the screen or hide text.

// C0 and C1 controls, DEL, and the Unicode bidirectional controls and line/paragraph separators.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` with every unprintable character written as an escape (\n, \t, \x1b, \u202e). */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
