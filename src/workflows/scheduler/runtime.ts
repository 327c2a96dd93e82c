/**
 * The workflow runtime: ecFlow 5.9.2's run-time semantics, event-driven. Every entry point (a
 * user command, a child command, a lost or unstartable try, a clock wake, a restore) is one
 * *step*: it changes state, then evaluates at once only the nodes the change may free (the
 * dependents of the changed nodes, the waiters of a freed limit, a requeued subtree), then
 * tells the hooks — `changed` once with every node changed in the step, `kill`s, then
 * `submit`s in depth-first definition order. Hooks may call back into the runtime (the call
 * runs as its own step). Time attributes wake on one Clock sleep for the soonest instant.
 *
 * Decisions where ecFlow leaves room (each also in the unit's README):
 * - a user `requeue` queues the node and its subtree ignoring defstatus (NOTES: a requeue runs a
 *   `defstatus complete` node); begin and repeat/time requeues apply defstatus;
 * - a requeue resets the try number (ecFlow's Submittable::requeue), passwords are new per try;
 * - `kill` and `force aborted` never retry; abort, lost and failed-to-start retry per ECF_TRIES;
 * - `inlimit -n` on a family: the family holds one token from its first submission until it is
 *   complete, aborted or requeued;
 * - `run` takes the tokens even when that overfills the limit.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import type { Expr, WfDefinition, WfState } from '../model/types.js';
import { STATE_SIGNIFICANCE } from '../model/types.js';
import type {
  RuntimeHooks, WfChildCommand, WfChildIdentity, WfChildResult, WfNodeRuntime, WfSubmission, WfUserCommand, WfWhy,
  WorkflowRuntime,
} from '../model/runtime.js';
import { evaluateExpression, exprText, falseTerms, type ExprEnv } from './evaluate.js';
import { dayNumber } from './calendar.js';
import { isDateRepeat, repeatName, repeatValid, repeatValue } from './repeat.js';
import { decodeTime, encodeTime, nextWake, requeueTime, resetTime, scanTime, timeFree, timeRequeues, timeWhy } from './time.js';
import { BY_SIGNIFICANCE, RNode, Tree, resetAttributes, type LimitRec } from './tree.js';
import { DEFAULT_SERVER_VARIABLES, PROTECTED_VARIABLES, generatedVariables, lookupVariable, ownVariable, resolveVariables } from './variables.js';

export interface RuntimeOptions {
  readonly clock: Clock;
  readonly hooks: RuntimeHooks;
  /** Server variables (ECF_HOME, …), below the definition's own server-level variables. */
  readonly serverVariables?: Readonly<Record<string, string>>;
  /** One-time job passwords; default 8 random characters from node:crypto. */
  readonly password?: () => string;
  /** Parses a `--wait` expression (the expr unit's parseExpression). Without it `wait` is refused. */
  readonly parseExpression?: (text: string) => Expr;
}

const ok: WfChildResult = { ok: true };
const MAX_SLEEP_MS = 6 * 3_600_000;
const refuse = (why: string): WfChildResult => ({ ok: false, zombie: false, why });

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

interface Waiter {
  readonly task: RNode;
  readonly tryNo: number;
  readonly expr: Expr;
  readonly resolve: (r: WfChildResult) => void;
}

type ResetMode = 'begin' | 'user' | 'cycle';

class Scheduler implements WorkflowRuntime {
  readonly definition: WfDefinition;
  private readonly tree: Tree;
  private readonly clock: Clock;
  private readonly hooks: RuntimeHooks;
  private readonly server: Readonly<Record<string, string>>;
  private readonly password: () => string;
  private readonly parse: ((text: string) => Expr) | undefined;

  // the current step
  private evaluating = false;
  private queue: RNode[] = [];
  private changed = new Set<RNode>();
  private submits: RNode[] = [];
  private kills: { path: string; tryNo: number }[] = [];
  private freed = new Set<LimitRec>();
  private holdBack: { limit: LimitRec; list: RNode[] } | undefined;
  private waiters: Waiter[] = [];
  private zombies: { id: WfChildIdentity; c: WfChildCommand; why: string }[] = [];
  private answers: (() => void)[] = [];
  private now = 0;

  // time
  private timeDirty = true;
  private timer: AbortController | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;
  private lastWakeDay = -1;
  /** Bumped before each batch of submissions (and by every step): the variable caches' validity. */
  private stamp = 0;

  constructor(def: WfDefinition, opts: RuntimeOptions) {
    this.definition = def;
    this.clock = opts.clock;
    this.hooks = opts.hooks;
    const server: Record<string, string> = { ...DEFAULT_SERVER_VARIABLES, ...(opts.serverVariables ?? {}) };
    for (const v of def.variables) server[v.name] = v.value;
    this.server = server;
    this.password = opts.password ?? defaultPassword;
    this.parse = opts.parseExpression;
    this.now = this.clock.now();
    this.tree = new Tree(def, this.now);
  }

  // ------------------------------------------------------------------------------------------
  // public surface

  node(path: string): WfNodeRuntime | undefined {
    return this.tree.byPath.get(path)?.rt;
  }

  *nodes(): Iterable<WfNodeRuntime> {
    for (const n of this.tree.all) yield n.rt;
  }

  user(c: WfUserCommand): WfChildResult {
    return this.step(() => this.userCommand(c));
  }

  child(identity: WfChildIdentity, command: WfChildCommand): WfChildResult | Promise<WfChildResult> {
    return this.step(() => this.childCommand(identity, command));
  }

  lost(path: string, tryNo: number, detail: string): void {
    this.step(() => this.abortTry(path, tryNo, detail));
  }

  failedToStart(path: string, tryNo: number, detail: string): void {
    this.step(() => this.abortTry(path, tryNo, detail));
  }

  restore(nodes: readonly WfNodeRuntime[]): void {
    this.step(() => this.restoreNodes(nodes));
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters) w.resolve({ ok: false, zombie: false, why: 'the workflow runtime was closed' });
    this.waiters = [];
    this.timer?.abort();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  why(path: string): WfWhy[] {
    this.now = this.clock.now();
    const n = this.tree.byPath.get(path);
    if (!n) return [{ path, kind: 'state', detail: `no node ${path} in workflow ${this.definition.name}` }];
    return this.whyNode(n, 0);
  }

  // ------------------------------------------------------------------------------------------
  // steps

  private step<T>(fn: () => T): T {
    if (this.evaluating) throw new Error('workflow runtime: re-entrant call while evaluating');
    this.evaluating = true;
    this.stamp++;
    this.now = this.clock.now();
    let result: T;
    try {
      result = fn();
      this.drain();
    } finally {
      this.evaluating = false;
    }
    this.emit();
    return result;
  }

  private enqueue(n: RNode): void {
    if (n.dirty) return;
    n.dirty = true;
    this.queue.push(n);
  }

  private touch(n: RNode): void {
    this.changed.add(n);
  }

  private markDependents(n: RNode): void {
    for (const d of n.dependents) this.enqueue(d);
  }

  /** Evaluates queued nodes and freed limits until nothing more can change. */
  private drain(): void {
    for (;;) {
      for (let i = 0; i < this.queue.length; i++) {
        const n = this.queue[i]!;
        n.dirty = false;
        if (this.ancestorsOpen(n)) this.visit(n);
      }
      this.queue.length = 0;
      if (this.freed.size === 0) break;
      const limits = [...this.freed].sort((a, b) => a.node.index - b.node.index);
      this.freed.clear();
      for (const l of limits) this.serveWaiters(l);
      if (this.queue.length === 0 && this.freed.size === 0) break;
    }
    if (this.waiters.length > 0) this.checkWaiters();
  }

  private emit(): void {
    const changed = this.changed;
    const kills = this.kills;
    const submits = this.submits;
    const zombies = this.zombies;
    const answers = this.answers;
    this.changed = new Set();
    this.kills = [];
    this.submits = [];
    this.zombies = [];
    this.answers = [];
    const wf = this.definition.name;
    if (changed.size > 0) {
      const snaps: WfNodeRuntime[] = [];
      for (const n of changed) snaps.push(this.snapshot(n));
      this.hooks.changed(wf, snaps);
    }
    for (const z of zombies) this.hooks.zombie(wf, z.id, z.c, z.why);
    for (const k of kills) this.hooks.kill(wf, k.path, k.tryNo);
    submits.sort((a, b) => a.index - b.index);
    const now = this.clock.now();
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
        variables: resolveVariables(n, now, this.server, this.stamp),
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
    if (this.timeDirty && !this.closed) this.armTimer();
  }

  private snapshot(n: RNode): WfNodeRuntime {
    if (n.time) n.rt.fired = encodeTime(n.time);
    const rt = n.rt;
    return {
      ...rt,
      events: { ...rt.events },
      meters: { ...rt.meters },
      labels: { ...rt.labels },
      variables: { ...rt.variables },
      ...(rt.fired ? { fired: [...rt.fired] } : {}),
    };
  }

  // ------------------------------------------------------------------------------------------
  // evaluation

  private envOf(n: RNode): ExprEnv {
    const tree = this.tree;
    return {
      state: (p) => n.resolve(tree, p)?.rt.state,
      attr: (p, name) => {
        const t = n.resolve(tree, p);
        return t ? this.attrValue(t, name) : undefined;
      },
      isDate: (p, name) => {
        const t = n.resolve(tree, p);
        const r = t?.def.repeat;
        return !!r && repeatName(r) === name && isDateRepeat(r) && !(name in t.rt.events) && !(name in t.rt.meters) && ownVariable(t, name) === undefined;
      },
      flag: () => false,
    };
  }

  /** `node:name`: event > meter > variable > repeat > generated variable > limit. */
  private attrValue(t: RNode, name: string): number | undefined {
    const ev = t.rt.events[name];
    if (ev !== undefined) return ev ? 1 : 0;
    const m = t.rt.meters[name];
    if (m !== undefined) return m;
    const v = ownVariable(t, name);
    if (v !== undefined) return toInt(v);
    const r = t.def.repeat;
    if (r && repeatName(r) === name) return repeatValue(r, t.rt.repeatIndex ?? 0);
    const g = generatedVariables(t, this.now)[name];
    if (g !== undefined) return toInt(g);
    const l = t.limits.get(name);
    if (l) return l.used;
    return undefined;
  }

  private holds(n: RNode, e: Expr | undefined): boolean {
    return e === undefined || evaluateExpression(e, this.envOf(n));
  }

  /** Every ancestor lets its subtree run: not suspended, begun, not complete, trigger and time free. */
  private ancestorsOpen(n: RNode): boolean {
    for (let a = n.parent; a; a = a.parent) {
      if (!this.gateOpen(a)) return false;
    }
    return true;
  }

  private gateOpen(a: RNode): boolean {
    const s = a.rt.state;
    if (a.rt.suspended || s === 'unknown' || s === 'complete') return false;
    if (!this.holds(a, a.trigger)) return false;
    if (a.time && !timeFree(a.time, this.now)) return false;
    return true;
  }

  /** Runs what can run at or below `n` (its ancestors are open). */
  private visit(n: RNode): void {
    if (n.rt.suspended) return;
    const s = n.rt.state;
    if (n.kind !== 'task') {
      if (s === 'unknown' || s === 'complete') return;
      if (s === 'queued' && n.completeExpr && this.holds(n, n.completeExpr)) {
        this.completeByRule(n);
        return;
      }
      if (!this.holds(n, n.trigger)) return;
      if (n.time && !timeFree(n.time, this.now)) return;
      for (const c of n.children) this.visit(c);
      return;
    }
    if (!(s === 'queued' || (s === 'aborted' && n.retryPending))) return;
    if (s === 'queued' && n.completeExpr && this.holds(n, n.completeExpr)) {
      this.completeByRule(n);
      return;
    }
    if (!this.holds(n, n.trigger)) return;
    if (n.time && !timeFree(n.time, this.now)) return;
    const blocked = this.blockingLimit(n);
    if (blocked) {
      this.wait(n, blocked);
      return;
    }
    this.submit(n, false);
  }

  // ------------------------------------------------------------------------------------------
  // limits

  /** The first limit without enough free tokens for all of the task's needs of it together. */
  private blockingLimit(t: RNode): LimitRec | undefined {
    const needs = t.needs;
    for (let i = 0; i < needs.length; i++) {
      const need = needs[i]!;
      const l = need.limit;
      if (l.holders.has(need.holder.path)) continue;
      let want = need.tokens;
      for (let j = 0; j < i; j++) {
        const o = needs[j]!;
        if (o.limit === l && !l.holders.has(o.holder.path)) want += o.tokens;
      }
      if (l.used + want > l.size) return l;
    }
    return undefined;
  }

  private acquire(t: RNode): void {
    for (const need of t.needs) {
      const l = need.limit;
      const key = need.holder.path;
      if (l.holders.has(key)) continue;
      l.holders.set(key, need.tokens);
      l.used += need.tokens;
      if (need.holder !== t) {
        (need.holder.heldAsNode ??= new Set()).add(l);
        // the other tasks below the `-n` node may wait for this very token: they can run now
        this.enqueue(need.holder);
      }
      this.limitChanged(l);
    }
  }

  /** Gives back the tokens the task holds (all, or only its submission-only ones). */
  private release(t: RNode, submissionOnly: boolean): void {
    for (const need of t.needs) {
      if (need.holder !== t || (submissionOnly && !need.submissionOnly)) continue;
      this.releaseHolder(need.limit, t.path);
    }
  }

  private releaseHolder(l: LimitRec, key: string): void {
    const tokens = l.holders.get(key);
    if (tokens === undefined) return;
    l.holders.delete(key);
    l.used -= tokens;
    this.freed.add(l);
    this.limitChanged(l);
  }

  /** A `-n` node that is done gives its tokens back. */
  private releaseAsNode(n: RNode): void {
    if (!n.heldAsNode) return;
    for (const l of n.heldAsNode) this.releaseHolder(l, n.path);
    n.heldAsNode = undefined;
  }

  private limitChanged(l: LimitRec): void {
    this.touch(l.node);
    this.markDependents(l.node);
  }

  private wait(t: RNode, l: LimitRec): void {
    if (this.holdBack && this.holdBack.limit === l) {
      t.waitingOn = l;
      this.holdBack.list.push(t);
      return;
    }
    if (t.waitingOn === l) return;
    t.waitingOn = l;
    l.waiters.push(t);
  }

  /** Tokens came back: offer them to the waiting tasks, lowest definition index first. */
  private serveWaiters(l: LimitRec): void {
    const back: RNode[] = [];
    this.holdBack = { limit: l, list: back };
    try {
      while (l.used < l.size && l.waiters.size > 0) {
        const w = l.waiters.pop()!;
        if (w.waitingOn !== l) continue;
        w.waitingOn = undefined;
        if (w.dirty) continue; // evaluated anyway this step
        if (this.ancestorsOpen(w)) this.visit(w);
      }
    } finally {
      this.holdBack = undefined;
    }
    for (const b of back) l.waiters.push(b);
  }

  // ------------------------------------------------------------------------------------------
  // state changes

  /** Sets a node's own state and keeps its parent's counts. Does not propagate upwards. */
  private setState(n: RNode, s: WfState, reason?: string): void {
    const old = n.rt.state;
    if (reason !== undefined) n.rt.reason = reason;
    else if (s === 'queued' || s === 'submitted' || s === 'active') delete n.rt.reason;
    if (old !== s) {
      n.rt.state = s;
      n.rt.changedAt = this.now;
      if (n.parent) {
        n.parent.counts[STATE_SIGNIFICANCE[old]]!--;
        n.parent.counts[STATE_SIGNIFICANCE[s]]!++;
      }
      this.markDependents(n);
      if (n.time) this.timeDirty = true;
      if (n.heldAsNode && (s === 'complete' || s === 'aborted')) this.releaseAsNode(n);
    }
    this.touch(n);
  }

  private derived(n: RNode): WfState {
    if (n.children.length === 0) return n.rt.state;
    for (let i = 5; i >= 0; i--) if (n.counts[i]! > 0) return BY_SIGNIFICANCE[i]!;
    return 'unknown';
  }

  /** Recomputes the states of `a` and its ancestors from their children. */
  private propagate(a: RNode | undefined): void {
    while (a) {
      const d = this.derived(a);
      if (d === a.rt.state) return;
      this.setState(a, d, d === 'complete' ? a.rt.reason : undefined);
      if (d === 'complete') this.onComplete(a, false);
      else if (d === 'queued' && a.completeExpr) this.enqueue(a);
      a = a.parent;
    }
  }

  /**
   * A node has just completed (run, rule or force): a repeat moves on and requeues it, or a
   * later time slot (or any cron) requeues it. True when it was requeued.
   */
  private onComplete(n: RNode, byRule: boolean): boolean {
    const r = n.def.repeat;
    if (r) {
      const next = (n.rt.repeatIndex ?? 0) + 1;
      if (repeatValid(r, next)) {
        n.rt.repeatIndex = next;
        this.markDependents(n);
        this.requeue(n, 'cycle', true, true);
        return true;
      }
    }
    if (n.time && timeRequeues(n.time, this.now)) {
      this.requeue(n, 'cycle', false, !byRule);
      return true;
    }
    return false;
  }

  /**
   * Requeues `n` and its subtree. `begin`: defstatus applied, everything afresh. `user`: all
   * queued. `cycle` (a repeat or time requeue): `n` keeps its repeat and moves its time series
   * past now; its subtree starts afresh with defstatus.
   */
  private requeue(n: RNode, mode: ResetMode, repeatStep: boolean, evaluate: boolean): void {
    const old = n.rt.state;
    const applyDef = mode !== 'user';
    const resetOne = (x: RNode, inherited: WfState | undefined, self: boolean): void => {
      const cycleSelf = self && mode === 'cycle';
      const keepIndex = x.rt.repeatIndex;
      resetAttributes(x);
      if (cycleSelf && keepIndex !== undefined) x.rt.repeatIndex = keepIndex;
      if (x.time) {
        if (cycleSelf) requeueTime(x.time, this.now, repeatStep);
        else resetTime(x.time, this.now);
        this.timeDirty = true;
      }
      if (mode === 'begin') x.rt.suspended = false;
      let st: WfState = inherited ?? 'queued';
      let childInherited = inherited;
      if (applyDef && !cycleSelf && x.def.defstatus) {
        if (x.def.defstatus === 'suspended') x.rt.suspended = true;
        else if (x.def.defstatus !== 'queued') {
          st = x.def.defstatus;
          childInherited = st;
        }
      }
      if (x.kind === 'task') {
        x.rt.tryNo = 0;
        delete x.rt.password;
        delete x.rt.rid;
        x.retryPending = false;
        x.waitingOn = undefined;
      }
      if (x.heldAsNode) this.releaseAsNode(x);
      delete x.rt.reason;
      x.counts.fill(0);
      for (const c of x.children) {
        resetOne(c, childInherited, false);
        x.counts[STATE_SIGNIFICANCE[c.rt.state]]!++;
      }
      const ns = x.children.length > 0 ? this.derived(x) : st;
      if (x.rt.state !== ns) {
        x.rt.state = ns;
        x.rt.changedAt = this.now;
      }
      this.touch(x);
      this.markDependents(x);
    };
    resetOne(n, undefined, true);
    if (n.parent && old !== n.rt.state) {
      n.parent.counts[STATE_SIGNIFICANCE[old]]!--;
      n.parent.counts[STATE_SIGNIFICANCE[n.rt.state]]!++;
    }
    if (evaluate) this.enqueue(n);
  }

  private submit(t: RNode, ignoreLimits: boolean): void {
    // `run` ignores the limits but still takes the tokens (they are given back on completion)
    void ignoreLimits;
    this.acquire(t);
    t.rt.tryNo += 1;
    t.rt.password = this.password();
    delete t.rt.rid;
    t.retryPending = false;
    t.waitingOn = undefined;
    this.setState(t, 'submitted');
    this.submits.push(t);
    this.propagate(t.parent);
  }

  private completeTask(t: RNode, reason?: string): void {
    this.release(t, false);
    this.setState(t, 'complete', reason);
    this.onComplete(t, reason === 'by_rule');
    this.propagate(t.parent);
  }

  private abortTask(t: RNode, reason: string, retry: boolean): void {
    this.release(t, false);
    this.setState(t, 'aborted', reason);
    const tries = toInt(lookupVariable(t, 'ECF_TRIES', this.now, this.server) ?? '2');
    t.retryPending = retry && t.rt.tryNo < tries;
    if (t.retryPending) this.enqueue(t);
    this.propagate(t.parent);
  }

  private completeByRule(n: RNode): void {
    if (n.kind === 'task') {
      this.completeTask(n, 'by_rule');
      return;
    }
    const setAll = (x: RNode): void => {
      x.counts.fill(0);
      for (const c of x.children) setAll(c);
      x.counts[STATE_SIGNIFICANCE.complete] = x.children.length;
      if (x !== n && x.rt.state !== 'complete') {
        x.rt.state = 'complete';
        x.rt.reason = 'by_rule';
        x.rt.changedAt = this.now;
        this.touch(x);
        this.markDependents(x);
        if (x.heldAsNode) this.releaseAsNode(x);
      }
    };
    setAll(n);
    this.setState(n, 'complete', 'by_rule');
    this.onComplete(n, true);
    this.propagate(n.parent);
  }

  // ------------------------------------------------------------------------------------------
  // child commands

  private childCommand(id: WfChildIdentity, c: WfChildCommand): WfChildResult | Promise<WfChildResult> {
    const t = this.tree.byPath.get(id.path);
    if (!t || t.kind !== 'task') return refuse(`no task ${id.path} in workflow ${this.definition.name}`);
    const z = this.zombieWhy(t, id, c);
    if (z !== undefined) {
      this.zombies.push({ id, c, why: z });
      return { ok: false, zombie: true, why: z };
    }
    switch (c.verb) {
      case 'init':
        t.rt.rid = c.rid;
        for (const [k, v] of Object.entries(c.add ?? {})) t.rt.variables[k] = v;
        this.release(t, true);
        this.setState(t, 'active');
        this.propagate(t.parent);
        return ok;
      case 'complete':
        for (const k of c.remove ?? []) delete t.rt.variables[k];
        this.completeTask(t);
        return ok;
      case 'abort':
        this.abortTask(t, c.reason || 'aborted', true);
        return ok;
      case 'event':
        if (!(c.name in t.rt.events)) return refuse(`${t.path} has no event ${c.name}`);
        if (t.rt.events[c.name] !== c.value) {
          t.rt.events[c.name] = c.value;
          this.touch(t);
          this.markDependents(t);
        }
        return ok;
      case 'meter': {
        const m = t.def.meters.find((x) => x.name === c.name);
        if (!m) return refuse(`${t.path} has no meter ${c.name}`);
        if (!Number.isInteger(c.value) || c.value < m.min || c.value > m.max) return refuse(`meter ${c.name} value ${c.value} is outside ${m.min}..${m.max}`);
        if (t.rt.meters[c.name] !== c.value) {
          t.rt.meters[c.name] = c.value;
          this.touch(t);
          this.markDependents(t);
        }
        return ok;
      }
      case 'label':
        if (!(c.name in t.rt.labels)) return refuse(`${t.path} has no label ${c.name}`);
        t.rt.labels[c.name] = c.value;
        this.touch(t);
        return ok;
      case 'wait': {
        if (!this.parse) return refuse('wait: no expression parser configured');
        let expr: Expr;
        try {
          expr = this.parse(c.expression);
        } catch (e) {
          return refuse(`wait: ${(e as Error).message}`);
        }
        if (this.holds(t, expr)) return Promise.resolve(ok);
        return new Promise<WfChildResult>((resolve) => {
          this.waiters.push({ task: t, tryNo: t.rt.tryNo, expr, resolve });
        });
      }
    }
  }

  private zombieWhy(t: RNode, id: WfChildIdentity, c: WfChildCommand): string | undefined {
    if (id.password !== t.rt.password) return `wrong password for ${t.path}`;
    if (id.tryNo !== t.rt.tryNo) return `stale try ${id.tryNo} of ${t.path} (current try ${t.rt.tryNo})`;
    const s = t.rt.state;
    if (s !== 'submitted' && s !== 'active') return `${t.path} is ${s}, not submitted or active`;
    if (c.verb === 'init' && s === 'active' && t.rt.rid !== undefined && t.rt.rid !== c.rid) {
      return `${t.path} is already active with rid ${t.rt.rid}`;
    }
    return undefined;
  }

  private checkWaiters(): void {
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      const s = w.task.rt.state;
      if (w.task.rt.tryNo !== w.tryNo || (s !== 'submitted' && s !== 'active')) {
        this.answers.push(() => w.resolve({ ok: false, zombie: true, why: `${w.task.path} try ${w.tryNo} is no longer running` }));
      } else if (this.holds(w.task, w.expr)) {
        this.answers.push(() => w.resolve(ok));
      } else keep.push(w);
    }
    this.waiters = keep;
  }

  private abortTry(path: string, tryNo: number, detail: string): void {
    const t = this.tree.byPath.get(path);
    if (!t || t.kind !== 'task' || t.rt.tryNo !== tryNo) return;
    if (t.rt.state !== 'submitted' && t.rt.state !== 'active') return;
    this.abortTask(t, detail, true);
  }

  // ------------------------------------------------------------------------------------------
  // user commands

  private userCommand(c: WfUserCommand): WfChildResult {
    if (c.verb === 'begin') return this.begin(c.path);
    const n = this.tree.byPath.get(c.path);
    if (!n) return refuse(`no node ${c.path} in workflow ${this.definition.name}`);
    switch (c.verb) {
      case 'suspend':
        if (!n.rt.suspended) {
          n.rt.suspended = true;
          this.touch(n);
        }
        return ok;
      case 'resume':
        if (n.rt.suspended) {
          n.rt.suspended = false;
          this.touch(n);
          this.enqueue(n);
        }
        return ok;
      case 'requeue':
        return this.userRequeue(n, c.mode);
      case 'force':
        return this.force(n, c.state);
      case 'run': {
        const tasks = this.tasksBelow(n).filter((t) => t.rt.state !== 'submitted' && t.rt.state !== 'active');
        if (tasks.length === 0) return refuse(`${n.path}: nothing to run (every task is submitted or active)`);
        for (const t of tasks) this.submit(t, true);
        return ok;
      }
      case 'kill':
        for (const t of this.tasksBelow(n)) {
          if (t.rt.state !== 'submitted' && t.rt.state !== 'active') continue;
          this.kills.push({ path: t.path, tryNo: t.rt.tryNo });
          this.abortTask(t, 'killed', false);
        }
        return ok;
      case 'alter':
        if (PROTECTED_VARIABLES.has(c.variable)) return refuse(`${c.variable} is generated by the server and read only`);
        n.rt.variables[c.variable] = c.value;
        this.touch(n);
        this.markDependents(n);
        this.enqueue(n);
        return ok;
    }
  }

  private begin(path: string | undefined): WfChildResult {
    let suites: RNode[];
    if (path !== undefined && path !== '' && path !== '/') {
      const s = this.tree.byPath.get(path);
      if (!s || s.kind !== 'suite') return refuse(`no suite ${path} in workflow ${this.definition.name}`);
      if (s.rt.state !== 'unknown') return refuse(`suite ${path} has already begun`);
      suites = [s];
    } else {
      suites = this.tree.suites.filter((s) => s.rt.state === 'unknown');
      if (suites.length === 0) return refuse('every suite has already begun');
    }
    for (const s of suites) {
      this.requeue(s, 'begin', false, true);
      this.timeDirty = true;
    }
    return ok;
  }

  private userRequeue(n: RNode, mode: 'all' | 'aborted'): WfChildResult {
    const tasks = this.tasksBelow(n);
    if (mode === 'aborted') {
      for (const t of tasks) {
        if (t.rt.state !== 'aborted') continue;
        t.rt.tryNo = 0;
        t.retryPending = false;
        this.setState(t, 'queued');
        this.enqueue(t);
        this.propagate(t.parent);
      }
      return ok;
    }
    const running = tasks.filter((t) => t.rt.state === 'submitted' || t.rt.state === 'active');
    if (running.length > 0) return refuse(`${n.path} has ${running.length} submitted or active task(s) (${running[0]!.path}…): kill them first`);
    this.requeue(n, 'user', false, true);
    this.propagate(n.parent);
    return ok;
  }

  private force(n: RNode, state: 'complete' | 'aborted' | 'queued'): WfChildResult {
    const reason = state === 'queued' ? undefined : 'forced';
    const setOne = (x: RNode): void => {
      if (x.kind === 'task') {
        if (x.rt.state === 'submitted' || x.rt.state === 'active') this.release(x, false);
        x.retryPending = false;
        if (state === 'queued') {
          delete x.rt.password;
        }
      }
      x.counts.fill(0);
      for (const c of x.children) {
        setOne(c);
        x.counts[STATE_SIGNIFICANCE[c.rt.state]]!++;
      }
      if (x === n) return;
      if (x.rt.state !== state) {
        x.rt.state = state;
        x.rt.changedAt = this.now;
        this.markDependents(x);
      }
      if (reason) x.rt.reason = reason;
      else delete x.rt.reason;
      if (x.heldAsNode) this.releaseAsNode(x);
      this.touch(x);
    };
    setOne(n);
    this.setState(n, state, reason);
    if (state === 'complete') this.onComplete(n, false);
    if (state === 'queued') this.enqueue(n);
    this.propagate(n.parent);
    return ok;
  }

  private tasksBelow(n: RNode): RNode[] {
    if (n.kind === 'task') return [n];
    const out: RNode[] = [];
    const walk = (x: RNode): void => {
      for (const c of x.children) {
        if (c.kind === 'task') out.push(c);
        else walk(c);
      }
    };
    walk(n);
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // restore

  private restoreNodes(saved: readonly WfNodeRuntime[]): void {
    for (const s of saved) {
      const n = this.tree.byPath.get(s.path);
      if (!n) continue;
      n.rt = {
        ...s,
        events: { ...n.rt.events, ...s.events },
        meters: { ...n.rt.meters, ...s.meters },
        labels: { ...n.rt.labels, ...s.labels },
        variables: { ...s.variables },
        ...(s.fired ? { fired: [...s.fired] } : {}),
      };
      if (n.time) decodeTime(n.time, s.fired);
    }
    // parents' counts and states from their children, bottom-up
    for (let i = this.tree.all.length - 1; i >= 0; i--) {
      const n = this.tree.all[i]!;
      if (n.children.length === 0) continue;
      n.counts.fill(0);
      for (const c of n.children) n.counts[STATE_SIGNIFICANCE[c.rt.state]]!++;
      n.rt.state = this.derived(n);
    }
    // tokens from what is running
    for (const l of this.tree.limits) {
      l.used = 0;
      l.holders.clear();
      l.waiters.clear();
    }
    for (const n of this.tree.all) {
      n.heldAsNode = undefined;
      n.waitingOn = undefined;
      n.retryPending = false;
    }
    for (const n of this.tree.all) {
      if (n.kind !== 'task') continue;
      const s = n.rt.state;
      if (s === 'submitted' || s === 'active') {
        for (const need of n.needs) {
          if (s === 'active' && need.submissionOnly && need.holder === n) continue;
          const key = need.holder.path;
          if (need.limit.holders.has(key)) continue;
          need.limit.holders.set(key, need.tokens);
          need.limit.used += need.tokens;
          if (need.holder !== n) (need.holder.heldAsNode ??= new Set()).add(need.limit);
        }
      }
    }
    // slots reached while nothing ran are caught up now
    for (const n of this.tree.timed) {
      if (n.rt.state === 'unknown' || n.rt.state === 'complete') continue;
      if (scanTime(n.time!, this.now)) this.touch(n);
    }
    this.lastWakeDay = dayNumber(this.now);
    this.timeDirty = true;
    for (const s of this.tree.suites) if (s.rt.state !== 'unknown') this.enqueue(s);
  }

  // ------------------------------------------------------------------------------------------
  // time

  private armTimer(): void {
    this.timeDirty = false;
    const now = this.clock.now();
    let at = Number.POSITIVE_INFINITY;
    for (const n of this.tree.timed) {
      const s = n.rt.state;
      if (s === 'unknown' || s === 'complete') continue;
      at = Math.min(at, nextWake(n.time!, now));
    }
    if (at === this.timerAt) return;
    this.timer?.abort();
    this.timer = undefined;
    this.timerAt = at;
    if (!Number.isFinite(at)) return;
    const ctl = new AbortController();
    this.timer = ctl;
    // a long sleep is cut into pieces (timers overflow past 24.8 days); waking early only rescans
    this.clock.sleep(Math.min(Math.max(0, at - now), MAX_SLEEP_MS), ctl.signal).then(
      () => {
        if (this.timer !== ctl || this.closed) return;
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.onWake();
      },
      () => {},
    );
  }

  private onWake(): void {
    if (this.evaluating) {
      // cannot happen (steps are synchronous); wake again on the next turn
      this.timeDirty = true;
      return;
    }
    this.step(() => {
      this.timeDirty = true;
      const day = dayNumber(this.now);
      if (day !== this.lastWakeDay) {
        // the suites' calendar variables (YYYY, DATE, …) changed
        this.lastWakeDay = day;
        for (const su of this.tree.suites) this.markDependents(su);
      }
      for (const n of this.tree.timed) {
        const s = n.rt.state;
        if (s === 'unknown' || s === 'complete') continue;
        if (scanTime(n.time!, this.now)) this.touch(n);
        this.enqueue(n);
      }
    });
  }

  // ------------------------------------------------------------------------------------------
  // why

  private whyNode(n: RNode, depth: number): WfWhy[] {
    const out: WfWhy[] = [];
    const s = n.rt.state;
    const add = (path: string, kind: string, detail: string): void => {
      out.push({ path, kind, detail });
    };
    if (s === 'unknown') {
      add(n.path, 'state', `${n.path} is unknown: the suite ${n.suite.path} has not begun`);
      return out;
    }
    if (n.kind === 'task' && s !== 'queued' && !(s === 'aborted' && n.retryPending)) {
      add(n.path, 'state', `${n.path} is ${s}${n.rt.reason ? ` (${n.rt.reason})` : ''}`);
      return out;
    }
    if (n.kind !== 'task' && s === 'complete') {
      add(n.path, 'state', `${n.path} is complete`);
      return out;
    }
    const chain: RNode[] = [];
    for (let a = n.parent; a; a = a.parent) chain.unshift(a);
    for (const a of chain) {
      if (a.rt.suspended) add(a.path, 'suspended', `parent ${a.path} is suspended`);
      if (a.trigger && !this.holds(a, a.trigger)) {
        for (const d of this.termsWhy(a, a.trigger)) add(a.path, 'parent', `parent ${a.path} trigger: ${d}`);
      }
      if (a.time && !timeFree(a.time, this.now)) {
        for (const w of timeWhy(a.time, this.now)) add(a.path, 'parent', `parent ${a.path} ${w.detail}`);
      }
    }
    if (n.rt.suspended) add(n.path, 'suspended', `${n.path} is suspended`);
    if (n.trigger && !this.holds(n, n.trigger)) {
      for (const d of this.termsWhy(n, n.trigger)) add(n.path, 'trigger', d);
    }
    if (n.completeExpr && !this.holds(n, n.completeExpr) && n.kind !== 'task') {
      // a complete expression does not hold anything back; it is listed for containers only when nothing else is
    }
    if (n.time && !timeFree(n.time, this.now)) {
      for (const w of timeWhy(n.time, this.now)) add(n.path, w.kind, w.detail);
    }
    if (n.kind === 'task') {
      const wanted = new Map<LimitRec, number>();
      for (const need of n.needs) {
        if (need.limit.holders.has(need.holder.path)) continue;
        wanted.set(need.limit, (wanted.get(need.limit) ?? 0) + need.tokens);
      }
      for (const [l, want] of wanted) {
        if (l.used + want > l.size) add(n.path, 'limit', `limit ${l.label} has ${l.size - l.used} of ${l.size} tokens free, needs ${want}`);
      }
    } else if (out.length === 0 && depth < 2) {
      // a family waits for what its queued children wait for
      for (const c of n.children) {
        if (c.rt.state !== 'queued' && !(c.rt.state === 'aborted' && c.retryPending)) continue;
        out.push(...this.whyNode(c, depth + 1).filter((w) => !w.path.startsWith(n.path) || w.path.length > n.path.length));
        if (out.length >= 20) break;
      }
    }
    return out;
  }

  private termsWhy(n: RNode, e: Expr): string[] {
    const env = this.envOf(n);
    return falseTerms(e, env).map((t) => {
      const refs = refsIn(t);
      const vals = refs.map((r) => {
        const target = n.resolve(this.tree, r.path);
        if (!target) return `${r.path} does not exist`;
        if (r.attr === undefined) return `${target.path} is ${target.rt.state}`;
        return `${target.path}:${r.attr} is ${this.attrValue(target, r.attr) ?? 'undefined'}`;
      });
      return `${exprText(t)} is false${vals.length ? ` (${vals.join(', ')})` : ''}`;
    });
  }
}

function refsIn(e: Expr, out: { path: string; attr?: string }[] = []): { path: string; attr?: string }[] {
  switch (e.kind) {
    case 'ref':
      out.push(e.attr === undefined ? { path: e.path } : { path: e.path, attr: e.attr });
      break;
    case 'not':
      refsIn(e.arg, out);
      break;
    case 'logic':
    case 'compare':
    case 'arith':
      refsIn(e.left, out);
      refsIn(e.right, out);
      break;
    default:
      break;
  }
  return out;
}

function toInt(s: string): number {
  const t = s.trim();
  return /^[+-]?\d+$/.test(t) ? Number(t) : 0;
}
