/**
 * The wiring controller: what an instance is told about the channels it requires. Its keys
 * are provider components (`<deployment>\0<component>`), woken when one of their instances
 * changes; a reconcile recomputes, once for all requirers, the channel lists of each
 * component that requires this one (../../wiring.ts memoizes them while the providers stay the
 * same) and publishes the `requires` record with its hash. When the hash changed, the
 * requirers whose wiring is now out of date are woken (they update or restart); requirers
 * whose stop waited for this component's updates are woken once it has none left.
 *
 * Handlers are given the published record, not one recomputed per step: an instance
 * configured between a provider's change and the next reconcile here gets the previous list,
 * and is woken again (an update) once the new one is published. Reconciles are paced (the
 * core's adaptive pacing), so fan-out costs stay a bounded share of the CPU however often
 * providers change.
 */
import { computeWiring, providedEndpoints, wiringHash, type Wiring } from '../../wiring.js';
import { requirerHoldsStop } from '../../planner.js';
import type { AppSpec } from '../../../model/index.js';
import type { Deployment, InstanceRec } from '../../state.js';
import type { EngineContext } from '../../context.js';
import { done, type Controller, type ReconcileResult } from '../../core/index.js';
import { splitComponentKey } from '../../component-state.js';

export const WIRING = 'wiring';

interface Published {
  requires: Wiring['requires'];
  hash: string;
  /** Serving generation of each provider component (channel order) it was computed at. */
  gens: number[];
}

/** Requiring components of each component of a spec. */
const requirerMemo = new WeakMap<AppSpec, Map<string, string[]>>();
export function requirersOf(spec: AppSpec, component: string): readonly string[] {
  let m = requirerMemo.get(spec);
  if (!m) {
    m = new Map();
    for (const c of Object.values(spec.components)) {
      for (const ch of Object.values(c.requires)) {
        const l = m.get(ch.component) ?? [];
        if (!l.includes(c.name)) l.push(c.name);
        m.set(ch.component, l);
      }
    }
    requirerMemo.set(spec, m);
  }
  return m.get(component) ?? [];
}

export class WiringController implements Controller {
  readonly name = WIRING;
  readonly pacing = 'background' as const;
  /** Per deployment object (a new spec starts afresh): requiring component → its published wiring. */
  private readonly published = new WeakMap<Deployment, Map<string, Published>>();
  /** Provider keys whose stop waits on a requiring component: `<deployment>\0<component>` → keys. */
  private readonly stopWaiters = new Map<string, Set<string>>();
  /** Per provider component: the deployment object and serving generation its requirers' wiring was last refreshed for. */
  private readonly refreshedAt = new Map<string, { d: Deployment; gen: number }>();
  /** Per requiring component: whether some requirer still holds a provider's stop, valid for a component generation and hash. */
  private readonly holds = new Map<string, { gen: number; hash: string | undefined; value: boolean }>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly wakeResource: (key: string) => void,
  ) {}

  private table(d: Deployment): Map<string, Published> {
    let m = this.published.get(d);
    if (!m) this.published.set(d, (m = new Map()));
    return m;
  }

  /** Recomputes the requiring component's wiring from current state; returns it and whether it differs from the published one. */
  private refresh(d: Deployment, component: string): { pub: Published; changed: boolean } | undefined {
    const comp = d.spec.components[component];
    if (!comp) return undefined;
    const byComponent = new Map<string, InstanceRec[]>();
    const gens = this.gensOf(d, component);
    for (const ch of Object.values(comp.requires)) {
      if (!byComponent.has(ch.component)) byComponent.set(ch.component, [...this.ctx.model.instancesOfComponent(d.name, ch.component)]);
    }
    // the record depends only on the component, not on which of its instances asks
    const sample = { key: '', deployment: d.name, component, name: '' } as InstanceRec;
    const { requires } = computeWiring({ dep: d, inst: sample, byComponent, nodes: this.ctx.nodes });
    const t = this.table(d);
    const old = t.get(component);
    if (old && old.requires === requires) {
      old.gens = gens;
      return { pub: old, changed: false };
    }
    const pub = { requires, hash: wiringHash({ requires } as Wiring), gens };
    t.set(component, pub);
    return { pub, changed: !old || old.hash !== pub.hash };
  }

  private gensOf(d: Deployment, component: string): number[] {
    const comp = d.spec.components[component];
    return comp ? Object.values(comp.requires).map((ch) => this.ctx.components.servingGen(d.name, ch.component)) : [];
  }

  /** Publishes the requiring component's new wiring and wakes the requirers it leaves out of date. */
  private fanOut(d: Deployment, component: string, pub: Published): void {
    for (const i of this.ctx.model.instancesOfComponent(d.name, component)) {
      if (i.desired && (i.phase === 'running' || i.phase === 'started') && i.wiringHash !== pub.hash) this.wakeResource(i.key);
    }
    this.ctx.changedComponent(d.name, component);
  }

  /**
   * The requiring component's wiring brought up to date now if a provider changed since it was
   * published (a provider's stop must see the hash its requirers will get, not the last paced one).
   */
  private fresh(d: Deployment, component: string): Published | undefined {
    const pub = this.table(d).get(component);
    if (pub) {
      const gens = this.gensOf(d, component);
      if (gens.length === pub.gens.length && gens.every((g, i) => g === pub.gens[i])) return pub;
    }
    const r = this.refresh(d, component);
    if (r?.changed) this.fanOut(d, component, r.pub);
    return r?.pub;
  }

  private current(d: Deployment, component: string): Published | undefined {
    return this.table(d).get(component) ?? this.refresh(d, component)?.pub;
  }

  /** The wiring hash the requiring component's instances should have (as last published). */
  hashOf(d: Deployment, component: string): string | undefined {
    return this.current(d, component)?.hash;
  }

  /**
   * The wiring hash the requiring component's instances should have now: the published one,
   * first brought up to date if a provider changed since (an update decided on the paced,
   * older record may have been undone meanwhile, e.g. by a provider restarting in place).
   */
  freshHashOf(d: Deployment, component: string): string | undefined {
    return this.fresh(d, component)?.hash;
  }

  /** The instance's wiring as last published for its component, and its hash. */
  wiringFor(d: Deployment, inst: InstanceRec): { wiring: Wiring; hash: string } {
    const comp = d.spec.components[inst.component]!;
    const pub = this.current(d, inst.component) ?? { requires: {}, hash: wiringHash({ requires: {} } as Wiring) };
    const wiring: Wiring = {
      deployment: d.name, component: inst.component, instance: inst.name,
      provides: providedEndpoints(comp, this.ctx.nodes.get(inst.key)?.observed),
      requires: pub.requires,
    };
    return { wiring, hash: pub.hash };
  }

  /** Whether some instance of the requiring component has an update or (destroying) a stop still to come. */
  requirersBusy(d: Deployment, component: string): boolean {
    const ck = `${d.name}\0${component}`;
    const gen = this.ctx.components.gen(d.name, component);
    const hash = this.fresh(d, component)?.hash;
    const m = this.holds.get(ck);
    if (m && m.gen === gen && m.hash === hash) return m.value;
    let value = false;
    for (const r of this.ctx.model.instancesOfComponent(d.name, component)) {
      if (requirerHoldsStop(d, r, this.ctx.nodes, hash)) {
        value = true;
        break;
      }
    }
    this.holds.set(ck, { gen, hash, value });
    return value;
  }

  /** Registers a provider whose stop waits for the requiring component. */
  waitForRequirers(deployment: string, component: string, key: string): void {
    const ck = `${deployment}\0${component}`;
    let s = this.stopWaiters.get(ck);
    if (!s) this.stopWaiters.set(ck, (s = new Set()));
    s.add(key);
  }

  reconcile(key: string): ReconcileResult {
    const { deployment, component } = splitComponentKey(key);
    const d = this.ctx.deployments.get(deployment);
    if (!d) {
      this.stopWaiters.delete(key);
      this.holds.delete(key);
      this.refreshedAt.delete(key);
      return done;
    }
    // the requirers of this component: publish their new wiring, wake those it leaves out of date
    const gen = this.ctx.components.servingGen(deployment, component);
    const seen = this.refreshedAt.get(key);
    const requirers = seen && seen.d === d && seen.gen === gen ? [] : requirersOf(d.spec, component);
    this.refreshedAt.set(key, { d, gen });
    for (const req of requirers) {
      const r = this.refresh(d, req);
      if (r?.changed) this.fanOut(d, req, r.pub);
    }
    // this component as a requirer: providers whose stop waited for its updates or stops
    const waiters = this.stopWaiters.get(key);
    if (waiters && waiters.size > 0 && !this.requirersBusy(d, component)) {
      this.stopWaiters.delete(key);
      for (const k of waiters) this.wakeResource(k);
    }
    return done;
  }
}
