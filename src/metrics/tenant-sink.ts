/**
 * A tenant's sink for receivers that append by series handle (the Graphite listener's `sink`
 * option): each series the receiver resolves gets the tenant's label (set last, as `ingest`
 * does, so a sender cannot choose it), and each appended block is counted and announced to
 * the rules that read it, grouped by its series' `deployment` label. Only a store that takes
 * handles (the embedded one) has such a sink; with another the receiver delivers Samples.
 */
import type { SeriesHandle } from './store/index.js';
import { TENANT_LABEL } from './tenancy.js';
import type { HandleSink, Labels, MetricStore } from './types.js';

export interface TenantSinkHooks {
  /** After each appended block: how many samples. */
  appended(n: number): void;
  /** Whether anyone listens for arrivals (else `arrived` is not called, and nothing is grouped). */
  wantsArrivals(): boolean;
  /** The metric names of a block by the deployment they name (series without one left out). */
  arrived(byDeployment: Map<string, Set<string>>): void;
}

type HandleStore = MetricStore & HandleSink<SeriesHandle> & { seriesLabels(h: SeriesHandle): Labels | undefined };

function takesHandles(store: MetricStore): store is HandleStore {
  const s = store as Partial<HandleStore>;
  return typeof s.resolve === 'function' && typeof s.appendResolved === 'function' && typeof s.seriesLabels === 'function' && 'handleGeneration' in s;
}

/** The sink for `tenant` into `store`; undefined when the store takes no handles. */
export function createTenantSink(store: MetricStore, tenant: string, hooks: TenantSinkHooks): HandleSink<SeriesHandle> | undefined {
  if (!takesHandles(store)) return undefined;
  return {
    resolve: (name: string, labels: Labels) => store.resolve(name, { ...labels, [TENANT_LABEL]: tenant }),
    get handleGeneration() {
      return store.handleGeneration;
    },
    appendResolved(handles, t, v, n) {
      store.appendResolved(handles, t, v, n);
      hooks.appended(n);
      if (!hooks.wantsArrivals()) return;
      const by = new Map<string, Set<string>>();
      let last: SeriesHandle | undefined;
      for (let i = 0; i < n; i++) {
        const h = handles[i]!;
        if (h === last) continue;
        last = h;
        const labels = store.seriesLabels(h);
        const d = labels?.['deployment'];
        if (d === undefined) continue;
        let names = by.get(d);
        if (!names) by.set(d, (names = new Set()));
        names.add(labels!['__name__'] ?? '');
      }
      if (by.size > 0) hooks.arrived(by);
    },
  };
}
