/**
 * Holds (or waits for) the control-plane lease of one replica. Every `leaseMs / 3` it beats
 * (the replicas table), then renews the lease it holds or tries to take a free one.
 *
 * A leader stops acting before another can start: it counts its lease as lasting `leaseMs`
 * from the moment it *sent* the last successful renew (earlier than the database's now when it
 * was granted), on its own monotonic clock, and steps down when that passes without another
 * renew — the database unreachable, the process paused. Whatever it still writes after that
 * is refused by the database (the fence, src/store/leases.ts), which is what catches a leader
 * that was paused longer than its lease.
 */
import type { LeaseGrant, LeaseRepo, LeaseView, ReplicaView } from '../../store/index.js';

/** The one lease the controllers run under. */
export const CONTROL_LEASE = 'control-plane';

export type Role = 'leader' | 'follower';

export interface LeaseKeeperOptions {
  leases: LeaseRepo;
  replicaId: string;
  advertiseUrl: string;
  leaseMs: number;
  /** Called when this replica took the lease; resolves once its controllers run (a rejection gives the lease up). */
  onLead(grant: LeaseGrant): Promise<void>;
  /** Called when this replica lost the lease (`why` says how); resolves once its controllers stopped. */
  onLose(why: string): Promise<void>;
  log(message: string): void;
  /** Monotonic ms. Default performance.now. */
  now?: () => number;
}

export interface LeaseKeeperView {
  role: Role;
  /** This replica's grant while it leads. */
  grant?: LeaseGrant;
  /** The lease as last read (any holder). */
  lease?: LeaseView;
  /** The leader's advertised URL, when another replica leads. */
  leaderUrl?: string;
  /** Replicas that beat recently, as last read. */
  replicas: ReplicaView[];
  /** Monotonic ms of the last statement the database answered; undefined before the first. */
  databaseOkAt?: number;
}

export class LeaseKeeper {
  private role: Role = 'follower';
  private grant: LeaseGrant | undefined;
  private validUntil = 0;
  private lease: LeaseView | undefined;
  private replicasSeen: ReplicaView[] = [];
  private databaseOkAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** Role changes run one after another. */
  private transition: Promise<void> = Promise.resolve();
  private ticking = false;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.now = o.now ?? (() => performance.now());
  }

  start(): void {
    const every = Math.max(50, Math.floor(this.o.leaseMs / 3));
    this.timer = setInterval(() => void this.tick(), every);
    this.watchdog = setInterval(() => this.checkDeadline(), Math.max(20, Math.floor(this.o.leaseMs / 10)));
    void this.tick();
  }

  view(): LeaseKeeperView {
    const v: LeaseKeeperView = { role: this.role, replicas: this.replicasSeen };
    if (this.grant) v.grant = this.grant;
    if (this.lease) v.lease = this.lease;
    if (this.databaseOkAt !== undefined) v.databaseOkAt = this.databaseOkAt;
    const url = this.leaderUrl();
    if (url) v.leaderUrl = url;
    return v;
  }

  /** Whether the database answered within the last lease time. */
  databaseReachable(): boolean {
    return this.databaseOkAt !== undefined && this.now() - this.databaseOkAt < this.o.leaseMs;
  }

  private leaderUrl(): string | undefined {
    const l = this.lease;
    if (!l || l.holder === this.o.replicaId || l.expiresAt <= l.now) return undefined;
    return this.replicasSeen.find((r) => r.id === l.holder)?.advertiseUrl;
  }

  /** The store refused a write as fenced: step down now. */
  fenced(): void {
    if (this.role === 'leader') this.lose('FENCED: the database refused a write (another replica holds the lease)');
  }

  /** A fault in the controllers nobody handled: a leader steps down (its controllers restart when it leads again). */
  fault(why: string): void {
    if (this.role === 'leader') this.lose(why);
  }

  private checkDeadline(): void {
    if (this.role === 'leader' && this.now() >= this.validUntil) this.lose(`the lease ran out without a renew (${this.o.leaseMs} ms)`);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    const sent = this.now();
    try {
      const { leases, replicaId, leaseMs } = this.o;
      // the renew first: a busy leader must not lose its lease to its own bookkeeping
      if (this.role === 'leader' && this.grant) {
        const renewed = await leases.renew(this.grant, leaseMs);
        if (renewed) {
          this.grant = renewed;
          this.validUntil = sent + leaseMs;
        } else this.lose('the lease was taken over');
      } else if (this.role === 'follower') {
        const got = await leases.acquire(CONTROL_LEASE, replicaId, leaseMs);
        if (got) this.lead(got, sent);
      }
      this.databaseOkAt = this.now();
      await leases.heartbeat(replicaId, this.o.advertiseUrl);
      this.lease = await leases.get(CONTROL_LEASE);
      this.replicasSeen = await leases.replicas(Math.max(10 * leaseMs, 10_000));
      this.databaseOkAt = this.now();
    } catch {
      // the database did not answer: a leader keeps acting until its lease would have run out (checkDeadline)
    } finally {
      this.ticking = false;
    }
  }

  private lead(grant: LeaseGrant, sent: number): void {
    this.role = 'leader';
    this.grant = grant;
    this.validUntil = sent + this.o.leaseMs;
    this.o.log(`nubis: replica ${this.o.replicaId} leads (lease ${grant.name}, token ${grant.token})`);
    this.transition = this.transition.then(async () => {
      if (this.role !== 'leader' || this.grant !== grant) return;
      try {
        await this.o.onLead(grant);
      } catch (e) {
        this.o.log(`nubis: replica ${this.o.replicaId} could not start its controllers: ${e instanceof Error ? e.message : String(e)}; giving the lease up`);
        this.lose('the controllers did not start');
      }
    });
  }

  private lose(why: string): void {
    if (this.role !== 'leader') return;
    const grant = this.grant;
    this.role = 'follower';
    this.grant = undefined;
    this.o.log(`nubis: replica ${this.o.replicaId} steps down: ${why}`);
    this.transition = this.transition.then(async () => {
      await this.o.onLose(why).catch(() => {});
      // given up at once when the database answers, so another need not wait the lease out
      if (grant) await this.o.leases.release(grant).catch(() => {});
    });
  }

  /** Stops beating; a leader stops its controllers and gives the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    while (this.ticking) await new Promise((r) => setTimeout(r, 10));
    this.lose('the replica is stopping');
    await this.transition;
    await this.o.leases.removeReplica(this.o.replicaId).catch(() => {});
  }
}
