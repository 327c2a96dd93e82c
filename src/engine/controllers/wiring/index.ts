/**
 * The wiring controller: what an instance is told about the channels it requires, computed
 * from the current providers (desired, running) of the components it needs.
 */
import { computeWiring, wiringHash, type Wiring } from '../../wiring.js';
import type { Deployment, InstanceRec } from '../../state.js';
import type { EngineContext } from '../../context.js';

export class WiringController {
  readonly name = 'wiring';
  constructor(private readonly ctx: EngineContext) {}

  /** The instance's wiring now, and its hash (which changes exactly when its channels do). */
  wiringFor(d: Deployment, inst: InstanceRec): { wiring: Wiring; hash: string } {
    const comp = d.spec.components[inst.component]!;
    const needed = new Set(Object.values(comp.requires).map((ch) => ch.component));
    const byComponent = new Map<string, InstanceRec[]>();
    if (needed.size > 0) {
      for (const i of this.ctx.model.instancesIn(d.name)) {
        if (!needed.has(i.component)) continue;
        const l = byComponent.get(i.component) ?? [];
        l.push(i);
        byComponent.set(i.component, l);
      }
    }
    const wiring = computeWiring({ dep: d, inst, byComponent, nodes: this.ctx.nodes });
    return { wiring, hash: wiringHash(wiring) };
  }
}
