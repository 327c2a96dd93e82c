/**
 * The credential key and the sealing of secrets: AES-256-GCM with a random 96-bit nonce per
 * value, the 128-bit tag checked on open, and associated data binding each value to its
 * tenant and credential name (a sealed value copied onto another credential does not open).
 *
 * The key is never in the database. It comes from `NUBIS_KEY` (base64 of 32 bytes) or from
 * `<data>/secret.key` (the same text), created with mode 0600 at the first start when neither
 * exists. Back the key file up separately from the database: without it no credential can
 * be opened, and a database backup holds nothing usable without it.
 *
 * Each sealed row records the key's id (the first 16 hex digits of its sha256), so a wrong key
 * is told apart from a damaged value: CREDENTIAL_KEY_MISMATCH versus CREDENTIAL_TAMPERED.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NubisError } from '../errors/index.js';

export const KEY_ENV = 'NUBIS_KEY';
export const KEY_FILE = 'secret.key';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretKey {
  bytes: Buffer;
  /** Fingerprint stored beside every sealed value. */
  id: string;
  /** Where it came from: the environment variable or the key file. */
  source: 'env' | 'file';
  /** The key file, when `source` is `file`. */
  file?: string;
  /** Set when this resolution created the key file. */
  created?: boolean;
}

export function keyId(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** Decodes base64 text of exactly 32 bytes; CREDENTIAL_KEY_INVALID (naming `where`, never the text) otherwise. */
export function parseKey(text: string, where: string): Buffer {
  const t = text.trim();
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(t) ? Buffer.from(t, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 32) {
    throw new NubisError('CREDENTIAL_KEY_INVALID', `${where}: expected the base64 text of 32 random bytes (e.g. \`openssl rand -base64 32\`), found ${bytes.length ? `${bytes.length} bytes` : 'something else'}`);
  }
  return bytes;
}

export function keyFilePath(dataDir: string): string {
  return path.join(dataDir, KEY_FILE);
}

/** Writes a key file atomically (temp file, then rename), readable by the owner only. */
export function writeKeyFile(file: string, bytes: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes.toString('base64') + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/**
 * The server's key: `NUBIS_KEY` when set, else `<dataDir>/secret.key`, created (32 random
 * bytes, mode 0600) when absent. Fails with CREDENTIAL_KEY_INVALID when either is malformed.
 */
export function resolveKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretKey {
  const fromEnv = env[KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const bytes = parseKey(fromEnv, KEY_ENV);
    return { bytes, id: keyId(bytes), source: 'env' };
  }
  const file = keyFilePath(dataDir);
  if (fs.existsSync(file)) {
    const bytes = parseKey(fs.readFileSync(file, 'utf8'), file);
    return { bytes, id: keyId(bytes), source: 'file', file };
  }
  const bytes = crypto.randomBytes(32);
  writeKeyFile(file, bytes);
  return { bytes, id: keyId(bytes), source: 'file', file, created: true };
}

/** The associated data of a credential: its tenant and name. */
export function credentialAad(tenant: string, name: string): string {
  return `nubis-credential:v1:${tenant}:${name}`;
}

/** Seals `plaintext` under `key` with a fresh nonce: base64 of nonce ‖ tag ‖ ciphertext. */
export function seal(key: Buffer, plaintext: string, aad: string): string {
  const nonce = crypto.randomBytes(NONCE_BYTES);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return Buffer.concat([nonce, c.getAuthTag(), ct]).toString('base64');
}

/**
 * Opens a sealed value. `sealedWith` is the key id recorded beside it: another key than
 * `key` is CREDENTIAL_KEY_MISMATCH; the right key with a failing tag (changed bytes, or a
 * value moved to another credential) is CREDENTIAL_TAMPERED. Messages name `what`, never content.
 */
export function open(key: Buffer, sealed: string, aad: string, sealedWith: string, what: string): string {
  if (keyId(key) !== sealedWith) {
    throw new NubisError('CREDENTIAL_KEY_MISMATCH', `${what} was sealed with key ${sealedWith}, but this server holds key ${keyId(key)}: start it with the key the credential was stored under (NUBIS_KEY or <data>/${KEY_FILE})`);
  }
  const raw = Buffer.from(sealed, 'base64');
  if (raw.length < NONCE_BYTES + TAG_BYTES) throw new NubisError('CREDENTIAL_TAMPERED', `${what} is truncated`);
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(raw.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    return Buffer.concat([d.update(raw.subarray(NONCE_BYTES + TAG_BYTES)), d.final()]).toString('utf8');
  } catch {
    throw new NubisError('CREDENTIAL_TAMPERED', `${what} failed its integrity check (changed in the database, or copied from another credential); set it again`);
  }
}
