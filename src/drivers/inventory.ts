/**
 * A driver's own inventory kept in one JSON file (`{ version: 1, nodes: [...] }`): the cloud's
 * record for platforms whose "cloud" is this machine or a pool of hosts (local, ssh). Writes
 * are atomic (temp file + rename, mode 0600: it may hold agent tokens) and serialised within
 * one process; two processes writing the same file at once are not guarded against.
 *
 * Failures: an unreadable file is CLOUD_INTERNAL (retryable); a corrupt one is CLOUD_INTERNAL
 * and not retryable (a person must look at it).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { NubisError } from '../errors/index.js';

export interface InventoryFile<N> {
  version: 1;
  nodes: N[];
}

export interface JsonInventory<N> {
  /** The file as it is now (queued writes may not have landed). */
  read(): InventoryFile<N>;
  /** Read-modify-write, one at a time; `fn` changes the inventory in place. */
  mutate<T>(fn: (inv: InventoryFile<N>) => T | Promise<T>): Promise<T>;
  /** Reads after queued writes have landed. */
  snapshot(): Promise<InventoryFile<N>>;
}

export function createJsonInventory<N>(path: string): JsonInventory<N> {
  let chain: Promise<unknown> = Promise.resolve();
  const read = (): InventoryFile<N> => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, nodes: [] };
      throw new NubisError('CLOUD_INTERNAL', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      const inv = JSON.parse(text) as InventoryFile<N>;
      if (!Array.isArray(inv.nodes)) throw new Error('no nodes array');
      return inv;
    } catch (e) {
      throw new NubisError('CLOUD_INTERNAL', `inventory ${path} is corrupt: ${(e as Error).message}`, { retryable: false });
    }
  };
  return {
    read,
    mutate<T>(fn: (inv: InventoryFile<N>) => T | Promise<T>): Promise<T> {
      const next = chain.then(async () => {
        const inv = read();
        const result = await fn(inv);
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
        writeFileSync(tmp, JSON.stringify(inv, null, 2), { mode: 0o600 });
        renameSync(tmp, path);
        return result;
      });
      chain = next.catch(() => {});
      return next;
    },
    async snapshot() {
      await chain;
      return read();
    },
  };
}
