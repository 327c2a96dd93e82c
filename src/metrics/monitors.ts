/**
 * Run-time monitors of a component instance: the control plane's door to the node agent's
 * sensor hub (`GET/PUT/DELETE /v1/monitors[/id]` on the agent, see
 * ../agent/sensors/README.md). The instance's node is found through the engine; calls are
 * forwarded to its agent with the node's agent token, which never leaves this module.
 *
 * Monitors are per tenant: only the tenant owning the deployment sees or changes them.
 *
 * Failure meaning: NOT_FOUND (no deployment of the caller's tenant, instance or monitor), CONFLICT (the instance has no
 * node yet, or its node has no HTTP agent — the sim cloud), REQUEST_INVALID naming the field,
 * AGENT_UNREACHABLE (retryable) when the agent does not answer.
 */
import type { Clock } from '../clock/index.js';
import type { EventLog } from '../events/index.js';
import type { Engine } from '../engine/index.js';
import type { Caller } from '../engine/views.js';
import { NubisError } from '../errors/index.js';
import { DEFAULT_TENANT } from '../registry/types.js';
import { checkMonitorSpec, INSTANCE_KINDS, type AgentMetricsClient, type MonitorSpec, type MonitorStatus } from '../agent/sensors/index.js';

/** What a user sends to set a monitor: a MonitorSpec, its `id` optional, `scope` instead of `instance`. */
export interface MonitorInput {
  id?: string;
  kind: string;
  intervalMs: number;
  /** instance (default where the kind supports it: the instance's process tree or cgroup) or node. */
  scope?: 'instance' | 'node';
  target?: string;
  tries?: number;
  timeoutMs?: number;
}

export interface MonitorView {
  id: string;
  /** Whether it measures the instance or the whole node. */
  scope: 'instance' | 'node';
  spec: MonitorSpec;
  lastRun?: string;
  lastSamples: number;
  lastError?: string;
  info?: string;
  runs: number;
}

export interface InstanceMonitors {
  /** Monitors on the instance's node that measure the instance or the node as a whole. */
  list(deployment: string, instance: string, caller: Caller): Promise<{ node: string; monitors: MonitorView[] }>;
  /** Adds or replaces monitor `id`; `created` when there was none. */
  set(deployment: string, instance: string, id: string, body: unknown, caller: Caller): Promise<{ created: boolean; monitor: MonitorView }>;
  remove(deployment: string, instance: string, id: string, caller: Caller): Promise<void>;
}

export interface InstanceMonitorsOptions {
  clock: Clock;
  events: EventLog;
  engine: Pick<Engine, 'deployments' | 'instancesOf' | 'nodes'>;
  agentClient?: (url: string, token: string) => AgentMetricsClient;
  platformOf?: (deployment: string, cloud: string) => string | undefined;
}

const INPUT_FIELDS = ['id', 'kind', 'intervalMs', 'scope', 'target', 'tries', 'timeoutMs'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function createInstanceMonitors(o: InstanceMonitorsOptions): InstanceMonitors {
  const { engine } = o;

  /** The instance's node agent; another tenant's deployment is NOT_FOUND, as a missing one. */
  function resolve(deployment: string, instance: string, caller: Caller): { client: AgentMetricsClient; node: string; cloud: string } {
    const d = engine.deployments.get(deployment);
    const owner = d ? ((d as { tenant?: string }).tenant ?? DEFAULT_TENANT) : undefined;
    if (!d || owner !== (caller.tenant ?? DEFAULT_TENANT)) throw new NubisError('NOT_FOUND', `no deployment named ${JSON.stringify(deployment)}`);
    const inst = engine.instancesOf(deployment).find((i) => i.name === instance);
    if (!inst) throw new NubisError('NOT_FOUND', `deployment ${deployment} has no instance ${JSON.stringify(instance)}`);
    const node = engine.nodes.get(inst.key);
    const nodeName = inst.key.split('/').pop() ?? inst.key;
    const platform = node ? o.platformOf?.(deployment, node.cloud) : undefined;
    if (platform === 'sim') {
      throw new NubisError('CONFLICT', `instance ${instance} runs on node ${nodeName} of cloud ${node!.cloud} (platform sim), which has no node agent to run monitors`);
    }
    const agent = node?.observed?.agent;
    if (!node || !agent) {
      throw new NubisError('CONFLICT', `instance ${instance} has no node with a running agent yet (node ${nodeName}: ${node?.status ?? 'not created'}); monitors can be set once it runs`);
    }
    if (!o.agentClient) throw new NubisError('UNAVAILABLE', 'this server cannot reach node agents');
    return { client: o.agentClient(agent.url, agent.token), node: nodeName, cloud: node.cloud };
  }

  const view = (s: MonitorStatus): MonitorView => ({
    id: s.spec.id,
    scope: s.spec.instance !== undefined ? 'instance' : 'node',
    spec: s.spec,
    ...(s.lastRunMs !== undefined ? { lastRun: new Date(s.lastRunMs).toISOString() } : {}),
    lastSamples: s.lastSamples,
    ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    ...(s.info !== undefined ? { info: s.info } : {}),
    runs: s.runs,
  });

  function toSpec(instance: string, id: string, body: unknown): MonitorSpec {
    if (!isRecord(body)) throw new NubisError('REQUEST_INVALID', '$: must be a JSON object', { details: { path: '$' } });
    for (const k of Object.keys(body)) {
      if (!INPUT_FIELDS.includes(k)) {
        throw new NubisError('REQUEST_INVALID', `${k}: is not a monitor field (${INPUT_FIELDS.join(', ')})`, { details: { path: k } });
      }
    }
    if (body['id'] !== undefined && body['id'] !== id) {
      throw new NubisError('REQUEST_INVALID', `id: must equal the id in the path (${JSON.stringify(id)}) or be left out`, { details: { path: 'id' } });
    }
    const scope = body['scope'];
    if (scope !== undefined && scope !== 'instance' && scope !== 'node') {
      throw new NubisError('REQUEST_INVALID', 'scope: must be "instance" or "node"', { details: { path: 'scope' } });
    }
    const { scope: _s, ...rest } = body;
    const kind = rest['kind'];
    const supports = typeof kind === 'string' && (INSTANCE_KINDS as readonly string[]).includes(kind);
    if (scope === 'instance' && !supports) {
      throw new NubisError('REQUEST_INVALID', `scope: a ${String(kind)} monitor measures the node; instance scope applies only to ${INSTANCE_KINDS.join(', ')}`, { details: { path: 'scope' } });
    }
    // an instance's monitor measures the instance where the kind can (and no node filter is given)
    const perInstance = scope === 'instance' || (scope === undefined && supports && rest['target'] === undefined);
    return checkMonitorSpec({ ...rest, id, ...(perInstance ? { instance } : {}) });
  }

  function event(kind: string, caller: Caller, deployment: string, instance: string, reason: string, data: Record<string, unknown>): void {
    void o.events
      .append({
        kind, actor: caller.actor, deployment, target: `${deployment}/${instance}`, outcome: 'ok', reason, data, ts: o.clock.now(),
        ...(caller.correlationId !== undefined ? { correlationId: caller.correlationId } : {}),
      })
      .catch(() => undefined);
  }

  return {
    async list(deployment, instance, caller) {
      const { client, node } = resolve(deployment, instance, caller);
      const all = await client.monitors();
      // the instance's own monitors and the node's; other instances' monitors (a shared node) are not its
      const mine = all.filter((m) => m.spec.instance === undefined || m.spec.instance === instance);
      return { node, monitors: mine.map(view) };
    },
    async set(deployment, instance, id, body, caller) {
      const r = resolve(deployment, instance, caller);
      const spec = toSpec(instance, id, body);
      const before = await r.client.monitors();
      const old = before.find((m) => m.spec.id === id);
      if (old?.spec.instance !== undefined && old.spec.instance !== instance) {
        throw new NubisError('CONFLICT', `monitor ${id} on node ${r.node} belongs to instance ${old.spec.instance}`);
      }
      const kept = await r.client.setMonitor(spec);
      const now = (await r.client.monitors()).find((m) => m.spec.id === id);
      event('monitor.set', caller, deployment, instance, `monitor ${id} ${old ? 'changed' : 'added'}: ${kept.kind} every ${kept.intervalMs} ms on ${kept.instance !== undefined ? `instance ${instance}` : `node ${r.node}`}`, { monitor: kept, node: r.node });
      return { created: !old, monitor: now ? view(now) : { id, scope: kept.instance !== undefined ? 'instance' : 'node', spec: kept, lastSamples: 0, runs: 0 } };
    },
    async remove(deployment, instance, id, caller) {
      const r = resolve(deployment, instance, caller);
      const old = (await r.client.monitors()).find((m) => m.spec.id === id);
      if (!old || (old.spec.instance !== undefined && old.spec.instance !== instance)) {
        throw new NubisError('NOT_FOUND', `instance ${instance} has no monitor ${JSON.stringify(id)}`);
      }
      if (!(await r.client.removeMonitor(id))) throw new NubisError('NOT_FOUND', `instance ${instance} has no monitor ${JSON.stringify(id)}`);
      event('monitor.removed', caller, deployment, instance, `monitor ${id} removed from node ${r.node}`, { id, node: r.node });
    },
  };
}
