import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceRow, NodeRow } from '../../src/store/index.js';
import { openTestStore } from '../helpers/postgres.js';

const node = (i: number, status: string, updated = i): NodeRow => ({
  key: `d/n-${i}`, deployment: 'd', cloud: 'sim', status, token: `t${i}`, provider_id: `p${i}`, observed_json: null,
  attempts: 0, last_error: null, created_at: i, updated_at: updated, placement_json: null, running_at: null, agent_up_at: null,
});
const instance = (i: number, phase: string): InstanceRow => ({
  key: `d/n-${i}`, deployment: 'd', component: 'c', ordinal: i, desired: 1, phase, wiring_hash: null, revision: null,
  run_seq: 0, inflight_run: null, restarts: 0, attempts: 0, last_error: null, created_at: i, updated_at: i,
});

test('group commit: an upsert made moot by a later op on the same row is skipped; the committed rows are the last writes', async () => {
  const s = await openTestStore(':memory:');
  await s.write(s.putNode(node(1, 'pending')), s.putNode(node(2, 'pending')));
  const before = s.statementStats();
  // one batch (one turn): three upserts of n-1, an upsert then a delete of n-2, a delete then an upsert of n-3
  await Promise.all([
    s.write(s.putNode(node(1, 'creating'))),
    s.write(s.putNode(node(1, 'provisioning')), s.putNode(node(2, 'running'))),
    s.write(s.putNode(node(1, 'running')), s.deleteNode('d/n-2')),
    s.write(s.deleteNode('d/n-3'), s.putNode(node(3, 'running'))),
  ]);
  const after = s.statementStats();
  const rows = new Map((await s.loadNodes()).map((r) => [r.key, r]));
  assert.equal(rows.get('d/n-1')?.status, 'running', 'the last upsert wins');
  assert.equal(rows.has('d/n-2'), false, 'upsert then delete: deleted');
  assert.equal(rows.get('d/n-3')?.status, 'running', 'delete then upsert: present');
  // begin, n-1 once, delete n-2, delete n-3, upsert n-3, commit (+1 for the load)
  // the count is the SQLite statement cache's: PostgreSQL runs these through the query builder
  if (s.dialect === 'sqlite') assert.equal(after.prepares + after.hits - before.prepares - before.hits, 6, 'moot upserts were not run');
  await s.close();
});

test('group commit: a batch with a query-builder op runs every op in one transaction, in order; later batches land after it', async () => {
  const s = await openTestStore(':memory:');
  const p1 = s.write(s.putInstance(instance(1, 'pending')), s.replaceArtefacts('d', [{ path: 'a', content: Buffer.from('x'), mode: 0o644 }]), s.putInstance(instance(1, 'installed')));
  await new Promise((r) => setImmediate(r));
  // queued while the first batch may still be committing through the query builder
  const p2 = s.write(s.putInstance(instance(1, 'configured')));
  await Promise.all([p1, p2]);
  assert.equal((await s.loadInstances())[0]?.phase, 'configured', 'the later batch is not overtaken');
  assert.equal((await s.artefacts('d')).length, 1);
  // a failing op rejects its whole batch and leaves nothing of it
  const bad = s.write(s.putInstance(instance(2, 'pending')), s.putStepRun({ deployment: 'd', instance: 'c-2', step: 'install', run_id: 'r', state: 'x', exit_code: null, output: '', started_at: 0, ended_at: null, nosuch: 1 } as never));
  await assert.rejects(bad);
  assert.equal((await s.loadInstances()).length, 1, 'rolled back');
  await s.close();
});
