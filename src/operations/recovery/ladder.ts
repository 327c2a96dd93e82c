/**
 * The recovery ladder of one instance as a pure state machine over clock time: failures are
 * counted over a sliding window; once enough are seen (or one that needs no confirmation: a
 * dead process, a failed start, a node that does not answer or is gone) an incident begins
 * and the first step of the ladder that applies is taken — restart the component, reboot the
 * node, recreate the node, alert a person. A step that does not bring the instance back
 * (failures again, or not healthy within `stepTimeout`) makes way for the next one.
 *
 * Limits make it never flap: a step taken `max` times within `within` is skipped until the
 * oldest of those ages out; when no step is left (or `alert` is reached) the ladder gives up,
 * once, and then does nothing — no events, no actions — until a person resets it or the
 * instance has been healthy for `stable`.
 *
 * `step` (what to do) and `transition` (what happened) return the events to record; the
 * controller (./controller.ts) enacts steps and persists the state after every change.
 */
import type { RecoveryAction, RecoverySpec, RecoveryStep } from '../../model/index.js';

/** Why an instance failed: its component (the agent answers), its node (it does not), or its node is gone from the cloud. */
export type FailureKind = 'component' | 'unreachable' | 'gone';
export type LadderStatus = 'watching' | 'recovering' | 'gave-up';

export interface Incident {
  since: number;
  kind: FailureKind;
  reason: string;
  /** Ladder index of the step taken last; -1 before the first. */
  rung: number;
  step?: RecoveryStep;
  stepAt?: number;
  /** The step was carried out (the instance is on its way back). */
  stepEndedAt?: number;
  /** A recreate from a backup: restored onto the new node once it runs. */
  backup?: { id: string; restored?: boolean };
}

export interface LadderState {
  status: LadderStatus;
  /** Clock times of failures seen within the window. */
  failures: number[];
  /** Clock times each acting step was taken, while they count for its limit. */
  taken: Record<RecoveryAction, number[]>;
  incident?: Incident;
  /** Healthy without a break since (clock time). */
  healthySince?: number;
  gaveUp?: { at: number; reason: string };
}

/** An event to record: its type and a reason a person can read, with data. */
export interface LadderEvent {
  kind: 'recovery.detected' | 'recovery.step' | 'recovery.recovered' | 'recovery.gave-up' | 'recovery.reset';
  reason: string;
  data: Record<string, unknown>;
}

export interface LadderResult {
  state: LadderState;
  events: LadderEvent[];
  /** The step to enact now (an acting one: alert is enacted here, as events). */
  act?: { step: RecoveryAction; reason: string };
}

/** What was seen of the instance now. */
export type Sighting =
  /** Running and healthy (or alive, without a probe). */
  | { kind: 'healthy' }
  /** `count` failures; `hard`: one that needs no confirmation over the window. */
  | { kind: 'failed'; failure: FailureKind; count: number; hard: boolean; reason: string }
  /** Nothing new: only time passed (step timeouts, the stable period). */
  | { kind: 'tick' };

export const freshLadder = (): LadderState => ({ status: 'watching', failures: [], taken: { restart: [], reboot: [], recreate: [] } });

const secs = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`);

function prune(s: LadderState, p: RecoverySpec, now: number): void {
  s.failures = s.failures.filter((t) => now - t < p.windowMs);
  for (const a of Object.keys(s.taken) as RecoveryAction[]) s.taken[a] = s.taken[a].filter((t) => now - t < p.limits[a].withinMs);
}

function copy(s: LadderState): LadderState {
  return {
    ...s,
    failures: [...s.failures],
    taken: { restart: [...s.taken.restart], reboot: [...s.taken.reboot], recreate: [...s.taken.recreate] },
    ...(s.incident ? { incident: { ...s.incident, ...(s.incident.backup ? { backup: { ...s.incident.backup } } : {}) } } : {}),
    ...(s.gaveUp ? { gaveUp: { ...s.gaveUp } } : {}),
  };
}

/** Why a step does not apply now, or undefined when it does. */
export function stepBlocked(s: LadderState, p: RecoverySpec, step: RecoveryStep, kind: FailureKind, now: number): string | undefined {
  if (step === 'alert') return undefined;
  if (step === 'restart' && kind !== 'component') return kind === 'gone' ? 'the node is gone' : 'the node does not answer, so its component cannot be restarted';
  if (step === 'reboot' && kind === 'gone') return 'the cloud no longer has the node';
  const l = p.limits[step];
  const recent = s.taken[step].filter((t) => now - t < l.withinMs).length;
  if (recent >= l.max) return `its limit is reached (${recent} of ${l.max} within ${secs(l.withinMs)})`;
  return undefined;
}

/** Takes the first applicable step from ladder index `from`, or gives up. */
function climb(s: LadderState, p: RecoverySpec, from: number, why: string, now: number, events: LadderEvent[]): LadderResult {
  const inc = s.incident!;
  const skipped: string[] = [];
  for (let i = from; i < p.ladder.length; i++) {
    const step = p.ladder[i]!;
    const blocked = stepBlocked(s, p, step, inc.kind, now);
    if (blocked) {
      skipped.push(`${step}: ${blocked}`);
      continue;
    }
    inc.rung = i;
    inc.step = step;
    inc.stepAt = now;
    delete inc.stepEndedAt;
    delete inc.backup;
    const reason = `${why}${skipped.length ? ` (skipped ${skipped.join('; ')})` : ''}`;
    if (step === 'alert') {
      events.push({ kind: 'recovery.step', reason: `alerting a person: ${reason}`, data: { step, rung: i + 1, failure: inc.kind, skipped } });
      return giveUp(s, `the ladder reached alert: ${reason}`, now, events);
    }
    s.taken[step].push(now);
    events.push({ kind: 'recovery.step', reason: `${step}: ${reason}`, data: { step, rung: i + 1, failure: inc.kind, skipped, taken: s.taken[step].length, limit: p.limits[step].max } });
    return { state: s, events, act: { step, reason } };
  }
  return giveUp(s, `every step of the ladder is spent: ${why}${skipped.length ? ` (${skipped.join('; ')})` : ''}`, now, events);
}

function giveUp(s: LadderState, reason: string, now: number, events: LadderEvent[]): LadderResult {
  s.status = 'gave-up';
  s.gaveUp = { at: now, reason };
  delete s.healthySince;
  events.push({
    kind: 'recovery.gave-up',
    reason: `${reason}; nothing more is tried until a person runs \`nubis recovery reset\` or the instance stays healthy long enough`,
    data: { failure: s.incident?.kind, step: s.incident?.step },
  });
  return { state: s, events };
}

/**
 * What follows from a sighting at `now`. Nothing is decided while a step is being carried out
 * (between `act` and `stepEnded`): its own stop and start would read as failures.
 */
export function transition(prev: LadderState, p: RecoverySpec, seen: Sighting, now: number): LadderResult {
  const s = copy(prev);
  const events: LadderEvent[] = [];
  prune(s, p, now);
  const inc = s.incident;
  const stepping = s.status === 'recovering' && inc?.step !== undefined && inc.stepEndedAt === undefined;
  if (seen.kind === 'healthy') {
    s.healthySince ??= now;
    if (s.status === 'recovering' && !stepping && inc) {
      events.push({ kind: 'recovery.recovered', reason: `healthy again after ${inc.step ?? 'waiting'}`, data: { step: inc.step, failure: inc.kind, durationMs: now - inc.since } });
      s.status = 'watching';
      delete s.incident;
      s.failures = [];
    }
  } else if (seen.kind === 'failed') {
    delete s.healthySince;
    if (s.status === 'gave-up' || stepping) return { state: s, events };
    for (let i = 0; i < seen.count; i++) s.failures.push(now);
    const enough = seen.hard || s.failures.length >= p.failures;
    if (!enough) return { state: s, events };
    const what = seen.hard ? seen.reason : `${s.failures.length} probe failures within ${secs(p.windowMs)}: ${seen.reason}`;
    s.failures = [];
    if (s.status === 'watching') {
      s.status = 'recovering';
      s.incident = { since: now, kind: seen.failure, reason: what, rung: -1 };
      events.push({ kind: 'recovery.detected', reason: what, data: { failure: seen.failure } });
      return climb(s, p, 0, what, now, events);
    }
    // recovering, the last step done, and the instance failed again: the next rung
    inc!.kind = seen.failure;
    return climb(s, p, inc!.rung + 1, `${inc!.step ?? 'waiting'} did not help: ${what}`, now, events);
  }
  if (s.status === 'gave-up' && s.healthySince !== undefined && now - s.healthySince >= p.stableMs) {
    events.push({ kind: 'recovery.recovered', reason: `healthy for ${secs(p.stableMs)} after giving up; the ladder starts again`, data: { after: 'gave-up', stableMs: p.stableMs } });
    s.status = 'watching';
    delete s.incident;
    delete s.gaveUp;
    s.failures = [];
  }
  if (s.status === 'recovering' && inc?.stepEndedAt !== undefined && now - inc.stepEndedAt >= p.stepTimeoutMs) {
    return climb(s, p, inc.rung + 1, `${inc.step} did not bring it back within ${secs(p.stepTimeoutMs)}`, now, events);
  }
  if (stepping && inc?.stepAt !== undefined && now - inc.stepAt >= p.stepTimeoutMs) {
    // a step that never reported its end (a control-plane restart in the middle): as if it ended now
    inc.stepEndedAt = now;
  }
  return { state: s, events };
}

/** The step taken last was carried out (`error`: it could not be; the next rung is taken at once). */
export function stepEnded(prev: LadderState, p: RecoverySpec, now: number, error?: string): LadderResult {
  const s = copy(prev);
  const inc = s.incident;
  if (s.status !== 'recovering' || !inc || inc.stepEndedAt !== undefined) return { state: s, events: [] };
  inc.stepEndedAt = now;
  s.failures = [];
  if (error === undefined) return { state: s, events: [] };
  return climb(s, p, inc.rung + 1, `${inc.step} failed: ${error}`, now, []);
}

/** The step taken last did not bring the instance back after all (`why`): the next rung. */
export function nextRung(prev: LadderState, p: RecoverySpec, now: number, why: string): LadderResult {
  const s = copy(prev);
  if (s.status !== 'recovering' || !s.incident) return { state: s, events: [] };
  return climb(s, p, s.incident.rung + 1, why, now, []);
}

/** A person reset the ladder: back to watching, every count and limit cleared. */
export function reset(prev: LadderState, by: string): LadderResult {
  const was = prev.status;
  return { state: freshLadder(), events: [{ kind: 'recovery.reset', reason: `reset by ${by}${was === 'gave-up' ? ' after a give-up' : ''}; the ladder starts again from its first step`, data: { was, by } }] };
}
