/**
 * The wiring controller: what an instance is told about the channels it requires, computed
 * from the current providers (desired, running, on a node that answers) of the components it
 * needs. The providers come from the per-component index (no scan of the deployment per
 * step); ../../wiring.ts memoizes the lists, the `requires` record and its hash while the
 * providers stay the same.
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
    const byComponent = new Map<string, InstanceRec[]>();
    for (const ch of Object.values(comp.requires)) {
      if (!byComponent.has(ch.component)) byComponent.set(ch.component, [...this.ctx.model.instancesOfComponent(d.name, ch.component)]);
    }
    const wiring = computeWiring({ dep: d, inst, byComponent, nodes: this.ctx.nodes });
    return { wiring, hash: wiringHash(wiring) };
  }
}
