/**
 * What recovery sees of an instance, as ladder sightings (./ladder.ts): from the engine's agent
 * observations (the observe controller's rounds) and from the engine's own records (a failed
 * start, a failed node, a node judged unreachable). Probe failures are counted from the
 * agent's probe counters, so failures between two observations are not lost; without
 * counters each unhealthy observation counts as one.
 */
import type { InstanceObservation, InstanceRec, NodeRec } from '../../engine/index.js';
import type { Sighting } from './ladder.js';

/** The instance is on its way somewhere (a step, a start, a node being made): nothing to judge. */
export const TRANSIT = 'transit' as const;

/**
 * The sighting of one observation. `lastFailed`: the probe failure counter at the previous
 * observation (undefined: none yet, the counter is taken as the baseline); `probed`: the
 * component has a health probe.
 */
export function fromObservation(o: InstanceObservation, lastFailed: number | undefined, probed: boolean): Sighting {
  if (!o.answered) return { kind: 'failed', failure: 'unreachable', count: 1, hard: false, reason: `its agent did not answer (${o.detail ?? 'no reply'})` };
  if (o.alive === false) return { kind: 'failed', failure: 'component', count: 1, hard: true, reason: 'its process exited' };
  if (o.probes) {
    const f = o.probes.failed;
    const delta = lastFailed === undefined ? (o.health === 'unhealthy' ? 1 : 0) : f >= lastFailed ? f - lastFailed : f;
    if (delta > 0) return { kind: 'failed', failure: 'component', count: delta, hard: false, reason: o.detail ?? 'its health probe failed' };
    return o.health === 'healthy' ? { kind: 'healthy' } : { kind: 'tick' };
  }
  if (o.health === 'unhealthy') return { kind: 'failed', failure: 'component', count: 1, hard: false, reason: o.detail ?? 'its health probe failed' };
  if (o.health === 'healthy' || !probed) return { kind: 'healthy' };
  return { kind: 'tick' };
}

/**
 * What the engine's records say: a hard failure, `transit` (a step, start or node change under
 * way), healthy (running, and healthy as last observed), or undefined (observations decide).
 */
export function fromRecords(inst: InstanceRec, node: NodeRec | undefined, busy: boolean, probed: boolean): Sighting | typeof TRANSIT | undefined {
  if (busy) return TRANSIT;
  if (node?.status === 'failed') return { kind: 'failed', failure: 'gone', count: 1, hard: true, reason: `its node failed: ${node.lastError ?? 'the cloud could not make it'}` };
  if (inst.phase === 'failed') return { kind: 'failed', failure: 'component', count: 1, hard: true, reason: `its start failed: ${(inst.lastError ?? 'no detail').split('\n')[0]}` };
  if (node?.status !== 'running' || inst.phase !== 'running') return TRANSIT;
  if (node.unreachable) return { kind: 'failed', failure: 'unreachable', count: 1, hard: true, reason: `its node does not answer: ${node.unreachableReason ?? 'no reason known'}` };
  if (inst.processAlive === false) return undefined;
  if (probed ? inst.health === 'healthy' : inst.health !== 'unhealthy') return { kind: 'healthy' };
  return undefined;
}
