/**
 * Real prometheus-node-exporter (Debian package of that name) on a free loopback port, scraped by
 * createScraper.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createScraper, type Sample } from '../../src/metrics/index.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../unit/agent-test-helpers.js';
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
