/**
 * The postproc example's files: postproc.def is what suite.mjs prints, the def unit reads it as
 * the tree suite.mjs builds (pools, actions, triggers, times), and one cycle's scripts, found and
 * preprocessed as a job is, run under bash with a stand-in `nubis` that records the child
 * commands: every job inits and completes, and the transfer finds every record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRuntime, filesFromRecord, locateScript, parseDef, preprocess } from '../../src/workflows/index.js';
import { createVirtualClock } from '../../src/clock/index.js';
import type { WfDefinition, WfSubmission } from '../../src/workflows/index.js';
import { tempDir } from '../helpers/control-plane.js';
import { ROOT } from '../helpers/processes.js';

const EXAMPLE = path.join(ROOT, 'examples', 'postproc');
const suite = (args: string[]): string => execFileSync(process.execPath, [path.join(EXAMPLE, 'suite.mjs'), ...args], { encoding: 'utf8' });
const noLocs = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'loc' ? undefined : x)));

test('postproc.def is suite.mjs output, and the def unit reads it as the tree suite.mjs builds', () => {
  const text = fs.readFileSync(path.join(EXAMPLE, 'postproc.def'), 'utf8');
  const args = /^#\s+node examples\/postproc\/suite\.mjs (.*)$/m.exec(text)![1]!.split(' ');
  assert.equal(suite(args), text, 'postproc.def is up to date with suite.mjs');
  const def = parseDef(text, 'postproc.def');
  const want = JSON.parse(suite([...args, '--json'])) as WfDefinition;
  assert.deepEqual(noLocs(def.suites), noLocs(want.suites));
  assert.deepEqual(noLocs(def.pools), want.pools);
  const tasks = (n: { kind: string; children: readonly unknown[] }): number => (n.kind === 'task' ? 1 : n.children.reduce<number>((a, c) => a + tasks(c as never), 0));
  assert.equal(tasks(def.suites[0]!), 4 * (1000 + 6), 'four cycles of 1,000 jobs and six other tasks');
});

test('one cycle\'s scripts, located and preprocessed as jobs, run under bash: every job inits and completes, the transfer finds every record', () => {
  const dir = tempDir('nubis-postproc-scripts-');
  try {
    // a stand-in `nubis` on PATH that records each child command
    fs.mkdirSync(path.join(dir, 'bin'));
    const log = path.join(dir, 'child.log');
    fs.writeFileSync(path.join(dir, 'bin', 'nubis'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(log)}\n`, { mode: 0o755 });
    const JOBS = 25;
    const def = parseDef(suite(['--jobs', String(JOBS), '--cycles', 'now']), 'postproc.def');
    const record: Record<string, string> = {};
    for (const d of ['files', 'include']) for (const f of fs.readdirSync(path.join(EXAMPLE, d))) record[`${d}/${f}`] = fs.readFileSync(path.join(EXAMPLE, d, f), 'utf8');
    const files = filesFromRecord(record);
    const subs: WfSubmission[] = [];
    const runtime = createRuntime(def, {
      clock: createVirtualClock(Date.parse('2026-12-03T04:30:00Z')),
      serverVariables: { POSTPROC_DATA: path.join(dir, 'data') },
      hooks: { submit: (s) => subs.push(s), kill: () => undefined, changed: () => undefined, zombie: (_w, _i, c, why) => assert.fail(`zombie ${c.verb}: ${why}`) },
    });
    runtime.user({ verb: 'begin' });
    let jobs = 0;
    while (subs.length > 0) {
      const s = subs.shift()!;
      const id = { workflow: s.workflow, path: s.path, password: s.password, tryNo: s.tryNo };
      if (!s.action) {
        const found = locateScript(s.path, { ...s.variables }, files);
        const job = preprocess(found.text, { ...s.variables }, { file: found.path, files, taskPath: s.path });
        const r = spawnSync('bash', ['-c', job], { env: { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env['PATH']}` }, encoding: 'utf8' });
        assert.equal(r.status, 0, `${s.path}: ${r.stderr}`);
        assert.equal(r.stderr, '', s.path);
        jobs++;
      }
      void runtime.child(id, { verb: 'init', rid: String(jobs) });
      if (s.path.endsWith('/receive')) void runtime.child(id, { verb: 'meter', name: 'chunks', value: Math.ceil(JOBS / 10) });
      void runtime.child(id, { verb: 'complete' });
    }
    assert.equal(runtime.node('/postproc')!.state, 'complete');
    assert.equal(jobs, JOBS + 2);
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(calls.filter((c) => c.startsWith('child --init=')).length, JOBS + 2);
    assert.equal(calls.filter((c) => c === 'child --complete').length, JOBS + 2);
    assert.deepEqual(calls.filter((c) => c.startsWith('child --meter=chunks')), ['child --meter=chunks 1', 'child --meter=chunks 2', 'child --meter=chunks 3']);
    assert.ok(calls.includes('child --event=first'));
    const ymd = def.suites[0]!.variables.find((v) => v.name === 'YMD')!.value;
    const out = fs.readFileSync(path.join(dir, 'data', 'fmi', `${ymd}00.fpp`), 'utf8').trim().split('\n');
    assert.equal(out.length, JOBS);
    assert.deepEqual(out.map((l) => Number(l.split(' ')[1])), Array.from({ length: JOBS }, (_, i) => i), 'every record, in line order');
    assert.ok(calls.some((c) => c.startsWith(`child --label=transferred ${JOBS} records`)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
