// The client side of MySQL's SHA-256 authentication on the dump connection, as libmysqlclient does it for a
// MySQL 8.4 replica (client_authentication.cc), with CHANGE REPLICATION SOURCE's SOURCE_PUBLIC_KEY_PATH and
// GET_SOURCE_PUBLIC_KEY. mysql2 has both plugins, but its caching_sha2_password asks any source for its RSA key,
// which GET_SOURCE_PUBLIC_KEY=0 forbids (a source that is not the one meant could hand over its own key and
// read the password), and neither reads a key file; so they are done here, given to mysql2 as `authPlugins`.
//
// - caching_sha2_password: the client sends XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) + scramble)); the source
//   answers "fast auth success" (3) when it has the account in its cache, or "perform full authentication"
//   (4). Then over TLS the password goes as it is; without TLS it is XORed with the scramble and encrypted
//   with the source's RSA key (OAEP), the key read from SOURCE_PUBLIC_KEY_PATH or, only with
//   GET_SOURCE_PUBLIC_KEY, asked of the source (2). With neither: CR_AUTH_PLUGIN_ERR, "Authentication requires
//   secure connection.".
// - sha256_password: no cache; over TLS the password as it is; without TLS the key from the file, else asked
//   of the source (1) whatever GET_SOURCE_PUBLIC_KEY says, as libmysqlclient does.
// - An empty password is one zero byte for both.
// "Secure" is the channel as it is: the TLS socket the handshake switched to (src/protocol/tls.ts).
import { createHash, createPublicKey, publicEncrypt, constants, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TLSSocket } from 'node:tls';
import type { ConnectionOptions } from 'mysql2';
import { CR_AUTH_PLUGIN_ERR } from './errors.js';

/** CHANGE REPLICATION SOURCE's SOURCE_PUBLIC_KEY_PATH and GET_SOURCE_PUBLIC_KEY. */
export interface SourcePublicKey {
  /** A PEM file holding the source's RSA public key; '' = none. */
  publicKeyPath: string;
  /** Whether the source may be asked for its RSA public key by caching_sha2_password. */
  getPublicKey: boolean;
}

const SCRAMBLE_LENGTH = 20;
/** The one-byte messages of the exchange (after AuthMoreData's 1 when the source sends them). */
export const AuthByte = {
  FAST_AUTH_SUCCESS: 3,
  PERFORM_FULL_AUTHENTICATION: 4,
  CACHING_SHA2_REQUEST_PUBLIC_KEY: 2,
  SHA256_REQUEST_PUBLIC_KEY: 1,
} as const;
const { FAST_AUTH_SUCCESS, PERFORM_FULL_AUTHENTICATION, CACHING_SHA2_REQUEST_PUBLIC_KEY, SHA256_REQUEST_PUBLIC_KEY } = AuthByte;

/** The parts of mysql2's connection a plugin reads. */
interface PluginConnection {
  stream: unknown;
  config: { password?: string };
}

/** mysql2's plugin shape: called with the switch request's data, then with each AuthMoreData payload. */
type AuthPlugin = (meta: { connection: PluginConnection }) => (data: Buffer) => Buffer | null | Promise<Buffer | null>;

function sha256(...parts: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) + scramble)): what caching_sha2_password's fast path compares. */
export function sha2Scramble(password: string, scramble: Buffer): Buffer {
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  const stage3 = sha256(sha256(stage1), scramble);
  return Buffer.from(stage1.map((b, i) => b ^ stage3[i]!));
}

class AuthPluginError extends Error {
  readonly errno = CR_AUTH_PLUGIN_ERR;
  readonly sqlState = 'HY000';
  constructor(plugin: string, reason: string) {
    super(`Authentication plugin '${plugin}' reported error: ${reason}`);
    this.name = 'AuthPluginError';
  }
}

/** The password with its terminating zero, XORed with the scramble (repeated), encrypted with RSA-OAEP. */
function rsaEncryptPassword(plugin: string, password: string, scramble: Buffer, key: KeyObject): Buffer {
  const clear = Buffer.from(`${password}\0`, 'utf8');
  for (let i = 0; i < clear.length; i++) clear[i]! ^= scramble[i % scramble.length]!;
  try {
    return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, clear);
  } catch (err) {
    // OAEP takes at most the key's size less 42 bytes: a short key and a long password.
    throw new AuthPluginError(plugin, `cannot encrypt the password with the source's RSA key: ${(err as Error).message}`);
  }
}

function isSecure(connection: PluginConnection): boolean {
  return connection.stream instanceof TLSSocket && connection.stream.encrypted;
}

function parseKey(plugin: string, pem: Buffer | string, from: string): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${key.asymmetricKeyType} key, not RSA`);
    return key;
  } catch (err) {
    throw new AuthPluginError(plugin, `${from} holds no RSA public key in PEM format (${(err as Error).message})`);
  }
}

/** The key of SOURCE_PUBLIC_KEY_PATH, read at every connect as the TLS files are; undefined when none is set. */
async function keyFromFile(plugin: string, settings: SourcePublicKey): Promise<KeyObject | undefined> {
  if (settings.publicKeyPath === '') return undefined;
  let pem: Buffer;
  try {
    pem = await readFile(settings.publicKeyPath);
  } catch (err) {
    throw new AuthPluginError(plugin, `cannot read sourcePublicKeyPath '${settings.publicKeyPath}': ${(err as Error).message}`);
  }
  return parseKey(plugin, pem, `sourcePublicKeyPath '${settings.publicKeyPath}'`);
}

function scrambleOf(plugin: string, data: Buffer): Buffer {
  // The switch request's data is the scramble and a terminating zero.
  if (data.length < SCRAMBLE_LENGTH) throw new AuthPluginError(plugin, `the source sent a ${data.length}-byte scramble`);
  return Buffer.from(data.subarray(0, SCRAMBLE_LENGTH));
}

function cachingSha2Password(settings: SourcePublicKey): AuthPlugin {
  const plugin = 'caching_sha2_password';
  return ({ connection }) => {
    const password = connection.config.password ?? '';
    let scramble: Buffer | undefined;
    let step: 'scramble' | 'challenge' | 'key' | 'done' = 'scramble';
    return async (data) => {
      switch (step) {
        case 'scramble':
          scramble = scrambleOf(plugin, data);
          step = password === '' ? 'done' : 'challenge';
          return password === '' ? Buffer.alloc(1) : sha2Scramble(password, scramble);
        case 'challenge': {
          if (data.length === 1 && data[0] === FAST_AUTH_SUCCESS) {
            step = 'done';
            return null;
          }
          if (data.length !== 1 || data[0] !== PERFORM_FULL_AUTHENTICATION) {
            throw new AuthPluginError(plugin, 'unexpected reply from the source');
          }
          step = 'done';
          if (isSecure(connection)) return Buffer.from(`${password}\0`, 'utf8');
          const key = await keyFromFile(plugin, settings);
          if (key) return rsaEncryptPassword(plugin, password, scramble!, key);
          if (!settings.getPublicKey) {
            throw new AuthPluginError(plugin, 'Authentication requires secure connection. (Set sourceSsl, ' +
              'sourcePublicKeyPath to a file holding the source\'s RSA public key, or getSourcePublicKey.)');
          }
          step = 'key';
          return Buffer.from([CACHING_SHA2_REQUEST_PUBLIC_KEY]);
        }
        case 'key':
          step = 'done';
          return rsaEncryptPassword(plugin, password, scramble!, parseKey(plugin, data, 'the key the source sent'));
        default:
          throw new AuthPluginError(plugin, 'unexpected data from the source after the password was sent');
      }
    };
  };
}

function sha256Password(settings: SourcePublicKey): AuthPlugin {
  const plugin = 'sha256_password';
  return ({ connection }) => {
    const password = connection.config.password ?? '';
    let scramble: Buffer | undefined;
    let step: 'scramble' | 'key' | 'done' = 'scramble';
    return async (data) => {
      if (step === 'scramble') {
        scramble = scrambleOf(plugin, data);
        step = 'done';
        if (password === '') return Buffer.alloc(1);
        if (isSecure(connection)) return Buffer.from(`${password}\0`, 'utf8');
        const key = await keyFromFile(plugin, settings);
        if (key) return rsaEncryptPassword(plugin, password, scramble, key);
        step = 'key';
        return Buffer.from([SHA256_REQUEST_PUBLIC_KEY]);
      }
      if (step === 'key') {
        step = 'done';
        return rsaEncryptPassword(plugin, password, scramble!, parseKey(plugin, data, 'the key the source sent'));
      }
      throw new AuthPluginError(plugin, 'unexpected data from the source after the password was sent');
    };
  };
}

/** The `authPlugins` of a mysql2 connection to a source. */
export function sourceAuthPlugins(settings: SourcePublicKey): ConnectionOptions['authPlugins'] {
  const plugins: Record<string, AuthPlugin> = {
    caching_sha2_password: cachingSha2Password(settings), sha256_password: sha256Password(settings),
  };
  // mysql2's typings leave out the connection's stream, which the plugins read.
  return plugins as unknown as ConnectionOptions['authPlugins'];
}
