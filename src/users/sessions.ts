/**
 * Browser sessions. The cookie carries 32 random bytes; the store keeps their sha256 only.
 * The CSRF token is derived from the cookie value (HMAC-SHA256 keyed by it), so it needs no
 * storage and says nothing about the cookie. A session ends at logout, after `idleMs` without a
 * request, or `absoluteMs` after login, whichever comes first; the user's role is read at every
 * request, so a changed or removed role takes effect at once.
 */
import crypto from 'node:crypto';

export const SESSION_COOKIE = 'nubis_session';

export interface SessionTimes {
  /** Ends a session idle this long. Default 1 h. */
  idleMs: number;
  /** Ends a session this long after login. Default 12 h. */
  absoluteMs: number;
}

export const DEFAULT_SESSION_TIMES: SessionTimes = { idleMs: 60 * 60_000, absoluteMs: 12 * 60 * 60_000 };

export function newSessionSecret(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export function sessionHash(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function csrfTokenOf(secret: string): string {
  return crypto.createHmac('sha256', secret).update('nubis-csrf-v1').digest('base64url');
}

/** Constant-time comparison of a CSRF header with the session's token. */
export function csrfMatches(secret: string, header: string | undefined): boolean {
  if (header === undefined) return false;
  const want = Buffer.from(csrfTokenOf(secret));
  const got = Buffer.from(header.trim());
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

/** The session cookie's value from a Cookie header, if it has one of the right shape. */
export function sessionFromCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const v = part.slice(eq + 1).trim();
    if (/^[A-Za-z0-9_-]{43}$/.test(v)) return v;
  }
  return undefined;
}

/** The Set-Cookie value for a new session (Secure when the request came over TLS). */
export function sessionCookie(secret: string, secure: boolean, maxAgeS?: number): string {
  return `${SESSION_COOKIE}=${secret}; HttpOnly; SameSite=Strict; Path=/` + (maxAgeS !== undefined ? `; Max-Age=${maxAgeS}` : '') + (secure ? '; Secure' : '');
}

/** The Set-Cookie value that clears the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` + (secure ? '; Secure' : '');
}
