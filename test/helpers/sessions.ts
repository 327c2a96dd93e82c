/** A browser-like session against a real server: logs in, keeps the cookie, sends the CSRF token on unsafe calls. */
import assert from 'node:assert/strict';
import { callApi, type ApiAnswer } from './http-api.js';

export interface BrowserSession {
  user: string;
  tenant: string;
  role: string;
  cookie: string;
  csrfToken: string;
  /** One call with the cookie; the CSRF header too unless `csrf` is false. */
  call(method: string, path: string, body?: unknown, opts?: { csrf?: boolean; headers?: Record<string, string> }): Promise<ApiAnswer>;
}

/** POST /v1/login, asserting a 200 with a session cookie. */
export async function login(base: string, user: string, password: string, tenant?: string): Promise<BrowserSession> {
  const res = await fetch(`${base}/v1/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password, ...(tenant !== undefined ? { tenant } : {}) }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `login ${user}: ${res.status} ${text}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  assert.match(cookie, /^nubis_session=[A-Za-z0-9_-]{43}$/);
  const body = JSON.parse(text) as { user: string; tenant: string; role: string; csrfToken: string };
  return {
    ...body, cookie,
    call: (method, path, b, opts = {}) => callApi(base, undefined, method, path, b, {
      cookie, ...(opts.csrf === false ? {} : { 'x-csrf-token': body.csrfToken }), ...opts.headers,
    }),
  };
}
