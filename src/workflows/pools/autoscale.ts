/**
 * Queue-driven pool size: a pool with `autoscale` grows and shrinks with its jobs. It wants
 * ⌈(waiting + running) / jobsPerNode⌉ nodes within [min, max]; a change waits `cooldownMs`
 * after the last one (a burst of arrivals does not clone a node per job, a short lull does not
 * destroy nodes the next cycle needs again). The count only counts work that exists, so a pool
 * whose jobs are all done shrinks to `min` (0 for the FMI chain: nothing left that bills).
 */
import { clockText } from './ready-by.js';

export interface AutoscaleInput {
  readonly waiting: number;
  readonly running: number;
  /** Nodes the pool has now (its component's desired count). */
  readonly nodes: number;
  readonly min: number;
  readonly max: number;
  readonly jobsPerNode: number;
  readonly cooldownMs: number;
  /** Clock ms of the last change of the count; undefined: never changed. */
  readonly lastChangeAt?: number;
  readonly now: number;
}

export interface AutoscaleDecision {
  /** The node count to have now (equal to `nodes` when nothing changes). */
  readonly count: number;
  /** The count the queue asks for (before the cooldown holds it back). */
  readonly wanted: number;
  /** When a held-back change may be made (set only while the cooldown holds one back). */
  readonly retryAt?: number;
  readonly reason: string;
}

export function poolAutoscale(input: AutoscaleInput): AutoscaleDecision {
  const { waiting, running, nodes, now } = input;
  const min = Math.max(0, Math.floor(input.min));
  const max = Math.max(min, Math.floor(input.max));
  const per = Math.max(1, input.jobsPerNode);
  const jobs = Math.max(0, waiting) + Math.max(0, running);
  const raw = Math.ceil(jobs / per);
  const wanted = Math.min(max, Math.max(min, raw));
  const load = `${waiting} waiting + ${running} running at ${per} per node`;
  const bound = raw > max ? ` (capped at max ${max})` : raw < min ? ` (held at min ${min})` : '';
  if (wanted === nodes) return { count: nodes, wanted, reason: `${nodes} node${nodes === 1 ? '' : 's'} fit ${load}${bound}` };
  const readyAt = input.lastChangeAt === undefined ? now : input.lastChangeAt + input.cooldownMs;
  if (readyAt > now) {
    return { count: nodes, wanted, retryAt: readyAt, reason: `${load} want ${wanted}${bound}; cooling down until ${clockText(readyAt)}, stays at ${nodes}` };
  }
  return { count: wanted, wanted, reason: `${wanted > nodes ? 'grow' : 'shrink'} ${nodes} → ${wanted}: ${load}${bound}` };
}
