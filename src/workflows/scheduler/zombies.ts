/**
 * ecFlow's `zombie TYPE:ACTION:CHILD_CMDS:LIFETIME` applied to refused child commands. A refused
 * command has a type: `path` (no such task), `ecf_passwd` (wrong password), `ecf_pid_passwd`
 * (wrong password and another rid), `ecf_pid` (a second `--init` with another rid), `user` (the
 * task was forced, killed or requeued by a user), `ecf` (anything else: a stale try, a task
 * already complete or aborted by its job). The nearest attribute of that type on the task or an
 * ancestor that lists the command (or lists none) decides:
 * - none, or `fail`: refused (the `nubis child` exits 1 for init/complete/abort/wait);
 * - `fob`: answered as accepted and ignored;
 * - `adopt`: for a wrong password on the running try, the try takes the caller's password (and
 *   rid) and the command applies;
 * - `block`: the answer is held for LIFETIME seconds on the Clock, then refused;
 * - `kill`: the caller's try is killed (hooks.kill), then refused;
 * - `remove`: refused and not recorded.
 * Every other refusal is audited (hooks.zombie) and sets the task's `zombie` flag (cleared by a
 * requeue). Checked on ecflow_server 5.9.2 (`--zombie_get`): a wrong password before any
 * `--init` is `ecf_passwd`, and the task shows `flag:zombie` while it stays active.
 * Nubis differs: `block` holds the answer on the server (ecflow_client retries instead).
 */
import type { WfZombie, WfZombieType } from '../model/types.js';
import type { WfChildCommand, WfChildIdentity, WfChildResult } from '../model/runtime.js';
import { setFlag } from './flags.js';
import type { Machine } from './machine.js';
import type { RNode } from './tree.js';

/** Adopted: go on with the command as the task's own. */
export const ADOPTED = Symbol('adopted');

export function zombieType(t: RNode | undefined, id: WfChildIdentity, c: WfChildCommand): WfZombieType {
  if (!t) return 'path';
  if (id.password !== t.rt.password) {
    return id.rid !== undefined && t.rt.rid !== undefined && id.rid !== t.rt.rid ? 'ecf_pid_passwd' : 'ecf_passwd';
  }
  if (id.tryNo !== t.rt.tryNo) return 'ecf';
  const s = t.rt.state;
  if (c.verb === 'init' && s === 'active') return 'ecf_pid';
  if (s === 'queued' || s === 'unknown' || t.rt.reason === 'forced' || t.rt.reason === 'killed') return 'user';
  return 'ecf';
}

/** The deepest existing node at or above `path` (for `path` zombies). */
function nearest(m: Machine, path: string): RNode | undefined {
  for (let p = path; p.length > 1; p = p.slice(0, p.lastIndexOf('/')) || '/') {
    const n = m.tree.byPath.get(p);
    if (n) return n;
  }
  return undefined;
}

export function zombieAttr(from: RNode | undefined, type: WfZombieType, verb: WfChildCommand['verb']): WfZombie | undefined {
  for (let a = from; a; a = a.parent) {
    const z = a.def.zombies?.find((x) => x.type === type);
    if (z && (z.commands.length === 0 || z.commands.includes(verb))) return z;
  }
  return undefined;
}

/** A command for a path that is no task: answered per a `path` zombie attribute above it, else undefined. */
export function pathZombie(m: Machine, id: WfChildIdentity, c: WfChildCommand, why: string): WfChildResult | Promise<WfChildResult> | undefined {
  if (!zombieAttr(nearest(m, id.path), 'path', c.verb)) return undefined;
  const r = answerZombie(m, undefined, id, c, why);
  return r === ADOPTED ? { ok: false, zombie: true, why } : r;
}

/** The answer to a refused child command, or ADOPTED. */
export function answerZombie(
  m: Machine, t: RNode | undefined, id: WfChildIdentity, c: WfChildCommand, why: string,
): WfChildResult | Promise<WfChildResult> | typeof ADOPTED {
  const type = zombieType(t, id, c);
  const attr = zombieAttr(t ?? nearest(m, id.path), type, c.verb);
  const action = attr?.action ?? 'fail';
  const refusal: WfChildResult = { ok: false, zombie: true, why };
  if (action === 'remove') return refusal;
  if (action === 'adopt' && t && id.tryNo === t.rt.tryNo && id.password !== t.rt.password && (t.rt.state === 'submitted' || t.rt.state === 'active')) {
    t.rt.password = id.password;
    if (id.rid !== undefined) t.rt.rid = id.rid;
    m.touch(t);
    m.zombies.push({ id, c, why: `${why} (${type} zombie, adopted)` });
    return ADOPTED;
  }
  m.zombies.push({ id, c, why: `${why} (${type} zombie${attr?.action ? `, ${attr.action}` : ''})` });
  if (t) setFlag(m, t, 'zombie');
  switch (action) {
    case 'fob':
      return { ok: true };
    case 'kill':
      if (t) m.kills.push({ path: t.path, tryNo: id.tryNo });
      return refusal;
    case 'block':
      return m.hold(attr!.lifetime * 1000, refusal);
    default:
      return refusal;
  }
}
