/**
 * The postproc example (examples/postproc) end to end.
 *
 * 1. A whole day's four cycles on the sim cloud with a virtual clock, in process: the
 *    scheduler runs the suite (as suite.mjs builds it), engine actions go to a real control
 *    plane on the same clock (start the main node, clone the pool ready by the data time,
 *    destroy it, stop the main node), jobs go through the pools' least-loaded queue to the
 *    pool's running nodes and are simulated on the clock. Checked: every task completes
 *    exactly once, no node ever runs more jobs than its slots, jobs spread over the nodes,
 *    each cycle's pool runs by its ready-by time, and nothing is left in the cloud at the end.
 * 2. The same day through the workflows controller (the store, the audit log, restore) in a
 *    process of its own (test/helpers/postproc-plane.ts), SIGKILLed in the middle of the second
 *    cycle and started again on the same store and sim inventory: the suite still finishes, and
 *    the audit log shows every task complete exactly once (the jobs that died with the process
 *    were retried), with nothing left in the cloud.
 * 3. One cycle on the `local` cloud through the CLI, as the README runs it: `nubis serve`,
 *    `nubis apply -f app.yaml`, `nubis workflow import` of suite.mjs's output (fewer jobs),
 *    `begin`, `status -w` until complete; the jobs really run as bash scripts on the compute
 *    nodes' agents and report with `nubis child`. Checked: every task complete exactly once
 *    (audit log), every record transferred in order, jobs on every compute node (least-loaded
 *    dispatch; slots are checked in 1), both components back at 0. NUBIS_POSTPROC_JOBS sets the
 *    number of jobs (default 40; 1,000 is the example's size).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createVirtualClock } from '../../src/clock/index.js';
import { createSimCloud } from '../../src/drivers/sim/index.js';
import { createRuntime, PoolQueue, controlPlanePorts, runAction, actionOptions, type WfDefinition, type WfSubmission, type WorkflowRuntime } from '../../src/workflows/index.js';
import { startControlPlane, tempDir } from '../helpers/control-plane.js';
import { ROOT, firstLine, spawnTracked, stopProcess, killGroup, freePort, runCli, serveApi, startServe } from '../helpers/processes.js';
import { openStore } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';

const EXAMPLE = path.join(ROOT, 'examples', 'postproc');
const DAY = Date.parse('2026-12-03T00:00:00Z');

/** The suite as suite.mjs builds it (the same tree its .def text holds). */
function suiteJson(args: string[]): WfDefinition {
  return JSON.parse(execFileSync(process.execPath, [path.join(EXAMPLE, 'suite.mjs'), ...args, '--json'], { encoding: 'utf8' })) as WfDefinition;
}

test('postproc on sim with a virtual clock: a whole day of four cycles, every task complete exactly once, slots never exceeded, nothing left billing', { timeout: 300_000 }, async (t) => {
  const JOBS = 40;
  const NODES = 4;
  const SLOTS = 2;
  const JOB_MS = 20_000;
  const dir = tempDir('nubis-postproc-sim-');
  const simPath = path.join(dir, 'sim.db');
  const clock = createVirtualClock(DAY);
  const stopAdvance = clock.autoAdvance();
  const cp = await startControlPlane(dir, { clock, engine: { pollIntervalMs: 1000 } });
  let runtime: WorkflowRuntime | undefined;
  try {
    const spec = fs.readFileSync(path.join(EXAMPLE, 'sim.yaml'), 'utf8').replace('slowdown: cloudsigma', `slowdown: cloudsigma\n      path: ${JSON.stringify(simPath)}`);
    await cp.apply({ spec, file: 'sim.yaml', artefacts: { 'main.mjs': fs.readFileSync(path.join(EXAMPLE, 'main.mjs')).toString('base64') } }, { actor: 'user:test' });
    const def = suiteJson(['--jobs', String(JOBS), '--nodes', String(NODES), '--slots', String(SLOTS), '--from', '20261203', '--to', '20261203']);
    const ports = controlPlanePorts({
      controlPlane: cp, clock, caller: { actor: 'workflow:postproc' }, pools: def.pools, engine: cp.engine,
      measure: { events: cp.events, accounting: cp.registry.accounting },
    });

    // the pools: a queue each, fed with the running instances of its component
    const key = (s: WfSubmission): string => `${s.path}#${s.tryNo}`;
    const queues = new Map(def.pools.map((p) => [p.name, new PoolQueue<WfSubmission>(p.name, { slots: p.slots, key })]));
    const running = new Map<string, number>();
    let maxOnNode = 0;
    const perNode = new Map<string, number>();
    const completions = new Map<string, number>();
    const submissions = new Map<string, number>();
    const labels = new Map<string, string>();
    const details = new Map<string, string>();
    const readyAt = new Map<string, number>();
    let suiteDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (suiteDone = r));

    const reply = (s: WfSubmission, c: Parameters<WorkflowRuntime['child']>[1]): void => {
      const r = runtime!.child({ workflow: s.workflow, path: s.path, password: s.password, tryNo: s.tryNo }, c);
      void Promise.resolve(r).then((x) => assert.ok(x.ok, `${s.path} ${c.verb}: ${JSON.stringify(x)}`));
    };
    const runJob = (d: { item: WfSubmission; node: string }, pool: string): void => {
      const n = (running.get(d.node) ?? 0) + 1;
      running.set(d.node, n);
      maxOnNode = Math.max(maxOnNode, n);
      if (pool === 'compute') perNode.set(d.node, (perNode.get(d.node) ?? 0) + 1);
      void (async () => {
        const s = d.item;
        reply(s, { verb: 'init', rid: `${d.node}:${s.tryNo}` });
        await clock.sleep(JOB_MS);
        if (s.path.endsWith('/receive')) {
          reply(s, { verb: 'meter', name: 'chunks', value: Number(s.variables['CHUNKS']) });
          reply(s, { verb: 'event', name: 'first', value: true });
        }
        running.set(d.node, running.get(d.node)! - 1);
        reply(s, { verb: 'complete' });
        for (const next of queues.get(pool)!.release(key(s))) runJob(next, pool);
      })();
    };
    // nodes join a pool's queue when their instance runs, and leave when it goes
    const syncPools = async (): Promise<void> => {
      const v = await cp.getDeployment('postproc');
      for (const p of def.pools) {
        const q = queues.get(p.name)!;
        const up = new Set(v.instances.filter((i) => i.component === p.component && i.desired && i.phase === 'running').map((i) => i.name));
        for (const n of q.nodes()) if (!up.has(n.id)) assert.deepEqual(q.removeNode(n.id), [], `${n.id} left ${p.name} with jobs on it`);
        for (const id of up) if (!q.nodes().some((n) => n.id === id)) for (const d of q.addNode(id)) runJob(d, p.name);
      }
    };
    cp.events.subscribe({ deployment: 'postproc' }, () => void syncPools());

    runtime = createRuntime(def, {
      clock,
      hooks: {
        submit(s) {
          submissions.set(s.path, (submissions.get(s.path) ?? 0) + 1);
          const action = s.action;
          if (action) {
            queueMicrotask(() => {
              reply(s, { verb: 'init', rid: `action-${s.tryNo}` });
              runAction(action, ports, { ...actionOptions(s.variables, clock.now()), onProgress: (t) => labels.set(s.path, t) }).then(
                (r) => {
                  if (action.verb === 'scale') readyAt.set(s.path, clock.now());
                  details.set(s.path, r.detail);
                  reply(s, { verb: 'complete' });
                },
                (e: unknown) => reply(s, { verb: 'abort', reason: String(e) }),
              );
            });
            return;
          }
          const pool = s.variables['NUBIS_POOL']!;
          queueMicrotask(() => {
            for (const d of queues.get(pool)!.submit(s)) runJob(d, pool);
          });
        },
        kill() {},
        changed(_w, nodes) {
          for (const n of nodes) {
            if (n.state === 'complete' && n.path.split('/').length > 2) completions.set(n.path, (completions.get(n.path) ?? 0) + 1);
            if (n.path === '/postproc' && n.state === 'complete') suiteDone();
          }
        },
        zombie(_w, id, c, why) {
          assert.fail(`zombie ${id.path} ${c.verb}: ${why}`);
        },
      },
    });
    runtime.user({ verb: 'begin' });
    await done;

    // every task of the four cycles submitted once and complete once
    const tasks = [...runtime.nodes()].filter((n) => /\/(start_main|provision|receive|fxp\d|destroy_pool|transfer|stop_main)$/.test(n.path)).map((n) => n.path);
    assert.equal(tasks.length, 4 * (JOBS + 6));
    for (const t of tasks) {
      assert.equal(submissions.get(t), 1, `${t} submitted ${submissions.get(t)} times`);
      assert.equal(completions.get(t), 1, `${t} completed ${completions.get(t)} times`);
    }
    assert.ok(maxOnNode <= SLOTS, `a node ran ${maxOnNode} jobs at once with ${SLOTS} slots`);
    // least-loaded dispatch spread the jobs over every compute node the cycles had
    const spread = [...perNode.values()];
    assert.ok(spread.length >= NODES, `jobs ran on ${spread.length} compute nodes`);
    assert.equal(spread.reduce((a, b) => a + b, 0), 4 * JOBS);
    // each cycle: the pool's plan was reported and it ran by the data time (hh:40)
    let inTime = 0;
    for (const c of ['00', '06', '12', '18']) {
      const p = `/postproc/c${c}/provision`;
      const hh = Number(c) + 4;
      assert.match(labels.get(p) ?? '', /^starts (now \(\d\d:\d\d:\d\d\), \w+ late|\d\d:\d\d:\d\d): 4 nodes take /, `${p}: ${labels.get(p)}`);
      // p90 and a margin: in time on most days, never far off
      const deadline = DAY + (hh * 60 + 40) * 60_000;
      if (readyAt.get(p)! <= deadline) inTime++;
      assert.ok(readyAt.get(p)! <= deadline + 60_000, `${p} ready at ${new Date(readyAt.get(p)!).toISOString()}`);
      t.diagnostic(`${p}: ${labels.get(p)}; running at ${new Date(readyAt.get(p)!).toISOString().slice(11, 19)}`);
      // the main node started at hh:35, five minutes before the data
      assert.equal(runtime.node(`/postproc/c${c}/start_main`)!.state, 'complete');
    }
    assert.ok(inTime >= 3, `${inTime} of 4 pools ready by the data time`);
    // after the first cycle the plan is measured, not assumed
    assert.match(labels.get('/postproc/c18/provision')!, /from \d+ measured/);
    assert.ok(clock.now() < DAY + 86_400_000, 'the day fits in the day');
    assert.match(details.get('/postproc/c18/destroy_pool')!, /^postproc\/compute scaled 4 → 0 \(none left\)/);
    assert.match(details.get('/postproc/c18/stop_main')!, /^postproc\/main scaled 1 → 0 \(none left\)/);
    t.diagnostic(`jobs per compute node: ${[...perNode].map(([n, c]) => `${n} ${c}`).join(', ')}; day ended ${new Date(clock.now()).toISOString()}`);
    // nothing left that bills
    const sim = createSimCloud({ path: simPath });
    try {
      assert.equal(sim.inventory().filter((s) => s.status !== 'deleted').length, 0);
    } finally {
      sim.close();
    }
  } finally {
    runtime?.close();
    stopAdvance();
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const PLANE = path.join(ROOT, 'dist', 'test', 'helpers', 'postproc-plane.js');

test('postproc through the workflows controller on sim with a virtual clock, SIGKILLed mid-run: every task complete exactly once (audit log)', { timeout: 600_000 }, async (t) => {
  const JOBS = 40;
  const dir = tempDir('nubis-postproc-kill-');
  const args = ['--jobs', String(JOBS), '--nodes', '4', '--slots', '2', '--from', '20261203', '--to', '20261203'];
  fs.writeFileSync(path.join(dir, 'suite.def'), execFileSync(process.execPath, [path.join(EXAMPLE, 'suite.mjs'), ...args], { encoding: 'utf8' }));
  fs.writeFileSync(path.join(dir, 'suite.json'), JSON.stringify(suiteJson(args)));
  fs.writeFileSync(path.join(dir, 'options.json'), JSON.stringify({ jobMs: 20_000 }));
  const simPath = path.join(dir, 'sim.db');
  fs.writeFileSync(path.join(dir, 'spec.yaml'), fs.readFileSync(path.join(EXAMPLE, 'sim.yaml'), 'utf8').replace('slowdown: cloudsigma', `slowdown: cloudsigma\n      path: ${JSON.stringify(simPath)}`));
  const spawnPlane = () => spawnTracked(process.execPath, [PLANE, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const first = spawnPlane();
  try {
    // mid-run: ten jobs of the second cycle have completed
    let c06 = 0;
    await firstLine(first, 'postproc plane', (l) => (/"complete":"\/postproc\/c06\/process\/k\d+\/fxp\d"/.test(l) && ++c06 >= 10 ? true : undefined));
    await stopProcess(first, 'SIGKILL');
    const second = spawnPlane();
    try {
      await firstLine(second, 'postproc plane after the SIGKILL', (l) => (l.includes('"done":true') ? true : undefined));
      await new Promise((r) => second.once('exit', r));
      assert.equal(second.exitCode, 0);
    } finally {
      killGroup(second);
    }
  } finally {
    killGroup(first);
  }
  // the audit log: every task's state changes, across both processes
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  try {
    const evs = await createEventLog(store).list({ kind: 'workflow.node.state', limit: 100_000 });
    const complete = new Map<string, number>();
    const submitted = new Map<string, number>();
    const laterTry: string[] = [];
    const isTask = (p: string): boolean => /\/(start_main|provision|receive|fxp\d|destroy_pool|transfer|stop_main)$/.test(p);
    for (const e of evs) {
      const d = e.data as { path: string; state: string; try?: number };
      if (!isTask(d.path)) continue;
      if (d.state === 'complete') complete.set(d.path, (complete.get(d.path) ?? 0) + 1);
      if (d.state === 'complete' && (d.try ?? 1) > 1) laterTry.push(`${d.path} (try ${d.try})`);
      if (d.state === 'submitted') submitted.set(d.path, (submitted.get(d.path) ?? 0) + 1);
    }
    assert.equal(complete.size, 4 * (JOBS + 6), 'every task of the four cycles completed');
    for (const [p, n] of complete) assert.equal(n, 1, `${p} completed ${n} times`);
    const again = [...submitted].filter(([, n]) => n > 1).map(([p]) => p);
    t.diagnostic(`${evs.length} workflow.node.state events; submitted more than once: ${again.length ? again.join(', ') : 'none'}; completed on a later try: ${laterTry.length ? laterTry.join(', ') : 'none'}`);
    const scaled = await createEventLog(store).list({ kind: 'deployment.scaled', limit: 1000 });
    assert.ok(scaled.every((e) => e.actor === 'workflow:postproc'), 'every scale was the workflow\'s');
  } finally {
    await store.close();
  }
  const sim = createSimCloud({ path: simPath });
  try {
    assert.equal(sim.inventory().filter((s) => s.status !== 'deleted').length, 0, 'nothing left in the cloud');
  } finally {
    sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('postproc on local through the CLI: one cycle of real bash jobs on the pool, every task complete exactly once', { timeout: 600_000 }, async (t) => {
  const JOBS = Number(process.env['NUBIS_POSTPROC_JOBS'] ?? 40);
  const SLOTS = 2;
  const dir = tempDir('nubis-postproc-local-');
  const data = path.join(dir, 'data');
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  const cli = (...a: string[]) => runCli(a, env, dir);
  try {
    const applied = await cli('apply', '-f', path.join(EXAMPLE, 'app.yaml'));
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);
    const def = path.join(dir, 'postproc.def');
    fs.writeFileSync(def, execFileSync(process.execPath, [
      path.join(EXAMPLE, 'suite.mjs'), '--jobs', String(JOBS), '--nodes', '4', '--slots', String(SLOTS), '--cycles', 'now',
      '--ecf-files', path.join(EXAMPLE, 'files'), '--ecf-include', path.join(EXAMPLE, 'include'), '--data', path.join(dir, 'pp'),
    ], { encoding: 'utf8' }));
    const imp = await cli('workflow', 'import', def);
    assert.equal(imp.code, 0, imp.stderr + imp.stdout);
    const begin = await cli('workflow', 'begin', 'postproc');
    assert.equal(begin.code, 0, begin.stderr + begin.stdout);
    const watched = await cli('workflow', 'status', 'postproc', '-w');
    if (watched.code !== 0) {
      const st = await cli('workflow', 'status', 'postproc');
      assert.fail(`status -w exited ${watched.code}: ${watched.stderr}\n${st.stdout}`);
    }
    assert.match(watched.stdout, new RegExp(`${JOBS + 6}/${JOBS + 6} tasks complete`));
    // the audit log: each task complete exactly once
    const evs = (await serveApi(port, data, 'GET', '/v1/events?kind=workflow.node.state&after=0&limit=10000')).json.events as { data: { path: string; state: string } }[];
    const complete = new Map<string, number>();
    for (const e of evs) if (e.data.state === 'complete' && /\/(start_main|provision|receive|fxp\d|destroy_pool|transfer|stop_main)$/.test(e.data.path)) complete.set(e.data.path, (complete.get(e.data.path) ?? 0) + 1);
    assert.equal(complete.size, JOBS + 6);
    for (const [p, n] of complete) assert.equal(n, 1, `${p} completed ${n} times`);
    // every record transferred, in order, made on the compute nodes
    const fmi = path.join(dir, 'pp', 'fmi');
    const out = fs.readFileSync(path.join(fmi, fs.readdirSync(fmi)[0]!), 'utf8').trim().split('\n').map((l) => l.split(' '));
    assert.deepEqual(out.map((r) => Number(r[1])), Array.from({ length: JOBS }, (_, i) => i));
    const perNode = new Map<string, number>();
    for (const r of out) perNode.set(r[3]!, (perNode.get(r[3]!) ?? 0) + 1);
    t.diagnostic(`jobs per node: ${[...perNode].map(([n, c]) => `${n} ${c}`).join(', ')}`);
    assert.equal(perNode.size, 4, 'least-loaded dispatch used every compute node');
    // nothing left running
    const dep = (await serveApi(port, data, 'GET', '/v1/deployments/postproc')).json as { components: { name: string; desired: number }[]; instances: unknown[] };
    assert.deepEqual(dep.components.map((c) => [c.name, c.desired]), [['main', 0], ['compute', 0]]);
    assert.equal(dep.instances.length, 0);
  } finally {
    await cli('destroy', 'postproc', '--wait').catch(() => undefined);
    await stopProcess(serve);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
