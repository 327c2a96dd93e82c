/**
 * Snapshot bytes checked while they stream: the size and the checksums the cloud recorded
 * (Glance's md5 `checksum` and `os_hash_value`, the sim's SHA-256) are compared at the end of the
 * stream, and a mismatch fails the iteration with CLOUD_SNAPSHOT_CORRUPT, so a short or altered
 * download can never pass as a good copy. Also: how the parts' states combine into one status.
 */
import { createHash, getHashes } from 'node:crypto';
import { NubisError } from '../errors/index.js';
import type { SnapshotStatus } from './driver.js';

export interface ExpectedBytes {
  sizeBytes?: number;
  /** Algorithm (node:crypto name: md5, sha256, sha512) → lowercase hex digest. */
  digests?: Record<string, string>;
}

/** Yields `source` unchanged; throws CLOUD_SNAPSHOT_CORRUPT at its end when size or a digest differs. */
export async function* verifiedBytes(source: AsyncIterable<Uint8Array>, expect: ExpectedBytes, what: string): AsyncGenerator<Uint8Array> {
  const known = new Set(getHashes());
  const hashes = Object.entries(expect.digests ?? {})
    .filter(([algo]) => known.has(algo))
    .map(([algo, hex]) => ({ algo, hex: hex.toLowerCase(), h: createHash(algo) }));
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    for (const x of hashes) x.h.update(chunk);
    yield chunk;
  }
  if (expect.sizeBytes !== undefined && size !== expect.sizeBytes) {
    throw new NubisError('CLOUD_SNAPSHOT_CORRUPT', `${what}: got ${size} bytes, the cloud recorded ${expect.sizeBytes}`, {
      details: { expectedBytes: expect.sizeBytes, gotBytes: size },
    });
  }
  for (const x of hashes) {
    const got = x.h.digest('hex');
    if (got !== x.hex) {
      throw new NubisError('CLOUD_SNAPSHOT_CORRUPT', `${what}: ${x.algo} of the ${size} bytes read is ${got}, the cloud recorded ${x.hex}`, {
        details: { algorithm: x.algo, expected: x.hex, got },
      });
    }
  }
}

/** One status from the image's and its parts': gone if the image is, error if any failed, pending until all are ready. */
export function combinedStatus(image: SnapshotStatus, parts: SnapshotStatus[]): SnapshotStatus {
  if (image === 'gone') return 'gone';
  const all = [image, ...parts];
  if (all.includes('error')) return 'error';
  // a part that vanished under a live image is a failed snapshot, not a good one
  if (all.includes('gone')) return 'error';
  return all.includes('pending') ? 'pending' : 'ready';
}
