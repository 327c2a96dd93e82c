/**
 * The `ssh` driver: bring your own nodes. A node is one host of a fixed pool of Linux machines
 * reached over SSH; `create` claims a free host and installs and starts the node agent on it,
 * `delete` stops and removes everything Nubis put there and releases the host.
 *
 * Options (`ctx.options`):
 * - `hosts` (required): `[{ address, port?: 22, user?: 'root', name? }]`; names (default the
 *   address, or `address:port`) must be unique.
 * - `privateKeyPath`: the login key when `ctx.credentials.privateKey` is absent. Key-only
 *   authentication: a `password` option is refused.
 * - `knownHostsPath` (`<dataDir>/ssh/known_hosts`): host keys, pinned on first contact.
 * - `agentPort` (7430): where the agent listens, on the host's address.
 * - `graphitePort` (2003; 0 for none): the agent's Graphite listener for custom metrics,
 *   given to handlers as `NUBIS_GRAPHITE`.
 * - `remoteRoot` (`/opt/nubis`): everything the driver puts on a host lives under it (see
 *   ./remote.ts for the layout).
 * - `connectTimeoutMs` (5 000), `commandTimeoutMs` (20 000), `uploadTimeoutMs` (300 000),
 *   `readyTimeoutMs` (20 000: how long a started agent has to answer), `killGraceMs` (2 000).
 *
 * Shipping: the agent program and the compiled modules it imports (./bundle.ts) go over SFTP to
 * `remoteRoot/lib`. If the host has no `node` ≥ 20, this process's own Node binary
 * (`process.execPath`) goes to `remoteRoot/runtime/node` — the host needs no internet, but must
 * have this machine's architecture (`uname -m`), else create fails with CLOUD_BAD_REQUEST.
 *
 * Records: one inventory per data directory, `<dataDir>/ssh/inventory.json`, holds claims
 * (by host address and port), tags, idempotency tokens, agent tokens and pids (atomic writes,
 * serialised across every ssh driver of this process). It is the hosts' record, not a cloud
 * entry's: a driver built with another option set (hosts added to the pool, another timeout)
 * or under another cloud name lists the same nodes, and a host claimed through one entry is
 * never claimed again through another. Nodes on hosts no longer in the pool are still listed
 * (and can be deleted). The host's `remoteRoot/node.json` holds the same record for its node,
 * so `list` on a control plane that lost its inventory finds nodes by asking the unclaimed
 * hosts, and adopts them. An inventory of the former layout (`<cloud>-inventory.json`) is
 * merged in when a driver of that cloud is built.
 *
 * Reality: `get` and `list` log in to the node's host every time (in parallel; a fresh session
 * each time, bounded by `connectTimeoutMs` for the handshake and by keepalives — 3 missed at
 * 2 s intervals — or `commandTimeoutMs` after it); a host that does not answer is reported with
 * status `error` and an `error` of code CLOUD_UNAVAILABLE on the returned node (a changed host
 * key: CLOUD_FORBIDDEN), never a hang. A node whose agent process is gone is `stopped`.
 *
 * Errors: an exhausted pool is CLOUD_QUOTA_EXCEEDED; an unreachable host CLOUD_UNAVAILABLE
 * (create skips unreachable hosts and tries the next free one); a changed host key
 * CLOUD_FORBIDDEN (not retryable; create stops there rather than trying another host, so the
 * operator hears of it); a refused key CLOUD_UNAUTHORIZED; reboot of an unknown node
 * CLOUD_NOT_FOUND; processes that survive SIGKILL CLOUD_INTERNAL. A failed create cleans the
 * host and releases it; a failed delete keeps the claim (the node is assumed to still exist).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join, posix } from 'node:path';
import { agentAnswers, createHttpAgentClient, loadAgentCa, type AgentCa, type AgentClient } from '../../agent/index.js';
import { NubisError, toNubisError, type ErrorCode } from '../../errors/index.js';
import type { CloudNode, CreateNodeRequest, Discovery, Driver, DriverContext, HardwareOffer, Image } from '../driver.js';
import { createJsonInventory, type InventoryFile, type JsonInventory } from '../inventory.js';
import { agentBundle, bundleDirs, type AgentBundle } from './bundle.js';
import { openKnownHosts } from './known-hosts.js';
import {
  agentLogScript, cleanupScript, factsScript, inspectScript, parseKv, prepareScript, probeScript, startScript, stopScript, writeRecordScript,
  writeTlsFileScript,
} from './remote.js';
import { abortedError, withSession, type Session, type SessionOptions, type SshHost } from './session.js';

export type { SshHost } from './session.js';

/** A node as the ssh driver reports it: `error` says why when `status` is `error`. */
export interface SshCloudNode extends CloudNode {
  host: string;
  error?: { code: ErrorCode; message: string };
}

export interface SshDriverOptions {
  hosts: SshHost[];
  knownHostsPath: string;
  agentPort: number;
  graphitePort: number;
  remoteRoot: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  uploadTimeoutMs: number;
  readyTimeoutMs: number;
  killGraceMs: number;
}

interface InventoryNode {
  id: string;
  /** Host name in the pool, and how to reach it (kept so delete works after the pool changes). */
  host: SshHost;
  key: string;
  tags: Record<string, string>;
  idempotencyToken: string;
  status: 'provisioning' | 'running';
  agentToken: string;
  /** The agent's pid = its process group. */
  pgid?: number;
  createdAt: number;
  /** The topmost directory of remoteRoot the driver created ('' when remoteRoot existed). */
  createdTop?: string;
  /** Where the node binary is: the host's own, or the shipped one. */
  runtime?: string;
}

type Inventory = InventoryFile<InventoryNode>;

/** What node.json on a host says. */
interface HostRecord {
  id: string;
  key: string;
  tags: Record<string, string>;
  idempotencyToken: string;
  agentToken: string;
  createdAt: number;
  createdTop?: string;
  runtime?: string;
}

interface Probe {
  record?: HostRecord;
  agentPid?: number;
  agentNode?: string;
  error?: NubisError;
}

const RESCAN_MS = 30_000;

/** A host's identity in the inventory: where it is reached, whatever a pool names it. */
const hostKey = (h: SshHost): string => `${h.address}:${h.port}`;

/** One inventory per file in this process, so drivers of different option sets never race on it. */
const INVENTORIES = new Map<string, JsonInventory<InventoryNode>>();
function sharedInventory(path: string): JsonInventory<InventoryNode> {
  let inv = INVENTORIES.get(path);
  if (!inv) INVENTORIES.set(path, (inv = createJsonInventory<InventoryNode>(path)));
  return inv;
}

/** Moves the nodes of a per-cloud inventory of the former layout into the shared one. */
function mergeLegacyInventory(inventory: JsonInventory<InventoryNode>, legacyPath: string): void {
  if (!existsSync(legacyPath)) return;
  void inventory.mutate((inv) => {
    const old = createJsonInventory<InventoryNode>(legacyPath).read();
    for (const n of old.nodes) if (!inv.nodes.some((x) => x.id === n.id)) inv.nodes.push(n);
    renameSync(legacyPath, `${legacyPath}.merged`);
  }).catch(() => undefined);
}
const SAFE_PATH = /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/;
const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ppc64: 'ppc64le', s390x: 's390x', ia32: 'i686' };

function invalid(message: string): NubisError {
  return new NubisError('SPEC_INVALID', `ssh driver: ${message}`);
}

function intOption(o: Record<string, unknown>, name: string, def: number, min: number, max: number): number {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(`option ${name} must be an integer from ${min} to ${max}`);
  return v;
}

/** Validates `ctx.options`; throws SPEC_INVALID naming the bad option. */
export function readSshOptions(ctx: DriverContext): SshDriverOptions {
  const o = ctx.options;
  if (o['password'] !== undefined) throw invalid('password authentication is not supported: give a private key (credentials.privateKey or privateKeyPath)');
  const raw = o['hosts'];
  if (!Array.isArray(raw) || raw.length === 0) throw invalid('option hosts must be a non-empty list of { address, port?, user?, name? }');
  const hosts: SshHost[] = raw.map((h: unknown, i) => {
    if (typeof h !== 'object' || h === null) throw invalid(`hosts[${i}] must be an object`);
    const { address, port = 22, user = 'root', name } = h as Record<string, unknown>;
    if (typeof address !== 'string' || !/^[A-Za-z0-9.:-]+$/.test(address)) throw invalid(`hosts[${i}].address must be a host name or IP address`);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`hosts[${i}].port must be a port number`);
    if (typeof user !== 'string' || !/^[a-z_][a-z0-9_-]*$/.test(user)) throw invalid(`hosts[${i}].user must be a user name`);
    if (name !== undefined && (typeof name !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(name))) throw invalid(`hosts[${i}].name must be 1-64 of [A-Za-z0-9._:-]`);
    return { address, port, user, name: (name as string | undefined) ?? (port === 22 ? address : `${address}:${port}`) };
  });
  const names = new Set(hosts.map((h) => h.name));
  if (names.size !== hosts.length) throw invalid('host names must be unique');
  const remoteRoot = o['remoteRoot'] ?? '/opt/nubis';
  if (typeof remoteRoot !== 'string' || !SAFE_PATH.test(remoteRoot) || remoteRoot.split('/').includes('..')) {
    throw invalid('option remoteRoot must be an absolute path of [A-Za-z0-9._/-], not / and without ..');
  }
  const knownHostsPath = o['knownHostsPath'] ?? join(ctx.dataDir, 'ssh', 'known_hosts');
  if (typeof knownHostsPath !== 'string' || knownHostsPath === '') throw invalid('option knownHostsPath must be a path');
  return Object.freeze({
    hosts,
    knownHostsPath,
    remoteRoot,
    agentPort: intOption(o, 'agentPort', 7430, 1, 65535),
    graphitePort: intOption(o, 'graphitePort', 2003, 0, 65535),
    connectTimeoutMs: intOption(o, 'connectTimeoutMs', 5000, 100, 120_000),
    commandTimeoutMs: intOption(o, 'commandTimeoutMs', 20_000, 100, 600_000),
    uploadTimeoutMs: intOption(o, 'uploadTimeoutMs', 300_000, 1000, 3_600_000),
    readyTimeoutMs: intOption(o, 'readyTimeoutMs', 20_000, 100, 600_000),
    killGraceMs: intOption(o, 'killGraceMs', 2000, 0, 60_000),
  });
}

function readPrivateKey(ctx: DriverContext): string {
  const fromCredentials = ctx.credentials?.['privateKey'];
  if (fromCredentials) return fromCredentials;
  const path = ctx.options['privateKeyPath'];
  if (typeof path !== 'string' || path === '') throw invalid('no private key: set credentials.privateKey or option privateKeyPath');
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw invalid(`cannot read privateKeyPath ${path}: ${(e as Error).message}`);
  }
}


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function checkSignal(signal: AbortSignal): void {
  if (signal.aborted) throw abortedError();
}

/** Creates the ssh driver. Nodes outlive the driver instance: close() leaves them running. */
export function createSshDriver(ctx: DriverContext): Driver {
  const opts = readSshOptions(ctx);
  const session: SessionOptions = {
    privateKey: readPrivateKey(ctx),
    knownHosts: openKnownHosts(opts.knownHostsPath),
    connectTimeoutMs: opts.connectTimeoutMs,
    keepaliveIntervalMs: 2000,
  };
  const dir = join(ctx.dataDir, 'ssh');
  const inventoryPath = join(dir, 'inventory.json');
  const root = opts.remoteRoot;
  let bundle: AgentBundle | undefined;
  const creating = new Map<string, Promise<CloudNode>>();
  /**
   * Unclaimed hosts `list` has asked for a node record (adoption). A host is asked once per
   * driver instance — the pool is this cloud's own, so only a control plane that lost its
   * inventory finds nodes there — and a host that did not answer is asked again after RESCAN_MS.
   */
  const scanned = new Set<string>();
  const scanFailedAt = new Map<string, number>();

  const inventory = sharedInventory(inventoryPath);
  mergeLegacyInventory(inventory, join(dir, `${ctx.cloud.replace(/[^A-Za-z0-9._-]/g, '_')}-inventory.json`));
  const readInventory = (): Inventory => inventory.read();
  const mutate = <T>(fn: (inv: Inventory) => T): Promise<T> => inventory.mutate(fn);
  const snapshot = (): Promise<Inventory> => inventory.snapshot();

  // agents speak mutual TLS with certificates of the installation CA (made on first use); identity = node id
  let agentCa: AgentCa | undefined;
  const ca = (): AgentCa => (agentCa ??= loadAgentCa(ctx.dataDir));
  const agentUrl = (h: SshHost): string => `https://${h.address.includes(':') ? `[${h.address}]` : h.address}:${opts.agentPort}`;

  const run = async (s: Session, script: string, what: string, stdin?: string, timeoutMs = opts.commandTimeoutMs): Promise<string> => {
    const r = await s.exec(script, { timeoutMs, ...(stdin === undefined ? {} : { stdin }) });
    if (r.code !== 0) {
      throw new NubisError('CLOUD_INTERNAL', `ssh host ${s.host.name}: ${what} failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`, {
        details: { host: s.host.name },
      });
    }
    return r.stdout;
  };

  const parseRecord = (text: string | undefined): HostRecord | undefined => {
    if (!text) return undefined;
    try {
      const r = JSON.parse(text) as HostRecord;
      return typeof r.id === 'string' && typeof r.tags === 'object' && r.tags !== null ? r : undefined;
    } catch {
      return undefined;
    }
  };

  /** Logs in and reads the node record and agent liveness; never throws (errors are in the result). */
  const probe = async (h: SshHost, signal: AbortSignal): Promise<Probe> => {
    try {
      const out = parseKv(await withSession(h, session, signal, (s) => run(s, probeScript(root), 'probe')));
      const pid = Number(out.get('agentPid'));
      const record = parseRecord(out.get('nodeJson'));
      return {
        ...(record ? { record } : {}),
        ...(Number.isInteger(pid) && pid > 1 ? { agentPid: pid } : {}),
        ...(out.get('agentNode') ? { agentNode: out.get('agentNode')! } : {}),
      };
    } catch (e) {
      if (signal.aborted) throw abortedError();
      return { error: toNubisError(e) };
    }
  };

  const toCloud = (n: InventoryNode, p: Probe | undefined): SshCloudNode => {
    const node: SshCloudNode = {
      id: n.id,
      host: n.host.name,
      tags: { ...n.tags },
      status: n.status,
      address: n.host.address,
      agent: { url: agentUrl(n.host), token: n.agentToken },
      ...(opts.graphitePort > 0 ? { graphite: { host: n.host.address, port: opts.graphitePort } } : {}),
      createdAt: n.createdAt,
    };
    if (!p || n.status === 'provisioning') return node;
    if (p.error) {
      node.status = 'error';
      node.error = { code: p.error.code, message: p.error.message };
    } else if (p.record?.id !== n.id) {
      node.status = 'error';
      node.error = { code: 'CLOUD_NOT_FOUND', message: `ssh host ${n.host.name} no longer has node ${n.id} (${root}/node.json is gone or names another node)` };
    } else if (p.agentNode !== n.id) {
      node.status = 'stopped';
    }
    return node;
  };

  /** Adds the record found on a host to the inventory (a node made by a control plane that lost its inventory). */
  const adopt = (h: SshHost, p: Probe): Promise<InventoryNode | undefined> =>
    mutate((inv) => {
      const r = p.record!;
      const known = inv.nodes.find((x) => x.id === r.id || hostKey(x.host) === hostKey(h));
      if (known) return known.id === r.id ? known : undefined;
      const n: InventoryNode = {
        id: r.id,
        host: h,
        key: r.key,
        tags: { ...r.tags },
        idempotencyToken: r.idempotencyToken,
        status: 'running',
        agentToken: r.agentToken,
        createdAt: r.createdAt,
        ...(p.agentPid !== undefined && p.agentNode === r.id ? { pgid: p.agentPid } : {}),
        ...(r.createdTop !== undefined ? { createdTop: r.createdTop } : {}),
        ...(r.runtime !== undefined ? { runtime: r.runtime } : {}),
      };
      inv.nodes.push(n);
      return n;
    });

  const stopNode = async (s: Session, id: string, pgid: number | undefined): Promise<void> => {
    const left = parseKv(await run(s, stopScript(root, id, pgid, opts.killGraceMs), 'stopping the node processes', undefined, opts.commandTimeoutMs + opts.killGraceMs + 6000)).get('left');
    if (left) throw new NubisError('CLOUD_INTERNAL', `ssh host ${s.host.name}: processes ${left} of node ${id} survived SIGKILL`, { details: { host: s.host.name } });
  };

  const cleanNode = async (s: Session, n: InventoryNode): Promise<void> => {
    await stopNode(s, n.id, n.pgid);
    const left = parseKv(await run(s, cleanupScript(root, n.id, n.createdTop), 'removing the node files')).get('left');
    if (left) throw new NubisError('CLOUD_INTERNAL', `ssh host ${s.host.name}: cannot remove ${left}`, { details: { host: s.host.name } });
  };

  /** Starts the agent and waits until it answers as this node; returns its pid. */
  const startAgent = async (s: Session, n: InventoryNode, signal: AbortSignal): Promise<number> => {
    await run(s, startScript({ root, id: n.id, node: n.runtime!, port: opts.agentPort, address: n.host.address, ...(opts.graphitePort > 0 ? { graphitePort: opts.graphitePort } : {}) }), 'starting the agent', `${n.agentToken}\n`);
    const url = agentUrl(n.host);
    const deadline = Date.now() + opts.readyTimeoutMs;
    for (;;) {
      checkSignal(signal);
      if (await agentAnswers(url, n.id, ca().clientTls(n.id))) break;
      if (Date.now() > deadline) {
        const log = (await s.exec(agentLogScript(root, n.id), { timeoutMs: opts.commandTimeoutMs }).catch(() => undefined))?.stdout.trim();
        throw new NubisError('CLOUD_UNAVAILABLE', `the agent of node ${n.id} on ssh host ${n.host.name} did not answer at ${url} within ${opts.readyTimeoutMs} ms${log ? `; agent.log: ${log}` : ''}`, {
          details: { host: n.host.name },
        });
      }
      await sleep(100);
    }
    const p = parseKv(await run(s, probeScript(root), 'probe'));
    const pid = Number(p.get('agentPid'));
    if (!(Number.isInteger(pid) && pid > 1 && p.get('agentNode') === n.id)) {
      throw new NubisError('CLOUD_INTERNAL', `ssh host ${n.host.name}: the agent of node ${n.id} answers but ${root}/agent.pid does not name it`);
    }
    return pid;
  };

  /** Ships the agent (and Node when needed), records the node on the host, starts the agent. */
  const install = async (s: Session, n: InventoryNode, signal: AbortSignal): Promise<InventoryNode> => {
    const facts = parseKv(await run(s, inspectScript(root), 'inspecting the host'));
    const foreign = parseRecord(facts.get('nodeJson'));
    if (foreign && foreign.id !== n.id) {
      throw new NubisError('CONFLICT', `ssh host ${n.host.name} already runs node ${foreign.id}`, { details: { host: n.host.name, record: foreign } });
    }
    if (n.createdTop === undefined) n.createdTop = facts.get('createdTop') ?? '';
    // Stray processes of this node from an interrupted attempt go first.
    await stopNode(s, n.id, n.pgid);
    const hostNode = facts.get('node') ?? '';
    const major = Number(/^v(\d+)\./.exec(facts.get('nodeVersion') ?? '')?.[1] ?? 0);
    let ship = false;
    if (hostNode !== '' && major >= 20) {
      n.runtime = hostNode;
    } else {
      const want = ARCH[process.arch] ?? process.arch;
      const arch = facts.get('arch') ?? '';
      if (arch !== want) {
        throw new NubisError(
          'CLOUD_BAD_REQUEST',
          `ssh host ${n.host.name} has ${hostNode ? `node ${facts.get('nodeVersion') || '(unusable)'}` : 'no node'} and is ${arch || 'of unknown architecture'}, ` +
            `but this control plane can only ship its own ${want} Node runtime; install Node 20 or newer on the host, or remove it from the pool`,
          { retryable: false, details: { host: n.host.name, arch, want } },
        );
      }
      n.runtime = posix.join(root, 'runtime', 'node');
      ship = true;
    }
    bundle ??= agentBundle();
    await run(s, prepareScript(root, n.id, bundleDirs(bundle)), 'creating the directories');
    checkSignal(signal);
    const files = bundle.files.map((f) => ({ local: f.local, remote: posix.join(root, 'lib', f.path), mode: 0o644 }));
    if (ship) files.push({ local: process.execPath, remote: n.runtime, mode: 0o755 });
    await s.put(files, opts.uploadTimeoutMs);
    checkSignal(signal);
    const record: HostRecord = {
      id: n.id,
      key: n.key,
      tags: n.tags,
      idempotencyToken: n.idempotencyToken,
      agentToken: n.agentToken,
      createdAt: n.createdAt,
      createdTop: n.createdTop,
      runtime: n.runtime,
    };
    await run(s, writeRecordScript(root), 'writing node.json', JSON.stringify(record));
    // the node's certificate: issued here, its key travels over the pinned SSH session only
    const issued = ca().issueNode({ identity: n.id, addresses: [n.host.address] });
    for (const [name, text] of [['ca.crt', ca().caPem], ['agent.crt', issued.cert], ['agent.key', issued.key!]] as const) {
      await run(s, writeTlsFileScript(root, n.id, name), `writing the agent's ${name}`, text);
    }
    n.pgid = await startAgent(s, n, signal);
    return n;
  };

  const release = (id: string): Promise<void> =>
    mutate((inv) => {
      inv.nodes = inv.nodes.filter((x) => x.id !== id);
    });

  const doCreate = async (req: CreateNodeRequest, signal: AbortSignal): Promise<CloudNode> => {
    const skipped: string[] = [];
    for (;;) {
      checkSignal(signal);
      const claim = await mutate((inv) => {
        const existing = inv.nodes.find((n) => n.idempotencyToken === req.idempotencyToken);
        if (existing) return { node: existing, fresh: false };
        const used = new Set(inv.nodes.map((n) => hostKey(n.host)));
        const free = opts.hosts.filter((h) => !used.has(hostKey(h)) && !skipped.includes(h.name));
        const preferred = free.find((h) => h.name === req.placement?.offer) ?? free[0];
        if (!preferred) {
          if (skipped.length > 0) {
            throw new NubisError('CLOUD_UNAVAILABLE', `no free ssh host answered (tried ${skipped.join(', ')})`, { details: { skipped } });
          }
          throw new NubisError('CLOUD_QUOTA_EXCEEDED', `all ${opts.hosts.length} hosts of ssh pool ${ctx.cloud} are in use; add hosts to the pool or delete nodes`, {
            details: { hosts: opts.hosts.length },
          });
        }
        const node: InventoryNode = {
          id: `ssh-${randomBytes(8).toString('hex')}`,
          host: preferred,
          key: req.key,
          tags: { ...req.tags },
          idempotencyToken: req.idempotencyToken,
          status: 'provisioning',
          agentToken: randomBytes(24).toString('hex'),
          createdAt: ctx.clock.now(),
        };
        inv.nodes.push(node);
        return { node, fresh: true };
      });
      const n = claim.node;
      if (!claim.fresh && n.status === 'running') return toCloud(n, undefined);
      // fresh, or left half-made by a crashed control plane: (re)install
      const work: InventoryNode = { ...n };
      try {
        const done = await withSession(n.host, session, signal, (s) => install(s, work, signal));
        const saved = await mutate((inv) => {
          const x = inv.nodes.find((y) => y.id === n.id);
          if (!x) throw new NubisError('CLOUD_NOT_FOUND', `node ${n.id} was deleted while being created`);
          Object.assign(x, { status: 'running', pgid: done.pgid, createdTop: done.createdTop, runtime: done.runtime });
          return { ...x };
        });
        return toCloud(saved, undefined);
      } catch (e) {
        const err = toNubisError(e);
        if (err.code === 'CONFLICT') {
          // The host runs a node this inventory did not know: record it, try the next host.
          const p = await probe(n.host, signal);
          await release(n.id);
          if (p.record) await adopt(n.host, p);
          else skipped.push(n.host.name);
          continue;
        }
        // Leave nothing behind (best effort: a host we cannot log in to keeps what it has).
        if (err.code !== 'CLOUD_FORBIDDEN' && err.code !== 'CLOUD_UNAUTHORIZED') {
          await withSession(n.host, session, new AbortController().signal, (s) => cleanNode(s, work)).catch(() => {});
        }
        await release(n.id);
        if (err.code === 'CLOUD_UNAVAILABLE' && !signal.aborted && claim.fresh) {
          skipped.push(n.host.name);
          continue;
        }
        throw err;
      }
    }
  };

  return {
    platform: 'ssh',

    create(req, signal) {
      if (signal.aborted) return Promise.reject(abortedError());
      const pending = creating.get(req.idempotencyToken);
      if (pending) return pending;
      const p = doCreate(req, signal).finally(() => creating.delete(req.idempotencyToken));
      creating.set(req.idempotencyToken, p);
      return p;
    },

    async get(id, signal) {
      checkSignal(signal);
      const n = (await snapshot()).nodes.find((x) => x.id === id);
      if (!n) return undefined;
      return toCloud(n, n.status === 'running' ? await probe(n.host, signal) : undefined);
    },

    async list(tags, signal) {
      checkSignal(signal);
      const inv = await snapshot();
      const claimed = new Set(inv.nodes.map((n) => hostKey(n.host)));
      const now = Date.now();
      const unclaimed = opts.hosts.filter((h) => !claimed.has(hostKey(h)) && !scanned.has(h.name) && now - (scanFailedAt.get(h.name) ?? 0) >= RESCAN_MS);
      const want = Object.entries(tags);
      const matches = (t: Record<string, string>): boolean => want.every(([k, v]) => t[k] === v);
      const [mine, found] = await Promise.all([
        Promise.all(inv.nodes.filter((n) => matches(n.tags)).map(async (n) => toCloud(n, n.status === 'running' ? await probe(n.host, signal) : undefined))),
        Promise.all(
          unclaimed.map(async (h) => {
            const p = await probe(h, signal);
            if (p.error) scanFailedAt.set(h.name, Date.now());
            else scanned.add(h.name);
            if (!p.record) return undefined;
            const n = await adopt(h, p);
            return n && matches(n.tags) ? toCloud(n, p) : undefined;
          }),
        ),
      ]);
      return [...mine, ...found.filter((n): n is SshCloudNode => n !== undefined)];
    },

    async delete(id, signal) {
      checkSignal(signal);
      const n = (await snapshot()).nodes.find((x) => x.id === id);
      if (!n) return;
      await withSession(n.host, session, signal, (s) => cleanNode(s, n));
      await release(id);
      scanned.add(n.host.name);
    },

    async reboot(id, signal) {
      checkSignal(signal);
      const n = (await snapshot()).nodes.find((x) => x.id === id);
      if (!n) throw new NubisError('CLOUD_NOT_FOUND', `no ssh node ${id} in pool ${ctx.cloud}`);
      if (n.status !== 'running' || !n.runtime) throw new NubisError('CLOUD_BAD_REQUEST', `ssh node ${id} is still being created`, { retryable: true });
      const pgid = await withSession(n.host, session, signal, async (s) => {
        await stopNode(s, n.id, n.pgid);
        return startAgent(s, n, signal);
      });
      await mutate((inv) => {
        const x = inv.nodes.find((y) => y.id === id);
        if (x) x.pgid = pgid;
      });
    },

    agent(node): AgentClient {
      if (!node.agent) throw new NubisError('CLOUD_BAD_REQUEST', `node ${node.id} has no agent address`);
      return createHttpAgentClient(node.agent.url, node.agent.token, ca().clientTls(node.id));
    },

    async discover(signal): Promise<Discovery> {
      checkSignal(signal);
      const offers: HardwareOffer[] = [];
      const images = new Map<string, Image>();
      const errors: string[] = [];
      await Promise.all(
        opts.hosts.map(async (h) => {
          try {
            const f = parseKv(await withSession(h, session, signal, (s) => run(s, factsScript(root), 'reading host facts')));
            const diskKiB = Number(f.get('diskKiB'));
            offers.push({
              id: h.name,
              cores: Number(f.get('cores')) || 1,
              memoryMiB: Math.floor(Number(f.get('memKiB')) / 1024) || 0,
              ...(diskKiB > 0 ? { diskGiB: Math.floor(diskKiB / 1024 / 1024) } : {}),
              locations: ['ssh-pool'],
            });
            const os = (f.get('os_ID') ?? 'linux').toLowerCase();
            const version = f.get('os_VERSION_ID');
            const imageId = version ? `${os}-${version}` : os;
            images.set(imageId, {
              id: imageId,
              name: f.get('os_PRETTY_NAME') ?? imageId,
              os,
              ...(version ? { osVersion: version } : {}),
              locations: ['ssh-pool'],
            });
          } catch (e) {
            if (signal.aborted) throw abortedError();
            errors.push(toNubisError(e).message);
          }
        }),
      );
      if (offers.length === 0) throw new NubisError('CLOUD_UNAVAILABLE', `no host of ssh pool ${ctx.cloud} answered: ${errors.join('; ')}`);
      offers.sort((a, b) => a.id.localeCompare(b.id));
      return { locations: [{ id: 'ssh-pool' }], offers, images: [...images.values()] };
    },

    async close() {
      await inventory.snapshot();
    },
  };
}
