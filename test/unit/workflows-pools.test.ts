/**
 * Pools: least-loaded dispatch, the queue that never exceeds a node's slots (a property test
 * under random arrivals, completions, node joins, drains and removals), the ready-by plan from
 * measured provisioning, and the queue-driven pool size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  choosePoolNode, PoolQueue, PoolAutoscaler, readyByPlan, readyByInstant, parsePoolText, poolsFromVariables, printPool, provisioningStats, provisionSamplesFromEvents, poolAutoscale, durationText, type PoolNodeLoad,
} from '../../src/workflows/pools/index.js';
import { NubisError } from '../../src/errors/index.js';
import { createVirtualClock } from '../../src/clock/index.js';
import { rng } from './workflows-scheduler-helpers.js';


test('choosePoolNode: fewest running jobs, then lowest load, then smallest id; never a full or draining node', () => {
  assert.equal(choosePoolNode([]), undefined);
  assert.equal(choosePoolNode([{ id: 'a', runningJobs: 2, slots: 2 }, { id: 'b', runningJobs: 1, slots: 1 }]), undefined, 'all full');
  assert.equal(choosePoolNode([{ id: 'a', runningJobs: 2, slots: 4 }, { id: 'b', runningJobs: 1, slots: 4 }]), 'b');
  assert.equal(choosePoolNode([{ id: 'a', runningJobs: 1, slots: 4, load: 0.9 }, { id: 'b', runningJobs: 1, slots: 4, load: 0.2 }]), 'b');
  // running jobs outrank load
  assert.equal(choosePoolNode([{ id: 'a', runningJobs: 0, slots: 4, load: 3 }, { id: 'b', runningJobs: 1, slots: 4, load: 0 }]), 'a');
  // stable tie-break whatever the order
  const tie: PoolNodeLoad[] = [{ id: 'n3', runningJobs: 0, slots: 1 }, { id: 'n1', runningJobs: 0, slots: 1 }, { id: 'n2', runningJobs: 0, slots: 1 }];
  assert.equal(choosePoolNode(tie), 'n1');
  assert.equal(choosePoolNode([...tie].reverse()), 'n1');
  // an unknown load counts as idle
  assert.equal(choosePoolNode([{ id: 'a', runningJobs: 0, slots: 1, load: 0.5 }, { id: 'b', runningJobs: 0, slots: 1 }]), 'b');
  assert.equal(choosePoolNode([{ id: 'a', runningJobs: 0, slots: 1, draining: true }, { id: 'b', runningJobs: 3, slots: 4 }]), 'b');
});

test('choosePoolNode property: the choice is a free node no other free node beats', () => {
  const r = rng(42);
  for (let c = 0; c < 2000; c++) {
    const nodes: PoolNodeLoad[] = Array.from({ length: 1 + Math.floor(r() * 6) }, (_, i) => {
      const slots = 1 + Math.floor(r() * 3);
      return { id: `n${Math.floor(r() * 100)}-${i}`, slots, runningJobs: Math.floor(r() * (slots + 1)), ...(r() < 0.7 ? { load: Math.floor(r() * 4) / 2 } : {}) };
    });
    const id = choosePoolNode(nodes);
    const free = nodes.filter((n) => n.runningJobs < n.slots);
    if (free.length === 0) {
      assert.equal(id, undefined);
      continue;
    }
    const chosen = free.find((n) => n.id === id);
    assert.ok(chosen, `chose a free node: ${JSON.stringify(nodes)} → ${id}`);
    for (const n of free) {
      const better = n.runningJobs < chosen.runningJobs
        || (n.runningJobs === chosen.runningJobs && (n.load ?? 0) < (chosen.load ?? 0))
        || (n.runningJobs === chosen.runningJobs && (n.load ?? 0) === (chosen.load ?? 0) && n.id < chosen.id);
      assert.ok(!better, `${n.id} beats ${chosen.id} in ${JSON.stringify(nodes)}`);
    }
  }
});

interface Job { id: string }
const key = (j: Job): string => j.id;

test('PoolQueue: jobs wait in order and go out as slots free; a duplicate try is refused', () => {
  const q = new PoolQueue<Job>('compute', { slots: 2, key });
  assert.deepEqual(q.submit({ id: 'j1' }), [], 'no nodes yet: waits');
  assert.deepEqual(q.submit({ id: 'j2' }), []);
  assert.deepEqual(q.submit({ id: 'j3' }), []);
  assert.throws(() => q.submit({ id: 'j2' }), (e: unknown) => e instanceof NubisError && e.code === 'CONFLICT');
  const first = q.addNode('a');
  assert.deepEqual(first.map((d) => [d.item.id, d.node]), [['j1', 'a'], ['j2', 'a']]);
  assert.equal(q.waitingCount, 1);
  // the second node takes the oldest waiting job at once
  assert.deepEqual(q.addNode('b').map((d) => [d.item.id, d.node]), [['j3', 'b']]);
  // b (1 running) is less loaded than a (2): the next goes to b
  assert.deepEqual(q.submit({ id: 'j4' }).map((d) => d.node), ['b']);
  assert.deepEqual(q.submit({ id: 'j5' }), [], 'all four slots taken');
  assert.equal(q.where('j5'), 'waiting');
  assert.deepEqual(q.release('j1').map((d) => [d.item.id, d.node]), [['j5', 'a']]);
  assert.deepEqual(q.release('nope'), [], 'a late report is ignored');
  // a withdrawn waiting job never runs
  q.submit({ id: 'j6' });
  assert.deepEqual(q.release('j6'), []);
  assert.deepEqual(q.release('j2'), [], 'nothing waits');
  assert.equal(q.where('j6'), undefined);
  // draining: no new work; removing returns what ran there
  q.drain('b');
  q.submit({ id: 'j7' });
  assert.equal(q.where('j7'), 'a');
  assert.deepEqual(q.removeNode('b').map((j) => j.id).sort(), ['j3', 'j4']);
  assert.equal(q.runningCount, 2);
  assert.equal(q.describe(), 'compute: 1 node, 2 of 2 slots busy, 0 waiting');
  // restore after a restart: occupy puts a known job back on its node without dispatch
  const r = new PoolQueue<Job>('compute', { slots: 1, key });
  r.addNode('a');
  assert.equal(r.occupy({ id: 'x' }, 'a'), true);
  assert.equal(r.occupy({ id: 'y' }, 'gone'), false);
  assert.deepEqual(r.submit({ id: 'z' }), []);
  assert.deepEqual(r.release('x').map((d) => d.item.id), ['z']);
});

test('PoolQueue property: under random arrivals, completions and node changes no node exceeds its slots, jobs leave in order, nothing is lost or run twice', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const q = new PoolQueue<Job>('p', { slots: 1 + Math.floor(r() * 3), key });
    const started = new Map<string, number>();
    const nodesOf = new Map<string, string>();
    const ended = new Set<string>();
    const lost = new Set<string>();
    let next = 0;
    let nodeSeq = 0;
    const order: string[] = [];
    const record = (ds: { item: Job; node: string }[]): void => {
      for (const d of ds) {
        assert.ok(!started.has(d.item.id), `seed ${seed}: ${d.item.id} dispatched twice`);
        started.set(d.item.id, started.size);
        nodesOf.set(d.item.id, d.node);
        order.push(d.item.id);
      }
      for (const n of q.nodes()) assert.ok(n.runningJobs <= n.slots, `seed ${seed}: ${n.id} runs ${n.runningJobs} of ${n.slots}`);
    };
    for (let step = 0; step < 400; step++) {
      const x = r();
      if (x < 0.45) record(q.submit({ id: `j${String(next++).padStart(4, '0')}` }));
      else if (x < 0.8) {
        const running = [...started.keys()].filter((k) => !ended.has(k) && !lost.has(k));
        if (running.length) {
          const k = running[Math.floor(r() * running.length)]!;
          ended.add(k);
          record(q.release(k));
        }
      } else if (x < 0.9) record(q.addNode(`n${nodeSeq++}`, { slots: 1 + Math.floor(r() * 3), load: Math.floor(r() * 4) }));
      else if (x < 0.95) {
        const ns = q.nodes();
        if (ns.length) {
          const n = ns[Math.floor(r() * ns.length)]!;
          for (const j of q.removeNode(n.id)) {
            assert.equal(nodesOf.get(j.id), n.id);
            lost.add(j.id);
          }
        }
      } else {
        const ns = q.nodes();
        if (ns.length) record(q.drain(ns[Math.floor(r() * ns.length)]!.id, r() < 0.5));
      }
    }
    // dispatch order is submission order (FIFO)
    assert.deepEqual(order, [...order].sort(), `seed ${seed}: FIFO`);
    // every submitted job is waiting, running, ended or lost — exactly one of them
    for (let i = 0; i < next; i++) {
      const id = `j${String(i).padStart(4, '0')}`;
      const w = q.where(id);
      const states = [w === 'waiting', w !== undefined && w !== 'waiting', ended.has(id), lost.has(id)].filter(Boolean).length;
      assert.equal(states, 1, `seed ${seed}: ${id} is in ${states} states`);
    }
    // nothing waits while a non-draining node has a free slot
    if (q.waitingCount > 0) assert.equal(choosePoolNode(q.nodes()), undefined, `seed ${seed}: a job waits beside a free slot`);
  }
});

test('PoolQueue: least-loaded choice spreads 1,000 jobs over 4 nodes of 2 slots evenly by load', () => {
  const q = new PoolQueue<Job>('p', { slots: 2, key });
  for (const [i, load] of [0.5, 0.1, 0.3, 0.2].entries()) q.addNode(`n${i}`, { load });
  const per = new Map<string, number>();
  const running: string[] = [];
  const take = (ds: { item: Job; node: string }[]): void => {
    for (const d of ds) {
      per.set(d.node, (per.get(d.node) ?? 0) + 1);
      running.push(d.item.id);
    }
  };
  for (let i = 0; i < 1000; i++) take(q.submit({ id: `j${i}` }));
  // the first 8 go out at once, the idlest nodes first
  assert.deepEqual([...per.keys()].slice(0, 4), ['n1', 'n3', 'n2', 'n0']);
  while (running.length) take(q.release(running.shift()!));
  assert.equal([...per.values()].reduce((a, b) => a + b, 0), 1000);
  for (const [n, c] of per) assert.ok(c >= 240 && c <= 260, `${n} ran ${c}`);
});

test('provisioningStats and provisionSamplesFromEvents: create → running per node, overlap slow-down', () => {
  const ev = (ms: number, target: string, to: string) => ({ kind: 'node.state', target, ts: new Date(ms).toISOString(), data: { to } });
  const events = [
    // a-1 waited 5 s for a creation permit: provisioning counts from the cloud's answer
    ev(0, 'd/a-1', 'creating'), { ...ev(5_000, 'd/a-1', 'provisioning'), data: { from: 'creating', to: 'provisioning' } }, ev(25_000, 'd/a-1', 'running'),
    ev(100_000, 'd/a-2', 'creating'), ev(101_000, 'd/a-3', 'creating'),
    ev(160_000, 'd/a-2', 'running'), ev(161_000, 'd/a-3', 'running'),
    ev(200_000, 'd/a-4', 'creating'), ev(210_000, 'd/a-4', 'failed'),
    ev(300_000, 'other/x-1', 'creating'), ev(320_000, 'other/x-1', 'running'),
  ];
  const samples = provisionSamplesFromEvents(events, (k) => k.startsWith('d/'));
  assert.deepEqual(samples, [{ startMs: 5_000, endMs: 25_000 }, { startMs: 100_000, endMs: 160_000 }, { startMs: 101_000, endMs: 161_000 }]);
  // with instance phases, a sample ends when the instance runs (installed and started)
  const phased = provisionSamplesFromEvents([...events.slice(0, 3), { kind: 'instance.phase', target: 'd/a-1', ts: 31_000, data: { to: 'running' } }], (k) => k.startsWith('d/'));
  assert.deepEqual(phased, [{ startMs: 5_000, endMs: 31_000 }]);
  const s = provisioningStats('sigma', samples, 3);
  assert.equal(s.samples, 3);
  assert.equal(s.medianMs, 60_000);
  assert.equal(s.p90Ms, 60_000);
  // a-3 overlapped a-2 (60 s) against a-1 alone (20 s); a-2 started alone
  assert.equal(s.slowdown, 3);
  assert.equal(provisioningStats('x', [], 2).samples, 0);
  // the create call's p95 (provider accounting) is added to each round
  const withCall = readyByPlan({ readyBy: 1_000_000, count: 3, now: 0, stats: { ...s, createCallMs: 4_000 }, marginMs: 0 });
  assert.equal(withCall.leadMs, 60_000 * 3 + 4_000);
});

test('readyByPlan: starts early enough from p90, rounds beyond the limiter concurrency, and says why', () => {
  const readyBy = Date.parse('2026-12-03T10:45:00Z');
  const now = Date.parse('2026-12-03T09:00:00Z');
  const stats = { cloud: 'sigma', samples: 40, medianMs: 100_000, p90Ms: 130_000, concurrency: 3, slowdown: 1 };
  const p = readyByPlan({ readyBy, count: 3, now, stats });
  // margin: a quarter of the estimate, at least 30 s
  assert.equal(p.leadMs, 162_500);
  assert.equal(p.startAt, Date.parse('2026-12-03T10:42:17.500Z'));
  assert.equal(p.late, false);
  assert.equal(p.reason, 'starts 10:42:17: 3 nodes take p90 2m10s on cloud sigma at concurrency 3 from 40 measured, +33s margin, ready by 10:45:00');
  // 7 nodes at concurrency 3: three rounds
  const seven = readyByPlan({ readyBy, count: 7, now, stats, marginMs: 0 });
  assert.equal(seven.leadMs, 3 * 130_000);
  assert.match(seven.reason, /^starts 10:38:30: 7 nodes take p90 6m30s on cloud sigma at concurrency 3 \(3 rounds of 2m10s\)/);
  // overlap slow-down applies when more than one runs at once
  const slow = readyByPlan({ readyBy, count: 2, now, stats: { ...stats, slowdown: 2 }, marginMs: 0 });
  assert.equal(slow.leadMs, 260_000);
  assert.match(slow.reason, /×2\.0 when overlapping/);
  assert.equal(readyByPlan({ readyBy, count: 1, now, stats: { ...stats, slowdown: 2 }, marginMs: 0 }).leadMs, 130_000, 'one node alone: no slow-down');
  // late: starts now and says how late
  const late = readyByPlan({ readyBy, count: 3, now: readyBy - 60_000, stats });
  assert.equal(late.late, true);
  assert.equal(late.startAt, readyBy - 60_000);
  assert.match(late.reason, /^starts now \(10:44:00\), 1m43s late: 3 nodes/);
  // nothing measured: the default
  const unknown = readyByPlan({ readyBy, count: 2, now, stats: { ...stats, samples: 0 } });
  assert.equal(unknown.leadMs, 225_000);
  assert.match(unknown.reason, /assumed 3m on cloud sigma \(nothing measured yet\)/);
  assert.equal(readyByPlan({ readyBy, count: 0, now, stats }).startAt, readyBy);
  assert.equal(durationText(3_725_000), '1h02m');
  assert.equal(durationText(400), '0.4s');
  // hh:mm: today's, or tomorrow's once past (a grace keeps today's when just late)
  assert.equal(readyByInstant('10:45', now), readyBy);
  assert.equal(readyByInstant('08:00', now), Date.parse('2026-12-04T08:00:00Z'));
  assert.equal(readyByInstant('08:59', now, 120_000), Date.parse('2026-12-03T08:59:00Z'));
  assert.equal(readyByInstant('2026-12-03T10:45:00Z', now), readyBy);
  assert.throws(() => readyByInstant('soon', now), { code: 'REQUEST_INVALID' });
});

test('poolAutoscale: follows the queue within bounds, holds changes during the cooldown', () => {
  const base = { min: 0, max: 8, jobsPerNode: 4, cooldownMs: 60_000, now: 1_000_000 };
  assert.deepEqual(poolAutoscale({ ...base, waiting: 10, running: 0, nodes: 0 }).count, 3);
  assert.equal(poolAutoscale({ ...base, waiting: 100, running: 8, nodes: 2 }).count, 8, 'capped at max');
  assert.match(poolAutoscale({ ...base, waiting: 100, running: 8, nodes: 2 }).reason, /^grow 2 → 8: 100 waiting \+ 8 running at 4 per node \(capped at max 8\)$/);
  const held = poolAutoscale({ ...base, waiting: 0, running: 0, nodes: 3, lastChangeAt: 970_000 });
  assert.equal(held.count, 3);
  assert.equal(held.wanted, 0);
  assert.equal(held.retryAt, 1_030_000);
  assert.match(held.reason, /cooling down until/);
  assert.equal(poolAutoscale({ ...base, waiting: 0, running: 0, nodes: 3, lastChangeAt: 900_000 }).count, 0, 'after the cooldown: shrink to min');
  assert.equal(poolAutoscale({ ...base, min: 1, waiting: 0, running: 0, nodes: 1 }).count, 1);
  assert.equal(poolAutoscale({ ...base, waiting: 3, running: 5, nodes: 2 }).retryAt, undefined, 'no change, no retry');
});

test('pool declarations as variables: parse, print back, refuse with the reason', () => {
  const p = parsePoolText('compute', 'postproc/compute slots=4 readyBy=04:40 autoscale=0..8/16/5m');
  assert.deepEqual(p, { name: 'compute', deployment: 'postproc', component: 'compute', slots: 4, readyBy: '04:40', autoscale: { min: 0, max: 8, jobsPerNode: 16, cooldownMs: 300_000 } });
  assert.deepEqual(parsePoolText('compute', printPool(p)), p);
  assert.deepEqual(parsePoolText('main', 'postproc/main'), { name: 'main', deployment: 'postproc', component: 'main', slots: 1 });
  assert.deepEqual(poolsFromVariables([{ name: 'NUBIS_POOL', value: 'main' }, { name: 'NUBIS_POOL_main', value: 'postproc/main slots=2' }]).map((x) => [x.name, x.slots]), [['main', 2]]);
  for (const [text, why] of [
    ['compute', /expected <deployment>\/<component> first/],
    ['d/c slots=0', /slots=0: expected an integer ≥ 1/],
    ['d/c readyBy=soon', /readyBy=soon: expected hh:mm/],
    ['d/c autoscale=9..2/4/5m', /autoscale=9\.\.2\/4\/5m: expected min\.\.max/],
    ['d/c size=3', /unknown option "size"/],
  ] as const) assert.throws(() => parsePoolText('p', text), (e: unknown) => e instanceof NubisError && e.code === 'REQUEST_INVALID' && why.test(e.message), text);
});

test('PoolAutoscaler: grows with the queue at once, holds a shrink through the cooldown and makes it on the Clock', async () => {
  const clock = createVirtualClock(Date.parse('2026-12-03T04:40:00Z'));
  const stop = clock.autoAdvance();
  try {
    let nodes = 0;
    let waiting = 0;
    let running = 0;
    const scales: [number, number, string][] = [];
    const a = new PoolAutoscaler({
      pool: { name: 'compute', deployment: 'postproc', component: 'compute', slots: 4, autoscale: { min: 0, max: 6, jobsPerNode: 8, cooldownMs: 120_000 } },
      clock,
      load: () => ({ waiting, running }),
      nodes: async () => nodes,
      scale: async (n, reason) => {
        scales.push([clock.now() - Date.parse('2026-12-03T04:40:00Z'), n, reason]);
        nodes = n;
      },
    });
    waiting = 30;
    a.changed();
    a.changed(); // coalesced into one more decision
    await a.idle();
    assert.deepEqual(scales.map(([t, n]) => [t, n]), [[0, 4]]);
    assert.match(scales[0]![2], /^pool compute: grow 0 → 4: 30 waiting \+ 0 running at 8 per node$/);
    // the work is done at once: the shrink waits for the cooldown, then happens by itself
    waiting = 0;
    running = 0;
    a.changed();
    await a.idle();
    assert.equal(scales.length, 1);
    await clock.sleep(121_000);
    await a.idle();
    assert.deepEqual(scales.map(([t, n]) => [t, n]), [[0, 4], [120_000, 0]]);
    a.close();
  } finally {
    stop();
  }
});
