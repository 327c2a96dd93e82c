/**
 * Leases and replicas (issue 13): several control-plane processes over one database elect
 * the one that runs the controllers by holding a lease row.
 *
 * Every time is the database's clock in ms (`clock_timestamp()` on PostgreSQL; on SQLite, one
 * process, the local clock), never a replica's own: two machines whose clocks disagree still
 * agree on who holds a lease. Acquire, renew and release are each one conditional statement,
 * so two replicas racing for a lease cannot both win. The `token` (the fencing token) grows by
 * one with every new holder; a store opened with a `Fence` refuses writes unless its token is
 * still the lease's (FENCED), and on PostgreSQL a trigger on every table refuses any write of a
 * session whose fence no longer holds, so a paused leader that wakes up late changes nothing.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { NubisError } from '../errors/index.js';
import type { Database } from './schema.js';
import type { StoreDialect } from './backend.js';

export interface LeaseTable {
  name: string;
  holder: string;
  /** The fencing token: 1 for the first holder, one more for each new holder. */
  token: number;
  acquired_at: number;
  expires_at: number;
}

export interface ReplicaTable {
  id: string;
  advertise_url: string;
  started_at: number;
  heartbeat_at: number;
}

/** A lease as held: by whom, with which token, until when (database ms). */
export interface LeaseGrant {
  name: string;
  holder: string;
  token: number;
  acquiredAt: number;
  expiresAt: number;
}

/** A lease as the database has it now, with the database's time. */
export interface LeaseView extends LeaseGrant {
  /** The database's clock when this was read (ms). */
  now: number;
}

export interface ReplicaView {
  id: string;
  advertiseUrl: string;
  startedAt: number;
  heartbeatAt: number;
}

/** What a fenced store checks before every write: this holder still holds this lease with this token. */
export interface Fence {
  lease: string;
  holder: string;
  token: number;
}

export interface LeaseRepo {
  /** The database's clock (ms). */
  now(): Promise<number>;
  /** Takes the lease when nobody holds it or its holder's time ran out; undefined when another holds it. */
  acquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | undefined>;
  /** Extends a held lease by `ttlMs` from now; undefined when it is no longer this holder's (expired, taken over). */
  renew(grant: Pick<LeaseGrant, 'name' | 'holder' | 'token'>, ttlMs: number): Promise<LeaseGrant | undefined>;
  /** Gives a held lease up at once (its expiry becomes now), so another replica need not wait it out. */
  release(grant: Pick<LeaseGrant, 'name' | 'holder' | 'token'>): Promise<void>;
  get(name: string): Promise<LeaseView | undefined>;
  /** Records this replica as alive (its heartbeat is the database's now). */
  heartbeat(id: string, advertiseUrl: string): Promise<void>;
  /** Every replica that beat in the last `withinMs`, oldest first. */
  replicas(withinMs: number): Promise<ReplicaView[]>;
  /** Forgets a replica (it stopped cleanly). */
  removeReplica(id: string): Promise<void>;
  /** Readies the database for fenced replicas: the fence and event-notify triggers (PostgreSQL; nothing on SQLite). */
  prepareReplicas(): Promise<void>;
}

/** The LISTEN/NOTIFY channel told of committed events. */
export const EVENTS_CHANNEL = 'nubis_events';

/** The SQLSTATE the PostgreSQL fence trigger raises. */
export const FENCED_SQLSTATE = 'NBF01';

/** The database's now in ms, as SQL. */
export function dbNowSql(dialect: StoreDialect): RawBuilder<number> {
  return dialect === 'postgres' ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint` : sql<number>`${Date.now()}`;
}

const grantOf = (r: { name: string; holder: string; token: number | string; acquired_at: number | string; expires_at: number | string }): LeaseGrant => ({
  name: r.name, holder: r.holder, token: Number(r.token), acquiredAt: Number(r.acquired_at), expiresAt: Number(r.expires_at),
});

export function createLeaseRepo(db: Kysely<Database>, dialect: StoreDialect): LeaseRepo {
  const now = (): RawBuilder<number> => dbNowSql(dialect);
  return {
    async now() {
      const r = await sql<{ now: number | string }>`select ${now()} as now`.execute(db);
      return Number(r.rows[0]!.now);
    },
    async acquire(name, holder, ttlMs) {
      // one statement: insert the lease, or take it over when its time ran out (token + 1)
      const r = await sql<LeaseTable>`
        insert into leases (name, holder, token, acquired_at, expires_at) values (${name}, ${holder}, 1, ${now()}, ${now()} + ${ttlMs})
        on conflict (name) do update set holder = excluded.holder, token = leases.token + 1, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
        where leases.expires_at <= excluded.acquired_at
        returning name, holder, token, acquired_at, expires_at`.execute(db);
      const row = r.rows[0];
      return row ? grantOf(row) : undefined;
    },
    async renew(g, ttlMs) {
      const r = await sql<LeaseTable>`
        update leases set expires_at = ${now()} + ${ttlMs}
        where name = ${g.name} and holder = ${g.holder} and token = ${g.token} and expires_at > ${now()}
        returning name, holder, token, acquired_at, expires_at`.execute(db);
      const row = r.rows[0];
      return row ? grantOf(row) : undefined;
    },
    async release(g) {
      await sql`update leases set expires_at = ${now()} where name = ${g.name} and holder = ${g.holder} and token = ${g.token} and expires_at > ${now()}`.execute(db);
    },
    async get(name) {
      const r = await sql<LeaseTable & { now: number | string }>`select name, holder, token, acquired_at, expires_at, ${now()} as now from leases where name = ${name}`.execute(db);
      const row = r.rows[0];
      return row ? { ...grantOf(row), now: Number(row.now) } : undefined;
    },
    async heartbeat(id, advertiseUrl) {
      await sql`
        insert into replicas (id, advertise_url, started_at, heartbeat_at) values (${id}, ${advertiseUrl}, ${now()}, ${now()})
        on conflict (id) do update set advertise_url = excluded.advertise_url, heartbeat_at = excluded.heartbeat_at`.execute(db);
    },
    async replicas(withinMs) {
      const r = await sql<ReplicaTable>`select id, advertise_url, started_at, heartbeat_at from replicas where heartbeat_at > ${now()} - ${withinMs} order by started_at, id`.execute(db);
      return r.rows.map((x) => ({ id: x.id, advertiseUrl: x.advertise_url, startedAt: Number(x.started_at), heartbeatAt: Number(x.heartbeat_at) }));
    },
    async removeReplica(id) {
      await db.deleteFrom('replicas').where('id', '=', id).execute();
    },
    prepareReplicas: () => (dialect === 'postgres' ? installFenceTriggers(db) : Promise.resolve()),
  };
}

const fencedError = (f: Fence): NubisError =>
  new NubisError('FENCED', `replica ${f.holder} no longer holds lease ${f.lease} with token ${f.token}: the write was refused (another replica leads now)`, {
    retryable: false, details: { lease: f.lease, token: f.token },
  });

/**
 * The check a fenced store's every write transaction runs first: the lease is still this
 * holder's, with this token, and not past its time. On PostgreSQL the row is locked (FOR SHARE)
 * until the transaction ends, so a takeover waits for the write in flight instead of slipping
 * in between the check and the commit.
 */
export function fenceCheck(dialect: StoreDialect, f: Fence): (trx: Transaction<Database>) => Promise<void> {
  return async (trx) => {
    const lock = dialect === 'postgres' ? sql` for share` : sql``;
    const r = await sql`select 1 as ok from leases where name = ${f.lease} and token = ${f.token} and holder = ${f.holder} and expires_at > ${dbNowSql(dialect)}${lock}`.execute(trx);
    if (r.rows.length === 0) throw fencedError(f);
  };
}

/** Whether an error is the database refusing a fenced write (the group-commit check or the PostgreSQL trigger). */
export function isFencedError(e: unknown): boolean {
  if (e instanceof NubisError) return e.code === 'FENCED';
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === FENCED_SQLSTATE;
}

/** The error to give a caller for a refused write: FENCED, whatever the driver threw. */
export function asFenced(e: unknown, f: Fence): unknown {
  return isFencedError(e) && !(e instanceof NubisError) ? fencedError(f) : e;
}

/** The session setting the PostgreSQL trigger reads: `<lease> <token> <holder>`. */
export function fenceSetting(f: Fence): string {
  return `${f.lease} ${f.token} ${f.holder}`;
}

const UNFENCED = new Set(['leases', 'replicas', 'kysely_migration', 'kysely_migration_lock']);

/**
 * Puts the fence trigger on every table of the store (PostgreSQL): a statement on a table by a
 * session whose `nubis.fence` names a lease it no longer holds fails with FENCED_SQLSTATE. The
 * first statement of a transaction checks and locks the lease row (FOR SHARE); later ones of
 * the same transaction pass. Sessions without a fence (a single `serve`, migrations) pass.
 * Idempotent; replicas starting together take turns (an advisory lock). Also makes every insert
 * of events notify EVENTS_CHANNEL (at commit; PostgreSQL folds a transaction's notifications).
 */
export async function installFenceTriggers(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(2027013)`.execute(trx);
    await sql.raw(`
      create or replace function nubis_fence_check() returns trigger language plpgsql as $$
      declare
        f text := current_setting('nubis.fence', true);
        x text := txid_current()::text;
      begin
        if f is null or f = '' or current_setting('nubis.fence_xact', true) = x then return null; end if;
        perform 1 from leases where name = split_part(f, ' ', 1) and token = split_part(f, ' ', 2)::bigint and holder = split_part(f, ' ', 3)
          and expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint for share;
        if not found then
          raise exception 'fenced: % no longer holds lease % with token %', split_part(f, ' ', 3), split_part(f, ' ', 1), split_part(f, ' ', 2) using errcode = '${FENCED_SQLSTATE}';
        end if;
        perform set_config('nubis.fence_xact', x, true);
        return null;
      end $$`).execute(trx);
    // replicas that did not write an event learn of it at once (../events/feed.ts)
    await sql.raw(`create or replace function nubis_events_notify() returns trigger language plpgsql as $$
      begin perform pg_notify('${EVENTS_CHANNEL}', ''); return null; end $$`).execute(trx);
    // only tables without their trigger: creating one locks the table against the leader's writes
    const missing = await sql<{ t: string; g: string }>`
      select c.relname as t, w.g from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join (values ('nubis_fence'), ('nubis_events_notify')) as w(g)
      where n.nspname = current_schema() and c.relkind = 'r' and (w.g = 'nubis_fence' or c.relname = 'events')
        and not exists (select 1 from pg_trigger x where x.tgrelid = c.oid and x.tgname = w.g)`.execute(trx);
    for (const { t, g } of missing.rows) {
      if (UNFENCED.has(t)) continue;
      const q = `"${t.replace(/"/g, '""')}"`;
      if (g === 'nubis_fence') await sql.raw(`create trigger nubis_fence before insert or update or delete or truncate on ${q} for each statement execute function nubis_fence_check()`).execute(trx);
      else await sql.raw(`create trigger nubis_events_notify after insert on ${q} for each statement execute function nubis_events_notify()`).execute(trx);
    }
  });
}
