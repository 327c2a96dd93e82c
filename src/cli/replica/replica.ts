/**
 * One control-plane replica (`serve --replica --store postgres://…`): several of them over one
 * PostgreSQL make one control plane that survives losing any one.
 *
 * Each replica runs a front (./front.ts) on its public port and a lease keeper
 * (./lease-keeper.ts). The replica holding the lease starts a complete server of its own
 * (../server-root.ts: engine reconcile, workflows, recovery, alerts, scaling rules, metric
 * pulls) on a loopback port, over a store fenced by its lease token; the others run no
 * controller at all, so rules are evaluated and agents and clouds are called once. Losing the
 * lease (taken over, not renewed in time, or a write refused as FENCED) closes that server
 * before the lease is given up; taking it again starts a new one, which loads the state the
 * previous leader left in the database.
 */
import crypto from 'node:crypto';
import { openStore, listenChannel, EVENTS_CHANNEL, type Store, type LeaseGrant } from '../../store/index.js';
import { createEventFeed, type EventFeed } from '../../events/index.js';
import { createAccessControl } from '../../api/index.js';
import { createUserService } from '../../users/index.js';
import { NubisError } from '../../errors/index.js';
import { startServer, type ServerHandle, type StartServerOptions } from '../server-root.js';
import { CONTROL_LEASE, LeaseKeeper } from './lease-keeper.js';
import { createFront, type Front } from './front.js';

export interface ReplicaOptions {
  /** What the leader's own server is started with (its port and host are chosen here). */
  server: Omit<StartServerOptions, 'port' | 'host' | 'storeGuard'> & { store: string };
  port: number;
  host: string;
  /** How long a lease lasts without a renew (ms). Default 10 000. */
  leaseMs?: number;
  /** The URL other replicas forward to; default http://<host>:<port>. */
  advertiseUrl?: string;
  /** Default a random id. */
  replicaId?: string;
  log: (message: string) => void;
}

export interface ReplicaHandle {
  url: string;
  port: number;
  replicaId: string;
  advertiseUrl: string;
  /** Something failed that nobody handled: a leader restarts its controllers (steps down; it may lead again later). */
  fault(why: string): void;
  close(): Promise<void>;
}

const DEFAULT_LEASE_MS = 10_000;

/** Opens the replica's own store (no fence: it only beats, reads and takes leases) and readies the database for replicas. */
async function openFrontStore(url: string): Promise<Store> {
  const store = await openStore({ path: url });
  if (store.dialect !== 'postgres') {
    await store.close();
    throw new NubisError('REQUEST_INVALID', '--replica needs --store postgres://…: replicas share one PostgreSQL database');
  }
  await store.leases.prepareReplicas();
  return store;
}

/** The leader's server, started and stopped as the lease comes and goes. */
class LeaderServer {
  private handle: ServerHandle | undefined;
  constructor(
    private readonly o: ReplicaOptions,
    private readonly leaseMs: number,
    private readonly onFenced: () => void,
    /** Where agents reach the control plane: the replica's advertised URL (its front forwards to the leader). */
    private readonly controlUrl: () => string,
  ) {}

  url(): string | undefined {
    return this.handle?.url;
  }

  async start(grant: LeaseGrant): Promise<void> {
    const fence = { lease: grant.name, holder: grant.holder, token: grant.token };
    this.handle = await startServer({
      ...this.o.server, port: 0, host: '127.0.0.1', controlUrl: this.controlUrl(),
      storeGuard: { fence, onFenced: this.onFenced, sessionLimits: { idleInTransactionMs: this.leaseMs, lockMs: this.leaseMs, statementMs: Math.max(30_000, 3 * this.leaseMs) } },
    });
    this.o.log(`nubis: controllers run under lease ${grant.name} token ${grant.token}`);
  }

  async stop(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (!h) return;
    await h.close();
    this.o.log('nubis: controllers stopped');
  }
}

export async function startReplica(o: ReplicaOptions): Promise<ReplicaHandle> {
  const leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
  const replicaId = o.replicaId ?? `r-${crypto.randomBytes(4).toString('hex')}`;
  const store = await openFrontStore(o.server.store);
  let feed: EventFeed | undefined;
  let front: Front | undefined;
  let keeper: LeaseKeeper | undefined;
  try {
    feed = createEventFeed({ store, listen: async (wake) => { const l = await listenChannel(o.server.store, EVENTS_CHANNEL, wake); return () => l.close(); } });
    await feed.start();
    const advertise = { url: o.advertiseUrl ?? '' };
    let fencedOnce = false;
    const leader = new LeaderServer(o, leaseMs, () => {
      // said once per term: every refused write of a stale leader lands here
      if (!fencedOnce) o.log(`nubis: FENCED: the database refused a write of replica ${replicaId}: another replica holds the lease; stepping down`);
      fencedOnce = true;
      keeper?.fenced();
    }, () => advertise.url);
    keeper = new LeaseKeeper({
      leases: store.leases, replicaId, leaseMs, log: o.log,
      get advertiseUrl() { return advertise.url; },
      onLead: (g) => {
        fencedOnce = false;
        return leader.start(g);
      },
      onLose: () => leader.stop(),
    });
    const k = keeper;
    front = createFront({ replicaId, auth: createAccessControl(createUserService({ store })), events: feed, keeper: k, inner: () => leader.url(), leaseMs, log: o.log });
    const port = await front.listen(o.port, o.host);
    const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
    const url = `http://${hostForUrl}:${port}`;
    advertise.url = o.advertiseUrl ?? url;
    k.start();
    o.log(`nubis: replica ${replicaId} (lease ${CONTROL_LEASE}, ${leaseMs} ms) advertises ${advertise.url}`);
    const f = front;
    const fd = feed;
    return {
      url, port, replicaId, advertiseUrl: advertise.url,
      fault: (why) => k.fault(why),
      async close() {
        await k.stop();
        await f.close();
        await fd.stop();
        await store.close();
      },
    };
  } catch (e) {
    await keeper?.stop().catch(() => {});
    await front?.close().catch(() => {});
    await feed?.stop().catch(() => {});
    await store.close().catch(() => {});
    throw e;
  }
}
