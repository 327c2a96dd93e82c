/**
 * Glance (images v2), Cinder (block storage v3: volumes and snapshots) and Neutron (networking
 * v2.0: networks, ports, floating IPs, security groups and rules) over a Keystone session.
 *
 * Contract: reads of one resource return undefined on 404; deletes treat 404 as done; lists
 * follow the service's pagination (Glance `next`, Cinder and Neutron `marker`/`limit`); every
 * other failure is a classified NubisError (see `fail` in ./session.ts). `wait*` helpers poll
 * until the wanted status, fail with CLOUD_INTERNAL when the resource reaches an error status,
 * and with CLOUD_TIMEOUT after `timeoutMs`.
 */
import { NubisError } from '../../errors/index.js';
import { expect, raceAbort, type Answer, type OpenStackSession, type ServiceName } from './session.js';

const enc = encodeURIComponent;

export interface GlanceImage {
  id: string;
  name: string;
  status: string;
  visibility?: string;
  os_distro?: string;
  os_version?: string;
  os_type?: string;
  [property: string]: unknown;
}

export interface CinderVolume {
  id: string;
  name: string | null;
  status: string;
  size: number;
  metadata?: Record<string, string>;
  attachments?: { server_id?: string }[];
}

export interface CinderSnapshot {
  id: string;
  name: string | null;
  status: string;
  volume_id: string;
  size: number;
  metadata?: Record<string, string>;
}

export interface NeutronNetwork {
  id: string;
  name: string;
  'router:external'?: boolean;
  shared?: boolean;
  status?: string;
  subnets?: string[];
}

export interface NeutronPort {
  id: string;
  network_id: string;
  device_id: string;
  status?: string;
  fixed_ips?: { subnet_id: string; ip_address: string }[];
  security_groups?: string[];
}

export interface NeutronFloatingIp {
  id: string;
  floating_ip_address: string;
  floating_network_id: string;
  port_id: string | null;
  fixed_ip_address?: string | null;
  status?: string;
  description?: string;
}

export interface NeutronSecurityGroup {
  id: string;
  name: string;
  description?: string;
  security_group_rules?: NeutronSecurityGroupRule[];
}

export interface NeutronSecurityGroupRule {
  id: string;
  security_group_id: string;
  direction: 'ingress' | 'egress';
  ethertype?: 'IPv4' | 'IPv6';
  protocol?: string | null;
  port_range_min?: number | null;
  port_range_max?: number | null;
  remote_ip_prefix?: string | null;
}

export interface WaitOptions {
  timeoutMs?: number;
  pollMs?: number;
}

/** Polls `read` until `done`; see the module contract for failures. */
export async function waitUntil<T>(
  what: string,
  read: () => Promise<T | undefined>,
  done: (v: T | undefined) => boolean,
  failed: (v: T | undefined) => string | undefined,
  signal: AbortSignal,
  opts: WaitOptions = {},
): Promise<T | undefined> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    const bad = failed(v);
    if (bad) throw new NubisError('CLOUD_INTERNAL', `${what}: ${bad}`);
    if (Date.now() > deadline) throw new NubisError('CLOUD_TIMEOUT', `${what}: not done within ${opts.timeoutMs ?? 120_000} ms`);
    await raceAbort(new Promise((r) => setTimeout(r, opts.pollMs ?? 250)), signal, `${what}: aborted`);
  }
}

const metadataMatches = (have: Record<string, string> | undefined, want: Record<string, string> | undefined): boolean =>
  !want || Object.entries(want).every(([k, v]) => have?.[k] === v);

async function req(session: OpenStackSession, service: ServiceName, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, signal: AbortSignal): Promise<Answer> {
  return session.request({ service, method, path, ...(body === undefined ? {} : { body }) }, signal);
}

/** Pages with `marker`/`limit` (Cinder, Neutron) until a short page. */
async function markerPaged<T extends { id: string }>(session: OpenStackSession, service: ServiceName, path: string, key: string, query: Record<string, string>, signal: AbortSignal, pageSize = 100): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  for (;;) {
    const qs = new URLSearchParams({ ...query, limit: String(pageSize), ...(marker ? { marker } : {}) });
    const a = expect(await req(session, service, 'GET', `${path}?${qs}`, undefined, signal), `openstack ${service} list ${path}`, 200);
    const page = ((a.body as Record<string, unknown>)[key] ?? []) as T[];
    out.push(...page);
    if (page.length < pageSize) return out;
    marker = page[page.length - 1]!.id;
  }
}

// ---- Glance ----

export interface Images {
  /** Images visible to the project, optionally filtered by name and status (follows `next`). */
  list(filter: { name?: string; status?: string }, signal: AbortSignal): Promise<GlanceImage[]>;
  get(id: string, signal: AbortSignal): Promise<GlanceImage | undefined>;
  delete(id: string, signal: AbortSignal): Promise<void>;
  /** Waits until the image is `active` (fails on `killed`/`deleted`). */
  waitActive(id: string, signal: AbortSignal, opts?: WaitOptions): Promise<GlanceImage>;
}

export function createImages(session: OpenStackSession): Images {
  const get = async (id: string, signal: AbortSignal): Promise<GlanceImage | undefined> => {
    const a = await req(session, 'image', 'GET', `/v2/images/${enc(id)}`, undefined, signal);
    if (a.status === 404) return undefined;
    return expect(a, `openstack image show ${id}`, 200).body as GlanceImage;
  };
  return {
    async list(filter, signal) {
      const out: GlanceImage[] = [];
      const qs = new URLSearchParams({ limit: '100', ...(filter.name ? { name: filter.name } : {}), ...(filter.status ? { status: filter.status } : {}) });
      let path: string | undefined = `/v2/images?${qs}`;
      while (path) {
        const a = expect(await req(session, 'image', 'GET', path, undefined, signal), 'openstack image list', 200);
        const b = a.body as { images?: GlanceImage[]; next?: string };
        out.push(...(b.images ?? []));
        path = b.next && (b.images?.length ?? 0) > 0 ? b.next : undefined;
      }
      return out;
    },
    get,
    async delete(id, signal) {
      const a = await req(session, 'image', 'DELETE', `/v2/images/${enc(id)}`, undefined, signal);
      if (a.status !== 404) expect(a, `openstack image delete ${id}`, 204, 200);
    },
    async waitActive(id, signal, opts) {
      const img = await waitUntil(
        `openstack image ${id} to become active`,
        () => get(id, signal),
        (i) => i?.status === 'active',
        (i) => (i === undefined ? 'the image is gone' : ['killed', 'deleted', 'pending_delete'].includes(i.status) ? `status ${i.status}` : undefined),
        signal,
        opts,
      );
      return img!;
    },
  };
}

// ---- Cinder ----

export interface Volumes {
  create(input: { name: string; sizeGiB: number; metadata?: Record<string, string>; imageRef?: string; description?: string }, signal: AbortSignal): Promise<CinderVolume>;
  get(id: string, signal: AbortSignal): Promise<CinderVolume | undefined>;
  /** Volumes carrying all the given metadata (filtered here; paginated). */
  list(metadata: Record<string, string> | undefined, signal: AbortSignal): Promise<CinderVolume[]>;
  delete(id: string, signal: AbortSignal): Promise<void>;
  /** Waits for a status (`available`, `in-use`), or for the volume to be gone with `gone`. */
  wait(id: string, status: string | 'gone', signal: AbortSignal, opts?: WaitOptions): Promise<CinderVolume | undefined>;
  createSnapshot(input: { volumeId: string; name: string; metadata?: Record<string, string>; force?: boolean }, signal: AbortSignal): Promise<CinderSnapshot>;
  getSnapshot(id: string, signal: AbortSignal): Promise<CinderSnapshot | undefined>;
  listSnapshots(metadata: Record<string, string> | undefined, signal: AbortSignal): Promise<CinderSnapshot[]>;
  deleteSnapshot(id: string, signal: AbortSignal): Promise<void>;
  waitSnapshot(id: string, status: string | 'gone', signal: AbortSignal, opts?: WaitOptions): Promise<CinderSnapshot | undefined>;
}

export function createVolumes(session: OpenStackSession): Volumes {
  const get = async (id: string, signal: AbortSignal): Promise<CinderVolume | undefined> => {
    const a = await req(session, 'volume', 'GET', `/volumes/${enc(id)}`, undefined, signal);
    if (a.status === 404) return undefined;
    return (expect(a, `openstack volume show ${id}`, 200).body as { volume: CinderVolume }).volume;
  };
  const getSnapshot = async (id: string, signal: AbortSignal): Promise<CinderSnapshot | undefined> => {
    const a = await req(session, 'volume', 'GET', `/snapshots/${enc(id)}`, undefined, signal);
    if (a.status === 404) return undefined;
    return (expect(a, `openstack snapshot show ${id}`, 200).body as { snapshot: CinderSnapshot }).snapshot;
  };
  const failedStatus = (s: { status: string } | undefined, want: string): string | undefined =>
    s && want !== 'gone' && /^error/.test(s.status) ? `status ${s.status}` : s === undefined && want !== 'gone' ? 'it is gone' : undefined;
  return {
    async create(input, signal) {
      const volume: Record<string, unknown> = { size: input.sizeGiB, name: input.name };
      if (input.metadata) volume['metadata'] = input.metadata;
      if (input.imageRef) volume['imageRef'] = input.imageRef;
      if (input.description) volume['description'] = input.description;
      const a = expect(await req(session, 'volume', 'POST', '/volumes', { volume }, signal), `openstack volume create ${input.name}`, 202, 200);
      return (a.body as { volume: CinderVolume }).volume;
    },
    get,
    async list(metadata, signal) {
      const all = await markerPaged<CinderVolume>(session, 'volume', '/volumes/detail', 'volumes', {}, signal);
      return all.filter((v) => metadataMatches(v.metadata, metadata));
    },
    async delete(id, signal) {
      const a = await req(session, 'volume', 'DELETE', `/volumes/${enc(id)}`, undefined, signal);
      if (a.status !== 404) expect(a, `openstack volume delete ${id}`, 202, 204);
    },
    async wait(id, status, signal, opts) {
      return waitUntil(`openstack volume ${id} to become ${status}`, () => get(id, signal), (v) => (status === 'gone' ? v === undefined || v.status === 'deleted' : v?.status === status), (v) => failedStatus(v, status), signal, opts);
    },
    async createSnapshot(input, signal) {
      const snapshot: Record<string, unknown> = { volume_id: input.volumeId, name: input.name };
      if (input.metadata) snapshot['metadata'] = input.metadata;
      if (input.force) snapshot['force'] = true;
      const a = expect(await req(session, 'volume', 'POST', '/snapshots', { snapshot }, signal), `openstack snapshot create ${input.name}`, 202, 200);
      return (a.body as { snapshot: CinderSnapshot }).snapshot;
    },
    getSnapshot,
    async listSnapshots(metadata, signal) {
      const all = await markerPaged<CinderSnapshot>(session, 'volume', '/snapshots/detail', 'snapshots', {}, signal);
      return all.filter((s) => metadataMatches(s.metadata, metadata));
    },
    async deleteSnapshot(id, signal) {
      const a = await req(session, 'volume', 'DELETE', `/snapshots/${enc(id)}`, undefined, signal);
      if (a.status !== 404) expect(a, `openstack snapshot delete ${id}`, 202, 204);
    },
    async waitSnapshot(id, status, signal, opts) {
      return waitUntil(`openstack snapshot ${id} to become ${status}`, () => getSnapshot(id, signal), (s) => (status === 'gone' ? s === undefined || s.status === 'deleted' : s?.status === status), (s) => failedStatus(s, status), signal, opts);
    },
  };
}

// ---- Neutron ----

export interface SecurityGroupRuleInput {
  direction: 'ingress' | 'egress';
  protocol?: 'tcp' | 'udp' | 'icmp' | string;
  portMin?: number;
  portMax?: number;
  remoteIpPrefix?: string;
  ethertype?: 'IPv4' | 'IPv6';
}

export interface Networks {
  list(filter: { name?: string; external?: boolean }, signal: AbortSignal): Promise<NeutronNetwork[]>;
  /** A network by id or name; undefined when neither matches. */
  find(nameOrId: string, signal: AbortSignal): Promise<NeutronNetwork | undefined>;
  ports(filter: { deviceId?: string; networkId?: string }, signal: AbortSignal): Promise<NeutronPort[]>;
  /** Allocates a floating IP on an external network, associated with `portId` when given. */
  createFloatingIp(input: { networkId: string; portId?: string; description?: string }, signal: AbortSignal): Promise<NeutronFloatingIp>;
  /** Associates (portId) or disassociates (null). */
  associateFloatingIp(id: string, portId: string | null, signal: AbortSignal): Promise<NeutronFloatingIp>;
  getFloatingIp(id: string, signal: AbortSignal): Promise<NeutronFloatingIp | undefined>;
  listFloatingIps(filter: { portId?: string; description?: string }, signal: AbortSignal): Promise<NeutronFloatingIp[]>;
  deleteFloatingIp(id: string, signal: AbortSignal): Promise<void>;
  createSecurityGroup(name: string, description: string, signal: AbortSignal): Promise<NeutronSecurityGroup>;
  listSecurityGroups(filter: { name?: string }, signal: AbortSignal): Promise<NeutronSecurityGroup[]>;
  deleteSecurityGroup(id: string, signal: AbortSignal): Promise<void>;
  addSecurityGroupRule(securityGroupId: string, rule: SecurityGroupRuleInput, signal: AbortSignal): Promise<NeutronSecurityGroupRule>;
  deleteSecurityGroupRule(id: string, signal: AbortSignal): Promise<void>;
  /** Sets a port's security groups (ids), replacing its list. */
  setPortSecurityGroups(portId: string, groups: string[], signal: AbortSignal): Promise<NeutronPort>;
}

export function createNetworks(session: OpenStackSession): Networks {
  const list = async (filter: { name?: string; external?: boolean }, signal: AbortSignal): Promise<NeutronNetwork[]> => {
    const q: Record<string, string> = {};
    if (filter.name) q['name'] = filter.name;
    if (filter.external !== undefined) q['router:external'] = String(filter.external);
    return markerPaged<NeutronNetwork>(session, 'network', '/v2.0/networks', 'networks', q, signal);
  };
  const del = async (path: string, what: string, signal: AbortSignal): Promise<void> => {
    const a = await req(session, 'network', 'DELETE', path, undefined, signal);
    if (a.status !== 404) expect(a, what, 204, 200);
  };
  return {
    list,
    async find(nameOrId, signal) {
      const a = await req(session, 'network', 'GET', `/v2.0/networks/${enc(nameOrId)}`, undefined, signal);
      if (a.status === 200) return (a.body as { network: NeutronNetwork }).network;
      if (a.status !== 404) expect(a, `openstack network show ${nameOrId}`, 200);
      const named = await list({ name: nameOrId }, signal);
      if (named.length > 1) throw new NubisError('CLOUD_BAD_REQUEST', `openstack network: ${named.length} networks are named ${JSON.stringify(nameOrId)}; give its id`);
      return named[0];
    },
    async ports(filter, signal) {
      const q: Record<string, string> = {};
      if (filter.deviceId) q['device_id'] = filter.deviceId;
      if (filter.networkId) q['network_id'] = filter.networkId;
      return markerPaged<NeutronPort>(session, 'network', '/v2.0/ports', 'ports', q, signal);
    },
    async createFloatingIp(input, signal) {
      const floatingip: Record<string, unknown> = { floating_network_id: input.networkId };
      if (input.portId) floatingip['port_id'] = input.portId;
      if (input.description) floatingip['description'] = input.description;
      const a = expect(await req(session, 'network', 'POST', '/v2.0/floatingips', { floatingip }, signal), 'openstack network create floating IP', 201, 200);
      return (a.body as { floatingip: NeutronFloatingIp }).floatingip;
    },
    async associateFloatingIp(id, portId, signal) {
      const a = expect(await req(session, 'network', 'PUT', `/v2.0/floatingips/${enc(id)}`, { floatingip: { port_id: portId } }, signal), `openstack network associate floating IP ${id}`, 200);
      return (a.body as { floatingip: NeutronFloatingIp }).floatingip;
    },
    async getFloatingIp(id, signal) {
      const a = await req(session, 'network', 'GET', `/v2.0/floatingips/${enc(id)}`, undefined, signal);
      if (a.status === 404) return undefined;
      return (expect(a, `openstack network show floating IP ${id}`, 200).body as { floatingip: NeutronFloatingIp }).floatingip;
    },
    async listFloatingIps(filter, signal) {
      const q: Record<string, string> = {};
      if (filter.portId) q['port_id'] = filter.portId;
      const all = await markerPaged<NeutronFloatingIp>(session, 'network', '/v2.0/floatingips', 'floatingips', q, signal);
      return filter.description === undefined ? all : all.filter((f) => f.description === filter.description);
    },
    async deleteFloatingIp(id, signal) {
      await del(`/v2.0/floatingips/${enc(id)}`, `openstack network delete floating IP ${id}`, signal);
    },
    async createSecurityGroup(name, description, signal) {
      const a = expect(await req(session, 'network', 'POST', '/v2.0/security-groups', { security_group: { name, description } }, signal), `openstack network create security group ${name}`, 201, 200);
      return (a.body as { security_group: NeutronSecurityGroup }).security_group;
    },
    async listSecurityGroups(filter, signal) {
      return markerPaged<NeutronSecurityGroup>(session, 'network', '/v2.0/security-groups', 'security_groups', filter.name ? { name: filter.name } : {}, signal);
    },
    async deleteSecurityGroup(id, signal) {
      await del(`/v2.0/security-groups/${enc(id)}`, `openstack network delete security group ${id}`, signal);
    },
    async addSecurityGroupRule(securityGroupId, rule, signal) {
      const body: Record<string, unknown> = { security_group_id: securityGroupId, direction: rule.direction, ethertype: rule.ethertype ?? 'IPv4' };
      if (rule.protocol) body['protocol'] = rule.protocol;
      if (rule.portMin !== undefined) body['port_range_min'] = rule.portMin;
      if (rule.portMax !== undefined) body['port_range_max'] = rule.portMax;
      if (rule.remoteIpPrefix) body['remote_ip_prefix'] = rule.remoteIpPrefix;
      const a = expect(await req(session, 'network', 'POST', '/v2.0/security-group-rules', { security_group_rule: body }, signal), `openstack network add rule to security group ${securityGroupId}`, 201, 200);
      return (a.body as { security_group_rule: NeutronSecurityGroupRule }).security_group_rule;
    },
    async setPortSecurityGroups(portId, groups, signal) {
      const a = expect(await req(session, 'network', 'PUT', `/v2.0/ports/${enc(portId)}`, { port: { security_groups: groups } }, signal), `openstack network set security groups of port ${portId}`, 200);
      return (a.body as { port: NeutronPort }).port;
    },
    async deleteSecurityGroupRule(id, signal) {
      await del(`/v2.0/security-group-rules/${enc(id)}`, `openstack network delete security group rule ${id}`, signal);
    },
  };
}
