/**
 * The engine's and the metric store's gauges in the self-metrics: work not yet converged
 * (instances not running or leaving, nodes not running), reconcile passes and their time, the
 * queue and actions in flight, and the store's series and points when it tells them.
 */
import type { Engine } from '../engine/index.js';
import type { SelfMetrics } from './self-metrics.js';
import type { MetricStore } from './types.js';

export function reportEngineAndStore(self: SelfMetrics, engine: Pick<Engine, 'deployments' | 'instancesOf' | 'nodes' | 'stats'>, store: MetricStore): void {
  let pendingInstances = 0;
  for (const d of engine.deployments.keys()) {
    for (const i of engine.instancesOf(d)) if (!i.desired || i.phase !== 'running') pendingInstances++;
  }
  let pendingNodes = 0;
  for (const n of engine.nodes.values()) if (n.status !== 'running') pendingNodes++;
  self.set('nubis_engine_pending_instances', {}, pendingInstances);
  self.set('nubis_engine_pending_nodes', {}, pendingNodes);
  const es = engine.stats();
  self.set('nubis_engine_reconcile_passes_total', {}, es.passes);
  self.set('nubis_engine_reconcile_seconds_total', {}, es.passMsTotal / 1000);
  self.set('nubis_engine_reconcile_last_seconds', {}, es.lastPassMs / 1000);
  self.set('nubis_engine_queue_depth', {}, es.queued);
  self.set('nubis_engine_actions_in_flight', {}, es.inflight);
  const st = (store as { stats?: () => { series: number; points: number } }).stats?.();
  if (st) {
    self.set('nubis_metric_store_series', {}, st.series);
    self.set('nubis_metric_store_points', {}, st.points);
  }
}
