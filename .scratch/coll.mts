import { startMariaDb } from '../test/helpers/servers.ts';
const s = await startMariaDb({ serverId: 99, noBinlog: true });
const rows = await s.sql("SELECT ID, COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE CHARACTER_SET_NAME IN ('big5','gbk','sjis','cp932','gb18030') ORDER BY ID");
console.log(rows.map((r: any) => `${r.ID} ${r.COLLATION_NAME}`).join('\n'));
const r2 = await s.sql("SELECT CHARACTER_SET_NAME c, COUNT(*) n FROM information_schema.COLLATIONS GROUP BY c");
console.log(r2.map((r: any) => r.c).join(' '));
const [tz] = await s.sql("SET time_zone = _utf8mb4 X'2b30313a3030'", "SELECT @@time_zone tz");
console.log(tz);
await s.destroy();
