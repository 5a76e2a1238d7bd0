// `npm run demo`: throwaway MariaDB servers on loopback, a type-rich backlog and live traffic on a source,
// replicated by tributary through channel 'dbsv1' into a target, with the channel's status printed while it
// catches up and a byte-for-byte comparison at the end.
import { ReplicationEngine, type ReplicaStatus } from '../src/index.js';
import { assertSameData } from '../test/helpers/compare.js';
import { tempDir } from '../test/helpers/replica.js';
import { startMariaDb } from '../test/helpers/servers.js';
import { createTypeRichSchema, extremeRows, runTransactions } from '../test/helpers/workload.js';

const line = (s: ReplicaStatus) =>
  `IO ${s.ioRunning.padEnd(10)} SQL ${s.sqlRunning.padEnd(3)} read ${s.sourceLogFile}:${s.readSourceLogPos}  ` +
  `exec ${s.relaySourceLogFile}:${s.execSourceLogPos}  behind ${s.secondsBehindSource ?? 'NULL'}s  ` +
  `relay ${s.relayLogFile}:${s.relayLogPos}  [${s.sqlState || '-'}]`;

console.log('starting a source and a target mariadbd on loopback ...');
const [source, target] = await Promise.all([
  startMariaDb({ serverId: 1 }),
  startMariaDb({ serverId: 2, noBinlog: true }),
]);
const dataDir = await tempDir('demo');
try {
  await source.sql("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'replpass'",
    "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'127.0.0.1'");
  const conn = await source.connect();
  console.log('writing a backlog of 3,000 transactions over every column type ...');
  await createTypeRichSchema(conn, 'shop');
  await extremeRows(conn, 'shop');
  await runTransactions(conn, 'shop', { count: 3000, seed: 1 });

  const engine = await ReplicationEngine.open({
    dataDir,
    serverId: 3001,
    target: { host: target.host, port: target.port, user: 'root', password: '' },
  });
  await engine.changeReplicationSource('dbsv1', {
    sourceHost: source.host, sourcePort: source.port, sourceUser: 'repl', sourcePassword: 'replpass',
    sourceLogFile: 'mysql-bin.000001', sourceLogPos: 4,
  });
  await engine.startReplica('dbsv1');
  console.log(`replicating into ${target.host}:${target.port} (data directory ${dataDir}), with live traffic:`);
  const traffic = runTransactions(await source.connect(), 'shop', { count: 1000, seed: 2 });
  const ticker = setInterval(() => {
    void engine.replicaStatus('dbsv1').then((s) => console.log('  ' + line(s)));
  }, 500);
  await traffic;
  const [master] = await source.sql('SHOW MASTER STATUS') as { File: string; Position: number }[];
  const waited = await engine.sourcePosWait('dbsv1', master!.File, Number(master!.Position), 120);
  clearInterval(ticker);
  console.log(`sourcePosWait(${master!.File}, ${master!.Position}) = ${waited}`);
  await assertSameData(conn, await target.connect(), ['shop']);
  console.log('target is byte-identical to the source in every table of `shop`.\n');
  console.log('SHOW SLAVE \'dbsv1\' STATUS:');
  const status = await engine.replicaStatus('dbsv1');
  const width = Math.max(...Object.keys(status).map((k) => k.length));
  for (const [key, value] of Object.entries(status)) console.log(`${key.padStart(width)}: ${value}`);
  await engine.close();
  await conn.end();
} finally {
  await Promise.all([source.destroy(), target.destroy()]);
}
process.exit(0);
