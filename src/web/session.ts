/**
 * Signing in. The users contract: `POST /v1/login` {user, password, tenant?} answers {user,
 * tenant, role, csrfToken} and sets the HttpOnly SameSite=Strict cookie `nubis_session`;
 * `GET /v1/me` the same for a live session or token; `POST /v1/logout` ends it. Where the server
 * has no users yet (404 on these), an API token pasted into the form is kept in sessionStorage
 * (gone with the tab) and sent as a bearer header; such a token may do everything in its
 * tenant, so the console offers everything and the server decides.
 */
import { ApiError, authHeaders, errorOf, setCredentials, type Credentials } from './api';

export type Role = 'admin' | 'operator' | 'viewer';

export interface Me {
  user: string;
  tenant: string;
  role: Role;
  csrfToken?: string;
  /** How this console authenticates. */
  via: 'session' | 'token';
}

const TOKEN_KEY = 'nubis.token';

/** What each role may do; the console offers only these (the server checks them again). */
const ALLOWED: Record<Role, ReadonlySet<Action>> = {
  admin: new Set(['apply', 'scale', 'destroy', 'workflow', 'ack', 'recovery']),
  operator: new Set(['apply', 'scale', 'destroy', 'workflow', 'ack', 'recovery']),
  viewer: new Set(),
};
export type Action = 'apply' | 'scale' | 'destroy' | 'workflow' | 'ack' | 'recovery';

export function can(me: Me | undefined, action: Action): boolean {
  return me !== undefined && ALLOWED[me.role].has(action);
}

async function json(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(path, {
    method, credentials: 'same-origin',
    headers: { accept: 'application/json', ...authHeaders(method), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

type MeBody = { user: string; tenant: string; role: Role; csrfToken?: string };

function meFrom(b: MeBody, via: Me['via']): Me {
  return { user: b.user, tenant: b.tenant, role: b.role, via, ...(b.csrfToken ? { csrfToken: b.csrfToken } : {}) };
}

function use(c: Credentials): void {
  setCredentials(c);
}

/** Who is signed in now (a live session cookie, or the token kept in this tab), or undefined. */
export async function currentUser(): Promise<Me | undefined> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    const me = await withToken(token).catch(() => undefined);
    if (me) return me;
    sessionStorage.removeItem(TOKEN_KEY);
  }
  use({ kind: 'none' });
  const res = await json('GET', '/v1/me');
  if (!res.ok) return undefined;
  const b = (await res.json()) as MeBody;
  use({ kind: 'session', csrfToken: b.csrfToken ?? '' });
  return meFrom(b, 'session');
}

/** Signs in with a user name and password; rejects with the server's error (field: user or password). */
export async function login(user: string, password: string, tenant?: string): Promise<Me> {
  use({ kind: 'none' });
  const res = await json('POST', '/v1/login', { user, password, ...(tenant ? { tenant } : {}) });
  if (!res.ok) {
    const e = await errorOf(res);
    if (res.status === 404 && e.code === 'NOT_FOUND') {
      throw new ApiError(404, 'NOT_FOUND', 'this server has no user accounts yet: sign in with an API token', undefined, false);
    }
    throw e;
  }
  const b = (await res.json()) as MeBody;
  use({ kind: 'session', csrfToken: b.csrfToken ?? '' });
  return meFrom(b, 'session');
}

/** Signs in with an API token: checked against the server before it is kept. */
export async function withToken(token: string): Promise<Me> {
  use({ kind: 'token', token });
  const res = await json('GET', '/v1/me');
  if (res.ok) {
    sessionStorage.setItem(TOKEN_KEY, token);
    return meFrom((await res.json()) as MeBody, 'token');
  }
  const e = await errorOf(res);
  if (res.status !== 404) {
    use({ kind: 'none' });
    throw e;
  }
  // no /v1/me on this server: any authenticated read proves the token
  const probe = await json('GET', '/v1/deployments');
  if (!probe.ok) {
    use({ kind: 'none' });
    throw await errorOf(probe);
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  return { user: 'token', tenant: '', role: 'admin', via: 'token' };
}

export async function logout(me: Me | undefined): Promise<void> {
  sessionStorage.removeItem(TOKEN_KEY);
  if (me?.via === 'session') await json('POST', '/v1/logout').catch(() => undefined);
  use({ kind: 'none' });
}
