/**
 * A control plane with the workflows controller on a virtual clock, in a process of its own, so
 * a test can SIGKILL it mid-run (test/integration/workflows-postproc.test.ts):
 *
 *   node dist/test/helpers/postproc-plane.js <dir>
 *
 * `<dir>` holds `spec.yaml` (the sim app spec, its inventory file inside `<dir>`), `suite.def`
 * and `suite.json` (the postproc suite as suite.mjs prints it, and its tree), `options.json`
 * ({ jobMs }). The first start applies the spec, loads the suite and begins it; a later start
 * (after a SIGKILL) only restores what the store holds. The clock starts at the newest event's
 * time (so it never runs backwards over what was recorded) and advances whenever everything
 * waits on it. Jobs are simulated on the clock (init, `jobMs`, complete; `receive` also sets its
 * meter and event), as the sim cloud's agent does; they die with the process, so after a
 * restart they are reported lost and the scheduler retries them (ECF_TRIES).
 *
 * stdout: one JSON object per line: `{"ready":true}`, `{"complete":"/path","try":N}` for each
 * task that completes, `{"done":true}` when the suite is complete (then the process exits 0).
 */
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createVirtualClock } from '../../src/clock/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import * as wf from '../../src/workflows/index.js';
import type { JobPort, JobStart, WfDefinition } from '../../src/workflows/index.js';

const DAY = Date.parse('2026-12-03T00:00:00Z');

/**
 * Jobs simulated on the clock; they live only as long as this process. A try this port started
 * in an earlier process (listed in `<dir>/started`) is gone: starting it again reports it lost,
 * as the jobs unit does for a job whose process died, and the scheduler retries it.
 */
function clockJobs(clock: { sleep(ms: number): Promise<void> }, jobMs: number, dir: string): JobPort {
  const live = new Map<string, JobStart>();
  const startedFile = path.join(dir, 'started');
  const before = new Set(fs.existsSync(startedFile) ? fs.readFileSync(startedFile, 'utf8').split('\n').filter(Boolean) : []);
  const port = {
    async start(job: JobStart): Promise<void> {
      const key = `${job.workflowId} ${job.sub.path}#${job.sub.tryNo}`;
      if (before.has(key)) {
        before.delete(key);
        setImmediate(() => {
          job.lost('its process died with the control plane');
          job.ended();
        });
        return;
      }
      fs.appendFileSync(startedFile, `${key}\n`);
      live.set(key, job);
      const id = { workflow: job.workflowId, path: job.sub.path, password: job.sub.password, tryNo: job.sub.tryNo };
      void (async () => {
        await job.child(id, { verb: 'init', rid: `${job.node}:${job.sub.tryNo}` });
        await clock.sleep(jobMs);
        if (!live.has(key)) return;
        if (job.sub.path.endsWith('/receive')) {
          await job.child(id, { verb: 'meter', name: 'chunks', value: Number(job.sub.variables['CHUNKS']) });
          await job.child(id, { verb: 'event', name: 'first', value: true });
        }
        await job.child(id, { verb: 'complete' });
        live.delete(key);
        job.ended();
      })().catch(() => undefined);
    },
    kill(workflowId: string, p: string, tryNo: number): void {
      const key = `${workflowId} ${p}#${tryNo}`;
      const j = live.get(key);
      live.delete(key);
      j?.ended();
    },
    async logs(): Promise<string | undefined> {
      return undefined;
    },
    // the controller of an earlier build asks this after a restart: nothing survived
    async reattach(): Promise<undefined> {
      return undefined;
    },
  };
  return port as unknown as JobPort;
}

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  const opts = JSON.parse(fs.readFileSync(path.join(dir, 'options.json'), 'utf8')) as { jobMs: number };
  const text = fs.readFileSync(path.join(dir, 'suite.def'), 'utf8');
  const tree = JSON.parse(fs.readFileSync(path.join(dir, 'suite.json'), 'utf8')) as WfDefinition;
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const newest = (await createEventLog(store).list({ limit: 1, newest: true }))[0];
  const clock = createVirtualClock(Math.max(DAY, newest ? Date.parse(newest.ts) + 1 : DAY));
  const events = createEventLog(store, () => clock.now());
  const cp = await createControlPlane({ dataDir: dir, store, events, clock, engine: { pollIntervalMs: 1000 } });
  const workflows = wf.createWorkflows({
    controlPlane: cp, store, events, clock,
    ports: {
      jobs: clockJobs(clock, opts.jobMs, dir),
      script: { jobText: (s) => `# ${s.path} try ${s.tryNo}\n` },
    },
  });
  const say = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  events.subscribe({ kind: 'workflow.node.state' }, (e) => {
    const d = e.data as { path?: string; state?: string; try?: number } | undefined;
    if (d?.state !== 'complete' || !d.path) return;
    if (d.path === `/${tree.name}`) finish();
    else say({ complete: d.path, try: d.try });
  });
  const stopAdvance = clock.autoAdvance();
  await cp.start();
  const caller = { actor: 'user:test' };
  const marker = path.join(dir, 'begun');
  if (!fs.existsSync(marker)) {
    await cp.apply({ spec: fs.readFileSync(path.join(dir, 'spec.yaml'), 'utf8'), file: 'spec.yaml', artefacts: { 'main.mjs': Buffer.from('// main\n').toString('base64') } }, caller);
    await workflows.load('default', { text, file: 'postproc.def' }, caller);
    await workflows.command('default', tree.name, { verb: 'begin' }, caller);
    fs.writeFileSync(marker, '');
  }
  say({ ready: true });
  const st = await workflows.status('default', tree.name);
  if (st.state !== 'complete') await finished;
  say({ done: true });
  stopAdvance();
  await workflows.stop();
  await cp.stop();
  await store.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`postproc-plane: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
