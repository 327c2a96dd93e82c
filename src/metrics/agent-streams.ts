/**
 * Agent streams: one held read per running node with an agent (`GET /v1/metrics?after=C&waitMs=W`
 * on the agent, ../agent/sensors/agent-metrics.ts), so a sample taken on a node reaches the store
 * as soon as the agent has it — not on a pull period. Each stream keeps its node's cursor; a
 * read returns at once when samples wait, else when one arrives or `holdMs` pass, and the next
 * read starts right away.
 *
 * Samples get the node's labels (deployment name, cloud, node) and, when they name an instance
 * of the node (or the node has exactly one), that instance and its component.
 *
 * Failure meaning: a failed read is counted (`onError`) and retried after a backoff that doubles
 * from `retryMs` up to 10 s; a stream never throws. `sync()` starts streams for new nodes and
 * stops those whose node is gone, not running, or of a `sim` cloud.
 */
import type { Clock } from '../clock/index.js';
import type { Engine } from '../engine/index.js';
import type { AgentMetricsClient } from '../agent/index.js';
import type { Labels, Sample } from './types.js';

export interface AgentStreamsOptions {
  clock: Clock;
  engine: Pick<Engine, 'nodes' | 'instancesOf'>;
  agentClient: (url: string, token: string) => AgentMetricsClient;
  /** Platform of a deployment's cloud; `sim` nodes have no agent to read. */
  platformOf?: (deployment: string, cloud: string) => string | undefined;
  /** The name a deployment id is known by in series labels. */
  deploymentName: (id: string) => string;
  /** Where a node's samples go (the deployment id says whose tenant). */
  ingest: (samples: Sample[], deployment: string) => void;
  onError?: (node: string, e: unknown) => void;
  /** Longest an idle read is held on the agent. Default 10 000. */
  holdMs?: number;
  /** First backoff after a failed read. Default 500. */
  retryMs?: number;
  /** Samples per read. Default 50 000. */
  limit?: number;
  /**
   * Instead of held reads, read every `pollMs` (the pull of earlier versions; kept for
   * comparison and for agents behind proxies that cut held requests). Default: held reads.
   */
  pollMs?: number;
}

export interface AgentStreams {
  /** Starts and stops streams to match the engine's running nodes. */
  sync(): void;
  /** Node keys with a stream now. */
  nodes(): string[];
  stop(): Promise<void>;
}

interface Stream {
  sig: string;
  abort: AbortController;
  done: Promise<void>;
}

const MAX_BACKOFF_MS = 10_000;

class AgentStreamSet implements AgentStreams {
  private readonly streams = new Map<string, Stream>();
  private readonly cursors = new Map<string, number>();
  private stopped = false;

  constructor(private readonly o: AgentStreamsOptions) {}

  sync(): void {
    if (this.stopped) return;
    const live = new Set<string>();
    for (const n of this.o.engine.nodes.values()) {
      const agent = n.observed?.agent;
      if (n.status !== 'running' || !agent) continue;
      if (this.o.platformOf?.(n.deployment, n.cloud) === 'sim') continue;
      live.add(n.key);
      const sig = `${agent.url} ${agent.token}`;
      const old = this.streams.get(n.key);
      if (old?.sig === sig) continue;
      old?.abort.abort();
      const abort = new AbortController();
      this.streams.set(n.key, { sig, abort, done: this.run(n.key, agent.url, agent.token, abort.signal) });
    }
    for (const [k, s] of [...this.streams]) {
      if (live.has(k)) continue;
      s.abort.abort();
      this.streams.delete(k);
      this.cursors.delete(k);
    }
  }

  nodes(): string[] {
    return [...this.streams.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.streams.values()];
    this.streams.clear();
    for (const s of all) s.abort.abort();
    await Promise.all(all.map((s) => s.done));
  }

  private async run(nodeKey: string, url: string, token: string, signal: AbortSignal): Promise<void> {
    const client = this.o.agentClient(url, token);
    const retry = this.o.retryMs ?? 500;
    let backoff = retry;
    while (!signal.aborted) {
      try {
        const poll = this.o.pollMs;
        if (poll !== undefined) await this.o.clock.sleep(poll, signal);
        const read = await client.metrics(this.cursors.get(nodeKey) ?? 0, { limit: this.o.limit ?? 50_000, waitMs: poll !== undefined ? 0 : this.o.holdMs ?? 10_000, signal });
        if (signal.aborted) return;
        this.cursors.set(nodeKey, read.cursor);
        backoff = retry;
        const n = this.o.engine.nodes.get(nodeKey);
        if (n && read.samples.length > 0) this.o.ingest(this.label(n.deployment, n.cloud, nodeKey, read.samples), n.deployment);
      } catch (e) {
        if (signal.aborted) return;
        this.o.onError?.(nodeKey, e);
        try {
          await this.o.clock.sleep(backoff, signal);
        } catch {
          return;
        }
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  private label(deployment: string, cloud: string, nodeKey: string, samples: readonly Sample[]): Sample[] {
    const insts = this.o.engine.instancesOf(deployment).filter((i) => i.key === nodeKey);
    const byName = new Map(insts.map((i) => [i.name, i.component]));
    const base: Labels = { deployment: this.o.deploymentName(deployment), cloud, node: nodeKey.split('/').pop() ?? nodeKey };
    return samples.map((s) => {
      const labels: Labels = { ...s.labels, ...base };
      // an instance's own samples carry its name; the node's go to the node's instance when it has exactly one
      const inst = s.labels['instance'] ?? (insts.length === 1 ? insts[0]!.name : undefined);
      if (inst !== undefined) {
        labels['instance'] = inst;
        const comp = byName.get(inst);
        if (comp) labels['component'] = comp;
      }
      return { ...s, labels };
    });
  }
}

/** Streams from every running node's agent (see above). */
export function createAgentStreams(o: AgentStreamsOptions): AgentStreams {
  return new AgentStreamSet(o);
}
