/**
 * Per-cloud health on a virtual clock: a failing list backs the whole cloud off exponentially
 * (with jitter and a cap), a 401/403 stops every call until reset, calls inside the window never
 * reach the driver, and each change of state is reported once. Through the runtime wrapper, so
 * what is counted is what a driver was SENT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { NubisError, cloudErrorFromStatus } from '../../src/errors/index.js';
import { createCloudHealth, wrapDriver, type CloudHealthChange, type Driver } from '../../src/drivers/index.js';

const sig = (): AbortSignal => new AbortController().signal;

/** A driver whose every list answers with `answer()`; records the clock time of each list it was sent. */
function countingDriver(clock: { now(): number }, answer: () => Error | undefined): Driver & { sent: number[] } {
  const sent: number[] = [];
  const d = {
    sent,
    platform: 'sim' as const,
    async list() {
      sent.push(clock.now());
      const e = answer();
      if (e) throw e;
      return [];
    },
    async get() {
      sent.push(clock.now());
      const e = answer();
      if (e) throw e;
      return undefined;
    },
    create: async () => { throw new Error('unused'); },
    delete: async () => {},
    reboot: async () => {},
    agent: () => { throw new Error('no agent'); },
    close: async () => {},
  };
  return d;
}

function setup(answer: () => Error | undefined, random = () => 0.5) {
  const clock = createVirtualClock(0);
  const changes: CloudHealthChange[] = [];
  const health = createCloudHealth({ cloud: 'os', clock, baseMs: 1000, maxMs: 16_000, random, onChange: (c) => changes.push(c) });
  const inner = countingDriver(clock, answer);
  const calls: unknown[] = [];
  const driver = wrapDriver(inner, { cloud: 'os', clock, health, onCall: (e) => calls.push(e), retry: { attempts: 5, baseMs: 10, maxMs: 10 }, random: () => 0 });
  return { clock, health, inner, driver, changes, calls };
}

test('a 401 stops every call until reset: one request sent over 1000 attempts, one event, the reason kept', async () => {
  const { clock, inner, driver, changes, health, calls } = setup(() => cloudErrorFromStatus(401, 'keystone: The request you have made requires authentication'));
  for (let i = 0; i < 1000; i++) {
    await assert.rejects(driver.list({}, sig()), (e: NubisError) => e.code === 'CLOUD_UNAUTHORIZED' && !e.retryable);
    await clock.advance(1000);
  }
  assert.equal(inner.sent.length, 1, 'only the first call reached the cloud');
  assert.equal(calls.length, 1, 'one driver.call event: fail-fast calls are not cloud calls');
  assert.deepEqual(changes.map((c) => c.to), ['unusable']);
  const v = health.view();
  assert.equal(v.state, 'unusable');
  assert.match(v.reason ?? '', /authentication failed \(401\): check the credential/);
  // every other operation is stopped too, with the reason
  await assert.rejects(driver.get('x', sig()), (e: NubisError) => /calls stopped until its credential or entry changes/.test(e.message));
  assert.equal(inner.sent.length, 1);

  health.reset('credential os changed');
  assert.equal(health.view().state, 'healthy', 'calls may go again');
  // the first call after the change goes alone; the others fail fast until it is answered
  const first = driver.list({}, sig());
  await assert.rejects(driver.list({}, sig()), (e: NubisError) => e.retryable && /first call with it is under way/.test(e.message));
  await assert.rejects(first);
  for (let i = 0; i < 100; i++) await assert.rejects(driver.list({}, sig()));
  assert.equal(inner.sent.length, 2, 'one more attempt per credential change');
  assert.deepEqual(changes.map((c) => c.to), ['unusable', 'unusable'], 'the change is reported by its outcome');
});

test('after a reset the first call that succeeds reports the cloud healthy again, once', async () => {
  let good = false;
  const { inner, driver, changes, health } = setup(() => (good ? undefined : cloudErrorFromStatus(401, 'wrong password')));
  await assert.rejects(driver.list({}, sig()));
  good = true;
  health.reset('credential os changed');
  await Promise.all([driver.list({}, sig()), assert.rejects(driver.get('x', sig()))]);
  await driver.list({}, sig());
  await driver.get('x', sig());
  assert.equal(inner.sent.length, 4);
  assert.deepEqual(changes.map((c) => [c.from, c.to]), [['healthy', 'unusable'], ['unusable', 'healthy']]);
});

test('a 403 and an invalid option stop the cloud as a 401 does; a 404 or a 400 does not', async () => {
  for (const [e, stops] of [
    [cloudErrorFromStatus(403, 'forbidden'), true],
    [new NubisError('SPEC_INVALID', 'ec2 option region: required'), true],
    [cloudErrorFromStatus(404, 'no such server'), false],
    [cloudErrorFromStatus(400, 'bad filter'), false],
  ] as const) {
    const { inner, driver, health } = setup(() => e);
    await assert.rejects(driver.get('x', sig()));
    await assert.rejects(driver.get('x', sig()));
    assert.equal(health.view().state, stops ? 'unusable' : 'healthy', e.code);
    assert.equal(inner.sent.length, stops ? 1 : 2, e.code);
  }
});

test('a failing list backs off exponentially with jitter and a cap; calls in the window fail fast without reaching the cloud', async () => {
  let down = true;
  const { clock, inner, driver, changes, health } = setup(() => (down ? cloudErrorFromStatus(503, 'maintenance') : undefined), () => 0.99);
  // try every 100 ms for 60 s of cloud time
  let fastFailures = 0;
  for (let t = 0; t < 60_000; t += 100) {
    await driver.list({}, sig()).catch((e: NubisError) => {
      assert.equal(e.retryable, true);
      if ((e.details as { health?: string } | undefined)?.health === 'backoff') fastFailures++;
    });
    await clock.advance(100);
  }
  const gaps = inner.sent.slice(1).map((t, i) => t - inner.sent[i]!);
  // windows of d in [d/2, d]: d = 1, 2, 4, 8, 16 (cap), 16 … s
  const ceilings = gaps.map((_, i) => Math.min(16_000, 1000 * 2 ** i));
  gaps.forEach((g, i) => {
    assert.ok(g >= ceilings[i]! / 2, `gap ${i} of ${g} ms is at least half its window ${ceilings[i]}`);
    assert.ok(g <= ceilings[i]! + 100, `gap ${i} of ${g} ms is at most its window ${ceilings[i]} (+ the polling step)`);
  });
  assert.ok(inner.sent.length <= 8, `${inner.sent.length} lists sent in 60 s, not 600`);
  assert.ok(fastFailures > 500, 'the rest failed fast');
  assert.deepEqual(changes.map((c) => c.to), ['backoff'], 'one event for the change, none per attempt');
  assert.equal(health.view().state, 'backoff');

  down = false;
  await clock.advance(16_000);
  await driver.list({}, sig());
  assert.equal(health.view().state, 'healthy');
  assert.deepEqual(changes.map((c) => c.to), ['backoff', 'healthy']);
});

test('while backing off only one probe goes out at a time; a get failing with 503 while healthy does not back the cloud off', async () => {
  const { clock, inner, driver, health } = setup(() => cloudErrorFromStatus(503, 'busy'));
  await assert.rejects(driver.get('x', sig()));
  assert.equal(health.view().state, 'healthy', 'a single get is retried by the call, not by the cloud');
  assert.equal(inner.sent.length, 5, 'the call retried itself (5 attempts)');
  await assert.rejects(driver.list({}, sig()));
  assert.equal(health.view().state, 'backoff');
  const before = inner.sent.length;
  assert.equal(before, 6, 'the list was not retried within the call: the cloud backs off instead');
  await clock.advance(1000);
  const a = health.admit('list');
  assert.throws(() => health.admit('get'), (e: NubisError) => e.code === 'CLOUD_UNAVAILABLE' && e.retryable);
  a.settle(cloudErrorFromStatus(503, 'still busy'));
  assert.equal(health.view().failures, 2);
});
