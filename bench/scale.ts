/**
 * Benchmark child: N nodes × 3 components to running on an in-process `sim` cloud with zero
 * latency, through the whole control plane (store, events, engine, sim driver). Prints one
 * JSON line: wall time from apply to ready, and the process's peak RSS.
 *
 *   node dist/bench/scale.js <nodes>
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../src/store/index.js';
import { createEventLog } from '../src/events/index.js';
import { createControlPlane } from '../src/engine/index.js';

const nodes = Number(process.argv[2] ?? 1000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-'));
const per = Math.ceil(nodes / 3);
const counts = [per, per, nodes - 2 * per];
const spec = `name: bench
clouds:
  sim: { platform: sim, options: { path: ":memory:" } }
nodeTemplates:
  t: { cloud: sim }
components:
  db:
    nodeTemplate: t
    instances: { count: ${counts[0]}, max: 100000 }
    provides: { sql: {} }
    lifecycle: { install: "i", configure: "c", start: "s" }
  app:
    nodeTemplate: t
    instances: { count: ${counts[1]}, max: 100000 }
    provides: { http: {} }
    requires: { db: { component: db, port: sql } }
    lifecycle: { install: "i", configure: "c", start: "s" }
  web:
    nodeTemplate: t
    instances: { count: ${counts[2]}, max: 100000 }
    requires: { app: { component: app, port: http, optional: true } }
    lifecycle: { install: "i", configure: "c", start: "s", update: "u" }
`;

const store = await openStore({ path: path.join(dir, 'nubis.db') });
const events = createEventLog(store);
const cp = await createControlPlane({ dataDir: dir, store, events, engine: { stepConcurrency: 256, pollIntervalMs: 1 } });
await cp.start();
const t0 = performance.now();
await cp.apply({ spec }, { actor: 'user:bench' });
await cp.idle();
let view = await cp.getDeployment('bench');
while (view.state !== 'ready') {
  await new Promise((r) => setTimeout(r, 5));
  await cp.idle();
  view = await cp.getDeployment('bench');
}
const wallMs = performance.now() - t0;
const running = view.instances.filter((i) => i.phase === 'running').length;
const eventsCount = (await store.lastEventId());
await cp.stop();
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ nodes, running, wallMs, peakRssMB: process.resourceUsage().maxRSS / 1024, events: eventsCount }));
