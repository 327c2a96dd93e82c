/**
 * The sim cloud's behaviour model: how long provisioning takes, how it slows down under
 * concurrent creations, which calls fail and how, quotas and outages, and the eventual
 * consistency real clouds show (slow and paginated lists, lists that miss fresh servers, stale
 * reads, NotFound right after create). All durations are milliseconds of the sim's clock. Options arrive untyped (from a spec or a CLI) and are
 * validated here; a bad option is a SPEC_INVALID error naming the option.
 */
import { NubisError } from '../../errors/index.js';
import type { Prng } from './prng.js';
import type { SimSnapshotModel } from './snapshots.js';
import type { SimExtrasModel } from './extras.js';
import { RESOURCE_KINDS, type ResourceKind } from '../driver.js';

export const SIM_OPS = ['create', 'get', 'list', 'delete', 'reboot', 'snapshot', 'snapshotStatus', 'readSnapshot', 'deleteSnapshot', 'listResources', 'deleteResource'] as const;
export type SimOp = (typeof SIM_OPS)[number];

/** HTTP statuses the sim can inject; these are the ones CloudSigma documents (seed 000, 4.1) plus 429. */
export const SIM_ERROR_STATUSES = [400, 401, 402, 403, 404, 429, 500, 503] as const;
export type SimErrorStatus = (typeof SIM_ERROR_STATUSES)[number];

export interface SimErrorRule {
  /** Probability in [0, 1] that a call fails with this status. Rules of one op are exclusive. */
  rate: number;
  status: SimErrorStatus;
  /**
   * create only, 500/503 only: the server is created (tagged, bound to the idempotency token)
   * although the call fails — as real clouds sometimes do. `list` by tags finds it.
   */
  partial?: boolean;
}

export interface SimModel extends SimExtrasModel {
  /** Fixed provisioning time (create accepted → running). Default 0. */
  latencyMs?: number;
  /** Uniform provisioning time; wins over `latencyMs`. */
  latency?: { minMs: number; maxMs: number };
  /**
   * `cloudsigma`: provisioning time depends on c, the creations in flight when a create starts
   * (itself included): c ≤ 4 → uniform 15–30 s; c > 4 → 60 s + 15 s × (c − 5).
   * Throughput c / time(c) peaks at c = 4 (≈ 0.18 servers/s), drops to 0.083/s at c = 5.
   * From seed 000 §6.3: "four or less VMs: 15–30 s to login; more than four: above a minute".
   * Wins over `latency` and `latencyMs`.
   */
  slowdown?: 'none' | 'cloudsigma';
  /** Time every API call takes before it answers. Default 0. */
  apiLatencyMs?: number;
  /**
   * Extra time every list call takes (each page, when lists are paginated), on top of
   * `apiLatencyMs`: a paginated EC2 or CloudSigma list of a few hundred servers takes ~1 s.
   * A slow list answers the state as it was when the call began.
   */
  listLatencyMs?: number;
  /**
   * Lists answer at most this many servers per call, offset-paginated like CloudSigma's
   * `limit`/`offset` (the driver asks page after page; each page is a counted call). Servers
   * created or deleted between two pages shift the offsets, so a walk may skip or repeat one.
   */
  listPageSize?: number;
  /** Lists omit a server until this long after its create (EC2's describe lag). Default 0. */
  listLagMs?: number;
  /**
   * `get` answers the server as it was this long ago: a server deleted within the window is
   * still returned, and status is judged at the earlier instant (a fresh server as it was at
   * its create). Default 0.
   */
  staleReadMs?: number;
  /**
   * `get` answers NotFound for a server younger than this, as EC2 answers
   * InvalidInstanceID.NotFound right after RunInstances (documented eventual consistency).
   */
  notFoundAfterCreateMs?: number;
  /** How long a rebooted server reports `provisioning`. Default 0. */
  rebootMs?: number;
  errors?: Partial<Record<SimOp, SimErrorRule[]>>;
  /** Most servers (not deleted) the account may hold; beyond → CLOUD_QUOTA_EXCEEDED. */
  quota?: { servers?: number };
  /** Windows [fromMs, untilMs) of sim time in which every call fails with 503. */
  outages?: { fromMs: number; untilMs: number }[];
  /** Snapshot latency, size and failure rate (./snapshots.ts). */
  snapshot?: SimSnapshotModel;
  /** PRNG seed; default 1. */
  seed?: number;
}

const bad = (name: string, expected: string, found: unknown): NubisError =>
  new NubisError('SPEC_INVALID', `sim option ${name}: expected ${expected}, found ${JSON.stringify(found)}`, {
    details: { option: name },
  });

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function num(o: Record<string, unknown>, name: string, path: string, min = 0, max = Infinity): number | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw bad(path, `a number in [${min}, ${max}]`, v);
  }
  return v;
}

/** Validates untyped options into a SimModel; unknown keys are ignored (they belong to the driver). */
export function parseSimModel(options: Record<string, unknown>): SimModel {
  const m: SimModel = {};
  const latencyMs = num(options, 'latencyMs', 'latencyMs');
  if (latencyMs !== undefined) m.latencyMs = latencyMs;
  if (options['latency'] !== undefined) m.latency = range(options['latency'], 'latency');
  const slowdown = options['slowdown'];
  if (slowdown !== undefined) {
    if (slowdown !== 'none' && slowdown !== 'cloudsigma') throw bad('slowdown', "'none' or 'cloudsigma'", slowdown);
    m.slowdown = slowdown;
  }
  const apiLatencyMs = num(options, 'apiLatencyMs', 'apiLatencyMs');
  if (apiLatencyMs !== undefined) m.apiLatencyMs = apiLatencyMs;
  for (const k of ['listLatencyMs', 'listLagMs', 'staleReadMs', 'notFoundAfterCreateMs'] as const) {
    const v = num(options, k, k);
    if (v !== undefined) m[k] = v;
  }
  const pageSize = num(options, 'listPageSize', 'listPageSize', 1);
  if (pageSize !== undefined) {
    if (!Number.isInteger(pageSize)) throw bad('listPageSize', 'an integer ≥ 1', pageSize);
    m.listPageSize = pageSize;
  }
  const rebootMs = num(options, 'rebootMs', 'rebootMs');
  if (rebootMs !== undefined) m.rebootMs = rebootMs;
  const seed = num(options, 'seed', 'seed', -Infinity);
  if (seed !== undefined) m.seed = seed;
  if (options['quota'] !== undefined) {
    const q = options['quota'];
    if (!isObj(q)) throw bad('quota', '{servers}', q);
    const servers = num(q, 'servers', 'quota.servers');
    m.quota = servers === undefined ? {} : { servers };
  }
  if (options['outages'] !== undefined) {
    const o = options['outages'];
    if (!Array.isArray(o)) throw bad('outages', 'an array of {fromMs, untilMs}', o);
    m.outages = o.map((w: unknown, i) => {
      if (!isObj(w)) throw bad(`outages[${i}]`, '{fromMs, untilMs}', w);
      const fromMs = num(w, 'fromMs', `outages[${i}].fromMs`, -Infinity);
      const untilMs = num(w, 'untilMs', `outages[${i}].untilMs`, -Infinity);
      if (fromMs === undefined || untilMs === undefined) throw bad(`outages[${i}]`, '{fromMs, untilMs}', w);
      return { fromMs, untilMs };
    });
  }
  if (options['snapshot'] !== undefined) m.snapshot = parseSnapshotModel(options['snapshot']);
  for (const k of ['extras', 'leakOnDelete'] as const) if (options[k] !== undefined) m[k] = kinds(options[k], k);
  if (options['extraPrices'] !== undefined) {
    const p = options['extraPrices'];
    if (!isObj(p)) throw bad('extraPrices', 'an object of resource kind → price per hour', p);
    m.extraPrices = {};
    for (const k of Object.keys(p)) {
      kinds([k], `extraPrices.${k}`);
      m.extraPrices[k as ResourceKind] = num(p, k, `extraPrices.${k}`)!;
    }
  }
  if (options['errors'] !== undefined) {
    const e = options['errors'];
    if (!isObj(e)) throw bad('errors', 'an object keyed by operation', e);
    m.errors = {};
    for (const [op, rules] of Object.entries(e)) {
      if (!(SIM_OPS as readonly string[]).includes(op)) throw bad(`errors.${op}`, `one of ${SIM_OPS.join(', ')}`, op);
      if (!Array.isArray(rules)) throw bad(`errors.${op}`, 'an array of {rate, status}', rules);
      let total = 0;
      m.errors[op as SimOp] = rules.map((r: unknown, i) => {
        const path = `errors.${op}[${i}]`;
        if (!isObj(r)) throw bad(path, '{rate, status}', r);
        const rate = num(r, 'rate', `${path}.rate`, 0, 1) ?? 0;
        const status = r['status'];
        if (!(SIM_ERROR_STATUSES as readonly unknown[]).includes(status)) {
          throw bad(`${path}.status`, `one of ${SIM_ERROR_STATUSES.join(', ')}`, status);
        }
        const partial = r['partial'] === true;
        if (partial && (op !== 'create' || (status !== 500 && status !== 503))) {
          throw bad(`${path}.partial`, 'only on create with status 500 or 503', r['partial']);
        }
        total += rate;
        if (total > 1 + 1e-9) throw bad(`errors.${op}`, 'rates summing to at most 1', rules);
        return { rate, status: status as SimErrorStatus, ...(partial ? { partial } : {}) };
      });
    }
  }
  return m;
}

/** A list of resource kinds (./extras.ts). */
function kinds(v: unknown, path: string): ResourceKind[] {
  if (!Array.isArray(v) || !v.every((k) => (RESOURCE_KINDS as readonly unknown[]).includes(k))) throw bad(path, `a list of ${RESOURCE_KINDS.join(', ')}`, v);
  return v as ResourceKind[];
}

/** A uniform latency {minMs ≤ maxMs}. */
function range(l: unknown, path: string): { minMs: number; maxMs: number } {
  if (!isObj(l)) throw bad(path, '{minMs, maxMs}', l);
  const minMs = num(l, 'minMs', `${path}.minMs`);
  const maxMs = num(l, 'maxMs', `${path}.maxMs`);
  if (minMs === undefined || maxMs === undefined || maxMs < minMs) throw bad(path, '{minMs ≤ maxMs}', l);
  return { minMs, maxMs };
}

function parseSnapshotModel(s: unknown): SimSnapshotModel {
  if (!isObj(s)) throw bad('snapshot', '{latencyMs?, latency?, sizeBytes?, failureRate?}', s);
  const out: SimSnapshotModel = {};
  const latencyMs = num(s, 'latencyMs', 'snapshot.latencyMs');
  if (latencyMs !== undefined) out.latencyMs = latencyMs;
  if (s['latency'] !== undefined) out.latency = range(s['latency'], 'snapshot.latency');
  const size = num(s, 'sizeBytes', 'snapshot.sizeBytes', 0, 2 ** 32);
  if (size !== undefined) {
    if (!Number.isInteger(size)) throw bad('snapshot.sizeBytes', 'an integer', size);
    out.sizeBytes = size;
  }
  const rate = num(s, 'failureRate', 'snapshot.failureRate', 0, 1);
  if (rate !== undefined) out.failureRate = rate;
  return out;
}

/**
 * Provisioning time for a create that starts with `inFlight` creations in flight, itself
 * included. See `SimModel.slowdown` for the cloudsigma formula.
 */
export function provisioningMs(model: SimModel, inFlight: number, prng: Prng): number {
  if (model.slowdown === 'cloudsigma') {
    return inFlight <= 4 ? prng.between(15_000, 30_000) : 60_000 + 15_000 * (inFlight - 5);
  }
  if (model.latency) return prng.between(model.latency.minMs, model.latency.maxMs);
  return model.latencyMs ?? 0;
}

/** Picks the injected failure for one call, if any (one PRNG draw per call). */
export function drawError(model: SimModel, op: SimOp, prng: Prng): SimErrorRule | undefined {
  const rules = model.errors?.[op];
  if (!rules || rules.length === 0) return undefined;
  const r = prng.next();
  let acc = 0;
  for (const rule of rules) {
    acc += rule.rate;
    if (r < acc) return rule;
  }
  return undefined;
}
