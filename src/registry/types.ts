/**
 * What the registries hold, as the API and the engine see it. Every entry belongs to a
 * tenant; an API caller acts in its token's tenant (DEFAULT_TENANT for the bootstrap token).
 */
import type { HardwareOffer, Image, Location } from '../drivers/driver.js';
import type { Platform } from '../model/types.js';

export const DEFAULT_TENANT = 'default';

/** Where an entry came from: `manual` entries are kept across discovery refreshes. */
export type EntrySource = 'discovered' | 'manual';

export type LocationEntry = Location & { source: EntrySource };
export type OfferEntry = HardwareOffer & { source: EntrySource };
export type ImageEntry = Image & { source: EntrySource };

/** A registered cloud: a platform at an endpoint (options) with the credential it uses. */
export interface CloudView {
  name: string;
  platform: Platform;
  /** Driver options; secrets never go here (they are refused): they live in a credential. */
  options: Record<string, unknown>;
  /** Name of the credential the driver receives. */
  credential?: string;
  /** Whether the platform's driver can discover offers (otherwise enter them by hand). */
  discovery: boolean;
  lastDiscoveredAt?: string;
  lastDiscoveryError?: string;
  counts: { locations: number; offers: number; images: number };
}

/** The body of `PUT /v1/clouds/{name}`. */
export interface CloudInput {
  platform: Platform;
  options?: Record<string, unknown>;
  credential?: string;
}

/** A credential as shown: its name and field names, never a value. */
export interface CredentialView {
  name: string;
  fields: string[];
  /** Registered clouds that use it. */
  usedBy: string[];
  updatedAt: string;
}

/** What one discovery run found. */
export interface DiscoveryReport {
  cloud: string;
  /** False when the platform's driver has no discovery: complete the entries by hand. */
  supported: boolean;
  ok: boolean;
  error?: string;
  counts: { locations: number; offers: number; images: number };
}

/** One registered cloud with its entries: the unit selection works on. */
export interface CatalogueCloud {
  name: string;
  platform: Platform;
  locations: LocationEntry[];
  offers: OfferEntry[];
  images: ImageEntry[];
}

/** The concrete choice for one node. */
export interface Placement {
  cloud: string;
  location?: string;
  offer?: string;
  image?: string;
}

/** Availability and latency of one cloud's API, per operation (see accounting.ts). */
export interface SlaOp {
  op: string;
  calls: number;
  errors: number;
  /** Calls that failed with a provider-side error (5xx, unavailable, timeout, throttled). */
  providerErrors: number;
  /** Share of calls that did not fail with a provider-side error, 0..1; 1 with no calls. */
  availability: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface SlaReport {
  cloud: string;
  since: string;
  until: string;
  total: SlaOp;
  ops: SlaOp[];
  /** Error codes seen, most frequent first. */
  codes: { code: string; count: number }[];
}
