/**
 * The adaptive limiter against the sim's cloudsigma slow-down model (seed 000 §6.3), on a
 * virtual clock: 64 creates, each holding a permit from acquire until its server runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { createSimCloud } from '../../src/drivers/sim/index.js';
import { createAdaptiveLimiter, createFixedLimiter, type ConcurrencyLimiter } from '../../src/drivers/limiter.js';
import { NubisError } from '../../src/errors/index.js';

async function makespan(makeLimiter: (clock: ReturnType<typeof createVirtualClock>) => ConcurrencyLimiter, seed: number, n = 64): Promise<{ ms: number; maxInFlight: number; finalLimit: number }> {
  const clock = createVirtualClock(0);
  const cloud = createSimCloud({ path: ':memory:', clock, slowdown: 'cloudsigma', seed });
  const limiter = makeLimiter(clock);
  const stop = clock.autoAdvance();
  try {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const release = await limiter.acquire();
        const t0 = clock.now();
        const s = await cloud.create({ tags: { job: 'bench', i: String(i) }, idempotencyToken: `t${i}` });
        await cloud.whenRunning(s.id);
        release({ latencyMs: clock.now() - t0, ok: true });
      }),
    );
    return { ms: clock.now(), maxInFlight: cloud.counters().maxInFlightCreates, finalLimit: limiter.limit() };
  } finally {
    stop();
    cloud.close();
  }
}

test('adaptive limiter: 64 creates within 10 % of the best fixed limit (cloudsigma model)', async () => {
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  const rows: string[] = [];
  let bestFixed = Infinity;
  let bestK = 0;
  for (let k = 1; k <= 16; k++) {
    let sum = 0;
    for (const seed of seeds) sum += (await makespan(() => createFixedLimiter({ limit: k }), seed)).ms;
    const avg = sum / seeds.length;
    rows.push(`fixed ${String(k).padStart(2)}: ${(avg / 1000).toFixed(1)} s`);
    if (avg < bestFixed) {
      bestFixed = avg;
      bestK = k;
    }
  }
  for (const initial of [undefined, 1, 4, 16]) {
    let sum = 0;
    const finals: number[] = [];
    for (const seed of seeds) {
      const r = await makespan((clock) => createAdaptiveLimiter({ clock, ...(initial === undefined ? {} : { initial }) }), seed);
      sum += r.ms;
      finals.push(r.finalLimit);
    }
    const avg = sum / seeds.length;
    const ratio = avg / bestFixed;
    rows.push(`adaptive (initial ${initial ?? 'default 2'}): ${(avg / 1000).toFixed(1)} s = ${(ratio * 100).toFixed(1)} % of best fixed (${bestK}); final limits ${finals.join(',')}`);
    if (initial === undefined || initial === 1) assert.ok(ratio <= 1.1, `adaptive initial ${initial}: ${avg} ms vs best fixed ${bestFixed} ms`);
  }
  console.log(`makespan of 64 creates, mean of seeds ${seeds.join(',')}:\n  ${rows.join('\n  ')}`);
  assert.equal(bestK, 4, 'the cloudsigma model peaks at 4 in flight');
});

test('fixed limiter: never more than the limit in flight, FIFO, abort while waiting', async () => {
  const l = createFixedLimiter({ limit: 2 });
  const r1 = await l.acquire();
  const r2 = await l.acquire();
  assert.equal(l.inFlight(), 2);
  const order: number[] = [];
  const p3 = l.acquire().then((r) => (order.push(3), r));
  const ac = new AbortController();
  const p4 = l.acquire(ac.signal);
  const p5 = l.acquire().then((r) => (order.push(5), r));
  assert.equal(l.waiting(), 3);
  ac.abort();
  await assert.rejects(p4, (e: unknown) => e instanceof NubisError && e.code === 'ABORTED');
  r1();
  r1(); // second release is a no-op
  const r3 = await p3;
  assert.equal(l.inFlight(), 2);
  r2();
  const r5 = await p5;
  assert.deepEqual(order, [3, 5]);
  r3();
  r5();
  assert.equal(l.inFlight(), 0);
});

test('adaptive limiter: below its latency floor jitter is not congestion (a zero-latency cloud ramps up)', async () => {
  const clock = createVirtualClock(0);
  const bare = createAdaptiveLimiter({ clock, initial: 4 });
  const floored = createAdaptiveLimiter({ clock, initial: 4, floorMs: 1000 });
  for (const l of [bare, floored]) {
    const rs = await Promise.all(Array.from({ length: 4 }, () => l.acquire()));
    rs[0]!({ latencyMs: 0, ok: true });
    rs[1]!({ latencyMs: 3, ok: true }); // "inflated" against a baseline of 0 ms
    rs[2]!({ latencyMs: 2000, ok: true });
    rs[3]!();
  }
  assert.equal(bare.limit(), 2, 'without a floor, 3 ms against 0 ms halves the limit');
  assert.equal(floored.limit(), 4, 'with a 1 s floor, latencies up to 2.5 s are not congestion');
  const r = await floored.acquire();
  r({ latencyMs: 2600, ok: true }); // beyond 2.5 × the floor: congestion
  assert.equal(floored.limit(), 2);
});

test('adaptive limiter: backs off multiplicatively on inflated latency and on failures', async () => {
  const clock = createVirtualClock(0);
  const l = createAdaptiveLimiter({ clock, initial: 8, min: 2, backoff: 0.75 });
  const rs = await Promise.all(Array.from({ length: 8 }, () => l.acquire()));
  rs[0]!({ latencyMs: 1000, ok: true });
  rs[1]!({ latencyMs: 1100, ok: true });
  assert.equal(l.limit(), 8);
  rs[2]!({ latencyMs: 5000, ok: true }); // > 2.5 × 1000
  assert.equal(l.limit(), 6);
  rs[3]!({ latencyMs: 6000, ok: true }); // granted before the cut: no second cut
  assert.equal(l.limit(), 6);
  const more = await Promise.all(Array.from({ length: 2 }, () => l.acquire()));
  more[0]!({ latencyMs: 0, ok: false });
  assert.equal(l.limit(), 4);
  for (const r of [...rs, ...more]) r();
  assert.equal(l.inFlight(), 0);
});
