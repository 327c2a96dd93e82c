/**
 * Firewalls from channels on a real OpenStack (the loopback peer or any cloud named by
 * NUBIS_OPENSTACK / OS_* variables, test/helpers/openstack-env.ts): two servers, a provider and
 * a consumer; the set the firewall rules give for a channel is applied through the openstack
 * driver, and the Neutron security group then holds exactly the channel port from the consumer's
 * address (the unused admin port nowhere), is on the provider's port, changes when a second
 * consumer arrives (a wiring change), and is gone after removal. The Neutron calls sent are
 * counted from the driver's request records. Without a cloud in the environment the test is
 * skipped with the reason (how to provide one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, type CloudNode, type CreateNodeRequest } from '../../src/drivers/index.js';
import type { RequestRecord } from '../../src/drivers/openstack/index.js';
import { firewallSets, type FirewallSet } from '../../src/policy/index.js';
import { tempDir } from '../helpers/control-plane.js';
import { openStackDriver, readOpenStackEnv } from '../helpers/openstack-env.js';

const found = readOpenStackEnv();
const sig = (): AbortSignal => AbortSignal.timeout(300_000);

test('openstack: the security group of a component holds exactly its channel ports from the consumers, follows the wiring, and goes on removal', {
  timeout: 600_000,
  ...('error' in found ? { skip: `no OpenStack cloud in the environment: ${found.error}` } : {}),
}, async () => {
  if ('error' in found) return;
  const records: RequestRecord[] = [];
  const d = openStackDriver(found, tempDir('nubis-os-fw-'), { onRequest: (r: RequestRecord) => records.push(r) });
  const run = `fw-${randomUUID().slice(0, 8)}`;
  const owner = `nubis-test-${run}`;
  const made: CloudNode[] = [];
  const req = (name: string): CreateNodeRequest => {
    const key = `${run}/${name}`;
    return { key, tags: { [TAG_OWNER]: owner, [TAG_DEPLOYMENT]: run, [TAG_KEY]: key }, idempotencyToken: `${key}#${randomUUID()}`, requirements: {} };
  };
  const running = async (n: CloudNode): Promise<CloudNode> => {
    for (;;) {
      const cur = await d.get(n.id, sig());
      if (cur?.status === 'running' && cur.address) return cur;
      assert.notEqual(cur?.status, 'error', `server ${n.id} failed`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  let set: FirewallSet | undefined;
  try {
    const kv = await running(await d.create(req('kv-1'), sig()).then((n) => (made.push(n), n)));
    const app1 = await running(await d.create(req('app-1'), sig()).then((n) => (made.push(n), n)));
    const setFor = (apps: CloudNode[]): FirewallSet => firewallSets({
      deployment: run, tags: { [TAG_OWNER]: owner, [TAG_DEPLOYMENT]: run },
      components: { kv: { requires: {} }, app: { requires: { kv: { component: 'kv', port: 'kv' } } } },
      open: {},
      instances: [
        { key: `${run}/kv-1`, component: 'kv', cloud: 'os', id: kv.id, address: kv.address! },
        ...apps.map((a, i) => ({ key: `${run}/app-${i + 1}`, component: 'app', cloud: 'os', id: a.id, address: a.address! })),
      ],
      portOf: (c, p) => (c === 'kv' ? ({ kv: 6379, admin: 9999 } as Record<string, number>)[p] : undefined),
      supports: () => true,
    }).find((s) => s.component === 'kv')!;
    const groupRules = async (name: string) => {
      const g = (await d.networks.listSecurityGroups({ name }, sig())).find((x) => x.name === name);
      return g && { id: g.id, rules: (g.security_group_rules ?? []).filter((r) => r.direction === 'ingress').map((r) => `${r.protocol} ${r.port_range_min}-${r.port_range_max} ${r.remote_ip_prefix}`).sort() };
    };

    set = setFor([app1]);
    await d.applyFirewall!(set, sig());
    const g1 = await groupRules(set.name);
    assert.ok(g1, 'the security group exists');
    assert.deepEqual(g1.rules, [`tcp 6379-6379 ${app1.address}/32`], 'exactly the channel port from the consumer');
    const ports = await d.networks.ports({ deviceId: kv.id }, sig());
    assert.ok(ports.length > 0 && ports.every((p) => p.security_groups?.includes(g1.id)), 'the group is on every port of the provider');
    const sent = records.filter((r) => r.service === 'network' && r.method !== 'GET');
    assert.equal(sent.filter((r) => r.method === 'POST' && r.path.startsWith('/v2.0/security-group-rules')).length, 1, 'one rule was sent');

    // wiring change: a second consumer; applying again adds its rule and sends nothing else for the first
    const app2 = await running(await d.create(req('app-2'), sig()).then((n) => (made.push(n), n)));
    records.length = 0;
    set = setFor([app1, app2]);
    await d.applyFirewall!(set, sig());
    assert.deepEqual((await groupRules(set.name))!.rules, [`tcp 6379-6379 ${app1.address}/32`, `tcp 6379-6379 ${app2.address}/32`].sort());
    assert.equal(records.filter((r) => r.method === 'POST' && r.path.startsWith('/v2.0/security-group-rules')).length, 1);
    assert.equal(records.filter((r) => r.method === 'DELETE').length, 0);
    // back to one consumer: the other's rule is deleted
    set = setFor([app2]);
    await d.applyFirewall!(set, sig());
    assert.deepEqual((await groupRules(set.name))!.rules, [`tcp 6379-6379 ${app2.address}/32`]);

    await d.removeFirewall!(set, sig());
    assert.equal(await groupRules(set.name), undefined, 'no security group left');
    set = undefined;
  } finally {
    if (set) await d.removeFirewall!(set, sig()).catch(() => undefined);
    for (const n of made) await d.delete(n.id, sig()).catch(() => undefined);
    await d.close();
  }
});
