/**
 * The agent transport's certificates: an installation CA (./ca.ts), X.509 issuance without a
 * dependency (./x509.ts over ./der.ts) and the TLS options both ends use (./options.ts).
 */
export { CA_NAME, CONTROL_PLANE_NAME, loadAgentCa, type AgentCa, type AgentTlsClient, type NodeCertificate } from './ca.js';
export { agentClientOptions, agentServerOptions, isControlPlane, type AgentServerTls } from './options.js';
export { generateKeyPair, issueCertificate, keyId, type CertRequest, type CertRole } from './x509.js';
