/**
 * Metric ingest: Graphite plaintext (pure parser, stream parser across chunk boundaries, a real
 * TCP listener), Prometheus text exposition, the scrape loop against a local HTTP server, and
 * HTTP push bodies.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { NubisError } from '../../src/errors/index.js';
import {
  createGraphiteStreamParser, createScraper, GraphiteSources, parseGraphiteTenants, parseGraphiteLines, parsePrometheusText, parsePushBody, startGraphiteListener,
  type Sample,
} from '../../src/metrics/index.js';
import { createVirtualClock } from '../../src/clock/index.js';
import { waitFor } from './agent-test-helpers.js';

describe('graphite plaintext parser', () => {
  test('plain lines: path value timestamp, fractional seconds, absent timestamp is now', () => {
    const now = 1718000300000;
    const r = parseGraphiteLines('a.b.c 12.5 1718000000\nx.y 3 1718000000.25\n\nz 7\r\nw -1e3 -1\n', { now });
    assert.deepEqual(r.malformed, []);
    assert.deepEqual(r.samples, [
      { name: 'a.b.c', labels: {}, t: 1718000000000, v: 12.5 },
      { name: 'x.y', labels: {}, t: 1718000000250, v: 3 },
      { name: 'z', labels: {}, t: now, v: 7 },
      { name: 'w', labels: {}, t: now, v: -1000 },
    ]);
  });

  test('millisecond timestamps are read as such; larger ones are malformed; far-future samples are rejected and counted', () => {
    const now = 1718000000000;
    const r = parseGraphiteLines(['ms 1 1718000000123', 'us 2 1718000000123456', 's 3 1718000000', 'soon 4 1718000540', 'late 5 1718000601', 'late.ms 6 1718000601000'].join('\n'), { now });
    assert.deepEqual(r.samples.map((x) => [x.name, x.t]), [['ms', 1718000000123], ['s', 1718000000000], ['soon', 1718000540000]]);
    assert.equal(r.future, 2);
    assert.equal(r.malformed.length, 3);
    assert.match(r.malformed[1]!, /^late 5 .*more than 10 min ahead/);
  });

  test('tagged form becomes labels; listener labels win and the clash is kept as exported_*', () => {
    const r = parseGraphiteLines('cpu;host=web1;dc=eu 1 100\ncpu;node=n9 2 100', { labels: { node: 'n1' } });
    assert.deepEqual(r.malformed, []);
    assert.deepEqual(r.samples[0], { name: 'cpu', labels: { host: 'web1', dc: 'eu', node: 'n1' }, t: 100000, v: 1 });
    assert.deepEqual(r.samples[1]!.labels, { node: 'n1', exported_node: 'n9' });
  });

  test('nan and inf as carbon reads them', () => {
    const r = parseGraphiteLines('a nan 1\nb inf 1\nc -inf 1');
    assert.equal(r.malformed.length, 0);
    assert.ok(Number.isNaN(r.samples[0]!.v));
    assert.equal(r.samples[1]!.v, Infinity);
    assert.equal(r.samples[2]!.v, -Infinity);
  });

  test('malformed lines are counted and reported, the good ones kept', () => {
    const bad = [
      'onlyname',
      'a.b notanumber 1',
      'a.b 1 notatime',
      'a.b 1 2 3',
      'a.b 0x10 1',
      ';k=v 1 1',
      'cpu;novalue 1 1',
      'cpu;k= 1 1',
      'cpu;k=~x 1 1',
      'a\u0001b 1 1',
      'bad\ufffdutf8 1 1',
      'a.b 1 -5',
    ];
    const r = parseGraphiteLines(['good.one 1 1', ...bad, 'good.two 2 2'].join('\n'));
    assert.deepEqual(r.samples.map((s) => s.name), ['good.one', 'good.two']);
    assert.equal(r.malformed.length, bad.length);
    assert.ok(r.malformed.every((m) => !/[\x00-\x08\x0b-\x1f]/.test(m)), 'reported lines are printable');
  });

  test('the stream parser gives the same result however the bytes are cut', () => {
    const text = 'a.b 1 10\ncpu;host=h1 2 20\nbad line here x\nc 3 30\nd 4 40';
    const whole = parseGraphiteLines(text, { now: 5 });
    for (let cut = 1; cut < text.length; cut++) {
      const p = createGraphiteStreamParser();
      const buf = Buffer.from(text);
      const a = p.push(buf.subarray(0, cut), 5);
      const b = p.push(buf.subarray(cut), 5);
      const c = p.end(5);
      assert.deepEqual([...a.samples, ...b.samples, ...c.samples], whole.samples, `cut at ${cut}`);
      assert.equal(a.malformed.length + b.malformed.length + c.malformed.length, 1, `cut at ${cut}`);
    }
  });

  test('a multi-byte UTF-8 character split across chunks survives', () => {
    const p = createGraphiteStreamParser();
    const buf = Buffer.from('temp;room=küche 21 1\n');
    const at = buf.indexOf(0xc3) + 1; // inside ü
    const r1 = p.push(buf.subarray(0, at), 0);
    const r2 = p.push(buf.subarray(at), 0);
    assert.deepEqual([...r1.samples, ...r2.samples][0]!.labels, { room: 'küche' });
  });

  test('over-long lines are dropped once and skipped without buffering, the next line parses', () => {
    const p = createGraphiteStreamParser({ maxLineBytes: 100 });
    const long = 'x'.repeat(1000);
    const r1 = p.push(Buffer.from(`ok.a 1 1\n${long.slice(0, 400)}`), 0);
    const r2 = p.push(Buffer.from(long.slice(400)), 0);
    const r3 = p.push(Buffer.from(' 1 1\nok.b 2 2\n'), 0);
    const samples = [...r1.samples, ...r2.samples, ...r3.samples];
    assert.deepEqual(samples.map((s) => s.name), ['ok.a', 'ok.b']);
    assert.equal(r1.malformed.length + r2.malformed.length + r3.malformed.length, 1);
    assert.match(r1.malformed[0]!, /longer than 100 bytes/);
  });
});

function send(port: number, chunks: (string | Buffer)[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', async () => {
      for (const c of chunks) {
        s.write(c);
        await new Promise((r) => setImmediate(r));
      }
      s.end();
    });
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

describe('graphite TCP listener', () => {
  test('accepts lines over real TCP in batches, counts malformed and binary junk, stays up', async () => {
    const got: Sample[][] = [];
    const l = await startGraphiteListener({ port: 0, labels: { node: 'n1' }, onSamples: (s) => got.push(s) });
    try {
      const lines = Array.from({ length: 2000 }, (_, i) => `load.${i % 10} ${i} 1718000000`).join('\n') + '\n';
      await send(l.port, [lines.slice(0, 777), lines.slice(777, 20000), lines.slice(20000)]);
      await send(l.port, [Buffer.from([0, 1, 2, 0xff, 0xfe, 10]), 'bad line\n', 'cpu;host=h 5\n', 'x'.repeat(100_000), '\nlast.one 9 1']);
      await waitFor('all samples', () => l.stats().accepted === 2002);
      const all = got.flat();
      assert.equal(all.length, 2002);
      assert.ok(got.length < 2000 / 10, `delivered in batches, not per line (${got.length} calls)`);
      assert.deepEqual(all[0], { name: 'load.0', labels: { node: 'n1' }, t: 1718000000000, v: 0 });
      const tagged = all.find((s) => s.name === 'cpu')!;
      assert.deepEqual(tagged.labels, { host: 'h', node: 'n1' });
      assert.equal(all[all.length - 1]!.name, 'last.one', 'a last line without newline counts at end of stream');
      const st = l.stats();
      assert.equal(st.malformed, 3, JSON.stringify(st));
      assert.ok(st.lastMalformed !== undefined && st.recentMalformed.length === 3);
      assert.ok(st.recentMalformed[0]!.includes('\\x00'), 'binary junk reported printable');
      // still serving after all that
      await send(l.port, ['after.junk 1 1\n']);
      await waitFor('still accepting', () => l.stats().accepted === 2003);
    } finally {
      await l.close();
    }
  });

  test('a consumer that throws does not stop the listener', async () => {
    let calls = 0;
    const l = await startGraphiteListener({
      port: 0,
      onSamples: () => {
        calls++;
        throw new Error('boom');
      },
    });
    try {
      await send(l.port, ['a 1 1\n']);
      await send(l.port, ['b 1 1\n']);
      await waitFor('two deliveries', () => calls === 2);
      assert.equal(l.stats().deliveryErrors, 2);
    } finally {
      await l.close();
    }
  });

  test('a port in use is a clear startup error', async () => {
    const a = await startGraphiteListener({ port: 0, onSamples: () => {} });
    try {
      await assert.rejects(startGraphiteListener({ port: a.port, onSamples: () => {} }), new RegExp(`127.0.0.1:${a.port}`));
    } finally {
      await a.close();
    }
  });
});

describe('prometheus text parser', () => {
  const text = [
    '# HELP http_requests_total The total number of HTTP requests.',
    '# TYPE http_requests_total counter',
    'http_requests_total{method="post",code="200"} 1027 1395066363000',
    'http_requests_total{method="post",code="400"}    3 1395066363000',
    '',
    '# A normal comment.',
    'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
    'metric_without_timestamp_and_labels 12.47',
    'something_weird{problem="division by zero"} +Inf -3982045',
    'not_a_number NaN',
    'neg_inf -Inf',
    'trailing_comma{a="1",} 1',
    'empty_braces{} 2',
    '# TYPE rpc_duration_seconds summary',
    'rpc_duration_seconds{quantile="0.5"} 4773',
    'rpc_duration_seconds_sum 1.7560473e+07',
    'rpc_duration_seconds_count 2693',
    'http_request_duration_seconds_bucket{le="+Inf"} 144320',
    'colon:name:x 1',
  ].join('\n');

  test('parses the exposition example with escapes, NaN/Inf, timestamps, histograms as series', () => {
    const r = parsePrometheusText(text, { now: 7 });
    assert.deepEqual(r.malformed, []);
    const by = (n: string): Sample[] => r.samples.filter((s) => s.name === n);
    assert.deepEqual(by('http_requests_total')[0], { name: 'http_requests_total', labels: { method: 'post', code: '200' }, t: 1395066363000, v: 1027 });
    assert.deepEqual(by('msdos_file_access_time_seconds')[0]!.labels, { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    assert.equal(by('metric_without_timestamp_and_labels')[0]!.t, 7);
    assert.equal(by('something_weird')[0]!.v, Infinity);
    assert.equal(by('something_weird')[0]!.t, -3982045);
    assert.ok(Number.isNaN(by('not_a_number')[0]!.v));
    assert.equal(by('neg_inf')[0]!.v, -Infinity);
    assert.deepEqual(by('trailing_comma')[0]!.labels, { a: '1' });
    assert.deepEqual(by('empty_braces')[0]!.labels, {});
    assert.deepEqual(by('rpc_duration_seconds')[0]!.labels, { quantile: '0.5' });
    assert.equal(by('rpc_duration_seconds_count')[0]!.v, 2693);
    assert.deepEqual(by('http_request_duration_seconds_bucket')[0]!.labels, { le: '+Inf' });
    assert.equal(by('colon:name:x').length, 1);
  });

  test('target labels win; the clash is kept as exported_*', () => {
    const r = parsePrometheusText('m{instance="inner",a="b"} 1', { labels: { instance: 'h:1' } });
    assert.deepEqual(r.samples[0]!.labels, { instance: 'h:1', exported_instance: 'inner', a: 'b' });
  });

  test('malformed lines are reported and the rest kept', () => {
    const bad = ['m{a="1" 1', 'm{a=1} 1', 'm{a="1",a="2"} 1', 'm 1 2 3', 'm abc', '9m 1', 'm{a="unterminated} 1', 'm.5 1', 'm 1 1.5', 'm{1a="x"} 1', 'm'];
    const r = parsePrometheusText(['ok 1', ...bad, 'ok2 2'].join('\n'));
    assert.deepEqual(r.samples.map((s) => s.name), ['ok', 'ok2']);
    assert.equal(r.malformed.length, bad.length, JSON.stringify(r.malformed));
  });
});

describe('scraper', () => {
  async function serve(handler: (path: string) => { status: number; body: string } | 'hang'): Promise<{ server: Server; base: string }> {
    const server = createServer((req, res) => {
      const r = handler(req.url ?? '/');
      if (r === 'hang') return;
      res.writeHead(r.status, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(r.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  test('scrapes targets each interval on a virtual clock, adds up per target, survives failures', async () => {
    let hits = 0;
    // the scrape loop and this server share a process; a loaded machine must not time out /metrics
    const { server, base } = await serve((path) => {
      if (path === '/metrics') {
        hits++;
        return { status: 200, body: `# TYPE node_load1 gauge\nnode_load1 ${hits}\nnode_cpu_seconds_total{cpu="0",mode="idle"} 100.5\nbroken{\n` };
      }
      if (path === '/slow') return 'hang';
      return { status: 500, body: 'no' };
    });
    const clock = createVirtualClock(1_000_000);
    const batches: Sample[][] = [];
    const scraper = createScraper({
      targets: [{ url: `${base}/metrics`, labels: { job: 'node' } }, { url: `${base}/fail` }, { url: `${base}/slow` }],
      intervalMs: 15_000,
      timeoutMs: 2000,
      clock,
      onSamples: (s) => batches.push(s),
    });
    try {
      scraper.start();
      await waitFor(`first round: 2 fast results and the slow one timed out (have ${batches.length})`, () => batches.length >= 3, 30_000);
      assert.equal(batches.length, 3, 'one batch per target');
      const host = new URL(base).host;
      const ok = batches.flat().filter((s) => s.labels['job'] === 'node');
      assert.deepEqual(ok.find((s) => s.name === 'node_load1'), { name: 'node_load1', labels: { job: 'node', instance: host }, t: 1_000_000, v: 1 });
      assert.deepEqual(ok.find((s) => s.name === 'node_cpu_seconds_total')!.labels, { job: 'node', instance: host, cpu: '0', mode: 'idle' });
      const ups = batches.flat().filter((s) => s.name === 'up').map((s) => [s.labels['instance'], s.v]);
      assert.equal(ups.filter(([, v]) => v === 1).length, 1);
      assert.equal(ups.filter(([, v]) => v === 0).length, 2);
      const st = scraper.status();
      assert.equal(st[0]!.samples, 2);
      assert.equal(st[0]!.malformed, 1);
      assert.equal(st[1]!.lastError, 'HTTP 500');
      assert.match(st[2]!.lastError!, /timed out/);
      assert.equal(hits, 1, 'nothing more until the clock moves');
      await clock.advance(15_000);
      await waitFor('second round', () => batches.length === 6);
      assert.equal(hits, 2);
      assert.ok(batches.slice(3).flat().every((s) => s.t === 1_015_000));
      // targets change at run time
      scraper.setTargets([{ url: `${base}/metrics` }]);
      await clock.advance(15_000);
      await waitFor('third round', () => batches.length === 7);
      assert.equal(scraper.status().length, 1);
    } finally {
      await scraper.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('a bad target URL is REQUEST_INVALID', () => {
    assert.throws(() => createScraper({ targets: [{ url: 'ftp://x/metrics' }], intervalMs: 1000, onSamples: () => {} }), (e: unknown) => e instanceof NubisError && e.code === 'REQUEST_INVALID');
  });
});

describe('push bodies', () => {
  test('text/plain is Graphite lines with malformed counted', () => {
    const r = parsePushBody('text/plain; charset=utf-8', 'a 1 1\nbad\n', { now: 3, labels: { node: 'n' } });
    assert.deepEqual(r.samples, [{ name: 'a', labels: { node: 'n' }, t: 1000, v: 1 }]);
    assert.equal(r.malformed.length, 1);
  });

  test('JSON samples with defaults and special values', () => {
    const r = parsePushBody('application/json', JSON.stringify({ samples: [{ name: 'q.len', labels: { q: 'in' }, v: 3 }, { name: 'x', t: 5, v: '+Inf' }] }), { now: 9 });
    assert.deepEqual(r.samples, [{ name: 'q.len', labels: { q: 'in' }, t: 9, v: 3 }, { name: 'x', labels: {}, t: 5, v: Infinity }]);
  });

  test('JSON errors name the path; nothing is accepted', () => {
    const cases: [unknown, string][] = [
      [[], '$'],
      [{}, '$.samples'],
      [{ samples: [{ name: 'a', v: 1 }, { name: '', v: 1 }] }, '$.samples[1].name'],
      [{ samples: [{ name: 'a', v: 'high' }] }, '$.samples[0].v'],
      [{ samples: [{ name: 'a' }] }, '$.samples[0].v'],
      [{ samples: [{ name: 'a', v: 1, labels: { 'bad-name': 'x' } }] }, '$.samples[0].labels.bad-name'],
      [{ samples: [{ name: 'a', v: 1, labels: { k: 1 } }] }, '$.samples[0].labels.k'],
      [{ samples: [{ name: 'a', v: 1, t: 'yesterday' }] }, '$.samples[0].t'],
      [{ samples: [{ name: 'a', v: 1, extra: true }] }, '$.samples[0].extra'],
    ];
    for (const [doc, path] of cases) {
      assert.throws(() => parsePushBody('application/json', JSON.stringify(doc)), (e: unknown) => {
        assert.ok(e instanceof NubisError);
        assert.equal(e.code, 'REQUEST_INVALID');
        assert.deepEqual(e.details, { path });
        assert.ok(e.message.startsWith(`${path}: `), e.message);
        return true;
      });
    }
    assert.throws(() => parsePushBody('application/json', '{nope'), /body is not JSON/);
    assert.throws(() => parsePushBody('application/xml', '<a/>'), (e: unknown) => e instanceof NubisError && e.code === 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('graphite listener: sources and tenants', () => {
  test('--graphite-tenants text parses; bad networks are named', () => {
    assert.deepEqual(parseGraphiteTenants('10.0.0.0/8=acme, 192.168.1.7=beta,fd00::/8=gamma'), [
      { cidr: '10.0.0.0/8', tenant: 'acme' },
      { cidr: '192.168.1.7', tenant: 'beta' },
      { cidr: 'fd00::/8', tenant: 'gamma' },
    ]);
    assert.throws(() => parseGraphiteTenants('10.0.0.0/33=a'), /prefix length/);
    assert.throws(() => parseGraphiteTenants('nonsense=a'), /not a network/);
    assert.throws(() => parseGraphiteTenants('10.0.0.0/8'), /expected <network>=<tenant>/);
    const src = new GraphiteSources(parseGraphiteTenants('10.0.0.0/8=acme,10.1.0.0/16=other'), 'default');
    assert.equal(src.tenantOf('10.1.2.3'), 'acme', 'the first rule wins');
    assert.equal(src.tenantOf('::ffff:10.9.9.9'), 'acme', 'IPv4-mapped IPv6');
    assert.equal(src.tenantOf('127.0.0.1'), 'default');
    assert.equal(src.tenantOf('::1'), 'default');
    assert.equal(src.tenantOf('192.168.0.1'), undefined);
  });

  test('a sender is written into its network\'s tenant; an unmapped sender is disconnected and counted', async () => {
    const got: { tenant: string | undefined; names: string[] }[] = [];
    const l = await startGraphiteListener({
      port: 0,
      sources: new GraphiteSources([{ cidr: '127.0.0.2/32', tenant: 'acme' }]),
      onSamples: (s, tenant) => got.push({ tenant, names: s.map((x) => x.name) }),
      now: () => 1718000000000,
    });
    try {
      const send = (localAddress: string, text: string): Promise<void> =>
        new Promise((resolve) => {
          const s: Socket = connect({ port: l.port, host: '127.0.0.1', localAddress }, () => s.end(text));
          s.on('error', () => resolve());
          s.on('close', () => resolve());
        });
      await send('127.0.0.2', 'from.acme 1 1718000000\nfuture 1 1718009999\n');
      await send('127.0.0.1', 'from.nobody 1 1718000000\n');
      await waitFor('one refused connection and one sample', () => l.stats().refusedConnections === 1 && l.stats().accepted === 1);
      assert.deepEqual(got, [{ tenant: 'acme', names: ['from.acme'] }]);
      assert.equal(l.stats().future, 1);
      assert.equal(l.stats().malformed, 0);
    } finally {
      await l.close();
    }
  });
});
