/**
 * Invariant 2: kill the control plane with SIGKILL at a random instant during an apply of 50
 * nodes on a sim cloud (its own process, so the cloud outlives the control plane), start it
 * again, and check convergence against the cloud's own inventory: no duplicate, no orphan.
 * The sim has the faults real clouds have (paginated slow lists, list lag, NotFound right
 * after create), and what it RECEIVED is counted: exactly one server made per wanted node,
 * and no delete at all before the teardown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createSimCloud } from '../../src/drivers/sim/index.js';
import { TAG_KEY, TAG_OWNER } from '../../src/drivers/driver.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { freePort, serveApi as api, startServe, startSimServerProcess, stopProcess } from '../helpers/processes.js';

// each trial waits out the NotFound window on every create: 10 trials keep the test near a minute and a half
const TRIALS = Number(process.env['NUBIS_CRASH_TRIALS'] ?? 10);
const NODES = 50;

function spec(url: string): string {
  return `name: batch
clouds:
  sim: { platform: sim, options: { url: ${JSON.stringify(url)} } }
nodeTemplates:
  worker: { cloud: sim, requirements: { cores: 2, memory: 2048 } }
components:
  compute:
    nodeTemplate: worker
    instances: { count: ${NODES}, min: 0, max: 100 }
    lifecycle:
      install: "setup"
      start: "run"
`;
}

test(`${TRIALS} SIGKILLs at random instants during an apply of ${NODES} nodes: 0 duplicates, 0 orphans`, { timeout: 15 * 60_000 }, async () => {
  const root = tempDir('nubis-crash-');
  const db = path.join(root, 'sim.db');
  // 1 sim second = 10 ms: nodes take 3–12 s of sim time (30–120 ms real) to provision
  // sim time: lists miss a fresh server for 100 s and get answers NotFound for 40 s after create
  // (1 s and 0.4 s real: longer than the engine's 250 ms poll), pages of 16 taking 20 s (0.2 s)
  const faults = { listLagMs: 100_000, notFoundAfterCreateMs: 40_000, listPageSize: 16, listLatencyMs: 20_000 };
  const sim = await startSimServerProcess(['--db', db, '--time-scale', '100', '--latency', '3000-12000', '--model', JSON.stringify(faults)]);
  const cloud = createSimCloud({ path: db });
  const createdAtKill: number[] = [];
  const results: { trial: number; killAtMs: number; duplicates: number; orphans: number; missing: number; made: number; deleted: number; replays: number }[] = [];
  try {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const dataDir = path.join(root, `cp-${trial}`);
      const port = await freePort();
      let child = await startServe(dataDir, port);
      const killAtMs = Math.floor(Math.random() * 1500);
      const before = cloud.inventory().length;
      const sent = cloud.totals();
      const applying = api(port, dataDir, 'POST', '/v1/deployments', { spec: spec(sim.url), file: 'batch.yaml' }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, killAtMs));
      await stopProcess(child, 'SIGKILL');
      await applying;
      createdAtKill.push(cloud.inventory().length - before);
      child = await startServe(dataDir, port);
      try {
        // a client whose apply was lost retries it, as a user would
        if ((await api(port, dataDir, 'GET', '/v1/deployments/batch')).status === 404) {
          assert.equal((await api(port, dataDir, 'POST', '/v1/deployments', { spec: spec(sim.url), file: 'batch.yaml' })).status, 201);
        }
        try {
          await waitFor(`trial ${trial} ready`, async () => (await api(port, dataDir, 'GET', '/v1/deployments/batch')).json.state === 'ready', 60_000, 100);
        } catch (e) {
          const v = (await api(port, dataDir, 'GET', '/v1/deployments/batch')).json;
          const tally: Record<string, number> = {};
          for (const i of v.instances ?? []) tally[`${i.phase}/${i.node.state}`] = (tally[`${i.phase}/${i.node.state}`] ?? 0) + 1;
          const last = (await api(port, dataDir, 'GET', '/v1/events?limit=1000')).json.events.slice(-15);
          console.log(`trial ${trial} (kill at ${killAtMs} ms) stuck: ${JSON.stringify(tally)}\n${last.map((x: any) => `${x.kind} ${x.target} ${x.outcome ?? ''} ${x.reason ?? ''}`).join('\n')}`);
          throw e;
        }
        const owner = (await api(port, dataDir, 'GET', '/v1/deployments/batch')).json;
        assert.equal(owner.instances.length, NODES);
        const providerIds = new Set<string>(owner.instances.map((i: any) => i.node.id));
        // the cloud's own view: every live server tagged with this control plane's owner id
        const ownerTag = cloud.inventory().find((s) => providerIds.has(s.id))?.tags[TAG_OWNER];
        const live = cloud.inventory().filter((s) => s.status !== 'deleted' && s.tags[TAG_OWNER] === ownerTag);
        const keys = live.map((s) => s.tags[TAG_KEY]!);
        const duplicates = keys.length - new Set(keys).size;
        const orphans = live.filter((s) => !providerIds.has(s.id)).length;
        const missing = [...providerIds].filter((id) => !live.some((s) => s.id === id)).length;
        const now = cloud.totals();
        const made = now.created - sent.created;
        const deleted = now.calls.delete - sent.calls.delete;
        results.push({ trial, killAtMs, duplicates, orphans, missing, made, deleted, replays: now.replayed - sent.replayed });
        assert.equal(made, NODES, `trial ${trial}: servers made (creates that reached the cloud, replays aside)`);
        assert.equal(deleted, 0, `trial ${trial}: deletes sent (every node is wanted)`);
        assert.equal(duplicates, 0, `trial ${trial}: duplicates`);
        assert.equal(orphans, 0, `trial ${trial}: orphans`);
        assert.equal(missing, 0, `trial ${trial}: missing`);
        assert.equal(live.length, NODES);
        if (trial === TRIALS) {
          // and teardown leaves nothing in the cloud
          await api(port, dataDir, 'DELETE', '/v1/deployments/batch');
          await waitFor('destroyed', async () => (await api(port, dataDir, 'GET', '/v1/deployments/batch')).status === 404, 60_000, 100);
          assert.equal(cloud.inventory().filter((s) => s.status !== 'deleted' && s.tags[TAG_OWNER] === ownerTag).length, 0);
        }
      } finally {
        await stopProcess(child, 'SIGTERM');
      }
    }
  } finally {
    cloud.close();
    await sim.stop();
    console.log(`crash trials: ${results.length}, kill instants (ms): ${results.map((r) => r.killAtMs).join(' ')}`);
    console.log(`servers created by the killed control plane per trial: ${createdAtKill.join(' ')}`);
    console.log(`idempotent create replays per trial: ${results.map((r) => r.replays).join(' ')}`);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
