/**
 * The Graphite byte parser (graphite-bytes.ts: lines parsed from the received bytes, series
 * found by their path bytes and appended by store handle) gives what the string parser gives:
 * the same samples in the same order and the same rejections, on random lines (malformed ones,
 * the edges of its exact decimal path, millisecond and far-future timestamps, tags, base
 * labels). Its path cache survives names that change and a table that starts over; it asks the
 * store again for a refused series and after the store's handles went stale (a series removed
 * by retention). Through a listener over TCP: the same as a listener delivering Samples, with
 * the tenant of the sender's network, and the series cap of a real embedded store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphiteByteParser } from '../../src/metrics/ingest/graphite-bytes.js';
import { GraphiteSources, parseGraphiteLines, startGraphiteListener, type GraphiteListenerStats } from '../../src/metrics/ingest/graphite.js';
import { createEmbeddedMetricStore } from '../../src/metrics/store/embedded.js';
import type { HandleSink, Labels, Sample } from '../../src/metrics/types.js';
import { feed, lehmer, NOW, randomLine, randomStream, until } from './metrics-graphite-random.js';

interface Handle {
  name: string;
  labels: Labels;
  live: boolean;
}

/** A sink that records what arrives, as Samples; `refuse` names series it will not take. */
class RecordingSink implements HandleSink<Handle> {
  samples: Sample[] = [];
  resolved: string[] = [];
  handleGeneration = 0;
  handles: Handle[] = [];
  constructor(private readonly refuse: (name: string) => boolean = () => false) {}

  resolve(name: string, labels: Labels): Handle | undefined {
    this.resolved.push(Object.keys(labels).length === 0 ? name : `${name}${JSON.stringify(labels)}`);
    if (this.refuse(name)) return undefined;
    const h = { name, labels, live: true };
    this.handles.push(h);
    return h;
  }

  appendResolved(handles: readonly Handle[], t: Float64Array, v: Float64Array, n: number): void {
    for (let i = 0; i < n; i++) {
      assert.ok(handles[i]!.live, `a stale handle was used for ${handles[i]!.name}`);
      this.samples.push({ name: handles[i]!.name, labels: handles[i]!.labels, t: t[i]!, v: v[i]! });
    }
  }

  /** Makes every handle so far stale (as a store removing series does). */
  expire(): void {
    for (const h of this.handles) h.live = false;
    this.handleGeneration++;
  }
}

function parseBytes(parser: GraphiteByteParser<Handle>, sink: RecordingSink, buf: Buffer): { samples: Sample[]; malformed: string[]; future: number } {
  sink.samples = [];
  const b = parser.parse(buf, NOW);
  const malformed = [...b.malformed];
  const future = b.future;
  parser.append(b);
  return { samples: sink.samples, malformed, future };
}

test('byte parser = parseGraphiteLines on random lines and bytes: samples, reports, future counts (400 blocks)', () => {
  const rnd = lehmer(4242);
  const base: Labels = { host: 'base', env: 'test' };
  // a parser belongs to one receiver, whose base labels are fixed: one per base, kept across blocks
  const plain = { sink: new RecordingSink() };
  const based = { sink: new RecordingSink() };
  const parsers = { plain: new GraphiteByteParser(plain.sink), based: new GraphiteByteParser(based.sink, { labels: base }) };
  let samples = 0;
  let malformed = 0;
  let future = 0;
  for (let round = 0; round < 400; round++) {
    const withBase = round % 3 === 0;
    const buf = round % 4 === 1
      ? randomStream(rnd, 1 + Math.floor(rnd() * 60)) // invalid UTF-8, a last line with a newline
      : Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => randomLine(rnd)).join('\n'));
    const want = parseGraphiteLines(buf.toString('utf8'), { now: NOW, ...(withBase ? { labels: base } : {}) });
    const got = withBase ? parseBytes(parsers.based, based.sink, buf) : parseBytes(parsers.plain, plain.sink, buf);
    assert.deepEqual(got, { samples: want.samples, malformed: want.malformed, future: want.future ?? 0 }, `round ${round}:\n${buf.toString('utf8')}`);
    samples += want.samples.length;
    malformed += want.malformed.length;
    future += want.future ?? 0;
  }
  assert.ok(samples > 2000 && malformed > 3000 && future > 200, JSON.stringify({ samples, malformed, future }));
});

test('byte parser values and timestamps: the same doubles as Number() on 20,000 random decimals (-0, exponents, 1 to 20 digits)', () => {
  const rnd = lehmer(99);
  const sink = new RecordingSink();
  const parser = new GraphiteByteParser(sink);
  const sec = Math.floor(NOW / 1000) - 100;
  const texts: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const digits = Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => String(Math.floor(rnd() * 10))).join('');
    const point = Math.floor(rnd() * (digits.length + 2)) - 1; // -1: no point
    let s = point < 0 ? digits : `${digits.slice(0, point)}.${digits.slice(point)}`;
    if (rnd() < 0.3) s = `${rnd() < 0.5 ? '-' : '+'}${s}`;
    if (rnd() < 0.3) s += `${rnd() < 0.5 ? 'e' : 'E'}${rnd() < 0.5 ? '-' : ''}${Math.floor(rnd() * 40)}`;
    texts.push(s);
  }
  const lines = texts.map((s, i) => `v.${i % 7} ${s} ${i % 2 === 0 ? sec : `${sec}.${i % 1000}`}`);
  const got = parseBytes(parser, sink, Buffer.from(lines.join('\n')));
  const want = parseGraphiteLines(lines.join('\n'), { now: NOW });
  assert.deepEqual(got.samples, want.samples);
  assert.deepEqual(got.malformed, want.malformed);
  assert.ok(want.samples.length > 15_000, `${want.samples.length} of the random decimals are numbers`);
  const negZero = parseBytes(parser, sink, Buffer.from('z -0 1\nz -0.0e5 2\nz +0 3'));
  assert.deepEqual(negZero.samples.map((s) => Object.is(s.v, -0)), [true, true, false]);
});

test('byte parser: names that change, a path table that starts over, each path resolved once while the table holds it', () => {
  const rnd = lehmer(7);
  const names = Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? `n.${i}` : `m.${i}.${'x'.repeat(i % 40)}`));
  // paths that differ in one byte, at the same length
  names.push('same.len.a', 'same.len.b', 'same.len;k=a', 'same.len;k=b');
  for (const maxPaths of [undefined, 64]) {
    const sink = new RecordingSink();
    const parser = new GraphiteByteParser(sink, maxPaths === undefined ? {} : { maxPaths });
    for (let round = 0; round < 6; round++) {
      const lines = Array.from({ length: 2000 }, () => `${names[Math.floor(rnd() * names.length)]!} ${round} ${Math.floor(NOW / 1000) - round}`);
      const got = parseBytes(parser, sink, Buffer.from(lines.join('\n')));
      assert.deepEqual(got.samples, parseGraphiteLines(lines.join('\n'), { now: NOW }).samples, `maxPaths ${maxPaths} round ${round}`);
    }
    const distinct = new Set(sink.resolved).size;
    if (maxPaths === undefined) assert.equal(sink.resolved.length, distinct, 'resolved once per path');
    else assert.ok(sink.resolved.length > distinct && parser.paths.size <= maxPaths, 'a full table starts over and resolves again');
  }
});

test('byte parser: a refused series is asked for again; stale handles (a new store generation) are resolved again', () => {
  const sink = new RecordingSink((name) => name.startsWith('refused'));
  const parser = new GraphiteByteParser(sink);
  const text = Buffer.from('ok.a 1 1700000000\nrefused.b 2 1700000000\nok.a 3 1700000001\nrefused.b 4 1700000001');
  const b = parser.parse(text, NOW);
  assert.equal(b.n, 2);
  assert.equal(b.refused, 2);
  parser.append(b);
  assert.deepEqual(sink.resolved, ['ok.a', 'refused.b', 'refused.b']);
  sink.expire();
  const again = parseBytes(parser, sink, text);
  assert.deepEqual(again.samples.map((s) => s.v), [1, 3]);
  assert.deepEqual(sink.resolved, ['ok.a', 'refused.b', 'refused.b', 'ok.a', 'refused.b', 'refused.b']);
});

const seen = (st: GraphiteListenerStats): number => st.accepted + st.malformed + st.future;

test('listener with a sink = listener delivering Samples, on the same random byte stream, with the tenant of the sender\'s network', { timeout: 120_000 }, async () => {
  for (const seed of [11, 12, 13]) {
    const rnd = lehmer(seed * 7919);
    const data = randomStream(rnd, 4000);
    const base: Labels | undefined = seed === 12 ? { host: 'base' } : undefined;
    // seed 13: a rule for loopback's network; otherwise loopback falls to the default tenant
    const sources = new GraphiteSources(seed === 13 ? [{ cidr: '127.0.0.0/8', tenant: 'acme' }] : [], 'default');
    const run = async (withSink: boolean): Promise<{ samples: Sample[]; tenants: string[]; stats: GraphiteListenerStats }> => {
      const samples: Sample[] = [];
      const tenants: string[] = [];
      const l = await startGraphiteListener({
        port: 0, maxLineBytes: 256, now: () => NOW, sources,
        ...(base ? { labels: base } : {}),
        ...(withSink
          ? {
              sink: (tenant) => {
                tenants.push(String(tenant));
                const s = new RecordingSink();
                s.samples = samples;
                return s;
              },
            }
          : { onSamples: (s: Sample[], tenant?: string) => (samples.push(...s), tenants.push(String(tenant))) }),
      });
      try {
        await feed(l, data, lehmer(seed));
        const lines = data.toString('latin1').split('\n').filter((x) => x.trim() !== '').length;
        await until(() => seen(l.stats()) >= lines);
        await new Promise((r) => setTimeout(r, 20));
        return { samples, tenants: [...new Set(tenants)], stats: l.stats() };
      } finally {
        await l.close();
      }
    };
    const strings = await run(false);
    const bytes = await run(true);
    assert.ok(strings.samples.length > 500 && strings.stats.malformed > 100 && strings.stats.future > 10, JSON.stringify(strings.stats));
    assert.deepEqual(bytes.samples, strings.samples, `seed ${seed}: samples`);
    assert.deepEqual(bytes.tenants, [seed === 13 ? 'acme' : 'default'], `seed ${seed}: tenant`);
    assert.deepEqual(bytes.tenants, strings.tenants);
    const { connections: _c1, ...a } = strings.stats;
    const { connections: _c2, ...b } = bytes.stats;
    assert.deepEqual(b, a, `seed ${seed}: stats`);
  }
});

for (const readerThread of [false, true]) {
  test(`listener with an embedded store as its sink${readerThread ? ' (reader thread)' : ''}: the series cap refuses and counts; a series removed by retention takes new samples again`, async () => {
    let now = NOW;
    const store = await createEmbeddedMetricStore({ dir: null, maxSeries: 3, retentionMs: 3600_000, downsample: [], now: () => now });
    const l = await startGraphiteListener({ port: 0, now: () => now, sink: () => store, readerThread });
    try {
      const sec = Math.floor(NOW / 1000);
      const lines: string[] = [];
      for (let k = 0; k < 4; k++) for (let i = 0; i < 6; i++) lines.push(`cap.s${i} ${k} ${sec - 100 + k}`);
      await feed(l, Buffer.from(lines.join('\n') + '\n'), lehmer(5));
      await until(() => l.stats().accepted >= 24);
      assert.equal(store.stats().series, 3);
      assert.equal(store.stats().points, 12);
      assert.deepEqual(store.refusal(), { series: 3, samples: 12, maxSeries: 3, last: { __name__: 'cap.s5' } });
      const kept = await store.select([{ name: '__name__', op: '=', value: 'cap.s0' }], 0, Infinity);
      assert.deepEqual(kept[0]!.points.map((p) => p.v), [0, 1, 2, 3]);

      // two hours later every point is past retention: maintenance removes the series
      now += 2 * 3600_000;
      await store.maintain();
      assert.equal(store.stats().series, 0);
      await feed(l, Buffer.from(`cap.s0 7 ${Math.floor(now / 1000)}\ncap.s1 8 ${Math.floor(now / 1000)}\n`), lehmer(6));
      await until(() => l.stats().accepted >= 26);
      const back = await store.select([{ name: '__name__', op: '=~', value: 'cap.s[01]' }], 0, Infinity);
      assert.deepEqual(back.map((s) => s.points.map((p) => p.v)), [[7], [8]], 'the new samples are stored, in live series');
    } finally {
      await l.close();
      await store.close();
    }
  });
}

test('listener with a reader thread = listener without, on the same random byte stream (lines with explicit timestamps), tenants and Samples for a tenant without a sink', { timeout: 120_000 }, async () => {
  const now = Date.now();
  // lines stamped "now" by the receiver differ between two runs: left out
  const stamped = (line: string): boolean => {
    const f = line.trim().split(/[ \t]+/);
    return f.length === 2 || f[2] === '-1';
  };
  const line = (rnd: () => number): string => {
    for (;;) {
      const l = randomLine(rnd, now);
      if (!stamped(l)) return l;
    }
  };
  for (const seed of [21, 22]) {
    const rnd = lehmer(seed * 104729);
    const data = randomStream(rnd, 3000, line);
    const base: Labels | undefined = seed === 22 ? { host: 'base' } : undefined;
    const sources = new GraphiteSources(seed === 22 ? [{ cidr: '127.0.0.0/8', tenant: 'acme' }] : [], 'default');
    const run = async (readerThread: boolean, withSink: boolean): Promise<{ samples: Sample[]; tenants: string[]; stats: GraphiteListenerStats }> => {
      const samples: Sample[] = [];
      const tenants: string[] = [];
      const l = await startGraphiteListener({
        port: 0, maxLineBytes: 256, sources, readerThread,
        ...(base ? { labels: base } : {}),
        sink: (tenant) => {
          tenants.push(String(tenant));
          if (!withSink) return undefined;
          const s = new RecordingSink();
          s.samples = samples;
          return s;
        },
        onSamples: (s) => samples.push(...s),
      });
      try {
        await feed(l, data, lehmer(seed));
        const lines = data.toString('latin1').split('\n').filter((x) => x.trim() !== '').length;
        await until(() => seen(l.stats()) >= lines);
        await new Promise((r) => setTimeout(r, 20));
        return { samples, tenants, stats: l.stats() };
      } finally {
        await l.close();
      }
    };
    const main = await run(false, true);
    const threaded = await run(true, true);
    const threadedSamples = await run(true, false);
    assert.ok(main.samples.length > 300 && main.stats.malformed > 100 && main.stats.future > 10, JSON.stringify(main.stats));
    assert.deepEqual(threaded.samples, main.samples, `seed ${seed}: samples`);
    assert.deepEqual(threadedSamples.samples, main.samples, `seed ${seed}: Samples for a tenant without a sink`);
    assert.deepEqual(threaded.tenants, [seed === 22 ? 'acme' : 'default']);
    const { connections: _c1, ...a } = main.stats;
    const { connections: _c2, ...b } = threaded.stats;
    assert.deepEqual(b, a, `seed ${seed}: stats`);
  }
});
