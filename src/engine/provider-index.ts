/**
 * Nodes by provider id, for what names a node only by the cloud's id (a driver call's `get`,
 * `delete` or `reboot` target). The index is a hint checked on every hit and built again from
 * the nodes on a miss, so it is never wrong, only sometimes rebuilt: a hit costs a lookup
 * instead of a walk of every node.
 */
import type { NodeRec } from './state.js';

export class ProviderIndex {
  private readonly keys = new Map<string, string>();

  /** The node whose provider id is `id` (the last one, should two claim it), or undefined. */
  find(nodes: ReadonlyMap<string, NodeRec>, id: string): NodeRec | undefined {
    const k = this.keys.get(id);
    const hit = k !== undefined ? nodes.get(k) : undefined;
    if (hit?.providerId === id) return hit;
    this.keys.clear();
    let found: NodeRec | undefined;
    for (const n of nodes.values()) {
      if (n.providerId === undefined) continue;
      this.keys.set(n.providerId, n.key);
      if (n.providerId === id) found = n;
    }
    return found;
  }
}
