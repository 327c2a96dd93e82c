/** The VictoriaMetrics backend: MetricStore and QueryEngine over its HTTP API. */
export { createVictoriaMetricsStore, createVictoriaMetricsQueryEngine, selectorText, type VictoriaMetricsOptions } from './victoria-metrics.js';
