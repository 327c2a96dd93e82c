/**
 * The sim's host model (option `hosts`): machines with a capacity in nodes, cores and memory
 * that servers are placed on, as a private cloud's hypervisors. A server's host is a tag
 * (`nubis-sim-host`) set at create, so it survives restarts and shows in lists like any tag.
 *
 * - `create` with `placement.host` puts the server there; without, on the first host with room
 *   (the cloud's own scheduler). A full host is CLOUD_QUOTA_EXCEEDED, an unknown one
 *   CLOUD_BAD_REQUEST: a placement that overcommits a host is refused, never silently obeyed.
 *   Creates are serialised per driver so two in flight cannot both take a host's last room.
 * - `hosts()` answers each host's capacity and the servers on it (one list call).
 * - Firewalls (`applyFirewall`, `removeFirewall`) are recorded per cloud object: `simFirewalls`
 *   shows what was applied, for tests that count what the cloud received.
 *
 * Without `hosts` the driver is returned unchanged (no host model, no firewall calls).
 */
import { NubisError } from '../../errors/index.js';
import type { FirewallSet } from '../../policy/index.js';
import { TAG_ATTEMPT, TAG_KEY, type CloudHost, type CreateNodeRequest, type Driver } from '../driver.js';

export const SIM_HOST_TAG = 'nubis-sim-host';

export interface SimHostSpec {
  name: string;
  nodes: number;
  cores?: number;
  memoryMiB?: number;
  attributes: Record<string, string | number>;
}

const bad = (path: string, expected: string, found: unknown): NubisError =>
  new NubisError('SPEC_INVALID', `sim option ${path}: expected ${expected}, found ${JSON.stringify(found)}`, { details: { option: path } });

/** Validates option `hosts`: `[{ name, nodes, cores?, memory?, attributes? }]`; undefined when absent. */
export function readSimHosts(options: Record<string, unknown>): SimHostSpec[] | undefined {
  const raw = options['hosts'];
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length === 0) throw bad('hosts', 'a non-empty list of { name, nodes, cores?, memory?, attributes? }', raw);
  const names = new Set<string>();
  return raw.map((h: unknown, i) => {
    const at = `hosts[${i}]`;
    if (typeof h !== 'object' || h === null || Array.isArray(h)) throw bad(at, 'an object', h);
    const o = h as Record<string, unknown>;
    if (typeof o['name'] !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(o['name'])) throw bad(`${at}.name`, '1-64 of [A-Za-z0-9._:-]', o['name']);
    if (names.has(o['name'])) throw bad(`${at}.name`, 'a name no other host has', o['name']);
    names.add(o['name']);
    const int = (k: string, required: boolean): number | undefined => {
      const v = o[k];
      if (v === undefined && !required) return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000) throw bad(`${at}.${k}`, 'an integer from 1 to 1000000', v);
      return v;
    };
    const attrs = o['attributes'] ?? {};
    if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs) || Object.values(attrs).some((v) => typeof v !== 'string' && typeof v !== 'number')) {
      throw bad(`${at}.attributes`, 'an object of string or number values', attrs);
    }
    const cores = int('cores', false);
    const memoryMiB = int('memory', false);
    return { name: o['name'], nodes: int('nodes', true)!, ...(cores !== undefined ? { cores } : {}), ...(memoryMiB !== undefined ? { memoryMiB } : {}), attributes: { ...(attrs as Record<string, string | number>) } };
  });
}

/** What applyFirewall recorded, per cloud object (the in-process SimCloud, or the driver's options for HTTP). */
const FIREWALLS = new WeakMap<object, Map<string, FirewallSet>>();

/** The firewalls the sim cloud `key` holds now, by set name. */
export function simFirewalls(key: object): ReadonlyMap<string, FirewallSet> {
  return FIREWALLS.get(key) ?? new Map();
}

/** `driver` with the host model of `hosts` and firewall calls recorded under `key`. */
export function withSimHosts(driver: Driver, hosts: readonly SimHostSpec[] | undefined, key: object): Driver {
  const firewalls = FIREWALLS.get(key) ?? new Map<string, FirewallSet>();
  FIREWALLS.set(key, firewalls);
  const firewallCalls: Pick<Driver, 'applyFirewall' | 'removeFirewall'> = {
    async applyFirewall(set) {
      firewalls.set(set.name, structuredClone(set));
    },
    async removeFirewall(set) {
      firewalls.delete(set.name);
    },
  };
  if (!hosts) return { ...driver, ...firewallCalls };
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => undefined);
    return p;
  };
  const usage = async (signal: AbortSignal): Promise<CloudHost[]> => {
    const servers = await driver.list({}, signal);
    return hosts.map((h) => ({
      name: h.name,
      capacity: { nodes: h.nodes, ...(h.cores !== undefined ? { cores: h.cores } : {}), ...(h.memoryMiB !== undefined ? { memoryMiB: h.memoryMiB } : {}) },
      attributes: h.attributes,
      nodes: servers.filter((s) => s.tags[SIM_HOST_TAG] === h.name).map((s) => ({ id: s.id, ...(s.tags[TAG_KEY] ? { key: s.tags[TAG_KEY] } : {}) })),
    }));
  };
  const create = async (req: CreateNodeRequest, signal: AbortSignal) => {
    // a replay of a create that went through keeps its host (the cloud answers by token)
    const known = (await driver.list({ [TAG_KEY]: req.key }, signal)).find((s) => s.tags[TAG_ATTEMPT] === req.tags[TAG_ATTEMPT]);
    if (known) return known;
    const now = await usage(signal);
    const wanted = req.placement?.host;
    const room = (h: CloudHost): boolean => h.nodes.length < h.capacity.nodes;
    const host = wanted !== undefined ? now.find((h) => h.name === wanted) : now.find(room);
    if (wanted !== undefined && !host) throw new NubisError('CLOUD_BAD_REQUEST', `sim has no host ${JSON.stringify(wanted)} (hosts: ${hosts.map((h) => h.name).join(', ')})`);
    if (!host || !room(host)) {
      throw new NubisError('CLOUD_QUOTA_EXCEEDED', host ? `sim host ${host.name} is full (${host.nodes.length} of ${host.capacity.nodes} nodes)` : `every sim host is full (${hosts.length} hosts)`, {
        details: { host: host?.name },
      });
    }
    return driver.create({ ...req, tags: { ...req.tags, [SIM_HOST_TAG]: host.name } }, signal);
  };
  return {
    ...driver,
    ...firewallCalls,
    hosts: (signal) => usage(signal),
    create: (req, signal) => serial(() => create(req, signal)),
  };
}
