/** The scheduler: states, triggers, limits, retries, zombies and user commands (event-driven). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, and, cmp, definition, expr, family, is, num, ref, settle, suite, task } from './workflows-scheduler-helpers.js';

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

test('hook order per step: one changed batch, then kills, then submissions in definition order; a throwing submit fails the try to start', async () => {
  const order: string[] = [];
  const h = new Harness(definition(suite('s', [family('f', [task('b'), task('a')]), task('c')])));
  h.onSubmit = (s) => {
    order.push(`submit ${s.path}#${s.tryNo}`);
    if (s.path === '/s/c' && s.tryNo === 1) throw new Error('no pool');
  };
  const steps0 = h.steps.length;
  h.rt.user({ verb: 'begin' });
  assert.equal(h.steps.length, steps0 + 1, 'one changed batch for the begin step');
  assert.deepEqual(order, ['submit /s/f/b#1', 'submit /s/f/a#1', 'submit /s/c#1']);
  await settle();
  assert.deepEqual(order.slice(3), ['submit /s/c#2'], 'retried per ECF_TRIES after the failed start');
  // the abort and the resubmission are one step: its batch holds the abort, then the end state
  assert.deepEqual(h.steps.at(-1)!.filter((n) => n.path === '/s/c').map((n) => [n.state, n.tryNo, n.reason]), [['aborted', 1, 'submit failed: no pool'], ['submitted', 2, undefined]]);
});

test('a repeat family whose complete expression holds skips its iterations; an endless repeat day does not spin', () => {
  const h = new Harness(definition(suite('s', [
    task('gate', { events: [{ name: 'skip', initial: false }] }),
    family('r', [task('t')], { repeat: { kind: 'integer', name: 'I', start: 1, end: 5, step: 1 }, complete: expr(ref('/s/gate', 'skip')) }),
    family('d', [task('t', { trigger: expr(is('/s/gate', 'complete')) })], { repeat: { kind: 'day', step: 1 }, complete: expr(ref('/s/gate', 'skip')) }),
  ])));
  h.rt.user({ verb: 'begin' });
  h.finish('/s/r/t'); // I = 1 ran
  assert.equal(h.sub('/s/r/t').variables.I, '2');
  h.init('/s/gate');
  h.send('/s/gate', { verb: 'event', name: 'skip', value: true });
  // r runs (its t is submitted): the rule waits until r is queued again
  assert.equal(h.state('/s/r'), 'submitted');
  h.finish('/s/r/t');
  assert.equal(h.state('/s/r'), 'complete');
  assert.equal(h.rt.node('/s/r')!.repeatIndex, 4);
  assert.notEqual(h.state('/s/d'), 'complete', 'a repeat day never ends');
});

test('a family with a time series runs its tasks at each slot (the family requeues when complete)', async () => {
  const h = new Harness(definition(suite('s', [
    family('f', [task('a'), task('b', { trigger: expr(is('a', 'complete')) })], { times: [{ relative: false, start: { h: 6, m: 0 }, end: { h: 8, m: 0 }, step: { h: 1, m: 0 } }] }),
  ])));
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await h.clock.advance(10 * 3_600_000);
  assert.deepEqual(h.log(), ['/s/f/a@06:00', '/s/f/b@06:00', '/s/f/a@07:00', '/s/f/b@07:00', '/s/f/a@08:00', '/s/f/b@08:00']);
  assert.equal(h.state('/s'), 'complete');
  h.rt.close();
});

test('an engine-action task: the submission carries the action; it may set labels it did not declare', () => {
  const h = new Harness(definition(suite('s', [task('up', { action: { verb: 'start', deployment: 'd', component: 'main' } }), task('job')])));
  h.rt.user({ verb: 'begin' });
  assert.deepEqual(h.sub('/s/up').action, { verb: 'start', deployment: 'd', component: 'main' });
  assert.equal(h.sub('/s/job').action, undefined);
  h.init('/s/up');
  assert.deepEqual(h.send('/s/up', { verb: 'label', name: 'nubis_action', value: 'started 1' }), { ok: true });
  assert.equal(h.rt.node('/s/up')!.labels.nubis_action, 'started 1');
  h.init('/s/job');
  assert.equal(h.send('/s/job', { verb: 'label', name: 'nubis_action', value: 'x' }).ok, false);
});

test('wait parses its expression with the expr unit by default; a bad expression is refused', async () => {
  const h = new Harness(definition(suite('s', [task('a'), family('f', [task('b', { events: [{ name: 'e', initial: false }] })])])));
  h.rt.user({ verb: 'begin' });
  h.init('/s/a');
  const bad = h.cmd('/s/a', { verb: 'wait', expression: 'f/b:e ==' });
  assert.equal((bad as { ok: boolean }).ok, false);
  const w = h.cmd('/s/a', { verb: 'wait', expression: 'f/b:e and /s/f/b == active' });
  assert.ok(w instanceof Promise);
  h.init('/s/f/b');
  h.send('/s/f/b', { verb: 'event', name: 'e', value: true });
  assert.deepEqual(await w, { ok: true });
});

test('restore keeps the token a -n family holds between its tasks', () => {
  const nodeOnly = [{ name: 'fams', tokens: 1, nodeOnly: true, submissionOnly: false }];
  // a2 waits for the gate too: between a1 and a2, fa holds the token with nothing running
  const d2 = definition(suite('s', [
    family('fa', [task('a1'), task('a2', { trigger: expr(and(is('a1', 'complete'), is('../gate', 'complete'))) })], { inlimits: nodeOnly }),
    family('fb', [task('b1')], { inlimits: nodeOnly }),
    task('gate', { defstatus: 'suspended' }),
  ], { limits: [{ name: 'fams', tokens: 1 }] }));
  const h = new Harness(d2);
  h.rt.user({ verb: 'begin' });
  h.finish('/s/fa/a1');
  assert.deepEqual(h.submitted(), ['/s/fa/a1']);
  const saved = new Map<string, import('../../src/workflows/index.js').WfNodeRuntime>();
  for (const step of h.steps) for (const n of step) saved.set(n.path, n);
  assert.deepEqual(saved.get('/s/fa')!.fired, ['limit=/s:fams']);
  const h2 = new Harness(d2);
  h2.rt.restore([...saved.values()]);
  assert.deepEqual(h2.submitted(), [], 'fb still waits for fa');
  assert.match(h2.rt.why('/s/fb/b1')[0]!.detail, /limit \/s:fams has 0 of 1 tokens free/);
});

test('events by number: `event 1 ready` is also `:1`, in triggers and in child commands', () => {
  const h = new Harness(definition(suite('s', [
    task('a', { events: [{ name: 'ready', number: 1, initial: false }, { name: '2', number: 2, initial: false }] }),
    task('b', { trigger: expr(ref('a', '1')) }),
    task('c', { trigger: expr(ref('a', '2')) }),
  ])));
  h.rt.user({ verb: 'begin' });
  h.init('/s/a');
  h.send('/s/a', { verb: 'event', name: '1', value: true });
  assert.equal(h.rt.node('/s/a')!.events.ready, true);
  assert.deepEqual(h.submitted(), ['/s/a', '/s/b']);
  h.send('/s/a', { verb: 'event', name: '2', value: true });
  assert.deepEqual(h.submitted(), ['/s/a', '/s/b', '/s/c']);
  assert.equal(h.send('/s/a', { verb: 'event', name: '3', value: true }).ok, false);
});

test('a limit\'s value (tokens in use) in a trigger', () => {
  const h = new Harness(definition(suite('s', [
    family('f', [task('a'), task('b')], { inlimits: [{ name: 'L', tokens: 1, nodeOnly: false, submissionOnly: false }] }),
    task('idle', { trigger: expr(cmp('==', ref('/s', 'L'), num(0))) }),
  ], { limits: [{ name: 'L', tokens: 2 }] })));
  h.rt.user({ verb: 'begin' });
  assert.deepEqual(h.submitted(), ['/s/f/a', '/s/f/b']);
  h.finish('/s/f/a');
  assert.equal(h.subs.length, 2);
  h.finish('/s/f/b');
  assert.deepEqual(h.submitted(), ['/s/f/a', '/s/f/b', '/s/idle']);
});

test('paths: x and ./x are siblings, ../x the parent\'s sibling, /abs; a plain a/b not below the parent is looked for below the node', () => {
  const h = new Harness(definition(suite('s', [
    task('a'),
    family('f', [
      task('b', { trigger: expr(and(is('../a', 'complete'), is('/s/a', 'complete'))) }),
      task('c', { trigger: expr(is('./b', 'complete')) }),
      task('d', { trigger: expr(is('../a', 'complete')), defstatus: 'complete' }),
      family('g', [task('x'), task('y', { defstatus: 'suspended' })]),
    ], { complete: expr(is('g/x', 'complete')) }),
  ])));
  h.rt.user({ verb: 'begin' });
  assert.deepEqual(h.submitted(), ['/s/a', '/s/f/g/x']);
  h.finish('/s/f/g/x');
  // f is queued (b waits for a) and its complete expression names its own child g/x: it holds
  assert.equal(h.state('/s/f'), 'complete');
  assert.equal(h.rt.node('/s/f')!.reason, 'by_rule');
  assert.equal(h.state('/s/f/b'), 'complete');
  h.finish('/s/a');
  assert.deepEqual(h.submitted(), ['/s/a', '/s/f/g/x'], 'b and c never run');
  assert.equal(h.state('/s'), 'complete');
  assert.equal(h.state('/s/f/g/y'), 'complete');
});

test('paths: ../x and ./x and /abs resolve; a trigger on a missing node waits (unknown)', () => {
  const h = new Harness(definition(suite('s', [
    task('a'),
    family('f', [
      task('b', { trigger: expr(and(is('../a', 'complete'), is('/s/a', 'complete'))) }),
      task('c', { trigger: expr(is('./b', 'complete')) }),
      task('z', { trigger: expr(is('/other/x', 'complete')) }),
    ]),
  ])));
  h.rt.user({ verb: 'begin' });
  h.finish('/s/a');
  h.finish('/s/f/b');
  h.finish('/s/f/c');
  assert.deepEqual(h.submitted(), ['/s/a', '/s/f/b', '/s/f/c']);
  assert.deepEqual(h.rt.why('/s/f/z').map((w) => w.detail), ['/other/x == complete is false (/other/x does not exist)']);
});

test('the ecFlow fixtures (parsed by the def unit) run to completion, every task exactly once per repeat value', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { parseDef } = await import('../../src/workflows/index.js');
  const dir = 'test/fixtures/ecflow';
  // the fixtures with time attributes need a clock that moves: test/peers/ecflow-time.test.ts
  const timed = (f: string): boolean => /^\s*(time|today|date|day|cron)\s/m.test(readFileSync(`${dir}/${f}`, 'utf8'));
  const files = readdirSync(dir).filter((f) => f.endsWith('.def') && !timed(f));
  assert.ok(files.length >= 5);
  for (const f of files) {
    const def = parseDef(readFileSync(`${dir}/${f}`, 'utf8'), f);
    const h = new Harness(def);
    // a stand-in for the fixtures' scripts: meters to their max, events set (signals.def keeps `scratch` clear)
    h.onSubmit = (sub) => queueMicrotask(() => {
      const rt = h.rt.node(sub.path)!;
      h.init(sub.path);
      for (const m of Object.keys(rt.meters)) h.send(sub.path, { verb: 'meter', name: m, value: 10 });
      for (const e of Object.keys(rt.events)) if (e !== 'scratch') h.send(sub.path, { verb: 'event', name: e, value: true });
      h.complete(sub.path);
    });
    h.rt.user({ verb: 'begin' });
    for (let i = 0; i < 100 && def.suites.some((s) => h.state(`/${s.name}`) !== 'complete'); i++) await settle();
    for (const s of def.suites) assert.equal(h.state(`/${s.name}`), 'complete', `${f}: ${JSON.stringify(h.rt.why(`/${s.name}`))}`);
    const counts = new Map<string, number>();
    for (const p of h.submitted()) counts.set(p, (counts.get(p) ?? 0) + 1);
    // repeat.def: `repeat integer N 1 3` on /repeat3/loop
    for (const [p, c] of counts) assert.equal(c, p.startsWith('/repeat3/loop/') ? 3 : 1, `${f}: ${p} ran ${c} times`);
    h.rt.close();
  }
});

test('changed batches show a completion before the repeat requeues it (the history is not lost)', () => {
  const h = new Harness(definition(suite('s', [family('loop', [task('r1'), task('r2', { trigger: expr(is('r1', 'complete')) })], { repeat: { kind: 'integer', name: 'N', start: 1, end: 2, step: 1 } })])));
  h.rt.user({ verb: 'begin' });
  h.finish('/s/loop/r1');
  h.finish('/s/loop/r2');
  const last = h.steps.at(-1)!.filter((n) => n.path === '/s/loop/r2' || n.path === '/s/loop').map((n) => `${n.path}=${n.state}`);
  assert.deepEqual(last, ['/s/loop/r2=complete', '/s/loop=complete', '/s/loop/r2=queued', '/s/loop=submitted']);
});
