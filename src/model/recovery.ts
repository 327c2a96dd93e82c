/**
 * Recovery policies in the spec: the semantic checks the schema cannot express (a ladder
 * without repeats, `alert` last, limits only for steps in the ladder, durations in range) and
 * normalisation with the defaults. The policy is enacted by src/operations/recovery.
 */
import { RECOVERY_ACTIONS, type RecoveryPolicyDoc, type RecoveryStep } from './schema.js';
import type { RecoveryAction, RecoverySpec } from './types.js';

/** Defaults of a recovery policy (`recovery: {}` gets all of them). */
export const RECOVERY_DEFAULTS = Object.freeze({
  windowMs: 30_000,
  failures: 3,
  ladder: Object.freeze(['restart', 'reboot', 'recreate', 'alert'] as RecoveryStep[]),
  limits: Object.freeze({
    restart: Object.freeze({ max: 3, withinMs: 600_000 }),
    reboot: Object.freeze({ max: 2, withinMs: 3_600_000 }),
    recreate: Object.freeze({ max: 1, withinMs: 6 * 3_600_000 }),
  }),
  stableMs: 300_000,
  stepTimeoutMs: 600_000,
});

type Seg = string | number;
/** One problem: where (path segments below the component), what was expected, what was found. */
export interface RecoveryProblem {
  path: Seg[];
  expected: string;
  found: string;
}

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * Problems of a component's `recovery` as written (`raw`: the plain value, which may still hold
 * schema errors, reported elsewhere); `path` is the component's path. `durationMs` reads a
 * duration the schema accepted, undefined when out of range.
 */
export function recoveryProblems(raw: unknown, path: Seg[], durationMs: (s: string) => number | undefined): RecoveryProblem[] {
  if (raw === undefined) return [];
  const r = rec(raw);
  const at = [...path, 'recovery'];
  const out: RecoveryProblem[] = [];
  const ladder = Array.isArray(r['ladder']) ? (r['ladder'] as unknown[]) : undefined;
  if (ladder) {
    ladder.forEach((s, i) => {
      if (typeof s !== 'string') return;
      if (ladder.indexOf(s) !== i) out.push({ path: [...at, 'ladder', i], expected: 'each step at most once', found: `${JSON.stringify(s)} again` });
      if (s === 'alert' && i !== ladder.length - 1) out.push({ path: [...at, 'ladder', i], expected: 'alert as the last step (it gives up)', found: `alert at position ${i + 1} of ${ladder.length}` });
    });
  }
  const steps = ladder ?? RECOVERY_DEFAULTS.ladder;
  for (const step of Object.keys(rec(r['limits']))) {
    if (!steps.includes(step as RecoveryStep)) out.push({ path: [...at, 'limits', step], expected: `a limit for a step in the ladder (${steps.join(', ')})`, found: `a limit for ${step}, which the ladder does not take` });
    const within = rec(rec(r['limits'])[step])['within'];
    if (typeof within === 'string') checkRange(out, [...at, 'limits', step, 'within'], within, durationMs);
  }
  for (const k of ['window', 'stable', 'stepTimeout'] as const) {
    const v = r[k];
    if (typeof v === 'string') checkRange(out, [...at, k], v, durationMs);
  }
  return out;
}

function checkRange(out: RecoveryProblem[], path: Seg[], v: string, durationMs: (s: string) => number | undefined): void {
  const ms = durationMs(v);
  if (ms === undefined || ms < 1 || ms > 7 * 24 * 3_600_000) out.push({ path, expected: 'duration from 1ms to 168h', found: `duration ${JSON.stringify(v)}` });
}

/** The policy with defaults applied (`parse` reads durations the checks accepted). */
export function normaliseRecovery(doc: RecoveryPolicyDoc, parse: (s: string) => number): RecoverySpec {
  const d = RECOVERY_DEFAULTS;
  const limits = {} as Record<RecoveryAction, { max: number; withinMs: number }>;
  for (const a of RECOVERY_ACTIONS) {
    const l = doc.limits?.[a];
    limits[a] = l ? { max: l.max, withinMs: parse(l.within) } : { ...d.limits[a] };
  }
  return {
    windowMs: doc.window !== undefined ? parse(doc.window) : d.windowMs,
    failures: doc.failures ?? d.failures,
    ladder: [...(doc.ladder ?? d.ladder)],
    limits,
    stableMs: doc.stable !== undefined ? parse(doc.stable) : d.stableMs,
    stepTimeoutMs: doc.stepTimeout !== undefined ? parse(doc.stepTimeout) : d.stepTimeoutMs,
  };
}
