/**
 * `why`: every dependency a node still waits for — the suite not begun, its own state, suspended
 * ancestors or itself, ancestors' false triggers and time attributes, each false subterm of its
 * trigger with the current values it read, its time attributes, the limits short of tokens. A
 * family with nothing of its own lists what its queued children wait for.
 */
import type { Expr } from '../model/types.js';
import type { WfWhy } from '../model/runtime.js';
import { exprText, falseTerms, referencedAttrs } from './evaluate.js';
import type { Machine } from './machine.js';
import { printLate } from '../def/attrs-misc.js';
import { timeFree, timeWhy } from './time.js';
import type { RNode } from './tree.js';

export function whyNode(m: Machine, n: RNode, depth = 0): WfWhy[] {
  const out: WfWhy[] = [];
  const s = n.rt.state;
  const add = (path: string, kind: string, detail: string): void => {
    out.push({ path, kind, detail });
  };
  // ecFlow's flags first (late, zombie): not a dependency, but what an operator looks for
  if (depth === 0) for (const f of n.rt.flags ?? []) add(n.path, 'flag', `${n.path} is flagged ${f}${f === 'late' && n.late ? ` (late ${lateText(n)})` : ''}`);
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
    if (a.trigger && !m.holds(a, a.trigger)) {
      for (const d of termsWhy(m, a, a.trigger)) add(a.path, 'parent', `parent ${a.path} trigger: ${d}`);
    }
    if (a.time && !timeFree(a.time, m.cal(a))) {
      for (const w of timeWhy(a.time, m.cal(a))) add(a.path, 'parent', `parent ${a.path} ${w.detail}`);
    }
  }
  if (n.rt.suspended) add(n.path, 'suspended', `${n.path} is suspended`);
  if (n.trigger && !m.holds(n, n.trigger)) {
    for (const d of termsWhy(m, n, n.trigger)) add(n.path, 'trigger', d);
  }
  if (n.time && !timeFree(n.time, m.cal(n))) {
    for (const w of timeWhy(n.time, m.cal(n))) add(n.path, w.kind, w.detail);
  }
  if (n.kind === 'task') {
    for (const [l, want] of m.limits.shortOf(n)) {
      add(n.path, 'limit', `limit ${l.label} has ${l.size - l.used} of ${l.size} tokens free, needs ${want}`);
    }
  } else if (out.length === 0 && depth < 2) {
    for (const c of n.children) {
      if (c.rt.state !== 'queued' && !(c.rt.state === 'aborted' && c.retryPending)) continue;
      out.push(...whyNode(m, c, depth + 1));
      if (out.length >= 20) break;
    }
  }
  return out;
}

/** Each false subterm, with the values it read: `a == complete is false (/s/a is active)`. */
function termsWhy(m: Machine, n: RNode, e: Expr): string[] {
  return falseTerms(e, m.envOf(n)).map((t) => {
    if (t.kind === 'flag' || (t.kind === 'not' && t.arg.kind === 'flag')) {
      const f = t.kind === 'flag' ? t : t.arg as Extract<Expr, { kind: 'flag' }>;
      const target = f.path === '/' ? undefined : n.resolve(m.tree, f.path);
      const has = target?.rt.flags?.includes(f.flag) ?? false;
      return `${exprText(t)} is false (${target ? target.path : f.path} ${has ? 'has' : 'has no'} ${f.flag} flag)`;
    }
    const vals = referencedAttrs(t).map((r) => {
      const target = n.resolve(m.tree, r.path);
      if (!target) return `${r.path} does not exist`;
      if (r.attr === undefined) return `${target.path} is ${target.rt.state}`;
      return `${target.path}:${r.attr} is ${m.attrValue(target, r.attr) ?? 'undefined'}`;
    });
    return `${exprText(t)} is false${vals.length ? ` (${vals.join(', ')})` : ''}`;
  });
}

const lateText = (n: RNode): string => printLate(n.late!);
