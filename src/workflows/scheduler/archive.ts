/**
 * `autoarchive` at run time (ecFlow 5.9.2's AutoArchiveAttr; checked on ecflow_server in its
 * test mode, see test/peers/ecflow-time.test.ts): a suite or family that has been complete —
 * with `-i` also queued or aborted (idle) — for its delay (`+hh:mm`), until a time of day
 * (`hh:mm`, suite calendar) or for N days has its children archived: they leave the workflow
 * (status and export no longer show them; expressions naming them see unknown, as ecFlow's do),
 * the node keeps its state and gets the `archived` flag. Not while the node or an ancestor is
 * suspended, nor while a task below is submitted or active (no zombies).
 *
 * They come back as they were (`restored` flag, which keeps them from being archived again until
 * the node is requeued) when the node is requeued or begun, or when a
 * node whose `autorestore` names it completes (./transitions.ts restoreArchived). ecFlow writes
 * the archived subtree to `ECF_HOME/<host>.<port>.<path>.check`; Nubis keeps it in the
 * workflow's stored runtime (every child's WfNodeRuntime stays saved; the node's `archived` flag
 * archives them again after a restart).
 */
import { minuteOfDay } from './calendar.js';
import { autoCancelDelayMs } from './autocancel.js';
import { hasFlag } from './flags.js';
import type { Machine } from './machine.js';
import type { RNode } from './tree.js';

/** A task below `n` is submitted or active. */
function running(n: RNode): boolean {
  for (const c of n.children) {
    const s = c.rt.state;
    if (s === 'submitted' || s === 'active' || (c.children.length > 0 && running(c))) return true;
  }
  return false;
}

function suspendedHere(n: RNode): boolean {
  for (let a: RNode | undefined = n; a; a = a.parent) if (a.rt.suspended) return true;
  return false;
}

/** When `n`'s children are archived if nothing changes (Clock ms), or +Infinity. */
export function autoArchiveDue(n: RNode): number {
  const a = n.def.autoarchive;
  // a restored node is not archived again until it is requeued (ecflow_server: still restored minutes later)
  if (!a || n.removed || n.archived || n.children.length === 0 || hasFlag(n, 'restored')) return Number.POSITIVE_INFINITY;
  const s = n.rt.state;
  if (s !== 'complete' && !(a.idle && (s === 'queued' || s === 'aborted'))) return Number.POSITIVE_INFINITY;
  if (suspendedHere(n) || running(n)) return Number.POSITIVE_INFINITY;
  return n.rt.changedAt + autoCancelDelayMs(a.when, minuteOfDay(n.rt.changedAt + n.suite.calShift));
}

/** Archives `n`'s children now. */
export function archiveNode(m: Machine, n: RNode): void {
  const mark = (x: RNode): void => {
    m.markDependents(x);
    for (const c of x.children) mark(c);
  };
  for (const c of n.children) mark(c);
  m.tree.archiveChildren(n);
  n.rt.flags = [...(n.rt.flags ?? []).filter((f) => f !== 'restored'), ...(hasFlag(n, 'archived') ? [] : ['archived'])];
  m.touch(n);
  m.markDependents(n);
  m.timeDirty = true;
}

/** Archives every node whose autoarchive is due. */
export function runAutoArchives(m: Machine): void {
  for (const n of m.tree.autoarchives) {
    if (autoArchiveDue(n) <= m.now) archiveNode(m, n);
  }
}

/** After a restart: the nodes saved with the `archived` flag have their children archived again. */
export function rearchive(m: Machine): void {
  for (let i = m.tree.all.length - 1; i >= 0; i--) {
    const n = m.tree.all[i]!;
    if (hasFlag(n, 'archived') && !n.archived && n.children.length > 0) m.tree.archiveChildren(n);
  }
}
