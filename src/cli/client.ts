/**
 * The API client the commands share. Failures become CliErrors: an error envelope keeps
 * its code (exit 2 for input problems, 1 otherwise), a connection failure is exit 3.
 */
import crypto from 'node:crypto';
import type { NubisEvent } from '../events/index.js';
import { CliError, EXIT, exitCodeFor } from './errors.js';

export interface ClientOptions {
  server: string;
  token?: string;
  /** Said after a 401 when no token was found. */
  tokenHint?: string;
}

export interface EventQuery {
  deployment?: string;
  kind?: string;
  after?: number;
}

interface ErrorEnvelope {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

function problemsOf(details: unknown): string[] {
  const list = (details as { problems?: unknown } | undefined)?.problems;
  if (!Array.isArray(list)) return [];
  return list.map((p) => (typeof p === 'string' ? p : typeof (p as { message?: unknown }).message === 'string' ? (p as { message: string }).message : JSON.stringify(p)));
}

export class ApiClient {
  readonly server: string;
  constructor(private readonly opts: ClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { 'x-correlation-id': `cli-${crypto.randomUUID()}`, ...extra };
    if (this.opts.token) h['authorization'] = `Bearer ${this.opts.token}`;
    return h;
  }

  private url(path: string): string {
    try {
      return new URL(this.server + path).toString();
    } catch {
      throw new CliError(EXIT.INVALID, 'USAGE', `invalid server URL ${JSON.stringify(this.opts.server)}`);
    }
  }

  private async send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const init: RequestInit = { method, headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }) };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (signal) init.signal = signal;
    const url = this.url(path);
    try {
      return await fetch(url, init);
    } catch (e) {
      if (signal?.aborted) throw e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        EXIT.UNREACHABLE, 'UNREACHABLE',
        `cannot reach the Nubis server at ${this.server} (${cause?.code ?? cause?.message ?? String(e)}); start one with \`nubis serve\` or set --server / NUBIS_SERVER`,
      );
    }
  }

  private async fail(res: Response): Promise<never> {
    const text = await res.text().catch(() => '');
    let env: ErrorEnvelope | undefined;
    try {
      env = JSON.parse(text) as ErrorEnvelope;
    } catch {
      env = undefined;
    }
    const code = typeof env?.error?.code === 'string' ? env.error.code : `HTTP_${res.status}`;
    let message = typeof env?.error?.message === 'string' ? env.error.message : `the server answered ${res.status} ${res.statusText}`;
    if (code === 'UNAUTHORIZED' && !this.opts.token && this.opts.tokenHint) message += `; ${this.opts.tokenHint}`;
    throw new CliError(env?.error ? exitCodeFor(code) : EXIT.FAILURE, code, message, problemsOf(env?.error?.details));
  }

  /** Sends a request and returns the parsed JSON body; non-2xx responses throw CliError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await this.send(method, path, body);
    if (!res.ok) return this.fail(res);
    const text = await res.text();
    if (res.status === 204) return { status: 204, body: undefined as T };
    try {
      return { status: res.status, body: JSON.parse(text) as T };
    } catch {
      throw new CliError(EXIT.FAILURE, 'BAD_RESPONSE', `the server at ${this.server} did not answer with JSON; is it a Nubis server?`);
    }
  }

  /** GET returning the body as text (exports in JSON lines); non-2xx responses throw CliError. */
  async text(path: string): Promise<string> {
    const res = await this.send('GET', path);
    if (!res.ok) return this.fail(res);
    return res.text();
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path).then((r) => r.body);
  }

  /** True when something answers `GET /healthz` with 200. */
  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(this.url('/healthz'), { signal: AbortSignal.timeout(2000) });
      return res.ok;
    } catch {
      return false;
    }
  }

  /**
   * Follows the event stream, calling `onEvent` for each event, until `signal` aborts
   * (then resolves) or the server ends the stream (then resolves, too). Connection failures throw.
   */
  async stream(q: EventQuery, onEvent: (e: NubisEvent) => void, signal: AbortSignal): Promise<void> {
    const params = new URLSearchParams();
    if (q.deployment !== undefined) params.set('deployment', q.deployment);
    if (q.kind !== undefined) params.set('kind', q.kind);
    if (q.after !== undefined) params.set('after', String(q.after));
    const qs = params.toString();
    let res: Response;
    try {
      res = await this.send('GET', `/v1/events/stream${qs ? `?${qs}` : ''}`, undefined, signal);
    } catch (e) {
      if (signal.aborted) return;
      throw e;
    }
    if (!res.ok) return this.fail(res);
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (data) onEvent(JSON.parse(data) as NubisEvent);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      throw new CliError(EXIT.UNREACHABLE, 'UNREACHABLE', `lost the event stream from ${this.server}: ${String(e)}`);
    }
  }
}
