import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/model/index.js';
import { componentWiringHashes, planDeployment, planInstance, requirerHoldsStop } from '../../src/engine/planner.js';
import { ComponentStates, unblocks } from '../../src/engine/component-state.js';
import type { Deployment, InstanceRec, NodeRec } from '../../src/engine/state.js';
import { servesTraffic } from '../../src/engine/wiring.js';
import type { InstancePhase, NodeState } from '../../src/engine/views.js';

const SPEC = `name: w
clouds: { c: { platform: sim } }
nodeTemplates: { t: { cloud: c } }
components:
  kv: { nodeTemplate: t, instances: { count: 2, max: 10 }, provides: { kv: {} }, lifecycle: { start: s } }
  app:
    nodeTemplate: t
    instances: { count: 3, max: 10 }
    provides: { http: {} }
    requires: { kv: { component: kv, port: kv } }
    lifecycle: { start: s }
  lb:
    nodeTemplate: t
    instances: { count: 2, max: 10 }
    requires: { backends: { component: app, port: http, optional: true } }
    lifecycle: { start: s, update: u }
`;
const SPEC_OBJ = parseSpec(SPEC, { file: 'w.yaml' });

/** A small deterministic generator (the same cases every run). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** Weighted towards the states where one instance holds back another (running requirers, installed consumers). */
const PHASES: InstancePhase[] = ['pending', 'installed', 'installed', 'configured', 'started', 'running', 'running', 'running', 'running', 'stopping', 'stopped', 'failed'];
const NODE_STATES: (NodeState | undefined)[] = ['pending', 'creating', 'provisioning', 'running', 'running', 'running', 'running', 'running', 'running', 'deleting', 'failed', undefined];

function randomState(r: () => number): { d: Deployment; insts: InstanceRec[]; nodes: Map<string, NodeRec> } {
  const d: Deployment = {
    name: 'w', tenant: 'default', spec: SPEC_OBJ, specText: SPEC, file: 'w.yaml', version: 1, status: r() < 0.2 ? 'destroying' : 'active',
    counts: {}, ordinals: {}, createdAt: 0, updatedAt: 0,
  };
  const insts: InstanceRec[] = [];
  const nodes = new Map<string, NodeRec>();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  for (const component of ['kv', 'app', 'lb']) {
    const n = 1 + Math.floor(r() * 3);
    for (let o = 1; o <= n; o++) {
      const name = `${component}-${o}`;
      const key = `w/${name}`;
      insts.push({
        key, deployment: 'w', component, ordinal: o, name, desired: d.status === 'destroying' ? false : r() < 0.75, phase: pick(PHASES),
        ...(r() < 0.5 ? { wiringHash: pick(['stale', 'other']) } : {}),
        runSeq: 0, restarts: 0, attempts: 0, createdAt: 0, updatedAt: 0,
        health: pick(['healthy', 'healthy', 'unknown', 'unhealthy'] as const), processAlive: pick([undefined, undefined, true, false]),
        ...(r() < 0.15 ? { notBefore: 100 } : {}),
      });
      const status = pick(NODE_STATES);
      if (status) {
        nodes.set(key, {
          key, deployment: 'w', cloud: 'c', status, token: 't', providerId: `p-${key}`,
          observed: { id: `p-${key}`, tags: {}, status: 'running', address: `10.0.${o}.${component.length}`, createdAt: 0 },
          attempts: 0, createdAt: 0, updatedAt: 0, ...(r() < 0.1 ? { unreachable: true } : {}), ...(r() < 0.1 ? { notBefore: 100 } : {}),
          ...(status === 'failed' && r() < 0.5 ? { lastError: 'delete failed: X' } : {}),
        });
      }
    }
  }
  return { d, insts, nodes };
}

/**
 * The engine plans each instance alone, deciding readiness from counts of its providers and
 * requirers (planInstance); the deployment's graph (planDeployment) links those actions to the
 * other instances' actions they wait for. The two views must agree: whatever is ready has no
 * dependency left in the graph, and whatever is held back by another instance names an
 * action of that instance in the graph (or a mandatory channel nobody serves).
 */
test('plan graph: counts-based readiness agrees with the dependencies in the plan (1,000 random states)', () => {
  const r = prng(7);
  let heldByOthers = 0;
  for (let c = 0; c < 1000; c++) {
    const { d, insts, nodes } = randomState(r);
    const now = 50;
    const actions = planDeployment({ dep: d, instances: insts, nodes, now });
    const ids = new Set(actions.map((a) => a.id));
    const byKey = new Map(insts.map((i) => [i.key, i]));
    for (const a of actions) {
      const i = byKey.get(a.target)!;
      const where = `case ${c}, ${a.id} (${i.phase}, desired ${i.desired}, node ${nodes.get(i.key)?.status})`;
      const open = a.after.filter((x) => ids.has(x));
      if (a.ready) assert.deepEqual(open, [], `${where}: ready with a dependency left`);
      const ownChainClear = !open.some((x) => x.endsWith(`:${a.target}`));
      const others = open.filter((x) => !x.endsWith(`:${a.target}`));
      if (a.kind === 'stop') {
        assert.equal(a.ready, others.length === 0, `${where}: a stop is ready exactly when no requirer's update or stop is left`);
        if (!a.ready) heldByOthers++;
      }
      if (a.kind === 'configure' && ownChainClear && i.phase === 'installed' && nodes.get(i.key)?.status === 'running' && (i.notBefore ?? 0) <= now) {
        const unserved = Object.values(d.spec.components[i.component]!.requires).some((ch) => !ch.optional && !insts.some((p) => p.component === ch.component && servesTraffic(p, nodes)));
        assert.equal(a.ready, others.length === 0 && !unserved, `${where}: a configure is ready exactly when its providers serve and none is still to start`);
        if (!a.ready) heldByOthers++;
      }
    }
  }
  assert.ok(heldByOthers > 200, `the random states hold actions back by other instances often enough (${heldByOthers})`);
});

test("planInstance: the engine's incremental counts (fed in any order, repeated) plan what the whole graph plans", () => {
  const r = prng(11);
  for (let c = 0; c < 200; c++) {
    const { d, insts, nodes } = randomState(r);
    const now = 50;
    const whole = planDeployment({ dep: d, instances: insts, nodes, now });
    const hashes = componentWiringHashes(d, insts, nodes);
    const states = new ComponentStates();
    // an earlier state of every resource first, then the current one in a shuffled order, some twice
    for (const i of insts) states.update(i.key, { ...i, phase: 'pending', desired: true }, d, new Map());
    const order = [...insts, ...insts.filter(() => r() < 0.3)].sort(() => r() - 0.5);
    for (const i of order) states.update(i.key, i, d, nodes);
    const requirers: Record<string, string[]> = { kv: ['app'], app: ['lb'], lb: [] };
    for (const i of insts) {
      const mine = planInstance(i, {
        dep: d, nodes, now,
        counts: (comp) => states.counts('w', comp),
        hash: (comp) => hashes.get(comp),
        requirersBusy: (comp) => insts.some((x) => x.component === comp && requirerHoldsStop(d, x, nodes, hashes.get(comp))),
        requirersOf: (comp) => requirers[comp] ?? [],
      }).actions;
      const theirs = whole.filter((a) => a.target === i.key);
      const show = (as: typeof whole): string[] => as.map((a) => `${a.kind}${a.ready ? '!' : ''}`);
      assert.deepEqual(show(mine), show(theirs), `case ${c}, ${i.key}`);
    }
  }
});

test('component counts: kept by difference, so a repeated or missed notification does not drift; waiters are handed back once when unblocked', () => {
  const d: Deployment = { name: 'w', tenant: 'default', spec: SPEC_OBJ, specText: SPEC, file: 'w.yaml', version: 1, status: 'active', counts: {}, ordinals: {}, createdAt: 0, updatedAt: 0 };
  const mk = (o: number, phase: InstancePhase): InstanceRec => ({
    key: `w/kv-${o}`, deployment: 'w', component: 'kv', ordinal: o, name: `kv-${o}`, desired: true, phase, runSeq: 0, restarts: 0, attempts: 0, createdAt: 0, updatedAt: 0, health: 'unknown', processAlive: undefined,
  });
  const nodes = new Map<string, NodeRec>();
  const up = (i: InstanceRec): void => void nodes.set(i.key, { key: i.key, deployment: 'w', cloud: 'c', status: 'running', token: 't', attempts: 0, createdAt: 0, updatedAt: 0 });
  const s = new ComponentStates();
  const a = mk(1, 'pending');
  const b = mk(2, 'pending');
  up(a);
  up(b);
  s.update(a.key, a, d, nodes);
  s.update(a.key, a, d, nodes); // repeated: no double count
  s.update(b.key, b, d, nodes);
  const { serving, startPending } = s.counts('w', 'kv');
  assert.deepEqual({ serving, startPending }, { serving: 0, startPending: 2 });
  s.wait('w', 'kv', 'w/app-1');
  a.phase = 'running';
  b.phase = 'installed';
  const woken = (i: InstanceRec): string[] => {
    const out: string[] = [];
    s.update(i.key, i, d, nodes, (k) => out.push(k));
    return out;
  };
  // a's change reported, b's change (pending → installed) never reported: still counted as to start
  assert.deepEqual(woken(a), [], 'b still to start');
  assert.equal(unblocks(s.counts('w', 'kv')), false);
  b.phase = 'running';
  assert.deepEqual(woken(b), ['w/app-1'], 'unblocked: the waiter comes back');
  assert.equal(s.counts('w', 'kv').serving, 2);
  assert.deepEqual(woken(b), [], 'handed back once');
  // gone: its contribution is taken back
  s.update(a.key, undefined, d, nodes);
  assert.equal(s.counts('w', 'kv').serving, 1);
  assert.ok(s.servingGen('w', 'kv') >= 3, 'each change of what it serves bumps the serving generation');
});

/**
 * A requirer without an update handler pays a wiring change with a restart: while one of its
 * providers is restarting (still to start), its return may undo the change, so the restart
 * waits; a requirer with an update handler is told at once.
 */
test('planInstance: a channel change restarts a requirer without update handler only once no provider is still to start', () => {
  const d: Deployment = { name: 'w', tenant: 'default', spec: SPEC_OBJ, specText: SPEC, file: 'w.yaml', version: 1, status: 'active', counts: {}, ordinals: {}, createdAt: 0, updatedAt: 0 };
  const nodes = new Map<string, NodeRec>();
  const inst = (component: string): InstanceRec => {
    const key = `w/${component}-1`;
    nodes.set(key, { key, deployment: 'w', cloud: 'c', status: 'running', token: 't', attempts: 0, createdAt: 0, updatedAt: 0 });
    return { key, deployment: 'w', component, ordinal: 1, name: `${component}-1`, desired: true, phase: 'running', wiringHash: 'old', runSeq: 0, restarts: 0, attempts: 0, createdAt: 0, updatedAt: 0, health: 'healthy', processAlive: true };
  };
  const app = inst('app');
  const lb = inst('lb');
  const planned = (i: InstanceRec, startPending: number): string[] =>
    planInstance(i, {
      dep: d, nodes, now: 0,
      counts: () => ({ serving: 1, startPending }),
      hash: () => 'new',
      requirersBusy: () => false,
      requirersOf: () => [],
    }).actions.map((a) => `${a.kind}${a.ready ? '!' : ''}`);
  assert.deepEqual(planned(app, 1), ['update'], 'held while a kv instance is still to start');
  assert.deepEqual(planned(app, 0), ['update!']);
  assert.deepEqual(planned(lb, 1), ['update!'], 'an update handler is run at once');
});
