// relayLogEvents and flushRelayLogs against real servers: the relay log holds the source's events byte for
// byte, so the rows SHOW RELAYLOG EVENTS gives for them must say what the source's own SHOW BINLOG EVENTS says
// (Event_type, Server_id, End_log_pos, Info); positions are the relay log's own.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RelayLogEvent, ReplicationEngine } from '../src/index.js';
import { catchUp, openEngine, until } from './helpers/replica.js';
import { startMariaDb, type TestServer } from './helpers/servers.js';

let source: TestServer;
let target: TestServer;
let engine: ReplicationEngine;

const WORKLOAD = [
  'CREATE DATABASE d',
  'CREATE TABLE d.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20), f DOUBLE) DEFAULT CHARSET=utf8mb4',
  "INSERT INTO d.t (v, f) VALUES ('a\\nb', 1.5), ('\u00e9t\u00e9', NULL)",
  "UPDATE d.t SET v = 'x' WHERE id = 1",
  'DELETE FROM d.t WHERE id = 2',
  "SET @u = 'zz'",
  'SET binlog_format = STATEMENT',
  'INSERT INTO d.t (v, f) VALUES (@u, RAND())',
  'INSERT INTO d.t (v) VALUES (LAST_INSERT_ID())',
  'SET @n = 5, @dd = 1.25, @nothing = NULL',
  'INSERT INTO d.t (id, v, f) VALUES (@n, @dd, @nothing)',
  'USE d',
  'CREATE TABLE `odd``name` (a INT)',
];

interface ServerRow { Log_name: string; Pos: number; Event_type: string; Server_id: number; End_log_pos: number; Info: string }

before(async () => {
  [source, target] = await Promise.all([startMariaDb({ serverId: 11 }), startMariaDb({ serverId: 21, noBinlog: true })]);
  const conn = await source.connect();
  try {
    for (const statement of WORKLOAD) await conn.query(statement);
  } finally {
    await conn.end();
  }
  engine = await openEngine(target);
  await engine.changeReplicationSource('dbsv1', {
    sourceHost: source.host, sourcePort: source.port, sourceUser: source.user, sourcePassword: source.password,
  });
  await engine.startReplica('dbsv1');
  await catchUp(engine, 'dbsv1', source);
});

after(async () => {
  await engine?.close();
  await Promise.all([source?.destroy(), target?.destroy()]);
});

/** What both lists say about an event, positions in the source's binlog included. */
const said = (row: Pick<RelayLogEvent, 'eventType' | 'serverId' | 'endLogPos' | 'info'>) =>
  ({ eventType: row.eventType, serverId: row.serverId, endLogPos: row.endLogPos, info: row.info });

test("the source's events in the relay log are listed as the source lists them", async () => {
  const theirs = (await source.sql('SHOW BINLOG EVENTS') as ServerRow[])
    .map((r) => said({ eventType: r.Event_type, serverId: r.Server_id, endLogPos: r.End_log_pos, info: r.Info }));
  const ours = await engine.relayLogEvents('dbsv1');
  // Ours also holds the relay log's head (our Format_description and position mark) and the source's
  // artificial Rotate (End_log_pos 0); every other event is the source's, with what the source says of it.
  const fromSource = ours.filter((r) => r.serverId === 11 && r.endLogPos !== 0).map(said);
  assert.deepEqual(fromSource, theirs);
  assert.ok(ours.every((r) => r.logName === ours[0]!.logName));
  assert.equal(ours[0]!.pos, 4);
  assert.ok(ours.some((r) => r.eventType === 'User var' && r.info === '@`nothing`=NULL'));
  assert.ok(ours.some((r) => r.eventType === 'Query' && r.info === 'use `d`; CREATE TABLE `odd``name` (a INT)'));
});

test('FROM, LIMIT and offset select rows as the servers do', async () => {
  const all = await engine.relayLogEvents('dbsv1');
  const file = all[0]!.logName;
  assert.deepEqual(await engine.relayLogEvents('dbsv1', { file, limit: 5 }), all.slice(0, 5));
  assert.deepEqual(await engine.relayLogEvents('dbsv1', { limit: 3, offset: 2 }), all.slice(2, 5));
  assert.deepEqual(await engine.relayLogEvents('dbsv1', { pos: all[4]!.pos, limit: 2 }), all.slice(4, 6));
  assert.deepEqual(await engine.relayLogEvents('dbsv1', { pos: 0, limit: 1 }), all.slice(0, 1));
  // The source agrees on what LIMIT offset,n means.
  const theirs = await source.sql('SHOW BINLOG EVENTS LIMIT 2,3') as ServerRow[];
  assert.deepEqual(theirs.map((r) => r.Pos), (await source.sql('SHOW BINLOG EVENTS') as ServerRow[]).slice(2, 5).map((r) => r.Pos));
});

test('errors are the servers\': 1617 for an unknown channel, 1220 for a bad file or position', async () => {
  await assert.rejects(engine.relayLogEvents('nope'), { errno: 1617, message: "There is no master connection 'nope'" });
  const all = await engine.relayLogEvents('dbsv1');
  const file = all[0]!.logName;
  await assert.rejects(engine.relayLogEvents('dbsv1', { file: 'relay-bin-dbsv1.999999' }),
    { errno: 1220, message: /Could not find target log/ });
  await assert.rejects(engine.relayLogEvents('dbsv1', { file, pos: all[1]!.pos + 1 }),
    { errno: 1220, message: /Wrong offset or I\/O error/ });
  await assert.rejects(engine.relayLogEvents('dbsv1', { file, pos: 1 << 30 }),
    { errno: 1220, message: /Invalid pos specified. Requested from pos:1073741824 is greater than actual file size/ });
  // The source gives the same errnos for the same mistakes.
  await assert.rejects(source.sql(`SHOW BINLOG EVENTS FROM ${1 << 30}`), { errno: 1220 });
  await assert.rejects(source.sql('SHOW BINLOG EVENTS FROM 5'), { errno: 1220 });
  await assert.rejects(source.sql("SHOW RELAYLOG 'nope' EVENTS"), { errno: 1617 });
});

test('flushRelayLogs starts a new relay log file, whose head says where its events come from', async () => {
  const before = (await engine.relayLogEvents('dbsv1'))[0]!.logName;
  const status = await engine.replicaStatus('dbsv1');
  await engine.flushRelayLogs('dbsv1');
  await source.sql("INSERT INTO d.t (v) VALUES ('after flush')");
  await catchUp(engine, 'dbsv1', source);
  const current = await until('a new relay log file', async () => {
    const file = (await engine.replicaStatus('dbsv1')).relayLogFile;
    return file !== status.relayLogFile && file;
  });
  assert.ok(current > before);
  const head = await engine.relayLogEvents('dbsv1', { file: current, limit: 2 });
  assert.deepEqual(head.map((r) => r.eventType), ['Format_desc', 'Rotate']);
  assert.equal(head[1]!.info, `${status.sourceLogFile};pos=${status.readSourceLogPos}`);
  const rows = await engine.relayLogEvents('dbsv1', { file: current });
  assert.ok(rows.some((r) => r.eventType === 'Annotate_rows' && r.info === "INSERT INTO d.t (v) VALUES ('after flush')"));
  await assert.rejects(engine.flushRelayLogs('nope'), { errno: 1200 });
});
