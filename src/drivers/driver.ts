/**
 * The one interface every cloud platform implements. A driver only performs operations;
 * the runtime wrapper (./runtime.ts) adds events, timeouts, retries and rate limits.
 *
 * Failure semantics, which every driver must honour and the conformance suite checks:
 * - Errors are thrown as NubisError with a cloud code (CLOUD_*) and a retryable flag.
 * - A failed `create` leaves nothing created, or something that `list` finds by its tags
 *   (so the engine adopts or deletes it). A `create` repeated with the same
 *   `idempotencyToken` returns the node the first call made rather than a second one.
 * - After a failed `delete` the node is assumed to still exist. Deleting a node that does
 *   not exist succeeds (delete is idempotent).
 * - `list` returns every node carrying all of the given tags, in any state but deleted.
 * - Every call takes an AbortSignal; on abort it rejects promptly with ABORTED.
 * - Snapshots (optional): `snapshot` returns once the cloud accepted the request; the snapshot
 *   is usable only when `snapshotStatus` says `ready`. A snapshot the cloud failed is `error`
 *   (never `ready`); one that no longer exists is `gone`. `deleteSnapshot` is idempotent and
 *   removes every part. `readSnapshot` streams the bytes and fails with CLOUD_SNAPSHOT_CORRUPT
 *   when they do not match the checksum the cloud recorded.
 */
import type { Clock } from '../clock/index.js';
import { NubisError } from '../errors/index.js';
import type { NodeRequirements, Platform } from '../model/types.js';
import type { AgentClient } from '../agent/protocol.js';
import type { FirewallSet } from '../policy/index.js';

/**
 * Tags every Nubis node carries. Together they say whom a cloud resource belongs to: the
 * installation (owner), its tenant, deployment and node key, and the create attempt (the
 * idempotency token of the create that made it). The engine decides "orphan" and "duplicate"
 * from these tags and its store alone, never from which driver handle listed the node.
 */
export const TAG_OWNER = 'nubis-owner';
export const TAG_TENANT = 'nubis-tenant';
export const TAG_DEPLOYMENT = 'nubis-deployment';
export const TAG_KEY = 'nubis-key';
export const TAG_ATTEMPT = 'nubis-attempt';

export type NodeStatus = 'provisioning' | 'running' | 'stopped' | 'error';

export interface CreateNodeRequest {
  /**
   * The concrete choice requirement-based selection made (offer, image, location ids), when the
   * platform has discovery; drivers without it decide from `requirements`.
   */
  placement?: { offer?: string; image?: string; location?: string; host?: string };
  /** The resource key, unique per owner: `<deployment>/<component>-<ordinal>`. */
  key: string;
  /** Must be attached to the node and returned by `list` and `get`. */
  tags: Record<string, string>;
  /** Same token, same node: repeated creates must not duplicate. */
  idempotencyToken: string;
  requirements: NodeRequirements;
  /** The node template's own cloud-config (platforms that boot images send it beside the Nubis part; ./user-data.ts). */
  cloudInit?: { text: string; file?: string };
}

export interface CloudNode {
  /** The provider's id. */
  id: string;
  tags: Record<string, string>;
  status: NodeStatus;
  /** Where the node's provided ports are reached, e.g. 127.0.0.1 for local. */
  address?: string;
  /** Ports the node may bind, for platforms that share one address (local). */
  ports?: { first: number; count: number };
  /** How the control plane reaches the node's agent. */
  agent?: { url: string; token: string };
  /** Where processes on the node send Graphite plaintext metrics (the node's agent listens there), when it does. */
  graphite?: { host: string; port: number };
  /** Milliseconds since the epoch, in the driver's clock. */
  createdAt: number;
}

export interface Driver {
  readonly platform: Platform;
  /** Starts a node. Returns once the cloud accepted it; it may still be `provisioning`. */
  create(req: CreateNodeRequest, signal: AbortSignal): Promise<CloudNode>;
  /** The node, or undefined when the cloud has no such node. */
  get(id: string, signal: AbortSignal): Promise<CloudNode | undefined>;
  /** Nodes carrying all these tags. */
  list(tags: Record<string, string>, signal: AbortSignal): Promise<CloudNode[]>;
  /** Deletes the node and everything that belongs to it. Idempotent. */
  delete(id: string, signal: AbortSignal): Promise<void>;
  /** Restarts the node's processes (or the machine). */
  reboot(id: string, signal: AbortSignal): Promise<void>;
  /** A client for the agent on a running node. */
  agent(node: CloudNode): AgentClient;
  /**
   * What the cloud offers, for the registries and requirement-based selection. Optional:
   * platforms without discovery have their offers entered by hand.
   */
  discover?(signal: AbortSignal): Promise<Discovery>;
  /**
   * Starts a snapshot of the node (its boot disk as an image; with `volumes`, its attached
   * volumes too). Returns once the cloud accepted it; poll `snapshotStatus` until ready.
   * Absent: the platform takes no snapshots (backups archive through the agent instead).
   */
  snapshot?(id: string, req: SnapshotRequest, signal: AbortSignal): Promise<SnapshotRef>;
  /** Where the snapshot (and every part of it) is: pending until all parts are ready, error when any failed. */
  snapshotStatus?(ref: SnapshotRef, signal: AbortSignal): Promise<SnapshotStatus>;
  /**
   * The snapshot's bytes (the image), to copy to long-term storage. Iterating fails with
   * CLOUD_SNAPSHOT_CORRUPT when the bytes do not match the cloud's checksum, CLOUD_UNSUPPORTED
   * when the platform cannot export snapshot bytes.
   */
  readSnapshot?(ref: SnapshotRef, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
  /** Deletes the snapshot and all its parts. Idempotent: a snapshot already gone is done. */
  deleteSnapshot?(ref: SnapshotRef, signal: AbortSignal): Promise<void>;
  /** Releases connections and timers. Nodes keep running. */
  close(): Promise<void>;
  // [placement] optional calls (helper h/placement)
  /**
   * The hosts nodes are placed on, for placement policies (src/policy/placement): platforms whose
   * nodes share machines Nubis sees (ssh, sim). A create whose `placement.host` names one puts
   * the node there or fails (CLOUD_QUOTA_EXCEEDED when it is full, CLOUD_BAD_REQUEST when unknown).
   */
  hosts?(signal: AbortSignal): Promise<CloudHost[]>;
  /**
   * Makes the cloud's firewall for a component hold exactly `set.rules` for `set.members`
   * (security group rules, nftables rules on the members' hosts). Idempotent; a failure leaves
   * the previous rules or the new ones, never none (rules are replaced atomically or added
   * before the extra ones are removed).
   */
  applyFirewall?(set: FirewallSet, signal: AbortSignal): Promise<void>;
  /** Removes what applyFirewall made for the set. Idempotent: a firewall already gone is done. */
  removeFirewall?(set: FirewallSet, signal: AbortSignal): Promise<void>;
}

/** A host of a cloud with capacity, and the nodes on it now (any deployment's). */
export interface CloudHost {
  name: string;
  capacity: { nodes: number; cores?: number; memoryMiB?: number };
  /** For custom ranks: rack, zone, … as the cloud options give them. */
  attributes?: Record<string, string | number>;
  nodes: { id: string; key?: string; cores?: number; memoryMiB?: number }[];
}

export interface SnapshotRequest {
  /** The snapshot's name in the cloud (unique per backup run). */
  name: string;
  /** Attached to the snapshot where the cloud keeps tags or metadata. */
  tags: Record<string, string>;
  /** Also snapshot the node's attached volumes (as parts). */
  volumes: boolean;
}

/** A cloud snapshot: an image, or a volume snapshot; an image's volume snapshots are its parts. */
export interface SnapshotRef {
  /** The provider's id (image id, snapshot id). */
  id: string;
  kind: 'image' | 'volume';
  parts?: SnapshotRef[];
  /** Known once ready, when the cloud says. */
  sizeBytes?: number;
  /** Hex SHA-256 of the bytes, when the cloud records one. */
  sha256?: string;
  /** Milliseconds since the epoch, in the driver's clock. */
  createdAt: number;
}

export type SnapshotStatus = 'pending' | 'ready' | 'error' | 'gone';

/** The optional snapshot calls of a Driver. */
export type SnapshotOp = 'snapshot' | 'snapshotStatus' | 'readSnapshot' | 'deleteSnapshot';

/** The driver's snapshot call, bound; throws CLOUD_UNSUPPORTED when the driver has none. */
export function snapshotCall<K extends SnapshotOp>(d: Driver, op: K): NonNullable<Driver[K]> {
  const f = d[op];
  if (!f) throw new NubisError('CLOUD_UNSUPPORTED', `the ${d.platform} driver takes no snapshots (${op})`);
  return f.bind(d) as NonNullable<Driver[K]>;
}

export interface Location {
  /** Provider id, such as `eu-north-1a` or `RegionOne/nova`. */
  id: string;
  /** Region and zone where the provider distinguishes them. */
  region?: string;
  zone?: string;
  /** ISO 3166 country code or a free-text place, where known. */
  geography?: string;
}

export interface HardwareOffer {
  /** Provider id, such as a flavor or instance type. */
  id: string;
  cores: number;
  memoryMiB: number;
  diskGiB?: number;
  /** Price per hour in the cloud's currency, where known. */
  pricePerHour?: number;
  /** Locations it is offered in; absent means all. */
  locations?: string[];
}

export interface Image {
  id: string;
  name: string;
  /** OS family and version, lower case: `linux`, `ubuntu`, `22.04`. */
  os?: string;
  osVersion?: string;
  locations?: string[];
}

export interface Discovery {
  locations: Location[];
  offers: HardwareOffer[];
  images: Image[];
}

/** What a driver factory receives. */
export interface DriverContext {
  /** The cloud's name in the spec. */
  cloud: string;
  options: Record<string, unknown>;
  /** The control plane's data directory; drivers keep their own inventory under it. */
  dataDir: string;
  clock: Clock;
  /** Base URL the agents report to, when the control plane serves one. */
  controlUrl?: string;
  /**
   * Decrypted secrets for this cloud (passwords, keys, tokens), from the credential registry.
   * Never log them, put them in errors, events or tags.
   */
  credentials?: Record<string, string>;
}

export type DriverFactory = (ctx: DriverContext) => Driver;
