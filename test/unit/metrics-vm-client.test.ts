/**
 * The VictoriaMetrics backend's import path against a local HTTP stand-in that fails and
 * stalls: requests in flight stay bounded, retryable failures are retried with backoff until
 * every sample arrived, a stalled request times out (sized to its batch) and is retried,
 * 4xx is not retried and is reported by flush, a full queue drops and reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVictoriaMetricsStore } from '../../src/metrics/vm/index.js';
import { backoffMs, ImportQueue } from '../../src/metrics/vm/index.js';
import { NubisError } from '../../src/errors/index.js';
import type { Sample } from '../../src/metrics/types.js';

interface StandIn {
  url: string;
  /** Samples in imports answered 204, by value. */
  received: number[];
  imports: number;
  peakConcurrent: number;
  close(): Promise<void>;
}

/**
 * `behave(n, attempt, first)` decides the n-th import (0-based): 'ok', a status code, or 'stall' (never
 * answered); `attempt` counts earlier imports of the same body and `first` is its smallest value, so a
 * test can fail a given batch's first tries whatever order the client sends batches in.
 * With `holdUntil`, no import is answered before that many are in flight at once (so a bound is
 * seen to be used however the machine schedules the client); later ones are answered at once.
 */
async function standIn(behave: (n: number, attempt: number, first: number) => 'ok' | number | 'stall', holdUntil = 0): Promise<StandIn> {
  const attempts = new Map<string, number>();
  let concurrent = 0;
  let held: (() => void)[] | undefined = holdUntil > 0 ? [] : undefined;
  const st = { received: [] as number[], imports: 0, peakConcurrent: 0 };
  const open = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/internal/force_flush')) return void res.end();
    const n = st.imports++;
    concurrent++;
    st.peakConcurrent = Math.max(st.peakConcurrent, concurrent);
    if (held !== undefined && concurrent >= holdUntil) {
      const go = held;
      held = undefined;
      for (const f of go) setImmediate(f);
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    res.on('close', () => {
      concurrent--;
      open.delete(res);
    });
    open.add(res);
    req.on('end', () => {
      const attempt = attempts.get(body) ?? 0;
      attempts.set(body, attempt + 1);
      const values = body.split('\n').filter(Boolean).flatMap((line) => (JSON.parse(line) as { values: number[] }).values);
      const b = behave(n, attempt, Math.min(...values));
      if (b === 'stall') return; // the client's timeout ends it
      // answer on a later turn so that concurrent requests overlap
      const answer = (): void => {
        if (b === 'ok') {
          for (const line of body.split('\n')) if (line) st.received.push(...(JSON.parse(line) as { values: number[] }).values);
          res.statusCode = 204;
          res.end();
        } else {
          res.statusCode = b;
          res.end(JSON.stringify({ error: `stand-in says ${b}` }));
        }
      };
      if (held !== undefined) held.push(answer);
      else setImmediate(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get received() {
      return st.received;
    },
    get imports() {
      return st.imports;
    },
    get peakConcurrent() {
      return st.peakConcurrent;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const x of open) x.destroy();
        server.close(() => r());
      }),
  };
}

const samples = (n: number, from = 0): Sample[] => Array.from({ length: n }, (_, i) => ({ name: 'm', labels: { k: String((from + i) % 3) }, t: 1_700_000_000_000 + from + i, v: from + i }));
const fast = { retries: 6, baseMs: 1, maxMs: 8 };

test('imports: at most maxInFlight at once; 503 and 429 are retried until every sample arrived', { timeout: 120_000 }, async () => {
  // answers wait until 3 are in flight: a client that never uses its bound hangs here (and times out).
  // Batch b (its samples b*10…b*10+9): b % 3 == 0 gets a 503 on its first try, b % 5 == 0 a 429 on its
  // first two; decided per batch, not per request number, so three batches retrying in step cannot
  // keep landing on the failing numbers until their retries run out.
  const vm = await standIn((_n, attempt, first) => {
    const b = Math.floor(first / 10);
    if (b % 3 === 0 && attempt === 0) return 503;
    if (b % 5 === 0 && attempt <= (b % 3 === 0 ? 2 : 1)) return 429;
    return 'ok';
  }, 3);
  try {
    const store = createVictoriaMetricsStore({ url: vm.url, batchSize: 10, maxInFlight: 3, retry: fast });
    for (let i = 0; i < 40; i++) store.append(samples(10, i * 10));
    await store.flush();
    assert.ok(vm.peakConcurrent <= 3, `peak ${vm.peakConcurrent} requests at once`);
    assert.equal(vm.peakConcurrent, 3, 'the bound is used');
    assert.deepEqual([...vm.received].sort((a, b) => a - b), Array.from({ length: 400 }, (_, i) => i));
    const st = store.importStats();
    assert.equal(st.batches, 40);
    assert.ok(st.retries >= 14, `retries counted (${st.retries})`);
    assert.equal(st.failedBatches, 0);
  } finally {
    await vm.close();
  }
});

test('a stalled import times out after its batch-sized timeout and is retried', async () => {
  const vm = await standIn((n) => (n === 0 ? 'stall' : 'ok'));
  try {
    const store = createVictoriaMetricsStore({ url: vm.url, batchSize: 100, importBaseTimeoutMs: 1000, retry: fast });
    store.append(samples(100));
    await store.flush();
    // under heavy load a retry may time out too (and still land): count distinct samples
    assert.deepEqual([...new Set(vm.received)].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assert.ok(store.importStats().retries >= 1, 'the stalled request was retried');
    assert.equal(store.importStats().failedBatches, 0);
  } finally {
    await vm.close();
  }
});

test('a 400 is not retried; flush reports it once; retries that run out are reported', async () => {
  const vm = await standIn((n) => (n === 0 ? 400 : 500));
  try {
    const store = createVictoriaMetricsStore({ url: vm.url, batchSize: 5, retry: { retries: 2, baseMs: 1, maxMs: 2 } });
    store.append(samples(5));
    await assert.rejects(store.flush(), (e: unknown) => e instanceof NubisError && e.code === 'REQUEST_INVALID' && /stand-in says 400/.test(e.message));
    assert.equal(vm.imports, 1, 'not retried');
    store.append(samples(5));
    await assert.rejects(store.flush(), (e: unknown) => e instanceof NubisError && e.code === 'UNAVAILABLE' && e.retryable);
    assert.equal(vm.imports, 1 + 3, 'first try and two retries');
    assert.equal(store.importStats().failedBatches, 2);
  } finally {
    await vm.close();
  }
});

test('a full queue drops the oldest waiting batch and says so; timeouts grow with the batch; backoff doubles up to its cap', async () => {
  const q = new ImportQueue(
    async () => {
      await new Promise(() => {}); // never answers
      throw new Error('unreachable');
    },
    { maxInFlight: 1, maxQueued: 2, baseTimeoutMs: 1000, minBytesPerSec: 1000 },
  );
  for (let i = 0; i < 5; i++) q.push(`batch-${i}`, 10);
  const st = q.stats();
  assert.equal(st.inFlight, 1);
  assert.equal(st.droppedBatches, 2);
  assert.equal(st.droppedSamples, 20);
  assert.match(q.takeFailure()!.message, /dropped a batch of 10 samples/);
  assert.equal(q.timeoutFor(0), 1000);
  assert.equal(q.timeoutFor(5000), 6000);
  const p = { retries: 9, baseMs: 100, maxMs: 1000 };
  assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffMs(p, a, () => 1)), [100, 200, 400, 800, 1000]);
  assert.deepEqual([0, 3].map((a) => backoffMs(p, a, () => 0)), [50, 400]);
});
