/**
 * ecFlow's node flags as expressions see them (`node<flag>late`, `<flag>zombie`,
 * `<flag>archived`): kept in WfNodeRuntime.flags, cleared by a requeue (resetAttributes).
 * Setting one re-evaluates the nodes whose expressions name the node.
 */
import type { Machine } from './machine.js';
import type { RNode } from './tree.js';

export function hasFlag(n: RNode, flag: string): boolean {
  return n.rt.flags?.includes(flag) ?? false;
}

export function setFlag(m: Machine, n: RNode, flag: string): void {
  if (hasFlag(n, flag)) return;
  n.rt.flags = [...(n.rt.flags ?? []), flag];
  m.touch(n);
  m.markDependents(n);
}
