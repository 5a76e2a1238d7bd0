import { startMariaDb } from '../test/helpers/servers.ts';
const s = await startMariaDb({ serverId: 98, noBinlog: true });
for (const sql of ['CREATE DATABASE `e😀`', 'CREATE TABLE test.`t😀` (a INT)', 'CREATE DATABASE x', 'CREATE TABLE x.t (`c😀` INT)']) {
  try { await s.sql(sql); console.log('ok', sql); } catch (e: any) { console.log('ERR', sql, e.errno, e.message); }
}
await s.destroy();
