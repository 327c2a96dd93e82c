/**
 * The pool's record of claims: one inventory per data directory (`<dataDir>/ssh/inventory.json`),
 * shared by every ssh driver of this process over that file, so drivers of different option sets
 * or cloud names never race on it (atomic writes, serialised). `PoolInventory` is the only code
 * that changes it: claim a free host for a create (idempotent by token), adopt a node found on a
 * host, record a finished install or a new agent pid, release a host.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import { NubisError } from '../../errors/index.js';
import type { CreateNodeRequest } from '../driver.js';
import { createJsonInventory, type InventoryFile, type JsonInventory } from '../inventory.js';
import type { SshHost } from './session.js';

export interface InventoryNode {
  id: string;
  /** Host name in the pool, and how to reach it (kept so delete works after the pool changes). */
  host: SshHost;
  key: string;
  tags: Record<string, string>;
  idempotencyToken: string;
  status: 'provisioning' | 'running';
  agentToken: string;
  /** The agent's pid = its process group. */
  pgid?: number;
  createdAt: number;
  /** The topmost directory of remoteRoot the driver created ('' when remoteRoot existed). */
  createdTop?: string;
  /** Where the node binary is: the host's own, or the shipped one. */
  runtime?: string;
}

export type Inventory = InventoryFile<InventoryNode>;

/** What node.json on a host says. */
export interface HostRecord {
  id: string;
  key: string;
  tags: Record<string, string>;
  idempotencyToken: string;
  agentToken: string;
  createdAt: number;
  createdTop?: string;
  runtime?: string;
}

/** A host's identity in the inventory: where it is reached, whatever a pool names it. */
export const hostKey = (h: SshHost): string => `${h.address}:${h.port}`;

/** One inventory per file in this process, so drivers of different option sets never race on it. */
const INVENTORIES = new Map<string, JsonInventory<InventoryNode>>();
function sharedInventory(path: string): JsonInventory<InventoryNode> {
  let inv = INVENTORIES.get(path);
  if (!inv) INVENTORIES.set(path, (inv = createJsonInventory<InventoryNode>(path)));
  return inv;
}

/** A claim for a create: the node, and whether it was made now (else a repeated token's). */
export interface Claim {
  node: InventoryNode;
  fresh: boolean;
}

class PoolInventoryImpl {
  readonly #inv: JsonInventory<InventoryNode>;

  constructor(path: string) {
    this.#inv = sharedInventory(path);
  }

  /** Moves the nodes of a per-cloud inventory of the former layout into the shared one (in the background). */
  mergeLegacy(legacyPath: string): void {
    if (!existsSync(legacyPath)) return;
    void this.#inv.mutate((inv) => {
      const old = createJsonInventory<InventoryNode>(legacyPath).read();
      for (const n of old.nodes) if (!inv.nodes.some((x) => x.id === n.id)) inv.nodes.push(n);
      renameSync(legacyPath, `${legacyPath}.merged`);
    }).catch(() => undefined);
  }

  /** The inventory after every pending write. */
  snapshot(): Promise<Inventory> {
    return this.#inv.snapshot();
  }

  async find(id: string): Promise<InventoryNode | undefined> {
    return (await this.snapshot()).nodes.find((x) => x.id === id);
  }

  /**
   * The node of `req`'s idempotency token, else a new `provisioning` node on a free host of
   * `hosts` not in `skipped` (the placement's offer names a preferred host). Throws
   * CLOUD_UNAVAILABLE when every free host was skipped, CLOUD_QUOTA_EXCEEDED when none is free.
   */
  claim(req: CreateNodeRequest, hosts: readonly SshHost[], skipped: readonly string[], cloud: string, now: number): Promise<Claim> {
    return this.#inv.mutate((inv) => {
      const existing = inv.nodes.find((n) => n.idempotencyToken === req.idempotencyToken);
      if (existing) return { node: existing, fresh: false };
      const used = new Set(inv.nodes.map((n) => hostKey(n.host)));
      const free = hosts.filter((h) => !used.has(hostKey(h)) && !skipped.includes(h.name));
      const wanted = req.placement?.host;
      if (wanted !== undefined) {
        // placement chose the host (src/policy/placement): that one or nothing
        if (!hosts.some((h) => h.name === wanted)) throw new NubisError('CLOUD_BAD_REQUEST', `ssh pool ${cloud} has no host ${JSON.stringify(wanted)}`);
        if (!free.some((h) => h.name === wanted)) {
          if (skipped.includes(wanted)) throw new NubisError('CLOUD_UNAVAILABLE', `ssh host ${wanted} did not answer`, { details: { skipped } });
          throw new NubisError('CLOUD_QUOTA_EXCEEDED', `ssh host ${wanted} of pool ${cloud} already holds a node`, { details: { host: wanted } });
        }
      }
      const preferred = free.find((h) => h.name === (wanted ?? req.placement?.offer)) ?? free[0];
      if (!preferred) {
        if (skipped.length > 0) {
          throw new NubisError('CLOUD_UNAVAILABLE', `no free ssh host answered (tried ${skipped.join(', ')})`, { details: { skipped } });
        }
        throw new NubisError('CLOUD_QUOTA_EXCEEDED', `all ${hosts.length} hosts of ssh pool ${cloud} are in use; add hosts to the pool or delete nodes`, {
          details: { hosts: hosts.length },
        });
      }
      const node: InventoryNode = {
        id: `ssh-${randomBytes(8).toString('hex')}`,
        host: preferred,
        key: req.key,
        tags: { ...req.tags },
        idempotencyToken: req.idempotencyToken,
        status: 'provisioning',
        agentToken: randomBytes(24).toString('hex'),
        createdAt: now,
      };
      inv.nodes.push(node);
      return { node, fresh: true };
    });
  }

  /** Records a finished install: the node runs. Throws CLOUD_NOT_FOUND when it was deleted meanwhile. */
  markRunning(id: string, done: Pick<InventoryNode, 'pgid' | 'createdTop' | 'runtime'>): Promise<InventoryNode> {
    return this.#inv.mutate((inv) => {
      const x = inv.nodes.find((y) => y.id === id);
      if (!x) throw new NubisError('CLOUD_NOT_FOUND', `node ${id} was deleted while being created`);
      Object.assign(x, { status: 'running', pgid: done.pgid, createdTop: done.createdTop, runtime: done.runtime });
      return { ...x };
    });
  }

  setPgid(id: string, pgid: number): Promise<void> {
    return this.#inv.mutate((inv) => {
      const x = inv.nodes.find((y) => y.id === id);
      if (x) x.pgid = pgid;
    });
  }

  /**
   * Adds the record found on host `h` (a node made by a control plane that lost its
   * inventory). Resolves with the inventory's node of that id, or undefined when the host is
   * claimed by another node.
   */
  adopt(h: SshHost, record: HostRecord, agent: { pid?: number; node?: string }): Promise<InventoryNode | undefined> {
    return this.#inv.mutate((inv) => {
      const known = inv.nodes.find((x) => x.id === record.id || hostKey(x.host) === hostKey(h));
      if (known) return known.id === record.id ? known : undefined;
      const n: InventoryNode = {
        id: record.id,
        host: h,
        key: record.key,
        tags: { ...record.tags },
        idempotencyToken: record.idempotencyToken,
        status: 'running',
        agentToken: record.agentToken,
        createdAt: record.createdAt,
        ...(agent.pid !== undefined && agent.node === record.id ? { pgid: agent.pid } : {}),
        ...(record.createdTop !== undefined ? { createdTop: record.createdTop } : {}),
        ...(record.runtime !== undefined ? { runtime: record.runtime } : {}),
      };
      inv.nodes.push(n);
      return n;
    });
  }

  /** Drops the node: its host is free again. */
  release(id: string): Promise<void> {
    return this.#inv.mutate((inv) => {
      inv.nodes = inv.nodes.filter((x) => x.id !== id);
    });
  }
}

export type PoolInventory = PoolInventoryImpl;

/** The pool inventory over `path` (shared with every other driver of this process on that file). */
export function openPoolInventory(path: string): PoolInventory {
  return new PoolInventoryImpl(path);
}
