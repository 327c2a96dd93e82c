/**
 * Quotas on a real PostgreSQL (Debian `postgresql`, started here on a free loopback port): two
 * stores on one database stand for two control-plane replicas, and 40 deployments of one node
 * each reserve at once through both, under a 10-node quota. The tenant's row lock and the
 * conditional UPDATE (src/store/policy.ts) let exactly 10 through; every refusal is
 * QUOTA_EXCEEDED naming the quota; the stored use equals the reservations. (The single-store
 * suites, test/unit/quotas-store.test.ts and address-pools.test.ts, run on PostgreSQL in
 * postgres-store.test.ts.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type QuotaRefusal, type Store } from '../../src/store/index.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { concurrentReservations } from '../helpers/quotas.js';

let pg: PostgresServer;
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
});

test('two replicas reserving at once on one PostgreSQL database never pass a quota', { timeout: 120_000 }, async () => {
  const url = await pg.createDatabase('quota');
  const stores: Store[] = [];
  try {
    stores.push(await openStore({ path: url }), await openStore({ path: url }));
    const { ok, refused } = await concurrentReservations(stores, 'acme', 40);
    assert.equal(ok, 10);
    assert.equal(refused.length, 30);
    for (const e of refused) {
      assert.equal(e.code, 'QUOTA_EXCEEDED', String(e));
      assert.equal((e.details as QuotaRefusal).quota, 'nodes');
      assert.equal((e.details as QuotaRefusal).limit, 10);
    }
    const row = await stores[1]!.policy.quota('acme');
    const resv = await stores[0]!.policy.reservations('acme');
    assert.equal(Number(row!.nodes), 10);
    assert.equal(resv.reduce((s, r) => s + Number(r.nodes), 0), 10);
  } finally {
    for (const s of stores) await s.close();
  }
});
