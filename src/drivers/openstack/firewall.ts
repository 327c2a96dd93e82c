/**
 * Firewalls from channels on OpenStack: one Neutron security group per deployment and
 * component (`nubis-<deployment>-<component>`, its description carrying the owner and
 * deployment tags so teardown and the leak scan find it), whose ingress rules are exactly the
 * set's rules: tcp on the channel port from each source CIDR. Applying adds the missing rules
 * before it deletes the extra ones (never a moment with fewer than both), then puts the group
 * on every port of each member server (beside the groups it has). Removing takes the group off
 * the members' ports that remain and deletes it; a group already gone is done. The group's
 * default egress rules are left as Neutron makes them.
 */
import type { FirewallRule, FirewallSet } from '../../policy/index.js';
import type { Networks, NeutronSecurityGroup, NeutronSecurityGroupRule } from './services.js';

/** `tcp <port> <cidr>`: how a rule is compared between the set and the group. */
const ruleId = (port: number, cidr: string): string => `tcp ${port} ${cidr}`;

function wantedRules(rules: readonly FirewallRule[]): Map<string, { port: number; cidr: string }> {
  const out = new Map<string, { port: number; cidr: string }>();
  for (const r of rules) for (const cidr of r.sources) out.set(ruleId(r.port, cidr), { port: r.port, cidr });
  return out;
}

const heldId = (r: NeutronSecurityGroupRule): string | undefined =>
  r.direction === 'ingress' && r.protocol === 'tcp' && r.port_range_min != null && r.port_range_min === r.port_range_max && r.remote_ip_prefix ? ruleId(r.port_range_min, r.remote_ip_prefix) : undefined;

const describeTags = (set: FirewallSet): string => `nubis firewall from channels; ${Object.entries(set.tags).map(([k, v]) => `${k}=${v}`).join(' ')}`.slice(0, 255);

async function findGroup(networks: Networks, name: string, signal: AbortSignal): Promise<NeutronSecurityGroup | undefined> {
  return (await networks.listSecurityGroups({ name }, signal)).find((g) => g.name === name);
}

export async function applyOpenStackFirewall(networks: Networks, set: FirewallSet, signal: AbortSignal): Promise<void> {
  const group = (await findGroup(networks, set.name, signal)) ?? (await networks.createSecurityGroup(set.name, describeTags(set), signal));
  const want = wantedRules(set.rules);
  const held = new Map<string, string>();
  for (const r of group.security_group_rules ?? []) {
    const id = heldId(r);
    if (id) held.set(id, r.id);
    else if (r.direction === 'ingress') held.set(`other ${r.id}`, r.id); // anything else on ingress is not ours to keep
  }
  for (const [id, r] of want) {
    if (!held.has(id)) await networks.addSecurityGroupRule(group.id, { direction: 'ingress', protocol: 'tcp', portMin: r.port, portMax: r.port, remoteIpPrefix: r.cidr, ethertype: r.cidr.includes(':') ? 'IPv6' : 'IPv4' }, signal);
  }
  for (const [id, ruleIdToDelete] of held) if (!want.has(id)) await networks.deleteSecurityGroupRule(ruleIdToDelete, signal);
  for (const m of set.members) {
    for (const p of await networks.ports({ deviceId: m.id }, signal)) {
      const groups = p.security_groups ?? [];
      if (!groups.includes(group.id)) await networks.setPortSecurityGroups(p.id, [...groups, group.id], signal);
    }
  }
}

export async function removeOpenStackFirewall(networks: Networks, set: FirewallSet, signal: AbortSignal): Promise<void> {
  const group = await findGroup(networks, set.name, signal);
  if (!group) return;
  for (const m of set.members) {
    for (const p of await networks.ports({ deviceId: m.id }, signal)) {
      const groups = p.security_groups ?? [];
      if (groups.includes(group.id)) await networks.setPortSecurityGroups(p.id, groups.filter((g) => g !== group.id), signal);
    }
  }
  await networks.deleteSecurityGroup(group.id, signal);
}
