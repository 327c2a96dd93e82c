/** Test helpers: a real control plane over a temp data dir. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type ControlPlaneOptions, type RunningControlPlane } from '../../src/engine/index.js';
import { openTestStore } from './postgres.js';

export function tempDir(prefix = 'nubis-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startControlPlane(
  dataDir: string,
  extra: Partial<Omit<ControlPlaneOptions, 'dataDir' | 'store' | 'events'>> = {},
): Promise<RunningControlPlane & { close(): Promise<void> }> {
  const store = await openTestStore(path.join(dataDir, 'nubis.db'));
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir, store, events, ...extra });
  await cp.start();
  return Object.assign(cp, {
    async close() {
      await cp.stop();
      await store.close();
    },
  });
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function simSpec(name: string, counts: Record<string, number>, opts: { simPath: string; extra?: string } ): string {
  const comps = Object.entries(counts)
    .map(([c, n], i, all) => {
      const req = i > 0 ? `\n    requires:\n      up: { component: ${all[i - 1]![0]}, port: svc }` : '';
      return `  ${c}:\n    nodeTemplate: t\n    instances: { count: ${n}, min: 0, max: 5000 }\n    provides:\n      svc: {}${req}\n    lifecycle:\n      start: "run"`;
    })
    .join('\n');
  return `name: ${name}\nclouds:\n  sim:\n    platform: sim\n    options: { path: ${JSON.stringify(opts.simPath)}${opts.extra ?? ''} }\nnodeTemplates:\n  t: { cloud: sim }\ncomponents:\n${comps}\n`;
}
