/**
 * Per component, what its requirers' configure waits for, counted incrementally: how many of
 * its instances serve traffic (a mandatory channel needs one) and how many wanted ones have
 * still to start (a requirer configures once every provider started). Each resource's last
 * contribution is remembered, so a change is applied as the difference between what the
 * resource counted for before and what it counts for now: a missed notification is repaired
 * by the next one for the same resource, and a full pass over a deployment recounts each.
 *
 * Requirers found waiting on a component register here and are handed back, once, when the
 * component stops blocking them (both counts say go); they then look again from current state.
 */
import type { Deployment, InstanceRec, NodeRec } from './state.js';
import { servesTraffic } from './wiring.js';

interface Contribution {
  deployment: string;
  component: string;
  /** `<deployment>\0<component>` */
  comp: string;
  serving: boolean;
  startPending: boolean;
  /** Where it serves (address and port range of its node): its consumers' endpoints. */
  address: string | undefined;
  first: number | undefined;
  count: number | undefined;
}

export interface ComponentCounts {
  /** Instances serving traffic (desired, running, on a node that answers). */
  serving: number;
  /** Wanted instances whose start is still to come (pending, installed, configured; not failed). */
  startPending: number;
}

interface CompState extends ComponentCounts {
  /** Requirer keys waiting for this component to unblock their configure. */
  waiters: Set<string>;
  /** Bumped on every change of one of its instances (memos of scans over the component). */
  gen: number;
  /** Bumped when the set of serving instances or one's node record changes (its consumers' wiring). */
  servingGen: number;
}

const noop = (): void => undefined;

export const componentKey = (deployment: string, component: string): string => `${deployment}\0${component}`;

export function splitComponentKey(key: string): { deployment: string; component: string } {
  const at = key.lastIndexOf('\0');
  return { deployment: key.slice(0, at), component: key.slice(at + 1) };
}

/** Whether a requirer's configure may go as far as this provider component is concerned. */
export const unblocks = (c: ComponentCounts): boolean => c.serving > 0 && c.startPending === 0;

export class ComponentStates {
  private readonly byKey = new Map<string, Contribution>();
  private readonly comps = new Map<string, CompState>();

  private state(comp: string): CompState {
    let s = this.comps.get(comp);
    if (!s) this.comps.set(comp, (s = { serving: 0, startPending: 0, waiters: new Set(), gen: 0, servingGen: 0 }));
    return s;
  }

  counts(deployment: string, component: string): ComponentCounts {
    return this.comps.get(componentKey(deployment, component)) ?? { serving: 0, startPending: 0 };
  }

  /** Changes of the component's instances so far (a memo of a scan is valid while it stays). */
  gen(deployment: string, component: string): number {
    return this.comps.get(componentKey(deployment, component))?.gen ?? 0;
  }

  /** Changes of what the component serves so far: its consumers' wiring is the same while it stays. */
  servingGen(deployment: string, component: string): number {
    return this.comps.get(componentKey(deployment, component))?.servingGen ?? 0;
  }

  /**
   * Recounts resource `key` from its current instance and node (`inst` undefined: it is gone),
   * handing the waiters it unblocks to `wake`. Returns the component key it belongs (or
   * belonged) to.
   */
  update(key: string, inst: InstanceRec | undefined, d: Deployment | undefined, nodes: ReadonlyMap<string, NodeRec>, wake: (key: string) => void = noop): string | undefined {
    const prev = this.byKey.get(key);
    let comp: string | undefined;
    let serving = false;
    let startPending = false;
    let address: string | undefined;
    let first: number | undefined;
    let count: number | undefined;
    if (inst && d) {
      const node = nodes.get(key);
      const ph = inst.phase;
      comp = prev && prev.deployment === inst.deployment && prev.component === inst.component ? prev.comp : componentKey(inst.deployment, inst.component);
      serving = servesTraffic(inst, nodes);
      startPending = inst.desired && d.spec.components[inst.component] !== undefined && (ph === 'pending' || ph === 'installed' || ph === 'configured') && node?.status !== 'failed';
      const o = serving ? node?.observed : undefined;
      address = o?.address;
      first = o?.ports?.first;
      count = o?.ports?.count;
    }
    // the common case of a full pass: counts unchanged (the generation moves on: scans of the component look again)
    if (prev && comp === prev.comp && serving === prev.serving && startPending === prev.startPending && address === prev.address && first === prev.first && count === prev.count) {
      this.state(comp).gen++;
      return comp;
    }
    if (prev) {
      const s = this.state(prev.comp);
      s.gen++;
      if (prev.serving) s.serving--;
      if (prev.startPending) s.startPending--;
      if (prev.serving) s.servingGen++;
      if (comp !== prev.comp) this.release(s, wake);
    }
    if (comp !== undefined) {
      const s = this.state(comp);
      s.gen++;
      if (serving) s.serving++;
      if (startPending) s.startPending++;
      if (serving) s.servingGen++;
      this.byKey.set(key, { deployment: inst!.deployment, component: inst!.component, comp, serving, startPending, address, first, count });
      this.release(s, wake);
    } else {
      this.byKey.delete(key);
    }
    return comp ?? prev?.comp;
  }

  private release(s: CompState, wake: (key: string) => void): void {
    if (s.waiters.size === 0 || !unblocks(s)) return;
    const keys = [...s.waiters];
    s.waiters.clear();
    for (const k of keys) wake(k);
  }

  /** Registers `key` as waiting for the component to unblock its configure. */
  wait(deployment: string, component: string, key: string): void {
    this.state(componentKey(deployment, component)).waiters.add(key);
  }

  /** Drops a deployment's components (it is gone). */
  forgetDeployment(deployment: string): void {
    const prefix = `${deployment}\0`;
    for (const k of this.comps.keys()) if (k.startsWith(prefix)) this.comps.delete(k);
  }
}
