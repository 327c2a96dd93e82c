/**
 * Firewalls on ssh hosts: one nftables table per deployment (`inet nubis_<deployment>`) on
 * each host of a component, replaced atomically (`nft -f` of "add, delete, define" is one
 * transaction), so a host never goes without rules in between. Its input chain drops by
 * default and accepts: established traffic, loopback, ICMP, what Nubis itself needs (the host's
 * SSH port, the agent port, the agent's Graphite port) and each channel rule's port from its
 * sources. Outgoing traffic is not filtered.
 *
 * Needs `nft` on the host (Debian package nftables): without it applying fails with
 * CLOUD_BAD_REQUEST naming the package, not retried. Removal deletes the table (a table
 * already gone is done); a node's delete removes its deployment's table too.
 */
import { NubisError } from '../../errors/index.js';
import type { FirewallRule, FirewallSet } from '../../policy/index.js';
import { q } from './remote.js';

const CIDR = /^[0-9A-Fa-f:.]+\/[0-9]{1,3}$/;

/** `inet` table name of a deployment: `nubis_` and the name with anything but [a-z0-9_] as `_`. */
export function nftTable(deployment: string): string {
  return `nubis_${deployment.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 64);
}

function ruleLines(r: FirewallRule): string[] {
  const v4 = r.sources.filter((s) => !s.includes(':'));
  const v6 = r.sources.filter((s) => s.includes(':'));
  for (const s of r.sources) if (!CIDR.test(s)) throw new NubisError('CLOUD_BAD_REQUEST', `firewall source ${JSON.stringify(s)} is not a CIDR`);
  if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) throw new NubisError('CLOUD_BAD_REQUEST', `firewall port ${r.port} is not a port`);
  const out: string[] = [];
  if (v4.length) out.push(`    tcp dport ${r.port} ip saddr { ${v4.join(', ')} } accept comment ${JSON.stringify(r.needs.join(' ').slice(0, 120))}`);
  if (v6.length) out.push(`    tcp dport ${r.port} ip6 saddr { ${v6.join(', ')} } accept`);
  return out;
}

/** The nft program for `set` on a host whose sshd listens on `sshPort`. */
export function nftProgram(set: FirewallSet, mgmt: { sshPort: number; agentPort: number; graphitePort: number }): string {
  const table = nftTable(set.deployment);
  const own = [mgmt.sshPort, mgmt.agentPort, ...(mgmt.graphitePort > 0 ? [mgmt.graphitePort] : [])];
  return [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain input {',
    '    type filter hook input priority 0; policy drop;',
    '    ct state established,related accept',
    '    iif lo accept',
    '    meta l4proto { icmp, ipv6-icmp } accept',
    `    tcp dport { ${[...new Set(own)].join(', ')} } accept comment "nubis: ssh and agent"`,
    ...set.rules.flatMap(ruleLines),
    '  }',
    '}',
    '',
  ].join('\n');
}

const NFT_MISSING = 127;

/** The shell that loads a program from stdin; exit 127 when nft is missing. */
export const applyScript = `command -v nft >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin; command -v nft >/dev/null 2>&1 || exit ${NFT_MISSING}; nft -f -`;

/** The shell that deletes the deployment's table; nothing when it (or nft) is not there. */
export function dropScript(deployment: string): string {
  const t = nftTable(deployment);
  return `PATH=$PATH:/usr/sbin:/sbin; command -v nft >/dev/null 2>&1 || exit 0; if nft list table inet ${q(t)} >/dev/null 2>&1; then nft delete table inet ${q(t)}; fi`;
}

/** Turns a failed load into the error to report: nft missing is not retryable. */
export function applyFailed(host: string, code: number | null, stderr: string): NubisError {
  if (code === NFT_MISSING) {
    return new NubisError('CLOUD_BAD_REQUEST', `ssh host ${host} has no nft: install the Debian package nftables there (apt-get install nftables) to apply firewalls from channels`, {
      details: { host },
    });
  }
  return new NubisError('FIREWALL_FAILED', `ssh host ${host}: nft refused the rules (exit ${code}): ${stderr.trim().slice(-400)}`, { details: { host } });
}
