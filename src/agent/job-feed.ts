/**
 * The agent's ordered job feed: every child record and every job exit gets the next sequence
 * number; the control plane reads the records after its cursor with a long poll that answers
 * as soon as one arrives. Waiters are woken once per turn of the event loop, not per record:
 * the records of one poll phase (several jobs reporting at once) go out in one answer.
 *
 * Seqs go on across agent restarts (the bound is kept by ./job-state.ts, `issue`); the feed
 * keeps the latest `keep` records, and a reader that fell behind further sees `oldest` past
 * its cursor.
 */
import type { JobStateStore } from './job-state.js';
import type { JobFeed, JobFeedRecord } from './protocol.js';

/** Records in one answer at most. */
const MAX_FEED_BATCH = 1000;

/** The index of the first record with a seq above `after` (seqs ascend), -1 when none. */
function firstAfter(feed: readonly JobFeedRecord[], after: number): number {
  let lo = 0;
  let hi = feed.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (feed[mid]!.seq > after) hi = mid;
    else lo = mid + 1;
  }
  return lo < feed.length ? lo : -1;
}

export class JobFeedLog {
  private readonly records: JobFeedRecord[] = [];
  private readonly waiters = new Set<() => void>();
  private waking: NodeJS.Immediate | undefined;
  private seq: number;
  private closed = false;

  constructor(private readonly epoch: string, private readonly saved: JobStateStore, private readonly keep: number) {
    this.seq = saved.firstSeq;
  }

  /** The last seq issued. */
  get last(): number {
    return this.seq;
  }

  /** The next seq (moving the bound on disk ahead when needed). */
  nextSeq(): number {
    this.saved.issue(this.seq + 1);
    return ++this.seq;
  }

  push(rec: JobFeedRecord): void {
    this.records.push(rec);
    if (this.records.length > this.keep) this.records.splice(0, this.records.length - this.keep);
    if (this.waiters.size > 0) this.waking ??= setImmediate(() => this.wake());
  }

  /** Records an earlier agent issued and a restarted one carries on (in seq order). */
  refeed(records: readonly JobFeedRecord[]): void {
    this.records.push(...records);
    this.records.sort((a, b) => a.seq - b.seq);
  }

  /** The records after `after`; when none, waits up to `waitMs` for one (or the abort, or `close`). */
  read(after: number, waitMs: number, signal?: AbortSignal): Promise<JobFeed> {
    const now = this.collect(after);
    if (now.records.length > 0 || waitMs <= 0 || this.closed || after > this.seq) return Promise.resolve(now);
    return new Promise<JobFeed>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve(this.collect(after));
      };
      const timer = setTimeout(done, waitMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Answers every waiting read now; later reads do not wait. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    this.waking = undefined;
    for (const w of [...this.waiters]) w();
  }

  private collect(after: number): JobFeed {
    const from = firstAfter(this.records, after);
    const records = from < 0 ? [] : this.records.slice(from, from + MAX_FEED_BATCH);
    return { epoch: this.epoch, records, last: records.length > 0 ? records[records.length - 1]!.seq : Math.max(after, 0), oldest: this.records[0]?.seq ?? this.seq + 1 };
  }
}
