/** The sim cloud's models: errors, partial creates, quota, outages, persistence, slow-down, agents. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRealClock, createVirtualClock } from '../../src/clock/index.js';
import { NubisError, type ErrorCode } from '../../src/errors/index.js';
import type { Driver } from '../../src/drivers/driver.js';
import { createSimCloud, createSimDriver, parseSimModel, startSimServer, type SimErrorStatus } from '../../src/drivers/sim/index.js';

const sig = (): AbortSignal => new AbortController().signal;
const req = (key: string, token = `${key}#1`) => ({ key, tags: { 'nubis-key': key, 'nubis-deployment': 'd' }, idempotencyToken: token, requirements: {} });
const tmp = (): string => mkdtempSync(join(tmpdir(), 'nubis-sim-'));

async function failure(p: Promise<unknown>): Promise<NubisError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof NubisError, `expected a NubisError, got ${String(e)}`);
  return e;
}

const EXPECTED: Record<SimErrorStatus, [ErrorCode, boolean]> = {
  400: ['CLOUD_BAD_REQUEST', false],
  401: ['CLOUD_UNAUTHORIZED', false],
  402: ['CLOUD_PAYMENT_REQUIRED', false],
  403: ['CLOUD_FORBIDDEN', false],
  404: ['CLOUD_NOT_FOUND', false],
  429: ['CLOUD_RATE_LIMITED', true],
  500: ['CLOUD_INTERNAL', true],
  503: ['CLOUD_UNAVAILABLE', true],
};

for (const transport of ['in-process', 'http'] as const) {
  async function makeDriver(options: Record<string, unknown>): Promise<{ driver: Driver; inventory: () => Promise<unknown[]>; close(): Promise<void> }> {
    const clock = createRealClock();
    if (transport === 'in-process') {
      const cloud = createSimCloud({ path: ':memory:', clock, ...options });
      const driver = createSimDriver({ cloud: 't', options: { cloud }, dataDir: '/nonexistent', clock });
      return { driver, inventory: async () => cloud.inventory(), close: async () => { await driver.close(); cloud.close(); } };
    }
    const server = await startSimServer({ port: 0, path: ':memory:', ...options });
    const driver = createSimDriver({ cloud: 't', options: { url: server.url }, dataDir: '/nonexistent', clock });
    return { driver, inventory: async () => ((await (await fetch(`${server.url}/admin/inventory`)).json()) as { objects: unknown[] }).objects, close: async () => { await driver.close(); await server.close(); } };
  }

  test(`${transport}: injected create errors map to the right codes and leave nothing`, async () => {
    for (const status of Object.keys(EXPECTED).map(Number) as SimErrorStatus[]) {
      const env = await makeDriver({ errors: { create: [{ rate: 1, status }] } });
      try {
        const e = await failure(env.driver.create(req(`k${status}`), sig()));
        assert.equal(e.code, EXPECTED[status][0], `status ${status}`);
        assert.equal(e.retryable, EXPECTED[status][1], `status ${status} retryable`);
        assert.deepEqual(await env.inventory(), []);
      } finally {
        await env.close();
      }
    }
  });

  test(`${transport}: quota is CLOUD_QUOTA_EXCEEDED, not retryable; replays still work`, async () => {
    const env = await makeDriver({ quota: { servers: 2 } });
    try {
      const a = await env.driver.create(req('a'), sig());
      await env.driver.create(req('b'), sig());
      const e = await failure(env.driver.create(req('c'), sig()));
      assert.equal(e.code, 'CLOUD_QUOTA_EXCEEDED');
      assert.equal(e.retryable, false);
      assert.equal((await env.driver.create(req('a'), sig())).id, a.id, 'idempotent replay at quota');
      await env.driver.delete(a.id, sig());
      await env.driver.create(req('c'), sig());
    } finally {
      await env.close();
    }
  });

  test(`${transport}: partial 503 create leaves a tagged server; retrying the token adopts it`, async () => {
    const env = await makeDriver({ errors: { create: [{ rate: 0.6, status: 503, partial: true }] }, seed: 3 });
    try {
      let node;
      let failures = 0;
      for (let i = 0; i < 50 && !node; i++) {
        try {
          node = await env.driver.create(req('p', 'p#token'), sig());
        } catch (e) {
          assert.ok(e instanceof NubisError && e.code === 'CLOUD_UNAVAILABLE' && e.retryable);
          failures++;
          assert.equal((await env.driver.list({ 'nubis-key': 'p' }, sig())).length, 1, 'list finds the partial server');
        }
      }
      assert.ok(failures > 0, 'the seed produced at least one partial failure');
      assert.ok(node);
      assert.equal((await env.inventory()).length, 1, 'no duplicate');
    } finally {
      await env.close();
    }
  });
}

test('outage: every call fails 503 until it ends (method and option windows)', async () => {
  const clock = createVirtualClock(1000);
  const cloud = createSimCloud({ path: ':memory:', clock, outages: [{ fromMs: 10_000, untilMs: 20_000 }] });
  const driver = createSimDriver({ cloud: 't', options: { cloud }, dataDir: '/x', clock });
  const n = await driver.create(req('o'), sig());
  cloud.outage(5000);
  for (const p of [driver.list({}, sig()), driver.get(n.id, sig()), driver.delete(n.id, sig()), driver.create(req('o2'), sig())]) {
    const e = await failure(p);
    assert.equal(e.code, 'CLOUD_UNAVAILABLE');
    assert.equal(e.retryable, true);
  }
  await clock.advance(4000);
  assert.equal((await driver.list({}, sig())).length, 1);
  await clock.advance(10_000); // t = 15 000: inside the configured window
  assert.equal((await failure(driver.get(n.id, sig()))).code, 'CLOUD_UNAVAILABLE');
  await clock.advance(5000);
  assert.equal((await driver.get(n.id, sig()))?.id, n.id);
  assert.equal(cloud.counters().errors.get, 2);
  await driver.close();
  cloud.close();
});

test('inventory persists across reopen; provisioning servers whose time passed are running', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'sim.db');
    const c1 = createSimCloud({ path, clock: createVirtualClock(0), latencyMs: 30_000 });
    const a = await c1.create({ tags: { k: 'a' }, idempotencyToken: 'ta' });
    const b = await c1.create({ tags: { k: 'b' }, idempotencyToken: 'tb' });
    assert.equal(a.status, 'provisioning');
    await c1.delete(b.id);
    c1.close();

    const c2 = createSimCloud({ path, clock: createVirtualClock(60_000), latencyMs: 30_000 });
    const inv = c2.inventory();
    assert.deepEqual(inv.map((s) => [s.id, s.status]), [[a.id, 'running'], [b.id, 'deleted']]);
    assert.equal(inv[1]!.deletedAt, 0);
    assert.equal((await c2.create({ tags: { k: 'a' }, idempotencyToken: 'ta' })).id, a.id, 'token survives reopen');
    const c = await c2.create({ tags: { k: 'c' }, idempotencyToken: 'tc' });
    assert.ok(![a.id, b.id].includes(c.id), 'fresh id after reopen');
    assert.deepEqual((await c2.list({ k: 'a' })).map((s) => s.id), [a.id]);
    c2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cloudsigma slow-down: ≤ 4 in flight 15–30 s, then 60 s + 15 s × (c − 5); seeded runs repeat', async () => {
  const run = async (): Promise<{ ids: string[]; times: number[] }> => {
    const clock = createVirtualClock(0);
    const cloud = createSimCloud({ path: ':memory:', clock, slowdown: 'cloudsigma', seed: 42 });
    const servers = [];
    for (let i = 0; i < 7; i++) servers.push(await cloud.create({ tags: { i: String(i) } }));
    const out = { ids: servers.map((s) => s.id), times: servers.map((s) => s.readyAt - s.createdAt) };
    assert.equal(cloud.counters().maxInFlightCreates, 7);
    assert.equal(cloud.inFlightCreates(), 7);
    const stop = clock.autoAdvance();
    const last = await cloud.whenRunning(servers[6]!.id);
    stop();
    assert.equal(last.status, 'running');
    assert.equal(clock.now(), 90_000);
    cloud.close();
    return out;
  };
  const r1 = await run();
  for (const t of r1.times.slice(0, 4)) assert.ok(t >= 15_000 && t <= 30_000, `${t}`);
  assert.deepEqual(r1.times.slice(4), [60_000, 75_000, 90_000]);
  assert.deepEqual(await run(), r1, 'same seed, same run');
});

test('aborted signal: the in-process cloud rejects with ABORTED during api latency', async () => {
  const clock = createVirtualClock(0);
  const cloud = createSimCloud({ path: ':memory:', clock, apiLatencyMs: 1000 });
  const ac = new AbortController();
  const p = cloud.create({ tags: { a: '1' } }, ac.signal);
  await clock.advance(500);
  ac.abort();
  assert.equal((await failure(p)).code, 'ABORTED');
  await clock.advance(1000);
  assert.equal(cloud.inventory().length, 0);
  cloud.close();
});

test('sim agents: idempotent by runId, start makes running/healthy, injected failures, reboot resets', async () => {
  const clock = createVirtualClock(0);
  const stop = clock.autoAdvance();
  const driver = createSimDriver({
    cloud: 't',
    options: { path: ':memory:', latencyMs: 10_000, stepLatencyMs: 2000, stepFailures: { configure: 1 } },
    dataDir: '/x',
    clock,
  });
  try {
    const node = await driver.create(req('ag'), sig());
    const agent = driver.agent(node);
    const unreachable = await failure(agent.status(sig()));
    assert.equal(unreachable.code, 'AGENT_UNREACHABLE');
    while ((await driver.get(node.id, sig()))?.status !== 'running') await clock.sleep(1000);
    const step = { runId: 'r1', instance: 'app-0', step: 'install' as const, timeoutMs: 60_000, env: {}, wiring: {} };
    const t0 = clock.now();
    const [x, y] = await Promise.all([agent.runStep(step, sig()), agent.runStep(step, sig())]);
    assert.equal(x.state, 'succeeded');
    assert.deepEqual(x, y);
    assert.equal(clock.now() - t0, 2000, 'ran once, in stepLatencyMs');
    assert.equal((await agent.runStep({ ...step, runId: 'r2', step: 'configure' }, sig())).state, 'failed');
    assert.equal((await agent.runStep({ ...step, runId: 'r3', step: 'start', timeoutMs: 1000 }, sig())).state, 'timed-out');
    assert.equal((await agent.runStep({ ...step, runId: 'r4', step: 'start' }, sig())).state, 'succeeded');
    let st = await agent.status(sig());
    assert.deepEqual([st.instances[0]?.process, st.instances[0]?.health], ['running', 'healthy']);
    assert.match(await agent.logs('app-0', undefined, sig()), /install ok[\s\S]*configure failed/);
    await driver.reboot(node.id, sig());
    st = await agent.status(sig());
    assert.equal(st.instances[0]?.process, 'none');
    await agent.stopInstance('app-0', sig());
  } finally {
    stop();
    await driver.close();
  }
});

test('server-main runs as its own process; its inventory survives a restart', async () => {
  const dir = tmp();
  const main = fileURLToPath(new URL('../../src/drivers/sim/server-main.js', import.meta.url));
  const startProc = async (): Promise<{ url: string; kill(): Promise<void> }> => {
    const child = spawn(process.execPath, [main, '--port', '0', '--db', join(dir, 'sim.db'), '--time-scale', '100', '--latency', '1000-3000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout });
      rl.once('line', (l) => {
        rl.close();
        resolve(l);
      });
      child.once('exit', (code) => reject(new Error(`sim server exited ${code}`)));
    });
    const { url } = JSON.parse(line) as { url: string };
    return {
      url,
      kill: () =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    };
  };
  const clock = createRealClock();
  try {
    const p1 = await startProc();
    const d1 = createSimDriver({ cloud: 't', options: { url: p1.url }, dataDir: dir, clock });
    const node = await d1.create(req('proc'), sig());
    await d1.close();
    await p1.kill();
    const p2 = await startProc();
    const d2 = createSimDriver({ cloud: 't', options: { url: p2.url }, dataDir: dir, clock });
    const deadline = Date.now() + 10_000;
    let found = await d2.list({ 'nubis-key': 'proc' }, sig());
    while (found[0]?.status !== 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      found = await d2.list({ 'nubis-key': 'proc' }, sig());
    }
    assert.deepEqual(found.map((n) => [n.id, n.status]), [[node.id, 'running']]);
    assert.equal((await d2.create(req('proc'), sig())).id, node.id, 'token survives the restart');
    await d2.close();
    await p2.kill();
    // unreachable server → CLOUD_UNAVAILABLE, retryable
    const d3 = createSimDriver({ cloud: 't', options: { url: p2.url }, dataDir: dir, clock });
    const e = await failure(d3.list({}, sig()));
    assert.equal(e.code, 'CLOUD_UNAVAILABLE');
    assert.equal(e.retryable, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options are SPEC_INVALID naming the option', () => {
  assert.throws(
    () => createSimDriver({ cloud: 't', options: { path: ':memory:', errors: { create: [{ rate: 2, status: 503 }] } }, dataDir: '/x', clock: createRealClock() }),
    (e: unknown) => e instanceof NubisError && e.code === 'SPEC_INVALID' && /errors\.create\[0\]\.rate/.test(e.message),
  );
  assert.throws(
    () => createSimDriver({ cloud: 't', options: { path: ':memory:', errors: { get: [{ rate: 0.1, status: 418 }] } }, dataDir: '/x', clock: createRealClock() }),
    (e: unknown) => e instanceof NubisError && e.code === 'SPEC_INVALID',
  );
});

// ---- the faults real clouds have (issue 7, item 4) ----

test('slow lists: every list call takes listLatencyMs on the sim clock', async () => {
  const clock = createVirtualClock(0);
  const cloud = createSimCloud({ path: ':memory:', clock, listLatencyMs: 800 });
  await cloud.create({ tags: { k: 'a' } });
  let done = false;
  const p = cloud.list({ k: 'a' }).then((l) => ((done = true), l));
  await cloud.create({ tags: { k: 'a' } }); // made while the list is on its way: not in it
  await clock.advance(799);
  assert.equal(done, false, 'not before 800 ms');
  await clock.advance(1);
  assert.equal((await p).length, 1, 'the answer is the state when the list began');
  const again = cloud.list({ k: 'a' });
  await clock.advance(800);
  assert.equal((await again).length, 2);
  // other calls are not slowed
  const t0 = clock.now();
  await cloud.create({ tags: { k: 'b' } });
  assert.equal(clock.now(), t0);
  cloud.close();
});

for (const transport of ['in-process', 'http'] as const) {
  test(`${transport}: paginated lists: one counted call per page; the driver walks every page`, async () => {
    const clock = createRealClock();
    const server = transport === 'http' ? await startSimServer({ port: 0, path: ':memory:', listPageSize: 3 }) : undefined;
    const cloud = server?.cloud ?? createSimCloud({ path: ':memory:', clock, listPageSize: 3 });
    const driver = createSimDriver({ cloud: 't', options: server ? { url: server.url } : { cloud }, dataDir: '/x', clock });
    try {
      for (let i = 0; i < 7; i++) await driver.create(req(`p${i}`), sig());
      const before = cloud.counters().calls.list;
      const all = await driver.list({ 'nubis-deployment': 'd' }, sig());
      assert.deepEqual(all.map((n) => n.tags['nubis-key']), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
      assert.equal(cloud.counters().calls.list - before, 3, '7 servers in pages of 3: 3 calls');
      const page = await cloud.listPage({}, { offset: 0, limit: 100 });
      assert.equal(page.servers.length, 3, 'the page size caps a larger limit');
      assert.equal(page.nextOffset, 3);
      // offset pagination: a delete between two pages shifts the next page, so one is skipped
      const first = await cloud.listPage({}, { offset: 0 });
      await cloud.delete(first.servers[0]!.id);
      const second = await cloud.listPage({}, { offset: first.nextOffset! });
      assert.equal(second.servers[0]!.tags['nubis-key'], 'p4', 'p3 slid into the first page and was missed');
    } finally {
      await driver.close();
      if (server) await server.close();
      else cloud.close();
    }
  });
}

test('list lag: a fresh server is missing from lists for listLagMs, get finds it', async () => {
  const clock = createVirtualClock(0);
  const cloud = createSimCloud({ path: ':memory:', clock, listLagMs: 5000 });
  const s = await cloud.create({ tags: { k: 'a' } });
  assert.deepEqual(await cloud.list({ k: 'a' }), []);
  assert.equal((await cloud.get(s.id))?.id, s.id);
  await clock.advance(4999);
  assert.deepEqual(await cloud.list({}), []);
  await clock.advance(1);
  assert.deepEqual((await cloud.list({ k: 'a' })).map((x) => x.id), [s.id]);
  cloud.close();
});

test('stale reads: get answers the state of staleReadMs ago (a deleted server still shows)', async () => {
  const clock = createVirtualClock(0);
  const cloud = createSimCloud({ path: ':memory:', clock, latencyMs: 1000, staleReadMs: 3000 });
  const s = await cloud.create({ tags: { k: 'a' } });
  await clock.advance(2000);
  assert.equal(cloud.peek(s.id)?.status, 'running');
  assert.equal((await cloud.get(s.id))?.status, 'provisioning', 'as it was at its create');
  await clock.advance(2000);
  assert.equal((await cloud.get(s.id))?.status, 'running', 'as it was at t = 1000');
  await cloud.delete(s.id);
  assert.equal((await cloud.get(s.id))?.status, 'running', 'deleted, but the read is stale');
  assert.deepEqual(await cloud.list({ k: 'a' }), [], 'lists do not show it');
  await clock.advance(3000);
  assert.equal(await cloud.get(s.id), undefined);
  cloud.close();
});

for (const transport of ['in-process', 'http'] as const) {
  test(`${transport}: NotFound after create: get answers 404 for notFoundAfterCreateMs (EC2's InvalidInstanceID.NotFound)`, async () => {
    const clock = createVirtualClock(0);
    const server = transport === 'http' ? await startSimServer({ port: 0, path: ':memory:', clock, notFoundAfterCreateMs: 2000 }) : undefined;
    const cloud = server?.cloud ?? createSimCloud({ path: ':memory:', clock, notFoundAfterCreateMs: 2000 });
    const driver = createSimDriver({ cloud: 't', options: server ? { url: server.url } : { cloud }, dataDir: '/x', clock });
    try {
      const n = await driver.create(req('nf'), sig());
      assert.equal(await driver.get(n.id, sig()), undefined, 'right after create: not found');
      assert.equal((await driver.list({ 'nubis-key': 'nf' }, sig())).length, 1, 'lists show it');
      await clock.advance(2000);
      assert.equal((await driver.get(n.id, sig()))?.id, n.id);
    } finally {
      await driver.close();
      if (server) await server.close();
      else cloud.close();
    }
  });
}

test('two cloud entries over one inventory: each sees the other\'s servers; totals count both', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'shared.db');
    const clock = createRealClock();
    // two entries differing only in an option, as two cloud entries over one account
    const a = createSimDriver({ cloud: 'a', options: { path, latencyMs: 0 }, dataDir: dir, clock });
    const b = createSimDriver({ cloud: 'b', options: { path, latencyMs: 5 }, dataDir: dir, clock });
    const na = await a.create(req('x/a-1'), sig());
    const nb = await b.create(req('x/b-1'), sig());
    assert.notEqual(na.id, nb.id);
    assert.deepEqual((await a.list({}, sig())).map((n) => n.id).sort(), [na.id, nb.id].sort());
    assert.deepEqual((await b.list({}, sig())).map((n) => n.id).sort(), [na.id, nb.id].sort());
    await b.delete(na.id, sig());
    assert.equal(await a.get(na.id, sig()), undefined, 'a delete through one entry is seen by the other');
    const view = createSimCloud({ path });
    const t = view.totals();
    assert.equal(t.created, 2);
    assert.equal(t.deleted, 1);
    assert.equal(t.calls.create, 2);
    assert.equal(t.calls.list, 2);
    view.close();
    await a.close();
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reads from memory: the same frozen answer while a server is unchanged; own writes and another connection\'s show at once', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'shared.db');
    const clock = createVirtualClock(1_000_000);
    const a = createSimCloud({ path, clock, rebootMs: 50 });
    const b = createSimCloud({ path, clock });
    const s1 = await a.create(req('x/a-1'));
    const s2 = await a.create(req('x/a-2'));
    const [l1] = await a.list({ 'nubis-key': 'x/a-1' });
    assert.equal(l1, s1, 'an unchanged server is answered with the same object');
    assert.ok(Object.isFrozen(l1) && Object.isFrozen(l1!.tags), 'answers are frozen: nobody edits what the cloud said');
    assert.deepEqual((await a.list({ 'nubis-deployment': 'd' })).map((s) => s.id), [s1.id, s2.id], 'oldest first');
    // a reboot changes the status: a new answer, and back to running once it is over
    await a.reboot(s1.id);
    assert.equal((await a.get(s1.id))?.status, 'provisioning');
    await clock.advance(50);
    const back = await a.get(s1.id);
    assert.equal(back?.status, 'running');
    assert.notEqual(back, s1);
    assert.equal(back?.reboots, 1);
    // another connection's writes: seen by the next read of this one
    const s3 = await b.create(req('x/b-1'));
    assert.deepEqual((await a.list({})).map((s) => s.id), [s1.id, s2.id, s3.id]);
    await b.delete(s2.id);
    assert.equal(await a.get(s2.id), undefined);
    assert.equal(a.peek(s2.id)?.status, 'deleted', 'peek still shows a deleted server');
    // a token whose server was deleted makes a new one; a live one replays
    const again = await a.create(req('x/a-2'));
    assert.notEqual(again.id, s2.id);
    assert.equal((await a.create(req('x/a-2'))).id, again.id);
    assert.equal(a.inventory().length, 4);
    assert.equal(b.inventory().length, 4);
    a.close();
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fault options are validated', () => {
  for (const [options, name] of [[{ listPageSize: 0 }, 'listPageSize'], [{ listPageSize: 2.5 }, 'listPageSize'], [{ listLagMs: -1 }, 'listLagMs'], [{ staleReadMs: 'x' }, 'staleReadMs'], [{ notFoundAfterCreateMs: Infinity }, 'notFoundAfterCreateMs'], [{ listLatencyMs: null }, 'listLatencyMs']] as const) {
    assert.throws(() => parseSimModel(options as Record<string, unknown>), (e: unknown) => e instanceof NubisError && e.code === 'SPEC_INVALID' && e.message.includes(name), name);
  }
  assert.deepEqual(parseSimModel({ listPageSize: 50, listLagMs: 1, staleReadMs: 2, notFoundAfterCreateMs: 3, listLatencyMs: 4 }), { listPageSize: 50, listLagMs: 1, staleReadMs: 2, notFoundAfterCreateMs: 3, listLatencyMs: 4 });
});
