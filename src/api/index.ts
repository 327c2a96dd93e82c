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
export { CONSOLE_CSP, defaultAssetsDir, type ConsoleDeps, type AppliedSpec } from './routes-console.js';
export { openApiToTypeScript, offlineOpenApi } from './openapi-typescript.js';
// [replicas] the event routes as a replica front serves them from the database (src/cli/replica)
export { streamEvents } from './sse.js';
export { tenantEvents, callerTenant } from './tenant-scope.js';
export { createAccessControl, type AccessControl } from './access-control.js';
