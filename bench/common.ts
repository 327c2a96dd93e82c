/** Shared by the engine benchmarks: a whole control plane over a temp data dir. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../src/store/index.js';
import { createEventLog } from '../src/events/index.js';
import { createControlPlane, type ControlPlaneOptions, type RunningControlPlane } from '../src/engine/index.js';
import type { Clock } from '../src/clock/index.js';

export interface BenchControlPlane {
  cp: RunningControlPlane;
  /** Stops everything and removes the data dir. */
  close(): Promise<void>;
}

export async function startBenchControlPlane(opts: { clock?: Clock; engine?: ControlPlaneOptions['engine'] } = {}): Promise<BenchControlPlane> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-'));
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const clock = opts.clock;
  const events = createEventLog(store, clock ? () => clock.now() : undefined);
  const cp = await createControlPlane({ dataDir: dir, store, events, ...(clock ? { clock } : {}), ...(opts.engine ? { engine: opts.engine } : {}) });
  await cp.start();
  return {
    cp,
    async close() {
      await cp.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the deployment is ready, polling between idle points. */
export async function untilReady(cp: RunningControlPlane, name: string): Promise<void> {
  for (;;) {
    await cp.idle();
    if ((await cp.getDeployment(name)).state === 'ready') return;
    await new Promise((r) => setTimeout(r, 5));
  }
}
