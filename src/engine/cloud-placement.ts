/**
 * A node template without a cloud and with a placement policy: the policy chooses among the
 * clouds requirement-based selection finds fitting (each cloud's cheapest fitting candidate
 * stands for it), counting the component's nodes already in each cloud. Packing keeps adding
 * to the cloud with the most, striping to the one with the fewest, load-aware reads no load
 * here (the decision is synchronous: clouds tie on load and fall back to their node counts),
 * custom ranks by `price`, `offer_cores`, `offer_memory` and `nodes`; anti-affinity puts at
 * most one of the component's nodes in a cloud. Throws PLACEMENT_NO_FIT when nothing fits,
 * PLACEMENT_ANTI_AFFINITY when every fitting cloud already has one.
 */
import { cloudsAsHosts, placeNodes, type PlacementPolicy } from '../policy/index.js';
import { describeCandidate, noFitError, placementOf, rankCandidates, type Candidate, type CatalogueCloud } from '../registry/index.js';
import type { NodeRequirements } from '../model/index.js';
import type { Placement } from './clouds.js';

export function placeAmongClouds(catalogue: readonly CatalogueCloud[], r: NodeRequirements, policy: PlacementPolicy, existing: readonly Placement[], what: string): { placement: Placement; reason: string } {
  const ranked = rankCandidates(catalogue, r);
  if (ranked.length === 0) throw noFitError(catalogue, r, what);
  const best = new Map<string, Candidate>();
  for (const c of ranked) if (!best.has(c.cloud)) best.set(c.cloud, c);
  const choices = [...best.values()].map((c) => ({
    cloud: c.cloud,
    instances: existing.filter((p) => p.cloud === c.cloud).map((_, i) => `node ${i + 1} there`),
    ...(c.offer.pricePerHour !== undefined ? { pricePerHour: c.offer.pricePerHour } : {}),
    cores: c.offer.cores,
    memoryMiB: c.offer.memoryMiB,
  }));
  const [d] = placeNodes(cloudsAsHosts(choices, what), [{ key: what, group: what, instance: `the next node of ${what}`, cores: 0, memoryMiB: 0 }], policy, what);
  const c = best.get(d!.host)!;
  return { placement: placementOf(c), reason: `${d!.reason.replace(/ nodes in use/, ' nodes of the component')}: ${describeCandidate(c)}` };
}
