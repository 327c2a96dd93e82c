/**
 * What a controller is to the reconcile core: a name, how its keys are woken, and a
 * level-based `reconcile(key)` that reads the current state for the key (never a remembered
 * event) and says what should happen next.
 */
import type { NubisError } from '../../errors/index.js';

export type ReconcileResult =
  /** Nothing more to do for the key until it is woken again. */
  | { readonly kind: 'done' }
  /** Look again after `afterMs` of clock time (a poll or a periodic pass; not a failure). */
  | { readonly kind: 'requeue'; readonly afterMs: number }
  /** A retryable failure: look again after the key's next backoff delay. */
  | { readonly kind: 'retry'; readonly error?: NubisError }
  /** A failure that would repeat forever: recorded, and the key is not requeued until woken. */
  | { readonly kind: 'terminal'; readonly error: NubisError };

export const done: ReconcileResult = Object.freeze({ kind: 'done' });
export const requeueAfter = (afterMs: number): ReconcileResult => ({ kind: 'requeue', afterMs });
export const retry = (error?: NubisError): ReconcileResult => (error ? { kind: 'retry', error } : { kind: 'retry' });
export const terminal = (error: NubisError): ReconcileResult => ({ kind: 'terminal', error });

/**
 * How the core runs a controller's ready keys. `turn`: on the next event-loop turn.
 * `adaptive`: like `turn`, but when a drain gets expensive the next one waits, so draining
 * takes at most a fifth of the CPU (for controllers whose reconcile is O(size of the key)).
 * `background`: the same with at most a tenth (work that many changes share, such as
 * recomputing a component's wiring for all its requirers).
 */
export type Pacing = 'turn' | 'adaptive' | 'background';

export interface Controller {
  readonly name: string;
  /** Keys that exist when the core starts; each is reconciled once (level-based start). */
  initialKeys?(): Iterable<string>;
  /**
   * Subscribes to whatever wakes this controller's keys; `wake(key)` queues a key. Called once
   * when the core starts; returns an unsubscribe.
   */
  watch?(wake: (key: string) => void): (() => void) | void;
  /**
   * Brings `key` to its desired state from the current state. A thrown NubisError counts as
   * `retry` when retryable, `terminal` otherwise. Synchronous results are drained in batches;
   * an asynchronous one holds its key until it settles (a key is never reconciled twice at once).
   */
  reconcile(key: string, signal: AbortSignal): ReconcileResult | Promise<ReconcileResult>;
  /** Told when a key ends in a terminal error (to record it as an event). */
  onTerminal?(key: string, error: NubisError): void;
  readonly pacing?: Pacing;
  /** Backoff of rate-limited requeues. Defaults 1 000 and 30 000. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}
