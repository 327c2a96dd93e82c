/**
 * Signing in, and what the signed-in caller may do. A user signs in with a password
 * (`POST /v1/login`: an HttpOnly SameSite=Strict session cookie plus a CSRF token the console
 * sends as X-CSRF-Token on unsafe requests), or pastes an API token, kept in sessionStorage
 * (gone with the tab) and sent as a bearer header. `GET /v1/me` says who it is and its role.
 *
 * What is offered follows the server's own declaration: each operation's least role
 * (`x-nubis-role` in the OpenAPI document, copied into the generated table), so a viewer is
 * offered nothing a viewer may not do, and the console cannot drift from the server's check.
 */
import { call, setCredentials } from './api';
import { OPERATIONS, type OperationId, type Session } from './api-types';

export type Role = Session['role'];

export interface Me {
  user: string;
  tenant: string;
  role: Role;
  via: 'session' | 'token';
  tenants: { tenant: string; role: Role }[];
}

const TOKEN_KEY = 'nubis.token';
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether the caller's role in its tenant is enough for an operation (the installation's ones: admin of default). */
export function can(me: Me | undefined, op: OperationId): boolean {
  if (!me) return false;
  const o = OPERATIONS[op] as { role?: Role; installation?: boolean };
  if (o.installation && !(me.role === 'admin' && me.tenant === 'default')) return false;
  return RANK[me.role] >= RANK[o.role ?? 'viewer'];
}

function meOf(s: Session, via: Me['via']): Me {
  return { user: s.user, tenant: s.tenant, role: s.role, via: s.via ?? via, tenants: s.tenants ?? [{ tenant: s.tenant, role: s.role }] };
}

/** Who is signed in now (the token kept in this tab, or a live session cookie), or undefined. */
export async function currentUser(): Promise<Me | undefined> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    const me = await withToken(token).catch(() => undefined);
    if (me) return me;
    sessionStorage.removeItem(TOKEN_KEY);
  }
  setCredentials({ kind: 'none' });
  const s = await call('me').catch(() => undefined);
  if (!s) return undefined;
  setCredentials({ kind: 'session', csrfToken: s.csrfToken ?? '' });
  return meOf(s, 'session');
}

/** Signs in with a user name and password; rejects with the server's error. */
export async function login(user: string, password: string, tenant?: string): Promise<Me> {
  setCredentials({ kind: 'none' });
  const s = await call('login', { body: { user, password, ...(tenant ? { tenant } : {}) } });
  setCredentials({ kind: 'session', csrfToken: s.csrfToken ?? '' });
  return meOf(s, 'session');
}

/** Signs in with an API token: checked against the server before it is kept. */
export async function withToken(token: string): Promise<Me> {
  setCredentials({ kind: 'token', token });
  try {
    const s = await call('me');
    sessionStorage.setItem(TOKEN_KEY, token);
    return meOf(s, 'token');
  } catch (e) {
    setCredentials({ kind: 'none' });
    throw e;
  }
}

export async function logout(me: Me | undefined): Promise<void> {
  sessionStorage.removeItem(TOKEN_KEY);
  if (me?.via === 'session') await call('logout').catch(() => undefined);
  setCredentials({ kind: 'none' });
}
