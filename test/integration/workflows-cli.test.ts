/**
 * `nubis workflow …` end to end: the real CLI process against the real API server and
 * workflows controller (this process, with a job runner that answers each job). import uploads
 * the scripts and includes the .def's ECF_FILES/ECF_INCLUDE name; begin; status prints the tree
 * with states; status -w follows the events until every task is complete; why, suspend, resume,
 * requeue, force, run, kill, alter, logs, export, delete; bad input exits 2 with its location.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { runCli, spawnTracked, CLI, ROOT, killGroup } from '../helpers/processes.js';
import { FakeJobs, startWorkflowServer, TEST_DEF } from '../helpers/workflows.js';

test('nubis workflow: import, begin, status -w, why, commands, logs, export, delete', { timeout: 120_000 }, async () => {
  const dir = tempDir('nubis-wf-cli-');
  const jobs = new FakeJobs();
  const h = await startWorkflowServer(path.join(dir, 'data'), jobs);
  const env = { NUBIS_SERVER: h.base, NUBIS_TOKEN: h.admin, NO_COLOR: '1' };
  const cli = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => runCli(args, env, dir);
  try {
    // a suite with its scripts and includes under ECF_FILES and ECF_INCLUDE (relative to the .def)
    fs.mkdirSync(path.join(dir, 'suite/files/f'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'suite/include'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'suite/files/f/a.ecf'), '%include <head.h>\necho a\n%include <tail.h>\n');
    fs.writeFileSync(path.join(dir, 'suite/files/f/b.ecf'), 'echo b\n');
    fs.writeFileSync(path.join(dir, 'suite/files/notes.txt'), 'not a script\n');
    fs.writeFileSync(path.join(dir, 'suite/include/head.h'), 'nubis child --init $$\n');
    fs.writeFileSync(path.join(dir, 'suite/include/tail.h'), 'nubis child --complete\n');
    const def = TEST_DEF.replace('suite daily\n', 'suite daily\n  edit ECF_FILES files\n  edit ECF_INCLUDE include\n');
    fs.writeFileSync(path.join(dir, 'suite/daily.def'), def);

    const imp = await cli('workflow', 'import', 'suite/daily.def');
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /loaded workflow daily \(4 tasks, 4 script\/include files\)/);
    const files = new Map((await h.store.workflows.files('daily')).map((f) => [f.path, f.content]));
    assert.deepEqual([...files.keys()].sort(), ['files/f/a.ecf', 'files/f/b.ecf', 'include/head.h', 'include/tail.h']);

    // loading it again is refused; --replace replaces it
    assert.equal((await cli('workflow', 'load', 'suite/daily.def')).code, 2);
    assert.equal((await cli('workflow', 'load', 'suite/daily.def', '--replace')).code, 0);

    const st0 = await cli('workflow', 'status', 'daily');
    assert.equal(st0.code, 0, st0.stderr);
    assert.match(st0.stdout, /^daily {2}loaded {2}unknown/m);
    assert.match(st0.stdout, /^ {6}a +unknown/m);

    // hold b: begin, watch progress in the background, then let it finish
    jobs.hold.add('/daily/f/b');
    assert.equal((await cli('workflow', 'begin', 'daily')).code, 0);
    await waitFor('b submitted', () => (jobs.started.some((s) => s.path === '/daily/f/b') ? true : undefined));
    const why = await cli('workflow', 'why', '/daily/f/c');
    assert.equal(why.code, 0, why.stderr);
    assert.match(why.stdout, /trigger/);
    const watcher = spawnTracked(process.execPath, [CLI, 'workflow', 'status', 'daily', '-w'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let watched = '';
    watcher.stdout!.on('data', (d: Buffer) => (watched += d.toString()));
    const exited = new Promise<number>((resolve) => watcher.on('exit', (c) => resolve(c ?? -1)));
    try {
      await waitFor('the watcher shows progress', () => (/2\/4 tasks complete, 1 running.*active: \/daily\/f\/b/.test(watched) ? true : undefined)).catch((e) => { throw new Error(`${String(e)}: ${watched}`); });
      jobs.release();
      assert.equal(await exited, 0, watched);
    } finally {
      killGroup(watcher);
    }
    assert.match(watched, /4\/4 tasks complete/);
    assert.match(watched, /^ {6}c +complete/m);

    const logs = await cli('workflow', 'logs', '/daily/f/a');
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /output of \/daily\/f\/a try 1/);
    assert.match(logs.stderr, /try 1 of 1/);
    assert.equal((await cli('workflow', 'logs', '/daily/f/a', '--try', '3')).code, 2);

    for (const args of [['suspend', '/daily/g'], ['resume', '/daily/g'], ['requeue', '/daily/g/d'], ['force', '/daily/g/d', '--state', 'complete'], ['requeue', '/daily/f', '--aborted'], ['alter', '/daily/f/a', 'X', '1']]) {
      const r = await cli('workflow', ...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const run = await cli('workflow', 'run', '/daily/f/a');
    assert.equal(run.code, 0, run.stderr);
    await waitFor('a ran again', () => (jobs.started.filter((s) => s.path === '/daily/f/a').length === 2 ? true : undefined));
    assert.equal((await cli('workflow', 'kill', '/daily/nope')).code, 2);

    const exp = await cli('workflow', 'export', 'daily', '--file', 'out.def');
    assert.equal(exp.code, 0, exp.stderr);
    assert.match(fs.readFileSync(path.join(dir, 'out.def'), 'utf8'), /suite daily/);
    const list = await cli('workflow', 'list');
    assert.match(list.stdout, /^daily {2}begun/m);
    const json = JSON.parse((await cli('workflow', 'status', 'daily', '-o', 'json')).stdout);
    assert.equal(json.tree.children[0].name, 'daily');

    // bad input: exit 2 with file:line:col, nothing stored
    fs.writeFileSync(path.join(dir, 'bad.def'), 'suite other\n  task t\n    bogus\nendsuite\n');
    const bad = await cli('workflow', 'load', 'bad.def');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.def:3:5/);
    assert.equal((await cli('workflow', 'status', 'other')).code, 2);

    assert.equal((await cli('workflow', 'delete', 'daily')).code, 0);
    assert.equal((await cli('workflow', 'status', 'daily')).code, 2);
    assert.equal((await cli('workflow', 'frobnicate')).code, 2);
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
