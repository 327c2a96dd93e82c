/**
 * The health of one cloud (one handle: a platform at an endpoint with one credential), as seen
 * by the calls the runtime wrapper and discovery send to it. It decides whether the next call
 * may reach the provider at all.
 *
 * States and what moves them:
 * - `healthy`: every call goes through.
 * - `backoff`: a list or a discovery failed with a retryable error (unreachable, 5xx, 429,
 *   timeout). Until `retryAt` every call fails fast with a retryable CLOUD_UNAVAILABLE that
 *   never reaches the provider; then ONE call is let through as a probe. A failing probe doubles
 *   the window (equal jitter: a window of d lasts between d/2 and d, d = min(maxMs, baseMs ×
 *   2^(failures−1))); any answer from the provider that is not such a failure ends the backoff.
 * - `unusable`: the provider refused the credential or the request as such (401, 403) or the
 *   cloud cannot be built (an invalid option, a credential that cannot be opened). Every call
 *   fails fast with that error (not retryable) until `reset()` — which the control plane calls
 *   when the cloud's credential or registry entry changes.
 * After `reset()` calls may go again, but the first one goes alone (the others fail fast until it
 * is answered), so a change of credential costs at most one attempt; its outcome is reported as
 * the change (`healthy`, or `unusable` again).
 * Each change of state is reported once through `onChange` (not once per call).
 */
import type { Clock } from '../clock/index.js';
import { NubisError, isNubisError, type ErrorCode } from '../errors/index.js';

export type CloudHealthState = 'healthy' | 'backoff' | 'unusable';

/** The operations health distinguishes: the driver's plus discovery. */
export type HealthOp = 'create' | 'get' | 'list' | 'delete' | 'reboot' | 'discover' | 'snapshot' | 'snapshotStatus' | 'readSnapshot' | 'deleteSnapshot' | 'hosts' | 'applyFirewall' | 'removeFirewall';

/** Errors that no retry can cure: calls stop until the credential or entry changes. */
export const STOPPING_CODES: readonly ErrorCode[] = [
  'CLOUD_UNAUTHORIZED', 'CLOUD_FORBIDDEN', 'SPEC_INVALID', 'CREDENTIAL_KEY_MISMATCH', 'CREDENTIAL_TAMPERED', 'CREDENTIAL_KEY_INVALID',
];

/** Retryable failures of these operations put the whole cloud into backoff. */
const CLOUD_WIDE_OPS: readonly HealthOp[] = ['list', 'discover'];

export interface CloudHealthView {
  state: CloudHealthState;
  /** Clock time the state began. */
  since: number;
  /** Why (absent when healthy): what failed and what to do. */
  reason?: string;
  code?: ErrorCode;
  /** Failed attempts in a row (backoff). */
  failures: number;
  /** Backoff only: the earliest clock time of the next attempt. */
  retryAt?: number;
  /** Calls failed fast (not sent to the provider) since the state began. */
  refused: number;
}

export interface CloudHealthChange {
  cloud: string;
  from: CloudHealthState;
  to: CloudHealthState;
  view: CloudHealthView;
  /** What caused the change (an error message, `credential changed`, …). */
  cause: string;
}

export interface CloudHealthOptions {
  /** The cloud's name, for messages. */
  cloud: string;
  clock: Clock;
  /** First backoff window. Default 1 000. */
  baseMs?: number;
  /** Longest backoff window. Default 300 000 (5 min). */
  maxMs?: number;
  /** Jitter source in [0, 1). Default Math.random. */
  random?: () => number;
  /** Called once per change of state; exceptions are ignored. */
  onChange?: (c: CloudHealthChange) => void;
}

/** A call admitted by `admit`: report how it ended exactly once. */
export interface Admission {
  /** `undefined` for success. Returns true when the cloud now refuses calls (stop retrying). */
  settle(error?: unknown): boolean;
}

export interface CloudHealth {
  /** Admits a call, or throws the fail-fast error (the provider is not contacted). */
  admit(op: HealthOp): Admission;
  view(): CloudHealthView;
  /** Clears backoff and a stop: the credential or the entry changed. */
  reset(cause: string): void;
  /** Marks the cloud unusable without a call (the cloud cannot be built). */
  stop(error: NubisError): void;
}

function stopMessage(cloud: string, e: NubisError): string {
  const what =
    e.code === 'CLOUD_UNAUTHORIZED' ? 'authentication failed (401): check the credential'
    : e.code === 'CLOUD_FORBIDDEN' ? 'forbidden (403): the credential may not do this; grant the permission or use another account'
    : e.code === 'SPEC_INVALID' ? 'invalid cloud options: correct the cloud entry or the spec'
    : 'the credential cannot be opened: set it again';
  return `${what}: ${e.message}`;
}

class CloudHealthImpl implements CloudHealth {
  private state: CloudHealthState = 'healthy';
  private since: number;
  private reason: string | undefined;
  private code: ErrorCode | undefined;
  private failures = 0;
  private retryAt = 0;
  private probing = false;
  /** After a reset: one call goes first, the rest wait for its answer (≤ 1 attempt per change). */
  private recovering: CloudHealthState | undefined;
  private refused = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(private readonly opts: CloudHealthOptions) {
    this.since = opts.clock.now();
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 300_000;
    this.random = opts.random ?? Math.random;
  }

  admit(op: HealthOp): Admission {
    const { cloud, clock } = this.opts;
    if (this.state === 'unusable') {
      this.refused++;
      throw new NubisError(this.code ?? 'CLOUD_UNAUTHORIZED', `cloud ${cloud}: ${this.reason ?? 'unusable'} — calls stopped until its credential or entry changes`, {
        retryable: false,
        details: { cloud, health: 'unusable' },
      });
    }
    let probe = false;
    if (this.recovering) {
      if (this.probing) {
        this.refused++;
        throw new NubisError('CLOUD_UNAVAILABLE', `cloud ${cloud}: its credential or entry changed and the first call with it is under way; ${op} not sent`, {
          details: { cloud, health: 'recovering', retryAfterMs: 0 },
        });
      }
      this.probing = probe = true;
    } else if (this.state === 'backoff') {
      const waitMs = Math.max(0, this.retryAt - clock.now());
      if (waitMs > 0 || this.probing) {
        this.refused++;
        throw new NubisError('CLOUD_UNAVAILABLE', `cloud ${cloud} is backing off after ${this.failures} failed attempt${this.failures === 1 ? '' : 's'} (${this.reason ?? 'unknown'}); ${op} not sent, next attempt in ${Math.ceil(waitMs / 1000)} s`, {
          details: { cloud, health: 'backoff', retryAfterMs: waitMs },
        });
      }
      this.probing = probe = true;
    }
    let done = false;
    return {
      settle: (error?: unknown): boolean => {
        if (done) return this.state !== 'healthy';
        done = true;
        if (probe) this.probing = false;
        this.record(op, error);
        return this.state !== 'healthy';
      },
    };
  }

  private record(op: HealthOp, error: unknown): void {
    const e = isNubisError(error) ? error : undefined;
    if (error !== undefined && (!e || e.code === 'ABORTED' || e.code === 'INTERNAL')) return;
    const was = this.recovering;
    this.recovering = undefined;
    if (error === undefined || !e) {
      if (this.state !== 'healthy' || was) this.move('healthy', `${op} succeeded`, was);
      return;
    }
    if (STOPPING_CODES.includes(e.code)) return this.stop(e);
    if (e.retryable && (this.state === 'backoff' || CLOUD_WIDE_OPS.includes(op))) {
      this.failures++;
      const d = Math.min(this.maxMs, this.baseMs * 2 ** (this.failures - 1));
      this.retryAt = this.opts.clock.now() + d / 2 + this.random() * (d / 2);
      this.code = e.code;
      this.reason = `${op}: ${e.code}: ${e.message}`;
      if (this.state !== 'backoff') this.move('backoff', this.reason);
      return;
    }
    // the provider answered (a 404, a 400…): the cloud itself works
    if (this.state === 'backoff' || was) this.move('healthy', `${op} answered (${e.code})`, was);
  }

  stop(e: NubisError): void {
    this.recovering = undefined;
    if (this.state === 'unusable') return;
    this.code = e.code;
    this.reason = stopMessage(this.opts.cloud, e);
    this.move('unusable', this.reason);
  }

  reset(cause: string): void {
    void cause;
    this.probing = false;
    if (this.state === 'healthy' && !this.recovering) return;
    // calls may go again, the first one alone; its outcome is the next change reported
    this.recovering = this.recovering ?? this.state;
    this.state = 'healthy';
    this.since = this.opts.clock.now();
    this.failures = 0;
    this.retryAt = 0;
    this.refused = 0;
    this.reason = undefined;
    this.code = undefined;
  }

  view(): CloudHealthView {
    const v: CloudHealthView = { state: this.state, since: this.since, failures: this.failures, refused: this.refused };
    if (this.state !== 'healthy') {
      if (this.reason) v.reason = this.reason;
      if (this.code) v.code = this.code;
    }
    if (this.state === 'backoff') v.retryAt = this.retryAt;
    return v;
  }

  private move(to: CloudHealthState, cause: string, from: CloudHealthState = this.state): void {
    this.state = to;
    this.since = this.opts.clock.now();
    this.refused = 0;
    if (to === 'healthy') {
      this.failures = 0;
      this.retryAt = 0;
      this.reason = undefined;
      this.code = undefined;
    }
    try {
      this.opts.onChange?.({ cloud: this.opts.cloud, from, to, view: this.view(), cause });
    } catch {
      // an observer must not break cloud calls
    }
  }
}

export function createCloudHealth(opts: CloudHealthOptions): CloudHealth {
  return new CloudHealthImpl(opts);
}
