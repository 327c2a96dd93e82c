/**
 * What backups (src/operations/backups) need of the engine to run a component's handlers
 * outside its lifecycle — the `backup` handler that writes a dump, `restore`, `verify` — and to
 * bring a copy of an instance up on a drill's scratch node: the handler environment (the
 * component's env with its secrets opened, the wiring, NUBIS_*), the health probe as the agent on
 * a given node runs it, and the deployment's artefacts as sent to agents.
 */
import type { CloudNode } from '../drivers/index.js';
import type { HealthProbe, InstanceFiles } from '../agent/index.js';
import { NubisError } from '../errors/index.js';
import type { EngineContext } from './context.js';
import { providedEndpoints, wiringEnv } from './wiring.js';
import type { WiringController } from './controllers/index.js';
import { healthProbe } from './controllers/index.js';

export interface HandlerPort {
  /**
   * The environment a handler of `instance` gets; `on`: as it would be on that node (its
   * address and provided ports) instead of the instance's own. `secrets`: values to mask in output.
   */
  env(deployment: string, instance: string, on?: CloudNode): { env: Record<string, string>; secrets: string[] };
  /** The component's health probe as the agent on `node` runs it; undefined when it has none. */
  probe(deployment: string, component: string, node: CloudNode): HealthProbe | undefined;
  /** The deployment's artefacts as the install step sends them. */
  artefacts(deployment: string): Promise<InstanceFiles[]>;
}

export function createHandlerPort(ctx: EngineContext, wiring: WiringController): HandlerPort {
  const dep = (name: string) => {
    const d = ctx.deployments.get(name);
    if (!d) throw new NubisError('NOT_FOUND', `no deployment ${name}`);
    return d;
  };
  return {
    env(deployment, instance, on) {
      const d = dep(deployment);
      const inst = ctx.instances.get(`${deployment}/${instance}`);
      if (!inst) throw new NubisError('NOT_FOUND', `no instance ${instance}`);
      const comp = d.spec.components[inst.component]!;
      const node = on ?? ctx.nodes.get(inst.key)?.observed;
      const secrets = comp.secretEnv && ctx.opts.openSecrets ? ctx.opts.openSecrets(d, comp) : {};
      const { wiring: w } = wiring.wiringFor(d, inst);
      const shown = on ? { ...w, provides: providedEndpoints(comp, on) } : w;
      const env = wiringEnv({ ...comp, env: { ...comp.env, ...secrets } }, shown, node?.address ?? '127.0.0.1', node?.graphite);
      return { env, secrets: Object.values(secrets) };
    },
    probe(deployment, component, node) {
      const comp = dep(deployment).spec.components[component];
      return comp ? healthProbe(comp, node) : undefined;
    },
    async artefacts(deployment) {
      const rows = await ctx.store.artefacts(dep(deployment).name);
      return rows.map((r) => ({ path: r.path, base64: Buffer.from(r.content).toString('base64'), mode: r.mode }));
    },
  };
}
