/**
 * The openstack driver's snapshot calls: Nova createImage of the server (a Glance image:
 * queued → saving → active; killed is a failure) and, with `volumes`, a Cinder snapshot of every
 * volume attached to it (creating → available; error is a failure), as parts.
 *
 * Contract:
 * - `snapshot` returns once Nova and Cinder accepted the requests. When a Cinder snapshot is
 *   refused, the image and the snapshots already made are deleted before the error is thrown
 *   (nothing half-made stays behind). The image carries the tags as its metadata.
 * - `snapshotStatus`: ready when the image is active and every part available; error when any
 *   is killed/error (or a part vanished); gone when the image is gone (deleted, pending_delete).
 * - `readSnapshot` streams the image file from Glance and checks its size, its md5 `checksum`
 *   and its `os_hash_value` (os_hash_algo, sha512 by default) at the end: a mismatch is
 *   CLOUD_SNAPSHOT_CORRUPT. The volume parts are not downloaded (Cinder has no download; they
 *   stay in the cloud until deleteSnapshot).
 * - `deleteSnapshot` deletes the image and every part; 404 is done.
 */
import { NubisError } from '../../errors/index.js';
import type { Driver, SnapshotOp, SnapshotRef, SnapshotStatus } from '../driver.js';
import { combinedStatus, verifiedBytes, type ExpectedBytes } from '../snapshot-bytes.js';
import { downloadImage } from './image-download.js';
import type { GlanceImage, Images, Volumes } from './services.js';
import type { OpenStackSession, RequestRecord } from './session.js';

export interface OpenStackSnapshotDeps {
  session: OpenStackSession;
  images: Images;
  volumes: Volumes;
  /** Nova createImage once the server has settled (CLOUD_NOT_FOUND for no server); returns the image id. */
  createImage(serverId: string, name: string, metadata: Record<string, string>, signal: AbortSignal): Promise<string>;
  onRequest?: (r: RequestRecord) => void;
}

/** Glance image status → snapshot status. */
export function imageSnapshotStatus(img: GlanceImage | undefined): SnapshotStatus {
  if (!img || ['deleted', 'pending_delete'].includes(img.status)) return 'gone';
  if (img.status === 'active') return 'ready';
  if (img.status === 'killed') return 'error';
  return 'pending';
}

/** Cinder snapshot status → snapshot status. */
export function volumeSnapshotStatus(s: { status: string } | undefined): SnapshotStatus {
  if (!s || s.status === 'deleted' || s.status === 'deleting') return 'gone';
  if (s.status === 'available') return 'ready';
  if (/^error/.test(s.status)) return 'error';
  return 'pending';
}

/** What Glance recorded about the image's bytes. */
function expectedOf(img: GlanceImage): ExpectedBytes {
  const digests: Record<string, string> = {};
  if (typeof img['checksum'] === 'string') digests['md5'] = img['checksum'];
  const algo = img['os_hash_algo'];
  const value = img['os_hash_value'];
  if (typeof algo === 'string' && typeof value === 'string') digests[algo] = value;
  const size = img['size'];
  return { ...(typeof size === 'number' ? { sizeBytes: size } : {}), digests };
}

export function openStackSnapshotCalls(deps: OpenStackSnapshotDeps): Pick<Driver, SnapshotOp> {
  const { images, volumes } = deps;
  const partStatus = async (p: SnapshotRef, signal: AbortSignal): Promise<SnapshotStatus> =>
    p.kind === 'volume' ? volumeSnapshotStatus(await volumes.getSnapshot(p.id, signal)) : imageSnapshotStatus(await images.get(p.id, signal));
  const remove = async (ref: SnapshotRef, signal: AbortSignal): Promise<void> => {
    for (const p of ref.parts ?? []) await remove(p, signal);
    if (ref.kind === 'volume') await volumes.deleteSnapshot(ref.id, signal);
    else await images.delete(ref.id, signal);
  };

  return {
    async snapshot(id, req, signal) {
      const attached = req.volumes ? (await volumes.list(undefined, signal)).filter((v) => v.attachments?.some((a) => a.server_id === id)) : [];
      const imageId = await deps.createImage(id, req.name, { ...req.tags, 'nubis-source-server': id }, signal);
      const ref: SnapshotRef = { id: imageId, kind: 'image', createdAt: Date.now() };
      const parts: SnapshotRef[] = [];
      try {
        for (const v of attached) {
          const s = await volumes.createSnapshot({ volumeId: v.id, name: `${req.name}-${v.id.slice(0, 8)}`, metadata: req.tags, force: true }, signal);
          parts.push({ id: s.id, kind: 'volume', ...(s.size ? { sizeBytes: s.size * 2 ** 30 } : {}), createdAt: Date.now() });
        }
      } catch (e) {
        await remove({ ...ref, parts }, new AbortController().signal).catch(() => {});
        throw e;
      }
      return parts.length ? { ...ref, parts } : ref;
    },

    async snapshotStatus(ref, signal) {
      const own = await partStatus(ref, signal);
      if (own === 'gone') return 'gone';
      const parts: SnapshotStatus[] = [];
      for (const p of ref.parts ?? []) parts.push(await partStatus(p, signal));
      return combinedStatus(own, parts);
    },

    async readSnapshot(ref, signal) {
      if (ref.kind !== 'image') throw new NubisError('CLOUD_UNSUPPORTED', `openstack: volume snapshot ${ref.id} cannot be downloaded (Cinder has no download); read its image`);
      const img = await images.get(ref.id, signal);
      const status = imageSnapshotStatus(img);
      if (!img || status === 'gone') throw new NubisError('CLOUD_NOT_FOUND', `openstack: image ${ref.id} is gone`);
      if (status !== 'ready') throw new NubisError('CLOUD_CONFLICT', `openstack: image ${ref.id} is ${img.status}, not active: nothing to download yet`, { retryable: status === 'pending' });
      const bytes = await downloadImage(deps.session, ref.id, signal, deps.onRequest);
      return verifiedBytes(bytes, expectedOf(img), `openstack image ${ref.id}`);
    },

    async deleteSnapshot(ref, signal) {
      await remove(ref, signal);
    },
  };
}
