/**
 * How an inventory node looks to the engine: a CloudNode whose status is what the host said
 * when probed — `error` (with the reason) for a host that did not answer or no longer holds the
 * node, `stopped` for a node whose agent process is gone. Pure.
 */
import type { ErrorCode } from '../../errors/index.js';
import type { CloudNode } from '../driver.js';
import { agentUrl } from './config.js';
import type { Probe } from './host-ops.js';
import type { InventoryNode } from './pool-inventory.js';

/** A node as the ssh driver reports it: `error` says why when `status` is `error`. */
export interface SshCloudNode extends CloudNode {
  host: string;
  error?: { code: ErrorCode; message: string };
}

export interface NodeViewOptions {
  agentPort: number;
  graphitePort: number;
  remoteRoot: string;
}

/** The node as listed; without a probe (or while provisioning) its inventory status. */
export function toCloudNode(n: InventoryNode, p: Probe | undefined, o: NodeViewOptions): SshCloudNode {
  const node: SshCloudNode = {
    id: n.id,
    host: n.host.name,
    tags: { ...n.tags },
    status: n.status,
    address: n.host.address,
    agent: { url: agentUrl(n.host, o.agentPort), token: n.agentToken },
    ...(o.graphitePort > 0 ? { graphite: { host: n.host.address, port: o.graphitePort } } : {}),
    createdAt: n.createdAt,
  };
  if (!p || n.status === 'provisioning') return node;
  if (p.error) {
    node.status = 'error';
    node.error = { code: p.error.code, message: p.error.message };
  } else if (p.record?.id !== n.id) {
    node.status = 'error';
    node.error = { code: 'CLOUD_NOT_FOUND', message: `ssh host ${n.host.name} no longer has node ${n.id} (${o.remoteRoot}/node.json is gone or names another node)` };
  } else if (p.agentNode !== n.id) {
    node.status = 'stopped';
  }
  return node;
}
