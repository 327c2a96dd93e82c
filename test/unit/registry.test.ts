/**
 * The registries through the real control plane: discovery via an injected test driver (the
 * sim driver plus a `discover()` this test controls), hand entries that survive refreshes,
 * the refresh schedule on a virtual clock, credentials handed to drivers, placement passed to
 * `create`, and provider accounting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { createVirtualClock, type Clock } from '../../src/clock/index.js';
import { createSimDriver, type CreateNodeRequest, type Discovery, type DriverContext, type DriverFactory } from '../../src/drivers/index.js';
import { NubisError } from '../../src/errors/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type RunningControlPlane } from '../../src/engine/index.js';
import { createCallAccounting, percentile } from '../../src/registry/index.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { openTestStore } from '../helpers/postgres.js';

interface Probe {
  discovered: number;
  creates: CreateNodeRequest[];
  contexts: DriverContext[];
  found: Discovery;
  fail?: boolean;
}

/** The sim driver with a discover() answering `probe.found` (or failing when `probe.fail`). */
function discoveringSim(probe: Probe): DriverFactory {
  return (ctx) => {
    probe.contexts.push(ctx);
    const d = createSimDriver({ ...ctx, options: { ...ctx.options, path: ':memory:' } });
    return {
      ...d,
      create: (req, s) => {
        probe.creates.push(req);
        return d.create(req, s);
      },
      async discover() {
        probe.discovered++;
        if (probe.fail) throw new NubisError('CLOUD_UNAVAILABLE', 'discovery endpoint down');
        return structuredClone(probe.found);
      },
    };
  };
}

const FOUND: Discovery = {
  locations: [{ id: 'zone-a', region: 'r1', geography: 'FI' }, { id: 'zone-b', region: 'r1' }],
  offers: [
    { id: 'small', cores: 1, memoryMiB: 1024, pricePerHour: 0.01 },
    { id: 'medium', cores: 2, memoryMiB: 4096, pricePerHour: 0.04 },
  ],
  images: [{ id: 'img-1', name: 'ubuntu 22.04', os: 'ubuntu', osVersion: '22.04' }],
};

async function start(dir: string, probe: Probe, extra: { clock?: Clock; discoveryIntervalMs?: number } = {}): Promise<{ cp: RunningControlPlane; close(): Promise<void> }> {
  const store = await openTestStore(path.join(dir, 'nubis.db'));
  const events = createEventLog(store);
  const cp = await createControlPlane({
    dataDir: dir, store, events,
    drivers: { sim: discoveringSim(probe), local: (ctx) => createSimDriver({ ...ctx, options: { path: ':memory:' } }) },
    discoveryIntervalMs: extra.discoveryIntervalMs ?? 0,
    ...(extra.clock ? { clock: extra.clock } : {}),
  });
  await cp.start();
  return { cp, async close() { await cp.stop(); await store.close(); } };
}

const by = { actor: 'user:test' };

test('registering a cloud discovers it; hand entries survive refreshes and win over discovered ones', async () => {
  const dir = tempDir('nubis-registry-');
  const probe: Probe = { discovered: 0, creates: [], contexts: [], found: structuredClone(FOUND) };
  const { cp, close } = await start(dir, probe);
  try {
    const reg = cp.registry;
    const r = await reg.putCloud('default', 'alpha', { platform: 'sim', options: { region: 'r1' } }, by);
    assert.equal(r.created, true);
    assert.deepEqual(r.discovery, { cloud: 'alpha', supported: true, ok: true, counts: { locations: 2, offers: 2, images: 1 } });
    assert.equal(r.cloud.discovery, true);
    assert.ok(r.cloud.lastDiscoveredAt);
    assert.deepEqual(reg.offers('default', 'alpha').map((o) => `${o.id}:${o.source}`), ['medium:discovered', 'small:discovered']);

    // a hand entry, and a hand override of a discovered offer
    await reg.putEntry('default', 'alpha', 'offer', 'gpu', { cores: 8, memoryMiB: 65536, pricePerHour: 2.5 }, by);
    await reg.putEntry('default', 'alpha', 'offer', 'small', { cores: 1, memoryMiB: 1024, pricePerHour: 0.005 }, by);
    await assert.rejects(reg.putEntry('default', 'alpha', 'offer', 'bad', { cores: 0, memoryMiB: 1 }, by), (e) => (e as NubisError).code === 'REQUEST_INVALID');

    // the provider drops `medium` and adds `large`; a refresh follows it and keeps the hand entries
    probe.found.offers = [{ id: 'small', cores: 1, memoryMiB: 1024, pricePerHour: 0.01 }, { id: 'large', cores: 4, memoryMiB: 8192, pricePerHour: 0.08 }];
    const again = await reg.discover('default', 'alpha', by);
    assert.equal(again.ok, true);
    const offers = Object.fromEntries(reg.offers('default', 'alpha').map((o) => [o.id, o]));
    assert.deepEqual(Object.keys(offers).sort(), ['gpu', 'large', 'small']);
    assert.equal(offers['gpu']!.source, 'manual');
    assert.equal(offers['small']!.source, 'manual');
    assert.equal(offers['small']!.pricePerHour, 0.005, 'the hand entry wins over the discovered one');

    // a failed discovery keeps what was there and says why
    probe.fail = true;
    const failed = await reg.discover('default', 'alpha', by);
    assert.equal(failed.ok, false);
    assert.match(failed.error ?? '', /CLOUD_UNAVAILABLE/);
    assert.equal(reg.offers('default', 'alpha').length, 3);
    assert.match(reg.getCloud('default', 'alpha').lastDiscoveryError ?? '', /discovery endpoint down/);
    probe.fail = false;

    // a driver without discover(): entries are completed by hand
    const plain = await reg.putCloud('default', 'byhand', { platform: 'local' }, by);
    assert.equal(plain.discovery.supported, false);
    await reg.putEntry('default', 'byhand', 'offer', 'box', { cores: 4, memoryMiB: 4096 }, by);
    await reg.putEntry('default', 'byhand', 'image', 'deb', { os: 'Debian', osVersion: '12' }, by);
    assert.deepEqual(reg.images('default', 'byhand'), [{ id: 'deb', name: 'deb', os: 'debian', osVersion: '12', source: 'manual' }]);

    // input checks
    await assert.rejects(reg.putCloud('default', 'x', { platform: 'sim', options: { endpoint: 'e', password: 'p' } }, by), /\$\.options\.password: secrets do not go in cloud options/);
    await assert.rejects(reg.putCloud('default', 'x', { platform: 'sim', credential: 'nope' }, by), /no credential named "nope"/);
    await assert.rejects(reg.putCloud('default', 'Bad_Name', { platform: 'sim' }, by), (e) => (e as NubisError).code === 'REQUEST_INVALID');

    // tenants are separate
    assert.deepEqual(cp.registry.listClouds('team-b'), []);
    await reg.deleteCloud('default', 'byhand', by);
    assert.deepEqual(reg.listClouds('default').map((c) => c.name), ['alpha']);
  } finally {
    await close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('discovery refreshes on the schedule, on the control plane clock', async () => {
  const dir = tempDir('nubis-registry-clock-');
  const clock = createVirtualClock(1_000_000);
  const probe: Probe = { discovered: 0, creates: [], contexts: [], found: structuredClone(FOUND) };
  const { cp, close } = await start(dir, probe, { clock, discoveryIntervalMs: 60_000 });
  try {
    await cp.registry.putCloud('default', 'alpha', { platform: 'sim' }, by);
    assert.equal(probe.discovered, 1);
    await clock.advance(59_000);
    assert.equal(probe.discovered, 1);
    probe.found.images.push({ id: 'img-2', name: 'debian 12', os: 'debian', osVersion: '12' });
    await clock.advance(1_000);
    await waitFor('a scheduled refresh', () => probe.discovered === 2 && cp.registry.images('default', 'alpha').length === 2);
    // the next sleep starts once the refresh has finished: keep moving time until it fires
    await waitFor('another refresh', async () => {
      await clock.advance(60_000);
      return probe.discovered >= 3;
    });
  } finally {
    await close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a template without a cloud is placed by requirements: plan explains, create gets the placement, the driver gets the credential', async () => {
  const dir = tempDir('nubis-registry-place-');
  const probe: Probe = { discovered: 0, creates: [], contexts: [], found: structuredClone(FOUND) };
  const { cp, close } = await start(dir, probe);
  try {
    await cp.registry.setCredential('default', 'alpha-account', { token: 'tok-123' }, by);
    await cp.registry.putCloud('default', 'alpha', { platform: 'sim', options: { region: 'r1' }, credential: 'alpha-account' }, by);
    const spec = [
      'name: placed',
      'clouds: {}',
      'nodeTemplates:',
      '  t: { requirements: { cores: 2, memory: 2048, os: linux }, spread: locations }',
      'components:',
      '  app: { nodeTemplate: t, instances: { count: 2 }, lifecycle: { start: run } }',
      '',
    ].join('\n');
    const plan = await cp.plan({ spec });
    const creates = plan.actions.filter((a) => a.kind === 'create-node');
    assert.equal(creates.length, 2);
    assert.deepEqual(creates.map((a) => a.cloud), ['alpha', 'alpha']);
    assert.match(creates[0]!.reason, /^spread over locations, cheapest in the emptiest: alpha\/zone-a medium 2c\/4096MiB \$0\.04\/h ubuntu 22\.04 \(2 candidates/);
    assert.match(creates[1]!.reason, /alpha\/zone-b medium/);

    await cp.apply({ spec }, by);
    await waitFor('two creates', () => probe.creates.length >= 2);
    const placements = probe.creates.map((c) => c.placement).sort((a, b) => String(a?.location).localeCompare(String(b?.location)));
    assert.deepEqual(placements, [
      { offer: 'medium', image: 'img-1', location: 'zone-a' },
      { offer: 'medium', image: 'img-1', location: 'zone-b' },
    ]);
    const engineCtx = probe.contexts.find((c) => c.cloud === 'alpha' && probe.creates.length > 0);
    assert.deepEqual(engineCtx?.credentials, { token: 'tok-123' });
    const view = await waitFor('ready', async () => {
      const v = await cp.getDeployment('placed');
      return v.state === 'ready' ? v : undefined;
    });
    assert.deepEqual(view.instances.map((i) => i.node.cloud), ['alpha', 'alpha']);
    await assert.rejects(cp.registry.deleteCloud('default', 'alpha', by), (e) => (e as NubisError).code === 'CONFLICT');
    await assert.rejects(cp.registry.deleteCredential('default', 'alpha-account', by), (e) => (e as NubisError).code === 'CONFLICT');

    // nothing fits: plan and apply fail whole, naming the closest offers
    const tooBig = spec.replace('cores: 2, memory: 2048', 'cores: 64, memory: 2048').replace('name: placed', 'name: huge');
    await assert.rejects(cp.plan({ spec: tooBig }), (e) => (e as NubisError).code === 'PLACEMENT_NO_FIT' && /closest: alpha\/medium 2c\/4096MiB/.test((e as Error).message));
    await assert.rejects(cp.apply({ spec: tooBig }, by), (e) => (e as NubisError).code === 'PLACEMENT_NO_FIT');
    assert.equal((await cp.listDeployments()).some((d) => d.name === 'huge'), false);

    // every provider call was accounted
    const sla = await cp.registry.sla('default', 'alpha', 3_600_000);
    assert.ok(sla.ops.some((o) => o.op === 'create' && o.calls >= 2));
    assert.ok(sla.ops.some((o) => o.op === 'discover' && o.calls >= 1));
  } finally {
    await close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('accounting: availability counts only provider-side failures; percentiles are nearest-rank', async () => {
  const dir = tempDir('nubis-accounting-');
  const store = await openTestStore(path.join(dir, 'nubis.db'));
  try {
    const clock = createVirtualClock(10_000);
    const acc = createCallAccounting(store.registry, clock);
    for (let i = 1; i <= 100; i++) acc.record({ cloud: 'c', op: 'get', outcome: 'ok', latencyMs: i });
    for (let i = 0; i < 5; i++) acc.record({ cloud: 'c', op: 'create', outcome: 'error', errorCode: 'CLOUD_UNAVAILABLE', latencyMs: 50 });
    for (let i = 0; i < 3; i++) acc.record({ cloud: 'c', op: 'create', outcome: 'error', errorCode: 'CLOUD_FORBIDDEN', latencyMs: 10 });
    for (let i = 0; i < 12; i++) acc.record({ cloud: 'c', op: 'create', outcome: 'ok', latencyMs: 100 });
    acc.record({ cloud: 'other', op: 'get', outcome: 'ok', latencyMs: 1 });
    const r = await acc.sla('c', 0);
    const get = r.ops.find((o) => o.op === 'get')!;
    assert.deepEqual([get.calls, get.p50Ms, get.p95Ms, get.p99Ms, get.availability], [100, 50, 95, 99, 1]);
    const create = r.ops.find((o) => o.op === 'create')!;
    assert.equal(create.calls, 20);
    assert.equal(create.errors, 8);
    assert.equal(create.providerErrors, 5);
    assert.equal(create.availability, 15 / 20);
    assert.deepEqual(r.codes, [{ code: 'CLOUD_UNAVAILABLE', count: 5 }, { code: 'CLOUD_FORBIDDEN', count: 3 }]);
    assert.equal(r.total.calls, 120);
    assert.equal(percentile([], 50), 0);
    await clock.advance(1000);
    assert.equal((await acc.sla('c', 10_500)).total.calls, 0);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
