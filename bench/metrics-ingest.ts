/**
 * Graphite plaintext ingest, both sides in the same run: 10,000 series × 300 samples (3
 * million) sent over TCP by a separate sender process, into (a) Nubis — the Graphite listener
 * (src/metrics/ingest/graphite) → embedded store append → flush (fsync'd) — and (b) a real
 * victoria-metrics fed the same stream on its -graphiteListenAddr. Rounds alternate
 * (Nubis, VM, Nubis, VM, …) so both see the same machine load; the medians are reported.
 * Each clock runs from "go" until every sample is stored and queryable: for Nubis, all samples
 * appended and flush() done; for VictoriaMetrics, its `sum(count_over_time(...))` answers the
 * full count after /internal/force_flush.
 *
 * Also reported: the CPU seconds each side spent (Nubis: this process; VictoriaMetrics: its
 * process, from /proc), the machine's load average, and the ratio of CPU per sample, which
 * explains much of the throughput ratio on a loaded machine, where wall times swing widely.
 * Nubis also reports, per round, when every sample had been appended (`arrivedSeconds`,
 * before the final flush).
 *
 * Nubis's listener runs in the modes `--modes bytes,thread,samples,workers` names (default
 * `bytes,thread`: the store as the listener's sink, parsing on this thread or in the
 * listener's reader thread; see `Mode`), each in every round; `--workers N` sets the worker
 * threads of `workers` (default one per CPU, at most 4).
 *
 * Prints one JSON line. `--quick`: 10,000 series × 20 samples, 1 round. `--rounds N`,
 * `--per-series N` (samples per series), `--no-vm` (Nubis only, e.g. under --cpu-prof).
 * Sender mode (internal): `--send <port> <series> <perSeries> <baseSec>`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmbeddedMetricStore, type EmbeddedMetricStore } from '../src/metrics/store/embedded.js';
import type { HandleSink, SampleColumns } from '../src/metrics/types.js';
import { startVictoriaMetrics } from '../test/helpers/peers-vm.js';
import { defaultParseWorkers } from '../src/metrics/ingest/graphite-pool.js';
import { startGraphiteListener } from '../src/metrics/ingest/graphite.js';

const SERIES = 10_000;
const STEP_S = 10;

function seriesName(i: number): string {
  return `bench.host${Math.floor(i / 100)}.metric${i % 100}`;
}

/** Sender: pre-generates the whole stream, waits for "go" on stdin, writes it, exits. */
async function sender(port: number, series: number, perSeries: number, baseSec: number): Promise<void> {
  const names = Array.from({ length: series }, (_, i) => seriesName(i) + ' ');
  const chunks: Buffer[] = [];
  let text = '';
  for (let k = 0; k < perSeries; k++) {
    const ts = ' ' + (baseSec + k * STEP_S) + '\n';
    for (let i = 0; i < series; i++) {
      text += names[i]! + ((i * 7 + k * 13) % 1000) / 10 + ts;
      if (text.length > 1 << 20) {
        chunks.push(Buffer.from(text));
        text = '';
      }
    }
  }
  chunks.push(Buffer.from(text));
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  for (const c of chunks) if (!sock.write(c)) await new Promise((r) => sock.once('drain', r));
  await new Promise<void>((resolve) => sock.end(() => resolve()));
  process.exit(0);
}

/** Starts a sender and resolves once it has generated its data; `go()` starts the stream. */
async function startSender(port: number, perSeries: number, baseSec: number): Promise<{ go(): void; done: Promise<void> }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--max-old-space-size=4096', self, '--send', String(port), String(SERIES), String(perSeries), String(baseSec)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`sender exited with ${code}`)));
  });
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { go: () => child.stdin!.write('go\n'), done };
}

/** CPU seconds of a process so far (utime + stime from /proc). */
function procCpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

interface Round {
  seconds: number;
  /** Nubis: until every sample was appended (before the final flush). */
  arrivedSeconds?: number;
  cpuSeconds: number;
  stored: number;
}

/**
 * How Nubis's listener hands samples over: `bytes` (a sink: parsed from the bytes, appended by
 * series handle), `thread` (the same, read and parsed in the listener's reader thread, this
 * thread only appending), `samples` (a Sample per line into `append`, the
 * previous default) or `workers` (parsing in `parseWorkers` threads, columns into appendColumns).
 */
type Mode = 'bytes' | 'thread' | 'samples' | 'workers';

/** The store as the listener's sink, counting what arrives. */
function countingSink(store: EmbeddedMetricStore, arrived: (n: number) => void): HandleSink<unknown> {
  return {
    resolve: (name, labels) => store.resolve(name, labels),
    get handleGeneration() {
      return store.handleGeneration;
    },
    appendResolved: (handles, t, v, n) => {
      store.appendResolved(handles as Parameters<typeof store.appendResolved>[0], t, v, n);
      arrived(n);
    },
  };
}

async function nubisRound(perSeries: number, baseSec: number, mode: Mode, workers: number): Promise<Round> {
  const total = SERIES * perSeries;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-ingest-'));
  const store = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0 });
  let appended = 0;
  let resolveAll!: () => void;
  const allIn = new Promise<void>((r) => (resolveAll = r));
  const arrived = (n: number): void => {
    appended += n;
    if (appended >= total) resolveAll();
  };
  const listener = await startGraphiteListener({
    port: 0,
    ...(mode === 'bytes' || mode === 'thread' ? { sink: () => countingSink(store, arrived), readerThread: mode === 'thread' } : {}),
    ...(mode === 'samples'
      ? {
          onSamples: (s) => {
            store.append(s);
            arrived(s.length);
          },
        }
      : {}),
    ...(mode === 'workers'
      ? {
          parseWorkers: workers,
          onColumns: (c: SampleColumns) => {
            store.appendColumns(c);
            arrived(c.n);
          },
        }
      : {}),
  });
  const s1 = await startSender(listener.port, perSeries, baseSec);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  s1.go();
  await allIn;
  const arrivedSeconds = (performance.now() - t0) / 1000;
  await store.flush();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0); // the whole process: main thread and parse workers
  const stored = store.stats().points;
  await s1.done;
  await listener.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { seconds, arrivedSeconds, cpuSeconds: (c.user + c.system) / 1e6, stored };
}

async function vmRound(perSeries: number, baseSec: number): Promise<Round> {
  const total = SERIES * perSeries;
  const vm = await startVictoriaMetrics({ graphite: true });
  try {
    const s2 = await startSender(vm.graphitePort!, perSeries, baseSec);
    const countQuery = `sum(count_over_time({__name__=~"bench\\\\..*"}[${perSeries * STEP_S + 600}s]))`;
    const evalAt = baseSec + perSeries * STEP_S + 1;
    const inserted = async (): Promise<number> => {
      const text = await (await fetch(`${vm.url}/metrics`)).text();
      const m = /^vm_rows_inserted_total\{type="graphite"\} (\d+)/m.exec(text);
      return m ? Number(m[1]) : 0;
    };
    let stored = 0;
    const cpu0 = procCpuSeconds(vm.pid);
    const t1 = performance.now();
    s2.go();
    for (;;) {
      if ((await inserted()) >= total) {
        await (await fetch(`${vm.url}/internal/force_flush`)).arrayBuffer();
        const r = (await (await fetch(`${vm.url}/api/v1/query?nocache=1&time=${evalAt}&query=${encodeURIComponent(countQuery)}`)).json()) as { data: { result: { value: [number, string] }[] } };
        stored = Number(r.data.result[0]?.value[1] ?? 0);
        if (stored >= total) break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t1) / 1000;
    const cpuSeconds = procCpuSeconds(vm.pid) - cpu0;
    await s2.done;
    return { seconds, cpuSeconds, stored };
  } finally {
    await vm.stop();
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const perSeries = Number(argValue('--per-series') ?? (quick ? 20 : 300));
  const rounds = Number(argValue('--rounds') ?? (quick ? 1 : 3));
  const workers = Number(argValue('--workers') ?? defaultParseWorkers());
  const modes = (argValue('--modes') ?? 'bytes,thread').split(',').filter((m): m is Mode => m === 'bytes' || m === 'thread' || m === 'samples' || m === 'workers');
  const withVm = !process.argv.includes('--no-vm');
  const total = SERIES * perSeries;
  const baseSec = Math.floor(Date.now() / 1000) - perSeries * STEP_S - 3600;
  const nubis = new Map<Mode, Round[]>(modes.map((m) => [m, []]));
  const vms: Round[] = [];
  const load0 = os.loadavg()[0]!;
  const loads: number[] = [load0];
  // alternating: each Nubis mode, then VictoriaMetrics, round after round
  for (let r = 0; r < rounds; r++) {
    for (const m of modes) nubis.get(m)!.push(await nubisRound(perSeries, baseSec, m, workers));
    if (withVm) vms.push(await vmRound(perSeries, baseSec));
    loads.push(os.loadavg()[0]!);
  }
  const v = withVm ? median(vms.map((x) => x.seconds)) : NaN;
  const vCpu = withVm ? median(vms.map((x) => x.cpuSeconds)) : NaN;
  const sides: Record<string, unknown> = {};
  for (const [m, rs] of nubis) {
    const n = median(rs.map((x) => x.seconds));
    const nCpu = median(rs.map((x) => x.cpuSeconds));
    sides[m] = {
      seconds: n, samplesPerSec: total / n, cpuSeconds: nCpu, stored: rs[0]!.stored,
      /** VictoriaMetrics's median time over this one's: ≥ 1 is faster than VM. */
      ratio: v / n,
      /** Samples per CPU second, this one's over VictoriaMetrics's. */
      cpuEfficiencyRatio: vCpu / nCpu,
      all: rs,
    };
  }
  console.log(
    JSON.stringify({
      series: SERIES,
      samples: total,
      rounds,
      ...(modes.includes('workers') ? { parseWorkers: workers } : {}),
      /** The 1-minute load average at the start and after each round. */
      loadAverage: { rounds: loads, cores: os.cpus().length },
      nubis: sides,
      ...(withVm ? { victoriaMetrics: { seconds: v, samplesPerSec: total / v, cpuSeconds: vCpu, stored: vms[0]!.stored, all: vms } } : {}),
    }),
  );
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[2] === '--send') {
  void sender(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
} else {
  await main();
}
