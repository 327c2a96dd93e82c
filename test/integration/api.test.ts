/**
 * The API over a real socket in front of the real control plane (SQLite store, event log,
 * engine, sim cloud): auth, the token file, apply to ready, reads, events and SSE, teardown.
 * Waiting is polling with deadlines, never sleeping for luck.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Store } from '../../src/store/index.js';
import { openTestStore } from '../helpers/postgres.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type RunningControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken, type ApiServer } from '../../src/api/index.js';
import type { DeploymentView, EndpointView, PlanResult } from '../../src/engine/views.js';
import type { NubisEvent } from '../../src/events/index.js';

export const SIM_SPEC = `name: webapp
clouds:
  sim: {platform: sim, options: {path: ':memory:'}}
nodeTemplates:
  small: {cloud: sim}
components:
  app:
    nodeTemplate: small
    instances: {count: 2, max: 5}
    provides: {http: {}}
    lifecycle:
      start: "echo started"
`;

let dir: string;
let store: Store;
let cp: RunningControlPlane;
let api: ApiServer;
let base: string;
let token: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-api-it-'));
  store = await openTestStore(path.join(dir, 'nubis.db'));
  const events = createEventLog(store);
  cp = await createControlPlane({ dataDir: dir, store, events });
  await cp.start();
  token = (await ensureToken(store, dir))!;
  api = createApiServer({ controlPlane: cp, store, heartbeatMs: 50 });
  const { port } = await api.listen(0);
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  await api.close();
  await cp.stop();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call<T>(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(base + p, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the token file is owner-only and requests without it are 401', async () => {
  const st = fs.statSync(path.join(dir, 'token'));
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(path.join(dir, 'token'), 'utf8').trim(), token);
  const res = await fetch(`${base}/v1/deployments`);
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});

test('plan, apply to ready, read, events and stream, scale, destroy', async () => {
  const plan = await call<PlanResult>('POST', '/v1/plan', { spec: SIM_SPEC, file: 'webapp.yaml' });
  assert.equal(plan.status, 200);
  assert.equal(plan.body.create, true);
  assert.ok(plan.body.actions.some((a) => a.kind === 'create-node'));

  // A stream opened before apply sees its events live.
  const ac = new AbortController();
  const seen: NubisEvent[] = [];
  const streamRes = await fetch(`${base}/v1/events/stream?deployment=webapp`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  assert.equal(streamRes.status, 200);
  assert.match(streamRes.headers.get('content-type') ?? '', /text\/event-stream/);
  const reading = (async () => {
    let buf = '';
    try {
      for await (const chunk of streamRes.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString('utf8');
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) seen.push(JSON.parse(data.slice(6)) as NubisEvent);
        }
      }
    } catch {
      // aborted
    }
  })();

  const applied = await call<DeploymentView>('POST', '/v1/deployments', { spec: SIM_SPEC, file: 'webapp.yaml' }, { 'x-correlation-id': 'it-apply-1' });
  assert.equal(applied.status, 201, JSON.stringify(applied.body));
  assert.equal(applied.headers.get('x-correlation-id'), 'it-apply-1');
  assert.equal(applied.body.name, 'webapp');

  const ready = await until('webapp ready', async () => {
    const r = await call<DeploymentView>('GET', '/v1/deployments/webapp');
    return r.body.state === 'ready' ? r.body : undefined;
  });
  assert.equal(ready.instances.length, 2);

  const again = await call<DeploymentView>('POST', '/v1/deployments', { spec: SIM_SPEC, file: 'webapp.yaml' });
  assert.equal(again.status, 200);

  const list = await call<{ deployments: { name: string }[] }>('GET', '/v1/deployments');
  assert.deepEqual(list.body.deployments.map((d) => d.name), ['webapp']);
  const eps = await call<{ endpoints: EndpointView[] }>('GET', '/v1/deployments/webapp/endpoints');
  assert.equal(eps.body.endpoints.length, 2);
  for (const e of eps.body.endpoints) assert.match(e.address, /^[^:]+:\d+$/);

  const evs = await call<{ events: NubisEvent[] }>('GET', '/v1/events?correlationId=it-apply-1');
  assert.ok(evs.body.events.some((e) => e.kind === 'deployment.applied' && e.actor === 'user:admin'));
  const limited = await call<{ events: NubisEvent[] }>('GET', '/v1/events?deployment=webapp&limit=2');
  assert.equal(limited.body.events.length, 2);

  await until('live events on the stream', async () => (seen.some((e) => e.kind === 'deployment.applied') && seen.some((e) => e.kind === 'instance.phase') ? true : undefined));
  const ids = seen.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  ac.abort();
  await reading;

  const logs = await call<{ logs: { step: string }[] }>('GET', '/v1/deployments/webapp/instances/app-1/logs?step=start');
  assert.equal(logs.status, 200);
  assert.ok(logs.body.logs.every((l) => l.step === 'start'));

  const tooMany = await call<{ error: { code: string } }>('POST', '/v1/deployments/webapp/scale', { component: 'app', count: 50 });
  assert.equal(tooMany.status, 422);
  assert.equal(tooMany.body.error.code, 'SCALE_OUT_OF_BOUNDS');
  const badSpec = await call<{ error: { code: string; details: { problems: { message: string }[] } } }>('POST', '/v1/deployments', { spec: 'name: 7\n', file: 'bad.yaml' });
  assert.equal(badSpec.status, 400);
  assert.equal(badSpec.body.error.code, 'SPEC_INVALID');
  assert.match(badSpec.body.error.details.problems[0]!.message, /^bad\.yaml:\d+:\d+: \$/);

  const scaled = await call<DeploymentView>('POST', '/v1/deployments/webapp/scale', { component: 'app', count: 3 });
  assert.equal(scaled.status, 200);
  await until('3 running', async () => {
    const r = await call<DeploymentView>('GET', '/v1/deployments/webapp');
    return r.body.state === 'ready' && r.body.instances.filter((i) => i.phase === 'running').length === 3 ? true : undefined;
  });

  const destroyed = await call<DeploymentView>('DELETE', '/v1/deployments/webapp');
  assert.equal(destroyed.status, 202);
  await until('webapp gone', async () => ((await call('GET', '/v1/deployments/webapp')).status === 404 ? true : undefined));
});

test('the spec schema and the OpenAPI document are served', async () => {
  const schema = await call<{ type: string }>('GET', '/v1/schema/spec.json');
  assert.equal(schema.status, 200);
  assert.equal(schema.body.type, 'object');
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
  assert.equal(doc.openapi, '3.1.0');
  assert.ok(doc.paths['/v1/deployments/{name}/scale']);
});
