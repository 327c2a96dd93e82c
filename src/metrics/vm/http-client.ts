/**
 * One HTTP call to VictoriaMetrics, classified: 4xx (but 429) → REQUEST_INVALID, not
 * retryable; 429, 5xx, timeouts and network failures → UNAVAILABLE, retryable. `withRetry`
 * repeats a retryable failure with exponential backoff and jitter.
 */
import { NubisError, isNubisError } from '../../errors/index.js';

export interface CallInit {
  method?: string;
  body?: string | URLSearchParams;
  query?: URLSearchParams;
  /** This call's timeout (ms). */
  timeoutMs: number;
}

export type VmCall = (path: string, init: CallInit) => Promise<Response>;

export function vmClient(url: string): VmCall {
  const base = url.replace(/\/+$/, '');
  return async (path, init) => {
    const target = `${base}${path}${init.query ? `?${init.query.toString()}` : ''}`;
    let res: Response;
    try {
      res = await fetch(target, { method: init.method ?? 'GET', body: init.body ?? null, signal: AbortSignal.timeout(init.timeoutMs) });
    } catch (e) {
      const timedOut = (e as Error).name === 'TimeoutError';
      const why = timedOut ? `no answer within ${init.timeoutMs} ms` : (e as Error).message;
      throw new NubisError('UNAVAILABLE', `VictoriaMetrics at ${base} did not answer ${path}: ${why}`, { cause: e });
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      /* plain text */
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 429) throw new NubisError('REQUEST_INVALID', `VictoriaMetrics rejected ${path} (${res.status}): ${message}`);
    throw new NubisError('UNAVAILABLE', `VictoriaMetrics failed ${path} (${res.status}): ${message}`);
  };
}

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** First backoff (ms); doubles per attempt. */
  baseMs: number;
  /** Longest backoff (ms). */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseMs: 250, maxMs: 10_000 };

/** The wait before retry `attempt` (0-based): half fixed, half random ("equal jitter"). */
export function backoffMs(p: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const full = Math.min(p.maxMs, p.baseMs * 2 ** attempt);
  return full / 2 + (full / 2) * random();
}

/** Runs `fn` until it succeeds, fails with a non-retryable error, or the retries are spent. */
export async function withRetry<T>(p: RetryPolicy, fn: () => Promise<T>, onRetry?: (e: NubisError, attempt: number) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const retryable = isNubisError(e) ? e.retryable : false;
      if (!retryable || attempt >= p.retries) throw e;
      onRetry?.(e as NubisError, attempt);
      await new Promise((r) => setTimeout(r, backoffMs(p, attempt)));
    }
  }
}
