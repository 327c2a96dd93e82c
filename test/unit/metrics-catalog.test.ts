/**
 * The metrics catalog alone: a kind merges a deployment's spec objects with run-time ones (run
 * time wins, per tenant), persists what it is given and loads it again, refuses to remove a spec
 * object (CONFLICT), names ambiguity (CONFLICT) and absence (NOT_FOUND); a run-time object whose
 * deployment now belongs to another tenant is inert.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { createObjectCatalog } from '../../src/metrics/index.js';
import { normaliseMetric } from '../../src/model/parse.js';
import type { MetricObjectRepo, MetricObjectRow } from '../../src/store/index.js';
import type { EventLog } from '../../src/events/index.js';
import { isNubisError } from '../../src/errors/index.js';

function memoryRepo(): MetricObjectRepo & { rows: MetricObjectRow[] } {
  const rows: MetricObjectRow[] = [];
  const same = (r: MetricObjectRow, kind: string, tenant: string, deployment: string, name: string): boolean => r.kind === kind && r.tenant === tenant && r.deployment === deployment && r.name === name;
  return {
    rows,
    list: async (kind) => rows.filter((r) => r.kind === kind),
    async put(row) {
      const i = rows.findIndex((r) => same(r, row.kind, row.tenant, row.deployment, row.name));
      if (i >= 0) rows[i] = row;
      else rows.push(row);
    },
    async remove(kind, tenant, deployment, name) {
      const i = rows.findIndex((r) => same(r, kind, tenant, deployment, name));
      if (i < 0) return false;
      rows.splice(i, 1);
      return true;
    },
  };
}

const code = (e: unknown): string | undefined => (isNubisError(e) ? e.code : undefined);

test('a kind merges spec and run-time objects per tenant; persists, reloads, and guards removal', async () => {
  const deployments = new Map<string, unknown>([
    ['web', { name: 'web', status: 'ready', tenant: 'default', spec: { metrics: { load: { expr: 'avg(cpu)', intervalMs: 10_000 } } } }],
    ['shop', { name: 'shop', status: 'ready', tenant: 'acme', spec: { metrics: { load: { expr: 'max(cpu)', intervalMs: 10_000 } } } }],
  ]);
  const appended: string[] = [];
  const events = { append: async (...e: { kind: string }[]) => void appended.push(...e.map((x) => x.kind)) } as unknown as EventLog;
  const objects = memoryRepo();
  const o = { clock: createVirtualClock(0), engine: { deployments } as never, objects, events, ids: { id: (_t: string, n: string) => n, name: (id: string) => id } };
  const catalog = createObjectCatalog(o);
  const defs = catalog.kind('metric', 'metrics', 'metric definition', normaliseMetric);

  assert.deepEqual(defs.all('default').map((d) => `${d.deployment}/${d.name}:${d.source}`), ['web/load:spec']);
  assert.deepEqual(defs.all('acme').map((d) => `${d.deployment}/${d.name}:${d.source}`), ['shop/load:spec']);

  const put = await defs.put('default', 'web', 'load', { expr: 'sum(cpu)' });
  assert.equal(put.created, true);
  assert.equal(defs.lookup('default', 'load', undefined).spec.expr, 'sum(cpu)', 'run time wins over the spec');
  assert.equal(defs.lookup('acme', 'load', undefined).spec.expr, 'max(cpu)', 'another tenant sees its own');
  assert.equal(objects.rows.length, 1);

  // a fresh catalog over the same rows loads the object again
  const again = createObjectCatalog(o).kind('metric', 'metrics', 'metric definition', normaliseMetric);
  assert.deepEqual(await again.load(), []);
  assert.equal(again.lookup('default', 'load', 'web').spec.expr, 'sum(cpu)');

  await defs.put('default', '', 'load', { expr: 'count(cpu)' });
  assert.throws(() => defs.lookup('default', 'load', undefined), (e) => code(e) === 'CONFLICT', 'two of that name without ?deployment=');
  assert.throws(() => defs.lookup('default', 'nope', undefined), (e) => code(e) === 'NOT_FOUND');

  await defs.remove('load', 'web', { actor: 'me', tenant: 'default' });
  assert.equal(defs.lookup('default', 'load', 'web').source, 'spec', 'the spec object is back');
  await assert.rejects(defs.remove('load', 'web', { actor: 'me', tenant: 'default' }), (e) => code(e) === 'CONFLICT');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(appended, ['metric.removed']);

  // the deployment changes hands: the old tenant's run-time object naming it is inert
  await defs.put('default', 'web', 'extra', { expr: 'sum(x)' });
  deployments.set('web', { name: 'web', status: 'ready', tenant: 'acme', spec: {} });
  assert.equal(defs.all('default').some((d) => d.name === 'extra'), false);
  assert.equal(defs.all().some((d) => d.name === 'extra'), false);
});
