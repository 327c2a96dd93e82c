/**
 * Cloud handles (src/engine/clouds.ts): a credential change rebuilds the driver of running
 * handles in place; handles nobody uses are closed; a cloud that cannot be built is unusable
 * (every call fails with why, none loops); closing never rejects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { createCloudHealth, createFixedLimiter, wrapDriver, type Driver, type DriverContext } from '../../src/drivers/index.js';
import { NubisError } from '../../src/errors/index.js';
import { cloudKey, createCloudRegistry } from '../../src/engine/clouds.js';
import type { CloudSpec } from '../../src/model/types.js';

const sig = (): AbortSignal => new AbortController().signal;

function setup(secret: { password: string }) {
  const clock = createVirtualClock(0);
  const built: { ctx: DriverContext; closed: boolean }[] = [];
  const factory = (ctx: DriverContext): Driver => {
    if (ctx.options['broken']) throw new NubisError('SPEC_INVALID', 'option broken: not allowed');
    const rec = { ctx, closed: false };
    built.push(rec);
    return {
      platform: 'sim',
      create: async () => { throw new Error('unused'); },
      get: async () => undefined,
      list: async () => [],
      delete: async () => {},
      reboot: async () => {},
      agent: () => { throw new Error('no agent'); },
      close: async () => {
        rec.closed = true;
        throw new Error('close failed');
      },
    };
  };
  const clouds = createCloudRegistry({
    clock, dataDir: '/nonexistent', factories: { sim: factory },
    credentials: () => ({ password: secret.password }),
    wrap: (d, c, health) => wrapDriver(d, { cloud: c.name, clock, health }),
    health: (c) => createCloudHealth({ cloud: c.name, clock }),
    limiter: () => createFixedLimiter({ limit: 2 }),
  });
  return { clouds, built };
}

const a: CloudSpec = { name: 'a', platform: 'sim', options: { region: 'one' }, credential: 'cred' };
const b: CloudSpec = { name: 'b', platform: 'sim', options: { region: 'two' } };

test('a credential change rebuilds the running handle with the new secret; the old driver is closed', async () => {
  const secret = { password: 'old' };
  const { clouds, built } = setup(secret);
  const h = clouds.get(a);
  await h.driver.list({}, sig());
  secret.password = 'new';
  assert.deepEqual(clouds.refresh((c) => c.credential === 'cred', 'credential cred changed'), [h.key]);
  assert.equal(clouds.get(a), h, 'the same handle (key, limiter, synced state)');
  await h.driver.list({}, sig());
  assert.deepEqual(built.map((x) => x.ctx.credentials?.['password']), ['old', 'new']);
  await new Promise((r) => setImmediate(r));
  assert.equal(built[0]!.closed, true);
  assert.equal(built[1]!.closed, false);
});

test('handles no deployment uses are retired (closed); a close that throws does not make retire or closeAll reject', async () => {
  const { clouds, built } = setup({ password: 'x' });
  clouds.get(a);
  clouds.get(b);
  assert.deepEqual(await clouds.retire(new Set([cloudKey(a)])), [cloudKey(b)]);
  assert.deepEqual(clouds.all().map((h) => h.spec.name), ['a']);
  assert.deepEqual(built.map((x) => x.closed), [false, true]);
  await assert.doesNotReject(clouds.closeAll());
  assert.deepEqual(built.map((x) => x.closed), [true, true]);
});

test('a cloud that cannot be built is unusable: calls fail with why, without looping, until the entry changes', async () => {
  const { clouds } = setup({ password: 'x' });
  const broken: CloudSpec = { name: 'c', platform: 'sim', options: { broken: true } };
  const h = clouds.get(broken);
  assert.equal(h.health.view().state, 'unusable');
  await assert.rejects(h.driver.list({}, sig()), (e: NubisError) => e.code === 'SPEC_INVALID' && !e.retryable && /option broken/.test(e.message));
  assert.equal(clouds.peekHealth(broken)?.state, 'unusable');
  assert.equal(clouds.peekHealth(b), undefined, 'nothing is made by looking');
});
