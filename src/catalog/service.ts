/**
 * The service catalog (FreeNest's order flow): the installation's administrator publishes
 * parameterised application templates, offered to every tenant or to a list; an operator of a
 * tenant orders one with values. The order is checked whole before anything is created: the
 * template is offered to the tenant, the values fit the parameter schema (JSON paths), the
 * deployment name is free in the tenant, and the rendered spec is valid and may run there
 * (the control plane's apply checks the spec, host access and placement, and changes nothing
 * when any check fails). The deployment then delivers its access details when it is first
 * ready (`deployment.access`, `nubis endpoints`), like any other.
 */
import crypto from 'node:crypto';
import { NubisError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import type { CatalogTemplateRow, Store } from '../store/index.js';
import { parseSpec } from '../model/index.js';
import type { Caller, ControlPlane, DeploymentView } from '../engine/index.js';
import { deploymentId } from '../engine/index.js';
import { checkParametersSchema, resolveParams, sampleParams, shownParams, type ParametersSchema, type ParamValues } from './params.js';
import { checkReferences, renderTemplate } from './template.js';

export interface TemplateInput {
  description?: string;
  spec: string;
  parameters: unknown;
  /** Offered to these tenants only; absent: to every tenant. */
  tenants?: string[];
  /** Relative path → base64 content, as in an apply. */
  artefacts?: Record<string, string>;
}

export interface TemplateView {
  name: string;
  version: number;
  description: string;
  parameters: ParametersSchema;
  /** Only the installation administrator sees these three. */
  spec?: string;
  tenants?: string[] | null;
  publishedBy?: string;
  publishedAt: string;
}

export interface OrderView {
  id: string;
  template: string;
  version: number;
  deployment: string;
  params: ParamValues;
  actor: string;
  createdAt: string;
}

export interface CatalogService {
  /** Publishes or re-publishes (version + 1). REQUEST_INVALID / SPEC_INVALID with JSON paths when the template is wrong. */
  publish(name: string, input: TemplateInput, caller: Caller): Promise<{ created: boolean; view: TemplateView }>;
  /** The templates offered to the tenant (all of them with `admin`). */
  list(tenant: string, admin: boolean): Promise<TemplateView[]>;
  /** NOT_FOUND when there is none offered to the tenant. */
  show(tenant: string, name: string, admin: boolean): Promise<TemplateView>;
  /** Withdraws a template: no new orders; deployments ordered from it stay. */
  withdraw(name: string, caller: Caller): Promise<void>;
  /** Orders a template in the caller's tenant; nothing is created unless every check passes. */
  order(tenant: string, name: string, input: { deployment: string; params?: unknown }, caller: Caller): Promise<{ order: OrderView; deployment: DeploymentView }>;
  orders(tenant: string): Promise<OrderView[]>;
}

export interface CatalogOptions {
  store: Store;
  controlPlane: ControlPlane;
  events: EventLog;
  now?: () => number;
}

/** The artefacts kept beside a template (the same shape as an apply's). */
interface Stored {
  schema: ParametersSchema;
  artefacts?: Record<string, string>;
}

const fileOf = (name: string): string => `catalog/${name}.yaml`;

function offered(row: CatalogTemplateRow, tenant: string): boolean {
  if (row.tenants_json === null) return true;
  return (JSON.parse(row.tenants_json) as string[]).includes(tenant);
}

function stored(row: CatalogTemplateRow): Stored {
  return JSON.parse(row.parameters_json) as Stored;
}

function view(row: CatalogTemplateRow, admin: boolean): TemplateView {
  const v: TemplateView = {
    name: row.name, version: Number(row.version), description: row.description, parameters: stored(row).schema,
    publishedAt: new Date(Number(row.published_at)).toISOString(),
  };
  if (admin) {
    v.spec = row.spec_text;
    v.tenants = row.tenants_json === null ? null : (JSON.parse(row.tenants_json) as string[]);
    v.publishedBy = row.published_by;
  }
  return v;
}

export function createCatalog(o: CatalogOptions): CatalogService {
  const { store, events } = o;
  const now = o.now ?? Date.now;
  const cid = (c: Caller): { correlationId?: string } => (c.correlationId ? { correlationId: c.correlationId } : {});
  const offeredRow = async (tenant: string, name: string, admin: boolean): Promise<CatalogTemplateRow> => {
    const row = await store.catalog.template(name);
    if (!row || !(admin || offered(row, tenant))) throw new NubisError('NOT_FOUND', `no catalog template named ${JSON.stringify(name)}`);
    return row;
  };
  return {
    async publish(name, input, caller) {
      const schema = checkParametersSchema(input.parameters);
      checkReferences(input.spec, fileOf(name), schema);
      // the template must be a valid spec with sample values (defaults, lower bounds…)
      try {
        parseSpec(renderTemplate(input.spec, fileOf(name), sampleParams(schema), name), { file: fileOf(name) });
      } catch (e) {
        if (e instanceof NubisError && e.code === 'SPEC_INVALID') {
          throw new NubisError('SPEC_INVALID', `the template's spec with sample parameter values (defaults, else lower bounds) is invalid: ${e.message}`, { details: e.details });
        }
        throw e;
      }
      const before = await store.catalog.template(name);
      const at = now();
      const row: CatalogTemplateRow = {
        name, version: Number(before?.version ?? 0) + 1, description: input.description ?? '', spec_text: input.spec,
        parameters_json: JSON.stringify({ schema, ...(input.artefacts ? { artefacts: input.artefacts } : {}) } satisfies Stored),
        tenants_json: input.tenants === undefined ? null : JSON.stringify([...new Set(input.tenants)].sort()),
        published_by: caller.actor, published_at: at,
      };
      await store.catalog.putTemplate(row);
      await events.append({
        actor: caller.actor, ...cid(caller), kind: 'catalog.published', target: name, outcome: 'ok',
        data: { template: name, version: row.version, tenants: input.tenants ?? '*' },
      });
      return { created: before === undefined, view: view(row, true) };
    },
    async list(tenant, admin) {
      return (await store.catalog.templates()).filter((r) => admin || offered(r, tenant)).map((r) => view(r, admin));
    },
    async show(tenant, name, admin) {
      return view(await offeredRow(tenant, name, admin), admin);
    },
    async withdraw(name, caller) {
      if (!(await store.catalog.deleteTemplate(name))) throw new NubisError('NOT_FOUND', `no catalog template named ${JSON.stringify(name)}`);
      await events.append({ actor: caller.actor, ...cid(caller), kind: 'catalog.withdrawn', target: name, outcome: 'ok', data: { template: name } });
    },
    async order(tenant, name, input, caller) {
      const row = await offeredRow(tenant, name, false);
      const { schema, artefacts } = stored(row);
      const values = resolveParams(schema, input.params ?? {});
      const id = deploymentId(tenant, input.deployment);
      if ((await o.controlPlane.listDeployments(tenant)).some((d) => d.name === input.deployment)) {
        throw new NubisError('CONFLICT', `$.deployment: the tenant already has a deployment named ${JSON.stringify(input.deployment)} (an order creates a new one; change it with apply)`);
      }
      const spec = renderTemplate(row.spec_text, fileOf(name), values, input.deployment);
      const deployment = await o.controlPlane.apply({ spec, file: fileOf(name), ...(artefacts ? { artefacts } : {}) }, { ...caller, tenant });
      const order: OrderView = {
        id: `ord-${crypto.randomBytes(6).toString('hex')}`, template: name, version: Number(row.version), deployment: input.deployment,
        params: shownParams(schema, values), actor: caller.actor, createdAt: new Date(now()).toISOString(),
      };
      await store.catalog.addOrder({
        id: order.id, tenant, template: name, version: order.version, deployment: id, params_json: JSON.stringify(order.params), actor: caller.actor, created_at: now(),
      });
      await events.append({
        actor: caller.actor, ...cid(caller), deployment: id, kind: 'catalog.ordered', target: id, outcome: 'ok',
        data: { order: order.id, template: name, version: order.version, params: order.params },
      });
      return { order, deployment };
    },
    async orders(tenant) {
      return (await store.catalog.orders(tenant)).map((r) => ({
        id: r.id, template: r.template, version: Number(r.version), deployment: r.deployment.startsWith(`${tenant}.`) ? r.deployment.slice(tenant.length + 1) : r.deployment,
        params: JSON.parse(r.params_json) as ParamValues, actor: r.actor, createdAt: new Date(Number(r.created_at)).toISOString(),
      }));
    },
  };
}
