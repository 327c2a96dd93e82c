/**
 * Scrapes Prometheus text-format targets (for example prometheus-node-exporter's `/metrics`) at
 * a set interval, like a Prometheus server's scrape loop.
 *
 * Every round scrapes all targets concurrently; a target whose previous scrape is still running
 * is skipped that round. Each scrape adds, like Prometheus, per target:
 *   up                       1 when the scrape succeeded (HTTP 2xx, body read), else 0
 *   scrape_duration_seconds  how long the scrape took
 *   scrape_samples_scraped   samples parsed from the body
 * Every sample carries the target's labels plus `instance` (host:port of the URL) unless the
 * target's labels set it. Samples without a timestamp get the scrape's start time.
 *
 * Failure meaning: a target that refuses, times out, answers non-2xx or sends a body larger than
 * `maxBodyBytes` yields `up 0` and `lastError`; nothing a target does stops the loop.
 * Malformed lines are counted per target in `status().malformed`.
 */
import { abortAfter, createRealClock, type Clock } from '../../clock/index.js';
import { NubisError } from '../../errors/index.js';
import type { Labels, Sample } from '../types.js';
import { parsePrometheusText } from './prometheus.js';

export interface ScrapeTarget {
  url: string;
  labels?: Labels;
}

export interface ScrapeStatus {
  url: string;
  labels: Labels;
  /** Clock time (ms) the last scrape started. */
  lastScrapeMs?: number;
  lastDurationMs?: number;
  lastError?: string;
  /** Samples delivered by the last scrape (without the `up` family). */
  samples: number;
  /** Malformed lines in the last scrape. */
  malformed: number;
  up: boolean;
}

export interface ScraperOptions {
  targets: ScrapeTarget[];
  intervalMs: number;
  /** Per-scrape timeout (real time). Default min(intervalMs, 10 s). */
  timeoutMs?: number;
  /** Called once per target scrape with all its samples (including `up`). Exceptions are ignored. */
  onSamples(samples: Sample[]): void;
  /** Drives the interval; default the real clock. */
  clock?: Clock;
  /** Largest accepted body. Default 32 MiB. */
  maxBodyBytes?: number;
}

export interface Scraper {
  /** Starts the loop; the first round runs at once. Calling it twice is a no-op. */
  start(): void;
  /** Stops the loop and waits for scrapes in flight to end. */
  stop(): Promise<void>;
  /** Replaces the targets; kept URLs keep their status. Applies from the next round. */
  setTargets(targets: ScrapeTarget[]): void;
  status(): ScrapeStatus[];
  /** Runs one round now (all targets) and resolves when it is done. For tests and `start`. */
  scrapeOnce(): Promise<void>;
}

/** Validates a target URL; REQUEST_INVALID when it is not http(s). */
function checkTarget(t: ScrapeTarget, i: number): URL {
  let u: URL;
  try {
    u = new URL(t.url);
  } catch {
    throw new NubisError('REQUEST_INVALID', `targets[${i}].url: not a URL: ${t.url}`, { details: { path: `targets[${i}].url` } });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new NubisError('REQUEST_INVALID', `targets[${i}].url: must be http or https`, { details: { path: `targets[${i}].url` } });
  }
  return u;
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new Error(`body larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Creates a scraper. Throws REQUEST_INVALID for a bad target URL or a non-positive interval.
 */
export function createScraper(opts: ScraperOptions): Scraper {
  if (!Number.isFinite(opts.intervalMs) || opts.intervalMs <= 0) {
    throw new NubisError('REQUEST_INVALID', 'intervalMs must be a positive number');
  }
  const clock = opts.clock ?? createRealClock();
  const timeoutMs = opts.timeoutMs ?? Math.min(opts.intervalMs, 10_000);
  const maxBody = opts.maxBodyBytes ?? 32 * 1024 * 1024;

  interface Target {
    url: URL;
    labels: Labels;
    st: ScrapeStatus;
    inFlight?: Promise<void>;
  }
  let targets: Target[] = [];
  let loop: Promise<void> | undefined;
  let abort: AbortController | undefined;

  const setTargets = (list: ScrapeTarget[]): void => {
    const next: Target[] = list.map((t, i) => {
      const url = checkTarget(t, i);
      const labels: Labels = { instance: url.host, ...(t.labels ?? {}) };
      const old = targets.find((o) => o.url.href === url.href && JSON.stringify(o.labels) === JSON.stringify(labels));
      return old ?? { url, labels, st: { url: t.url, labels, samples: 0, malformed: 0, up: false } };
    });
    targets = next;
  };

  const scrape = async (t: Target): Promise<void> => {
    const started = clock.now();
    const t0 = performance.now();
    const deadline = abortAfter(timeoutMs, abort?.signal);
    const signal = deadline.signal;
    let samples: Sample[] = [];
    let malformed = 0;
    let error: string | undefined;
    try {
      const res = await fetch(t.url, {
        signal,
        headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' },
      });
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      const text = await readLimited(res, maxBody);
      const parsed = parsePrometheusText(text, { now: started, labels: t.labels });
      samples = parsed.samples;
      malformed = parsed.malformed.length;
    } catch (e) {
      const err = e as Error;
      error = err.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (err.cause as Error | undefined)?.message ?? err.message;
    } finally {
      deadline.clear();
    }
    const durationMs = performance.now() - t0;
    const up = error === undefined;
    const meta: Sample[] = [
      { name: 'up', labels: { ...t.labels }, t: started, v: up ? 1 : 0 },
      { name: 'scrape_duration_seconds', labels: { ...t.labels }, t: started, v: durationMs / 1000 },
      { name: 'scrape_samples_scraped', labels: { ...t.labels }, t: started, v: samples.length },
    ];
    t.st = {
      url: t.st.url,
      labels: t.labels,
      lastScrapeMs: started,
      lastDurationMs: Math.round(durationMs),
      samples: samples.length,
      malformed,
      up,
      ...(error === undefined ? {} : { lastError: error }),
    };
    if (abort?.signal.aborted) return;
    try {
      opts.onSamples(samples.concat(meta));
    } catch {
      // the consumer's problem; the loop goes on
    }
  };

  /** Starts a scrape of `t` unless one is running; returns the running one. */
  const launch = (t: Target): Promise<void> => {
    t.inFlight ??= scrape(t).finally(() => {
      t.inFlight = undefined;
    });
    return t.inFlight;
  };

  setTargets(opts.targets);

  return {
    start() {
      if (loop) return;
      abort = new AbortController();
      const signal = abort.signal;
      loop = (async () => {
        while (!signal.aborted) {
          const tick = clock.now();
          // scrapes run in the background so one slow target does not delay the schedule
          for (const t of targets) void launch(t);
          try {
            await clock.sleep(Math.max(0, tick + opts.intervalMs - clock.now()), signal);
          } catch {
            return;
          }
        }
      })();
    },
    async stop() {
      abort?.abort();
      await loop;
      loop = undefined;
      await Promise.allSettled(targets.map((t) => t.inFlight));
    },
    setTargets,
    status: () => targets.map((t) => ({ ...t.st, labels: { ...t.st.labels } })),
    async scrapeOnce() {
      await Promise.all(targets.map(launch));
    },
  };
}
