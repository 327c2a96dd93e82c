/**
 * Rule latency: from the moment a condition has held for its `for` duration to the start of
 * the scaling action (the scale call), on the wall clock, with the real embedded metric store
 * and query engine. Target: under 1 s.
 *
 * Two figures per repetition: `decisionMs` — from (first evaluation that saw the condition
 * true + `for`) to the scale call; the evaluator wakes exactly at that deadline, so this is
 * query and decision time. `fromDataMs` — from (the first sample that made the condition
 * true + `for`) to the scale call; it adds the wait until the next evaluation (at most one
 * rule interval, 1 s here). Prints one JSON line with medians.
 *
 * Usage: node dist/bench/rules-latency.js [repetitions=7] [series=1000]
 */
import { createRealClock } from '../src/clock/index.js';
import { createEmbeddedMetricStore } from '../src/metrics/store/embedded.js';
import { createQueryEngine } from '../src/metrics/query/engine.js';
import { createRuleEvaluator } from '../src/scaling/index.js';
import type { RuleSpec } from '../src/model/types.js';
import type { Sample } from '../src/metrics/types.js';

const reps = Number(process.argv[2] ?? 7);
const nSeries = Number(process.argv[3] ?? 1000);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const clock = createRealClock();

async function once(): Promise<{ decisionMs: number; fromDataMs: number }> {
  const store = await createEmbeddedMetricStore({ dir: null });
  const query = createQueryEngine(store);
  const instances = Array.from({ length: 8 }, (_, i) => `app-${i + 1}`);
  // background: other series, so the query selects from a non-trivial store
  const bg: Sample[] = [];
  const t0 = Date.now();
  for (let s = 0; s < nSeries; s++) for (let k = 0; k < 30; k++) bg.push({ name: 'instance.cpu.percent', labels: { deployment: 'other', component: 'x', instance: `x-${s}` }, t: t0 - k * 10_000, v: 50 });
  for (const i of instances) for (let k = 1; k <= 30; k++) bg.push({ name: 'instance.cpu.percent', labels: { deployment: 'd', component: 'app', instance: i }, t: t0 - k * 10_000, v: 30 });
  store.append(bg);
  await store.flush();

  const rule: RuleSpec = {
    name: 'hot', component: 'app', forMs: 1_000, cooldownMs: 60_000, stabilizationMs: 0, intervalMs: 1_000, enabled: true,
    when: { kind: 'all', cmp: { expr: 'avg_over_time({__name__="instance.cpu.percent", deployment="d", component="app"}[5s])', above: 60 } },
    action: { kind: 'out', by: 1, minStep: 1 },
  };
  let dataTrueAt = 0;
  let resolveFired: (v: { decisionMs: number; fromDataMs: number }) => void = () => {};
  const fired = new Promise<{ decisionMs: number; fromDataMs: number }>((r) => (resolveFired = r));
  const ev = createRuleEvaluator({
    clock,
    query: async (expr, t) => {
      await store.flush();
      return query.instant(expr, t);
    },
    rules: () => [{ deployment: 'd', rule }],
    component: () => ({ desired: 8, min: 1, max: 20, instances: instances.map((name) => ({ name, ready: true })) }),
    scale: async () => {
      const now = Date.now();
      const st = ev.states()[0]!;
      resolveFired({ decisionMs: now - (st.holdingSince! + rule.forMs), fromDataMs: now - (dataTrueAt + rule.forMs) });
    },
  });
  ev.start();
  await new Promise((r) => setTimeout(r, 300 + Math.random() * 700)); // load arrives at a random phase of the interval
  // load: every instance goes to 95 % (sampled every 100 ms, like a fast sensor)
  dataTrueAt = Date.now();
  const feeder = setInterval(() => store.append(instances.map((i) => ({ name: 'instance.cpu.percent', labels: { deployment: 'd', component: 'app', instance: i }, t: Date.now(), v: 95 }))), 100);
  store.append(instances.map((i) => ({ name: 'instance.cpu.percent', labels: { deployment: 'd', component: 'app', instance: i }, t: dataTrueAt, v: 95 })));
  const r = await fired;
  clearInterval(feeder);
  await ev.stop();
  await store.close();
  return r;
}

const runs: { decisionMs: number; fromDataMs: number }[] = [];
for (let i = 0; i < reps; i++) runs.push(await once());
console.log(JSON.stringify({
  bench: 'rules-latency',
  repetitions: reps,
  backgroundSeries: nSeries,
  decisionMedianMs: Number(median(runs.map((r) => r.decisionMs)).toFixed(1)),
  decisionMaxMs: Number(Math.max(...runs.map((r) => r.decisionMs)).toFixed(1)),
  fromDataMedianMs: Number(median(runs.map((r) => r.fromDataMs)).toFixed(1)),
  fromDataMaxMs: Number(Math.max(...runs.map((r) => r.fromDataMs)).toFixed(1)),
  intervalMs: 1000,
  target: '< 1000 ms',
}));
