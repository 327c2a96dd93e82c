/**
 * The audit log's hash chain (src/store/event-chain.ts): every event links to its tenant's
 * previous one; concurrent appends (one store's group commit; on PostgreSQL also two stores on
 * one database, as two replicas) keep each chain whole; retention prunes a prefix and keeps an
 * anchor, so the chain verifies from the oldest kept event; a changed row is reported at exactly
 * that event, a removed one at the event after it. Runs on SQLite, and on PostgreSQL when the
 * peers tier sets NUBIS_TEST_STORE (test/peers/postgres-store.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createEventRetention } from '../../src/events/index.js';
import { createVirtualClock } from '../../src/clock/index.js';
import { ON_POSTGRES, testStoreUrl } from '../helpers/postgres.js';
import { tempDir } from '../helpers/control-plane.js';

/** A store on a file (or its PostgreSQL database), and raw SQL on the same database for tampering. */
async function openRaw(file: string): Promise<{ store: Store; open: () => Promise<Store>; exec: (sql: string, params: unknown[]) => Promise<void> }> {
  const url = await testStoreUrl(file);
  const open = () => openStore({ path: url ?? file });
  const store = await open();
  return {
    store, open,
    async exec(sql, params) {
      if (url) {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          let i = 0;
          await c.query(sql.replace(/\?/g, () => `$${++i}`), params);
        } finally {
          await c.end();
        }
        return;
      }
      const db = new Database(file);
      try {
        db.pragma('busy_timeout = 5000');
        db.prepare(sql).run(...params);
      } finally {
        db.close();
      }
    },
  };
}

test('concurrent appends of three tenants: every chain verifies, each event links to its tenant\'s previous one', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-chain-');
  const { store } = await openRaw(path.join(dir, 'a.db'));
  const events = createEventLog(store);
  try {
    const tenants = ['default', 'acme', 'beta'];
    await Promise.all(Array.from({ length: 300 }, (_, i) => events.append(
      ...Array.from({ length: 1 + (i % 3) }, (_, j) => ({ kind: 'test.append', actor: `user:${i}`, tenant: tenants[(i + j) % 3]!, ts: 1000 + i, data: { i, j } })),
    )));
    const reports = await events.verify();
    assert.deepEqual(reports.map((r) => r.tenant), ['acme', 'beta', 'default']);
    for (const r of reports) assert.equal(r.broken, undefined, JSON.stringify(r));
    assert.equal(reports.reduce((s, r) => s + r.checked, 0), 600);
    for (const t of tenants) {
      const list = await events.list({ tenant: t, limit: 10000 });
      assert.equal(list[0]!.prevHash, '0'.repeat(64));
      for (let k = 1; k < list.length; k++) assert.equal(list[k]!.prevHash, list[k - 1]!.hash);
      assert.equal(reports.find((r) => r.tenant === t)!.head, list[list.length - 1]!.hash);
    }
  } finally {
    await store.close();
  }
});

test('two stores on one PostgreSQL database appending at once (two replicas): one chain per tenant, no fork', { timeout: 60_000, skip: ON_POSTGRES ? false : 'SQLite has one writer per data directory (serve lock); this needs the PostgreSQL store (peers tier)' }, async () => {
  const dir = tempDir('nubis-chain-');
  const raw = await openRaw(path.join(dir, 'shared.db'));
  const other = await raw.open();
  const a = createEventLog(raw.store);
  const b = createEventLog(other);
  try {
    await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).append({ kind: 'test.replica', actor: 'engine', tenant: i % 4 < 2 ? 'default' : 'acme', ts: i })));
    for (const r of await a.verify()) assert.equal(r.broken, undefined, JSON.stringify(r));
    assert.equal((await a.verify()).reduce((s, r) => s + r.checked, 0), 200);
  } finally {
    await other.close();
    await raw.store.close();
  }
});

test('a changed event is reported at exactly that event; a removed one at the event after it; appends go on', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-chain-');
  const raw = await openRaw(path.join(dir, 'b.db'));
  const events = createEventLog(raw.store);
  try {
    for (let i = 0; i < 20; i++) await events.append({ kind: 'node.state', actor: 'engine', target: `web/app-${i}`, outcome: 'running', ts: 5000 + i });
    const list = await events.list({ tenant: 'default', limit: 100 });
    const victim = list[7]!;
    await raw.exec('UPDATE events SET outcome = ? WHERE id = ?', ['deleted', victim.id]);
    let [r] = await events.verify('default');
    assert.deepEqual(r!.broken, { id: victim.id, reason: 'its contents do not match its hash (this event was changed)' });
    assert.equal(r!.checked, 7);
    await raw.exec('UPDATE events SET outcome = ? WHERE id = ?', ['running', victim.id]);
    assert.equal((await events.verify('default'))[0]!.broken, undefined, 'restored: whole again');
    await raw.exec('DELETE FROM events WHERE id = ?', [list[12]!.id]);
    [r] = await events.verify('default');
    assert.equal(r!.broken?.id, list[13]!.id);
    assert.match(r!.broken!.reason, /link does not match/);
    // a rewritten hash moves the report to the next event: the chain holds it
    await raw.exec('INSERT INTO events (id, ts, deployment, kind, actor, reason, correlation_id, target, outcome, data, tenant, hash, prev_hash) VALUES (?, ?, NULL, ?, ?, NULL, NULL, ?, ?, NULL, ?, ?, ?)',
      [list[12]!.id, 5012, 'node.state', 'engine', 'web/app-12', 'running', 'default', list[12]!.hash, list[12]!.prevHash]);
    assert.equal((await events.verify('default'))[0]!.broken, undefined);
    await events.append({ kind: 'later', actor: 'engine', ts: 9999 });
    const [after] = await events.verify('default');
    assert.equal(after!.broken, undefined);
    assert.equal(after!.checked, 21);
  } finally {
    await raw.store.close();
  }
});

test('retention prunes a prefix of each chain and anchors it: the chain verifies from the oldest kept event', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-chain-');
  const raw = await openRaw(path.join(dir, 'c.db'));
  const events = createEventLog(raw.store);
  const DAY = 86_400_000;
  const clock = createVirtualClock(100 * DAY);
  try {
    await events.append(...Array.from({ length: 30 }, (_, i) => ({ kind: 'old', actor: 'engine', ts: DAY + i, tenant: 'a' })));
    // an old event after a young one (clock skew) waits for it: only prefixes go
    await events.append({ kind: 'new', actor: 'engine', ts: 99 * DAY, tenant: 'a' }, { kind: 'old', actor: 'engine', ts: DAY + 50, tenant: 'a' });
    await events.append(...Array.from({ length: 40 }, (_, i) => ({ kind: 'new', actor: 'engine', ts: 99 * DAY + i, tenant: 'a' })));
    await events.append(...Array.from({ length: 12 }, (_, i) => ({ kind: 'new', actor: 'engine', ts: 99 * DAY + i, tenant: 'b' })));
    const retention = createEventRetention({ store: raw.store, clock, maxAgeMs: 30 * DAY, maxPerTenant: 30, batch: 7 });
    const pruned = await retention.prune();
    // 30 past the age, then 12 beyond the 30 a tenant keeps (which rule takes which depends on the batches)
    assert.equal(pruned.byAge + pruned.byCount, 42);
    assert.equal((await events.list({ tenant: 'b', limit: 1000 })).length, 12);
    const kept = await events.list({ tenant: 'a', limit: 1000 });
    assert.equal(kept.length, 30);
    const reports = await events.verify();
    for (const r of reports) assert.equal(r.broken, undefined, JSON.stringify(r));
    const a = reports.find((r) => r.tenant === 'a')!;
    assert.equal(a.checked, 30);
    assert.ok(a.anchoredAfter !== undefined && a.anchoredAfter < kept[0]!.id);
    // new events link on; then removing the oldest kept event is caught (pruning never does that silently)
    await events.append({ kind: 'after', actor: 'engine', ts: 100 * DAY, tenant: 'a' });
    assert.equal((await events.verify('a'))[0]!.broken, undefined);
    await raw.exec('DELETE FROM events WHERE id = ?', [kept[0]!.id]);
    assert.equal((await events.verify('a'))[0]!.broken?.id, kept[1]!.id);
  } finally {
    await raw.store.close();
  }
});
