/**
 * The cloudsigma driver's snapshot calls, on the CloudSigma API 2.0 "Snapshots" resource
 * (point-in-time versions of a drive): POST /snapshots/ with one object per drive (one call),
 * GET /snapshots/{uuid}/ for the status, DELETE /snapshots/{uuid}/ (204, deletion started).
 *
 * Contract:
 * - The node's boot drive (boot_order 1) is the image; with `volumes`, its other disk drives
 *   (not CD-ROMs) are parts. The tags go into each snapshot's `meta`. Ids of half-made nodes
 *   (`drive:<uuid>`) and unknown servers are CLOUD_NOT_FOUND.
 * - Status: `creating` → pending, `available` → ready, `deleting` or 404 → gone; any other
 *   status (the reference lists no error status; we read e.g. `unavailable` as one) → error.
 * - `readSnapshot` is CLOUD_UNSUPPORTED: the API has no download of a snapshot (it can only be
 *   cloned to a drive); this build does not clone and download it.
 * - `deleteSnapshot` deletes the image's and the parts' snapshots; 404 is done.
 */
import { NubisError } from '../../errors/index.js';
import type { Driver, SnapshotOp, SnapshotRef, SnapshotStatus } from '../driver.js';
import { combinedStatus } from '../snapshot-bytes.js';

export interface CloudSigmaSnapshotDeps {
  /** A call that throws the classified error unless the status is one of `okStatuses`; returns the body. */
  ok(method: string, path: string, body: unknown, signal: AbortSignal, what: string, okStatuses?: number[]): Promise<unknown>;
  now(): number;
}

interface CsSnapshot {
  uuid: string;
  status: string;
  allocated_size?: number | null;
}

interface CsServerDrive {
  boot_order?: number | null;
  drive?: { uuid?: string } | string;
}

const enc = encodeURIComponent;

/** CloudSigma snapshot status → snapshot status. */
export function cloudSigmaSnapshotStatus(status: string | undefined): SnapshotStatus {
  if (status === undefined || status === 'deleting') return 'gone';
  if (status === 'creating') return 'pending';
  return status === 'available' ? 'ready' : 'error';
}

export function cloudSigmaSnapshotCalls(deps: CloudSigmaSnapshotDeps): Pick<Driver, SnapshotOp> {
  const { ok } = deps;
  const notFound = (e: unknown): boolean => e instanceof NubisError && e.code === 'CLOUD_NOT_FOUND';
  const statusOf = async (id: string, signal: AbortSignal): Promise<SnapshotStatus> => {
    try {
      const s = (await ok('GET', `snapshots/${enc(id)}/`, undefined, signal, `get snapshot ${id}`, [200])) as CsSnapshot;
      return cloudSigmaSnapshotStatus(s.status);
    } catch (e) {
      if (notFound(e)) return 'gone';
      throw e;
    }
  };

  return {
    async snapshot(id, req, signal) {
      if (id.startsWith('drive:')) throw new NubisError('CLOUD_NOT_FOUND', `cloudsigma: ${id} is a half-made node (a drive), not a server to snapshot`);
      const server = (await ok('GET', `servers/${enc(id)}/`, undefined, signal, `get server ${id}`, [200])) as { drives?: CsServerDrive[] };
      const drives = (server.drives ?? [])
        .map((d) => ({ boot: d.boot_order === 1, uuid: typeof d.drive === 'string' ? d.drive : d.drive?.uuid }))
        .filter((d): d is { boot: boolean; uuid: string } => typeof d.uuid === 'string');
      const boot = drives.find((d) => d.boot) ?? drives[0];
      if (!boot) throw new NubisError('CLOUD_BAD_REQUEST', `cloudsigma: server ${id} has no drive to snapshot`);
      const others: string[] = [];
      if (req.volumes) {
        for (const d of drives) {
          if (d.uuid === boot.uuid) continue;
          const drive = (await ok('GET', `drives/${enc(d.uuid)}/`, undefined, signal, `get drive ${d.uuid}`, [200])) as { media?: string };
          if (drive.media !== 'cdrom') others.push(d.uuid);
        }
      }
      const objects = [boot.uuid, ...others].map((drive, i) => ({ drive, name: i === 0 ? req.name : `${req.name}-${i}`, meta: req.tags }));
      const made = (await ok('POST', 'snapshots/', { objects }, signal, `snapshot server ${id}`, [200, 201, 202])) as { objects?: CsSnapshot[] };
      const snaps = made.objects ?? [];
      if (snaps.length !== objects.length) throw new NubisError('CLOUD_INTERNAL', `cloudsigma snapshot server ${id}: asked for ${objects.length} snapshots, the answer has ${snaps.length}`);
      const at = deps.now();
      const ref: SnapshotRef = { id: snaps[0]!.uuid, kind: 'image', createdAt: at };
      const parts = snaps.slice(1).map((s): SnapshotRef => ({ id: s.uuid, kind: 'volume', createdAt: at }));
      return parts.length ? { ...ref, parts } : ref;
    },

    async snapshotStatus(ref, signal) {
      const own = await statusOf(ref.id, signal);
      if (own === 'gone') return 'gone';
      const parts: SnapshotStatus[] = [];
      for (const p of ref.parts ?? []) parts.push(await statusOf(p.id, signal));
      return combinedStatus(own, parts);
    },

    async readSnapshot(ref) {
      throw new NubisError('CLOUD_UNSUPPORTED', `cloudsigma: snapshot ${ref.id} cannot be downloaded (the API can only clone it to a drive, POST /snapshots/{uuid}/action/?do=clone); keep it in the cloud, or back up through the agent (a handler dump or listed directories)`);
    },

    async deleteSnapshot(ref, signal) {
      for (const id of [...(ref.parts ?? []).map((p) => p.id), ref.id]) {
        try {
          await ok('DELETE', `snapshots/${enc(id)}/`, undefined, signal, `delete snapshot ${id}`, [200, 202, 204]);
        } catch (e) {
          if (!notFound(e)) throw e;
        }
      }
    },
  };
}
