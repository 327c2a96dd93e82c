/**
 * Key rotation (`nubis keys rotate`) and recovery from a rotation cut short.
 *
 * Rotation, with the server stopped: a new random key is written to `secret.key.new`, the
 * current key file is copied to `secret.key.old`, every credential of every tenant is opened
 * with the current key and sealed with the new one in ONE transaction, then `secret.key.new`
 * replaces `secret.key` and `secret.key.old` is removed. Until that last step the old key is
 * on disk, so a crash at any point leaves every credential openable: `settleKeyFiles` (run at
 * every server start) keeps whichever key file matches the key ids stored in the database.
 *
 * When the key comes from NUBIS_KEY, the new key is written to `secret.key` and the operator
 * must put it into NUBIS_KEY (or unset NUBIS_KEY) before the next start; the result says so.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Store } from '../store/index.js';
import { credentialAad, keyFilePath, keyId, open, parseKey, resolveKey, seal, writeKeyFile } from './keys.js';

export interface RotationResult {
  /** Credentials re-sealed. */
  count: number;
  oldKeyId: string;
  newKeyId: string;
  keyFile: string;
  /** True when the old key came from NUBIS_KEY, which must now be changed. */
  fromEnv: boolean;
}

function readKeyId(file: string): string | undefined {
  try {
    return keyId(parseKey(fs.readFileSync(file, 'utf8'), file));
  } catch {
    return undefined;
  }
}

/**
 * After a crash during rotation: keeps the key file that matches the database. Safe to run
 * at every start; does nothing when no rotation was interrupted.
 */
export async function settleKeyFiles(dataDir: string, store: Store): Promise<void> {
  const file = keyFilePath(dataDir);
  const ids = new Set((await store.registry.credentials()).map((r) => r.key_id));
  const next = `${file}.new`;
  if (fs.existsSync(next)) {
    const id = readKeyId(next);
    if (id !== undefined && ids.has(id)) fs.renameSync(next, file);
    else fs.rmSync(next, { force: true });
  }
  const old = `${file}.old`;
  if (fs.existsSync(old)) {
    const cur = readKeyId(file);
    if (cur !== undefined && (ids.size === 0 || ids.has(cur))) fs.rmSync(old, { force: true });
  }
}

/**
 * Rotates the key: see the module comment. Fails, changing nothing, when a credential does
 * not open with the current key (CREDENTIAL_KEY_MISMATCH or CREDENTIAL_TAMPERED).
 */
export async function rotateKey(dataDir: string, store: Store, env: NodeJS.ProcessEnv = process.env, now = Date.now()): Promise<RotationResult> {
  const current = resolveKey(dataDir, env);
  const rows = await store.registry.credentials();
  const fresh = crypto.randomBytes(32);
  const freshId = keyId(fresh);
  // open everything first: a credential that does not open stops the rotation untouched
  const resealed = rows.map((r) => {
    const aad = credentialAad(r.tenant, r.name);
    const plain = open(current.bytes, r.sealed, aad, r.key_id, `credential ${r.name} (tenant ${r.tenant})`);
    return { ...r, sealed: seal(fresh, plain, aad), key_id: freshId, updated_at: now };
  });
  const file = keyFilePath(dataDir);
  const next = `${file}.new`;
  const old = `${file}.old`;
  writeKeyFile(next, fresh);
  if (current.source === 'file') {
    fs.copyFileSync(file, old);
    fs.chmodSync(old, 0o600);
  }
  try {
    await store.registry.resealCredentials(resealed);
  } catch (e) {
    fs.rmSync(next, { force: true });
    fs.rmSync(old, { force: true });
    throw e;
  }
  fs.renameSync(next, file);
  fs.rmSync(old, { force: true });
  return { count: rows.length, oldKeyId: current.id, newKeyId: freshId, keyFile: file, fromEnv: current.source === 'env' };
}
