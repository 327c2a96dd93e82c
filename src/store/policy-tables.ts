/**
 * Tables of the operators' controls (src/policy, migration 0029): the image marketplace
 * (endorser keys, endorsed image entries, image policies), quotas with their reservations, and
 * address pools with their leases. Timestamps are integer milliseconds since the epoch.
 */

export interface ImageEndorserTable {
  tenant: string;
  /** The endorser's name, as entries name it. */
  name: string;
  /** The ed25519 public key, SPKI PEM. */
  public_key: string;
  created_at: number;
  created_by: string;
}

export interface ImageEntryTable {
  tenant: string;
  /** The entry's id in the marketplace. */
  id: string;
  /** The signed metadata as canonical JSON (src/policy/images/canonical.ts), exactly as signed. */
  metadata_json: string;
  /** Base64 ed25519 signature over metadata_json's UTF-8 bytes. */
  signature: string;
  /** From the metadata, for lookups. */
  image: string;
  sha256: string;
  endorser: string;
  added_at: number;
  added_by: string;
  revoked_at: number | null;
  revoked_by: string | null;
}

export interface ImagePolicyTable {
  tenant: string;
  /** A cloud name, or `*` for every cloud of the tenant. */
  cloud: string;
  /** `endorsed` (only endorsed images run) or `open`. */
  mode: string;
  updated_at: number;
  updated_by: string;
}

/** One row per tenant: its limits (null: none) and what its deployments reserve now. */
export interface QuotaUsageTable {
  tenant: string;
  max_nodes: number | null;
  max_cores: number | null;
  max_memory_mib: number | null;
  max_deployments: number | null;
  nodes: number;
  cores: number;
  memory_mib: number;
  deployments: number;
  updated_at: number;
}

/** What one deployment reserves of its tenant's quota (its desired state). */
export interface QuotaReservationTable {
  deployment: string;
  tenant: string;
  nodes: number;
  cores: number;
  memory_mib: number;
}

export interface AddressPoolTable {
  tenant: string;
  name: string;
  /** JSON list of CIDRs and ranges (`10.0.0.0/28`, `10.0.1.5-10.0.1.9`). */
  ranges_json: string;
  /** Default hold time in ms for addresses of this pool. */
  hold_ms: number;
  /** The openstack floating IP network these addresses are on, when they are floating IPs. */
  floating_network: string | null;
  created_at: number;
}

export interface AddressLeaseTable {
  tenant: string;
  pool: string;
  address: string;
  /** The deployment id the address belongs to. */
  deployment: string;
  /** The node (resource key) that has it; kept while held. */
  node_key: string;
  /** leased | held */
  state: string;
  leased_at: number;
  /** When a hold ends (state held). */
  held_until: number | null;
}
