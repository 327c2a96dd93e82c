/** The embedded metric store and label matching. */
export { createEmbeddedMetricStore, DEFAULT_RETENTION_MS, type EmbeddedMetricStore, type EmbeddedMetricStoreOptions, type DownsampleTier, type SeriesColumns } from './embedded.js';
export { compileMatcher, matchesAll, seriesKey, type CompiledMatcher } from './matchers.js';
