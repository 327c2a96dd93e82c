/**
 * Metric alert rules: each evaluated every its interval through the tenant-scoped query side;
 * each result element is a subject. An element firing for the rule's `for` fires the rule
 * (the ledger deduplicates and keeps the quiet period); an element back inside resolves it.
 * Missing data changes nothing: an absent series neither fires nor resolves.
 */
import type { Clock } from '../../clock/index.js';
import type { AlertRuleSpec } from '../../model/index.js';
import type { QueryResult } from '../../metrics/index.js';

export interface MetricTick {
  tenant: string;
  deployment?: string;
  rule: AlertRuleSpec;
}

export interface MetricVerdict {
  subject: string;
  value: number;
  firing: boolean;
  /** Firing for at least `for`. */
  due: boolean;
}

type Metric = Extract<AlertRuleSpec['on'], { kind: 'metric' }>;

/** Whether a value is outside the rule's bounds (every bound given must be crossed). */
export function crosses(m: Metric, v: number): boolean {
  if (Number.isNaN(v)) return false;
  if (m.above !== undefined && !(v > m.above)) return false;
  if (m.below !== undefined && !(v < m.below)) return false;
  if (m.atOrAbove !== undefined && !(v >= m.atOrAbove)) return false;
  if (m.atOrBelow !== undefined && !(v <= m.atOrBelow)) return false;
  return true;
}

export function labelText(labels: Record<string, string>): string {
  const keys = Object.keys(labels).filter((k) => k !== '__name__').sort();
  return keys.length ? `{${keys.map((k) => `${k}="${labels[k]}"`).join(',')}}` : '{}';
}

/** The firing state of metric rules: when each subject started firing. */
export class MetricConditions {
  private readonly since = new Map<string, number>();
  private readonly last = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  /** Whether the rule is due for evaluation now (and marks it evaluated). */
  due(key: string, intervalMs: number): boolean {
    const now = this.clock.now();
    const l = this.last.get(key);
    if (l !== undefined && now - l < intervalMs) return false;
    this.last.set(key, now);
    return true;
  }

  /** The verdicts of one evaluation's result. */
  judge(key: string, m: Metric, result: QueryResult): MetricVerdict[] {
    const now = this.clock.now();
    const elements = result.resultType === 'vector' ? result.result.map((e) => ({ labels: e.labels, v: e.v }))
      : result.resultType === 'scalar' ? [{ labels: {}, v: result.result.v }]
      : result.result.map((s) => ({ labels: s.labels, v: s.points[s.points.length - 1]?.v ?? NaN }));
    const out: MetricVerdict[] = [];
    for (const e of elements) {
      const subject = labelText(e.labels);
      const k = `${key}\u0000${subject}`;
      const firing = crosses(m, e.v);
      if (!firing) this.since.delete(k);
      else if (!this.since.has(k)) this.since.set(k, now);
      const since = this.since.get(k);
      out.push({ subject, value: e.v, firing, due: firing && since !== undefined && now - since >= m.forMs });
    }
    return out;
  }
}
