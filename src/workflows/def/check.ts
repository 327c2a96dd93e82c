/**
 * checkDefinition: what makes a definition unloadable, each reported with where it was written
 * (NubisError WORKFLOW_INVALID `file:line:col: …`, the first problem found):
 * - duplicate names: sibling nodes, and a node's events, meters, labels or limits;
 * - a trigger/complete path that names a node that is not in the definition and not covered by
 *   an `extern` of that path (`extern /s/f` or `/s/f:ev` covers `/s/f` itself, not what is below
 *   it, as in ecFlow), or that has more `..` than levels above it; a node path that is not
 *   compared with a state (`trigger a` alone: ecFlow's grammar only has `a == state`);
 * - a repeat and a cron on one node; time, today, date or day on a suite; duplicate inlimits; Paths
 *   resolve as ecFlow's findReferencedNode does (resolveNodePath below): `../x` from a family
 *   right under its suite is the suite `/x`. Attribute names after `:` are not checked (they may
 *   be generated or server variables);
 * - a trigger cycle: nodes that wait for each other. A node waits for what its trigger
 *   *requires* — `x == complete` (x done), `x:ev` / `x:ev == set` (x started); required on
 *   both sides of an `or`, on either side of an `and`, never under `not` — and for its parent to
 *   start; a family is done when its children are. Reported as `/s/a → /s/b → /s/a`;
 * - an inlimit naming no limit (on the given path, or on the node or an ancestor);
 * - an autorestore path that names no node (resolved as trigger paths are; ecflow_server
 *   refuses the load likewise);
 * - a NUBIS_POOL or destroyPool naming no declared pool; two pools of one name.
 */
import { NubisError } from '../../errors/index.js';
import { expressionRefs } from '../expr/index.js';
import type { Expr, SourceLoc, WfDefinition, WfNodeDef } from '../model/types.js';

/** Where attributes (events, meters, limits, inlimits, labels) were written, kept by the parser for these checks. */
export type AttrLocs = ReadonlyMap<object, SourceLoc>;

const UNKNOWN: SourceLoc = { file: '<definition>', line: 1, col: 1 };

function invalid(loc: SourceLoc | undefined, message: string): NubisError {
  const l = loc ?? UNKNOWN;
  return new NubisError('WORKFLOW_INVALID', `${l.file}:${l.line}:${l.col}: ${message}`, { details: { ...l } });
}

interface Entry { readonly node: WfNodeDef; readonly path: string; readonly parent?: Entry }

export type Resolved =
  | { readonly kind: 'node'; readonly path: string }
  /** The definition's root (`/`, for `/<flag>late`). */
  | { readonly kind: 'root' }
  /** More `..` than there are levels above the holder. */
  | { readonly kind: 'above' }
  /** Not found; `path` is where it was looked for first. */
  | { readonly kind: 'missing'; readonly path: string };

const parentOf = (p: string): string | undefined => {
  const i = p.lastIndexOf('/');
  return i > 0 ? p.slice(0, i) : undefined;
};

/**
 * Resolves a node path written on the node at absolute path `holder`, as ecFlow's
 * findReferencedNode does, over any tree given by `exists(absPath)`:
 * `/s/f/t` absolute; `x` or `./x` the holder itself when it is named x, else its sibling;
 * `a/b` or `./a/b` below the holder's parent, else below the holder; `../a/b` goes up one level
 * per `..` from the holder's parent, and from a suite's level up to the root, where `a` is a
 * suite (`../other_suite/f` from a family right under its suite).
 */
export function resolveNodePath(holder: string, ref: string, exists: (abs: string) => boolean): Resolved {
  if (ref === '/') return { kind: 'root' };
  if (ref.startsWith('/')) return exists(ref) ? { kind: 'node', path: ref } : { kind: 'missing', path: ref };
  const segs = ref.split('/');
  const parent = parentOf(holder);
  const own = holder.slice(holder.lastIndexOf('/') + 1);
  const rest = segs[0] === '.' ? segs.slice(1) : segs;
  if (segs[0] !== '..') {
    if (rest.length === 0 || rest.some((x) => x === '' || x === '.' || x === '..')) return { kind: 'missing', path: ref };
    if (rest.length === 1) {
      if (rest[0] === own) return { kind: 'node', path: holder };
      if (parent === undefined) return { kind: 'missing', path: `/${rest[0]!}` };
      const cand = `${parent}/${rest[0]!}`;
      return exists(cand) ? { kind: 'node', path: cand } : { kind: 'missing', path: cand };
    }
    const cands = [...(parent !== undefined ? [`${parent}/${rest.join('/')}`] : []), `${holder}/${rest.join('/')}`];
    for (const c of cands) if (exists(c)) return { kind: 'node', path: c };
    return { kind: 'missing', path: cands[0]! };
  }
  let up: string | undefined = parent;
  let i = 0;
  while (i < segs.length && up !== undefined && segs[i] === '..') { i++; up = parentOf(up); }
  const tail = segs.slice(i);
  if (tail.includes('..')) return { kind: 'above' };
  if (tail.length === 0 || tail.some((x) => x === '' || x === '.')) return { kind: 'missing', path: ref };
  const cand = `${up ?? ''}/${tail.join('/')}`;
  return exists(cand) ? { kind: 'node', path: cand } : { kind: 'missing', path: cand };
}

export function checkDefinition(def: WfDefinition, locs: AttrLocs = new Map()): void {
  const index = new Map<string, Entry>();
  const order: Entry[] = [];
  const walk = (node: WfNodeDef, parent: Entry | undefined): void => {
    const path = `${parent ? parent.path : ''}/${node.name}`;
    const e: Entry = { node, path, ...(parent ? { parent } : {}) };
    if (index.has(path)) {
      throw invalid(node.loc, `duplicate ${node.kind} name '${node.name}' under ${parent ? parent.path : 'the definition'}`);
    }
    index.set(path, e);
    order.push(e);
    for (const c of node.children) walk(c, e);
  };
  for (const s of def.suites) walk(s, undefined);

  const poolNames = new Set<string>();
  for (const p of def.pools) {
    if (poolNames.has(p.name)) throw invalid(p.loc, `pool ${p.name} is declared twice`);
    poolNames.add(p.name);
  }

  const externs = def.externs.map((x) => x.replace(/:[^/:]*$/, ''));
  const external = (written: string, abs: string): boolean => externs.some((x) => written === x || abs === x);
  const exists = (p: string): boolean => index.has(p);

  for (const e of order) {
    const n = e.node;
    for (const [what, list] of [['event', n.events], ['meter', n.meters], ['label', n.labels], ['limit', n.limits]] as const) {
      const seen = new Set<string>();
      for (const a of list) {
        if (seen.has(a.name)) throw invalid(locs.get(a) ?? n.loc, `duplicate ${what} '${a.name}' on ${e.path}`);
        seen.add(a.name);
      }
    }
    if (n.repeat && n.crons.length > 0) throw invalid(n.loc, `${e.path} has both a repeat and a cron (a cron already repeats the node)`);
    if (n.kind === 'suite' && (n.times.length || n.todays.length || n.dates.length || n.days.length)) {
      throw invalid(n.loc, `time, today, date and day are not allowed on a suite (${e.path})`);
    }
    const inl = new Set<string>();
    for (const l of n.inlimits) {
      const key = `${l.path ?? ''}:${l.name}`;
      if (inl.has(key)) throw invalid(locs.get(l) ?? n.loc, `duplicate inlimit ${l.path !== undefined ? `${l.path}:` : ''}${l.name} on ${e.path}`);
      inl.add(key);
    }
    for (const which of ['trigger', 'complete'] as const) {
      const x = n[which];
      if (!x) continue;
      const bare = bareNodePath(x.expr);
      if (bare) throw invalid(bare.loc ?? x.loc ?? n.loc, `${bare.path} in the ${which} of ${e.path} must be compared with a state (${bare.path} == complete)`);
      for (const r of expressionRefs(x.expr)) {
        const res = resolveNodePath(e.path, r.path, exists);
        const at = r.loc ?? x.loc ?? n.loc;
        if (res.kind === 'above') throw invalid(at, `${r.path} in the ${which} of ${e.path} goes above the root`);
        if (res.kind === 'root' && r.attr !== undefined) throw invalid(at, `/:${r.attr} in the ${which} of ${e.path} names no node`);
        if (res.kind === 'missing' && !external(r.path, res.path)) {
          throw invalid(at, `the ${which} of ${e.path} names ${res.path === r.path ? r.path : `${r.path} (${res.path})`}, which does not exist (add an extern if it is defined elsewhere)`);
        }
      }
    }
    for (const l of n.inlimits) {
      const at = locs.get(l) ?? n.loc;
      if (l.path !== undefined) {
        const res = resolveNodePath(e.path, l.path, exists);
        if (res.kind === 'above' || res.kind === 'root') throw invalid(at, `inlimit ${l.path}:${l.name} on ${e.path} goes above the root`);
        const target = res.kind === 'node' ? index.get(res.path) : undefined;
        if (!target) {
          if (external(l.path, res.kind === 'missing' ? res.path : '')) continue;
          throw invalid(at, `inlimit ${l.path}:${l.name} on ${e.path}: ${res.kind === 'missing' ? res.path : l.path} does not exist`);
        }
        if (!target.node.limits.some((x) => x.name === l.name)) throw invalid(at, `inlimit ${l.path}:${l.name} on ${e.path}: ${res.path} has no limit ${l.name}`);
      } else {
        let a: Entry | undefined = e;
        while (a && !a.node.limits.some((x) => x.name === l.name)) a = a.parent;
        if (!a) throw invalid(at, `inlimit ${l.name} on ${e.path}: no limit ${l.name} on it or an ancestor`);
      }
    }
    for (const p of n.autorestore ?? []) {
      const res = resolveNodePath(e.path, p, exists);
      if (res.kind !== 'node') throw invalid(locs.get(n.autorestore!) ?? n.loc, `autorestore on ${e.path} names ${p}${res.kind === 'missing' && res.path !== p ? ` (${res.path})` : ''}, which does not exist`);
    }
    const pool = n.variables.find((v) => v.name === 'NUBIS_POOL');
    if (pool && !pool.value.includes('%') && !poolNames.has(pool.value)) {
      throw invalid(n.loc, `NUBIS_POOL '${pool.value}' on ${e.path} names no pool`);
    }
    if (n.action?.verb === 'destroyPool' && !poolNames.has(n.action.pool)) {
      throw invalid(n.loc, `destroyPool ${n.action.pool} on ${e.path} names no pool`);
    }
  }
  findCycle(order, index);
}

/** A node path used as a value (ecFlow only allows `path == state` and `path != state`). */
function bareNodePath(x: Expr): { path: string; loc?: SourceLoc } | undefined {
  switch (x.kind) {
    case 'ref': return x.attr === undefined ? { path: x.path, ...(x.loc ? { loc: x.loc } : {}) } : undefined;
    case 'not': return bareNodePath(x.arg);
    case 'compare': {
      const stateCompare = (x.op === '==' || x.op === '!=');
      if (stateCompare && x.left.kind === 'ref' && x.left.attr === undefined && x.right.kind === 'state') return undefined;
      if (stateCompare && x.right.kind === 'ref' && x.right.attr === undefined && x.left.kind === 'state') return undefined;
      return bareNodePath(x.left) ?? bareNodePath(x.right);
    }
    case 'logic': case 'arith': return bareNodePath(x.left) ?? bareNodePath(x.right);
    default: return undefined;
  }
}

type Need = Map<string, 'S' | 'D'>;

/** What a trigger requires before it can be true (see the module comment). */
function requires(x: Expr, holder: string, exists: (p: string) => boolean, out: Need): Need {
  const add = (path: string, k: 'S' | 'D'): Need => {
    const r = resolveNodePath(holder, path, exists);
    if (r.kind === 'node') out.set(`${k}${r.path}`, k);
    return out;
  };
  switch (x.kind) {
    case 'ref':
      return x.attr !== undefined ? add(x.path, 'S') : out;
    case 'compare': {
      if (x.op !== '==') return out;
      const pair = (a: Expr, b: Expr): boolean => {
        if (a.kind === 'ref' && a.attr === undefined && b.kind === 'state' && b.value === 'complete') { add(a.path, 'D'); return true; }
        if (a.kind === 'ref' && a.attr !== undefined && b.kind === 'eventValue' && b.value === 'set') { add(a.path, 'S'); return true; }
        return false;
      };
      if (!pair(x.left, x.right)) pair(x.right, x.left);
      return out;
    }
    case 'logic': {
      if (x.op === 'and') { requires(x.left, holder, exists, out); return requires(x.right, holder, exists, out); }
      const l = requires(x.left, holder, exists, new Map());
      const r = requires(x.right, holder, exists, new Map());
      for (const [k, v] of l) if (r.has(k)) out.set(k, v);
      return out;
    }
    default:
      return out;
  }
}

function findCycle(order: readonly Entry[], index: ReadonlyMap<string, Entry>): void {
  // vertices: 2i = node i may start (S), 2i+1 = node i is done (D); edges: what each waits for
  const n = order.length;
  const idx = new Map<string, number>();
  order.forEach((e, i) => idx.set(e.path, i));
  const adj: number[][] = Array.from({ length: 2 * n }, () => []);
  const name = (v: number): string => `${v % 2 === 0 ? 'S' : 'D'}${order[v >> 1]!.path}`;
  /** Trigger edges as `v * 2n + w` (names are built only for a cycle's message). */
  const triggerEdge = new Set<number>();
  const exists = (p: string): boolean => index.has(p);
  for (let i = 0; i < n; i++) {
    const e = order[i]!;
    if (e.parent) adj[2 * i]!.push(2 * idx.get(e.parent.path)!);
    adj[2 * i + 1]!.push(2 * i);
    for (const c of e.node.children) adj[2 * i + 1]!.push(2 * idx.get(`${e.path}/${c.name}`)! + 1);
    const t = e.node.trigger;
    if (!t) continue;
    for (const [v, k] of requires(t.expr, e.path, exists, new Map())) {
      const j = idx.get(v.slice(1));
      if (j === undefined) continue;
      if (j === i && k === 'S') continue; // its own event/variable: not a wait on another node
      const w = 2 * j + (k === 'D' ? 1 : 0);
      adj[2 * i]!.push(w);
      triggerEdge.add(2 * i * 2 * n + w);
    }
  }
  const state = new Uint8Array(2 * n); // 0 new, 1 on the stack, 2 done
  const stackV: number[] = [];
  const stackI: number[] = [];
  for (let root = 0; root < 2 * n; root += 2) {
    if (state[root] !== 0) continue;
    stackV.push(root);
    stackI.push(0);
    state[root] = 1;
    while (stackV.length > 0) {
      const top = stackV.length - 1;
      const v = stackV[top]!;
      const out = adj[v]!;
      const i = stackI[top]!;
      if (i >= out.length) {
        state[v] = 2;
        stackV.pop();
        stackI.pop();
        continue;
      }
      stackI[top] = i + 1;
      const w = out[i]!;
      if (state[w] === 0) {
        state[w] = 1;
        stackV.push(w);
        stackI.push(0);
      } else if (state[w] === 1) {
        const from = stackV.lastIndexOf(w);
        const cyc = [...stackV.slice(from), w];
        const named = new Set<string>();
        for (let c = 0; c + 1 < cyc.length; c++) if (triggerEdge.has(cyc[c]! * 2 * n + cyc[c + 1]!)) named.add(`${name(cyc[c]!)}>${name(cyc[c + 1]!)}`);
        reportCycle(cyc.map(name), named, index);
      }
    }
  }
}

function reportCycle(cyc: readonly string[], triggerEdge: ReadonlySet<string>, index: ReadonlyMap<string, Entry>): never {
  // rotate so that it starts at a node whose trigger makes the first wait
  const ring = cyc.slice(0, -1);
  let k = ring.findIndex((v, i) => triggerEdge.has(`${v}>${ring[(i + 1) % ring.length]!}`));
  if (k < 0) k = 0;
  const rotated = [...ring.slice(k), ...ring.slice(0, k)];
  const paths: string[] = [];
  for (const v of rotated) {
    const p = v.slice(1);
    if (paths[paths.length - 1] !== p) paths.push(p);
  }
  if (paths.length > 1 && paths[paths.length - 1] === paths[0]) paths.pop();
  paths.push(paths[0]!);
  const first = index.get(paths[0]!)!.node;
  throw invalid(first.trigger?.loc ?? first.loc, `trigger cycle: ${paths.join(' → ')}`);
}
