/**
 * A 5-minute p95 across 10,000 series: median latency of the instant query
 * `quantile_over_time(0.95, {__name__=~"bench.*"}[5m])`, both sides over HTTP: a real
 * `nubis serve` control plane (startServer; GET /v1/metrics/query with a token, so the
 * tenant scoping, JSON encoding and HTTP are in the clock) and a real victoria-metrics
 * (POST /api/v1/query, nocache=1: Nubis has no result cache either), holding the same data
 * (10,000 Graphite-named series, one point per 10 s for an hour; loaded through each
 * backend's MetricStore, the Nubis one written to the server's data directory before it
 * starts). Each side's clock covers the request and parsing the JSON answer. Runs
 * alternate; after 3 warm-ups each, 15 measured runs each.
 *
 * Prints one JSON line. `--quick`: 10 minutes of data, 5 measured runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmbeddedMetricStore } from '../src/metrics/store/embedded.js';
import { createVictoriaMetricsStore } from '../src/metrics/vm/victoria-metrics.js';
import { startServer } from '../src/cli/server-root.js';
import type { Sample } from '../src/metrics/types.js';
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

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-query-'));
  const embedded = await createEmbeddedMetricStore({ dir: path.join(dataDir, 'metrics'), flushIntervalMs: 0 });
  const vm = await startVictoriaMetrics();
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const vmStore = createVictoriaMetricsStore({ url: vm.url, batchSize: 200_000 });
    for (let k = 0; k < perSeries; k++) {
      const batch: Sample[] = new Array<Sample>(SERIES);
      for (let i = 0; i < SERIES; i++) batch[i] = { name: `bench.host${Math.floor(i / 100)}.metric${i % 100}`, labels: {}, t: base + k * STEP_MS, v: ((i * 7 + k * 13) % 1000) / 10 };
      embedded.append(batch);
      vmStore.append(batch);
    }
    await embedded.close();
    await vmStore.flush();
    server = await startServer({ dataDir, port: 0, host: '127.0.0.1' });
    const token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const nubisUrl = `${server.url}/v1/metrics/query?query=${encodeURIComponent(QUERY)}&time=${evalAt / 1000}`;
    const count = (json: unknown): number => {
      const d = (json as { data?: { result?: unknown[] }; result?: unknown[] }).data ?? (json as { result?: unknown[] });
      return Array.isArray(d.result) ? d.result.length : -1;
    };
    const time = async (f: () => Promise<Response>): Promise<{ ms: number; n: number }> => {
      const t0 = performance.now();
      const res = await f();
      const json = (await res.json()) as unknown;
      const ms = performance.now() - t0;
      if (!res.ok) throw new Error(`query failed (${res.status}): ${JSON.stringify(json).slice(0, 300)}`);
      return { ms, n: count(json) };
    };
    const askNubis = (): Promise<Response> => fetch(nubisUrl, { headers: { authorization: `Bearer ${token}` } });
    const askVm = (): Promise<Response> => fetch(`${vm.url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: QUERY, time: (evalAt / 1000).toFixed(3), nocache: '1' }) });
    const nubis: number[] = [];
    const vms: number[] = [];
    let nN = 0;
    let vN = 0;
    for (let i = 0; i < runs + 3; i++) {
      const a = await time(askNubis);
      const b = await time(askVm);
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
        over: 'HTTP on both sides',
        series: SERIES,
        samplesPerSeries: perSeries,
        runs,
        nubis: { medianMs: median(nubis), results: nN },
        victoriaMetrics: { medianMs: median(vms), results: vN },
        ratio: median(nubis) / median(vms),
      }),
    );
  } finally {
    await server?.close();
    await vm.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
