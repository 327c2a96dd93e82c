/**
 * metrics — ingest (Graphite plaintext, Prometheus exposition scraping, HTTP push), the
 * embedded metric store and the VictoriaMetrics backend, a PromQL-compatible query subset,
 * and the rules and schedules that scale components.
 *
 * This door is filled in as the parts land; import from here only.
 */
export type * from './types.js';
