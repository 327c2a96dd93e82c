/**
 * The backups controller, registered with the engine's reconcile core. Key `recover` runs once
 * at start: runs a stopped control plane left `running` are marked failed (never good), their
 * partial objects, cloud snapshots and scratch nodes deleted, one failed event each (one alert).
 * Key `scan` looks at every active deployment's policies each tick and starts the backups and
 * drills whose cron (in its time zone) came due since the last one (the store's newest run of the
 * schedule, else the moment the policy was first seen: a fire missed while no control plane ran
 * is not made up).
 */
import { nextFire, parseCron } from '../../clock/index.js';
import type { Controller, Deployment, ReconcileResult } from '../../engine/index.js';
import type { BackupPolicySpec } from '../../model/index.js';
import type { BackupsContext } from './context.js';

export const BACKUPS = 'backups';
const RECOVER = 'recover';
const SCAN = 'scan';

export type Scheduled = Record<'backup' | 'drill', (d: Deployment, p: BackupPolicySpec) => Promise<void>>;

export class BackupsController implements Controller {
  readonly name = BACKUPS;
  /** `<deployment>\0<policy>\0<kind>` → clock time of the last fire (or first sight). */
  private readonly last = new Map<string, number>();
  private readonly inflight = new Set<string>();
  private readonly tickMs: number;
  private recovered: Promise<void> | undefined;

  constructor(private readonly x: BackupsContext, private readonly scheduled: Scheduled, private readonly recoverUnfinished: () => Promise<void>) {
    this.tickMs = x.o.tickMs ?? 1000;
  }

  initialKeys(): Iterable<string> {
    return [RECOVER, SCAN];
  }

  /** Resolves once the runs of a stopped control plane were marked failed (tests, the API). */
  recovery(): Promise<void> {
    return this.recovered ?? Promise.resolve();
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    if (key === RECOVER) {
      await (this.recovered ??= this.recoverUnfinished());
      return { kind: 'done' };
    }
    if (key !== SCAN) return { kind: 'done' };
    await this.recovered;
    const now = this.x.o.clock.now();
    let wait = this.tickMs;
    for (const d of this.x.o.engine.deployments.values()) {
      if (d.status !== 'active') continue;
      for (const p of Object.values(d.spec.backups ?? {})) {
        for (const kind of ['backup', 'drill'] as const) {
          const s = kind === 'backup' ? p.schedule : p.drill?.schedule;
          if (!s) continue;
          const k = `${d.name}\0${p.name}\0${kind}`;
          let last = this.last.get(k);
          if (last === undefined) {
            last = (await this.x.o.store.backups.lastStart(d.name, p.name, kind, 'schedule')) ?? now;
            this.last.set(k, last);
          }
          const next = nextFire(parseCron(s.cron), s.timeZone, last);
          if (next === undefined) continue;
          if (next > now) {
            wait = Math.min(wait, next - now);
            continue;
          }
          this.last.set(k, now);
          if (this.inflight.has(k)) continue;
          this.inflight.add(k);
          void this.x.track(this.scheduled[kind](d, p)).catch(() => undefined).finally(() => this.inflight.delete(k));
        }
      }
    }
    return { kind: 'requeue', afterMs: Math.max(1, wait) };
  }
}
