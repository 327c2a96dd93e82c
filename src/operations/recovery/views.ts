/** Where each instance's ladder stands, as `nubis recovery status`, `nubis status` and the API show it. */
import type { RecoveryAction, RecoverySpec, RecoveryStep } from '../../model/index.js';
import type { FailureKind, LadderState, LadderStatus } from './ladder.js';

export interface RecoveryInstanceView {
  instance: string;
  component: string;
  status: LadderStatus;
  ladder: RecoveryStep[];
  /** The step taken last in the current incident, and its place (1-based) in the ladder. */
  step?: RecoveryStep;
  rung?: number;
  /** What failed in the current incident. */
  failure?: FailureKind;
  since?: string;
  reason?: string;
  /** Failures counted in the window now, and how many detect a failure. */
  failures: number;
  failuresToDetect: number;
  windowMs: number;
  /** Each acting step: how often it was taken within its limit's window. */
  limits: { step: RecoveryAction; taken: number; max: number; withinMs: number }[];
  gaveUp?: { at: string; reason: string };
  /** For people, in one line. */
  line: string;
}

export interface RecoveryView {
  deployment: string;
  instances: RecoveryInstanceView[];
}

const dur = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`);
const iso = (t: number): string => new Date(t).toISOString();

/** One line: `recovering (component) since …: step 2/4 reboot — why`, `gave up …`, or `watching: …`. */
export function recoveryLine(v: Omit<RecoveryInstanceView, 'line'>, deployment: string): string {
  const limits = v.limits.map((l) => `${l.step} ${l.taken}/${l.max} per ${dur(l.withinMs)}`).join(', ');
  if (v.status === 'gave-up') return `gave up${v.gaveUp ? ` at ${v.gaveUp.at}: ${v.gaveUp.reason}` : ''} — after fixing it, run \`nubis recovery reset ${deployment} ${v.instance}\``;
  if (v.status === 'recovering') return `recovering (${v.failure ?? 'failure'}) since ${v.since ?? '?'}: step ${v.rung ?? '?'}/${v.ladder.length} ${v.step ?? '(none)'}${v.reason ? ` — ${v.reason}` : ''}`;
  return `watching: ${v.failures}/${v.failuresToDetect} failures in ${dur(v.windowMs)}; ${limits}`;
}

export function instanceView(deployment: string, instance: string, component: string, p: RecoverySpec, s: LadderState, now: number): RecoveryInstanceView {
  const inc = s.incident;
  const limits = (Object.keys(p.limits) as RecoveryAction[])
    .filter((a) => p.ladder.includes(a))
    .map((a) => ({ step: a, taken: s.taken[a].filter((t) => now - t < p.limits[a].withinMs).length, max: p.limits[a].max, withinMs: p.limits[a].withinMs }));
  const v: Omit<RecoveryInstanceView, 'line'> = {
    instance, component, status: s.status, ladder: [...p.ladder],
    ...(inc?.step ? { step: inc.step, rung: inc.rung + 1 } : {}),
    ...(inc ? { failure: inc.kind, since: iso(inc.since), reason: inc.reason } : {}),
    failures: s.failures.filter((t) => now - t < p.windowMs).length, failuresToDetect: p.failures, windowMs: p.windowMs, limits,
    ...(s.gaveUp ? { gaveUp: { at: iso(s.gaveUp.at), reason: s.gaveUp.reason } } : {}),
  };
  return { ...v, line: recoveryLine(v, deployment) };
}
