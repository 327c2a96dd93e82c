import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createEventLog, type NubisEvent } from '../../src/events/index.js';
import { tempDir } from '../helpers/control-plane.js';
import { openTestStore } from '../helpers/postgres.js';

test('store: migrations run once, data survives reopening, the installation id is stable', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'nubis.db');
  const a = await openTestStore(file);
  const id = await a.installationId();
  await a.write(a.putDeployment({ name: 'd', tenant: 'default', spec_json: '{}', spec_text: 'x', file: 'f', version: 1, status: 'active', counts_json: '{}', ordinals_json: '{}', correlation_id: null, rollout_json: null, created_at: 1, updated_at: 1 }));
  await a.close();
  const b = await openTestStore(file);
  assert.equal(await b.installationId(), id);
  assert.equal((await b.loadDeployments())[0]?.name, 'd');
  await b.close();
});

test('store: writes queued in one turn commit together, and a failing write rejects its whole group', async () => {
  const s = await openTestStore(':memory:');
  const row = (name: string) => ({ name, tenant: 'default', spec_json: '{}', spec_text: 'x', file: 'f', version: 1, status: 'active', counts_json: '{}', ordinals_json: '{}', correlation_id: null, rollout_json: null, created_at: 1, updated_at: 1 });
  await Promise.all([s.write(s.putDeployment(row('a'))), s.write(s.putDeployment(row('b')))]);
  assert.equal((await s.loadDeployments()).length, 2);
  const bad = s.write(s.putDeployment(row('c')), async () => {
    throw new Error('disk full');
  });
  await assert.rejects(bad, /disk full/);
  assert.equal((await s.loadDeployments()).length, 2, 'nothing of the failed group landed');
  await s.close();
});

test('events: append-only ids, filters, prefix kinds, live subscribers see only committed events, secrets redacted', async () => {
  const s = await openTestStore(':memory:');
  const log = createEventLog(s);
  const seen: NubisEvent[] = [];
  const off = log.subscribe({ deployment: 'd1', kind: 'node.*' }, (e) => seen.push(e));
  await log.append(
    { kind: 'node.state', actor: 'engine', deployment: 'd1', target: 'd1/a-1', outcome: 'running', correlationId: 'c1' },
    { kind: 'instance.phase', actor: 'engine', deployment: 'd1', target: 'd1/a-1' },
    { kind: 'node.state', actor: 'engine', deployment: 'd2', data: { token: 'hunter2', nested: { password: 'p', ok: 1 } } },
  );
  off();
  await log.append({ kind: 'node.state', actor: 'engine', deployment: 'd1' });
  assert.deepEqual(seen.map((e) => e.target), ['d1/a-1']);
  const all = await log.list({});
  assert.deepEqual(all.map((e) => e.id), [1, 2, 3, 4]);
  assert.equal((await log.list({ deployment: 'd1', kind: 'node.*' })).length, 2);
  assert.equal((await log.list({ correlationId: 'c1' })).length, 1);
  assert.deepEqual((await log.list({ afterId: 2 })).map((e) => e.id), [3, 4]);
  const d2 = (await log.list({ deployment: 'd2' }))[0]!;
  assert.deepEqual(d2.data, { token: '[redacted]', nested: { password: '[redacted]', ok: 1 } });
  assert.ok(!JSON.stringify(all).includes('hunter2'));
  await s.close();
});
