/**
 * `queue NAME step…` at run time (ecFlow 5.9.2's QueueAttr and `--queue` child command): the
 * queue keeps the index of the next step to hand out and a state per step (queued, active,
 * complete, aborted); a requeue of its node starts it afresh. In an expression `node:NAME` is
 * the step at the index as an integer when it is one, else the index (past the last step: the
 * number of steps).
 */
import type { WfChildCommand, WfChildResult } from '../model/runtime.js';
import type { Machine } from './machine.js';
import type { RNode } from './tree.js';

type QueueCommand = Extract<WfChildCommand, { verb: 'queue' }>;
const NULL_STEP = '<NULL>';

/** The value of queue `name` of `n` in an expression, or undefined when it has none. */
export function queueValue(n: RNode, name: string): number | undefined {
  const q = n.rt.queues?.[name];
  const def = n.def.queues?.find((x) => x.name === name);
  if (!q || !def) return undefined;
  const step = def.values[q.index];
  return step !== undefined && /^[+-]?\d+$/.test(step) ? Number(step) : q.index;
}

/** The node holding the queue: PATH when given, else the task or its nearest ancestor with one of that name. */
function holderOf(m: Machine, t: RNode, c: QueueCommand): RNode | undefined {
  if (c.path !== undefined && c.path !== '') {
    const h = c.path.startsWith('/') ? m.tree.byPath.get(c.path) : t.resolve(m.tree, c.path);
    return h?.def.queues?.some((q) => q.name === c.name) ? h : undefined;
  }
  for (let a: RNode | undefined = t; a; a = a.parent) if (a.def.queues?.some((q) => q.name === c.name)) return a;
  return undefined;
}

export function queueCommand(m: Machine, t: RNode, c: QueueCommand): WfChildResult {
  const h = holderOf(m, t, c);
  if (!h) return { ok: false, zombie: false, why: `queue ${c.name} not found on ${c.path ?? `${t.path} or its ancestors`}` };
  const def = h.def.queues!.find((q) => q.name === c.name)!;
  const q = (h.rt.queues ??= {})[c.name] ??= { index: 0, states: def.values.map(() => 'queued') };
  const changed = (): void => {
    m.touch(h);
    m.markDependents(h);
  };
  const stepIndex = (): number => (c.step === undefined ? -1 : def.values.indexOf(c.step));
  switch (c.action) {
    case 'active': {
      if (q.index < 0 || q.index >= def.values.length) return { ok: true, value: NULL_STEP };
      const value = def.values[q.index]!;
      q.states[q.index] = 'active';
      q.index++;
      changed();
      return { ok: true, value };
    }
    case 'complete': case 'aborted': {
      const i = stepIndex();
      if (i < 0) return { ok: false, zombie: false, why: `queue ${c.name} has no step ${c.step ?? '(none given)'}` };
      q.states[i] = c.action === 'complete' ? 'complete' : 'aborted';
      changed();
      return { ok: true };
    }
    case 'no_of_aborted': {
      const n = q.states.filter((s) => s === 'aborted').length;
      return { ok: true, value: n === 0 ? '' : String(n) };
    }
    case 'reset': {
      const i = q.states.findIndex((s) => s === 'queued' || s === 'aborted');
      if (i >= 0 && i !== q.index) {
        q.index = i;
        changed();
      }
      return { ok: true };
    }
  }
}
