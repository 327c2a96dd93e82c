/**
 * drivers — one folder per cloud platform behind one `Driver` interface (./driver.ts), the
 * runtime wrapper every driver runs inside (./runtime.ts), creation limiters (./limiter.ts)
 * and the conformance suite every driver passes (./conformance.ts, imported by tests only).
 */
import type { Platform } from '../model/types.js';
import type { DriverFactory } from './driver.js';
import { createLocalDriver } from './local/index.js';
import { createSimDriver } from './sim/index.js';

export * from './driver.js';
export { wrapDriver, type DriverCallEvent } from './runtime.js';
export { createAdaptiveLimiter, createFixedLimiter, type ConcurrencyLimiter, type LimitOutcome, type LimitRelease } from './limiter.js';
export { createLocalDriver } from './local/index.js';
export { createSimDriver, createSimCloud, startSimServer, type SimCloud, type SimServer } from './sim/index.js';

/** Every platform this build has a driver for. */
export function defaultDriverFactories(): Partial<Record<Platform, DriverFactory>> {
  return { local: createLocalDriver, sim: createSimDriver };
}
