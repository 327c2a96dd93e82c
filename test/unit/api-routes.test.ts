/**
 * Happy paths through `inject` in front of the real control plane (in-memory store, event log,
 * engine, sim cloud): auth, correlation ids, status codes, the event stream and the token file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../../src/store/index.js';
import type { EventLog, NubisEvent } from '../../src/events/index.js';
import { createApiServer, ensureToken, hashToken, BOOTSTRAP_TOKEN_NAME, type ApiServer } from '../../src/api/index.js';
import type { DeploymentView, PlanResult } from '../../src/engine/views.js';
import { startRealControlPlane, simWebSpec, waitReady, type RealControlPlane } from '../helpers/api-control-plane.js';

let real: RealControlPlane;
let store: Store;
let events: EventLog;
let api: ApiServer;
let token: string;
let dir: string;

before(async () => {
  real = await startRealControlPlane('nubis-api-routes-');
  ({ store, events, dir } = real);
  api = createApiServer({ controlPlane: real.cp, store, heartbeatMs: 20 });
  token = (await ensureToken(store, dir))!;
});
after(async () => {
  await api.close();
  await real.close();
});
const h = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

function parseSse(text: string): NubisEvent[] {
  return text.split('\n\n').filter((b) => b.includes('data: ')).map((b) => JSON.parse(b.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as NubisEvent);
}

test('ensureToken writes a 0600 token file once and stores only its hash', async () => {
  const file = path.join(dir, 'token');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(file, 'utf8').trim(), token);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await store.tokenName(hashToken(token)), BOOTSTRAP_TOKEN_NAME);
  assert.equal(await store.tokenName(token), undefined);
  assert.equal(await ensureToken(store, dir), undefined, 'a second start keeps the token');
  assert.equal(await store.tokenCount(), 1);
});

test('apply is 201 then 200, with the correlation id on the response and in the event', async () => {
  const first = await api.inject({ method: 'POST', url: '/v1/deployments', headers: { ...h(), 'x-correlation-id': 'c-1' }, body: { spec: simWebSpec('shop', 1) } });
  assert.equal(first.status, 201, first.body);
  assert.equal(first.headers['x-correlation-id'], 'c-1');
  assert.equal(first.json<DeploymentView>().version, 1);
  const second = await api.inject({ method: 'POST', url: '/v1/deployments', headers: h(), body: { spec: simWebSpec('shop', 1) } });
  assert.equal(second.status, 200);
  assert.equal(second.json<DeploymentView>().version, 2);
  assert.match(second.headers['x-correlation-id'] ?? '', /^[0-9a-f-]{36}$/);
  // The engine carries the request's correlation id onto the work it causes; the request itself is one applied event.
  const list = await api.inject({ method: 'GET', url: '/v1/events?correlationId=c-1&kind=deployment.applied', headers: h() });
  const evs = list.json<{ events: NubisEvent[] }>().events;
  assert.equal(evs.length, 1);
  assert.equal(evs[0]!.actor, 'user:admin');
  assert.equal(evs[0]!.deployment, 'shop');
  assert.equal(evs[0]!.correlationId, 'c-1');
  const caused = (await api.inject({ method: 'GET', url: '/v1/events?correlationId=c-1', headers: h() })).json<{ events: NubisEvent[] }>().events;
  assert.ok(caused.every((e) => e.correlationId === 'c-1'));
});

test('read routes answer with their documented shapes', async () => {
  const get = async (url: string): Promise<unknown> => {
    const r = await api.inject({ method: 'GET', url, headers: h() });
    assert.equal(r.status, 200, `${url}: ${r.body}`);
    return r.json();
  };
  await waitReady(real.cp, 'shop', 1);
  assert.deepEqual(((await get('/v1/deployments')) as { deployments: { name: string }[] }).deployments.map((d) => d.name), ['shop']);
  const shop = (await get('/v1/deployments/shop')) as DeploymentView;
  assert.equal(shop.name, 'shop');
  assert.equal(shop.state, 'ready');
  assert.deepEqual(shop.instances.map((i) => [i.name, i.component, i.phase, i.node.cloud]), [['app-1', 'app', 'running', 'sim']]);
  // The sim cloud gives each node an address; the endpoint is that address and the provided port.
  const address = shop.instances[0]!.endpoints['http']!;
  assert.match(address, /^\d+\.\d+\.\d+\.\d+:\d+$/);
  assert.ok(address.startsWith(`${shop.instances[0]!.node.address}:`), address);
  assert.deepEqual((await get('/v1/deployments/shop/endpoints')) as object, { endpoints: [{ instance: 'app-1', component: 'app', port: 'http', address }] });
  const logs = ((await get('/v1/deployments/shop/instances/app-1/logs?step=install')) as { logs: { step: string; state: string; output: string }[] }).logs;
  assert.equal(logs.length, 1);
  assert.deepEqual([logs[0]!.step, logs[0]!.state, logs[0]!.output], ['install', 'succeeded', 'sim: install ok\n']);
  assert.equal(((await get('/v1/schema/spec.json')) as { type: string }).type, 'object');
  const plan = await api.inject({ method: 'POST', url: '/v1/plan', headers: h(), body: { spec: simWebSpec('other') } });
  assert.equal(plan.status, 200);
  assert.deepEqual([plan.json<PlanResult>().deployment, plan.json<PlanResult>().create, plan.json<PlanResult>().summary.add], ['other', true, 2]);
  const scale = await api.inject({ method: 'POST', url: '/v1/deployments/shop/scale', headers: h(), body: { component: 'app', count: 3 } });
  assert.equal(scale.status, 200, scale.body);
  assert.equal(scale.json<DeploymentView>().components[0]!.desired, 3);
  // The engine converges in the background: three instances, all running.
  const scaled = await waitReady(real.cp, 'shop', 3);
  assert.deepEqual(scaled.instances.map((i) => i.name), ['app-1', 'app-2', 'app-3']);
  assert.deepEqual(((await get('/v1/deployments/shop')) as DeploymentView).components[0], { name: 'app', desired: 3, running: 3, min: 0, max: 10 });
  assert.equal((await api.inject({ method: 'GET', url: '/healthz' })).body, '{"ok":true}');
});

test('the event stream replays stored events after the cursor, then sends live ones, with heartbeats', async () => {
  const stored = (await events.list({})).map((e) => e.id);
  assert.ok(stored.length >= 2);
  const cursor = stored[0]!;
  // The live event is appended once the stream shows the last stored one: driven by the stream, not by time.
  const lastStored = stored.at(-1)!;
  let appended = false;
  const streaming = api.inject({
    method: 'GET', url: `/v1/events/stream?after=${cursor}`, headers: h(),
    until: (b) => {
      if (!appended && b.includes(`id: ${lastStored}\n`)) {
        appended = true;
        void events.append({ kind: 'live.one', actor: 'test' });
      }
      return b.includes('"kind":"live.one"') && b.includes(': heartbeat');
    },
  });
  const res = await streaming;
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
  const got = parseSse(res.body);
  const ids = got.map((e) => e.id);
  assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), 'ordered, no duplicates');
  assert.deepEqual(ids.slice(0, stored.length - 1), stored.slice(1), 'replay starts after the cursor');
  // The real engine may append its own events meanwhile (periodic cloud observations), so the
  // live one is not necessarily the last: it is there once, after every stored event.
  const live = got.filter((e) => e.kind === 'live.one');
  assert.equal(live.length, 1);
  assert.ok(live[0]!.id > lastStored);
  assert.match(res.body, /^id: \d+$/m);
});

test('Last-Event-ID resumes after the given id; a kind filter applies to replay', async () => {
  const all = await events.list({});
  const last = all.at(-1)!.id;
  const res = await api.inject({
    method: 'GET', url: '/v1/events/stream?kind=deployment.*', headers: { ...h(), 'last-event-id': String(all[0]!.id) },
    until: (b) => b.includes(': heartbeat'),
  });
  const got = parseSse(res.body);
  assert.ok(got.length >= 1);
  assert.ok(got.every((e) => e.kind.startsWith('deployment.') && e.id > all[0]!.id && e.id <= last));
});

test('close() ends open event streams', async () => {
  const local = createApiServer({ controlPlane: real.cp, store });
  const { port } = await local.listen(0);
  const res = await fetch(`http://127.0.0.1:${port}/v1/events/stream`, { headers: h() });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  await reader.read();
  await local.close();
  for (;;) {
    const r = await reader.read().catch(() => ({ done: true }));
    if (r.done) break;
  }
});
