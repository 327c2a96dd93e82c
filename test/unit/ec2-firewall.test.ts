/**
 * Firewalls from channels on the ec2 driver (src/drivers/ec2/firewall.ts) against the EC2 Query
 * API stand-in (test/helpers/standin-ec2.ts, ./standin-ec2-groups.ts), built from the "Amazon
 * EC2 API Reference" (API 2016-11-15): CreateSecurityGroup, DescribeSecurityGroups,
 * AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress, DeleteSecurityGroup,
 * ModifyInstanceAttribute, and "Eventual consistency in the Amazon EC2 API" (a new group's id
 * answers InvalidGroup.NotFound for a while) and DependencyViolation (a group an instance still
 * uses, even one shutting down, cannot be deleted). Each test counts the requests the stand-in
 * RECEIVED: a change is sent as authorize/revoke of the difference, never as delete and create.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT } from '../../src/drivers/driver.js';
import { createEc2Driver, type Ec2Driver } from '../../src/drivers/ec2/index.js';
import { NubisError } from '../../src/errors/index.js';
import type { FirewallRule, FirewallSet } from '../../src/policy/index.js';
import { startEc2Standin, type Ec2Standin } from '../helpers/standin-ec2.js';
import { DEFAULT_GROUP } from '../helpers/standin-ec2-groups.js';
import { waitFor } from '../helpers/control-plane.js';

const AKID = 'AKIDFIREWALL0001';
const sig = (): AbortSignal => new AbortController().signal;
const tags = { [TAG_OWNER]: 'fw-test', [TAG_TENANT]: 'default', [TAG_DEPLOYMENT]: 'shop' };

function driverFor(s: Ec2Standin, dir: string): Ec2Driver {
  return createEc2Driver({
    cloud: 'aws',
    options: { region: 'eu-north-1', endpoint: s.url, imageId: 'ami-0a1b2c3d4e5f60001', instanceType: 't3.micro' },
    dataDir: dir,
    clock: createRealClock(),
    credentials: { accessKeyId: AKID, secretAccessKey: 'not-a-secret' },
  });
}

const rule = (port: number, ...sources: string[]): FirewallRule => ({ protocol: 'tcp', port, sources, needs: ['app.kv'] });
const setOf = (component: string, rules: FirewallRule[], members: { key: string; id: string; address: string }[]): FirewallSet => ({
  deployment: 'shop', component, cloud: 'aws', name: `nubis-shop-${component}`, rules, members, tags,
});

async function launch(d: Ec2Driver, key: string): Promise<{ key: string; id: string; address: string }> {
  const n = await d.create({ key, tags: { ...tags, [TAG_KEY]: key }, idempotencyToken: `${key}#1`, requirements: { cores: 1, memoryMiB: 512 } }, sig());
  return { key, id: n.id, address: n.address! };
}

/** Counts of the group calls received since `since` (an index into the request log). */
function sent(s: Ec2Standin, since = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of s.requests.slice(since)) {
    const a = l.split(' ')[2]!;
    if (/SecurityGroup|ModifyInstanceAttribute/.test(a)) out[a] = (out[a] ?? 0) + 1;
  }
  return out;
}

const groupNamed = (s: Ec2Standin, name: string) => [...s.securityGroups].find(([, g]) => g.name === name);

async function rejection(p: Promise<unknown>): Promise<NubisError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof NubisError, `expected a NubisError, got ${String(e)}`);
  return e;
}

describe('ec2 security groups from channels', () => {
  let s: Ec2Standin;
  let d: Ec2Driver;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubis-ec2fw-'));
    s = await startEc2Standin({ accessKeyId: AKID, transitionMs: 20 });
    d = driverFor(s, dir);
  });
  after(async () => {
    await d.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes one tagged group holding exactly the channel ports, adds it beside the members\' groups, and changes it by differences only', async () => {
    const kv = await launch(d, 'shop/kv-0');
    const set = setOf('kv', [rule(6379, '172.31.0.11/32', '172.31.0.12/32'), rule(9100, '10.0.0.0/8')], [kv]);
    let mark = s.requests.length;
    await d.applyFirewall!(set, sig());
    assert.deepEqual(sent(s, mark), { DescribeSecurityGroups: 1, CreateSecurityGroup: 1, AuthorizeSecurityGroupIngress: 1, ModifyInstanceAttribute: 1 });
    const [id, g] = groupNamed(s, 'nubis-shop-kv')!;
    assert.deepEqual([...g.rules].sort(), ['tcp 6379-6379 172.31.0.11/32', 'tcp 6379-6379 172.31.0.12/32', 'tcp 9100-9100 10.0.0.0/8']);
    assert.equal(g.tags.get(TAG_OWNER), 'fw-test');
    assert.equal(g.tags.get(TAG_DEPLOYMENT), 'shop');
    assert.deepEqual(s.instances().find((i) => i.instanceId === kv.id)!.groups, [DEFAULT_GROUP, id], 'added beside the group it had');

    // the same set again: read only
    mark = s.requests.length;
    await d.applyFirewall!(set, sig());
    assert.deepEqual(sent(s, mark), { DescribeSecurityGroups: 1 });

    // wiring changed: a consumer gone, a port added; someone opened ssh by hand
    s.securityGroups.get(id)!.rules.push('tcp 22-22 0.0.0.0/0', 'tcp 1000-2000 10.1.0.0/16');
    mark = s.requests.length;
    await d.applyFirewall!(setOf('kv', [rule(6379, '172.31.0.11/32'), rule(9100, '10.0.0.0/8'), rule(11211, '172.31.0.11/32')], [kv]), sig());
    assert.deepEqual(sent(s, mark), { DescribeSecurityGroups: 1, AuthorizeSecurityGroupIngress: 1, RevokeSecurityGroupIngress: 1 });
    const authorize = s.requests.slice(mark).find((l) => l.includes(' AuthorizeSecurityGroupIngress '))!;
    assert.match(authorize, /"IpPermissions\.1\.FromPort":"11211"/);
    assert.doesNotMatch(authorize, /IpPermissions\.2\./, 'only the missing permission is authorized');
    const revoke = s.requests.slice(mark).find((l) => l.includes(' RevokeSecurityGroupIngress '))!;
    assert.match(revoke, /IpPermissions\.3\./);
    assert.doesNotMatch(revoke, /IpPermissions\.4\./, 'only the three extra permissions are revoked');
    assert.deepEqual([...s.securityGroups.get(id)!.rules].sort(), ['tcp 11211-11211 172.31.0.11/32', 'tcp 6379-6379 172.31.0.11/32', 'tcp 9100-9100 10.0.0.0/8']);
    assert.equal(groupNamed(s, 'nubis-shop-kv')![0], id, 'the same group: never deleted and made again');

    // removed: off the member, then deleted; a second removal is done without a delete
    mark = s.requests.length;
    await d.removeFirewall!(set, sig());
    assert.deepEqual(sent(s, mark), { DescribeSecurityGroups: 1, ModifyInstanceAttribute: 1, DeleteSecurityGroup: 1 });
    assert.equal(groupNamed(s, 'nubis-shop-kv'), undefined);
    assert.deepEqual(s.instances().find((i) => i.instanceId === kv.id)!.groups, [DEFAULT_GROUP]);
    mark = s.requests.length;
    await d.removeFirewall!(set, sig());
    assert.deepEqual(sent(s, mark), { DescribeSecurityGroups: 1 });
    await d.delete(kv.id, sig());
  });

  it('a group nobody made and no members: apply makes an empty group, remove deletes it', async () => {
    const set = setOf('idle', [], []);
    await d.applyFirewall!(set, sig());
    assert.deepEqual(groupNamed(s, 'nubis-shop-idle')![1].rules, []);
    await d.removeFirewall!(set, sig());
    assert.equal(groupNamed(s, 'nubis-shop-idle'), undefined);
  });
});

describe('ec2 security groups: eventual consistency and dependencies', () => {
  it('InvalidGroup.NotFound right after CreateSecurityGroup is retryable and never makes a second group', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubis-ec2fw-'));
    const HIDDEN = 2;
    const s = await startEc2Standin({ accessKeyId: AKID, transitionMs: 20, groupHiddenCalls: HIDDEN });
    const d = driverFor(s, dir);
    try {
      const app = await launch(d, 'shop/app-0');
      const set = setOf('app', [rule(8080, '127.0.1.5/32')], [app]);
      const errors: NubisError[] = [];
      for (let attempt = 0; attempt < 10; attempt++) {
        const e = await d.applyFirewall!(set, sig()).then(() => undefined, (x: unknown) => x as NubisError);
        if (!e) break;
        errors.push(e);
      }
      assert.equal(errors.length, HIDDEN, 'each hidden answer failed one attempt');
      for (const e of errors) {
        assert.equal(e.code, 'CLOUD_NOT_FOUND');
        assert.equal(e.retryable, true);
        assert.equal((e.details as { notYetVisible?: boolean }).notYetVisible, true);
      }
      assert.equal(s.received('CreateSecurityGroup'), 1, 'one group made, whatever the retries');
      const [id, g] = groupNamed(s, 'nubis-shop-app')!;
      assert.deepEqual(g.rules, ['tcp 8080-8080 127.0.1.5/32']);
      assert.ok(s.instances().find((i) => i.instanceId === app.id)!.groups.includes(id));
      await d.removeFirewall!(set, sig());
      await d.delete(app.id, sig());
    } finally {
      await d.close();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('DeleteSecurityGroup while an instance shutting down still uses the group is a retryable DependencyViolation; it succeeds once the instance terminated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubis-ec2fw-'));
    const s = await startEc2Standin({ accessKeyId: AKID, transitionMs: 3000 });
    const d = driverFor(s, dir);
    try {
      const kv = await launch(d, 'shop/kv-0');
      await waitFor('kv running', () => s.instances().find((i) => i.instanceId === kv.id)?.state === 'running', 30_000);
      const set = setOf('kv', [rule(6379, '127.0.1.9/32')], [kv]);
      await d.applyFirewall!(set, sig());
      await d.delete(kv.id, sig());
      assert.equal(s.instances().find((i) => i.instanceId === kv.id)!.state, 'shutting-down');
      const e = await rejection(d.removeFirewall!(set, sig()));
      assert.equal(e.code, 'CLOUD_CONFLICT');
      assert.equal(e.retryable, true);
      assert.equal((e.details as { providerCode?: string }).providerCode, 'DependencyViolation');
      assert.ok(groupNamed(s, 'nubis-shop-kv'), 'the group is still there');
      await waitFor('kv terminated', () => s.instances().find((i) => i.instanceId === kv.id)?.state === 'terminated', 30_000);
      await d.removeFirewall!(set, sig());
      assert.equal(groupNamed(s, 'nubis-shop-kv'), undefined);
      assert.equal(s.received('DeleteSecurityGroup'), 2);
    } finally {
      await d.close();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
