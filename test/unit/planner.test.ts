import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/model/index.js';
import { decideScale, planDeployment, previewPlan } from '../../src/engine/planner.js';
import type { Deployment, InstanceRec, NodeRec } from '../../src/engine/state.js';
import type { InstancePhase, NodeState } from '../../src/engine/views.js';

const SPEC = `name: w
clouds: { c: { platform: sim } }
nodeTemplates: { t: { cloud: c } }
components:
  kv: { nodeTemplate: t, provides: { kv: {} }, lifecycle: { start: s } }
  app:
    nodeTemplate: t
    instances: { count: 3, max: 10 }
    provides: { http: {} }
    requires: { kv: { component: kv, port: kv } }
    lifecycle: { start: s }
  lb:
    nodeTemplate: t
    requires: { backends: { component: app, port: http, optional: true } }
    lifecycle: { start: s, update: u }
`;

function dep(over: Partial<Deployment> = {}): Deployment {
  return { name: 'w', tenant: 'default', spec: parseSpec(SPEC, { file: 'w.yaml' }), specText: SPEC, file: 'w.yaml', version: 1, status: 'active', counts: {}, ordinals: {}, createdAt: 0, updatedAt: 0, ...over };
}

function inst(component: string, ordinal: number, phase: InstancePhase, extra: Partial<InstanceRec> = {}): InstanceRec {
  const name = `${component}-${ordinal}`;
  return { key: `w/${name}`, deployment: 'w', component, ordinal, name, desired: true, phase, runSeq: 0, restarts: 0, attempts: 0, createdAt: ordinal, updatedAt: 0, health: 'healthy', processAlive: undefined, ...extra };
}

function nodesFor(insts: InstanceRec[], status: NodeState = 'running'): Map<string, NodeRec> {
  return new Map(insts.map((i, n) => [i.key, { key: i.key, deployment: 'w', cloud: 'c', status, token: 't', providerId: `p${n}`, observed: { id: `p${n}`, tags: {}, status: 'running', address: `10.0.0.${n}`, createdAt: 0 }, attempts: 0, createdAt: 0, updatedAt: 0 }]));
}

test('a new deployment plans nodes, steps in order, and mandatory channels before configure', () => {
  const actions = previewPlan(dep(), [], new Map(), 0);
  assert.equal(actions.filter((a) => a.kind === 'create-node').length, 5);
  const conf = actions.find((a) => a.id === 'configure:w/app-2')!;
  assert.deepEqual(conf.after.sort(), ['install:w/app-2', 'start:w/kv-1']);
  // the optional channel does not hold lb back
  assert.deepEqual(actions.find((a) => a.id === 'configure:w/lb-1')!.after, ['install:w/lb-1']);
  assert.ok(actions.filter((a) => a.ready).every((a) => a.kind === 'create-node'));
});

test('scale-in takes the youngest first, or the oldest when asked; ordinals are never reused', () => {
  const insts = [1, 2, 3, 4].map((o) => inst('app', o, 'running'));
  const d = dep({ counts: { app: 2 }, ordinals: { app: 5 } });
  assert.deepEqual(decideScale(d, [...insts, inst('kv', 1, 'running'), inst('lb', 1, 'running')]).remove.sort(), ['w/app-3', 'w/app-4']);
  const oldest = dep({ counts: { app: 2 }, ordinals: { app: 5 } });
  const spec = { ...oldest.spec, components: { ...oldest.spec.components, app: { ...oldest.spec.components['app']!, scaleIn: 'oldest' as const } } };
  assert.deepEqual(decideScale({ ...oldest, spec }, insts).remove.sort(), ['w/app-1', 'w/app-2']);
  const out = decideScale(dep({ counts: { app: 6 }, ordinals: { app: 5, kv: 2, lb: 2 } }), [...insts, inst('kv', 1, 'running'), inst('lb', 1, 'running')]);
  assert.deepEqual(out.add, [{ component: 'app', ordinal: 5 }, { component: 'app', ordinal: 6 }]);
});

test('a changed channel updates its requirers; a retiring provider waits for that update', () => {
  const insts = [inst('kv', 1, 'running'), inst('app', 1, 'running', { wiringHash: 'x' }), inst('app', 2, 'running', { desired: false }), inst('lb', 1, 'running', { wiringHash: 'stale' })];
  const actions = planDeployment({ dep: dep(), instances: insts, nodes: nodesFor(insts), now: 0 });
  const update = actions.find((a) => a.id === 'update:w/lb-1')!;
  assert.ok(update.ready);
  const stop = actions.find((a) => a.id === 'stop:w/app-2')!;
  assert.deepEqual(stop.after, ['update:w/lb-1']);
  assert.equal(stop.ready, false);
  assert.deepEqual(actions.find((a) => a.id === 'delete-node:w/app-2')!.after, ['stop:w/app-2']);
});

test('destroy stops requirers before their providers', () => {
  const insts = [inst('kv', 1, 'running', { desired: false }), inst('app', 1, 'running', { desired: false }), inst('lb', 1, 'running', { desired: false })];
  const actions = planDeployment({ dep: dep({ status: 'destroying' }), instances: insts, nodes: nodesFor(insts), now: 0 });
  assert.deepEqual(actions.find((a) => a.id === 'stop:w/kv-1')!.after, ['stop:w/app-1']);
  assert.deepEqual(actions.find((a) => a.id === 'stop:w/app-1')!.after, ['stop:w/lb-1']);
  assert.deepEqual(actions.filter((a) => a.ready).map((a) => a.id), ['stop:w/lb-1']);
});

test('property: random states never plan two ready actions for one instance, nor anything for busy or failed ones', () => {
  const phases: InstancePhase[] = ['pending', 'installed', 'configured', 'started', 'running', 'stopping', 'stopped', 'failed'];
  const states: NodeState[] = ['pending', 'creating', 'provisioning', 'running', 'deleting', 'failed'];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let trial = 0; trial < 500; trial++) {
    const insts: InstanceRec[] = [];
    for (const [c, n] of [['kv', 2], ['app', 4], ['lb', 2]] as const) {
      for (let o = 1; o <= rnd(n + 1); o++) {
        insts.push(inst(c, o, phases[rnd(phases.length)]!, { desired: rnd(4) > 0, processAlive: rnd(5) === 0 ? false : undefined, health: rnd(5) === 0 ? 'unhealthy' : 'healthy' }));
      }
    }
    const nodes = nodesFor(insts);
    for (const n of nodes.values()) n.status = states[rnd(states.length)]!;
    const busy = new Set(insts.filter(() => rnd(6) === 0).map((i) => i.key));
    const d = dep({ status: rnd(5) === 0 ? 'destroying' : 'active' });
    const actions = planDeployment({ dep: d, instances: insts, nodes, now: 0, busy });
    const readyPer = new Map<string, number>();
    for (const a of actions) {
      assert.ok(!busy.has(a.target), 'nothing planned for a busy instance');
      const i = insts.find((x) => x.key === a.target)!;
      if (i.desired && d.status !== 'destroying') {
        assert.notEqual(i.phase, 'failed');
        assert.notEqual(a.kind, 'delete-node', 'a wanted instance is never deleted');
      }
      if (a.ready) readyPer.set(a.target, (readyPer.get(a.target) ?? 0) + 1);
      for (const dep of a.after) if (a.ready) assert.ok(!actions.some((b) => b.id === dep), 'ready means no pending dependency');
    }
    for (const [k, n] of readyPer) assert.equal(n, 1, `one ready action for ${k}`);
  }
});
