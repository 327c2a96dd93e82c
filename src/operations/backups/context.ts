/**
 * What the backup runs share: the engine's records and ports, the store, events, the clock, the
 * stores a policy names, and the run rows (each written before its run starts, with its
 * `*.started` event; its end written with its `*.succeeded|passed|failed` event in one commit).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import type { Deployment, Engine, InstanceRec } from '../../engine/index.js';
import type { EventLog } from '../../events/index.js';
import { NubisError, toNubisError } from '../../errors/index.js';
import type { BackupPolicySpec } from '../../model/index.js';
import type { BackupRunRow, Store } from '../../store/index.js';
import { localText } from '../../engine/index.js';
import { describeStore, openBackupStore, type CredentialLookup } from './open-store.js';
import type { BackupStore } from './stores/index.js';
import type { BackupRunKind } from './views.js';

export interface BackupsOptions {
  engine: Engine;
  store: Store;
  events: EventLog;
  clock: Clock;
  /** Secrets of stored credentials (sftp, s3 stores). */
  credential?: CredentialLookup;
  /** Wraps every store opened (fault injection in tests). */
  wrapStore?: (s: BackupStore, policy: BackupPolicySpec) => BackupStore;
  /** Poll interval of snapshot status and scratch node readiness, in clock ms. Default 500. */
  pollMs?: number;
  /** How often schedules are looked at, in clock ms. Default 1 000. */
  tickMs?: number;
}

/** Who started a run and why. */
export interface RunCause {
  actor: string;
  reason: string;
  trigger: 'schedule' | 'manual' | 'destroy' | 'recovery';
  /** Told once the run's intent is committed (callers that answer before the run ends). */
  begun?: (row: BackupRunRow) => void;
}

const PREFIX: Record<BackupRunKind, string> = { backup: 'bk', restore: 'rs', drill: 'dr' };
const ENDED: Record<BackupRunKind, { ok: string; bad: string }> = {
  backup: { ok: 'backup.succeeded', bad: 'backup.failed' },
  restore: { ok: 'restore.succeeded', bad: 'restore.failed' },
  drill: { ok: 'drill.passed', bad: 'drill.failed' },
};

export class BackupsContext {
  readonly stopping = new AbortController();
  /** `<deployment>/<policy>/<instance>` with a run in flight. */
  private readonly busy = new Set<string>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly begunHooks = new Map<string, (row: BackupRunRow) => void>();
  readonly pollMs: number;

  constructor(readonly o: BackupsOptions) {
    this.pollMs = o.pollMs ?? 500;
  }

  deployment(name: string): Deployment {
    const d = this.o.engine.deployments.get(name);
    if (!d) throw new NubisError('NOT_FOUND', `no deployment ${JSON.stringify(localText(name.split('.')[0] ?? '', name))}`);
    return d;
  }

  policy(d: Deployment, name: string): BackupPolicySpec {
    const p = d.spec.backups?.[name];
    if (!p) {
      const names = Object.keys(d.spec.backups ?? {});
      throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no backup policy ${JSON.stringify(name)} (${names.length ? `it has ${names.join(', ')}` : 'it declares none'})`, { details: { path: 'policy' } });
    }
    return p;
  }

  /** The instances of the policy's component that run now (wanted, phase running, node answering). */
  running(d: Deployment, p: BackupPolicySpec): InstanceRec[] {
    return this.o.engine.instancesOf(d.name).filter((i) => i.component === p.component && i.desired && this.whyNot(i) === undefined).sort((a, b) => a.ordinal - b.ordinal);
  }

  whyNot(inst: InstanceRec): string | undefined {
    const n = this.o.engine.nodes.get(inst.key);
    if (inst.phase !== 'running') return `it is ${inst.phase}, not running`;
    if (n?.status !== 'running' || !n.observed) return `its node is ${n?.status ?? 'missing'}`;
    if (n.unreachable) return 'its node does not answer';
    return undefined;
  }

  async openStore(d: Deployment, p: BackupPolicySpec): Promise<BackupStore> {
    const s = await openBackupStore(p.store, d.tenant, this.o.credential);
    return this.o.wrapStore ? this.o.wrapStore(s, p) : s;
  }

  /** Claims `<deployment>/<policy>/<instance>` for one run; CONFLICT when one is in flight. */
  claim(d: Deployment, policy: string, instance: string): () => void {
    const k = `${d.name}/${policy}/${instance}`;
    if (this.busy.has(k)) throw new NubisError('CONFLICT', `a backup, restore or drill of ${instance} under policy ${policy} is already running`, { retryable: true });
    this.busy.add(k);
    return () => this.busy.delete(k);
  }

  newRow(kind: BackupRunKind, d: Deployment, p: BackupPolicySpec, instance: string, cause: RunCause, extra: Partial<BackupRunRow> = {}): BackupRunRow {
    const row = this.rowOf(kind, d, p, instance, cause, extra);
    if (cause.begun) this.begunHooks.set(row.id, cause.begun);
    return row;
  }

  private rowOf(kind: BackupRunKind, d: Deployment, p: BackupPolicySpec, instance: string, cause: RunCause, extra: Partial<BackupRunRow>): BackupRunRow {
    return {
      id: `${PREFIX[kind]}-${randomBytes(6).toString('hex')}`, tenant: d.tenant, deployment: d.name, policy: p.name, component: p.component, instance,
      kind, state: 'running', trigger: cause.trigger, what: p.what.kind, store_desc: describeStore(p.store), store_key: null,
      size_bytes: null, sha256: null, source_json: null, backup_id: null, verified_at: null, detail: null,
      actor: cause.actor, reason: cause.reason, started_at: this.o.clock.now(), ended_at: null, ...extra,
    };
  }

  private event(row: BackupRunRow, kind: string, outcome: string, message: string, extra: Record<string, unknown> = {}) {
    const name = localText(row.tenant, row.deployment);
    return {
      kind, actor: row.actor, tenant: row.tenant, deployment: row.deployment, target: `${row.deployment}/${row.instance}`, reason: message, outcome,
      ts: this.o.clock.now(),
      data: {
        tenant: row.tenant, deployment: name, policy: row.policy, component: row.component, instance: row.instance, run: row.id,
        trigger: row.trigger, what: row.what, store: row.store_desc, ...(row.backup_id ? { backup: row.backup_id } : {}), ...extra,
      },
    };
  }

  /** The run's intent and its started event, in one commit. */
  async begin(row: BackupRunRow): Promise<void> {
    const what = row.kind === 'backup' ? `backup of ${row.instance} started` : row.kind === 'restore' ? `restore of ${row.backup_id} onto ${row.instance} started` : `restore drill of ${row.backup_id} started`;
    try {
      await Promise.all([this.o.store.write(this.o.store.backups.put({ ...row })), this.o.events.append(this.event(row, `${row.kind}.started`, 'running', what))]);
    } finally {
      const hook = this.begunHooks.get(row.id);
      this.begunHooks.delete(row.id);
      hook?.({ ...row });
    }
  }

  /** Writes the row as it is now (an intermediate intent: a snapshot or scratch node made). */
  async save(row: BackupRunRow): Promise<void> {
    await this.o.store.write(this.o.store.backups.put({ ...row }));
  }

  /** Ends the run: succeeded (or passed) unless `error`; the row and its event in one commit. */
  async end(row: BackupRunRow, error: unknown, message: string, extra: Record<string, unknown> = {}): Promise<void> {
    row.ended_at = this.o.clock.now();
    const ends = ENDED[row.kind as BackupRunKind];
    let kind = ends.ok;
    let text = message;
    let data: Record<string, unknown> = { ...extra, durationMs: row.ended_at - Number(row.started_at) };
    if (error !== undefined) {
      const e = toNubisError(error);
      row.state = 'failed';
      row.detail = `${e.code}: ${e.message}`;
      kind = ends.bad;
      text = `${message}: ${e.message}`;
      // errorCode, not code: the alert explains the failure kind (backup failed) with its runbook
      data = { ...data, errorCode: e.code, retryable: e.retryable };
    } else row.state = 'succeeded';
    if (row.size_bytes !== null) data['sizeBytes'] = Number(row.size_bytes);
    if (row.sha256) data['sha256'] = row.sha256;
    await Promise.all([this.o.store.write(this.o.store.backups.put({ ...row })), this.o.events.append(this.event(row, kind, row.state, text, data))]);
  }

  /** Runs `fn` in the background, kept until it ends (drain, stop). */
  track<T>(p: Promise<T>): Promise<T> {
    const t = p.catch(() => undefined).finally(() => this.background.delete(t));
    this.background.add(t);
    return p;
  }

  async drain(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Sleeps on the clock; rejects when the run is aborted. */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return this.o.clock.sleep(ms, signal);
  }
}

/** The bytes of `source`, counted and hashed as they pass (`result` once they all passed). */
export function counted(source: AsyncIterable<Uint8Array>): { bytes: AsyncIterable<Uint8Array>; result(): { sizeBytes: number; sha256: string } | undefined } {
  let out: { sizeBytes: number; sha256: string } | undefined;
  async function* bytes(): AsyncGenerator<Uint8Array> {
    const { createHash } = await import('node:crypto');
    const h = createHash('sha256');
    let size = 0;
    for await (const c of source) {
      h.update(c);
      size += c.byteLength;
      yield c;
    }
    out = { sizeBytes: size, sha256: h.digest('hex') };
  }
  return { bytes: bytes(), result: () => out };
}

/** Yields `source`; fails at its end with BACKUP_VERIFY_FAILED when size or SHA-256 differ from `expect`. */
export async function* checked(source: AsyncIterable<Uint8Array>, expect: { sizeBytes: number; sha256: string }, what: string): AsyncGenerator<Uint8Array> {
  const c = counted(source);
  yield* c.bytes;
  const got = c.result()!;
  if (got.sizeBytes !== expect.sizeBytes || got.sha256 !== expect.sha256) {
    throw new NubisError('BACKUP_VERIFY_FAILED', `${what}: read ${got.sizeBytes} bytes (sha256 ${got.sha256}), the backup recorded ${expect.sizeBytes} (sha256 ${expect.sha256})`);
  }
}
