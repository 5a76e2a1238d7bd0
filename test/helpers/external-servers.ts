// Servers named by the environment instead of started here (docker-compose.yml): TRIBUTARY_TEST_SOURCE and
// TRIBUTARY_TEST_TARGET, each `mysql://user:password@host:port` (user defaults to root, password to '', port
// to 3306; the scheme may be left out). Tests that support them use the named server instead of the simulated
// source or the throwaway mariadbd.
import mysql from 'mysql2/promise';
import type { TestServer } from './servers.js';

export type ExternalServer = Pick<TestServer, 'host' | 'port' | 'user' | 'password' | 'sql'>;

export function parseServerUrl(text: string, variable: string): { host: string; port: number; user: string; password: string } {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `mysql://${text}`);
  } catch {
    throw new Error(`${variable} '${text}' is not of the form mysql://user:password@host:port`);
  }
  if (url.protocol !== 'mysql:' || url.hostname === '') {
    throw new Error(`${variable} '${text}' is not of the form mysql://user:password@host:port`);
  }
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 3306 : Number(url.port),
    user: url.username === '' ? 'root' : decodeURIComponent(url.username), password: decodeURIComponent(url.password),
  };
}

/** The server TRIBUTARY_TEST_SOURCE or TRIBUTARY_TEST_TARGET names, or undefined when the variable is not set. */
export function externalServer(variable: 'TRIBUTARY_TEST_SOURCE' | 'TRIBUTARY_TEST_TARGET'): ExternalServer | undefined {
  const text = process.env[variable];
  if (text === undefined || text === '') return undefined;
  const where = parseServerUrl(text, variable);
  return {
    ...where,
    async sql(...statements: string[]) {
      const conn = await mysql.createConnection({ ...where, multipleStatements: false });
      try {
        let rows: unknown;
        for (const statement of statements) [rows] = await conn.query(statement);
        return rows;
      } finally {
        await conn.end();
      }
    },
  };
}

/** An external target as the tests' TestServer (it is not stopped or removed by them). */
export function externalTarget(server: ExternalServer): TestServer {
  const refuse = async () => {
    throw new Error(`the target ${server.host}:${server.port} comes from TRIBUTARY_TEST_TARGET: tests cannot stop it`);
  };
  return {
    ...server, dataDir: '', serverId: 0, pid: 0,
    connectionOptions: (extra = {}) => ({ host: server.host, port: server.port, user: server.user, password: server.password, ...extra }),
    connect: refuse, stop: refuse, restart: refuse,
    destroy: async () => {},
  };
}
