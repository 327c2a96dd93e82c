/**
 * ecFlow's late, autocancel, clock, queue, generic and zombie attributes: parse (with
 * file:line:col errors), print back (round trip), the YAML form, and their run-time semantics
 * on a virtual clock — the late flag, autocancel removal (also across a restore), a suite's
 * real/hybrid clock with date and gain, queue steps, zombie actions — and the flags in
 * expressions and `why`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NubisError } from '../../src/errors/index.js';
import { formatTree } from '../../src/cli/commands/workflow.js';
import { createStyle } from '../../src/cli/format.js';
import {
  parseDef, parseWorkflowYaml, printDef, scriptJobText, shellRunner, type CommandRunner, type WfChildResult, type WfDefinition, type WfSubmission,
} from '../../src/workflows/index.js';
import { DAY0, H, Harness, M, settle } from './workflows-scheduler-helpers.js';

const def = (text: string): WfDefinition => ({ ...parseDef(text, 'a.def'), name: 'wf' });

function rejects(text: string, message: string): void {
  assert.throws(() => parseDef(text, 'bad.def'), (e: unknown) => {
    assert.ok(e instanceof NubisError, String(e));
    assert.equal(e.message, message);
    return true;
  });
}

const ALL = `suite s
  clock hybrid 20.1.2012 +01:00
  late -s +00:15 -a 20:00 -c +02:00
  autocancel 3
  family f
    autocancel +00:10
    queue q1 001 002 003
    generic gen a b c
    zombie user:fob:init,complete:100
    zombie ecf:adopt::
    task t
      late -c 01:00
      autocancel 10:30
      trigger ../f<flag>late or t<flag>zombie or /s<flag>archived
      zombie path:kill:event,meter,label:10
  endfamily
endsuite
`;

test('late, autocancel, clock, queue, generic and zombie parse, print back and parse again to the same definition', () => {
  const d = parseDef(ALL, 'a.def');
  const s = d.suites[0]!;
  assert.deepEqual(s.clock, { hybrid: true, date: { day: 20, month: 1, year: 2012 }, gainSeconds: 3600, gainPlus: true });
  assert.deepEqual(s.late, { submitted: { h: 0, m: 15 }, active: { h: 20, m: 0 }, complete: { h: 2, m: 0 }, completeRelative: true });
  assert.deepEqual(s.autocancel, { kind: 'days', days: 3 });
  const f = s.children[0]!;
  assert.deepEqual(f.autocancel, { kind: 'relative', time: { h: 0, m: 10 } });
  assert.deepEqual(f.queues, [{ name: 'q1', values: ['001', '002', '003'] }]);
  assert.deepEqual(f.generics, [{ name: 'gen', values: ['a', 'b', 'c'] }]);
  // lifetimes as ecflow_server keeps them: the type's default when empty, at least 60 s
  assert.deepEqual(f.zombies, [
    { type: 'user', action: 'fob', commands: ['init', 'complete'], lifetime: 100 },
    { type: 'ecf', action: 'adopt', commands: [], lifetime: 3600 },
  ]);
  const t = f.children[0]!;
  assert.deepEqual(t.late, { complete: { h: 1, m: 0 }, completeRelative: false });
  assert.deepEqual(t.autocancel, { kind: 'absolute', time: { h: 10, m: 30 } });
  assert.deepEqual(t.zombies, [{ type: 'path', action: 'kill', commands: ['event', 'meter', 'label'], lifetime: 60 }]);

  const printed = printDef(d);
  for (const line of ['clock hybrid 20.1.2012 +3600', 'late -s +00:15 -a 20:00 -c +02:00', 'autocancel 3', 'autocancel +00:10', 'queue q1 001 002 003',
    'generic gen a b c', 'zombie user:fob:init,complete:100', 'zombie ecf:adopt::3600', 'late -c 01:00', 'autocancel 10:30', 'zombie path:kill:event,meter,label:60']) {
    assert.ok(printed.includes(`  ${line}\n`), `${line} in\n${printed}`);
  }
  const again = parseDef(printed, 'b.def');
  assert.equal(printDef(again), printed);
  const strip = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (k, v: unknown) => (k === 'loc' ? undefined : v)));
  assert.deepEqual(strip(again), strip(d));

  // the other forms of each
  const other = parseDef('suite a\n  clock real 300\n  task t\n    late -a +08:00\n    autocancel 0\n    queue q x\n    generic g\nsuite b\n  clock real\nsuite c\n  clock real 01:00\n', 'o.def');
  assert.deepEqual(other.suites[0]!.clock, { hybrid: false, gainSeconds: 300 });
  assert.deepEqual(other.suites[0]!.children[0]!.late, { active: { h: 8, m: 0 }, completeRelative: false });
  assert.deepEqual(other.suites[1]!.clock, { hybrid: false });
  assert.deepEqual(other.suites[2]!.clock, { hybrid: false, gainSeconds: 3600 });
  assert.match(printDef(other), /clock real 300\n[\s\S]*late -a 08:00\n\s+autocancel 0\n\s+queue q x\n\s+generic g\n[\s\S]*clock real\n[\s\S]*clock real 3600\n/);
});

test('the YAML form takes the same attributes in the .def syntax', () => {
  const y = parseWorkflowYaml(`suites:
  - suite: s
    clock: hybrid 20.1.2012 +01:00
    late: -s +00:15 -a 20:00 -c +02:00
    autocancel: 3
    children:
      - family: f
        autocancel: "+00:10"
        queues: ["q1 001 002 003"]
        generics: gen a b c
        zombies: ["user:fob:init,complete:100", "ecf:adopt::"]
        children:
          - task: t
            late: -c 01:00
            autocancel: "10:30"
            trigger: ../f<flag>late or t<flag>zombie or /s<flag>archived
            zombies: path:kill:event,meter,label:10
`, 'a.yaml');
  assert.equal(printDef(y), printDef(parseDef(ALL, 'a.def')));
  assert.throws(() => parseWorkflowYaml('suites:\n  - suite: s\n    children:\n      - task: t\n        zombies: ["bad:fob::"]\n', 'b.yaml'),
    /b\.yaml:5:20: suites\[0\]\.children\[0\]\.zombies\[0\]: unknown zombie type 'bad'/);
  assert.throws(() => parseWorkflowYaml('suites:\n  - suite: s\n    children:\n      - family: f\n        clock: real\n', 'c.yaml'),
    /c\.yaml:5:9: suites\[0\]\.children\[0\]\.clock: clock is only allowed on a suite/);
});

test('bad late, autocancel, clock, queue, generic and zombie lines are rejected at file:line:col', () => {
  rejects('suite s\n  task t\n    late\n', 'bad.def:3:9: expected -s, -a or -c with a time hh:mm');
  rejects('suite s\n  task t\n    late -s +00:15 -s +00:10\n', 'bad.def:3:20: late: -s (submitted) is given twice');
  rejects('suite s\n  task t\n    late -x 00:10\n', "bad.def:3:10: expected -s, -a or -c, found '-x'");
  rejects('suite s\n  task t\n    late -a 25:10\n', "bad.def:3:13: expected a time hh:mm, found '25:10' (out of range)");
  rejects('suite s\n  task t\n    late -s 00:15\n    late -c 01:00\n', 'bad.def:4:5: a node has at most one late');
  rejects('suite s\n  task t\n    autocancel -1\n', "bad.def:3:16: expected +hh:mm, hh:mm or a number of days, found '-1'");
  rejects('suite s\n  autocancel 1\n  autocancel 2\n', 'bad.def:3:3: a node has at most one autocancel');
  rejects('suite s\n  family f\n    clock real\n', 'bad.def:3:5: clock is only allowed on a suite');
  rejects('suite s\n  clock real\n  clock hybrid\n', 'bad.def:3:3: a suite has at most one clock');
  rejects('suite s\n  clock wall\n', "bad.def:2:9: expected 'real' or 'hybrid'");
  rejects('suite s\n  clock real 30.2.2020\n', "bad.def:2:14: expected a date dd.mm.yyyy, found '30.2.2020' (no such day)");
  rejects('suite s\n  clock real -01:00\n', "bad.def:2:14: expected a date dd.mm.yyyy or a gain (seconds or [+]hh:mm), found '-01:00'");
  rejects('suite s\n  task t\n    queue q\n', 'bad.def:3:12: expected at least one queue step');
  rejects('suite s\n  queue q a b\n  queue q c\n', 'bad.def:3:9: s already has a queue q');
  rejects('suite s\n  generic g\n  generic g x\n', 'bad.def:3:11: s already has a generic g');
  rejects('suite s\n  task t\n    zombie bad:fob::\n', "bad.def:3:12: unknown zombie type 'bad' (expected user, ecf, ecf_pid, ecf_pid_passwd, ecf_passwd, path)");
  rejects('suite s\n  task t\n    zombie user:fob:init,bogus:\n', "bad.def:3:12: unknown child command 'bogus' (expected init, event, meter, label, wait, queue, abort, complete)");
  rejects('suite s\n  task t\n    zombie ecf:::\n', 'bad.def:3:12: a zombie needs an action or a lifetime');
  rejects('suite s\n  task t\n    zombie user\n', "bad.def:3:12: expected type:action:child_commands:lifetime, found 'user'");
  rejects('suite s\n  task t\n    zombie user:fob:init:abc\n', "bad.def:3:12: the zombie lifetime must be a number of seconds, found 'abc'");
  rejects('suite s\n  task t\n    zombie user:fob::\n    zombie user:fail::\n', 'bad.def:4:12: t already has a zombie of type user');
});

test('late -s: a task left submitted that long is flagged late; why shows it; a trigger on <flag>late frees its dependent; a requeue clears it', async () => {
  const h = new Harness(def(`suite s
  task a
    late -s +00:15
  task watch
    trigger a<flag>late
`), { start: DAY0 + 8 * H });
  h.rt.user({ verb: 'begin' });
  assert.deepEqual(h.submitted(), ['/s/a']);
  assert.match(h.rt.why('/s/watch').map((w) => w.detail).join('\n'), /a<flag>late is false \(\/s\/a has no late flag\)/);
  await h.clock.advance(14 * M);
  assert.equal(h.rt.node('/s/a')?.flags, undefined);
  await h.clock.advance(M);
  assert.deepEqual(h.rt.node('/s/a')?.flags, ['late']);
  assert.equal(h.state('/s/a'), 'submitted', 'late only sets a flag');
  assert.deepEqual(h.submitted(), ['/s/a', '/s/watch']);
  assert.ok(h.rt.why('/s/a').some((w) => w.kind === 'flag' && /is flagged late \(late -s \+00:15\)/.test(w.detail)), JSON.stringify(h.rt.why('/s/a')));
  assert.ok(h.steps.flat().some((n) => n.path === '/s/a' && n.flags?.includes('late')), 'the hooks see the flag (persisted, evented)');
  h.rt.user({ verb: 'kill', path: '/s/a' });
  h.rt.user({ verb: 'requeue', path: '/s/a', mode: 'all' });
  assert.equal(h.rt.node('/s/a')?.flags, undefined);
  h.rt.close();
});

test('late -a flags a task still queued or submitted at that time of day; -c +hh:mm one active too long; aspects inherit per aspect', async () => {
  const h = new Harness(def(`suite s
  late -a 09:00
  family f
    late -c +00:30
    task held
      trigger 1 == 0
    task runs
    task quick
      late -s +01:00
endsuite
`), { start: DAY0 + 8 * H });
  h.rt.user({ verb: 'begin' });
  h.init('/s/f/runs');
  h.finish('/s/f/quick');
  await h.clock.advance(29 * M);
  assert.equal(h.rt.node('/s/f/runs')?.flags, undefined);
  await h.clock.advance(M);
  assert.deepEqual(h.rt.node('/s/f/runs')?.flags, ['late'], 'active for 30 min (inherited -c +00:30)');
  assert.equal(h.rt.node('/s/f/held')?.flags, undefined);
  await h.clock.advance(30 * M);
  assert.deepEqual(h.rt.node('/s/f/held')?.flags, ['late'], 'still queued at 09:00 (the suite\'s -a)');
  assert.equal(h.rt.node('/s/f/quick')?.flags, undefined, 'complete in time');
  h.rt.close();

  // begun after the -a time: late at once
  const after = new Harness(def('suite s\n  task t\n    trigger 1 == 0\n    late -a 00:00\n'), { start: DAY0 + 8 * H });
  after.rt.user({ verb: 'begin' });
  assert.deepEqual(after.rt.node('/s/t')?.flags, ['late']);
  after.rt.close();
});

test('autocancel +hh:mm removes a complete family after the delay: gone from the tree, unknown to triggers, still removed after a restore', async () => {
  const text = `suite s
  family f
    autocancel +00:10
    task a
  endfamily
  family g
    task w
      trigger ../f == unknown
  endfamily
endsuite
`;
  const h = new Harness(def(text), { start: DAY0 + 8 * H });
  h.autoComplete((s) => s.path === '/s/f/a');
  h.rt.user({ verb: 'begin' });
  await settle();
  assert.equal(h.state('/s/f'), 'complete');
  await h.clock.advance(9 * M);
  assert.equal(h.state('/s/f'), 'complete');
  assert.deepEqual(h.submitted(), ['/s/f/a']);
  await h.clock.advance(M);
  assert.equal(h.rt.node('/s/f'), undefined);
  assert.equal(h.rt.node('/s/f/a'), undefined);
  assert.deepEqual(h.submitted(), ['/s/f/a', '/s/g/w']);
  assert.equal(h.state('/s'), 'submitted', 'the suite\'s state comes from what is left');
  const saved = [...h.rt.nodes()].map((n) => JSON.parse(JSON.stringify(n)) as typeof n);
  assert.ok(saved.some((n) => n.path === '/s/f' && n.removed));
  h.rt.close();

  const again = new Harness(def(text), { start: DAY0 + 9 * H });
  again.rt.restore(saved);
  assert.equal(again.rt.node('/s/f'), undefined);
  assert.equal(again.state('/s/g/w'), 'submitted');
  again.rt.close();
});

test('autocancel at a time of day, in days, and 0 (on the next wake, never in the completing step); a requeue before it is due keeps the node', async () => {
  const h = new Harness(def(`suite s
  task at
    autocancel 10:30
  task days
    autocancel 2
  task now
    autocancel 0
  task back
    autocancel +01:00
`), { start: DAY0 + 8 * H });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await settle();
  assert.equal(h.state('/s/now'), 'complete');
  await h.clock.advance(0);
  assert.equal(h.rt.node('/s/now'), undefined);
  await h.clock.advance(30 * M);
  h.autoComplete(() => false);
  h.rt.user({ verb: 'requeue', path: '/s/back', mode: 'all' });
  await h.clock.advance(2 * H);
  assert.equal(h.rt.node('/s/at'), undefined, 'removed at 10:30');
  assert.equal(h.state('/s/back'), 'submitted');
  assert.equal(h.state('/s/days'), 'complete');
  await h.clock.advance(2 * 24 * H);
  assert.equal(h.rt.node('/s/days'), undefined);
  h.rt.close();
});

test('clock: a gain moves the suite\'s time attributes and variables; a date starts the calendar at 00:00 of it; hybrid keeps the date', async () => {
  const h = new Harness(def(`suite gain
  clock real +01:00
  task t
    time 10:00
suite hyb
  clock hybrid 1.1.2020 +01:00
  task u
    time 01:30
  task v
    time 02:00
    date 2.1.2020
  task w
    time 03:00
    day wednesday
`), { start: DAY0 + 8 * H });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await h.clock.advance(30 * M);
  assert.deepEqual(h.log(), ['/hyb/u@08:30'], 'hybrid 1.1.2020 +01:00 is 01:00 at begin: its 01:30 comes half an hour later');
  await h.clock.advance(30 * M);
  assert.deepEqual(h.log().filter((x) => !x.startsWith('/hyb/w')), ['/hyb/u@08:30', '/gain/t@09:00'], 'a gain of an hour: 10:00 comes at the Clock\'s 09:00');
  const u = h.sub('/hyb/u').variables;
  assert.equal(u['ECF_DATE'], '20200101');
  assert.equal(u['ECF_TIME'], '01:30');
  assert.equal(h.sub('/gain/t').variables['ECF_TIME'], '10:00');
  assert.equal(h.sub('/gain/t').variables['ECF_DATE'], '20261203');
  // the hybrid suite's day stays 1.1.2020 (a Wednesday): date 2.1.2020 can never be, so it was complete at begin
  assert.equal(h.state('/hyb/v'), 'complete');
  assert.equal(h.rt.node('/hyb/v')?.reason, 'hybrid clock: not this day');
  await h.clock.advance(30 * H);
  assert.ok(!h.submitted().includes('/hyb/v'));
  assert.deepEqual(h.log().filter((x) => x.startsWith('/hyb/w')), ['/hyb/w@10:00'], 'day wednesday holds (the fixed day), and a day never requeues under hybrid');
  // the calendar survives a restore (a control-plane restart)
  const saved = [...h.rt.nodes()].map((n) => JSON.parse(JSON.stringify(n)) as typeof n);
  h.rt.close();
  const again = new Harness(h.def, { start: h.clock.now() });
  again.rt.restore(saved);
  again.rt.user({ verb: 'requeue', path: '/hyb/u', mode: 'all' });
  await again.clock.advance(24 * H);
  assert.equal(again.sub('/hyb/u').variables['ECF_DATE'], '20200101');
  again.rt.close();
});

test('queue: active hands out the steps in order, then <NULL>; complete and aborted mark them; no_of_aborted; reset; node:queue in a trigger', () => {
  const h = new Harness(def(`suite s
  family f
    queue q 1 2 3
    task t
    task after
      trigger t:q > 2 or ../f:q > 2
  endfamily
endsuite
`), { start: DAY0 });
  h.rt.user({ verb: 'begin' });
  h.init('/s/f/t');
  const q = (action: 'active' | 'complete' | 'aborted' | 'no_of_aborted' | 'reset', step?: string): WfChildResult =>
    h.send('/s/f/t', { verb: 'queue', name: 'q', action, ...(step !== undefined ? { step } : {}) });
  assert.deepEqual(q('active'), { ok: true, value: '1' });
  assert.deepEqual(q('complete', '1'), { ok: true });
  assert.ok(!h.submitted().includes('/s/f/after'), 'f:q is the next step, 2: not above 2');
  assert.deepEqual(q('active'), { ok: true, value: '2' });
  assert.ok(h.submitted().includes('/s/f/after'), 'f:q is 3 now');
  assert.deepEqual(q('aborted', '2'), { ok: true });
  assert.deepEqual(q('no_of_aborted'), { ok: true, value: '1' });
  assert.deepEqual(q('active'), { ok: true, value: '3' });
  assert.deepEqual(q('active'), { ok: true, value: '<NULL>' });
  assert.deepEqual(q('reset'), { ok: true });
  assert.deepEqual(q('active'), { ok: true, value: '2' }, 'reset goes back to the first queued or aborted step');
  assert.deepEqual(h.rt.node('/s/f')?.queues, { q: { index: 2, states: ['complete', 'active', 'active'] } });
  assert.equal((q('complete', '9') as { why: string }).why, 'queue q has no step 9');
  assert.match((h.send('/s/f/t', { verb: 'queue', name: 'nope', action: 'active' }) as { why: string }).why, /queue nope not found/);
  h.rt.close();
});

test('zombie attributes: fob answers ok, adopt takes the caller\'s password, kill kills the caller\'s try, block holds the answer for the lifetime; the zombie flag', async () => {
  const h = new Harness(def(`suite s
  task fobbed
    zombie ecf_passwd:fob:event:
  task adopted
    zombie ecf_passwd:adopt::
  task killed
    zombie user:kill::
  task blocked
    zombie ecf:block::120
  task plain
  task watch
    trigger plain<flag>zombie
`), { start: DAY0 });
  h.rt.user({ verb: 'begin' });
  for (const t of ['fobbed', 'adopted', 'killed', 'blocked', 'plain']) h.init(`/s/${t}`);
  const wrong = (path: string): { workflow: string; path: string; password: string; tryNo: number } => ({ ...h.id(path), password: 'wrong' });

  // fob only for the listed command
  assert.deepEqual(h.rt.child(wrong('/s/fobbed'), { verb: 'event', name: 'x', value: true }), { ok: true });
  const r1 = h.rt.child(wrong('/s/fobbed'), { verb: 'complete' }) as WfChildResult;
  assert.equal(r1.ok, false);
  assert.equal(h.state('/s/fobbed'), 'active');

  // adopt: the command applies, and the try now has the caller's password
  assert.deepEqual(h.rt.child(wrong('/s/adopted'), { verb: 'complete' }), { ok: true });
  assert.equal(h.state('/s/adopted'), 'complete');

  // kill: a user zombie (the task was forced complete) has its try killed
  h.rt.user({ verb: 'force', path: '/s/killed', state: 'complete' });
  const r2 = h.rt.child(h.id('/s/killed'), { verb: 'complete' }) as WfChildResult;
  assert.equal(r2.ok, false);
  assert.deepEqual(h.kills, [{ path: '/s/killed', tryNo: 1 }]);

  // block: the answer comes after the lifetime, on the clock
  h.complete('/s/blocked');
  const held = h.rt.child(h.id('/s/blocked'), { verb: 'complete' });
  assert.ok(held instanceof Promise);
  let answered = undefined as WfChildResult | undefined;
  void held.then((r) => { answered = r; });
  await h.clock.advance(119_000);
  assert.equal(answered, undefined);
  await h.clock.advance(1000);
  assert.equal((answered as WfChildResult | undefined)?.ok, false);

  // no attribute: refused, audited, and the task's zombie flag frees what waits on it
  const r3 = h.rt.child(wrong('/s/plain'), { verb: 'meter', name: 'm', value: 1 }) as WfChildResult;
  assert.deepEqual(r3, { ok: false, zombie: true, why: 'wrong password for /s/plain' });
  assert.deepEqual(h.rt.node('/s/plain')?.flags, ['zombie']);
  assert.ok(h.submitted().includes('/s/watch'));
  assert.ok(h.zombies.some((z) => z.identity.path === '/s/plain' && /ecf_passwd zombie/.test(z.why)), JSON.stringify(h.zombies));
  assert.ok(h.zombies.some((z) => /adopted/.test(z.why)));
  h.rt.close();
});

test('ECF_SCRIPT_CMD and ECF_FETCH: refused unless the server allows them; their output is the script, preprocessed; a failing command names itself', async () => {
  const files = new Map([['/inc/head.h', 'echo head %TASK%']]);
  const sub = (vars: Record<string, string>): WfSubmission => ({ workflow: 'wf', path: '/s/f/t', tryNo: 1, password: 'pw', variables: { TASK: 't', ECF_INCLUDE: '/inc', ECF_HOME: '/h', ECF_SCRIPT: '/h/s/f/t.ecf', ...vars } });
  const ran: string[] = [];
  const fake: CommandRunner = async (command) => {
    ran.push(command);
    if (command.startsWith('fail')) return { code: 3, stdout: '', stderr: 'no such file\n' };
    if (command.endsWith(' -i head.h')) return { code: 0, stdout: 'echo fetched head %TASK%\n', stderr: '' };
    return { code: 0, stdout: '%include <head.h>\necho body %TASK%\n', stderr: '' };
  };
  // without --allow-script-commands
  await assert.rejects(Promise.resolve(scriptJobText(sub({ ECF_SCRIPT_CMD: 'cat /x/%TASK%.ecf' }), files)),
    /\/s\/f\/t: ECF_SCRIPT_CMD 'cat \/x\/t\.ecf': script commands are off on this server .*--allow-script-commands/);
  const on = { allowed: true, run: fake };
  assert.equal(await scriptJobText(sub({ ECF_SCRIPT_CMD: 'cat /x/%TASK%.ecf' }), files, on), 'echo head t\necho body t\n');
  // ECF_FETCH fetches the includes too (-i), not from the uploaded files
  assert.equal(await scriptJobText(sub({ ECF_FETCH: 'fetcher --from /x' }), files, on), 'echo fetched head t\necho body t\n');
  assert.deepEqual(ran, ['cat /x/t.ecf', 'fetcher --from /x -s t.ecf', 'fetcher --from /x -i head.h']);
  await assert.rejects(Promise.resolve(scriptJobText(sub({ ECF_SCRIPT_CMD: 'fail now' }), files, on)),
    (e: unknown) => e instanceof NubisError && e.code === 'JOB_CREATION_FAILED' && e.message === "/s/f/t: ECF_SCRIPT_CMD 'fail now' failed with exit code 3: no such file");
  // an uploaded ECF_SCRIPT comes first, as in ecFlow
  const withFile = new Map([...files, ['/h/s/f/t.ecf', 'echo file']]);
  assert.equal(scriptJobText(sub({ ECF_SCRIPT_CMD: 'cat x' }), withFile, on), 'echo file\n');
  // the real runner: /bin/sh -c on this host
  const real = { allowed: true, run: shellRunner };
  assert.equal(await scriptJobText(sub({ ECF_SCRIPT_CMD: "printf 'echo %%%%TASK%%%%\\n'" }), files, real), 'echo t\n');
  await assert.rejects(Promise.resolve(scriptJobText(sub({ ECF_SCRIPT_CMD: 'echo oops >&2; exit 4' }), files, real)), /failed with exit code 4: oops/);
});

test('ECF_FETCH with includes: each distinct include (nested ones too) fetched once with -i <name>, by a real fetch program; a failed include fetch fails the try', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nubis-fetch-'));
  try {
    const log = path.join(dir, 'calls');
    const fetcher = path.join(dir, 'fetch.sh');
    // a fetch program as ecFlow documents it: -s <task>.ecf prints the script, -i <name> an include
    writeFileSync(fetcher, [
      '#!/bin/sh',
      `echo "$*" >> '${log}'`,
      'case "$1 $2" in',
      '  "-s t.ecf") printf \'%%include <head.h>\\necho body %%TASK%%\\n%%include "tail.h"\\n%%include <head.h>\\n\' ;;',
      '  "-i head.h") printf \'%%includeonce <env.h>\\necho head\\n\' ;;',
      '  "-i env.h") printf \'export X=%%X:1%%\\n\' ;;',
      '  "-i tail.h") printf \'echo tail\\n\' ;;',
      '  *) echo "no $2" >&2; exit 2 ;;',
      'esac',
      '',
    ].join('\n'), { mode: 0o755 });
    const sub = (vars: Record<string, string>): WfSubmission => ({ workflow: 'wf', path: '/s/f/t', tryNo: 1, password: 'pw', variables: { TASK: 't', ECF_HOME: '/h', ...vars } });
    const real = { allowed: true, run: shellRunner };
    const text = await scriptJobText(sub({ ECF_FETCH: fetcher }), new Map(), real);
    assert.equal(text, 'export X=1\necho head\necho body t\necho tail\necho head\n');
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['-s t.ecf', '-i head.h', '-i tail.h', '-i env.h']);
    // an include the fetcher does not have: the try fails naming the command and its stderr
    writeFileSync(fetcher, `#!/bin/sh\ncase "$1" in -s) printf '%%include <gone.h>\\n' ;; *) echo "no $2" >&2; exit 2 ;; esac\n`, { mode: 0o755 });
    await assert.rejects(Promise.resolve(scriptJobText(sub({ ECF_FETCH: fetcher }), new Map(), real)),
      (e: unknown) => e instanceof NubisError && e.code === 'JOB_CREATION_FAILED' && e.message === `/s/f/t: ECF_FETCH '${fetcher} -i gone.h' failed with exit code 2: no gone.h`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nubis workflow status shows a node\'s flags in the tree', () => {
  const leaf = { name: 't', path: '/s/t', kind: 'task', state: 'submitted', suspended: false, tryNo: 1, flags: ['late'], children: [] };
  const text = formatTree(createStyle(false), {
    name: 's', status: 'begun', file: 's.def', version: 1, state: 'submitted',
    progress: { tasks: 1, complete: 0, aborted: 0, queued: 0, running: 1, active: ['/s/t'] },
    tree: { name: 's', path: '/', kind: 'workflow', state: 'submitted', suspended: false, children: [{ name: 's', path: '/s', kind: 'suite', state: 'submitted', suspended: false, children: [leaf] }] },
  });
  assert.match(text, /\n\s+t\s+submitted\s+flag:late {2}try 1$/);
});
