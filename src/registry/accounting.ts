/**
 * Provider accounting: the latency and outcome of every provider call, per cloud and
 * operation, kept in the store's compact `driver_calls` table (one row per attempt), and the
 * SLA report computed from it: availability (share of calls that did not fail with a
 * provider-side error) and p50/p95/p99 latency per operation, plus the error codes seen.
 *
 * Records are buffered and written in one transaction per event-loop turn; a write failure
 * drops that batch (accounting never breaks cloud calls) and is counted in `dropped`.
 */
import type { Clock } from '../clock/index.js';
import { NubisError } from '../errors/index.js';
import type { RegistryRepo } from '../store/index.js';
import type { SlaOp, SlaReport } from './types.js';

/** Codes that mean the provider failed, as opposed to refusing a request (4xx) or Nubis aborting. */
export const PROVIDER_SIDE_CODES: ReadonlySet<string> = new Set(['CLOUD_INTERNAL', 'CLOUD_UNAVAILABLE', 'CLOUD_TIMEOUT', 'CLOUD_RATE_LIMITED']);

export interface CallRecord {
  cloud: string;
  op: string;
  outcome: 'ok' | 'error';
  errorCode?: string;
  latencyMs: number;
}

export interface CallAccounting {
  record(c: CallRecord): void;
  /** Writes what is buffered; resolves once committed. */
  flush(): Promise<void>;
  /** The report over calls at or after `sinceMs`. */
  sla(cloud: string, sinceMs: number): Promise<SlaReport>;
  /** Deletes records older than `keepMs` before now. */
  prune(keepMs: number): Promise<number>;
  readonly dropped: number;
}

/** `24h`, `30m`, `7d`, `90s` → milliseconds; REQUEST_INVALID otherwise. */
export function parseSince(text: string): number {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text);
  if (!m) throw new NubisError('REQUEST_INVALID', `since: expected a duration such as 30m, 24h or 7d, found ${JSON.stringify(text)}`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** Nearest-rank percentile of sorted values; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

function summarise(op: string, rows: { outcome: string; code: string | null; latency_ms: number }[]): SlaOp {
  const lat = rows.map((r) => Number(r.latency_ms)).sort((a, b) => a - b);
  const errors = rows.filter((r) => r.outcome === 'error').length;
  const providerErrors = rows.filter((r) => r.outcome === 'error' && r.code !== null && PROVIDER_SIDE_CODES.has(r.code)).length;
  return {
    op,
    calls: rows.length,
    errors,
    providerErrors,
    availability: rows.length === 0 ? 1 : (rows.length - providerErrors) / rows.length,
    p50Ms: percentile(lat, 50),
    p95Ms: percentile(lat, 95),
    p99Ms: percentile(lat, 99),
  };
}

/**
 * The name a cloud's calls are accounted under: its name in tenant `default`, `<tenant>.<name>`
 * elsewhere ('.' is in no name), so two tenants' clouds of one name keep apart statistics.
 */
export function accountedCloud(tenant: string, cloud: string): string {
  return tenant === 'default' ? cloud : `${tenant}.${cloud}`;
}

export function createCallAccounting(repo: RegistryRepo, clock: Clock): CallAccounting {
  let buffer: Parameters<RegistryRepo['recordCalls']>[0] = [];
  let pending: Promise<void> | undefined;
  let dropped = 0;

  const flush = async (): Promise<void> => {
    while (pending) await pending;
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    pending = repo.recordCalls(batch).catch(() => {
      dropped += batch.length;
    });
    try {
      await pending;
    } finally {
      pending = undefined;
    }
  };

  return {
    get dropped() {
      return dropped;
    },
    record(c) {
      const first = buffer.length === 0;
      buffer.push({ ts: clock.now(), cloud: c.cloud, op: c.op, outcome: c.outcome, code: c.errorCode ?? null, latency_ms: Math.max(0, Math.round(c.latencyMs)) });
      if (first) setImmediate(() => void flush());
    },
    flush,
    async sla(cloud, sinceMs) {
      await flush();
      const rows = await repo.calls(cloud, sinceMs);
      const byOp = new Map<string, typeof rows>();
      const codes = new Map<string, number>();
      for (const r of rows) {
        const l = byOp.get(r.op) ?? [];
        l.push(r);
        byOp.set(r.op, l);
        if (r.outcome === 'error') codes.set(r.code ?? 'UNKNOWN', (codes.get(r.code ?? 'UNKNOWN') ?? 0) + 1);
      }
      return {
        cloud,
        since: new Date(sinceMs).toISOString(),
        until: new Date(clock.now()).toISOString(),
        total: summarise('all', rows),
        ops: [...byOp.keys()].sort().map((op) => summarise(op, byOp.get(op)!)),
        codes: [...codes].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
      };
    },
    async prune(keepMs) {
      await flush();
      return repo.pruneCalls(clock.now() - keepMs);
    },
  };
}
