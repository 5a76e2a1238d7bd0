// MariaDB's "filename" character set, which turns a connection name into the part of the master info, relay
// log info and relay log file names that names the channel, and the lower-casing applied before it.
// The tables were read from MariaDB 10.11 itself (SELECT CONVERT(<char> USING filename) and LOWER() under
// utf8mb3_general_ci, for every BMP code point); test/info.test.ts checks them against a live server.

/**
 * Code points with a 3-character form "@" + two characters: each range lists two characters per code point,
 * ".." where the code point has none (it gets the 5-character "@xxxx" form instead).
 */
const THREE_CHAR_RANGES: ReadonlyArray<readonly [number, number, string]> = [
  [0xC0, 0x5FF,
    '0G0H0I0J0K0L0M0N0O0P0Q0R0S0T0U0V0W0X0Y0Z1G1H1I..1K1L1M1N1O1P1Q1j0g0h0i0j0k0l0m0n0o0p0q0r0s0t0u0v' +
    '0w0x0y0z1g1h1i..1k1l1m1n1o1p1q1r1S1s1T1t1U1u1V1v1W1w1X1x1Y1y1Z1z2G2g2H2h2I2i2J2j2K2k2L2l2M2m2N2n' +
    '2O2o2P2p2Q2q2R2r2S2s2T2t2U2u2V2v..2w2X2x2Y2y2Z2z3g3H3h3I3i3J3j3K3k3L3l3M3m3N3n3O3o3p3Q3q3R3r3S3s' +
    '3T3t3U3u3V3v3W3w3X3x3Y3y3Z3z4G4g4H4h4I4i4J4j4K4k4L4l4M4m4N4n4O4o4P4p4Q4q4R4r4S4s1R4T4t4U4u4V4v4w' +
    'gaQfHahaIaiaRfJajaTfUfKakalaZbWfYfMamaJgMgnaSgRgOaoapaqaYgHhraKhSasaTataUauaVhVavaYhwaxaYayaJiZa' +
    'zaLiMiGbgbHbhbTiIbibjbkbNbnbmb..........Ob..obPb..pbQb..qbRbrbSbsbTbtbUbubVbvbWbwbXbxbYbybzbGcgc' +
    'HchcIcicJcjcKckcLclcMcmcNcncOcocpcQc..qcRcrcNa..ScscTctcUcucVcvcWcwcXcxcYcycZczcGdgdHdhdIdidJdjd' +
    'KdkdLdldMdmdNdndOdodPdpdQdqdRdrdRasdTdtdUdudVdvdWdwdXdxdYdydZdzdGegeHeheiejekelemeneOePepePaQere' +
    'seVi............................nfofpfqfrfsftfufvfwfxfyfzfgghgigjgkglgmgngogpgqgrgsgtgugvgwgxgyg' +
    'zgghhhihjhkhlhmhnhohphqhrhshthuhvhwhxhyhzhgihiiijikiliminioipiqirisitiuiviwixiyizigjhjijjjkjljmj' +
    'njojpjqjrjsjtjujvjwjxjyjzjgkhkik................................................................' +
    '................................................................................................' +
    '................................................................................................' +
    '................................................................................................' +
    '............................................................................6G..6H6I6J..7S..7T7U' +
    '5y6L7W6N6O6P6Q6R7X6T8W6V6W6X6Y6Z8I7H..8Y7K7L8H7N7O7P7Q7R6g6h6i6j6k6l6m6n6o6p6q6r6s6t6u6v6w6x6y6z' +
    '7g7h7i7j7k7l7m7n7o7p7q7r7s7t7u..7w7x7Y7Z8G8h8i8j..8k8L8l8M8m8N8n8O8o8P8p8Q8q8R8r8S8s8T8t8U8u8V8v' +
    '8w8x8y8z..9g9h..9i....9j9k9L9M9NS1T1U1V1W1X1Y1Z1G2H2I2J2K2L2M2N2G0H0I0J0K0L0M0N0O0P0Q0R0S0T0U0V0' +
    'W0X0Y0Z0G1H1I1J1K1L1M1N1O1P1Q1R1g0h0i0j0k0l0m0n0o0p0q0r0s0t0u0v0w0x0y0z0g1h1i1j1k1l1m1n1o1p1q1r1' +
    's1t1u1v1w1x1y1z1g2h2i2j2k2l2m2n2O2o2P2p2Q2q2R2r2S2s2T2t2U2u2V2v2W2w2X2x2Y2y2Z2z2G3g3H3h3I3i3J3j3' +
    'K3k3................M3m3N3n3O3o3P3p3Q3q3R3r3S3s3T3t3U3u3V3v3W3w3X3x3Y3y3Z3z3G4g4H4h4I4i4J4j4K4k4' +
    'L4l4M4m4N4n4O4o4P4p4Q4q4R4r4S4s4T4U4u4V4v4W4w4X4x4Y4y4Z4z4G5g5..I5i5J5j5K5k5L5l5M5m5N5n5O5o5P5p5' +
    'Q5q5R5r5S5s5T5t5U5u5V5v5W5w5X5x5Y5y5Z5z5G6g6H6h6I6i6............P6p6Q6q6R6r6S6s6T6t6U6u6V6v6W6w6' +
    '..................................................................H7I7J7K7L7M7N7O7P7Q7R7S7T7U7V7' +
    'W7X7Y7Z7G8H8I8J8K8L8M8N8O8P8Q8R8S8T8U8V8W8X8......................h7i7j7k7l7m7n7o7p7q7r7s7t7u7v7' +
    'w7x7y7z7g8h8i8j8k8l8m8n8o8p8q8r8s8t8u8v8w8x8....................................................' +
    '................................................................................................' +
    '................................................................................................'],
  [0x1E00, 0x1FFF,
    'GlglHlhlIlilJljlKlklLlllMlmlNlnlOlolPlplQlqlRlrlSlslTltlUlulVlvlWlwlXlxlYlylZlzlGmgmHmhmImimJmjm' +
    'KmkmLmlmMmmmNmnmOmomPmpmQmqmRmrmSmsmTmtmUmumVmvmWmwmXmxmYmymZmzmGngnHnhnIninJnjnKnknLnlnMnmnNnnn' +
    'GponPnpnQnqnRnrnSnsnTntnUnunVnvnWnwnXnxnYnynZnznGogoHohoIoioJojoKokoLoloMomoNonoOoooPopoQoqoRoro' +
    'SosoTotoUouovowoxoyozogp........LplpMpmpNpnpOpopPpppQpqpRprpSpspTptpUpupVpvpWpwpXpxpYpypZpzpGqgq' +
    'HqhqIqiqJqjqKqkqLqlqMqmqNqnqOqoqPqpqQqqqRqrqSqsqTqtqUquqVqvqWqwqXqxqYqyqZqzqGrgrHrhrIrirJrjrKrkr' +
    'LrlrMrmrNrnrOrorPrpr............gshsisjskslsmsnsGsHsIsJsKsLsMsNsospsqsrsssts....OsPsQsRsSsTs....' +
    'yszsgthtitjtktltYsZsGtHtItJtKtLtmtntotptqtrtstttMtNtOtPtQtRtStTtutvtwtxtytzt....UtVtWtXtYtZt....' +
    'kulumunuoupuquru..Lu..Nu..Pu..RuwuxuyuzugvhvivjvWuXuYuZuGvHvIvJvkvlvmvnvovpvqvrvsvtvuvvvwvxv....' +
    'gwhwiwjwkwlwmwnwGwHwIwJwKwLwMwNwowpwqwrwswtwuwvwOwPwQwRwSwTwUwVwwwxwywzwgxhxixjxWwXwYwZwGxHxIxJx' +
    'kxlxmxnxox..qxrxKxLxKvLvNx..........sxtxux..wxxxMvNvOvPvTx......yxzxgyhy....kylyYxZxQvRv........' +
    'nyoypyqyrysytyuyNyOyUvVvSy..........xyyy....hzizSvTvWvXvYy......'],
  [0x2160, 0x217F,
    'G9H9I9J9K9L9M9N9O9P9Q9R9S9T9U9V9g9h9i9j9k9l9m9n9o9p9q9r9s9t9u9v9'],
  [0x24B0, 0x24EF,
    '............@A@B@C@D@E@F@G@H@I@J@K@L@M@N@O@P@Q@R@S@T@U@V@W@X@Y@Z@a@b@c@d@e@f@g@h@i@j@k@l@m@n@o@p' +
    '@q@r@s@t@u@v@w@x@y@z............'],
  [0xFF20, 0xFF5F,
    '..A@B@C@D@E@F@G@H@I@J@K@L@M@N@O@P@Q@R@S@T@U@V@W@X@Y@Z@............a@b@c@d@e@f@g@h@i@j@k@l@m@n@o@' +
    'p@q@r@s@t@u@v@w@x@y@z@..........'],
];

/**
 * Code points that utf8mb3_general_ci leaves unchanged although Unicode (and String.prototype.toLowerCase)
 * gives them a lower-case form; hex, "a-b" for ranges.
 */
const NO_LOWER_CASE_IN_GENERAL_CI =
  '220 23a-23b 23d-23e 241 243-246 248 24a 24c 24e 370 372 376 37f 3cf 3d8 3f4 3f7 3f9-3fa 3fd-3ff 48a ' +
  '4c0 4c5 4c9 4cd 4f6 4fa 4fc 4fe 500 502 504 506 508 50a 50c 50e 510 512 514 516 518 51a 51c 51e 520 ' +
  '522 524 526 528 52a 52c 52e 10a0-10c5 10c7 10cd 13a0-13f5 1c89 1c90-1cba 1cbd-1cbf 1e9e 1efa 1efc ' +
  '1efe 2132 2183 2c00-2c2f 2c60 2c62-2c64 2c67 2c69 2c6b 2c6d-2c70 2c72 2c75 2c7e-2c80 2c82 2c84 2c86 ' +
  '2c88 2c8a 2c8c 2c8e 2c90 2c92 2c94 2c96 2c98 2c9a 2c9c 2c9e 2ca0 2ca2 2ca4 2ca6 2ca8 2caa 2cac 2cae ' +
  '2cb0 2cb2 2cb4 2cb6 2cb8 2cba 2cbc 2cbe 2cc0 2cc2 2cc4 2cc6 2cc8 2cca 2ccc 2cce 2cd0 2cd2 2cd4 2cd6 ' +
  '2cd8 2cda 2cdc 2cde 2ce0 2ce2 2ceb 2ced 2cf2 a640 a642 a644 a646 a648 a64a a64c a64e a650 a652 a654 ' +
  'a656 a658 a65a a65c a65e a660 a662 a664 a666 a668 a66a a66c a680 a682 a684 a686 a688 a68a a68c a68e ' +
  'a690 a692 a694 a696 a698 a69a a722 a724 a726 a728 a72a a72c a72e a732 a734 a736 a738 a73a a73c a73e ' +
  'a740 a742 a744 a746 a748 a74a a74c a74e a750 a752 a754 a756 a758 a75a a75c a75e a760 a762 a764 a766 ' +
  'a768 a76a a76c a76e a779 a77b a77d-a77e a780 a782 a784 a786 a78b a78d a790 a792 a796 a798 a79a a79c ' +
  'a79e a7a0 a7a2 a7a4 a7a6 a7a8 a7aa-a7ae a7b0-a7b4 a7b6 a7b8 a7ba a7bc a7be a7c0 a7c2 a7c4-a7c7 a7c9 ' +
  'a7cb-a7cc a7ce a7d0 a7d2 a7d4 a7d6 a7d8 a7da a7dc a7f5 ';

const threeChar = new Map<number, string>();
for (const [first, last, codes] of THREE_CHAR_RANGES) {
  if (codes.length !== (last - first + 1) * 2) throw new Error(`filename charset table for ${first.toString(16)} is corrupt`);
  for (let cp = first; cp <= last; cp++) {
    const code = codes.slice((cp - first) * 2, (cp - first) * 2 + 2);
    if (code !== '..') threeChar.set(cp, code);
  }
}

const noLowerCase = new Set<number>();
for (const token of NO_LOWER_CASE_IN_GENERAL_CI.trim().split(/\s+/)) {
  const [a, b = a] = token.split('-') as [string, string?];
  for (let cp = parseInt(a, 16); cp <= parseInt(b, 16); cp++) noLowerCase.add(cp);
}

/** LATIN CAPITAL LETTER I WITH DOT ABOVE: general_ci lowers it to a plain "i", Unicode to "i" + U+0307. */
const CAPITAL_I_WITH_DOT = 0x130;

/** Lower-cases as MariaDB does a connection name (utf8mb3_general_ci), code point by code point. */
export function lowerConnectionName(name: string): string {
  let out = '';
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (cp === CAPITAL_I_WITH_DOT) out += 'i';
    else if (noLowerCase.has(cp)) out += ch;
    else {
      const lower = ch.toLowerCase();
      out += [...lower].length === 1 ? lower : ch;
    }
  }
  return out;
}

/**
 * Encodes a string in MariaDB's filename character set: ASCII letters, digits and "_" stay, letters of
 * several scripts become "@" + two characters, everything else "@" + four lower-case hex digits.
 */
export function toFilenameCharset(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp > 0xffff) throw new RangeError(`"${ch}" is outside the BMP, which MariaDB names (utf8mb3) cannot hold`);
    if (/^[0-9A-Za-z_]$/.test(ch)) out += ch;
    else out += '@' + (threeChar.get(cp) ?? cp.toString(16).padStart(4, '0'));
  }
  return out;
}
