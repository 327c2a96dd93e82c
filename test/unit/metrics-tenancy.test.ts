/**
 * The tenant matcher reaches every selector of a query, whatever its shape, and the embedded
 * store then answers only the tenant's series.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmbeddedMetricStore, createQueryEngine, parseQuery, type Expr } from '../../src/metrics/index.js';
import { labelTenant, scopeQuery, TENANT_LABEL, unscopeResult } from '../../src/metrics/tenancy.js';
import { tempDir } from '../helpers/control-plane.js';

function selectors(e: Expr, out: string[][] = []): string[][] {
  if (e.type === 'vector') out.push(e.matchers.filter((m) => m.name === TENANT_LABEL).map((m) => `${m.op}${m.value}`));
  else if (e.type === 'matrix') selectors(e.selector, out);
  else if (e.type === 'call') e.args.forEach((a) => selectors(a, out));
  else if (e.type === 'aggregate') [e.param, e.expr].forEach((a) => a && selectors(a, out));
  else if (e.type === 'binary') [e.lhs, e.rhs].forEach((a) => selectors(a, out));
  else if (e.type === 'unary' || e.type === 'paren') selectors(e.expr, out);
  return out;
}

test('every selector of a scoped query requires the tenant', () => {
  const exprs = [
    'cpu', 'cpu{nubis_tenant="default"}', 'rate(cpu[5m])', 'topk(2, cpu) / on (x) group', '-(cpu offset 5m) + sum by (a) (avg_over_time(mem[1m]))',
    'quantile(scalar(q), cpu)', 'count({__name__=~"servers\\\\..*"}) > bool 3',
  ];
  for (const text of exprs) {
    const want = selectors(parseQuery(text)).length;
    const got = selectors(parseQuery(scopeQuery(text, 'acme')));
    assert.equal(got.length, want, text);
    for (const s of got) assert.ok(s.includes('=acme'), `${text}: ${s.join(',')}`);
  }
  assert.deepEqual(selectors(parseQuery(scopeQuery('cpu', 'default'))), [['=~default|']]);
});

test('the embedded store answers a scoped query with the tenant\'s series only, without the label', async () => {
  const store = await createEmbeddedMetricStore({ dir: tempDir('nubis-tenancy-') });
  try {
    const t = Date.now();
    store.append(labelTenant([{ name: 'cpu', labels: { node: 'a' }, t, v: 1 }], 'default'));
    store.append(labelTenant([{ name: 'cpu', labels: { node: 'a', [TENANT_LABEL]: 'default' }, t, v: 2 }], 'acme'));
    await store.flush();
    const q = createQueryEngine(store);
    // naming another tenant in the query narrows, never widens
    const other = unscopeResult(await q.instant(scopeQuery('count(cpu{nubis_tenant="default"})', 'acme'), t));
    assert.deepEqual(other, { resultType: 'vector', result: [] });
    const mine = unscopeResult(await q.instant(scopeQuery('cpu', 'acme'), t));
    assert.deepEqual(mine.resultType === 'vector' ? mine.result.map((e) => [e.labels, e.v]) : mine, [[{ __name__: 'cpu', node: 'a' }, 2]]);
    const dflt = unscopeResult(await q.instant(scopeQuery('cpu', 'default'), t));
    assert.deepEqual(dflt.resultType === 'vector' ? dflt.result.map((e) => e.v) : dflt, [1]);
  } finally {
    await store.close();
  }
});
