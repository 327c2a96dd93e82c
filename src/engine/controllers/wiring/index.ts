/**
 * The wiring controller: what an instance is told about the channels it requires, computed
 * from the current providers (desired, running, on a node that answers) of the components it
 * needs. What a component's instances require is the same for all of them, so it is computed
 * and hashed once per consumer component and kept while its inputs — the spec version and
 * each serving provider with its node's address and ports — stay the same.
 */
import { computeWiring, providedEndpoints, servesTraffic, wiringHash, type Wiring } from '../../wiring.js';
import type { Deployment, InstanceRec } from '../../state.js';
import type { EngineContext } from '../../context.js';

interface Cached {
  inputs: string;
  requires: Wiring['requires'];
  hash: string;
}

export class WiringController {
  readonly name = 'wiring';
  /** `deployment\0component` → the component's requires as last computed. */
  private readonly cache = new Map<string, Cached>();
  private hits = 0;
  private misses = 0;

  constructor(private readonly ctx: EngineContext) {}

  /** The instance's wiring now, and its hash (which changes exactly when its channels do). */
  wiringFor(d: Deployment, inst: InstanceRec): { wiring: Wiring; hash: string } {
    const { ctx } = this;
    const comp = d.spec.components[inst.component]!;
    const needed = new Set(Object.values(comp.requires).map((ch) => ch.component));
    const byComponent = new Map<string, InstanceRec[]>();
    if (needed.size === 0) {
      const wiring = computeWiring({ dep: d, inst, byComponent, nodes: ctx.nodes });
      return { wiring, hash: wiringHash(wiring) };
    }
    const inputs = this.inputsOf(d, needed);
    const ck = `${d.name}\0${inst.component}`;
    const c = this.cache.get(ck);
    if (c && c.inputs === inputs) {
      this.hits++;
      const wiring: Wiring = {
        deployment: d.name, component: inst.component, instance: inst.name,
        provides: providedEndpoints(comp, ctx.nodes.get(inst.key)?.observed),
        requires: c.requires,
      };
      return { wiring, hash: c.hash };
    }
    this.misses++;
    for (const name of needed) byComponent.set(name, [...ctx.model.instancesOfComponent(d.name, name)]);
    const wiring = computeWiring({ dep: d, inst, byComponent, nodes: ctx.nodes });
    const hash = wiringHash(wiring);
    this.cache.set(ck, { inputs, requires: wiring.requires, hash });
    return { wiring, hash };
  }

  /** Drops a deployment's cached wiring (it was destroyed or forgotten). */
  forget(deployment: string): void {
    for (const k of this.cache.keys()) if (k.startsWith(`${deployment}\0`)) this.cache.delete(k);
  }

  /** Cache hits and misses so far. */
  stats(): { hits: number; misses: number } {
    return { hits: this.hits, misses: this.misses };
  }

  /** Everything `requires` is computed from: the spec version and each serving provider's endpoint inputs. */
  private inputsOf(d: Deployment, needed: Set<string>): string {
    const { nodes } = this.ctx;
    let s = String(d.version);
    for (const name of needed) {
      s += `|${name}:`;
      for (const p of this.ctx.model.instancesOfComponent(d.name, name)) {
        if (!servesTraffic(p, nodes)) continue;
        const o = nodes.get(p.key)?.observed;
        s += `${p.ordinal}@${o?.address ?? ''}/${o?.ports ? `${o.ports.first}+${o.ports.count}` : ''},`;
      }
    }
    return s;
  }
}
