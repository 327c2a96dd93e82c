/**
 * The run-time node tree: one `RNode` per suite, family and task, in depth-first definition
 * order (`index`), with child counts per state (a parent's state is derived in O(1)), the
 * reverse-dependency index (`dependents`: the nodes whose trigger or complete mention this
 * node) and the limits a task must hold to run.
 */
import type { Expr, WfDefinition, WfNodeDef, WfState } from '../model/types.js';
import type { WfNodeRuntime } from '../model/runtime.js';
import { STATE_SIGNIFICANCE } from '../model/types.js';
import { referencedPaths } from './evaluate.js';
import { createNodeTime, type NodeTime } from './time.js';

/** States by significance (index = STATE_SIGNIFICANCE). */
export const BY_SIGNIFICANCE: readonly WfState[] = (Object.keys(STATE_SIGNIFICANCE) as WfState[]).sort((a, b) => STATE_SIGNIFICANCE[a] - STATE_SIGNIFICANCE[b]);

/** A counting semaphore: `limit NAME N` on a node. */
export class LimitRec {
  used = 0;
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
  readonly submissionOnly: boolean;
}

export class RNode {
  readonly children: RNode[] = [];
  readonly childByName = new Map<string, RNode>();
  /** Children per state, by significance (containers). */
  readonly counts = new Int32Array(6);
  readonly dependents: RNode[] = [];
  readonly limits = new Map<string, LimitRec>();
  needs: LimitNeed[] = [];
  readonly time: NodeTime | undefined;
  readonly suite: RNode;
  rt: WfNodeRuntime;
  /** Queued for evaluation in the current step. */
  dirty = false;
  /** Aborted with tries left: resubmitted when its dependencies hold. */
  retryPending = false;
  /** The limit whose waiters heap holds this task. */
  waitingOn: LimitRec | undefined;
  /** Limits this `-n` node holds a token of. */
  heldAsNode: Set<LimitRec> | undefined;
  private resolved: Map<string, RNode | null> | undefined;

  constructor(
    readonly def: WfNodeDef,
    readonly path: string,
    readonly parent: RNode | undefined,
    readonly index: number,
    now: number,
  ) {
    this.suite = parent ? parent.suite : this;
    this.time = createNodeTime(def);
    this.rt = {
      path, state: 'unknown', suspended: false, tryNo: 0,
      events: {}, meters: {}, labels: {}, variables: {}, changedAt: now,
    };
    resetAttributes(this);
  }

  get kind(): WfNodeDef['kind'] {
    return this.def.kind;
  }

  get trigger(): Expr | undefined {
    return this.def.trigger?.expr;
  }

  get completeExpr(): Expr | undefined {
    return this.def.complete?.expr;
  }

  /** Resolves a path as written in this node's expressions (cached). */
  resolve(tree: Tree, path: string): RNode | undefined {
    this.resolved ??= new Map();
    let r = this.resolved.get(path);
    if (r === undefined) {
      r = tree.resolve(this, path) ?? null;
      this.resolved.set(path, r);
    }
    return r ?? undefined;
  }
}

/** Events, meters and labels back to their definition values; the repeat to its first value. */
export function resetAttributes(n: RNode): void {
  const rt = n.rt;
  rt.events = {};
  for (const e of n.def.events) rt.events[e.name] = e.initial;
  rt.meters = {};
  for (const m of n.def.meters) rt.meters[m.name] = m.min;
  rt.labels = {};
  for (const l of n.def.labels) rt.labels[l.name] = l.value;
  if (n.def.repeat) rt.repeatIndex = 0;
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

  constructor(def: WfDefinition, now: number) {
    const build = (d: WfNodeDef, parent: RNode | undefined): RNode => {
      const path = parent ? `${parent.path}/${d.name}` : `/${d.name}`;
      const n = new RNode(d, path, parent, this.all.length, now);
      this.all.push(n);
      this.byPath.set(path, n);
      if (n.time) this.timed.push(n);
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

  /**
   * A path as written in an expression of `from`: `/s/f/t` absolute; otherwise relative to
   * `from`'s parent (`x` and `./x` a sibling, `../x` a sibling of the parent).
   */
  resolve(from: RNode, path: string): RNode | undefined {
    const segs = path.split('/');
    let cur: RNode | undefined | null;
    let i = 0;
    if (path.startsWith('/')) {
      cur = null; // above the suites
      i = 1;
    } else {
      cur = from.parent ?? null;
    }
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
    const paths: string[] = [];
    if (n.trigger) referencedPaths(n.trigger, paths);
    if (n.completeExpr) referencedPaths(n.completeExpr, paths);
    const seen = new Set<RNode>();
    for (const p of paths) {
      const t = n.resolve(this, p);
      if (!t || seen.has(t)) continue;
      seen.add(t);
      t.dependents.push(n);
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
        out.push({ limit, tokens: il.tokens, holder, submissionOnly: il.submissionOnly });
      }
    }
    return out;
  }
}
