/**
 * The workflow runtime: ecFlow 5.9.2's run-time semantics, event-driven. Every entry point (a
 * user command, a child command, a lost or unstartable try, a clock wake, a restore) is one
 * *step*: it changes state, then evaluates at once only the nodes the change may free (the
 * dependents of the changed nodes, the waiters of a freed limit, a requeued subtree), then
 * tells the hooks — `changed` once with every node changed in the step (snapshots), zombie
 * audits, `kill`s, then `submit`s in depth-first definition order. Hooks may call back into the
 * runtime (the call runs as its own step). Time attributes wake on one Clock sleep for the
 * soonest instant (./waker.ts).
 *
 * Units: ./machine.ts (step state, evaluation), ./transitions.ts (states, requeues, retries),
 * ./limits.ts (tokens), ./child-commands.ts, ./user-commands.ts, ./restore.ts, ./why.ts,
 * ./time.ts (time attributes), ./tree.ts (nodes, paths, dependents), ./variables.ts.
 *
 * @example
 * const rt = createRuntime(def, { clock, hooks: { submit, kill, changed, zombie } });
 * rt.user({ verb: 'begin' });           // hooks.submit(...) for every task free to run
 * rt.child(identity, { verb: 'init', rid: '4242' });
 * rt.child(identity, { verb: 'complete' }); // its dependents are submitted in this call
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import type { Expr, WfDefinition } from '../model/types.js';
import type {
  RuntimeHooks, WfChildCommand, WfChildIdentity, WfChildResult, WfNodeRuntime, WfSubmission, WfUserCommand, WfWhy,
  WorkflowRuntime,
} from '../model/runtime.js';
import { parseExpression } from '../expr/index.js';
import { abortTry, checkWaiters, childCommand } from './child-commands.js';
import { Machine, snapshot } from './machine.js';
import { restoreNodes } from './restore.js';
import { userCommand } from './user-commands.js';
import { DEFAULT_SERVER_VARIABLES, resolveVariables } from './variables.js';
import { Waker } from './waker.js';
import { whyNode } from './why.js';

export interface RuntimeOptions {
  readonly clock: Clock;
  readonly hooks: RuntimeHooks;
  /** Server variables (ECF_HOME, …), below the definition's own server-level variables. */
  readonly serverVariables?: Readonly<Record<string, string>>;
  /** One-time job passwords; default 8 random characters from node:crypto. */
  readonly password?: () => string;
  /** Parses a `--wait` expression; default the expr unit's parseExpression. */
  readonly parseExpression?: (text: string) => Expr;
}

// 8 characters from 6 random bytes; the bytes are drawn 6 KiB at a time
let pool = Buffer.alloc(0);
let poolAt = 0;
const defaultPassword = (): string => {
  if (poolAt + 6 > pool.length) {
    pool = randomBytes(6 * 1024);
    poolAt = 0;
  }
  const s = pool.toString('base64url', poolAt, poolAt + 6);
  poolAt += 6;
  return s;
};

/** Builds the runtime of one loaded workflow. Nothing runs until `begin` (or `restore`). */
export function createRuntime(def: WfDefinition, opts: RuntimeOptions): WorkflowRuntime {
  return new Scheduler(def, opts);
}

class Scheduler implements WorkflowRuntime {
  readonly definition: WfDefinition;
  private readonly m: Machine;
  private readonly hooks: RuntimeHooks;
  private readonly waker: Waker;
  private evaluating = false;
  private closed = false;
  /** Bumped by every step and every batch of submissions: the variable caches' validity. */
  private stamp = 0;

  constructor(def: WfDefinition, opts: RuntimeOptions) {
    this.definition = def;
    this.hooks = opts.hooks;
    const server: Record<string, string> = { ...DEFAULT_SERVER_VARIABLES, ...(opts.serverVariables ?? {}) };
    for (const v of def.variables) server[v.name] = v.value;
    const parse = opts.parseExpression ?? ((text: string) => parseExpression(text).expr);
    this.m = new Machine(def, opts.clock, server, opts.password ?? defaultPassword, parse);
    this.waker = new Waker(opts.clock, this.m, () => this.step(() => this.waker.scan(true)));
  }

  node(path: string): WfNodeRuntime | undefined {
    return this.m.tree.byPath.get(path)?.rt;
  }

  *nodes(): Iterable<WfNodeRuntime> {
    for (const n of this.m.tree.all) yield n.rt;
  }

  user(c: WfUserCommand): WfChildResult {
    return this.step(() => userCommand(this.m, c));
  }

  child(identity: WfChildIdentity, command: WfChildCommand): WfChildResult | Promise<WfChildResult> {
    return this.step(() => childCommand(this.m, identity, command));
  }

  lost(path: string, tryNo: number, detail: string): void {
    this.step(() => abortTry(this.m, path, tryNo, detail));
  }

  failedToStart(path: string, tryNo: number, detail: string): void {
    this.step(() => abortTry(this.m, path, tryNo, detail));
  }

  restore(nodes: readonly WfNodeRuntime[]): void {
    this.step(() => {
      restoreNodes(this.m, nodes);
      // slots reached while nothing ran are caught up now
      this.waker.scan(false);
    });
  }

  close(): void {
    this.closed = true;
    for (const w of this.m.waiters) w.resolve({ ok: false, zombie: false, why: 'the workflow runtime was closed' });
    this.m.waiters = [];
    for (const h of [...this.m.held]) {
      this.m.held.delete(h);
      h.ctl.abort();
      h.resolve();
    }
    this.waker.close();
  }

  why(path: string): WfWhy[] {
    this.m.now = this.m.clock.now();
    const n = this.m.tree.byPath.get(path);
    if (!n) return [{ path, kind: 'state', detail: `no node ${path} in workflow ${this.definition.name}` }];
    return whyNode(this.m, n);
  }

  private step<T>(fn: () => T): T {
    if (this.evaluating) throw new Error('workflow runtime: re-entrant call while evaluating');
    this.evaluating = true;
    this.stamp++;
    this.m.begin();
    let result: T;
    try {
      result = fn();
      this.m.drain();
      checkWaiters(this.m);
    } finally {
      this.evaluating = false;
    }
    this.emit();
    return result;
  }

  /** Tells the hooks what the step did, in order. */
  private emit(): void {
    const m = this.m;
    const { changed, interim, kills, submits, zombies, answers } = m;
    m.changed = new Set();
    m.interim = [];
    m.kills = [];
    m.submits = [];
    m.zombies = [];
    m.answers = [];
    const wf = this.definition.name;
    if (changed.size > 0) {
      // states a node passed through in the step (a completion before its requeue, an abort before its retry), then the end states
      const snaps: WfNodeRuntime[] = interim;
      for (const n of changed) snaps.push(snapshot(n));
      this.hooks.changed(wf, snaps);
    }
    for (const z of zombies) this.hooks.zombie(wf, z.id, z.c, z.why);
    for (const k of kills) this.hooks.kill(wf, k.path, k.tryNo);
    submits.sort((a, b) => a.index - b.index);
    const now = m.clock.now();
    this.stamp++;
    const tries = submits.map((n) => n.rt.tryNo);
    for (let i = 0; i < submits.length; i++) {
      const n = submits[i]!;
      // a hook called back and this try is already over
      if (n.rt.state !== 'submitted' || n.rt.tryNo !== tries[i]) continue;
      const sub: WfSubmission = {
        workflow: wf,
        path: n.path,
        tryNo: n.rt.tryNo,
        password: n.rt.password!,
        variables: resolveVariables(n, now, m.server, this.stamp),
        ...(n.def.action ? { action: n.def.action } : {}),
      };
      try {
        this.hooks.submit(sub);
      } catch (e) {
        // the owner could not take the try: it fails to start (and is retried per ECF_TRIES)
        const detail = `submit failed: ${(e as Error).message}`;
        queueMicrotask(() => this.failedToStart(sub.path, sub.tryNo, detail));
      }
    }
    for (const a of answers) a();
    if (m.timeDirty && !this.closed) this.waker.arm();
  }
}
