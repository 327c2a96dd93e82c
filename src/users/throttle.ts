/**
 * Login throttling per user and client address, with exponential backoff and no lockout:
 * the first FREE failures cost nothing; each later one doubles the wait before the next try
 * (up to MAX). A try during the wait is refused without checking the password and without
 * counting, so waiting always ends and the right password then works; a success clears the
 * record. Other addresses are not affected, so nobody can lock a user out from elsewhere.
 */
export interface ThrottleOptions {
  /** Failures allowed before any wait. Default 5. */
  free?: number;
  /** The first wait. Default 1 s. */
  baseMs?: number;
  /** The longest wait. Default 5 min. */
  maxMs?: number;
  /** Records kept at most (the oldest go first). Default 10000. */
  capacity?: number;
}

interface Entry {
  failures: number;
  until: number;
  seen: number;
}

export class LoginThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #free: number;
  readonly #base: number;
  readonly #max: number;
  readonly #capacity: number;

  constructor(o: ThrottleOptions = {}) {
    this.#free = o.free ?? 5;
    this.#base = o.baseMs ?? 1000;
    this.#max = o.maxMs ?? 5 * 60_000;
    this.#capacity = o.capacity ?? 10_000;
  }

  /** Milliseconds to wait before this key may try again; 0: it may try now. */
  wait(key: string, now: number): number {
    const e = this.#entries.get(key);
    return e === undefined ? 0 : Math.max(0, e.until - now);
  }

  fail(key: string, now: number): void {
    const e = this.#entries.get(key) ?? { failures: 0, until: 0, seen: now };
    e.failures += 1;
    e.seen = now;
    const over = e.failures - this.#free;
    e.until = over > 0 ? now + Math.min(this.#max, this.#base * 2 ** Math.min(over - 1, 30)) : 0;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    while (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  succeed(key: string): void {
    this.#entries.delete(key);
  }
}
