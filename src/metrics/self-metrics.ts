/**
 * The control plane's own health as counters, gauges and summaries (sum and count), rendered in
 * the Prometheus text exposition format for `GET /metrics`. In memory only; counters start at
 * zero with the process, as Prometheus expects.
 */
export type MetricLabels = Record<string, string>;

export interface SelfMetrics {
  inc(name: string, labels: MetricLabels, by?: number): void;
  set(name: string, labels: MetricLabels, value: number): void;
  /** Adds an observation to a summary (`<name>_sum`, `<name>_count`). */
  observe(name: string, labels: MetricLabels, value: number): void;
  render(): string;
}

const HELP: Record<string, string> = {
  nubis_ingest_samples_total: 'samples accepted, by source (push, agent, graphite, definitions, rules, schedules)',
  nubis_ingest_malformed_total: 'malformed lines or samples rejected, by source',
  nubis_rule_evaluations_total: 'rule condition evaluations, by result (true, false, unknown)',
  nubis_rule_evaluation_seconds: 'time to evaluate one rule condition',
  nubis_rule_firings_total: 'scaling actions taken by rules',
  nubis_rule_suppressions_total: 'rule actions suppressed, by reason',
  nubis_rule_failures_total: 'rule scaling calls that failed',
  nubis_schedule_firings_total: 'schedule firings, by outcome',
  nubis_scale_requests_total: 'scale requests by rules and schedules',
  nubis_metric_evaluations_total: 'metric definition evaluations, by outcome',
  nubis_driver_calls_total: 'cloud driver calls, by platform, operation and outcome',
  nubis_driver_call_seconds: 'cloud driver call latency',
  nubis_driver_errors_total: 'cloud driver call errors, by code',
  nubis_agent_pull_errors_total: 'failed metric pulls from node agents',
  nubis_engine_pending_instances: 'instances the engine has not converged yet (not running, or leaving): the work queue',
  nubis_engine_pending_nodes: 'nodes not yet running (or being deleted)',
  nubis_engine_reconcile_passes_total: 'planning passes the engine has run',
  nubis_engine_reconcile_seconds_total: 'time spent in planning passes (divide by the passes for the mean reconcile latency)',
  nubis_engine_reconcile_last_seconds: 'duration of the last planning pass',
  nubis_engine_queue_depth: 'deployments queued for a planning pass',
  nubis_engine_actions_in_flight: 'engine actions running now (cloud calls and handler steps)',
  nubis_metric_definitions: 'metric definitions in force',
  nubis_rules: 'scaling rules in force',
  nubis_schedules: 'scaling schedules in force',
  nubis_metric_store_series: 'series in the embedded metric store',
  nubis_metric_store_points: 'points in the embedded metric store',
};

function labelText(labels: MetricLabels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`).join(',')}}`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function createSelfMetrics(): SelfMetrics {
  const values = new Map<string, { type: 'counter' | 'gauge' | 'summary'; series: Map<string, { labels: MetricLabels; v: number; count: number }> }>();
  const slot = (name: string, type: 'counter' | 'gauge' | 'summary', labels: MetricLabels) => {
    let m = values.get(name);
    if (!m) values.set(name, (m = { type, series: new Map() }));
    const k = labelText(labels);
    let s = m.series.get(k);
    if (!s) m.series.set(k, (s = { labels, v: 0, count: 0 }));
    return s;
  };
  return {
    inc(name, labels, by = 1) {
      slot(name, 'counter', labels).v += by;
    },
    set(name, labels, value) {
      slot(name, 'gauge', labels).v = value;
    },
    observe(name, labels, value) {
      const s = slot(name, 'summary', labels);
      s.v += value;
      s.count++;
    },
    render() {
      const lines: string[] = [];
      for (const [name, m] of [...values.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
        if (HELP[name]) lines.push(`# HELP ${name} ${HELP[name]}`);
        lines.push(`# TYPE ${name} ${m.type}`);
        for (const s of m.series.values()) {
          if (m.type === 'summary') {
            lines.push(`${name}_sum${labelText(s.labels)} ${num(s.v)}`);
            lines.push(`${name}_count${labelText(s.labels)} ${s.count}`);
          } else lines.push(`${name}${labelText(s.labels)} ${num(s.v)}`);
        }
      }
      return lines.join('\n') + '\n';
    },
  };
}
