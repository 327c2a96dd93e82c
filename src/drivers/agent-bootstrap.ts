/**
 * The control plane's half of a cloud agent's one-time bootstrap (the agent's half is
 * src/agent/bootstrap.ts), shared by the drivers whose agents start from cloud-init user data
 * (ec2, cloudsigma, openstack).
 *
 * From a per-cloud secret and a per-node seed (a node's owner, key and create attempt, or the
 * create's idempotency hash) three values are derived, so nothing is stored per node and a
 * repeated create sends the same user data: the node identity (its certificate's common name),
 * the bootstrap token (user data carries it, with the CA certificate — both useless without the
 * control plane's client key) and the long-lived agent token (never in user data).
 *
 * On first contact the client opens TLS to the agent with the control plane's certificate,
 * reads the agent's self-signed bootstrap certificate, issues a node certificate for that key
 * and pushes it with both tokens over the same connection; the identity and the cloud's node id
 * are then recorded in the CA's bootstrap record and never bootstrapped again (a machine that
 * later answers for that node with a bootstrap certificate gets nothing: AGENT_UNREACHABLE, not
 * retryable). The node id is part of the record because the identity comes from tags: until
 * every node carries its create attempt (`nubis-attempt`), a re-created node of one key has the
 * same identity and must still be able to bootstrap.
 * Limit: the first contact trusts whoever answers at the node's address, as any first boot does.
 */
import { createHmac, X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import { BOOTSTRAP_PREFIX, createHttpAgentClient, type AgentCa, type AgentClient } from '../agent/index.js';
import { NubisError } from '../errors/index.js';
import { TAG_ATTEMPT, TAG_KEY, TAG_OWNER } from './driver.js';
const CONNECT_MS = 5000;

export interface CloudAgentSecrets {
  /** The node's certificate common name and NUBIS_NODE_ID. */
  identity: string;
  /** One-time; travels in user data. */
  bootstrapToken: string;
  /** Long-lived bearer token; never in user data. */
  agentToken: string;
}

const mac = (secret: Buffer, what: string, seed: string): string => createHmac('sha256', secret).update(`nubis-${what}\n${seed}`).digest('base64url');

/** The three values for a node, from the cloud's agent secret and the node's seed. */
export function deriveAgentSecrets(secret: Buffer, seed: string): CloudAgentSecrets {
  return {
    identity: `node-${mac(secret, 'identity', seed).slice(0, 32)}`,
    bootstrapToken: mac(secret, 'bootstrap', seed),
    agentToken: mac(secret, 'agent', seed),
  };
}

/** The seed of a node with these tags (owner, key, attempt), or undefined for a node Nubis did not make. */
export function tagSeed(tags: Record<string, string>): string | undefined {
  const key = tags[TAG_KEY];
  return key === undefined ? undefined : `${tags[TAG_OWNER] ?? ''}\n${key}\n${tags[TAG_ATTEMPT] ?? ''}`;
}

/** Opens TLS to the agent as the control plane, without verifying it yet; resolves once the handshake is done. */
function openTls(url: URL, ca: AgentCa, timeoutMs: number, signal: AbortSignal): Promise<TLSSocket> {
  const client = ca.clientTls('');
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443), ca: client.ca, cert: client.cert, key: client.key,
      rejectUnauthorized: false, minVersion: 'TLSv1.2',
    });
    const onAbort = (): void => {
      socket.destroy(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      reject(e);
    });
  });
}

function post(url: URL, socket: TLSSocket, body: unknown): Promise<{ status: number; text: string }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/v1/bootstrap', url),
      { method: 'POST', createConnection: () => socket, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const unreachable = (url: URL, why: string, retryable = true): NubisError =>
  new NubisError('AGENT_UNREACHABLE', `agent at ${url.host}: ${why}`, { retryable });

/** Bootstraps under way in this process, by CA directory and identity: concurrent first calls share one. */
const inFlight = new Map<string, Promise<void>>();

/** Bootstraps the agent at `url` once (see the module comment); resolves when it serves its node certificate. */
export function bootstrapAgent(url: URL, ca: AgentCa, s: CloudAgentSecrets, nodeId: string, signal: AbortSignal, timeoutMs = CONNECT_MS): Promise<void> {
  const record = `${s.identity}@${nodeId}`;
  if (ca.bootstrapped(record)) return Promise.resolve();
  const key = `${ca.dir}\n${record}`;
  const running = inFlight.get(key);
  if (running) return running;
  const p = pushBootstrap(url, ca, s, record, signal, timeoutMs).finally(() => inFlight.delete(key));
  inFlight.set(key, p);
  return p;
}

async function pushBootstrap(url: URL, ca: AgentCa, s: CloudAgentSecrets, record: string, signal: AbortSignal, timeoutMs: number): Promise<void> {
  let socket: TLSSocket;
  try {
    socket = await openTls(url, ca, timeoutMs, signal);
  } catch (e) {
    if (signal.aborted) throw new NubisError('ABORTED', 'the agent call was aborted', { cause: e });
    throw unreachable(url, (e as Error).message);
  }
  try {
    const peer = socket.getPeerX509Certificate();
    const caX = new X509Certificate(ca.caPem);
    if (peer && peer.subject === `CN=${s.identity}` && peer.checkIssued(caX) && peer.verify(caX.publicKey)) {
      ca.markBootstrapped(record); // done before, the record was lost (a crash between the push and the record)
      return;
    }
    if (!peer || peer.subject !== `CN=${BOOTSTRAP_PREFIX}${s.identity}`) throw unreachable(url, `the server there is not the bootstrapping agent of node ${s.identity}`);
    const issued = ca.issueNode({ identity: s.identity, addresses: [url.hostname.replace(/^\[|\]$/g, '')], publicKey: peer.publicKey });
    const r = await post(url, socket, { bootstrapToken: s.bootstrapToken, cert: issued.cert, token: s.agentToken }).catch((e: Error) => {
      throw unreachable(url, `bootstrap: ${e.message}`);
    });
    if (r.status === 409) throw unreachable(url, `node ${s.identity} was bootstrapped by someone else; delete and re-create the node`, false);
    if (r.status !== 200) throw unreachable(url, `bootstrap refused (${r.status}): ${r.text.slice(0, 200)}`, r.status >= 500);
    ca.markBootstrapped(record);
  } finally {
    socket.destroy();
  }
}

/** The lifecycle client of a cloud node's agent: bootstraps it on first use, then speaks mutual TLS pinned to its identity. */
export function createBootstrappingAgentClient(url: string, ca: AgentCa, s: CloudAgentSecrets, nodeId: string, connectTimeoutMs = CONNECT_MS): AgentClient {
  const base = new URL(url);
  const inner = createHttpAgentClient(url, s.agentToken, ca.clientTls(s.identity));
  const ready = (signal: AbortSignal): Promise<void> => bootstrapAgent(base, ca, s, nodeId, signal, connectTimeoutMs);
  return {
    runStep: async (req, signal) => (await ready(signal), inner.runStep(req, signal)),
    stopInstance: async (instance, signal) => (await ready(signal), inner.stopInstance(instance, signal)),
    status: async (signal) => (await ready(signal), inner.status(signal)),
    logs: async (instance, step, signal) => (await ready(signal), inner.logs(instance, step, signal)),
    archive: async (instance, paths, signal) => (await ready(signal), inner.archive!(instance, paths, signal)),
    extract: async (instance, body, signal) => (await ready(signal), inner.extract!(instance, body, signal)),
  };
}

/** The files the user data writes into the agent's TLS directory (mode 0600). */
export function bootstrapFiles(ca: AgentCa, s: CloudAgentSecrets): { 'ca.crt': string; 'bootstrap.token': string } {
  return { 'ca.crt': ca.caPem, 'bootstrap.token': s.bootstrapToken };
}
