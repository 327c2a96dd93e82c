/**
 * A 5-minute p95 across 10,000 series: median latency of the instant query
 * `quantile_over_time(0.95, {__name__=~"bench.*"}[5m])` on the embedded engine and on a real
 * victoria-metrics holding the same data (10,000 Graphite-named series, one point per 10 s for
 * an hour; loaded through each backend's MetricStore). VictoriaMetrics is asked with
 * nocache=1: the embedded engine has no result cache either. Runs alternate; after 3 warm-ups
 * each, 15 measured runs each.
 *
 * Prints one JSON line. `--quick`: 10 minutes of data, 5 measured runs.
 */
import { createEmbeddedMetricStore } from '../src/metrics/store/embedded.js';
import { createQueryEngine } from '../src/metrics/query/engine.js';
import { createVictoriaMetricsQueryEngine, createVictoriaMetricsStore } from '../src/metrics/vm/victoria-metrics.js';
import type { QueryResult, Sample } from '../src/metrics/types.js';
import { startVictoriaMetrics } from '../test/helpers/peers-vm.js';

const SERIES = 10_000;
const STEP_MS = 10_000;
const QUERY = 'quantile_over_time(0.95, {__name__=~"bench.*"}[5m])';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const perSeries = quick ? 60 : 360;
  const runs = quick ? 5 : 15;
  const base = Math.floor((Date.now() - 2 * 3600_000) / 60_000) * 60_000;
  const evalAt = base + (perSeries - 1) * STEP_MS + 1000;

  const embedded = await createEmbeddedMetricStore({ dir: null });
  const vm = await startVictoriaMetrics();
  try {
    const vmStore = createVictoriaMetricsStore({ url: vm.url, batchSize: 200_000 });
    for (let k = 0; k < perSeries; k++) {
      const batch: Sample[] = new Array<Sample>(SERIES);
      for (let i = 0; i < SERIES; i++) batch[i] = { name: `bench.host${Math.floor(i / 100)}.metric${i % 100}`, labels: {}, t: base + k * STEP_MS, v: ((i * 7 + k * 13) % 1000) / 10 };
      embedded.append(batch);
      vmStore.append(batch);
    }
    await embedded.flush();
    await vmStore.flush();

    const local = createQueryEngine(embedded);
    const remote = createVictoriaMetricsQueryEngine({ url: vm.url, noCache: true });
    const time = async (f: () => Promise<QueryResult>): Promise<{ ms: number; n: number }> => {
      const t0 = performance.now();
      const r = await f();
      return { ms: performance.now() - t0, n: r.result instanceof Array ? r.result.length : 1 };
    };
    const nubis: number[] = [];
    const vms: number[] = [];
    let nN = 0;
    let vN = 0;
    for (let i = 0; i < runs + 3; i++) {
      const a = await time(() => local.instant(QUERY, evalAt));
      const b = await time(() => remote.instant(QUERY, evalAt));
      nN = a.n;
      vN = b.n;
      if (i >= 3) {
        nubis.push(a.ms);
        vms.push(b.ms);
      }
    }
    console.log(
      JSON.stringify({
        query: QUERY,
        series: SERIES,
        samplesPerSeries: perSeries,
        runs,
        nubis: { medianMs: median(nubis), results: nN },
        victoriaMetrics: { medianMs: median(vms), results: vN },
        ratio: median(nubis) / median(vms),
      }),
    );
  } finally {
    await vm.stop();
  }
}

await main();
