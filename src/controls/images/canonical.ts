/**
 * The signed form of an image entry. An endorser signs the entry's metadata with ed25519 over
 * its canonical form, the UTF-8 bytes of:
 *
 *   JSON of the metadata object with its keys sorted by code point at every level, no
 *   whitespace, absent fields left out (never `null`), numbers as integers, strings as JSON
 *   writes them (RFC 8785 for the values this metadata has).
 *
 * e.g. `{"created":"2026-12-01T00:00:00.000Z","endorser":"alice","expires":"2027-06-01T00:00:00.000Z","id":"debian-12","image":"debian-12-genericcloud","os":"debian","osVersion":"12","sha256":"9f86…","sizeBytes":1024}`.
 * The server keeps the canonical text it verified next to the signature, so a check later
 * verifies exactly those bytes; editing the stored text (or the entry's columns) breaks it.
 */
import crypto from 'node:crypto';
import { NubisError } from '../../errors/index.js';

/** What an endorser vouches for. */
export interface ImageMetadata {
  /** The entry's id in the marketplace. */
  id: string;
  /** The image's id or name in the clouds (what a node template or cloud option names). */
  image: string;
  /** OS family and version, lower case. */
  os: string;
  osVersion?: string;
  sizeBytes?: number;
  /** Lower-case hex SHA-256 of the image's bytes. */
  sha256: string;
  /** The endorser's name (its public key is registered per tenant). */
  endorser: string;
  /** ISO 8601 times. */
  created: string;
  expires: string;
}

const FIELDS = ['id', 'image', 'os', 'osVersion', 'sizeBytes', 'sha256', 'endorser', 'created', 'expires'] as const;
const REQUIRED: readonly (typeof FIELDS)[number][] = ['id', 'image', 'os', 'sha256', 'endorser', 'created', 'expires'];

const bad = (path: string, expected: string, found: unknown): NubisError =>
  new NubisError('REQUEST_INVALID', `${path}: expected ${expected}, found ${JSON.stringify(found)}`);

const isoTime = (v: unknown): boolean => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(v) && Number.isFinite(Date.parse(v));

/** Checks a metadata object field by field (REQUEST_INVALID naming `at.<field>`); returns it with only the known fields. */
export function parseImageMetadata(v: unknown, at = '$.metadata'): ImageMetadata {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(at, 'an object', v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(FIELDS as readonly string[]).includes(k)) throw bad(`${at}.${k}`, `no such field (fields: ${FIELDS.join(', ')})`, o[k]);
  for (const k of REQUIRED) if (o[k] === undefined) throw bad(`${at}.${k}`, 'a value (required)', undefined);
  const name = /^[a-z0-9][a-z0-9._-]{0,99}$/i;
  if (typeof o['id'] !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(o['id'])) throw bad(`${at}.id`, 'a name of lower-case letters, digits and -', o['id']);
  if (typeof o['image'] !== 'string' || !name.test(o['image'])) throw bad(`${at}.image`, 'an image id or name', o['image']);
  if (typeof o['os'] !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(o['os'])) throw bad(`${at}.os`, 'an OS family in lower case', o['os']);
  if (o['osVersion'] !== undefined && (typeof o['osVersion'] !== 'string' || !/^[a-z0-9][a-z0-9.]{0,39}$/.test(o['osVersion']))) throw bad(`${at}.osVersion`, 'a version such as 12 or 22.04', o['osVersion']);
  if (o['sizeBytes'] !== undefined && (!Number.isSafeInteger(o['sizeBytes']) || (o['sizeBytes'] as number) < 0)) throw bad(`${at}.sizeBytes`, 'an integer ≥ 0', o['sizeBytes']);
  if (typeof o['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(o['sha256'])) throw bad(`${at}.sha256`, '64 lower-case hex digits', o['sha256']);
  if (typeof o['endorser'] !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(o['endorser'])) throw bad(`${at}.endorser`, 'an endorser name', o['endorser']);
  if (!isoTime(o['created'])) throw bad(`${at}.created`, 'an ISO 8601 UTC time (2026-12-01T00:00:00Z)', o['created']);
  if (!isoTime(o['expires'])) throw bad(`${at}.expires`, 'an ISO 8601 UTC time (2027-06-01T00:00:00Z)', o['expires']);
  if (Date.parse(o['expires'] as string) <= Date.parse(o['created'] as string)) throw bad(`${at}.expires`, 'a time after created', o['expires']);
  const out: Record<string, unknown> = {};
  for (const k of FIELDS) if (o[k] !== undefined) out[k] = o[k];
  return out as unknown as ImageMetadata;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The canonical text of the metadata (see the file comment). */
export function canonicalImageMetadata(m: ImageMetadata): string {
  return canonical(m);
}

/** Signs the canonical form with an ed25519 private key (PEM, PKCS#8); base64 signature. */
export function signImageMetadata(m: ImageMetadata, privateKeyPem: string): string {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(privateKeyPem);
  } catch {
    throw new NubisError('REQUEST_INVALID', 'the private key is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new NubisError('REQUEST_INVALID', `the private key is ${key.asymmetricKeyType ?? 'unknown'}, expected ed25519`);
  return crypto.sign(null, Buffer.from(canonicalImageMetadata(m), 'utf8'), key).toString('base64');
}

/** An ed25519 public key from PEM (SPKI); REQUEST_INVALID naming `at` otherwise. */
export function parsePublicKey(pem: unknown, at: string): crypto.KeyObject {
  if (typeof pem !== 'string' || pem.length > 4096) throw bad(at, 'an ed25519 public key in PEM', typeof pem === 'string' ? `${pem.slice(0, 40)}…` : pem);
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey(pem);
  } catch {
    throw bad(at, 'an ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----)', `${pem.slice(0, 40)}…`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw bad(at, 'an ed25519 key', key.asymmetricKeyType);
  return key;
}

/** Whether `signature` (base64) is the endorser's over exactly `text`. */
export function verifySignature(text: string, signature: string, publicKeyPem: string): boolean {
  try {
    return crypto.verify(null, Buffer.from(text, 'utf8'), crypto.createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** A short fingerprint of a public key for listings: sha256 of its DER, first 16 hex digits. */
export function keyFingerprint(publicKeyPem: string): string {
  const der = crypto.createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('hex').slice(0, 16);
}
