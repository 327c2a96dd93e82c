/**
 * Metric ingest: Graphite plaintext (TCP listener and pure parser), Prometheus text exposition
 * (parser and scrape loop), and HTTP push bodies. Every path yields `Sample[]` batches and
 * reports malformed input instead of failing.
 */
export {
  createGraphiteStreamParser, GRAPHITE_MAX_LINE_BYTES, parseGraphiteLine, parseGraphiteLines, parseGraphiteNumber,
  startGraphiteListener, GraphiteSources, parseGraphiteTenants, parseCidr, isLoopback, GRAPHITE_MAX_FUTURE_MS,
  type GraphiteSourceRule, type GraphiteListener, type GraphiteListenerOptions, type GraphiteListenerStats, type GraphiteStreamParser, type ParseResult,
} from './graphite.js';
export { parsePrometheusText, parsePromValue, type PrometheusParseOptions } from './prometheus.js';
export { createScraper, type ScrapeStatus, type ScrapeTarget, type Scraper, type ScraperOptions } from './scraper.js';
export { checkPushJson, parsePushBody, type PushOptions } from './push.js';
