/**
 * First boot and access delivery through the real server, its HTTP API and the `nubis` CLI
 * (issue 10, items 5 and 6; the seed's start work flow: boot, contextualize, poll until
 * reachable, deliver):
 *
 * - sim with a first-boot model (`latencyMs` provisioning, `contextualizeMs` until the agent
 *   answers): `status` shows each node booting, then contextualizing, then agent up; nothing is
 *   installed before the agent answers; `node.contextualizing` and `node.agent-up` say how long
 *   each step took.
 * - local (real processes): a generated credential reaches the handler's environment, is shown
 *   exactly once (the first read after ready), later reads say when; `deployment.access` carries
 *   the endpoints only; the value is in no event, no step log, no later response and not in
 *   plaintext anywhere in the data directory (the database is sealed); another tenant gets 404.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { callApi } from '../helpers/http-api.js';
import { TEST_ENV } from '../helpers/processes.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function nubis(server: ServerHandle, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'] ?? '', NUBIS_SERVER: server.url, NUBIS_DATA: server.dataDir, ...TEST_ENV } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

async function serve(prefix: string): Promise<{ server: ServerHandle; token: string; call: (method: string, url: string, body?: unknown, token?: string) => ReturnType<typeof callApi> }> {
  const server = await startServer({ dataDir: tempDir(prefix), port: 0, host: '127.0.0.1' });
  const token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  return { server, token, call: (method, url, body, t = token) => callApi(server.url, t, method, url, body) };
}

test('sim first boot: status shows booting, contextualizing, then agent up; install waits for the agent; events say how long each step took', { timeout: 120_000 }, async () => {
  const { server, call } = await serve('nubis-fb-sim-');
  try {
    const spec = [
      'name: fb',
      'clouds: { s: { platform: sim, options: { path: ":memory:", latencyMs: 600, contextualizeMs: 1500 } } }',
      'nodeTemplates: { t: { cloud: s } }',
      'components:',
      '  app: { nodeTemplate: t, instances: { count: 2 }, provides: { http: {} }, lifecycle: { install: "echo i", start: run } }',
      '',
    ].join('\n');
    assert.equal((await call('POST', '/v1/deployments', { spec })).status, 201);
    const seen = new Map<string, Set<string>>();
    let cliSawContextualizing = false;
    const d = await waitFor('fb ready', async () => {
      const v = (await call('GET', '/v1/deployments/fb')).json;
      for (const i of v.instances) {
        const s = seen.get(i.name) ?? new Set<string>();
        if (i.node.step) s.add(i.node.step);
        // nothing is installed while the node is not ready
        if (i.node.step !== 'agent-up') assert.equal(i.phase, 'pending', `${i.name} is ${i.phase} while ${i.node.step}`);
        seen.set(i.name, s);
      }
      if (!cliSawContextualizing && v.instances.some((i: { node: { step?: string } }) => i.node.step === 'contextualizing')) {
        const out = await nubis(server, ['status', 'fb']);
        cliSawContextualizing = /running \(contextualizing \d+\.\d s\)/.test(out.stdout);
      }
      return v.state === 'ready' ? v : undefined;
    }, 60_000, 100);
    for (const [name, steps] of seen) assert.deepEqual([...steps], ['booting', 'contextualizing', 'agent-up'], `${name} went through every step in order`);
    assert.ok(cliSawContextualizing, 'nubis status showed a node contextualizing');
    for (const i of d.instances) {
      assert.equal(i.node.step, 'agent-up');
      assert.ok(i.node.bootMs >= 500, `booting took the sim's provisioning time (${i.node.bootMs} ms)`);
      assert.ok(i.node.contextualizeMs >= 1400, `contextualizing took the sim's first-boot time (${i.node.contextualizeMs} ms)`);
    }
    const events = (await call('GET', '/v1/events?deployment=fb&limit=1000')).json.events as { kind: string; target: string; data: Record<string, number> }[];
    const ctx = events.filter((e) => e.kind === 'node.contextualizing');
    const up = events.filter((e) => e.kind === 'node.agent-up');
    assert.equal(ctx.length, 2, 'one node.contextualizing per node');
    assert.equal(up.length, 2, 'one node.agent-up per node');
    for (const e of up) {
      assert.ok(e.data['contextualizeMs']! >= 1400 && e.data['bootMs']! >= 500 && e.data['totalMs']! >= e.data['contextualizeMs']! + e.data['bootMs']! - 1, JSON.stringify(e.data));
    }
    const firstInstall = events.findIndex((e) => e.kind === 'instance.step' && /app-1/.test(e.target));
    const app1Up = events.findIndex((e) => e.kind === 'node.agent-up' && /app-1/.test(e.target));
    assert.ok(app1Up >= 0 && (firstInstall === -1 || app1Up < firstInstall), 'app-1 was installed only after its agent answered');
  } finally {
    await server.close();
  }
});

test('access: a generated credential reaches the handler, is shown exactly once, and is in no event, log, later response or plaintext file', { timeout: 120_000 }, async () => {
  const { server, token, call } = await serve('nubis-access-');
  try {
    const spec = [
      'name: shop',
      'clouds: { l: { platform: local } }',
      'nodeTemplates: { t: { cloud: l } }',
      'components:',
      '  app:',
      '    nodeTemplate: t',
      '    provides: { http: {} }',
      '    lifecycle:',
      '      install: \'printf %s "$ADMIN_PASSWORD" | sha256sum | cut -c1-64 >pw.sha; echo "the password is $ADMIN_PASSWORD"\'',
      '      start: "exec node -e \\"require(\'http\').createServer((q, s) => s.end(\'ok\')).listen(process.env.NUBIS_PORT_HTTP)\\""',
      '      health: { http: { port: http, path: / }, interval: 200ms }',
      'access:',
      '  credentials:',
      '    admin: { generate: password, length: 24, env: ADMIN_PASSWORD, component: app }',
      '',
    ].join('\n');
    assert.equal((await call('POST', '/v1/deployments', { spec })).status, 201, 'applied');
    // before ready: the credential is named, its value not given
    const early = await call('GET', '/v1/deployments/shop/access');
    assert.equal(early.status, 200);
    assert.equal(early.json.credentials[0].value, undefined);
    await waitFor('shop ready', async () => (await call('GET', '/v1/deployments/shop')).json.state === 'ready', 60_000, 100);
    const accessEvent = await waitFor('deployment.access', async () => {
      const list = (await call('GET', '/v1/events?deployment=shop&kind=deployment.access&limit=10')).json.events;
      return list.length > 0 ? list : undefined;
    }, 20_000, 100);
    assert.equal(accessEvent.length, 1, 'one deployment.access event');
    assert.equal(accessEvent[0].data.endpoints.length, 1, 'it carries the endpoint');
    assert.match(accessEvent[0].data.endpoints[0].address, /^127\.0\.0\.1:\d+$/);

    // the first read, through the CLI, shows the value
    const first = await nubis(server, ['endpoints', 'shop', '--output', 'json']);
    assert.equal(first.code, 0, first.stderr);
    const shown = JSON.parse(first.stdout);
    const value: string = shown.credentials[0].value;
    assert.equal(value.length, 24);
    assert.equal(shown.endpoints.length, 1);
    // the handler got it in its environment
    const sha = findFile(path.join(server.dataDir, 'local', 'nodes'), 'pw.sha');
    assert.ok(sha, 'the install handler wrote the hash of what it got');
    assert.equal(fs.readFileSync(sha, 'utf8').trim(), crypto.createHash('sha256').update(value).digest('hex'), 'the handler got the shown value');

    // later reads: no value, when it was shown, and rotation is said to be not built
    const again = await nubis(server, ['endpoints', 'shop']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /shown on \d{4}-\d\d-\d\dT[\d:.]+Z to .*rotating credentials is not built/);
    const api = await call('GET', '/v1/deployments/shop/access');
    assert.equal(api.json.credentials[0].value, undefined);
    assert.ok(api.json.credentials[0].shownAt);

    // another tenant cannot read it
    const acme = (await call('POST', '/v1/tokens', { name: 'acme-ci', tenant: 'acme', role: 'admin' })).json.token as string;
    assert.equal((await call('GET', '/v1/deployments/shop/access', undefined, acme)).status, 404);

    // the value appears nowhere else: events, step logs, later responses, files in the data dir
    const everything = [
      JSON.stringify((await call('GET', '/v1/events?limit=10000')).json),
      JSON.stringify((await call('GET', '/v1/deployments/shop/instances/app-1/logs')).json),
      JSON.stringify((await call('GET', '/v1/deployments/shop')).json),
      JSON.stringify(api.json),
      again.stdout,
    ].join('\n');
    assert.ok(everything.includes('the password is'), 'the step log is there');
    assert.ok(!everything.includes(value), 'the value is in no event, log or later response');
    const logs = JSON.stringify((await call('GET', '/v1/deployments/shop/instances/app-1/logs')).json);
    assert.match(logs, /the password is \*+/, 'the step log masks it');
    // (the node's own sandbox under local/nodes keeps what its handler printed, as a VM's disk would)
    for (const f of filesUnder(server.dataDir).filter((f) => !f.includes(`${path.sep}nodes${path.sep}`))) {
      assert.ok(!fs.readFileSync(f).includes(value), `${path.relative(server.dataDir, f)} holds no plaintext`);
    }
    assert.ok(filesUnder(server.dataDir).some((f) => /\.db$/.test(f)), 'the database was searched');
    void token;
  } finally {
    // the node's processes outlive a server stop by design: destroy the deployment so none is left running
    if ((await call('DELETE', '/v1/deployments/shop')).status < 300) {
      await waitFor('shop destroyed', async () => ((await call('GET', '/v1/deployments/shop')).status === 404 ? true : undefined), 60_000, 100).catch(() => undefined);
    }
    await server.close();
  }
});

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function findFile(dir: string, name: string): string | undefined {
  return filesUnder(dir).find((f) => path.basename(f) === name);
}

test('an agent that never answers fails its node after agentTimeoutMs with what to check, and nothing runs on it', { timeout: 60_000 }, async () => {
  const { startControlPlane } = await import('../helpers/control-plane.js');
  const cp = await startControlPlane(tempDir('nubis-fb-timeout-'), { engine: { pollIntervalMs: 20, agentTimeoutMs: 800 } });
  try {
    const spec = [
      'name: mute',
      'clouds: { s: { platform: sim, options: { path: ":memory:", contextualizeMs: 3600000 } } }',
      'nodeTemplates: { t: { cloud: s } }',
      'components:',
      '  app: { nodeTemplate: t, lifecycle: { install: "echo i", start: run } }',
      '',
    ].join('\n');
    await cp.apply({ spec }, { actor: 'user:test' });
    const d = await waitFor('node failed', async () => {
      const v = await cp.getDeployment('mute');
      return v.instances[0]?.node.state === 'failed' ? v : undefined;
    }, 30_000, 50);
    assert.equal(d.state, 'degraded');
    assert.match(d.instances[0]!.lastError ?? '', /AGENT_UNREACHABLE: the agent of node .* did not answer within 0\.8 s of the cloud saying the node runs .*check that the image has Node 20\+ and the agent at agentPath/);
    assert.equal(d.instances[0]!.phase, 'pending', 'no step ran');
    const failed = (await cp.events.list({ deployment: 'mute', kind: 'node.state', limit: 100 })).filter((e) => e.outcome === 'failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.data?.['code'], 'AGENT_UNREACHABLE');
  } finally {
    await cp.close();
  }
});
