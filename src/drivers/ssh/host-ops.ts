/**
 * What the driver does on one host, over an SSH session: probe the node record and agent,
 * install a node (ship the agent and, when needed, Node; write node.json and the agent's TLS
 * files; start the agent and wait until it answers), stop and clean a node. Owns the agent
 * bundle (built once) and the installation CA handle (loaded on first use). Every remote
 * command is one script of ./remote.ts.
 */
import { posix } from 'node:path';
import { agentAnswers, loadAgentCa, type AgentCa } from '../../agent/index.js';
import { NubisError, toNubisError } from '../../errors/index.js';
import { agentBundle, bundleDirs, type AgentBundle } from './bundle.js';
import { agentUrl, type SshDriverOptions } from './config.js';
import type { HostRecord, InventoryNode } from './pool-inventory.js';
import {
  agentLogScript, cleanupScript, factsScript, inspectScript, parseKv, prepareScript, probeScript, startScript, stopScript, writeRecordScript,
  writeTlsFileScript,
} from './remote.js';
import { abortedError, withSession, type Session, type SessionOptions, type SshHost } from './session.js';

/** What a probe of a host found; never thrown: `error` holds why the host did not answer. */
export interface Probe {
  record?: HostRecord;
  agentPid?: number;
  agentNode?: string;
  error?: NubisError;
}

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ppc64: 'ppc64le', s390x: 's390x', ia32: 'i686' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function checkSignal(signal: AbortSignal): void {
  if (signal.aborted) throw abortedError();
}

/** node.json's text as a record; undefined when absent or not one. */
export function parseRecord(text: string | undefined): HostRecord | undefined {
  if (!text) return undefined;
  try {
    const r = JSON.parse(text) as HostRecord;
    return typeof r.id === 'string' && typeof r.tags === 'object' && r.tags !== null ? r : undefined;
  } catch {
    return undefined;
  }
}

class HostOpsImpl {
  readonly #opts: SshDriverOptions;
  readonly #session: SessionOptions;
  readonly #dataDir: string;
  #bundle: AgentBundle | undefined;
  #ca: AgentCa | undefined;

  constructor(opts: SshDriverOptions, session: SessionOptions, dataDir: string) {
    this.#opts = opts;
    this.#session = session;
    this.#dataDir = dataDir;
  }

  /** The installation CA: agents speak mutual TLS with its certificates (made on first use); identity = node id. */
  ca(): AgentCa {
    return (this.#ca ??= loadAgentCa(this.#dataDir));
  }

  /** Runs `fn` in a fresh session to `h`. */
  on<T>(h: SshHost, signal: AbortSignal, fn: (s: Session) => Promise<T>): Promise<T> {
    return withSession(h, this.#session, signal, fn);
  }

  /** Runs a script; a non-zero exit is CLOUD_INTERNAL with its stderr. */
  async run(s: Session, script: string, what: string, stdin?: string, timeoutMs = this.#opts.commandTimeoutMs): Promise<string> {
    const r = await s.exec(script, { timeoutMs, ...(stdin === undefined ? {} : { stdin }) });
    if (r.code !== 0) {
      throw new NubisError('CLOUD_INTERNAL', `ssh host ${s.host.name}: ${what} failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`, {
        details: { host: s.host.name },
      });
    }
    return r.stdout;
  }

  /** Logs in and reads the node record and agent liveness; never throws (errors are in the result), except on abort. */
  async probe(h: SshHost, signal: AbortSignal): Promise<Probe> {
    try {
      const out = parseKv(await this.on(h, signal, (s) => this.run(s, probeScript(this.#opts.remoteRoot), 'probe')));
      const pid = Number(out.get('agentPid'));
      const record = parseRecord(out.get('nodeJson'));
      return {
        ...(record ? { record } : {}),
        ...(Number.isInteger(pid) && pid > 1 ? { agentPid: pid } : {}),
        ...(out.get('agentNode') ? { agentNode: out.get('agentNode')! } : {}),
      };
    } catch (e) {
      if (signal.aborted) throw abortedError();
      return { error: toNubisError(e) };
    }
  }

  /** The host's facts (cores, memory, disk, os-release) as key/value pairs. */
  async facts(h: SshHost, signal: AbortSignal): Promise<Map<string, string>> {
    return parseKv(await this.on(h, signal, (s) => this.run(s, factsScript(this.#opts.remoteRoot), 'reading host facts')));
  }

  async stopNode(s: Session, id: string, pgid: number | undefined): Promise<void> {
    const { remoteRoot, killGraceMs, commandTimeoutMs } = this.#opts;
    const left = parseKv(await this.run(s, stopScript(remoteRoot, id, pgid, killGraceMs), 'stopping the node processes', undefined, commandTimeoutMs + killGraceMs + 6000)).get('left');
    if (left) throw new NubisError('CLOUD_INTERNAL', `ssh host ${s.host.name}: processes ${left} of node ${id} survived SIGKILL`, { details: { host: s.host.name } });
  }

  async cleanNode(s: Session, n: InventoryNode): Promise<void> {
    await this.stopNode(s, n.id, n.pgid);
    const left = parseKv(await this.run(s, cleanupScript(this.#opts.remoteRoot, n.id, n.createdTop), 'removing the node files')).get('left');
    if (left) throw new NubisError('CLOUD_INTERNAL', `ssh host ${s.host.name}: cannot remove ${left}`, { details: { host: s.host.name } });
  }

  /** Starts the agent and waits until it answers as this node; returns its pid. */
  async startAgent(s: Session, n: InventoryNode, signal: AbortSignal): Promise<number> {
    const o = this.#opts;
    const root = o.remoteRoot;
    await this.run(s, startScript({ root, id: n.id, node: n.runtime!, port: o.agentPort, address: n.host.address, ...(o.graphitePort > 0 ? { graphitePort: o.graphitePort } : {}) }), 'starting the agent', `${n.agentToken}\n`);
    const url = agentUrl(n.host, o.agentPort);
    const deadline = Date.now() + o.readyTimeoutMs;
    for (;;) {
      checkSignal(signal);
      if (await agentAnswers(url, n.id, this.ca().clientTls(n.id))) break;
      if (Date.now() > deadline) {
        const log = (await s.exec(agentLogScript(root, n.id), { timeoutMs: o.commandTimeoutMs }).catch(() => undefined))?.stdout.trim();
        throw new NubisError('CLOUD_UNAVAILABLE', `the agent of node ${n.id} on ssh host ${n.host.name} did not answer at ${url} within ${o.readyTimeoutMs} ms${log ? `; agent.log: ${log}` : ''}`, {
          details: { host: n.host.name },
        });
      }
      await sleep(100);
    }
    const p = parseKv(await this.run(s, probeScript(root), 'probe'));
    const pid = Number(p.get('agentPid'));
    if (!(Number.isInteger(pid) && pid > 1 && p.get('agentNode') === n.id)) {
      throw new NubisError('CLOUD_INTERNAL', `ssh host ${n.host.name}: the agent of node ${n.id} answers but ${root}/agent.pid does not name it`);
    }
    return pid;
  }

  /** Ships the agent (and Node when needed), records the node on the host, starts the agent. Changes and returns `n`. */
  async install(s: Session, n: InventoryNode, signal: AbortSignal): Promise<InventoryNode> {
    const root = this.#opts.remoteRoot;
    const facts = parseKv(await this.run(s, inspectScript(root), 'inspecting the host'));
    const foreign = parseRecord(facts.get('nodeJson'));
    if (foreign && foreign.id !== n.id) {
      throw new NubisError('CONFLICT', `ssh host ${n.host.name} already runs node ${foreign.id}`, { details: { host: n.host.name, record: foreign } });
    }
    if (n.createdTop === undefined) n.createdTop = facts.get('createdTop') ?? '';
    // Stray processes of this node from an interrupted attempt go first.
    await this.stopNode(s, n.id, n.pgid);
    const hostNode = facts.get('node') ?? '';
    const major = Number(/^v(\d+)\./.exec(facts.get('nodeVersion') ?? '')?.[1] ?? 0);
    let ship = false;
    if (hostNode !== '' && major >= 20) {
      n.runtime = hostNode;
    } else {
      const want = ARCH[process.arch] ?? process.arch;
      const arch = facts.get('arch') ?? '';
      if (arch !== want) {
        throw new NubisError(
          'CLOUD_BAD_REQUEST',
          `ssh host ${n.host.name} has ${hostNode ? `node ${facts.get('nodeVersion') || '(unusable)'}` : 'no node'} and is ${arch || 'of unknown architecture'}, ` +
            `but this control plane can only ship its own ${want} Node runtime; install Node 20 or newer on the host, or remove it from the pool`,
          { retryable: false, details: { host: n.host.name, arch, want } },
        );
      }
      n.runtime = posix.join(root, 'runtime', 'node');
      ship = true;
    }
    const bundle = (this.#bundle ??= agentBundle());
    await this.run(s, prepareScript(root, n.id, bundleDirs(bundle)), 'creating the directories');
    checkSignal(signal);
    const files = bundle.files.map((f) => ({ local: f.local, remote: posix.join(root, 'lib', f.path), mode: 0o644 }));
    if (ship) files.push({ local: process.execPath, remote: n.runtime, mode: 0o755 });
    await s.put(files, this.#opts.uploadTimeoutMs);
    checkSignal(signal);
    const record: HostRecord = {
      id: n.id,
      key: n.key,
      tags: n.tags,
      idempotencyToken: n.idempotencyToken,
      agentToken: n.agentToken,
      createdAt: n.createdAt,
      createdTop: n.createdTop,
      runtime: n.runtime,
    };
    await this.run(s, writeRecordScript(root), 'writing node.json', JSON.stringify(record));
    // the node's certificate: issued here, its key travels over the pinned SSH session only
    const ca = this.ca();
    const issued = ca.issueNode({ identity: n.id, addresses: [n.host.address] });
    for (const [name, text] of [['ca.crt', ca.caPem], ['agent.crt', issued.cert], ['agent.key', issued.key!]] as const) {
      await this.run(s, writeTlsFileScript(root, n.id, name), `writing the agent's ${name}`, text);
    }
    n.pgid = await this.startAgent(s, n, signal);
    return n;
  }
}

export type HostOps = HostOpsImpl;

export function createHostOps(opts: SshDriverOptions, session: SessionOptions, dataDir: string): HostOps {
  return new HostOpsImpl(opts, session, dataDir);
}
