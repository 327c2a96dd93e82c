/** What `nubis backups …` and the API show of backup runs and policies. */
import type { BackupPolicySpec } from '../../model/index.js';
import type { BackupRunRow } from '../../store/index.js';
import { describeStore } from './open-store.js';

export type BackupRunKind = 'backup' | 'restore' | 'drill';
export type BackupRunState = 'running' | 'succeeded' | 'failed' | 'pruned';

export interface BackupRunView {
  /** `bk-…` backup, `rs-…` restore, `dr-…` drill. */
  id: string;
  kind: BackupRunKind;
  deployment: string;
  policy: string;
  component: string;
  instance: string;
  /** succeeded: the copy is in the store and matched the source's size and SHA-256 (a drill: it passed). */
  state: BackupRunState;
  /** schedule | manual | destroy | recovery */
  trigger: string;
  /** snapshot | archive */
  what: string;
  store: string;
  key?: string;
  sizeBytes?: number;
  sha256?: string;
  /** A backup: a restore drill of it passed (only then recovery uses it). */
  verified: boolean;
  verifiedAt?: string;
  /** A restore or drill: the backup it used. */
  backup?: string;
  /** Why it failed, or what it did. */
  detail?: string;
  actor: string;
  reason: string;
  startedAt: string;
  endedAt?: string;
}

export interface BackupPolicyView {
  name: string;
  component: string;
  schedule?: { cron: string; timeZone: string; next?: string };
  what: string;
  store: string;
  retention: { last: number; daily: number; weekly: number; monthly: number };
  drill?: { cron: string; timeZone: string; next?: string };
  onDestroy: boolean;
  /** The newest good backup and the newest verified one, by id. */
  lastGood?: string;
  lastVerified?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function runView(r: BackupRunRow, shownAs: string): BackupRunView {
  return {
    id: r.id, kind: r.kind as BackupRunKind, deployment: shownAs, policy: r.policy, component: r.component, instance: r.instance,
    state: r.state as BackupRunState, trigger: r.trigger, what: r.what, store: r.store_desc,
    ...(r.store_key ? { key: r.store_key } : {}),
    ...(r.size_bytes !== null ? { sizeBytes: Number(r.size_bytes) } : {}),
    ...(r.sha256 ? { sha256: r.sha256 } : {}),
    verified: r.verified_at !== null,
    ...(r.verified_at !== null ? { verifiedAt: iso(Number(r.verified_at)) } : {}),
    ...(r.backup_id ? { backup: r.backup_id } : {}),
    ...(r.detail ? { detail: r.detail } : {}),
    actor: r.actor, reason: r.reason, startedAt: iso(Number(r.started_at)),
    ...(r.ended_at !== null ? { endedAt: iso(Number(r.ended_at)) } : {}),
  };
}

export function whatText(p: BackupPolicySpec): string {
  if (p.what.kind === 'snapshot') return p.what.volumes ? 'node snapshot with volumes' : 'node snapshot';
  const parts = [...(p.what.dump ? ['backup handler dump'] : []), ...p.what.paths];
  return `archive of ${parts.join(', ')}`;
}

export function policyView(p: BackupPolicySpec, next: { backup?: number; drill?: number }, lastGood?: string, lastVerified?: string): BackupPolicyView {
  return {
    name: p.name, component: p.component,
    ...(p.schedule ? { schedule: { ...p.schedule, ...(next.backup !== undefined ? { next: iso(next.backup) } : {}) } } : {}),
    what: whatText(p), store: describeStore(p.store), retention: { ...p.retention },
    ...(p.drill ? { drill: { ...p.drill.schedule, ...(next.drill !== undefined ? { next: iso(next.drill) } : {}) } } : {}),
    onDestroy: p.onDestroy,
    ...(lastGood ? { lastGood } : {}),
    ...(lastVerified ? { lastVerified } : {}),
  };
}

/** One line per run, for `nubis backups list`. */
export function runLine(v: BackupRunView): string {
  const size = v.sizeBytes !== undefined ? ` ${v.sizeBytes} B` : '';
  const mark = v.kind === 'backup' && v.state === 'succeeded' ? (v.verified ? ' verified' : ' unverified') : '';
  const of = v.backup ? ` of ${v.backup}` : '';
  return `${v.id}  ${v.kind}${of}  ${v.policy}  ${v.instance}  ${v.state}${mark}${size}  ${v.startedAt}${v.detail && v.state === 'failed' ? `  ${v.detail}` : ''}`;
}
