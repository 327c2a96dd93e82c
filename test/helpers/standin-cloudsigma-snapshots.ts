/**
 * The CloudSigma stand-in's snapshots (test/helpers/standin-cloudsigma.ts), from the CloudSigma
 * API 2.0 documentation, "Snapshots": GET /snapshots/ and /snapshots/detail/ (paginated),
 * GET /snapshots/{uuid}/, POST /snapshots/ (`{"objects": [{drive, name, meta}]}`, 201, each
 * snapshot `creating` with `allocated_size` null), DELETE /snapshots/{uuid}/ (204). The drive is
 * required and must exist (400 validation at `drive`).
 * Stated assumptions (the reference shows only `creating` and `available`): a snapshot becomes
 * `available` after `snapshotMs`; one the test made fail (`failSnapshots`) becomes `unavailable`.
 */
import { randomUUID } from 'node:crypto';

export interface CsStandinSnapshot {
  uuid: string;
  drive: string;
  name: string;
  meta: Record<string, string>;
  created: number;
  fails: boolean;
}

export interface SnapshotKit {
  error(status: number, message: string, point?: string): Error;
  paged(objs: unknown[], q: URLSearchParams): Record<string, unknown>;
  driveExists(uuid: string): boolean;
  owner: unknown;
}

export function createCsSnapshots(kit: SnapshotKit, snapshotMs: number) {
  const snapshots = new Map<string, CsStandinSnapshot>();
  let toFail = 0;
  const status = (s: CsStandinSnapshot): string => (Date.now() - s.created < snapshotMs ? 'creating' : s.fails ? 'unavailable' : 'available');
  const json = (s: CsStandinSnapshot): Record<string, unknown> => ({
    uuid: s.uuid, name: s.name, meta: s.meta, status: status(s), timestamp: new Date(s.created).toISOString(), allocated_size: status(s) === 'creating' ? null : 0,
    drive: { uuid: s.drive, resource_uri: `/api/2.0/drives/${s.drive}/` }, owner: kit.owner, resource_uri: `/api/2.0/snapshots/${s.uuid}/`, tags: [], grantees: [], permissions: [],
  });
  const need = (uuid: string): CsStandinSnapshot => {
    const s = snapshots.get(uuid);
    if (!s) throw kit.error(404, `Object with uuid ${uuid} does not exist`);
    return s;
  };

  return {
    snapshots,
    failSnapshots(n = 1) {
      toFail += n;
    },
    route(method: string, id: string | undefined, q: URLSearchParams, body: Record<string, unknown>): { op: string; run: () => [number, unknown] } {
      if (!id || id === 'detail') {
        if (method === 'GET') return { op: 'snapshots.list', run: () => [200, kit.paged([...snapshots.values()].map(json), q)] };
        if (method === 'POST' && !id) {
          return { op: 'snapshots.create', run: () => {
            const objs = (body['objects'] as Array<Record<string, unknown>> | undefined) ?? [];
            if (!objs.length) throw kit.error(400, 'objects: at least one snapshot is required', 'objects');
            const drivesOf = objs.map((o) => {
              const d = o['drive'];
              const uuid = typeof d === 'string' ? d : (d as { uuid?: string } | undefined)?.uuid;
              if (!uuid) throw kit.error(400, 'This field is required', 'drive');
              if (!kit.driveExists(uuid)) throw kit.error(400, `Drive ${uuid} does not exist`, 'drive');
              return uuid;
            });
            const made = objs.map((o, i) => {
              const fails = toFail > 0;
              if (fails && i === objs.length - 1) toFail--;
              const s: CsStandinSnapshot = { uuid: randomUUID(), drive: drivesOf[i]!, name: typeof o['name'] === 'string' ? o['name'] : '', meta: (o['meta'] as Record<string, string>) ?? {}, created: Date.now(), fails };
              snapshots.set(s.uuid, s);
              return json(s);
            });
            return [201, { objects: made }];
          } };
        }
        throw kit.error(405, `Method ${method} not allowed on /snapshots/`);
      }
      if (method === 'GET') return { op: 'snapshots.get', run: () => [200, json(need(id))] };
      if (method === 'DELETE') return { op: 'snapshots.delete', run: () => {
        need(id);
        snapshots.delete(id);
        return [204, undefined];
      } };
      throw kit.error(405, `Method ${method} not allowed on /snapshots/${id}/`);
    },
  };
}
