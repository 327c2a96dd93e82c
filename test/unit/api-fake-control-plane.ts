/**
 * A small in-memory ControlPlane for API route tests: it keeps views in a map and appends
 * real events to a real EventLog. A spec named `boom` makes apply throw a plain Error, to
 * prove a bug becomes INTERNAL (500) without taking the server down.
 */
import { parse } from 'yaml';
import { NubisError } from '../../src/errors/index.js';
import type { EventLog } from '../../src/events/index.js';
import type { Caller, ControlPlane, DeploymentView, SpecInput } from '../../src/engine/views.js';
import { Spec } from '../../src/model/schema.js';

function specName(input: SpecInput): { name: string; count: number } {
  let doc: unknown;
  try {
    doc = parse(input.spec);
  } catch (e) {
    throw new NubisError('SPEC_INVALID', 'the spec is not valid YAML', {
      details: { problems: [{ message: `${input.file ?? 'spec.yaml'}:1:1: $: expected YAML, found ${String(e).slice(0, 40)}` }] },
    });
  }
  const d = doc as { name?: unknown; components?: { app?: { instances?: { count?: number } } } } | null;
  if (!d || typeof d.name !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(d.name)) {
    throw new NubisError('SPEC_INVALID', 'the spec has 1 problem', {
      details: { problems: [{ message: `${input.file ?? 'spec.yaml'}:1:1: $.name: expected string matching /^[a-z][a-z0-9-]{0,39}$/, found nothing` }] },
    });
  }
  return { name: d.name, count: d.components?.app?.instances?.count ?? 1 };
}

export function createFakeControlPlane(events: EventLog): ControlPlane {
  const deployments = new Map<string, DeploymentView>();
  const now = (): string => new Date(0).toISOString();
  const view = (name: string, version: number, count: number): DeploymentView => ({
    name,
    state: 'ready',
    version,
    createdAt: now(),
    updatedAt: now(),
    components: [{ name: 'app', desired: count, running: count, min: 0, max: 10 }],
    instances: Array.from({ length: count }, (_, i) => ({
      name: `app-${i + 1}`,
      component: 'app',
      ordinal: i + 1,
      desired: true,
      phase: 'running' as const,
      health: 'healthy' as const,
      node: { key: `${name}/app-${i + 1}`, cloud: 'sim', state: 'running' as const },
      endpoints: { http: `127.0.0.1:${8000 + i}` },
      createdAt: now(),
    })),
  });
  const get = (name: string): DeploymentView => {
    const d = deployments.get(name);
    if (!d) throw new NubisError('NOT_FOUND', `no deployment named "${name}"`);
    return d;
  };
  return {
    events,
    async plan(input) {
      const { name, count } = specName(input);
      const actions = Array.from({ length: count }, (_, i) => ({
        id: `create-node:${name}/app-${i + 1}`,
        kind: 'create-node' as const,
        target: `${name}/app-${i + 1}`,
        cloud: 'sim',
        after: [],
        reason: 'new instance',
      }));
      return { deployment: name, create: !deployments.has(name), actions, summary: { add: count, change: 0, remove: 0 } };
    },
    async apply(input, caller: Caller) {
      const { name, count } = specName(input);
      if (name === 'boom') throw new Error('simulated bug');
      const v = view(name, (deployments.get(name)?.version ?? 0) + 1, count);
      deployments.set(name, v);
      const ev = { deployment: name, kind: 'deployment.applied', actor: caller.actor, target: name, outcome: 'ok' };
      await events.append(caller.correlationId ? { ...ev, correlationId: caller.correlationId } : ev);
      return v;
    },
    async listDeployments() {
      return [...deployments.values()].map((d) => ({
        name: d.name, state: d.state, version: d.version, instances: { desired: d.instances.length, running: d.instances.length },
      }));
    },
    async getDeployment(name) {
      return get(name);
    },
    async endpoints(name) {
      return get(name).instances.flatMap((i) => Object.entries(i.endpoints).map(([port, address]) => ({ instance: i.name, component: i.component, port, address })));
    },
    async scale(name, component, count, caller) {
      const d = get(name);
      const c = d.components.find((x) => x.name === component);
      if (!c) throw new NubisError('NOT_FOUND', `deployment "${name}" has no component "${component}"`);
      if (count < c.min || count > c.max) throw new NubisError('SCALE_OUT_OF_BOUNDS', `count ${count} is outside ${c.min}..${c.max}`);
      const v = view(name, d.version + 1, count);
      deployments.set(name, v);
      await events.append({ deployment: name, kind: 'deployment.scaled', actor: caller.actor, target: `${name}/${component}` });
      return v;
    },
    async destroy(name, caller) {
      const d = { ...get(name), state: 'destroying' as const };
      deployments.delete(name);
      await events.append({ deployment: name, kind: 'deployment.destroying', actor: caller.actor, target: name });
      return d;
    },
    async logs(deployment, instance, step) {
      const d = get(deployment);
      if (!d.instances.some((i) => i.name === instance)) throw new NubisError('NOT_FOUND', `no instance "${instance}" in "${deployment}"`);
      const all = [{ step: 'install' as const, runId: 'r1', state: 'done', exitCode: 0, startedAt: now(), endedAt: now(), output: 'installed\n' }];
      return step ? all.filter((l) => l.step === step) : all;
    },
    specSchema() {
      return JSON.parse(JSON.stringify(Spec)) as object;
    },
  };
}
