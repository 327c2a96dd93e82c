/**
 * Bearer-token authentication. Only the sha256 of a token is stored; the token itself is
 * shown once, in `<dataDir>/token` (mode 0600), when the first server start creates it.
 * Every token acts in one tenant with one role: the first (`admin`) is admin of `default`; the
 * administrator mints tokens for any tenant (`POST /v1/tokens`), a user personal ones for itself
 * (`POST /v1/me/tokens`), whose value is shown once in that answer. Who a token is, is checked
 * in src/api/access-control.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { NubisError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { DEFAULT_TENANT } from '../registry/types.js';
import type { Role } from '../users/index.js';

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

/**
 * Mints a token for a tenant with a role (default operator): 32 random bytes (base64url), only
 * its sha256 stored. Returns the token, which nobody can see again. CONFLICT when the tenant
 * already has a token of that name (so there is only ever one `admin` of `default`).
 * A personal token names its `user`: it never acts with more than the user's role in the tenant.
 */
export async function mintToken(store: Store, name: string, tenant: string, role: Role = 'operator', user?: string): Promise<string> {
  if (await store.tokenExists(name, tenant)) throw new NubisError('CONFLICT', `tenant ${JSON.stringify(tenant)} already has a token named ${JSON.stringify(name)}`);
  const token = crypto.randomBytes(32).toString('base64url');
  await store.users.createTokenFor({ id: crypto.randomUUID(), name, hash: hashToken(token), tenant, role, user: user ?? null, at: Date.now() });
  return token;
}
