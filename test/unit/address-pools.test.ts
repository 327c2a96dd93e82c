/**
 * Address pools (src/policy/addresses) over the real store (SQLite, or PostgreSQL under
 * NUBIS_TEST_STORE) on a virtual clock. A seeded random walk of leases, node deletions, holds,
 * releases and clock advances is checked against a model after every step: no address is ever
 * leased to two nodes, a node keeps its address while it is held (a new node of the same key
 * takes it back, and a new node of the deployment takes a held address first), a hold frees its address exactly when the clock passes its end, a release
 * frees it at once, and an exhausted pool refuses with ADDRESS_POOL_EXHAUSTED. Ranges parse
 * CIDR blocks and ranges with errors naming the path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { createAddressPools, firstFree, parseRanges } from '../../src/controls/index.js';
import { isNubisError } from '../../src/errors/index.js';
import { openTestStore } from '../helpers/postgres.js';
import { rng } from './workflows-scheduler-helpers.js';

test('ranges: CIDR blocks and ranges, overlaps and bad text refused with their path', () => {
  assert.deepEqual(parseRanges(['10.0.0.0/29', '10.0.1.5-10.0.1.6'], '$.ranges'), { ranges: ['10.0.0.0/29', '10.0.1.5-10.0.1.6'], size: 8 });
  assert.equal(parseRanges(['192.168.1.7/32'], 'r').size, 1);
  assert.equal(firstFree(['10.0.0.0/30'], new Set(['10.0.0.1'])), '10.0.0.2');
  assert.equal(firstFree(['10.0.0.0/30'], new Set(['10.0.0.1', '10.0.0.2'])), undefined);
  const bad = (v: unknown, re: RegExp): void => assert.throws(() => parseRanges(v, '$.ranges'), (e: unknown) => isNubisError(e) && e.code === 'REQUEST_INVALID' && re.test(e.message));
  bad(['10.0.0.1/29'], /\$\.ranges\[0\].*not the block's first address; did you mean 10\.0\.0\.0\/29/);
  bad(['10.0.0.0/29', '10.0.0.4-10.0.0.9'], /overlap/);
  bad(['10.0.0.300-10.0.0.301'], /\$\.ranges\[0\]: expected a CIDR block/);
  bad(['10.0.0.9-10.0.0.1'], /the end is before the start/);
  bad(['10.0.0.0/8'], /more than the 65536/);
  bad([], /expected a list/);
});

test('a random walk of leases, deletions, holds, releases and time never leases an address twice; holds end on the clock', { timeout: 120_000 }, async () => {
  const store = await openTestStore();
  try {
    const clock = createVirtualClock(1_000_000);
    const pools = createAddressPools({ store, clock });
    const by = { actor: 'user:admin' };
    await pools.putPool('default', 'p', { ranges: ['10.1.0.0/29', '10.1.1.10-10.1.1.12'], holdMs: 5_000 }, by); // 6 + 3 addresses
    const SIZE = 9;
    const seed = Number(process.env.NUBIS_PROPERTY_SEED ?? 20261207);
    const random = rng(seed);
    // the model: node key → { address, held until }
    const model = new Map<string, { address: string; until?: number }>();
    const KEYS = Array.from({ length: 14 }, (_, i) => `web/app-${i}`);
    let exhausted = 0;
    let expiredSeen = 0;
    let tookHeld = 0;
    for (let step = 0; step < 400; step++) {
      const key = KEYS[Math.floor(random() * KEYS.length)]!;
      const r = random();
      const where = `seed ${seed} step ${step}`;
      if (r < 0.45) {
        const had = model.get(key);
        // holds that ended are freed by the lease itself
        for (const [k, v] of model) if (v.until !== undefined && v.until <= clock.now()) model.delete(k);
        const used = [...model.values()].length;
        // a new node takes the deployment's address held longest first
        const kept = had ? undefined : [...model].filter(([, v]) => v.until !== undefined).sort(([, a], [, b]) => a.until! - b.until! || a.address.localeCompare(b.address))[0];
        try {
          const l = await pools.lease('default', 'p', 'web', key);
          if (had) assert.equal(l.address, had.address, `${where}: ${key} takes back its own address`);
          if (kept) {
            assert.equal(l.address, kept[1].address, `${where}: ${key} takes the held ${kept[1].address} of ${kept[0]}`);
            model.delete(kept[0]);
            tookHeld++;
          }
          for (const [k, v] of model) if (k !== key) assert.notEqual(v.address, l.address, `${where}: ${l.address} already belongs to ${k}`);
          model.set(key, { address: l.address });
        } catch (e) {
          assert.ok(isNubisError(e) && e.code === 'ADDRESS_POOL_EXHAUSTED', `${where}: ${String(e)}`);
          assert.equal(had, undefined, `${where}: a node with an address is never refused`);
          assert.equal(kept, undefined, `${where}: refused while an address was held for the deployment`);
          assert.equal(used, SIZE, `${where}: refused with ${used} of ${SIZE} taken`);
          exhausted++;
        }
      } else if (r < 0.65) {
        await pools.nodeGone(key);
        const had = model.get(key);
        if (had && had.until === undefined) had.until = clock.now() + 5_000;
      } else if (r < 0.72) {
        const had = model.get(key);
        if (had && had.until !== undefined && had.until > clock.now()) {
          await pools.release('default', 'p', had.address, by);
          model.delete(key);
        } else if (had && had.until === undefined) {
          // a leased address is its node's: releasing it is refused
          await assert.rejects(pools.release('default', 'p', had.address, by), (e: unknown) => isNubisError(e) && e.code === 'CONFLICT', where);
        }
      } else {
        await clock.advance(Math.floor(random() * 3_000));
        const freed = await pools.expire();
        let due = 0;
        for (const [k, v] of model) {
          if (v.until !== undefined && v.until <= clock.now()) {
            model.delete(k);
            due++;
          }
        }
        assert.equal(freed, due, `${where}: ${freed} holds ended, the model says ${due}`);
        expiredSeen += freed;
      }
      // the store agrees with the model after every step
      const leases = await pools.leases('default', 'p');
      assert.equal(new Set(leases.map((l) => l.address)).size, leases.length, `${where}: an address appears twice`);
      assert.deepEqual(
        leases.map((l) => `${l.node}=${l.address}:${l.state}`).sort(),
        [...model].map(([k, v]) => `${k}=${v.address}:${v.until === undefined ? 'leased' : 'held'}`).sort(),
        where,
      );
      const [view] = await pools.pools('default');
      assert.equal(view!.free, SIZE - model.size, where);
    }
    assert.ok(exhausted > 0, 'the walk filled the pool at least once');
    assert.ok(expiredSeen > 0, 'some holds ended on the clock');
    assert.ok(tookHeld > 0, 'some new nodes took a held address');
  } finally {
    await store.close();
  }
});

test('a hold by request keeps the address past the pool\'s hold time; a pool with addresses in use cannot shrink past them or go', { timeout: 60_000 }, async () => {
  const store = await openTestStore();
  try {
    const clock = createVirtualClock(0);
    const pools = createAddressPools({ store, clock });
    const by = { actor: 'user:admin' };
    await pools.putPool('default', 'q', { ranges: ['10.2.0.0/30'], holdMs: 1_000 }, by);
    const a = await pools.lease('default', 'q', 'db', 'db/pg-1');
    assert.equal(a.address, '10.2.0.1');
    await assert.rejects(pools.hold('default', 'q', a.address, 60_000, by), (e: unknown) => isNubisError(e) && e.code === 'CONFLICT' && e.message.includes('leased to node db/pg-1'));
    await pools.nodeGone('db/pg-1');
    const held = await pools.hold('default', 'q', a.address, 60_000, by);
    assert.equal(held.state, 'held');
    await clock.advance(59_999);
    assert.equal(await pools.expire(), 0);
    await assert.rejects(pools.putPool('default', 'q', { ranges: ['10.2.0.2-10.2.0.2'] }, by), (e: unknown) => isNubisError(e) && e.code === 'CONFLICT' && e.message.includes('10.2.0.1'));
    await assert.rejects(pools.deletePool('default', 'q', by), (e: unknown) => isNubisError(e) && e.code === 'CONFLICT');
    await clock.advance(1);
    assert.equal(await pools.expire(), 1);
    assert.deepEqual(await pools.leases('default', 'q'), []);
    // another tenant's pool of the same name is another pool
    await assert.rejects(pools.lease('acme', 'q', 'acme.db', 'acme.db/pg-1'), (e: unknown) => isNubisError(e) && e.code === 'NOT_FOUND');
    await pools.deletePool('default', 'q', by);
  } finally {
    await store.close();
  }
});
