/**
 * The recovery controller, registered with the engine's reconcile core: one key per instance
 * whose component has a recovery policy. It hears the engine's agent observations (the observe
 * controller's rounds: no second health loop) and reads the engine's records (failed starts,
 * failed or unreachable nodes), feeds them to the instance's ladder (./ladder.ts), and enacts
 * the steps through the engine's recovery port: restart the component, reboot the node,
 * recreate the node (from the latest verified backup when there is one). Node unreachable is
 * told apart from component failed by whether the agent answers, and the cloud's view of the
 * node (driver get) tells a node that is gone. Every change of a ladder is persisted (store
 * `recovery`) with its events, so a restarted control plane keeps its limits and give-ups.
 *
 * Keys: `<deployment>/<instance>`, and `scan`, which every `tickMs` wakes the instances that
 * have something to decide (a ladder not at rest, or a failure in the engine's records).
 */
import type { Clock } from '../../clock/index.js';
import type { Controller, Deployment, Engine, InstanceRec, ReconcileResult, RecoveryPort } from '../../engine/index.js';
import type { EventInput, EventLog } from '../../events/index.js';
import type { RecoverySpec } from '../../model/index.js';
import type { Store, WriteOp } from '../../store/index.js';
import { NubisError, toNubisError } from '../../errors/index.js';
import type { RecoveryBackups, RecoveryTarget } from './backups.js';
import { freshLadder, nextRung, reset, stepEnded, transition, type LadderEvent, type LadderResult, type LadderState, type Sighting } from './ladder.js';
import { fromObservation, fromRecords, TRANSIT } from './sightings.js';

export const RECOVERY = 'recovery';
export const SCAN = 'scan';

export interface RecoveryControllerOptions {
  engine: Engine;
  store: Store;
  events: EventLog;
  clock: Clock;
  /** Verified backups for the recreate step; absent: recreate makes a fresh node. */
  backups?: RecoveryBackups;
  /** How often instances with something to decide are looked at. Default 1 000. */
  tickMs?: number;
}

interface Entry {
  state: LadderState;
  tenant: string;
  deployment: string;
  instance: string;
  component: string;
  /** The JSON last persisted. */
  saved: string;
}

const NO_DONE: ReconcileResult = { kind: 'done' };

export class RecoveryController implements Controller {
  readonly name = RECOVERY;
  private readonly port: RecoveryPort;
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Sighting[]>();
  private readonly probeCounts = new Map<string, number>();
  private wake: (key: string) => void = () => undefined;
  private readonly tickMs: number;

  constructor(private readonly o: RecoveryControllerOptions) {
    this.port = o.engine.recovery;
    this.tickMs = o.tickMs ?? 1000;
    this.port.claim((inst) => this.policyOf(inst) !== undefined);
  }

  /** Loads the persisted ladders (before the core starts). A step in flight when the last process stopped counts as ended now. */
  async load(): Promise<void> {
    const now = this.o.clock.now();
    for (const r of await this.o.store.recovery.list()) {
      const state = JSON.parse(r.state_json) as LadderState;
      if (state.incident?.step !== undefined && state.incident.stepEndedAt === undefined) state.incident.stepEndedAt = now;
      this.entries.set(r.key, { state, tenant: r.tenant, deployment: r.deployment, instance: r.instance, component: r.component, saved: r.state_json });
    }
  }

  initialKeys(): Iterable<string> {
    return [SCAN, ...this.entries.keys()];
  }

  watch(wake: (key: string) => void): () => void {
    this.wake = wake;
    return this.port.onObservation((ob) => {
      const inst = this.o.engine.instances.get(ob.key);
      const p = inst ? this.policyOf(inst) : undefined;
      if (!inst || !p) return;
      const d = this.o.engine.deployments.get(inst.deployment);
      const probed = d?.spec.components[inst.component]?.health !== undefined;
      const sight = fromObservation(ob, this.probeCounts.get(ob.key), probed);
      if (ob.probes) this.probeCounts.set(ob.key, ob.probes.failed);
      if (sight.kind === 'tick' || (sight.kind === 'healthy' && this.atRest(ob.key))) return;
      const l = this.pending.get(ob.key);
      if (l) l.push(sight);
      else this.pending.set(ob.key, [sight]);
      wake(ob.key);
    });
  }

  /** The policy of an instance that recovery looks after: wanted, of an active deployment, its component has one. */
  policyOf(inst: InstanceRec): RecoverySpec | undefined {
    if (!inst.desired) return undefined;
    const d = this.o.engine.deployments.get(inst.deployment);
    if (!d || d.status !== 'active') return undefined;
    return d.spec.components[inst.component]?.recovery;
  }

  /** The ladder of an instance, as last decided. */
  ladder(key: string): LadderState | undefined {
    return this.entries.get(key)?.state;
  }

  /** Watching, with nothing counted: a healthy sighting changes nothing. */
  private atRest(key: string): boolean {
    const s = this.entries.get(key)?.state;
    return !s || (s.status === 'watching' && s.failures.length === 0 && s.healthySince !== undefined);
  }

  async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    if (key === SCAN) return this.scan();
    const { engine, clock } = this.o;
    const inst = engine.instances.get(key);
    const p = inst ? this.policyOf(inst) : undefined;
    if (!inst || !p) {
      this.pending.delete(key);
      if (this.entries.has(key) && !engine.instances.get(key)?.desired) await this.forget(key);
      return NO_DONE;
    }
    const d = engine.deployments.get(inst.deployment)!;
    const entry = this.entryOf(inst, d);
    const sightings = this.pending.get(key) ?? [];
    this.pending.delete(key);
    const probed = d.spec.components[inst.component]?.health !== undefined;
    const rec = fromRecords(inst, engine.nodes.get(key), this.port.busy(key), probed);
    if (rec !== undefined && rec !== TRANSIT) sightings.push(rec.kind === 'failed' && rec.failure === 'unreachable' ? await this.refine(key, rec, signal) : rec);
    sightings.push({ kind: 'tick' });
    const events: LadderEvent[] = [];
    let state = entry.state;
    const apply = async (first: LadderResult): Promise<void> => {
      let r = first;
      events.push(...r.events);
      while (r.act) {
        r = await this.enact(entry, r, events, signal);
        events.push(...r.events);
      }
      state = r.state;
    };
    for (const seen of sightings) {
      if (seen.kind === 'healthy' && state.incident?.backup && !state.incident.backup.restored) {
        await apply(await this.restoreBackup(entry, state, p, signal));
        if (!state.incident?.backup?.restored) continue;
      }
      await apply(transition(state, p, seen, clock.now()));
    }
    await this.commit(entry, state, events);
    if (state.status === 'watching' && state.failures.length === 0) return NO_DONE;
    return { kind: 'requeue', afterMs: this.tickMs };
  }

  /** A person resets the ladder of an instance (`nubis recovery reset`). */
  async reset(key: string, by: string): Promise<LadderState> {
    const inst = this.o.engine.instances.get(key);
    if (!inst || !this.policyOf(inst)) throw new NubisError('NOT_FOUND', `no instance ${key.slice(key.indexOf('/') + 1)} with a recovery policy`);
    const entry = this.entryOf(inst, this.o.engine.deployments.get(inst.deployment)!);
    const r = reset(entry.state, by);
    await this.commit(entry, r.state, r.events, by);
    this.wake(key);
    return r.state;
  }

  /** Wakes the instances with something to decide; drops the ladders of instances that are gone. */
  private async scan(): Promise<ReconcileResult> {
    const { engine } = this.o;
    for (const key of [...this.entries.keys()]) {
      const inst = engine.instances.get(key);
      if (!inst || !this.policyOf(inst)) await this.forget(key).catch(() => undefined);
      else if (!this.atRest(key)) this.wake(key);
    }
    for (const inst of engine.instances.values()) {
      if (this.entries.has(inst.key) && !this.atRest(inst.key)) continue;
      const p = this.policyOf(inst);
      if (!p) continue;
      const d = engine.deployments.get(inst.deployment);
      const rec = fromRecords(inst, engine.nodes.get(inst.key), this.port.busy(inst.key), d?.spec.components[inst.component]?.health !== undefined);
      if (rec !== undefined && rec !== TRANSIT && (rec.kind === 'failed' || !this.entries.has(inst.key))) this.wake(inst.key);
    }
    return { kind: 'requeue', afterMs: this.tickMs };
  }

  /** An unreachable node: the cloud's view tells a node that is gone (recreate) from one that does not answer. */
  private async refine(key: string, seen: Sighting & { kind: 'failed' }, signal: AbortSignal): Promise<Sighting> {
    const view = await this.port.nodeView(key, signal);
    if (view === 'gone') return { ...seen, failure: 'gone', reason: `the cloud no longer has its node (${seen.reason})` };
    return view === 'unknown' ? seen : { ...seen, reason: `${seen.reason}; the cloud reports the node ${view}` };
  }

  /** Carries out the step `r.act` asks for; resolves with what follows (another step when this one could not be carried out). */
  private async enact(entry: Entry, r: LadderResult, events: LadderEvent[], signal: AbortSignal): Promise<LadderResult> {
    const { clock } = this.o;
    const key = `${entry.deployment}/${entry.instance}`;
    const p = this.policyOf(this.o.engine.instances.get(key)!)!;
    const step = r.act!.step;
    // the step's event first: a control-plane crash during the step leaves it recorded
    await this.commit(entry, r.state, events.splice(0));
    let state = r.state;
    try {
      if (step === 'restart') await this.port.restart(key, r.act!.reason);
      else if (step === 'reboot') await this.port.reboot(key, r.act!.reason);
      else {
        const ref = this.o.backups ? await this.o.backups.latestVerified(this.target(entry), signal).catch(() => undefined) : undefined;
        if (ref) state = { ...state, incident: { ...state.incident!, backup: { id: ref.id } } };
        events.push({
          kind: 'recovery.step',
          reason: ref ? `recreating ${entry.instance} from verified backup ${ref.id}${ref.description ? ` (${ref.description})` : ''}` : `recreating ${entry.instance} fresh: it has no verified backup`,
          data: { step: 'recreate', phase: 'source', ...(ref ? { backup: ref.id, takenAt: new Date(ref.takenAt).toISOString() } : { backup: null }) },
        });
        await this.port.recreate(key, r.act!.reason, ref?.image ? { image: ref.image } : {});
      }
    } catch (e) {
      return stepEnded(state, p, clock.now(), toNubisError(e).message);
    }
    return stepEnded(state, p, clock.now());
  }

  /** Restores the recreate's backup onto the new node before the instance counts as recovered; a failed restore is the next rung. */
  private async restoreBackup(entry: Entry, state: LadderState, p: RecoverySpec, signal: AbortSignal): Promise<LadderResult> {
    const backup = state.incident!.backup!;
    try {
      await this.o.backups!.restoreOnto({ id: backup.id, takenAt: 0 }, this.target(entry), signal);
      return { state: { ...state, incident: { ...state.incident!, backup: { ...backup, restored: true } } }, events: [] };
    } catch (e) {
      return nextRung(state, p, this.o.clock.now(), `restoring backup ${backup.id} onto the new node failed: ${toNubisError(e).message}`);
    }
  }

  private target(e: Entry): RecoveryTarget {
    return { tenant: e.tenant, deployment: e.deployment, component: e.component, instance: e.instance };
  }

  private entryOf(inst: InstanceRec, d: Deployment): Entry {
    let e = this.entries.get(inst.key);
    if (!e) this.entries.set(inst.key, (e = { state: freshLadder(), tenant: d.tenant, deployment: d.name, instance: inst.name, component: inst.component, saved: '' }));
    return e;
  }

  /** Persists the ladder when it changed, with its events (one commit). */
  private async commit(entry: Entry, state: LadderState, events: LadderEvent[], actor = 'engine'): Promise<void> {
    entry.state = state;
    const json = JSON.stringify(state);
    const ops: WriteOp[] = [];
    if (json !== entry.saved) {
      ops.push(this.o.store.recovery.put({
        key: `${entry.deployment}/${entry.instance}`, tenant: entry.tenant, deployment: entry.deployment, instance: entry.instance,
        component: entry.component, status: state.status, state_json: json, updated_at: this.o.clock.now(),
      }));
      entry.saved = json;
    }
    // queued in one turn: the ladder and its events land in one group commit
    await Promise.all([
      ops.length > 0 ? this.o.store.write(...ops) : undefined,
      events.length > 0 ? this.o.events.append(...events.map((e) => this.event(entry, e, actor))) : undefined,
    ]);
  }

  private event(entry: Entry, e: LadderEvent, actor: string): EventInput {
    return {
      kind: e.kind, actor, tenant: entry.tenant, deployment: entry.deployment, target: `${entry.deployment}/${entry.instance}`,
      reason: e.reason, outcome: typeof e.data['step'] === 'string' ? (e.data['step'] as string) : e.kind.slice('recovery.'.length),
      ts: this.o.clock.now(),
      data: { ...e.data, tenant: entry.tenant, deployment: entry.deployment, instance: entry.instance, component: entry.component, reason: e.reason },
    };
  }

  private async forget(key: string): Promise<void> {
    this.entries.delete(key);
    this.pending.delete(key);
    this.probeCounts.delete(key);
    await this.o.store.write(this.o.store.recovery.remove(key));
  }
}
