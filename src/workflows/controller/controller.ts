/**
 * The workflows controller: every loaded workflow of every tenant, each with its runtime (the
 * scheduler), registered on the engine's reconcile core. One key per workflow id; its
 * reconcile is the write-ahead step of the runtime's hooks: the nodes a step changed, the
 * events they make and the submissions it asked for are committed in one store transaction,
 * and only then are the submissions started (a job, or an engine action). So after a SIGKILL
 * the store holds every try that may have started, and a restart neither loses a step that was
 * answered nor starts a try twice: a try that was submitted but never reached its agent starts
 * again under the same try number, one that was active and is gone is reported lost (aborted,
 * retried per ECF_TRIES), one whose agent still runs it is re-attached.
 *
 * Workflow ids are tenant-scoped like deployment ids (`<name>` in `default`, `<tenant>.<name>`
 * elsewhere): a tenant can name only its own. Events carry the workflow's tenant.
 */
import type { Clock } from '../../clock/index.js';
import type { EventInput, EventLog } from '../../events/index.js';
import { ADMIN_TENANT, deploymentId, splitDeploymentId, type Store, type WorkflowRow, type WriteOp } from '../../store/index.js';
import { NubisError, isNubisError, toNubisError } from '../../errors/index.js';
import type { WfAction, WfDefinition, WfNodeDef, WfPool } from '../model/types.js';
import type {
  RuntimeHooks, WfChildCommand, WfChildIdentity, WfChildResult, WfNodeRuntime, WfSubmission, WfUserCommand, WfWhy, WorkflowRuntime,
} from '../model/runtime.js';
import { tryKey, type JobStart, type WorkflowPorts } from './ports.js';
import { PoolAutoscaler, PoolQueue, type PoolDispatch } from '../pools/index.js';
import { normalizePath } from '../script/index.js';
import { printAction } from '../actions/index.js';
import { buildTree, liveDefinition, progressOf, type WorkflowProgress, type WorkflowTreeNode } from './view.js';

export const WORKFLOW_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]{0,79}$';
const NAME_RE = new RegExp(WORKFLOW_NAME_PATTERN);
/** The key that loads every stored workflow when the core starts. */
export const LOAD_ALL = '*load';
/** The key that writes what must follow every workflow's commits (./wiring.ts: the job dispatcher's state). */
const AFTER_COMMITS = '*after';
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_FILES_BYTES = 32 * 1024 * 1024;

export interface WorkflowLoadInput {
  /** The .def or YAML text. */
  readonly text: string;
  /** Its file name: `.yaml`/`.yml` is the YAML spec, anything else ecFlow's .def grammar. */
  readonly file: string;
  /** Script and include files by relative path (as found under ECF_FILES, ECF_INCLUDE, ECF_HOME). */
  readonly files?: Readonly<Record<string, string>>;
  /** Replace a workflow of the same name (its running tries are killed). */
  readonly replace?: boolean;
  /**
   * Server-level variables (ECF_HOME, …) below the definition's own: `nubis workflow import`
   * gives ECF_HOME as the .def's directory on its host when the definition sets none, as an
   * ecflow_server started there would have.
   */
  readonly variables?: Readonly<Record<string, string>>;
}

export interface WorkflowSummary {
  name: string;
  status: 'loaded' | 'begun';
  file: string;
  format: 'def' | 'yaml';
  version: number;
  state: string;
  progress: WorkflowProgress;
  loadedAt: string;
}

export interface WorkflowStatusView extends WorkflowSummary {
  tree: WorkflowTreeNode;
}

export interface WorkflowCaller {
  actor: string;
  tenant?: string;
  correlationId?: string;
}

export interface WorkflowsOptions {
  store: Store;
  events: EventLog;
  clock: Clock;
  ports: WorkflowPorts;
  /** Variables every workflow sees below its own (ECF_HOME, …). */
  serverVariables?: Readonly<Record<string, string>>;
  /** This control plane's API, given to jobs as NUBIS_URL. */
  controlUrl?: string;
  log?: (message: string) => void;
}

/** One loaded workflow in memory. */
interface Loaded {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  row: WorkflowRow;
  readonly def: WfDefinition;
  readonly runtime: WorkflowRuntime;
  readonly files: Map<string, string>;
  readonly taskDefs: Map<string, WfNodeDef>;
  /** Node states changed since the last commit, as JSON, with the submissions to store. */
  readonly dirty: Map<string, { state: string; sub?: string }>;
  /** State (and suspended flag) last reported per path, to emit an event per change. */
  readonly seen: Map<string, string>;
  /** Tasks whose late flag is set (a `workflow.node.late` event was emitted). */
  readonly late: Set<string>;
  readonly pendingEvents: EventInput[];
  readonly pendingSubs: WfSubmission[];
  gen: number;
  committed: number;
  readonly waiters: { gen: number; resolve: () => void; reject: (e: unknown) => void }[];
  /** Engine actions running, by `path#try`. */
  readonly actions: Map<string, AbortController>;
  /** Pool queues by `<workflow id>/<pool>`. */
  readonly pools: Map<string, PoolEntry>;
  /** The pool slot (or queue place) each task's current try holds. */
  readonly slots: Map<string, { entry: PoolEntry; key: string }>;
  /** After a restore: tries to start again or re-attach once the restored state is committed. */
  restored?: WfNodeRuntime[];
  closed: boolean;
}

/** A job of a pool queue. */
interface Job {
  readonly w: Loaded;
  readonly sub: WfSubmission;
  readonly pool: WfPool;
  readonly script: string;
  ended?: boolean;
}
const jobKey = (j: { sub: WfSubmission }): string => `${j.sub.path}#${j.sub.tryNo}`;

interface PoolEntry {
  readonly pool: WfPool;
  readonly queue: PoolQueue<Job>;
  unwatch: () => void;
  /** A pool with `autoscale`: grows and shrinks with its queue. */
  autoscaler?: PoolAutoscaler;
}

/** What makes a state event: the state, the suspended flag and the try (a retry within one step is a new submission). */
const archived = (n: WfNodeRuntime): boolean => n.flags?.includes('archived') ?? false;
/** A node's state as events see it: a change of any part is a `workflow.node.state` event (archiving and restoring included). */
const stateKey = (n: WfNodeRuntime): string => `${n.state}${n.suspended ? '+s' : ''}#${n.tryNo}${n.removed ? '-removed' : ''}${archived(n) ? '+archived' : ''}`;

function walk(nodes: readonly WfNodeDef[], parent: string, fn: (n: WfNodeDef, path: string) => void): void {
  for (const n of nodes) {
    const p = `${parent}/${n.name}`;
    fn(n, p);
    walk(n.children, p, fn);
  }
}

/** What the reconcile core takes of a reconcile (src/engine/core/controller.ts; structurally the same). */
type ReconcileResult = { readonly kind: 'done' } | { readonly kind: 'retry'; readonly error?: NubisError };

/**
 * A controller of the engine's reconcile core (src/engine/core: `engine.register(controller)`),
 * and the service the API's workflow routes call.
 */
export class WorkflowsController {
  readonly name = 'workflows';
  private readonly loaded = new Map<string, Loaded>();
  private wake: ((key: string) => void) | undefined;
  private readyResolve!: () => void;
  private readyReject!: (e: unknown) => void;
  /** Settles when every stored workflow is loaded (after the core starts). */
  readonly ready: Promise<void>;
  private loadedAll = false;
  private stopped = false;

  constructor(private readonly opts: WorkflowsOptions) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    // a caller that never awaits `ready` must not see an unhandled rejection
    this.ready.catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------
  // the reconcile core

  initialKeys(): Iterable<string> {
    return [LOAD_ALL];
  }

  watch(wake: (key: string) => void): () => void {
    this.wake = wake;
    return () => {
      this.wake = undefined;
    };
  }

  async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    if (key === LOAD_ALL) {
      if (!this.loadedAll) {
        try {
          await this.loadAll();
        } catch (e) {
          this.opts.log?.(`nubis workflows: loading the stored workflows failed: ${toNubisError(e).message}`);
          return { kind: 'retry', error: toNubisError(e) };
        }
        this.loadedAll = true;
        this.readyResolve();
      }
      return { kind: 'done' };
    }
    if (key === AFTER_COMMITS) return this.writeAfterCommits();
    const w = this.loaded.get(key);
    if (!w || w.closed) return { kind: 'done' };
    if (signal.aborted) return { kind: 'done' };
    return this.commit(w);
  }

  onTerminal(key: string, error: NubisError): void {
    this.opts.log?.(`nubis workflows: ${key}: ${error.message}`);
  }

  /** Stops runtimes' clock waits, running actions and the job watch (the tries stay as stored; jobs keep running). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.loaded.values()) this.close(w);
    this.readyReject(new NubisError('ABORTED', 'the control plane is stopping'));
    await this.opts.ports.jobs?.close?.();
  }

  // ------------------------------------------------------------------------------------------
  // persistence: the write-ahead commit of each step

  private async commit(w: Loaded): Promise<ReconcileResult> {
    const gen = w.gen;
    const nodes = [...w.dirty].map(([path, v]) => ({ path, state_json: v.state, ...(v.sub !== undefined ? { sub_json: v.sub } : {}) }));
    w.dirty.clear();
    const evs = w.pendingEvents.splice(0);
    const subs = w.pendingSubs.splice(0);
    const restored = w.restored;
    w.restored = undefined;
    const { store } = this.opts;
    try {
      await Promise.all([
        nodes.length > 0 ? store.write(store.workflows.putNodes(w.id, nodes)) : Promise.resolve(),
        evs.length > 0 ? this.opts.events.append(...evs) : Promise.resolve(),
      ]);
    } catch (e) {
      // put back what was not committed (newer changes of the same node win)
      for (const n of nodes) if (!w.dirty.has(n.path)) w.dirty.set(n.path, { state: n.state_json, ...(n.sub_json !== undefined ? { sub: n.sub_json } : {}) });
      w.pendingEvents.unshift(...evs);
      w.pendingSubs.unshift(...subs);
      if (restored) w.restored = restored;
      return { kind: 'retry', error: toNubisError(e) };
    }
    w.committed = Math.max(w.committed, gen);
    for (let i = w.waiters.length - 1; i >= 0; i--) {
      const x = w.waiters[i]!;
      if (x.gen <= w.committed) {
        w.waiters.splice(i, 1);
        x.resolve();
      }
    }
    if (w.closed || this.stopped) return { kind: 'done' };
    for (const sub of subs) this.start(w, sub);
    if (restored) void this.resume(w, restored);
    return { kind: 'done' };
  }

  /** The runtime of a loaded workflow by id (the job dispatcher relays child commands to it). */
  runtimeOf(workflowId: string): WorkflowRuntime | undefined {
    const w = this.loaded.get(workflowId);
    return w && !w.closed ? w.runtime : undefined;
  }

  private afterOp: (() => WriteOp) | undefined;

  /**
   * Writes `op()` once every workflow's changes made so far are committed (the job dispatcher's
   * state: its feed cursors must never be ahead of the steps their records caused). A later call
   * replaces an earlier one not yet written.
   */
  afterCommits(op: () => WriteOp): void {
    this.afterOp = op;
    this.wake?.(AFTER_COMMITS);
  }

  private async writeAfterCommits(): Promise<ReconcileResult> {
    const op = this.afterOp;
    if (!op) return { kind: 'done' };
    this.afterOp = undefined;
    try {
      await Promise.all([...this.loaded.values()].filter((w) => !w.closed).map((w) => this.flushed(w).catch(() => undefined)));
      await this.opts.store.write(op());
    } catch (e) {
      this.afterOp ??= op;
      return { kind: 'retry', error: toNubisError(e) };
    }
    return { kind: 'done' };
  }

  /** Resolves once every change made to `w` so far is committed. */
  private flushed(w: Loaded): Promise<void> {
    if (w.committed >= w.gen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      w.waiters.push({ gen: w.gen, resolve, reject });
      this.wake?.(w.id);
    });
  }

  private hooks(w: () => Loaded): RuntimeHooks {
    return {
      changed: (_wf, nodes) => {
        const l = w();
        for (const n of nodes) {
          const slot = l.slots.get(n.path);
          if (slot && (slot.key !== `${n.path}#${n.tryNo}` || (n.state !== 'submitted' && n.state !== 'active'))) this.freeSlot(l, n.path);
          const prev = l.dirty.get(n.path);
          l.dirty.set(n.path, { state: JSON.stringify(n), ...(prev?.sub !== undefined ? { sub: prev.sub } : {}) });
          const k = stateKey(n);
          if (l.seen.get(n.path) !== k) {
            l.seen.set(n.path, k);
            l.pendingEvents.push(this.nodeEvent(l, n));
          }
          if (n.flags?.includes('late') && !l.late.has(n.path)) {
            l.late.add(n.path);
            l.pendingEvents.push(this.lateEvent(l, n));
          } else if (!n.flags?.includes('late')) l.late.delete(n.path);
        }
        l.gen++;
        this.wake?.(l.id);
      },
      submit: (sub) => {
        const l = w();
        const d = l.dirty.get(sub.path);
        const json = JSON.stringify(sub);
        if (d) d.sub = json;
        else {
          const rt = l.runtime.node(sub.path);
          if (rt) l.dirty.set(sub.path, { state: JSON.stringify(rt), sub: json });
        }
        l.pendingSubs.push(sub);
        l.gen++;
        this.wake?.(l.id);
      },
      kill: (_wf, path, tryNo) => {
        const l = w();
        const a = l.actions.get(`${path}#${tryNo}`);
        if (a) a.abort(new NubisError('ABORTED', `${path} was killed`));
        else this.opts.ports.jobs?.kill(l.id, path, tryNo);
        this.dropWaiting(l, path, tryNo);
      },
      zombie: (_wf, identity, command, why) => {
        const l = w();
        l.pendingEvents.push({
          kind: 'workflow.zombie', actor: 'engine', tenant: l.tenant, target: `${l.id}:${identity.path}`, outcome: 'refused', reason: why,
          ts: this.opts.clock.now(),
          data: { workflow: l.name, path: identity.path, try: identity.tryNo, verb: command.verb, ...(identity.rid !== undefined ? { rid: identity.rid } : {}) },
        });
        l.gen++;
        this.wake?.(l.id);
      },
    };
  }

  /** `workflow.node.late`: a task's late flag was set (its `late` attribute). */
  private lateEvent(l: Loaded, n: WfNodeRuntime): EventInput {
    return {
      kind: 'workflow.node.late', actor: 'engine', tenant: l.tenant, target: `${l.id}:${n.path}`, outcome: n.state,
      ts: this.opts.clock.now(),
      data: { workflow: l.name, path: n.path, state: n.state, try: n.tryNo },
    };
  }

  private nodeEvent(l: Loaded, n: WfNodeRuntime): EventInput {
    return {
      kind: 'workflow.node.state', actor: 'engine', tenant: l.tenant, target: `${l.id}:${n.path}`, outcome: n.state,
      ...(n.reason ? { reason: n.reason } : {}),
      ts: this.opts.clock.now(),
      data: { workflow: l.name, path: n.path, state: n.state, suspended: n.suspended, try: n.tryNo, ...(n.reason ? { reason: n.reason } : {}), ...(n.removed ? { removed: true } : {}), ...(archived(n) ? { archived: true } : {}) },
    };
  }

  // ------------------------------------------------------------------------------------------
  // building runtimes

  private build(row: WorkflowRow, def: WfDefinition, files: Map<string, string>): Loaded {
    const make = this.opts.ports.runtime;
    if (!make) throw new NubisError('UNAVAILABLE', 'this control plane has no workflow scheduler');
    const { tenant, name } = { tenant: row.tenant, name: row.name };
    let self: Loaded | undefined;
    const hooks = this.hooks(() => self!);
    const serverVariables: Record<string, string> = {
      ...(this.opts.serverVariables ?? {}),
      NUBIS_WORKFLOW: row.id,
      ...(this.opts.controlUrl ? { NUBIS_URL: this.opts.controlUrl } : {}),
    };
    const parse = this.opts.ports.defs?.parseExpression;
    // the runtime knows the workflow by its id: submissions and job ids name it (tenants' names may clash)
    const runtime = make({ ...def, name: row.id }, { clock: this.opts.clock, hooks, serverVariables, ...(parse ? { parseExpression: (t: string) => parse(t) } : {}) });
    const taskDefs = new Map<string, WfNodeDef>();
    walk(def.suites, '', (n, p) => {
      if (n.kind === 'task') taskDefs.set(p, n);
    });
    self = {
      id: row.id, tenant, name, row, def, runtime, files, taskDefs,
      dirty: new Map(), seen: new Map(), late: new Set(), pendingEvents: [], pendingSubs: [], gen: 0, committed: 0, waiters: [], actions: new Map(), pools: new Map(), slots: new Map(), closed: false,
    };
    for (const n of runtime.nodes()) self.seen.set(n.path, stateKey(n));
    return self;
  }

  private async loadAll(): Promise<void> {
    const { store } = this.opts;
    for (const row of await store.workflows.list()) {
      if (this.loaded.has(row.id)) continue;
      const def = JSON.parse(row.def_json) as WfDefinition;
      const files = new Map((await store.workflows.files(row.id)).map((f) => [f.path, f.content] as const));
      const saved = (await store.workflows.nodes(row.id)).map((r) => ({ rt: JSON.parse(r.state_json) as WfNodeRuntime, sub: r.sub_json }));
      let w: Loaded;
      try {
        w = this.build(row, def, files);
      } catch (e) {
        this.opts.log?.(`nubis workflows: ${row.id} could not be rebuilt: ${toNubisError(e).message}`);
        continue;
      }
      this.loaded.set(w.id, w);
      if (saved.length === 0) continue;
      for (const s of saved) w.seen.set(s.rt.path, stateKey(s.rt));
      const subs = new Map<string, string>();
      for (const s of saved) if (s.sub) subs.set(s.rt.path, s.sub);
      w.restored = saved.map((s) => s.rt);
      // a late flag set before the restart was evented then
      for (const s of saved) if (s.rt.flags?.includes('late')) w.late.add(s.rt.path);
      this.restoredSubs.set(w.id, subs);
      w.runtime.restore(saved.map((s) => s.rt));
      // restore's own changes are committed first; the running tries are looked at then
      w.gen++;
      this.wake?.(w.id);
    }
    // every runtime is restored: the job runner may now re-attach (and report lost tries)
    const jobs = this.opts.ports.jobs;
    this.jobsRunning = jobs?.resume ? jobs.resume().catch((e: unknown) => {
      this.opts.log?.(`nubis workflows: re-attaching to running jobs failed: ${toNubisError(e).message}`);
      return new Map<string, string>();
    }) : Promise.resolve(new Map());
  }

  private readonly restoredSubs = new Map<string, Map<string, string>>();
  /** The jobs still running after a restart, once the job runner re-attached (tryKey → node). */
  private jobsRunning: Promise<Map<string, string>> = Promise.resolve(new Map());

  /** After a restart: every try stored as submitted or active is started again, re-attached or lost. */
  private async resume(w: Loaded, saved: readonly WfNodeRuntime[]): Promise<void> {
    const running = await this.jobsRunning;
    if (w.closed) return;
    const subs = this.restoredSubs.get(w.id) ?? new Map<string, string>();
    this.restoredSubs.delete(w.id);
    for (const s of saved) {
      const task = w.taskDefs.get(s.path);
      if (!task || (s.state !== 'submitted' && s.state !== 'active')) continue;
      const now = w.runtime.node(s.path);
      if (!now || now.tryNo !== s.tryNo || (now.state !== 'submitted' && now.state !== 'active')) continue;
      const json = subs.get(s.path);
      const sub = json ? (JSON.parse(json) as WfSubmission) : undefined;
      if (!sub || sub.tryNo !== s.tryNo) {
        w.runtime.lost(s.path, s.tryNo, 'the control plane restarted and the try\'s submission was not stored');
        continue;
      }
      if (sub.action) {
        // an engine action ran in the control plane that died: run it again (actions are idempotent)
        this.start(w, sub);
        continue;
      }
      const pool = this.poolOf(w, sub);
      const entry = pool ? this.poolEntry(w, pool) : undefined;
      const node = running.get(tryKey(w.id, s.path, s.tryNo));
      if (node !== undefined && pool && entry) {
        // its agent still runs it: it holds a slot of its node
        const job: Job = { w, sub, pool, script: '' };
        if (!entry.queue.occupy(job, node)) {
          entry.queue.addNode(node, { slots: pool.slots });
          entry.queue.occupy(job, node);
        }
        w.slots.set(s.path, { entry, key: jobKey(job) });
        continue;
      }
      // a try that never reached its agent starts now (the same try: its job id is the same, so
      // an agent that did get it answers with the running one); an active one that is gone is lost
      if (s.state === 'submitted') this.start(w, sub);
      else w.runtime.lost(s.path, s.tryNo, 'the job was gone when the control plane restarted');
    }
  }

  // ------------------------------------------------------------------------------------------
  // starting tries

  private start(w: Loaded, sub: WfSubmission): void {
    if (sub.action) {
      this.startAction(w, sub);
      return;
    }
    const jobs = this.opts.ports.jobs;
    if (!jobs) return this.failStart(w, sub, 'no job runner in this control plane (script jobs need the jobs unit)');
    const pool = this.poolOf(w, sub);
    if (!pool) {
      const names = w.def.pools.map((p) => p.name);
      return this.failStart(w, sub, names.length === 0
        ? 'the workflow declares no pool for its jobs'
        : `the task names no pool (set NUBIS_POOL to one of ${names.join(', ')})`);
    }
    const script = this.opts.ports.script;
    if (!script) return this.failStart(w, sub, 'no script preprocessor in this control plane');
    let text: string | Promise<string>;
    try {
      text = script.jobText(sub, w.files);
    } catch (e) {
      return this.failStart(w, sub, toNubisError(e).message);
    }
    if (typeof text !== 'string') {
      // a script made by a command (ECF_SCRIPT_CMD, ECF_FETCH): dispatched once it is made, if the try is still current
      text.then((t) => {
        const n = w.runtime.node(sub.path);
        if (!w.closed && n?.tryNo === sub.tryNo && n.state === 'submitted') this.dispatchJob(w, sub, pool, t);
      }, (e: unknown) => this.failStart(w, sub, toNubisError(e).message));
      return;
    }
    this.dispatchJob(w, sub, pool, text);
  }

  private dispatchJob(w: Loaded, sub: WfSubmission, pool: WfPool, text: string): void {
    const entry = this.poolEntry(w, pool);
    if (!entry) return this.failStart(w, sub, 'no pool dispatcher in this control plane');
    let ds: PoolDispatch<Job>[];
    const job: Job = { w, sub, pool, script: text };
    try {
      ds = entry.queue.submit(job);
    } catch (e) {
      return this.failStart(w, sub, toNubisError(e).message);
    }
    w.slots.set(sub.path, { entry, key: jobKey(job) });
    this.runDispatches(entry, ds);
    entry.autoscaler?.changed();
  }

  private poolOf(w: Loaded, sub: WfSubmission): WfPool | undefined {
    const name = sub.variables['NUBIS_POOL'];
    if (name !== undefined) return w.def.pools.find((p) => p.name === name);
    return w.def.pools.length === 1 ? w.def.pools[0] : undefined;
  }

  /** The queue of a workflow's pool, its nodes kept in step with the pool's running instances. */
  private poolEntry(w: Loaded, pool: WfPool): PoolEntry | undefined {
    const source = this.opts.ports.pools;
    if (!source) return undefined;
    const key = `${w.id}/${pool.name}`;
    let e = w.pools.get(key);
    if (e) return e;
    const entry: PoolEntry = { pool, queue: new PoolQueue<Job>(pool.name, { slots: pool.slots, key: jobKey }), unwatch: () => undefined };
    w.pools.set(key, entry);
    if (pool.autoscale && source.size && source.scale) {
      const { size, scale } = source;
      entry.autoscaler = new PoolAutoscaler({
        pool, clock: this.opts.clock,
        load: () => ({ waiting: entry.queue.waitingCount, running: entry.queue.runningCount }),
        nodes: () => size(w.tenant, pool),
        scale: (count, reason) => scale(w.tenant, w.name, pool, count, reason),
        onError: (e) => this.opts.log?.(`nubis workflows: ${w.id} pool ${pool.name}: autoscale: ${e.message}`),
      });
    }
    entry.unwatch = source.watch(w.tenant, pool, () => this.syncPool(w, entry));
    this.syncPool(w, entry);
    e = entry;
    return e;
  }

  /** Adds the pool's running nodes to its queue (waiting jobs go to them) and removes gone ones (their jobs are lost). */
  private syncPool(w: Loaded, e: PoolEntry): void {
    if (w.closed) return;
    const source = this.opts.ports.pools!;
    const members = source.members(w.tenant, e.pool);
    const now = new Set(members.map((m) => m.id));
    const ds: PoolDispatch<Job>[] = [];
    for (const n of e.queue.nodes()) {
      if (now.has(n.id)) continue;
      for (const j of e.queue.removeNode(n.id)) {
        j.ended = true;
        w.runtime.lost(j.sub.path, j.sub.tryNo, `node ${n.id} left pool ${e.pool.name} while the job ran`);
      }
    }
    const known = new Set(e.queue.nodes().map((n) => n.id));
    for (const m of members) {
      if (!known.has(m.id)) ds.push(...e.queue.addNode(m.id, { slots: e.pool.slots, ...(m.load !== undefined ? { load: m.load } : {}) }));
      else if (m.load !== undefined) e.queue.setLoad(m.id, m.load);
    }
    this.runDispatches(e, ds);
    e.autoscaler?.changed();
  }

  /** Starts each dispatched job on its node; one that cannot start frees its slot and aborts its try. */
  private runDispatches(e: PoolEntry, ds: readonly PoolDispatch<Job>[]): void {
    const jobs = this.opts.ports.jobs;
    for (const d of ds) {
      const j = d.item;
      if (!jobs || j.w.closed) continue;
      const handles = this.jobHandles(j.w, j.sub, e, d.node);
      const { store } = this.opts;
      void store.write(store.workflows.putTry(j.w.id, j.sub.path, j.sub.tryNo, d.node, this.opts.clock.now())).catch(() => undefined);
      jobs.start({ ...handles, script: j.script }).catch((err: unknown) => {
        handles.ended();
        this.failStart(j.w, j.sub, `the job could not be started on ${d.node}: ${toNubisError(err).message}`);
      });
    }
  }

  private jobHandles(w: Loaded, sub: WfSubmission, e: PoolEntry, node: string): Omit<JobStart, 'script'> {
    let ended = false;
    return {
      tenant: w.tenant, workflowId: w.id, sub, pool: e.pool, node,
      child: (identity, command) => this.childOf(w, identity, command),
      lost: (detail) => {
        if (!w.closed) w.runtime.lost(sub.path, sub.tryNo, detail);
      },
      ended: () => {
        if (ended) return;
        ended = true;
        if (w.slots.get(sub.path)?.key === jobKey({ sub })) this.freeSlot(w, sub.path);
        else this.runDispatches(e, e.queue.release(jobKey({ sub })));
      },
    };
  }

  /** A killed try that still waits for a slot leaves the queue. */
  private dropWaiting(w: Loaded, path: string, tryNo: number): void {
    const slot = w.slots.get(path);
    if (slot && slot.key === `${path}#${tryNo}`) this.freeSlot(w, path);
  }

  /** A try that is no longer submitted or active gives its pool slot (or its place in the queue) back. */
  private freeSlot(w: Loaded, path: string): void {
    const slot = w.slots.get(path);
    if (!slot) return;
    w.slots.delete(path);
    const ds = slot.entry.queue.release(slot.key);
    if (ds.length > 0) queueMicrotask(() => this.runDispatches(slot.entry, ds));
    slot.entry.autoscaler?.changed();
  }

  private failStart(w: Loaded, sub: WfSubmission, detail: string): void {
    if (w.closed) return;
    // a later turn: the runtime may be inside the commit that started this try
    queueMicrotask(() => {
      if (!w.closed) w.runtime.failedToStart(sub.path, sub.tryNo, detail);
    });
  }

  private startAction(w: Loaded, sub: WfSubmission): void {
    const actions = this.opts.ports.actions;
    if (!actions) return this.failStart(w, sub, 'no engine actions in this control plane');
    const ac = new AbortController();
    const key = `${sub.path}#${sub.tryNo}`;
    w.actions.get(key)?.abort();
    w.actions.set(key, ac);
    const identity: WfChildIdentity = { workflow: w.id, path: sub.path, password: sub.password, tryNo: sub.tryNo, rid: `action-${sub.tryNo}` };
    const reply = (command: WfChildCommand): void => {
      if (w.closed || ac.signal.aborted) return;
      void Promise.resolve(w.runtime.child(identity, command)).catch(() => undefined);
    };
    // the action's output: what it did, its progress, why it failed (`nubis workflow logs`)
    let seq = 0;
    const log = (text: string): void => {
      const { store, clock } = this.opts;
      void store.write(store.workflows.appendLog({ workflow: w.id, path: sub.path, try_no: sub.tryNo, seq: seq++, ts: clock.now(), text: `${new Date(clock.now()).toISOString()} ${text}\n` })).catch(() => undefined);
    };
    log(`action: ${actionText(sub.action!)}`);
    const node = w.runtime.node(sub.path);
    if (node?.state === 'submitted') reply({ verb: 'init', rid: identity.rid! });
    // a port that throws at once fails the try like one that rejects
    Promise.resolve().then(() => actions.run(sub.action!, { tenant: w.tenant, workflow: w.name, path: sub.path, pools: w.def.pools, variables: sub.variables, signal: ac.signal, progress: (text) => (log(text), reply({ verb: 'label', name: 'nubis_action', value: text })) })).then(
      (r) => {
        if (w.actions.get(key) === ac) w.actions.delete(key);
        if (r.detail) reply({ verb: 'label', name: 'nubis_action', value: r.detail });
        log(`done: ${r.detail ?? 'ok'}`);
        reply({ verb: 'complete' });
      },
      (e: unknown) => {
        if (w.actions.get(key) === ac) w.actions.delete(key);
        log(`failed: ${toNubisError(e).message}`);
        reply({ verb: 'abort', reason: toNubisError(e).message });
      },
    );
  }

  private async childOf(w: Loaded, identity: WfChildIdentity, command: WfChildCommand): Promise<WfChildResult> {
    if (w.closed) return { ok: false, zombie: true, why: `workflow ${w.name} was deleted or replaced` };
    const r = await w.runtime.child(identity, command);
    await this.flushed(w);
    return r;
  }

  private close(w: Loaded): void {
    if (w.closed) return;
    w.closed = true;
    w.runtime.close();
    for (const a of w.actions.values()) a.abort(new NubisError('ABORTED', `workflow ${w.name} is closed`));
    w.actions.clear();
    for (const x of w.waiters.splice(0)) x.reject(new NubisError('ABORTED', `workflow ${w.name} is closed`));
    for (const e of w.pools.values()) {
      e.unwatch();
      e.autoscaler?.close();
    }
    w.pools.clear();
    w.slots.clear();
  }

  // ------------------------------------------------------------------------------------------
  // the service the API uses (tenant + bare name)

  private async get(tenant: string, name: string): Promise<Loaded> {
    await this.ready;
    const w = NAME_RE.test(name) ? this.loaded.get(deploymentId(tenant, name)) : undefined;
    if (!w || w.closed) throw new NubisError('NOT_FOUND', `no workflow named ${JSON.stringify(name)}`);
    return w;
  }

  /** Reads, checks and stores a workflow; nothing is stored or replaced when any part is wrong. */
  async load(tenant: string, input: WorkflowLoadInput, caller: WorkflowCaller): Promise<{ view: WorkflowSummary; created: boolean }> {
    await this.ready;
    const defs = this.opts.ports.defs;
    if (!defs) throw new NubisError('UNAVAILABLE', 'this control plane cannot read workflow definitions (no def unit)');
    const files = checkFiles(input);
    const format: 'def' | 'yaml' = /\.ya?ml$/i.test(input.file) ? 'yaml' : 'def';
    let def: WfDefinition;
    try {
      def = format === 'yaml' ? defs.parseYaml(input.text, input.file) : defs.parseDef(input.text, input.file);
      defs.check(def);
    } catch (e) {
      throw asInputError(e, input.file);
    }
    const given = Object.entries(input.variables ?? {});
    for (const [k, v] of given) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string') throw new NubisError('REQUEST_INVALID', `$.variables[${JSON.stringify(k)}]: expected a variable name and its text`);
    }
    if (given.length > 0) {
      const own = new Set(def.variables.map((v) => v.name));
      def = { ...def, variables: [...given.filter(([k]) => !own.has(k)).map(([name, value]) => ({ name, value })), ...def.variables] };
    }
    if (!NAME_RE.test(def.name)) {
      throw new NubisError('REQUEST_INVALID', `${input.file}: workflow name ${JSON.stringify(def.name)} must match ${WORKFLOW_NAME_PATTERN} (the first suite's name)`);
    }
    const id = deploymentId(tenant, def.name);
    const old = this.loaded.get(id);
    if (old && !old.closed && !input.replace) {
      throw new NubisError('CONFLICT', `workflow ${def.name} is already loaded; delete it first or load with replace`);
    }
    const now = this.opts.clock.now();
    const row: WorkflowRow = {
      id, tenant, name: def.name, def_json: JSON.stringify(def), source_text: input.text, file: input.file, format, status: 'loaded',
      version: (old?.row.version ?? 0) + 1, created_at: now, updated_at: now,
    };
    // built before anything is stored: a definition the scheduler refuses is not stored either
    let w: Loaded;
    try {
      w = this.build(row, def, files);
    } catch (e) {
      throw asInputError(e, input.file);
    }
    const { store } = this.opts;
    try {
      await Promise.all([
        store.write(store.workflows.put(row, [...files].map(([path, content]) => ({ path, content })))),
        this.opts.events.append(this.auditEvent(w, 'workflow.loaded', caller, { file: input.file, format, version: row.version, files: files.size })),
      ]);
    } catch (e) {
      w.runtime.close();
      throw e;
    }
    if (old) {
      this.killRunning(old);
      this.close(old);
    }
    this.loaded.set(id, w);
    return { view: this.summary(w), created: !old };
  }

  async list(tenant: string): Promise<WorkflowSummary[]> {
    await this.ready;
    return [...this.loaded.values()].filter((w) => w.tenant === tenant && !w.closed).sort((a, b) => a.name.localeCompare(b.name)).map((w) => this.summary(w));
  }

  /** NOT_FOUND unless the tenant has a workflow of this name. */
  async mustExist(tenant: string, name: string): Promise<void> {
    await this.get(tenant, name);
  }

  async status(tenant: string, name: string): Promise<WorkflowStatusView> {
    const w = await this.get(tenant, name);
    return { ...this.summary(w), tree: buildTree(w.def, w.runtime) };
  }

  async why(tenant: string, name: string, path: string): Promise<WfWhy[]> {
    const w = await this.get(tenant, name);
    this.mustHave(w, path);
    return w.runtime.why(path).map((x) => ({ ...x, detail: local(w, x.detail) }));
  }

  /** Runs a user command (begin, suspend, …) once its effects are committed. */
  async command(tenant: string, name: string, cmd: WfUserCommand, caller: WorkflowCaller): Promise<WfChildResult> {
    const w = await this.get(tenant, name);
    if ('path' in cmd && cmd.path !== undefined) this.mustHave(w, cmd.path);
    const r = w.runtime.user(cmd);
    if (r.ok && cmd.verb === 'begin' && w.row.status !== 'begun') {
      w.row = { ...w.row, status: 'begun', updated_at: this.opts.clock.now() };
      await this.opts.store.write(this.opts.store.workflows.update(w.row));
    }
    w.pendingEvents.push(this.auditEvent(w, 'workflow.command', caller, {
      verb: cmd.verb, ...('path' in cmd && cmd.path !== undefined ? { path: cmd.path } : {}),
      ...(cmd.verb === 'requeue' ? { mode: cmd.mode } : {}), ...(cmd.verb === 'force' ? { state: cmd.state } : {}),
      ...(cmd.verb === 'alter' ? { variable: cmd.variable } : {}),
      ok: r.ok, ...(!r.ok ? { why: r.why } : {}),
    }));
    w.gen++;
    await this.flushed(w);
    return r.ok ? r : { ...r, why: local(w, r.why) };
  }

  /** A child command from a job (authenticated by its password, checked by the runtime). */
  async child(workflowId: string, identity: Omit<WfChildIdentity, 'workflow'>, command: WfChildCommand): Promise<WfChildResult> {
    await this.ready;
    const w = this.loaded.get(workflowId);
    if (!w || w.closed) throw new NubisError('NOT_FOUND', `no workflow ${JSON.stringify(workflowId)}`);
    return this.childOf(w, { ...identity, workflow: w.id }, command);
  }

  /** The output of a task's try (the latest when `tryNo` is absent). */
  async logs(tenant: string, name: string, path: string, tryNo?: number): Promise<{ path: string; tryNo: number; tries: number; text: string }> {
    const w = await this.get(tenant, name);
    const task = w.taskDefs.get(path);
    if (!task) throw new NubisError('NOT_FOUND', `no task ${path} in workflow ${name}`);
    const tries = w.runtime.node(path)?.tryNo ?? 0;
    const n = tryNo ?? tries;
    if (n < 1 || n > tries) throw new NubisError('NOT_FOUND', tries === 0 ? `${path} has not run yet` : `${path} has tries 1 to ${tries}, not ${n}`);
    const stored = await this.opts.store.workflows.logs(w.id, path, n);
    let text = stored.map((r) => r.text).join('');
    if (!task.action && this.opts.ports.jobs) {
      const node = await this.opts.store.workflows.tryNode(w.id, path, n);
      const fromAgent = await this.opts.ports.jobs.logs(w.tenant, w.id, path, n, node).catch(() => undefined);
      if (fromAgent !== undefined) text += fromAgent;
    }
    return { path, tryNo: n, tries, text };
  }

  async exportDef(tenant: string, name: string): Promise<string> {
    const w = await this.get(tenant, name);
    const defs = this.opts.ports.defs;
    if (!defs) throw new NubisError('UNAVAILABLE', 'this control plane cannot print workflow definitions (no def unit)');
    return defs.print(liveDefinition(w.def, w.runtime));
  }

  async remove(tenant: string, name: string, caller: WorkflowCaller): Promise<void> {
    const w = await this.get(tenant, name);
    this.killRunning(w);
    this.close(w);
    this.loaded.delete(w.id);
    const { store } = this.opts;
    await Promise.all([store.write(store.workflows.remove(w.id)), this.opts.events.append(this.auditEvent(w, 'workflow.deleted', caller, {}))]);
  }

  /** Kills every try that is submitted or active (the workflow is deleted or replaced). */
  private killRunning(w: Loaded): void {
    for (const n of w.runtime.nodes()) {
      if (w.taskDefs.has(n.path) && (n.state === 'submitted' || n.state === 'active')) {
        const a = w.actions.get(`${n.path}#${n.tryNo}`);
        if (a) a.abort();
        else this.opts.ports.jobs?.kill(w.id, n.path, n.tryNo);
      }
    }
  }

  private mustHave(w: Loaded, path: string): void {
    if (!w.runtime.node(path)) throw new NubisError('NOT_FOUND', `no node ${path} in workflow ${w.name}`);
  }

  private auditEvent(w: Loaded, kind: string, caller: WorkflowCaller, data: Record<string, unknown>): EventInput {
    return {
      kind, actor: caller.actor, tenant: w.tenant, target: w.id, outcome: 'ok', ts: this.opts.clock.now(),
      ...(caller.correlationId ? { correlationId: caller.correlationId } : {}),
      data: { workflow: w.name, ...data },
    };
  }

  private summary(w: Loaded): WorkflowSummary {
    const progress = progressOf(w.taskDefs.keys(), w.runtime);
    let state = 'unknown';
    let sig = -1;
    const order = ['unknown', 'complete', 'queued', 'submitted', 'active', 'aborted'];
    for (const s of w.def.suites) {
      const st = w.runtime.node(`/${s.name}`)?.state ?? 'unknown';
      if (order.indexOf(st) > sig) (sig = order.indexOf(st)), (state = st);
    }
    return {
      name: w.name, status: w.row.status === 'begun' ? 'begun' : 'loaded', file: w.row.file, format: w.row.format === 'yaml' ? 'yaml' : 'def',
      version: w.row.version, state, progress, loadedAt: new Date(Number(w.row.created_at)).toISOString(),
    };
  }
}

function actionText(a: WfAction): string {
  try {
    return printAction(a);
  } catch {
    return a.verb;
  }
}

/** A runtime message as the workflow's tenant names it (the runtime knows the workflow by its id). */
function local(w: { id: string; name: string; tenant: string }, text: string): string {
  return w.tenant === ADMIN_TENANT ? text : text.split(w.id).join(w.name);
}

/** The uploaded files as a map; REQUEST_INVALID naming the file for a bad path or size. */
function checkFiles(input: WorkflowLoadInput): Map<string, string> {
  const out = new Map<string, string>();
  let total = 0;
  for (const [p, content] of Object.entries(input.files ?? {})) {
    const at = `$.files[${JSON.stringify(p)}]`;
    if (typeof content !== 'string') throw new NubisError('REQUEST_INVALID', `${at}: expected the file's text`);
    // keys are names, never opened on this host: paths as the def's ECF_FILES etc. build them (absolute, or with ..)
    if (p.length === 0 || p.length > 1000 || p.includes('\0')) throw new NubisError('REQUEST_INVALID', `${at}: expected a path of 1 to 1000 characters`);
    const size = Buffer.byteLength(content);
    if (size > MAX_FILE_BYTES) throw new NubisError('REQUEST_INVALID', `${at}: ${size} bytes is more than the ${MAX_FILE_BYTES} allowed for one file`);
    total += size;
    out.set(normalizePath(p), content);
  }
  if (total > MAX_FILES_BYTES) throw new NubisError('REQUEST_INVALID', `$.files: ${total} bytes is more than the ${MAX_FILES_BYTES} allowed`);
  return out;
}

/** A definition that cannot be read is the client's error (400) with its location, never a 5xx. */
function asInputError(e: unknown, file: string): NubisError {
  if (isNubisError(e) && e.status >= 400 && e.status < 500) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new NubisError('REQUEST_INVALID', msg.startsWith(file) ? msg : `${file}: ${msg}`);
}

export { ADMIN_TENANT, splitDeploymentId };
