/**
 * Workflow test helpers: a small suite, and the definition port the controller tests load it
 * with. Until the def unit (src/workflows/def) is in this build, `testDefs` reads a tiny .def
 * subset itself (suite, family, task, edit, `trigger a == complete [and …]`), with file:line:col
 * on anything else; the real unit replaces it with one line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NubisError } from '../../src/errors/index.js';
import {
  createWorkflows, emptyNode,
  type DefPort, type Expr, type JobPort, type JobStart, type WfDefinition, type WfNodeDef, type WfState, type WorkflowPorts, type WorkflowsController,
} from '../../src/workflows/index.js';
import { openStore, type Store } from '../../src/store/index.js';
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

type Mutable = { -readonly [K in keyof WfNodeDef]: WfNodeDef[K] } & { children: Mutable[]; variables: { name: string; value: string }[] };

function parseTrigger(text: string, file: string, line: number, col: number): Expr {
  const parts = text.split(/\s+and\s+/);
  const one = (p: string): Expr => {
    const m = /^(\S+)\s*==\s*(complete|aborted|queued|active|submitted|unknown)$/.exec(p.trim());
    if (!m) throw new NubisError('REQUEST_INVALID', `${file}:${line}:${col}: cannot read the trigger ${JSON.stringify(p)}`);
    return { kind: 'compare', op: '==', left: { kind: 'ref', path: m[1]! }, right: { kind: 'state', value: m[2] as WfState } };
  };
  return parts.map(one).reduce((l, r) => ({ kind: 'logic', op: 'and', left: l, right: r }));
}

function miniParse(text: string, file: string): WfDefinition {
  const suites: Mutable[] = [];
  const stack: Mutable[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const col = raw.length - raw.trimStart().length + 1;
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    const [kw, ...rest] = l.split(/\s+/);
    const where = `${file}:${i + 1}:${col}`;
    const top = (): Mutable => {
      const t = stack[stack.length - 1];
      if (!t) throw new NubisError('REQUEST_INVALID', `${where}: ${kw} outside a suite`);
      return t;
    };
    switch (kw) {
      case 'suite': case 'family': case 'task': {
        const n = emptyNode(kw, rest[0] ?? '', { file, line: i + 1, col }) as Mutable;
        n.children = [];
        n.variables = [];
        if (kw === 'suite') suites.push(n);
        else {
          while (stack.length > 0 && top().kind === 'task') stack.pop();
          top().children.push(n);
        }
        stack.push(n);
        break;
      }
      case 'endfamily': case 'endsuite':
        while (stack.length > 0 && top().kind === 'task') stack.pop();
        stack.pop();
        break;
      case 'trigger':
        (top() as { trigger?: unknown }).trigger = { text: rest.join(' '), expr: parseTrigger(rest.join(' '), file, i + 1, col) };
        break;
      case 'edit':
        top().variables.push({ name: rest[0]!, value: rest.slice(1).join(' ').replace(/^'|'$/g, '') });
        break;
      default:
        throw new NubisError('REQUEST_INVALID', `${where}: unknown keyword ${JSON.stringify(kw)}`);
    }
  }
  if (suites.length === 0) throw new NubisError('REQUEST_INVALID', `${file}:1:1: no suite`);
  return { name: suites[0]!.name, suites, externs: [], pools: [{ name: 'p', deployment: 'compute', component: 'worker', slots: 2 }], variables: [] };
}

function print(def: WfDefinition): string {
  const out: string[] = [];
  const node = (n: WfNodeDef, depth: number): void => {
    const pad = '  '.repeat(depth);
    out.push(`${pad}${n.kind} ${n.name}`);
    for (const v of n.variables) out.push(`${pad}  edit ${v.name} '${v.value}'`);
    if (n.trigger) out.push(`${pad}  trigger ${n.trigger.text}`);
    for (const c of n.children) node(c, depth + 1);
    if (n.kind !== 'task') out.push(`${pad}end${n.kind}`);
  };
  for (const s of def.suites) node(s, 0);
  return out.join('\n') + '\n';
}

export const testDefs: DefPort = {
  parseDef: miniParse,
  parseYaml: (_t, file) => {
    throw new NubisError('REQUEST_INVALID', `${file}:1:1: YAML workflows need the def unit`);
  },
  check: () => undefined,
  print,
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
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
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

