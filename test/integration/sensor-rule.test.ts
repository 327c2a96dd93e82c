/**
 * A real sensor on a `local` node drives a rule, through the API: the instance's memory
 * monitor (the agent's own procfs sensor, every 100 ms) sees the instance grow past the
 * threshold; the agent streams the sample to the control plane, which wakes the rule at once
 * — its interval is 10 minutes, so an interval-only evaluator would not act within this test —
 * and the component scales out. The `rule.fired` event carries the observed value, the
 * instances and the threshold. Waiting is on events and state, not on fixed sleeps.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { callApi, type ApiAnswer } from '../helpers/http-api.js';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';

const HOG = `import fs from 'node:fs';
let held;
setInterval(() => {
  if (!held && fs.existsSync(process.env.TRIGGER)) held = Buffer.alloc(256 * 1024 * 1024, 1);
}, 20);
`;
const THRESHOLD = 160 * 1024 * 1024;

let data: string;
let server: ServerHandle;
let token: string;
const api = (method: string, p: string, body?: unknown): Promise<ApiAnswer> => callApi(server.url, token, method, p, body);

before(async () => {
  data = tempDir('nubis-sensor-rule-');
  fs.writeFileSync(path.join(data, 'hog.mjs'), HOG);
  server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
  token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
});

after(async () => {
  await api('DELETE', '/v1/deployments/sens').catch(() => undefined);
  await waitFor('sens gone', async () => (await api('GET', '/v1/deployments/sens')).status === 404, 60_000, 100).catch(() => undefined);
  await server?.close();
  fs.rmSync(data, { recursive: true, force: true });
});

test('a local node\'s memory sensor crossing a threshold scales the component; the event says what was seen', { timeout: 120_000 }, async () => {
  const trigger = path.join(data, 'trigger');
  const spec = `name: sens
clouds: { local: { platform: local, options: { portBase: 39200 } } }
nodeTemplates: { t: { cloud: local } }
components:
  hog:
    nodeTemplate: t
    instances: { count: 1, min: 1, max: 2 }
    env: { TRIGGER: ${JSON.stringify(trigger)}, HOG: ${JSON.stringify(path.join(data, 'hog.mjs'))} }
    lifecycle:
      start: 'exec node "$HOG"'
rules:
  big:
    component: hog
    when: { all: { expr: '{__name__="instance.memory.bytes", deployment="sens"}', above: ${THRESHOLD} } }
    interval: 10m
    action: { scale: out, by: 1 }
    cooldown: 10m
`;
  const created = await api('POST', '/v1/deployments', { spec });
  assert.equal(created.status, 201, created.text);
  await waitFor('sens ready', async () => (await api('GET', '/v1/deployments/sens')).json?.state === 'ready', 60_000, 100);
  const mon = await api('PUT', '/v1/deployments/sens/instances/hog-1/monitors/mem', { kind: 'memory', intervalMs: 100 });
  assert.ok(mon.status === 200 || mon.status === 201, mon.text);
  // the sensor's samples reach the store below the threshold first: the rule evaluated and held false
  await waitFor('rule evaluated false on real samples', async () => (await api('GET', '/v1/rules/big')).json?.state?.truth === 'false', 30_000, 50);
  const before = (await api('GET', '/v1/events?deployment=sens&kind=rule.fired')).json.events.length;
  assert.equal(before, 0);

  fs.writeFileSync(trigger, '1');
  const fired = await waitFor('rule.fired', async () => {
    const evs = (await api('GET', '/v1/events?deployment=sens&kind=rule.fired')).json.events as { data: Record<string, unknown> }[];
    return evs[0];
  }, 60_000, 50);
  const d = fired.data as {
    from: number; to: number; instances: string[];
    observed: { expr: string; instance?: string; value: number; bounds: { above?: number }; satisfied: boolean }[];
    thresholds: { kind: string; expr: string; above?: number }[];
  };
  assert.equal(d.from, 1);
  assert.equal(d.to, 2);
  assert.deepEqual(d.instances, ['hog-1']);
  const seen = d.observed.find((o) => o.instance === 'hog-1');
  assert.ok(seen, JSON.stringify(d.observed));
  assert.ok(seen.value > THRESHOLD, `observed ${seen.value}`);
  assert.equal(seen.bounds.above, THRESHOLD);
  assert.equal(seen.satisfied, true);
  assert.deepEqual(d.thresholds, [{ kind: 'all', expr: '{__name__="instance.memory.bytes", deployment="sens"}', above: THRESHOLD }]);
  // and the scale happened: the deployment asks for two now
  const scaled = (await api('GET', '/v1/events?deployment=sens&kind=deployment.scaled')).json.events as { actor: string }[];
  assert.ok(scaled.some((e) => e.actor === 'rule:big'), JSON.stringify(scaled));
  await waitFor('hog-2 exists', async () => {
    const r = await api('GET', '/v1/deployments/sens');
    return JSON.stringify(r.json).includes('hog-2');
  }, 60_000, 100);
});
