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

test('ECF_TRIES: an abort is retried with a new try and password until the tries are used up', () => {
  const h = new Harness(definition(suite('s', [task('a'), task('b', { variables: [{ name: 'ECF_TRIES', value: '3' }] })])));
  h.rt.user({ verb: 'begin' });
  const p1 = h.sub('/s/a').password;
  h.init('/s/a');
  h.abort('/s/a');
  assert.equal(h.sub('/s/a').tryNo, 2);
  assert.notEqual(h.sub('/s/a').password, p1);
  assert.equal(h.sub('/s/a').variables.ECF_TRYNO, '2');
  assert.equal(h.state('/s/a'), 'submitted');
  h.abort('/s/a', 'exit=3');
  assert.equal(h.state('/s/a'), 'aborted');
  assert.equal(h.rt.node('/s/a')!.reason, 'exit=3');
  assert.equal(h.state('/s'), 'aborted');
  // b has three tries; lost and failed-to-start count as aborts
  h.rt.lost('/s/b', 1, 'process gone');
  h.rt.failedToStart('/s/b', 2, 'no pool');
  assert.equal(h.sub('/s/b').tryNo, 3);
  h.rt.lost('/s/b', 2, 'stale: ignored');
  assert.equal(h.state('/s/b'), 'submitted');
  h.finish('/s/b');
  // requeue aborted only: a gets fresh tries
  assert.deepEqual(h.rt.user({ verb: 'requeue', path: '/s', mode: 'aborted' }), { ok: true });
  assert.equal(h.state('/s/b'), 'complete');
  assert.equal(h.sub('/s/a').tryNo, 1);
  h.finish('/s/a');
  assert.equal(h.state('/s'), 'complete');
});

test('zombies: a wrong password, a stale try, a task no longer running are refused and recorded', () => {
  const h = new Harness(definition(suite('s', [task('a')])));
  h.rt.user({ verb: 'begin' });
  const first = h.id('/s/a');
  const bad = h.rt.child({ ...first, password: 'nope' }, { verb: 'init', rid: '1' });
  assert.deepEqual(bad, { ok: false, zombie: true, why: 'wrong password for /s/a' });
  h.init('/s/a');
  h.abort('/s/a');
  // the first try reports late
  const stale = h.rt.child(first, { verb: 'complete' });
  assert.equal((stale as { zombie: boolean }).zombie, true);
  assert.match((stale as { why: string }).why, /wrong password|stale try/);
  h.finish('/s/a');
  const late = h.rt.child(h.id('/s/a'), { verb: 'abort', reason: 'trap' });
  assert.deepEqual(late, { ok: false, zombie: true, why: '/s/a is complete, not submitted or active' });
  assert.equal(h.zombies.length, 3);
  assert.equal(h.zombies[2]!.command.verb, 'abort');
  assert.equal(h.state('/s/a'), 'complete');
  assert.deepEqual(h.rt.child({ ...first, path: '/s/zz' }, { verb: 'complete' }), { ok: false, zombie: false, why: 'no task /s/zz in workflow wf' });
});

test('force, run, kill, suspend/resume, requeue', () => {
  const h = new Harness(definition(suite('s', [
    task('a'),
    task('b', { trigger: expr(is('a', 'complete')) }),
    family('f', [task('x'), task('y')], { trigger: expr(is('b', 'complete')) }),
  ])));
  h.rt.user({ verb: 'begin' });
  // run ignores b's trigger
  assert.deepEqual(h.rt.user({ verb: 'run', path: '/s/b' }), { ok: true });
  assert.deepEqual(h.submitted(), ['/s/a', '/s/b']);
  // kill: hooks.kill, then aborted with reason killed, no retry
  h.init('/s/b');
  h.rt.user({ verb: 'kill', path: '/s/b' });
  assert.deepEqual(h.kills, [{ path: '/s/b', tryNo: 1 }]);
  assert.equal(h.state('/s/b'), 'aborted');
  assert.equal(h.rt.node('/s/b')!.reason, 'killed');
  assert.equal(h.subs.length, 2);
  // suspended family holds its children even when its trigger holds
  h.rt.user({ verb: 'suspend', path: '/s/f' });
  h.rt.user({ verb: 'force', path: '/s/b', state: 'complete' });
  assert.equal(h.rt.node('/s/b')!.reason, 'forced');
  assert.equal(h.subs.length, 2);
  assert.deepEqual(h.rt.why('/s/f/x').map((w) => w.kind), ['suspended']);
  h.rt.user({ verb: 'resume', path: '/s/f' });
  assert.deepEqual(h.submitted().slice(2), ['/s/f/x', '/s/f/y']);
  // force queued a running task: it runs again with a new try; the old try is a zombie
  const old = h.id('/s/f/x');
  h.rt.user({ verb: 'force', path: '/s/f/x', state: 'queued' });
  assert.equal(h.sub('/s/f/x').tryNo, 2);
  assert.equal((h.rt.child(old, { verb: 'init', rid: '9' }) as { zombie: boolean }).zombie, true);
  // requeue all refuses while something runs
  assert.equal(h.rt.user({ verb: 'requeue', path: '/s', mode: 'all' }).ok, false);
  h.finish('/s/a');
  h.finish('/s/f/x');
  h.finish('/s/f/y');
  assert.equal(h.state('/s'), 'complete');
  h.rt.user({ verb: 'requeue', path: '/s/f', mode: 'all' });
  assert.equal(h.state('/s/f'), 'submitted', 'requeued, and its trigger still holds');
  assert.deepEqual(h.submitted().slice(-2), ['/s/f/x', '/s/f/y']);
  assert.equal(h.sub('/s/f/x').tryNo, 1, 'a requeue starts the tries afresh');
  // force complete a family: every task below
  h.rt.user({ verb: 'force', path: '/s/f', state: 'complete' });
  assert.equal(h.state('/s/f/y'), 'complete');
  assert.equal(h.state('/s'), 'complete');
  assert.equal(h.rt.user({ verb: 'force', path: '/s/nope', state: 'complete' }).ok, false);
});

test('why lists every false trigger subterm with its current value, time, limit, suspended parents', () => {
  const h = new Harness(definition(suite('s', [
    task('a', { events: [{ name: 'ready', initial: false }] }),
    task('b'),
    task('c', { trigger: expr(and(is('a', 'complete'), { kind: 'logic', op: 'or', left: ref('b', 'missing'), right: ref('a', 'ready') })) }),
  ])));
  assert.match(h.rt.why('/s/c')[0]!.detail, /has not begun/);
  h.rt.user({ verb: 'begin' });
  const why = h.rt.why('/s/c').map((w) => w.detail);
  assert.deepEqual(why, [
    'a == complete is false (/s/a is submitted)',
    'b:missing is false (/s/b:missing is undefined)',
    'a:ready is false (/s/a:ready is 0)',
  ]);
  assert.deepEqual(h.rt.why('/s/a').map((w) => w.detail), ['/s/a is submitted']);
  assert.equal(h.rt.why('/nope')[0]!.kind, 'state');
});

test('complete expressions (by_rule, children too), defstatus, inlimit -n and -s', () => {
  const h = new Harness(definition(suite('s', [
    task('a', { events: [{ name: 'skip', initial: false }] }),
    task('b', { trigger: expr(is('a', 'complete')), complete: expr(ref('a', 'skip')) }),
    family('f', [task('x'), task('y')], { trigger: expr(is('a', 'complete')), complete: expr(ref('a', 'skip')) }),
    family('done', [task('z')], { defstatus: 'complete' }),
    family('n1', [task('p'), task('q', { trigger: expr(is('p', 'complete')) })], { inlimits: [{ name: 'L', tokens: 1, nodeOnly: true, submissionOnly: false }] }),
    family('n2', [task('p'), task('q', { trigger: expr(is('p', 'complete')) })], { inlimits: [{ name: 'L', tokens: 1, nodeOnly: true, submissionOnly: false }] }),
    family('sub', [task('s1'), task('s2'), task('s3')], { inlimits: [{ name: 'S', tokens: 1, nodeOnly: false, submissionOnly: true }] }),
  ], { limits: [{ name: 'L', tokens: 1 }, { name: 'S', tokens: 1 }] })));
  h.rt.user({ verb: 'begin' });
  assert.equal(h.state('/s/done'), 'complete');
  assert.equal(h.state('/s/done/z'), 'complete');
  assert.deepEqual(h.submitted(), ['/s/a', '/s/n1/p', '/s/sub/s1']);
  // -s: the token is only held while submitted
  h.init('/s/sub/s1');
  assert.deepEqual(h.submitted().slice(3), ['/s/sub/s2']);
  // -n: n1 keeps the token between its tasks; n2 waits for n1 to complete
  h.finish('/s/n1/p');
  assert.equal(h.submitted().at(-1), '/s/n1/q');
  assert.match(h.rt.why('/s/n2/p')[0]!.detail, /limit \/s:L has 0 of 1 tokens free/);
  h.finish('/s/n1/q');
  assert.equal(h.submitted().at(-1), '/s/n2/p');
  // complete expressions hold while queued
  h.init('/s/a');
  h.send('/s/a', { verb: 'event', name: 'skip', value: true });
  assert.equal(h.state('/s/b'), 'complete');
  assert.equal(h.rt.node('/s/b')!.reason, 'by_rule');
  assert.equal(h.state('/s/f/x'), 'complete');
  assert.equal(h.rt.node('/s/f')!.reason, 'by_rule');
  h.complete('/s/a');
  assert.ok(!h.submitted().includes('/s/b') && !h.submitted().includes('/s/f/x'));
});

test('wait resolves when its expression holds; labels; init --add and complete --remove', async () => {
  const h = new Harness(definition(suite('s', [task('a', { labels: [{ name: 'info', value: '' }] }), task('b')])), {
    parseExpression: (text) => ({ kind: 'compare', op: '==', left: ref(text.split(' ')[0]!), right: { kind: 'state', value: 'complete' } }),
  });
  h.rt.user({ verb: 'begin' });
  h.send('/s/a', { verb: 'init', rid: '42', add: { X: '1' } });
  assert.equal(h.rt.node('/s/a')!.rid, '42');
  assert.equal(h.rt.node('/s/a')!.variables.X, '1');
  h.send('/s/a', { verb: 'label', name: 'info', value: 'half way' });
  assert.equal(h.rt.node('/s/a')!.labels.info, 'half way');
  const w = h.cmd('/s/a', { verb: 'wait', expression: 'b == complete' });
  assert.ok(w instanceof Promise);
  let answered = false;
  void w.then(() => { answered = true; });
  h.finish('/s/b');
  assert.deepEqual(await w, { ok: true });
  assert.ok(answered);
  h.send('/s/a', { verb: 'complete', remove: ['X'] });
  assert.equal(h.rt.node('/s/a')!.variables.X, undefined);
});

test('restore mid-run: states, tries and tokens come back, and the run finishes with every task complete once', () => {
  const tasks = Array.from({ length: 12 }, (_, i) => task(`t${i}`, i > 0 ? { trigger: expr(is(`t${i - 1}`, 'complete')) } : {}));
  const d = definition(suite('s', [
    family('f', tasks.slice(0, 6)),
    family('g', Array.from({ length: 6 }, (_, i) => task(`u${i}`)), { inlimits: [{ name: 'l', tokens: 1, nodeOnly: false, submissionOnly: false }] }),
  ], { limits: [{ name: 'l', tokens: 2 }] }));
  const h = new Harness(d);
  const saved = new Map<string, import('../../src/workflows/index.js').WfNodeRuntime>();
  h.rt.user({ verb: 'begin' });
  h.finish('/s/f/t0');
  h.finish('/s/g/u0');
  h.init('/s/g/u1');
  for (const step of h.steps) for (const n of step) saved.set(n.path, n);
  h.rt.close();
  // a new runtime over the saved states
  const h2 = new Harness(d);
  h2.rt.restore([...saved.values()]);
  assert.equal(h2.state('/s/f/t0'), 'complete');
  assert.equal(h2.state('/s/f/t1'), 'submitted');
  assert.equal(h2.state('/s/g/u1'), 'active');
  assert.equal(h2.subs.length, 0, 'nothing running is submitted again');
  // the running tries report to the new runtime with their passwords
  const pw = (p: string): { workflow: string; path: string; password: string; tryNo: number } => ({ workflow: 'wf', path: p, password: saved.get(p)!.password!, tryNo: saved.get(p)!.tryNo });
  assert.deepEqual(h2.rt.child(pw('/s/g/u1'), { verb: 'complete' }), { ok: true });
  assert.deepEqual(h2.submitted(), ['/s/g/u3'], 'u2 still holds one of the two tokens');
  assert.deepEqual(h2.rt.child(pw('/s/f/t1'), { verb: 'complete' }), { ok: true });
  assert.deepEqual(h2.rt.child(pw('/s/g/u2'), { verb: 'complete' }), { ok: true });
  const done = new Set(['/s/f/t0', '/s/f/t1', '/s/g/u0', '/s/g/u1', '/s/g/u2']);
  for (let guard = 0; guard < 50 && h2.state('/s') !== 'complete'; guard++) {
    for (const p of h2.running()) {
      assert.ok(!done.has(p), `${p} ran twice`);
      h2.finish(p);
      done.add(p);
    }
  }
  assert.equal(h2.state('/s'), 'complete');
  assert.equal(done.size, 12);
});
