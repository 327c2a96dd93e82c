/**
 * Recovery on the `sim` cloud with injected failures (src/drivers/sim/faults.ts): a dead
 * process is restarted; probes that keep failing after a restart climb to a reboot; a node
 * whose agent stops answering skips the restart and is rebooted; a reboot the cloud refuses
 * climbs to a recreate; a node the cloud lost is recreated at once. A give-up survives a
 * control-plane restart (migration 0022): the limits are not reset. Everything waits on events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import { createEventLog, type EventLog, type NubisEvent } from '../../src/events/index.js';
import { createControlPlane, type RunningControlPlane } from '../../src/engine/index.js';
import { createSimDriver, defaultDriverFactories, simFaults, type Driver, type SimFaults } from '../../src/drivers/index.js';
import { createRealClock } from '../../src/clock/index.js';
import { createRecovery, type Recovery } from '../../src/operations/index.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';

interface Plane { cp: RunningControlPlane; store: Store; events: EventLog; recovery: Recovery; drivers: Driver[]; stop(): Promise<void> }

async function plane(dir: string): Promise<Plane> {
  const [store, drivers] = [await openStore({ path: path.join(dir, 'nubis.db') }), [] as Driver[]];
  const events = createEventLog(store);
  // the sim drivers the engine builds, for their failure injection
  const sim = (ctx: Parameters<typeof createSimDriver>[0]): Driver => {
    const d = createSimDriver(ctx);
    drivers.push(d);
    return d;
  };
  const cp = await createControlPlane({
    dataDir: dir, store, events, drivers: { ...defaultDriverFactories(), sim },
    engine: { pollIntervalMs: 5, observeIntervalMs: 50, observeTimeoutMs: 500, sweepIntervalMs: 600_000 },
    retry: { attempts: 1 },
  });
  const recovery = await createRecovery({ engine: cp.engine, store, events, clock: createRealClock(), tickMs: 50 });
  await cp.start();
  return { cp, store, events, recovery, drivers, async stop() { await cp.stop(); await store.close(); } };
}

const spec = (name: string, simPath: string, recovery: string, simExtra = ''): string => [
  `name: ${name}`,
  `clouds: { sim: { platform: sim, options: { path: ${JSON.stringify(simPath)}${simExtra} } } }`,
  'nodeTemplates: { t: { cloud: sim } }',
  'components:',
  '  app:',
  '    nodeTemplate: t',
  // a start that is not healthy within 2 s fails (and the instance with it: no retries)
  '    lifecycle: { start: { run: run, timeout: 2s, retries: 0 }, health: { command: "true", interval: 100ms } }',
  `    recovery: ${recovery}`,
  '',
].join('\n');

const kinds = (evs: NubisEvent[]): string[] => evs.filter((e) => e.data?.['phase'] !== 'source').map((e) => (e.kind === 'recovery.step' ? `step:${String(e.data?.['step'])}` : e.kind.slice('recovery.'.length)));

async function recoveryEvents(p: Plane, name: string): Promise<NubisEvent[]> {
  return p.events.list({ deployment: name, kind: 'recovery.*', limit: 1000 });
}

/** Waits until the deployment's recovery events, after the first `from`, include `kind`; returns those after `from`. */
async function until(p: Plane, name: string, from: number, kind: string): Promise<NubisEvent[]> {
  return waitFor(`${name}: ${kind}`, async () => {
    const evs = (await recoveryEvents(p, name)).slice(from);
    return evs.some((e) => e.kind === kind) ? evs : undefined;
  }, 120_000, 20);
}

async function deployed(p: Plane, name: string, text: string): Promise<{ nodeId: string; faults: SimFaults; driver: Driver }> {
  await p.cp.apply({ spec: text }, { actor: 'user:test' });
  const inst = await waitFor(`${name} running`, () => {
    const i = p.cp.engine.instances.get(`${name}/app-1`);
    return i?.phase === 'running' && i.health === 'healthy' ? i : undefined;
  }, 60_000, 10);
  const node = p.cp.engine.nodes.get(inst.key)!;
  const driver = p.drivers[p.drivers.length - 1]!;
  return { nodeId: node.providerId!, faults: simFaults(driver)!, driver };
}

test('sim: injected failures climb exactly as far as needed', { timeout: 300_000 }, async (t) => {
  const dir = tempDir('nubis-recovery-sim-');
  const p = await plane(dir);
  try {
    await t.test('a dead process is restarted', async () => {
      const { nodeId, faults } = await deployed(p, 'dead', spec('dead', path.join(dir, 'dead.db'), '{}'));
      faults.killProcess(nodeId, 'app-1');
      assert.deepEqual(kinds(await until(p, 'dead', 0, 'recovery.recovered')), ['detected', 'step:restart', 'recovered']);
    });

    await t.test('probes that keep failing after the restart: the reboot clears them', async () => {
      const { nodeId, faults } = await deployed(p, 'probes', spec('probes', path.join(dir, 'probes.db'), '{ window: 10s, failures: 3 }'));
      faults.failProbes(nodeId, 'app-1', true);
      const evs = await until(p, 'probes', 0, 'recovery.recovered');
      assert.deepEqual(kinds(evs), ['detected', 'step:restart', 'step:reboot', 'recovered']);
      assert.match(evs[0]!.reason ?? '', /^3 probe failures within 10 s: sim: health probe failed \(injected\)$/);
      assert.match(evs[2]!.reason ?? '', /restart did not help: its start failed: start: HEALTH_FAILED/);
    });

    await t.test('a node whose agent does not answer skips the restart and is rebooted', async () => {
      const { nodeId, faults } = await deployed(p, 'cut', spec('cut', path.join(dir, 'cut.db'), '{}'));
      faults.partition(nodeId, true);
      const evs = await until(p, 'cut', 0, 'recovery.recovered');
      assert.deepEqual(kinds(evs), ['detected', 'step:reboot', 'recovered']);
      assert.equal(evs[0]!.data?.['failure'], 'unreachable');
      assert.match(evs[1]!.reason ?? '', /skipped restart: the node does not answer/);
      assert.match(evs[0]!.reason ?? '', /the cloud reports the node running/);
    });

    await t.test('a reboot the cloud refuses climbs to a recreate', async () => {
      const { nodeId, faults } = await deployed(p, 'noboot', spec('noboot', path.join(dir, 'noboot.db'), '{}', ', errors: { reboot: [{ rate: 1, status: 500 }] }'));
      faults.partition(nodeId, true);
      const evs = await until(p, 'noboot', 0, 'recovery.recovered');
      assert.deepEqual(kinds(evs), ['detected', 'step:reboot', 'step:recreate', 'recovered']);
      assert.match(evs[2]!.reason ?? '', /reboot failed: sim reboot failed \(injected 500\)/);
      assert.notEqual(p.cp.engine.nodes.get('noboot/app-1')!.providerId, nodeId, 'a new node');
    });

    await t.test('a node the cloud lost is recreated at once', async () => {
      const { nodeId, driver } = await deployed(p, 'lost', spec('lost', path.join(dir, 'lost.db'), '{}'));
      await driver.delete(nodeId, AbortSignal.timeout(10_000));
      const evs = await until(p, 'lost', 0, 'recovery.recovered');
      assert.deepEqual(kinds(evs), ['detected', 'step:recreate', 'recovered']);
      assert.equal(evs[1]!.data?.['failure'], 'gone');
      assert.match(evs[1]!.reason ?? '', /the cloud no longer has its node/);
    });
  } finally {
    await p.stop();
  }
});

test('sim: a give-up and the limits survive a control-plane restart', { timeout: 120_000 }, async () => {
  const dir = tempDir('nubis-recovery-sim-restart-');
  const simPath = path.join(dir, 'sim.db');
  let p = await plane(dir);
  const policy = '{ ladder: [restart, alert], limits: { restart: { max: 1, within: 1h } } }';
  try {
    const { nodeId, faults } = await deployed(p, 'keep', spec('keep', simPath, policy));
    faults.killProcess(nodeId, 'app-1');
    await until(p, 'keep', 0, 'recovery.recovered');
    const again = p.cp.engine.nodes.get('keep/app-1')!.providerId!;
    faults.killProcess(again, 'app-1');
    const evs = await until(p, 'keep', 0, 'recovery.gave-up');
    assert.deepEqual(kinds(evs), ['detected', 'step:restart', 'recovered', 'detected', 'step:alert', 'gave-up']);
    await p.stop();
    p = await plane(dir);
    const v = p.recovery.view('keep');
    assert.equal(v.instances[0]!.status, 'gave-up');
    assert.deepEqual(v.instances[0]!.limits.find((l) => l.step === 'restart'), { step: 'restart', taken: 1, max: 1, withinMs: 3_600_000 });
    // the restarted control plane finds the instance as it was left: its process gone; nothing is tried
    const before = (await recoveryEvents(p, 'keep')).length;
    await waitFor('observed after the restart', () => p.cp.engine.instances.get('keep/app-1')?.processAlive === false || undefined, 30_000, 10);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await recoveryEvents(p, 'keep')).length, before, 'no recovery event after the restart');
    const r = await p.recovery.reset('keep', 'app-1', 'user:alice');
    assert.equal(r.instances[0]!.status, 'watching');
    const after = await until(p, 'keep', before, 'recovery.recovered');
    assert.deepEqual(kinds(after), ['reset', 'detected', 'step:restart', 'recovered']);
    await assert.rejects(p.recovery.reset('keep', 'app-9', 'user:alice'), /no instance app-9 with a recovery policy/);
  } finally {
    await p.stop();
  }
});
