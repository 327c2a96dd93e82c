/** Object keys and store error classification shared by every store. */
import { NubisError, isNubisError } from '../../../errors/index.js';

/** Returns `key` when it is a safe relative path (segments of [A-Za-z0-9._-], no `.`/`..`); REQUEST_INVALID otherwise. */
export function checkKey(key: string): string {
  const segments = key.split('/');
  const ok = key.length > 0 && key.length <= 512 && segments.every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..');
  if (!ok) throw new NubisError('REQUEST_INVALID', `backup object key ${JSON.stringify(key)} must be /-separated segments of letters, digits, . _ - (no . or ..)`);
  return key;
}

/** A file-system or network error as a store error: ENOSPC/EDQUOT → BACKUP_STORE_FULL, ENOENT → NOT_FOUND. */
export function storeError(e: unknown, what: string): NubisError {
  if (isNubisError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new NubisError('BACKUP_STORE_FULL', `${what}: the store is full (${msg})`, { cause: e });
  if (code === 'ENOENT') return new NubisError('NOT_FOUND', `${what}: no such object`, { cause: e });
  if (e instanceof Error && e.name === 'AbortError') return new NubisError('ABORTED', `${what}: cancelled`, { cause: e });
  return new NubisError('BACKUP_STORE_FAILED', `${what}: ${msg}`, { cause: e });
}
