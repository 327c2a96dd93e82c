/**
 * Provider accounting end to end: a real control plane and API on a free port, a deployment on
 * a sim cloud that injects errors (create answers 503 half of the time, list 400 a fifth of the
 * time; seeded), then `nubis clouds sla` through the built CLI. The report must agree with the
 * audit log's `driver.call` events: calls, provider-side errors (only those lower
 * availability), percentiles in order, and the error codes with their counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken } from '../../src/api/index.js';
import type { SlaReport } from '../../src/registry/index.js';
import { runCli } from '../helpers/processes.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';

test('nubis clouds sla reports availability, p50/p95/p99 per operation and the error codes seen', async () => {
  const dir = tempDir('nubis-sla-');
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events, retry: { attempts: 8, baseMs: 5, maxMs: 20 }, engine: { backoffBaseMs: 20, backoffMaxMs: 100 } });
  await cp.start();
  await ensureToken(store, dir);
  const api = createApiServer({ controlPlane: cp, store });
  const { port } = await api.listen(0);
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: dir };
  try {
    const spec = [
      'name: flaky',
      'clouds:',
      '  shaky:',
      '    platform: sim',
      '    options:',
      '      path: ":memory:"',
      '      seed: 7',
      '      apiLatencyMs: 3',
      '      errors: { create: [{ rate: 0.5, status: 503 }], list: [{ rate: 0.2, status: 400 }] }',
      'nodeTemplates: { t: { cloud: shaky } }',
      'components:',
      '  app: { nodeTemplate: t, instances: { count: 6 }, lifecycle: { start: run } }',
      '',
    ].join('\n');
    await cp.apply({ spec }, { actor: 'user:test' });
    await waitFor('flaky ready', async () => (await cp.getDeployment('flaky')).state === 'ready', 60_000);

    const json = await runCli(['clouds', 'sla', 'shaky', '--since', '1h', '-o', 'json'], env);
    assert.equal(json.code, 0, json.stderr);
    const r = JSON.parse(json.stdout) as SlaReport;
    const calls = (await events.list({ kind: 'driver.call', limit: 100_000 })).filter((e) => e.data?.['cloud'] === 'shaky');
    const of = (op: string): typeof calls => calls.filter((e) => e.data?.['op'] === op);

    const create = r.ops.find((o) => o.op === 'create')!;
    assert.equal(create.calls, of('create').length);
    const unavailable = of('create').filter((e) => e.data?.['errorCode'] === 'CLOUD_UNAVAILABLE').length;
    assert.ok(unavailable > 0, 'the injected 503s happened');
    assert.equal(create.providerErrors, unavailable);
    assert.equal(create.availability, (create.calls - unavailable) / create.calls);
    assert.ok(create.availability < 1);
    assert.ok(create.p50Ms <= create.p95Ms && create.p95Ms <= create.p99Ms);
    assert.ok(create.p99Ms >= 3, 'latency includes the API latency');

    const list = r.ops.find((o) => o.op === 'list')!;
    const rejected = of('list').filter((e) => e.data?.['errorCode'] === 'CLOUD_BAD_REQUEST').length;
    assert.equal(list.calls, of('list').length);
    assert.equal(list.errors, rejected);
    assert.equal(list.availability, 1, 'a 400 is the client\'s problem (a 403 would stop the cloud: cloud-health), not the provider being down');

    const codes = Object.fromEntries(r.codes.map((c) => [c.code, c.count]));
    assert.equal(codes['CLOUD_UNAVAILABLE'], unavailable);
    if (rejected > 0) assert.equal(codes["CLOUD_BAD_REQUEST"], rejected);
    assert.equal(r.total.calls, calls.length);

    const table = await runCli(['clouds', 'sla', 'shaky'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /OP\s+CALLS\s+ERRORS\s+AVAILABILITY\s+P50 MS\s+P95 MS\s+P99 MS/);
    assert.match(table.stdout, new RegExp(`create\\s+${create.calls}\\s+${create.errors}\\s+${(create.availability * 100).toFixed(2)}%`));
    assert.match(table.stdout, new RegExp(`error codes: .*CLOUD_UNAVAILABLE ×${unavailable}`));

    const unknown = await runCli(['clouds', 'sla', 'nowhere'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /error\[NOT_FOUND\]/);
    const bad = await runCli(['clouds', 'sla', 'shaky', '--since', 'yesterday'], env);
    assert.equal(bad.code, 2, bad.stderr);
  } finally {
    await api.close();
    await cp.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
