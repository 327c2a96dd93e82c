/**
 * Wiring: what each instance is told about the ports it provides and the channels it requires.
 * It reaches handlers as environment variables (`NUBIS_PORT_<NAME>`,
 * `NUBIS_REQUIRES_<NAME>=host:port,host:port`) and as a JSON file (`$NUBIS_WIRING_FILE`).
 */
import crypto from 'node:crypto';
import type { ComponentSpec } from '../model/types.js';
import type { CloudNode } from '../drivers/driver.js';
import type { Deployment, InstanceRec, NodeRec } from './state.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface Wiring {
  deployment: string;
  component: string;
  instance: string;
  provides: Record<string, Endpoint>;
  requires: Record<string, (Endpoint & { instance: string })[]>;
}

/** `backends` → `BACKENDS`, `my-port` → `MY_PORT`. */
export function envName(port: string): string {
  return port.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * Addresses of an instance's provided ports on its node. Platforms that share one address
 * among nodes (local) give each node a port range (`node.ports`, which excludes the agent's
 * port before it and its Graphite port after it): provided ports follow in name order from
 * `first + 1`, and a port that would fall beyond the range gets no address (it would be
 * another node's, or the agent's Graphite listener). Elsewhere the spec's fixed port (or
 * 8000 + index) is used.
 */
export function providedEndpoints(comp: ComponentSpec, node: CloudNode | undefined): Record<string, Endpoint> {
  const out: Record<string, Endpoint> = {};
  if (!node?.address) return out;
  for (const name of portNames(comp)) {
    const ep = endpointOf(comp, name, node);
    if (ep) out[name] = ep;
  }
  return out;
}

/** A component's provided port names in name order, per spec object (specs are replaced, never edited). */
const portNameMemo = new WeakMap<ComponentSpec, readonly string[]>();
function portNames(comp: ComponentSpec): readonly string[] {
  let names = portNameMemo.get(comp);
  if (!names) portNameMemo.set(comp, (names = Object.keys(comp.provides).sort()));
  return names;
}

/** The address of one provided port on `node` (see `providedEndpoints`), or undefined. */
export function endpointOf(comp: ComponentSpec, name: string, node: CloudNode | undefined): Endpoint | undefined {
  if (!node?.address) return undefined;
  const i = portNames(comp).indexOf(name);
  if (i < 0 || (node.ports && 1 + i >= node.ports.count)) return undefined;
  const port = node.ports ? node.ports.first + 1 + i : (comp.provides[name]?.port ?? 8000 + i);
  return { host: node.address, port };
}

/** Instances a requirer is wired to: desired and running, in ordinal order. */
export function wiredProviders(instances: Iterable<InstanceRec>, deployment: string, component: string): InstanceRec[] {
  const out: InstanceRec[] = [];
  for (const i of instances) {
    if (i.deployment === deployment && i.component === component && i.desired && i.phase === 'running') out.push(i);
  }
  return out.sort((a, b) => a.ordinal - b.ordinal);
}

/**
 * Whether consumers are wired to this provider: desired, running, and on a node that answers
 * (an instance on an unreachable node is dropped until it answers again, ./reachability.ts).
 */
export function servesTraffic(p: InstanceRec, nodes: ReadonlyMap<string, NodeRec>): boolean {
  return p.desired && p.phase === 'running' && !nodes.get(p.key)?.unreachable;
}

export interface WiringInput {
  dep: Deployment;
  inst: InstanceRec;
  /** Instances of the deployment, grouped by component. */
  byComponent: Map<string, InstanceRec[]>;
  nodes: ReadonlyMap<string, NodeRec>;
}

/**
 * The last provider list of each channel, per deployment object (a new spec is a new object, so
 * a re-apply starts afresh): reused while exactly the same instances are wanted and running on
 * nodes with the same observed records (the engine replaces a node's record, never edits it).
 * Checking that is a pass of identity comparisons over the providers; building the list, and
 * what is derived from it (its JSON for the hash, the env value), happens once per change
 * instead of once per requirer and step.
 */
interface ChannelMemo {
  members: InstanceRec[];
  observed: (CloudNode | undefined)[];
  list: readonly (Endpoint & { instance: string })[];
}
/** The last `requires` record of each requiring component, reused while its lists are. */
interface RequiresMemo {
  lists: readonly (readonly unknown[])[];
  requires: Wiring['requires'];
}
const channelMemos = new WeakMap<Deployment, Map<string, ChannelMemo>>();
const requiresMemos = new WeakMap<Deployment, Map<string, RequiresMemo>>();
const hashes = new WeakMap<object, string>();
const envValues = new WeakMap<object, string>();

function memoOf<T>(memos: WeakMap<Deployment, Map<string, T>>, dep: Deployment): Map<string, T> {
  let m = memos.get(dep);
  if (!m) memos.set(dep, (m = new Map()));
  return m;
}

/** Desired, running providers of a channel, in ordinal order, with their endpoints on `port`. */
function channelList(dep: Deployment, component: string, port: string, candidates: readonly InstanceRec[], nodes: ReadonlyMap<string, NodeRec>): ChannelMemo['list'] {
  const providerComp = dep.spec.components[component];
  if (!providerComp) return Object.freeze([]);
  const memos = memoOf(channelMemos, dep);
  const key = `${component}\0${port}`;
  const memo = memos.get(key);
  let same = memo !== undefined;
  let j = 0;
  const members: InstanceRec[] = [];
  const observed: (CloudNode | undefined)[] = [];
  for (const p of candidates) {
    if (!servesTraffic(p, nodes)) continue;
    const o = nodes.get(p.key)?.observed;
    if (same && (memo!.members[j] !== p || memo!.observed[j] !== o)) same = false;
    members.push(p);
    observed.push(o);
    j++;
  }
  if (same && j === memo!.members.length) return memo!.list;
  const order = members.map((_, i) => i).sort((a, b) => members[a]!.ordinal - members[b]!.ordinal);
  const list: (Endpoint & { instance: string })[] = [];
  for (const i of order) {
    const ep = endpointOf(providerComp, port, observed[i]);
    if (ep) list.push(Object.freeze({ instance: members[i]!.name, ...ep }));
  }
  const frozen = Object.freeze(list);
  memos.set(key, { members, observed, list: frozen });
  return frozen;
}

export function computeWiring({ dep, inst, byComponent, nodes }: WiringInput): Wiring {
  const comp = dep.spec.components[inst.component]!;
  const lists: (readonly (Endpoint & { instance: string })[])[] = [];
  const channels = Object.values(comp.requires);
  for (const ch of channels) lists.push(channelList(dep, ch.component, ch.port, byComponent.get(ch.component) ?? [], nodes));
  const memos = memoOf(requiresMemos, dep);
  const memo = memos.get(inst.component);
  let requires: Wiring['requires'];
  if (memo && memo.lists.length === lists.length && memo.lists.every((l, i) => l === lists[i])) requires = memo.requires;
  else {
    const r: Record<string, readonly (Endpoint & { instance: string })[]> = {};
    channels.forEach((ch, i) => (r[ch.name] = lists[i]!));
    requires = Object.freeze(r) as Wiring['requires'];
    memos.set(inst.component, { lists, requires });
  }
  return {
    deployment: dep.name,
    component: inst.component,
    instance: inst.name,
    provides: providedEndpoints(comp, nodes.get(inst.key)?.observed),
    requires,
  };
}

/** Changes exactly when what the handlers are told about their channels changes. */
export function wiringHash(w: Wiring): string {
  const known = hashes.get(w.requires);
  if (known !== undefined) return known;
  const h = crypto.createHash('sha1').update(JSON.stringify(w.requires)).digest('hex').slice(0, 16);
  if (Object.isFrozen(w.requires)) hashes.set(w.requires, h);
  return h;
}

/** `host:port,host:port` of a channel's providers. */
function envValue(list: readonly Endpoint[]): string {
  const known = envValues.get(list);
  if (known !== undefined) return known;
  const v = list.map((e) => `${e.host}:${e.port}`).join(',');
  if (Object.isFrozen(list)) envValues.set(list, v);
  return v;
}

/**
 * The handler environment: user env first, then Nubis's variables (which win). `graphite` is
 * the node agent's Graphite listener, given to handlers as `NUBIS_GRAPHITE=host:port` so an
 * instance can send its own metrics there.
 */
export function wiringEnv(comp: ComponentSpec, w: Wiring, host: string, graphite?: Endpoint): Record<string, string> {
  const env: Record<string, string> = { ...comp.env };
  env.NUBIS_DEPLOYMENT = w.deployment;
  env.NUBIS_COMPONENT = w.component;
  env.NUBIS_INSTANCE = w.instance;
  env.NUBIS_HOST = host;
  if (graphite) env.NUBIS_GRAPHITE = `${graphite.host}:${graphite.port}`;
  for (const [name, ep] of Object.entries(w.provides)) env[`NUBIS_PORT_${envName(name)}`] = String(ep.port);
  for (const [name, list] of Object.entries(w.requires)) {
    env[`NUBIS_REQUIRES_${envName(name)}`] = envValue(list);
  }
  return env;
}
