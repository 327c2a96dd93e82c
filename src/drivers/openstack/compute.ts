/**
 * Nova (compute API v2.1) over a Keystone session: microversion negotiation, flavors,
 * availability zones, servers (create, show, list with tag filters and pagination, delete),
 * server actions (reboot, os-stop, os-start, createImage), key pairs, server groups and
 * volume attachments.
 *
 * Microversions: the first call reads the version document at the compute endpoint (its
 * `version`, or the `v2.1` entry of `versions` at the root) and settles on the highest version
 * both sides know: min(server maximum, MAX_COMPUTE_MICROVERSION), or the pinned one when it
 * lies within the server's range (a pin outside it is CLOUD_BAD_REQUEST). Every compute request
 * then carries `OpenStack-API-Version: compute X.Y` (and the legacy
 * `X-OpenStack-Nova-API-Version`). Features follow the version: server tags from 2.26 (set at
 * create from 2.52), `networks: "none"|"auto"` from 2.37, `policy` of server groups from 2.64,
 * `image_id` in the createImage answer from 2.45.
 *
 * Failure meaning: answers are classified by `fail` (./session.ts); methods that read return
 * undefined for 404 where noted, deletes treat 404 as done.
 */
import { NubisError } from '../../errors/index.js';
import { expect, type Answer, type OpenStackSession } from './session.js';

/** The newest compute microversion this driver was written and tested against. */
export const MAX_COMPUTE_MICROVERSION = '2.93';

export interface Microversion {
  major: number;
  minor: number;
}

export function parseMicroversion(v: string): Microversion | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

export function compareMicroversions(a: Microversion, b: Microversion): number {
  return a.major - b.major || a.minor - b.minor;
}

const fmt = (v: Microversion): string => `${v.major}.${v.minor}`;

export interface ComputeVersion {
  /** What every request sends; undefined for a cloud without microversions (plain v2.0). */
  negotiated?: string;
  serverMin?: string;
  serverMax?: string;
}

export interface NovaAddress {
  addr: string;
  version?: number;
  'OS-EXT-IPS:type'?: 'fixed' | 'floating';
}

/** The fields of a Nova server this driver reads. */
export interface NovaServer {
  id: string;
  name: string;
  status: string;
  created?: string;
  metadata?: Record<string, string>;
  tags?: string[];
  addresses?: Record<string, NovaAddress[]>;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-STS:vm_state'?: string;
  fault?: { message?: string };
}

export interface NovaFlavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

export interface CreateServerInput {
  name: string;
  imageRef: string;
  flavorRef: string;
  /** Network ids; `none` or `auto` (microversion ≥ 2.37); absent lets Nova decide. */
  networks?: string[] | 'none' | 'auto';
  keyName?: string;
  /** Cloud-init user data as text; base64-encoded here. */
  userData?: string;
  metadata: Record<string, string>;
  /** Server tags; sent only where the microversion allows them at create (≥ 2.52). */
  tags?: string[];
  availabilityZone?: string;
  securityGroups?: string[];
  /** Server group id (scheduler hint). */
  serverGroup?: string;
}

export type ServerGroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

export interface NovaServerGroup {
  id: string;
  name: string;
  policy?: string;
  policies?: string[];
  members: string[];
}

export interface Compute {
  /** Negotiates once (cached) and returns the versions. */
  version(signal: AbortSignal): Promise<ComputeVersion>;
  /** Whether the negotiated version is at least `v` (false for a cloud without microversions). */
  atLeast(v: string, signal: AbortSignal): Promise<boolean>;
  flavors(signal: AbortSignal): Promise<NovaFlavor[]>;
  availabilityZones(signal: AbortSignal): Promise<string[]>;
  createServer(input: CreateServerInput, signal: AbortSignal): Promise<string>;
  /** The server, or undefined on 404. */
  getServer(id: string, signal: AbortSignal): Promise<NovaServer | undefined>;
  /** Every server (detail) matching the query, following `marker` pages of `pageSize`. */
  listServers(query: Record<string, string>, signal: AbortSignal): Promise<NovaServer[]>;
  /** DELETE; true when the server existed. */
  deleteServer(id: string, signal: AbortSignal): Promise<boolean>;
  /** POST /servers/{id}/action; returns the answer (202) or throws classified. */
  action(id: string, body: Record<string, unknown>, signal: AbortSignal): Promise<Answer>;
  /** createImage; returns the new image's id. */
  createImage(id: string, name: string, metadata: Record<string, string>, signal: AbortSignal): Promise<string>;
  serverTags(id: string, signal: AbortSignal): Promise<string[]>;
  createKeyPair(name: string, publicKey: string | undefined, signal: AbortSignal): Promise<{ name: string; fingerprint?: string; privateKey?: string }>;
  deleteKeyPair(name: string, signal: AbortSignal): Promise<void>;
  createServerGroup(name: string, policy: ServerGroupPolicy, signal: AbortSignal): Promise<NovaServerGroup>;
  getServerGroup(id: string, signal: AbortSignal): Promise<NovaServerGroup | undefined>;
  deleteServerGroup(id: string, signal: AbortSignal): Promise<void>;
  attachVolume(serverId: string, volumeId: string, signal: AbortSignal): Promise<void>;
  detachVolume(serverId: string, volumeId: string, signal: AbortSignal): Promise<void>;
}

export interface ComputeOptions {
  /** Pin a microversion (`2.60`) instead of negotiating the highest. */
  microversion?: string;
  /** Page size for lists. Default 100. */
  pageSize?: number;
}

export function createCompute(session: OpenStackSession, opts: ComputeOptions = {}): Compute {
  const pageSize = opts.pageSize ?? 100;
  let negotiated: Promise<ComputeVersion> | undefined;
  const enc = encodeURIComponent;

  async function discover(signal: AbortSignal): Promise<ComputeVersion> {
    const base = await session.endpoint('compute', signal);
    const docAt = async (url: string): Promise<{ version?: string; min_version?: string; id?: string } | undefined> => {
      const a = await session.getUrl(url, 'compute', signal);
      if (a.status !== 200 && a.status !== 300) return undefined;
      const b = a.body as { version?: { version?: string; min_version?: string; id?: string }; versions?: { version?: string; min_version?: string; id?: string }[] };
      return b.version ?? b.versions?.find((v) => v.id === 'v2.1') ?? undefined;
    };
    // the endpoint itself (…/v2.1 or …/v2.1/<project>), then the host's root
    const candidates = [base, base.replace(/\/[0-9a-f]{32}$/i, ''), new URL(base).origin + '/'];
    let doc: { version?: string; min_version?: string } | undefined;
    for (const url of [...new Set(candidates)]) {
      doc = await docAt(url);
      if (doc) break;
    }
    const max = doc?.version ? parseMicroversion(doc.version) : undefined;
    const min = doc?.min_version ? parseMicroversion(doc.min_version) : undefined;
    if (!max || !min) {
      if (opts.microversion) throw new NubisError('CLOUD_BAD_REQUEST', `openstack compute: microversion ${opts.microversion} was asked for, but the cloud has no microversions`);
      return {};
    }
    const ours = parseMicroversion(MAX_COMPUTE_MICROVERSION)!;
    let pick = compareMicroversions(max, ours) < 0 ? max : ours;
    if (opts.microversion) {
      const pin = parseMicroversion(opts.microversion);
      if (!pin || compareMicroversions(pin, min) < 0 || compareMicroversions(pin, max) > 0) {
        throw new NubisError('CLOUD_BAD_REQUEST', `openstack compute: microversion ${opts.microversion} is outside the cloud's range ${fmt(min)}–${fmt(max)}`);
      }
      pick = pin;
    }
    return { negotiated: fmt(pick), serverMin: fmt(min), serverMax: fmt(max) };
  }

  async function version(signal: AbortSignal): Promise<ComputeVersion> {
    if (!negotiated) {
      negotiated = discover(signal);
      negotiated.catch(() => {
        negotiated = undefined;
      });
    }
    return negotiated;
  }

  async function atLeast(v: string, signal: AbortSignal): Promise<boolean> {
    const n = (await version(signal)).negotiated;
    return n !== undefined && compareMicroversions(parseMicroversion(n)!, parseMicroversion(v)!) >= 0;
  }

  async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, signal: AbortSignal): Promise<Answer> {
    const v = (await version(signal)).negotiated;
    const headers: Record<string, string> = v ? { 'OpenStack-API-Version': `compute ${v}`, 'X-OpenStack-Nova-API-Version': v } : {};
    return session.request({ service: 'compute', method, path, ...(body === undefined ? {} : { body }), headers }, signal);
  }

  async function paged<T extends { id: string }>(path: string, key: string, query: Record<string, string>, signal: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    let marker: string | undefined;
    for (;;) {
      const qs = new URLSearchParams({ ...query, limit: String(pageSize), ...(marker ? { marker } : {}) });
      const a = expect(await call('GET', `${path}?${qs}`, undefined, signal), `openstack compute list ${path}`, 200);
      const page = ((a.body as Record<string, unknown>)[key] ?? []) as T[];
      out.push(...page);
      const next = ((a.body as Record<string, unknown>)[`${key}_links`] as { rel?: string }[] | undefined)?.some((l) => l.rel === 'next');
      if (page.length === 0 || (!next && page.length < pageSize)) return out;
      marker = page[page.length - 1]!.id;
    }
  }

  return {
    version,
    atLeast,
    async flavors(signal) {
      return paged<NovaFlavor>('/flavors/detail', 'flavors', {}, signal);
    },
    async availabilityZones(signal) {
      const a = await call('GET', '/os-availability-zone', undefined, signal);
      if (a.status === 403 || a.status === 404) return [];
      expect(a, 'openstack compute availability zones', 200);
      const zones = (a.body as { availabilityZoneInfo?: { zoneName: string; zoneState?: { available?: boolean } }[] }).availabilityZoneInfo ?? [];
      return zones.filter((z) => z.zoneState?.available !== false).map((z) => z.zoneName);
    },
    async createServer(input, signal) {
      const server: Record<string, unknown> = {
        name: input.name,
        imageRef: input.imageRef,
        flavorRef: input.flavorRef,
        metadata: input.metadata,
      };
      if (input.networks !== undefined) {
        if (typeof input.networks === 'string') {
          if (await atLeast('2.37', signal)) server['networks'] = input.networks;
        } else server['networks'] = input.networks.map((uuid) => ({ uuid }));
      } else if (await atLeast('2.37', signal)) server['networks'] = 'auto';
      if (input.keyName) server['key_name'] = input.keyName;
      if (input.userData) server['user_data'] = Buffer.from(input.userData, 'utf8').toString('base64');
      if (input.tags && input.tags.length > 0 && (await atLeast('2.52', signal))) server['tags'] = input.tags;
      if (input.availabilityZone) server['availability_zone'] = input.availabilityZone;
      if (input.securityGroups?.length) server['security_groups'] = input.securityGroups.map((name) => ({ name }));
      const body: Record<string, unknown> = { server };
      if (input.serverGroup) body['os:scheduler_hints'] = { group: input.serverGroup };
      const a = expect(await call('POST', '/servers', body, signal), `openstack compute create server ${input.name}`, 202, 200);
      const id = (a.body as { server?: { id?: string } }).server?.id;
      if (!id) throw new NubisError('CLOUD_INTERNAL', `openstack compute create server ${input.name}: the answer has no server id`);
      return id;
    },
    async getServer(id, signal) {
      const a = await call('GET', `/servers/${enc(id)}`, undefined, signal);
      if (a.status === 404) return undefined;
      return (expect(a, `openstack compute show server ${id}`, 200).body as { server: NovaServer }).server;
    },
    async listServers(query, signal) {
      return paged<NovaServer>('/servers/detail', 'servers', query, signal);
    },
    async deleteServer(id, signal) {
      const a = await call('DELETE', `/servers/${enc(id)}`, undefined, signal);
      if (a.status === 404) return false;
      expect(a, `openstack compute delete server ${id}`, 204, 202);
      return true;
    },
    async action(id, body, signal) {
      const a = await call('POST', `/servers/${enc(id)}/action`, body, signal);
      return expect(a, `openstack compute ${Object.keys(body)[0] ?? 'action'} server ${id}`, 202, 200, 204);
    },
    async createImage(id, name, metadata, signal) {
      const a = await call('POST', `/servers/${enc(id)}/action`, { createImage: { name, metadata } }, signal);
      expect(a, `openstack compute createImage server ${id}`, 202, 200);
      const fromBody = (a.body as { image_id?: string } | undefined)?.image_id;
      const fromLocation = a.headers.get('location')?.split('/').pop();
      const image = fromBody ?? fromLocation;
      if (!image) throw new NubisError('CLOUD_INTERNAL', `openstack compute createImage server ${id}: the answer names no image`);
      return image;
    },
    async serverTags(id, signal) {
      if (!(await atLeast('2.26', signal))) return [];
      const a = expect(await call('GET', `/servers/${enc(id)}/tags`, undefined, signal), `openstack compute server tags ${id}`, 200);
      return (a.body as { tags?: string[] }).tags ?? [];
    },
    async createKeyPair(name, publicKey, signal) {
      const keypair: Record<string, unknown> = { name };
      if (publicKey) keypair['public_key'] = publicKey;
      const a = expect(await call('POST', '/os-keypairs', { keypair }, signal), `openstack compute create key pair ${name}`, 200, 201);
      const k = (a.body as { keypair: { name: string; fingerprint?: string; private_key?: string } }).keypair;
      return { name: k.name, ...(k.fingerprint ? { fingerprint: k.fingerprint } : {}), ...(k.private_key ? { privateKey: k.private_key } : {}) };
    },
    async deleteKeyPair(name, signal) {
      const a = await call('DELETE', `/os-keypairs/${enc(name)}`, undefined, signal);
      if (a.status !== 404) expect(a, `openstack compute delete key pair ${name}`, 202, 204);
    },
    async createServerGroup(name, policy, signal) {
      const group = (await atLeast('2.64', signal)) ? { name, policy } : { name, policies: [policy] };
      const a = expect(await call('POST', '/os-server-groups', { server_group: group }, signal), `openstack compute create server group ${name}`, 200, 201);
      return (a.body as { server_group: NovaServerGroup }).server_group;
    },
    async getServerGroup(id, signal) {
      const a = await call('GET', `/os-server-groups/${enc(id)}`, undefined, signal);
      if (a.status === 404) return undefined;
      return (expect(a, `openstack compute show server group ${id}`, 200).body as { server_group: NovaServerGroup }).server_group;
    },
    async deleteServerGroup(id, signal) {
      const a = await call('DELETE', `/os-server-groups/${enc(id)}`, undefined, signal);
      if (a.status !== 404) expect(a, `openstack compute delete server group ${id}`, 204, 202);
    },
    async attachVolume(serverId, volumeId, signal) {
      const a = await call('POST', `/servers/${enc(serverId)}/os-volume_attachments`, { volumeAttachment: { volumeId } }, signal);
      expect(a, `openstack compute attach volume ${volumeId} to ${serverId}`, 200, 202);
    },
    async detachVolume(serverId, volumeId, signal) {
      const a = await call('DELETE', `/servers/${enc(serverId)}/os-volume_attachments/${enc(volumeId)}`, undefined, signal);
      if (a.status !== 404) expect(a, `openstack compute detach volume ${volumeId} from ${serverId}`, 202, 204);
    },
  };
}

