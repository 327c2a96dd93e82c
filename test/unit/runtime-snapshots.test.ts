/** The runtime wrapper's snapshot calls: present only when the driver has them, retry rules, the stream outliving its timeout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { cloudErrorFromStatus } from '../../src/errors/index.js';
import type { CloudNode, Driver, SnapshotRef } from '../../src/drivers/driver.js';
import { wrapDriver, type DriverCallEvent } from '../../src/drivers/runtime.js';

const sig = (): AbortSignal => new AbortController().signal;
const node: CloudNode = { id: 'n1', tags: {}, status: 'running', createdAt: 0 };
const ref: SnapshotRef = { id: 'img-1', kind: 'image', createdAt: 0 };

/** A driver whose node calls do nothing; tests add snapshot calls. */
function base(): Driver {
  const noop = async (): Promise<void> => {};
  const noAgent = (): never => {
    throw new Error('no agent');
  };
  return { platform: 'sim', create: async () => node, get: async () => node, list: async () => [], delete: noop, reboot: noop, close: noop, agent: noAgent };
}

test('a driver without snapshot calls gets none from the wrapper', () => {
  const clock = createVirtualClock(0);
  const d = wrapDriver(base(), { cloud: 'c1', clock });
  assert.equal(d.snapshot, undefined);
  assert.equal(d.readSnapshot, undefined);
});

test('snapshot is not retried, status and delete are; every attempt is an event', async () => {
  const clock = createVirtualClock(0);
  const events: DriverCallEvent[] = [];
  let snaps = 0;
  let statuses = 0;
  let deletes = 0;
  const inner: Driver = {
    ...base(),
    snapshot: async () => {
      snaps++;
      throw cloudErrorFromStatus(503, 'busy');
    },
    snapshotStatus: async () => (++statuses < 3 ? Promise.reject(cloudErrorFromStatus(500, 'oops')) : 'ready'),
    readSnapshot: async () => (async function* () {})(),
    deleteSnapshot: async () => {
      if (++deletes === 1) throw cloudErrorFromStatus(429, 'slow');
    },
  };
  const d = wrapDriver(inner, { cloud: 'c1', clock, onCall: (e) => events.push(e), random: () => 0 });
  await assert.rejects(d.snapshot!('n1', { name: 'b1', tags: {}, volumes: false }, sig()), { code: 'CLOUD_UNAVAILABLE' });
  assert.equal(snaps, 1, 'a second attempt would make a second image');
  assert.equal(await d.snapshotStatus!(ref, sig()), 'ready');
  assert.equal(statuses, 3);
  await d.deleteSnapshot!(ref, sig());
  assert.equal(deletes, 2);
  assert.deepEqual(
    events.map((e) => [e.op, e.target, e.outcome]),
    [
      ['snapshot', 'n1', 'error'],
      ['snapshotStatus', 'img-1', 'error'],
      ['snapshotStatus', 'img-1', 'error'],
      ['snapshotStatus', 'img-1', 'ok'],
      ['deleteSnapshot', 'img-1', 'error'],
      ['deleteSnapshot', 'img-1', 'ok'],
    ],
  );
});

test('the read stream outlives the open timeout and ends when the caller aborts', async () => {
  const clock = createVirtualClock(0);
  let seen: AbortSignal | undefined;
  const inner: Driver = {
    ...base(),
    snapshot: async () => ref,
    snapshotStatus: async () => 'ready',
    readSnapshot: async (_r, s) => {
      seen = s;
      return (async function* () {
        yield new Uint8Array([1]);
      })();
    },
    deleteSnapshot: async () => {},
  };
  const d = wrapDriver(inner, { cloud: 'c1', clock, timeoutMs: { readSnapshot: 1000 } });
  const ac = new AbortController();
  await d.readSnapshot!(ref, ac.signal);
  await clock.advance(5000);
  assert.equal(seen?.aborted, false, 'the open timeout does not cut a running copy');
  ac.abort();
  assert.equal(seen?.aborted, true);
});

test('a replacement driver without snapshots fails them with CLOUD_UNSUPPORTED', async () => {
  const clock = createVirtualClock(0);
  const inner: Driver = { ...base(), snapshot: async () => ref, snapshotStatus: async () => 'ready', readSnapshot: async () => (async function* () {})(), deleteSnapshot: async () => {} };
  const d = wrapDriver(inner, { cloud: 'c1', clock });
  d.replace(base());
  await assert.rejects(d.snapshotStatus!(ref, sig()), { code: 'CLOUD_UNSUPPORTED', retryable: false });
});
