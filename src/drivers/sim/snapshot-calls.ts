/**
 * The sim driver's snapshot calls over an in-process SimCloud (./snapshots.ts): the image
 * with its volume parts, the bytes checked against the recorded SHA-256 and size.
 */
import type { Driver, SnapshotOp, SnapshotRef, SnapshotStatus } from '../driver.js';
import { combinedStatus, verifiedBytes } from '../snapshot-bytes.js';
import type { SimCloud } from './cloud.js';
import type { SimSnapshot } from './snapshots.js';

function refOf(s: SimSnapshot, parts: SimSnapshot[] = []): SnapshotRef {
  return {
    id: s.id,
    kind: s.kind,
    ...(parts.length ? { parts: parts.map((p) => refOf(p)) } : {}),
    sizeBytes: s.sizeBytes,
    sha256: s.sha256,
    createdAt: s.createdAt,
  };
}

export function simSnapshotCalls(cloud: SimCloud): Pick<Driver, SnapshotOp> {
  const snaps = cloud.snapshots;
  return {
    async snapshot(id, req, signal) {
      const { snapshot, parts } = await snaps.take(id, req, signal);
      return refOf(snapshot, parts);
    },
    async snapshotStatus(ref, signal): Promise<SnapshotStatus> {
      const got = await snaps.get(ref.id, signal);
      if (!got) return 'gone';
      return combinedStatus(got.snapshot.state, got.parts.map((p) => p.state));
    },
    async readSnapshot(ref, signal) {
      const { snapshot: s, bytes } = await snaps.read(ref.id, signal);
      return verifiedBytes(bytes, { sizeBytes: s.sizeBytes, digests: { sha256: s.sha256 } }, `sim snapshot ${ref.id}`);
    },
    async deleteSnapshot(ref, signal) {
      await snaps.remove(ref.id, signal);
    },
  };
}
