// TLS on the dump connection, set up as a MariaDB 10.x replica sets it up from master.info (slave.cc's
// connect_to_master, vio's new_VioSSLConnectorFd):
// - MASTER_SSL=0: plaintext; the other MASTER_SSL_* settings are kept but have no effect (MariaDB's CHANGE
//   MASTER page: "The option must be set to 1 for the other MASTER_SSL* options to have any effect").
// - MASTER_SSL=1: TLS is required; a source without TLS support is an SSL connection error.
// - MASTER_SSL_CA / MASTER_SSL_CAPATH given: the source's certificate chain must verify against them
//   (the connector's SSL_VERIFY_PEER whenever a CA file or path is set), whatever
//   MASTER_SSL_VERIFY_SERVER_CERT says.
// - MASTER_SSL_VERIFY_SERVER_CERT=1: the certificate must also name the host connected to; without a CA the
//   chain is checked against the default roots (OpenSSL's default verify paths there, Node's roots here).
// - Neither: encrypted, but the source is not authenticated.
// - MASTER_SSL_CRL / MASTER_SSL_CRLPATH: revocation is checked for every certificate of the chain (OpenSSL's
//   CRL_CHECK | CRL_CHECK_ALL, which Node sets too when given CRLs); it matters only when the chain is verified.
// The files are read at every connect, as the servers read them, so replaced certificates take effect on the
// next reconnect.
import { readFile, readdir } from 'node:fs/promises';
import { isIP, type Socket } from 'node:net';
import { join } from 'node:path';
import { checkServerIdentity, connect, type ConnectionOptions, type PeerCertificate, type SecureVersion } from 'node:tls';

/** CHANGE MASTER's MASTER_SSL_* and MASTER_TLS_VERSION settings, named as master.info's fields are. */
export interface SourceSsl {
  sslCa: string;
  sslCaPath: string;
  sslCert: string;
  sslKey: string;
  sslCipher: string;
  sslCrl: string;
  sslCrlPath: string;
  sslVerifyServerCert: boolean;
  /** MySQL's MASTER_TLS_VERSION: a comma-separated list such as 'TLSv1.2,TLSv1.3'; '' = Node's defaults. */
  tlsVersion: string;
}

/**
 * What the files of a SourceSsl hold, as PEM text: the CA certificates (of the CA file and of every file in the
 * CA path), the replica's certificate and key, the revocation lists (of the CRL file and the CRL path's files).
 */
export interface SslFiles {
  ca: string[];
  cert: string | undefined;
  key: string | undefined;
  crl: string[];
}

const TLS_VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * The protocol range a MASTER_TLS_VERSION list allows. Node takes a range, so a list with a hole in it
 * ('TLSv1.1,TLSv1.3') is refused rather than widened.
 */
export function tlsVersionRange(list: string): { minVersion?: SecureVersion; maxVersion?: SecureVersion } {
  if (list.trim() === '') return {};
  const picked = list.split(',').map((name) => {
    const index = TLS_VERSIONS.findIndex((v) => v.toLowerCase() === name.trim().toLowerCase());
    if (index < 0) throw new Error(`sourceTlsVersion: '${name.trim()}' is not one of ${TLS_VERSIONS.join(', ')}`);
    return index;
  });
  const min = Math.min(...picked);
  const max = Math.max(...picked);
  if (new Set(picked).size !== max - min + 1) {
    throw new Error(`sourceTlsVersion '${list}' leaves out a version between ${TLS_VERSIONS[min]} and ` +
      `${TLS_VERSIONS[max]}; name a contiguous range such as 'TLSv1.2,TLSv1.3'`);
  }
  return { minVersion: TLS_VERSIONS[min]!, maxVersion: TLS_VERSIONS[max]! };
}

/** The options of Node's tls.connect (all but the socket) for a source at `host`. */
export function tlsConnectOptions(ssl: SourceSsl, files: SslFiles, host: string): ConnectionOptions {
  const caGiven = ssl.sslCa !== '' || ssl.sslCaPath !== '';
  return {
    // An empty list (a CA path without certificates) trusts nothing, as an empty CA directory does.
    ...(caGiven ? { ca: files.ca } : {}),
    ...(files.cert !== undefined ? { cert: files.cert } : {}),
    ...(files.key !== undefined ? { key: files.key } : {}),
    ...(files.crl.length > 0 ? { crl: files.crl } : {}),
    ...(ssl.sslCipher !== '' ? { ciphers: ssl.sslCipher } : {}),
    ...tlsVersionRange(ssl.tlsVersion),
    rejectUnauthorized: caGiven || ssl.sslVerifyServerCert,
    checkServerIdentity: ssl.sslVerifyServerCert ? (_name: string, cert: PeerCertificate) => matchHost(host, cert) : () => undefined,
    // SNI takes host names only.
    ...(isIP(host) === 0 ? { servername: host } : {}),
  };
}

function matchHost(host: string, cert: PeerCertificate): Error | undefined {
  if (!checkServerIdentity(host, cert)) return undefined;
  const names = cert.subjectaltname || `CN=${cert.subject?.CN ?? ''}`;
  return new Error(`the source's certificate is not for ${host} (it names ${names}); connect by a name the ` +
    'certificate holds, or give the source a certificate for this one');
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function pemBlocks(text: string, label: string): string[] {
  return [...text.matchAll(PEM_BLOCK)].filter((m) => m[1] === label).map((m) => m[0]);
}

async function readOption(option: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${option} '${path}': ${(err as Error).message}`);
  }
}

/** The blocks of `label` in a file, which must hold at least one. */
async function fileBlocks(option: string, path: string, label: string): Promise<string[]> {
  const blocks = pemBlocks(await readOption(option, path), label);
  if (blocks.length === 0) throw new Error(`${option} '${path}' holds no PEM ${label}`);
  return blocks;
}

/** The blocks of `label` in the files of a directory; files without any (keys, hash links to CRLs ...) are passed over. */
async function directoryBlocks(option: string, dir: string, label: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw new Error(`cannot read ${option} '${dir}': ${(err as Error).message}`);
  }
  const blocks: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') continue;
      throw new Error(`cannot read ${option} file '${path}': ${(err as Error).message}`);
    }
    blocks.push(...pemBlocks(text, label));
  }
  return blocks;
}

export async function readSslFiles(ssl: SourceSsl): Promise<SslFiles> {
  return {
    ca: [
      ...(ssl.sslCa !== '' ? await fileBlocks('sourceSslCa', ssl.sslCa, 'CERTIFICATE') : []),
      ...(ssl.sslCaPath !== '' ? await directoryBlocks('sourceSslCapath', ssl.sslCaPath, 'CERTIFICATE') : []),
    ],
    cert: ssl.sslCert !== '' ? await readOption('sourceSslCert', ssl.sslCert) : undefined,
    key: ssl.sslKey !== '' ? await readOption('sourceSslKey', ssl.sslKey) : undefined,
    crl: [
      ...(ssl.sslCrl !== '' ? await fileBlocks('sourceSslCrl', ssl.sslCrl, 'X509 CRL') : []),
      ...(ssl.sslCrlPath !== '' ? await directoryBlocks('sourceSslCrlpath', ssl.sslCrlPath, 'X509 CRL') : []),
    ],
  };
}

/** mysql2 connection internals the TLS upgrade uses. */
interface UpgradableConnection {
  stream: Socket;
  packetParser: { execute(data: Buffer): void };
  _handleNetworkError(err: Error): void;
  startTLS(onSecure: (err?: Error) => void): void;
}

/**
 * Makes a mysql2 connection, created with `ssl: {}` so that its handshake asks the source for TLS, upgrade
 * with these settings. mysql2's own upgrade builds its TLS context from CA, certificate, key, ciphers and
 * versions only, without CRLs, so the upgrade is done here; failures (unreadable files included) reach
 * mysql2's handshake, which fails the connect with code HANDSHAKE_SSL_ERROR.
 */
export function upgradeWithSsl(connection: object, ssl: SourceSsl, host: string): void {
  const core = connection as UpgradableConnection;
  core.startTLS = (onSecure) => {
    readSslFiles(ssl).then((files) => {
      const options = tlsConnectOptions(ssl, files, host);
      core.stream.removeAllListeners('data');
      let secured = false;
      const secure = connect({ ...options, socket: core.stream }, () => {
        secured = true;
        onSecure();
      });
      secure.on('error', (err: NodeJS.ErrnoException) => {
        if (secured) core._handleNetworkError(err);
        else onSecure(new Error(err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message));
      });
      secure.on('data', (data: Buffer) => core.packetParser.execute(data));
      core.stream = secure;
    }).catch((err: Error) => onSecure(err));
  };
}
