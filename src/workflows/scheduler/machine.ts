/**
 * The scheduler's core: the node tree, the state of the current step (nodes to evaluate, nodes
 * changed, tries to submit, kills, zombie audits, answers) and the evaluation of a node — what
 * can run at or below it given its ancestors' gates (suspension, trigger, time), its complete
 * expression, its trigger, its time attributes and its limits. State transitions live in
 * ./transitions.ts, tokens in ./limits.ts; the runtime (./runtime.ts) drives steps.
 */
import type { Clock } from '../../clock/index.js';
import type { Expr, WfDefinition } from '../model/types.js';
import type { WfChildCommand, WfChildIdentity, WfChildResult } from '../model/runtime.js';
import { evaluateExpression, type ExprEnv } from './evaluate.js';
import { LimitBook } from './limits.js';
import { isDateRepeat, repeatName, repeatValue } from './repeat.js';
import { timeFree } from './time.js';
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
  submits: RNode[] = [];
  kills: { path: string; tryNo: number }[] = [];
  zombies: { id: WfChildIdentity; c: WfChildCommand; why: string }[] = [];
  answers: (() => void)[] = [];
  waiters: Waiter[] = [];
  /** A time attribute's state changed: the clock wait must be recomputed. */
  timeDirty = true;
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

  /** Starts a step at the clock's time. */
  begin(): void {
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
        if (this.ancestorsOpen(n)) this.visit(n);
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
      attr: (p, name) => {
        const t = n.resolve(tree, p);
        return t ? this.attrValue(t, name) : undefined;
      },
      isDate: (p, name) => {
        const t = n.resolve(tree, p);
        const r = t?.def.repeat;
        return !!r && repeatName(r) === name && isDateRepeat(r) && t.eventKey(name) === undefined && !(name in t.rt.meters) && ownVariable(t, name) === undefined;
      },
      flag: () => false,
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
    return undefined;
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
    if (a.time && !timeFree(a.time, this.now)) return false;
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
      if (n.time && !timeFree(n.time, this.now)) return;
      for (const c of n.children) this.visit(c);
      return;
    }
    if (!(s === 'queued' || (s === 'aborted' && n.retryPending))) return;
    if (s === 'queued' && n.completeExpr && this.holds(n, n.completeExpr)) {
      completeByRule(this, n);
      return;
    }
    if (!this.holds(n, n.trigger)) return;
    if (n.time && !timeFree(n.time, this.now)) return;
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
