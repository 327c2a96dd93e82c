/**
 * The installation's agent CA: made at the first start on a data directory and kept in
 * `<dataDir>/agent-ca/` (directory 0700, keys 0600): `ca.crt`/`ca.key`, the control plane's
 * client certificate `control-plane.crt`/`.key`, and `bootstrapped.json`, the node identities
 * that have used their one-time bootstrap (a second bootstrap of one identity is refused, so a
 * machine that later answers at a node's address with an unissued certificate gets nothing).
 *
 * Trust: agents accept a client only with a certificate of this CA whose role is `client`
 * (only the control plane has one); the control plane accepts an agent only with a `server`
 * certificate of this CA whose common name is the node identity it expects. Certificates are
 * not renewed or revoked: node certificates last 10 years, the CA 20 (delete a node to drop it).
 * Failure: an unreadable or corrupt CA directory throws INTERNAL naming the directory.
 */
import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NubisError } from '../../errors/index.js';
import { generateKeyPair, issueCertificate, publicKeyOf } from './x509.js';

/** What the control plane dials an agent with (node:tls options), pinned to one node identity. */
export interface AgentTlsClient {
  /** The installation CA (PEM): the only issuer an agent's certificate may have. */
  ca: string;
  /** The control plane's client certificate and key (PEM). */
  cert: string;
  key: string;
  /** The agent certificate's common name must be this. */
  identity: string;
}

/** A certificate (and, when the CA generated it, its key) for a node agent. */
export interface NodeCertificate {
  cert: string;
  key?: string;
}

export interface AgentCa {
  /** The CA certificate (PEM): public, safe in user data. */
  readonly caPem: string;
  readonly dir: string;
  clientTls(identity: string): AgentTlsClient;
  /** Issues a `server` certificate for a node: for `publicKey` when given (the agent keeps its key), else for a fresh key returned with it. */
  issueNode(o: { identity: string; addresses: string[]; publicKey?: KeyObject }): NodeCertificate;
  /** Whether `identity` has used its bootstrap. */
  bootstrapped(identity: string): boolean;
  /** Records that `identity` used its bootstrap; throws CONFLICT when it already had. */
  markBootstrapped(identity: string): void;
}

export const CA_NAME = 'Nubis installation CA';
export const CONTROL_PLANE_NAME = 'nubis-control-plane';
const CA_DAYS = 20 * 365;
const NODE_DAYS = 10 * 365;

const pem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();

function writeSecret(file: string, text: string): void {
  fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
}

/** Makes a complete CA directory beside `dir` and renames it into place (atomic; a concurrent maker's wins). */
function create(dir: string): void {
  const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    const ca = generateKeyPair();
    const issuer = { commonName: CA_NAME, privateKey: ca.privateKey, publicKey: ca.publicKey };
    const caCert = issueCertificate({ commonName: CA_NAME, role: 'ca', publicKey: ca.publicKey, issuer, validDays: CA_DAYS });
    const client = generateKeyPair();
    const clientCert = issueCertificate({ commonName: CONTROL_PLANE_NAME, role: 'client', publicKey: client.publicKey, issuer, validDays: CA_DAYS });
    writeSecret(path.join(tmp, 'ca.key'), pem(ca.privateKey));
    writeSecret(path.join(tmp, 'control-plane.key'), pem(client.privateKey));
    fs.writeFileSync(path.join(tmp, 'ca.crt'), caCert, { mode: 0o644 });
    fs.writeFileSync(path.join(tmp, 'control-plane.crt'), clientCert, { mode: 0o644 });
    fs.writeFileSync(path.join(tmp, 'bootstrapped.json'), '[]\n', { mode: 0o600 });
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}

class FileCa implements AgentCa {
  readonly caPem: string;
  private readonly caKey: KeyObject;
  private readonly clientCert: string;
  private readonly clientKey: string;
  private readonly used: Set<string>;

  constructor(readonly dir: string) {
    const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
    try {
      this.caPem = read('ca.crt');
      this.caKey = createPrivateKey(read('ca.key'));
      this.clientCert = read('control-plane.crt');
      this.clientKey = read('control-plane.key');
      this.used = new Set(JSON.parse(read('bootstrapped.json')) as string[]);
      new X509Certificate(this.caPem);
    } catch (e) {
      throw new NubisError('INTERNAL', `the agent CA in ${dir} cannot be read (${(e as Error).message}); restore it from a backup, or remove the directory to make a new CA (every node must then be re-created)`);
    }
  }

  clientTls(identity: string): AgentTlsClient {
    return { ca: this.caPem, cert: this.clientCert, key: this.clientKey, identity };
  }

  issueNode(o: { identity: string; addresses: string[]; publicKey?: KeyObject }): NodeCertificate {
    const fresh = o.publicKey ? undefined : generateKeyPair();
    const publicKey = o.publicKey ?? fresh!.publicKey;
    const issuer = { commonName: CA_NAME, privateKey: this.caKey, publicKey: publicKeyOf(this.caKey) };
    const cert = issueCertificate({ commonName: o.identity, role: 'server', publicKey, issuer, addresses: o.addresses, validDays: NODE_DAYS });
    return fresh ? { cert, key: pem(fresh.privateKey) } : { cert };
  }

  bootstrapped(identity: string): boolean {
    return this.used.has(identity);
  }

  markBootstrapped(identity: string): void {
    if (this.used.has(identity)) throw new NubisError('CONFLICT', `node ${identity} already used its bootstrap token`);
    this.used.add(identity);
    const file = path.join(this.dir, 'bootstrapped.json');
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify([...this.used])}\n`, { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
}

const open = new Map<string, AgentCa>();

/**
 * The agent CA of the installation whose data directory is `dataDir`, made on first use.
 * One instance per directory in this process (drivers and the metrics puller share it).
 */
export function loadAgentCa(dataDir: string): AgentCa {
  const dir = path.join(path.resolve(dataDir), 'agent-ca');
  const known = open.get(dir);
  if (known) return known;
  if (!fs.existsSync(path.join(dir, 'ca.crt'))) {
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    create(dir);
  }
  const ca = new FileCa(dir);
  open.set(dir, ca);
  return ca;
}
