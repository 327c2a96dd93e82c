/**
 * A node that lost its processes without Nubis asking (rebooted from the cloud's console, its
 * agent restarted with no state) answers `process: none` for an instance that was started.
 * That instance is not alive: the engine runs its start step again. (Before: `none` counted as
 * alive, the instance stayed running/healthy with nothing running, and was never restarted.)
 *
 * The sim driver the engine uses is captured so the test can reboot the node behind the
 * engine's back; the signal that the engine looked is the `instance.health` event the
 * observation emits when it sees the change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { createEventLog, type NubisEvent } from '../../src/events/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import { createSimDriver, defaultDriverFactories, type Driver } from '../../src/drivers/index.js';
import { tempDir, simSpec } from '../helpers/control-plane.js';

/** Resolves with the first event matching `pred` committed from now on. */
function nextEvent(events: ReturnType<typeof createEventLog>, pred: (e: NubisEvent) => boolean): Promise<NubisEvent> {
  return new Promise((resolve) => {
    const off = events.subscribe({}, (e) => {
      if (!pred(e)) return;
      off();
      resolve(e);
    });
  });
}

test('an instance whose node lost its process (process: none) is started again', { timeout: 120_000 }, async () => {
  const dir = tempDir('nubis-lost-');
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const events = createEventLog(store);
  const drivers: Driver[] = [];
  const cp = await createControlPlane({
    dataDir: dir, store, events,
    drivers: { ...defaultDriverFactories(), sim: (ctx) => { const d = createSimDriver(ctx); drivers.push(d); return d; } },
    engine: { pollIntervalMs: 5, observeIntervalMs: 50 },
  });
  await cp.start();
  try {
    const started = nextEvent(events, (e) => e.kind === 'instance.phase' && e.outcome === 'running');
    await cp.apply({ spec: simSpec('lost', { web: 1 }, { simPath: path.join(dir, 'sim.db') }) }, { actor: 'user:test' });
    await started;
    const starts = async (): Promise<number> => (await events.list({ deployment: 'lost', kind: 'instance.step', limit: 1000 })).filter((e) => e.data?.['step'] === 'start' && e.outcome === 'succeeded').length;
    assert.equal(await starts(), 1);
    const nodeId = (await cp.getDeployment('lost')).instances[0]!.node.id;
    assert.ok(nodeId, 'the instance has a node');
    const driver = drivers.find(() => true);
    assert.ok(driver, 'the engine built a sim driver');

    const seen = nextEvent(events, (e) => e.kind === 'instance.health' && e.data?.['process'] === 'none');
    const restarted = nextEvent(events, (e) => e.kind === 'instance.step' && e.data?.['step'] === 'start' && e.outcome === 'succeeded');
    await driver.reboot(nodeId, AbortSignal.timeout(30_000));
    await seen;
    const runningAgain = nextEvent(events, (e) => e.kind === 'instance.phase' && e.outcome === 'running');
    await restarted;
    assert.equal(await starts(), 2, 'the start step ran once more');
    await runningAgain;
    assert.equal((await cp.getDeployment('lost')).instances[0]!.phase, 'running');
  } finally {
    await cp.stop();
    await store.close();
  }
});
