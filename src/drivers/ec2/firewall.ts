/**
 * Firewalls from channels on EC2: one security group per deployment and component
 * (`nubis-<deployment>-<component>`, tagged with the set's owner, tenant and deployment tags in
 * the create itself), whose ingress permissions are exactly the set's rules: tcp on the channel
 * port from each source CIDR. Applying sends the difference only — AuthorizeSecurityGroupIngress
 * of the missing permissions first, then RevokeSecurityGroupIngress of the extra ones (never a
 * moment with fewer than both; nothing is deleted and made again) — then adds the group to each
 * member instance's groups (ModifyInstanceAttribute, beside the groups it has). Removing takes
 * the group off the members that remain and deletes it; a group already gone is done.
 *
 * Awkward parts of EC2 ("Eventual consistency in the Amazon EC2 API"): right after
 * CreateSecurityGroup the new id may be unknown (InvalidGroup.NotFound) and name filters may not
 * show it. For `visibilityGraceMs` after this driver made a group it keeps using its id, and a
 * NotFound for it is a retryable CLOUD_NOT_FOUND (details.notYetVisible), never "gone" nor a
 * reason to create a second one. DeleteSecurityGroup while an instance still uses the group
 * (one shutting down does) fails with DependencyViolation: a retryable CLOUD_CONFLICT; the
 * runtime and the firewalls controller retry until the instance has terminated.
 */
import {
  AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, DeleteSecurityGroupCommand, DescribeInstancesCommand,
  DescribeSecurityGroupsCommand, ModifyInstanceAttributeCommand, RevokeSecurityGroupIngressCommand,
  type EC2Client, type Filter, type Instance, type IpPermission, type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { NubisError } from '../../errors/index.js';
import type { FirewallRule, FirewallSet } from '../../policy/index.js';
import type { Driver } from '../driver.js';

export interface Ec2FirewallDeps {
  client: EC2Client;
  /** The driver's call wrapper: abort check and error classification. */
  call<T>(what: string, signal: AbortSignal, run: () => Promise<T>): Promise<T>;
  now(): number;
  visibilityGraceMs: number;
}

/** `tcp <port> <cidr>`: how a permission is compared between the set and the group. */
const ruleId = (port: number, cidr: string): string => `tcp ${port} ${cidr}`;

interface Want { port: number; cidr: string }

function wantedRules(rules: readonly FirewallRule[]): Map<string, Want> {
  const out = new Map<string, Want>();
  for (const r of rules) for (const cidr of r.sources) out.set(ruleId(r.port, cidr), { port: r.port, cidr });
  return out;
}

/** One permission per (protocol, ports, source) the group holds, keyed like `wantedRules` when it is a single-port tcp one. */
export function heldPermissions(perms: readonly IpPermission[] | undefined): Map<string, IpPermission> {
  const out = new Map<string, IpPermission>();
  let other = 0;
  for (const p of perms ?? []) {
    const single = p.IpProtocol === 'tcp' && p.FromPort !== undefined && p.FromPort === p.ToPort;
    const base = { IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort };
    for (const r of p.IpRanges ?? []) if (r.CidrIp) out.set(single ? ruleId(p.FromPort!, r.CidrIp) : `other ${other++}`, { ...base, IpRanges: [{ CidrIp: r.CidrIp }] });
    for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) out.set(single ? ruleId(p.FromPort!, r.CidrIpv6) : `other ${other++}`, { ...base, Ipv6Ranges: [{ CidrIpv6: r.CidrIpv6 }] });
    // sources that are other groups or prefix lists are not ours to keep either
    for (const g of p.UserIdGroupPairs ?? []) out.set(`other ${other++}`, { ...base, UserIdGroupPairs: [g] });
    for (const l of p.PrefixListIds ?? []) out.set(`other ${other++}`, { ...base, PrefixListIds: [l] });
  }
  return out;
}

const permissionOf = (w: Want): IpPermission =>
  w.cidr.includes(':')
    ? { IpProtocol: 'tcp', FromPort: w.port, ToPort: w.port, Ipv6Ranges: [{ CidrIpv6: w.cidr, Description: 'nubis channel' }] }
    : { IpProtocol: 'tcp', FromPort: w.port, ToPort: w.port, IpRanges: [{ CidrIp: w.cidr, Description: 'nubis channel' }] };

const providerCode = (e: unknown): string | undefined => (e instanceof NubisError ? (e.details as { providerCode?: string } | undefined)?.providerCode : undefined);

export function ec2FirewallCalls(deps: Ec2FirewallDeps): Required<Pick<Driver, 'applyFirewall' | 'removeFirewall'>> {
  const { client, call } = deps;
  /** Groups this driver made, by name: id and when, for the eventual-consistency window. */
  const made = new Map<string, { id: string; at: number }>();
  const fresh = (name: string): { id: string; at: number } | undefined => {
    const m = made.get(name);
    if (m && deps.now() - m.at > deps.visibilityGraceMs) made.delete(name);
    return made.get(name);
  };
  const notYetVisible = (name: string, id: string, what: string): NubisError =>
    new NubisError('CLOUD_NOT_FOUND', `ec2 ${what} ${name}: the security group ${id} was made moments ago and is not visible yet (EC2 eventual consistency); retry`, {
      retryable: true,
      details: { providerCode: 'InvalidGroup.NotFound', notYetVisible: true, groupId: id },
    });
  /** Runs `send`; a NotFound for a group made within the window becomes retryable. */
  async function onGroup<T>(name: string, id: string, what: string, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
    try {
      return await call(`${what} ${name}`, signal, send);
    } catch (e) {
      if (providerCode(e) === 'InvalidGroup.NotFound' && fresh(name)?.id === id) throw notYetVisible(name, id, what);
      throw e;
    }
  }

  async function describeGroup(name: string, vpcId: string | undefined, signal: AbortSignal): Promise<SecurityGroup | undefined> {
    const m = fresh(name);
    if (m) {
      const res = await onGroup(name, m.id, 'describe security group', signal, () =>
        client.send(new DescribeSecurityGroupsCommand({ GroupIds: [m.id] }), { abortSignal: signal }));
      return res.SecurityGroups?.find((g) => g.GroupId === m.id);
    }
    const filters: Filter[] = [{ Name: 'group-name', Values: [name] }];
    if (vpcId) filters.push({ Name: 'vpc-id', Values: [vpcId] });
    const res = await call(`describe security group ${name}`, signal, () => client.send(new DescribeSecurityGroupsCommand({ Filters: filters }), { abortSignal: signal }));
    return res.SecurityGroups?.find((g) => g.GroupName === name);
  }

  /** The members as EC2 describes them now, terminated ones left out; a member not listed at all is not visible yet (retryable). */
  async function liveMembers(set: FirewallSet, signal: AbortSignal, mustSee: boolean): Promise<Instance[]> {
    if (set.members.length === 0) return [];
    const ids = set.members.map((m) => m.id);
    const res = await call(`describe firewall members ${set.name}`, signal, () =>
      client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }] }), { abortSignal: signal }));
    const found = (res.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    const missing = ids.filter((id) => !found.some((i) => i.InstanceId === id));
    if (mustSee && missing.length) {
      throw new NubisError('CLOUD_NOT_FOUND', `ec2 firewall ${set.name}: member instance ${missing.join(', ')} is not visible yet (EC2 eventual consistency); retry`, {
        retryable: true,
        details: { notYetVisible: true, instanceIds: missing },
      });
    }
    return found.filter((i) => i.State?.Name !== 'terminated' && i.State?.Name !== 'shutting-down');
  }

  async function createGroup(set: FirewallSet, vpcId: string | undefined, signal: AbortSignal): Promise<SecurityGroup> {
    const description = `nubis firewall from channels: ${set.deployment}/${set.component}`.replace(/[^A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]/g, '-').slice(0, 255);
    const res = await call(`create security group ${set.name}`, signal, () =>
      client.send(new CreateSecurityGroupCommand({
        GroupName: set.name,
        Description: description,
        ...(vpcId ? { VpcId: vpcId } : {}),
        TagSpecifications: [{ ResourceType: 'security-group', Tags: Object.entries({ ...set.tags, Name: set.name }).map(([Key, Value]) => ({ Key, Value })) }],
      }), { abortSignal: signal })).catch((e: unknown) => {
      // it exists but the name filter did not show it yet (made by an attempt whose answer was lost)
      if (providerCode(e) === 'InvalidGroup.Duplicate') {
        throw new NubisError('CLOUD_CONFLICT', `ec2 create security group ${set.name}: it exists but is not listed yet (EC2 eventual consistency); retry`, { retryable: true, details: { providerCode: 'InvalidGroup.Duplicate', notYetVisible: true } });
      }
      throw e;
    });
    if (!res.GroupId) throw new NubisError('CLOUD_INTERNAL', `ec2 create security group ${set.name}: no group id returned`);
    made.set(set.name, { id: res.GroupId, at: deps.now() });
    return { GroupId: res.GroupId, GroupName: set.name, IpPermissions: [] };
  }

  return {
    async applyFirewall(set, signal) {
      const members = await liveMembers(set, signal, true);
      const vpcId = members.find((i) => i.VpcId)?.VpcId;
      const group = (await describeGroup(set.name, vpcId, signal)) ?? (await createGroup(set, vpcId, signal));
      const id = group.GroupId!;
      const want = wantedRules(set.rules);
      const held = heldPermissions(group.IpPermissions);
      const add = [...want].filter(([k]) => !held.has(k)).map(([, w]) => permissionOf(w));
      const extra = [...held].filter(([k]) => !want.has(k)).map(([, p]) => p);
      if (add.length) {
        await onGroup(set.name, id, 'authorize ingress', signal, () =>
          client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: add }), { abortSignal: signal }));
      }
      if (extra.length) {
        await onGroup(set.name, id, 'revoke ingress', signal, () =>
          client.send(new RevokeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: extra }), { abortSignal: signal }));
      }
      for (const i of members) {
        const groups = (i.SecurityGroups ?? []).map((g) => g.GroupId!).filter(Boolean);
        if (groups.includes(id)) continue;
        await onGroup(set.name, id, `add security group to ${i.InstanceId}`, signal, () =>
          client.send(new ModifyInstanceAttributeCommand({ InstanceId: i.InstanceId!, Groups: [...groups, id] }), { abortSignal: signal }));
      }
    },

    async removeFirewall(set, signal) {
      const group = await describeGroup(set.name, undefined, signal);
      if (!group?.GroupId) return;
      const id = group.GroupId;
      for (const i of await liveMembers(set, signal, false)) {
        const groups = (i.SecurityGroups ?? []).map((g) => g.GroupId!).filter(Boolean);
        // an instance keeps at least one group: one whose only group is ours holds it until it terminates
        if (!groups.includes(id) || groups.length === 1) continue;
        await call(`remove security group from ${i.InstanceId}`, signal, () =>
          client.send(new ModifyInstanceAttributeCommand({ InstanceId: i.InstanceId!, Groups: groups.filter((g) => g !== id) }), { abortSignal: signal }));
      }
      try {
        await onGroup(set.name, id, 'delete security group', signal, () => client.send(new DeleteSecurityGroupCommand({ GroupId: id }), { abortSignal: signal }));
      } catch (e) {
        if (providerCode(e) === 'InvalidGroup.NotFound' && !(e as NubisError).retryable) return;
        throw e;
      }
      made.delete(set.name);
    },
  };
}
