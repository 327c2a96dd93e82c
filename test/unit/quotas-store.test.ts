/**
 * The quota reservation in the store (src/store/policy.ts) on the real database (SQLite, or
 * PostgreSQL under NUBIS_TEST_STORE): many deployments reserving at once, each in its own
 * guarded write beside plain writes of other callers in the same group commit. The limit is
 * never passed; each refusal names the quota, the use and the request and rolls back only its
 * own write (its deployment row is not stored), while the other writes of the batch commit.
 * Growing a reservation is checked, shrinking one never refused, and a deleted deployment gives
 * its reservation back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNubisError } from '../../src/errors/index.js';
import type { QuotaRefusal } from '../../src/store/index.js';
import { openTestStore } from '../helpers/postgres.js';
import { concurrentReservations, reserve } from '../helpers/quotas.js';

test('concurrent reservations never pass a quota; each refusal rolls back only its own write', { timeout: 60_000 }, async () => {
  const store = await openTestStore();
  try {
    const { ok, refused } = await concurrentReservations([store], 'acme', 30);
    assert.equal(ok, 10);
    assert.equal(refused.length, 20);
    for (const e of refused) {
      assert.ok(isNubisError(e) && e.code === 'QUOTA_EXCEEDED', String(e));
      const d = e.details as QuotaRefusal;
      assert.equal(d.quota, 'nodes');
      assert.equal(d.limit, 10);
      assert.equal(d.requested, 1);
      assert.equal(d.used, 10);
    }
    const row = await store.policy.quota('acme');
    assert.equal(Number(row!.nodes), 10);
    assert.equal(Number(row!.deployments), 10);
    assert.equal(Number(row!.cores), 20);
    const stored = (await store.loadDeployments()).map((d) => d.name);
    assert.equal(stored.filter((n) => /^acme\.d\d+$/.test(n)).length, 10, 'refused deployments are not stored');
    assert.equal(stored.filter((n) => /^acme\.plain\d+$/.test(n)).length, 30, 'the other writes of each batch committed');
    assert.equal((await store.policy.reservations('acme')).length, 10);
  } finally {
    await store.close();
  }
});

test('growing a reservation is checked, shrinking never refused, and a deleted deployment gives its share back', { timeout: 60_000 }, async () => {
  const store = await openTestStore();
  try {
    await store.policy.setQuotaLimits('t', { nodes: 5, cores: 8, memoryMiB: null, deployments: 2 }, 1);
    await reserve(store, 't', 't.a', 3);
    // 3 nodes use 6 of 8 cores: 2 more nodes would need 4 more cores
    await assert.rejects(reserve(store, 't', 't.b', 2), (e: unknown) => isNubisError(e) && (e.details as QuotaRefusal).quota === 'cores' && (e.details as QuotaRefusal).used === 6 && (e.details as QuotaRefusal).requested === 4);
    await reserve(store, 't', 't.b', 1);
    // a third deployment, even of no nodes, passes the deployments quota
    await assert.rejects(reserve(store, 't', 't.c', 0), (e: unknown) => isNubisError(e) && (e.details as QuotaRefusal).quota === 'deployments' && (e.details as QuotaRefusal).used === 2);
    // the limit lowered below the use: a scale-in still goes through
    await store.policy.setQuotaLimits('t', { nodes: 1, cores: 8, memoryMiB: null, deployments: 2 }, 1);
    await reserve(store, 't', 't.a', 2);
    await assert.rejects(reserve(store, 't', 't.a', 3), (e: unknown) => isNubisError(e) && (e.details as QuotaRefusal).quota === 'nodes');
    let row = await store.policy.quota('t');
    assert.deepEqual([Number(row!.nodes), Number(row!.cores), Number(row!.deployments)], [3, 6, 2]);
    await store.write(store.deleteDeployment('t.a'));
    row = await store.policy.quota('t');
    assert.deepEqual([Number(row!.nodes), Number(row!.cores), Number(row!.deployments)], [1, 2, 1]);
  } finally {
    await store.close();
  }
});
