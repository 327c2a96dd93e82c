/**
 * The agent on a cloud VM (shared by the ec2 and cloudsigma drivers): the cloud-init user data
 * that starts it and the client that bootstraps it (./agent-bootstrap.ts).
 *
 * Secrets: the node identity, its one-time bootstrap token and its long-lived agent token are
 * HMAC-SHA256 over the node's `nubis-owner`, `nubis-key` and `nubis-attempt` tags with a
 * per-cloud agent secret, so the driver gives the same values after a control-plane restart
 * without storing any per node, and a repeated create (same idempotency token) sends the same
 * user data (EC2 rejects a repeated ClientToken with changed parameters). User data carries the
 * installation CA certificate and the bootstrap token only; the agent token reaches the agent
 * over mutual TLS at its first contact, and the bootstrap token is spent then. The secret is
 * `credentials.agentSecret` when given, else a random 32 bytes kept in
 * `<dataDir>/<platform>-<cloud>.agent-secret` (mode 0600); when the data directory cannot be
 * written it lives in memory only, and agents made before a restart are then unreachable.
 *
 * Honest limits: user data is readable by anyone allowed to describe the instance's
 * attributes (EC2 DescribeInstanceAttribute, CloudSigma server meta); what it holds is useless
 * without the control plane's client key, and spent once the node is bootstrapped. The script only starts the agent when the image already has Node 20+
 * and the Nubis agent program at `agentPath` (a prepared image); otherwise it writes why to
 * /var/log/nubis-agent.log and the control plane sees AGENT_UNREACHABLE until a later bootstrap
 * (for example over SSH) installs them. It does not download anything.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentCa, AgentClient } from '../agent/index.js';
import { NubisError } from '../errors/index.js';
import { bootstrapFiles, createBootstrappingAgentClient, deriveAgentSecrets, tagSeed, type CloudAgentSecrets } from './agent-bootstrap.js';
import type { CloudNode } from './driver.js';

/** The port the agent listens on, on every cloud VM. */
export const AGENT_PORT = 7430;
/** Where the prepared image keeps the compiled agent program. */
export const DEFAULT_AGENT_PATH = '/opt/nubis/agent/main.js';

/** Loads (or makes once) the per-cloud agent secret. Never logged. */
export function loadAgentSecret(platform: string, cloud: string, dataDir: string, credentials?: Record<string, string>): Buffer {
  const given = credentials?.['agentSecret'];
  if (given) return Buffer.from(given, 'utf8');
  const file = join(dataDir, `${platform}-${cloud.replace(/[^A-Za-z0-9_.-]/g, '_')}.agent-secret`);
  try {
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  } catch {
    const secret = randomBytes(32);
    try {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file, secret.toString('hex'), { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    } catch {
      // another process wrote it first, or the directory is not writable: prefer what is on disk
      try {
        return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
      } catch {
        return secret;
      }
    }
    return secret;
  }
}

/** The agent secrets of a node with these tags, or undefined for a node Nubis did not make. */
export function agentSecrets(secret: Buffer, tags: Record<string, string>): CloudAgentSecrets | undefined {
  const seed = tagSeed(tags);
  return seed === undefined ? undefined : deriveAgentSecrets(secret, seed);
}

/** The long-lived agent token for a node with these tags (never in user data), or undefined for a node Nubis did not make. */
export function agentToken(secret: Buffer, tags: Record<string, string>): string | undefined {
  return agentSecrets(secret, tags)?.agentToken;
}

/** The lifecycle client of a cloud VM's agent: bootstraps it on first use, then mutual TLS. */
export function cloudAgentClient(node: CloudNode, secret: Buffer, ca: AgentCa, platform: string): AgentClient {
  const s = agentSecrets(secret, node.tags);
  if (!node.agent || !s) return unreachableAgent(`${platform} node ${node.id} has no address or agent token yet`);
  return createBootstrappingAgentClient(node.agent.url, ca, s, node.id);
}

/** Where the agent keeps its certificate, key and tokens on a cloud VM. */
const TLS_DIR = '/var/lib/nubis/tls';

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Where the agent's Graphite listener takes custom metrics on a cloud VM (on 127.0.0.1 only: the node's own processes). */
export const GRAPHITE_PORT = 2003;

export interface AgentScriptOptions {
  secrets: CloudAgentSecrets;
  ca: AgentCa;
  agentPath?: string;
  /** The agent's Graphite listener; 0 for none. Default GRAPHITE_PORT. */
  graphitePort?: number;
  /** A shell command run before the agent starts (openstack `agentBootstrap`, e.g. to install it). */
  before?: string;
}

/**
 * The Nubis part of a cloud VM's user data: a shell script (cloud-init runs it once, in its
 * scripts-user stage, after the packages of the user's own part are installed) that writes the
 * CA certificate and the one-time bootstrap token into the agent's TLS directory (first boot
 * only) and starts the agent on AGENT_PORT with its Graphite listener on 127.0.0.1, if the
 * image has Node and the agent program (see the module comment).
 *
 * NUBIS_BOOT_ROOT, NUBIS_BOOT_AGENT_PORT, NUBIS_BOOT_AGENT_HOST and NUBIS_BOOT_GRAPHITE_PORT are unset when
 * cloud-init runs it; a test that runs the script on its own machine sets them to move the
 * files under a directory of its own and the agent onto free loopback ports.
 */
export function agentUserData(opts: AgentScriptOptions): string {
  const path = opts.agentPath ?? DEFAULT_AGENT_PATH;
  const graphite = opts.graphitePort ?? GRAPHITE_PORT;
  const files = Object.entries(bootstrapFiles(opts.ca, opts.secrets)).map(([name, text]) => `  printf '%s\\n' ${shellQuote(text.trim())} >"$T/${name}"`);
  const graphiteArgs = graphite > 0 ? ` --graphite-port "\${NUBIS_BOOT_GRAPHITE_PORT:-${graphite}}" --graphite-host 127.0.0.1` : '';
  return [
    '#!/bin/sh',
    '# Nubis agent bootstrap (cloud-init user data). Needs Node 20+ and the Nubis agent on the image.',
    'umask 077',
    'R="${NUBIS_BOOT_ROOT:-}"',
    `T="$R${TLS_DIR}"`,
    'mkdir -p "$R/var/lib/nubis/sandbox" "$T" "$R/var/log" "$R/etc/nubis"',
    'if [ ! -f "$T/agent.crt" ]; then',
    ...files,
    'fi',
    '# for images whose own service starts the agent',
    `printf 'NUBIS_NODE_ID=%s\\nNUBIS_TLS_DIR=%s\\nNUBIS_AGENT_PORT=%s\\nNUBIS_GRAPHITE_PORT=%s\\n' ${shellQuote(opts.secrets.identity)} "$T" "\${NUBIS_BOOT_AGENT_PORT:-${AGENT_PORT}}" ${graphite} >"$R/etc/nubis/agent.env"`,
    ...(opts.before ? [`sh -c ${shellQuote(opts.before)} >>"$R/var/log/nubis-agent.log" 2>&1 || echo "nubis: the bootstrap command failed ($?)" >>"$R/var/log/nubis-agent.log"`] : []),
    `if command -v node >/dev/null 2>&1 && [ -f ${shellQuote(path)} ]; then`,
    `  NUBIS_NODE_ID=${shellQuote(opts.secrets.identity)} \\`,
    `    nohup node ${shellQuote(path)} --sandbox "$R/var/lib/nubis/sandbox" --port "\${NUBIS_BOOT_AGENT_PORT:-${AGENT_PORT}}" --host "\${NUBIS_BOOT_AGENT_HOST:-0.0.0.0}" --tls-dir "$T"${graphiteArgs} </dev/null >>"$R/var/log/nubis-agent.log" 2>&1 &`,
    '  echo $! >"$R/var/lib/nubis/agent.pid"',
    'else',
    `  echo "nubis: node or ${path.replace(/"/g, '')} missing; the agent waits for a later bootstrap" >>"$R/var/log/nubis-agent.log"`,
    'fi',
    '',
  ].join('\n');
}

/** An AgentClient whose every call fails with AGENT_UNREACHABLE (retryable): the node has no agent address yet. */
export function unreachableAgent(reason: string): AgentClient {
  const fail = async (): Promise<never> => {
    throw new NubisError('AGENT_UNREACHABLE', reason);
  };
  return { runStep: fail, stopInstance: fail, status: fail, logs: fail };
}
