/**
 * The `openstack` driver: nodes are Nova servers, found again by the metadata every server
 * carries (and by server tags where the compute microversion allows them).
 *
 * Options (ctx.options): `authUrl` (Keystone v3, required), `region`, `interface` (public),
 * `project` or `projectId`, `userDomain` and `projectDomain` (Default); defaults for servers:
 * `flavor`, `image`, `network` (names or ids; `network: none` boots without one),
 * `keyName`, `securityGroups` (names), `serverGroup` (id), `availabilityZone`; tuning:
 * `microversion` (pin instead of negotiating), `serverTags` (default true), `pageSize` (100),
 * `pollMs` (500), `settleTimeoutMs` (120 000: how long reboot/stop/start/createImage wait for a
 * server to leave BUILD or a task), `deleteTimeoutMs` (90 000), `rebootType` (SOFT),
 * `tokenLifetimeMs`, `refreshMarginMs`, `requestTimeoutMs`, `agentPort` (7430),
 * `agentConnectTimeoutMs` (3 000), `floatingIpNetwork` (external network for
 * `attachFloatingIp`), `agentBootstrap` (a shell command cloud-init runs at first
 * boot, e.g. to install the agent), `onRequest` (programmatic only: a function called with every
 * HTTP call's RequestRecord, for tests and accounting).
 *
 * Credentials come from `ctx.credentials`: `username` + `password`, or
 * `applicationCredentialId` + `applicationCredentialSecret`; optional `agentSecret`. Until the
 * credential registry passes them to drivers, the same keys are read from `ctx.options` as a
 * fallback — which puts them in the spec and the store, so use that only for tests.
 *
 * Which server: `placement.offer` (flavor id) over `options.flavor` over the smallest flavor
 * that meets the requirements (cores, memory, disk); `placement.image` over `options.image`;
 * `placement.location` (`region/zone` or a zone) over `options.availabilityZone`.
 *
 * Tags: every tag is Nova metadata (keys and values of at most 255 characters), plus the
 * private `nubis-token` (a hash of the idempotency token, not returned as a tag). From
 * microversion 2.52 every tag that fits also becomes a server tag `key=value` (`%`, `/` and `,`
 * percent-encoded, at most 60 characters), which `list` uses as a server-side filter; the
 * metadata is always checked as well, so a tag too long for a server tag still filters right.
 *
 * Idempotency: Nova has no client token. `create` first lists the servers of the resource key
 * and returns the one whose `nubis-token` matches. Residual race: two creates with the same
 * token running at the same instant can both miss each other and make two servers; both carry
 * the key, so the engine's tag sweep deletes the duplicate.
 *
 * No leak on partial failure: the tags (metadata, and server tags) travel in the same POST
 * /servers that makes the server, so no server exists untagged. Nothing is made before it:
 * the network is passed by id and Nova makes (and, with the server, deletes) its port; no
 * volume is made (the image boots on the flavor's disk). A create whose answer is lost, or whose
 * read-back fails, left a tagged server that `list` finds and a repeated create returns (by the
 * token hash). A server that ends in ERROR is tagged too: the engine deletes it. Floating IPs
 * are made only by `attachFloatingIp`, after create, and `delete` releases them first.
 *
 * Status: BUILD/REBUILD → provisioning; ACTIVE and transient states of a running machine
 * (REBOOT, HARD_REBOOT, RESIZE, VERIFY_RESIZE, REVERT_RESIZE, MIGRATING, PASSWORD, RESCUE) →
 * running; SHUTOFF, PAUSED, SUSPENDED, SHELVED, SHELVED_OFFLOADED → stopped; ERROR, UNKNOWN →
 * error; DELETED, SOFT_DELETED → gone (`get` undefined, not listed).
 *
 * Failures: see ./session.ts (401 re-authenticates once, then CLOUD_UNAUTHORIZED; 409 is a
 * retryable CLOUD_BAD_REQUEST unless it names a duplicate; 429 CLOUD_RATE_LIMITED; 5xx
 * CLOUD_INTERNAL/CLOUD_UNAVAILABLE). `reboot`, `stop`, `start` and `createImage` of a server
 * that does not exist are CLOUD_NOT_FOUND. `delete` returns once Nova no longer shows the
 * server (CLOUD_TIMEOUT after `deleteTimeoutMs`), after deleting the floating IPs Nubis made for
 * it (description `nubis-node:<id>`).
 *
 * Snapshots: Nova createImage plus Cinder snapshots of the attached volumes, read from Glance
 * with its checksums checked (./snapshots.ts).
 *
 * Agents: a node's agent is expected at `https://<address>:<agentPort>` (mutual TLS with the
 * installation CA), where the address is its floating IP if it has one, else its fixed IPv4.
 * Its identity, one-time bootstrap token and long-lived token are HMACs of its tags under the
 * driver's agent secret (`credentials.agentSecret`, else a random secret kept in
 * `<dataDir>/openstack-<cloud>.agent-secret`; see ../agent-bootstrap.ts). The user data is the
 * Nubis script of ../cloud-agent.ts (the CA certificate and the bootstrap token into
 * /var/lib/nubis/tls, the identity into `/etc/nubis/agent.env`, then `agentBootstrap` if set,
 * then the agent from `agentPath` with its Graphite listener on 127.0.0.1:`graphitePort`), with
 * the node template's `cloudInit` beside it as multipart MIME (../user-data.ts); the long-lived
 * token reaches the agent at its bootstrap, never in user data. Each agent call fails with AGENT_UNREACHABLE within
 * `agentConnectTimeoutMs` when no Nubis agent of this installation answers the TLS handshake —
 * which is always the case against Nova's fake compute driver, whose servers are not machines.
 */
import { applyOpenStackFirewall, removeOpenStackFirewall } from './firewall.js';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAgentCa, type AgentCa, type AgentClient } from '../../agent/index.js';
import { createBootstrappingAgentClient, deriveAgentSecrets, tagSeed, type CloudAgentSecrets } from '../agent-bootstrap.js';
import { GRAPHITE_PORT, agentUserData } from '../cloud-agent.js';
import { assertUserDataFits, composeUserData } from '../user-data.js';
import { NubisError } from '../../errors/index.js';
import { TAG_KEY, type CloudNode, type CreateNodeRequest, type Discovery, type Driver, type DriverContext, type NodeStatus } from '../driver.js';
import { createCompute, type Compute, type NovaFlavor, type NovaServer } from './compute.js';
import { createImages, createNetworks, createVolumes, waitUntil, type Images, type NeutronFloatingIp, type Networks, type Volumes } from './services.js';
import { createKeystoneSession, type EndpointInterface, type OpenStackSession, type RequestRecord } from './session.js';
import { openStackSnapshotCalls } from './snapshots.js';
import { downloadImage } from './image-download.js';
import type { ImageChecksum } from '../driver.js';

/** Metadata key of the idempotency-token hash; not a tag. */
export const META_TOKEN = 'nubis-token';
/** Floating IPs Nubis allocates for a node carry this description prefix plus the server id. */
export const FIP_DESCRIPTION_PREFIX = 'nubis-node:';

const MAX_META = 255;
const MAX_SERVER_TAG = 60;

export interface OpenStackDriver extends Driver {
  readonly session: OpenStackSession;
  readonly compute: Compute;
  readonly images: Images;
  readonly volumes: Volumes;
  readonly networks: Networks;
  /** os-stop; a server already SHUTOFF is left as it is. Waits for a running task to end first. */
  stop(id: string, signal: AbortSignal): Promise<void>;
  /** os-start; a server already ACTIVE is left as it is. */
  start(id: string, signal: AbortSignal): Promise<void>;
  /** Snapshot of the server into a Glance image (with the metadata); returns the image id (it may still be queued). */
  createImage(id: string, name: string, signal: AbortSignal, metadata?: Record<string, string>): Promise<string>;
  /**
   * Allocates a floating IP on `externalNetwork` (name or id; default `options.floatingIpNetwork`)
   * and associates it with the server's first port; `delete` releases it with the server.
   */
  attachFloatingIp(id: string, externalNetwork: string | undefined, signal: AbortSignal): Promise<NeutronFloatingIp>;
  /** Polls `get` until the node has `status` (or is gone, for `gone`); CLOUD_TIMEOUT after `timeoutMs`. */
  waitStatus(id: string, status: NodeStatus | 'gone', signal: AbortSignal, timeoutMs?: number): Promise<CloudNode | undefined>;
}

/** Nova server status → node status, or `gone`. */
export function nodeStatusOf(novaStatus: string): NodeStatus | 'gone' {
  switch (novaStatus.toUpperCase()) {
    case 'BUILD':
    case 'REBUILD':
      return 'provisioning';
    case 'SHUTOFF':
    case 'PAUSED':
    case 'SUSPENDED':
    case 'SHELVED':
    case 'SHELVED_OFFLOADED':
    case 'STOPPED':
      return 'stopped';
    case 'ERROR':
    case 'UNKNOWN':
      return 'error';
    case 'DELETED':
    case 'SOFT_DELETED':
      return 'gone';
    default:
      return 'running';
  }
}

/** The server tag for a Nubis tag, or undefined when it would be longer than Nova allows. */
export function serverTagFor(key: string, value: string): string | undefined {
  const esc = (s: string): string => s.replace(/[%/,]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const tag = `${esc(key)}=${esc(value)}`;
  return tag.length <= MAX_SERVER_TAG ? tag : undefined;
}

const str = (o: Record<string, unknown>, k: string): string | undefined => {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new NubisError('SPEC_INVALID', `openstack option ${k}: expected a non-empty string`);
  return v;
};
const num = (o: Record<string, unknown>, k: string): number | undefined => {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new NubisError('SPEC_INVALID', `openstack option ${k}: expected a non-negative number`);
  return v;
};

/** Creates the driver; nothing is sent to the cloud before the first call. */
export function createOpenStackDriver(ctx: DriverContext): OpenStackDriver {
  const o = ctx.options;
  const authUrl = str(o, 'authUrl');
  if (!authUrl) throw new NubisError('SPEC_INVALID', `openstack cloud ${ctx.cloud}: option authUrl (the Keystone v3 URL) is required`);
  const iface = str(o, 'interface');
  if (iface !== undefined && !['public', 'internal', 'admin'].includes(iface)) throw new NubisError('SPEC_INVALID', 'openstack option interface: expected public, internal or admin');
  const secret = (k: string): string | undefined => ctx.credentials?.[k] ?? str(o, k);
  const onRequest = typeof o['onRequest'] === 'function' ? (o['onRequest'] as (r: RequestRecord) => void) : undefined;
  const region = str(o, 'region');
  const securityGroups = o['securityGroups'];
  if (securityGroups !== undefined && !(Array.isArray(securityGroups) && securityGroups.every((s) => typeof s === 'string'))) {
    throw new NubisError('SPEC_INVALID', 'openstack option securityGroups: expected a list of names');
  }
  const rebootType = str(o, 'rebootType') ?? 'SOFT';
  if (rebootType !== 'SOFT' && rebootType !== 'HARD') throw new NubisError('SPEC_INVALID', 'openstack option rebootType: expected SOFT or HARD');

  const session = createKeystoneSession(
    {
      authUrl,
      ...(region ? { region } : {}),
      ...(iface ? { interface: iface as EndpointInterface } : {}),
      ...optional('project', str(o, 'project')),
      ...optional('projectId', str(o, 'projectId')),
      ...optional('userDomain', str(o, 'userDomain')),
      ...optional('projectDomain', str(o, 'projectDomain')),
      ...optional('username', secret('username')),
      ...optional('password', secret('password')),
      ...optional('applicationCredentialId', secret('applicationCredentialId')),
      ...optional('applicationCredentialSecret', secret('applicationCredentialSecret')),
      ...optional('tokenLifetimeMs', num(o, 'tokenLifetimeMs')),
      ...optional('refreshMarginMs', num(o, 'refreshMarginMs')),
      ...optional('requestTimeoutMs', num(o, 'requestTimeoutMs')),
    },
    onRequest,
  );
  const compute = createCompute(session, { ...optional('microversion', str(o, 'microversion')), ...optional('pageSize', num(o, 'pageSize')) });
  const images = createImages(session);
  /** SHA-256 of image data hashed here, by `<image id>:<Glance hash>`. */
  const hashedImages = new Map<string, string>();
  const volumes = createVolumes(session);
  const networks = createNetworks(session);
  const useServerTags = o['serverTags'] !== false;
  const pollMs = num(o, 'pollMs') ?? 500;
  const settleTimeoutMs = num(o, 'settleTimeoutMs') ?? 120_000;
  const deleteTimeoutMs = num(o, 'deleteTimeoutMs') ?? 90_000;
  const agentPort = num(o, 'agentPort') ?? 7430;
  const agentConnectTimeoutMs = num(o, 'agentConnectTimeoutMs') ?? 3_000;
  const agentBootstrap = str(o, 'agentBootstrap');
  const agentPath = str(o, 'agentPath');
  const graphitePort = num(o, 'graphitePort') ?? GRAPHITE_PORT;
  const defaultNetwork = str(o, 'network');
  const floatingIpNetwork = str(o, 'floatingIpNetwork');

  // ---- agent tokens ----
  let agentKey: string | undefined;
  const agentSecret = (): string => {
    if (agentKey) return agentKey;
    const given = ctx.credentials?.['agentSecret'];
    if (given) return (agentKey = given);
    const file = join(ctx.dataDir, `openstack-${ctx.cloud.replace(/[^A-Za-z0-9._-]/g, '_')}.agent-secret`);
    try {
      agentKey = readFileSync(file, 'utf8').trim();
    } catch {
      mkdirSync(ctx.dataDir, { recursive: true });
      const fresh = randomBytes(32).toString('hex');
      try {
        writeFileSync(file, fresh, { mode: 0o600, flag: 'wx' });
        chmodSync(file, 0o600);
        agentKey = fresh;
      } catch {
        agentKey = readFileSync(file, 'utf8').trim(); // another driver wrote it first
      }
    }
    return agentKey!;
  };
  const secretsOf = (tags: Record<string, string>, fallback: string): CloudAgentSecrets =>
    deriveAgentSecrets(Buffer.from(agentSecret(), 'utf8'), tagSeed(tags) ?? fallback);
  let agentCa: AgentCa | undefined;
  const ca = (): AgentCa => (agentCa ??= loadAgentCa(ctx.dataDir));
  const tokenHash = (idempotencyToken: string): string => createHash('sha256').update(idempotencyToken).digest('hex').slice(0, 40);

  // ---- servers → nodes ----
  const addressOf = (s: NovaServer): string | undefined => {
    const nets = Object.entries(s.addresses ?? {});
    nets.sort(([a], [b]) => Number(b === defaultNetwork) - Number(a === defaultNetwork));
    const all = nets.flatMap(([, list]) => list);
    const v4 = (type: string): string | undefined => all.find((a) => a['OS-EXT-IPS:type'] === type && (a.version ?? 4) === 4)?.addr;
    return v4('floating') ?? v4('fixed') ?? all[0]?.addr;
  };

  const toNode = (s: NovaServer): CloudNode => {
    const { [META_TOKEN]: nodeToken, ...tags } = s.metadata ?? {};
    const status = nodeStatusOf(s.status);
    const node: CloudNode = {
      id: s.id,
      tags,
      status: status === 'gone' ? 'stopped' : status,
      createdAt: (s.created ? Date.parse(s.created) : NaN) || Date.now(),
    };
    const address = addressOf(s);
    if (address) {
      node.address = address;
      const host = address.includes(':') ? `[${address}]` : address;
      node.agent = { url: `https://${host}:${agentPort}`, token: secretsOf(tags, nodeToken ?? s.id).agentToken };
      if (graphitePort > 0) node.graphite = { host: '127.0.0.1', port: graphitePort };
    }
    return node;
  };

  const matches = (s: NovaServer, tags: Record<string, string>): boolean =>
    nodeStatusOf(s.status) !== 'gone' && Object.entries(tags).every(([k, v]) => s.metadata?.[k] === v);

  async function findServers(tags: Record<string, string>, signal: AbortSignal): Promise<NovaServer[]> {
    const query: Record<string, string> = {};
    if (useServerTags && (await compute.atLeast('2.52', signal))) {
      const wanted = Object.entries(tags).map(([k, v]) => serverTagFor(k, v)).filter((t): t is string => t !== undefined);
      if (wanted.length > 0) query['tags'] = wanted.join(',');
    }
    return (await compute.listServers(query, signal)).filter((s) => matches(s, tags));
  }

  async function mustGet(id: string, what: string, signal: AbortSignal): Promise<NovaServer> {
    const s = await compute.getServer(id, signal);
    if (!s || nodeStatusOf(s.status) === 'gone') throw new NubisError('CLOUD_NOT_FOUND', `openstack ${what}: no server ${id}`);
    return s;
  }

  /** Waits until the server is out of BUILD and has no task running; returns it. */
  async function settled(id: string, what: string, signal: AbortSignal): Promise<NovaServer> {
    await mustGet(id, what, signal);
    const s = await waitUntil(
      `openstack ${what} ${id}: waiting for the server to settle`,
      () => compute.getServer(id, signal),
      (v) => v !== undefined && v.status !== 'BUILD' && !v['OS-EXT-STS:task_state'],
      (v) => (v === undefined ? 'the server is gone' : v.status === 'ERROR' ? `the server is in ERROR${v.fault?.message ? `: ${session.redact(v.fault.message).slice(0, 200)}` : ''}` : undefined),
      signal,
      { timeoutMs: settleTimeoutMs, pollMs },
    );
    return s!;
  }

  // ---- resolving names ----
  let flavorCache: Promise<NovaFlavor[]> | undefined;
  const flavors = (signal: AbortSignal): Promise<NovaFlavor[]> => {
    if (!flavorCache) {
      flavorCache = compute.flavors(signal);
      flavorCache.catch(() => (flavorCache = undefined));
    }
    return flavorCache;
  };
  const resolved = new Map<string, string>();

  async function flavorFor(req: CreateNodeRequest, signal: AbortSignal): Promise<string> {
    const list = await flavors(signal);
    const named = req.placement?.offer ?? str(o, 'flavor');
    if (named) {
      const f = list.find((x) => x.id === named) ?? list.find((x) => x.name === named);
      if (!f) throw new NubisError('CLOUD_BAD_REQUEST', `openstack: no flavor ${JSON.stringify(named)}`);
      return f.id;
    }
    const r = req.requirements;
    const fits = list
      .filter((f) => f.vcpus >= (r.cores ?? 1) && f.ram >= (r.memoryMiB ?? 0) && f.disk >= (r.diskGiB ?? 0))
      .sort((a, b) => a.vcpus - b.vcpus || a.ram - b.ram || a.disk - b.disk);
    if (!fits[0]) throw new NubisError('CLOUD_BAD_REQUEST', `openstack: no flavor has ≥ ${r.cores ?? 1} cores, ≥ ${r.memoryMiB ?? 0} MiB and ≥ ${r.diskGiB ?? 0} GiB`);
    return fits[0].id;
  }

  async function imageFor(req: CreateNodeRequest, signal: AbortSignal): Promise<string> {
    const named = req.placement?.image ?? str(o, 'image');
    if (!named) throw new NubisError('CLOUD_BAD_REQUEST', 'openstack: no image (set options.image, or let selection choose one)');
    const hit = resolved.get(`image:${named}`);
    if (hit) return hit;
    const byId = /^[0-9a-f-]{36}$/i.test(named) ? await images.get(named, signal) : undefined;
    const list = byId ? [byId] : await images.list({ name: named }, signal);
    const active = list.filter((i) => i.status === 'active');
    if (active.length === 0) throw new NubisError('CLOUD_BAD_REQUEST', `openstack: no active image ${JSON.stringify(named)}`);
    if (active.length > 1) throw new NubisError('CLOUD_BAD_REQUEST', `openstack: ${active.length} images are named ${JSON.stringify(named)}; give its id`);
    resolved.set(`image:${named}`, active[0]!.id);
    return active[0]!.id;
  }

  async function networkFor(signal: AbortSignal): Promise<string[] | 'none' | 'auto' | undefined> {
    if (!defaultNetwork) return undefined;
    if (defaultNetwork === 'none' || defaultNetwork === 'auto') return defaultNetwork;
    const hit = resolved.get(`network:${defaultNetwork}`);
    if (hit) return [hit];
    const n = await networks.find(defaultNetwork, signal);
    if (!n) throw new NubisError('CLOUD_BAD_REQUEST', `openstack: no network ${JSON.stringify(defaultNetwork)}`);
    resolved.set(`network:${defaultNetwork}`, n.id);
    return [n.id];
  }

  /** The Nubis script (with `agentBootstrap` run before the agent starts) and the template's cloud-config (../user-data.ts). */
  function userData(req: CreateNodeRequest, nodeToken: string): string {
    const script = agentUserData({ secrets: secretsOf(req.tags, nodeToken), ca: ca(), graphitePort, ...(agentBootstrap ? { before: agentBootstrap } : {}), ...(agentPath ? { agentPath } : {}) });
    const text = composeUserData(script, req.cloudInit);
    assertUserDataFits('openstack', text, req.key);
    return text;
  }

  const aborted = (signal: AbortSignal, what: string): void => {
    if (signal.aborted) throw new NubisError('ABORTED', `openstack ${what} aborted`);
  };

  // ---- agents ----
  /** Bootstraps on first use, then mutual TLS; no answer to the handshake within `agentConnectTimeoutMs` is AGENT_UNREACHABLE. */
  function agentFor(node: CloudNode): AgentClient {
    const a = node.agent;
    if (!a) {
      const no = (): Promise<never> => Promise.reject(new NubisError('AGENT_UNREACHABLE', `node ${node.id} has no address an agent could be reached at`));
      return { runStep: no, stopInstance: no, status: no, logs: no };
    }
    return createBootstrappingAgentClient(a.url, ca(), secretsOf(node.tags, node.id), node.id, agentConnectTimeoutMs);
  }

  async function releaseFloatingIps(id: string, signal: AbortSignal): Promise<void> {
    let ports;
    try {
      ports = await networks.ports({ deviceId: id }, signal);
    } catch (e) {
      if (e instanceof NubisError && e.code === 'CLOUD_NOT_FOUND' && /catalog/.test(e.message)) return; // no Neutron
      throw e;
    }
    for (const p of ports) {
      for (const f of await networks.listFloatingIps({ portId: p.id }, signal)) {
        if (f.description === `${FIP_DESCRIPTION_PREFIX}${id}`) await networks.deleteFloatingIp(f.id, signal);
      }
    }
  }

  const driver: OpenStackDriver = {
    platform: 'openstack',
    session,
    compute,
    images,
    volumes,
    networks,
    // [placement] firewalls from channels: a security group per component (./firewall.ts)
    applyFirewall: (set, signal) => applyOpenStackFirewall(networks, set, signal),
    removeFirewall: (set, signal) => removeOpenStackFirewall(networks, set, signal),

    async create(req, signal) {
      aborted(signal, `create ${req.key}`);
      for (const [k, v] of Object.entries(req.tags)) {
        if (k.length > MAX_META || v.length > MAX_META || k.length === 0) {
          throw new NubisError('CLOUD_BAD_REQUEST', `openstack create ${req.key}: tag ${JSON.stringify(k.slice(0, 40))} is longer than the ${MAX_META} characters Nova metadata allows`);
        }
      }
      const nodeToken = tokenHash(req.idempotencyToken);
      const mine = (await findServers({ [TAG_KEY]: req.key }, signal)).filter((s) => s.metadata?.[META_TOKEN] === nodeToken);
      if (mine.length > 0) {
        mine.sort((a, b) => (a.created ?? '').localeCompare(b.created ?? '') || a.id.localeCompare(b.id));
        return toNode(mine[0]!);
      }
      const [flavorRef, imageRef, nets] = await Promise.all([flavorFor(req, signal), imageFor(req, signal), networkFor(signal)]);
      const location = req.placement?.location;
      const zone = location ? location.split('/').pop() : str(o, 'availabilityZone');
      const serverTags = Object.entries(req.tags).map(([k, v]) => serverTagFor(k, v)).filter((t): t is string => t !== undefined);
      const keyName = str(o, 'keyName');
      const serverGroup = str(o, 'serverGroup');
      aborted(signal, `create ${req.key}`);
      const id = await compute.createServer(
        {
          name: `nubis-${req.key.replace(/[^A-Za-z0-9-]+/g, '-')}`.slice(0, 63),
          imageRef,
          flavorRef,
          ...(nets ? { networks: nets } : {}),
          ...(keyName ? { keyName } : {}),
          userData: userData(req, nodeToken),
          metadata: { ...req.tags, [META_TOKEN]: nodeToken },
          ...(useServerTags ? { tags: serverTags } : {}),
          ...(zone ? { availabilityZone: zone } : {}),
          ...(securityGroups ? { securityGroups: securityGroups as string[] } : {}),
          ...(serverGroup ? { serverGroup } : {}),
        },
        signal,
      );
      const s = await compute.getServer(id, signal);
      if (s) return toNode(s);
      return { id, tags: { ...req.tags }, status: 'provisioning', createdAt: Date.now() };
    },

    async get(id, signal) {
      aborted(signal, `get ${id}`);
      const s = await compute.getServer(id, signal);
      return s && nodeStatusOf(s.status) !== 'gone' ? toNode(s) : undefined;
    },

    async list(tags, signal) {
      aborted(signal, 'list');
      return (await findServers(tags, signal)).map(toNode);
    },

    async delete(id, signal) {
      aborted(signal, `delete ${id}`);
      await releaseFloatingIps(id, signal);
      if (!(await compute.deleteServer(id, signal))) return;
      await waitUntil(
        `openstack delete ${id}`,
        () => compute.getServer(id, signal),
        (s) => s === undefined || nodeStatusOf(s.status) === 'gone',
        () => undefined,
        signal,
        { timeoutMs: deleteTimeoutMs, pollMs },
      );
    },

    async reboot(id, signal) {
      aborted(signal, `reboot ${id}`);
      const s = await settled(id, 'reboot', signal);
      if (nodeStatusOf(s.status) === 'stopped') await compute.action(id, { 'os-start': null }, signal);
      else await compute.action(id, { reboot: { type: rebootType } }, signal);
    },

    async stop(id, signal) {
      aborted(signal, `stop ${id}`);
      const s = await settled(id, 'stop', signal);
      if (s.status === 'SHUTOFF') return;
      await compute.action(id, { 'os-stop': null }, signal);
    },

    async start(id, signal) {
      aborted(signal, `start ${id}`);
      const s = await settled(id, 'start', signal);
      if (s.status === 'ACTIVE') return;
      await compute.action(id, { 'os-start': null }, signal);
    },

    async createImage(id, name, signal, metadata = {}) {
      aborted(signal, `createImage ${id}`);
      await settled(id, 'createImage', signal);
      return compute.createImage(id, name, { ...metadata, 'nubis-source-server': id }, signal);
    },

    async attachFloatingIp(id, externalNetwork, signal) {
      const netName = externalNetwork ?? floatingIpNetwork;
      if (!netName) throw new NubisError('CLOUD_BAD_REQUEST', 'openstack: no external network for a floating IP (set options.floatingIpNetwork)');
      await mustGet(id, 'attach floating IP', signal);
      const net = await networks.find(netName, signal);
      if (!net) throw new NubisError('CLOUD_BAD_REQUEST', `openstack: no network ${JSON.stringify(netName)}`);
      const port = (await networks.ports({ deviceId: id }, signal))[0];
      if (!port) throw new NubisError('CLOUD_BAD_REQUEST', `openstack: server ${id} has no port to put a floating IP on`);
      return networks.createFloatingIp({ networkId: net.id, portId: port.id, description: `${FIP_DESCRIPTION_PREFIX}${id}` }, signal);
    },

    async waitStatus(id, status, signal, timeoutMs = 120_000) {
      return waitUntil(
        `openstack server ${id} to become ${status}`,
        () => driver.get(id, signal),
        (n) => (status === 'gone' ? n === undefined : n?.status === status),
        (n) => (n === undefined && status !== 'gone' ? 'the server is gone' : n?.status === 'error' && status !== 'error' ? 'the server is in ERROR' : undefined),
        signal,
        { timeoutMs, pollMs },
      );
    },

    ...openStackSnapshotCalls({
      session,
      images,
      volumes,
      createImage: (id, name, metadata, signal) => driver.createImage(id, name, signal, metadata),
      ...(onRequest ? { onRequest } : {}),
    }),

    agent: agentFor,

    /**
     * Glance's `os_hash_value` when its `os_hash_algo` is sha256; otherwise (Glance hashes with
     * sha512 by default, and `checksum` is MD5) the image's bytes are downloaded and hashed once
     * per (image, Glance hash). Undefined when no active image has that id or name.
     */
    async imageChecksum(named, signal): Promise<ImageChecksum | undefined> {
      const byId = /^[0-9a-f-]{36}$/i.test(named) ? await images.get(named, signal) : undefined;
      const active = (byId ? [byId] : await images.list({ name: named }, signal)).filter((i) => i.status === 'active');
      if (active.length !== 1) return undefined;
      const img = active[0]!;
      const size = typeof img['size'] === 'number' ? { sizeBytes: img['size'] } : {};
      const algo = img['os_hash_algo'];
      const value = img['os_hash_value'];
      if (algo === 'sha256' && typeof value === 'string') return { sha256: value.toLowerCase(), ...size, source: 'glance os_hash_value' };
      const key = `${img.id}:${String(value ?? img['checksum'] ?? img['updated_at'] ?? '')}`;
      const known = hashedImages.get(key);
      if (known) return { sha256: known, ...size, source: 'glance image data (sha256 computed)' };
      const h = createHash('sha256');
      for await (const chunk of await downloadImage(session, img.id, signal, onRequest)) h.update(chunk);
      const sha256 = h.digest('hex');
      hashedImages.set(key, sha256);
      return { sha256, ...size, source: 'glance image data (sha256 computed)' };
    },

    async discover(signal): Promise<Discovery> {
      const [fl, zones, imgs] = await Promise.all([flavors(signal), compute.availabilityZones(signal), images.list({ status: 'active' }, signal)]);
      const reg = region ?? 'default';
      const locations = zones.length > 0 ? zones.map((z) => ({ id: `${reg}/${z}`, region: reg, zone: z })) : [{ id: reg, region: reg }];
      return {
        locations,
        offers: fl.map((f) => ({ id: f.id, cores: f.vcpus, memoryMiB: f.ram, diskGiB: f.disk })),
        images: imgs.map((i) => {
          const os = (typeof i.os_distro === 'string' ? i.os_distro : typeof i.os_type === 'string' ? i.os_type : undefined)?.toLowerCase();
          return {
            id: i.id,
            name: i.name,
            ...(os ? { os } : {}),
            ...(typeof i.os_version === 'string' ? { osVersion: i.os_version.toLowerCase() } : {}),
          };
        }),
      };
    },

    async close() {
      flavorCache = undefined;
    },
  };
  return driver;
}

function optional<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}
