/**
 * Backups as the server uses them: run, restore, drill and list (tenant-scoped through the
 * deployment id the API resolves), the final backups before a destroy, what recovery asks
 * (latest verified backup, restore onto a new node), and the schedule controller registered
 * with the engine's reconcile core.
 */
import { nextFire, parseCron } from '../../clock/index.js';
import type { Caller, Deployment } from '../../engine/index.js';
import { NubisError } from '../../errors/index.js';
import type { BackupPolicySpec } from '../../model/index.js';
import type { BackupRunRow } from '../../store/index.js';
import type { RecoveryBackups } from '../recovery/index.js';
import { backupInstance, discard } from './backup.js';
import { BackupsContext, type BackupsOptions, type RunCause } from './context.js';
import { drillBackup, goodBackup, removeScratch, restoreBackup } from './restore.js';
import { toPrune } from './retention.js';
import { policyView, runView, type BackupPolicyView, type BackupRunKind, type BackupRunView } from './views.js';
import { BackupsController } from './controller.js';

export interface BackupRunRequest {
  /** The policy; may be left out when the deployment has exactly one. */
  policy?: string;
  /** Only this instance; default every running instance of the policy's component. */
  instance?: string;
  reason?: string;
  /** false: answer once started (state running). Default true. */
  wait?: boolean;
}

export interface RestoreRequest {
  /** The instance to restore onto; default the backup's own (in place). */
  instance?: string;
  reason?: string;
  wait?: boolean;
}

export interface DrillRequest {
  policy?: string;
  /** The backup to drill; default the newest good one of the policy. */
  backup?: string;
  reason?: string;
  wait?: boolean;
}

export interface BackupListFilter {
  policy?: string;
  kind?: BackupRunKind;
  instance?: string;
  limit?: number;
}

export interface Backups {
  policies(deployment: string, shownAs: string): Promise<BackupPolicyView[]>;
  list(deployment: string, shownAs: string, f?: BackupListFilter): Promise<BackupRunView[]>;
  show(deployment: string, id: string, shownAs: string): Promise<BackupRunView>;
  /** Backs up the policy's running instances (one run each). */
  run(deployment: string, req: BackupRunRequest, caller: Caller, shownAs: string): Promise<BackupRunView[]>;
  restore(deployment: string, backup: string, req: RestoreRequest, caller: Caller, shownAs: string): Promise<BackupRunView>;
  drill(deployment: string, req: DrillRequest, caller: Caller, shownAs: string): Promise<BackupRunView>;
  /**
   * The final backups of every policy with `onDestroy: true`, before a destroy; resolves when
   * they all succeeded, rejects with BACKUP_FINAL_FAILED (details: the failed runs) otherwise.
   */
  beforeDestroy(deployment: string, caller: Caller): Promise<BackupRunView[]>;
  /**
   * Backs up a component now under every policy of it (a workflow's `backup D C` action):
   * resolves with what was stored, rejects naming the failed runs (HANDLER_FAILED) or NOT_FOUND.
   */
  backupComponent(deployment: string, component: string, caller: Caller): Promise<string>;
  /** What recovery's recreate step uses. */
  readonly recovery: RecoveryBackups;
  readonly controller: BackupsController;
  /** Resolves when runs answered early have ended. */
  drain(): Promise<void>;
  /** Aborts runs in flight (they end failed, BACKUP_INTERRUPTED) and waits for them. */
  stop(): Promise<void>;
}

/** The policy a request names, or the deployment's only one. */
function pickPolicy(x: BackupsContext, d: Deployment, name: string | undefined): BackupPolicySpec {
  if (name !== undefined) return x.policy(d, name);
  const all = Object.values(d.spec.backups ?? {});
  if (all.length === 1) return all[0]!;
  throw new NubisError('REQUEST_INVALID', all.length === 0 ? `deployment ${d.spec.name} has no backup policy` : `policy: name one of ${all.map((p) => p.name).join(', ')}`, { details: { path: 'policy' } });
}

const causeOf = (caller: Caller, reason: string | undefined, fallback: string, trigger: RunCause['trigger'] = 'manual'): RunCause => ({
  actor: caller.actor, reason: reason?.trim() || fallback, trigger,
});

export async function createBackups(o: BackupsOptions): Promise<Backups> {
  const x = new BackupsContext(o);
  const { store } = o;

  /** Prunes good backups retention no longer keeps (object, cloud snapshot, row state pruned). */
  const prune = async (d: Deployment, p: BackupPolicySpec, instance: string): Promise<void> => {
    const good = (await store.backups.list(d.name, { policy: p.name, kind: 'backup', state: 'succeeded', instance })).map((r) => ({ id: r.id, takenAt: Number(r.started_at), row: r }));
    const gone = toPrune(good, p.retention, p.schedule?.timeZone ?? 'UTC');
    if (gone.length === 0) return;
    const s = await x.openStore(d, p).catch(() => undefined);
    try {
      for (const g of gone) {
        await discard(x, d, g.row, s);
        g.row.state = 'pruned';
        await Promise.all([
          x.save(g.row),
          o.events.append({ kind: 'backup.pruned', actor: 'backups', tenant: d.tenant, deployment: d.name, target: `${d.name}/${instance}`, outcome: 'pruned', reason: `retention keeps ${p.retention.last} (and daily/weekly/monthly)`, data: { policy: p.name, run: g.id, instance } }),
        ]);
      }
    } finally {
      await s?.close().catch(() => undefined);
    }
  };

  const backupAll = async (d: Deployment, p: BackupPolicySpec, instance: string | undefined, cause: RunCause): Promise<BackupRunRow[]> => {
    const targets = instance === undefined ? x.running(d, p) : [mustInstance(d, p, instance)];
    if (targets.length === 0) throw new NubisError('CONFLICT', `no instance of ${p.component} is running to back up`);
    return Promise.all(targets.map(async (inst) => {
      const row = await backupInstance(x, d, p, inst, cause);
      if (row.state === 'succeeded') await prune(d, p, inst.name).catch(() => undefined);
      return row;
    }));
  };

  const mustInstance = (d: Deployment, p: BackupPolicySpec, name: string) => {
    const inst = o.engine.instancesOf(d.name).find((i) => i.name === name && i.desired);
    if (!inst || inst.component !== p.component) throw new NubisError('NOT_FOUND', `instance: component ${p.component} has no instance ${JSON.stringify(name)}`, { details: { path: 'instance' } });
    const why = x.whyNot(inst);
    if (why) throw new NubisError('CONFLICT', `instance: ${name} cannot be used now: ${why}`, { details: { path: 'instance' } });
    return inst;
  };

  /**
   * Starts `start(cause)`; with `wait` false answers once `expect` runs began (their rows, state
   * running), else once it ended. A run that fails before it began rejects either way.
   */
  const answer = async (wait: boolean | undefined, cause: RunCause, expect: number, start: (c: RunCause) => Promise<BackupRunRow[]>): Promise<BackupRunRow[]> => {
    if (wait !== false) return start(cause);
    const begun: BackupRunRow[] = [];
    let ready!: () => void;
    const all = new Promise<void>((r) => (ready = r));
    const p = x.track(start({ ...cause, begun: (row) => {
      begun.push(row);
      if (begun.length >= expect) ready();
    } }));
    await Promise.race([all, p]);
    return begun.length >= expect ? begun : p;
  };

  const latest = async (d: Deployment, p: BackupPolicySpec): Promise<BackupRunRow> => {
    const [b] = await store.backups.list(d.name, { policy: p.name, kind: 'backup', state: 'succeeded', limit: 1 });
    if (!b) throw new NubisError('CONFLICT', `policy ${p.name} has no good backup to drill yet (run \`nubis backups run ${d.spec.name} --policy ${p.name}\`)`);
    return b;
  };

  const scheduled = {
    backup: async (d: Deployment, p: BackupPolicySpec) => {
      await backupAll(d, p, undefined, { actor: 'backups', reason: `scheduled (${p.schedule!.cron} ${p.schedule!.timeZone})`, trigger: 'schedule' });
    },
    drill: async (d: Deployment, p: BackupPolicySpec) => {
      await drillBackup(x, d, p, await latest(d, p), { actor: 'backups', reason: `scheduled drill (${p.drill!.schedule.cron} ${p.drill!.schedule.timeZone})`, trigger: 'schedule' });
    },
  };

  /** Runs a control plane stopped during: failed (never good), their leftovers deleted, one failed event each. */
  const recoverUnfinished = async (): Promise<void> => {
    for (const row of await store.backups.unfinished()) {
      const d = o.engine.deployments.get(row.deployment);
      const p = d?.spec.backups?.[row.policy];
      if (row.kind === 'backup') {
        const s = d && p ? await x.openStore(d, p).catch(() => undefined) : undefined;
        await discard(x, d, row, s);
        await s?.close().catch(() => undefined);
        row.size_bytes = null;
        row.sha256 = null;
      } else if (row.kind === 'drill') await removeScratch(x, d, row);
      await x.end(row, new NubisError('BACKUP_INTERRUPTED', 'the control plane stopped during it; it counts as failed'), `${row.kind} ${row.id} of ${row.instance} did not finish`);
    }
  };

  const controller = new BackupsController(x, scheduled, recoverUnfinished);
  o.engine.register(controller);

  const nextOf = (c: { cron: string; timeZone: string } | undefined): number | undefined => (c ? nextFire(parseCron(c.cron), c.timeZone, o.clock.now()) : undefined);

  const recovery: RecoveryBackups = {
    async latestVerified(target) {
      const rows = await store.backups.list(target.deployment, { kind: 'backup', state: 'succeeded', limit: 200 });
      const mine = rows.filter((r) => r.verified_at !== null && r.component === target.component);
      const b = mine.find((r) => r.instance === target.instance) ?? mine[0];
      if (!b) return undefined;
      const s = b.what === 'snapshot' ? (JSON.parse(b.source_json ?? '{}') as { ref?: { id: string } }) : {};
      return { id: b.id, takenAt: Number(b.started_at), ...(s.ref ? { image: s.ref.id } : {}), description: `${b.what} of ${b.instance} in ${b.store_desc}` };
    },
    async restoreOnto(ref, target) {
      const d = x.deployment(target.deployment);
      const b = await goodBackup(x, d, ref.id);
      // a snapshot backup: the new node booted from its image already
      if (b.what === 'snapshot') return;
      const p = x.policy(d, b.policy);
      const inst = mustInstance(d, p, target.instance);
      const r = await restoreBackup(x, d, p, b, inst, { actor: 'recovery', reason: `recovery recreated ${target.instance} from backup ${b.id}`, trigger: 'recovery' });
      if (r.state !== 'succeeded') throw new NubisError('HANDLER_FAILED', r.detail ?? 'the restore failed');
    },
  };

  return {
    controller,
    recovery,
    async policies(name, shownAs) {
      const d = x.deployment(name);
      const out: BackupPolicyView[] = [];
      for (const p of Object.values(d.spec.backups ?? {})) {
        const [good] = await store.backups.list(d.name, { policy: p.name, kind: 'backup', state: 'succeeded', limit: 1 });
        const verified = (await store.backups.list(d.name, { policy: p.name, kind: 'backup', state: 'succeeded', limit: 200 })).find((r) => r.verified_at !== null);
        const next = { ...(p.schedule ? { backup: nextOf(p.schedule) } : {}), ...(p.drill ? { drill: nextOf(p.drill.schedule) } : {}) } as { backup?: number; drill?: number };
        out.push(policyView(p, next, good?.id, verified?.id));
      }
      void shownAs;
      return out;
    },
    async list(name, shownAs, f = {}) {
      const d = x.deployment(name);
      if (f.policy !== undefined) x.policy(d, f.policy);
      const rows = await store.backups.list(d.name, { ...(f.policy ? { policy: f.policy } : {}), ...(f.kind ? { kind: f.kind } : {}), ...(f.instance ? { instance: f.instance } : {}), limit: f.limit ?? 200 });
      return rows.map((r) => runView(r, shownAs));
    },
    async show(name, id, shownAs) {
      const d = x.deployment(name);
      const r = await store.backups.get(d.name, id);
      if (!r) throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no backup, restore or drill ${JSON.stringify(id)}`);
      return runView(r, shownAs);
    },
    async run(name, req, caller, shownAs) {
      const d = x.deployment(name);
      if (d.status === 'destroying') throw new NubisError('CONFLICT', `deployment ${d.spec.name} is being destroyed`);
      const p = pickPolicy(x, d, req.policy);
      const expect = req.instance === undefined ? x.running(d, p).length : 1;
      const rows = await answer(req.wait, causeOf(caller, req.reason, `backup ${p.name} requested`), expect, (c) => backupAll(d, p, req.instance, c));
      return rows.map((r) => runView(r, shownAs));
    },
    async restore(name, id, req, caller, shownAs) {
      const d = x.deployment(name);
      if (d.status === 'destroying') throw new NubisError('CONFLICT', `deployment ${d.spec.name} is being destroyed`);
      const b = await goodBackup(x, d, id);
      const p = x.policy(d, b.policy);
      const inst = mustInstance(d, p, req.instance ?? b.instance);
      const [row] = await answer(req.wait, causeOf(caller, req.reason, `restore of ${b.id} requested`), 1, async (c) => [await restoreBackup(x, d, p, b, inst, c)]);
      return runView(row!, shownAs);
    },
    async drill(name, req, caller, shownAs) {
      const d = x.deployment(name);
      const p = pickPolicy(x, d, req.policy);
      const b = req.backup !== undefined ? await goodBackup(x, d, req.backup) : await latest(d, p);
      if (b.policy !== p.name) throw new NubisError('REQUEST_INVALID', `backup: ${b.id} is of policy ${b.policy}, not ${p.name}`, { details: { path: 'backup' } });
      const [row] = await answer(req.wait, causeOf(caller, req.reason, `restore drill of ${b.id} requested`), 1, async (c) => [await drillBackup(x, d, p, b, c)]);
      return runView(row!, shownAs);
    },
    async backupComponent(name, component, caller) {
      const d = x.deployment(name);
      const ps = Object.values(d.spec.backups ?? {}).filter((p) => p.component === component);
      if (ps.length === 0) throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no backup policy for component ${JSON.stringify(component)}`);
      const rows: BackupRunRow[] = [];
      for (const p of ps) rows.push(...await backupAll(d, p, undefined, causeOf(caller, undefined, `backup ${p.name} by ${caller.actor}`)));
      const bad = rows.filter((r) => r.state !== 'succeeded');
      if (bad.length > 0) throw new NubisError('HANDLER_FAILED', `backup of ${d.spec.name}/${component}: ${bad.map((r) => `${r.id} (${r.instance}) ${r.detail}`).join('; ')}`);
      return `backup of ${d.spec.name}/${component}: ${rows.map((r) => `${r.id} (${r.policy}, ${r.instance}, ${r.size_bytes} bytes)`).join(', ')} stored and verified`;
    },
    async beforeDestroy(name, caller) {
      const d = o.engine.deployments.get(name);
      if (!d || d.status === 'destroying') return [];
      const finals = Object.values(d.spec.backups ?? {}).filter((p) => p.onDestroy);
      const rows: BackupRunRow[] = [];
      for (const p of finals) {
        if (x.running(d, p).length === 0) continue;
        rows.push(...await backupAll(d, p, undefined, { actor: caller.actor, reason: `final backup before destroy (policy ${p.name})`, trigger: 'destroy' }));
      }
      const failed = rows.filter((r) => r.state !== 'succeeded');
      const views = rows.map((r) => runView(r, d.spec.name));
      if (failed.length > 0) {
        throw new NubisError('BACKUP_FINAL_FAILED', `the final backup failed (${failed.map((r) => `${r.instance}: ${r.detail}`).join('; ')}); nothing was destroyed. Fix it and destroy again, or apply the spec with onDestroy: false`, {
          details: { runs: failed.map((r) => r.id) },
        });
      }
      return views;
    },
    drain: () => x.drain(),
    async stop() {
      x.stopping.abort();
      await x.drain();
    },
  };
}
