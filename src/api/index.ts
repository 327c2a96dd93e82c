/**
 * api — REST over HTTP with JSON bodies, an OpenAPI 3.1 document, Server-Sent Events for
 * the audit log, and bearer-token auth. It serves a `ControlPlane` and holds no state of
 * its own beyond open connections.
 */
export { createApiServer, DEFAULT_BODY_LIMIT } from './server.js';
export type { ApiServer, ApiServerOptions, InjectRequest, InjectResponse } from './server.js';
export { ensureToken, hashToken, tokenFile, BOOTSTRAP_TOKEN_NAME } from './auth.js';
export { buildOpenApi } from './openapi.js';
export type { Route } from './router.js';
export { describeValue } from './validate.js';
