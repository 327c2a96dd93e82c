/**
 * Property tests of the scheduler on random suites (seeded): limits are never exceeded and
 * every task completes exactly once whatever the completion order and the aborts; a parent's
 * state is always its most significant child's. Plus micro-measurements, printed (not asserted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATE_SIGNIFICANCE, type WfInLimit, type WfLimit, type WfNodeDef, type WfNodeRuntime } from '../../src/workflows/index.js';
import { Harness, definition, expr, family, is, rng, settle, suite, task } from './workflows-scheduler-helpers.js';


interface LimitInfo { name: string; size: number }
interface Gen { tasks: string[]; uses: Map<string, { limit: string; tokens: number; nodeOnly: string | undefined; submissionOnly: boolean }[]>; limits: LimitInfo[] }

/** A random suite: families up to two deep, tasks triggered by earlier siblings, inlimits (with -n and -s) on tasks and families. */
function randomSuite(r: () => number): { def: ReturnType<typeof definition>; gen: Gen } {
  const limits: LimitInfo[] = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => ({ name: `L${i}`, size: 1 + Math.floor(r() * 4) }));
  const gen: Gen = { tasks: [], uses: new Map(), limits };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const inlimitsFor = (banned: Set<string>, isFamily: boolean): WfInLimit[] => {
    const out: WfInLimit[] = [];
    const n = Math.floor(r() * 2.5);
    for (let i = 0; i < n; i++) {
      const l = pick(limits);
      if (banned.has(l.name) || out.some((x) => x.name === l.name)) continue;
      const tokens = l.size >= 2 && r() < 0.2 ? 2 : 1;
      out.push({ name: l.name, tokens, nodeOnly: isFamily && r() < 0.3, submissionOnly: r() < 0.2 });
    }
    return out;
  };
  const build = (path: string, depth: number, inherited: { limit: string; tokens: number; nodeOnly: string | undefined; submissionOnly: boolean }[], banned: Set<string>): WfNodeDef[] => {
    const kids: WfNodeDef[] = [];
    const count = 1 + Math.floor(r() * 6);
    const siblings: string[] = [];
    for (let i = 0; i < count; i++) {
      if (depth < 2 && r() < 0.3) {
        const name = `f${i}`;
        const il = inlimitsFor(banned, true);
        const nb = new Set(banned);
        // a task needing more tokens of one limit than it has would wait for ever: one need per limit on each path
        for (const x of il) nb.add(x.name);
        const uses = [...inherited, ...il.map((x) => ({ limit: x.name, tokens: x.tokens, nodeOnly: x.nodeOnly ? `${path}/${name}` : undefined, submissionOnly: x.submissionOnly }))];
        kids.push(family(name, build(`${path}/${name}`, depth + 1, uses, nb), { inlimits: il }));
      } else {
        const name = `t${i}`;
        const il = inlimitsFor(banned, false);
        const trig = siblings.length > 0 && r() < 0.4 ? pick(siblings) : undefined;
        kids.push(task(name, { inlimits: il, ...(trig ? { trigger: expr(is(trig, 'complete')) } : {}) }));
        siblings.push(name);
        gen.tasks.push(`${path}/${name}`);
        gen.uses.set(`${path}/${name}`, [...inherited, ...il.map((x) => ({ limit: x.name, tokens: x.tokens, nodeOnly: undefined, submissionOnly: x.submissionOnly }))]);
      }
    }
    return kids;
  };
  const children = build('/s', 0, [], new Set());
  const lims: WfLimit[] = limits.map((l) => ({ name: l.name, tokens: l.size }));
  return { def: definition(suite('s', children, { limits: lims })), gen };
}

/** Tokens in use as seen from outside: running tasks' own needs, plus one per -n family with a running task. */
function usage(h: Harness, gen: Gen): Map<string, number> {
  const used = new Map<string, number>();
  const nodeHolders = new Set<string>();
  for (const p of gen.tasks) {
    const s = h.state(p);
    if (s !== 'submitted' && s !== 'active') continue;
    // one holder counts once per limit, with its largest need
    const own = new Map<string, { limit: string; tokens: number; nodeOnly: string | undefined; submissionOnly: boolean }>();
    for (const u of gen.uses.get(p)!) {
      const k = `${u.limit}|${u.nodeOnly ?? ''}`;
      const prev = own.get(k);
      if (!prev || prev.tokens < u.tokens || (prev.tokens === u.tokens && prev.submissionOnly && !u.submissionOnly)) own.set(k, u);
    }
    for (const u of own.values()) {
      if (u.submissionOnly && s === 'active' && u.nodeOnly === undefined) continue;
      if (u.nodeOnly !== undefined) {
        const key = `${u.limit}|${u.nodeOnly}`;
        if (nodeHolders.has(key)) continue;
        nodeHolders.add(key);
      }
      used.set(u.limit, (used.get(u.limit) ?? 0) + u.tokens);
    }
  }
  return used;
}



test('PROPERTY: random suites, random completion orders and aborts: no limit is exceeded, every task completes exactly once', () => {
  for (let seed = 1; seed <= 150; seed++) {
    const r = rng(seed);
    const { def, gen } = randomSuite(r);
    const h = new Harness(def);
    const completes = new Map<string, number>();
    h.rt.user({ verb: 'begin' });
    for (let guard = 0; guard < 10_000; guard++) {
      for (const [l, n] of usage(h, gen)) {
        const size = gen.limits.find((x) => x.name === l)!.size;
        assert.ok(n <= size, `seed ${seed}: limit ${l} has ${n} of ${size} tokens in use`);
      }
      const running = gen.tasks.filter((p) => h.state(p) === 'submitted' || h.state(p) === 'active');
      if (running.length === 0) break;
      const p = running[Math.floor(r() * running.length)]!;
      const sub = h.sub(p);
      if (h.state(p) === 'submitted' && r() < 0.7) {
        assert.deepEqual(h.init(p), { ok: true });
      } else if (sub.tryNo === 1 && r() < 0.2) {
        assert.deepEqual(h.abort(p), { ok: true }); // retried: ECF_TRIES 2
      } else {
        assert.deepEqual(h.complete(p), { ok: true });
        completes.set(p, (completes.get(p) ?? 0) + 1);
      }
    }
    assert.equal(h.state('/s'), 'complete', `seed ${seed}: ${JSON.stringify(gen.tasks.filter((p) => h.state(p) !== 'complete').map((p) => [p, h.rt.why(p)]))}`);
    for (const p of gen.tasks) assert.equal(completes.get(p), 1, `seed ${seed}: ${p} completed ${completes.get(p) ?? 0} times`);
  }
});

test('PROPERTY: a parent is always in its most significant child\'s state', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(1000 + seed);
    const { def, gen } = randomSuite(r);
    const h = new Harness({ ...def, variables: [{ name: 'ECF_TRIES', value: '1' }] });
    h.rt.user({ verb: 'begin' });
    for (let i = 0; i < 60; i++) {
      const p = gen.tasks[Math.floor(r() * gen.tasks.length)]!;
      const s = h.state(p);
      const x = r();
      if ((s === 'submitted' || s === 'active') && x < 0.3) h.complete(p);
      else if (s === 'submitted' && x < 0.6) h.init(p);
      else if ((s === 'submitted' || s === 'active') && x < 0.75) h.abort(p);
      else if (x < 0.85) h.rt.user({ verb: 'force', path: p, state: (['complete', 'aborted', 'queued'] as const)[Math.floor(r() * 3)]! });
      else if (s !== 'submitted' && s !== 'active') h.rt.user({ verb: 'run', path: p });
      const byPath = new Map<string, WfNodeRuntime>();
      for (const n of h.rt.nodes()) byPath.set(n.path, n);
      for (const n of byPath.values()) {
        const kids = [...byPath.values()].filter((c) => c.path.startsWith(`${n.path}/`) && !c.path.slice(n.path.length + 1).includes('/'));
        if (kids.length === 0) continue;
        const want = kids.reduce((m, c) => (STATE_SIGNIFICANCE[c.state] > STATE_SIGNIFICANCE[m] ? c.state : m), 'unknown' as WfNodeRuntime['state']);
        assert.equal(n.state, want, `seed ${seed} step ${i}: ${n.path} is ${n.state}, children ${kids.map((c) => `${c.path}=${c.state}`).join(' ')}`);
      }
    }
  }
});

test('micro-measurement (printed): 1,000 tasks limit 8, a 200-chain, 10,000 tasks load + first dispatch', async () => {
  const family1000 = definition(suite('bench_family', [family('f', Array.from({ length: 1000 }, (_, i) => task(`t${i}`)), {
    inlimits: [{ name: 'l', tokens: 1, nodeOnly: false, submissionOnly: false }],
  })], { limits: [{ name: 'l', tokens: 8 }] }));
  const chain200 = definition(suite('bench_chain', Array.from({ length: 200 }, (_, i) => task(`t${i}`, i > 0 ? { trigger: expr(is(`t${i - 1}`, 'complete')) } : {}))));
  /** Runs with every submission answered (init + complete) on the next microtask; times each complete step. */
  const runInstant = async (d: ReturnType<typeof definition>): Promise<{ ms: number; cpuMs: number; subs: number; p50: number; p99: number }> => {
    const h = new Harness(d);
    const steps: number[] = [];
    h.onSubmit = (s) => queueMicrotask(() => {
      h.init(s.path);
      const t = performance.now();
      h.complete(s.path);
      steps.push(performance.now() - t);
    });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    h.rt.user({ verb: 'begin' });
    while (h.state(`/${d.suites[0]!.name}`) !== 'complete') await settle();
    const cpu = process.cpuUsage(c0);
    steps.sort((a, b) => a - b);
    return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, subs: h.subs.length, p50: steps[Math.floor(steps.length / 2)]!, p99: steps[Math.floor(steps.length * 0.99)]! };
  };
  const f = await runInstant(family1000);
  const c = await runInstant(chain200);
  assert.equal(f.subs, 1000);
  assert.equal(c.subs, 200);

  const big = definition(suite('big', Array.from({ length: 100 }, (_, i) => family(`f${i}`, Array.from({ length: 100 }, (_, j) => task(`t${j}`, j > 0 ? { trigger: expr(is(`t${j - 1}`, 'complete')) } : {})))), {
    variables: [{ name: 'ECF_HOME', value: '/tmp/ecf' }],
  }));
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const h = new Harness(big);
  const tLoad = performance.now();
  h.rt.user({ verb: 'begin' });
  const tFirst = performance.now();
  const heap1 = process.memoryUsage().heapUsed;
  const cpu1 = process.cpuUsage(cpu0);
  assert.equal(h.subs.length, 100);
  const line = (name: string, r: typeof f, n: number): string =>
    `# scheduler micro: ${name}, instant completion: ${r.ms.toFixed(0)} ms wall, ${r.cpuMs.toFixed(0)} ms CPU (${(r.ms / n).toFixed(3)} ms per task); complete → next submission step p50 ${(r.p50 * 1000).toFixed(0)} µs, p99 ${(r.p99 * 1000).toFixed(0)} µs`;
  console.log(line('1,000 tasks limit 8', f, 1000));
  console.log(line('200-chain', c, 200));
  console.log(`# scheduler micro: 10,000 tasks: load ${(tLoad - t0).toFixed(0)} ms, begin + first dispatch (100 submissions) ${(tFirst - tLoad).toFixed(0)} ms (${((cpu1.user + cpu1.system) / 1000).toFixed(0)} ms CPU for both), heap +${((heap1 - heap0) / 1e6).toFixed(1)} MB, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
});
