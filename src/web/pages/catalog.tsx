/**
 * The service catalog: the templates offered to this tenant, and for one its order form,
 * generated from the template's parameter schema (a field per parameter: text, number,
 * choice or checkbox, with its bounds, default and description; a write-only one as a
 * password). The server checks the order (rights, values, quota) before anything is created;
 * each of its problems (`$.params.size: expected integer ≤ 10, found 50`) stands next to its
 * field. Once ordered, the deployment page shows it coming up; its orders are listed here.
 */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api';
import type { CatalogTemplate } from '../api-types';
import { useSession } from '../app';
import { go, href } from '../router';
import { can } from '../session';
import { Empty, Failure, FieldError, FormError, Time, useLoad } from '../ui';

interface Param {
  type: 'string' | 'integer' | 'number' | 'boolean';
  title?: string;
  description?: string;
  default?: string | number | boolean;
  enum?: (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  writeOnly?: boolean;
}

/** The parameters of a template's schema, in its order. */
export function paramsOf(schema: Record<string, unknown>): { name: string; p: Param; required: boolean }[] {
  const props = (schema['properties'] ?? {}) as Record<string, Param>;
  const required = new Set((schema['required'] ?? []) as string[]);
  return Object.entries(props).map(([name, p]) => ({ name, p, required: required.has(name) }));
}

/** The server's problems by parameter: `$.params.<name>: …` → name → messages. */
export function problemsByParam(e: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const problems = e instanceof ApiError ? ((e.details as { problems?: unknown } | undefined)?.problems ?? []) : [];
  for (const m of Array.isArray(problems) ? problems as string[] : []) {
    const name = /^\$\.params\.([A-Za-z0-9_-]+)/.exec(m)?.[1] ?? /^\$\.params\[("[^"]+")\]/.exec(m)?.[1];
    const key = name === undefined ? '' : name.startsWith('"') ? (JSON.parse(name) as string) : name;
    out.set(key, [...(out.get(key) ?? []), m]);
  }
  return out;
}

/** A form value as the parameter's type (text the server refuses is sent as typed, so it says why). */
function valueOf(p: Param, raw: FormDataEntryValue | null, checked: boolean): unknown {
  if (p.type === 'boolean') return checked;
  const text = raw === null ? '' : String(raw);
  if (text === '') return undefined;
  if (p.type === 'integer' || p.type === 'number') return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
  return text;
}

function ParamField({ name, p, required, problems }: { name: string; p: Param; required: boolean; problems: string[] | undefined }) {
  const id = `param-${name}`;
  const err = `${id}-err`;
  const common = { id, name: `param.${name}`, 'aria-describedby': err, 'aria-invalid': problems !== undefined, required: required && p.type !== 'boolean' };
  const label = `${p.title ?? name}${required ? ' *' : ''}`;
  let input;
  if (p.type === 'boolean') input = <input type="checkbox" {...common} defaultChecked={p.default === true} />;
  else if (p.enum) input = <select {...common} defaultValue={p.default === undefined ? '' : String(p.default)}>{!required && <option value="">—</option>}{p.enum.map((v) => <option value={String(v)}>{String(v)}</option>)}</select>;
  else if (p.type === 'integer' || p.type === 'number') {
    input = <input type="text" inputMode={p.type === 'integer' ? 'numeric' : 'decimal'} {...common} placeholder={[p.minimum !== undefined ? `≥ ${p.minimum}` : '', p.maximum !== undefined ? `≤ ${p.maximum}` : ''].filter(Boolean).join(', ')} defaultValue={p.default === undefined ? '' : String(p.default)} />;
  } else if (p.writeOnly) input = <input type="password" autocomplete="new-password" {...common} />;
  else input = <input type="text" autocomplete="off" {...common} defaultValue={p.default === undefined ? '' : String(p.default)} />;
  return (
    <div class="param" data-param={name}>
      <label for={id}>{label}</label>
      {input}
      {p.description && <span class="muted small">{p.description}</span>}
      {problems && <span class="field-error" id={err} role="alert" data-field={`params.${name}`}>{problems.join('\n')}</span>}
    </div>
  );
}

function OrderForm({ template }: { template: CatalogTemplate }) {
  const { me } = useSession();
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const params = paramsOf(template.parameters);
  const problems = problemsByParam(error);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const values: Record<string, unknown> = {};
    for (const { name, p } of params) {
      const el = form.elements.namedItem(`param.${name}`) as HTMLInputElement | null;
      const v = valueOf(p, f.get(`param.${name}`), el?.checked ?? false);
      if (v !== undefined) values[name] = v;
    }
    setBusy(true);
    setError(undefined);
    try {
      const r = await call('orderCatalogTemplate', { params: { name: template.name }, body: { deployment: String(f.get('deployment') ?? ''), params: values } });
      go('deployments', r.deployment.name);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (!can(me, 'orderCatalogTemplate')) return <p class="muted">Your role ({me.role}) may not order.</p>;
  return (
    <form onSubmit={submit} aria-label={`order ${template.name}`} class="order">
      <div class="param">
        <label for="order-deployment">Deployment name *</label>
        <input id="order-deployment" name="deployment" required aria-describedby="err-deployment" />
        <FieldError error={error} field="deployment" id="err-deployment" />
      </div>
      {params.map(({ name, p, required }) => <ParamField name={name} p={p} required={required} problems={problems.get(name)} />)}
      {problems.get('') && <p class="error" role="alert">{problems.get('')!.join('\n')}</p>}
      {!(error instanceof ApiError && problems.size > 0) && <FormError error={error} fields={['deployment']} />}
      <div class="actions"><button type="submit" class="primary" disabled={busy}>Order</button></div>
    </form>
  );
}

export function CatalogPage({ name }: { name?: string | undefined }) {
  const list = useLoad((signal) => call('listCatalog', { signal }), []);
  const orders = useLoad((signal) => call('listOrders', { signal }), []);
  const one = useLoad((signal) => (name ? call('getCatalogTemplate', { params: { name }, signal }) : Promise.resolve(undefined)), [name]);
  return (
    <section>
      <h1>{name ? <><a href={href('catalog')}>Catalog</a> / {name}</> : 'Catalog'}</h1>
      <Failure error={name ? one.error : list.error} />
      {!name && list.data && list.data.templates.length === 0 && <Empty>Nothing is offered to this tenant yet.</Empty>}
      {!name && list.data && list.data.templates.length > 0 && (
        <table class="list" aria-label="templates">
          <thead><tr><th>Service</th><th>Version</th><th>Description</th></tr></thead>
          <tbody>{list.data.templates.map((t) => <tr data-template={t.name}><td><a href={href('catalog', t.name)}>{t.name}</a></td><td>{t.version}</td><td>{t.description}</td></tr>)}</tbody>
        </table>
      )}
      {name && one.data && (
        <>
          <p>{one.data.description} <span class="muted">version {one.data.version}</span></p>
          <OrderForm template={one.data} />
        </>
      )}
      <h2>Orders</h2>
      <Failure error={orders.error} />
      {orders.data && orders.data.orders.length === 0 && <Empty>No orders yet.</Empty>}
      {orders.data && orders.data.orders.length > 0 && (
        <table class="list" aria-label="orders">
          <thead><tr><th>Deployment</th><th>Service</th><th>Parameters</th><th>Who</th><th>When</th></tr></thead>
          <tbody>{orders.data.orders.map((o) => (
            <tr><td><a href={href('deployments', o.deployment)}>{o.deployment}</a></td><td>{o.template} v{o.version}</td>
              <td class="mono small">{Object.entries(o.params).map(([k, v]) => `${k}=${String(v)}`).join(' ')}</td><td>{o.actor}</td><td><Time iso={o.createdAt} /></td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}
