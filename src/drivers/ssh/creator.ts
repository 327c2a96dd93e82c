/**
 * Creates nodes: claims a free host (idempotent by token: a repeated create in flight shares
 * the first one's promise, a finished one returns its node), installs the node there, and on
 * failure leaves the host as it was and released. A host that runs a node this inventory did
 * not know is adopted and the next host tried; an unreachable host is skipped for the next
 * free one; a changed host key (CLOUD_FORBIDDEN) stops the create so the operator hears of it.
 */
import { toNubisError } from '../../errors/index.js';
import type { Clock } from '../../clock/index.js';
import type { CloudNode, CreateNodeRequest } from '../driver.js';
import type { SshDriverOptions } from './config.js';
import { checkSignal, type HostOps } from './host-ops.js';
import { toCloudNode } from './node-view.js';
import type { InventoryNode, PoolInventory } from './pool-inventory.js';
import { abortedError } from './session.js';

class NodeCreatorImpl {
  readonly #opts: SshDriverOptions;
  readonly #cloud: string;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #inventory: PoolInventory;
  readonly #hosts: HostOps;
  /** Creates in flight, by idempotency token. */
  readonly #creating = new Map<string, Promise<CloudNode>>();

  constructor(opts: SshDriverOptions, cloud: string, clock: Pick<Clock, 'now'>, inventory: PoolInventory, hosts: HostOps) {
    this.#opts = opts;
    this.#cloud = cloud;
    this.#clock = clock;
    this.#inventory = inventory;
    this.#hosts = hosts;
  }

  create(req: CreateNodeRequest, signal: AbortSignal): Promise<CloudNode> {
    if (signal.aborted) return Promise.reject(abortedError());
    const pending = this.#creating.get(req.idempotencyToken);
    if (pending) return pending;
    const p = this.#create(req, signal).finally(() => this.#creating.delete(req.idempotencyToken));
    this.#creating.set(req.idempotencyToken, p);
    return p;
  }

  async #create(req: CreateNodeRequest, signal: AbortSignal): Promise<CloudNode> {
    const inventory = this.#inventory;
    const hosts = this.#hosts;
    const skipped: string[] = [];
    for (;;) {
      checkSignal(signal);
      const claim = await inventory.claim(req, this.#opts.hosts, skipped, this.#cloud, this.#clock.now());
      const n = claim.node;
      if (!claim.fresh && n.status === 'running') return toCloudNode(n, undefined, this.#opts);
      // fresh, or left half-made by a crashed control plane: (re)install
      const work: InventoryNode = { ...n };
      try {
        const done = await hosts.on(n.host, signal, (s) => hosts.install(s, work, signal));
        const saved = await inventory.markRunning(n.id, done);
        return toCloudNode(saved, undefined, this.#opts);
      } catch (e) {
        const err = toNubisError(e);
        if (err.code === 'CONFLICT') {
          // The host runs a node this inventory did not know: record it, try the next host.
          const p = await hosts.probe(n.host, signal);
          await inventory.release(n.id);
          if (p.record) await inventory.adopt(n.host, p.record, { ...(p.agentPid !== undefined ? { pid: p.agentPid } : {}), ...(p.agentNode !== undefined ? { node: p.agentNode } : {}) });
          else skipped.push(n.host.name);
          continue;
        }
        // Leave nothing behind (best effort: a host we cannot log in to keeps what it has).
        if (err.code !== 'CLOUD_FORBIDDEN' && err.code !== 'CLOUD_UNAUTHORIZED') {
          await hosts.on(n.host, new AbortController().signal, (s) => hosts.cleanNode(s, work)).catch(() => {});
        }
        await inventory.release(n.id);
        if (err.code === 'CLOUD_UNAVAILABLE' && !signal.aborted && claim.fresh) {
          skipped.push(n.host.name);
          continue;
        }
        throw err;
      }
    }
  }
}

export type NodeCreator = NodeCreatorImpl;

export function createNodeCreator(opts: SshDriverOptions, cloud: string, clock: Pick<Clock, 'now'>, inventory: PoolInventory, hosts: HostOps): NodeCreator {
  return new NodeCreatorImpl(opts, cloud, clock, inventory, hosts);
}
