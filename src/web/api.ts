/**
 * The console's API client. Operations are called by their operationId; method and path come
 * from the generated table (./api-types.ts, from the server's OpenAPI document), so a call the
 * server does not offer does not compile. Every failure is an ApiError with the server's code,
 * message and the field it names, to show next to the input that caused it.
 */
import { OPERATIONS, type OperationId, type Operations } from './api-types';

/** How requests authenticate: a browser session (cookie + CSRF token) or a pasted API token. */
export type Credentials = { kind: 'session'; csrfToken: string } | { kind: 'token'; token: string } | { kind: 'none' };

let credentials: Credentials = { kind: 'none' };
let onUnauthorized: () => void = () => {};

export function setCredentials(c: Credentials): void {
  credentials = c;
}
export function getCredentials(): Credentials {
  return credentials;
}
/** Called when the server answers 401 to a signed-in caller (the session or token ended). */
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    readonly retryable: boolean,
  ) {
    super(message);
  }

  /** The request field the error is about: details.parameter, or the JSON path at the start of the message (`$.count: …`). */
  get field(): string | undefined {
    const d = this.details as { parameter?: unknown; path?: unknown } | undefined;
    if (d && typeof d.parameter === 'string') return d.parameter;
    if (this.code === 'SPEC_INVALID') return 'spec';
    const m = /^\$\.([A-Za-z0-9_]+)/.exec(this.message) ?? /^path parameter "([^"]+)"|^query parameter "([^"]+)"/.exec(this.message);
    return m ? (m[1] ?? m[2]) : undefined;
  }
}

/** Adds the auth header (or CSRF header for unsafe methods of a session) to a request. */
export function authHeaders(method: string): Record<string, string> {
  if (credentials.kind === 'token') return { authorization: `Bearer ${credentials.token}` };
  if (credentials.kind === 'session' && method !== 'GET' && method !== 'HEAD') return { 'x-csrf-token': credentials.csrfToken };
  return {};
}

/** The error in a non-2xx answer (the server's `{ error }`, or a plain one when the body is not that). */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const e = (JSON.parse(text) as { error?: { code: string; message: string; details?: unknown; retryable?: boolean } }).error;
    if (e) return new ApiError(res.status, e.code, e.message, e.details, e.retryable === true);
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, 'HTTP_' + res.status, text.slice(0, 300) || res.statusText, undefined, res.status >= 500);
}

type Args<K extends OperationId> = {
  params?: Operations[K]['params'];
  query?: Partial<Record<keyof Operations[K]['query'], string | number | undefined>>;
  body?: Operations[K]['body'];
  signal?: AbortSignal;
};

/** The URL of an operation with its path and query parameters filled in. */
export function urlOf<K extends OperationId>(op: K, args: Pick<Args<K>, 'params' | 'query'> = {}): string {
  let path: string = OPERATIONS[op].path;
  for (const [k, v] of Object.entries((args.params ?? {}) as Record<string, string>)) path = path.replace(`{${k}}`, encodeURIComponent(v));
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries((args.query ?? {}) as Record<string, string | number | undefined>)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Calls one operation; resolves with its JSON answer, rejects with an ApiError. */
export async function call<K extends OperationId>(op: K, args: Args<K> = {}): Promise<Operations[K]['response']> {
  const method = OPERATIONS[op].method;
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(method) };
  if (args.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(urlOf(op, args), {
    method, headers, credentials: 'same-origin',
    ...(args.body !== undefined ? { body: JSON.stringify(args.body) } : {}),
    ...(args.signal ? { signal: args.signal } : {}),
  });
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && credentials.kind !== 'none') onUnauthorized();
    throw err;
  }
  return (await res.json()) as Operations[K]['response'];
}

/** A short human line for any failure. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}
