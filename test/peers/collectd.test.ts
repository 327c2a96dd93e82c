/**
 * Real collectd (Debian package `collectd`) with its write_graphite plugin sending to a Graphite
 * listener from startGraphiteListener, in the foreground on a temp config with Interval 1.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startGraphiteListener, type Sample } from '../../src/metrics/index.js';
import { tempDir, waitFor } from '../unit/agent-test-helpers.js';
import { ensureDebianPackage, startPeer } from '../helpers/peers-debian.js';

const COLLECTD = '/usr/sbin/collectd';

test('collectd write_graphite samples arrive at the Graphite listener', { timeout: 900_000 }, async () => {
  ensureDebianPackage(COLLECTD, 'collectd');
  const samples: Sample[] = [];
  const listener = await startGraphiteListener({ port: 0, labels: { node: 'peer' }, onSamples: (s) => samples.push(...s) });
  const dir = tempDir('collectd');
  const conf = join(dir, 'collectd.conf');
  writeFileSync(conf, `
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
    Port "${listener.port}"
    Protocol "tcp"
    Prefix "collectd."
    StoreRates true
    AlwaysAppendDS false
    EscapeCharacter "_"
  </Node>
</Plugin>
`);
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
