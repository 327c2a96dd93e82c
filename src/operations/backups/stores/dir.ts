/**
 * A directory as the long-term store. put writes `<key>.partial-<random>`, fsyncs it, renames
 * it into place and fsyncs the directory, so only complete objects are ever listed (and a
 * listed one survives a crash); a full disk is BACKUP_STORE_FULL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { NubisError } from '../../../errors/index.js';
import { digestOf } from './hashing.js';
import { checkKey, storeError } from './keys.js';
import type { BackupStore, ObjectDigest, StoredObject } from './types.js';

const PARTIAL = '.partial-';

export interface DirStoreOptions {
  /** An absolute directory; created when missing. */
  path: string;
}

/** Counts and hashes bytes as they pass. */
function digester(): { through: Transform; result: () => ObjectDigest } {
  const h = createHash('sha256');
  let size = 0;
  const through = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      size += chunk.byteLength;
      cb(null, chunk);
    },
  });
  return { through, result: () => ({ sizeBytes: size, sha256: h.digest('hex') }) };
}

/** fsyncs a directory, so a rename in it survives a crash (best effort: some file systems refuse). */
async function syncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r').catch(() => undefined);
  if (!h) return;
  await h.sync().catch(() => {});
  await h.close();
}

export function createDirStore(o: DirStoreOptions): BackupStore {
  if (!path.isAbsolute(o.path)) throw new NubisError('REQUEST_INVALID', `a directory store needs an absolute path, not ${JSON.stringify(o.path)}`);
  const root = o.path;
  const file = (key: string): string => path.join(root, ...checkKey(key).split('/'));

  async function put(key: string, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<ObjectDigest> {
    const target = file(key);
    const tmp = `${target}${PARTIAL}${randomBytes(6).toString('hex')}`;
    const d = digester();
    try {
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await pipeline(Readable.from(body), d.through, createWriteStream(tmp, { mode: 0o600, flush: true }), { signal });
      await fs.rename(tmp, target);
      await syncDir(path.dirname(target));
      return d.result();
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw storeError(e, `writing ${key} to dir:${root}`);
    }
  }

  // get() already classifies read errors
  const digest = (key: string, signal: AbortSignal): Promise<ObjectDigest> => digestOf(get(key, signal));

  async function* get(key: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of createReadStream(file(key), { signal })) yield chunk as Buffer;
    } catch (e) {
      throw storeError(e, `reading ${key} from dir:${root}`);
    }
  }

  async function list(prefix: string, signal: AbortSignal): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      signal.throwIfAborted();
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return [];
        throw storeError(e, `listing dir:${root}`);
      });
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(path.join(dir, e.name), key);
        else if (e.isFile() && !e.name.includes(PARTIAL) && key.startsWith(prefix)) {
          const st = await fs.stat(path.join(dir, e.name));
          out.push({ key, sizeBytes: st.size, storedAt: Math.floor(st.mtimeMs) });
        }
      }
    };
    await walk(root, '');
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async function remove(key: string): Promise<void> {
    await fs.rm(file(key), { force: true }).catch((e: unknown) => {
      throw storeError(e, `deleting ${key} from dir:${root}`);
    });
  }

  return { kind: 'dir', describe: `dir:${root}`, put, digest, get, list, delete: (key) => remove(key), close: async () => {} };
}
