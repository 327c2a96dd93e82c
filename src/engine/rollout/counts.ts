/**
 * Which instance count a component has after a re-apply. A count set at run time (`nubis
 * scale`, a rule, a schedule) is the operator's or a policy's decision about the running
 * deployment; re-applying the same file must not undo it. The spec's count wins only when the
 * spec's own count changed (the author decided again), or when the component is new.
 */
import type { AppSpec } from '../../model/index.js';
import type { CountDecision } from '../views.js';

export interface CarriedCounts {
  /** component → run-time count that stays in force. */
  counts: Record<string, number>;
  /** One line per component that had a run-time count. */
  decisions: CountDecision[];
}

/**
 * The run-time counts that survive replacing spec `before` with `after`: a component keeps its
 * run-time count unless its spec count changed; a kept count is clamped to the new min and max.
 */
export function carryCounts(before: AppSpec | undefined, counts: Readonly<Record<string, number>>, after: AppSpec): CarriedCounts {
  const out: Record<string, number> = {};
  const decisions: CountDecision[] = [];
  for (const [name, runtime] of Object.entries(counts)) {
    const now = after.components[name];
    if (!now) continue;
    const was = before?.components[name];
    if (!was) {
      decisions.push({ component: name, spec: now.count, runtime, count: now.count, wins: 'spec', reason: 'the component is new in this spec' });
      continue;
    }
    if (was.count !== now.count) {
      decisions.push({
        component: name, spec: now.count, runtime, count: now.count, wins: 'spec',
        reason: `the spec's own count changed from ${was.count} to ${now.count}, so it replaces the run-time count ${runtime}`,
      });
      continue;
    }
    const kept = Math.min(now.max, Math.max(now.min, runtime));
    const clamp = kept !== runtime ? `, clamped to the new bounds ${now.min}..${now.max}` : '';
    out[name] = kept;
    decisions.push({
      component: name, spec: now.count, runtime, count: kept, wins: 'runtime',
      reason: `set at run time (scale, a rule or a schedule); the spec's count ${now.count} is unchanged${clamp}`,
    });
  }
  return { counts: out, decisions };
}
