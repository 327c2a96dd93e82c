/**
 * From ingested samples to the rules that read them: groups a batch by its `deployment` label and
 * metric name and tells the evaluator (rules are kept under the deployment id of the tenant).
 */
import type { Sample } from './types.js';

export interface DataListener {
  dataArrived(deployment: string, names: Iterable<string>): void;
}

/** Calls `listener.dataArrived` once per deployment named in `samples`, with `toId` mapping a tenant's name to the id. */
export function notifyArrivals(samples: readonly Sample[], toId: (name: string) => string, listener: DataListener): void {
  const by = new Map<string, Set<string>>();
  for (const s of samples) {
    const d = s.labels['deployment'];
    if (d === undefined) continue;
    let names = by.get(d);
    if (!names) by.set(d, (names = new Set()));
    names.add(s.name);
  }
  for (const [d, names] of by) listener.dataArrived(toId(d), names);
}
