/**
 * Control-plane leases (src/store/leases.ts) on SQLite and on a real PostgreSQL (Debian
 * `postgresql`, started here on a free loopback port): acquire, renew, expire, takeover, the
 * fencing token growing with every new holder, and a stale holder's write refused with FENCED
 * — through the group commit on both databases, and on PostgreSQL also through the trigger
 * that guards writes outside it (a registry write, a raw statement). Lease times are the
 * database's: a takeover is decided by the database clock, never by the test's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openStore, type NodeRow, type Store } from '../../src/store/index.js';
import { NubisError } from '../../src/errors/index.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

const LEASE = 'control-plane';
/** Waits until the database's clock is past `ms` (lease times are the database's). */
async function untilDbTime(store: Store, ms: number): Promise<void> {
  while ((await store.leases.now()) <= ms) await new Promise((r) => setTimeout(r, 10));
}

const node = (key: string): NodeRow => ({
  key, deployment: 'd', cloud: 'sim', status: 'pending', token: key, provider_id: null, observed_json: null, attempts: 0, last_error: null, created_at: 1, updated_at: 1, placement_json: null, running_at: null, agent_up_at: null,
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`leases on ${dialect}`, () => {
    let location: string;
    const open: Store[] = [];
    const openAs = async (o: Partial<Parameters<typeof openStore>[0]> = {}): Promise<Store> => {
      const s = await openStore({ path: location, ...o });
      open.push(s);
      return s;
    };
    before(async () => {
      location = dialect === 'postgres' ? await server.createDatabase('leases') : `${(await import('node:os')).tmpdir()}/nubis-leases-${process.pid}-${Date.now()}.db`;
      const s = await openAs();
      await s.leases.prepareReplicas();
    });
    after(async () => {
      for (const s of open) await s.close().catch(() => {});
    });

    test('acquire, renew, expire and take over: the token grows with every new holder', async () => {
      const s = open[0]!;
      const name = `${LEASE}-1`;
      const a = await s.leases.acquire(name, 'A', 200);
      assert.ok(a, 'A takes a free lease');
      assert.equal(a.token, 1);
      assert.equal(await s.leases.acquire(name, 'B', 200), undefined, 'B cannot take a held lease');
      const renewed = await s.leases.renew(a, 400);
      assert.ok(renewed && renewed.expiresAt >= a.expiresAt, 'A renews');
      assert.equal(renewed.token, 1, 'a renew keeps the token');
      assert.equal(await s.leases.renew({ ...a, holder: 'B' }, 400), undefined, 'B cannot renew A\'s lease');
      await untilDbTime(s, renewed.expiresAt);
      assert.equal(await s.leases.renew(a, 400), undefined, 'an expired lease is not renewed');
      const b = await s.leases.acquire(name, 'B', 200);
      assert.ok(b, 'B takes the expired lease over');
      assert.equal(b.token, 2, 'a new holder gets the next token');
      await s.leases.release(b);
      const v = await s.leases.get(name);
      assert.ok(v && v.expiresAt <= v.now, 'a released lease is free at once');
      const a2 = await s.leases.acquire(name, 'A', 200);
      assert.equal(a2?.token, 3);
    });

    test('two replicas racing for a free lease: exactly one wins', async () => {
      const s1 = open[0]!;
      const s2 = await openAs();
      const name = `${LEASE}-race`;
      for (let round = 0; round < 20; round++) {
        const got = await Promise.all([s1.leases.acquire(name, `A${round}`, 50), s2.leases.acquire(name, `B${round}`, 50)]);
        assert.equal(got.filter(Boolean).length, 1, `round ${round}: one winner`);
        assert.equal(got.find(Boolean)!.token, round + 1);
        await untilDbTime(s1, got.find(Boolean)!.expiresAt);
      }
    });

    test('a stale holder\'s write is refused with FENCED and nothing of it is stored', async () => {
      const admin = open[0]!;
      const name = `${LEASE}-fence`;
      const a = await admin.leases.acquire(name, 'A', 300);
      assert.ok(a);
      let fencedCalls = 0;
      const storeA = await openAs({ fence: { lease: name, holder: 'A', token: a.token }, onFenced: () => fencedCalls++ });
      await storeA.write(storeA.putNode(node('d/ok-1')));
      assert.ok((await admin.loadNodes()).some((n) => n.key === 'd/ok-1'), 'the holder writes');
      await untilDbTime(admin, a.expiresAt);
      const b = await admin.leases.acquire(name, 'B', 60_000);
      assert.equal(b?.token, a.token + 1);
      await assert.rejects(storeA.write(storeA.putNode(node('d/late-1'))), (e: unknown) => e instanceof NubisError && e.code === 'FENCED' && !e.retryable && /no longer holds lease/.test(e.message));
      assert.ok(fencedCalls >= 1, 'the replica is told it was fenced');
      assert.ok(!(await admin.loadNodes()).some((n) => n.key === 'd/late-1'), 'the late write left nothing');
      // the new holder writes
      const storeB = await openAs({ fence: { lease: name, holder: 'B', token: b!.token } });
      await storeB.write(storeB.putNode(node('d/ok-2')));
      assert.ok((await admin.loadNodes()).some((n) => n.key === 'd/ok-2'));
      if (dialect === 'postgres') {
        // writes outside the group commit are guarded by the trigger
        await assert.rejects(storeA.createToken('late', 'f'.repeat(64)), (e: unknown) => (e as { code?: string }).code === 'NBF01');
        assert.equal(await admin.tokenExists('late', 'default'), false);
        const raw = new pg.Client({ connectionString: location });
        await raw.connect();
        try {
          await raw.query(`select set_config('nubis.fence', $1, false)`, [`${name} ${a.token} A`]);
          await assert.rejects(raw.query(`delete from nodes`), /fenced: A no longer holds lease/);
          assert.ok((await admin.loadNodes()).length >= 2, 'the raw delete removed nothing');
          await raw.query(`select set_config('nubis.fence', $1, false)`, [`${name} ${b!.token} B`]);
          await raw.query(`update nodes set status = 'pending' where key = 'd/ok-2'`);
        } finally {
          await raw.end();
        }
      }
    });

    test('replicas beat with the database clock and are listed while alive', async () => {
      const s = open[0]!;
      await s.leases.heartbeat('r1', 'http://127.0.0.1:1');
      await s.leases.heartbeat('r2', 'http://127.0.0.1:2');
      const list = await s.leases.replicas(60_000);
      assert.deepEqual(list.map((r) => r.id).filter((id) => id.startsWith('r')), ['r1', 'r2']);
      const now = await s.leases.now();
      for (const r of list) assert.ok(Math.abs(now - r.heartbeatAt) < 60_000);
      await s.leases.removeReplica('r1');
      assert.deepEqual((await s.leases.replicas(60_000)).map((r) => r.id), ['r2']);
    });
  });
}
