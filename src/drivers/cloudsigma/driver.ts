/**
 * The `cloudsigma` driver: the Driver interface over the CloudSigma API 2.0 (JSON over HTTPS),
 * as used in seed 000 §2.6 and §5.2: servers cloned from a prepared server, started, stopped,
 * deleted with their drives; tags; billed resources.
 *
 * Options (ctx.options): `endpoint` (required, such as `https://zrh.cloudsigma.com/api/2.0/`),
 * `cloneFrom` (required: the uuid of a server to clone, or of a drive when `cloneKind` is
 * `drive`), `cloneKind` (`server` (default) | `drive`; with `drive` a new server of `cpuMHz`
 * (default 2000 per requested core) and the requested memory is made with a clone of the drive
 * as its boot disk and a DHCP NIC), `pageSize` (default 100: `limit` of list calls),
 * `recurse` (delete's `recurse`, default `all_drives` — note that a clone shares the source's
 * CD-ROMs and `all_drives` deletes those too; use `disks` when the source has a CD-ROM attached),
 * `pollMs` (default 1000: the interval of every status poll, clones and stops alike) and
 * `stopTimeoutMs` (default 120 000) for the stop before a delete, `cloneTimeoutMs` (default
 * 600 000: how long a clone's copy may take), `agentPath`, `agentPort` (default 7430, where the
 * control plane dials agents; the user data starts the agent on 7430, so change it only when
 * something forwards that port, such as a NAT rule or a test). Credentials: `username` and `password` (HTTP Basic, as in seed 000 Listing 3) or
 * `token` (sent as a bearer token); optional `agentSecret`. Never logged or put in errors.
 *
 * Nubis tags live in the server's `meta` (`nubis-tags`, JSON; authoritative, written in the same
 * PUT as everything else) and as CloudSigma tags named `<key>=<value>` attached through the
 * server's `tags` list (for the console, `listByTag` and bulk clones). `list` pages through
 * /servers/detail/ and filters on meta: one call per page, and immune to lost updates of a
 * shared tag's resource list.
 *
 * Asynchronous clones (API 2.0 "Servers → Cloning", "Drives → Cloning": 202, the copy's drives
 * `cloning_dst` until it ends): `create` labels the clone at once, then polls its drives every
 * `pollMs` and starts the server only when none is being copied (CLOUD_TIMEOUT, retryable, after
 * `cloneTimeoutMs`; ABORTED on abort); `delete` likewise waits before it deletes drives. See
 * ./clones.ts.
 *
 * Idempotency: CloudSigma has no client token. `create` first lists the servers and returns the
 * one whose meta `nubis-idempotency` equals the token (starting it if it is stopped). Residual
 * race: two creates with the same token at the same instant (two control planes) can both
 * clone; both clones carry the tags, so the engine's tag sweep finds and removes the duplicate.
 *
 * No leak on partial failure: clone, label (the PUT that writes meta and tags) and start are
 * separate calls, so the clone call itself names the server (and, with `cloneKind: drive`, the
 * cloned drive) `nubis-<owner prefix>-<tenant>.<key>.<attempt>` (./naming.ts). `list` returns
 * untagged servers with such a name as nodes whose tags are read from the name, with status
 * `error` (half-made), and unattached drives with such a name as nodes `drive:<uuid>` (status
 * `error`), so the engine's sweep (and a destroy) finds them; `get` and `delete` take those ids.
 * When the label fails with a retryable error the named clone is kept: the create repeated with
 * the same token finds it by name and labels it (no second clone). When it fails for good the
 * driver removes the clone (after its copy ends); when a server cannot be made from a cloned
 * drive the driver removes the drive. A removal that fails leaves the named resource for the
 * sweep.
 *
 * Failure meaning: statuses map through `classifyHttpError` (../explain.ts; seed 000 §4.1) with
 * the body's `error_type` as the provider code; an unreachable endpoint is CLOUD_UNAVAILABLE.
 * 404 on get is undefined, on delete success. A delete first stops a running server (CloudSigma
 * deletes stopped servers), waiting up to `stopTimeoutMs` (then CLOUD_TIMEOUT).
 */
import { loadAgentCa, type AgentCa, type AgentClient } from '../../agent/index.js';
import { NubisError } from '../../errors/index.js';
import type { CloudNode, CreateNodeRequest, Driver, DriverContext, NodeStatus } from '../driver.js';
import { TAG_KEY, TAG_OWNER } from '../driver.js';
import { classifyHttpError } from '../explain.js';
import { AGENT_PORT, GRAPHITE_PORT, agentSecrets, agentToken, agentUserData, cloudAgentClient, loadAgentSecret } from '../cloud-agent.js';
import { assertUserDataFits, composeUserData } from '../user-data.js';
import { waitForClones } from './clones.js';
import { nubisName, ownerPrefix, parseNubisName, tagsFromName } from './naming.js';

export interface CloudSigmaOptions {
  endpoint: string;
  cloneFrom: string;
  cloneKind: 'server' | 'drive';
  cpuMHz: number;
  pageSize: number;
  recurse: 'all_drives' | 'disks' | 'cdroms';
  pollMs: number;
  stopTimeoutMs: number;
  cloneTimeoutMs: number;
  agentPort: number;
  agentPath?: string;
  /** The agent's Graphite listener on the VM (127.0.0.1), 0 for none. */
  graphitePort: number;
}

/** A drive as the API returns it (the fields this driver reads). */
interface CsDrive {
  uuid: string;
  name: string;
  status: string;
  mounted_on?: Array<{ uuid: string } | string>;
}

/** Prefix of the node ids `list` gives named drives that no server uses. */
const DRIVE_NODE = 'drive:';

/** A server as the API returns it (the fields this driver reads). */
export interface CsServer {
  uuid: string;
  name: string;
  cpu: number;
  mem: number;
  vnc_password?: string;
  status: string;
  meta?: Record<string, string>;
  tags?: Array<{ uuid: string } | string>;
  drives?: unknown[];
  nics?: Array<{ ip_v4_conf?: { conf?: string; ip?: { uuid?: string } | null } | null; runtime?: { ip_v4?: { uuid?: string } | null } | null }>;
  runtime?: { nics?: Array<{ ip_v4?: { uuid?: string } | null }> } | null;
  [k: string]: unknown;
}

/** Something that keeps billing, from `listBilled`. */
export interface BilledResource {
  kind: 'subscription' | 'vlan' | 'ip';
  id: string;
  /** For subscriptions: vlan, ip, dssd, …; for vlans and ips the same as kind. */
  resource: string;
  /** Servers it is attached to (vlans, ips); the subscribed object (subscriptions). */
  attachedTo: string[];
  /** True when nothing uses it: a VLAN without servers, an IP without a server, a subscription for an object that no longer exists. */
  unattached: boolean;
  status?: string;
  endTime?: string;
  autoRenew?: boolean;
  subscriptionId?: string;
}

export interface BilledResources {
  subscriptions: BilledResource[];
  vlans: BilledResource[];
  ips: BilledResource[];
}

export interface CloudSigmaDriver extends Driver {
  /** POST ?do=start. */
  start(id: string, signal: AbortSignal): Promise<void>;
  /** POST ?do=stop (power off at once). */
  stop(id: string, signal: AbortSignal): Promise<void>;
  /** POST ?do=shutdown (ACPI; the server may take up to a minute, or refuse). */
  shutdown(id: string, signal: AbortSignal): Promise<void>;
  /**
   * `bulk_clone_start` of `cloneFrom` (seed 000 Listing 10): `count` clones made and started by
   * the cloud in one call, then tagged with `tags` (and `keys[i]` as nubis-key of the i-th).
   * Not idempotent (one call, many servers): callers find earlier results by tag. When tagging
   * fails, the clones not yet tagged are stopped and deleted (the cloud names them, so no name
   * would find them again) and the error is thrown; the ones tagged stay, found by tag.
   */
  bulkCloneStart(count: number, tags: Record<string, string>, signal: AbortSignal, opts?: { keys?: string[] }): Promise<CloudNode[]>;
  /** Servers attached to the CloudSigma tag named `name` (GET /tags/{uuid}/servers/, seed 000 Listing 11). */
  listByTag(name: string, signal: AbortSignal): Promise<CloudNode[]>;
  /** Subscriptions, VLANs and IPs of the account, with what each is attached to. */
  listBilled(signal: AbortSignal): Promise<BilledResources>;
}

const META_TAGS = 'nubis-tags';
const META_TOKEN = 'nubis-idempotency';

function num(o: Record<string, unknown>, name: string, dflt: number): number {
  const v = o[name] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new NubisError('SPEC_INVALID', `cloudsigma option ${name}: expected a positive number`);
  return v;
}

/** Validates the cloud options; throws SPEC_INVALID naming the option. */
export function parseCloudSigmaOptions(o: Record<string, unknown>): CloudSigmaOptions {
  const endpoint = o['endpoint'];
  if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint)) {
    throw new NubisError('SPEC_INVALID', 'cloudsigma option endpoint: required, such as https://zrh.cloudsigma.com/api/2.0/');
  }
  const cloneFrom = o['cloneFrom'];
  if (typeof cloneFrom !== 'string' || cloneFrom === '') throw new NubisError('SPEC_INVALID', 'cloudsigma option cloneFrom: required (a server or drive uuid)');
  const cloneKind = o['cloneKind'] ?? 'server';
  if (cloneKind !== 'server' && cloneKind !== 'drive') throw new NubisError('SPEC_INVALID', 'cloudsigma option cloneKind: expected server or drive');
  const recurse = o['recurse'] ?? 'all_drives';
  if (recurse !== 'all_drives' && recurse !== 'disks' && recurse !== 'cdroms') throw new NubisError('SPEC_INVALID', 'cloudsigma option recurse: expected all_drives, disks or cdroms');
  const out: CloudSigmaOptions = {
    endpoint: endpoint.endsWith('/') ? endpoint : `${endpoint}/`,
    cloneFrom,
    cloneKind,
    cpuMHz: num(o, 'cpuMHz', 2000),
    pageSize: Math.floor(num(o, 'pageSize', 100)),
    recurse,
    pollMs: num(o, 'pollMs', 1000),
    stopTimeoutMs: num(o, 'stopTimeoutMs', 120_000),
    cloneTimeoutMs: num(o, 'cloneTimeoutMs', 600_000),
    agentPort: num(o, 'agentPort', AGENT_PORT),
    graphitePort: num(o, 'graphitePort', GRAPHITE_PORT),
  };
  if (!Number.isInteger(out.graphitePort) || out.graphitePort < 0 || out.graphitePort > 65535) throw new NubisError('SPEC_INVALID', 'cloudsigma option graphitePort: expected a TCP port (0 for none)');
  if (!Number.isInteger(out.agentPort) || out.agentPort > 65535) throw new NubisError('SPEC_INVALID', 'cloudsigma option agentPort: expected a TCP port (1–65535)');
  if (typeof o['agentPath'] === 'string') out.agentPath = o['agentPath'];
  return out;
}

/** CloudSigma server status → node status. */
export function cloudSigmaStatus(status: string): NodeStatus {
  switch (status) {
    case 'running': return 'running';
    case 'starting': return 'provisioning';
    case 'stopped':
    case 'stopping':
    case 'paused': return 'stopped';
    default: return 'error';
  }
}

function tagsOf(s: CsServer): Record<string, string> {
  const raw = s.meta?.[META_TAGS];
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function addressOf(s: CsServer): string | undefined {
  for (const n of s.runtime?.nics ?? []) if (n.ip_v4?.uuid) return n.ip_v4.uuid;
  for (const n of s.nics ?? []) {
    if (n.runtime?.ip_v4?.uuid) return n.runtime.ip_v4.uuid;
    if (n.ip_v4_conf?.ip?.uuid) return n.ip_v4_conf.ip.uuid;
  }
  return undefined;
}

interface Answer {
  status: number;
  body: unknown;
}

/** Creates the cloudsigma driver. Throws SPEC_INVALID for bad options or missing credentials. */
export function createCloudSigmaDriver(ctx: DriverContext): CloudSigmaDriver {
  const opts = parseCloudSigmaOptions(ctx.options);
  const creds = ctx.credentials ?? {};
  let authorization: string;
  if (creds['username'] && creds['password']) authorization = `Basic ${Buffer.from(`${creds['username']}:${creds['password']}`).toString('base64')}`;
  else if (creds['token']) authorization = `Bearer ${creds['token']}`;
  else throw new NubisError('SPEC_INVALID', `cloudsigma cloud ${ctx.cloud}: credentials username and password (or token) are required`);
  const secret = loadAgentSecret('cloudsigma', ctx.cloud, ctx.dataDir, ctx.credentials);
  // agents speak mutual TLS with certificates of the installation CA (made on first use)
  let agentCa: AgentCa | undefined;
  const ca = (): AgentCa => (agentCa ??= loadAgentCa(ctx.dataDir));
  const closing = new AbortController();
  const enc = encodeURIComponent;
  const tagIds = new Map<string, string>();
  let tagLock: Promise<unknown> = Promise.resolve();

  async function request(method: string, path: string, body: unknown, signal: AbortSignal, what: string): Promise<Answer> {
    if (signal.aborted) throw new NubisError('ABORTED', `cloudsigma ${what} aborted`);
    try {
      const res = await fetch(opts.endpoint + path, {
        method,
        signal: AbortSignal.any([signal, closing.signal]),
        headers: { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text.slice(0, 200);
      }
      return { status: res.status, body: parsed };
    } catch (e) {
      if (signal.aborted) throw new NubisError('ABORTED', `cloudsigma ${what} aborted`);
      const code = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new NubisError('CLOUD_UNAVAILABLE', `cloudsigma ${what}: endpoint ${opts.endpoint} unreachable (${code})`, { details: { endpoint: opts.endpoint } });
    }
  }

  /** The error for a non-2xx answer: the first entry of the `[{error_point, error_type, error_message}]` body. */
  function fail(a: Answer, what: string): NubisError {
    const first = Array.isArray(a.body) ? (a.body[0] as { error_type?: string; error_message?: string; error_point?: string | null } | undefined) : undefined;
    const message = first?.error_message ? `${first.error_message}${first.error_point ? ` (at ${first.error_point})` : ''}` : typeof a.body === 'string' ? a.body : 'failed';
    return classifyHttpError(a.status, `cloudsigma ${what}: ${message}`, first?.error_type);
  }

  async function ok(method: string, path: string, body: unknown, signal: AbortSignal, what: string, okStatuses = [200, 201, 202, 204]): Promise<unknown> {
    const a = await request(method, path, body, signal, what);
    if (!okStatuses.includes(a.status)) throw fail(a, what);
    return a.body;
  }

  /** Every object of a paginated list (`limit`/`offset`, `meta.total_count`). */
  async function all<T>(path: string, signal: AbortSignal, what: string): Promise<T[]> {
    const out: T[] = [];
    for (let offset = 0; ; ) {
      const sep = path.includes('?') ? '&' : '?';
      const page = (await ok('GET', `${path}${sep}limit=${opts.pageSize}&offset=${offset}`, undefined, signal, what)) as {
        objects?: T[];
        meta?: { total_count?: number };
      };
      const objs = page.objects ?? [];
      out.push(...objs);
      offset += objs.length;
      const total = page.meta?.total_count ?? 0;
      if (objs.length === 0 || offset >= total) return out;
    }
  }

  /** Owner ids this driver has been asked about, by their name prefix (names carry only 8 characters). */
  const owners = new Map<string, string>();
  const learnOwner = (tags: Record<string, string>): void => {
    const owner = tags[TAG_OWNER];
    if (owner) owners.set(ownerPrefix(owner), owner);
  };
  /** The tags a Nubis name stands for, or undefined for a name Nubis did not give. */
  const tagsOfName = (name: string): Record<string, string> | undefined => {
    const n = parseNubisName(name);
    return n ? tagsFromName(n, owners.get(n.ownerPrefix)) : undefined;
  };

  function toNode(s: CsServer): CloudNode {
    const labelled = tagsOf(s);
    const named = Object.keys(labelled).length === 0 ? tagsOfName(s.name) : undefined;
    const tags = named ?? labelled;
    // a clone that was named but never labelled is half-made, whatever its power state
    const node: CloudNode = { id: s.uuid, tags, status: named ? 'error' : cloudSigmaStatus(s.status), createdAt: Number(s.meta?.['nubis-created']) || ctx.clock.now() };
    const address = addressOf(s);
    if (address) node.address = address;
    const token = agentToken(secret, tags);
    if (address && token) node.agent = { url: `https://${address}:${opts.agentPort}`, token };
    if (opts.graphitePort > 0 && token) node.graphite = { host: '127.0.0.1', port: opts.graphitePort };
    return node;
  }

  /** A named drive no server uses: a half-made node the sweep must be able to remove. */
  const driveNode = (d: CsDrive, tags: Record<string, string>): CloudNode => ({ id: `${DRIVE_NODE}${d.uuid}`, tags, status: 'error', createdAt: ctx.clock.now() });

  async function getDrive(uuid: string, signal: AbortSignal): Promise<CsDrive | undefined> {
    const a = await request('GET', `drives/${enc(uuid)}/`, undefined, signal, `get drive ${uuid}`);
    if (a.status === 404) return undefined;
    if (a.status !== 200) throw fail(a, `get drive ${uuid}`);
    return a.body as CsDrive;
  }

  const driveIdsOf = (s: CsServer): string[] =>
    (s.drives ?? []).flatMap((x) => {
      const d = (x as { drive?: { uuid?: string } | string }).drive;
      const uuid = typeof d === 'string' ? d : d?.uuid;
      return uuid ? [uuid] : [];
    });

  /** Waits until no drive of `uuids` is being cloned (see ./clones.ts). */
  function clonesDone(uuids: string[], what: string, signal: AbortSignal): Promise<void> {
    const statusOf = async (uuid: string): Promise<string | undefined> => (await getDrive(uuid, signal))?.status;
    return waitForClones(uuids, statusOf, { clock: ctx.clock, pollMs: opts.pollMs, timeoutMs: opts.cloneTimeoutMs }, signal, what);
  }

  async function removeDrive(uuid: string, signal: AbortSignal): Promise<void> {
    await clonesDone([uuid], `delete drive ${uuid}`, signal);
    const a = await request('DELETE', `drives/${enc(uuid)}/`, undefined, signal, `delete drive ${uuid}`);
    if (a.status !== 204 && a.status !== 200 && a.status !== 404) throw fail(a, `delete drive ${uuid}`);
  }

  async function getServer(id: string, signal: AbortSignal): Promise<CsServer | undefined> {
    const a = await request('GET', `servers/${enc(id)}/`, undefined, signal, `get ${id}`);
    if (a.status === 404) return undefined;
    if (a.status !== 200) throw fail(a, `get ${id}`);
    return a.body as CsServer;
  }

  /** The uuid of the CloudSigma tag named `name`, made when missing (serialised in this driver). */
  function tagId(name: string, signal: AbortSignal): Promise<string> {
    const run = tagLock.then(async () => {
      const known = tagIds.get(name);
      if (known) return known;
      const existing = (await all<{ uuid: string; name: string }>('tags/', signal, 'list tags')).find((t) => t.name === name);
      const uuid = existing?.uuid ?? ((await ok('POST', 'tags/', { objects: [{ name }] }, signal, `create tag ${name}`)) as { objects: Array<{ uuid: string }> }).objects[0]!.uuid;
      tagIds.set(name, uuid);
      return uuid;
    });
    tagLock = run.catch(() => undefined);
    return run;
  }

  /** Writes Nubis tags (meta and CloudSigma tags), the token and the agent's user data in one PUT. */
  async function label(s: CsServer, tags: Record<string, string>, token: string | undefined, signal: AbortSignal, cloudInit?: CreateNodeRequest['cloudInit']): Promise<CsServer> {
    const ids: string[] = [];
    for (const [k, v] of Object.entries(tags)) ids.push(await tagId(`${k}=${v}`, signal));
    const meta: Record<string, string> = { ...(s.meta ?? {}), [META_TAGS]: JSON.stringify(tags), 'nubis-created': String(ctx.clock.now()) };
    if (token !== undefined) meta[META_TOKEN] = token;
    const secrets = agentSecrets(secret, tags);
    if (secrets) {
      const script = agentUserData({ secrets, ca: ca(), graphitePort: opts.graphitePort, ...(opts.agentPath ? { agentPath: opts.agentPath } : {}) });
      const userData = composeUserData(script, cloudInit);
      assertUserDataFits('cloudsigma', userData, tags[TAG_KEY] ?? s.uuid);
      meta['cloudinit-user-data'] = Buffer.from(userData, 'utf8').toString('base64');
      meta['base64_fields'] = 'cloudinit-user-data';
    }
    const body = { name: s.name, cpu: s.cpu, mem: s.mem, vnc_password: s.vnc_password, meta, tags: ids };
    return (await ok('PUT', `servers/${enc(s.uuid)}/`, body, signal, `label ${s.uuid}`)) as CsServer;
  }

  async function action(id: string, what: string, signal: AbortSignal, body: unknown = {}): Promise<unknown> {
    return ok('POST', `servers/${enc(id)}/action/?do=${what}`, body, signal, `${what} ${id}`);
  }

  async function waitStopped(id: string, signal: AbortSignal): Promise<CsServer | undefined> {
    const deadline = ctx.clock.now() + opts.stopTimeoutMs;
    for (;;) {
      const s = await getServer(id, signal);
      if (!s || s.status === 'stopped') return s;
      if (ctx.clock.now() >= deadline) throw new NubisError('CLOUD_TIMEOUT', `cloudsigma server ${id} still ${s.status} after ${opts.stopTimeoutMs} ms`);
      try {
        await ctx.clock.sleep(opts.pollMs, signal);
      } catch {
        throw new NubisError('ABORTED', `cloudsigma wait for ${id} aborted`);
      }
    }
  }

  /** Makes the server for `req`, named `name`: a server clone, or a server around a drive clone (an unused drive an earlier attempt cloned is reused). */
  async function cloneOne(name: string, req: CreateNodeRequest, signal: AbortSignal): Promise<CsServer> {
    if (opts.cloneKind === 'server') {
      return (await action(opts.cloneFrom, 'clone', signal, { name, random_vnc_password: true })) as CsServer;
    }
    const earlier = (await all<CsDrive>('drives/detail/', signal, 'list drives')).find((d) => d.name === name && (d.mounted_on ?? []).length === 0);
    const drive = earlier ?? ((await ok('POST', `drives/${enc(opts.cloneFrom)}/action/?do=clone`, { name }, signal, `clone drive ${opts.cloneFrom}`)) as {
      objects: Array<{ uuid: string }>;
    }).objects[0]!;
    const server = {
      name,
      cpu: Math.max(1, req.requirements.cores ?? 1) * opts.cpuMHz,
      mem: Math.max(256, req.requirements.memoryMiB ?? 1024) * 1024 * 1024,
      vnc_password: Math.random().toString(36).slice(2, 10),
      drives: [{ boot_order: 1, dev_channel: '0:0', device: 'virtio', drive: drive.uuid }],
      nics: [{ ip_v4_conf: { conf: 'dhcp' }, model: 'virtio' }],
    };
    try {
      return ((await ok('POST', 'servers/', { objects: [server] }, signal, `create server ${name}`)) as { objects: CsServer[] }).objects[0]!;
    } catch (e) {
      // a failure the create's retry can get past keeps the named drive for it; any other removes it
      if (!(e instanceof NubisError && e.retryable)) await removeDrive(drive.uuid, signal).catch(() => undefined);
      throw e;
    }
  }

  /** Labels a fresh clone; a label that fails for good removes the clone (a retryable failure keeps it, named, for the retry). */
  async function labelOrRemove(clone: CsServer, req: CreateNodeRequest, signal: AbortSignal): Promise<void> {
    try {
      await label(clone, req.tags, req.idempotencyToken, signal, req.cloudInit);
    } catch (e) {
      if (!(e instanceof NubisError && e.retryable)) await removeServer(clone.uuid, signal).catch(() => undefined);
      throw e;
    }
  }

  /** Starts a labelled server once its drives are copied; returns it as it is then. */
  async function startWhenCloned(id: string, key: string, signal: AbortSignal): Promise<CloudNode> {
    const before = await getServer(id, signal);
    if (!before) throw new NubisError('CLOUD_NOT_FOUND', `cloudsigma create ${key}: server ${id} vanished`, { retryable: true });
    if (before.status === 'stopped') {
      await clonesDone(driveIdsOf(before), `create ${key}`, signal);
      // a failed start leaves a tagged server: list finds it and a repeated create starts it
      await action(id, 'start', signal);
    }
    const s = await getServer(id, signal);
    if (!s) throw new NubisError('CLOUD_NOT_FOUND', `cloudsigma create ${key}: server ${id} vanished after start`, { retryable: true });
    return toNode(s);
  }

  async function removeServer(id: string, signal: AbortSignal): Promise<void> {
    const s = await getServer(id, signal);
    if (!s) return;
    if (s.status !== 'stopped') {
      const a = await request('POST', `servers/${enc(id)}/action/?do=stop`, {}, signal, `stop ${id}`);
      if (a.status === 404) return;
      if (![200, 202].includes(a.status) && !(await getServer(id, signal).then((x) => x?.status === 'stopped'))) throw fail(a, `stop ${id}`);
      if (!(await waitStopped(id, signal))) return;
    }
    await clonesDone(driveIdsOf(s), `delete ${id}`, signal);
    const a = await request('DELETE', `servers/${enc(id)}/?recurse=${opts.recurse}`, undefined, signal, `delete ${id}`);
    if (a.status !== 204 && a.status !== 200 && a.status !== 404) throw fail(a, `delete ${id}`);
  }

  const driver: CloudSigmaDriver = {
    platform: 'cloudsigma',

    async create(req, signal) {
      if (signal.aborted) throw new NubisError('ABORTED', `cloudsigma create ${req.key} aborted`);
      learnOwner(req.tags);
      const name = nubisName(req.tags, req.key, req.idempotencyToken);
      const servers = await all<CsServer>('servers/detail/', signal, 'list');
      const earlier = servers.find((s) => s.meta?.[META_TOKEN] === req.idempotencyToken && Object.entries(req.tags).every(([k, v]) => tagsOf(s)[k] === v));
      if (earlier) return startWhenCloned(earlier.uuid, req.key, signal);
      // a clone an earlier attempt with this token made but could not label
      const unlabelled = servers.find((s) => s.name === name && Object.keys(tagsOf(s)).length === 0);
      const clone = unlabelled ?? (await cloneOne(name, req, signal));
      await labelOrRemove(clone, req, signal);
      return startWhenCloned(clone.uuid, req.key, signal);
    },

    async get(id, signal) {
      if (id.startsWith(DRIVE_NODE)) {
        const d = await getDrive(id.slice(DRIVE_NODE.length), signal);
        return d ? driveNode(d, tagsOfName(d.name) ?? {}) : undefined;
      }
      const s = await getServer(id, signal);
      return s ? toNode(s) : undefined;
    },

    async list(tags, signal) {
      learnOwner(tags);
      const servers = await all<CsServer>('servers/detail/', signal, 'list');
      const nodes = servers.map(toNode);
      const used = new Set(servers.flatMap(driveIdsOf));
      for (const d of await all<CsDrive>('drives/detail/', signal, 'list drives')) {
        if (used.has(d.uuid) || (d.mounted_on ?? []).length > 0) continue;
        const named = tagsOfName(d.name);
        if (named) nodes.push(driveNode(d, named));
      }
      return nodes.filter((n) => Object.entries(tags).every(([k, v]) => n.tags[k] === v));
    },

    async delete(id, signal) {
      if (signal.aborted) throw new NubisError('ABORTED', `cloudsigma delete ${id} aborted`);
      if (id.startsWith(DRIVE_NODE)) await removeDrive(id.slice(DRIVE_NODE.length), signal);
      else await removeServer(id, signal);
    },

    async reboot(id, signal) {
      // API 2.0 has no reboot action: stop, wait, start
      const s = await getServer(id, signal);
      if (!s) throw new NubisError('CLOUD_NOT_FOUND', `cloudsigma reboot ${id}: no such server`, { details: { httpStatus: 404 } });
      if (s.status !== 'stopped') {
        await action(id, 'stop', signal);
        await waitStopped(id, signal);
      }
      await action(id, 'start', signal);
    },

    async start(id, signal) {
      await action(id, 'start', signal);
    },
    async stop(id, signal) {
      await action(id, 'stop', signal);
    },
    async shutdown(id, signal) {
      await action(id, 'shutdown', signal);
    },

    async bulkCloneStart(count, tags, signal, o = {}) {
      if (!Number.isInteger(count) || count < 1) throw new NubisError('REQUEST_INVALID', 'cloudsigma bulkCloneStart: count must be a positive integer');
      const res = (await action(opts.cloneFrom, 'bulk_clone_start', signal, { count, auto_start: true })) as { tags?: string[] };
      const group = res.tags?.[0];
      if (!group) throw new NubisError('CLOUD_INTERNAL', 'cloudsigma bulk_clone_start: the answer names no tag');
      const members = await all<{ uuid: string }>(`tags/${enc(group)}/servers/`, signal, 'list bulk clones');
      const nodes: CloudNode[] = [];
      const unlabelled = new Set(members.map((m) => m.uuid));
      try {
        for (const [i, m] of members.entries()) {
          const s = await getServer(m.uuid, signal);
          if (!s) continue;
          const key = o.keys?.[i];
          const t = key === undefined ? { ...tags } : { ...tags, [TAG_KEY]: key };
          const labelled = await label({ ...s, tags: [] }, t, undefined, signal);
          unlabelled.delete(s.uuid);
          // keep the bulk tag the cloud attached
          await ok('PUT', `servers/${enc(s.uuid)}/`, { ...pick(labelled), tags: [...idsOf(labelled), group] }, signal, `tag ${s.uuid}`);
          nodes.push(toNode((await getServer(s.uuid, signal)) ?? labelled));
        }
      } catch (e) {
        // the cloud named and started these clones; untagged, nothing would find them again
        for (const id of unlabelled) await removeServer(id, signal).catch(() => undefined);
        throw e;
      }
      return nodes;
    },

    async listByTag(name, signal) {
      const tags = (await all<{ uuid: string; name: string }>('tags/', signal, 'list tags')).filter((t) => t.name === name);
      const seen = new Set<string>();
      const out: CloudNode[] = [];
      for (const t of tags) {
        for (const m of await all<{ uuid: string }>(`tags/${enc(t.uuid)}/servers/`, signal, `list tag ${name}`)) {
          if (seen.has(m.uuid)) continue;
          seen.add(m.uuid);
          const s = await getServer(m.uuid, signal);
          if (s) out.push(toNode(s));
        }
      }
      return out;
    },

    async listBilled(signal) {
      const subs = await all<{ id: string | number; resource: string; subscribed_object: string | null; status?: string; end_time?: string; auto_renew?: boolean }>(
        'subscriptions/', signal, 'list subscriptions');
      const vlans = await all<{ uuid: string; servers?: Array<{ uuid: string } | string>; subscription?: { id: string | number } | null }>('vlans/detail/', signal, 'list vlans');
      const ips = await all<{ uuid: string; server?: { uuid: string } | string | null; subscription?: { id: string | number } | null }>('ips/detail/', signal, 'list ips');
      const uuid = (x: { uuid: string } | string): string => (typeof x === 'string' ? x : x.uuid);
      const vlanOut: BilledResource[] = vlans.map((v) => {
        const attachedTo = (v.servers ?? []).map(uuid);
        return { kind: 'vlan', id: v.uuid, resource: 'vlan', attachedTo, unattached: attachedTo.length === 0, ...(v.subscription ? { subscriptionId: String(v.subscription.id) } : {}) };
      });
      const ipOut: BilledResource[] = ips.map((p) => {
        const attachedTo = p.server ? [uuid(p.server)] : [];
        return { kind: 'ip', id: p.uuid, resource: 'ip', attachedTo, unattached: attachedTo.length === 0, ...(p.subscription ? { subscriptionId: String(p.subscription.id) } : {}) };
      });
      const live = new Set([...vlans.map((v) => v.uuid), ...ips.map((p) => p.uuid)]);
      const subOut: BilledResource[] = subs.map((s) => {
        const target = s.subscribed_object;
        const out: BilledResource = {
          kind: 'subscription', id: String(s.id), resource: s.resource, attachedTo: target ? [target] : [],
          unattached: (s.resource === 'vlan' || s.resource === 'ip') && (!target || !live.has(target)),
        };
        if (s.status !== undefined) out.status = s.status;
        if (s.end_time !== undefined) out.endTime = s.end_time;
        if (s.auto_renew !== undefined) out.autoRenew = s.auto_renew;
        return out;
      });
      return { subscriptions: subOut, vlans: vlanOut, ips: ipOut };
    },

    agent(node: CloudNode): AgentClient {
      return cloudAgentClient(node, secret, ca(), 'cloudsigma');
    },

    async close() {
      closing.abort();
    },
  };
  return driver;
}

const pick = (s: CsServer): Record<string, unknown> => ({ name: s.name, cpu: s.cpu, mem: s.mem, vnc_password: s.vnc_password, meta: s.meta });
const idsOf = (s: CsServer): string[] => (s.tags ?? []).map((t) => (typeof t === 'string' ? t : t.uuid));
