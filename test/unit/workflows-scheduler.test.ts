/** The scheduler: states, triggers, limits, retries, zombies and user commands (event-driven). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, and, cmp, definition, expr, family, is, num, ref, suite, task } from './workflows-scheduler-helpers.js';

test('a chain runs one task after the other, each freed by the report of the previous', () => {
  const h = new Harness(definition(suite('s', [
    task('a'),
    task('b', { trigger: expr(is('a', 'complete')) }),
    task('c', { trigger: expr(is('b', 'complete')) }),
  ])));
  assert.equal(h.state('/s'), 'unknown');
  assert.deepEqual(h.rt.user({ verb: 'begin' }), { ok: true });
  assert.deepEqual(h.submitted(), ['/s/a']);
  assert.equal(h.state('/s/b'), 'queued');
  assert.equal(h.state('/s'), 'submitted');
  h.init('/s/a');
  assert.equal(h.state('/s'), 'active');
  h.complete('/s/a');
  assert.deepEqual(h.submitted(), ['/s/a', '/s/b']);
  h.finish('/s/b');
  h.finish('/s/c');
  assert.equal(h.state('/s'), 'complete');
  assert.equal(h.sub('/s/c').variables.TASK, 'c');
  assert.equal(h.sub('/s/c').variables.ECF_NAME, '/s/c');
  assert.equal(h.sub('/s/c').variables.ECF_TRYNO, '1');
  assert.equal(h.sub('/s/c').variables.SUITE, 's');
  assert.equal(h.sub('/s/c').variables.ECF_DATE, '20261203');
  // one changed batch per step
  assert.ok(h.steps.length >= 7);
});

test('a family with limit 8 never has more than 8 tasks running and frees one per completion', () => {
  const tasks = Array.from({ length: 20 }, (_, i) => task(`t${i}`));
  const h = new Harness(definition(suite('s', [family('f', tasks, { inlimits: [{ name: 'l', tokens: 1, nodeOnly: false, submissionOnly: false }] })], { limits: [{ name: 'l', tokens: 8 }] })));
  h.rt.user({ verb: 'begin' });
  assert.deepEqual(h.submitted(), Array.from({ length: 8 }, (_, i) => `/s/f/t${i}`));
  h.finish('/s/f/t3');
  assert.equal(h.subs.length, 9);
  assert.equal(h.subs[8]!.path, '/s/f/t8');
  // the limit's value is visible: tokens in use
  assert.equal(h.rt.why('/s/f/t19')[0]!.kind, 'limit');
  for (let i = 0; i < 20; i++) if (i !== 3) {
    const p = `/s/f/t${i}`;
    h.finish(p);
    assert.ok(h.running().length <= 8);
  }
  assert.equal(h.state('/s'), 'complete');
  assert.equal(h.subs.length, 20);
});

test('events, meters and variables in triggers; a family trigger gates its subtree', () => {
  const h = new Harness(definition(suite('s', [
    task('a', { events: [{ name: 'go', initial: false }], meters: [{ name: 'step', min: 0, max: 100 }] }),
    task('b', { trigger: expr(ref('a', 'go')) }),
    task('c', { trigger: expr(cmp('>=', ref('a', 'step'), num(50))) }),
    family('f', [task('x'), task('y')], { trigger: expr(and(is('b', 'complete'), cmp('==', ref('/s', 'N'), num(3)))) }),
  ], { variables: [{ name: 'N', value: '2' }] })));
  h.rt.user({ verb: 'begin' });
  assert.deepEqual(h.submitted(), ['/s/a']);
  h.init('/s/a');
  assert.deepEqual(h.send('/s/a', { verb: 'event', name: 'go', value: true }), { ok: true });
  assert.deepEqual(h.submitted(), ['/s/a', '/s/b']);
  assert.deepEqual(h.send('/s/a', { verb: 'meter', name: 'step', value: 200 }), { ok: false, zombie: false, why: 'meter step value 200 is outside 0..100' });
  h.send('/s/a', { verb: 'meter', name: 'step', value: 49 });
  assert.equal(h.subs.length, 2);
  h.send('/s/a', { verb: 'meter', name: 'step', value: 50 });
  assert.deepEqual(h.submitted(), ['/s/a', '/s/b', '/s/c']);
  h.finish('/s/b');
  assert.equal(h.subs.length, 3);
  const why = h.rt.why('/s/f/x');
  assert.ok(why.some((w) => w.kind === 'parent' && /\/s:N is 2/.test(w.detail)), JSON.stringify(why));
  h.rt.user({ verb: 'alter', path: '/s', variable: 'N', value: '3' });
  assert.deepEqual(h.submitted().slice(3), ['/s/f/x', '/s/f/y']);
  assert.equal(h.sub('/s/f/x').variables.N, '3');
  assert.equal(h.sub('/s/f/x').variables.FAMILY, 'f');
});
