/**
 * Firewalls from channels on the sim (a real control plane; the sim records what each firewall
 * call left in the cloud): only channel ports are open, from the consumers' addresses; `open`
 * adds outside sources; a scale-out changes the sources, a new channel adds a rule, and a
 * destroy removes every set before it ends. Each change is an intent row first and a
 * `driver.call` event per attempt, and a `firewall.applied` event after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { simFirewalls } from '../../src/drivers/index.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';

const spec = (simPath: string, apps: number, withCache: boolean): string => `name: shop
clouds:
  sim: { platform: sim, options: { path: ${JSON.stringify(simPath)} } }
nodeTemplates:
  t: { cloud: sim }
components:
  kv:
    nodeTemplate: t
    provides: { kv: { port: 6379 }, admin: { port: 9999 } }
    lifecycle: { start: run }
${withCache ? `  cache:
    nodeTemplate: t
    provides: { mc: { port: 11211 } }
    lifecycle: { start: run }
` : ''}  app:
    nodeTemplate: t
    instances: { count: ${apps}, max: 10 }
    provides: { http: { port: 8080 } }
    requires:
      kv: { component: kv, port: kv }
${withCache ? '      cache: { component: cache, port: mc }\n' : ''}    lifecycle: { start: run }
  lb:
    nodeTemplate: t
    provides: { web: { port: 80 } }
    requires: { backends: { component: app, port: http } }
    lifecycle: { start: run, update: reload }
firewall:
  open: { lb: { web: [0.0.0.0/0] } }
`;

test('sim: the firewalls hold exactly the channel ports from the consumers, follow scale and new channels, and go with the destroy', { timeout: 300_000 }, async () => {
  const dir = tempDir('nubis-fw-sim-');
  const simPath = path.join(dir, 'sim.db');
  const cp = await startControlPlane(dir, { engine: { pollIntervalMs: 10, sweepIntervalMs: 60_000 } });
  try {
    const caller = { actor: 'user:test', tenant: 'default' };
    const rulesOf = (name: string) => simFirewalls(simPath).get(name)?.rules.map((r) => `${r.port}<${r.sources.join(',')}`);
    const addrs = (component: string) => [...cp.engine.nodes.values()].filter((n) => n.key.startsWith(`shop/${component}-`) && n.observed?.address).map((n) => `${n.observed!.address}/32`).sort();
    const settled = async (apps: number, cache: boolean) => waitFor('firewalls to settle', () => {
      const appAddrs = addrs('app');
      if (appAddrs.length !== apps) return false;
      const want = { kv: [`6379<${appAddrs.join(',')}`], app: [`8080<${addrs('lb').join(',')}`], lb: ['80<0.0.0.0/0'], ...(cache ? { cache: [`11211<${appAddrs.join(',')}`] } : {}) };
      for (const [c, rules] of Object.entries(want)) if (JSON.stringify(rulesOf(`nubis-shop-${c}`)) !== JSON.stringify(rules)) return false;
      return true;
    }, 120_000);

    await cp.apply({ spec: spec(simPath, 2, false), file: 'shop.yaml' }, caller);
    await settled(2, false);
    // the admin port no channel uses is in no rule; lb's consumers are outside (open), app's are lb
    assert.deepEqual(simFirewalls(simPath).get('nubis-shop-kv')!.rules.map((r) => r.port), [6379]);
    assert.deepEqual(simFirewalls(simPath).get('nubis-shop-kv')!.rules[0]!.needs, ['app.kv']);
    assert.equal(simFirewalls(simPath).get('nubis-shop-kv')!.members.length, 1);
    // every apply is one cloud call with its event; the applied event follows the call's (wait for the last one's)
    await waitFor('each applyFirewall call to have its firewall.applied', async () => {
      const applied = await cp.events.list({ deployment: 'shop', kind: 'firewall.applied' });
      const calls = (await cp.events.list({ kind: 'driver.call', limit: 10_000 })).filter((e) => e.target?.startsWith('firewall:shop/') && (e.data as { op?: string }).op === 'applyFirewall');
      return applied.length >= 4 && calls.length === applied.length;
    }, 30_000);

    // scale out: kv's sources follow the app instances
    await cp.scale('shop', 'app', 3, caller);
    await settled(3, false);

    // a new channel: cache gets a set with its port, and kv keeps its own
    await cp.apply({ spec: spec(simPath, 3, true), file: 'shop.yaml' }, caller);
    await settled(3, true);

    await cp.destroy('shop', caller);
    await waitFor('destroy to end', async () => (await cp.events.list({ deployment: 'shop', kind: 'deployment.destroyed' })).length > 0, 120_000);
    assert.equal(simFirewalls(simPath).size, 0, 'no firewall left in the cloud');
    const removed = await cp.events.list({ deployment: 'shop', kind: 'firewall.removed' });
    assert.equal(removed.length, 4);
    const destroyed = (await cp.events.list({ deployment: 'shop', kind: 'deployment.destroyed' }))[0]!;
    assert.ok(removed.every((e) => e.id < destroyed.id), 'firewalls are removed before the destroy ends');
  } finally {
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
