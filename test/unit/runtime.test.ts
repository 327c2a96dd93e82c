/** The runtime wrapper: events, retries with backoff, timeouts, classification, rate limit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.js';
import { NubisError, cloudErrorFromStatus } from '../../src/errors/index.js';
import type { CloudNode, Driver } from '../../src/drivers/driver.js';
import { wrapDriver, type DriverCallEvent, type RuntimeOptions } from '../../src/drivers/runtime.js';
import { createSimCloud, createSimDriver } from '../../src/drivers/sim/index.js';

const sig = (): AbortSignal => new AbortController().signal;
const node = (id: string): CloudNode => ({ id, tags: {}, status: 'running', createdAt: 0 });

/** A driver whose `get` runs the given script, one entry per call. */
function scripted(clock: VirtualClock, script: ((s: AbortSignal) => Promise<CloudNode | undefined>)[]): Driver & { calls: number } {
  const d = {
    calls: 0,
    platform: 'sim' as const,
    async get(_id: string, s: AbortSignal) {
      const step = script[d.calls++] ?? (async () => node('x'));
      return step(s);
    },
    create: async () => node('c'),
    list: async () => [],
    delete: async () => {},
    reboot: async () => {},
    agent: () => {
      throw new Error('no agent');
    },
    close: async () => {},
  };
  void clock;
  return d;
}

const fail = (e: unknown) => async (): Promise<never> => {
  throw e;
};

function setup(script: ((s: AbortSignal) => Promise<CloudNode | undefined>)[], opts: Partial<RuntimeOptions> = {}) {
  const clock = createVirtualClock(0);
  const events: DriverCallEvent[] = [];
  const inner = scripted(clock, script);
  const driver = wrapDriver(inner, { cloud: 'c1', clock, onCall: (e) => events.push(e), random: () => 1, ...opts });
  return { clock, events, inner, driver };
}

test('retries retryable errors with exponential backoff on the clock, one event per attempt', async () => {
  const { clock, events, inner, driver } = setup([
    fail(cloudErrorFromStatus(503, 'busy')),
    fail(cloudErrorFromStatus(429, 'slow down')),
    async () => node('n1'),
  ]);
  const stop = clock.autoAdvance();
  const got = await driver.get('n1', sig());
  stop();
  assert.equal(got?.id, 'n1');
  assert.equal(inner.calls, 3);
  assert.equal(clock.now(), 500 + 1000, 'full jitter at its cap (random = 1): 500 then 1000 ms');
  assert.deepEqual(
    events.map((e) => [e.op, e.target, e.attempt, e.outcome, e.errorCode, e.retryable]),
    [
      ['get', 'n1', 1, 'error', 'CLOUD_UNAVAILABLE', true],
      ['get', 'n1', 2, 'error', 'CLOUD_RATE_LIMITED', true],
      ['get', 'n1', 3, 'ok', undefined, undefined],
    ],
  );
  assert.ok(events.every((e) => e.cloud === 'c1' && e.platform === 'sim' && e.latencyMs === 0));
});

test('backoff is capped by maxMs and jittered by random; gives up after `attempts`', async () => {
  const draws = [0.5, 0.5, 0.5];
  const { clock, events, driver } = setup(Array(10).fill(fail(cloudErrorFromStatus(500, 'boom'))), {
    retry: { attempts: 4, baseMs: 1000, maxMs: 1500 },
    random: () => draws.shift() ?? 0,
  });
  const stop = clock.autoAdvance();
  const e = await driver.get('x', sig()).catch((x: unknown) => x);
  stop();
  assert.ok(e instanceof NubisError && e.code === 'CLOUD_INTERNAL');
  assert.equal(events.length, 4);
  assert.equal(clock.now(), 500 + 750 + 750, 'caps 1000, 1500, 1500 halved by jitter 0.5');
});

test('non-retryable errors are not retried', async () => {
  const { events, inner, driver } = setup([fail(cloudErrorFromStatus(403, 'no'))]);
  const e = await driver.get('x', sig()).catch((x: unknown) => x);
  assert.ok(e instanceof NubisError && e.code === 'CLOUD_FORBIDDEN' && !e.retryable);
  assert.equal(inner.calls, 1);
  assert.equal(events.length, 1);
});

test('classification: network errors → CLOUD_UNAVAILABLE (retried), other throws → INTERNAL (not retried)', async () => {
  const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
  const a = setup([fail(refused), async () => node('ok')]);
  const stop = a.clock.autoAdvance();
  assert.equal((await a.driver.get('x', sig()))?.id, 'ok');
  stop();
  assert.equal(a.events[0]?.errorCode, 'CLOUD_UNAVAILABLE');

  const b = setup([fail(new TypeError('cannot read properties of undefined'))]);
  const e = await b.driver.get('x', sig()).catch((x: unknown) => x);
  assert.ok(e instanceof NubisError && e.code === 'INTERNAL' && e.retryable === false);
  assert.equal(b.inner.calls, 1);
});

test('an attempt past its timeout fails CLOUD_TIMEOUT, aborts the driver call, and is retried', async () => {
  let aborts = 0;
  const hang = async (s: AbortSignal): Promise<CloudNode | undefined> => {
    await new Promise<void>((_, reject) => s.addEventListener('abort', () => (aborts++, reject(s.reason)), { once: true }));
    return undefined;
  };
  const { clock, events, driver } = setup([hang, hang], { timeoutMs: { get: 5000 }, retry: { attempts: 2 } });
  const stop = clock.autoAdvance();
  const e = await driver.get('x', sig()).catch((x: unknown) => x);
  stop();
  assert.ok(e instanceof NubisError && e.code === 'CLOUD_TIMEOUT' && e.retryable);
  assert.equal(aborts, 2);
  assert.deepEqual(events.map((x) => [x.errorCode, x.latencyMs]), [['CLOUD_TIMEOUT', 5000], ['CLOUD_TIMEOUT', 5000]]);
  assert.equal(clock.now(), 5000 + 500 + 5000);
  assert.equal(clock.pending(), 0, 'no timer left behind');
});

test('the caller aborting stops at once with ABORTED and no retry', async () => {
  const clock = createVirtualClock(0);
  const events: DriverCallEvent[] = [];
  const inner = scripted(clock, [(s) => clock.sleep(10_000, s).then(() => node('late'))]);
  const driver = wrapDriver(inner, { cloud: 'c1', clock, onCall: (e) => events.push(e) });
  const ac = new AbortController();
  const p = driver.get('x', ac.signal);
  await clock.advance(1000);
  ac.abort();
  const e = await p.catch((x: unknown) => x);
  assert.ok(e instanceof NubisError && e.code === 'ABORTED');
  assert.equal(inner.calls, 1);
  assert.deepEqual(events.map((x) => [x.errorCode, x.latencyMs]), [['ABORTED', 1000]]);
  assert.equal(clock.pending(), 0, 'no timer left behind');
});

test('create is retried only when it carries an idempotency token', async () => {
  const clock = createVirtualClock(0);
  let creates = 0;
  const base = scripted(clock, []);
  base.create = async () => {
    creates++;
    throw cloudErrorFromStatus(503, 'busy');
  };
  const d = wrapDriver(base, { cloud: 'c', clock, random: () => 0, retry: { attempts: 3 } });
  const r = { key: 'k', tags: {}, requirements: {} };
  await d.create({ ...r, idempotencyToken: '' }, sig()).catch(() => {});
  assert.equal(creates, 1);
  await d.create({ ...r, idempotencyToken: 't' }, sig()).catch(() => {});
  assert.equal(creates, 4);
});

test('token bucket: ratePerSec 2, burst 1 spaces attempts 500 ms apart on the clock', async () => {
  const { clock, driver } = setup([], { ratePerSec: 2, burst: 1 });
  const stop = clock.autoAdvance();
  const done: number[] = [];
  await Promise.all(Array.from({ length: 5 }, () => driver.get('x', sig()).then(() => done.push(clock.now()))));
  stop();
  assert.deepEqual(done, [0, 500, 1000, 1500, 2000]);
});

test('withCorrelation tags the events of that view only', async () => {
  const { events, driver } = setup([]);
  await driver.withCorrelation('req-42').get('a', sig());
  await driver.get('b', sig());
  assert.deepEqual(events.map((e) => [e.target, e.correlationId]), [['a', 'req-42'], ['b', undefined]]);
});

test('over the sim with a 50 % create failure rate: retries converge, one server per token', async () => {
  const clock = createVirtualClock(0);
  const cloud = createSimCloud({ path: ':memory:', clock, seed: 5, errors: { create: [{ rate: 0.3, status: 503, partial: true }, { rate: 0.2, status: 500 }] } });
  const events: DriverCallEvent[] = [];
  const d = wrapDriver(createSimDriver({ cloud: 's', options: { cloud }, dataDir: '/x', clock }), {
    cloud: 's',
    clock,
    onCall: (e) => events.push(e),
    retry: { attempts: 10 },
  });
  const stop = clock.autoAdvance();
  const nodes = await Promise.all(
    Array.from({ length: 20 }, (_, i) => d.create({ key: `k${i}`, tags: { k: String(i) }, idempotencyToken: `tok-${i}`, requirements: {} }, sig())),
  );
  stop();
  assert.equal(new Set(nodes.map((n) => n.id)).size, 20);
  assert.equal(cloud.inventory().length, 20, 'no duplicates, no orphans');
  assert.ok(events.some((e) => e.outcome === 'error'), 'some attempts failed');
  assert.equal(events.filter((e) => e.outcome === 'ok').length, 20);
  cloud.close();
});
