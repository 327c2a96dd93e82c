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

/**
 * A store that takes samples by series handle: a receiver resolves each series once, keeps the
 * handle and appends by it, so the store does not find the series by name for every sample
 * (the Graphite listener's `sink`). The embedded store is one.
 */
export interface HandleSink<H = unknown> {
  /**
   * The series' handle (the series is created when new); undefined when the store refuses it
   * (the series cap; the store counts the refused sample): ask again for the next sample.
   * Throws like `append` (a closed store).
   */
  resolve(name: string, labels: Labels): H | undefined;
  /** Changes whenever a handle resolved before may no longer name a stored series: resolve again. */
  readonly handleGeneration: number;
  /**
   * Appends samples [0, n): series `handles[i]`, time `t[i]` (ms), value `v[i]`. The arrays are
   * the caller's again once it returns. Throws like `append`.
   */
  appendResolved(handles: readonly H[], t: Float64Array, v: Float64Array, n: number): void;
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
