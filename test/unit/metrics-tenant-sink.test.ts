/**
 * A tenant's sink for the Graphite listener (src/metrics/tenant-sink.ts): every series the
 * listener resolves carries the tenant's label, which a sender's own tag of that name cannot
 * change; each block is counted and its series' deployments are announced (rule wake-ups);
 * a store that takes no handles has no sink, and the listener then delivers Samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGraphiteListener } from '../../src/metrics/ingest/graphite.js';
import { createEmbeddedMetricStore } from '../../src/metrics/store/embedded.js';
import { createTenantSink } from '../../src/metrics/tenant-sink.js';
import type { MetricStore, Sample } from '../../src/metrics/types.js';
import { feed, lehmer, NOW, until } from './metrics-graphite-random.js';

test('tenant sink: the tenant label on every series (a sent nubis_tenant tag loses), counts, arrivals by deployment', async () => {
  const store = await createEmbeddedMetricStore({ dir: null, downsample: [] });
  let appended = 0;
  const arrivals: [string, string[]][] = [];
  let listening = true;
  const l = await startGraphiteListener({
    port: 0,
    now: () => NOW,
    sink: (tenant) =>
      createTenantSink(store, tenant ?? 'default', {
        appended: (n) => (appended += n),
        wantsArrivals: () => listening,
        arrived: (by) => {
          for (const [d, names] of by) arrivals.push([d, [...names].sort()]);
        },
      }),
  });
  try {
    const sec = Math.floor(NOW / 1000);
    const text = [`cpu;deployment=shop;host=a 1 ${sec}`, `mem;deployment=shop 2 ${sec}`, `cpu;nubis_tenant=evil 3 ${sec}`, `plain.path 4 ${sec}`, `cpu;deployment=shop;host=a 5 ${sec + 1}`].join('\n');
    await feed(l, Buffer.from(text + '\n'), lehmer(1));
    await until(() => appended >= 5);
    const all = await store.select([{ name: '__name__', op: '=~', value: '.+' }], 0, Infinity);
    assert.deepEqual(all.map((s) => s.labels['nubis_tenant']), ['default', 'default', 'default', 'default']);
    assert.deepEqual(all.map((s) => s.points.length).sort(), [1, 1, 1, 2]);
    assert.deepEqual(arrivals, [['shop', ['cpu', 'mem']]]);
    listening = false;
    await feed(l, Buffer.from(`cpu;deployment=shop;host=a 6 ${sec + 2}\n`), lehmer(2));
    await until(() => appended >= 6);
    assert.equal(arrivals.length, 1, 'no grouping when nobody listens');
  } finally {
    await l.close();
    await store.close();
  }
});

test('tenant sink: none for a store that takes no handles; the listener then delivers Samples', async () => {
  const got: Sample[] = [];
  const plain: MetricStore = {
    kind: 'victoriametrics',
    append: (s) => void got.push(...s),
    flush: async () => undefined,
    select: async () => [],
    series: async () => [],
    close: async () => undefined,
  };
  assert.equal(createTenantSink(plain, 'acme', { appended: () => undefined, wantsArrivals: () => false, arrived: () => undefined }), undefined);
  const l = await startGraphiteListener({
    port: 0,
    now: () => NOW,
    sink: (tenant) => createTenantSink(plain, tenant ?? 'default', { appended: () => undefined, wantsArrivals: () => false, arrived: () => undefined }),
    onSamples: (s) => plain.append(s),
  });
  try {
    await feed(l, Buffer.from(`a.b 1 ${Math.floor(NOW / 1000)}\n`), lehmer(3));
    await until(() => got.length >= 1);
    assert.deepEqual(got, [{ name: 'a.b', labels: {}, t: Math.floor(NOW / 1000) * 1000, v: 1 }]);
  } finally {
    await l.close();
  }
});
