/**
 * Keeps the cloud handles in step with the registries and the deployments:
 * - a changed cloud entry or credential reaches the running handles: their drivers are built
 *   again with the credential as it is now and their health is reset (a stop is cleared), and
 *   nodes that failed on those clouds are tried again — no restart needed;
 * - handles no deployment uses any more (old option sets, clouds a plan or a removed deployment
 *   named) are closed, after every change and every `intervalMs`.
 */
import type { Clock } from '../clock/index.js';
import type { CloudHealthView } from '../drivers/index.js';
import type { CloudSpec } from '../model/types.js';
import type { RegistryChange } from '../registry/index.js';
import type { Store } from '../store/index.js';
import { cloudKey, type CloudRegistry, type PlacementSource } from './clouds.js';
import type { Engine } from './engine.js';
import type { Deployment } from './state.js';

export interface HandleKeeperOptions {
  engine: Engine;
  clouds: CloudRegistry;
  placement: PlacementSource;
  store: Store;
  clock: Clock;
  /** Default 30 000. */
  intervalMs?: number;
}

class HandleKeeper {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private retiring: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: HandleKeeperOptions) {}

  /** A deployment's cloud by name: its spec's, else the registered one. */
  specOf(d: Deployment, name: string): CloudSpec | undefined {
    if (!name) return undefined;
    return d.spec.clouds[name] ?? this.o.placement.cloud(d.tenant, name);
  }

  healthOf(d: Deployment, name: string): CloudHealthView | undefined {
    const spec = this.specOf(d, name);
    return spec ? this.o.clouds.peekHealth(spec, d.tenant) : undefined;
  }

  /** Keys of every handle a deployment or a node still needs. */
  usedKeys(): Set<string> {
    const { engine } = this.o;
    const used = new Set<string>();
    const add = (d: Deployment | undefined, name: string): void => {
      const spec = d ? this.specOf(d, name) : undefined;
      if (spec && d) used.add(cloudKey(spec, d.tenant));
    };
    for (const d of engine.deployments.values()) for (const c of Object.keys(d.spec.clouds)) add(d, c);
    for (const n of engine.nodes.values()) add(engine.deployments.get(n.deployment), n.cloud);
    return used;
  }

  /** Closes unused handles; runs one at a time. */
  retireSoon(): Promise<unknown> {
    this.retiring = this.retiring.then(() => this.o.clouds.retire(this.usedKeys())).catch(() => undefined);
    return this.retiring;
  }

  async changed(change: RegistryChange): Promise<void> {
    const { engine, clouds, placement } = this.o;
    // a change reaches only the handles of the tenant it was made in
    let match: (c: CloudSpec, tenant: string) => boolean;
    if (change.kind === 'credential') match = (c, tenant) => tenant === change.tenant && c.credential === change.name;
    else {
      const keys = new Set<string>();
      if (change.before) keys.add(cloudKey(change.before, change.tenant));
      const now = placement.cloud(change.tenant, change.name);
      if (now) keys.add(cloudKey(now, change.tenant));
      match = (c, tenant) => keys.has(cloudKey(c, tenant));
    }
    const touched = new Set(clouds.refresh(match, `${change.kind} ${change.name} changed`));
    // nodes that failed on those clouds get another chance
    for (const d of engine.deployments.values()) {
      const hit = engine.instancesOf(d.name).some((i) => {
        const n = engine.nodes.get(i.key);
        const spec = n ? this.specOf(d, n.cloud) : undefined;
        return n?.status === 'failed' && spec !== undefined && touched.has(cloudKey(spec, d.tenant));
      });
      if (hit) await this.o.store.write(...engine.resetFailures(d.name));
    }
    await this.retireSoon();
    for (const d of engine.deployments.keys()) engine.enqueue(d);
  }

  start(): void {
    const every = this.o.intervalMs ?? 30_000;
    if (every <= 0) return;
    this.loop = (async () => {
      for (;;) {
        try {
          await this.o.clock.sleep(every, this.abort.signal);
        } catch {
          return;
        }
        await this.retireSoon();
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.retiring;
  }
}

export function createHandleKeeper(o: HandleKeeperOptions): HandleKeeper {
  return new HandleKeeper(o);
}
