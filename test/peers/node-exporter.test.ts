/**
 * Real prometheus-node-exporter (Debian package of that name) on a free loopback port, scraped by
 * createScraper, and by a real `nubis serve` through a scrape target set with
 * `nubis metrics scrape set`, read back with `nubis metrics query`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createScraper, type Sample } from '../../src/metrics/index.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runCli, startServe, stopProcess } from '../helpers/processes.js';
import { tempDir, waitFor } from '../unit/agent-test-helpers.js';
import { ensureDebianPackage, startPeer } from '../helpers/peers-debian.js';

const EXPORTER = '/usr/bin/prometheus-node-exporter';

test('prometheus-node-exporter is scraped with labels', { timeout: 900_000 }, async () => {
  ensureDebianPackage(EXPORTER, 'prometheus-node-exporter');
  const port = await freePort();
  const peer = startPeer(EXPORTER, [`--web.listen-address=127.0.0.1:${port}`, '--no-collector.textfile']);
  const batches: Sample[][] = [];
  const scraper = createScraper({
    targets: [{ url: `http://127.0.0.1:${port}/metrics`, labels: { job: 'node', node: 'peer' } }],
    intervalMs: 1000,
    timeoutMs: 5000,
    onSamples: (s) => batches.push(s),
  });
  try {
    scraper.start();
    const batch = await waitFor('a successful scrape', () => batches.find((b) => b.some((s) => s.name === 'up' && s.v === 1)), 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\nstatus: ${JSON.stringify(scraper.status())}\nexporter output:\n${peer.output()}`);
    });
    const instance = `127.0.0.1:${port}`;
    const cpu = batch.filter((s) => s.name === 'node_cpu_seconds_total');
    assert.ok(cpu.length > 0, 'node_cpu_seconds_total present');
    assert.ok(cpu.every((s) => s.labels['cpu'] !== undefined && s.labels['mode'] !== undefined && s.labels['instance'] === instance && s.labels['job'] === 'node'));
    assert.ok(cpu.some((s) => s.labels['mode'] === 'idle' && s.v > 0));
    const mem = batch.find((s) => s.name === 'node_memory_MemTotal_bytes');
    assert.ok(mem && mem.v > 64 * 1024 * 1024, 'node_memory_MemTotal_bytes parsed');
    assert.deepEqual(mem.labels, { instance, job: 'node', node: 'peer' });
    const st = scraper.status()[0]!;
    assert.equal(st.malformed, 0, 'every exposition line parses');
    assert.ok(st.samples > 100);
    // a later scrape moves the CPU counters
    await waitFor('a second scrape', () => batches.filter((b) => b.some((s) => s.name === 'up' && s.v === 1)).length >= 2, 30_000);
  } finally {
    await scraper.stop();
    await peer.stop();
  }
  assert.ok(peer.child.exitCode !== null || peer.child.signalCode !== null, 'exporter stopped');
});

test('the control plane scrapes prometheus-node-exporter; nubis metrics query returns it', { timeout: 900_000 }, async () => {
  ensureDebianPackage(EXPORTER, 'prometheus-node-exporter');
  const [exporterPort, port] = [await freePort(), await freePort()];
  const peer = startPeer(EXPORTER, [`--web.listen-address=127.0.0.1:${exporterPort}`, '--no-collector.textfile']);
  const dir = tempDir('node-exporter-serve');
  const data = join(dir, 'data');
  const serve = await startServe(data, port, {}, ['--graphite-port', 'off']);
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  try {
    const set = await runCli(['metrics', 'scrape', 'set', 'node', '--url', `http://127.0.0.1:${exporterPort}/metrics`, '--interval', '1s', '--labels', 'job=node'], env);
    assert.equal(set.code, 0, set.stderr);
    const instance = `127.0.0.1:${exporterPort}`;
    const mem = await waitFor('node_memory_MemTotal_bytes through nubis metrics query', async () => {
      const r = await runCli(['metrics', 'query', 'node_memory_MemTotal_bytes', '--output', 'json'], env);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result[0];
    }, 60_000, 500).catch(async (e: Error) => {
      const l = await runCli(['metrics', 'scrape', 'list'], env);
      throw new Error(`${e.message}\nscrape list:\n${l.stdout}${l.stderr}\nexporter output:\n${peer.output()}`);
    });
    assert.deepEqual(mem.metric, { __name__: 'node_memory_MemTotal_bytes', instance, job: 'node' });
    assert.ok(Number(mem.value[1]) > 64 * 1024 * 1024);
    const cpu = await runCli(['metrics', 'query', 'count(node_cpu_seconds_total{mode="idle"}) > 0', '--output', 'json'], env);
    assert.equal(cpu.code, 0, cpu.stderr);
    assert.equal((JSON.parse(cpu.stdout) as { data: { result: unknown[] } }).data.result.length, 1);
    const list = await runCli(['metrics', 'scrape', 'list', '--output', 'json'], env);
    const t = (JSON.parse(list.stdout) as { targets: { name: string; status?: { up: boolean; malformed: number; samples: number } }[] }).targets[0]!;
    assert.equal(t.name, 'node');
    assert.equal(t.status?.up, true);
    assert.equal(t.status?.malformed, 0, 'every exposition line parses');
    assert.ok((t.status?.samples ?? 0) > 100);
  } finally {
    await stopProcess(serve);
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
