/**
 * .def files (issue 9, item 6): the ecFlow 5.9 grammar into the model, the Nubis extras (pools,
 * actions), checks (unknown nodes, cycles, limits), export back to .def that re-parses to the
 * same definition, and bad input rejected with file:line:col and nothing returned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NubisError } from '../../src/errors/index.js';
import { parseDef, parseExpression, parseWorkflowYaml, printDef, stripLocs, type Expr, type WfDefinition, type WfNodeDef } from '../../src/workflows/index.js';
import { ROOT } from '../helpers/processes.js';
import { rng as prng } from './workflows-scheduler-helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/workflows');
const read = (f: string): string => fs.readFileSync(path.join(FIX, f), 'utf8');

/** The definition as plain data without source locations. */
function plain(def: WfDefinition): unknown {
  return JSON.parse(JSON.stringify(def, (k, v: unknown) => (k === 'loc' ? undefined : v)));
}

function find(def: WfDefinition, p: string): WfNodeDef {
  const segs = p.split('/').filter(Boolean);
  let list = def.suites;
  let n: WfNodeDef | undefined;
  for (const s of segs) {
    n = list.find((x) => x.name === s);
    assert.ok(n, `no node ${p}`);
    list = n.children;
  }
  return n!;
}

test('the FMI post-processing suite loads: families, limits, inlimits, repeats, time/cron/date, events/meters/labels, triggers, pools, actions', () => {
  const def = parseDef(read('fmi_postproc.def'), 'fmi_postproc.def');
  assert.equal(def.name, 'fmi_pp');
  assert.deepEqual(def.externs, ['/obs/ingest:arrived']);
  assert.deepEqual(def.pools.map((p) => ({ ...p, loc: undefined })), [{
    name: 'compute', deployment: 'postproc', component: 'compute', slots: 4, readyBy: '02:40',
    autoscale: { min: 0, max: 8, jobsPerNode: 4, cooldownMs: 120_000 }, loc: undefined,
  }]);
  assert.deepEqual(def.pools[0]!.loc, { file: 'fmi_postproc.def', line: 4, col: 1 });
  const s = def.suites[0]!;
  assert.deepEqual(s.variables, [
    { name: 'ECF_HOME', value: '/var/nubis/fmi_pp' },
    { name: 'ECF_INCLUDE', value: '/var/nubis/include:/usr/share/nubis/include' },
    { name: 'ECF_FILES', value: '/var/nubis/fmi_pp/files' },
    { name: 'ECF_TRIES', value: '2' },
    { name: 'MODEL', value: 'harmonie' },
  ]);
  assert.deepEqual(s.limits, [{ name: 'transfers', tokens: 2 }, { name: 'compute', tokens: 16 }]);
  assert.equal(s.defstatus, 'suspended');
  assert.deepEqual(s.repeat, { kind: 'date', name: 'YMD', start: 20261201, end: 20261231, step: 1 });
  assert.deepEqual(find(def, '/fmi_pp/control/start_main').action, { verb: 'start', deployment: 'postproc', component: 'main' });
  assert.deepEqual(find(def, '/fmi_pp/control/start_main').variables, []);
  assert.deepEqual(find(def, '/fmi_pp/control/start_main').times, [{ relative: false, start: { h: 1, m: 30 } }]);
  assert.deepEqual(find(def, '/fmi_pp/control/provision').action, { verb: 'scale', deployment: 'postproc', component: 'compute', count: 4 });
  assert.deepEqual(find(def, '/fmi_pp/control/provision').labels, [{ name: 'plan', value: 'waiting' }]);
  const cycle = find(def, '/fmi_pp/cycle');
  assert.deepEqual(cycle.repeat, { kind: 'enumerated', name: 'HH', values: ['00', '06', '12', '18'] });
  assert.deepEqual(cycle.variables, [{ name: 'NUBIS_POOL', value: 'compute' }]);
  const wait = find(def, '/fmi_pp/cycle/receive/wait_raw');
  assert.deepEqual(wait.events, [{ name: 'raw_ready', number: 1, initial: false }, { name: 'partial', initial: true }]);
  assert.deepEqual(wait.meters, [{ name: 'files', min: 0, max: 100, threshold: 90 }]);
  assert.deepEqual(wait.labels, [{ name: 'source', value: '' }]);
  assert.deepEqual(wait.todays, [{ relative: true, start: { h: 0, m: 5 } }]);
  assert.equal(wait.trigger?.text, '/obs/ingest:arrived or /fmi_pp/control/provision == complete');
  assert.deepEqual(wait.trigger?.loc, { file: 'fmi_postproc.def', line: 33, col: 17 });
  assert.deepEqual(find(def, '/fmi_pp/cycle/receive/check').complete?.text, 'wait_raw == aborted');
  assert.deepEqual(find(def, '/fmi_pp/cycle/process').inlimits, [{ name: 'compute', tokens: 1, nodeOnly: false, submissionOnly: false }]);
  assert.deepEqual(find(def, '/fmi_pp/cycle/process/chunks').inlimits, [{ path: '/fmi_pp', name: 'compute', tokens: 2, nodeOnly: true, submissionOnly: false }]);
  assert.deepEqual(find(def, '/fmi_pp/cycle/transfer').inlimits, [{ name: 'transfers', tokens: 1, nodeOnly: false, submissionOnly: true }]);
  assert.deepEqual(find(def, '/fmi_pp/cycle/process/chunks/chunk_001').repeat, { kind: 'integer', name: 'STEP', start: 0, end: 48, step: 3 });
  // -a / -o continuations are joined as ecFlow does: text concatenated, then parsed as a whole
  const c3 = find(def, '/fmi_pp/cycle/process/chunks/chunk_003').trigger!;
  assert.equal(c3.text, 'chunk_002 eq complete AND (chunk_001 == complete) OR ../../../control/start_main == aborted');
  const cmp = (p: string, value: 'complete' | 'aborted'): Expr => ({ kind: 'compare', op: '==', left: { kind: 'ref', path: p }, right: { kind: 'state', value } });
  assert.deepEqual(stripLocs(c3.expr), { kind: 'logic', op: 'or', left: { kind: 'logic', op: 'and', left: cmp('chunk_002', 'complete'), right: cmp('chunk_001', 'complete') }, right: cmp('../../../control/start_main', 'aborted') });
  const merge = find(def, '/fmi_pp/cycle/process/merge');
  assert.deepEqual(merge.crons, [
    { weekDays: [1, 2, 3, 4, 5], lastWeekDays: [], monthDays: [1, 15], lastDayOfMonth: true, months: [1, 6, 12], time: { relative: false, start: { h: 10, m: 0 }, end: { h: 20, m: 0 }, step: { h: 1, m: 0 } } },
    { weekDays: [], lastWeekDays: [5], monthDays: [], lastDayOfMonth: false, months: [], time: { relative: false, start: { h: 23, m: 30 } } },
  ]);
  const up = find(def, '/fmi_pp/cycle/transfer/upload');
  assert.deepEqual(up.times, [{ relative: false, start: { h: 3, m: 0 }, end: { h: 5, m: 0 }, step: { h: 0, m: 30 } }, { relative: false, start: { h: 15, m: 0 } }]);
  assert.deepEqual(up.dates, [{ day: 1 }, { month: 12, year: 2026 }]);
  assert.deepEqual(up.days, ['monday', 'friday']);
  assert.deepEqual(up.variables, [{ name: 'DEST', value: 'ftp://archive.fmi.example/%YMD%/%HH%' }]);
  const notify = find(def, '/fmi_pp/cycle/transfer/notify');
  assert.equal(notify.defstatus, 'queued');
  assert.deepEqual(notify.repeat, { kind: 'string', name: 'TARGET', values: ['alpha', 'beta', 'gamma ray'] });
  assert.deepEqual(notify.labels, [{ name: 'status', value: 'sent to \\"ops\\"' }]);
  assert.deepEqual(find(def, '/fmi_pp/teardown/destroy').action, { verb: 'destroyPool', pool: 'compute' });
  assert.deepEqual(find(def, '/fmi_pp/teardown/wait_idle').action, { verb: 'waitMetric', query: 'avg(cpu{component=main})', op: '<', threshold: 5 });
  assert.deepEqual(find(def, '/fmi_pp/teardown/backup').action, { verb: 'backup', deployment: 'postproc', component: 'main' });
  assert.deepEqual(find(def, '/fmi_pp/teardown/stop_main').repeat, { kind: 'datelist', name: 'D', dates: [20261201, 20261215] });
  assert.deepEqual(find(def, '/fmi_pp/teardown/weekly').repeat, { kind: 'day', step: 1 });
  assert.equal(find(def, '/fmi_pp/teardown').children.length, 5);
});

test('end markers are optional; two suites; the name is the first suite', () => {
  const def = parseDef(read('second_suite.def'), 'second_suite.def');
  assert.equal(def.name, 'one');
  assert.deepEqual(def.suites.map((s) => s.name), ['one', 'two']);
  assert.deepEqual(find(def, '/one/f').children.map((c) => c.name), ['t1', 't2']);
  assert.deepEqual(find(def, '/two/y').meters, [{ name: 'm', min: -10, max: 10 }]);
  assert.deepEqual(find(def, '/two/x').times, [{ relative: true, start: { h: 1, m: 0 } }]);
});

for (const f of ['fmi_postproc.def', 'small.def', 'second_suite.def']) {
  test(`round trip: ${f} → printDef → parseDef gives the same definition, and printing again the same text`, () => {
    const def = parseDef(read(f), f);
    const text = printDef(def);
    const back = parseDef(text, 'exported.def');
    assert.deepEqual(plain(back), plain(def));
    assert.equal(printDef(back), text);
  });
}

function rejects(text: string, message: string): void {
  let got: unknown;
  assert.throws(() => { got = parseDef(text, 'bad.def'); }, (e: unknown) => {
    assert.ok(e instanceof NubisError, String(e));
    assert.equal(e.code, 'WORKFLOW_INVALID');
    assert.equal(e.message, message);
    return true;
  });
  assert.equal(got, undefined, 'nothing is returned');
}

test('bad input: unknown attribute and unsupported constructs name the construct at file:line:col', () => {
  rejects('suite s\n  task t\n    colour red\n', "bad.def:3:5: unknown keyword 'colour' is not supported");
  rejects('suite s\n  task t\n    verify complete:3\n', 'bad.def:3:5: verify is not supported');
  rejects('suite s\n  aviso --name x\n', 'bad.def:2:3: aviso is not supported');
  rejects('suite s\n  repeat month 2\n', 'bad.def:2:10: repeat month is not supported');
  rejects('suite s\n  task t\n    time 25:00\n', "bad.def:3:10: expected a time hh:mm, found '25:00' (out of range)");
  rejects('suite s\n  task t\n    cron -x 1 10:00\n', "bad.def:3:10: unknown cron option '-x' (expected -w, -d or -m)");
  rejects('suite s\n  task t\n    cron -w 7 10:00\n', "bad.def:3:13: expected week days 0..6 (L for the month's last), found '7'");
  rejects('suite s\n  task t\n    repeat date YMD 20260230 20260301\n', "bad.def:3:21: expected a date yyyymmdd, found '20260230' (no such day)");
  rejects('suite s\n  task t\n    meter m 0\n', 'bad.def:3:14: expected the maximum (an integer)');
  rejects('suite s\n  task t\n    edit X\n', 'bad.def:3:11: expected a value');
  rejects('suite s\n  task t\n    edit X \'abc\n', 'bad.def:3:12: unterminated single quote');
  rejects('task t\n', 'bad.def:1:1: task outside a suite');
  rejects('suite s\n  endfamily\n', 'bad.def:2:3: endfamily without an open family');
  rejects('# nothing\n', 'bad.def:1:1: expected a suite');
  rejects('suite s\n  trigger a == complete\n', 'bad.def:2:3: trigger is not allowed on a suite');
  rejects('suite s\n  task a\n  task b\n    trigger a == complete\n    trigger a == aborted\n', 'bad.def:5:5: a second trigger line must start with -a or -o');
  rejects('suite s\n  family f\n    edit NUBIS_ACTION \'start d c\'\n', 'bad.def:3:10: NUBIS_ACTION is only allowed on a task');
  rejects('suite s\n  task t\n    edit NUBIS_ACTION \'scale d c many\'\n', 'bad.def:3:34: expected a count (an unsigned integer)');
  rejects('suite s\n  task t\n    edit NUBIS_ACTION \'launch d c\'\n', "bad.def:3:24: expected an action verb (start, stop, scale, destroyPool, waitMetric, backup, operation), found 'launch'");
  rejects('suite s\n  task t\n    edit NUBIS_ACTION \'scale @gpu 2\'\n', "bad.def:3:30: no pool gpu (declare it on the suite with `edit NUBIS_POOL_gpu '<deployment>/<component> slots=N'`)");
  rejects('suite s\n  edit NUBIS_POOL gpu\n  task t\n', "bad.def:2:19: NUBIS_POOL 'gpu' names no pool (declare it on the suite with `edit NUBIS_POOL_gpu '<deployment>/<component> slots=N'`)");
  rejects('# nubis:pool p deployment=d\nsuite s\n', 'bad.def:1:28: pool p needs component=…');
  rejects('# nubis:pool p deployment=d component=c size=3\nsuite s\n', "bad.def:1:41: unknown pool setting 'size' (expected deployment, component, slots, readyBy, autoscale, jobsPerNode, cooldown)");
});

test('bad input: an expression that does not parse points at the offending token', () => {
  rejects('suite s\n  task a\n  task b\n    trigger a == complete and\n', 'bad.def:4:30: expected an operand, found end of expression');
  rejects('suite s\n  task a\n  task b\n    trigger (a == complete # unbalanced\n', "bad.def:4:27: expected ')', found end of expression");
  rejects('suite s\n  task a\n  task b\n    trigger a == complete\n    trigger -a a eq\n', 'bad.def:5:20: expected an operand, found end of expression');
  rejects('suite s\n  task a\n  task b\n    complete a = complete\n', "bad.def:4:16: expected an operator or the end of the expression, found '='");
});

test('bad input: a trigger naming a missing node, or going above the suite; an extern allows it', () => {
  rejects('suite s\n  family f\n    task a\n    task b\n      trigger a == complete and x:ev\n', 'bad.def:5:33: the trigger of /s/f/b names x (/s/f/x), which does not exist (add an extern if it is defined elsewhere)');
  rejects('suite s\n  task a\n    complete /s/nope == complete\n', 'bad.def:3:14: the complete of /s/a names /s/nope, which does not exist (add an extern if it is defined elsewhere)');
  rejects('suite s\n  family f\n    trigger ../x == complete\n', 'bad.def:3:13: the trigger of /s/f names ../x (/x), which does not exist (add an extern if it is defined elsewhere)');
  rejects('suite s\n  family f\n    trigger ../../x == complete\n', 'bad.def:3:13: ../../x in the trigger of /s/f goes above the root');
  // as in ecFlow: `..` from a suite's level reaches the other suites; `a/b` is looked for below the parent, then below the node
  const rel = parseDef('suite o\n  task t\nsuite s\n  family f\n    trigger ../o/t == complete\n    complete g/u == complete\n    family g\n      task u\n', 'rel.def');
  assert.equal(rel.suites[1]!.children[0]!.complete?.text, 'g/u == complete');
  const ok = parseDef('extern /other/f:ev\nextern /other/f/t\nsuite s\n  task a\n    trigger /other/f/t == complete or /other/f:ev\n', 'ok.def');
  assert.equal(ok.suites[0]!.children[0]!.trigger?.text, '/other/f/t == complete or /other/f:ev');
});

test('bad input: trigger cycles are reported with their path', () => {
  rejects('suite s\n  task a\n    trigger b == complete\n  task b\n    trigger a == complete\n', 'bad.def:3:13: trigger cycle: /s/a → /s/b → /s/a');
  rejects('suite s\n  task a\n    trigger c:ev\n  task b\n    trigger a == complete\n  task c\n    trigger b == complete and a:x == 1\n',
    'bad.def:3:13: trigger cycle: /s/a → /s/c → /s/b → /s/a');
  // through families: a family waits for a task that waits inside it
  rejects('suite s\n  family f\n    trigger g == complete\n    task t\n  endfamily\n  family g\n    task u\n      trigger ../f/t == complete\n',
    'bad.def:3:13: trigger cycle: /s/f → /s/g → /s/g/u → /s/f/t → /s/f');
  rejects('suite s\n  family f\n    task t\n      trigger .. == complete\n', 'bad.def:4:15: the trigger of /s/f/t names .., which does not exist (add an extern if it is defined elsewhere)');
  rejects('suite s\n  family f\n    task t\n      trigger ../f == complete\n', 'bad.def:4:15: trigger cycle: /s/f/t → /s/f → /s/f/t');
  // not cycles: one side of an or, a negation, an aborted state
  parseDef('suite s\n  task a\n    trigger b == complete or x == complete\n  task b\n    trigger a == complete\n  task x\n', 'ok.def');
  parseDef('suite s\n  task a\n    trigger b != complete\n  task b\n    trigger a == complete\n', 'ok.def');
  parseDef('suite s\n  task a\n    trigger b == aborted\n  task b\n    trigger not (a == complete)\n', 'ok.def');
});

test('bad input: duplicates and inlimits naming no limit', () => {
  rejects('suite s\n  task a\n  task a\n', "bad.def:3:3: duplicate task name 'a' under /s");
  rejects('suite s\n  task a\n    event e\n    event e\n', "bad.def:4:5: duplicate event 'e' on /s/a");
  rejects('suite s\n  family f\n    inlimit lim\n', 'bad.def:3:5: inlimit lim on /s/f: no limit lim on it or an ancestor');
  rejects('suite s\n  limit other 1\n  task t\n    inlimit /s:lim\n', 'bad.def:4:5: inlimit /s:lim on /s/t: /s has no limit lim');
  rejects('suite s\n  task t\n    inlimit /x:lim\n', 'bad.def:3:5: inlimit /x:lim on /s/t: /x does not exist');
  rejects('# nubis:pool p deployment=d component=c\n# nubis:pool p deployment=d component=c\nsuite s\n', 'bad.def:2:14: pool p is declared twice');
});

test('variables: quotes of either kind, a later edit replaces an earlier one, comments after values', () => {
  const def = parseDef([
    'suite s # begun:1 state:queued',
    "  edit A 'it's here'",
    '  edit B "say \'hi\'"  # comment',
    '  edit C plain words # comment',
    '  edit A again',
    "  edit D ''",
    '  edit E "a # not a comment"',
    '  task t ; ',
  ].join('\n').replace(' ; ', ''), 'v.def');
  assert.deepEqual(def.suites[0]!.variables, [
    { name: 'A', value: 'again' }, { name: 'B', value: "say 'hi'" }, { name: 'C', value: 'plain words' },
    { name: 'D', value: '' }, { name: 'E', value: 'a # not a comment' },
  ]);
  assert.deepEqual(plain(parseDef(printDef(def), 'v2.def')), plain(def));
});

test('a 10,000-task suite (a chain in each family, families chained) parses, checks and prints', () => {
  const lines = ['suite big', '  limit l 8'];
  for (let f = 0; f < 100; f++) {
    lines.push(`  family f${f}`, '    inlimit l');
    if (f > 0) lines.push(`    trigger f${f - 1} == complete`);
    for (let t = 0; t < 100; t++) lines.push(`    task t${t}`, ...(t > 0 ? [`      trigger t${t - 1} == complete`] : []), '      event e', '      meter m 0 10');
    lines.push('  endfamily');
  }
  const def = parseDef(lines.join('\n'), 'big.def');
  assert.equal(def.suites[0]!.children.length, 100);
  assert.ok(printDef(def).length > 100_000);
});

// --- the YAML form --------------------------------------------------------------------------

test('YAML: small.yaml is the same definition as small.def', () => {
  assert.deepEqual(plain(parseWorkflowYaml(read('small.yaml'), 'small.yaml')), plain(parseDef(read('small.def'), 'small.def')));
});

test('YAML: the FMI workflow loads, exports to .def and re-parses to the same definition (server variables aside)', () => {
  const def = parseWorkflowYaml(read('fmi_postproc.yaml'), 'fmi_postproc.yaml');
  assert.equal(def.name, 'fmi');
  assert.deepEqual(def.variables, [{ name: 'ECF_HOME', value: '/var/nubis/fmi_pp' }]);
  assert.deepEqual(def.pools[0]!.autoscale, { min: 0, max: 8, jobsPerNode: 4, cooldownMs: 120_000 });
  assert.deepEqual(def.pools[0]!.loc, { file: 'fmi_postproc.yaml', line: 7, col: 5 });
  assert.deepEqual(find(def, '/fmi_pp').variables, [{ name: 'ECF_INCLUDE', value: '/var/nubis/include' }, { name: 'ECF_TRIES', value: '2' }]);
  assert.deepEqual(find(def, '/fmi_pp/cycle').variables, [{ name: 'NUBIS_POOL', value: 'compute' }]);
  assert.deepEqual(find(def, '/fmi_pp/cycle').repeat, { kind: 'enumerated', name: 'HH', values: ['00', '06', '12', '18'] });
  assert.deepEqual(find(def, '/fmi_pp/control/provision').action, { verb: 'scale', deployment: 'postproc', component: 'compute', count: 4 });
  assert.deepEqual(find(def, '/fmi_pp/cycle/process').inlimits, [
    { name: 'compute', tokens: 1, nodeOnly: false, submissionOnly: false },
    { path: '/fmi_pp', name: 'transfers', tokens: 2, nodeOnly: true, submissionOnly: true },
  ]);
  const c2 = find(def, '/fmi_pp/cycle/process/chunk_002');
  assert.equal(c2.trigger!.text, 'chunk_001:progress >= 24 OR ../receive/wait_raw:raw_ready AND ../../control/start_main == complete');
  assert.deepEqual(c2.trigger!.loc, { file: 'fmi_postproc.yaml', line: 51, col: 21 });
  assert.equal(c2.crons.length, 2);
  assert.deepEqual(find(def, '/fmi_pp/cycle/receive/wait_raw').events, [{ name: 'raw_ready', number: 1, initial: false }, { name: 'partial', initial: true }]);
  assert.deepEqual(find(def, '/fmi_pp/teardown/wait_idle').action, { verb: 'waitMetric', query: 'avg(cpu{component=main})', op: '<', threshold: 5 });
  const back = parseDef(printDef(def), 'exported.def');
  assert.deepEqual(plain({ ...back, name: 'fmi', variables: def.variables }), plain(def));
});

function yamlRejects(text: string, message: string): void {
  let got: unknown;
  assert.throws(() => { got = parseWorkflowYaml(text, 'wf.yaml'); }, (e: unknown) => {
    assert.ok(e instanceof NubisError, String(e));
    assert.equal(e.code, 'WORKFLOW_INVALID');
    assert.equal(e.message, message);
    return true;
  });
  assert.equal(got, undefined);
}

test('YAML: bad input is rejected at file:line:col with its JSON path', () => {
  yamlRejects('suites:\n  - suite: s\n    colour: red\n', "wf.yaml:3:5: suites[0].colour: unknown key 'colour' is not supported");
  yamlRejects('suites:\n  - suite: s\n    children:\n      - task: t\n        time: "25:00"\n', "wf.yaml:5:16: suites[0].children[0].time: expected a time hh:mm, found '25:00' (out of range)");
  yamlRejects('suites:\n  - suite: s\n    children:\n      - task: a\n      - task: b\n        trigger: a == complete and\n', 'wf.yaml:6:35: expected an operand, found end of expression');
  yamlRejects('suites:\n  - suite: s\n    children:\n      - task: a\n        trigger: b == complete\n      - task: b\n        trigger: a == complete\n', 'wf.yaml:5:18: trigger cycle: /s/a → /s/b → /s/a');
  yamlRejects('suites:\n  - suite: s\n    children:\n      - task: a\n        trigger: ghost == complete\n', 'wf.yaml:5:18: the trigger of /s/a names ghost (/s/ghost), which does not exist (add an extern if it is defined elsewhere)');
  yamlRejects('suites:\n  - family: f\n', 'wf.yaml:2:5: suites[0].family: a family is not allowed here (expected suite)');
  yamlRejects('suites: [\n', 'wf.yaml:2:1: $: invalid YAML (Flow sequence in block collection must be sufficiently indented and end with a ])');
  yamlRejects('name: x\n', 'wf.yaml:1:1: suites: expected a list of at least one suite');
  yamlRejects('suites:\n  - suite: s\n    edit:\n      A: |\n        two\n        lines\n', 'wf.yaml:4:10: suites[0].edit.A: a value with a line break cannot be written in a .def file');
  yamlRejects('suites:\n  - suite: s\n    children:\n      - task: t\n        action: scale d c lots\n', 'wf.yaml:5:27: suites[0].children[0].action: expected a count (an unsigned integer)');
});

test('ecFlow forms: several statements on a line, a trigger continued with \\, /<flag>late, a relative cron, relative inlimit paths', () => {
  const def = parseDef([
    'extern /x/y;extern /limits:c1',
    'suite s; edit A "a;b"; limit disk 2',
    '  family f; task t;meter step 0 6 3;task tt;complete t:step ge 1;trigger t == complete',
    '  endfamily',
    '  family g',
    '    limit lim 1',
    '    task a',
    '      trigger ../f/t == complete and \\',
    '              ../f/tt == complete or\\',
    '              /<flag>late  # the defs flag',
    '      cron +00:00 23:59 00:01',
    '    task b',
    '      inlimit ../g:lim',
    '      inlimit ../../s:disk',
    '      inlimit /limits:c1',
    '  endfamily',
    'endsuite',
  ].join('\n'), 'forms.def');
  assert.deepEqual(find(def, '/s').variables, [{ name: 'A', value: 'a;b' }]);
  assert.deepEqual(find(def, '/s/f').children.map((c) => c.name), ['t', 'tt']);
  assert.equal(find(def, '/s/f/tt').complete?.text, 't:step ge 1');
  assert.equal(find(def, '/s/f/tt').trigger?.text, 't == complete');
  assert.deepEqual(find(def, '/s/f/tt').trigger?.loc, { file: 'forms.def', line: 3, col: 74 });
  const a = find(def, '/s/g/a');
  assert.equal(a.trigger?.text, '../f/t == complete and ../f/tt == complete or /<flag>late');
  const e = a.trigger!.expr;
  assert.ok(e.kind === 'logic' && e.op === 'or' && e.right.kind === 'flag');
  assert.deepEqual(e.right.loc, { file: 'forms.def', line: 10, col: 15 });
  assert.deepEqual(a.crons[0]!.time, { relative: true, start: { h: 0, m: 0 }, end: { h: 23, m: 59 }, step: { h: 0, m: 1 } });
  assert.deepEqual(find(def, '/s/g/b').inlimits.map((l) => l.path), ['../g', '../../s', '/limits']);
  assert.deepEqual(plain(parseDef(printDef(def), 'again.def')), plain(def));
  rejects('suite s\n  task a\n    trigger a:e and \\\n      b == \n', 'bad.def:4:11: expected an operand, found end of expression');
});

test('bad input ecFlow rejects too: bare node paths, repeat with cron, time on a suite, thresholds, steps, duplicates, empty values', () => {
  rejects('suite s\n  task a\n  task b\n    trigger a\n', 'bad.def:4:13: a in the trigger of /s/b must be compared with a state (a == complete)');
  rejects('suite s\n  task a\n  task b\n    trigger a:e and (a < complete)\n', 'bad.def:4:22: a in the trigger of /s/b must be compared with a state (a == complete)');
  rejects('suite s\n  family f\n    repeat integer N 0 3\n    cron 23:00\n', 'bad.def:2:3: /s/f has both a repeat and a cron (a cron already repeats the node)');
  rejects('suite s\n  time 19:00\n', 'bad.def:2:3: time is not allowed on a suite');
  rejects('suite s\n  day monday\n', 'bad.def:2:3: day is not allowed on a suite');
  rejects('suite s\n  task t\n    meter m 0 100 200\n', 'bad.def:3:19: the threshold is outside min..max');
  rejects('suite s\n  repeat date YMD 20091001 20090901 1\n', 'bad.def:2:37: the step goes away from the end');
  rejects('suite s\n  task t\n    repeat integer I 0 10 -1\n', 'bad.def:3:27: the step goes away from the end');
  rejects('suite s\n  task t\n    time 00:00 01:00 10:00\n', 'bad.def:3:22: the series step is longer than the series');
  rejects('suite s\n  task t\n    defstatus complete\n    defstatus complete\n', 'bad.def:4:5: defstatus is given twice');
  rejects('suite s\n  limit l 1\n  task t\n    inlimit l\n    inlimit l\n', 'bad.def:5:5: duplicate inlimit l on /s/t');
  rejects('suite s\n  edit var # a comment\n', 'bad.def:2:12: expected a value');
  rejects('extern /a/b\nsuite s\n  task t\n    trigger /a/b/c == complete\n', 'bad.def:4:13: the trigger of /s/t names /a/b/c, which does not exist (add an extern if it is defined elsewhere)');
  // ecFlow allows a cron on a suite
  assert.equal(parseDef('suite s\n  cron 10:00\n  task t\n', 'ok.def').suites[0]!.crons.length, 1);
});

// --- property: random definitions survive printDef → parseDef ---------------------------------


test('property: 300 random definitions print to .def and parse back to the same definition', () => {
  const r = prng(20261203);
  const int = (n: number): number => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const VALUES = ['plain', 'two words', "it's", 'say "hi"', 'a;b', 'x # not a comment', '', '%YMD%/%HH:00%', '100%', 'ünïcode'];
  const clock = (): { h: number; m: number } => ({ h: int(24), m: int(60) });
  for (let iter = 0; iter < 300; iter++) {
    let counter = 0;
    const mk = (kind: 'suite' | 'family' | 'task', depth: number, siblings: string[]): Record<string, unknown> => {
      const name = `${kind[0]}${counter++}`;
      const n: Record<string, unknown> = {
        kind, name, variables: [], events: [], meters: [], labels: [], limits: [], inlimits: [], times: [], todays: [], dates: [], days: [], crons: [], children: [],
      };
      const vars = n['variables'] as { name: string; value: string }[];
      for (let i = int(3); i > 0; i--) vars.push({ name: `V${i}_${counter}`, value: pick(VALUES) });
      if (kind !== 'suite' && r() < 0.3) (n['events'] as unknown[]).push({ name: `e${counter}`, ...(r() < 0.5 ? { number: int(9) } : {}), initial: r() < 0.3 });
      if (r() < 0.3) { const min = int(10) - 5; (n['meters'] as unknown[]).push({ name: `m${counter}`, min, max: min + 10, ...(r() < 0.5 ? { threshold: min + 3 } : {}) }); }
      if (r() < 0.3) (n['labels'] as unknown[]).push({ name: `l${counter}`, value: pick(VALUES) });
      if (kind === 'suite') (n['limits'] as unknown[]).push({ name: 'lim', tokens: 1 + int(9) });
      if (kind !== 'suite' && r() < 0.3) (n['inlimits'] as unknown[]).push({ name: 'lim', tokens: 1 + int(2), nodeOnly: r() < 0.5, submissionOnly: r() < 0.5 });
      if (r() < 0.2) n['defstatus'] = pick(['complete', 'queued', 'suspended', 'aborted', 'unknown']);
      if (kind !== 'suite' && siblings.length > 0 && r() < 0.6) {
        const t = pick(siblings);
        const text = r() < 0.5 ? `${t} == complete` : `${t} != aborted or ${t} == complete`;
        n['trigger'] = { text, expr: stripLocs(parseExpression(text).expr) };
      }
      const repeat = r() < 0.25;
      if (repeat) {
        n['repeat'] = pick([
          { kind: 'integer', name: `R${counter}`, start: 0, end: 10, step: 2 },
          { kind: 'enumerated', name: `R${counter}`, values: ['00', '06', 'a b'] },
          { kind: 'string', name: `R${counter}`, values: ['x', "y'z"] },
          { kind: 'date', name: `R${counter}`, start: 20261201, end: 20261231, step: 1 },
          { kind: 'datelist', name: `R${counter}`, dates: [20261201, 20270228] },
          { kind: 'day', step: 1 },
        ]);
      }
      if (kind !== 'suite') {
        if (r() < 0.3) (n['times'] as unknown[]).push(r() < 0.5 ? { relative: r() < 0.5, start: clock() } : { relative: false, start: { h: 1, m: 0 }, end: { h: 5, m: 30 }, step: { h: 0, m: 15 } });
        if (r() < 0.2) (n['todays'] as unknown[]).push({ relative: false, start: clock() });
        if (r() < 0.2) (n['dates'] as unknown[]).push(pick([{ day: 1 }, { month: 12, year: 2026 }, { day: 31, month: 1, year: 2027 }, {}]));
        if (r() < 0.2) (n['days'] as unknown[]).push(pick(['monday', 'sunday', 'friday']));
        if (!repeat && r() < 0.2) (n['crons'] as unknown[]).push({ weekDays: [1, 3], lastWeekDays: r() < 0.5 ? [5] : [], monthDays: [], lastDayOfMonth: r() < 0.5, months: r() < 0.5 ? [1, 7] : [], time: { relative: false, start: clock() } });
      }
      if (kind === 'task' && r() < 0.2) n['action'] = pick([{ verb: 'start', deployment: 'd', component: 'c' }, { verb: 'scale', deployment: 'd', component: 'c', count: 3 }, { verb: 'waitMetric', query: 'avg(x{a="b"})', op: '>=', threshold: 2.5 }]);
      if (kind !== 'task' && depth < 3) {
        const names: string[] = [];
        for (let i = 1 + int(3); i > 0; i--) {
          const c = mk(r() < 0.4 ? 'family' : 'task', depth + 1, names);
          names.push(c['name'] as string);
          (n['children'] as unknown[]).push(c);
        }
      }
      return n;
    };
    const def = { name: 's0', suites: [mk('suite', 0, [])], externs: [], pools: [], variables: [] } as unknown as WfDefinition;
    const text = printDef(def);
    let back: WfDefinition;
    try {
      back = parseDef(text, 'random.def');
    } catch (e) {
      assert.fail(`definition ${iter} did not parse back: ${(e as Error).message}\n${text}`);
    }
    assert.deepEqual(plain(back), plain(def), `definition ${iter}:\n${text}`);
  }
});

test('a pool declared as a suite variable (the form ecflow_server keeps) loads, exports and refuses a clash', () => {
  const text = "suite s\n  edit NUBIS_POOL_compute 'pp/compute slots=4 readyBy=04:40'\n  family f\n    edit NUBIS_POOL compute\n    task a\n  endfamily\nendsuite\n";
  const def = parseDef(text, 'pool.def');
  assert.deepEqual(def.pools.map((p) => [p.name, p.deployment, p.component, p.slots, p.readyBy]), [['compute', 'pp', 'compute', 4, '04:40']]);
  assert.ok(def.suites[0]!.variables.some((v) => v.name === 'NUBIS_POOL_compute'), 'it stays a variable for ecFlow');
  const back = parseDef(printDef(def), 'back.def');
  assert.deepEqual(back.pools.map((p) => [p.name, p.slots, p.readyBy]), [['compute', 4, '04:40']], 'export → load keeps one pool');
  const refused = (t: string): string => {
    try {
      parseDef(t, 'bad.def');
    } catch (e) {
      assert.ok(e instanceof NubisError && e.code === 'WORKFLOW_INVALID');
      return e.message;
    }
    return assert.fail('loaded');
  };
  assert.equal(refused(text.replace('slots=4', 'slots=0')), 'bad.def:2:27: NUBIS_POOL_compute "pp/compute slots=0 readyBy=04:40": slots=0: expected an integer ≥ 1');
  assert.match(refused(`# nubis:pool compute deployment=pp component=compute slots=2\n${text}`), /^bad\.def:3:8: pool compute is declared twice, differently$/);
  assert.match(refused(text.replace('edit NUBIS_POOL compute', 'edit NUBIS_POOL other')), /^bad\.def:4:21: NUBIS_POOL 'other' names no pool/);
});
