/**
 * Loading run-time states saved from an earlier run (after a control-plane restart): every
 * node's state, tries, passwords, events, meters, labels, variables, repeat index and time
 * attribute states come back; parents' states are derived again; tokens are recomputed from the
 * tries that run (and the `-n` nodes' saved tokens). Nothing running is submitted again: the
 * owner reattaches the tries or reports them lost.
 */
import { STATE_SIGNIFICANCE } from '../model/types.js';
import type { WfNodeRuntime } from '../model/runtime.js';
import type { Machine } from './machine.js';
import { rearchive } from './archive.js';
import { decodeSuiteClock } from './suite-clock.js';
import { decodeTime } from './time.js';
import { derived } from './transitions.js';

export function restoreNodes(m: Machine, saved: readonly WfNodeRuntime[]): void {
  const tree = m.tree;
  for (const s of saved) {
    const n = tree.byPath.get(s.path);
    if (!n) continue;
    n.rt = {
      ...s,
      events: { ...n.rt.events, ...s.events },
      meters: { ...n.rt.meters, ...s.meters },
      labels: { ...n.rt.labels, ...s.labels },
      variables: { ...s.variables },
      ...(s.fired ? { fired: [...s.fired] } : {}),
    };
    if (n.time) decodeTime(n.time, s.fired);
    if (n.kind === 'suite') decodeSuiteClock(n, s.fired);
  }
  // what an autocancel removed stays removed
  for (const s of saved) {
    const n = s.removed ? tree.byPath.get(s.path) : undefined;
    if (n && !n.removed) {
      const mark = (x: typeof n): void => {
        x.rt.removed = true;
        for (const c of x.children) mark(c);
      };
      mark(n);
      tree.detach(n);
    }
  }
  // what was archived stays archived (the children's runtimes come back when restored)
  rearchive(m);
  // parents' counts and states from their children, bottom-up
  for (let i = tree.all.length - 1; i >= 0; i--) {
    const n = tree.all[i]!;
    n.retryPending = false;
    if (n.children.length === 0 || n.removed) continue;
    n.counts.fill(0);
    for (const c of n.children) n.counts[STATE_SIGNIFICANCE[c.rt.state]]!++;
    n.rt.state = derived(n);
  }
  m.limits.restore(saved);
  m.timeDirty = true;
  for (const s of tree.suites) if (s.rt.state !== 'unknown') m.enqueue(s);
}
