import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/model/index.js';
import { planDeployment, componentWiringHashes } from '../../src/engine/planner.js';
import { computeWiring } from '../../src/engine/wiring.js';
import { NodeReachability, applyReachability, unreachableLine, withDeadline } from '../../src/engine/reachability.js';
import type { Deployment, InstanceRec, NodeRec } from '../../src/engine/state.js';
import type { EventInput } from '../../src/events/index.js';
import { createRealClock } from '../../src/clock/index.js';

test('the agent source: a node is unreachable after the miss limit, once, and back on the first answer', () => {
  const r = new NodeReachability(3);
  assert.equal(r.agentMissed('n', 'timeout'), undefined);
  assert.equal(r.agentMissed('n', 'timeout'), undefined);
  assert.equal(r.isUnreachable('n'), false);
  const down = r.agentMissed('n', 'timeout');
  assert.equal(down?.down, true);
  assert.equal(down?.source, 'agent');
  assert.match(down!.reason, /missed 3 observations in a row \(timeout\)/);
  assert.equal(r.agentMissed('n', 'timeout'), undefined, 'no second change while down');
  assert.equal(r.isUnreachable('n'), true);
  const up = r.agentAnswered('n');
  assert.deepEqual(up && { down: up.down, source: up.source }, { down: false, source: 'agent' });
  assert.equal(r.misses('n'), 0);
  assert.equal(r.agentAnswered('n'), undefined, 'answering again changes nothing');
  // an answer between misses restarts the count
  r.agentMissed('n', 'x');
  r.agentMissed('n', 'x');
  r.agentAnswered('n');
  assert.equal(r.agentMissed('n', 'x'), undefined);
});

test('two sources: down while either says so, back only when both agree', () => {
  const r = new NodeReachability(1);
  assert.equal(r.cloudReported('n', false, 'running'), undefined, 'a running report of a reachable node is no change');
  assert.equal(r.cloudReported('n', true, 'the cloud reports the node error')?.down, true);
  assert.equal(r.agentMissed('n', 'refused'), undefined, 'already down');
  assert.equal(r.cloudReported('n', false, 'running again'), undefined, 'the agent still does not answer');
  assert.equal(r.isUnreachable('n'), true);
  const up = r.agentAnswered('n');
  assert.equal(up?.down, false);
  assert.equal(r.isUnreachable('n'), false);
  r.cloudReported('n', true, 'stopped');
  r.forget('n');
  assert.equal(r.isUnreachable('n'), false);
  assert.throws(() => new NodeReachability(0), RangeError);
});

const SPEC = `name: w
clouds: { c: { platform: sim } }
nodeTemplates: { t: { cloud: c } }
components:
  app: { nodeTemplate: t, instances: { count: 2 }, provides: { http: {} }, requires: { kv: { component: kv, port: kv, optional: true } }, lifecycle: { start: s } }
  kv: { nodeTemplate: t, provides: { kv: {} }, lifecycle: { start: s } }
  lb: { nodeTemplate: t, requires: { backends: { component: app, port: http, optional: true } }, lifecycle: { start: s, update: u } }
`;
const dep: Deployment = { name: 'w', tenant: 'default', spec: parseSpec(SPEC, { file: 'w.yaml' }), specText: SPEC, file: 'w.yaml', version: 1, status: 'active', counts: {}, ordinals: {}, createdAt: 0, updatedAt: 0 };
const inst = (component: string, ordinal: number): InstanceRec => ({
  key: `w/${component}-${ordinal}`, deployment: 'w', component, ordinal, name: `${component}-${ordinal}`, desired: true, phase: 'running',
  runSeq: 0, restarts: 0, attempts: 0, createdAt: 0, updatedAt: 0, health: 'healthy', processAlive: undefined,
});

function fixture(): { insts: InstanceRec[]; nodes: Map<string, NodeRec> } {
  const insts = [inst('app', 1), inst('app', 2), inst('kv', 1), inst('lb', 1)];
  const nodes = new Map(insts.map((i, n) => [i.key, { key: i.key, deployment: 'w', cloud: 'c', status: 'running' as const, token: 't', providerId: `p${n}`, observed: { id: `p${n}`, tags: {}, status: 'running' as const, address: `10.0.0.${n}`, createdAt: 0 }, attempts: 0, createdAt: 0, updatedAt: 0 }]));
  return { insts, nodes };
}

test('wiring leaves out a provider on an unreachable node; the lb gets an update; the unreachable instance gets no action', () => {
  const { insts, nodes } = fixture();
  const byComponent = new Map<string, InstanceRec[]>();
  for (const i of insts) byComponent.set(i.component, [...(byComponent.get(i.component) ?? []), i]);
  const lb = insts.find((i) => i.name === 'lb-1')!;
  lb.wiringHash = componentWiringHashes(dep, insts, nodes).get('lb');
  assert.deepEqual(computeWiring({ dep, inst: lb, byComponent, nodes }).requires['backends']!.map((e) => e.instance), ['app-1', 'app-2']);
  assert.equal(planDeployment({ dep, instances: insts, nodes, now: 0 }).filter((a) => a.target === 'w/lb-1').length, 0, 'in sync');

  nodes.get('w/app-2')!.unreachable = true;
  nodes.get('w/kv-1')!.unreachable = true;
  assert.deepEqual(computeWiring({ dep, inst: lb, byComponent, nodes }).requires['backends']!.map((e) => e.instance), ['app-1']);
  const actions = planDeployment({ dep, instances: insts, nodes, now: 0 });
  assert.deepEqual(actions.filter((a) => a.target === 'w/lb-1').map((a) => a.kind), ['update']);
  assert.deepEqual(actions.filter((a) => a.target === 'w/app-2'), [], 'nothing for the instance whose node does not answer');
  // app-1's kv channel lost its provider: it is updated; app-2 (unreachable) is not
  assert.deepEqual(actions.filter((a) => a.target === 'w/app-1').map((a) => a.kind), ['update']);

  nodes.get('w/app-2')!.unreachable = false;
  nodes.get('w/kv-1')!.unreachable = false;
  assert.equal(planDeployment({ dep, instances: insts, nodes, now: 0 }).filter((a) => a.target === 'w/lb-1').length, 0, 'restored: in sync again');
});

test('applyReachability marks the node, emits node and instance events, and queues a pass', async () => {
  const { insts, nodes } = fixture();
  const instances = new Map(insts.map((i) => [i.key, i]));
  const emitted: Omit<EventInput, 'actor'>[] = [];
  const queued: string[] = [];
  const ctx = { nodes, instances, now: () => 5000, emit: async (e: Omit<EventInput, 'actor'>) => void emitted.push(e), enqueue: (d: string) => void queued.push(d) };
  const r = new NodeReachability(1);
  await applyReachability(ctx, r.agentMissed('w/app-2', 'no answer within 2000 ms'));
  const n = nodes.get('w/app-2')!;
  assert.equal(n.unreachable, true);
  assert.equal(n.unreachableSince, 5000);
  assert.equal(instances.get('w/app-2')!.health, 'unknown');
  assert.deepEqual(emitted.map((e) => [e.kind, e.target]), [['node.unreachable', 'w/app-2'], ['instance.unreachable', 'w/app-2']]);
  assert.deepEqual(queued, ['w']);
  assert.match(unreachableLine(n, 12_000), /^node unreachable for 7 s: its agent missed 1 observations/);
  await applyReachability(ctx, undefined);
  assert.equal(emitted.length, 2, 'no change, no event');
  await applyReachability(ctx, r.agentAnswered('w/app-2'));
  assert.equal(n.unreachable, false);
  assert.equal(n.unreachableReason, undefined);
  assert.deepEqual(emitted.slice(2).map((e) => e.kind), ['node.reachable', 'instance.reachable']);
});

test('withDeadline aborts a call that does not answer, and passes results and the parent abort through', async () => {
  const clock = createRealClock();
  const parent = new AbortController();
  const hang = (signal: AbortSignal): Promise<never> => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
  await assert.rejects(withDeadline(clock, 20, parent.signal, hang), (e: Error & { code?: string }) => e.code === 'AGENT_UNREACHABLE');
  assert.equal(await withDeadline(clock, 10_000, parent.signal, async () => 7), 7);
  const p = withDeadline(clock, 10_000, parent.signal, hang);
  parent.abort(new Error('stopping'));
  await assert.rejects(p, /stopping/);
});
