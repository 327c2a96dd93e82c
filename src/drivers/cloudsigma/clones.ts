/**
 * Waiting for CloudSigma's asynchronous clones (API 2.0 "Drives → Cloning", "Servers →
 * Cloning": 202 Accepted, the new drive `cloning_dst` and its source `cloning_src` until the
 * copy ends). A server must not be started, and a drive not deleted, while a drive of it is
 * still being copied.
 */
import type { Clock } from '../../clock/index.js';
import { NubisError } from '../../errors/index.js';

/** True for the statuses of a drive whose copy is under way. */
export const isCloning = (status: string | undefined): boolean => status === 'cloning_dst' || status === 'cloning_src';

export interface CloneWait {
  clock: Clock;
  /** Time between two looks at a drive (the driver's `pollMs`). */
  pollMs: number;
  /** How long a copy may take before CLOUD_TIMEOUT (the driver's `cloneTimeoutMs`). */
  timeoutMs: number;
}

/**
 * Resolves once none of `drives` is being copied (a drive that is gone counts as done), asking
 * `statusOf` once per drive every `pollMs`. Fails with CLOUD_TIMEOUT (retryable: the copy may
 * still end, and a repeated create resumes) after `timeoutMs`, and with ABORTED on abort.
 */
export async function waitForClones(
  drives: readonly string[],
  statusOf: (uuid: string) => Promise<string | undefined>,
  w: CloneWait,
  signal: AbortSignal,
  what: string,
): Promise<void> {
  const deadline = w.clock.now() + w.timeoutMs;
  let pending = [...drives];
  for (;;) {
    const still: string[] = [];
    for (const uuid of pending) if (isCloning(await statusOf(uuid))) still.push(uuid);
    if (still.length === 0) return;
    pending = still;
    if (w.clock.now() >= deadline) {
      throw new NubisError('CLOUD_TIMEOUT', `cloudsigma ${what}: drive ${still[0]} is still being cloned after ${w.timeoutMs} ms`, {
        retryable: true,
        details: { drives: still },
      });
    }
    try {
      await w.clock.sleep(w.pollMs, signal);
    } catch {
      throw new NubisError('ABORTED', `cloudsigma ${what}: wait for the clone aborted`);
    }
  }
}
