/**
 * The `ssh` driver: bring your own nodes. A node is one host of a fixed pool of Linux machines
 * reached over SSH; `create` claims a free host and installs and starts the node agent on it,
 * `delete` stops and removes everything Nubis put there and releases the host.
 *
 * Options (`ctx.options`):
 * - `hosts` (required): `[{ address, port?: 22, user?: 'root', name? }]`; names (default the
 *   address, or `address:port`) must be unique.
 * - `privateKeyPath`: the login key when `ctx.credentials.privateKey` is absent. Key-only
 *   authentication: a `password` option is refused.
 * - `knownHostsPath` (`<dataDir>/ssh/known_hosts`): host keys, pinned on first contact.
 * - `agentPort` (7430): where the agent listens, on the host's address.
 * - `graphitePort` (2003; 0 for none): the agent's Graphite listener for custom metrics,
 *   given to handlers as `NUBIS_GRAPHITE`.
 * - `remoteRoot` (`/opt/nubis`): everything the driver puts on a host lives under it (see
 *   ./remote.ts for the layout).
 * - `connectTimeoutMs` (5 000), `commandTimeoutMs` (20 000), `uploadTimeoutMs` (300 000),
 *   `readyTimeoutMs` (20 000: how long a started agent has to answer), `killGraceMs` (2 000).
 *
 * Shipping: the agent program and the compiled modules it imports (./bundle.ts) go over SFTP to
 * `remoteRoot/lib`. If the host has no `node` ≥ 20, this process's own Node binary
 * (`process.execPath`) goes to `remoteRoot/runtime/node` — the host needs no internet, but must
 * have this machine's architecture (`uname -m`), else create fails with CLOUD_BAD_REQUEST.
 *
 * Records: one inventory per data directory, `<dataDir>/ssh/inventory.json`, holds claims
 * (by host address and port), tags, idempotency tokens, agent tokens and pids (atomic writes,
 * serialised across every ssh driver of this process). It is the hosts' record, not a cloud
 * entry's: a driver built with another option set (hosts added to the pool, another timeout)
 * or under another cloud name lists the same nodes, and a host claimed through one entry is
 * never claimed again through another. Nodes on hosts no longer in the pool are still listed
 * (and can be deleted). The host's `remoteRoot/node.json` holds the same record for its node,
 * so `list` on a control plane that lost its inventory finds nodes by asking the unclaimed
 * hosts, and adopts them. An inventory of the former layout (`<cloud>-inventory.json`) is
 * merged in when a driver of that cloud is built.
 *
 * Reality: `get` and `list` log in to the node's host every time (in parallel; a fresh session
 * each time, bounded by `connectTimeoutMs` for the handshake and by keepalives — 3 missed at
 * 2 s intervals — or `commandTimeoutMs` after it); a host that does not answer is reported with
 * status `error` and an `error` of code CLOUD_UNAVAILABLE on the returned node (a changed host
 * key: CLOUD_FORBIDDEN), never a hang. A node whose agent process is gone is `stopped`.
 *
 * Units: ./config.ts (options, frozen), ./pool-inventory.ts (the claims record), ./host-ops.ts
 * (what is done on a host over SSH), ./node-view.ts (inventory node + probe → CloudNode),
 * ./creator.ts (claim and install, idempotent by token), ./adoption.ts (which unclaimed hosts to
 * ask for a lost node), ./discovery.ts (offers and images); this file only wires them.
 *
 * Errors: an exhausted pool is CLOUD_QUOTA_EXCEEDED; an unreachable host CLOUD_UNAVAILABLE
 * (create skips unreachable hosts and tries the next free one); a changed host key
 * CLOUD_FORBIDDEN (not retryable; create stops there rather than trying another host, so the
 * operator hears of it); a refused key CLOUD_UNAUTHORIZED; reboot of an unknown node
 * CLOUD_NOT_FOUND; processes that survive SIGKILL CLOUD_INTERNAL. A failed create cleans the
 * host and releases it; a failed delete keeps the claim (the node is assumed to still exist).
 */
import { join } from 'node:path';
import { createHttpAgentClient, type AgentClient } from '../../agent/index.js';
import { NubisError } from '../../errors/index.js';
import type { Driver, DriverContext } from '../driver.js';
import { createAdoptionScan } from './adoption.js';
import { readPrivateKey, readSshOptions } from './config.js';
import { createNodeCreator } from './creator.js';
import { discoverPool } from './discovery.js';
import { checkSignal, createHostOps } from './host-ops.js';
import { openKnownHosts } from './known-hosts.js';
import { toCloudNode, type SshCloudNode } from './node-view.js';
import { hostKey, openPoolInventory } from './pool-inventory.js';
import { createSshPolicyCalls, dropNodeFirewall } from './policy-calls.js';

export type { SshHost } from './session.js';
export type { SshCloudNode } from './node-view.js';
export { readSshOptions, type SshDriverOptions } from './config.js';

/** Creates the ssh driver. Nodes outlive the driver instance: close() leaves them running. */
export function createSshDriver(ctx: DriverContext): Driver {
  const opts = readSshOptions(ctx);
  const hosts = createHostOps(opts, {
    privateKey: readPrivateKey(ctx),
    knownHosts: openKnownHosts(opts.knownHostsPath),
    connectTimeoutMs: opts.connectTimeoutMs,
    keepaliveIntervalMs: 2000,
  }, ctx.dataDir);
  const dir = join(ctx.dataDir, 'ssh');
  const inventory = openPoolInventory(join(dir, 'inventory.json'));
  inventory.mergeLegacy(join(dir, `${ctx.cloud.replace(/[^A-Za-z0-9._-]/g, '_')}-inventory.json`));
  const creator = createNodeCreator(opts, ctx.cloud, ctx.clock, inventory, hosts);
  const scan = createAdoptionScan();
  const probed = async (n: Parameters<typeof toCloudNode>[0], signal: AbortSignal): Promise<SshCloudNode> =>
    toCloudNode(n, n.status === 'running' ? await hosts.probe(n.host, signal) : undefined, opts);

  return {
    platform: 'ssh',
    // [placement] hosts for placement policies, nftables firewalls (./policy-calls.ts)
    ...createSshPolicyCalls(opts, hosts, inventory),

    create: (req, signal) => creator.create(req, signal),

    async get(id, signal) {
      checkSignal(signal);
      const n = await inventory.find(id);
      return n ? probed(n, signal) : undefined;
    },

    async list(tags, signal) {
      checkSignal(signal);
      const inv = await inventory.snapshot();
      const unclaimed = scan.due(opts.hosts, new Set(inv.nodes.map((n) => hostKey(n.host))), Date.now());
      const want = Object.entries(tags);
      const matches = (t: Record<string, string>): boolean => want.every(([k, v]) => t[k] === v);
      const [mine, found] = await Promise.all([
        Promise.all(inv.nodes.filter((n) => matches(n.tags)).map((n) => probed(n, signal))),
        Promise.all(
          unclaimed.map(async (h) => {
            const p = await hosts.probe(h, signal);
            scan.asked(h.name, !p.error, Date.now());
            if (!p.record) return undefined;
            const n = await inventory.adopt(h, p.record, { ...(p.agentPid !== undefined ? { pid: p.agentPid } : {}), ...(p.agentNode !== undefined ? { node: p.agentNode } : {}) });
            return n && matches(n.tags) ? toCloudNode(n, p, opts) : undefined;
          }),
        ),
      ]);
      return [...mine, ...found.filter((n): n is SshCloudNode => n !== undefined)];
    },

    async delete(id, signal) {
      checkSignal(signal);
      const n = await inventory.find(id);
      if (!n) return;
      await hosts.on(n.host, signal, (s) => hosts.cleanNode(s, n));
      await dropNodeFirewall(hosts, n, signal);
      await inventory.release(id);
      scan.cleared(n.host.name);
    },

    async reboot(id, signal) {
      checkSignal(signal);
      const n = await inventory.find(id);
      if (!n) throw new NubisError('CLOUD_NOT_FOUND', `no ssh node ${id} in pool ${ctx.cloud}`);
      if (n.status !== 'running' || !n.runtime) throw new NubisError('CLOUD_BAD_REQUEST', `ssh node ${id} is still being created`, { retryable: true });
      const pgid = await hosts.on(n.host, signal, async (s) => {
        await hosts.stopNode(s, n.id, n.pgid);
        return hosts.startAgent(s, n, signal);
      });
      await inventory.setPgid(id, pgid);
    },

    agent(node): AgentClient {
      if (!node.agent) throw new NubisError('CLOUD_BAD_REQUEST', `node ${node.id} has no agent address`);
      return createHttpAgentClient(node.agent.url, node.agent.token, hosts.ca().clientTls(node.id));
    },

    discover: (signal) => discoverPool(opts.hosts, hosts, ctx.cloud, signal),

    async close() {
      await inventory.snapshot();
    },
  };
}
