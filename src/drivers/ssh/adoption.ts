/**
 * Which unclaimed hosts `list` asks for a node record (adoption). A host is asked once per
 * driver instance — the pool is this cloud's own, so only a control plane that lost its
 * inventory finds nodes there — and a host that did not answer is asked again after `rescanMs`.
 * A host whose node was deleted through this driver is known empty and not asked again.
 */
import { hostKey } from './pool-inventory.js';
import type { SshHost } from './session.js';

export const RESCAN_MS = 30_000;

class AdoptionScanImpl {
  readonly #rescanMs: number;
  readonly #scanned = new Set<string>();
  readonly #failedAt = new Map<string, number>();

  constructor(rescanMs: number) {
    this.#rescanMs = rescanMs;
  }

  /** The hosts of `pool` to ask now: not claimed, not asked yet, and not failed within `rescanMs`. */
  due(pool: readonly SshHost[], claimed: ReadonlySet<string>, now: number): SshHost[] {
    return pool.filter((h) => !claimed.has(hostKey(h)) && !this.#scanned.has(h.name) && now - (this.#failedAt.get(h.name) ?? 0) >= this.#rescanMs);
  }

  /** What asking `host` gave: an answer (the host is done) or no answer (ask again later). */
  asked(host: string, answered: boolean, now: number): void {
    if (answered) this.#scanned.add(host);
    else this.#failedAt.set(host, now);
  }

  /** The host is known to hold nothing of ours (its node was deleted here). */
  cleared(host: string): void {
    this.#scanned.add(host);
  }
}

export type AdoptionScan = AdoptionScanImpl;

export function createAdoptionScan(rescanMs = RESCAN_MS): AdoptionScan {
  return new AdoptionScanImpl(rescanMs);
}
