/**
 * Bearer-token authentication. Only the sha256 of a token is stored; the token itself is
 * shown once, in `<dataDir>/token` (mode 0600), when the first server start creates it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { NubisError } from '../errors/index.js';
import type { Store } from '../store/index.js';

/** The name of the token `ensureToken` creates; callers using it act as `user:admin`. */
export const BOOTSTRAP_TOKEN_NAME = 'admin';

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Where `ensureToken` writes the token. */
export function tokenFile(dataDir: string): string {
  return path.join(dataDir, 'token');
}

/**
 * Creates the first API token when the store has none: 32 random bytes (base64url), its
 * hash stored, the token written to `<dataDir>/token` readable by the owner only.
 * Returns the new token, or `undefined` when a token already exists. The file is written
 * (atomically, by rename) before the hash is stored, so a crash in between leaves no
 * token that nobody knows. Fails with the file system's error when the file cannot be written.
 */
export async function ensureToken(store: Store, dataDir: string): Promise<string | undefined> {
  if ((await store.tokenCount()) > 0) return undefined;
  const token = crypto.randomBytes(32).toString('base64url');
  await fs.mkdir(dataDir, { recursive: true });
  const file = tokenFile(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, token + '\n', { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
  await store.createToken(BOOTSTRAP_TOKEN_NAME, hashToken(token));
  return token;
}

export interface Authenticator {
  /** Resolves to the caller's actor (`user:<token name>`); throws UNAUTHORIZED otherwise. */
  authenticate(authorization: string | undefined): Promise<string>;
}

/**
 * Checks bearer tokens against the store. Verified hashes are remembered and later matched
 * with a constant-time comparison; an unknown hash is looked up in the store (which compares
 * hashes of secrets, so its timing says nothing about a token).
 * The caller acts as `user:<token name>` (the first token is named `admin`).
 */
export function createAuthenticator(store: Store, hint?: string): Authenticator {
  const verified: { hash: Buffer; name: string }[] = [];
  const deny = (why: string): NubisError =>
    new NubisError('UNAUTHORIZED', `${why}; send "Authorization: Bearer <token>"${hint ? ` (${hint})` : ''}`);
  return {
    async authenticate(header) {
      if (header === undefined || header.trim() === '') throw deny('missing bearer token');
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
      if (!m) throw deny('the Authorization header is not a bearer token');
      const hash = Buffer.from(hashToken(m[1]!), 'hex');
      let name: string | undefined;
      for (const v of verified) if (crypto.timingSafeEqual(v.hash, hash)) name = v.name;
      if (name === undefined) {
        name = await store.tokenName(hash.toString('hex'));
        if (name === undefined) throw deny('invalid bearer token');
        if (verified.length < 100) verified.push({ hash, name });
      }
      return `user:${name}`;
    },
  };
}
