/**
 * The audit log as a replica that did not write it sees it (issue 13): subscriptions fed from
 * the database, so a client streaming from replica B gets the events the leader A committed.
 *
 * The feed reads the events table by id after the last one it delivered, whenever it is woken
 * (PostgreSQL LISTEN/NOTIFY: the store notifies `nubis_events` when events are committed) and
 * at least every `pollMs` (a wake lost with a dropped connection costs at most that much
 * delay, never an event). Events are written by one leader at a time through its group commit,
 * so they commit in id order and reading by id misses none.
 */
import type { ChainReport, EventFilter, Store } from '../store/index.js';
import type { EventLog, NubisEvent, StagedEvents } from './index.js';
import { eventFromRow, matchesLive, verifyChains } from './rows.js';

export interface EventFeedOptions {
  store: Store;
  /** Subscribes to the database's wake-ups; returns how to stop. Absent: polling only. */
  listen?: (wake: () => void) => Promise<() => Promise<void>>;
  /** Longest time between two reads of the table (ms). Default 1000. */
  pollMs?: number;
  /** Rows per read. Default 1000. */
  page?: number;
}

export interface EventFeed extends EventLog {
  /** Starts from the newest event now stored (earlier ones are replayed by cursor, not pushed). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The id of the last event delivered to subscribers. */
  cursor(): number;
}

const READ_ONLY = 'the event feed is read-only: events are written by the leading replica';

type Sub = { filter: Pick<EventFilter, 'tenant' | 'deployment' | 'kind'>; fn: (e: NubisEvent, tenant: string) => void };

class DatabaseEventFeed implements EventFeed {
  private readonly subs = new Set<Sub>();
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly o: EventFeedOptions) {}

  async start(): Promise<void> {
    this.last = await this.o.store.lastEventId();
    if (this.o.listen) {
      try {
        this.unlisten = await this.o.listen(() => this.wake());
      } catch {
        // no LISTEN (the database is unreachable now): polling still delivers every event
      }
    }
    this.timer = setInterval(() => this.wake(), this.o.pollMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.().catch(() => {});
    await this.reading;
  }

  cursor(): number {
    return this.last;
  }

  /** Reads what came since the cursor; a wake during a read reads again after it. */
  private wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.readAll()
      .catch(() => {
        // the database is unreachable: the next wake or poll tries again from the same cursor
      })
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async readAll(): Promise<void> {
    const page = this.o.page ?? 1000;
    for (;;) {
      const rows = await this.o.store.events({ afterId: this.last, limit: page });
      for (const r of rows) {
        this.last = r.id;
        if (this.subs.size === 0) continue;
        const e = eventFromRow(r);
        for (const s of this.subs) if (matchesLive(s.filter, e, r.tenant)) s.fn(e, r.tenant);
      }
      if (rows.length < page || this.stopped) return;
    }
  }

  append(): Promise<void> {
    return Promise.reject(new Error(READ_ONLY));
  }

  stage(): StagedEvents {
    throw new Error(READ_ONLY);
  }

  async list(filter: EventFilter): Promise<NubisEvent[]> {
    return (await this.o.store.events(filter)).map(eventFromRow);
  }

  verify(tenant?: string): Promise<ChainReport[]> {
    return verifyChains(this.o.store, tenant);
  }

  subscribe(filter: Sub['filter'], fn: Sub['fn']): () => void {
    const s = { filter, fn };
    this.subs.add(s);
    return () => this.subs.delete(s);
  }
}

/** An event log whose subscribers are fed from the database (see the file's comment). */
export function createEventFeed(o: EventFeedOptions): EventFeed {
  return new DatabaseEventFeed(o);
}
