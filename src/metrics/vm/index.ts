/** The VictoriaMetrics backend: MetricStore and QueryEngine over its HTTP API. */
export { createVictoriaMetricsStore, createVictoriaMetricsQueryEngine, selectorText, type VictoriaMetricsOptions, type VictoriaMetricsStore } from './victoria-metrics.js';
export { ImportQueue, type ImportQueueOptions, type ImportStats } from './import-queue.js';
export { backoffMs, withRetry, DEFAULT_RETRY, type RetryPolicy } from './http-client.js';
