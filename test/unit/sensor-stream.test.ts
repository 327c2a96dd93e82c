/**
 * Sensor data on its way to a rule, unit by unit: the agent buffer's held read (waitFor), the
 * control plane's per-node agent streams (held reads against a real sample buffer; failures
 * counted and retried), which series a rule reads, and the evaluator woken by data (a rule on a
 * 10-minute interval acts on new data at once) with the observed values in its report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRealClock, createVirtualClock } from '../../src/clock/index.js';
import { createSampleBuffer, type AgentMetricsClient } from '../../src/agent/sensors/index.js';
import { createAgentStreams } from '../../src/metrics/index.js';
import type { Sample } from '../../src/metrics/types.js';
import { parseSpec } from '../../src/model/parse.js';
import type { RuleSpec } from '../../src/model/types.js';
import { createRuleEvaluator, ruleReads, readsAny, type RuleReport } from '../../src/scaling/index.js';
import type { NodeRec, InstanceRec } from '../../src/engine/state.js';

const sample = (v: number, labels: Record<string, string> = {}): Sample => ({ name: 'node.memory.bytes', labels, t: Date.now(), v });

test('waitFor: at once when data waits, on the next append, after its time, or when aborted', async () => {
  const b = createSampleBuffer(10);
  b.append([sample(1)]);
  await b.waitFor(0, 60_000); // a sample beyond 0 is there: no wait
  let woke = false;
  const held = b.waitFor(1, 60_000).then(() => (woke = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(woke, false, 'nothing beyond cursor 1 yet');
  b.append([sample(2)]);
  await held;
  assert.equal(woke, true);
  const t0 = Date.now();
  await b.waitFor(2, 30);
  assert.ok(Date.now() - t0 >= 25, 'an idle wait ends after its time');
  const ac = new AbortController();
  const aborted = b.waitFor(2, 60_000, ac.signal);
  ac.abort();
  await aborted;
  await b.waitFor(99, 60_000); // a cursor of another epoch answers at once (the read resets)
});

function fakeEngine(): { nodes: Map<string, NodeRec>; instancesOf(d: string): InstanceRec[] } {
  const node = { key: 'd/n1', deployment: 'd', cloud: 'local', status: 'running', token: 't', observed: { agent: { url: 'http://agent', token: 'tok' } }, attempts: 0, createdAt: 0, updatedAt: 0 } as unknown as NodeRec;
  const inst = { key: 'd/n1', deployment: 'd', component: 'app', name: 'app-1', desired: true, phase: 'running' } as unknown as InstanceRec;
  return { nodes: new Map([[node.key, node]]), instancesOf: (d) => (d === 'd' ? [inst] : []) };
}

test('agent streams: a held read per running node hands samples over as they are appended, labelled with the node and its instance', async () => {
  const buffer = createSampleBuffer(1000);
  let reads = 0;
  const client: AgentMetricsClient = {
    monitors: async () => [],
    setMonitor: async (s) => s,
    removeMonitor: async () => true,
    async metrics(after, opts = {}) {
      reads++;
      await buffer.waitFor(after, opts.waitMs ?? 0, opts.signal);
      return buffer.read(after, opts.limit ?? 100);
    },
  };
  const got: { samples: Sample[]; deployment: string }[] = [];
  let arrived: () => void = () => {};
  const streams = createAgentStreams({
    clock: createRealClock(), engine: fakeEngine(), agentClient: () => client, deploymentName: (id) => `name-of-${id}`,
    ingest: (samples, deployment) => {
      got.push({ samples, deployment });
      arrived();
    },
    holdMs: 60_000,
  });
  streams.sync();
  assert.deepEqual(streams.nodes(), ['d/n1']);
  const first = new Promise<void>((r) => (arrived = r));
  buffer.append([sample(5)]);
  await first; // the held read answered on the append, not after its 60 s hold
  assert.equal(got.length, 1);
  assert.equal(got[0]!.deployment, 'd');
  assert.deepEqual(got[0]!.samples[0]!.labels, { deployment: 'name-of-d', cloud: 'local', node: 'n1', instance: 'app-1', component: 'app' });
  const second = new Promise<void>((r) => (arrived = r));
  buffer.append([sample(6, { instance: 'app-1' })]);
  await second;
  assert.equal(got[1]!.samples[0]!.v, 6, 'the cursor moved on: only the new sample');
  assert.ok(reads >= 2);
  await streams.stop(); // ends the held read at once
  assert.deepEqual(streams.nodes(), []);
});

test('agent streams: failed reads are counted and retried with backoff; a node that stops running loses its stream', async () => {
  const clock = createVirtualClock(0);
  const errors: string[] = [];
  let calls = 0;
  const client: AgentMetricsClient = {
    monitors: async () => [], setMonitor: async (s) => s, removeMonitor: async () => true,
    async metrics() {
      calls++;
      throw new Error('down');
    },
  };
  const engine = fakeEngine();
  const streams = createAgentStreams({ clock, engine, agentClient: () => client, deploymentName: (id) => id, ingest: () => undefined, onError: (n) => errors.push(n), retryMs: 100 });
  streams.sync();
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 1);
  await clock.advance(99);
  assert.equal(calls, 1, 'waits its backoff');
  await clock.advance(1);
  assert.equal(calls, 2);
  await clock.advance(199);
  assert.equal(calls, 2, 'the backoff doubled');
  await clock.advance(1);
  assert.equal(calls, 3);
  assert.deepEqual(errors, ['d/n1', 'd/n1', 'd/n1']);
  engine.nodes.get('d/n1')!.status = 'deleting' as NodeRec['status'];
  streams.sync();
  assert.deepEqual(streams.nodes(), []);
  await streams.stop();
});

test('ruleReads: the metric names a condition selects; a regex name reads any', () => {
  const r = ruleReads({ kind: 'and', of: [
    { kind: 'all', cmp: { expr: 'avg_over_time(cpu{component="app"}[1m])', above: 1 } },
    { kind: 'not', of: { kind: 'value', cmp: { expr: 'sum(mem) / count(up)', above: 1 } } },
    { kind: 'count', bounds: { below: 5 } },
  ] });
  assert.deepEqual([...(r.names as Set<string>)].sort(), ['cpu', 'mem', 'up']);
  assert.equal(readsAny(r, ['disk']), false);
  assert.equal(readsAny(r, ['disk', 'mem']), true);
  assert.equal(ruleReads({ kind: 'any', cmp: { expr: '{__name__=~"cpu.*"}', above: 1 } }).names, 'any');
});

const BASE = `name: d
clouds: { sim: { platform: sim } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, instances: { count: 2, min: 1, max: 8 } }
rules:
  hot:
    component: app
    when: { all: { expr: cpu, above: 60 } }
    interval: 10m
    action: { scale: out, by: 1 }
    cooldown: 0s
  cold:
    component: app
    when: { all: { expr: mem, above: 60 } }
    interval: 10m
    action: { scale: out, by: 2 }
`;

test('a rule on a 10-minute interval acts as soon as new data for its series arrives; its report says what it saw', async () => {
  const spec = parseSpec(BASE, { file: 'r.yaml' });
  const rules = Object.values(spec.rules!) as RuleSpec[];
  const clock = createVirtualClock(0);
  let cpu = 10;
  const evaluated: string[] = [];
  const reports: RuleReport[] = [];
  const calls: number[] = [];
  let desired = 2;
  let flushes = 0;
  const ev = createRuleEvaluator({
    clock,
    beforeEvaluate: async () => {
      flushes++;
    },
    query: async (expr) => {
      evaluated.push(expr);
      const v = expr === 'cpu' ? cpu : 0;
      return { resultType: 'vector', result: ['app-1', 'app-2'].map((instance) => ({ labels: { instance, deployment: 'd' }, t: clock.now(), v })) };
    },
    rules: () => rules.map((rule) => ({ deployment: 'd', rule })),
    component: () => ({ desired, min: 1, max: 8, instances: [{ name: 'app-1', ready: true }, { name: 'app-2', ready: true }] }),
    scale: async (_d, _c, n) => {
      calls.push(clock.now());
      desired = n;
    },
    report: (r) => reports.push(r),
  });
  ev.start();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(evaluated.sort(), ['cpu', 'mem'], 'both evaluated once at start');
  evaluated.length = 0;
  await clock.advance(1_000);
  assert.deepEqual(evaluated, [], 'nothing until the interval');

  cpu = 95;
  ev.dataArrived('d', ['cpu']);
  ev.dataArrived('other', ['cpu', 'mem']); // another deployment's data wakes nothing here
  await clock.advance(0);
  for (let i = 0; i < 5 && calls.length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(evaluated, ['cpu'], 'only the rule that reads cpu, of this deployment');
  assert.deepEqual(calls, [1_000], 'scaled at the arrival, 9 minutes before its interval');
  assert.ok(flushes >= 2, 'the store is flushed before evaluating');
  const fired = reports.find((r) => r.kind === 'rule.fired')!;
  assert.equal(fired.rule, 'hot');
  assert.deepEqual(fired.data['instances'], ['app-1', 'app-2']);
  assert.deepEqual(fired.data['thresholds'], [{ kind: 'all', expr: 'cpu', above: 60 }]);
  assert.deepEqual(fired.data['observed'], [
    { expr: 'cpu', instance: 'app-1', value: 95, bounds: { above: 60 }, satisfied: true },
    { expr: 'cpu', instance: 'app-2', value: 95, bounds: { above: 60 }, satisfied: true },
  ]);
  assert.equal(fired.data['dataArrivedAtMs'], 1_000);

  // a burst of arrivals is coalesced: at most one evaluation per minDataGapMs (100)
  evaluated.length = 0;
  for (let i = 0; i < 10; i++) ev.dataArrived('d', ['cpu']);
  await clock.advance(99);
  assert.deepEqual(evaluated, []);
  await clock.advance(1);
  for (let i = 0; i < 5 && evaluated.length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(evaluated, ['cpu']);
  await ev.stop();
});
