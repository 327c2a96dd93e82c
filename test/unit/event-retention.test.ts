/**
 * The event log's retention (max age, max per tenant, pruned in batches on the clock's timer)
 * and `newest`: the newest N events, oldest first. Through the store and the event log;
 * the API and CLI side is in test/integration/events-retention.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/index.js';
import { createEventLog, createEventRetention, type EventLog } from '../../src/events/index.js';
import { createVirtualClock } from '../../src/clock/index.js';
import { openTestStore } from '../helpers/postgres.js';

const DAY = 86_400_000;

async function logWith(): Promise<{ store: Store; events: EventLog }> {
  const store = await openTestStore(':memory:');
  return { store, events: createEventLog(store) };
}

test('newest: the newest N matching events, oldest first; without it the oldest N', async () => {
  const { store, events } = await logWith();
  try {
    for (let i = 1; i <= 10; i++) await events.append({ kind: i % 2 ? 'odd' : 'even', actor: 'engine', ts: i, data: { i } });
    assert.deepEqual((await events.list({ limit: 3, newest: true })).map((e) => e.data?.['i']), [8, 9, 10]);
    assert.deepEqual((await events.list({ limit: 3 })).map((e) => e.data?.['i']), [1, 2, 3]);
    assert.deepEqual((await events.list({ kind: 'odd', limit: 2, newest: true })).map((e) => e.data?.['i']), [7, 9]);
  } finally {
    await store.close();
  }
});

test('a pass deletes events past the max age and beyond the count per tenant, in batches, and keeps the rest', async () => {
  const { store, events } = await logWith();
  const clock = createVirtualClock(100 * DAY);
  try {
    // 30 old events of tenant a (day 1), then 40 new ones of a and 5 of b (day 99)
    await events.append(...Array.from({ length: 30 }, (_, i) => ({ kind: 'old', actor: 'engine', ts: DAY + i, tenant: 'a' })));
    await events.append(...Array.from({ length: 40 }, (_, i) => ({ kind: 'new', actor: 'engine', ts: 99 * DAY + i, tenant: 'a', data: { i } })));
    await events.append(...Array.from({ length: 5 }, () => ({ kind: 'new', actor: 'engine', ts: 99 * DAY, tenant: 'b' })));
    const retention = createEventRetention({ store, clock, maxAgeMs: 30 * DAY, maxPerTenant: 25, batch: 7 });
    const r = await retention.prune();
    // the rules overlap (a's old events are also beyond its cap): which one deleted a row depends on the batch
    assert.equal(r.byAge + r.byCount, 45);
    assert.ok(r.byAge >= 7 && r.byCount >= 7, JSON.stringify(r));
    const a = await events.list({ tenant: 'a', limit: 1000 });
    assert.equal(a.length, 25);
    assert.deepEqual(a.map((e) => e.data?.['i']), Array.from({ length: 25 }, (_, i) => i + 15), 'tenant a keeps its newest 25');
    assert.equal((await events.list({ tenant: 'b', limit: 1000 })).length, 5, 'tenant b is under its cap');
    assert.deepEqual(await retention.prune(), { byAge: 0, byCount: 0 }, 'a second pass finds nothing');
  } finally {
    await store.close();
  }
});

test('options are checked at creation', () => {
  const clock = createVirtualClock();
  const store = { pruneEvents: async () => ({ byAge: 0, byCount: 0 }) };
  assert.throws(() => createEventRetention({ store, clock, maxPerTenant: 0 }), /maxPerTenant/);
  assert.throws(() => createEventRetention({ store, clock, maxAgeMs: 1.5 }), /maxAgeMs/);
});
