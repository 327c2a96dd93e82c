/**
 * The tenant wall, generated from the OpenAPI document: tenant B (`default`, the admin) creates
 * one of every object through the API (a deployment with instances, events and step logs, a
 * cloud with a location, offer and image, a credential, a metric definition, a rule, a
 * schedule, a scrape target, pushed metrics); then tenant A (`acme`) calls EVERY operation of
 * /openapi.json with B's names in its path, query and body. Each answer must be 404 (or 403
 * where that is the rule, 400 or 422 where a body names B's object, which A cannot name); a list may
 * answer 200 but shows none of B's names; a PUT of a top-level name may only create A's own
 * object (201, never 200, which would mean it changed B's), removed again at once. B's view,
 * taken before and after, must be identical: 0 reads and 0 writes across the wall.
 *
 * An operation the table below cannot fill (a new path, parameter or body schema) fails the
 * test, so no operation escapes the matrix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';
import { tempDir } from '../helpers/control-plane.js';
import { callApi } from '../helpers/http-api.js';

/** Operations that write into the caller's own tenant whatever the body names: A's push lands in A's series. */
const OWN_TENANT_WRITES: readonly string[] = ['pushMetrics'];

/** Names only B has: none may appear in an answer A gets (other than echoing A's own request). */
const B = {
  deployment: 'bweb', instance: 'app-1', cloud: 'bcloud', credential: 'bkey', secret: 'b-secret-value-7f3a',
  location: 'bloc', offer: 'boffer', image: 'bimg', definition: 'bdef', rule: 'brule', schedule: 'bsched',
  scrape: 'bscrape', metric: 'bmetric_load', monitor: 'bmon', workflow: 'bwf',
  user: 'buser', template: 'bcat', order: 'bord',
} as const;
const MARKERS = Object.values(B).filter((v) => v !== 'app-1');

const B_SPEC = `name: ${B.deployment}
clouds: { sim: { platform: sim, options: { path: ":memory:" } } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, instances: { count: 2, min: 1, max: 6 }, lifecycle: { install: "echo in", start: run }, operations: { rotate: "echo rotated" } }
backups:
  bnightly: { component: app, what: { snapshot: {} }, store: { kind: dir, path: ${JSON.stringify(`/tmp/nubis-tenant-wall-backups-${process.pid}`)} } }
`;

/** B's backup (made once B's deployment is ready). */
const B_BACKUP = { id: 'bk-000000000000' };

/** B's run of its operation (made once B's deployment is ready). */
const B_RUN = { id: 'op-000000000000' };

/** A's spec of B's name, placed by requirements on B's registered cloud: A has no such cloud, so nothing fits. */
const A_SPEC = `name: ${B.deployment}
clouds: {}
nodeTemplates: { t: { requirements: { cores: 1, clouds: [${B.cloud}] } } }
components:
  app: { nodeTemplate: t, instances: { count: 1, max: 6 }, lifecycle: { start: run } }
`;

/** Request bodies by schema name, naming B's objects wherever a body can name one. */
const BODIES: Record<string, unknown> = {
  SpecInput: { spec: A_SPEC },
  ScaleRequest: { component: 'app', count: 1 },
  MetricPush: { samples: [{ name: B.metric, labels: { deployment: B.deployment, instance: B.instance }, v: 99 }] },
  MonitorInput: { kind: 'cpu', intervalMs: 1000 },
  MetricDefinitionInput: { deployment: B.deployment, expr: `max(${B.metric})`, interval: '1h' },
  ScrapeTargetInput: { deployment: B.deployment, url: 'http://127.0.0.1:1/metrics', interval: '1h' },
  RuleInput: { deployment: B.deployment, component: 'app', when: { all: { expr: B.metric, above: 1 } }, action: { scale: 'out', by: 1 } },
  ScheduleInput: { deployment: B.deployment, component: 'app', cron: '0 3 * * *', count: 1 },
  CloudInput: { platform: 'sim', options: { path: ':memory:' }, credential: B.credential },
  CredentialInput: { fields: { apiKey: 'a-value' } },
  LocationInput: { region: 'a-region' },
  OfferInput: { cores: 1, memoryMiB: 512 },
  ImageInput: { os: 'debian' },
  TokenInput: { name: 'more', tenant: 'default' },
  // a file name the schema refuses: A cannot load anything with it, whatever the text names
  WorkflowLoad: { text: 'suite bwf\nendsuite\n', file: '' },
  WorkflowCommand: { path: '/bwf', variable: 'X', value: '1' },
  WorkflowChildRequest: { path: '/bwf/t', password: 'guess', tryNo: 1, command: { verb: 'complete' } },
  OperationRunRequest: { params: {} },
  BackupRunRequest: { policy: 'bnightly', instance: B.instance },
  RestoreRequest: { instance: B.instance },
  DrillRequest: { policy: 'bnightly' },
  // alert objects A makes are A's own; a channel to a loopback receiver is refused to tenants but default
  AlertRuleInput: { on: { events: ['backup.failed'] }, channels: ['b-alerts'] },
  AlertChannelInput: { kind: 'webhook', url: 'http://127.0.0.1:1/hook' },
  AlertTestInput: { channel: 'b-alerts' },
  // users and the catalog: A names B's user and template; the login is of B's user with a wrong password
  LoginInput: { user: B.user, password: 'not-the-password' },
  PasswordChange: { current: 'not-the-password', password: 'a-new-password-1' },
  PersonalTokenInput: { name: 'more' },
  UserInput: { password: 'a-password-of-a', roles: { default: 'admin' } },
  RoleInput: { role: 'admin' },
  CatalogTemplateInput: { spec: 'name: x\nclouds: {}\nnodeTemplates: {}\ncomponents: {}\n', parameters: { type: 'object', properties: {} } },
  CatalogOrderInput: { deployment: B.deployment, params: {} },
};

/** The template B publishes, offered to B's tenant only. */
const B_TEMPLATE = {
  description: 'b only', tenants: ['default'],
  parameters: { type: 'object', properties: { count: { type: 'integer', minimum: 1, maximum: 3, default: 1 } } },
  spec: B_SPEC.replace('count: 2', 'count: "${params.count}"'),
};

/** Path parameter values: B's object that the path addresses. */
function pathValue(path: string, param: string): string {
  const table: [RegExp, Record<string, string>][] = [
    [/^\/v1\/deployments\/\{name\}\/instances\/\{instance\}\/monitors/, { name: B.deployment, instance: B.instance, id: B.monitor }],
    [/^\/v1\/deployments\/\{name\}\/(components|operations)/, { name: B.deployment, component: 'app', operation: 'rotate', run: B_RUN.id }],
    [/^\/v1\/deployments\/\{name\}\/backups/, { name: B.deployment, id: B_BACKUP.id }],
    [/^\/v1\/deployments\//, { name: B.deployment, instance: B.instance }],
    [/^\/v1\/clouds\/\{name\}\/locations/, { name: B.cloud, id: B.location }],
    [/^\/v1\/clouds\/\{name\}\/offers/, { name: B.cloud, id: B.offer }],
    [/^\/v1\/clouds\/\{name\}\/images/, { name: B.cloud, id: B.image }],
    [/^\/v1\/clouds\//, { name: B.cloud }],
    [/^\/v1\/credentials\//, { name: B.credential }],
    [/^\/v1\/metrics\/definitions\//, { name: B.definition }],
    [/^\/v1\/metrics\/scrape\//, { name: B.scrape }],
    [/^\/v1\/rules\//, { name: B.rule }],
    [/^\/v1\/schedules\//, { name: B.schedule }],
    [/^\/v1\/workflows\//, { name: B.workflow }],
    // alert rules and channels are per tenant: A names B's would-be objects, and an alert id of no tenant of A
    [/^\/v1\/alerts\/(rules|channels)\//, { name: 'b-alerts' }],
    [/^\/v1\/alerts\//, { id: 'al-0000000000000000' }],
    [/^\/v1\/users\//, { user: B.user, tenant: 'default' }],
    [/^\/v1\/me\/tokens\//, { name: 'ci' }],
    [/^\/v1\/catalog\//, { name: B.template }],
  ];
  for (const [re, values] of table) if (re.test(path) && values[param] !== undefined) return values[param]!;
  throw new Error(`the tenant matrix cannot fill path parameter ${param} of ${path}: add it to pathValue()`);
}

/** Query parameters: `deployment` names B's; required others get a value about B. */
function queryValue(name: string, required: boolean): string | undefined {
  if (name === 'deployment') return B.deployment;
  if (name === 'query' || name === 'match') return B.metric;
  if (name === 'path') return `/${B.workflow}`;
  if (required) throw new Error(`the tenant matrix cannot fill required query parameter ${name}: add it to queryValue()`);
  return undefined;
}

interface Operation {
  id: string;
  method: string;
  path: string;
  auth: boolean;
  url: string;
  body?: unknown;
  hasPathParams: boolean;
  stream: boolean;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, {
    operationId: string;
    security?: unknown[];
    parameters: { name: string; in: string; required: boolean }[];
    requestBody?: { content: { 'application/json': { schema: { $ref: string } } } };
    responses: Record<string, { content?: Record<string, unknown> }>;
  }>>;
}

/** Every operation of the document, filled with B's names. */
function operationsOf(doc: OpenApiDoc): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const stream = Object.values(op.responses).some((r) => r.content !== undefined && 'text/event-stream' in r.content);
      let url = path;
      const query = new URLSearchParams();
      for (const p of op.parameters) {
        if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(pathValue(path, p.name)));
        // a stream is read until A's own event arrives, so it takes no filter
        else if (p.in === 'query' && !stream) {
          const v = queryValue(p.name, p.required);
          if (v !== undefined) query.set(p.name, v);
        }
      }
      if (stream) query.set('after', '0');
      const q = query.toString();
      const o: Operation = {
        id: op.operationId, method: method.toUpperCase(), path, auth: op.security === undefined, url: q ? `${url}?${q}` : url,
        hasPathParams: op.parameters.some((p) => p.in === 'path'), stream,
      };
      if (op.requestBody) {
        const schema = op.requestBody.content['application/json'].schema.$ref.split('/').pop()!;
        if (!(schema in BODIES)) throw new Error(`the tenant matrix has no body for schema ${schema} (${o.id}): add it to BODIES`);
        o.body = BODIES[schema];
      }
      out.push(o);
    }
  }
  return out;
}

type Call = (token: string, method: string, url: string, body?: unknown) => Promise<{ status: number; text: string; json: any }>;

/** Keys whose values change with time alone (convergence, clocks, counters), not with writes. */
const VOLATILE = /^(state|phase|health|running|status|runs|samples|up|ts|id|endpoints|address|(last|next)[A-Z].*)$/;
function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => !VOLATILE.test(k)).map(([k, x]) => [k, stable(x)]));
  }
  return v;
}

/** Everything B has, as B sees it, without what changes by time alone. */
async function viewOfB(call: Call, token: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const urls = [
    `/v1/deployments/${B.deployment}`, `/v1/deployments/${B.deployment}/instances/${B.instance}/logs`,
    `/v1/events?deployment=${B.deployment}&kind=deployment.*`, `/v1/events?kind=credential.*`, `/v1/events?kind=cloud.*`,
    `/v1/clouds/${B.cloud}`, `/v1/clouds/${B.cloud}/locations`, `/v1/clouds/${B.cloud}/offers`, `/v1/clouds/${B.cloud}/images`,
    '/v1/credentials', `/v1/metrics/definitions/${B.definition}?deployment=${B.deployment}`, `/v1/rules/${B.rule}?deployment=${B.deployment}`,
    `/v1/schedules/${B.schedule}?deployment=${B.deployment}`, `/v1/metrics/scrape/${B.scrape}?deployment=${B.deployment}`,
    `/v1/metrics/series?match=${B.metric}`,
    `/v1/workflows/${B.workflow}`, `/v1/workflows/${B.workflow}/export`, `/v1/deployments/${B.deployment}/operations/${B_RUN.id}`,
    `/v1/deployments/${B.deployment}/backups/${B_BACKUP.id}`, `/v1/deployments/${B.deployment}/backups`, `/v1/deployments/${B.deployment}/backups/policies`,
    `/v1/users/${B.user}`, `/v1/catalog/${B.template}`, '/v1/orders', `/v1/deployments/${B.order}`,
  ];
  for (const u of urls) {
    const r = await call(token, 'GET', u);
    out[u] = r.status === 200 ? stable(r.json) : { status: r.status, answer: r.json };
  }
  return out;
}

/** Reads A's event stream until A's own marker event arrives; returns what came before it. */
async function readStreamUntil(base: string, token: string, url: string, marker: string, trigger: () => Promise<void>): Promise<string> {
  const ac = new AbortController();
  const res = await fetch(base + url, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  await trigger();
  try {
    while (!text.includes(marker)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    ac.abort();
  }
  return text;
}

test('tenant A reads and writes none of tenant B\'s objects through any operation of the OpenAPI document', { timeout: 240_000 }, async (t) => {
  const data = tempDir('nubis-wall-');
  let server: ServerHandle | undefined;
  try {
    server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
    const base = server.url;
    const admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const call: Call = (token, method, url, body) => callApi(base, token, method, url, body);
    const must = async (method: string, url: string, body: unknown, status: number[]): Promise<void> => {
      const r = await call(admin, method, url, body);
      assert.ok(status.includes(r.status), `B: ${method} ${url}: ${r.status} ${r.text}`);
    };

    // B (the admin tenant) makes one of everything
    await must('PUT', `/v1/credentials/${B.credential}`, { fields: { apiKey: B.secret } }, [201]);
    await must('PUT', `/v1/clouds/${B.cloud}`, { platform: 'sim', options: { path: ':memory:' }, credential: B.credential }, [201]);
    await must('PUT', `/v1/clouds/${B.cloud}/locations/${B.location}`, { region: 'b-region' }, [200]);
    await must('PUT', `/v1/clouds/${B.cloud}/offers/${B.offer}`, { cores: 2, memoryMiB: 2048 }, [200]);
    await must('PUT', `/v1/clouds/${B.cloud}/images/${B.image}`, { os: 'debian' }, [200]);
    await must('POST', '/v1/deployments', { spec: B_SPEC }, [201]);
    await must('POST', '/v1/metrics/push', { samples: [{ name: B.metric, labels: { deployment: B.deployment, instance: B.instance }, v: 5 }] }, [200]);
    await must('PUT', `/v1/metrics/definitions/${B.definition}`, { deployment: B.deployment, expr: `max(${B.metric})`, interval: '1h' }, [201]);
    await must('PUT', `/v1/rules/${B.rule}`, { deployment: B.deployment, component: 'app', when: { all: { expr: B.metric, above: 1000 } }, action: { scale: 'out', by: 1 } }, [201]);
    await must('PUT', `/v1/schedules/${B.schedule}`, { deployment: B.deployment, component: 'app', cron: '0 3 1 1 *', count: 2 }, [201]);
    await must('PUT', `/v1/metrics/scrape/${B.scrape}`, { deployment: B.deployment, url: 'http://127.0.0.1:1/metrics', interval: '1h' }, [201]);
    await must('PUT', `/v1/users/${B.user}`, { password: 'b-user-password', roles: { default: 'viewer' } }, [201]);
    await must('PUT', `/v1/catalog/${B.template}`, B_TEMPLATE, [201]);
    await must('POST', `/v1/catalog/${B.template}/orders`, { deployment: B.order, params: { count: 1 } }, [201]);
    await must('POST', '/v1/workflows', { text: `suite ${B.workflow}\n  family f\n    task t\n  endfamily\nendsuite\n`, file: 'b.def' }, [201]);
    // B's deployment converges, so its instances have step logs
    for (;;) {
      const v = await call(admin, 'GET', `/v1/deployments/${B.deployment}`);
      if (v.json.state === 'ready') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const logs = await call(admin, 'GET', `/v1/deployments/${B.deployment}/instances/${B.instance}/logs`);
    assert.ok(logs.json.logs.length > 0, 'B has step logs');
    const bRun = await call(admin, 'POST', `/v1/deployments/${B.deployment}/components/app/operations/rotate`, {});
    assert.equal(bRun.status, 200, bRun.text);
    B_RUN.id = bRun.json.id;
    const bBackup = await call(admin, 'POST', `/v1/deployments/${B.deployment}/backups`, { policy: 'bnightly' });
    assert.equal(bBackup.status, 200, bBackup.text);
    assert.equal(bBackup.json.runs[0].state, 'succeeded', bBackup.text);
    B_BACKUP.id = bBackup.json.runs[0].id;

    // the admin mints A's token
    const minted = await call(admin, 'POST', '/v1/tokens', { name: 'ci', tenant: 'acme', role: 'admin' });
    assert.equal(minted.status, 201, minted.text);
    const a: string = minted.json.token;

    const doc = (await call(admin, 'GET', '/openapi.json')).json as OpenApiDoc;
    const ops = operationsOf(doc);
    assert.ok(ops.length >= 50, `the document has ${ops.length} operations`);
    for (const id of OWN_TENANT_WRITES) assert.ok(ops.some((o) => o.id === id), `operation ${id} is in the document`);

    const before = await viewOfB(call, admin);
    for (const [u, v] of Object.entries(before)) assert.equal((v as { status?: number }).status, undefined, `B reads ${u}: ${JSON.stringify(v)}`);
    assert.deepEqual(await viewOfB(call, admin), before, 'B\'s view is stable when nobody writes');

    /** What went wrong with one operation, or undefined when it held the wall. */
    const probe = async (o: Operation): Promise<string | undefined> => {
      const where = `${o.id} (${o.method} ${o.url})`;
      if (!o.auth) {
        const r = await call(a, o.method, o.url);
        return MARKERS.some((m) => r.text.includes(m)) ? `${where}: a public answer shows B's names` : undefined;
      }
      if (o.stream) {
        const text = await readStreamUntil(base, a, o.url, 'a-own-marker', async () => {
          assert.equal((await call(a, 'PUT', '/v1/credentials/a-own-marker', { fields: { k: 'v' } })).status, 201);
        });
        await call(a, 'DELETE', '/v1/credentials/a-own-marker');
        const shown = MARKERS.filter((m) => text.includes(m));
        return shown.length > 0 ? `${where}: the stream shows B's ${shown.join(', ')}` : undefined;
      }
      const r = await call(a, o.method, o.url, o.body);
      if (r.text.includes(B.secret)) return `${where}: the answer carries B's secret`;
      if (r.status >= 500) return `${where}: ${r.status} ${r.text}`;
      const topLevelPut = o.method === 'PUT' && (o.path.match(/\{/g) ?? []).length === 1;
      if (topLevelPut) {
        if (r.status === 201) {
          // A made its own object of that name; remove it again so later probes see none
          const del = await call(a, 'DELETE', o.url);
          return del.status < 300 ? undefined : `${where}: A could not remove its own ${o.url}: ${del.status} ${del.text}`;
        }
        return [400, 403, 404].includes(r.status) ? undefined : `${where}: expected 201 (A's own), 400, 403 or 404; got ${r.status} ${r.text}`;
      }
      if (o.hasPathParams) return [403, 404].includes(r.status) ? undefined : `${where}: expected 404 or 403, got ${r.status} ${r.text}`;
      if (OWN_TENANT_WRITES.includes(o.id)) return r.status < 300 || [400, 403, 404, 422].includes(r.status) ? undefined : `${where}: got ${r.status} ${r.text}`;
      if (o.body !== undefined) return [400, 403, 404, 422].includes(r.status) ? undefined : `${where}: expected 400, 403, 404 or 422, got ${r.status} ${r.text}`;
      if (r.status !== 200 && r.status !== 204 && r.status !== 403) return `${where}: expected 200 (an empty view), 204 or 403, got ${r.status} ${r.text}`;
      const shown = MARKERS.filter((m) => r.text.includes(m));
      return shown.length > 0 ? `${where}: shows B's ${shown.join(', ')}` : undefined;
    };

    const failures: string[] = [];
    for (const o of ops) {
      const f = await probe(o);
      if (f) failures.push(f);
    }
    const after = await viewOfB(call, admin);
    assert.deepEqual(failures, [], `operations that cross the wall:\n${failures.join('\n')}`);
    assert.deepEqual(after, before, 'B\'s objects are unchanged after A called every operation');
    t.diagnostic(`${ops.length} operations hold the wall`);

  } finally {
    await server?.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
