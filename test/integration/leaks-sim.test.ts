/**
 * The leak guard (issue 11 item 5) on `sim`, through the HTTP API of a real control plane: the
 * simulated provider "forgets" to delete a VLAN and a volume when it deletes a server (seed 000
 * §6.5: CloudSigma kept billing private VLANs of deleted servers). The guard must report exactly
 * those, never a resource whose create is in flight — scans race a running apply of many nodes
 * whose servers lists do not show yet (listLagMs) — and delete them only when the policy says so.
 * What the cloud received is counted by the sim itself (`totals()` over its inventory file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createSimCloud } from '../../src/drivers/sim/index.js';
import { simFileSpec, startApiControlPlane } from '../helpers/api-server.js';
import { waitFor } from '../helpers/control-plane.js';

const ENGINE = { engine: { pollIntervalMs: 20, sweepIntervalMs: 200, consistencyWindowMs: 5000, leaks: { intervalMs: 3_600_000 } } };
// partial create failures: the cloud made the server and its extras, the call failed, the intent has no provider id yet (only its open create claims them)
const SIM = {
  extras: ['volume', 'vlan'], leakOnDelete: ['vlan', 'volume'], extraPrices: { vlan: 0.01, volume: 0.002 }, latency: { minMs: 300, maxMs: 1500 }, listLagMs: 2000,
  errors: { create: [{ rate: 0.4, status: 503, partial: true }] }, seed: 7,
};

test('leak guard: zero false positives while creates are in flight; exactly the forgotten VLANs and volumes; deleted only when asked', { timeout: 300_000 }, async () => {
  const h = await startApiControlPlane(ENGINE);
  const simPath = path.join(h.dir, 'sim.db');
  const sim = createSimCloud({ path: simPath });
  try {
    const applied = await h.call('POST', '/v1/deployments', { spec: simFileSpec('batch', 40, simPath, SIM), file: 'batch.yaml' });
    assert.equal(applied.status, 201, JSON.stringify(applied.body));
    // scans race the apply: creates in flight, extras listed before their servers are
    let scans = 0;
    let sawInFlight = 0;
    for (;;) {
      const inFlight = sim.inFlightCreates();
      if (inFlight > 0) sawInFlight++;
      const r = await h.call<{ leaks: unknown[]; report: { found: number; clouds: number } }>('POST', '/v1/leaks/scan');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.leaks, [], `scan ${scans}: no leak while the apply runs`);
      assert.equal(r.body.report.found, 0);
      scans++;
      const v = (await h.call<any>('GET', '/v1/deployments/batch')).body;
      const up = v.components.reduce((s: number, c: any) => s + c.running, 0);
      if (v.state === 'ready' && up === 40 && scans >= 20) break;
    }
    assert.ok(sawInFlight >= 3, `scans ran while creates were in flight (${sawInFlight} of ${scans})`);
    assert.equal(sim.extras.live().length, 80, 'a volume and a VLAN per server');

    // scale in: the provider deletes 10 servers but forgets their VLAN and volume
    const before = new Set(sim.inventory().filter((s) => s.status !== 'deleted').map((s) => s.id));
    assert.equal((await h.call('POST', '/v1/deployments/batch/scale', { component: 'app', count: 30 })).status, 200);
    await h.ready('batch', 30);
    await waitFor('10 servers deleted', () => sim.inventory().filter((s) => s.status !== 'deleted').length === 30);
    const gone = [...before].filter((id) => sim.peek(id)?.status === 'deleted');
    assert.equal(gone.length, 10);
    const forgotten = sim.extras.live().filter((e) => e.node !== undefined && gone.includes(e.node)).map((e) => `${e.kind}/${e.id}`).sort();
    assert.equal(forgotten.length, 20, 'the sim forgot a VLAN and a volume per deleted server');

    // one scan makes suspects, the second confirms: exactly the forgotten ones
    const first = await h.call<{ leaks: any[] }>('POST', '/v1/leaks/scan');
    assert.deepEqual(first.body.leaks, [], 'a suspect is not reported on one sighting');
    const second = await h.call<{ leaks: any[] }>('POST', '/v1/leaks/scan');
    assert.deepEqual(second.body.leaks.map((l) => `${l.kind}/${l.id}`).sort(), forgotten);
    for (const l of second.body.leaks) {
      assert.equal(l.deployment, 'batch');
      assert.equal(l.status, 'open');
      assert.match(l.reason, /gone/);
      assert.ok(l.pricePerHour > 0);
    }
    const found = await h.events('leak.found');
    assert.equal(found.length, 20, 'one leak.found event per leak');
    for (const e of found) assert.equal(e.data?.['alert'], true);
    assert.equal(sim.totals().calls.deleteResource, 0, 'report only by default: nothing deleted');

    // a grace period not yet over deletes nothing; then an expired one deletes exactly the leaks
    assert.equal((await h.call('PUT', '/v1/leaks/policies/sim', { deleteAfter: '1h' })).status, 201, 'a new policy');
    const listed = await h.call<{ leaks: any[] }>('GET', '/v1/leaks');
    assert.equal(listed.body.leaks.length, 20);
    for (const l of listed.body.leaks) assert.ok(Date.parse(l.deleteAt) - Date.parse(l.firstSeen) === 3_600_000);
    await h.call('POST', '/v1/leaks/scan');
    assert.equal(sim.totals().calls.deleteResource, 0, 'within the grace period nothing is deleted');
    const bad = await h.call<any>('PUT', '/v1/leaks/policies/sim', { deleteAfter: 'soon' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /deleteAfter/);
    assert.equal((await h.call('PUT', '/v1/leaks/policies/sim', { deleteAfter: '0s' })).status, 200);
    const third = await h.call<{ leaks: any[]; report: { deleted: number } }>('POST', '/v1/leaks/scan');
    assert.equal(third.body.report.deleted, 20);
    assert.deepEqual(third.body.leaks, []);
    assert.equal(sim.totals().calls.deleteResource, 20, 'exactly one delete per leak was sent');
    assert.equal(sim.extras.live().length, 60, 'the 30 running nodes keep their volume and VLAN');
    assert.equal((await h.events('leak.deleted')).length, 20);
    const all = await h.call<{ leaks: any[] }>('GET', '/v1/leaks?all=true');
    assert.equal(all.body.leaks.filter((l) => l.status === 'deleted').length, 20);

    // later scans find nothing more, and the running nodes never lost an extra
    await h.call('POST', '/v1/leaks/scan');
    await h.call('POST', '/v1/leaks/scan');
    assert.equal(sim.totals().calls.deleteResource, 20);
    assert.equal((await h.events('leak.found')).length, 20);
  } finally {
    sim.close();
    await h.close();
  }
});

test('leak guard: untagged resources count only in a project Nubis owns; another owner\'s never', { timeout: 120_000 }, async () => {
  const h = await startApiControlPlane(ENGINE);
  const simPath = path.join(h.dir, 'sim.db');
  const sim = createSimCloud({ path: simPath });
  try {
    assert.equal((await h.call('POST', '/v1/deployments', { spec: simFileSpec('web', 2, simPath, { extras: ['volume'] }), file: 'web.yaml' })).status, 201);
    await h.ready('web', 2);
    const stray = sim.extras.add('floating-ip');
    sim.extras.add('security-group', { 'nubis-owner': 'someone-else', 'nubis-key': 'x/y-1' });
    for (let i = 0; i < 3; i++) assert.deepEqual((await h.call<{ leaks: any[] }>('POST', '/v1/leaks/scan')).body.leaks, []);
    assert.equal((await h.call('PUT', '/v1/leaks/policies/*', { owned: true })).status, 201);
    await h.call('POST', '/v1/leaks/scan');
    const r = await h.call<{ leaks: any[] }>('POST', '/v1/leaks/scan');
    assert.deepEqual(r.body.leaks.map((l) => l.id), [stray.id], 'only the untagged one of the owned project');
    assert.equal(sim.totals().calls.deleteResource, 0);
  } finally {
    sim.close();
    await h.close();
  }
});
