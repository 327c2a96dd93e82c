/** The embedded metric store and label matching. */
export {
  createEmbeddedMetricStore,
  DEFAULT_RETENTION_MS,
  DEFAULT_MAX_SERIES,
  DEFAULT_HEAD_BUDGET_BYTES,
  type EmbeddedMetricStore,
  type EmbeddedMetricStoreOptions,
  type EmbeddedStoreStats,
  type SeriesColumns,
  type SeriesHandle,
} from './embedded.js';
export { DEFAULT_DOWNSAMPLE, type DownsampleTier } from './downsample.js';
export { compileMatcher, matchesAll, seriesKey, type CompiledMatcher } from './matchers.js';
