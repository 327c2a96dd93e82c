/**
 * The run-time node tree: one `RNode` per suite, family and task, in depth-first definition
 * order (`index`), with child counts per state (a parent's state is derived in O(1)), the
 * reverse-dependency index (`dependents`: the nodes whose trigger or complete mention this
 * node) and the limits a task must hold to run.
 */
import type { Expr, WfDefinition, WfLate, WfNodeDef, WfState } from '../model/types.js';
import type { WfNodeRuntime } from '../model/runtime.js';
import { STATE_SIGNIFICANCE } from '../model/types.js';
import { referencedAttrs, type ExprEnv } from './evaluate.js';
import { createNodeTime, type NodeTime } from './time.js';

/** States by significance (index = STATE_SIGNIFICANCE). */
export const BY_SIGNIFICANCE: readonly WfState[] = (Object.keys(STATE_SIGNIFICANCE) as WfState[]).sort((a, b) => STATE_SIGNIFICANCE[a] - STATE_SIGNIFICANCE[b]);

/** A counting semaphore: `limit NAME N` on a node. */
export class LimitRec {
  used = 0;
  /** Some expression reads this limit's value (`node:NAME`): its changes re-evaluate the node's dependents. */
  referenced = false;
  /** Holder path → tokens it holds. */
  readonly holders = new Map<string, number>();
  /** Tasks waiting for a token, lowest definition index first. */
  readonly waiters = new NodeHeap();
  constructor(readonly node: RNode, readonly name: string, readonly size: number) {}
  get label(): string {
    return `${this.node.path}:${this.name}`;
  }
}

/** One token need of a task: from its own inlimit or an ancestor's. */
export interface LimitNeed {
  readonly limit: LimitRec;
  readonly tokens: number;
  /** The task itself, or the `-n` ancestor that holds the token for its whole subtree. */
  readonly holder: RNode;
  /** `-s`: given back when the task becomes active. Ignored for `-n` (the node holds it until done). */
  readonly submissionOnly: boolean;
}

const NO_NODES: RNode[] = [];
const NO_CHILDREN = new Map<string, RNode>();
const NO_LIMITS = new Map<string, LimitRec>();
const NO_COUNTS = new Int32Array(6);

export class RNode {
  readonly children: RNode[];
  readonly childByName: Map<string, RNode>;
  /** Children per state, by significance (containers; all zero for tasks). */
  readonly counts: Int32Array;
  /** Nodes whose trigger or complete mention this node. */
  dependents: RNode[] = NO_NODES;
  limits: Map<string, LimitRec> = NO_LIMITS;
  needs: LimitNeed[] = [];
  readonly time: NodeTime | undefined;
  readonly suite: RNode;
  readonly kind: WfNodeDef['kind'];
  readonly trigger: Expr | undefined;
  readonly completeExpr: Expr | undefined;
  rt: WfNodeRuntime;
  /** Queued for evaluation in the current step. */
  dirty = false;
  /** The step that kept an interim snapshot of this node (see Machine.keepInterim). */
  interimStep = -1;
  /** Aborted with tries left: resubmitted when its dependencies hold. */
  retryPending = false;
  /** The limit whose waiters heap holds this task. */
  waitingOn: LimitRec | undefined = undefined;
  /** Limits this `-n` node holds a token of. */
  heldAsNode: Set<LimitRec> | undefined = undefined;
  /** Paths resolved for this node's children's expressions. */
  resolved: Map<string, RNode | null> | undefined = undefined;
  /** What this node's expressions see (made once by the runtime). */
  env: ExprEnv | undefined = undefined;
  /** Variables this container passes down, valid for one step (see variables.ts). */
  varCache: { stamp: number; vars: Readonly<Record<string, string>> } | undefined = undefined;
  /** Tasks: the late spec in force (own aspects over inherited ones); see ./late.ts. */
  late: WfLate | undefined = undefined;
  /** Removed by autocancel (no longer in the tree's indexes). */
  removed = false;
  /** Suites: ms added to the Clock's time to give the suite's calendar (the clock's gain and date); see ./suite-clock.ts. */
  calShift = 0;
  /** Suites under a hybrid clock: the calendar's day number, fixed at begin. */
  frozenDay: number | undefined = undefined;

  constructor(
    readonly def: WfNodeDef,
    readonly path: string,
    readonly parent: RNode | undefined,
    readonly index: number,
    now: number,
  ) {
    this.suite = parent ? parent.suite : this;
    this.kind = def.kind;
    this.trigger = def.trigger?.expr;
    this.completeExpr = def.complete?.expr;
    const container = def.children.length > 0;
    this.children = container ? [] : NO_NODES;
    this.childByName = container ? new Map() : NO_CHILDREN;
    this.counts = container ? new Int32Array(6) : NO_COUNTS;
    this.time = createNodeTime(def);
    this.rt = {
      path, state: 'unknown', suspended: false, tryNo: 0,
      events: NO_VALUES as Record<string, boolean>, meters: NO_VALUES as Record<string, number>, labels: NO_VALUES as Record<string, string>,
      variables: {}, changedAt: now,
    };
    resetAttributes(this);
  }

  /** The event a name means here: its name, or its number (`event 1 ready` is also `:1`). */
  eventKey(name: string): string | undefined {
    if (name in this.rt.events) return name;
    if (!/^\d+$/.test(name)) return undefined;
    const num = Number(name);
    return this.def.events.find((e) => e.number === num)?.name;
  }

  addDependent(d: RNode): void {
    if (this.dependents === NO_NODES) this.dependents = [];
    this.dependents.push(d);
  }

  /** Resolves a path as written in this node's expressions (cached on the parent: siblings resolve alike). */
  resolve(tree: Tree, path: string): RNode | undefined {
    const holder = this.parent ?? tree.top;
    holder.resolved ??= new Map();
    let r = holder.resolved.get(path);
    if (r === undefined) {
      r = tree.resolve(this, path) ?? null;
      holder.resolved.set(path, r);
    }
    // ecFlow (NodeFind): a plain `a/b` not found below the parent is looked for below the node itself
    if (r === null && this.children.length > 0 && !path.startsWith('/') && !path.startsWith('.')) return tree.resolveFrom(this, path);
    return r ?? undefined;
  }
}

/** The late aspects a task is held to: each from the nearest of itself and its ancestors that gives it. */
function effectiveLate(task: RNode): WfLate | undefined {
  let submitted: WfLate['submitted'];
  let active: WfLate['active'];
  let complete: WfLate['complete'];
  let completeRelative = false;
  for (let a: RNode | undefined = task; a; a = a.parent) {
    const l = a.def.late;
    if (!l) continue;
    submitted ??= l.submitted;
    active ??= l.active;
    if (!complete && l.complete) {
      complete = l.complete;
      completeRelative = l.completeRelative;
    }
  }
  if (!submitted && !active && !complete) return undefined;
  return { ...(submitted ? { submitted } : {}), ...(active ? { active } : {}), ...(complete ? { complete } : {}), completeRelative };
}

/** Shared by every node without events, meters or labels (those are only ever set by name). */
const NO_VALUES: Readonly<Record<string, never>> = Object.freeze({});

/**
 * Events, meters and labels back to their definition values; the repeat to its first value.
 * `keepLabels`: a task's labels stay as they are (ecFlow since 4.0.6, ECFLOW-195: a requeue
 * keeps a task's last label values; they go back to their definition values when it is next
 * submitted, see resetLabels).
 */
export function resetAttributes(n: RNode, keepLabels = false): void {
  const rt = n.rt;
  const d = n.def;
  if (d.events.length > 0) {
    rt.events = {};
    for (const e of d.events) rt.events[e.name] = e.initial;
  }
  if (d.meters.length > 0) {
    rt.meters = {};
    for (const m of d.meters) rt.meters[m.name] = m.min;
  }
  if (!keepLabels) resetLabels(n);
  if (d.repeat) rt.repeatIndex = 0;
  if (d.queues && d.queues.length > 0) {
    rt.queues = {};
    for (const q of d.queues) rt.queues[q.name] = { index: 0, states: q.values.map(() => 'queued') };
  }
  // a requeue (or begin) clears the late and zombie flags
  if (rt.flags) delete rt.flags;
}

/** Labels back to their definition values (a task's, when it is submitted). */
export function resetLabels(n: RNode): void {
  if (n.def.labels.length === 0) return;
  n.rt.labels = {};
  for (const l of n.def.labels) n.rt.labels[l.name] = l.value;
}

/** A binary min-heap of nodes by definition index. */
export class NodeHeap {
  private readonly a: RNode[] = [];
  get size(): number {
    return this.a.length;
  }
  push(n: RNode): void {
    const a = this.a;
    a.push(n);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.index <= n.index) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = n;
  }
  pop(): RNode | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]!.index < a[l]!.index ? r : l;
        if (a[c]!.index >= last.index) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
  clear(): void {
    this.a.length = 0;
  }
}

export class Tree {
  readonly suites: RNode[] = [];
  readonly suiteByName = new Map<string, RNode>();
  readonly byPath = new Map<string, RNode>();
  /** Every node, depth-first definition order. */
  readonly all: RNode[] = [];
  readonly limits: LimitRec[] = [];
  readonly timed: RNode[] = [];
  /** Tasks with a late spec in force. */
  readonly lateTasks: RNode[] = [];
  /** Nodes with an autocancel. */
  readonly autocancels: RNode[] = [];
  /** Holds the resolution cache of the suites' own expressions. */
  readonly top: { resolved: Map<string, RNode | null> | undefined } = { resolved: undefined };

  constructor(def: WfDefinition, now: number) {
    const build = (d: WfNodeDef, parent: RNode | undefined): RNode => {
      const path = parent ? `${parent.path}/${d.name}` : `/${d.name}`;
      const n = new RNode(d, path, parent, this.all.length, now);
      this.all.push(n);
      this.byPath.set(path, n);
      if (n.time) {
        this.timed.push(n);
        n.time.cal = n.suite;
      }
      if (d.autocancel) this.autocancels.push(n);
      if (d.kind === 'task') {
        n.late = effectiveLate(n);
        if (n.late) this.lateTasks.push(n);
      }
      if (d.limits.length > 0) n.limits = new Map();
      for (const l of d.limits) {
        const rec = new LimitRec(n, l.name, l.tokens);
        n.limits.set(l.name, rec);
        this.limits.push(rec);
      }
      for (const c of d.children) {
        const cn = build(c, n);
        n.children.push(cn);
        n.childByName.set(c.name, cn);
      }
      return n;
    };
    for (const s of def.suites) {
      const n = build(s, undefined);
      this.suites.push(n);
      this.suiteByName.set(s.name, n);
    }
    for (const n of this.all) {
      this.indexDependencies(n);
      if (n.kind === 'task') n.needs = this.limitNeeds(n);
    }
  }

  /** Takes `n` and its subtree out of every index (autocancel); resolution caches start afresh. */
  detach(n: RNode): void {
    const drop = (x: RNode): void => {
      x.removed = true;
      this.byPath.delete(x.path);
      for (const c of x.children) drop(c);
    };
    drop(n);
    if (n.parent) {
      const i = n.parent.children.indexOf(n);
      if (i >= 0) n.parent.children.splice(i, 1);
      n.parent.childByName.delete(n.def.name);
    } else {
      const i = this.suites.indexOf(n);
      if (i >= 0) this.suites.splice(i, 1);
      this.suiteByName.delete(n.def.name);
    }
    this.top.resolved = undefined;
    for (const x of this.all) x.resolved = undefined;
  }

  /**
   * A path as written in an expression of `from`: `/s/f/t` absolute; otherwise relative to
   * `from`'s parent (`x` and `./x` a sibling, `../x` a sibling of the parent).
   */
  resolve(from: RNode, path: string): RNode | undefined {
    return path.startsWith('/') ? this.walk(null, path) : this.walk(from.parent ?? null, path);
  }

  /** A relative path from `n` itself (its children first). */
  resolveFrom(n: RNode, path: string): RNode | undefined {
    return this.walk(n, path);
  }

  /** Walks `path` from `start` (null: above the suites). */
  private walk(start: RNode | null, path: string): RNode | undefined {
    const segs = path.split('/');
    let cur: RNode | undefined | null = start;
    let i = path.startsWith('/') ? 1 : 0;
    for (; i < segs.length; i++) {
      const s = segs[i]!;
      if (s === '' || s === '.') continue;
      if (s === '..') {
        if (cur === null) return undefined;
        cur = cur!.parent ?? null;
        continue;
      }
      cur = cur === null ? this.suiteByName.get(s) : cur!.childByName.get(s);
      if (cur === undefined) return undefined;
    }
    return cur ?? undefined;
  }

  private indexDependencies(n: RNode): void {
    if (!n.trigger && !n.completeExpr) return;
    const refs: { path: string; attr?: string }[] = [];
    if (n.trigger) referencedAttrs(n.trigger, refs);
    if (n.completeExpr) referencedAttrs(n.completeExpr, refs);
    for (const r of refs) {
      const t = n.resolve(this, r.path);
      if (!t) continue;
      // once per dependent: a node's dependents list ends with it when already added
      if (t.dependents[t.dependents.length - 1] !== n) t.addDependent(n);
      const l = r.attr === undefined ? undefined : t.limits.get(r.attr);
      if (l) l.referenced = true;
    }
  }

  /** The limit an inlimit names: at its path, or the nearest ancestor-or-self holding that name. */
  findLimit(from: RNode, name: string, path?: string): LimitRec | undefined {
    if (path !== undefined && path !== '') {
      const holder = path.startsWith('/') ? this.byPath.get(path.replace(/\/+$/, '')) ?? this.resolve(from, path) : this.resolve(from, path);
      return holder?.limits.get(name);
    }
    for (let a: RNode | undefined = from; a; a = a.parent) {
      const l = a.limits.get(name);
      if (l) return l;
    }
    return undefined;
  }

  private limitNeeds(task: RNode): LimitNeed[] {
    const out: LimitNeed[] = [];
    for (let a: RNode | undefined = task; a; a = a.parent) {
      for (const il of a.def.inlimits) {
        const limit = this.findLimit(a, il.name, il.path);
        if (!limit) continue;
        const holder = il.nodeOnly && a !== task ? a : task;
        // one holder counts once per limit (as ecFlow's Limit keeps a set of paths): the largest need wins, then the one held longer
        const same = out.findIndex((x) => x.limit === limit && x.holder === holder);
        const need = { limit, tokens: il.tokens, holder, submissionOnly: il.submissionOnly && holder === task };
        if (same < 0) out.push(need);
        else if (out[same]!.tokens < need.tokens || (out[same]!.tokens === need.tokens && out[same]!.submissionOnly && !need.submissionOnly)) out[same] = need;
      }
    }
    return out;
  }
}
