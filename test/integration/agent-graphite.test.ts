/**
 * Custom metrics from an instance on `local`: its handler is told NUBIS_GRAPHITE (its node
 * agent's Graphite listener), sends a tagged line there, and the control plane's agent pull
 * brings the sample into the metric store with deployment, component, instance and node labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { startServer } from '../../src/cli/server-root.js';

const REPORTER = `import net from 'node:net';
const [host, port] = process.env.NUBIS_GRAPHITE.split(':');
const sock = net.connect(Number(port), host);
sock.on('error', () => process.exit(1));
setInterval(() => sock.write('app.custom;instance=' + process.env.NUBIS_INSTANCE + ' 7\\n'), 200);
`;

test('an instance sends custom metrics to its own agent (NUBIS_GRAPHITE); the agent pull stores them', { timeout: 120_000 }, async () => {
  const data = tempDir('nubis-agent-graphite-');
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
  const spec = `name: custom
clouds: { local: { platform: local, options: { portBase: 24600 } } }
nodeTemplates: { t: { cloud: local } }
components:
  app:
    nodeTemplate: t
    artefacts: [reporter.mjs]
    lifecycle:
      start: "exec node reporter.mjs"
`;
  try {
    await call('POST', '/v1/deployments', { spec, artefacts: { 'reporter.mjs': Buffer.from(REPORTER).toString('base64') } });
    const got = await waitFor('app.custom pulled from the agent', async () => {
      const q = await call('GET', `/v1/metrics/query?query=${encodeURIComponent('{__name__="app.custom"}')}`);
      return q.data.result[0] as { metric: Record<string, string>; value: [number, string] } | undefined;
    }, 60_000, 250);
    assert.equal(got.value[1], '7');
    assert.equal(got.metric['deployment'], 'custom');
    assert.equal(got.metric['component'], 'app');
    assert.equal(got.metric['instance'], 'app-1');
    assert.equal(got.metric['cloud'], 'local');
    await call('DELETE', '/v1/deployments/custom');
    await waitFor('destroyed', async () => ((await call('GET', '/v1/deployments')) as { deployments: unknown[] }).deployments.length === 0, 60_000, 200);
  } finally {
    await server.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
