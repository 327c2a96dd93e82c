/** `rollout status|pause|resume`: the rolling update as the API sees it. */
import { NubisError } from '../../errors/index.js';
import type { EventInput } from '../../events/index.js';
import type { Caller, DeploymentRollout, RolloutView } from '../views.js';
import { desiredCount, type Deployment, type InstanceRec } from '../state.js';
import { batchesFor, DEFAULT_STRATEGY, isOutdated, revisionOf } from './controller.js';
import { changeBetween } from './revision.js';

export interface RolloutFacadeDeps {
  get(name: string): Deployment;
  instancesOf(name: string): InstanceRec[];
  save(d: Deployment, event: EventInput): Promise<void>;
  now(): number;
}

export function rolloutView(d: Deployment, instances: readonly InstanceRec[]): RolloutView {
  const r = d.rollout;
  const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
  const v: RolloutView = {
    deployment: d.spec.name,
    status: r?.status ?? 'none',
    version: r?.version ?? d.version,
    components: Object.values(d.spec.components).map((c) => {
      const s = c.updateStrategy ?? DEFAULT_STRATEGY;
      const target = r?.revisions[c.name];
      const live = instances.filter((i) => i.component === c.name && i.desired);
      const cr = r?.components[c.name];
      return {
        name: c.name, batch: cr?.batch ?? 0, outdated: target ? live.filter((i) => isOutdated(i, target)).length : 0, instances: live.length,
        maxUnavailable: s.maxUnavailable, maxSurge: s.maxSurge, healthGateTimeoutMs: s.healthGateTimeoutMs, gating: cr?.batchStartedAt !== undefined,
      };
    }),
  };
  if (r?.reason) v.reason = r.reason;
  const started = iso(r?.startedAt);
  const ended = iso(r?.endedAt);
  if (started) v.startedAt = started;
  if (ended) v.endedAt = ended;
  return v;
}

/**
 * The rollout as `status` shows it while it runs, is paused or failed (undefined otherwise):
 * batches started of the batches it takes (started plus those its outdated instances still
 * need, sized as the controller sizes them), instances at the new revision of those wanted,
 * and one line such as `batch 2/5, 3 of 5 updated, paused (by alice)`.
 */
export function rolloutSummary(d: Deployment, instances: readonly InstanceRec[]): DeploymentRollout | undefined {
  const r = d.rollout;
  if (!r || (r.status !== 'running' && r.status !== 'paused' && r.status !== 'failed') || d.status === 'destroying') return undefined;
  let batch = 0;
  let batches = 0;
  let updated = 0;
  let wanted = 0;
  for (const c of Object.values(d.spec.components)) {
    const target = r.revisions[c.name];
    const cr = r.components[c.name];
    if (!target) continue;
    const retiring = new Set(cr?.retiring ?? []);
    const live = instances.filter((i) => i.component === c.name && i.desired);
    const outdated = live.filter((i) => !retiring.has(i.key) && isOutdated(i, target));
    const started = cr?.batch ?? 0;
    if (started === 0 && outdated.length === 0) continue;
    const s = c.updateStrategy ?? DEFAULT_STRATEGY;
    const restarts = outdated.filter((i) => changeBetween(revisionOf(i, target), target).kind === 'restart').length;
    const replaces = outdated.length - restarts;
    const count = desiredCount(d, c);
    batch += started;
    batches += started + batchesFor(s, restarts, replaces);
    updated += Math.min(count, live.filter((i) => !isOutdated(i, target)).length);
    wanted += count;
  }
  const state = r.status === 'paused' ? `, paused${r.reason ? ` (${r.reason.replace(/^paused /, '')})` : ''}` : r.status === 'failed' ? `, failed: ${r.reason ?? 'no reason recorded'}` : '';
  const out: DeploymentRollout = {
    status: r.status, version: r.version, batch, batches: Math.max(batch, batches), updated, instances: wanted,
    line: `batch ${batch}/${Math.max(batch, batches)}, ${updated} of ${wanted} updated${state}`,
  };
  if (r.reason) out.reason = r.reason;
  return out;
}

/** Pause: no new batches. Resume: batches go on; a failed rollout gives its batch a new health-gate period. */
export async function setPaused(deps: RolloutFacadeDeps, name: string, paused: boolean, caller: Caller): Promise<RolloutView> {
  const d = deps.get(name);
  const r = d.rollout;
  const bare = d.spec.name;
  if (!r || r.status === 'completed') throw new NubisError('CONFLICT', `deployment ${bare} has no rolling update in progress`);
  if (paused ? r.status === 'paused' : r.status === 'running') return rolloutView(d, deps.instancesOf(name));
  const now = deps.now();
  const components = Object.fromEntries(
    Object.entries(r.components).map(([c, x]) => [c, !paused && x.batchStartedAt !== undefined ? { ...x, batchStartedAt: now } : { ...x }]),
  );
  const { reason: _r, endedAt: _e, ...rest } = r;
  const next: Deployment = { ...d, rollout: { ...rest, components, status: paused ? 'paused' : 'running', ...(paused ? { reason: `paused by ${caller.actor}` } : {}) } };
  await deps.save(next, {
    actor: caller.actor,
    ...(caller.correlationId ? { correlationId: caller.correlationId } : {}),
    deployment: name,
    kind: paused ? 'rollout.paused' : 'rollout.resumed',
    target: name,
    reason: paused ? 'no new batches until resumed' : r.status === 'failed' ? `resumed after: ${r.reason ?? 'a failure'}` : 'batches go on',
    data: { version: r.version },
  });
  return rolloutView(next, deps.instancesOf(name));
}
