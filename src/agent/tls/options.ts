/**
 * node:tls options for both ends of the agent transport, so the pinning rules live in one place:
 * the agent asks every client for a certificate of the installation CA with the `client` role
 * (TLS 1.2 or newer); the control plane accepts only the installation CA as issuer and, when it
 * knows the node, only a certificate whose common name is that node's identity. The address in
 * the URL is not checked (cloud addresses change; the identity is the pin).
 */
import { type PeerCertificate, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { AgentTlsClient } from './ca.js';
import { CONTROL_PLANE_NAME } from './ca.js';

/** What the agent serves with. */
export interface AgentServerTls {
  ca: string;
  cert: string;
  key: string;
}

/** Options for `https.createServer` of an agent. */
export function agentServerOptions(t: AgentServerTls): SecureContextOptions & { requestCert: true; rejectUnauthorized: true } {
  return { ca: t.ca, cert: t.cert, key: t.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' };
}

/** Whether the peer of an accepted TLS connection is the control plane (chain already verified by the handshake). */
export function isControlPlane(socket: TLSSocket): boolean {
  return socket.authorized && socket.getPeerCertificate().subject?.CN === CONTROL_PLANE_NAME;
}

/**
 * Request options for dialing an agent: the CA pin, the client certificate, and an identity
 * check in place of the host name check (with `identity` empty, any agent of this CA passes).
 */
export function agentClientOptions(t: Omit<AgentTlsClient, 'identity'> & { identity?: string }): {
  ca: string; cert: string; key: string; rejectUnauthorized: true; minVersion: 'TLSv1.2';
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
} {
  return {
    ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: true, minVersion: 'TLSv1.2',
    checkServerIdentity: (host, cert) => {
      if (t.identity === undefined || t.identity === '') return undefined;
      const cn = cert.subject?.CN;
      if (cn === t.identity) return undefined;
      return new Error(`the agent at ${host} has a certificate for ${JSON.stringify(cn ?? '')}, not for node ${JSON.stringify(t.identity)}`);
    },
  };
}
