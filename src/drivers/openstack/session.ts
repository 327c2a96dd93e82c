/**
 * Keystone v3 session: authenticates (password or application credential), keeps the token and
 * its service catalog, refreshes the token before it expires, picks service endpoints by type,
 * interface and region, and sends authenticated JSON requests to the services.
 *
 * Contract:
 * - `request` never throws for an HTTP status: it returns the answer, and callers decide what a
 *   status means (404 on get is "no such thing"). Use `fail` to turn an answer into an error.
 * - A service answering 401 makes the session drop its token, authenticate once more and repeat
 *   the request once; a second 401 is returned (and `fail` makes it CLOUD_UNAUTHORIZED).
 * - Keystone rejecting the credentials is CLOUD_UNAUTHORIZED (not retryable); Keystone or a
 *   service that cannot be reached is CLOUD_UNAVAILABLE (retryable); a request running past
 *   `requestTimeoutMs` is CLOUD_TIMEOUT (retryable); an aborted signal is ABORTED.
 * - No message, error or detail ever carries the password, the application-credential secret
 *   or a token: provider messages are cut to 300 characters and scrubbed of every secret value.
 */
import { NubisError, cloudErrorFromStatus } from '../../errors/index.js';

export type EndpointInterface = 'public' | 'internal' | 'admin';

/** What the session needs to authenticate. */
export interface KeystoneOptions {
  /** Keystone v3 URL, e.g. `http://127.0.0.1:25000/v3` (`/v3` is appended when missing). */
  authUrl: string;
  /** Region of the endpoints to use; any region when absent. */
  region?: string;
  /** Endpoint interface. Default `public`. */
  interface?: EndpointInterface;
  /** Project name (password auth) scoped in `projectDomain`. */
  project?: string;
  /** Project id, instead of the name. */
  projectId?: string;
  /** Default `Default`. */
  userDomain?: string;
  /** Default `Default`. */
  projectDomain?: string;
  username?: string;
  password?: string;
  applicationCredentialId?: string;
  applicationCredentialSecret?: string;
  /**
   * Treat tokens as expiring at most this long after issue (the token's own `expires_at`
   * otherwise). For clouds with skewed clocks, and for tests of the refresh.
   */
  tokenLifetimeMs?: number;
  /** Refresh this long before expiry (at most a quarter of the token's life). Default 120 000. */
  refreshMarginMs?: number;
  /** Per HTTP request. Default 60 000. */
  requestTimeoutMs?: number;
}

/** Logical services and the catalog types that may provide each, in order of preference. */
export const SERVICE_TYPES = {
  compute: ['compute'],
  image: ['image'],
  volume: ['block-storage', 'volumev3', 'volume'],
  network: ['network'],
} as const;

export type ServiceName = keyof typeof SERVICE_TYPES;

/** Version suffixes stripped from catalog URLs, so callers write `/v2/images`, `/v2.0/ports`. */
const STRIP_SUFFIX: Partial<Record<ServiceName, RegExp>> = {
  image: /\/v2(\.\d+)?\/?$/,
  network: /\/v2\.0\/?$/,
};

export interface ServiceRequest {
  service: ServiceName;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD';
  /** Path below the service's endpoint, starting with `/`; may carry a query string. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  /** Parsed JSON, or `{ text }` for a body that is not JSON, or undefined for none. */
  body: unknown;
  headers: Headers;
}

/** One call as seen by the `onRequest` hook (for tests and accounting). */
export interface RequestRecord {
  service: ServiceName | 'identity';
  method: string;
  path: string;
  status: number;
  /** Request headers, without X-Auth-Token. */
  headers: Record<string, string>;
  latencyMs: number;
  /** The JSON body sent to compute (a server create's user data, for tests that count what was SENT); never for identity, whose bodies carry passwords. */
  body?: unknown;
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region?: string; region_id?: string; url: string }[];
}

interface Token {
  value: string;
  expiresAt: number;
  refreshAt: number;
  catalog: CatalogEntry[];
  projectId?: string;
}

export interface OpenStackSession {
  /** Sends one authenticated request (see the module contract for 401 and failures). */
  request(req: ServiceRequest, signal: AbortSignal): Promise<Answer>;
  /** The endpoint URL of a service from the catalog (without the stripped version suffix). */
  endpoint(service: ServiceName, signal: AbortSignal): Promise<string>;
  /** A GET of an absolute URL on a catalog host (version documents), authenticated. */
  getUrl(url: string, service: ServiceName, signal: AbortSignal, headers?: Record<string, string>): Promise<Answer>;
  /** The project the token is scoped to. */
  projectId(signal: AbortSignal): Promise<string | undefined>;
  /** Forgets the cached token: the next request authenticates again. */
  invalidate(): void;
  /** The current token's value, for tests that revoke it. Never log it. */
  currentToken(signal: AbortSignal): Promise<string>;
  /** How many times this session authenticated against Keystone. */
  readonly authentications: number;
  /** Scrubs every secret this session knows from a text. */
  redact(text: string): string;
}

const MAX_MESSAGE = 300;

/** Extracts the human message from the many OpenStack error body shapes. */
export function providerMessage(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const o = body as Record<string, unknown>;
  if (typeof o['text'] === 'string') return o['text'].replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim() || undefined;
  if (typeof o['message'] === 'string') return o['message'];
  for (const v of Object.values(o)) {
    if (v && typeof v === 'object') {
      const inner = v as Record<string, unknown>;
      if (typeof inner['message'] === 'string') return inner['message'];
      if (typeof inner['detail'] === 'string') return inner['detail'];
    }
  }
  if (typeof o['error_message'] === 'string') return o['error_message'];
  return undefined;
}

/**
 * Classifies a provider answer: 400 CLOUD_BAD_REQUEST; 401 CLOUD_UNAUTHORIZED; 403 and 413
 * that mention a quota CLOUD_QUOTA_EXCEEDED, other 403 CLOUD_FORBIDDEN, other 413
 * CLOUD_RATE_LIMITED; 404 CLOUD_NOT_FOUND; 409 CLOUD_BAD_REQUEST, retryable unless the
 * conflict is a duplicate name (Nova and Neutron answer 409 while a resource is busy, e.g.
 * "in task_state rebooting"); 429 CLOUD_RATE_LIMITED; 5xx CLOUD_INTERNAL or CLOUD_UNAVAILABLE.
 * A Retry-After header becomes `details.retryAfterMs`.
 */
export function classifyAnswer(status: number, what: string, message: string | undefined, headers?: Headers): NubisError {
  const text = `${what}: ${message ?? 'failed'}`;
  const retryAfter = Number(headers?.get('retry-after'));
  const extra = Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {};
  const quota = /quota|exceed/i.test(message ?? '');
  if ((status === 403 || status === 413) && quota) {
    return new NubisError('CLOUD_QUOTA_EXCEEDED', `${text} (HTTP ${status})`, { details: { httpStatus: status } });
  }
  if (status === 413 || status === 429) {
    return new NubisError('CLOUD_RATE_LIMITED', `${text} (HTTP ${status})`, { details: { httpStatus: status, ...extra } });
  }
  if (status === 409) {
    const duplicate = /already exists|duplicate|in use by another/i.test(message ?? '');
    return new NubisError('CLOUD_BAD_REQUEST', `${text} (HTTP 409 conflict)`, { retryable: !duplicate, details: { httpStatus: 409 } });
  }
  const e = cloudErrorFromStatus(status, text);
  if (Object.keys(extra).length > 0) return new NubisError(e.code, e.message, { details: { httpStatus: status, ...extra } });
  return e;
}

/** Waits for `p` unless `signal` aborts first (ABORTED); leaves no listener behind. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal, message: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new NubisError('ABORTED', message));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new NubisError('ABORTED', message));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function networkCode(e: unknown): string {
  const c = (e as { cause?: { code?: unknown } })?.cause?.code ?? (e as { code?: unknown })?.code;
  return typeof c === 'string' ? c : e instanceof Error ? e.message : 'network error';
}

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { text: text.slice(0, 2000) };
  }
}

/**
 * Opens a Keystone session. Nothing is sent until the first request. `onRequest` sees every
 * HTTP call (identity included) once it has answered.
 */
export function createKeystoneSession(opts: KeystoneOptions, onRequest?: (r: RequestRecord) => void): OpenStackSession {
  const authBase = opts.authUrl.replace(/\/+$/, '').replace(/(\/v3)?$/, '/v3');
  const iface = opts.interface ?? 'public';
  const requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
  const secretValues = [opts.password, opts.applicationCredentialSecret].filter((s): s is string => typeof s === 'string' && s.length >= 3);
  const seenTokens: string[] = [];
  let token: Token | undefined;
  let pending: Promise<Token> | undefined;
  let authentications = 0;

  const redact = (text: string): string => {
    let out = text;
    for (const s of [...secretValues, ...seenTokens]) out = out.split(s).join('[redacted]');
    return out;
  };
  const clip = (m: string | undefined): string | undefined => (m === undefined ? undefined : redact(m).slice(0, MAX_MESSAGE));

  /** One HTTP exchange with timeout, abort and network-failure mapping. */
  async function exchange(
    service: ServiceName | 'identity', method: string, url: string, path: string, headers: Record<string, string>, body: unknown, signal: AbortSignal,
  ): Promise<Answer> {
    const what = `openstack ${service} ${method} ${path.split('?')[0]}`;
    if (signal.aborted) throw new NubisError('ABORTED', `${what} aborted`);
    const timeout = AbortSignal.timeout(requestTimeoutMs);
    const t0 = Date.now();
    const sent: Record<string, string> = { accept: 'application/json', ...headers };
    if (body !== undefined) sent['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: sent,
        signal: AbortSignal.any([signal, timeout]),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      text = await res.text();
    } catch (e) {
      if (signal.aborted) throw new NubisError('ABORTED', `${what} aborted`, { cause: e });
      if (timeout.aborted) throw new NubisError('CLOUD_TIMEOUT', `${what}: no answer within ${requestTimeoutMs} ms`);
      throw new NubisError('CLOUD_UNAVAILABLE', `${what}: ${new URL(url).host} unreachable (${redact(networkCode(e))})`);
    }
    if (onRequest) {
      const { 'x-auth-token': _t, ...shown } = sent;
      try {
        onRequest({ service, method, path, status: res.status, headers: shown, latencyMs: Date.now() - t0, ...(service === 'compute' && body !== undefined ? { body } : {}) });
      } catch {
        // a hook's failure is not the cloud's
      }
    }
    return { status: res.status, body: parseBody(text), headers: res.headers };
  }

  function authBody(): unknown {
    if (opts.applicationCredentialId || opts.applicationCredentialSecret) {
      if (!opts.applicationCredentialId || !opts.applicationCredentialSecret) {
        throw new NubisError('CLOUD_UNAUTHORIZED', 'openstack: an application credential needs both its id and its secret');
      }
      return {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: opts.applicationCredentialId, secret: opts.applicationCredentialSecret },
          },
        },
      };
    }
    if (!opts.username || opts.password === undefined) {
      throw new NubisError('CLOUD_UNAUTHORIZED', 'openstack: no credentials (username and password, or applicationCredentialId and applicationCredentialSecret)');
    }
    const project = opts.projectId
      ? { id: opts.projectId }
      : opts.project
        ? { name: opts.project, domain: { name: opts.projectDomain ?? 'Default' } }
        : undefined;
    return {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: opts.username, domain: { name: opts.userDomain ?? 'Default' }, password: opts.password } },
        },
        ...(project ? { scope: { project } } : {}),
      },
    };
  }

  async function authenticate(signal: AbortSignal): Promise<Token> {
    const a = await exchange('identity', 'POST', `${authBase}/auth/tokens`, '/v3/auth/tokens', {}, authBody(), signal);
    if (a.status !== 201 && a.status !== 200) {
      throw classifyAnswer(a.status, `openstack identity: authentication at ${authBase} failed`, clip(providerMessage(a.body)), a.headers);
    }
    const value = a.headers.get('x-subject-token');
    const t = (a.body as { token?: { expires_at?: string; catalog?: CatalogEntry[]; project?: { id?: string } } } | undefined)?.token;
    if (!value || !t) throw new NubisError('CLOUD_INTERNAL', `openstack identity: ${authBase} answered without a token`);
    seenTokens.push(value);
    if (seenTokens.length > 8) seenTokens.shift();
    authentications++;
    const now = Date.now();
    let expiresAt = t.expires_at ? Date.parse(t.expires_at) : now + 3_600_000;
    if (!Number.isFinite(expiresAt)) expiresAt = now + 3_600_000;
    if (opts.tokenLifetimeMs !== undefined) expiresAt = Math.min(expiresAt, now + opts.tokenLifetimeMs);
    const margin = Math.min(opts.refreshMarginMs ?? 120_000, (expiresAt - now) / 4);
    return {
      value,
      expiresAt,
      refreshAt: expiresAt - margin,
      catalog: t.catalog ?? [],
      ...(t.project?.id ? { projectId: t.project.id } : {}),
    };
  }

  /** The cached token, or a fresh one when it is missing or due for refresh (single flight). */
  async function current(signal: AbortSignal): Promise<Token> {
    if (signal.aborted) throw new NubisError('ABORTED', 'openstack identity: aborted');
    if (token && Date.now() < token.refreshAt) return token;
    if (!pending) {
      // the shared flight is not tied to one caller's signal
      pending = authenticate(new AbortController().signal).finally(() => {
        pending = undefined;
      });
      pending.then((t) => {
        token = t;
      }, () => undefined);
    }
    const t = await raceAbort(pending, signal, 'openstack identity: aborted');
    token = t;
    return t;
  }

  function pick(t: Token, service: ServiceName): string {
    for (const type of SERVICE_TYPES[service]) {
      const entry = t.catalog.find((c) => c.type === type);
      if (!entry) continue;
      const ep = entry.endpoints.find(
        (e) => e.interface === iface && (!opts.region || e.region_id === opts.region || e.region === opts.region),
      );
      if (ep) return ep.url.replace(/\/+$/, '');
    }
    throw new NubisError(
      'CLOUD_NOT_FOUND',
      `openstack: the catalog has no ${iface} ${SERVICE_TYPES[service].join('/')} endpoint${opts.region ? ` in region ${opts.region}` : ''}`,
    );
  }

  async function endpoint(service: ServiceName, signal: AbortSignal): Promise<string> {
    const url = pick(await current(signal), service);
    const strip = STRIP_SUFFIX[service];
    return strip ? url.replace(strip, '') : url;
  }

  async function authed(service: ServiceName, method: string, url: string, path: string, headers: Record<string, string>, body: unknown, signal: AbortSignal): Promise<Answer> {
    let t = await current(signal);
    let a = await exchange(service, method, url, path, { ...headers, 'x-auth-token': t.value }, body, signal);
    if (a.status === 401) {
      if (token === t) token = undefined;
      t = await current(signal);
      a = await exchange(service, method, url, path, { ...headers, 'x-auth-token': t.value }, body, signal);
    }
    if (a.status >= 400 && a.body && typeof a.body === 'object') {
      // keep provider messages short and free of secrets before anyone sees them
      const m = providerMessage(a.body);
      if (m !== undefined) a.body = { message: clip(m) };
    }
    return a;
  }

  return {
    async request(req, signal) {
      const base = await endpoint(req.service, signal);
      return authed(req.service, req.method, base + req.path, req.path, req.headers ?? {}, req.body, signal);
    },
    endpoint,
    async getUrl(url, service, signal, headers = {}) {
      return authed(service, 'GET', url, new URL(url).pathname, headers, undefined, signal);
    },
    async projectId(signal) {
      return (await current(signal)).projectId;
    },
    invalidate() {
      token = undefined;
    },
    async currentToken(signal) {
      return (await current(signal)).value;
    },
    get authentications() {
      return authentications;
    },
    redact,
  };
}

/** Turns a failed answer into a classified, secret-free NubisError. */
export function fail(a: Answer, what: string): NubisError {
  return classifyAnswer(a.status, what, providerMessage(a.body), a.headers);
}

/** Throws the classified error unless the answer's status is one of `ok`. */
export function expect(a: Answer, what: string, ...ok: number[]): Answer {
  if (!ok.includes(a.status)) throw fail(a, what);
  return a;
}
