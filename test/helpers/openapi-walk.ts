/**
 * Walking every operation of a server's /openapi.json with one tenant's object names filled
 * into paths, queries and bodies (the tenant wall and the role matrix share it). An operation
 * these tables cannot fill (a new path, parameter or body schema) throws, so none escapes.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { signImageMetadata } from '../../src/controls/index.js';
import type { ApiAnswer } from './http-api.js';

/** The names of one tenant's objects; each is a marker no other tenant may see. */
export interface Names {
  deployment: string; instance: string; cloud: string; credential: string; secret: string;
  location: string; offer: string; image: string; definition: string; rule: string; schedule: string;
  scrape: string; metric: string; monitor: string; workflow: string; user: string; template: string; order: string;
  /** The operators' controls (made by an installation administrator for the owner with `controls`): a marketplace entry, its endorser, an address pool and the first address of its range. */
  entry: string; endorser: string; pool: string; address: string;
  /** Its run of the deployment's `rotate` operation (set once made). */
  run: string;
  /** Its backup policy and a backup of it (set once made; tenants other than default may not back up to a directory here). */
  policy: string;
  backup: string;
}

export function markersOf(n: Names): string[] {
  return Object.entries(n).filter(([k]) => !['instance', 'run', 'backup'].includes(k)).map(([, v]) => v);
}

/** The endorser key every walk's marketplace entries are signed with. */
const ENDORSER_KEYS = crypto.generateKeyPairSync('ed25519');
const ENDORSER_PRIVATE = ENDORSER_KEYS.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The owner's signed marketplace entry (`id` another for a would-be entry naming the owner's endorser). */
function entryOf(n: Names, id = n.entry): { metadata: Record<string, string>; signature: string } {
  const metadata = { id, image: `${n.entry}-file`, os: 'debian', sha256: 'b'.repeat(64), endorser: n.endorser, created: '2026-01-01T00:00:00.000Z', expires: '2036-01-01T00:00:00.000Z' };
  return { metadata, signature: signImageMetadata(metadata, ENDORSER_PRIVATE) };
}

/** The first /29 of the owner's address (x.y.z.1). */
function rangeOf(n: Names): string {
  return `${n.address.replace(/\.\d+$/, '.0')}/29`;
}

/** The deployment every walk's owner makes: two sim instances with an operation, with `backupDir` a backup policy to that directory, with `pool` its addresses from the owner's pool. */
export function ownerSpec(n: Names, count: number | string = 2, backupDir?: string, pool = false): string {
  const backups = backupDir === undefined ? '' : `backups:\n  ${n.policy}: { component: app, what: { snapshot: {} }, store: { kind: dir, path: ${JSON.stringify(backupDir)} } }\n`;
  return `name: ${n.deployment}
clouds: { sim: { platform: sim, options: { path: ":memory:" } } }
nodeTemplates: { t: { cloud: sim${pool ? `, address: { pool: ${n.pool} }` : ''} } }
components:
  app: { nodeTemplate: t, instances: { count: ${count}, min: 1, max: 6 }, lifecycle: { install: "echo in", start: run }, operations: { rotate: "echo rotated" } }
${backups}`;
}

/** Request bodies by schema name, naming the owner's objects wherever a body can name one. */
export function bodiesFor(n: Names, tenant: string): Record<string, unknown> {
  // a spec of the owner's name, placed by requirements on the owner's cloud: nobody else has that cloud
  const spec = `name: ${n.deployment}\nclouds: {}\nnodeTemplates: { t: { requirements: { cores: 1, clouds: [${n.cloud}] } } }\ncomponents:\n  app: { nodeTemplate: t, instances: { count: 1, max: 6 }, lifecycle: { start: run } }\n`;
  return {
    SpecInput: { spec },
    ScaleRequest: { component: 'app', count: 1 },
    MetricPush: { samples: [{ name: n.metric, labels: { deployment: n.deployment, instance: n.instance }, v: 99 }] },
    MonitorInput: { kind: 'cpu', intervalMs: 1000 },
    MetricDefinitionInput: { deployment: n.deployment, expr: `max(${n.metric})`, interval: '1h' },
    ScrapeTargetInput: { deployment: n.deployment, url: 'http://127.0.0.1:1/metrics', interval: '1h' },
    RuleInput: { deployment: n.deployment, component: 'app', when: { all: { expr: n.metric, above: 1 } }, action: { scale: 'out', by: 1 } },
    ScheduleInput: { deployment: n.deployment, component: 'app', cron: '0 3 * * *', count: 1 },
    CloudInput: { platform: 'sim', options: { path: ':memory:' }, credential: n.credential },
    CredentialInput: { fields: { apiKey: 'a-value' } },
    LocationInput: { region: 'a-region' },
    OfferInput: { cores: 1, memoryMiB: 512 },
    ImageInput: { os: 'debian' },
    TokenInput: { name: 'more', tenant },
    // a file name the schema refuses: nothing can be loaded with it, whatever the text names
    WorkflowLoad: { text: `suite ${n.workflow}\nendsuite\n`, file: '' },
    WorkflowCommand: { path: `/${n.workflow}`, variable: 'X', value: '1' },
    WorkflowChildRequest: { path: `/${n.workflow}/t`, password: 'guess', tryNo: 1, command: { verb: 'complete' } },
    OperationRunRequest: { params: {} },
    BackupRunRequest: { policy: n.policy, instance: n.instance },
    RestoreRequest: { instance: n.instance },
    DrillRequest: { policy: n.policy },
    // alert objects made are the caller's own; a channel to a loopback receiver is refused to tenants but default
    AlertRuleInput: { on: { events: ['backup.failed'] }, channels: ['b-alerts'] },
    AlertChannelInput: { kind: 'webhook', url: 'http://127.0.0.1:1/hook' },
    AlertTestInput: { channel: 'b-alerts' },
    // users and the catalog: the owner's user and template; a login of the owner's user with a wrong password
    LoginInput: { user: n.user, password: 'not-the-password' },
    PasswordChange: { current: 'not-the-password', password: 'a-new-password-1' },
    PersonalTokenInput: { name: 'more' },
    UserInput: { password: 'a-password-of-a', roles: { [tenant]: 'admin' } },
    RoleInput: { role: 'admin' },
    CatalogTemplateInput: { spec: 'name: x\nclouds: {}\nnodeTemplates: {}\ncomponents: {}\n', parameters: { type: 'object', properties: {} } },
    CatalogOrderInput: { deployment: n.deployment, params: {} },
    // the marketplace, quotas and pools: an entry naming the owner's endorser; the rest is the installation administrator's
    ImageEndorsement: entryOf(n, `${n.entry}-other`),
    EndorserInput: { publicKey: ENDORSER_KEYS.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    ImagePolicyInput: { cloud: n.cloud, mode: 'open' },
    QuotaInput: { nodes: 1000 },
    AddressPoolInput: { ranges: [rangeOf(n)] },
    AddressHoldInput: { address: n.address, forMs: 1 },
    AddressReleaseInput: { address: n.address },
    // leak policies and budgets are per tenant: the caller's are its own; a deployment budget names the owner's deployment
    LeakPolicyInput: { deleteAfter: '1h' },
    BudgetInput: { amount: 10, hardStop: true },
  };
}

/** Path parameter values: the owner's object the path addresses. */
export function pathValue(n: Names, path: string, param: string): string {
  const table: [RegExp, Record<string, string>][] = [
    [/^\/v1\/deployments\/\{name\}\/instances\/\{instance\}\/monitors/, { name: n.deployment, instance: n.instance, id: n.monitor }],
    [/^\/v1\/deployments\/\{name\}\/(components|operations)/, { name: n.deployment, component: 'app', operation: 'rotate', run: n.run }],
    [/^\/v1\/deployments\/\{name\}\/backups/, { name: n.deployment, id: n.backup }],
    [/^\/v1\/deployments\//, { name: n.deployment, instance: n.instance }],
    [/^\/v1\/clouds\/\{name\}\/locations/, { name: n.cloud, id: n.location }],
    [/^\/v1\/clouds\/\{name\}\/offers/, { name: n.cloud, id: n.offer }],
    [/^\/v1\/clouds\/\{name\}\/images/, { name: n.cloud, id: n.image }],
    [/^\/v1\/clouds\//, { name: n.cloud }],
    [/^\/v1\/credentials\//, { name: n.credential }],
    [/^\/v1\/metrics\/definitions\//, { name: n.definition }],
    [/^\/v1\/metrics\/scrape\//, { name: n.scrape }],
    [/^\/v1\/rules\//, { name: n.rule }],
    [/^\/v1\/schedules\//, { name: n.schedule }],
    [/^\/v1\/workflows\//, { name: n.workflow }],
    // alert rules and channels are per tenant: would-be objects, and an alert id of nobody
    [/^\/v1\/alerts\/(rules|channels)\//, { name: 'b-alerts' }],
    [/^\/v1\/alerts\//, { id: 'al-0000000000000000' }],
    [/^\/v1\/users\//, { user: n.user, tenant: 'default' }],
    [/^\/v1\/me\/tokens\//, { name: 'ci' }],
    [/^\/v1\/catalog\//, { name: n.template }],
    [/^\/v1\/images\//, { name: n.entry }],
    [/^\/v1\/image-endorsers\//, { name: n.endorser }],
    [/^\/v1\/address-pools\//, { name: n.pool }],
    [/^\/v1\/leaks\/policies\//, { cloud: n.cloud }],
    [/^\/v1\/budgets\//, { name: n.deployment }],
    // the console's files are the same for everyone
    [/^\/assets\//, { file: 'index.js' }],
  ];
  for (const [re, values] of table) if (re.test(path) && values[param] !== undefined) return values[param]!;
  throw new Error(`the matrix cannot fill path parameter ${param} of ${path}: add it to pathValue() in test/helpers/openapi-walk.ts`);
}

/** Query parameters: `deployment` names the owner's; required others get a value about it. */
export function queryValue(n: Names, name: string, required: boolean, tenant: string): string | undefined {
  if (name === 'deployment') return n.deployment;
  if (name === 'query' || name === 'match') return n.metric;
  if (name === 'path') return `/${n.workflow}`;
  // the operators' controls: the caller asks for the owner's tenant by name (administrator only), its cloud and pool
  if (name === 'tenant') return tenant;
  if (name === 'cloud') return n.cloud;
  if (name === 'pool') return n.pool;
  if (required) throw new Error(`the matrix cannot fill required query parameter ${name}: add it to queryValue() in test/helpers/openapi-walk.ts`);
  return undefined;
}

export interface Operation {
  id: string;
  method: string;
  path: string;
  auth: boolean;
  url: string;
  body?: unknown;
  hasPathParams: boolean;
  stream: boolean;
  /** x-nubis-role: the least role it needs; x-nubis-installation. */
  role?: string;
  installation: boolean;
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, {
    operationId: string;
    security?: unknown[];
    parameters: { name: string; in: string; required: boolean }[];
    requestBody?: { content: { 'application/json': { schema: { $ref: string } } } };
    responses: Record<string, { content?: Record<string, unknown> }>;
    'x-nubis-role'?: string;
    'x-nubis-installation'?: boolean;
  }>>;
}

/** Every operation of the document, filled with the owner's names (streams with `after=0` and no filter). */
export function operationsOf(doc: OpenApiDoc, n: Names, tenant: string): Operation[] {
  const bodies = bodiesFor(n, tenant);
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const stream = Object.values(op.responses).some((r) => r.content !== undefined && 'text/event-stream' in r.content);
      let url = path;
      const query = new URLSearchParams();
      for (const p of op.parameters) {
        if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(pathValue(n, path, p.name)));
        else if (p.in === 'query' && !stream) {
          const v = queryValue(n, p.name, p.required, tenant);
          if (v !== undefined) query.set(p.name, v);
        }
      }
      if (stream) query.set('after', '0');
      const q = query.toString();
      const o: Operation = {
        id: op.operationId, method: method.toUpperCase(), path, auth: op.security === undefined, url: q ? `${url}?${q}` : url,
        hasPathParams: op.parameters.some((p) => p.in === 'path'), stream, installation: op['x-nubis-installation'] === true,
        ...(op['x-nubis-role'] !== undefined ? { role: op['x-nubis-role'] } : {}),
      };
      if (op.requestBody) {
        const schema = op.requestBody.content['application/json'].schema.$ref.split('/').pop()!;
        if (!(schema in bodies)) throw new Error(`the matrix has no body for schema ${schema} (${o.id}): add it to bodiesFor() in test/helpers/openapi-walk.ts`);
        o.body = bodies[schema];
      }
      out.push(o);
    }
  }
  return out;
}

/**
 * Operations that write into the caller's own tenant whatever the body names: a push lands in
 * the caller's series, a tenant budget is the caller's.
 */
export const OWN_TENANT_WRITES: readonly string[] = ['pushMetrics', 'putTenantBudget'];

/**
 * The order to probe in: streams first, replaying the history (after=0) before any probe has
 * written the caller's own objects under the owner's names (a top-level PUT may create one).
 */
export function streamsFirst(ops: Operation[]): Operation[] {
  return [...ops.filter((o) => o.stream), ...ops.filter((o) => !o.stream)];
}

/** A call as someone (a bearer token, or a session's handle). */
export type Call = (who: string, method: string, url: string, body?: unknown) => Promise<ApiAnswer>;

/** Keys whose values change with time alone (convergence, clocks, counters), not with writes. */
const VOLATILE = /^(state|phase|health|running|status|runs|samples|up|ts|id|endpoints|address|(last|next)[A-Z].*)$/;
export function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => !VOLATILE.test(k)).map(([k, x]) => [k, stable(x)]));
  }
  return v;
}

/** Everything the owner has, as it sees it, without what changes by time alone. */
export async function viewOf(call: Call, who: string, n: Names): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const urls = [
    `/v1/deployments/${n.deployment}`, `/v1/deployments/${n.deployment}/instances/${n.instance}/logs`,
    `/v1/events?deployment=${n.deployment}&kind=deployment.*`, `/v1/events?kind=credential.*`, `/v1/events?kind=cloud.*`,
    `/v1/clouds/${n.cloud}`, `/v1/clouds/${n.cloud}/locations`, `/v1/clouds/${n.cloud}/offers`, `/v1/clouds/${n.cloud}/images`,
    '/v1/credentials', `/v1/metrics/definitions/${n.definition}?deployment=${n.deployment}`, `/v1/rules/${n.rule}?deployment=${n.deployment}`,
    `/v1/schedules/${n.schedule}?deployment=${n.deployment}`, `/v1/metrics/scrape/${n.scrape}?deployment=${n.deployment}`,
    `/v1/metrics/series?match=${n.metric}`,
    `/v1/workflows/${n.workflow}`, `/v1/workflows/${n.workflow}/export`, `/v1/deployments/${n.deployment}/operations/${n.run}`,
    `/v1/deployments/${n.deployment}/backups/${n.backup}`, `/v1/deployments/${n.deployment}/backups`, `/v1/deployments/${n.deployment}/backups/policies`,
    `/v1/users/${n.user}`, `/v1/catalog/${n.template}`, '/v1/orders', `/v1/deployments/${n.order}`,
    '/v1/images', `/v1/images/${n.entry}`, '/v1/image-endorsers', '/v1/image-policies', '/v1/quotas', '/v1/address-pools', '/v1/address-leases',
    '/v1/leaks/policies', '/v1/budgets', `/v1/events?kind=leak.*`, `/v1/events?kind=budget.*`,
  ];
  for (const u of urls) {
    const r = await call(who, 'GET', u);
    out[u] = r.status === 200 ? stable(r.json) : { status: r.status, answer: r.json };
  }
  return out;
}

/**
 * Makes one of every tenant object of `n` as `who` (an admin of that tenant), with a backup when
 * `backupDir` is given; with `controls` (`who` is an installation administrator) also an endorser
 * and entry, the endorsed-only image policy, quotas, the address pool the deployment takes its
 * addresses from, a leak policy and budgets.
 */
export async function makeObjects(call: Call, who: string, n: Names, backupDir?: string, opts: { waitMs?: number; controls?: boolean } = {}): Promise<void> {
  const waitMs = opts.waitMs ?? 50;
  const must = async (method: string, url: string, body: unknown, status: number[]): Promise<ApiAnswer> => {
    const r = await call(who, method, url, body);
    assert.ok(status.includes(r.status), `owner: ${method} ${url}: ${r.status} ${r.text}`);
    return r;
  };
  await must('PUT', `/v1/credentials/${n.credential}`, { fields: { apiKey: n.secret } }, [201]);
  await must('PUT', `/v1/clouds/${n.cloud}`, { platform: 'sim', options: { path: ':memory:' }, credential: n.credential }, [201]);
  await must('PUT', `/v1/clouds/${n.cloud}/locations/${n.location}`, { region: 'b-region' }, [200]);
  await must('PUT', `/v1/clouds/${n.cloud}/offers/${n.offer}`, { cores: 2, memoryMiB: 2048 }, [200]);
  await must('PUT', `/v1/clouds/${n.cloud}/images/${n.image}`, { os: 'debian' }, [200]);
  if (opts.controls) {
    await must('PUT', `/v1/image-endorsers/${n.endorser}`, bodiesFor(n, '')['EndorserInput'], [201]);
    await must('POST', '/v1/images', entryOf(n), [201]);
    await must('PUT', '/v1/image-policies', { cloud: n.cloud, mode: 'endorsed' }, [200]);
    await must('PUT', '/v1/quotas', { nodes: 50, cores: 100 }, [200]);
    await must('PUT', `/v1/address-pools/${n.pool}`, { ranges: [rangeOf(n)], holdMs: 3_600_000 }, [201]);
  }
  await must('POST', '/v1/deployments', { spec: ownerSpec(n, 2, backupDir, opts.controls) }, [201]);
  await must('POST', '/v1/metrics/push', { samples: [{ name: n.metric, labels: { deployment: n.deployment, instance: n.instance }, v: 5 }] }, [200]);
  await must('PUT', `/v1/metrics/definitions/${n.definition}`, { deployment: n.deployment, expr: `max(${n.metric})`, interval: '1h' }, [201]);
  await must('PUT', `/v1/rules/${n.rule}`, { deployment: n.deployment, component: 'app', when: { all: { expr: n.metric, above: 1000 } }, action: { scale: 'out', by: 1 } }, [201]);
  await must('PUT', `/v1/schedules/${n.schedule}`, { deployment: n.deployment, component: 'app', cron: '0 3 1 1 *', count: 2 }, [201]);
  await must('PUT', `/v1/metrics/scrape/${n.scrape}`, { deployment: n.deployment, url: 'http://127.0.0.1:1/metrics', interval: '1h' }, [201]);
  await must('POST', '/v1/workflows', { text: `suite ${n.workflow}\n  family f\n    task t\n  endfamily\nendsuite\n`, file: 'b.def' }, [201]);
  // the deployment converges, so its instances have step logs and the operation can run
  for (;;) {
    const v = await call(who, 'GET', `/v1/deployments/${n.deployment}`);
    if (v.json.state === 'ready') break;
    await new Promise((r) => setTimeout(r, waitMs));
  }
  const logs = await call(who, 'GET', `/v1/deployments/${n.deployment}/instances/${n.instance}/logs`);
  assert.ok(logs.json.logs.length > 0, 'the owner has step logs');
  if (opts.controls) {
    const leases = await call(who, 'GET', '/v1/address-leases');
    assert.equal(leases.json.leases.filter((l: { deployment: string }) => l.deployment === n.deployment).length, 2, 'the owner\'s two nodes leased addresses from its pool');
    assert.ok(leases.json.leases.some((l: { address: string }) => l.address === n.address), leases.text);
    await must('PUT', `/v1/leaks/policies/${n.cloud}`, { deleteAfter: '2h', owned: true }, [201]);
    await must('PUT', '/v1/budgets', { amount: 500 }, [200]);
    await must('PUT', `/v1/budgets/${n.deployment}`, { amount: 50, hardStop: true }, [200]);
  }
  n.run = (await must('POST', `/v1/deployments/${n.deployment}/components/app/operations/rotate`, {}, [200])).json.id;
  if (backupDir !== undefined) {
    const b = await must('POST', `/v1/deployments/${n.deployment}/backups`, { policy: n.policy }, [200]);
    assert.equal(b.json.runs[0].state, 'succeeded', b.text);
    n.backup = b.json.runs[0].id;
  }
}

/** The template the installation administrator publishes for the owner's tenant only, and the owner's order of it. */
export function ownerTemplate(n: Names, tenant: string): Record<string, unknown> {
  return {
    description: `${tenant} only`, tenants: [tenant],
    parameters: { type: 'object', properties: { count: { type: 'integer', minimum: 1, maximum: 3, default: 1 } } },
    spec: ownerSpec(n, '"${params.count}"'),
  };
}

/** Reads an event stream until `marker` arrives (after `trigger`); returns what came before it. */
export async function readStreamUntil(url: string, headers: Record<string, string>, marker: string, trigger: () => Promise<void>): Promise<string> {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
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

/**
 * One operation called by someone of another tenant with the owner's names: what went wrong,
 * or undefined when it held the wall. Each answer must be 404 (or 403 where that is the rule,
 * 400 or 422 where a body names the owner's object); a list may answer 200 but shows none of
 * the owner's names; a PUT of a top-level name may only create the caller's own object (201,
 * never 200, which would mean it changed the owner's), removed again at once.
 */
export async function probeAcross(call: Call, who: string, o: Operation, n: Names, stream: (o: Operation) => Promise<string>, ownTenantWrites: readonly string[] = OWN_TENANT_WRITES): Promise<string | undefined> {
  const markers = markersOf(n);
  const where = `${o.id} (${o.method} ${o.url})`;
  if (!o.auth) {
    const r = await call(who, o.method, o.url);
    return markers.some((m) => r.text.includes(m)) ? `${where}: a public answer shows the owner's names` : undefined;
  }
  if (o.stream) {
    const text = await stream(o);
    const shown = markers.filter((m) => text.includes(m));
    return shown.length > 0 ? `${where}: the stream shows the owner's ${shown.join(', ')}` : undefined;
  }
  const r = await call(who, o.method, o.url, o.body);
  if (r.text.includes(n.secret)) return `${where}: the answer carries the owner's secret`;
  if (r.status >= 500) return `${where}: ${r.status} ${r.text}`;
  const topLevelPut = o.method === 'PUT' && (o.path.match(/\{/g) ?? []).length === 1;
  if (topLevelPut) {
    if (r.status === 201) {
      const del = await call(who, 'DELETE', o.url);
      return del.status < 300 ? undefined : `${where}: could not remove its own ${o.url}: ${del.status} ${del.text}`;
    }
    return [400, 403, 404].includes(r.status) ? undefined : `${where}: expected 201 (its own), 400, 403 or 404; got ${r.status} ${r.text}`;
  }
  if (o.hasPathParams) return [403, 404].includes(r.status) ? undefined : `${where}: expected 404 or 403, got ${r.status} ${r.text}`;
  if (ownTenantWrites.includes(o.id)) return r.status < 300 || [400, 403, 404, 422].includes(r.status) ? undefined : `${where}: got ${r.status} ${r.text}`;
  if (o.body !== undefined) return [400, 403, 404, 422].includes(r.status) ? undefined : `${where}: expected 400, 403, 404 or 422, got ${r.status} ${r.text}`;
  if (r.status !== 200 && r.status !== 204 && r.status !== 403) return `${where}: expected 200 (an empty view), 204 or 403, got ${r.status} ${r.text}`;
  const shown = markers.filter((m) => r.text.includes(m));
  return shown.length > 0 ? `${where}: shows the owner's ${shown.join(', ')}` : undefined;
}
