/**
 * Placement policies (issue 11, item 2; seed 003 §3.5.3): where each node goes among the hosts
 * of a cloud (ssh hosts, sim hosts) or among clouds — packing, striping, load-aware, a custom
 * rank expression — with anti-affinity between the instances of a component, and a reason per
 * node for `plan`. Pure: the engine gathers hosts, usage and loads, and persists the choice.
 *
 *   const d = placeNodes(hosts, [{ key: 'web/app-1', group: 'web/app', instance: 'app-1', cores: 1, memoryMiB: 256 }],
 *     { policy: 'packing', antiAffinity: true, loadQuery: DEFAULT_LOAD_QUERY });
 *   // [{ key: 'web/app-1', host: 'h1', reason: 'packing: h1 (0 of 4 nodes in use, the fullest of 3 with room)' }]
 */
export { placeNodes } from './place.js';
export { compileRank, rankProblem, type ExprProblem, type Lookup, type Value } from './expr.js';
export { cloudsAsHosts, type CloudChoice } from './clouds.js';
export {
  PLACEMENT_POLICIES, DEFAULT_LOAD_QUERY, HOST_VARIABLES,
  type PlacementPolicyName, type PlacementPolicy, type PlacementHost, type HostCapacity, type PlacementRequest, type PlacementDecision,
} from './types.js';
