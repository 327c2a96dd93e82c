/**
 * Cloud handles: one wrapped driver (events, retries, timeouts, rate limits, health) and one
 * creation limiter per distinct (platform, options, credential), shared by every deployment
 * that names it. A change of the cloud's entry or credential rebuilds its driver in place
 * (`refresh`); a handle no deployment uses any more is closed (`retire`).
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock/index.js';
import type { CloudSpec, NodeTemplateSpec, Platform } from '../model/types.js';
import type { Driver, DriverFactory } from '../drivers/driver.js';
import { NubisError, toNubisError } from '../errors/index.js';
import type { ConcurrencyLimiter } from '../drivers/limiter.js';
import { STOPPING_CODES, type CloudHealth, type CloudHealthView, type RuntimeDriver } from '../drivers/index.js';
import { ADMIN_TENANT } from '../store/index.js';

/** Bounds how many node creations run at once on one cloud (see drivers/limiter.ts). */
export type CreationLimiter = ConcurrencyLimiter;

export interface CloudHandle {
  key: string;
  platform: Platform;
  /** The cloud spec the handle was made for (the first one with this key). */
  spec: CloudSpec;
  /** The tenant whose credential the handle's driver was built with. */
  tenant: string;
  /** Whether calls may reach the cloud, and why not. */
  health: CloudHealth;
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
  /** Wraps a raw driver with the runtime (events, retries…) and the cloud's health. */
  wrap: (driver: Driver, cloud: CloudSpec, health: CloudHealth, tenant: string) => RuntimeDriver;
  /** A new health for a cloud (its events, backoff tuning). */
  health: (cloud: CloudSpec) => CloudHealth;
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
  /** The host a placement policy chose (src/policy/placement), and why. */
  host?: string;
  why?: string;
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
 * Same tenant, platform, options and credential: one cloud, sharing a driver, a health, a limit
 * and call statistics. Each tenant gets handles of its own (a credential is named within a
 * tenant; one tenant's broken entry must not stop another's), which is safe over one account or
 * inventory because ownership is judged by tags, never by handle.
 */
export function cloudKey(c: CloudSpec, tenant: string = ADMIN_TENANT): string {
  // every action asks for its cloud's handle: the key is computed once per spec object and tenant
  let byTenant = keyMemo.get(c);
  const known = byTenant?.get(tenant);
  if (known !== undefined) return known;
  const key = computeCloudKey(c, tenant);
  if (!byTenant) keyMemo.set(c, (byTenant = new Map()));
  byTenant.set(tenant, key);
  return key;
}

/** Spec objects are replaced, never edited, when a deployment or a registered cloud changes. */
const keyMemo = new WeakMap<CloudSpec, Map<string, string>>();

function computeCloudKey(c: CloudSpec, tenant: string): string {
  // another credential is another account: another cloud
  const base = c.credential ? { options: c.options, credential: c.credential } : c.options;
  const h = crypto.createHash('sha1').update(stable(tenant !== ADMIN_TENANT ? { tenant, cloud: base } : base)).digest('hex').slice(0, 12);
  return `${c.platform}:${h}`;
}

/** A driver standing in for one that could not be built: every call fails with why. */
function brokenDriver(platform: Platform, e: NubisError): Driver {
  const fail = async (): Promise<never> => {
    throw e;
  };
  return {
    platform, create: fail, get: fail, list: fail, delete: fail, reboot: fail,
    agent: () => { throw e; },
    close: async () => undefined,
  };
}

/**
 * The handles of the control plane, with one health per handle key (./cloud-health.ts in
 * drivers) that outlives retired handles while it is not healthy, so a stop or a backoff
 * survives a handle being rebuilt or retired and created again.
 */
class CloudHandles {
  private handles = new Map<string, CloudHandle>();
  private health = new Map<string, { spec: CloudSpec; tenant: string; health: CloudHealth }>();

  constructor(private readonly setup: CloudSetup) {}

  /**
   * The handle for a cloud spec as a deployment of `tenant` names it (its credential is the
   * tenant's), creating its driver on first use. Fails for platforms without a driver.
   */
  get(c: CloudSpec, tenant: string = ADMIN_TENANT): CloudHandle {
    const key = cloudKey(c, tenant);
    const h = this.handles.get(key);
    if (h) return h;
    if (!this.setup.factories[c.platform]) {
      throw new NubisError('SPEC_INVALID', `platform ${c.platform} has no driver in this build (cloud ${c.name})`);
    }
    const health = this.healthOf(c, tenant);
    const made: CloudHandle = {
      key, platform: c.platform, spec: c, tenant, health, driver: this.setup.wrap(this.build(c, tenant, health), c, health, tenant), limiter: this.setup.limiter(c), synced: false,
    };
    this.handles.set(key, made);
    return made;
  }

  /** The key's health, created healthy on first use. */
  healthOf(c: CloudSpec, tenant: string = ADMIN_TENANT): CloudHealth {
    const key = cloudKey(c, tenant);
    let e = this.health.get(key);
    if (!e) this.health.set(key, (e = { spec: c, tenant, health: this.setup.health(c) }));
    return e.health;
  }

  /** The health of a spec's cloud without creating anything; undefined when nothing was sent to it. */
  peekHealth(c: CloudSpec, tenant: string = ADMIN_TENANT): CloudHealthView | undefined {
    return this.health.get(cloudKey(c, tenant))?.health.view();
  }

  all(): CloudHandle[] {
    return [...this.handles.values()];
  }

  /**
   * The cloud entries or credentials these specs stand for changed: every matching handle gets
   * a driver built again (with the credential as it is now) and every matching health is reset.
   * Returns the keys touched.
   */
  refresh(match: (c: CloudSpec, tenant: string) => boolean, cause: string): string[] {
    const keys: string[] = [];
    for (const [key, e] of this.health) {
      if (!match(e.spec, e.tenant)) continue;
      e.health.reset(cause);
      keys.push(key);
    }
    for (const h of this.handles.values()) {
      if (!match(h.spec, h.tenant)) continue;
      h.driver.replace(this.build(h.spec, h.tenant, h.health));
      if (!keys.includes(h.key)) keys.push(h.key);
    }
    return keys;
  }

  /** Closes the handles whose key is not in `used` (their calls finish first). Returns the keys retired. */
  async retire(used: ReadonlySet<string>): Promise<string[]> {
    const gone = [...this.handles.values()].filter((h) => !used.has(h.key));
    for (const h of gone) {
      this.handles.delete(h.key);
      if (h.health.view().state === 'healthy') this.health.delete(h.key);
    }
    await Promise.all(gone.map((h) => h.driver.close()));
    return gone.map((h) => h.key);
  }

  async closeAll(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(all.map((h) => h.driver.close()));
  }

  private build(c: CloudSpec, tenant: string, health: CloudHealth): Driver {
    const factory = this.setup.factories[c.platform]!;
    try {
      const credentials = c.credential !== undefined ? this.setup.credentials?.(c.credential, tenant) : undefined;
      if (c.credential !== undefined && !credentials) {
        throw new NubisError('SPEC_INVALID', `cloud ${c.name} names credential ${c.credential}, but this control plane has no credential registry`);
      }
      const ctx = {
        cloud: c.name, options: c.options, dataDir: this.setup.dataDir, clock: this.setup.clock,
        ...(this.setup.controlUrl ? { controlUrl: this.setup.controlUrl } : {}),
        ...(credentials ? { credentials } : {}),
      };
      return factory(ctx);
    } catch (e) {
      // a cloud that cannot be built says why on every call, and no call loops on it
      const err = toNubisError(e);
      const stop = err.retryable ? err : new NubisError(STOPPING_CODES.includes(err.code) ? err.code : 'SPEC_INVALID', err.message, { retryable: false });
      health.stop(stop);
      return brokenDriver(c.platform, stop);
    }
  }
}

export function createCloudRegistry(setup: CloudSetup): CloudRegistry {
  return new CloudHandles(setup);
}

/** The handles and their health; see CloudHandles. */
export interface CloudRegistry {
  get(c: CloudSpec, tenant?: string): CloudHandle;
  healthOf(c: CloudSpec, tenant?: string): CloudHealth;
  peekHealth(c: CloudSpec, tenant?: string): CloudHealthView | undefined;
  all(): CloudHandle[];
  refresh(match: (c: CloudSpec, tenant: string) => boolean, cause: string): string[];
  retire(used: ReadonlySet<string>): Promise<string[]>;
  closeAll(): Promise<void>;
}

