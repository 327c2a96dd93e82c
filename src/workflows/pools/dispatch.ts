/**
 * Least-loaded dispatch: which node of a pool takes the next job. A node is eligible while it
 * runs fewer jobs than its slots; among eligible nodes the one with the fewest running jobs
 * wins, then the lowest CPU load its agent reports, then the smallest id (so the choice is the
 * same whatever order the nodes come in). An unknown load counts as 0: a node whose agent has
 * not reported yet is a fresh one.
 */

/** One node of a pool as dispatch sees it. */
export interface PoolNodeLoad {
  readonly id: string;
  /** Jobs dispatched to it and not finished yet. */
  readonly runningJobs: number;
  /** Most jobs at once on it (WfPool.slots). */
  readonly slots: number;
  /** The agent's CPU load (1-minute load average per core, or a 0–1 utilisation): lower is idler. */
  readonly load?: number;
  /** Draining (the pool shrinks, or the node is going away): takes no new jobs. */
  readonly draining?: boolean;
}

/** Orders two eligible nodes: negative when `a` is the better choice. */
export function compareLoad(a: PoolNodeLoad, b: PoolNodeLoad): number {
  if (a.runningJobs !== b.runningJobs) return a.runningJobs - b.runningJobs;
  const la = a.load ?? 0;
  const lb = b.load ?? 0;
  if (la !== lb) return la - lb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Whether a node may take one more job now. */
export function hasFreeSlot(n: PoolNodeLoad): boolean {
  return !n.draining && n.runningJobs < n.slots;
}

/** The least-loaded node with a free slot, or undefined when every slot is taken (the job waits). */
export function choosePoolNode(nodes: readonly PoolNodeLoad[]): string | undefined {
  let best: PoolNodeLoad | undefined;
  for (const n of nodes) {
    if (!hasFreeSlot(n)) continue;
    if (!best || compareLoad(n, best) < 0) best = n;
  }
  return best?.id;
}
