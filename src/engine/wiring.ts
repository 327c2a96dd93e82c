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
  const names = Object.keys(comp.provides).sort();
  names.forEach((name, i) => {
    const fixed = comp.provides[name]?.port;
    if (node.ports && 1 + i >= node.ports.count) return;
    const port = node.ports ? node.ports.first + 1 + i : (fixed ?? 8000 + i);
    out[name] = { host: node.address!, port };
  });
  return out;
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

export function computeWiring({ dep, inst, byComponent, nodes }: WiringInput): Wiring {
  const comp = dep.spec.components[inst.component]!;
  const requires: Wiring['requires'] = {};
  for (const ch of Object.values(comp.requires)) {
    const providerComp = dep.spec.components[ch.component];
    const list: (Endpoint & { instance: string })[] = [];
    if (providerComp) {
      const providers = (byComponent.get(ch.component) ?? []).filter((p) => servesTraffic(p, nodes));
      providers.sort((a, b) => a.ordinal - b.ordinal);
      for (const p of providers) {
        const ep = providedEndpoints(providerComp, nodes.get(p.key)?.observed)[ch.port];
        if (ep) list.push({ instance: p.name, ...ep });
      }
    }
    requires[ch.name] = list;
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
  return crypto.createHash('sha1').update(JSON.stringify(w.requires)).digest('hex').slice(0, 16);
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
    env[`NUBIS_REQUIRES_${envName(name)}`] = list.map((e) => `${e.host}:${e.port}`).join(',');
  }
  return env;
}
