/**
 * What placement works on: hosts (or clouds seen as hosts) with capacity and load, and the
 * nodes to put on them. Pure data; ./place.ts decides.
 */

/** The policies (seed 003 §3.5.3: OpenNebula's packing, striping, load-aware and custom). */
export const PLACEMENT_POLICIES = ['packing', 'striping', 'load-aware', 'custom'] as const;
export type PlacementPolicyName = (typeof PLACEMENT_POLICIES)[number];

/** A node template's placement, normalised. */
export interface PlacementPolicy {
  policy: PlacementPolicyName;
  /** custom only: the rank expression (./expr.ts), higher first. */
  rank?: string;
  /** Never two instances of one component on one host (or cloud). Default false. */
  antiAffinity: boolean;
  /** load-aware: the query whose result elements give each host's CPU load (label `host`, or `cloud` over clouds). */
  loadQuery: string;
}

/** The default load query: hosts' CPU percent over the last 5 minutes. */
export const DEFAULT_LOAD_QUERY = 'avg by (host) (avg_over_time({__name__="host.cpu.percent"}[5m]))';

/** What a host holds at most; an absent dimension is not limited. */
export interface HostCapacity {
  nodes: number;
  cores?: number;
  memoryMiB?: number;
}

export interface PlacementHost {
  name: string;
  capacity: HostCapacity;
  /** What is on it now (before this placement). */
  used: { nodes: number; cores: number; memoryMiB: number };
  /** Anti-affinity groups already on it (`<deployment>/<component>`), with the instance there. */
  groups: ReadonlyMap<string, string>;
  /** CPU load in percent from the hosts' metrics; undefined when no sample came. */
  load?: number;
  /** Extra attributes for custom ranks (rack, zone, price, …). */
  attributes: Readonly<Record<string, string | number>>;
}

export interface PlacementRequest {
  /** The node key. */
  key: string;
  /** The anti-affinity group: `<deployment>/<component>`. */
  group: string;
  /** The instance name, for reasons. */
  instance: string;
  cores: number;
  memoryMiB: number;
}

export interface PlacementDecision {
  key: string;
  host: string;
  /** For `plan`: why this host, e.g. `packing: h1 (2 of 4 nodes in use, the fullest with room)`. */
  reason: string;
}

/**
 * The attributes every host has in a custom rank: nodes, cores and memory (capacity, used,
 * free; capacity without a limit is Infinity), `load` (NaN without a sample) and `name`.
 */
export const HOST_VARIABLES = [
  'name', 'nodes', 'capacity_nodes', 'free_nodes', 'cores', 'used_cores', 'free_cores', 'memory', 'used_memory', 'free_memory', 'load',
] as const;
