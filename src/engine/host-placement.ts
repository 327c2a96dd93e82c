/**
 * Host placement in the engine: which host of a cloud each new node goes to, by its node
 * template's placement policy (src/policy/placement). The cloud's hosts and capacity come from
 * its driver (`hosts()`: ssh, sim); what is on each host is what the driver reports plus the
 * nodes this engine has placed there and not yet created (any deployment's), so creates in
 * flight at once never share a host's last room. Load-aware reads the hosts' CPU load with the
 * template's `loadQuery` in the deployment's tenant (label `host`).
 *
 * A decision is recorded on the node (`placement.host`, `placement.why`) before its create is
 * sent (the create's intent), and `plan` runs the same decision without recording anything.
 * A cloud whose driver has no host model places nodes itself: no decision, and a note says so.
 */
import { placeNodes, type PlacementDecision, type PlacementHost, type PlacementPolicy, type PlacementRequest } from '../policy/index.js';
import type { CloudHost } from '../drivers/index.js';
import type { EngineContext } from './context.js';
import type { Deployment, NodeRec } from './state.js';

/** Load per host (or cloud) name, from a query in a tenant. */
export type LoadSource = (query: string, tenant: string) => Promise<Map<string, number>>;

/** A node to place: its key, component and instance name. */
export interface NewNode {
  key: string;
  component: string;
  instance: string;
}

export type HostPlan = { kind: 'placed'; decisions: PlacementDecision[] } | { kind: 'cloud-decides'; note: string };

export class HostPlacer {
  constructor(private readonly ctx: EngineContext) {}

  /** The policy of a component's node template, when it has one. */
  policyOf(d: Deployment, component: string): PlacementPolicy | undefined {
    const comp = d.spec.components[component];
    return comp ? d.spec.nodeTemplates[comp.nodeTemplate]?.placement : undefined;
  }

  /**
   * Places `nodes` (all of one cloud) in order. Throws PLACEMENT_ANTI_AFFINITY or
   * PLACEMENT_HOST_FULL. The nodes' own earlier choices do not count. With `record`, each
   * choice is set on its node record before anything else runs (the caller persists it), so
   * placements in flight at once see each other.
   */
  async place(d: Deployment, cloud: string, nodes: readonly NewNode[], signal: AbortSignal, record = false): Promise<HostPlan> {
    const driver = this.ctx.driverOf(d, cloud);
    if (!driver.hosts) return { kind: 'cloud-decides', note: `${cloud} places nodes itself (the ${driver.platform} driver has no host model)` };
    const reported = await driver.hosts(signal);
    const byPolicy = new Map<PlacementPolicy, NewNode[]>();
    for (const n of nodes) {
      const p = this.policyOf(d, n.component);
      if (!p) continue;
      const l = byPolicy.get(p) ?? [];
      l.push(n);
      byPolicy.set(p, l);
    }
    const decisions: PlacementDecision[] = [];
    const skip = new Set(nodes.map((n) => n.key));
    const handle = this.ctx.handleKey(d, cloud);
    for (const [policy, list] of byPolicy) {
      const loads = policy.policy === 'load-aware' ? await this.loads(policy.loadQuery, d.tenant) : undefined;
      const hosts = this.hostsOf(reported, handle, skip, loads, decisions);
      const requests: PlacementRequest[] = list.map((n) => this.request(d, n));
      decisions.push(...placeNodes(hosts, requests, policy, `${d.spec.name}: placement on ${cloud}`));
    }
    if (record) {
      for (const x of decisions) {
        const n = this.ctx.nodes.get(x.key);
        if (n) n.placement = { ...(n.placement ?? { cloud: n.cloud }), host: x.host, why: x.reason };
      }
    }
    return { kind: 'placed', decisions };
  }

  private request(d: Deployment, n: NewNode): PlacementRequest {
    const comp = d.spec.components[n.component]!;
    const r = d.spec.nodeTemplates[comp.nodeTemplate]?.requirements ?? {};
    return { key: n.key, group: `${d.name}/${n.component}`, instance: n.instance, cores: r.cores ?? 1, memoryMiB: r.memoryMiB ?? 0 };
  }

  private async loads(query: string, tenant: string): Promise<Map<string, number>> {
    const src = this.ctx.loads;
    if (!src) return new Map();
    try {
      return await src(query, tenant);
    } catch {
      return new Map(); // no metrics: every host counts as without a sample (the reason says so)
    }
  }

  /** The cloud's hosts with what is on them: reported nodes, plus nodes placed there by this engine and not reported yet. */
  private hostsOf(reported: readonly CloudHost[], handle: string | undefined, skip: ReadonlySet<string>, loads: Map<string, number> | undefined, decided: readonly PlacementDecision[]): PlacementHost[] {
    const known = new Set<string>();
    for (const h of reported) for (const n of h.nodes) if (n.key) known.add(n.key);
    const extra = new Map<string, NodeRec[]>();
    for (const n of this.ctx.nodes.values()) {
      const host = n.placement?.host;
      if (!host || known.has(n.key) || skip.has(n.key) || n.providerId) continue;
      const d = this.ctx.deployments.get(n.deployment);
      if (!d || this.ctx.handleKey(d, n.cloud) !== handle) continue;
      const l = extra.get(host) ?? [];
      l.push(n);
      extra.set(host, l);
    }
    const decidedOn = new Map<string, PlacementDecision[]>();
    for (const x of decided) decidedOn.set(x.host, [...(decidedOn.get(x.host) ?? []), x]);
    return reported.map((h) => {
      const keys = [...h.nodes.map((n) => n.key ?? n.id), ...(extra.get(h.name) ?? []).map((n) => n.key), ...(decidedOn.get(h.name) ?? []).map((x) => x.key)];
      const groups = new Map<string, string>();
      let cores = 0;
      let memoryMiB = 0;
      for (const k of keys) {
        const inst = this.ctx.instances.get(k);
        const d = inst ? this.ctx.deployments.get(inst.deployment) : undefined;
        if (!inst || !d) continue;
        groups.set(`${d.name}/${inst.component}`, inst.name);
        const comp = d.spec.components[inst.component];
        const r = comp ? d.spec.nodeTemplates[comp.nodeTemplate]?.requirements : undefined;
        cores += r?.cores ?? 1;
        memoryMiB += r?.memoryMiB ?? 0;
      }
      const load = loads?.get(h.name);
      return {
        name: h.name,
        capacity: h.capacity,
        used: { nodes: keys.length, cores, memoryMiB },
        groups,
        ...(load !== undefined ? { load } : {}),
        attributes: h.attributes ?? {},
      };
    });
  }
}

/** Load per label value (`host`, else `cloud`) from an instant query's vector result. */
export function loadsByLabel(result: { resultType: string; result: unknown }): Map<string, number> {
  const out = new Map<string, number>();
  if (result.resultType !== 'vector') return out;
  for (const s of result.result as { labels: Record<string, string>; v: number }[]) {
    const name = s.labels['host'] ?? s.labels['cloud'];
    if (name !== undefined && Number.isFinite(s.v)) out.set(name, s.v);
  }
  return out;
}
