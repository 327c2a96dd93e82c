/** Size and SHA-256 of a byte stream, counted as it is read. */
import { createHash } from 'node:crypto';
import type { ObjectDigest } from './types.js';

export async function digestOf(bytes: AsyncIterable<Uint8Array>): Promise<ObjectDigest> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of bytes) {
    h.update(c);
    size += c.byteLength;
  }
  return { sizeBytes: size, sha256: h.digest('hex') };
}
