/**
 * The route table: one declaration per operation gives the router its matching and
 * validation, and the OpenAPI document its paths. Nothing routes that is not declared here.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { NubisError } from '../errors/index.js';
import type { Caller } from '../engine/views.js';
import type { Identity, Role } from '../users/index.js';
import { describeSchema, describeValue } from './validate.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A path or query parameter: its schema says what it accepts; integers arrive as decimal text. */
export interface ParamSpec {
  schema: TSchema;
  description: string;
  required?: boolean;
}

export interface ResponseSpec {
  description: string;
  /** Name in NAMED_SCHEMAS; absent for non-JSON responses. */
  schema?: string;
  /** Default application/json. */
  contentType?: string;
}

/** What a handler sees: validated params, query and body, plus who is calling. */
export interface RouteContext {
  params: Record<string, string>;
  query: Record<string, string | number | undefined>;
  body: unknown;
  caller: Caller;
  /** Who is calling, with its role; absent on routes without auth. */
  identity?: Identity;
  /** The client's address (for login throttling), and whether it came over TLS. */
  client: { address: string; tls: boolean };
  headers: Record<string, string | string[] | undefined>;
  /** Aborted when the client disconnects. */
  signal: AbortSignal;
  /** For streaming handlers: raw access to the response. */
  stream: StreamSink;
}

export interface StreamSink {
  writeHead(status: number, headers: Record<string, string>): void;
  /** Returns false when the client is not keeping up. */
  write(chunk: string): boolean;
  /** Bytes queued for the client. */
  backlog(): number;
  end(): void;
}

/** A JSON reply (204: no body), or `undefined` when the handler streamed its own response. */
export type Reply = { status: number; body: unknown; headers?: Record<string, string> } | undefined;

export interface Route {
  method: Method;
  /** OpenAPI-style template such as `/v1/deployments/{name}`. */
  path: string;
  operationId: string;
  summary: string;
  /** Whether a caller must authenticate (a bearer token or a session cookie). */
  auth: boolean;
  /**
   * The least role in the caller's tenant this operation needs (src/api/access-control.ts
   * enforces it for every route). Default: viewer for GET, operator for the other methods.
   */
  role?: Role;
  /** Only the admin of tenant `default` (the installation's administrator) may call it. */
  installation?: boolean;
  params?: Record<string, ParamSpec>;
  query?: Record<string, ParamSpec>;
  /** Name in NAMED_SCHEMAS of the JSON request body, when the operation takes one. */
  body?: string;
  responses: Record<number, ResponseSpec>;
  handle(ctx: RouteContext): Promise<Reply>;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; rawParams: Record<string, string> }
  | { kind: 'method'; allow: Method[] }
  | { kind: 'none' };

function segments(path: string): string[] {
  return path.split('/').slice(1);
}

/** Finds the route for a method and a path (without query). Raw params are still percent-encoded. */
export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  const got = segments(path);
  const allow: Method[] = [];
  for (const r of routes) {
    const want = segments(r.path);
    if (want.length !== got.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) {
      const w = want[i]!;
      const g = got[i]!;
      if (w.startsWith('{') && w.endsWith('}')) {
        if (g === '') ok = false;
        else params[w.slice(1, -1)] = g;
      } else if (w !== g) ok = false;
    }
    if (!ok) continue;
    if (r.method === method) return { kind: 'found', route: r, rawParams: params };
    if (!allow.includes(r.method)) allow.push(r.method);
  }
  return allow.length > 0 ? { kind: 'method', allow: allow.sort() } : { kind: 'none' };
}

function invalid(where: string, spec: ParamSpec, found: unknown): NubisError {
  return new NubisError('REQUEST_INVALID', `${where}: expected ${describeSchema(spec.schema)}, found ${describeValue(found)}`, {
    details: { parameter: where },
  });
}

/** Decodes and checks path params; a malformed or out-of-pattern one is REQUEST_INVALID. */
export function parsePathParams(route: Route, raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const spec = route.params?.[name];
    let decoded: string;
    try {
      decoded = decodeURIComponent(value);
    } catch {
      throw new NubisError('REQUEST_INVALID', `path parameter "${name}": malformed percent-encoding`, { details: { parameter: name } });
    }
    if (spec && !Value.Check(spec.schema, decoded)) throw invalid(`path parameter "${name}"`, spec, decoded);
    out[name] = decoded;
  }
  return out;
}

/**
 * Checks the query string against the route's declared parameters: unknown or repeated
 * parameters and values outside the schema are REQUEST_INVALID naming the parameter.
 */
export function parseQuery(route: Route, search: URLSearchParams): Record<string, string | number | undefined> {
  const specs = route.query ?? {};
  const out: Record<string, string | number | undefined> = {};
  for (const key of new Set(search.keys())) {
    if (!(key in specs)) {
      const known = Object.keys(specs);
      throw new NubisError(
        'REQUEST_INVALID',
        `unknown query parameter "${key}"` + (known.length ? ` (known: ${known.join(', ')})` : ' (this operation takes none)'),
        { details: { parameter: key } },
      );
    }
    if (search.getAll(key).length > 1) {
      throw new NubisError('REQUEST_INVALID', `query parameter "${key}" is given more than once`, { details: { parameter: key } });
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    const raw = search.get(key);
    if (raw === null) {
      if (spec.required) throw new NubisError('REQUEST_INVALID', `query parameter "${key}" is required`, { details: { parameter: key } });
      continue;
    }
    const type = (spec.schema as { type?: unknown }).type;
    let value: string | number = raw;
    if (type === 'integer') {
      if (!/^-?\d{1,15}$/.test(raw)) throw invalid(`query parameter "${key}"`, spec, raw);
      value = Number(raw);
    }
    if (!Value.Check(spec.schema, value)) throw invalid(`query parameter "${key}"`, spec, value);
    out[key] = value;
  }
  return out;
}
