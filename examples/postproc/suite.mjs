#!/usr/bin/env node
// Writes the postproc suite (the FMI post-processing chain) as an ecFlow .def file on stdout.
// `postproc.def` beside this file is its output with the defaults; generate a smaller or a
// one-cycle suite for a quick run:
//
//   node examples/postproc/suite.mjs                          # = postproc.def: 4 cycles × 1,000 jobs
//   node examples/postproc/suite.mjs --jobs 40 --cycles now   # one cycle that starts on begin
//
// Options: --jobs N (per cycle, default 1000), --nodes N (compute nodes cloned, default 4),
// --slots N (jobs at once per compute node, default 4), --cycles 00,06,12,18 | now,
// --deployment NAME (the app deployment, default postproc), --name NAME (suite, default postproc),
// --from YYYYMMDD --to YYYYMMDD (the days the suite runs: `repeat date YMD`; default today to
// a year on; with `--cycles now`, YMD is today), --ecf-files DIR --ecf-include DIR (default
// files and include: relative to the .def's directory), --data DIR (POSTPROC_DATA, where the
// jobs keep their files; default /tmp/nubis-postproc), --json (the WfDefinition instead of .def text).
import process from 'node:process';

const args = process.argv.slice(2);
function opt(name, fallback) {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}
const int = (name, fallback, min) => {
  const v = Number(opt(name, String(fallback)));
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name}: expected an integer ≥ ${min}`);
  return v;
};
const jobs = int('jobs', 1000, 1);
const nodes = int('nodes', 4, 1);
const slots = int('slots', 4, 1);
const deployment = opt('deployment', 'postproc');
const name = opt('name', 'postproc');
const cyclesArg = opt('cycles', '00,06,12,18');
const now = cyclesArg === 'now';
const cycles = now ? ['00'] : cyclesArg.split(',').map((c) => {
  if (!/^(0\d|1\d|2[0-3])$/.test(c)) throw new Error(`--cycles: expected hours such as 00,06,12,18, found ${c}`);
  return c;
});
const ymd = (d) => d.toISOString().slice(0, 10).replaceAll('-', '');
const today = new Date();
const from = opt('from', ymd(today));
const to = opt('to', ymd(new Date(today.getTime() + 365 * 86_400_000)));
for (const [n, v] of [['from', from], ['to', to]]) if (!/^\d{8}$/.test(v)) throw new Error(`--${n}: expected YYYYMMDD, found ${v}`);
const PER_CHUNK = 10; // ten FxP lines per raw chunk: tasks fxp0 … fxp9 of one chunk family
const chunks = Math.ceil(jobs / PER_CHUNK);

/** hh:mm of a cycle's data time plus `minutes` (the raw data of cycle HH is ready at HH+4:40, so the 18 cycle ends before midnight). */
const at = (cycle, minutes) => {
  const m = (Number(cycle) * 60 + 4 * 60 + 40 + minutes + 24 * 60) % (24 * 60);
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};

// ---------------------------------------------------------------------------------------------
// The suite as a tree (the shape of src/workflows/model/types.ts), printed as .def or, with
// --json, as the WfDefinition the def unit's parser makes of that .def (tests compare the two).

const node = (kind, name, extra = {}) => ({
  kind, name, variables: [], events: [], meters: [], labels: [], limits: [], inlimits: [],
  times: [], todays: [], dates: [], days: [], crons: [], children: [], ...extra,
});
const edit = (n, name, value) => n.variables.push({ name, value: String(value) });
const ref = (path, attr) => ({ kind: 'ref', path, ...(attr ? { attr } : {}) });
const isComplete = (path) => ({ text: `${path} == complete`, expr: { kind: 'compare', op: '==', left: ref(path), right: { kind: 'state', value: 'complete' } } });
const meterAtLeast = (path, meter, v) => ({ text: `${path}:${meter} >= ${v}`, expr: { kind: 'compare', op: '>=', left: ref(path, meter), right: { kind: 'number', value: v } } });
const both = (op, a, b) => ({ text: `${a.text} ${op} ${b.text}`, expr: { kind: 'logic', op, left: a.expr, right: b.expr } });
const hm = (text) => {
  const [h, m] = text.split(':').map(Number);
  return { h, m };
};
const time = (text) => ({ relative: false, start: hm(text) });
/** An action task: the parsed action; the .def holds it as `edit NUBIS_ACTION '<text>'` (not a variable once parsed). */
const actionTask = (name, text, action) => node('task', name, { action, actionText: text });

const suite = node('suite', name);
if (now) edit(suite, 'YMD', ymd(today));
else suite.repeat = { kind: 'date', name: 'YMD', start: Number(from), end: Number(to), step: 1 };
edit(suite, 'ECF_FILES', opt('ecf-files', 'files'));
edit(suite, 'ECF_INCLUDE', opt('ecf-include', 'include'));
if (opt('data', '') !== '') edit(suite, 'POSTPROC_DATA', opt('data', ''));
edit(suite, 'ECF_TRIES', 2);
edit(suite, 'JOBS', jobs);
edit(suite, 'CHUNKS', chunks);
edit(suite, 'NUBIS_POOL_main', `${deployment}/main slots=2`);
edit(suite, 'NUBIS_POOL_compute', `${deployment}/compute slots=${slots}`);
edit(suite, 'NUBIS_POOL', 'main');
suite.limits.push({ name: 'fxp', tokens: nodes * slots });
cycles.forEach((cycle, ci) => {
  const c = node('family', `c${cycle}`);
  suite.children.push(c);
  edit(c, 'CYCLE', cycle);
  if (ci > 0) c.trigger = isComplete(`c${cycles[ci - 1]}`);
  const start = actionTask('start_main', `start ${deployment} main`, { verb: 'start', deployment, component: 'main' });
  if (!now) start.times.push(time(at(cycle, -5)));
  const provision = actionTask('provision', `scale ${deployment} compute ${nodes}`, { verb: 'scale', deployment, component: 'compute', count: nodes });
  provision.trigger = isComplete('start_main');
  if (!now) edit(provision, 'NUBIS_READY_BY', at(cycle, 0));
  const receive = node('task', 'receive');
  receive.trigger = isComplete('start_main');
  if (!now) receive.times.push(time(at(cycle, 0)));
  receive.events.push({ name: 'first', initial: false });
  receive.meters.push({ name: 'chunks', min: 0, max: chunks, threshold: chunks });
  const process = node('family', 'process');
  edit(process, 'NUBIS_POOL', 'compute');
  process.inlimits.push({ name: 'fxp', tokens: 1, nodeOnly: false, submissionOnly: false });
  process.trigger = isComplete('provision');
  for (let k = 0; k < chunks; k++) {
    const f = node('family', `k${String(k).padStart(4, '0')}`);
    edit(f, 'CHUNK', k);
    f.trigger = both('or', meterAtLeast('../receive', 'chunks', k + 1), isComplete('../receive'));
    for (let d = 0; d < PER_CHUNK && k * PER_CHUNK + d < jobs; d++) f.children.push(node('task', `fxp${d}`));
    process.children.push(f);
  }
  const destroy = actionTask('destroy_pool', 'destroyPool compute', { verb: 'destroyPool', pool: 'compute' });
  destroy.trigger = isComplete('process');
  const transfer = node('task', 'transfer');
  transfer.trigger = both('and', isComplete('process'), isComplete('receive'));
  transfer.labels.push({ name: 'transferred', value: '' });
  const stop = actionTask('stop_main', `stop ${deployment} main`, { verb: 'stop', deployment, component: 'main' });
  stop.trigger = both('and', isComplete('transfer'), isComplete('destroy_pool'));
  c.children.push(start, provision, receive, process, destroy, transfer, stop);
});

// comments printed above the line that matches
const COMMENTS = {
  'repeat date': ['the day the files belong to stays the same all day (ECF_DATE would turn at midnight)'],
  'edit ECF_FILES': ['where `nubis workflow import` (and ecflow_server) find the scripts and includes: relative to this file'],
  'edit NUBIS_POOL_main': ['the pools jobs run on: a component of the app deployment, with job slots per node'],
  'edit NUBIS_POOL main': ['jobs run on the main node unless a family names another pool'],
  limit: [`jobs submitted at once: every slot of the pool (${nodes} nodes × ${slots} slots), no more`],
  'edit NUBIS_READY_BY': [
    'the seed\'s operators cloned 2–3 minutes before the data (later 3–4: provisioning was slower',
    'with many clones at once); here the pool is ready by the data time and Nubis starts cloning',
    'as late as the cloud\'s measured provisioning times allow',
  ],
};
const out = [];
const printed = new Set();
const line = (depth, text) => {
  for (const [k, lines] of Object.entries(COMMENTS)) {
    if (text.startsWith(k) && !printed.has(k)) {
      printed.add(k);
      for (const l of lines) out.push(`${'  '.repeat(depth)}# ${l}`);
    }
  }
  out.push(`${'  '.repeat(depth)}${text}`);
};
const hhmm = (t) => `${String(t.h).padStart(2, '0')}:${String(t.m).padStart(2, '0')}`;
const quote = (v) => (/^[\w./:-]+$/.test(v) ? v : `'${v}'`);
function print(n, depth) {
  line(depth, n.kind === 'suite' ? `suite ${n.name}` : `${n.kind} ${n.name}`);
  const d = depth + 1;
  if (n.repeat) line(d, `repeat date ${n.repeat.name} ${n.repeat.start} ${n.repeat.end}`);
  if (n.actionText) line(d, `edit NUBIS_ACTION '${n.actionText}'`);
  for (const v of n.variables) line(d, `edit ${v.name} ${quote(v.value)}`);
  for (const l of n.limits) line(d, `limit ${l.name} ${l.tokens}`);
  for (const l of n.inlimits) line(d, `inlimit ${l.name}`);
  if (n.trigger) line(d, `trigger ${n.trigger.text}`);
  for (const t of n.times) line(d, `time ${hhmm(t.start)}`);
  for (const e of n.events) line(d, `event ${e.name}`);
  for (const m of n.meters) line(d, `meter ${m.name} ${m.min} ${m.max} ${m.threshold}`);
  for (const l of n.labels) line(d, `label ${l.name} "${l.value}"`);
  for (const c of n.children) print(c, d);
  if (n.kind !== 'task') line(depth, `end${n.kind}`);
}

if (args.includes('--json')) {
  const pools = [
    { name: 'main', deployment, component: 'main', slots: 2 },
    { name: 'compute', deployment, component: 'compute', slots },
  ];
  process.stdout.write(`${JSON.stringify({ name, suites: [suite], externs: [], pools, variables: [] }, (k, v) => (k === 'actionText' ? undefined : v))}\n`);
} else {
  out.push('# The FMI post-processing chain (seed 000 §3.2, §4, §7.3) as a Nubis workflow. Generated by');
  out.push(`#   node examples/postproc/suite.mjs --jobs ${jobs} --nodes ${nodes} --slots ${slots} --cycles ${cyclesArg}${now ? '' : ` --from ${from} --to ${to}`}`);
  out.push('# Per cycle: start the main node 5 minutes before the raw data streams in, clone the compute');
  out.push('# pool so it is ready when the data is, process every FxP line as one small job on the');
  out.push('# least-loaded compute node, destroy the pool, transfer the results, stop the main node.');
  out.push('# The pools, also in the comment form some Nubis builds read (the NUBIS_POOL_<name> variables below are the current one):');
  out.push(`# nubis:pool main deployment=${deployment} component=main slots=2`);
  out.push(`# nubis:pool compute deployment=${deployment} component=compute slots=${slots}`);
  print(suite, 0);
  process.stdout.write(`${out.join('\n')}\n`);
}
