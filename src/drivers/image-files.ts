/**
 * Images that are files in a directory (the `local` driver's `images` option): an image's id is
 * its file name, and its checksum the SHA-256 of the file's bytes, streamed and cached by
 * (path, size, modification time) so a changed file is read again.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NubisError } from '../errors/index.js';
import type { ImageChecksum } from './driver.js';

const cache = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

/** The checksum of `<dir>/<image>`; undefined when there is no such file. CLOUD_BAD_REQUEST for a name that is not a plain file name. */
export async function fileImageChecksum(dir: string, image: string, signal: AbortSignal): Promise<ImageChecksum | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(image)) throw new NubisError('CLOUD_BAD_REQUEST', `image ${JSON.stringify(image)}: expected a file name in ${dir}`);
  const file = path.join(dir, image);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const hit = cache.get(file);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return { sha256: hit.sha256, sizeBytes: st.size, source: `file ${file}` };
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { signal })) h.update(chunk as Buffer);
  const sha256 = h.digest('hex');
  cache.set(file, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
  return { sha256, sizeBytes: st.size, source: `file ${file}` };
}
