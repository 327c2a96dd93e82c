/**
 * An HTTP stand-in for the CloudSigma API 2.0, for driver tests (CloudSigma cannot run here).
 *
 * Built from the published CloudSigma API 2.0 documentation (cloudsigma-docs: general,
 * pagination, errors, servers, drives, tags, subscriptions, networking: vlans and ips) and
 * seed 000 §2.6, §4.1 and §5.2:
 * - Pagination ("Pagination"): `limit` (default 20; 0 means all) and `offset`; answers are
 *   `{"meta": {"limit", "offset", "total_count"}, "objects": […]}`.
 * - Errors ("Errors"; seed 000 §4.1): a list `[{"error_point", "error_type", "error_message"}]`
 *   with 400 validation, 401 (bad credentials), 402 billing, 403 permission, 404 notexist,
 *   405 (method not allowed on the URL), 406 (Accept not json/xml/any), 500 backend, 503
 *   concurrency.
 * - Servers ("Servers"): GET /servers/, /servers/detail/, /servers/{uuid}/; POST /servers/
 *   (`{"objects": […]}`, 201); PUT /servers/{uuid}/ (name, cpu, mem, vnc_password required;
 *   `meta` and `tags` replaced); DELETE /servers/{uuid}/?recurse=all_drives|disks|cdroms (204);
 *   POST /servers/{uuid}/action/?do=start|stop|shutdown|clone (202; clone answers the new
 *   server, `stopped`, with cloned disks and the source's CD-ROMs attached, IPs set to DHCP).
 *   `bulk_clone_start` as in seed 000 Listing 10: body `{"count", "auto_start"}`, answer
 *   `{"tags": [<uuid of a tag grouping the clones>]}`.
 * - Drives ("Drives"): GET /drives/, /drives/detail/, /drives/{uuid}/; DELETE /drives/{uuid}/
 *   (204); POST /drives/{uuid}/action/?do=clone (202, `{"objects": [drive]}`).
 * - Asynchronous cloning ("Drives → Cloning", "Servers → Cloning": 202 "Action accepted,
 *   execution is proceeding"; the example answer of a drive clone shows the new drive in status
 *   `cloning_dst` with a background job; drives in a clone's source are `cloning_src`, as the
 *   drive states of the "Drive State Diagram"): a drive clone answers at once with the new drive
 *   `cloning_dst` and its source `cloning_src`; both end (`unmounted`, or `mounted` on a running
 *   server) after `cloneMs`. A server clone answers the new server `stopped` at once, with its
 *   cloned disks `cloning_dst` likewise. Bulk clones (seed 000 Listing 10) stay synchronous.
 * - Tags ("Tags"): GET/POST /tags/, GET/PUT/DELETE /tags/{uuid}/, GET /tags/{uuid}/servers/;
 *   a server's `tags` list and a tag's `resources` list are two views of one relation.
 * - Billing: GET /subscriptions/, /vlans/(detail/), /ips/(detail/).
 * - Snapshots ("Snapshots"): ./standin-cloudsigma-snapshots.ts.
 * Stated assumptions (not in the text we worked from): deleting a server that is not stopped is
 * refused with 403 permission; start and stop take `transitionMs` of wall time (starting →
 * running, stopping → stopped); a running server gets an IP from 10.0.0.0/8 in its runtime
 * (127.0.0.1 with `runtimeIp: 'loopback'`, for engine tests that dial agents); starting a server
 * with a drive still `cloning_dst`, and deleting a drive (or a server with recurse over a drive)
 * still cloning, are refused with 403 permission. Eventual consistency: the reference documents
 * none (reads after a write show it), so none is modelled.
 *
 * Test controls: `fail(op, { status, type?, message?, count? })` where op is `servers.list`,
 * `servers.get`, `servers.update`, `servers.delete`, `servers.start`, `servers.stop`,
 * `servers.clone`, `servers.bulk_clone_start`, `tags.list`, `tags.create`, `drives.clone`,
 * `drives.delete`, … (resource.verb); `received(op)` counts the requests of an op that arrived
 * (failed ones included); `requests` is the request log (method, path and query, body; never
 * headers) and `timeline` the same with arrival times (ms); `servers()`,
 * `drives()`, `tags()` are the inventory; `addVlan`, `addIp`, `addSubscription` seed billing.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createCsSnapshots, type CsStandinSnapshot } from './standin-cloudsigma-snapshots.js';

export interface CsStandinServer {
  uuid: string;
  name: string;
  cpu: number;
  mem: number;
  vnc_password: string;
  status: 'stopped' | 'starting' | 'running' | 'stopping';
  since: number;
  meta: Record<string, string>;
  drives: string[];
  ip?: string;
}

export interface CsStandinDrive {
  uuid: string;
  name: string;
  media: 'disk' | 'cdrom';
  size: number;
  /** `unmounted`, `cloning_dst` (a clone being copied) or `cloning_src` (being copied from); `mounted` is derived. */
  status: string;
  /** When a `cloning_dst` drive is complete, or a `cloning_src` drive is free again (ms since the epoch). */
  until?: number;
}

export interface CsFailure {
  status: number;
  type?: string;
  message?: string;
  count?: number;
}

export interface CloudSigmaStandinOptions {
  username: string;
  password: string;
  /** Accepted as `Authorization: Bearer <token>` too. */
  token?: string;
  transitionMs?: number;
  /** How long a clone's copy takes (drive and server clones). Default 40 ms; 0 makes clones synchronous. */
  cloneMs?: number;
  /** How long a snapshot is `creating` (./standin-cloudsigma-snapshots.ts). Default 40 ms. */
  snapshotMs?: number;
  /** The runtime IP of running servers: `private` (10.0.0.0/8, default) or `loopback` (127.0.0.1). */
  runtimeIp?: 'private' | 'loopback';
}

export interface CloudSigmaStandin {
  /** The API base, ending in /api/2.0/. */
  url: string;
  requests: string[];
  /** Every request with its arrival time: `{ at, op, line }`. */
  timeline: Array<{ at: number; op: string; line: string }>;
  /** How many requests of `op` (such as `servers.clone`) arrived, failed ones included. */
  received(op: string): number;
  servers(): CsStandinServer[];
  drives(): CsStandinDrive[];
  tags(): Array<{ uuid: string; name: string; resources: string[] }>;
  /** A stopped server with one disk and one CD-ROM, to clone from. Returns its uuid. */
  addSourceServer(name?: string): string;
  addDrive(name: string, media?: 'disk' | 'cdrom'): string;
  addVlan(servers?: string[]): string;
  addIp(server?: string): string;
  addSubscription(resource: string, subscribedObject: string | null): string;
  fail(op: string, f: CsFailure): void;
  /** Snapshots (POST/GET/DELETE /snapshots/), and making the next `n` POSTs' snapshots end `unavailable`. */
  snapshots(): CsStandinSnapshot[];
  failSnapshots(n?: number): void;
  close(): Promise<void>;
}

const TYPE_FOR: Record<number, string> = { 400: 'validation', 401: 'permission', 402: 'billing', 403: 'permission', 404: 'notexist', 405: 'validation', 406: 'validation', 500: 'backend', 503: 'concurrency' };

class CsError extends Error {
  constructor(readonly status: number, message: string, readonly type = TYPE_FOR[status] ?? 'backend', readonly point: string | null = null) {
    super(message);
  }
}

export async function startCloudSigmaStandin(opts: CloudSigmaStandinOptions): Promise<CloudSigmaStandin> {
  const transitionMs = opts.transitionMs ?? 30;
  const cloneMs = opts.cloneMs ?? 40;
  const timeline: Array<{ at: number; op: string; line: string }> = [];
  const servers = new Map<string, CsStandinServer>();
  const drives = new Map<string, CsStandinDrive>();
  const tags = new Map<string, { uuid: string; name: string; resources: string[]; meta: Record<string, string> }>();
  const vlans = new Map<string, { servers: string[]; subscription: number | null }>();
  const ips = new Map<string, { server: string | null; subscription: number | null }>();
  const subscriptions: Array<{ id: number; resource: string; subscribed_object: string | null }> = [];
  const failures = new Map<string, CsFailure & { left: number }>();
  const requests: string[] = [];
  const owner = { uuid: randomUUID(), resource_uri: '/api/2.0/user/x/' };
  let ipSeq = 1;
  let subSeq = 10;
  const basic = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;

  const settle = (s: CsStandinServer): CsStandinServer => {
    if (Date.now() - s.since >= transitionMs) {
      if (s.status === 'starting') s.status = 'running';
      else if (s.status === 'stopping') s.status = 'stopped';
    }
    if (s.status === 'running' && !s.ip) s.ip = opts.runtimeIp === 'loopback' ? '127.0.0.1' : `10.0.${Math.floor(ipSeq / 250)}.${ipSeq++ % 250}`;
    if (s.status === 'stopped') delete s.ip;
    return s;
  };
  const tagRefs = (uuid: string): Array<{ uuid: string; resource_uri: string }> =>
    [...tags.values()].filter((t) => t.resources.includes(uuid)).map((t) => ({ uuid: t.uuid, resource_uri: `/api/2.0/tags/${t.uuid}/` }));
  const serverJson = (s: CsStandinServer): Record<string, unknown> => {
    settle(s);
    return {
      uuid: s.uuid, name: s.name, cpu: s.cpu, mem: s.mem, vnc_password: s.vnc_password, status: s.status, meta: s.meta,
      owner, resource_uri: `/api/2.0/servers/${s.uuid}/`, tags: tagRefs(s.uuid),
      drives: s.drives.map((d, i) => ({ boot_order: i + 1, dev_channel: `0:${i}`, device: 'virtio', drive: { uuid: d, resource_uri: `/api/2.0/drives/${d}/` } })),
      nics: [{ ip_v4_conf: { conf: 'dhcp', ip: null }, model: 'virtio', vlan: null }],
      runtime: s.status === 'running' ? { status: 'running', nics: [{ interface_type: 'public', ip_v4: { uuid: s.ip } }] } : null,
    };
  };
  /** Ends copies whose time has come. */
  const settleDrive = (d: CsStandinDrive): CsStandinDrive => {
    if ((d.status === 'cloning_dst' || d.status === 'cloning_src') && Date.now() >= (d.until ?? 0)) {
      d.status = 'unmounted';
      delete d.until;
    }
    return d;
  };
  const cloning = (uuid: string): boolean => {
    const d = drives.get(uuid);
    return d !== undefined && settleDrive(d).status.startsWith('cloning_');
  };
  /** A copy of `src` named `name`: complete after `cloneMs` (the answer comes at once). */
  const copyDrive = (src: CsStandinDrive, name: string): CsStandinDrive => {
    const c: CsStandinDrive = { ...src, uuid: randomUUID(), name, status: 'unmounted' };
    delete c.until;
    if (cloneMs > 0) {
      const until = Date.now() + cloneMs;
      Object.assign(c, { status: 'cloning_dst', until });
      settleDrive(src);
      src.until = Math.max(src.until ?? 0, until);
      src.status = 'cloning_src';
    }
    drives.set(c.uuid, c);
    return c;
  };
  const driveJson = (d: CsStandinDrive): Record<string, unknown> => ({
    ...settleDrive(d),
    status: d.status === 'unmounted' && [...servers.values()].some((s) => s.drives.includes(d.uuid) && settle(s).status !== 'stopped') ? 'mounted' : d.status,
    owner, resource_uri: `/api/2.0/drives/${d.uuid}/`, tags: tagRefs(d.uuid),
    mounted_on: [...servers.values()].filter((s) => s.drives.includes(d.uuid)).map((s) => ({ uuid: s.uuid })),
  });
  const tagJson = (t: { uuid: string; name: string; resources: string[]; meta: Record<string, string> }): Record<string, unknown> => ({
    uuid: t.uuid, name: t.name, meta: t.meta, owner, resource_uri: `/api/2.0/tags/${t.uuid}/`,
    resources: t.resources.map((r) => ({ uuid: r, res_type: servers.has(r) ? 'servers' : drives.has(r) ? 'drives' : vlans.has(r) ? 'vlans' : 'ips', owner })),
  });

  const paged = (objs: unknown[], q: URLSearchParams): Record<string, unknown> => {
    const limit = q.has('limit') ? Number(q.get('limit')) : 20;
    const offset = q.has('offset') ? Number(q.get('offset')) : 0;
    if (!Number.isInteger(limit) || limit < 0 || !Number.isInteger(offset) || offset < 0) throw new CsError(400, 'limit and offset must be non-negative integers', 'validation', 'limit');
    return { meta: { limit, offset, total_count: objs.length }, objects: limit === 0 ? objs.slice(offset) : objs.slice(offset, offset + limit) };
  };
  const needServer = (uuid: string): CsStandinServer => {
    const s = servers.get(uuid);
    if (!s) throw new CsError(404, `Object with uuid ${uuid} does not exist`);
    return settle(s);
  };
  const setTagsOf = (uuid: string, ids: string[]): void => {
    for (const id of ids) if (!tags.has(id)) throw new CsError(400, `Tag ${id} does not exist`, 'validation', 'tags');
    for (const t of tags.values()) {
      const has = t.resources.includes(uuid);
      const want = ids.includes(t.uuid);
      if (has && !want) t.resources = t.resources.filter((r) => r !== uuid);
      if (!has && want) t.resources.push(uuid);
    }
  };
  const cloneServer = (src: CsStandinServer, name: string, async = true): CsStandinServer => {
    const copied = src.drives.map((d) => {
      const drive = drives.get(d)!;
      if (drive.media === 'cdrom') return d;
      if (async) return copyDrive(drive, `${drive.name}-clone`).uuid;
      const c: CsStandinDrive = { ...drive, uuid: randomUUID(), name: `${drive.name}-clone`, status: 'unmounted' };
      drives.set(c.uuid, c);
      return c.uuid;
    });
    const s: CsStandinServer = { ...src, uuid: randomUUID(), name, status: 'stopped', since: Date.now(), meta: { ...src.meta }, drives: copied, vnc_password: randomUUID().slice(0, 8) };
    delete s.ip;
    servers.set(s.uuid, s);
    return s;
  };
  const transition = (s: CsStandinServer, to: CsStandinServer['status']): void => {
    s.status = to;
    s.since = Date.now();
  };

  const snaps = createCsSnapshots({ error: (status, message, point) => new CsError(status, message, undefined, point ?? null), paged: (o, q) => paged(o, q), driveExists: (u) => drives.has(u), owner }, opts.snapshotMs ?? 40);

  /** Routes: returns [status, body]; the op name is for error injection. */
  function route(method: string, parts: string[], q: URLSearchParams, body: Record<string, unknown>): { op: string; run: () => [number, unknown] } {
    const [res, id, sub] = parts;
    if (res === 'snapshots') return snaps.route(method, id, q, body);
    const notAllowed = (): never => {
      throw new CsError(405, `Method ${method} not allowed on /${parts.join('/')}/`);
    };
    if (res === 'servers') {
      if (!id || id === 'detail') {
        if (method === 'GET') return { op: 'servers.list', run: () => [200, paged([...servers.values()].map((s) => (id ? serverJson(s) : { uuid: s.uuid, name: s.name, status: settle(s).status, owner, resource_uri: `/api/2.0/servers/${s.uuid}/` })), q)] };
        if (method === 'POST' && !id) {
          return { op: 'servers.create', run: () => {
            const objs = (body['objects'] as Array<Record<string, unknown>> | undefined) ?? [];
            const made = objs.map((o) => {
              if (typeof o['name'] !== 'string' || typeof o['cpu'] !== 'number' || typeof o['mem'] !== 'number' || typeof o['vnc_password'] !== 'string') {
                throw new CsError(400, 'This field is required', 'validation', 'name, cpu, mem, vnc_password');
              }
              const ds = ((o['drives'] as Array<{ drive: string | { uuid: string } }> | undefined) ?? []).map((d) => (typeof d.drive === 'string' ? d.drive : d.drive.uuid));
              for (const d of ds) if (!drives.has(d)) throw new CsError(400, `Drive ${d} does not exist`, 'validation', 'drives');
              const s: CsStandinServer = { uuid: randomUUID(), name: o['name'], cpu: o['cpu'], mem: o['mem'], vnc_password: o['vnc_password'], status: 'stopped', since: Date.now(), meta: (o['meta'] as Record<string, string>) ?? {}, drives: ds };
              servers.set(s.uuid, s);
              return serverJson(s);
            });
            return [201, { objects: made }];
          } };
        }
        return notAllowed();
      }
      if (sub === 'action') {
        const what = q.get('do') ?? '';
        if (method !== 'POST') return notAllowed();
        return { op: `servers.${what}`, run: () => {
          const s = needServer(id);
          switch (what) {
            case 'start': {
              if (s.status === 'running' || s.status === 'starting') throw new CsError(403, 'Cannot start a server which is not stopped', 'permission', 'status');
              const busy = s.drives.find(cloning);
              if (busy) throw new CsError(403, `Cannot start the server: drive ${busy} is being cloned`, 'permission', 'drives');
              transition(s, 'starting');
              return [202, { action: 'start', result: 'success', uuid: s.uuid }];
            }
            case 'stop':
            case 'shutdown':
              if (s.status === 'stopped') throw new CsError(403, 'Cannot stop a server which is not running', 'permission', 'status');
              transition(s, 'stopping');
              return [202, { action: what, result: 'success', uuid: s.uuid }];
            case 'clone':
              return [202, serverJson(cloneServer(s, typeof body['name'] === 'string' ? body['name'] : `${s.name}-clone`))];
            case 'bulk_clone_start': {
              const count = Number(body['count']);
              if (!Number.isInteger(count) || count < 1) throw new CsError(400, 'count must be a positive integer', 'validation', 'count');
              const group = { uuid: randomUUID(), name: `bulk_clone_${s.uuid}_${Date.now()}`, resources: [] as string[], meta: {} };
              tags.set(group.uuid, group);
              for (let i = 0; i < count; i++) {
                const c = cloneServer(s, `${s.name}-${i + 1}`, false);
                group.resources.push(c.uuid);
                if (body['auto_start'] === true || body['auto_start'] === 'true') transition(c, 'starting');
              }
              return [202, { tags: [group.uuid] }];
            }
            default:
              throw new CsError(400, `Unknown action ${what}`, 'validation', 'do');
          }
        } };
      }
      if (method === 'GET') return { op: 'servers.get', run: () => [200, serverJson(needServer(id))] };
      if (method === 'PUT') {
        return { op: 'servers.update', run: () => {
          const s = needServer(id);
          if (typeof body['name'] !== 'string' || typeof body['cpu'] !== 'number' || typeof body['mem'] !== 'number' || typeof body['vnc_password'] !== 'string') {
            throw new CsError(400, 'This field is required', 'validation', 'name, cpu, mem, vnc_password');
          }
          s.name = body['name'];
          if (s.status === 'stopped') {
            s.cpu = body['cpu'];
            s.mem = body['mem'];
          }
          if (body['meta'] !== undefined) s.meta = body['meta'] as Record<string, string>;
          if (Array.isArray(body['tags'])) setTagsOf(s.uuid, (body['tags'] as Array<string | { uuid: string }>).map((t) => (typeof t === 'string' ? t : t.uuid)));
          return [200, serverJson(s)];
        } };
      }
      if (method === 'DELETE') {
        return { op: 'servers.delete', run: () => {
          const s = needServer(id);
          if (s.status !== 'stopped') throw new CsError(403, 'Cannot delete a server which is not stopped', 'permission', 'status');
          const recurse = q.get('recurse');
          if (recurse !== null && !['all_drives', 'disks', 'cdroms'].includes(recurse)) throw new CsError(400, 'recurse must be all_drives, disks or cdroms', 'validation', 'recurse');
          const busy = recurse === null ? undefined : s.drives.find(cloning);
          if (busy) throw new CsError(403, `Cannot delete drive ${busy} while it is being cloned`, 'permission', 'recurse');
          for (const d of s.drives) {
            const media = drives.get(d)?.media;
            if (recurse === 'all_drives' || (recurse === 'disks' && media === 'disk') || (recurse === 'cdroms' && media === 'cdrom')) {
              // a deleted drive is gone for every server it was attached to (a clone shares its source's CD-ROMs)
              drives.delete(d);
              for (const other of servers.values()) other.drives = other.drives.filter((x) => x !== d);
            }
          }
          servers.delete(s.uuid);
          setTagsOf(s.uuid, []);
          for (const v of vlans.values()) v.servers = v.servers.filter((x) => x !== s.uuid);
          for (const p of ips.values()) if (p.server === s.uuid) p.server = null;
          return [204, undefined];
        } };
      }
      return notAllowed();
    }
    if (res === 'drives') {
      if (!id || id === 'detail') {
        if (method !== 'GET') return notAllowed();
        return { op: 'drives.list', run: () => [200, paged([...drives.values()].map(driveJson), q)] };
      }
      if (sub === 'action' && method === 'POST' && q.get('do') === 'clone') {
        return { op: 'drives.clone', run: () => {
          const d = drives.get(id);
          if (!d) throw new CsError(404, `Object with uuid ${id} does not exist`);
          const c = copyDrive(d, typeof body['name'] === 'string' ? body['name'] : `${d.name}-clone`);
          return [202, { objects: [driveJson(c)] }];
        } };
      }
      if (method === 'GET') return { op: 'drives.get', run: () => {
        const d = drives.get(id);
        if (!d) throw new CsError(404, `Object with uuid ${id} does not exist`);
        return [200, driveJson(d)];
      } };
      if (method === 'DELETE') return { op: 'drives.delete', run: () => {
        const d = drives.get(id);
        if (!d) throw new CsError(404, `Object with uuid ${id} does not exist`);
        if (cloning(id)) throw new CsError(403, `Cannot delete drive ${id} while it is being cloned`, 'permission', 'status');
        drives.delete(id);
        for (const other of servers.values()) other.drives = other.drives.filter((x) => x !== id);
        setTagsOf(id, []);
        return [204, undefined];
      } };
      return notAllowed();
    }
    if (res === 'tags') {
      if (!id) {
        if (method === 'GET') return { op: 'tags.list', run: () => [200, paged([...tags.values()].map(tagJson), q)] };
        if (method === 'POST') {
          return { op: 'tags.create', run: () => {
            const made = ((body['objects'] as Array<{ name?: string; resources?: string[] }>) ?? []).map((o) => {
              if (typeof o.name !== 'string' || o.name === '') throw new CsError(400, 'This field is required', 'validation', 'name');
              const t = { uuid: randomUUID(), name: o.name, resources: [...(o.resources ?? [])], meta: {} };
              tags.set(t.uuid, t);
              return tagJson(t);
            });
            return [201, { objects: made }];
          } };
        }
        return notAllowed();
      }
      const t = tags.get(id);
      const need = (): NonNullable<typeof t> => {
        if (!t) throw new CsError(404, `Object with uuid ${id} does not exist`);
        return t;
      };
      if (sub === 'servers' && method === 'GET') {
        return { op: 'tags.servers', run: () => [200, paged(need().resources.filter((r) => servers.has(r)).map((r) => {
          const s = settle(servers.get(r)!);
          return { uuid: s.uuid, name: s.name, status: s.status, owner, runtime: null, resource_uri: { uuid: s.uuid, resource_uri: `/api/2.0/servers/${s.uuid}/` } };
        }), q)] };
      }
      if (method === 'GET') return { op: 'tags.get', run: () => [200, tagJson(need())] };
      if (method === 'PUT') return { op: 'tags.update', run: () => {
        const x = need();
        if (typeof body['name'] === 'string') x.name = body['name'];
        if (Array.isArray(body['resources'])) x.resources = (body['resources'] as string[]).slice();
        return [200, tagJson(x)];
      } };
      if (method === 'DELETE') return { op: 'tags.delete', run: () => {
        need();
        tags.delete(id);
        return [204, undefined];
      } };
      return notAllowed();
    }
    if (res === 'subscriptions') {
      if (method !== 'GET') return notAllowed();
      return { op: 'subscriptions.list', run: () => [200, paged(subscriptions.map((s) => ({
        ...s, id: String(s.id), amount: '1', auto_renew: true, status: 'active', end_time: '2030-01-01T00:00:00+00:00', resource_uri: `/api/2.0/subscriptions/${s.id}/`,
      })), q)] };
    }
    if (res === 'vlans') {
      if (method !== 'GET') return notAllowed();
      return { op: 'vlans.list', run: () => [200, paged([...vlans].map(([uuid, v]) => ({
        uuid, owner, meta: {}, tags: tagRefs(uuid), servers: v.servers.map((s) => ({ uuid: s, resource_uri: `/api/2.0/servers/${s}/` })),
        subscription: v.subscription === null ? null : { id: v.subscription, resource_uri: `/api/2.0/subscriptions/${v.subscription}/` },
        resource_uri: `/api/2.0/vlans/${uuid}/`,
      })), q)] };
    }
    if (res === 'ips') {
      if (method !== 'GET') return notAllowed();
      return { op: 'ips.list', run: () => [200, paged([...ips].map(([uuid, p]) => ({
        uuid, owner, meta: {}, tags: tagRefs(uuid), netmask: 24, gateway: '185.12.6.1',
        server: p.server === null ? null : { uuid: p.server, resource_uri: `/api/2.0/servers/${p.server}/` },
        subscription: p.subscription === null ? null : { id: p.subscription, resource_uri: `/api/2.0/subscriptions/${p.subscription}/` },
        resource_uri: `/api/2.0/ips/${uuid}/`,
      })), q)] };
    }
    if (res === 'profile') {
      if (method === 'GET') return { op: 'profile.get', run: () => [200, { uuid: owner.uuid, email: 'standin@example.invalid' }] };
      return notAllowed();
    }
    throw new CsError(404, `No such resource /${parts.join('/')}/`);
  }

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    if (body === undefined) {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, text: string): void => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${u.pathname}${u.search} ${text}`);
    try {
      const auth = req.headers['authorization'];
      if (auth !== basic && !(opts.token && auth === `Bearer ${opts.token}`)) throw new CsError(401, 'Authentication credentials were not provided or are incorrect', 'permission');
      const accept = req.headers['accept'] ?? '*/*';
      if (!/application\/json|application\/xml|\*\/\*/.test(accept)) throw new CsError(406, `Cannot produce ${accept}`);
      if (!u.pathname.startsWith('/api/2.0/')) throw new CsError(404, 'No such API');
      const parts = u.pathname.slice('/api/2.0/'.length).split('/').filter(Boolean);
      let body: Record<string, unknown> = {};
      if (text) {
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          throw new CsError(400, 'The request body is not valid JSON', 'validation');
        }
      }
      const r = route(req.method ?? 'GET', parts, u.searchParams, body);
      timeline.push({ at: Date.now(), op: r.op, line: requests[requests.length - 1]! });
      const f = failures.get(r.op);
      if (f && f.left > 0) {
        f.left--;
        throw new CsError(f.status, f.message ?? `injected ${f.status}`, f.type ?? TYPE_FOR[f.status] ?? 'backend');
      }
      const [status, out] = r.run();
      send(res, status, out);
    } catch (e) {
      const err = e instanceof CsError ? e : new CsError(500, String(e));
      send(res, err.status, [{ error_point: err.point, error_type: err.type, error_message: err.message }]);
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const addDrive = (name: string, media: 'disk' | 'cdrom' = 'disk'): string => {
    const d: CsStandinDrive = { uuid: randomUUID(), name, media, size: 10 * 2 ** 30, status: 'unmounted' };
    drives.set(d.uuid, d);
    return d.uuid;
  };
  return {
    url: `http://127.0.0.1:${port}/api/2.0/`,
    requests,
    timeline,
    received: (op) => timeline.filter((t) => t.op === op).length,
    servers: () => [...servers.values()].map(settle),
    drives: () => [...drives.values()].map(settleDrive),
    tags: () => [...tags.values()].map((t) => ({ uuid: t.uuid, name: t.name, resources: [...t.resources] })),
    addSourceServer(name = 'cloudsigma-compute') {
      const s: CsStandinServer = {
        uuid: randomUUID(), name, cpu: 2000, mem: 2 ** 30, vnc_password: 'source', status: 'stopped', since: Date.now(), meta: {},
        drives: [addDrive(`${name}-disk`), addDrive(`${name}-iso`, 'cdrom')],
      };
      servers.set(s.uuid, s);
      return s.uuid;
    },
    addDrive,
    addVlan(on = []) {
      const uuid = randomUUID();
      const sub = subSeq++;
      vlans.set(uuid, { servers: [...on], subscription: sub });
      subscriptions.push({ id: sub, resource: 'vlan', subscribed_object: uuid });
      return uuid;
    },
    addIp(on) {
      const uuid = `185.12.6.${ipSeq++ % 250}`;
      const sub = subSeq++;
      ips.set(uuid, { server: on ?? null, subscription: sub });
      subscriptions.push({ id: sub, resource: 'ip', subscribed_object: uuid });
      return uuid;
    },
    addSubscription(resource, subscribedObject) {
      const id = subSeq++;
      subscriptions.push({ id, resource, subscribed_object: subscribedObject });
      return String(id);
    },
    fail(op, f) {
      failures.set(op, { ...f, left: f.count ?? 1 });
    },
    snapshots: () => [...snaps.snapshots.values()],
    failSnapshots: (n) => snaps.failSnapshots(n),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
