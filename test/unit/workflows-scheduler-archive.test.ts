/**
 * autoarchive, autorestore and endclock: parsed from .def (errors with file:line:col, printed
 * back), and run on a virtual clock: a suite like test/fixtures/ecflow/archive.def (which
 * test/peers/ecflow-time.test.ts runs in ecflow_server and in Nubis), checked against the
 * minutes ecflow_server archived each family at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDef, printDef, type WfNodeRuntime } from '../../src/workflows/index.js';
import { DAY0, H, Harness, M, settle } from './workflows-scheduler-helpers.js';

const SUITE = `suite s
  endclock 7.12.2026 +3600
  family f1
    autoarchive +00:02
    task t1
  endfamily
  family f2
    autoarchive 23:50
    task t2
  endfamily
  family f3
    autoarchive 0
    task t3
  endfamily
  family f4
    autoarchive +00:03 -i
    task t4
      trigger ../f1/t1 == aborted
  endfamily
  task restorer
    trigger f1 == complete
    time 23:55
    autorestore /s/f1 f3
  task after
    trigger restorer == complete and f1/t1 == complete
endsuite
`;

const visible = (h: Harness, p: string): boolean => h.rt.node(p) !== undefined;
const flags = (h: Harness, p: string): string[] => [...(h.rt.node(p)?.flags ?? [])];

/** Runs the suite from 23:40 minute by minute, noting when each family's children went away. */
async function runArchiveSuite(h: Harness): Promise<Record<string, string>> {
  const archivedAt: Record<string, string> = {};
  for (let minute = 0; minute < 30 && h.state('/s') !== 'complete'; minute++) {
    // what is due at this minute (the waker's wake at once included) runs before it is looked at
    await settle();
    await h.clock.advance(0);
    await settle();
    for (const f of ['f1', 'f2', 'f3', 'f4']) {
      if (!archivedAt[f] && flags(h, `/s/${f}`).includes('archived')) {
        archivedAt[f] = `23:${40 + minute}`;
        assert.equal(visible(h, `/s/${f}/${f.replace('f', 't')}`), false, `${f}'s task is out of the tree once archived`);
      }
    }
    await h.clock.advance(M);
  }
  return archivedAt;
}

test('autoarchive: +hh:mm, hh:mm, 0 and -i (idle) archive the children at the minutes ecFlow does; autorestore and a trigger on an archived task', async () => {
  const h = new Harness(parseDef(SUITE, 'archive.def'), { start: DAY0 + 23 * H + 40 * M });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  const archivedAt = await runArchiveSuite(h);
  // ecflow_server 5.9.2 (test mode): f3 at its first look after the run, f1 two minutes after
  // it completed, f4 three minutes after begin while queued (-i), f2 at 23:50
  assert.deepEqual(archivedAt, { f3: '23:40', f1: '23:42', f4: '23:43', f2: '23:50' });
  // the restorer ran at 23:55 and brought f1 and f3 back; `after` then saw f1/t1 complete
  assert.deepEqual(flags(h, '/s/f1'), ['restored']);
  assert.deepEqual(flags(h, '/s/f3'), ['restored']);
  assert.deepEqual(flags(h, '/s/f2'), ['archived']);
  assert.equal(h.state('/s/f1/t1'), 'complete');
  assert.ok(h.log().includes('/s/restorer@23:55') && h.log().includes('/s/after@23:55'), h.log().join(' '));
  // f4 stays queued (archived while idle): the suite cannot complete, as in ecFlow
  assert.equal(h.state('/s/f4'), 'queued');
  assert.equal(h.state('/s'), 'queued');
  // a requeue of an archived node brings its children back first
  assert.equal(visible(h, '/s/f4/t4'), false);
  assert.equal(h.rt.user({ verb: 'requeue', path: '/s/f4', mode: 'all' }).ok, true);
  assert.equal(visible(h, '/s/f4/t4'), true);
  assert.equal(h.state('/s/f4/t4'), 'queued');
  h.rt.close();
});

test('autoarchive waits while the node or an ancestor is suspended; archived children survive a restart and come back on requeue', async () => {
  const def = parseDef(`suite s
  family f
    autoarchive 0
    task t
  endfamily
endsuite
`, 'arch2.def');
  const h = new Harness(def, { start: DAY0 + 10 * H });
  h.rt.user({ verb: 'begin' });
  assert.deepEqual(h.log(), ['/s/f/t@10:00']);
  h.rt.user({ verb: 'suspend', path: '/s' });
  h.finish('/s/f/t');
  assert.equal(h.state('/s/f'), 'complete');
  await h.clock.advance(10 * M);
  assert.equal(visible(h, '/s/f/t'), true, 'not archived while the suite is suspended');
  h.rt.user({ verb: 'resume', path: '/s' });
  await h.clock.advance(0);
  await settle();
  assert.equal(visible(h, '/s/f/t'), false, 'archived once resumed');
  assert.equal(h.state('/s/f'), 'complete');

  // what the owner stored: each node's latest runtime from the changed batches
  const saved = new Map<string, WfNodeRuntime>();
  for (const batch of h.steps) for (const n of batch) saved.set(n.path, n);
  h.rt.close();
  const again = new Harness(def, { start: h.clock.now() });
  again.rt.restore([...saved.values()]);
  await settle();
  assert.equal(visible(again, '/s/f/t'), false, 'still archived after the restart');
  assert.deepEqual(flags(again, '/s/f'), ['archived']);
  assert.equal(again.state('/s/f'), 'complete');
  again.autoComplete();
  assert.equal(again.rt.user({ verb: 'requeue', path: '/s/f', mode: 'all' }).ok, true);
  assert.equal(visible(again, '/s/f/t'), true);
  await settle();
  // the requeue ran t again
  assert.equal(again.state('/s/f/t'), 'complete');
  again.rt.close();
});

test('autoarchive, autorestore, endclock: parsed, printed back, and refused where ecflow_server refuses them', () => {
  const d = parseDef(SUITE, 'archive.def');
  const printed = printDef(d);
  assert.match(printed, /^ {2}endclock 7\.12\.2026 \+3600$/m);
  assert.match(printed, /^ {4}autoarchive \+00:03 -i$/m);
  assert.match(printed, /^ {4}autorestore \/s\/f1 f3$/m);
  assert.equal(printDef(parseDef(printed, 'again.def')), printed, 'printed back as read');
  const bad: [string, RegExp][] = [
    ['suite s\n  task t\n    autoarchive +00:01\nendsuite\n', /bad\.def:3:5: autoarchive is only allowed on a suite or family/],
    ['suite s\n  family f\n    autoarchive 1\n    autocancel 1\n    task t\nendsuite\n', /bad\.def:4:5: a node cannot have both autoarchive and autocancel/],
    ['suite s\n  family f\n    autoarchive -i +00:01\n    task t\nendsuite\n', /bad\.def:3:17: -i goes after the time/],
    ['suite s\n  family f\n    autoarchive +00:01 -x\n    task t\nendsuite\n', /bad\.def:3:24: expected '-i' or the end of the line/],
    ['suite s\n  family f\n    autoarchive\n    task t\nendsuite\n', /bad\.def:3:16: expected \+hh:mm, hh:mm or a number of days/],
    ['suite s\n  task t\n    autorestore ../f1\nendsuite\n', /bad\.def:3:5: autorestore on \/s\/t names \.\.\/f1 \(\/f1\), which does not exist/],
    ['suite s\n  family f\n    endclock 7.12.2026\n    task t\nendsuite\n', /bad\.def:3:5: endclock is only allowed on a suite/],
    ['suite s\n  endclock real 7.12.2026\n  task t\nendsuite\n', /bad\.def:2:12: expected a date dd\.mm\.yyyy or a gain/],
    ['suite s\n  endclock\n  task t\nendsuite\n', /bad\.def:2:11: expected a date dd\.mm\.yyyy or a gain/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseDef(text, 'bad.def'), re, text);
});
