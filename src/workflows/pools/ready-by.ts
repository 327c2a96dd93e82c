/**
 * Deadline-aware provisioning: a pool asked to be ready *by* a time starts provisioning early
 * enough, from what the cloud has actually taken to provision before (seed 000 §6.2–6.3:
 * provisioning varies with the data centre's load, and more than four clones at once took over
 * a minute where one took 15–30 s).
 *
 * The measure is, per node, the create call (its p95 from the provider accounting) plus what
 * follows it, from the cloud accepting the create to the instance on it running (the engine's
 * `node.state` and `instance.phase` events; the time a create waited for a permit is left out,
 * since the rounds below count it), summarised as median and p90; the concurrency the cloud's adaptive
 * limiter lets run at once (creations beyond it queue for a permit, so `count` nodes take
 * ⌈count / concurrency⌉ rounds); and the slow-down seen when several creations overlap. The
 * plan uses p90 (nine days in ten the pool is ready in time) plus a margin, and says so in one
 * line the status shows.
 */
import { NubisError } from '../../errors/index.js';
import { percentile } from '../../registry/index.js';

/** One node's provisioning: from the create intent to running (clock ms). */
export interface ProvisionSample {
  readonly startMs: number;
  readonly endMs: number;
}

/** What a cloud has taken to provision nodes (see provisioningStats). */
export interface ProvisioningStats {
  readonly cloud: string;
  /** Samples the figures come from; 0: nothing measured yet. */
  readonly samples: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  /** Creations the cloud's limiter runs at once (its learned limit, or the cloud's fixed `concurrency`). */
  readonly concurrency: number;
  /**
   * How much longer a creation takes when others overlap it: the median of samples that ran
   * with others in flight over the median of those that ran alone; ≥ 1; 1 when either kind is
   * missing (the p90 then already holds whatever overlap there was).
   */
  readonly slowdown: number;
  /** p95 of the cloud's create calls (provider accounting), added to each round; 0 when unknown. */
  readonly createCallMs?: number;
}

/** How many samples were in flight (itself included) when each one started. */
export function overlaps(samples: readonly ProvisionSample[]): number[] {
  return samples.map((s) => samples.filter((o) => o.startMs <= s.startMs && o.endMs > s.startMs).length);
}

/**
 * Summarises the latest `keep` (default 200) samples of a cloud; `concurrency` is its limiter's
 * current limit. Samples with end before start are dropped.
 */
export function provisioningStats(cloud: string, samples: readonly ProvisionSample[], concurrency: number, keep = 200): ProvisioningStats {
  const good = samples.filter((s) => s.endMs >= s.startMs).slice(-keep);
  const ms = good.map((s) => s.endMs - s.startMs).sort((a, b) => a - b);
  const inFlight = overlaps(good);
  const alone = good.filter((_, i) => inFlight[i] === 1).map((s) => s.endMs - s.startMs).sort((a, b) => a - b);
  const crowded = good.filter((_, i) => inFlight[i]! > 1).map((s) => s.endMs - s.startMs).sort((a, b) => a - b);
  const slowdown = alone.length > 0 && crowded.length > 0 && percentile(alone, 50) > 0 ? Math.max(1, percentile(crowded, 50) / percentile(alone, 50)) : 1;
  return { cloud, samples: ms.length, medianMs: percentile(ms, 50), p90Ms: percentile(ms, 90), concurrency: Math.max(1, Math.floor(concurrency)), slowdown };
}

/**
 * Provisioning samples from `node.state` and `instance.phase` events (kind, target = the node
 * and instance key, ts ISO or ms, data.to), oldest first: from the cloud accepting a node's
 * create (`provisioning`; `creating` when the create answered running at once) to its instance
 * running (installed, started, healthy: what a scale action waits for), or to the node running
 * when the events hold no instance phases. `keep` selects the keys.
 */
export function provisionSamplesFromEvents(
  events: readonly { readonly kind: string; readonly target?: string; readonly ts: string | number; readonly data?: Record<string, unknown> }[],
  keep: (key: string) => boolean = () => true,
): ProvisionSample[] {
  const byInstance = events.some((e) => e.kind === 'instance.phase');
  const started = new Map<string, number>();
  const out: ProvisionSample[] = [];
  for (const e of events) {
    if ((e.kind !== 'node.state' && e.kind !== 'instance.phase') || !e.target || !keep(e.target)) continue;
    const to = e.data?.['to'];
    const ts = typeof e.ts === 'number' ? e.ts : Date.parse(e.ts);
    const end = (): void => {
      const t0 = started.get(e.target!);
      if (t0 !== undefined) out.push({ startMs: t0, endMs: ts });
      started.delete(e.target!);
    };
    if (e.kind === 'instance.phase') {
      if (to === 'running') end();
      continue;
    }
    if (to === 'creating' || (to === 'provisioning' && e.data?.['from'] === 'creating')) started.set(e.target, ts);
    else if (to === 'running' && !byInstance) end();
    else if (to === 'failed' || to === 'deleting' || to === 'deleted') started.delete(e.target);
  }
  return out;
}

export interface ReadyByInput {
  /** When the nodes must be running (clock ms). */
  readonly readyBy: number;
  readonly count: number;
  readonly now: number;
  readonly stats: ProvisioningStats;
  /** Added to the estimate. Default a quarter of the estimate, at least 30 s (the seed's operators kept a safe margin). */
  readonly marginMs?: number;
  /** Per-round estimate while nothing is measured yet. Default 3 min (seed 000 §6.3: three to four minutes). */
  readonly defaultMs?: number;
}

export interface ReadyByPlan {
  /** When provisioning starts (clock ms); `now` when it is already late. */
  readonly startAt: number;
  /** The estimated time from start to all nodes running. */
  readonly leadMs: number;
  /** True when `readyBy` cannot be met any more (startAt would be in the past). */
  readonly late: boolean;
  /** One line for the plan and status. */
  readonly reason: string;
}

/** `10:41:20` (UTC) of a clock time. */
export function clockText(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** `2m40s`, `45s`, `1h05m`, `0.4s` (tenths below 10 s). */
export function durationText(ms: number): string {
  if (ms < 9_950) return `${Math.round(ms / 100) / 10}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${String(s % 60).padStart(2, '0')}s` : ''}`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** When provisioning must start so `count` nodes run by `readyBy`, and why (see the top of this file). */
export function readyByPlan(input: ReadyByInput): ReadyByPlan {
  const { readyBy, now, stats } = input;
  const count = Math.max(0, Math.floor(input.count));
  const measured = stats.samples > 0;
  const concurrency = Math.max(1, stats.concurrency);
  const atOnce = Math.max(1, Math.min(count, concurrency));
  const rounds = count === 0 ? 0 : Math.ceil(count / concurrency);
  const factor = measured && atOnce > 1 ? stats.slowdown : 1;
  const perRound = (measured ? stats.p90Ms : (input.defaultMs ?? 180_000)) * factor + (measured ? (stats.createCallMs ?? 0) : 0);
  const margin = input.marginMs ?? Math.max(30_000, Math.round(rounds * perRound * 0.25));
  const leadMs = Math.round(rounds * perRound + (count > 0 ? margin : 0));
  const ideal = readyBy - leadMs;
  const late = ideal < now;
  const startAt = late ? now : ideal;
  const nodes = `${count} node${count === 1 ? '' : 's'}`;
  const how = measured
    ? `take p90 ${durationText(rounds * perRound)} on cloud ${stats.cloud} at concurrency ${atOnce}`
      + (rounds > 1 || factor > 1
        ? ` (${[...(rounds > 1 ? [`${rounds} rounds of ${durationText(perRound)}`] : []), ...(factor > 1 ? [`×${factor.toFixed(1)} when overlapping`] : [])].join(', ')})`
        : '')
      + ` from ${stats.samples} measured`
    : `take an assumed ${durationText(rounds * perRound)} on cloud ${stats.cloud} (nothing measured yet) at concurrency ${atOnce}`;
  const tail = `${how}, +${durationText(margin)} margin, ready by ${clockText(readyBy)}`;
  const reason = count === 0
    ? `nothing to provision (0 nodes) by ${clockText(readyBy)}`
    : late
      ? `starts now (${clockText(now)}), ${durationText(now - ideal)} late: ${nodes} ${tail}`
      : `starts ${clockText(startAt)}: ${nodes} ${tail}`;
  return { startAt, leadMs, late, reason };
}

/**
 * A pool's `readyBy` as a clock instant: an ISO time as it is, or `hh:mm` (UTC, the suite's
 * clock) at its next occurrence — today's when it is at or after `now - graceMs` (so a plan
 * made a little late still aims at today's deadline and says it is late), else tomorrow's.
 * REQUEST_INVALID when it is neither.
 */
export function readyByInstant(text: string, now: number, graceMs = 0): number {
  const hm = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (hm) {
    const d = new Date(now);
    const today = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), Number(hm[1]), Number(hm[2]));
    return today >= now - graceMs ? today : today + 86_400_000;
  }
  const iso = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(iso)) throw new NubisError('REQUEST_INVALID', `readyBy: expected hh:mm or an ISO 8601 time, found ${JSON.stringify(text)}`);
  return iso;
}
