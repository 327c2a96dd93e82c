/**
 * checkDefinition: what makes a definition unloadable, each reported with where it was written
 * (NubisError WORKFLOW_INVALID `file:line:col: …`, the first problem found):
 * - duplicate names: sibling nodes, and a node's events, meters, labels or limits;
 * - a trigger/complete path that goes above its suite (`../x` on a family right under the
 *   suite), or names a node that is not in the definition and not covered by an `extern`
 *   (an extern `/s/f` covers `/s/f` and everything below it). Attribute names after `:` are
 *   not checked (they may be generated or server variables);
 * - a trigger cycle: nodes that wait for each other. A node waits for what its trigger
 *   *requires* — `x == complete` (x done), `x:ev` / `x:ev == set` (x started); required on
 *   both sides of an `or`, on either side of an `and`, never under `not` — and for its parent to
 *   start; a family is done when its children are. Reported as `/s/a → /s/b → /s/a`;
 * - an inlimit naming no limit (on the given path, or on the node or an ancestor);
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

type Resolved = { kind: 'node'; path: string } | { kind: 'above' } | { kind: 'missing'; path: string };

/** Resolves `ref` written on the node at `holder` (absolute): relative paths start at the holder's parent. */
export function resolvePath(holder: string, ref: string): Resolved {
  const segs = ref.startsWith('/') ? [] : holder.split('/').filter(Boolean).slice(0, -1);
  for (const s of ref.split('/').filter(Boolean)) {
    if (s === '.') continue;
    if (s === '..') {
      if (segs.length <= 1) return { kind: 'above' };
      segs.pop();
      continue;
    }
    segs.push(s);
  }
  if (segs.length === 0) return { kind: 'above' };
  return { kind: 'node', path: `/${segs.join('/')}` };
}

/** Throws the first problem found (see the module comment); `locs` adds attribute positions to messages. */
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
  const external = (abs: string): boolean => externs.some((x) => abs === x || abs.startsWith(`${x}/`));

  for (const e of order) {
    const n = e.node;
    for (const [what, list] of [['event', n.events], ['meter', n.meters], ['label', n.labels], ['limit', n.limits]] as const) {
      const seen = new Set<string>();
      for (const a of list) {
        if (seen.has(a.name)) throw invalid(locs.get(a) ?? n.loc, `duplicate ${what} '${a.name}' on ${e.path}`);
        seen.add(a.name);
      }
    }
    for (const which of ['trigger', 'complete'] as const) {
      const x = n[which];
      if (!x) continue;
      for (const r of expressionRefs(x.expr)) {
        const res = resolvePath(e.path, r.path);
        const at = r.loc ?? x.loc ?? n.loc;
        if (res.kind === 'above') throw invalid(at, `${r.path} in the ${which} of ${e.path} goes above the suite`);
        if (!index.has(res.path) && !external(res.path)) {
          throw invalid(at, `the ${which} of ${e.path} names ${res.path === r.path ? r.path : `${r.path} (${res.path})`}, which does not exist (add an extern if it is defined elsewhere)`);
        }
      }
    }
    for (const l of n.inlimits) {
      const at = locs.get(l) ?? n.loc;
      if (l.path !== undefined) {
        const res = resolvePath(e.path, l.path);
        if (res.kind === 'above') throw invalid(at, `inlimit ${l.path}:${l.name} on ${e.path} goes above the suite`);
        const target = index.get(res.path);
        if (!target) {
          if (external(res.path)) continue;
          throw invalid(at, `inlimit ${l.path}:${l.name} on ${e.path}: ${res.path} does not exist`);
        }
        if (!target.node.limits.some((x) => x.name === l.name)) throw invalid(at, `inlimit ${l.path}:${l.name} on ${e.path}: ${res.path} has no limit ${l.name}`);
      } else {
        let a: Entry | undefined = e;
        while (a && !a.node.limits.some((x) => x.name === l.name)) a = a.parent;
        if (!a) throw invalid(at, `inlimit ${l.name} on ${e.path}: no limit ${l.name} on it or an ancestor`);
      }
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

type Need = Map<string, 'S' | 'D'>;

/** What a trigger requires before it can be true (see the module comment). */
function requires(x: Expr, holder: string, out: Need): Need {
  const add = (path: string, k: 'S' | 'D'): Need => {
    const r = resolvePath(holder, path);
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
      if (x.op === 'and') { requires(x.left, holder, out); return requires(x.right, holder, out); }
      const l = requires(x.left, holder, new Map());
      const r = requires(x.right, holder, new Map());
      for (const [k, v] of l) if (r.has(k)) out.set(k, v);
      return out;
    }
    default:
      return out;
  }
}

function findCycle(order: readonly Entry[], index: ReadonlyMap<string, Entry>): void {
  // vertices: 'S/path' (may start), 'D/path' (done); edges: what each waits for
  const edges = new Map<string, string[]>();
  const triggerEdge = new Set<string>();
  const push = (from: string, to: string): void => {
    const l = edges.get(from);
    if (l) l.push(to); else edges.set(from, [to]);
  };
  for (const e of order) {
    if (e.parent) push(`S${e.path}`, `S${e.parent.path}`);
    push(`D${e.path}`, `S${e.path}`);
    for (const c of e.node.children) push(`D${e.path}`, `D${e.path}/${c.name}`);
    const t = e.node.trigger;
    if (!t) continue;
    for (const v of requires(t.expr, e.path, new Map()).keys()) {
      const target = v.slice(1);
      if (!index.has(target)) continue;
      if (v === `S${e.path}`) continue; // its own event/variable: not a wait on another node
      push(`S${e.path}`, v);
      triggerEdge.add(`S${e.path}>${v}`);
    }
  }
  const state = new Map<string, 1 | 2>();
  for (const e of order) {
    const root = `S${e.path}`;
    if (state.has(root)) continue;
    // iterative DFS
    const stack: { v: string; i: number }[] = [{ v: root, i: 0 }];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const out = edges.get(top.v) ?? [];
      if (top.i >= out.length) {
        state.set(top.v, 2);
        stack.pop();
        continue;
      }
      const w = out[top.i++]!;
      const s = state.get(w);
      if (s === undefined) {
        state.set(w, 1);
        stack.push({ v: w, i: 0 });
      } else if (s === 1) {
        const from = stack.findIndex((x) => x.v === w);
        const cyc = [...stack.slice(from).map((x) => x.v), w];
        reportCycle(cyc, triggerEdge, index);
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
