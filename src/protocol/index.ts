export { BinlogDump, type DumpRequest, type SourceInfo } from './dump.js';
export { SourceError } from './errors.js';
export { type SourceSsl, tlsVersionRange } from './tls.js';
export { type SourcePublicKey } from './auth.js';
