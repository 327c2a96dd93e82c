/** The driver conformance suite, run for the sim driver in-process, over HTTP, and wrapped. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRealClock, createVirtualClock } from '../../src/clock/index.js';
import { runDriverConformance } from '../../src/drivers/conformance.js';
import { wrapDriver } from '../../src/drivers/runtime.js';
import { createSimCloud, createSimDriver, startSimServer } from '../../src/drivers/sim/index.js';

runDriverConformance('sim in-process (wall clock, no latency)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-simconf-'));
  const driver = createSimDriver({ cloud: 'conf', options: {}, dataDir: dir, clock: createRealClock() });
  return {
    driver,
    async teardown() {
      await driver.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

runDriverConformance('sim in-process (virtual clock, 20–90 s provisioning, 30–300 s snapshots)', async () => {
  const clock = createVirtualClock(1_700_000_000_000);
  const stop = clock.autoAdvance();
  const cloud = createSimCloud({
    name: 'conf-virtual',
    path: ':memory:',
    clock,
    latency: { minMs: 20_000, maxMs: 90_000 },
    apiLatencyMs: 200,
    seed: 7,
    snapshot: { latency: { minMs: 30_000, maxMs: 300_000 }, sizeBytes: 100_003 },
  });
  const driver = createSimDriver({ cloud: 'conf-virtual', options: { cloud }, dataDir: '/nonexistent', clock });
  return {
    driver,
    failNextSnapshot: () => cloud.snapshots.inject('error'),
    async teardown() {
      stop();
      await driver.close();
      cloud.close();
    },
  };
});

// the HTTP sim driver has no snapshot calls (in-process only): the snapshot cases skip, saying so
runDriverConformance('sim over HTTP (startSimServer, time scale 1000)', async () => {
  const server = await startSimServer({ port: 0, path: ':memory:', timeScale: 1000, latency: { minMs: 5_000, maxMs: 30_000 } });
  const driver = createSimDriver({ cloud: 'conf-http', options: { url: server.url }, dataDir: '/nonexistent', clock: createRealClock() });
  return {
    driver,
    async teardown() {
      await driver.close();
      await server.close();
    },
  };
});

runDriverConformance('sim in-process through the runtime wrapper', async () => {
  const clock = createRealClock();
  const cloud = createSimCloud({ name: 'conf-wrapped', path: ':memory:', clock, snapshot: { latencyMs: 30 } });
  const inner = createSimDriver({ cloud: 'conf-wrapped', options: { cloud }, dataDir: '/nonexistent', clock });
  const driver = wrapDriver(inner, { cloud: 'conf-wrapped', clock, ratePerSec: 1000, burst: 100 });
  return {
    driver,
    failNextSnapshot: () => cloud.snapshots.inject('error'),
    async teardown() {
      await driver.close();
      cloud.close();
    },
  };
});
