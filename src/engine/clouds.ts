/**
 * Cloud handles: one wrapped driver (events, retries, timeouts, rate limits) and one creation
 * limiter per distinct (platform, options), shared by every deployment that names it.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock/index.js';
import type { CloudSpec, NodeTemplateSpec, Platform } from '../model/types.js';
import type { Driver, DriverFactory } from '../drivers/driver.js';
import { NubisError } from '../errors/index.js';
import type { ConcurrencyLimiter } from '../drivers/limiter.js';
import type { RuntimeDriver } from '../drivers/runtime.js';
import { ADMIN_TENANT } from '../store/index.js';

/** Bounds how many node creations run at once on one cloud (see drivers/limiter.ts). */
export type CreationLimiter = ConcurrencyLimiter;

export interface CloudHandle {
  key: string;
  platform: Platform;
  driver: RuntimeDriver;
  limiter: CreationLimiter;
  /** The startup inventory sweep has run: creates and deletes may go ahead. */
  synced: boolean;
}

export interface CloudSetup {
  clock: Clock;
  dataDir: string;
  controlUrl?: string;
  factories: Partial<Record<Platform, DriverFactory>>;
  /** Wraps a raw driver with the runtime (events, retries…). */
  wrap: (driver: Driver, cloud: CloudSpec) => RuntimeDriver;
  limiter: (cloud: CloudSpec) => CreationLimiter;
  /**
   * The opened secrets of the credential a cloud names (`CloudSpec.credential`) in the tenant of
   * the deployment using it, handed to its driver as `DriverContext.credentials`. Throws (NOT_FOUND, CREDENTIAL_*) when it cannot.
   */
  credentials?: (name: string, tenant: string) => Record<string, string>;
}

/** Where selection put a node: a registered cloud and the offer, image and location ids. */
export interface Placement {
  cloud: string;
  location?: string;
  offer?: string;
  image?: string;
}

/**
 * What the engine needs of the registries: registered clouds as cloud specs, and a choice of
 * placement for a node template without a cloud. Built by the control plane.
 */
export interface PlacementSource {
  /** A registered cloud of the tenant by name, or undefined (also when another tenant has it). */
  cloud(tenant: string, name: string): CloudSpec | undefined;
  /** Names of every registered cloud of the tenant. */
  clouds(tenant: string): string[];
  /**
   * Chooses where the next node of a template goes, given where its component's nodes are
   * (for spread). Throws PLACEMENT_NO_FIT naming the closest offers when nothing fits.
   */
  place(tenant: string, template: NodeTemplateSpec, existing: readonly Placement[], what: string): { placement: Placement; reason: string };
}

function stable(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
    .join(',')}}`;
}

/**
 * Same platform and options, same cloud: they share a driver, an inventory and a limit. A
 * credential is named within a tenant, so one named in two tenants is two accounts.
 */
export function cloudKey(c: CloudSpec, tenant: string = ADMIN_TENANT): string {
  // another credential is another account: another cloud
  const h = crypto.createHash('sha1').update(stable(c.credential ? { options: c.options, credential: c.credential, ...(tenant !== ADMIN_TENANT ? { tenant } : {}) } : c.options)).digest('hex').slice(0, 12);
  return `${c.platform}:${h}`;
}

export function createCloudRegistry(setup: CloudSetup) {
  const handles = new Map<string, CloudHandle>();
  return {
    /**
     * The handle for a cloud spec as a deployment of `tenant` names it (its credential is the
     * tenant's), creating its driver on first use. Fails for platforms without a driver.
     */
    get(c: CloudSpec, tenant: string = ADMIN_TENANT): CloudHandle {
      const key = cloudKey(c, tenant);
      let h = handles.get(key);
      if (h) return h;
      const factory = setup.factories[c.platform];
      if (!factory) {
        throw new NubisError('SPEC_INVALID', `platform ${c.platform} has no driver in this build (cloud ${c.name})`);
      }
      const credentials = c.credential !== undefined ? setup.credentials?.(c.credential, tenant) : undefined;
      if (c.credential !== undefined && !credentials) {
        throw new NubisError('SPEC_INVALID', `cloud ${c.name} names credential ${c.credential}, but this control plane has no credential registry`);
      }
      const ctx = {
        cloud: c.name, options: c.options, dataDir: setup.dataDir, clock: setup.clock,
        ...(setup.controlUrl ? { controlUrl: setup.controlUrl } : {}),
        ...(credentials ? { credentials } : {}),
      };
      const raw = factory(ctx);
      h = { key, platform: c.platform, driver: setup.wrap(raw, c), limiter: setup.limiter(c), synced: false };
      handles.set(key, h);
      return h;
    },
    all(): CloudHandle[] {
      return [...handles.values()];
    },
    async closeAll(): Promise<void> {
      for (const h of handles.values()) await h.driver.close();
      handles.clear();
    },
  };
}

export type CloudRegistry = ReturnType<typeof createCloudRegistry>;

