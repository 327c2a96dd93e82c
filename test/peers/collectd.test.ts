/**
 * Real collectd (Debian package `collectd`) with its write_graphite plugin sending to a Graphite
 * listener from startGraphiteListener, and to a real `nubis serve --graphite-port`, read back
 * through `nubis metrics query`; in the foreground on a temp config with Interval 1.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startGraphiteListener, type Sample } from '../../src/metrics/index.js';
import { tempDir, waitFor } from '../unit/agent-test-helpers.js';
import { freePort, runCli, startServe, stopProcess } from '../helpers/processes.js';
import { ensureDebianPackage, startPeer } from '../helpers/peers-debian.js';

const COLLECTD = '/usr/sbin/collectd';

/** collectd in the foreground, every second, cpu/memory/load to write_graphite on 127.0.0.1:`port`. */
function collectdConf(dir: string, port: number): string {
  return `
Hostname "nubis-peer"
FQDNLookup false
Interval 1
BaseDir "${dir}"
PIDFile "${dir}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File STDOUT
</Plugin>
LoadPlugin cpu
LoadPlugin memory
LoadPlugin load
LoadPlugin write_graphite
<Plugin write_graphite>
  <Node "nubis">
    Host "127.0.0.1"
    Port "${port}"
    Protocol "tcp"
    Prefix "collectd."
    StoreRates true
    AlwaysAppendDS false
    EscapeCharacter "_"
  </Node>
</Plugin>
`;
}

test('collectd write_graphite samples arrive at the Graphite listener', { timeout: 900_000 }, async () => {
  ensureDebianPackage(COLLECTD, 'collectd');
  const samples: Sample[] = [];
  const listener = await startGraphiteListener({ port: 0, labels: { node: 'peer' }, onSamples: (s) => samples.push(...s) });
  const dir = tempDir('collectd');
  const conf = join(dir, 'collectd.conf');
  writeFileSync(conf, collectdConf(dir, listener.port));
  const peer = startPeer(COLLECTD, ['-C', conf, '-f']);
  try {
    const load = await waitFor('collectd load samples', () => samples.find((s) => s.name === 'collectd.nubis-peer.load.load.shortterm'), 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\ncollectd output:\n${peer.output()}\nnames so far: ${[...new Set(samples.map((s) => s.name))].slice(0, 20).join(', ')}`);
    });
    assert.ok(load.v >= 0);
    assert.deepEqual(load.labels, { node: 'peer' });
    assert.ok(Math.abs(load.t - Date.now()) < 120_000, 'collectd stamps with its own clock, in seconds');
    await waitFor('memory samples', () => samples.some((s) => /^collectd\.nubis-peer\.memory\.memory-used$/.test(s.name) && s.v > 0), 30_000);
    await waitFor('cpu samples', () => samples.some((s) => /^collectd\.nubis-peer\.cpu-0\.cpu-/.test(s.name)), 30_000);
    assert.equal(listener.stats().malformed, 0, listener.stats().lastMalformed);
  } finally {
    await peer.stop();
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(peer.child.exitCode !== null || peer.child.signalCode !== null, 'collectd stopped');
});

test('collectd write_graphite to nubis serve --graphite-port is visible through nubis metrics query', { timeout: 900_000 }, async () => {
  ensureDebianPackage(COLLECTD, 'collectd');
  const dir = tempDir('collectd-serve');
  const data = join(dir, 'data');
  const [port, graphitePort] = [await freePort(), await freePort()];
  const serve = await startServe(data, port, {}, ['--graphite-port', String(graphitePort)]);
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const conf = join(dir, 'collectd.conf');
  writeFileSync(conf, collectdConf(dir, graphitePort));
  const peer = startPeer(COLLECTD, ['-C', conf, '-f']);
  try {
    const query = async (expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const r = await runCli(['metrics', 'query', expr, '--output', 'json'], env);
      if (r.code !== 0) throw new Error(`nubis metrics query ${expr}: exit ${r.code}: ${r.stderr}`);
      const body = JSON.parse(r.stdout) as { status: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
      assert.equal(body.status, 'success');
      assert.equal(body.data.resultType, 'vector');
      return body.data.result;
    };
    const load = await waitFor('collectd load through nubis metrics query', async () => (await query('{__name__="collectd.nubis-peer.load.load.shortterm"}'))[0], 60_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}\ncollectd output:\n${peer.output()}`);
    });
    assert.equal(load.metric['__name__'], 'collectd.nubis-peer.load.load.shortterm');
    assert.ok(Number(load.value[1]) >= 0);
    assert.ok(Math.abs(load.value[0] * 1000 - Date.now()) < 120_000);
    const mem = await waitFor('memory-used', async () => (await query('{__name__="collectd.nubis-peer.memory.memory-used"} > 0'))[0], 30_000, 500);
    assert.ok(Number(mem.value[1]) > 0);
    const cpus = await waitFor('cpu series', async () => {
      const r = await query('count({__name__=~"collectd.nubis-peer.cpu-0.cpu-.*"})');
      return r[0] && Number(r[0].value[1]) > 0 ? r : undefined;
    }, 30_000, 500);
    assert.ok(Number(cpus[0]!.value[1]) >= 2, 'several cpu states');
    const self = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(self, /nubis_ingest_samples_total\{source="graphite"\} [1-9]/);
  } finally {
    await peer.stop();
    await stopProcess(serve);
    rmSync(dir, { recursive: true, force: true });
  }
});
