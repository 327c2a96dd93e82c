/**
 * Users, their roles per tenant, browser sessions (migration 0031) and the tokens' roles.
 * Passwords arrive here already hashed (src/users/passwords.ts); sessions by the sha256 of
 * the cookie value, so a copy of the database lets nobody log in.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database } from './schema.js';
import type { SessionTable, UserTable } from './users-tables.js';

export type UserRow = Selectable<UserTable>;
export type SessionRow = Selectable<SessionTable>;

export interface TokenRow {
  name: string;
  tenant: string;
  role: string;
  /** The user a personal token belongs to; null for tokens minted by the administrator. */
  user: string | null;
  createdAt: number;
}

export interface UserRepo {
  get(name: string): Promise<UserRow | undefined>;
  list(): Promise<UserRow[]>;
  /** Creates the user or replaces its password hash. True when it was created. */
  put(name: string, passwordJson: string, at: number): Promise<boolean>;
  /** Deletes the user with its roles, sessions and personal tokens; false when there was none. */
  remove(name: string): Promise<boolean>;
  /** Every role of every user (or of one user), by user then tenant. */
  roles(user?: string): Promise<{ user: string; tenant: string; role: string }[]>;
  setRole(user: string, tenant: string, role: string): Promise<void>;
  /** False when the user had no role in that tenant. */
  dropRole(user: string, tenant: string): Promise<boolean>;

  createSession(row: SessionRow): Promise<void>;
  session(hash: string): Promise<SessionRow | undefined>;
  touchSession(hash: string, at: number): Promise<void>;
  deleteSession(hash: string): Promise<void>;
  /** Deletes every session of the user (after a password change or a removal); how many. */
  deleteSessions(user: string, tenant?: string): Promise<number>;
  /** Deletes sessions created before `createdBefore` or idle since before `seenBefore`. */
  pruneSessions(createdBefore: number, seenBefore: number): Promise<number>;

  /** The role and user of the token with this hash (tokens: migration 0031 adds both). */
  tokenGrant(hash: string): Promise<{ name: string; tenant: string; role: string; user: string | null } | undefined>;
  createTokenFor(row: { id: string; name: string; hash: string; tenant: string; role: string; user: string | null; at: number }): Promise<void>;
  /** The tokens of a tenant, or a user's personal tokens: never their hashes. */
  tokens(filter: { tenant?: string; user?: string }): Promise<TokenRow[]>;
  /** Deletes a token by name in a tenant (only a user's own when `user` is given); false when none. */
  deleteToken(name: string, tenant: string, user?: string): Promise<boolean>;
}

export function createUserRepo(db: Kysely<Database>): UserRepo {
  return {
    get: (name) => db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst(),
    list: () => db.selectFrom('users').selectAll().orderBy('name').execute(),
    async put(name, passwordJson, at) {
      const had = await db.selectFrom('users').select('name').where('name', '=', name).executeTakeFirst();
      if (had) {
        await db.updateTable('users').set({ password_json: passwordJson, updated_at: at }).where('name', '=', name).execute();
        return false;
      }
      await db.insertInto('users').values({ name, password_json: passwordJson, created_at: at, updated_at: at }).execute();
      return true;
    },
    async remove(name) {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('user_roles').where('user_name', '=', name).execute();
        await trx.deleteFrom('sessions').where('user_name', '=', name).execute();
        await trx.deleteFrom('tokens').where('user_name', '=', name).execute();
        const r = await trx.deleteFrom('users').where('name', '=', name).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      });
    },
    async roles(user) {
      let q = db.selectFrom('user_roles').select(['user_name', 'tenant', 'role']);
      if (user !== undefined) q = q.where('user_name', '=', user);
      const rows = await q.orderBy('user_name').orderBy('tenant').execute();
      return rows.map((r) => ({ user: r.user_name, tenant: r.tenant, role: r.role }));
    },
    async setRole(user, tenant, role) {
      await db.insertInto('user_roles').values({ user_name: user, tenant, role })
        .onConflict((oc) => oc.columns(['user_name', 'tenant']).doUpdateSet({ role })).execute();
    },
    async dropRole(user, tenant) {
      const r = await db.deleteFrom('user_roles').where('user_name', '=', user).where('tenant', '=', tenant).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async createSession(row) {
      await db.insertInto('sessions').values(row).execute();
    },
    session: (hash) => db.selectFrom('sessions').selectAll().where('hash', '=', hash).executeTakeFirst(),
    async touchSession(hash, at) {
      await db.updateTable('sessions').set({ seen_at: at }).where('hash', '=', hash).execute();
    },
    async deleteSession(hash) {
      await db.deleteFrom('sessions').where('hash', '=', hash).execute();
    },
    async deleteSessions(user, tenant) {
      let q = db.deleteFrom('sessions').where('user_name', '=', user);
      if (tenant !== undefined) q = q.where('tenant', '=', tenant);
      return Number((await q.executeTakeFirst()).numDeletedRows);
    },
    async pruneSessions(createdBefore, seenBefore) {
      const r = await db.deleteFrom('sessions').where((eb) => eb.or([eb('created_at', '<', createdBefore), eb('seen_at', '<', seenBefore)])).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    async tokenGrant(hash) {
      const r = await db.selectFrom('tokens').select(['name', 'tenant', 'role', 'user_name']).where('hash', '=', hash).executeTakeFirst();
      return r && { name: r.name, tenant: r.tenant, role: r.role, user: r.user_name };
    },
    async createTokenFor(row) {
      await db.insertInto('tokens').values({ id: row.id, name: row.name, hash: row.hash, tenant: row.tenant, role: row.role, user_name: row.user, created_at: row.at }).execute();
    },
    async tokens(filter) {
      let q = db.selectFrom('tokens').select(['name', 'tenant', 'role', 'user_name', 'created_at']);
      if (filter.tenant !== undefined) q = q.where('tenant', '=', filter.tenant);
      if (filter.user !== undefined) q = q.where('user_name', '=', filter.user);
      const rows = await q.orderBy('tenant').orderBy('name').execute();
      return rows.map((r) => ({ name: r.name, tenant: r.tenant, role: r.role, user: r.user_name, createdAt: Number(r.created_at) }));
    },
    async deleteToken(name, tenant, user) {
      let q = db.deleteFrom('tokens').where('name', '=', name).where('tenant', '=', tenant);
      if (user !== undefined) q = q.where('user_name', '=', user);
      return Number((await q.executeTakeFirst()).numDeletedRows) > 0;
    },
  };
}
