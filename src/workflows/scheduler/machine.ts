/**
 * The scheduler's core: the node tree, the state of the current step (nodes to evaluate, nodes
 * changed, tries to submit, kills, zombie audits, answers) and the evaluation of a node — what
 * can run at or below it given its ancestors' gates (suspension, trigger, time), its complete
 * expression, its trigger, its time attributes and its limits. State transitions live in
 * ./transitions.ts, tokens in ./limits.ts; the runtime (./runtime.ts) drives steps.
 */
import type { Clock } from '../../clock/index.js';
import type { Expr, WfDefinition } from '../model/types.js';
import type { WfChildCommand, WfChildIdentity, WfChildResult, WfNodeRuntime } from '../model/runtime.js';
import { evaluateExpression, type ExprEnv } from './evaluate.js';
import { LimitBook } from './limits.js';
import { queueValue } from './queue.js';
import { isDateRepeat, repeatName, repeatValue } from './repeat.js';
import { encodeSuiteClock } from './suite-clock.js';
import { encodeTime, timeFree } from './time.js';
import { completeByRule, submit } from './transitions.js';
import { NodeHeap, Tree, type RNode } from './tree.js';
import { generatedVariables, lookupVariable, ownVariable } from './variables.js';

/** A `--wait` held until its expression holds. */
export interface Waiter {
  readonly task: RNode;
  readonly tryNo: number;
  readonly expr: Expr;
  readonly resolve: (r: WfChildResult) => void;
}

export class Machine {
  readonly tree: Tree;
  readonly limits: LimitBook;
  /** The clock time of the current step. */
  now: number;

  // the current step
  /** Nodes to evaluate, lowest definition index first (ecFlow's depth-first traversal order). */
  readonly queue = new NodeHeap();
  changed = new Set<RNode>();
  /** Snapshots of states a node left within this step (complete or aborted, then requeued or retried). */
  interim: WfNodeRuntime[] = [];
  submits: RNode[] = [];
  kills: { path: string; tryNo: number }[] = [];
  zombies: { id: WfChildIdentity; c: WfChildCommand; why: string }[] = [];
  answers: (() => void)[] = [];
  waiters: Waiter[] = [];
  /** Answers held on the Clock (a `block` zombie), resolved early when the runtime closes. */
  readonly held = new Set<{ readonly ctl: AbortController; readonly resolve: () => void }>();
  /** A time attribute's state changed: the clock wait must be recomputed. */
  timeDirty = true;
  private stepNo = 0;
  /** Repeat iterations skipped by rule in this step (bounded). */
  ruleCycles = 0;

  constructor(
    readonly definition: WfDefinition,
    readonly clock: Clock,
    readonly server: Readonly<Record<string, string>>,
    readonly password: () => string,
    readonly parse: (text: string) => Expr,
  ) {
    this.now = clock.now();
    this.tree = new Tree(definition, this.now);
    this.limits = new LimitBook(this);
  }

  /** Answers `result` after `ms` on the Clock (or when the runtime closes). */
  hold(ms: number, result: WfChildResult): Promise<WfChildResult> {
    return new Promise<WfChildResult>((resolve) => {
      const entry = { ctl: new AbortController(), resolve: () => resolve(result) };
      this.held.add(entry);
      const done = (): void => {
        if (!this.held.delete(entry)) return;
        resolve(result);
      };
      this.clock.sleep(ms, entry.ctl.signal).then(done, done);
    });
  }

  /** The calendar time of `n`'s suite now (its clock's gain and date applied). */
  cal(n: RNode): number {
    return this.now + n.suite.calShift;
  }

  /** Starts a step at the clock's time. */
  begin(): void {
    this.stepNo++;
    this.now = this.clock.now();
    this.ruleCycles = 0;
  }

  enqueue(n: RNode): void {
    if (n.dirty) return;
    n.dirty = true;
    this.queue.push(n);
  }

  touch(n: RNode): void {
    this.changed.add(n);
  }

  /** Before `n` leaves a complete or aborted state it entered in this step: the hooks still see it. */
  keepInterim(n: RNode): void {
    const s = n.rt.state;
    if ((s !== 'complete' && s !== 'aborted') || !this.changed.has(n) || n.interimStep === this.stepNo) return;
    n.interimStep = this.stepNo;
    this.interim.push(snapshot(n));
  }

  markDependents(n: RNode): void {
    for (const d of n.dependents) this.enqueue(d);
  }

  /** ECF_TRIES as the task sees it. */
  tries(t: RNode): number {
    const v = (lookupVariable(t, 'ECF_TRIES', this.now, this.server) ?? '2').trim();
    return /^\d+$/.test(v) ? Number(v) : 2;
  }

  /** Evaluates queued nodes and freed limits until nothing more can change. */
  drain(): void {
    for (;;) {
      for (let n = this.queue.pop(); n; n = this.queue.pop()) {
        n.dirty = false;
        if (!n.removed && this.ancestorsOpen(n)) this.visit(n);
      }
      if (!this.limits.serveFreed()) break;
    }
  }

  // ------------------------------------------------------------------------------------------
  // expressions

  envOf(n: RNode): ExprEnv {
    return (n.env ??= this.makeEnv(n));
  }

  private makeEnv(n: RNode): ExprEnv {
    const tree = this.tree;
    return {
      state: (p) => n.resolve(tree, p)?.rt.state,
      flag: (p, f) => {
        const t = p === '/' ? undefined : n.resolve(tree, p);
        return t?.rt.flags?.includes(f) ?? false;
      },
      attr: (p, name) => {
        const t = n.resolve(tree, p);
        return t ? this.attrValue(t, name) : undefined;
      },
      isDate: (p, name) => {
        const t = n.resolve(tree, p);
        const r = t?.def.repeat;
        return !!r && repeatName(r) === name && isDateRepeat(r) && t.eventKey(name) === undefined && !(name in t.rt.meters) && ownVariable(t, name) === undefined;
      },
    };
  }

  /** `node:name`: event > meter > variable > repeat > generated variable > limit. */
  attrValue(t: RNode, name: string): number | undefined {
    const key = t.eventKey(name);
    if (key !== undefined) return t.rt.events[key] ? 1 : 0;
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
    return queueValue(t, name);
  }

  holds(n: RNode, e: Expr | undefined): boolean {
    return e === undefined || evaluateExpression(e, this.envOf(n));
  }

  // ------------------------------------------------------------------------------------------
  // evaluation

  /** Every ancestor lets its subtree run: not suspended, begun, not complete, trigger and time free. */
  ancestorsOpen(n: RNode): boolean {
    for (let a = n.parent; a; a = a.parent) {
      if (!this.gateOpen(a)) return false;
    }
    return true;
  }

  private gateOpen(a: RNode): boolean {
    const s = a.rt.state;
    if (a.rt.suspended || s === 'unknown' || s === 'complete') return false;
    if (!this.holds(a, a.trigger)) return false;
    if (a.time && !timeFree(a.time, this.cal(a))) return false;
    return true;
  }

  /** Runs what can run at or below `n` (its ancestors are open). */
  visit(n: RNode): void {
    if (n.rt.suspended) return;
    const s = n.rt.state;
    if (n.kind !== 'task') {
      if (s === 'unknown' || s === 'complete') return;
      if (s === 'queued' && n.completeExpr && this.holds(n, n.completeExpr)) {
        completeByRule(this, n);
        return;
      }
      if (!this.holds(n, n.trigger)) return;
      if (n.time && !timeFree(n.time, this.cal(n))) return;
      for (const c of n.children) this.visit(c);
      return;
    }
    if (!(s === 'queued' || (s === 'aborted' && n.retryPending))) return;
    if (s === 'queued' && n.completeExpr && this.holds(n, n.completeExpr)) {
      completeByRule(this, n);
      return;
    }
    if (!this.holds(n, n.trigger)) return;
    if (n.time && !timeFree(n.time, this.cal(n))) return;
    const blocked = this.limits.blocking(n);
    if (blocked) {
      this.limits.wait(n, blocked);
      return;
    }
    submit(this, n);
  }

  /** The tasks at or below `n`, in definition order. */
  tasksBelow(n: RNode): RNode[] {
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
}

export function toInt(s: string): number {
  const t = s.trim();
  return /^[+-]?\d+$/.test(t) ? Number(t) : 0;
}

/** A copy of the node's run-time state for the hooks, with its time and `-n` token state in `fired`. */
export function snapshot(n: RNode): WfNodeRuntime {
  if (n.time || n.heldAsNode || n.rt.fired || n.def.clock) {
    const fired = n.time ? encodeTime(n.time) : [];
    for (const l of n.heldAsNode ?? []) fired.push(`limit=${l.label}`);
    const clock = n.kind === 'suite' ? encodeSuiteClock(n) : undefined;
    if (clock) fired.push(clock);
    if (fired.length > 0) n.rt.fired = fired;
    else delete n.rt.fired;
  }
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
