/**
 * Child commands from a running try (ecflow_client's `--init`, `--complete`, `--abort`,
 * `--event`, `--meter`, `--label`, `--wait`). A command with a wrong password, a stale try
 * number, for a task that is not submitted or active, or a second `--init` with another rid is a
 * zombie: refused and audited, or answered as a `zombie` attribute says (./zombies.ts). `--queue`
 * hands out queue steps (./queue.ts). Events, meters and labels must be declared (an engine-action
 * task may set labels of its own choosing); a meter must stay within min..max.
 */
import type { Expr } from '../model/types.js';
import type { WfChildCommand, WfChildIdentity, WfChildResult } from '../model/runtime.js';
import type { Machine, Waiter } from './machine.js';
import { queueCommand } from './queue.js';
import { abortTask, completeTask, propagate, setState } from './transitions.js';
import type { RNode } from './tree.js';
import { ADOPTED, answerZombie, pathZombie } from './zombies.js';

export const ok: WfChildResult = { ok: true };
export const refuse = (why: string): WfChildResult => ({ ok: false, zombie: false, why });

export function childCommand(m: Machine, id: WfChildIdentity, c: WfChildCommand): WfChildResult | Promise<WfChildResult> {
  const t = m.tree.byPath.get(id.path);
  if (!t || t.kind !== 'task') {
    const why = `no task ${id.path} in workflow ${m.definition.name}`;
    // a zombie attribute of type path above it decides; without one, a plain refusal (not audited)
    return pathZombie(m, id, c, why) ?? refuse(why);
  }
  const z = zombieWhy(t, id, c);
  if (z !== undefined) {
    const r = answerZombie(m, t, id, c, z);
    if (r !== ADOPTED) return r;
  }
  switch (c.verb) {
    case 'init':
      t.rt.rid = c.rid;
      for (const [k, v] of Object.entries(c.add ?? {})) t.rt.variables[k] = v;
      m.limits.release(t, true);
      setState(m, t, 'active');
      propagate(m, t.parent);
      return ok;
    case 'complete':
      for (const k of c.remove ?? []) delete t.rt.variables[k];
      completeTask(m, t);
      return ok;
    case 'abort':
      abortTask(m, t, c.reason || 'aborted', true);
      return ok;
    case 'event': {
      const key = t.eventKey(c.name);
      if (key === undefined) return refuse(`${t.path} has no event ${c.name}`);
      if (t.rt.events[key] !== c.value) {
        t.rt.events[key] = c.value;
        m.touch(t);
        m.markDependents(t);
      }
      return ok;
    }
    case 'meter': {
      const meter = t.def.meters.find((x) => x.name === c.name);
      if (!meter) return refuse(`${t.path} has no meter ${c.name}`);
      if (!Number.isInteger(c.value) || c.value < meter.min || c.value > meter.max) {
        return refuse(`meter ${c.name} value ${c.value} is outside ${meter.min}..${meter.max}`);
      }
      if (t.rt.meters[c.name] !== c.value) {
        t.rt.meters[c.name] = c.value;
        m.touch(t);
        m.markDependents(t);
      }
      return ok;
    }
    case 'label':
      if (!(c.name in t.rt.labels) && !t.def.action) return refuse(`${t.path} has no label ${c.name}`);
      if (!(c.name in t.rt.labels)) t.rt.labels = { ...t.rt.labels };
      t.rt.labels[c.name] = c.value;
      m.touch(t);
      return ok;
    case 'wait': {
      let expr: Expr;
      try {
        expr = m.parse(c.expression);
      } catch (e) {
        return refuse(`wait: ${(e as Error).message}`);
      }
      if (m.holds(t, expr)) return Promise.resolve(ok);
      return new Promise<WfChildResult>((resolve) => {
        m.waiters.push({ task: t, tryNo: t.rt.tryNo, expr, resolve });
      });
    }
    case 'queue':
      return queueCommand(m, t, c);
  }
}

function zombieWhy(t: RNode, id: WfChildIdentity, c: WfChildCommand): string | undefined {
  if (id.password !== t.rt.password) return `wrong password for ${t.path}`;
  if (id.tryNo !== t.rt.tryNo) return `stale try ${id.tryNo} of ${t.path} (current try ${t.rt.tryNo})`;
  const s = t.rt.state;
  if (s !== 'submitted' && s !== 'active') return `${t.path} is ${s}, not submitted or active`;
  if (c.verb === 'init' && s === 'active' && t.rt.rid !== undefined && t.rt.rid !== c.rid) {
    return `${t.path} is already active with rid ${t.rt.rid}`;
  }
  return undefined;
}

/** Answers the waits whose expression now holds (or whose try is over), after the step. */
export function checkWaiters(m: Machine): void {
  if (m.waiters.length === 0) return;
  const keep: Waiter[] = [];
  for (const w of m.waiters) {
    const s = w.task.rt.state;
    if (w.task.rt.tryNo !== w.tryNo || (s !== 'submitted' && s !== 'active')) {
      m.answers.push(() => w.resolve({ ok: false, zombie: true, why: `${w.task.path} try ${w.tryNo} is no longer running` }));
    } else if (m.holds(w.task, w.expr)) {
      m.answers.push(() => w.resolve(ok));
    } else keep.push(w);
  }
  m.waiters = keep;
}

/** The try's process is gone, or it never started: an abort (retried per ECF_TRIES). Stale tries are ignored. */
export function abortTry(m: Machine, path: string, tryNo: number, detail: string): void {
  const t = m.tree.byPath.get(path);
  if (!t || t.kind !== 'task' || t.rt.tryNo !== tryNo) return;
  if (t.rt.state !== 'submitted' && t.rt.state !== 'active') return;
  abortTask(m, t, detail, true);
}
