/**
 * The reconcile core's keyed work queue and runner, on the virtual clock: de-duplication,
 * rate-limited requeue with exponential backoff up to a maximum, terminal errors, and
 * clock-driven delays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { NubisError } from '../../src/errors/index.js';
import { ReconcileCore, WorkQueue, done, requeueAfter, type ReconcileResult } from '../../src/engine/core/index.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

test('a queued key is handed out once; a key added while processing comes back after done', () => {
  const q = new WorkQueue({ clock: createVirtualClock(0) });
  q.add('a');
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.readyCount(), 2);
  assert.equal(q.next(), 'a');
  assert.equal(q.next(), 'b');
  assert.equal(q.next(), undefined);
  q.add('a'); // while processing
  assert.equal(q.next(), undefined, 'a processing key is never handed out twice');
  q.done('a');
  assert.equal(q.next(), 'a');
  q.done('a');
  q.done('b');
  assert.equal(q.next(), undefined);
  assert.equal(q.activeCount(), 0);
});

test('rate-limited requeues double from base up to the maximum, and forget resets them', () => {
  const q = new WorkQueue({ clock: createVirtualClock(0), baseMs: 100, maxMs: 800 });
  const delays = [1, 2, 3, 4, 5, 6].map(() => q.addRateLimited('k'));
  assert.deepEqual(delays, [100, 200, 400, 800, 800, 800]);
  assert.equal(q.numRequeues('k'), 6);
  q.forget('k');
  assert.equal(q.numRequeues('k'), 0);
  assert.equal(q.addRateLimited('k'), 100);
});

test('a delayed key becomes ready when the clock reaches it; the earliest pending delay wins', async () => {
  const clock = createVirtualClock(0);
  const q = new WorkQueue({ clock });
  q.addAfter('a', 1000);
  q.addAfter('a', 5000); // later: ignored
  q.addAfter('b', 500);
  q.addAfter('b', 200); // earlier: wins
  await clock.advance(199);
  assert.equal(q.next(), undefined);
  await clock.advance(1);
  assert.equal(q.next(), 'b');
  await clock.advance(799);
  assert.equal(q.next(), undefined);
  await clock.advance(1);
  assert.equal(q.next(), 'a');
  q.done('a');
  q.done('b');
  await clock.advance(10_000);
  assert.equal(q.next(), undefined, 'the superseded delays queue nothing');
  assert.equal(q.waitingCount(), 0);
});

test('the core retries a retryable failure with backoff on the clock, then stops at done', async () => {
  const clock = createVirtualClock(0);
  const core = new ReconcileCore({ clock });
  const at: number[] = [];
  core.register({
    name: 'flaky',
    backoffBaseMs: 100,
    backoffMaxMs: 300,
    reconcile(): ReconcileResult {
      at.push(clock.now());
      if (at.length <= 4) throw new NubisError('CLOUD_UNAVAILABLE', 'try later', { retryable: true });
      return done;
    },
  });
  core.start();
  core.enqueue('flaky', 'x');
  for (let i = 0; i < 30; i++) {
    await turns(3);
    await clock.advance(50);
  }
  assert.deepEqual(at, [0, 100, 300, 600, 900], 'delays 100, 200, 300 (the maximum), 300');
  assert.equal(core.stats('flaky').waiting, 0, 'done: nothing requeued');
  await core.stop();
});

test('a non-retryable error is terminal: recorded, reported, not requeued until the key is woken again', async () => {
  const clock = createVirtualClock(0);
  const core = new ReconcileCore({ clock });
  let calls = 0;
  const reported: string[] = [];
  core.register({
    name: 'strict',
    reconcile(): ReconcileResult {
      calls++;
      throw new NubisError('FORBIDDEN', 'not allowed');
    },
    onTerminal: (key, err) => reported.push(`${key}:${err.code}`),
  });
  core.start();
  core.enqueue('strict', 'k');
  await turns(3);
  await clock.advance(120_000);
  await turns(3);
  assert.equal(calls, 1);
  assert.deepEqual(reported, ['k:FORBIDDEN']);
  assert.deepEqual(core.terminal('strict').map((t) => [t.key, t.error.code]), [['k', 'FORBIDDEN']]);
  core.enqueue('strict', 'k');
  await turns(3);
  assert.equal(calls, 2, 'woken again, it is reconciled again');
  await core.stop();
});

test('requeue-after polls on the clock; an async reconcile holds its key (never two at once)', async () => {
  const clock = createVirtualClock(0);
  const core = new ReconcileCore({ clock });
  let running = 0;
  let most = 0;
  const at: number[] = [];
  core.register({
    name: 'poll',
    initialKeys: () => ['p'],
    async reconcile(): Promise<ReconcileResult> {
      running++;
      most = Math.max(most, running);
      at.push(clock.now());
      await clock.sleep(10);
      running--;
      return requeueAfter(1000);
    },
  });
  core.start();
  for (let i = 0; i < 40; i++) {
    core.enqueue('poll', 'p'); // wakes while it runs are folded into one more run
    await turns(3);
    await clock.advance(100);
  }
  assert.equal(most, 1);
  assert.ok(at.length >= 3, `reconciled ${at.length} times`);
  await core.stop();
  const n = at.length;
  await clock.advance(10_000);
  await turns(3);
  assert.equal(at.length, n, 'nothing runs after stop');
});

test('a controller name is registered once', () => {
  const core = new ReconcileCore({ clock: createVirtualClock(0) });
  core.register({ name: 'a', reconcile: () => done });
  assert.throws(() => core.register({ name: 'a', reconcile: () => done }));
});
