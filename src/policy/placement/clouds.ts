/**
 * Placement over clouds: a node template without a cloud places by policy among the clouds
 * requirement-based selection found fitting. Each cloud is a host without a capacity limit,
 * holding the component's nodes placed there so far; its attributes for a custom rank are the
 * cheapest fitting offer's `price` (per hour; Infinity when unknown), `offer_cores` and
 * `offer_memory`.
 */
import type { PlacementHost } from './types.js';

export interface CloudChoice {
  cloud: string;
  /** The component's nodes in it so far (with their instance names, for anti-affinity). */
  instances: readonly string[];
  pricePerHour?: number;
  cores: number;
  memoryMiB: number;
  /** CPU load of the cloud's nodes, from the metrics (label `cloud`), when known. */
  load?: number;
}

/** The clouds as placement hosts, in the given (ranked) order; `group` is `<deployment>/<component>`. */
export function cloudsAsHosts(choices: readonly CloudChoice[], group: string): PlacementHost[] {
  return choices.map((c) => ({
    name: c.cloud,
    capacity: { nodes: Infinity },
    used: { nodes: c.instances.length, cores: 0, memoryMiB: 0 },
    groups: c.instances.length > 0 ? new Map([[group, c.instances[0]!]]) : new Map<string, string>(),
    ...(c.load !== undefined ? { load: c.load } : {}),
    attributes: { price: c.pricePerHour ?? Infinity, offer_cores: c.cores, offer_memory: c.memoryMiB },
  }));
}
