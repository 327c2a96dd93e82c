/**
 * Who may call what, in one place for every route: authentication (a bearer token, or the
 * browser's session cookie), the CSRF check for cookie callers' unsafe methods, and the role
 * each route declares (`Route.role`, by default viewer for GET and operator otherwise;
 * `installation: true` for the installation administrator only). Handlers never check roles.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { NubisError } from '../errors/index.js';
import { csrfMatches, INSTALLATION_TENANT, roleAtLeast, sessionFromCookie, type Identity, type Role, type UserService } from '../users/index.js';
import { hashToken } from './auth.js';
import type { Route } from './router.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The least role a route needs: its own declaration, else viewer for GET, operator for the rest. */
export function requiredRole(route: Pick<Route, 'role' | 'method'>): Role {
  return route.role ?? (route.method === 'GET' ? 'viewer' : 'operator');
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const deny = (why: string): NubisError =>
  new NubisError('UNAUTHORIZED', `${why}; send "Authorization: Bearer <token>" or the session cookie of a login`);

export interface AccessControl {
  /** The caller's identity: bearer first, else the session cookie. UNAUTHORIZED when neither is valid. */
  authenticate(headers: IncomingHttpHeaders): Promise<Identity>;
  /** FORBIDDEN when a cookie caller's unsafe request lacks the CSRF token, or the role is too low. */
  authorize(route: Route, method: string, who: Identity, headers: IncomingHttpHeaders): void;
}

export function createAccessControl(users: UserService): AccessControl {
  return {
    async authenticate(headers) {
      const authorization = header(headers, 'authorization');
      if (authorization !== undefined && authorization.trim() !== '') {
        const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
        if (!m) throw deny('the Authorization header is not a bearer token');
        const who = await users.token(hashToken(m[1]!));
        if (!who) throw deny('invalid bearer token');
        return who;
      }
      const secret = sessionFromCookie(header(headers, 'cookie'));
      if (secret !== undefined) {
        const who = await users.session(secret);
        if (!who) throw deny('the session has ended (logged out or expired)');
        return who;
      }
      throw deny('missing bearer token or session cookie');
    },
    authorize(route, method, who, headers) {
      if (who.via === 'session' && !SAFE.has(method)) {
        const secret = sessionFromCookie(header(headers, 'cookie'))!;
        if (!csrfMatches(secret, header(headers, 'x-csrf-token'))) {
          throw new NubisError('FORBIDDEN', `a ${method} with a session cookie needs the header X-CSRF-Token with the session's csrfToken (from POST /v1/login or GET /v1/me)`, {
            details: { csrf: true },
          });
        }
      }
      const need = requiredRole(route);
      if (!roleAtLeast(who.role, need)) {
        throw new NubisError('FORBIDDEN', `${route.operationId} needs the ${need} role in tenant ${JSON.stringify(who.tenant)}; ${who.actor} is ${who.role}`, {
          details: { requiredRole: need, role: who.role },
        });
      }
      if (route.installation === true && !(who.tenant === INSTALLATION_TENANT && who.role === 'admin')) {
        throw new NubisError('FORBIDDEN', `${route.operationId} is for the installation's administrator (an admin of tenant ${INSTALLATION_TENANT}); ${who.actor} is ${who.role} of tenant ${JSON.stringify(who.tenant)}`, {
          details: { requiredRole: 'admin', installation: true, role: who.role },
        });
      }
    },
  };
}
