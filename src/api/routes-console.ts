/**
 * The web console's operations: its files (`GET /`, `GET /assets/{file}`, built by `npm run
 * build` into dist/web) and the one read it needs beyond the rest of the API, a deployment's
 * spec as applied with its topology (components, channels, node templates, clouds).
 *
 * The files are served with their content type, `no-cache` for the page (so a new build is
 * seen at once) and a year's `immutable` for the hashed assets, and with a Content Security
 * Policy that allows this origin only: nothing is fetched from anywhere else at run time.
 * Without a build the page answers 503 UNAVAILABLE saying how to build it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN, type AppSpec } from '../model/index.js';
import { NubisError } from '../errors/index.js';
import type { ResponseSpec, Route, RouteContext, StreamSink } from './router.js';
import { callerDeployment } from './tenant-scope.js';

/** What the engine holds of a deployment's spec (by deployment id). */
export interface AppliedSpec {
  spec: AppSpec;
  /** The spec text as stored: secret values already shown as `***`. */
  specText: string;
  file: string;
  version: number;
}

export interface ConsoleDeps {
  /** The built console (index.html and assets/); default dist/web of this installation. */
  assetsDir?: string;
  /** A deployment's applied spec by id; the spec route answers 503 without it. */
  appliedSpec?: (id: string) => AppliedSpec | undefined;
}

/** dist/web beside dist/src, where `npm run build` puts the console. */
export function defaultAssetsDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
}

/** Only this origin; no inline script; styles set through the CSSOM are allowed by CSP, style attributes in markup are not used. */
export const CONSOLE_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8', '.json': 'application/json; charset=utf-8', '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

const ASSET_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$';

const TopologySchema = Type.Object({
  clouds: Type.Array(Type.Object({ name: Type.String(), platform: Type.String() })),
  nodeTemplates: Type.Array(Type.Object({ name: Type.String(), cloud: Type.Optional(Type.String({ description: 'absent: placed by requirements on a registered cloud' })) })),
  components: Type.Array(Type.Object({
    name: Type.String(),
    nodeTemplate: Type.String(),
    cloud: Type.Optional(Type.String()),
    provides: Type.Array(Type.String(), { description: 'provided port names' }),
    requires: Type.Array(Type.Object({
      name: Type.String({ description: 'the required port on this component' }),
      component: Type.String({ description: 'the providing component' }),
      port: Type.String(),
      optional: Type.Boolean(),
    }), { description: 'channels from this component to the ones it requires' }),
    operations: Type.Array(Type.String(), { description: 'custom operations it declares' }),
  })),
});

const DeploymentSpecSchema = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  file: Type.String(),
  text: Type.String({ description: 'the spec text as applied; secret values are shown as ***' }),
  topology: TopologySchema,
});

export const CONSOLE_SCHEMAS: Record<string, TSchema> = { DeploymentSpec: DeploymentSpecSchema };

function topologyOf(spec: AppSpec): unknown {
  return {
    clouds: Object.entries(spec.clouds).map(([name, c]) => ({ name, platform: c.platform })),
    nodeTemplates: Object.entries(spec.nodeTemplates).map(([name, t]) => (t.cloud ? { name, cloud: t.cloud } : { name })),
    components: Object.values(spec.components).map((c) => ({
      name: c.name,
      nodeTemplate: c.nodeTemplate,
      ...(c.cloud ? { cloud: c.cloud } : {}),
      provides: Object.keys(c.provides),
      requires: Object.values(c.requires).map((r) => ({ name: r.name, component: r.component, port: r.port, optional: r.optional })),
      operations: Object.keys(c.operations ?? {}),
    })),
  };
}

/** Writes one file of the console (all of them are UTF-8 text) with its headers. */
function sendFile(sink: StreamSink, body: string, type: string, cache: string): void {
  sink.writeHead(200, {
    'content-type': type,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': cache,
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  sink.write(body);
  sink.end();
}

const notBuilt = (dir: string): NubisError =>
  new NubisError('UNAVAILABLE', `the web console is not built on this server (no index.html under ${path.basename(path.dirname(dir))}/${path.basename(dir)}); run npm run build`);

export function buildConsoleRoutes(deps: ConsoleDeps = {}): Route[] {
  const dir = deps.assetsDir ?? defaultAssetsDir();
  const page: ResponseSpec = { description: 'the console page', contentType: 'text/html' };
  return [
    {
      method: 'GET', path: '/', operationId: 'console', summary: 'the web console (a single page; it speaks this API)', auth: false,
      responses: { 200: page, 503: { description: 'the console is not built', schema: 'Error' } },
      handle: async (c) => {
        const body = await fs.readFile(path.join(dir, 'index.html'), 'utf8').catch(() => undefined);
        if (!body) throw notBuilt(dir);
        sendFile(c.stream, body, TYPES['.html']!, 'no-cache');
        return undefined;
      },
    },
    {
      method: 'GET', path: '/assets/{file}', operationId: 'consoleAsset', summary: 'a file of the web console (content-hashed names, cached for a year)', auth: false,
      params: { file: { schema: Type.String({ pattern: ASSET_NAME }), description: 'the file name', required: true } },
      responses: { 200: { description: 'the file', contentType: 'application/octet-stream' }, 404: { description: 'no such file', schema: 'Error' } },
      handle: async (c) => {
        const name = c.params['file']!;
        const type = TYPES[path.extname(name).toLowerCase()];
        const body = type === undefined ? undefined : await fs.readFile(path.join(dir, 'assets', name), 'utf8').catch(() => undefined);
        if (!body || type === undefined) throw new NubisError('NOT_FOUND', `no console file ${JSON.stringify(name)}`);
        sendFile(c.stream, body, type, 'public, max-age=31536000, immutable');
        return undefined;
      },
    },
    {
      method: 'GET', path: '/v1/deployments/{name}/spec', operationId: 'getDeploymentSpec',
      summary: 'the spec a deployment runs (text as applied, secrets shown as ***) and its topology: components, channels, node templates, clouds', auth: true,
      params: { name: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'deployment name', required: true } },
      responses: {
        200: { description: 'success', schema: 'DeploymentSpec' },
        401: { description: 'missing or invalid bearer token', schema: 'Error' },
        404: { description: 'no such deployment', schema: 'Error' },
        503: { description: 'this server does not expose applied specs', schema: 'Error' },
      },
      handle: async (c: RouteContext) => {
        if (!deps.appliedSpec) throw new NubisError('UNAVAILABLE', 'this control plane does not expose applied specs');
        const name = c.params['name']!;
        const d = deps.appliedSpec(callerDeployment(c.caller, name));
        if (!d) throw new NubisError('NOT_FOUND', `no deployment ${JSON.stringify(name)}`);
        return { status: 200, body: { name, version: d.version, file: d.file, text: d.specText, topology: topologyOf(d.spec) } };
      },
    },
  ];
}
