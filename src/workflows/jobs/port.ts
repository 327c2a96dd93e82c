/**
 * The workflows controller's job port (../controller/ports.ts `JobPort`) over node agents: one
 * JobDispatcher for the control plane, nodes keyed by tenant and node id. The shapes are
 * written out here (structurally the controller's) so this unit builds on its own.
 */
import type { AgentClient } from '../../agent/index.js';
import type { Clock } from '../../clock/index.js';
import type { CloudNode } from '../../drivers/index.js';
import { NubisError } from '../../errors/index.js';
import type { WfChildCommand, WfChildIdentity, WfChildResult, WfSubmission } from '../model/runtime.js';
import type { WfPool } from '../model/types.js';
import { JobDispatcher } from './dispatcher.js';

/** One job to start on a node (the controller's JobStart). */
export interface AgentJobStart {
  readonly tenant: string;
  readonly workflowId: string;
  readonly sub: WfSubmission;
  readonly script: string;
  readonly pool: WfPool;
  readonly node: string;
  readonly child: (identity: WfChildIdentity, command: WfChildCommand) => Promise<WfChildResult>;
  readonly lost: (detail: string) => void;
  readonly ended: () => void;
}

export interface AgentJobPortOptions {
  /** The agent of a node of the tenant; undefined when the node is gone. */
  agentOf(tenant: string, nodeId: string): AgentClient | undefined | Promise<AgentClient | undefined>;
  /** The nodes that may run a pool's jobs: where `reattach` looks for a try whose node it was not told. */
  poolNodes?(tenant: string, pool: WfPool): readonly string[] | Promise<readonly string[]>;
  /** Extra environment for every job (e.g. NUBIS_URL, for `nubis child` outside agent jobs). */
  env?: Readonly<Record<string, string>>;
  /** Kill a job after this long; absent: no limit. */
  timeoutMs?: number;
  clock?: Clock;
  pollMs?: number;
  log?(line: string): void;
}

export interface AgentJobPort {
  start(job: AgentJobStart): Promise<void>;
  kill(workflowId: string, path: string, tryNo: number): void;
  logs(tenant: string, workflowId: string, path: string, tryNo: number): Promise<string | undefined>;
  /** Finds the try on the pool's nodes after a restart: the node it still runs on, or undefined when it is gone. */
  reattach(job: Omit<AgentJobStart, 'script' | 'node'>): Promise<string | undefined>;
  /** Live jobs of a node (its running count). */
  running(tenant: string, nodeId: string): number;
  close(): Promise<void>;
}

const MAX_REMEMBERED = 100_000;

/** The engine's view a job port needs: nodes by instance key, and their cloud's driver. */
export interface EngineNodes<D extends { readonly tenant: string }> {
  readonly nodes: ReadonlyMap<string, { readonly deployment: string; readonly cloud: string; readonly observed?: CloudNode | undefined }>;
  readonly deployments: ReadonlyMap<string, D>;
  cloudFor(d: D, cloud: string): { readonly driver: { agent(node: CloudNode): AgentClient } };
}

/**
 * `agentOf` over the engine: the agent of the node that holds instance `key` (`<deployment
 * id>/<component>-<n>`, a pool member's id) in `tenant`'s deployment; undefined when there is none.
 */
export function engineAgents<D extends { readonly tenant: string }>(engine: EngineNodes<D>): (tenant: string, key: string) => AgentClient | undefined {
  return (tenant, key) => {
    const n = engine.nodes.get(key);
    const d = n ? engine.deployments.get(n.deployment) : undefined;
    if (!n?.observed || !d || d.tenant !== tenant) return undefined;
    try {
      return engine.cloudFor(d, n.cloud).driver.agent(n.observed);
    } catch {
      return undefined;
    }
  };
}

export function createAgentJobPort(opts: AgentJobPortOptions): AgentJobPort {
  const d = new JobDispatcher({
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }),
    ...(opts.log ? { log: opts.log } : {}),
  });
  /** Which node ran each try (for its output). */
  const ranOn = new Map<string, { tenant: string; node: string }>();
  const tryKey = (workflowId: string, path: string, tryNo: number): string => `${workflowId}\0${path}\0${tryNo}`;
  type Ref = Omit<AgentJobStart, 'script' | 'node'>;
  const remember = (j: Ref, node: string): void => {
    ranOn.set(tryKey(j.workflowId, j.sub.path, j.sub.tryNo), { tenant: j.tenant, node });
    if (ranOn.size > MAX_REMEMBERED) ranOn.delete(ranOn.keys().next().value!);
  };
  const nodeKey = (tenant: string, node: string): string => `${tenant}/${node}`;
  const subOf = (j: Ref): WfSubmission => ({ ...j.sub, workflow: j.workflowId });
  const sinkOf = (j: Ref) => ({ child: j.child, lost: j.lost, ended: j.ended });

  return {
    async start(job) {
      const agent = await opts.agentOf(job.tenant, job.node);
      if (!agent) throw new NubisError('AGENT_UNREACHABLE', `node ${job.node} has no agent`);
      remember(job, job.node);
      await d.launch(subOf(job), { nodeId: nodeKey(job.tenant, job.node), agent }, job.script, {
        sink: sinkOf(job),
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      });
    },
    kill(workflowId, path, tryNo) {
      void d.kill(workflowId, path, tryNo);
    },
    async logs(_tenant, workflowId, path, tryNo) {
      const at = ranOn.get(tryKey(workflowId, path, tryNo));
      if (!at) return undefined;
      const agent = await opts.agentOf(at.tenant, at.node);
      if (!agent) return undefined;
      const text = await d.logs(workflowId, path, tryNo, { nodeId: nodeKey(at.tenant, at.node), agent });
      return text === '' ? undefined : text;
    },
    async reattach(job) {
      const nodes = [...((await opts.poolNodes?.(job.tenant, job.pool)) ?? [])];
      const ref = { workflow: job.workflowId, path: job.sub.path, tryNo: job.sub.tryNo, password: job.sub.password };
      for (const node of nodes) {
        const agent = await opts.agentOf(job.tenant, node);
        if (!agent) continue;
        try {
          if (await d.reattach(ref, { nodeId: nodeKey(job.tenant, node), agent }, sinkOf(job))) {
            remember(job, node);
            return node;
          }
        } catch (e) {
          opts.log?.(`reattach ${job.sub.path} try ${job.sub.tryNo} on ${node}: ${(e as Error).message}`);
        }
      }
      return undefined;
    },
    running(tenant, nodeId) {
      return d.running(nodeKey(tenant, nodeId)).length;
    },
    close: () => d.close(),
  };
}
