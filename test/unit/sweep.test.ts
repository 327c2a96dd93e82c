/** The sweep's judgement (src/engine/sweep.ts): ownership from tags and intents alone, never from one observation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideSweep, emptyHistory, type SweepHistory, type SweepIntent } from '../../src/engine/sweep.js';
import type { CloudNode } from '../../src/drivers/driver.js';

const OWNER = 'inst-1';
const node = (id: string, key: string, attempt: string, extra: Record<string, string> = {}): CloudNode => ({
  id, status: 'running', createdAt: 1,
  tags: { 'nubis-owner': OWNER, 'nubis-tenant': 'default', 'nubis-deployment': key.split('/')[0]!, 'nubis-key': key, 'nubis-attempt': attempt, ...extra },
});
const intent = (key: string, over: Partial<SweepIntent> = {}): SweepIntent => ({
  key, deployment: key.split('/')[0]!, tenant: 'default', status: 'running', token: `t-${key}`, own: true, changed: false, graceUntil: 0, ...over,
});
const run = (found: CloudNode[], intents: SweepIntent[], history: SweepHistory = emptyHistory(), now = 1000) =>
  decideSweep({ found, owner: OWNER, intents: new Map(intents.map((i) => [i.key, i])), history, now });
const kinds = (r: ReturnType<typeof run>) => r.decisions.map((d) => `${d.kind}:${'node' in d ? d.node.id : d.key}`).sort();

test('an intent listed by a handle that is not its own is neither adopted, nor deleted, nor judged lost', () => {
  const i = intent('a/app-1', { providerId: 'x', own: false });
  assert.deepEqual(kinds(run([node('x', 'a/app-1', 't-a/app-1')], [i])), []);
  assert.deepEqual(kinds(run([], [i])), [], 'a miss by a foreign handle counts nothing');
});

test('orphan: no intent for (tenant, deployment, key); deleted only on the second sighting', () => {
  const n = node('o', 'gone/app-1', 't');
  const first = run([n], []);
  assert.deepEqual(kinds(first), []);
  assert.deepEqual(kinds(run([n], [], first.history)), ['orphan-delete:o']);
  assert.deepEqual(kinds(run([], [], first.history)), [], 'not listed: nothing');
  // another tenant's or deployment's tags on the same key are not this intent's
  const i = intent('web/app-1', { providerId: 'p' });
  const other = node('q', 'web/app-1', 't-web/app-1', { 'nubis-tenant': 'acme' });
  const h = run([node('p', 'web/app-1', 't-web/app-1'), other], [i]).history;
  assert.deepEqual(kinds(run([node('p', 'web/app-1', 't-web/app-1'), other], [i], h)), ['observe:p', 'orphan-delete:q']);
});

test('duplicate: a copy not named by the intent, seen twice beside the kept one; the kept one is providerId, else the token', () => {
  const i = intent('d/app-1', { providerId: 'keep' });
  const found = [node('old', 'd/app-1', 'stale-token'), node('keep', 'd/app-1', 't-d/app-1')];
  const first = run(found, [i]);
  assert.deepEqual(kinds(first), ['observe:keep']);
  const second = run(found, [i], first.history);
  assert.deepEqual(kinds(second), ['duplicate-delete:old', 'observe:keep']);
  const dup = second.decisions.find((d) => d.kind === 'duplicate-delete');
  assert.equal(dup && 'keep' in dup ? dup.keep.id : undefined, 'keep');
  // no providerId yet: the copy whose attempt tag is the token is kept and adopted
  const j = intent('d/app-2', { status: 'creating' });
  const copies = [node('a', 'd/app-2', 'older'), node('b', 'd/app-2', 't-d/app-2')];
  const r = run(copies, [j], run(copies, [j]).history);
  assert.deepEqual(kinds(r), ['adopt:b', 'duplicate-delete:a']);
  // the kept copy missing from the list: the other is not deleted
  assert.deepEqual(kinds(run([found[0]!], [i], second.history)).filter((k) => k.startsWith('duplicate')), []);
});

test('lost: only after 3 consecutive misses and past the consistency window; a changed intent is not judged', () => {
  const i = intent('l/app-1', { providerId: 'p', graceUntil: 5000 });
  let h = emptyHistory();
  for (let k = 1; k <= 3; k++) {
    const r = run([], [i], h, 1000);
    assert.deepEqual(kinds(r), [], `miss ${k} inside the window`);
    assert.equal(r.suspects, 1);
    h = r.history;
  }
  assert.deepEqual(kinds(run([], [i], h, 5000)), ['confirm-lost:l/app-1']);
  // one sighting resets the count
  const seenAgain = run([node('p', 'l/app-1', 't-l/app-1')], [i], h, 5000);
  assert.deepEqual(kinds(run([], [i], seenAgain.history, 5000)), []);
  // an intent touched after the list began keeps its history and is not judged from this list
  const changed = run([], [{ ...i, changed: true }], h, 5000);
  assert.deepEqual(kinds(changed), []);
  assert.equal(changed.history.misses.get('l/app-1'), 3);
});

test('a creating intent whose create is not in the list is sent again (same token); a listed one is adopted', () => {
  const i = intent('c/app-1', { status: 'creating' });
  assert.deepEqual(kinds(run([], [i])), ['resend-create:c/app-1']);
  assert.deepEqual(kinds(run([node('n', 'c/app-1', 't-c/app-1')], [i])), ['adopt:n']);
  assert.deepEqual(kinds(run([], [{ ...i, changed: true }])), [], 'busy: not judged');
});
