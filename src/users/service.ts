/**
 * Users, their roles per tenant, sessions and personal tokens: the rules, over the store's
 * repository. Who may call each operation is the API's router's business (src/api/access-control.ts);
 * this service only answers who a caller is and keeps the records.
 */
import crypto from 'node:crypto';
import { NubisError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import { checkPasswordStrength, hashPassword, needsRehash, parsePasswordHash, verifyPassword, DEFAULT_SCRYPT, type ScryptParams } from './passwords.js';
import { lesserRole, parseRole, type Role } from './roles.js';
import { csrfTokenOf, DEFAULT_SESSION_TIMES, newSessionSecret, sessionHash, type SessionTimes } from './sessions.js';
import { LoginThrottle, type ThrottleOptions } from './throttle.js';

/** The tenant whose admin administers the installation. */
export const INSTALLATION_TENANT = 'default';

/** Who a verified request speaks for. */
export interface Identity {
  /** `user:<user or token name>`: who events name. */
  actor: string;
  tenant: string;
  role: Role;
  via: 'token' | 'session';
  /** The person: a session's user, a personal token's owner. */
  user?: string;
  /** The token's name (bearer callers). */
  token?: string;
  /** The session's CSRF token (session callers). */
  csrfToken?: string;
}

export interface UserView {
  name: string;
  roles: { tenant: string; role: Role }[];
  createdAt: string;
  updatedAt: string;
}

export interface LoginResult {
  user: string;
  tenant: string;
  role: Role;
  csrfToken: string;
  /** The cookie value: set once in Set-Cookie, never in a body. */
  secret: string;
  /** Seconds until the absolute expiry (the cookie's Max-Age). */
  maxAgeS: number;
}

export interface UserServiceOptions {
  store: Store;
  events?: EventLog;
  now?: () => number;
  sessions?: Partial<SessionTimes>;
  throttle?: ThrottleOptions;
  /** Cost of new password hashes; default DEFAULT_SCRYPT. */
  scrypt?: ScryptParams;
}

export interface UserService {
  list(): Promise<UserView[]>;
  /** Creates a user or sets its password; true when created. REQUEST_INVALID for a weak password. */
  setPassword(name: string, password: string, actor: string, roles?: Record<string, Role>): Promise<boolean>;
  /** A user changes its own password, proving the current one (UNAUTHORIZED otherwise); ends its other sessions. */
  changeOwnPassword(name: string, current: string, password: string, keepSession?: string): Promise<void>;
  /** NOT_FOUND when there is no such user. Ends its sessions and revokes its personal tokens. */
  remove(name: string, actor: string): Promise<void>;
  setRole(name: string, tenant: string, role: Role, actor: string): Promise<void>;
  dropRole(name: string, tenant: string, actor: string): Promise<void>;
  /** The user's roles: what `/v1/me` lists so a console can offer the tenants. */
  roles(name: string): Promise<{ tenant: string; role: Role }[]>;

  /**
   * Checks a password and opens a session. UNAUTHORIZED with one message for an unknown user,
   * a wrong password or no role in the tenant; RATE_LIMITED (with retryAfterMs) while the
   * user+address is backing off.
   */
  login(user: string, password: string, tenant: string | undefined, address: string, correlationId?: string): Promise<LoginResult>;
  /** The identity of a live session cookie value; undefined when it is unknown or expired (then it is deleted). */
  session(secret: string): Promise<Identity | undefined>;
  logout(secret: string, correlationId?: string): Promise<void>;
  /** The identity of a bearer token's sha256; undefined when no token has it or its user lost the tenant. */
  token(hash: string): Promise<Identity | undefined>;
}

const DENIED = 'unknown user or wrong password';

function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}

export function createUserService(o: UserServiceOptions): UserService {
  const { store } = o;
  const now = o.now ?? Date.now;
  const times: SessionTimes = { ...DEFAULT_SESSION_TIMES, ...o.sessions };
  const throttle = new LoginThrottle(o.throttle);
  const params = o.scrypt ?? DEFAULT_SCRYPT;
  const audit = async (kind: string, target: string | undefined, outcome: string, data: Record<string, unknown>, actor: string, tenant = INSTALLATION_TENANT, correlationId?: string): Promise<void> => {
    await o.events?.append({ actor, kind, ...(target !== undefined ? { target } : {}), outcome, data, tenant, ...(correlationId ? { correlationId } : {}) });
  };
  const mustExist = async (name: string): Promise<void> => {
    if (!(await store.users.get(name))) throw new NubisError('NOT_FOUND', `no user ${JSON.stringify(name)}`);
  };
  /** Seen-at is written at most this often per session, not at every request. */
  const touchEveryMs = Math.min(60_000, Math.floor(times.idleMs / 4));

  return {
    async list() {
      const [users, roles] = await Promise.all([store.users.list(), store.users.roles()]);
      return users.map((u) => ({
        name: u.name,
        roles: roles.filter((r) => r.user === u.name).map((r) => ({ tenant: r.tenant, role: parseRole(r.role) })),
        createdAt: iso(u.created_at), updatedAt: iso(u.updated_at),
      }));
    },
    async setPassword(name, password, actor, roles) {
      checkPasswordStrength(password);
      const h = await hashPassword(password, params);
      const created = await store.users.put(name, JSON.stringify(h), now());
      for (const [tenant, role] of Object.entries(roles ?? {})) await store.users.setRole(name, tenant, role);
      if (!created) await store.users.deleteSessions(name);
      await audit(created ? 'user.created' : 'user.password-set', name, 'ok', { user: name, ...(roles ? { roles } : {}) }, actor);
      return created;
    },
    async changeOwnPassword(name, current, password, keepSession) {
      const row = await store.users.get(name);
      if (!(await verifyPassword(current, row ? parsePasswordHash(row.password_json) : undefined))) {
        throw new NubisError('UNAUTHORIZED', '$.current: the current password is wrong');
      }
      checkPasswordStrength(password);
      await store.users.put(name, JSON.stringify(await hashPassword(password, params)), now());
      const keep = keepSession !== undefined ? await store.users.session(sessionHash(keepSession)) : undefined;
      await store.users.deleteSessions(name);
      if (keep) await store.users.createSession(keep);
      await audit('user.password-set', name, 'ok', { user: name, by: 'self' }, `user:${name}`);
    },
    async remove(name, actor) {
      if (!(await store.users.remove(name))) throw new NubisError('NOT_FOUND', `no user ${JSON.stringify(name)}`);
      await audit('user.removed', name, 'ok', { user: name }, actor);
    },
    async setRole(name, tenant, role, actor) {
      await mustExist(name);
      await store.users.setRole(name, tenant, role);
      await audit('user.role-set', name, 'ok', { user: name, tenant, role }, actor);
    },
    async dropRole(name, tenant, actor) {
      await mustExist(name);
      if (!(await store.users.dropRole(name, tenant))) throw new NubisError('NOT_FOUND', `user ${JSON.stringify(name)} has no role in tenant ${JSON.stringify(tenant)}`);
      await store.users.deleteSessions(name, tenant);
      await audit('user.role-dropped', name, 'ok', { user: name, tenant }, actor);
    },
    async roles(name) {
      return (await store.users.roles(name)).map((r) => ({ tenant: r.tenant, role: parseRole(r.role) }));
    },

    async login(user, password, tenant, address, correlationId) {
      const key = `${user}\u0000${address}`;
      const t = now();
      const wait = throttle.wait(key, t);
      if (wait > 0) {
        throw new NubisError('RATE_LIMITED', `too many failed logins for this user from this address; try again in ${Math.ceil(wait / 1000)} s`, {
          details: { retryAfterMs: wait },
        });
      }
      const row = await store.users.get(user);
      const ok = await verifyPassword(password, row ? parsePasswordHash(row.password_json) : undefined);
      const roles = ok ? await store.users.roles(user) : [];
      // without a tenant: the user's only one, else `default` when it has it, else the first by name
      const chosen = tenant !== undefined ? roles.find((r) => r.tenant === tenant)
        : roles.length === 1 ? roles[0] : roles.find((r) => r.tenant === INSTALLATION_TENANT) ?? roles[0];
      if (!ok || !chosen) {
        throttle.fail(key, t);
        await audit('session.refused', row ? user : undefined, 'denied', { reason: ok ? 'no role in the tenant' : 'unknown user or wrong password' }, 'anonymous', INSTALLATION_TENANT, correlationId);
        throw new NubisError('UNAUTHORIZED', DENIED);
      }
      throttle.succeed(key);
      const stored = parsePasswordHash(row!.password_json)!;
      if (needsRehash(stored, params)) await store.users.put(user, JSON.stringify(await hashPassword(password, params)), t);
      const secret = newSessionSecret();
      await store.users.createSession({ hash: sessionHash(secret), user_name: user, tenant: chosen.tenant, created_at: t, seen_at: t });
      const role = parseRole(chosen.role);
      await audit('session.created', user, 'ok', { user, tenant: chosen.tenant, role }, `user:${user}`, chosen.tenant, correlationId);
      return { user, tenant: chosen.tenant, role, csrfToken: csrfTokenOf(secret), secret, maxAgeS: Math.floor(times.absoluteMs / 1000) };
    },
    async session(secret) {
      const hash = sessionHash(secret);
      const s = await store.users.session(hash);
      if (!s) return undefined;
      const t = now();
      if (t - Number(s.created_at) >= times.absoluteMs || t - Number(s.seen_at) >= times.idleMs) {
        await store.users.deleteSession(hash);
        return undefined;
      }
      const role = (await store.users.roles(s.user_name)).find((r) => r.tenant === s.tenant);
      if (!role) {
        await store.users.deleteSession(hash);
        return undefined;
      }
      if (t - Number(s.seen_at) >= touchEveryMs) await store.users.touchSession(hash, t);
      return { actor: `user:${s.user_name}`, tenant: s.tenant, role: parseRole(role.role), via: 'session', user: s.user_name, csrfToken: csrfTokenOf(secret) };
    },
    async logout(secret, correlationId) {
      const hash = sessionHash(secret);
      const s = await store.users.session(hash);
      if (!s) return;
      await store.users.deleteSession(hash);
      await audit('session.ended', s.user_name, 'ok', { user: s.user_name, tenant: s.tenant }, `user:${s.user_name}`, s.tenant, correlationId);
    },
    async token(hash) {
      const g = await store.users.tokenGrant(hash);
      if (!g) return undefined;
      let role = parseRole(g.role);
      if (g.user !== null) {
        const own = (await store.users.roles(g.user)).find((r) => r.tenant === g.tenant);
        if (!own) return undefined;
        role = lesserRole(role, parseRole(own.role));
      }
      return {
        actor: `user:${g.user ?? g.name}`, tenant: g.tenant, role, via: 'token', token: g.name,
        ...(g.user !== null ? { user: g.user } : {}),
      };
    },
  };
}

/** A random token: 32 bytes, base64url. */
export function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}
