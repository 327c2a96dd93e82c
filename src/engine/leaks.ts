/**
 * The leak guard's judgement (issue 11 item 5): a pure function from one cloud's inventory —
 * its billed extras (volumes, VLANs, floating IPs, … from `Driver.listResources`) and, where
 * Nubis owns the whole project, its untagged servers — the store's node intents and what earlier
 * scans saw, to the resources that are leaks: things that bill although nothing Nubis runs needs
 * them, such as the private VLANs CloudSigma kept billing after their servers were deleted
 * (seed 000 §6.5).
 *
 * Never a leak:
 * - a resource tagged by another installation (another owner tag), or untagged in a project
 *   Nubis does not own (`owned: false`, the default): not Nubis's to judge;
 * - a resource attached to a server the same scan listed (the server's fate is the sweep's);
 * - a resource whose key has an intent in the store that is in flight (pending, creating,
 *   provisioning, deleting), or that changed after the list began: a create in flight has
 *   persisted its intent before it called the cloud (DESIGN invariant 1), so whatever it made
 *   is claimed by that intent;
 * - a resource of a settled intent that names it (attached to the intent's node, or made for
 *   the key without an attachment).
 * The others are suspects; a suspect seen in `sightings` consecutive scans (default 2) is a leak.
 */
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT, type CloudNode, type CloudResource, type ResourceKind } from '../drivers/index.js';
import { DEFAULT_TENANT_TAG } from './sweep.js';
import type { NodeState } from './views.js';

/** A leak's kind: a billed extra, or a server nobody's intent made. */
export type LeakKind = ResourceKind | 'node';

/** What the guard needs of one node intent in the store. */
export interface LeakIntent {
  deployment: string;
  tenant: string;
  status: NodeState;
  providerId?: string;
  /** An action is in flight on it, or it changed after the list began. */
  changed: boolean;
}

/** What one tenant decided for one cloud (`*`: all its clouds): `nubis leaks policy set`. */
export interface LeakPolicy {
  /** Delete a leak this long after it was first seen; absent: report only (the default). */
  deleteAfterMs?: number;
  /** Nubis owns the whole project or account: untagged resources in it are judged too. Default false. */
  owned?: boolean;
}

export interface LeakSuspect {
  kind: LeakKind;
  id: string;
  /** Whose it is: its tenant tag, else the tenant of the cloud handle. */
  tenant: string;
  deployment?: string;
  key?: string;
  reason: string;
  resource: CloudResource | CloudNode;
  /** Clock time of the first scan that suspected it. */
  firstSeen: number;
  /** Consecutive scans that suspected it, this one included. */
  sightings: number;
}

export interface LeakScanInput {
  extras: readonly CloudResource[];
  /** Servers the same scan listed: by owner tag, or every server where the project is owned. */
  servers: readonly CloudNode[];
  owner: string;
  /** The tenant of the cloud handle: untagged resources are its. */
  tenant: string;
  owned: boolean;
  intents: ReadonlyMap<string, LeakIntent>;
  /** Suspects of the previous scan of this cloud, by `kind/id`. */
  history: ReadonlyMap<string, LeakSuspect>;
  now: number;
  sightings?: number;
}

export interface LeakScanResult {
  /** Suspects seen often enough: leaks. */
  leaks: LeakSuspect[];
  /** Every suspect of this scan (leaks included), for the next one. */
  history: Map<string, LeakSuspect>;
}

/** Intent states in which the node's create or delete is still under way. */
const IN_FLIGHT: ReadonlySet<NodeState> = new Set<NodeState>(['pending', 'creating', 'provisioning', 'deleting']);

export const leakId = (kind: LeakKind, id: string): string => `${kind}/${id}`;

/** Why a resource of our owner tag is not claimed, or undefined when it is. */
function unclaimed(r: CloudResource, intents: ReadonlyMap<string, LeakIntent>): string | undefined {
  const key = r.tags[TAG_KEY];
  const intent = key !== undefined ? intents.get(key) : undefined;
  const mine = intent && intent.deployment === r.tags[TAG_DEPLOYMENT] && intent.tenant === (r.tags[TAG_TENANT] ?? DEFAULT_TENANT_TAG);
  if (!mine) {
    return r.node ? `tagged by Nubis for ${key ?? 'no key'}, its node ${r.node} is gone, and no intent names the key` : `tagged by Nubis for ${key ?? 'no key'}, and no intent names the key`;
  }
  if (intent.changed || IN_FLIGHT.has(intent.status)) return undefined;
  if (!r.node) return intent.status === 'running' ? undefined : `made for ${key}, whose node is ${intent.status}`;
  if (intent.providerId === r.node) return undefined;
  return `made for an earlier node (${r.node}) of ${key}, which is gone; the key's node now is ${intent.providerId ?? 'none'}`;
}

/** Whether a tagged extra of this owner is claimed by an intent now (the last check before a delete). */
export function isClaimed(r: CloudResource, intents: ReadonlyMap<string, LeakIntent>): boolean {
  return r.tags[TAG_OWNER] !== undefined && unclaimed(r, intents) === undefined;
}

export function judgeLeaks(input: LeakScanInput): LeakScanResult {
  const need = input.sightings ?? 2;
  const live = new Set<string>();
  for (const s of input.servers) live.add(s.id);
  const history = new Map<string, LeakSuspect>();
  const leaks: LeakSuspect[] = [];
  const suspect = (kind: LeakKind, r: CloudResource | CloudNode, reason: string): void => {
    const id = leakId(kind, r.id);
    const before = input.history.get(id);
    const tags = r.tags;
    const s: LeakSuspect = {
      kind, id: r.id, tenant: tags[TAG_OWNER] === input.owner ? (tags[TAG_TENANT] ?? DEFAULT_TENANT_TAG) : input.tenant,
      reason, resource: r, firstSeen: before?.firstSeen ?? input.now, sightings: (before?.sightings ?? 0) + 1,
    };
    if (tags[TAG_OWNER] === input.owner && tags[TAG_DEPLOYMENT] !== undefined) s.deployment = tags[TAG_DEPLOYMENT];
    if (tags[TAG_OWNER] === input.owner && tags[TAG_KEY] !== undefined) s.key = tags[TAG_KEY];
    history.set(id, s);
    if (s.sightings >= need) leaks.push(s);
  };
  for (const r of input.extras) {
    const owner = r.tags[TAG_OWNER];
    if (owner !== undefined && owner !== input.owner) continue;
    if (r.node !== undefined && live.has(r.node)) continue;
    if (owner === undefined) {
      if (input.owned) suspect(r.kind, r, r.node ? `untagged, in a project Nubis owns, and its node ${r.node} is gone` : 'untagged, in a project Nubis owns, and attached to no node');
      continue;
    }
    const why = unclaimed(r, input.intents);
    if (why !== undefined) suspect(r.kind, r, why);
  }
  if (input.owned) {
    for (const s of input.servers) if (s.tags[TAG_OWNER] === undefined) suspect('node', s, 'a server without Nubis tags in a project Nubis owns');
  }
  return { leaks, history };
}
