/**
 * users — people with passwords, their roles per tenant (admin, operator, viewer), browser
 * sessions with CSRF tokens, and the roles of API tokens. The API's router enforces the roles
 * (each route declares the least one it needs); this module says who a caller is.
 */
export { ROLES, isRole, roleAtLeast, lesserRole, parseRole } from './roles.js';
export type { Role } from './roles.js';
export { hashPassword, verifyPassword, parsePasswordHash, checkPasswordStrength, DEFAULT_SCRYPT, MIN_PASSWORD_LENGTH } from './passwords.js';
export type { PasswordHash, ScryptParams } from './passwords.js';
export { LoginThrottle } from './throttle.js';
export type { ThrottleOptions } from './throttle.js';
export {
  SESSION_COOKIE, DEFAULT_SESSION_TIMES, sessionFromCookie, sessionCookie, clearedSessionCookie, csrfMatches, csrfTokenOf, sessionHash,
} from './sessions.js';
export type { SessionTimes } from './sessions.js';
export { createUserService, INSTALLATION_TENANT, newToken } from './service.js';
export type { UserService, UserServiceOptions, Identity, UserView, LoginResult } from './service.js';
