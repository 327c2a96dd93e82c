/**
 * Firewalls from channels (issue 11, item 4): which ports each component's nodes open, to whom.
 * The engine's firewall controller applies the sets through the drivers (security groups on
 * openstack and ec2, nftables on ssh hosts) and removes them on destroy.
 */
export { firewallSets, firewallHash, firewallName, type FirewallSet, type FirewallRule, type FirewallMember, type FirewallInput } from './rules.js';
