/**
 * The sweep's judgement: a pure function from one fresh list of a cloud (every node carrying
 * this installation's owner tag), the store's node intents and the observation history of
 * earlier lists, to what the engine should do. It decides ownership from tags alone — owner,
 * tenant, deployment, key and attempt (the create's idempotency token) — never from which
 * driver handle took the list, and it never acts on a single observation:
 *
 * - orphan: a node whose (tenant, deployment, key) has no intent, seen in `sightings`
 *   consecutive lists (an apply in flight elsewhere gets time to write its intent);
 * - duplicate: a copy that is not the one the intent names (its providerId, else the copy whose
 *   attempt tag is the intent's token), seen in `sightings` consecutive lists while the kept
 *   copy is in the same list; the engine confirms both copies by get before it deletes;
 * - lost: the intent's node missing from `lostAfterMisses` consecutive lists, all taken after
 *   its create returned and after its consistency window; the engine confirms by get;
 * - adopt / observe: only the intent's own cloud handle records what it lists, so two entries
 *   over one inventory never fight over an agent or an address.
 *
 * Intents marked `changed` (an action in flight, or any change after the list began) are not
 * judged from this list at all: their history is carried over unchanged.
 */
import { TAG_ATTEMPT, TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT, type CloudNode } from '../drivers/driver.js';
import type { NodeState } from './views.js';

export const DEFAULT_TENANT_TAG = 'default';

/** What the sweep needs of one node intent in the store. */
export interface SweepIntent {
  key: string;
  deployment: string;
  tenant: string;
  status: NodeState;
  /** The idempotency token of the intent's current create attempt. */
  token: string;
  providerId?: string;
  /** The handle that took the list is the intent's own cloud. */
  own: boolean;
  /** An action is in flight on it, or it changed after the list began. */
  changed: boolean;
  /** Clock time before which a miss cannot make it lost (its provider's consistency window). */
  graceUntil: number;
}

/** What earlier lists of this handle showed; the sweep returns the next one. */
export interface SweepHistory {
  /** Node id → consecutive lists that showed it as an orphan or a duplicate. */
  seen: ReadonlyMap<string, number>;
  /** Key → consecutive lists that missed its intent's node. */
  misses: ReadonlyMap<string, number>;
}

export type SweepDecision =
  /** Record the node the intent names (an interrupted create, or the id to delete). */
  | { kind: 'adopt'; key: string; node: CloudNode }
  /** The intent's node as listed: refresh what is known of it. */
  | { kind: 'observe'; key: string; node: CloudNode }
  | { kind: 'duplicate-delete'; key: string; node: CloudNode; keep: CloudNode }
  | { kind: 'orphan-delete'; key: string; node: CloudNode }
  /** Missed often enough: confirm by get, then create it again. */
  | { kind: 'confirm-lost'; key: string; providerId: string }
  /** A create that never reached the cloud (or not yet visibly): send it again, same token. */
  | { kind: 'resend-create'; key: string };

export interface SweepInput {
  found: readonly CloudNode[];
  owner: string;
  intents: ReadonlyMap<string, SweepIntent>;
  history: SweepHistory;
  /** The clock when the list returned. */
  now: number;
  /** Consecutive lists an orphan or duplicate must be seen in. Default 2. */
  sightings?: number;
  /** Consecutive misses before a node is suspected lost. Default 3. */
  lostAfterMisses?: number;
}

export interface SweepResult {
  decisions: SweepDecision[];
  history: SweepHistory;
  /** Intents missed at least once but not yet judged: the engine lists again soon. */
  suspects: number;
}

export const emptyHistory = (): SweepHistory => ({ seen: new Map(), misses: new Map() });

/** The copy the intent names: its providerId, else the attempt tag equal to its token. */
export function keptCopy(intent: SweepIntent, copies: readonly CloudNode[]): CloudNode | undefined {
  if (intent.providerId) return copies.find((c) => c.id === intent.providerId);
  const byToken = copies.find((c) => c.tags[TAG_ATTEMPT] === intent.token);
  if (byToken) return byToken;
  // nodes made before attempt tags existed: the oldest untagged copy
  return [...copies].filter((c) => c.tags[TAG_ATTEMPT] === undefined).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))[0];
}

function belongs(intent: SweepIntent | undefined, node: CloudNode): intent is SweepIntent {
  return !!intent && intent.deployment === node.tags[TAG_DEPLOYMENT] && intent.tenant === (node.tags[TAG_TENANT] ?? DEFAULT_TENANT_TAG);
}

function allBelong(intent: SweepIntent | undefined, copies: readonly CloudNode[]): boolean {
  for (const cn of copies) if (!belongs(intent, cn)) return false;
  return true;
}

/** Intent states in which a listed copy is adopted even when its id is the one recorded. */
const UNSETTLED: ReadonlySet<NodeState> = new Set<NodeState>(['creating', 'pending', 'failed']);

export function decideSweep(input: SweepInput): SweepResult {
  const sightings = input.sightings ?? 2;
  const lostAfter = input.lostAfterMisses ?? 3;
  const { history } = input;
  const seen = new Map<string, number>();
  const misses = new Map<string, number>();
  const decisions: SweepDecision[] = [];
  let suspects = 0;

  // the copies listed under each key: one, in all but rare cases (an array only for those)
  const byKey = new Map<string, CloudNode>();
  const more = new Map<string, CloudNode[]>();
  for (const cn of input.found) {
    const key = cn.tags[TAG_KEY];
    if (!key || cn.tags[TAG_OWNER] !== input.owner) continue;
    const first = byKey.get(key);
    if (!first) byKey.set(key, cn);
    else {
      const l = more.get(key);
      if (l) l.push(cn);
      else more.set(key, [first, cn]);
    }
  }
  const sighted = (cn: CloudNode): number => {
    const c = (history.seen.get(cn.id) ?? 0) + 1;
    seen.set(cn.id, c);
    return c;
  };
  const carry = (key: string, copies: readonly CloudNode[]): void => {
    for (const cn of copies) {
      const c = history.seen.get(cn.id);
      if (c !== undefined) seen.set(cn.id, c);
    }
    const m = history.misses.get(key);
    if (m !== undefined) misses.set(key, m);
  };

  const kept = new Map<string, CloudNode>();
  const one: CloudNode[] = [];
  for (const [key, first] of byKey) {
    let copies = more.get(key);
    if (!copies) {
      one[0] = first;
      copies = one;
    }
    const intent = input.intents.get(key);
    const mine = allBelong(intent, copies) ? copies : copies.filter((cn) => belongs(intent, cn));
    if (mine !== copies) for (const cn of copies) {
      if (mine.includes(cn)) continue;
      if (intent?.changed) {
        carry(key, [cn]);
        continue;
      }
      if (sighted(cn) >= sightings) decisions.push({ kind: 'orphan-delete', key, node: cn });
    }
    if (!intent || mine.length === 0) continue;
    if (intent.changed) {
      carry(key, mine);
      continue;
    }
    const keep = keptCopy(intent, mine);
    if (!keep) {
      for (const cn of mine) sighted(cn);
      continue;
    }
    kept.set(key, keep);
    for (const cn of mine) {
      if (cn === keep) continue;
      if (sighted(cn) >= sightings) decisions.push({ kind: 'duplicate-delete', key, node: cn, keep });
    }
    if (!intent.own) continue;
    const adopt = intent.status === 'deleting' ? !intent.providerId : intent.providerId !== keep.id || UNSETTLED.has(intent.status);
    decisions.push({ kind: adopt ? 'adopt' : 'observe', key, node: keep });
  }

  for (const intent of input.intents.values()) {
    if (!intent.own || kept.has(intent.key)) continue;
    if (intent.changed) {
      carry(intent.key, []);
      continue;
    }
    if (intent.status === 'creating') {
      decisions.push({ kind: 'resend-create', key: intent.key });
    } else if ((intent.status === 'running' || intent.status === 'provisioning') && intent.providerId) {
      const m = (history.misses.get(intent.key) ?? 0) + 1;
      misses.set(intent.key, m);
      if (m >= lostAfter && input.now >= intent.graceUntil) decisions.push({ kind: 'confirm-lost', key: intent.key, providerId: intent.providerId });
      else suspects++;
    }
  }
  return { decisions, history: { seen, misses }, suspects };
}
