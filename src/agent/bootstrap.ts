/**
 * An agent on a cloud VM starts with only a one-time bootstrap token and the installation CA
 * (from cloud-init user data, in its TLS directory); the control plane pushes the rest on first
 * contact. Until then the agent serves TLS with its own key under a self-signed certificate
 * (`CN=nubis-bootstrap <node>`) and still accepts only the control plane's client certificate.
 *
 *   POST /v1/bootstrap  { bootstrapToken, cert, token }
 *
 * `cert` must be of the CA, for this agent's own key (the key never leaves the VM) and name this
 * node; `token` becomes the bearer token. The agent then writes agent.crt and agent.token (0600),
 * deletes bootstrap.token and serves with the issued certificate. Any later bootstrap is refused
 * with CONFLICT: the token is spent (a restarted agent finds agent.token and never re-enters
 * bootstrap). A wrong token is UNAUTHORIZED, a wrong certificate REQUEST_INVALID.
 */
import { createPrivateKey, createPublicKey, timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair, issueCertificate, type AgentServerTls } from './tls/index.js';

export const BOOTSTRAP_PREFIX = 'nubis-bootstrap ';

/** The files of an agent's TLS directory. */
export const TLS_FILES = { ca: 'ca.crt', cert: 'agent.crt', key: 'agent.key', token: 'agent.token', bootstrap: 'bootstrap.token' } as const;

export class BootstrapRefused extends Error {
  constructor(readonly code: 'CONFLICT' | 'UNAUTHORIZED' | 'REQUEST_INVALID', message: string) {
    super(message);
  }
}

/** The bootstrap state of one agent over its TLS directory. */
export class AgentBootstrap {
  private readonly key: KeyObject;
  private readonly ca: X509Certificate;
  private done = false;

  constructor(private readonly dir: string, private readonly nodeId: string, private readonly bootstrapToken: string, private readonly caPem: string) {
    this.ca = new X509Certificate(caPem);
    const keyFile = path.join(dir, TLS_FILES.key);
    if (fs.existsSync(keyFile)) {
      this.key = createPrivateKey(fs.readFileSync(keyFile, 'utf8'));
    } else {
      this.key = generateKeyPair().privateKey;
      fs.writeFileSync(keyFile, this.key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    }
  }

  /** What to serve with before the bootstrap: the agent's key under a self-signed certificate. */
  initialTls(): AgentServerTls {
    const publicKey = createPublicKey(this.key);
    const commonName = `${BOOTSTRAP_PREFIX}${this.nodeId}`;
    const cert = issueCertificate({ commonName, role: 'server', publicKey, issuer: { commonName, privateKey: this.key, publicKey }, validDays: 30 });
    return { ca: this.caPem, cert, key: this.keyPem() };
  }

  /** Checks and applies a bootstrap; returns the TLS to serve with and the bearer token from now on. */
  accept(body: unknown): { tls: AgentServerTls; token: string } {
    if (this.done) throw new BootstrapRefused('CONFLICT', 'this agent was bootstrapped already: its bootstrap token is spent');
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const given = Buffer.from(typeof b['bootstrapToken'] === 'string' ? b['bootstrapToken'] : '');
    const want = Buffer.from(this.bootstrapToken);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new BootstrapRefused('UNAUTHORIZED', 'wrong bootstrap token');
    const token = b['token'];
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{16,200}$/.test(token)) throw new BootstrapRefused('REQUEST_INVALID', 'token must be 16-200 of [A-Za-z0-9_-]');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(String(b['cert']));
    } catch {
      throw new BootstrapRefused('REQUEST_INVALID', 'cert is not a PEM certificate');
    }
    if (!cert.checkIssued(this.ca) || !cert.verify(this.ca.publicKey)) throw new BootstrapRefused('REQUEST_INVALID', 'cert is not issued by the installation CA');
    if (cert.ca || cert.subject !== `CN=${this.nodeId}`) throw new BootstrapRefused('REQUEST_INVALID', `cert must be a node certificate for ${this.nodeId}`);
    if (!cert.publicKey.equals(createPublicKey(this.key))) throw new BootstrapRefused('REQUEST_INVALID', "cert is not for this agent's key");
    const write = (f: string, text: string): void => {
      const file = path.join(this.dir, f);
      fs.writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
    };
    write(TLS_FILES.cert, cert.toString());
    write(TLS_FILES.token, token);
    fs.rmSync(path.join(this.dir, TLS_FILES.bootstrap), { force: true });
    this.done = true;
    return { tls: { ca: this.caPem, cert: cert.toString(), key: this.keyPem() }, token };
  }

  private keyPem(): string {
    return this.key.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
}
