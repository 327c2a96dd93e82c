/**
 * The leak guard (issue 11 item 5), on by default: every `intervalMs` (and on `scan()`), each
 * cloud handle in use is asked for its billed extras (`Driver.listResources`) and its servers,
 * and ../../leaks.ts judges them against the node intents as they are once the lists returned.
 * A new leak is recorded (store `leaks`), reported as a `leak.found` event (which opens the
 * built-in `leak-found` alert) and, when the policy of its tenant and cloud says so
 * (`deleteAfterMs`), deleted once that long has passed since it was first seen: `leak.deleted`.
 * A leak that is no longer listed, or is claimed again, ends as `leak.gone`. Nothing is deleted
 * by default.
 *
 * Failure meaning: a cloud whose lists fail is skipped for that scan (a `leak.scan-failed`
 * event); a failed delete is a `leak.delete-failed` event and the leak stays open (tried again
 * next scan). A scan never throws.
 */
import { TAG_OWNER, type CloudNode, type CloudResource, type ResourceRef } from '../../../drivers/index.js';
import { NubisError, toNubisError } from '../../../errors/index.js';
import { splitDeploymentId, type LeakRow } from '../../../store/index.js';
import { done, requeueAfter, type Controller, type ReconcileResult } from '../../core/index.js';
import type { EngineContext } from '../../context.js';
import type { CloudHandle } from '../../clouds.js';
import type { CloudSpec } from '../../../model/index.js';
import { isClaimed, judgeLeaks, leakId, type LeakIntent, type LeakPolicy, type LeakSuspect } from '../../leaks.js';

export const LEAK_SCAN = 'scan';

export interface LeakGuardOptions {
  /** Time between scans. Default 300 000 (5 min); the first runs when the engine starts. */
  intervalMs?: number;
  /** Consecutive scans a suspect must be seen in. Default 2. */
  sightings?: number;
  /** Scan at all. Default true. */
  enabled?: boolean;
}

export interface LeakScanReport {
  /** Clouds listed. */
  clouds: number;
  /** Extras and servers looked at. */
  resources: number;
  /** Leaks open after the scan, new ones, ended ones, deleted ones. */
  open: number;
  found: number;
  ended: number;
  deleted: number;
  failed: { cloud: string; error: string }[];
}

/** The tenant's policy for a cloud: its own entry, else its `*` entry, else report only. */
export function policyFor(policies: ReadonlyMap<string, LeakPolicy>, tenant: string, cloud: string): LeakPolicy {
  return policies.get(`${tenant}\0${cloud}`) ?? policies.get(`${tenant}\0*`) ?? {};
}

const explanation = 'It is billed although no node or intent of Nubis needs it — as the private VLANs a provider kept after their servers were deleted (seed 000 §6.5), which billed on every provisioning round until the credit ran out. Delete it in the cloud (or let the leak policy delete it: `nubis leaks policy set <cloud> --delete-after 1h`).';

export class LeakGuard implements Controller {
  readonly name = 'leaks';
  readonly pacing = 'background' as const;
  private readonly intervalMs: number;
  private readonly sightings: number;
  private readonly enabled: boolean;
  /** Per cloud handle: the suspects of its last scan. */
  private readonly history = new Map<string, Map<string, LeakSuspect>>();
  /** Clouds scanned before, so a cloud whose deployments are gone is still looked at. */
  private readonly seen = new Map<string, { spec: CloudSpec; tenant: string }>();
  private running: Promise<LeakScanReport> | undefined;
  private scans = 0;

  constructor(private readonly ctx: EngineContext, opts: LeakGuardOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 300_000;
    this.sightings = opts.sightings ?? 2;
    this.enabled = opts.enabled ?? true;
  }

  initialKeys(): string[] {
    return this.enabled ? [LEAK_SCAN] : [];
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    if (key !== LEAK_SCAN || !this.enabled) return done;
    await this.scan();
    return requeueAfter(this.intervalMs);
  }

  /** Scans done so far. */
  count(): number {
    return this.scans;
  }

  /** One scan of every cloud in use; one at a time (a second caller shares the running one). */
  scan(): Promise<LeakScanReport> {
    if (this.running) return this.running;
    const p = this.scanAll().finally(() => (this.running = undefined));
    this.running = p;
    return p;
  }

  private handles(): CloudHandle[] {
    const byKey = new Map<string, CloudHandle>();
    for (const h of this.ctx.clouds.all()) byKey.set(h.key, h);
    for (const [key, s] of this.seen) {
      if (byKey.has(key) || this.ctx.stopped) continue;
      try {
        const h = this.ctx.clouds.get(s.spec, s.tenant);
        byKey.set(h.key, h);
      } catch {
        this.seen.delete(key);
      }
    }
    return [...byKey.values()].filter((h) => h.synced);
  }

  private async scanAll(): Promise<LeakScanReport> {
    const report: LeakScanReport = { clouds: 0, resources: 0, open: 0, found: 0, ended: 0, deleted: 0, failed: [] };
    const { store } = this.ctx;
    let policies: Map<string, LeakPolicy>;
    let open: LeakRow[];
    try {
      policies = new Map((await store.leaks.leakPolicies()).map((r) => [`${r.tenant}\0${r.cloud}`, JSON.parse(r.policy_json) as LeakPolicy]));
      open = await store.leaks.leaks({});
    } catch (e) {
      report.failed.push({ cloud: '*', error: toNubisError(e).message });
      return report;
    }
    for (const h of this.handles()) {
      if (this.ctx.stopped) break;
      this.seen.set(h.key, { spec: h.spec, tenant: h.tenant });
      try {
        await this.scanCloud(h, policies, open.filter((r) => r.cloud_key === h.key), report);
      } catch (e) {
        const err = toNubisError(e);
        report.failed.push({ cloud: h.spec.name, error: err.message });
        await this.ctx.emit({ kind: 'leak.scan-failed', tenant: h.tenant, target: h.spec.name, outcome: 'error', reason: err.message, data: { code: err.code } }).catch(() => undefined);
      }
    }
    this.scans++;
    return report;
  }

  private async scanCloud(h: CloudHandle, policies: ReadonlyMap<string, LeakPolicy>, known: LeakRow[], report: LeakScanReport): Promise<void> {
    const { ctx } = this;
    const owned = policyFor(policies, h.tenant, h.spec.name).owned === true;
    const driver = h.driver;
    if (!driver.listResources && !owned) return;
    const listFrom = ctx.nextTouch();
    let extras: CloudResource[] = [];
    if (driver.listResources) {
      try {
        extras = await driver.listResources(ctx.signal);
      } catch (e) {
        if (toNubisError(e).code !== 'CLOUD_UNSUPPORTED') throw e;
        if (!owned) return;
      }
    }
    const servers: CloudNode[] = await driver.list(owned ? {} : { [TAG_OWNER]: ctx.owner }, ctx.signal);
    report.clouds++;
    report.resources += extras.length + servers.length;
    // the intents as they are now that the lists returned: a create that made anything listed had persisted its intent before
    const intents = this.intents(listFrom);
    const { leaks, history } = judgeLeaks({
      extras, servers, owner: ctx.owner, tenant: h.tenant, owned, intents, now: ctx.clock.now(),
      history: this.history.get(h.key) ?? new Map(), sightings: this.sightings,
    });
    this.history.set(h.key, history);
    const now = ctx.clock.now();
    const byId = new Map(known.map((r) => [leakId(r.kind as LeakSuspect['kind'], r.id), r]));
    const still = new Set<string>();
    const fresh: LeakSuspect[] = [];
    const due: LeakSuspect[] = [];
    for (const l of leaks) {
      const id = leakId(l.kind, l.id);
      still.add(id);
      const row = byId.get(id);
      if (!row) fresh.push(l);
      const policy = policyFor(policies, l.tenant, h.spec.name);
      if (policy.deleteAfterMs !== undefined && now - (row ? Number(row.first_seen) : l.firstSeen) >= policy.deleteAfterMs) due.push(l);
    }
    // new leaks: their rows, then their events (which open the alerts), each in one write
    report.found += fresh.length;
    await ctx.store.leaks.putLeaks(fresh.map((l) => this.toRow(h, l, now)));
    if (fresh.length) await ctx.events.append(...fresh.map((l) => ctx.ev(this.event(h, l, 'leak.found', 'open', l.reason, { explanation, alert: true }))));
    const removed = new Set<string>();
    for (const l of due) {
      if (await this.remove(h, l, intents, listFrom)) {
        report.deleted++;
        still.delete(leakId(l.kind, l.id));
        removed.add(leakId(l.kind, l.id));
      }
    }
    if (byId.size > 0) await ctx.store.leaks.touchLeaks(h.key, now);
    const ended = [...byId].filter(([id]) => !still.has(id) && !history.has(id) && !removed.has(id)).map(([, row]) => row);
    report.ended += ended.length;
    await ctx.store.leaks.endLeaks(ended.map((row) => ({ cloudKey: row.cloud_key, kind: row.kind, id: row.id, status: 'gone' as const, at: now })));
    if (ended.length) {
      await ctx.events.append(...ended.map((row) => ctx.ev({
        kind: 'leak.gone', tenant: row.tenant, target: `${row.cloud}/${row.kind}/${row.id}`, outcome: 'gone',
        reason: 'no longer listed by the cloud, or claimed again by a node of Nubis', ...(row.deployment ? { deployment: row.deployment } : {}),
        data: { cloud: row.cloud, kind: row.kind, id: row.id },
      })));
    }
    report.open += still.size + [...byId.keys()].filter((id) => !still.has(id) && history.has(id)).length;
  }

  /** Deletes a leak the policy gives up; false when the key's intent is in flight again or the delete failed. */
  private async remove(h: CloudHandle, l: LeakSuspect, before: ReadonlyMap<string, LeakIntent>, listFrom: number): Promise<boolean> {
    const { ctx } = this;
    // judged again against the intents as they are now: a create begun since the scan claims it
    if (l.kind !== 'node' && isClaimed(l.resource as CloudResource, this.intents(listFrom))) return false;
    if (l.key !== undefined && before.get(l.key)?.status !== this.ctx.nodes.get(l.key)?.status) return false;
    const driver = h.driver;
    try {
      if (l.kind === 'node') await driver.delete(l.id, ctx.signal);
      else {
        if (!driver.deleteResource) throw new NubisError('CLOUD_UNSUPPORTED', `the ${h.platform} driver cannot delete a ${l.kind}: delete it in the provider's console`);
        const ref: ResourceRef = { kind: l.kind, id: l.id };
        await driver.deleteResource(ref, ctx.signal);
      }
    } catch (e) {
      const err = toNubisError(e);
      await ctx.emit(this.event(h, l, 'leak.delete-failed', 'error', err.message, { code: err.code }));
      return false;
    }
    const now = ctx.clock.now();
    await ctx.store.leaks.endLeaks([{ cloudKey: h.key, kind: l.kind, id: l.id, status: 'deleted', at: now }]);
    await ctx.emit(this.event(h, l, 'leak.deleted', 'deleted', `the leak policy deletes leaks of ${h.spec.name} after they were seen for its grace period`, {}));
    return true;
  }

  /** The node intents, keyed, with `changed` set for those touched after `listFrom` or busy. */
  private intents(listFrom: number): Map<string, LeakIntent> {
    const { ctx } = this;
    const out = new Map<string, LeakIntent>();
    for (const n of ctx.nodes.values()) {
      const d = ctx.deployments.get(n.deployment);
      if (!d) continue;
      const i: LeakIntent = { deployment: n.deployment, tenant: d.tenant, status: n.status, changed: ctx.busy.has(n.key) || (n.touch ?? 0) > listFrom };
      if (n.providerId) i.providerId = n.providerId;
      out.set(n.key, i);
    }
    return out;
  }

  private toRow(h: CloudHandle, l: LeakSuspect, now: number): LeakRow {
    const r = l.resource as Partial<CloudResource> & { id: string; tags: Record<string, string> };
    const data: Record<string, unknown> = { tags: r.tags };
    if (r.node !== undefined) data['node'] = r.node;
    if (r.sizeGiB !== undefined) data['sizeGiB'] = r.sizeGiB;
    if (r.pricePerHour !== undefined) data['pricePerHour'] = r.pricePerHour;
    return {
      cloud_key: h.key, kind: l.kind, id: l.id, tenant: l.tenant, cloud: h.spec.name, deployment: l.deployment ?? null, key: l.key ?? null,
      status: 'open', reason: l.reason, data_json: JSON.stringify(data), first_seen: l.firstSeen, last_seen: now, ended_at: null,
    };
  }

  private event(h: CloudHandle, l: LeakSuspect, kind: string, outcome: string, reason: string, extra: Record<string, unknown>) {
    const r = l.resource as Partial<CloudResource>;
    const deployment = l.deployment !== undefined && splitDeploymentId(l.deployment).tenant === l.tenant ? l.deployment : undefined;
    return {
      kind, tenant: l.tenant, target: `${h.spec.name}/${l.kind}/${l.id}`, outcome, reason,
      ...(deployment !== undefined ? { deployment } : {}),
      data: {
        cloud: h.spec.name, kind: l.kind, id: l.id, ...(l.key !== undefined ? { key: l.key } : {}), ...(r.node !== undefined ? { node: r.node } : {}),
        ...(r.pricePerHour !== undefined ? { pricePerHour: r.pricePerHour } : {}), ...extra,
      },
    };
  }
}
