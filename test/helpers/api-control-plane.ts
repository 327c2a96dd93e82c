/**
 * Test helpers for the API tests: the real control plane (in-memory SQLite store, event log,
 * engine) over the in-process `sim` cloud, so deployments converge without real processes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Store } from '../../src/store/index.js';
import { createEventLog, type EventLog } from '../../src/events/index.js';
import { createControlPlane, type DeploymentView, type RunningControlPlane } from '../../src/engine/index.js';
import { waitFor } from './control-plane.js';
import { openTestStore } from './postgres.js';

export interface RealControlPlane {
  /** A temp data dir (the control plane's, and where tests put the token file). */
  dir: string;
  store: Store;
  events: EventLog;
  cp: RunningControlPlane;
  /** Stops the control plane, closes the store and removes the data dir. */
  close(): Promise<void>;
}

export async function startRealControlPlane(prefix = 'nubis-api-'): Promise<RealControlPlane> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const store = await openTestStore(':memory:');
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events });
  await cp.start();
  return {
    dir,
    store,
    events,
    cp,
    async close() {
      await cp.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A valid spec on the sim platform: one component `app` providing `http`, `count` instances, at most 10. */
export function simWebSpec(name: string, count = 2): string {
  return [
    `name: ${name}`,
    'clouds: { sim: { platform: sim, options: { path: ":memory:" } } }',
    'nodeTemplates: { t: { cloud: sim } }',
    'components:',
    `  app: { nodeTemplate: t, instances: { count: ${count}, max: 10 }, provides: { http: {} }, lifecycle: { start: run } }`,
    '',
  ].join('\n');
}

/** Polls the real control plane until the deployment is `ready` (optionally with `running` instances running). */
export async function waitReady(cp: RunningControlPlane, name: string, running?: number): Promise<DeploymentView> {
  return waitFor(`${name} ready`, async () => {
    const v = await cp.getDeployment(name);
    const up = v.components.reduce((s, c) => s + c.running, 0);
    return v.state === 'ready' && (running === undefined || up === running) ? v : undefined;
  });
}
