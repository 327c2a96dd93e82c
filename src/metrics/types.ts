/**
 * Shared shapes of the metrics part: samples, series, the store interface both backends
 * (embedded, VictoriaMetrics) implement, and query results. A series is a metric name plus
 * labels; Graphite names are kept whole as `__name__` (for example `{__name__="a.b.c"}`).
 *
 * Standard labels: deployment, component, instance, node, cloud; users add their own.
 */

export type Labels = Record<string, string>;

export interface Sample {
  /** Metric name (`__name__`). */
  name: string;
  labels: Labels;
  /** Milliseconds since the epoch. */
  t: number;
  v: number;
}

/**
 * Samples in columns: the distinct series once (`names[k]`, `labels[k]`), then per sample its
 * series index, time (ms) and value, for samples [0, n). What the Graphite workers produce.
 */
export interface SampleColumns {
  n: number;
  names: string[];
  labels: Labels[];
  series: Uint32Array;
  t: Float64Array;
  v: Float64Array;
}

export interface SeriesData {
  /** All labels including `__name__`. */
  labels: Labels;
  /** Sorted by time. */
  points: { t: number; v: number }[];
}

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

/**
 * Where samples are kept. The embedded store and the VictoriaMetrics backend implement it, so
 * the choice is configuration, not code. `append` may buffer; `flush` makes everything
 * appended so far visible to `select` and durable.
 */
export interface MetricStore {
  readonly kind: 'embedded' | 'victoriametrics';
  append(samples: readonly Sample[]): void;
  flush(): Promise<void>;
  /** Raw points of every series matching all matchers, within [start, end] (ms, inclusive). */
  select(matchers: readonly LabelMatcher[], start: number, end: number): Promise<SeriesData[]>;
  /** Label sets of series matching (all series when empty), at most `limit`. */
  series(matchers: readonly LabelMatcher[], limit?: number): Promise<Labels[]>;
  close(): Promise<void>;
}

/** An instant-query result element. */
export interface InstantSample {
  labels: Labels;
  t: number;
  v: number;
}

export type QueryResult =
  | { resultType: 'vector'; result: InstantSample[] }
  | { resultType: 'scalar'; result: { t: number; v: number } }
  | { resultType: 'matrix'; result: SeriesData[] };
