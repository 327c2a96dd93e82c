/**
 * The image marketplace of a control plane (after StratusLab's Marketplace, seed 003): per
 * tenant, endorser public keys, image entries signed by their endorsers, and the image policy
 * per tenant or per cloud. With policy `endorsed`, a node may boot only an image that an entry
 * names (by id or name, else by the checksum the cloud reports), whose entry is not revoked,
 * whose endorser's key is registered, whose signature verifies over the stored canonical
 * metadata (./canonical.ts), which has not expired, and whose SHA-256 equals what the cloud
 * reports for the image (Driver.imageChecksum). Any other image is refused with
 * IMAGE_REFUSED naming the policy and the failing check.
 *
 * Endorsing verifies the signature before anything is stored (the server never sees a private
 * key: `nubis images endorse` signs locally). A later check verifies again, so a key replaced
 * or removed after an endorsement, or a stored entry edited, refuses the image.
 */
import type { Clock } from '../../clock/index.js';
import type { Driver, ImageChecksum } from '../../drivers/index.js';
import { NubisError, isNubisError } from '../../errors/index.js';
import type { EventLog } from '../../events/index.js';
import type { AdmissionRequest } from '../../engine/index.js';
import type { ImageEntryRow, Store } from '../../store/index.js';
import { auditor, type Actor } from '../audit.js';
import { canonicalImageMetadata, keyFingerprint, parseImageMetadata, parsePublicKey, verifySignature, type ImageMetadata } from './canonical.js';

export const IMAGE_POLICY_MODES = ['endorsed', 'open'] as const;
export type ImagePolicyMode = (typeof IMAGE_POLICY_MODES)[number];

/** Why an image is refused. */
export const IMAGE_CHECKS = ['unendorsed', 'revoked', 'unknown-endorser-key', 'bad-signature', 'expired', 'checksum-unknown', 'checksum-mismatch'] as const;
export type ImageCheck = (typeof IMAGE_CHECKS)[number];

export interface EndorserView {
  name: string;
  publicKey: string;
  fingerprint: string;
  createdAt: string;
  createdBy: string;
}

export type ImageEntryStatus = 'valid' | 'expired' | 'revoked' | 'unknown-endorser-key' | 'bad-signature';

export interface ImageEntryView {
  id: string;
  metadata: ImageMetadata;
  signature: string;
  /** As a check would find the entry now, before the cloud's checksum is compared. */
  status: ImageEntryStatus;
  addedAt: string;
  addedBy: string;
  revokedAt?: string;
  revokedBy?: string;
}

export interface ImagePolicyView {
  /** A cloud name, or `*` for every cloud of the tenant. */
  cloud: string;
  mode: ImagePolicyMode;
  updatedAt: string;
  updatedBy: string;
}

export interface ImageMarketplace {
  endorsers(tenant: string): Promise<EndorserView[]>;
  /** Registers (or replaces) an endorser's public key; REQUEST_INVALID for a key that is not ed25519 PEM. */
  putEndorser(tenant: string, name: string, publicKey: unknown, by: Actor): Promise<{ endorser: EndorserView; created: boolean }>;
  deleteEndorser(tenant: string, name: string, by: Actor): Promise<void>;
  list(tenant: string): Promise<ImageEntryView[]>;
  get(tenant: string, id: string): Promise<ImageEntryView>;
  /** Stores a signed entry after checking its metadata and signature (REQUEST_INVALID naming the field or the check). */
  endorse(tenant: string, body: { metadata: unknown; signature: unknown }, by: Actor): Promise<{ entry: ImageEntryView; created: boolean }>;
  revoke(tenant: string, id: string, by: Actor): Promise<ImageEntryView>;
  policies(tenant: string): Promise<ImagePolicyView[]>;
  setPolicy(tenant: string, cloud: string, mode: unknown, by: Actor): Promise<ImagePolicyView>;
  deletePolicy(tenant: string, cloud: string, by: Actor): Promise<void>;
  /** The policy a cloud of the tenant is under: its own, else the tenant's `*`, else open. */
  modeOf(tenant: string, cloud: string): Promise<{ mode: ImagePolicyMode; scope: string }>;
  /** Plan and apply: IMAGE_REFUSED for the first component whose image the policy refuses. */
  check(req: AdmissionRequest, signal: AbortSignal): Promise<void>;
  /** Before a node create: IMAGE_REFUSED when the policy refuses the image it would boot. */
  checkCreate(tenant: string, cloud: string, image: string | undefined, driver: Driver, what: string, signal: AbortSignal): Promise<void>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

interface Failure {
  check: ImageCheck;
  detail: string;
  entry?: string;
}

export function createImageMarketplace(o: { store: Store; clock: Clock; events?: EventLog }): ImageMarketplace {
  const repo = o.store.policy;
  const audit = auditor(o.events);

  /** How the entry stands on its own (signature, key, revocation, expiry), or its metadata. */
  async function standing(row: ImageEntryRow, keys: Map<string, string>): Promise<{ metadata?: ImageMetadata; failure?: Failure }> {
    let m: ImageMetadata;
    try {
      m = parseImageMetadata(JSON.parse(row.metadata_json));
    } catch {
      return { failure: { check: 'bad-signature', detail: `entry ${row.id}: its stored metadata is not valid (edited after it was signed)`, entry: row.id } };
    }
    if (row.revoked_at !== null) return { metadata: m, failure: { check: 'revoked', detail: `entry ${row.id} was revoked at ${iso(Number(row.revoked_at))} by ${row.revoked_by ?? 'unknown'}`, entry: row.id } };
    const key = keys.get(m.endorser);
    if (!key) return { metadata: m, failure: { check: 'unknown-endorser-key', detail: `entry ${row.id} is signed by ${m.endorser}, whose key is not registered in this tenant`, entry: row.id } };
    const consistent = canonicalImageMetadata(m) === row.metadata_json && m.image === row.image && m.sha256 === row.sha256 && m.endorser === row.endorser && m.id === row.id;
    if (!consistent || !verifySignature(row.metadata_json, row.signature, key)) {
      return { metadata: m, failure: { check: 'bad-signature', detail: `entry ${row.id}: the signature does not verify with ${m.endorser}'s registered key (fingerprint ${keyFingerprint(key)})`, entry: row.id } };
    }
    if (Date.parse(m.expires) <= o.clock.now()) return { metadata: m, failure: { check: 'expired', detail: `entry ${row.id} by ${m.endorser} expired at ${m.expires}`, entry: row.id } };
    return { metadata: m };
  }

  function view(row: ImageEntryRow, s: { metadata?: ImageMetadata; failure?: Failure }): ImageEntryView {
    const status: ImageEntryStatus = !s.failure ? 'valid' : (s.failure.check as ImageEntryStatus);
    const fallback: ImageMetadata = { id: row.id, image: row.image, os: '', sha256: row.sha256, endorser: row.endorser, created: '', expires: '' };
    const v: ImageEntryView = { id: row.id, metadata: s.metadata ?? fallback, signature: row.signature, status, addedAt: iso(Number(row.added_at)), addedBy: row.added_by };
    if (row.revoked_at !== null) v.revokedAt = iso(Number(row.revoked_at));
    if (row.revoked_by !== null) v.revokedBy = row.revoked_by;
    return v;
  }

  const keysOf = async (tenant: string): Promise<Map<string, string>> => new Map((await repo.endorsers(tenant)).map((e) => [e.name, e.public_key]));

  async function modeOf(tenant: string, cloud: string): Promise<{ mode: ImagePolicyMode; scope: string }> {
    const rows = await repo.imagePolicies(tenant);
    const own = rows.find((r) => r.cloud === cloud) ?? rows.find((r) => r.cloud === '*');
    return own ? { mode: own.mode as ImagePolicyMode, scope: own.cloud === '*' ? `tenant ${tenant}` : `cloud ${cloud} of tenant ${tenant}` } : { mode: 'open', scope: `tenant ${tenant}` };
  }

  /** The cloud's checksum of the image, or the reason it cannot be had. */
  async function checksumOf(driver: Driver, image: string, signal: AbortSignal): Promise<ImageChecksum | Failure | undefined> {
    if (!driver.imageChecksum) return { check: 'checksum-unknown', detail: `the ${driver.platform} driver cannot read image checksums here (for local, set the images directory option)` };
    try {
      return await driver.imageChecksum(image, signal);
    } catch (e) {
      const err = isNubisError(e) ? `${e.code}: ${e.message}` : String(e);
      return { check: 'checksum-unknown', detail: `reading the checksum of ${JSON.stringify(image)} failed (${err})` };
    }
  }

  /** The first failure of an image under an endorsed-only policy, or undefined when it may run. */
  async function failureOf(tenant: string, image: string | undefined, driver: Driver, signal: AbortSignal): Promise<Failure | undefined> {
    if (image === undefined) return { check: 'unendorsed', detail: 'nodes boot the driver\'s default image, which no entry can endorse; name an image (the cloud\'s `image` option, or requirements with an os)' };
    const rows = await repo.imageEntries(tenant);
    const keys = await keysOf(tenant);
    const sum = await checksumOf(driver, image, signal);
    const reported = sum && 'sha256' in sum ? sum : undefined;
    let candidates = rows.filter((r) => r.image === image || r.id === image);
    if (candidates.length === 0 && reported) candidates = rows.filter((r) => r.sha256 === reported.sha256);
    if (candidates.length === 0) {
      return { check: 'unendorsed', detail: `no entry endorses image ${JSON.stringify(image)}${reported ? ` (sha256 ${reported.sha256} from ${reported.source})` : ''}` };
    }
    let first: Failure | undefined;
    for (const row of candidates) {
      const s = await standing(row, keys);
      let f = s.failure;
      if (!f) {
        if (!sum) f = { check: 'checksum-unknown', detail: `the cloud has no image ${JSON.stringify(image)} to read a checksum of`, entry: row.id };
        else if (!reported) f = { ...(sum as Failure), entry: row.id };
        else if (reported.sha256 !== s.metadata!.sha256) {
          f = { check: 'checksum-mismatch', detail: `the cloud reports sha256 ${reported.sha256} (${reported.source}), entry ${row.id} endorses ${s.metadata!.sha256}`, entry: row.id };
        }
      }
      if (!f) return undefined;
      first ??= f;
    }
    return first;
  }

  function refusal(tenant: string, scope: string, what: string, image: string | undefined, cloud: string, f: Failure): NubisError {
    return new NubisError('IMAGE_REFUSED', `image policy "endorsed images only" (${scope}) refuses ${image === undefined ? 'the default image' : `image ${JSON.stringify(image)}`} for ${what} on cloud ${cloud}: ${f.check}: ${f.detail}`, {
      details: { policy: { mode: 'endorsed', scope, tenant }, check: f.check, cloud, ...(image !== undefined ? { image } : {}), ...(f.entry ? { entry: f.entry } : {}) },
    });
  }

  async function checkOne(tenant: string, cloud: string, image: string | undefined, driver: Driver, what: string, signal: AbortSignal): Promise<void> {
    const { mode, scope } = await modeOf(tenant, cloud);
    if (mode !== 'endorsed') return;
    const f = await failureOf(tenant, image, driver, signal);
    if (f) throw refusal(tenant, scope, what, image, cloud, f);
  }

  const checkName = (name: string, what: string): void => {
    if (typeof name !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(name)) throw new NubisError('REQUEST_INVALID', `${what}: expected a name of lower-case letters, digits and -, found ${JSON.stringify(name)}`);
  };

  return {
    modeOf,
    async endorsers(tenant) {
      return (await repo.endorsers(tenant)).map((r) => ({ name: r.name, publicKey: r.public_key, fingerprint: keyFingerprint(r.public_key), createdAt: iso(Number(r.created_at)), createdBy: r.created_by }));
    },
    async putEndorser(tenant, name, publicKey, by) {
      checkName(name, 'endorser');
      const key = parsePublicKey(publicKey, '$.publicKey');
      const pem = key.export({ type: 'spki', format: 'pem' }).toString();
      const existed = (await repo.endorsers(tenant)).some((e) => e.name === name);
      const now = o.clock.now();
      await repo.putEndorser({ tenant, name, public_key: pem, created_at: now, created_by: by.actor });
      await audit(tenant, by, 'image.endorser.set', name, existed ? 'endorser key replaced' : 'endorser key registered', { fingerprint: keyFingerprint(pem) });
      return { endorser: { name, publicKey: pem, fingerprint: keyFingerprint(pem), createdAt: iso(now), createdBy: by.actor }, created: !existed };
    },
    async deleteEndorser(tenant, name, by) {
      if (!(await repo.deleteEndorser(tenant, name))) throw new NubisError('NOT_FOUND', `no endorser named ${JSON.stringify(name)}`);
      await audit(tenant, by, 'image.endorser.removed', name, 'endorser key removed');
    },
    async list(tenant) {
      const keys = await keysOf(tenant);
      return Promise.all((await repo.imageEntries(tenant)).map(async (r) => view(r, await standing(r, keys))));
    },
    async get(tenant, id) {
      const r = await repo.imageEntry(tenant, id);
      if (!r) throw new NubisError('NOT_FOUND', `no image entry named ${JSON.stringify(id)}`);
      return view(r, await standing(r, await keysOf(tenant)));
    },
    async endorse(tenant, body, by) {
      const m = parseImageMetadata(body.metadata);
      if (typeof body.signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(body.signature)) {
        throw new NubisError('REQUEST_INVALID', '$.signature: expected a base64 ed25519 signature (88 characters)');
      }
      const key = (await keysOf(tenant)).get(m.endorser);
      if (!key) throw new NubisError('REQUEST_INVALID', `$.metadata.endorser: unknown endorser key: ${m.endorser} has no registered key in this tenant (the administrator registers it with \`nubis images keys add ${m.endorser} --public-key <pem>\`)`);
      const text = canonicalImageMetadata(m);
      if (!verifySignature(text, body.signature, key)) {
        throw new NubisError('REQUEST_INVALID', `$.signature: bad signature: it does not verify over the canonical metadata with ${m.endorser}'s key (fingerprint ${keyFingerprint(key)})`);
      }
      const existed = (await repo.imageEntry(tenant, m.id)) !== undefined;
      const now = o.clock.now();
      const row: ImageEntryRow = {
        tenant, id: m.id, metadata_json: text, signature: body.signature, image: m.image, sha256: m.sha256, endorser: m.endorser, added_at: now, added_by: by.actor, revoked_at: null, revoked_by: null,
      };
      await repo.putImageEntry(row);
      await audit(tenant, by, 'image.endorsed', m.id, `endorsed by ${m.endorser} until ${m.expires}`, { image: m.image, sha256: m.sha256, endorser: m.endorser, expires: m.expires });
      return { entry: view(row, await standing(row, await keysOf(tenant))), created: !existed };
    },
    async revoke(tenant, id, by) {
      if (!(await repo.revokeImageEntry(tenant, id, o.clock.now(), by.actor))) throw new NubisError('NOT_FOUND', `no image entry named ${JSON.stringify(id)}`);
      await audit(tenant, by, 'image.revoked', id, 'entry revoked: its image may no longer run under an endorsed-only policy');
      const r = (await repo.imageEntry(tenant, id))!;
      return view(r, await standing(r, await keysOf(tenant)));
    },
    async policies(tenant) {
      return (await repo.imagePolicies(tenant)).map((r) => ({ cloud: r.cloud, mode: r.mode as ImagePolicyMode, updatedAt: iso(Number(r.updated_at)), updatedBy: r.updated_by }));
    },
    async setPolicy(tenant, cloud, mode, by) {
      if (cloud !== '*') checkName(cloud, 'cloud');
      if (typeof mode !== 'string' || !(IMAGE_POLICY_MODES as readonly string[]).includes(mode)) {
        throw new NubisError('REQUEST_INVALID', `$.mode: expected one of ${IMAGE_POLICY_MODES.join(', ')}, found ${JSON.stringify(mode)}`);
      }
      const now = o.clock.now();
      await repo.putImagePolicy({ tenant, cloud, mode, updated_at: now, updated_by: by.actor });
      await audit(tenant, by, 'image.policy.set', cloud, `image policy ${mode} for ${cloud === '*' ? 'every cloud' : `cloud ${cloud}`}`, { mode });
      return { cloud, mode: mode as ImagePolicyMode, updatedAt: iso(now), updatedBy: by.actor };
    },
    async deletePolicy(tenant, cloud, by) {
      if (!(await repo.deleteImagePolicy(tenant, cloud))) throw new NubisError('NOT_FOUND', `no image policy for ${cloud === '*' ? 'the tenant' : `cloud ${JSON.stringify(cloud)}`}`);
      await audit(tenant, by, 'image.policy.removed', cloud, 'image policy removed');
    },
    async check(req, signal) {
      const seen = new Set<string>();
      for (const dm of req.demands) {
        if (dm.count === 0) continue;
        const k = `${dm.cloud}\0${dm.image ?? ''}`;
        if (seen.has(k)) continue;
        seen.add(k);
        await checkOne(req.tenant, dm.cloud, dm.image, req.driverFor(dm.cloud), `component ${dm.component}`, signal);
      }
    },
    checkCreate: (tenant, cloud, image, driver, what, signal) => checkOne(tenant, cloud, image, driver, what, signal),
  };
}
