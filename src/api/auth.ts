/**
 * Bearer-token authentication. Only the sha256 of a token is stored; the token itself is
 * shown once, in `<dataDir>/token` (mode 0600), when the first server start creates it.
 * Every token acts in one tenant: the first (`admin`) in `default`; the admin mints tokens for
 * other tenants (`POST /v1/tokens`), whose value is shown once in that answer.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { NubisError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { DEFAULT_TENANT } from '../registry/types.js';

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
  await store.createToken(BOOTSTRAP_TOKEN_NAME, hashToken(token), DEFAULT_TENANT);
  return token;
}

/** Who a verified token speaks for. */
export interface TokenIdentity {
  /** `user:<token name>`. */
  actor: string;
  /** The tenant the token acts in: the registries (clouds, offers, images, locations, credentials) it sees. */
  tenant: string;
  /** Whether the token may mint tokens for other tenants: the bootstrap `admin` of tenant `default`. */
  admin: boolean;
}

export interface Authenticator {
  /** Resolves to the caller's identity; throws UNAUTHORIZED otherwise. */
  authenticate(authorization: string | undefined): Promise<TokenIdentity>;
}

/** Whether a token of this name and tenant is the administrator (may mint tokens). */
export function isAdmin(name: string, tenant: string): boolean {
  return name === BOOTSTRAP_TOKEN_NAME && tenant === DEFAULT_TENANT;
}

/**
 * Mints a token for a tenant: 32 random bytes (base64url), only its sha256 stored. Returns
 * the token, which nobody can see again. CONFLICT when the tenant already has a token of
 * that name (so there is only ever one `admin` of `default`).
 */
export async function mintToken(store: Store, name: string, tenant: string): Promise<string> {
  if (await store.tokenExists(name, tenant)) throw new NubisError('CONFLICT', `tenant ${JSON.stringify(tenant)} already has a token named ${JSON.stringify(name)}`);
  const token = crypto.randomBytes(32).toString('base64url');
  await store.createToken(name, hashToken(token), tenant);
  return token;
}

/**
 * Checks bearer tokens against the store. Verified hashes are remembered and later matched
 * with a constant-time comparison; an unknown hash is looked up in the store (which compares
 * hashes of secrets, so its timing says nothing about a token).
 * The caller acts as `user:<token name>` (the first token is named `admin`) in the token's
 * tenant (the first token's is `default`).
 *
 * A 401 says what is wrong with the header and nothing about the server: no path, no file
 * (the CLI tells its local user where its token is).
 */
export function createAuthenticator(store: Store): Authenticator {
  const verified: { hash: Buffer; name: string; tenant: string }[] = [];
  const deny = (why: string): NubisError => new NubisError('UNAUTHORIZED', `${why}; send "Authorization: Bearer <token>"`);
  return {
    async authenticate(header) {
      if (header === undefined || header.trim() === '') throw deny('missing bearer token');
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
      if (!m) throw deny('the Authorization header is not a bearer token');
      const hash = Buffer.from(hashToken(m[1]!), 'hex');
      let owner: { name: string; tenant: string } | undefined;
      for (const v of verified) if (crypto.timingSafeEqual(v.hash, hash)) owner = { name: v.name, tenant: v.tenant };
      if (owner === undefined) {
        owner = await store.tokenOwner(hash.toString('hex'));
        if (owner === undefined) throw deny('invalid bearer token');
        if (verified.length < 100) verified.push({ hash, ...owner });
      }
      return { actor: `user:${owner.name}`, tenant: owner.tenant, admin: isAdmin(owner.name, owner.tenant) };
    },
  };
}
