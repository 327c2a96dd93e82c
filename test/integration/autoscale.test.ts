/**
 * Rule-driven auto-scaling end to end on the `local` cloud: every instance of `app` is a real
 * process that reports a `app.load` gauge over Graphite plaintext to the control plane's
 * listener (the load generator: a file the test writes). Load above the threshold → the
 * component scales out to its max; load gone → it scales back in, one step per stabilization
 * window (short windows: seconds). Waiting is polling with deadlines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { startServer } from '../../src/cli/server-root.js';

const REPORTER = `import net from 'node:net';
import fs from 'node:fs';
const { LOAD_FILE, GRAPHITE_PORT, NUBIS_DEPLOYMENT, NUBIS_COMPONENT, NUBIS_INSTANCE } = process.env;
const sock = net.connect(Number(GRAPHITE_PORT), '127.0.0.1');
sock.on('error', () => process.exit(1));
setInterval(() => {
  let v = 0;
  try { v = Number(fs.readFileSync(LOAD_FILE, 'utf8')) || 0; } catch {}
  sock.write('app.load;deployment=' + NUBIS_DEPLOYMENT + ';component=' + NUBIS_COMPONENT + ';instance=' + NUBIS_INSTANCE + ' ' + v + '\\n');
}, 200);
`;

test('load above the threshold scales out to max; when it stops, scale-in waits for the stabilization window', { timeout: 180_000 }, async () => {
  const data = tempDir('nubis-autoscale-');
  const loadFile = path.join(data, 'load');
  fs.writeFileSync(loadFile, '20');
  const server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1', graphitePort: 0 });
  const token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  const call = async (method: string, p: string, body?: unknown): Promise<any> => {
    const r = await fetch(`${server.url}${p}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  const load = `'{__name__="app.load", deployment="auto"}'`;
  const spec = `name: auto
clouds: { local: { platform: local, options: { portBase: 38400 } } }
nodeTemplates: { t: { cloud: local } }
components:
  app:
    nodeTemplate: t
    instances: { count: 1, min: 1, max: 3 }
    env: { LOAD_FILE: ${JSON.stringify(loadFile)}, GRAPHITE_PORT: "${server.graphitePort}" }
    artefacts: [reporter.mjs]
    lifecycle:
      start: "exec node reporter.mjs"
rules:
  busy:
    component: app
    when: { all: { expr: ${load}, above: 50 } }
    for: 1s
    interval: 500ms
    action: { scale: out, by: 1 }
    cooldown: 1s
  idle:
    component: app
    when: { all: { expr: ${load}, below: 10 } }
    for: 1s
    interval: 500ms
    action: { scale: in, by: 1 }
    cooldown: 0s
    stabilization: 4s
`;
  try {
    await call('POST', '/v1/deployments', { spec, artefacts: { 'reporter.mjs': Buffer.from(REPORTER).toString('base64') } });
    const app = async () => ((await call('GET', '/v1/deployments/auto')) as { components: { name: string; desired: number; running: number }[] }).components.find((c) => c.name === 'app')!;
    await waitFor('one running instance reporting', async () => {
      const q = await call('GET', `/v1/metrics/query?query=${encodeURIComponent(load.slice(1, -1))}`);
      return (await app()).running === 1 && q.data.result.length === 1;
    }, 60_000, 200);

    fs.writeFileSync(loadFile, '90');
    await waitFor('scaled out to 3, all running', async () => {
      const c = await app();
      return c.desired === 3 && c.running === 3;
    }, 90_000, 200);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal((await app()).desired, 3, 'never beyond max');

    const stopped = Date.now();
    fs.writeFileSync(loadFile, '0');
    await waitFor('scaled in to 2', async () => (await app()).desired === 2, 60_000, 100).catch(async (e: unknown) => {
      // say why, for whoever reads a failed run
      const evs = ((await call('GET', '/v1/events?deployment=auto&limit=1000')) as { events: { kind: string; target?: string; outcome?: string; reason?: string; data?: unknown }[] }).events;
      const q = await call('GET', `/v1/metrics/query?query=${encodeURIComponent(load.slice(1, -1))}`);
      console.log(`autoscale stuck at ${JSON.stringify(await app())}; load now ${JSON.stringify(q.data.result.map((r: { metric: unknown; value: unknown }) => [r.metric, r.value]))}`);
      for (const ev of evs.filter((x) => x.kind.startsWith('rule.') || x.kind.startsWith('instance.')).slice(-25)) console.log(`  ${ev.kind} ${ev.target ?? ''} ${ev.outcome ?? ''} ${ev.reason ?? ''} ${JSON.stringify(ev.data ?? {}).slice(0, 200)}`);
      throw e;
    });
    const firstIn = Date.now() - stopped;
    await waitFor('scaled in to 1', async () => (await app()).desired === 1, 60_000, 100);
    const secondIn = Date.now() - stopped;
    // the window runs from the last high recommendation, which may come up to one 500 ms interval before the load stops
    assert.ok(firstIn >= 3_500, `first scale-in after the 4 s stabilization window (took ${firstIn} ms)`);
    assert.ok(secondIn - firstIn >= 3_500, `one step per window (${secondIn - firstIn} ms apart)`);

    const events = (await call('GET', '/v1/events?deployment=auto&kind=rule.*')) as { events: { kind: string; actor: string; data: { from: number; to: number; reason?: string } }[] };
    const fired = events.events.filter((e) => e.kind === 'rule.fired').map((e) => `${e.actor} ${e.data.from}→${e.data.to}`);
    assert.deepEqual(fired, ['rule:busy 1→2', 'rule:busy 2→3', 'rule:idle 3→2', 'rule:idle 2→1']);
    assert.ok(events.events.some((e) => e.kind === 'rule.suppressed' && e.data.reason === 'stabilization'));
    const scaled = (await call('GET', '/v1/events?deployment=auto&kind=deployment.scaled')) as { events: { actor: string }[] };
    assert.ok(scaled.events.every((e) => e.actor.startsWith('rule:')));
    const series = await call('GET', `/v1/metrics/query?query=${encodeURIComponent('{__name__="nubis.rule.fired", deployment="auto"}')}`);
    assert.ok(series.data.result.length >= 1, 'firings are a stored series');
    await call('DELETE', '/v1/deployments/auto');
    await waitFor('destroyed', async () => ((await call('GET', '/v1/deployments')) as { deployments: unknown[] }).deployments.length === 0, 60_000, 200);
  } finally {
    // also after a failure: leave no node processes behind
    await fetch(`${server.url}/v1/deployments/auto`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    await waitFor('torn down', async () => (await fetch(`${server.url}/v1/deployments/auto`, { headers: { authorization: `Bearer ${token}` } })).status === 404, 60_000, 200).catch(() => undefined);
    await server.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
