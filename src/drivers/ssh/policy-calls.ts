/**
 * The ssh driver's placement and firewall calls. Hosts: each pool host holds one node; its
 * cores and memory come from its facts (read once per driver, like discovery); a host that does
 * not answer is left out (nothing can be placed there now). Firewalls: ./firewall.ts, applied
 * over SSH on each member's host, in parallel.
 */
import { NubisError, toNubisError } from '../../errors/index.js';
import { TAG_DEPLOYMENT, type CloudHost, type Driver, type HardwareOffer } from '../driver.js';
import type { FirewallSet } from '../../policy/index.js';
import type { SshDriverOptions } from './config.js';
import { hostOffer } from './discovery.js';
import { applyFailed, applyScript, dropScript, nftProgram } from './firewall.js';
import type { HostOps } from './host-ops.js';
import type { InventoryNode, PoolInventory } from './pool-inventory.js';
import { hostKey } from './pool-inventory.js';
import { abortedError, type SshHost } from './session.js';

export function createSshPolicyCalls(opts: SshDriverOptions, hosts: HostOps, inventory: PoolInventory): Required<Pick<Driver, 'hosts' | 'applyFirewall' | 'removeFirewall'>> {
  const offers = new Map<string, HardwareOffer>();
  const offerOf = async (h: SshHost, signal: AbortSignal): Promise<HardwareOffer | undefined> => {
    const known = offers.get(h.name);
    if (known) return known;
    try {
      const { offer } = hostOffer(h, await hosts.facts(h, signal));
      offers.set(h.name, offer);
      return offer;
    } catch {
      if (signal.aborted) throw abortedError();
      return undefined;
    }
  };
  /** Runs `script` on the host of each member (skipping members this pool no longer has). */
  const onMembers = async (set: FirewallSet, signal: AbortSignal, act: (n: InventoryNode) => Promise<void>): Promise<void> => {
    const inv = await inventory.snapshot();
    const nodes = set.members.map((m) => inv.nodes.find((n) => n.id === m.id)).filter((n): n is InventoryNode => n !== undefined);
    const results = await Promise.allSettled(nodes.map(act));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw toNubisError(failed.reason);
  };
  return {
    async hosts(signal) {
      const inv = await inventory.snapshot();
      const out = await Promise.all(opts.hosts.map(async (h): Promise<CloudHost | undefined> => {
        const node = inv.nodes.find((n) => hostKey(n.host) === hostKey(h));
        const offer = node ? undefined : await offerOf(h, signal);
        if (!node && !offer) return undefined;
        return {
          name: h.name,
          capacity: { nodes: 1, ...(offer ? { cores: offer.cores, memoryMiB: offer.memoryMiB } : {}) },
          attributes: { ...(opts.hostAttributes[h.name] ?? {}) },
          nodes: node ? [{ id: node.id, key: node.key }] : [],
        };
      }));
      return out.filter((h): h is CloudHost => h !== undefined);
    },
    applyFirewall(set, signal) {
      return onMembers(set, signal, (n) => hosts.on(n.host, signal, async (s) => {
        const program = nftProgram(set, { sshPort: n.host.port, agentPort: opts.agentPort, graphitePort: opts.graphitePort });
        const r = await s.exec(applyScript, { stdin: program, timeoutMs: opts.commandTimeoutMs });
        if (r.code !== 0) throw applyFailed(n.host.name, r.code, r.stderr);
      }));
    },
    removeFirewall(set, signal) {
      return onMembers(set, signal, (n) => hosts.on(n.host, signal, async (s) => void (await hosts.run(s, dropScript(set.deployment), 'removing the firewall'))));
    },
  };
}

/** On a node's delete: its deployment's table goes with it (the host returns to the pool open). */
export async function dropNodeFirewall(hosts: HostOps, n: InventoryNode, signal: AbortSignal): Promise<void> {
  const deployment = n.tags[TAG_DEPLOYMENT];
  if (!deployment) return;
  try {
    await hosts.on(n.host, signal, (s) => hosts.run(s, dropScript(deployment), 'removing the firewall'));
  } catch (e) {
    throw new NubisError('FIREWALL_FAILED', `ssh host ${n.host.name}: the firewall of ${deployment} could not be removed: ${toNubisError(e).message}`, { details: { host: n.host.name } });
  }
}
