/**
 * Placement of nodes over hosts by policy, one node after another (each sees the ones before):
 *
 * - packing: the host with the most nodes that still has room (fill a host before the next);
 * - striping: the host with the fewest nodes (spread evenly: counts differ by at most one
 *   among hosts with room);
 * - load-aware: the least loaded host by its CPU load from the metrics, each node placed this
 *   round adding its share (100 % × its cores / the host's cores) so a batch does not pile onto
 *   one host; hosts without a sample come after those with one;
 * - custom: the highest rank of the expression (./expr.ts); NaN ranks last.
 *
 * Ties go to the host listed first. A host has room when one more node stays within its
 * capacity in nodes, cores and memory. With anti-affinity a host that holds an instance of
 * the same component is never chosen. Pure: no I/O, no clock.
 *
 * Errors: PLACEMENT_ANTI_AFFINITY when only anti-affinity stands in the way (too few hosts for
 * the component's instances), PLACEMENT_HOST_FULL when no host has room; both name the node and
 * carry `details` (hosts, instances) and nothing is decided for the batch.
 */
import { NubisError } from '../../errors/index.js';
import { compileRank, type Compiled } from './expr.js';
import type { PlacementDecision, PlacementHost, PlacementPolicy, PlacementRequest } from './types.js';

/** One host as placement goes along. */
interface Slot {
  host: PlacementHost;
  index: number;
  nodes: number;
  cores: number;
  memoryMiB: number;
  /** group → instance, including this round's. */
  groups: Map<string, string>;
  /** Load estimate: the measured load plus this round's nodes' shares. */
  load: number | undefined;
}

const fits = (s: Slot, r: PlacementRequest): boolean => {
  const c = s.host.capacity;
  return s.nodes + 1 <= c.nodes && (c.cores === undefined || s.cores + r.cores <= c.cores) && (c.memoryMiB === undefined || s.memoryMiB + r.memoryMiB <= c.memoryMiB);
};

const free = (cap: number | undefined, used: number): number => (cap === undefined ? Infinity : cap - used);

function lookupOf(s: Slot): (name: string) => string | number | undefined {
  const c = s.host.capacity;
  return (name) => {
    switch (name) {
      case 'name': return s.host.name;
      case 'nodes': return s.nodes;
      case 'capacity_nodes': return c.nodes;
      case 'free_nodes': return c.nodes - s.nodes;
      case 'cores': return c.cores ?? Infinity;
      case 'used_cores': return s.cores;
      case 'free_cores': return free(c.cores, s.cores);
      case 'memory': return c.memoryMiB ?? Infinity;
      case 'used_memory': return s.memoryMiB;
      case 'free_memory': return free(c.memoryMiB, s.memoryMiB);
      case 'load': return s.load ?? NaN;
      default: return s.host.attributes[name];
    }
  };
}

/** Lower is better, compared element by element. */
type Score = (s: Slot) => [number, number];

function scorer(policy: PlacementPolicy, rank: Compiled | undefined): Score {
  switch (policy.policy) {
    case 'packing': return (s) => [-s.nodes, s.index];
    case 'striping': return (s) => [s.nodes, s.index];
    case 'load-aware': return (s) => [s.load === undefined ? Infinity : s.load, s.nodes * 1e6 + s.index];
    case 'custom': {
      const f = rank!;
      return (s) => {
        const r = f(lookupOf(s));
        return [Number.isNaN(r) ? Infinity : -r, s.index];
      };
    }
  }
}

const pct = (x: number): string => `${Math.round(x * 10) / 10} %`;

function describe(policy: PlacementPolicy, s: Slot, candidates: number, score: [number, number]): string {
  const cap = s.host.capacity;
  const held = `${s.nodes} of ${cap.nodes === Infinity ? 'unlimited' : cap.nodes} nodes in use`;
  const among = `${candidates} with room`;
  switch (policy.policy) {
    case 'packing': return `packing: ${s.host.name} (${held}, the fullest of ${among})`;
    case 'striping': return `striping: ${s.host.name} (${held}, the emptiest of ${among})`;
    case 'load-aware':
      return s.load === undefined
        ? `load-aware: ${s.host.name} (no load sample for any of ${among}; ${held})`
        : `load-aware: ${s.host.name} (cpu ${pct(s.host.load ?? 0)}${s.load !== s.host.load ? `, ${pct(s.load)} with this round's nodes` : ''}, the least loaded of ${among})`;
    case 'custom': return `custom: ${s.host.name} (rank ${Number.isFinite(-score[0]) ? Math.round(-score[0] * 1000) / 1000 : 'NaN'} of ${JSON.stringify(policy.rank)}, the highest of ${among})`;
  }
}

/**
 * Decides a host for each request in order (see the module comment). Throws
 * PLACEMENT_ANTI_AFFINITY or PLACEMENT_HOST_FULL; `what` prefixes the message.
 */
export function placeNodes(hosts: readonly PlacementHost[], requests: readonly PlacementRequest[], policy: PlacementPolicy, what = 'placement'): PlacementDecision[] {
  const slots: Slot[] = hosts.map((h, index) => ({
    host: h, index, nodes: h.used.nodes, cores: h.used.cores, memoryMiB: h.used.memoryMiB, groups: new Map(h.groups), load: h.load,
  }));
  const score = scorer(policy, policy.policy === 'custom' ? compileRank(policy.rank ?? '0') : undefined);
  const out: PlacementDecision[] = [];
  for (const r of requests) {
    let best: Slot | undefined;
    let bestScore: [number, number] = [Infinity, Infinity];
    let candidates = 0;
    const blocked: string[] = [];
    for (const s of slots) {
      if (!fits(s, r)) continue;
      const there = policy.antiAffinity ? s.groups.get(r.group) : undefined;
      if (there !== undefined) {
        blocked.push(`${s.host.name} (${there})`);
        continue;
      }
      candidates++;
      const sc = score(s);
      if (!best || sc[0] < bestScore[0] || (sc[0] === bestScore[0] && sc[1] < bestScore[1])) {
        best = s;
        bestScore = sc;
      }
    }
    if (!best) throw noRoom(what, r, slots, blocked);
    let reason = describe(policy, best, candidates, bestScore);
    if (blocked.length > 0) reason += `; anti-affinity: not on ${blocked.slice(0, 3).join(', ')}${blocked.length > 3 ? ` and ${blocked.length - 3} more` : ''}`;
    out.push({ key: r.key, host: best.host.name, reason });
    best.nodes++;
    best.cores += r.cores;
    best.memoryMiB += r.memoryMiB;
    best.groups.set(r.group, r.instance);
    if (best.load !== undefined) best.load += (100 * Math.max(1, r.cores)) / Math.max(1, best.host.capacity.cores ?? best.host.capacity.nodes);
  }
  return out;
}

function noRoom(what: string, r: PlacementRequest, slots: readonly Slot[], blocked: readonly string[]): NubisError {
  if (blocked.length > 0) {
    const n = new Set(slots.map((s) => s.host.name)).size;
    return new NubisError(
      'PLACEMENT_ANTI_AFFINITY',
      `${what}: ${r.instance} cannot be placed with anti-affinity: every host with room already holds an instance of ${r.group} (${blocked.slice(0, 5).join(', ')}); ${n} host${n === 1 ? '' : 's'} in all — add hosts, lower the count or drop antiAffinity`,
      { details: { instance: r.instance, group: r.group, hosts: n, blocked: blocked.length } },
    );
  }
  const full = slots.slice(0, 5).map((s) => `${s.host.name} ${s.nodes}/${s.host.capacity.nodes} nodes${s.host.capacity.cores !== undefined ? `, ${s.cores}/${s.host.capacity.cores} cores` : ''}`);
  return new NubisError(
    'PLACEMENT_HOST_FULL',
    slots.length === 0
      ? `${what}: ${r.instance}: the cloud reports no hosts to place on`
      : `${what}: no host has room for ${r.instance} (${r.cores} cores, ${r.memoryMiB} MiB): ${full.join('; ')}${slots.length > 5 ? ` and ${slots.length - 5} more` : ''}`,
    { details: { instance: r.instance, hosts: slots.length } },
  );
}
