/**
 * Address pools (after StratusLab's network leases and holds, seed 003): per tenant, named
 * pools of IPv4 addresses (./ranges.ts) set by the administrator. A node whose template asks
 * for an address from a pool (`address: { pool }`) gets a lease before it is created; when the
 * node is deleted, the lease becomes a hold: the address stays its deployment's for the pool's
 * hold time (the deployment's next new node takes it, before any free address), then it is freed. A person can hold a
 * held address longer or release it at once; a leased one is its node's until the node goes.
 *
 * No address is ever leased twice: a lease is a row keyed by (tenant, pool, address)
 * (src/store/policy.ts). Holds end on the Clock: `expire()` frees every hold whose time has
 * come, and `start()` runs it every `intervalMs`.
 */
import type { Clock } from '../../clock/index.js';
import { NubisError } from '../../errors/index.js';
import type { EventLog } from '../../events/index.js';
import { localText, splitDeploymentId } from '../../engine/index.js';
import type { AddressLeaseRow, AddressPoolRow, Store } from '../../store/index.js';
import { auditor, type Actor } from '../audit.js';
import { firstFree, inRanges, parseRanges } from './ranges.js';

export interface AddressPoolView {
  name: string;
  ranges: string[];
  size: number;
  holdMs: number;
  floatingNetwork?: string;
  leased: number;
  held: number;
  free: number;
}

export interface AddressLeaseView {
  pool: string;
  address: string;
  /** The deployment's name as its tenant writes it. */
  deployment: string;
  /** The node (resource key) that has (or had) it. */
  node: string;
  state: 'leased' | 'held';
  leasedAt: string;
  heldUntil?: string;
}

export interface AddressPools {
  pools(tenant: string): Promise<AddressPoolView[]>;
  /** Creates or changes a pool: `{ ranges, holdMs?, floatingNetwork? }`; REQUEST_INVALID naming the field; CONFLICT when a leased address would fall outside. */
  putPool(tenant: string, name: string, body: unknown, by: Actor): Promise<{ pool: AddressPoolView; created: boolean }>;
  /** CONFLICT while any address of it is leased or held. */
  deletePool(tenant: string, name: string, by: Actor): Promise<void>;
  leases(tenant: string, pool?: string): Promise<AddressLeaseView[]>;
  /** The node's address from the pool (the same one on every call for that node); ADDRESS_POOL_EXHAUSTED, NOT_FOUND for no such pool. */
  lease(tenant: string, pool: string, deployment: string, nodeKey: string): Promise<AddressLeaseView>;
  /**
   * Holds a held address for `forMs` from now (default: the pool's hold time). CONFLICT for an
   * address leased to a node: it is held when its node goes.
   */
  hold(tenant: string, pool: string, address: string, forMs: number | undefined, by: Actor): Promise<AddressLeaseView>;
  /** Frees a held address now. CONFLICT for an address leased to a node (remove the node first). */
  release(tenant: string, pool: string, address: string, by: Actor): Promise<void>;
  /** The node is gone: each of its leases becomes a hold for its pool's hold time. */
  nodeGone(nodeKey: string): Promise<void>;
  /** The deployment was forgotten with its nodes: each of its leases becomes a hold. */
  deploymentGone(deployment: string): Promise<void>;
  /** Frees the holds whose time has come; resolves with how many. */
  expire(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const DEFAULT_HOLD_MS = 3_600_000;
const MAX_HOLD_MS = 365 * 86_400_000;

function leaseView(tenant: string, r: AddressLeaseRow): AddressLeaseView {
  const v: AddressLeaseView = {
    pool: r.pool, address: r.address, deployment: splitDeploymentId(r.deployment).name, node: localText(tenant, r.node_key), state: r.state as 'leased' | 'held', leasedAt: iso(Number(r.leased_at)),
  };
  if (r.held_until !== null) v.heldUntil = iso(Number(r.held_until));
  return v;
}

function poolView(p: AddressPoolRow, leases: AddressLeaseRow[]): AddressPoolView {
  const ranges = JSON.parse(p.ranges_json) as string[];
  const mine = leases.filter((l) => l.pool === p.name);
  const leased = mine.filter((l) => l.state === 'leased').length;
  const held = mine.length - leased;
  const size = parseRanges(ranges, 'ranges').size;
  return { name: p.name, ranges, size, holdMs: Number(p.hold_ms), ...(p.floating_network ? { floatingNetwork: p.floating_network } : {}), leased, held, free: size - mine.length };
}

export function createAddressPools(o: { store: Store; clock: Clock; events?: EventLog; intervalMs?: number }): AddressPools {
  const repo = o.store.policy;
  const stopper = new AbortController();
  let loop: Promise<void> | undefined;
  const audit = auditor(o.events);
  const mustPool = async (tenant: string, name: string): Promise<AddressPoolRow> => {
    const p = await repo.pool(tenant, name);
    if (!p) throw new NubisError('NOT_FOUND', `no address pool named ${JSON.stringify(name)}`);
    return p;
  };
  const mustLease = async (tenant: string, pool: string, address: string): Promise<AddressLeaseRow> => {
    const l = (await repo.leases(tenant, pool)).find((r) => r.address === address);
    if (!l) throw new NubisError('NOT_FOUND', `address ${JSON.stringify(address)} of pool ${pool} is not leased or held`);
    return l;
  };

  const leasedConflict = (tenant: string, l: AddressLeaseRow, what: string): NubisError =>
    new NubisError('CONFLICT', `address ${l.address} of pool ${l.pool} is leased to node ${localText(tenant, l.node_key)}; ${what}`);
  /** Rows just held (until far ahead): each held for its own pool's hold time from now. */
  const holdEach = async (rows: AddressLeaseRow[], why: string): Promise<void> => {
    const now = o.clock.now();
    for (const row of rows) {
      const p = await repo.pool(row.tenant, row.pool);
      const until = now + Number(p?.hold_ms ?? 0);
      await repo.holdAddress(row.tenant, row.pool, row.address, until);
      await audit(row.tenant, { actor: 'engine' }, 'address.held', row.address, `${localText(row.tenant, why)}; held for its deployment until ${iso(until)}`, { pool: row.pool, until: iso(until) });
    }
  };

  const service: AddressPools = {
    async pools(tenant) {
      const leases = await repo.leases(tenant);
      return (await repo.pools(tenant)).map((p) => poolView(p, leases));
    },
    async putPool(tenant, name, body, by) {
      if (!/^[a-z][a-z0-9-]{0,39}$/.test(name)) throw new NubisError('REQUEST_INVALID', `pool: expected a name of lower-case letters, digits and -, found ${JSON.stringify(name)}`);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new NubisError('REQUEST_INVALID', '$: expected an object with ranges');
      const b = body as Record<string, unknown>;
      for (const k of Object.keys(b)) if (!['ranges', 'holdMs', 'floatingNetwork'].includes(k)) throw new NubisError('REQUEST_INVALID', `$.${k}: expected one of ranges, holdMs, floatingNetwork`);
      const { ranges } = parseRanges(b['ranges'], '$.ranges');
      const holdMs = b['holdMs'] ?? DEFAULT_HOLD_MS;
      if (!Number.isSafeInteger(holdMs) || (holdMs as number) < 0 || (holdMs as number) > MAX_HOLD_MS) throw new NubisError('REQUEST_INVALID', `$.holdMs: expected an integer from 0 to ${MAX_HOLD_MS}, found ${JSON.stringify(holdMs)}`);
      const fn = b['floatingNetwork'];
      if (fn !== undefined && (typeof fn !== 'string' || fn.length === 0 || fn.length > 200)) throw new NubisError('REQUEST_INVALID', '$.floatingNetwork: expected a network name or id');
      const outside = (await repo.leases(tenant, name)).filter((l) => !inRanges(ranges, l.address));
      if (outside.length > 0) throw new NubisError('CONFLICT', `pool ${name}: ${outside.map((l) => l.address).join(', ')} are leased or held and would fall outside the new ranges; release them first`);
      const before = await repo.pool(tenant, name);
      await repo.putPool({ tenant, name, ranges_json: JSON.stringify(ranges), hold_ms: holdMs as number, floating_network: (fn as string | undefined) ?? null, created_at: Number(before?.created_at ?? o.clock.now()) });
      await audit(tenant, by, 'address.pool.set', name, before ? 'pool changed' : 'pool created', { ranges, holdMs });
      const p = (await service.pools(tenant)).find((x) => x.name === name)!;
      return { pool: p, created: !before };
    },
    async deletePool(tenant, name, by) {
      await mustPool(tenant, name);
      const left = await repo.leases(tenant, name);
      if (left.length > 0) throw new NubisError('CONFLICT', `pool ${name} has ${left.length} address(es) leased or held; release them first`);
      await repo.deletePool(tenant, name);
      await audit(tenant, by, 'address.pool.removed', name, 'pool removed');
    },
    async leases(tenant, pool) {
      if (pool !== undefined) await mustPool(tenant, pool);
      return (await repo.leases(tenant, pool)).map((r) => leaseView(tenant, r));
    },
    async lease(tenant, pool, deployment, nodeKey) {
      const p = await mustPool(tenant, pool);
      const ranges = JSON.parse(p.ranges_json) as string[];
      // a concurrent lease of the same address (another replica) loses on the primary key: pick again
      for (let attempt = 1; ; attempt++) {
        try {
          const row = await repo.leaseAddress(tenant, pool, deployment, nodeKey, o.clock.now(), (taken) => firstFree(ranges, taken));
          if (!row) throw new NubisError('ADDRESS_POOL_EXHAUSTED', `address pool ${pool} has no free address for node ${localText(tenant, nodeKey)}: all ${parseRanges(ranges, 'ranges').size} are leased or held`);
          await audit(tenant, { actor: 'engine' }, 'address.leased', row.address, `leased to ${localText(tenant, nodeKey)}`, { pool, node: nodeKey });
          return leaseView(tenant, row);
        } catch (e) {
          if (e instanceof NubisError || attempt >= 5) throw e;
        }
      }
    },
    async hold(tenant, pool, address, forMs, by) {
      const p = await mustPool(tenant, pool);
      const l = await mustLease(tenant, pool, address);
      if (l.state === 'leased') throw leasedConflict(tenant, l, 'it is held for its deployment when the node goes; hold it longer then');
      const ms = forMs ?? Number(p.hold_ms);
      if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_HOLD_MS) throw new NubisError('REQUEST_INVALID', `$.forMs: expected an integer from 0 to ${MAX_HOLD_MS}`);
      const until = o.clock.now() + ms;
      await repo.holdAddress(tenant, pool, address, until);
      await audit(tenant, by, 'address.held', address, `held until ${iso(until)}`, { pool, until: iso(until) });
      return leaseView(tenant, await mustLease(tenant, pool, address));
    },
    async release(tenant, pool, address, by) {
      await mustPool(tenant, pool);
      const l = await mustLease(tenant, pool, address);
      if (l.state === 'leased') throw leasedConflict(tenant, l, 'remove the node first (scale in or destroy)');
      if (!(await repo.releaseAddress(tenant, pool, address))) throw new NubisError('NOT_FOUND', `address ${JSON.stringify(address)} of pool ${pool} is not leased or held`);
      await audit(tenant, by, 'address.released', address, 'released by request', { pool });
    },
    async nodeGone(nodeKey) {
      await holdEach(await repo.holdNode(nodeKey, o.clock.now() + MAX_HOLD_MS), `node ${nodeKey} is gone`);
    },
    async deploymentGone(deployment) {
      await holdEach(await repo.holdDeployment(deployment, o.clock.now() + MAX_HOLD_MS), `deployment ${deployment} was forgotten`);
    },
    async expire() {
      const rows = await repo.expireHolds(o.clock.now());
      for (const r of rows) await audit(r.tenant, { actor: 'engine' }, 'address.released', r.address, 'hold ended', { pool: r.pool });
      return rows.length;
    },
    start() {
      if (loop) return;
      const every = o.intervalMs ?? 10_000;
      loop = (async () => {
        while (!stopper.signal.aborted) {
          try {
            await o.clock.sleep(every, stopper.signal);
          } catch {
            return;
          }
          await service.expire().catch(() => undefined);
        }
      })();
    },
    async stop() {
      stopper.abort();
      await loop;
    },
  };
  return service;
}
