/**
 * metrics — ingest (Graphite plaintext, Prometheus exposition scraping, HTTP push), the
 * embedded metric store and the VictoriaMetrics backend, a PromQL-compatible query subset,
 * and the rules and schedules that scale components.
 *
 * This door is filled in as the parts land; import from here only.
 */
export type * from './types.js';
export * from './ingest/index.js';
export * from './store/index.js';
export * from './query/index.js';
export * from './vm/index.js';
export * from './rules/index.js';
export * from './schedule/index.js';
export * from './service.js';
export * from './monitors.js';
