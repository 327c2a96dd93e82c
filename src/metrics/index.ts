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
export * from './service.js';
export * from './monitors.js';
export {
  createObjectCatalog, checkExpr, invalid, iso, tenantOfCaller, catalogKey,
  type CatalogKind, type CatalogObject, type CatalogSection, type ObjectCatalog, type ObjectCatalogOptions,
} from './catalog.js';
export { createMetricDefinitions, type MetricDefinitions } from './definitions.js';
export { createScrapeTargets, type ScrapeTargets } from './scrapes.js';
export { createAgentStreams, type AgentStreams, type AgentStreamsOptions } from './agent-streams.js';
export { notifyArrivals, type DataListener } from './rule-wake.js';
export { createSelfMetrics, type SelfMetrics } from './self-metrics.js';
export { scopeQuery } from './tenancy.js';
