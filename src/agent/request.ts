/** One request to a node's agent: plain HTTP for `http:` (local), HTTPS pinned by the installation CA for `https:`. */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { NubisError } from '../errors/index.js';
import { agentClientOptions, type AgentTlsClient } from './tls/index.js';

/** How the control plane dials an agent: its TLS pin for an `https:` URL, nothing for `http:` (local). */
export type AgentTransport = AgentTlsClient | undefined;

/** An HTTP or HTTPS request to `url`, pinned by `tls` when the URL is `https:`. */
export function agentRequest(url: URL, tls: AgentTransport, options: RequestOptions, onResponse: (res: IncomingMessage) => void): ClientRequest {
  if (url.protocol !== 'https:') return httpRequest(url, options, onResponse);
  if (!tls) throw new NubisError('AGENT_UNREACHABLE', `agent at ${url.origin} speaks TLS but this control plane has no certificate for it`, { retryable: false });
  return httpsRequest(url, { ...options, ...agentClientOptions(tls) }, onResponse);
}

