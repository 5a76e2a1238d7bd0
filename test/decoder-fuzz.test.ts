// The decoder always ends, in bounded memory (issue 8): events cut from binlogs that real servers wrote (MySQL
// 5.7 to 9.x from the shared fixtures, MariaDB from a throwaway server) and a few hostile ones, mutated under
// fixed seeds (byte flips, truncations, lying lengths and counts, corrupt Table_map metadata), each decoded by a
// decoder primed with its Format_description and Table_maps. Every decode returns, or throws BinlogFormatError
// or BinlogChecksumError; none takes a second; none returns more than its bytes can stand for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BINLOG_MAGIC } from '../src/binlog/events.js';
import {
  compressionBomb, emptyBitmapRows, inTransaction, jsonBomb, jsonRows, mariadbFormat, mysqlFixtures, placeInBinlog,
  truncatedTableMap, zeroColumnRows,
} from './helpers/binlog-events.js';
import { readBinlogFiles, typeRichWorkload } from './helpers/binlog-workload.js';
import { fuzzCases, runFuzz, type FuzzCase } from './helpers/decoder-fuzz.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const PER_SEED = 6500;

let server: TestServer | undefined;
const cases: FuzzCase[] = [];

before(async () => {
  for (const { name, data } of await mysqlFixtures()) cases.push(...fuzzCases(name, data));
  server = await startMariaDb({ serverId: 61, args: ['--log-bin-compress=ON'] });
  await typeRichWorkload(server);
  for (const { name, data } of await readBinlogFiles(server)) cases.push(...fuzzCases(`mariadb:${name}`, data));
  const hostile = placeInBinlog([mariadbFormat(), ...inTransaction(1n, [...zeroColumnRows(), ...emptyBitmapRows()]),
    ...inTransaction(2n, [...jsonRows(jsonBomb(22)), ...truncatedTableMap()]), compressionBomb(16 << 20)]);
  cases.push(...fuzzCases('hostile', Buffer.concat([BINLOG_MAGIC, ...hostile])));
});

after(async () => {
  await server?.destroy();
});

test(`${SEEDS.length * PER_SEED} mutated events: each decode ends in under a second with typed errors and bounded output`,
  { timeout: 300_000 }, async () => {
    const mariadb = cases.filter((c) => c.label.startsWith('mariadb:')).length;
    assert.ok(mariadb > 100 && cases.length - mariadb > 500, `${cases.length} events to mutate, ${mariadb} from MariaDB`);
    const report = await runFuzz(cases, { seeds: SEEDS, perSeed: PER_SEED, stallMs: 10_000 });
    assert.deepEqual(report.failures.slice(0, 5), []);
    assert.ok(report.decoded >= 50_000);
    // Both outcomes are exercised: mutations the decoder reads, and ones it refuses (by CRC and by format).
    const { decoded, formatError, checksumError } = report.outcomes;
    assert.ok(decoded > 10_000 && formatError > 10_000 && checksumError > 1000, JSON.stringify(report.outcomes));
    // A hang guard, not a benchmark: the bound for one decode.
    assert.ok(report.slowestMs < 1000, `slowest decode ${report.slowestMs.toFixed(0)} ms: ${report.slowest}`);
    assert.ok(report.peakMemory < 256 << 20, `the worker held ${report.peakMemory} bytes`);
  });
