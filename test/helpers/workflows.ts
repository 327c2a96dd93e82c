/**
 * Workflow test helpers: a small suite, the definition port the controller tests load it with
 * (the def unit, plus a pool for the fake job runner), a job runner that answers each job, and
 * the real control plane + API server + workflows controller in this process.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  createWorkflows, parseDef, parseExpression, parseWorkflowYaml, printDef,
  type DefPort, type JobPort, type JobStart, type WfDefinition, type WorkflowPorts, type WorkflowsController,
} from '../../src/workflows/index.js';
import type { Store } from '../../src/store/index.js';
import { openTestStore } from './postgres.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type RunningControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken, type ApiServer } from '../../src/api/index.js';
import { callApi, type ApiAnswer } from './http-api.js';

/** Four tasks: a → b → c in family f, d in family g after a. */
export const TEST_DEF = `suite daily
  family f
    task a
    task b
      trigger a == complete
    task c
      trigger b == complete
  endfamily
  family g
    task d
      trigger ../f/a == complete
  endfamily
endsuite
`;

/** A pool every test workflow gets when it declares none (the fake job runner's nodes n1, n2). */
const TEST_POOL = { name: 'p', deployment: 'compute', component: 'worker', slots: 2 } as const;
const withPool = (def: WfDefinition): WfDefinition => (def.pools.length > 0 ? def : { ...def, pools: [TEST_POOL] });

/** The def unit, with a pool added to a definition that declares none. */
export const testDefs: DefPort = {
  parseDef: (text, file) => withPool(parseDef(text, file)),
  parseYaml: (text, file) => withPool(parseWorkflowYaml(text, file)),
  check: () => undefined,
  print: (def) => printDef(def),
  parseExpression: (text) => parseExpression(text).expr,
};

/** A job runner in the test: each job inits, optionally waits, then completes (or aborts when told). */
export class FakeJobs implements JobPort {
  readonly started: { path: string; tryNo: number; node: string; script: string }[] = [];
  readonly completed = new Map<string, number>();
  /** Paths whose jobs are held (not answered) until released. */
  hold = new Set<string>();
  private readonly held: (() => void)[] = [];
  abortPaths = new Set<string>();
  private readonly live = new Map<string, JobStart>();

  async start(job: JobStart): Promise<void> {
    this.started.push({ path: job.sub.path, tryNo: job.sub.tryNo, node: job.node, script: job.script });
    this.live.set(`${job.sub.path}#${job.sub.tryNo}`, job);
    const id = { workflow: job.workflowId, path: job.sub.path, password: job.sub.password, tryNo: job.sub.tryNo };
    const run = async (): Promise<void> => {
      await job.child(id, { verb: 'init', rid: `pid-${this.started.length}` });
      const r = this.abortPaths.has(job.sub.path)
        ? await job.child(id, { verb: 'abort', reason: 'told to' })
        : await job.child(id, { verb: 'complete' });
      if (r.ok && !this.abortPaths.has(job.sub.path)) this.completed.set(job.sub.path, (this.completed.get(job.sub.path) ?? 0) + 1);
      this.live.delete(`${job.sub.path}#${job.sub.tryNo}`);
      job.ended();
    };
    // a job whose control plane stopped under it just ends
    const go = (): void => void run().catch(() => undefined);
    if (this.hold.has(job.sub.path)) this.held.push(go);
    else setImmediate(go);
  }

  release(): void {
    for (const f of this.held.splice(0)) f();
  }

  kill(_wf: string, p: string, tryNo: number): void {
    this.live.get(`${p}#${tryNo}`)?.ended();
  }

  async logs(_t: string, _w: string, p: string, tryNo: number, node: string | undefined): Promise<string | undefined> {
    return `output of ${p} try ${tryNo} on ${node}\n`;
  }
}

export interface WorkflowServer {
  base: string;
  admin: string;
  dir: string;
  store: Store;
  cp: RunningControlPlane;
  api: ApiServer;
  workflows: WorkflowsController;
  jobs: FakeJobs;
  call(method: string, p: string, body?: unknown, token?: string): Promise<ApiAnswer>;
  stop(): Promise<void>;
}

/** The real control plane, store, API server and workflows controller in this process, with `jobs` as the job runner. */
export async function startWorkflowServer(dir: string, jobs = new FakeJobs(), extra: Partial<WorkflowPorts> = {}): Promise<WorkflowServer> {
  const store = await openTestStore(path.join(dir, 'nubis.db'));
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events });
  const workflows = createWorkflows({
    controlPlane: cp, store, events,
    ports: { defs: testDefs, jobs, pools: { members: () => [{ id: 'n1' }, { id: 'n2' }], watch: () => () => undefined }, script: { jobText: (s) => `script of ${s.path}` }, ...extra },
  });
  await cp.start();
  await ensureToken(store, dir);
  const admin = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
  const api = createApiServer({ controlPlane: cp, store, workflows, heartbeatMs: 50, log: () => undefined });
  const { port } = await api.listen(0);
  const base = `http://127.0.0.1:${port}`;
  return {
    base, admin, dir, store, cp, api, workflows, jobs,
    call: (method, p, body, token = admin) => callApi(base, token, method, p, body),
    async stop() {
      await api.close();
      await workflows.stop();
      await cp.stop();
      await store.close();
    },
  };
}

