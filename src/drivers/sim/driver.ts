/**
 * The sim driver: the Driver interface over a SimCloud, either in-process (the cloud object
 * is called directly, on the control plane's clock) or over HTTP to a sim server running as
 * its own process (`options.url`), which survives a control-plane SIGKILL.
 *
 * Options (ctx.options): `cloud` (a SimCloud object to use), `url` (talk HTTP to a sim
 * server), otherwise the SimModel options plus `path` for the inventory file (default
 * `<dataDir>/sim-<cloud>.db`). Agent options: `stepLatencyMs`, `stepFailures`, `operationLatencyMs`, `operationFailures`, `seed`.
 * Agents are in memory of this driver (see ./agent.ts). Snapshots: ./snapshot-calls.ts
 * in-process, ./http-snapshots.ts over HTTP.
 */
import type { CloudNode, CreateNodeRequest, Driver, DriverContext } from '../driver.js';
import { NubisError, cloudErrorFromStatus } from '../../errors/index.js';
import type { StepName } from '../../agent/index.js';
import { createSimAgents, type SimAgentOptions, type SimAgents } from './agent.js';
import { createSimCloud, quotaError, QUOTA_ERROR_TYPE, type SimCloud, type SimServer } from './cloud.js';
import { parseSimModel } from './model.js';
import { registerSimFaults } from './faults.js';
import { simSnapshotCalls } from './snapshot-calls.js';
import { simHttpSnapshotCalls } from './http-snapshots.js';
import { readSimHosts, withSimHosts } from './hosts.js';

/** Nodes as answered, per server object: the sim cloud hands out one frozen object while a server stays the same. */
const nodeOf = new WeakMap<SimServer, CloudNode>();

function toNode(s: SimServer): CloudNode {
  const known = nodeOf.get(s);
  if (known) return known;
  const n: CloudNode = {
    id: s.id,
    tags: { ...s.tags },
    status: s.status === 'deleted' ? 'stopped' : s.status,
    address: s.address,
    createdAt: s.createdAt,
  };
  if (!Object.isFrozen(s)) return n;
  Object.freeze(n.tags);
  nodeOf.set(s, Object.freeze(n));
  return n;
}

function isSimCloud(v: unknown): v is SimCloud {
  return typeof v === 'object' && v !== null && typeof (v as SimCloud).inventory === 'function';
}

type AgentTuning = Pick<SimAgentOptions, 'stepLatencyMs' | 'stepFailures' | 'seed' | 'operationLatencyMs' | 'operationFailures'>;

function agentOptions(ctx: DriverContext): AgentTuning {
  const o = ctx.options;
  const out: AgentTuning = {};
  if (typeof o['stepLatencyMs'] === 'number') out.stepLatencyMs = o['stepLatencyMs'];
  if (typeof o['operationLatencyMs'] === 'number') out.operationLatencyMs = o['operationLatencyMs'];
  const of = o['operationFailures'];
  if (of !== undefined) {
    if (typeof of !== 'object' || of === null) throw new NubisError('SPEC_INVALID', 'sim option operationFailures: expected an object of operation → rate');
    out.operationFailures = of as Record<string, number>;
  }
  if (typeof o['seed'] === 'number') out.seed = o['seed'];
  const f = o['stepFailures'];
  if (f !== undefined) {
    if (typeof f !== 'object' || f === null) {
      throw new NubisError('SPEC_INVALID', 'sim option stepFailures: expected an object of step → rate');
    }
    out.stepFailures = f as Partial<Record<StepName, number>>;
  }
  return out;
}

/**
 * The sim driver for a cloud: HTTP when `ctx.options.url` is set, else in-process over
 * `ctx.options.cloud` or a SimCloud it opens (and closes on `close()`).
 */
export function createSimDriver(ctx: DriverContext): Driver {
  if (typeof ctx.options['url'] === 'string') return createSimHttpDriver(ctx);
  const given = ctx.options['cloud'];
  let cloud: SimCloud;
  let owned = false;
  if (isSimCloud(given)) cloud = given;
  else {
    const path = ctx.options['path'];
    if (path !== undefined && typeof path !== 'string') {
      throw new NubisError('SPEC_INVALID', 'sim option path: expected a file path or ":memory:"');
    }
    cloud = createSimCloud({
      ...parseSimModel(ctx.options),
      name: ctx.cloud,
      clock: ctx.clock,
      ...(path !== undefined ? { path } : { dataDir: ctx.dataDir }),
    });
    owned = true;
  }
  // first boot: the agent answers `contextualizeMs` after the server runs (cloud-init installing it)
  const contextualizeMs = typeof ctx.options['contextualizeMs'] === 'number' ? ctx.options['contextualizeMs'] : 0;
  const agents = createSimAgents({
    clock: ctx.clock,
    ...agentOptions(ctx),
    reachable: (id) => {
      const s = cloud.peek(id);
      return s?.status === 'running' && ctx.clock.now() >= s.readyAt + contextualizeMs;
    },
  });
  const driver: Driver = {
    platform: 'sim',
    ...simSnapshotCalls(cloud),
    async create(req: CreateNodeRequest, signal) {
      const s = await cloud.create(
        { tags: req.tags, idempotencyToken: req.idempotencyToken, requirements: req.requirements },
        signal,
      );
      return toNode(s);
    },
    async get(id, signal) {
      const s = await cloud.get(id, signal);
      return s ? toNode(s) : undefined;
    },
    async list(tags, signal) {
      return (await cloud.list(tags, signal)).map(toNode);
    },
    async delete(id, signal) {
      await cloud.delete(id, signal);
      agents.forget(id);
    },
    async reboot(id, signal) {
      await cloud.reboot(id, signal);
      agents.reset(id);
    },
    agent: (node) => agents.client(node.id, node.createdAt),
    async close() {
      agents.close();
      if (owned) cloud.close();
    },
  };
  // [placement] the host model and recorded firewalls (./hosts.ts)
  const placed = withSimHosts(driver, readSimHosts(ctx.options), cloud);
  registerSimFaults(placed, agents.faults);
  return placed;
}

interface HttpAnswer {
  status: number;
  body: unknown;
}

/**
 * The sim driver over HTTP (`ctx.options.url`, the sim server's base URL). Statuses map to
 * codes with `cloudErrorFromStatus` (a 403 of type `quota_exceeded` is CLOUD_QUOTA_EXCEEDED);
 * a server that cannot be reached is CLOUD_UNAVAILABLE (retryable); 404 on get is undefined
 * and on delete is success.
 */
export function createSimHttpDriver(ctx: DriverContext): Driver {
  const base = String(ctx.options['url']).replace(/\/+$/, '');
  const closing = new AbortController();

  async function request(method: string, path: string, body: unknown, signal: AbortSignal): Promise<HttpAnswer> {
    if (signal.aborted) throw new NubisError('ABORTED', `sim ${method} ${path} aborted`);
    const both = AbortSignal.any([signal, closing.signal]);
    try {
      const res = await fetch(base + path, {
        method,
        signal: both,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = undefined;
      if (text) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = { error: { message: text.slice(0, 200) } };
        }
      }
      return { status: res.status, body: parsed };
    } catch (e) {
      if (signal.aborted) throw new NubisError('ABORTED', `sim ${method} ${path} aborted`, { cause: e });
      const msg = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
      throw new NubisError('CLOUD_UNAVAILABLE', `sim cloud at ${base} unreachable: ${msg}`, { cause: e, details: { url: base } });
    }
  }

  const fail = (a: HttpAnswer, what: string): NubisError => {
    const err = (a.body as { error?: { type?: string; message?: string } } | undefined)?.error;
    const message = `${what}: ${err?.message ?? 'failed'}`;
    if (err?.type === QUOTA_ERROR_TYPE) return quotaError(message);
    return cloudErrorFromStatus(a.status, message);
  };
  const server = (a: HttpAnswer): SimServer => (a.body as { server: SimServer }).server;
  const enc = encodeURIComponent;

  const agents: SimAgents = createSimAgents({
    clock: ctx.clock,
    ...agentOptions(ctx),
    reachable: async (id) => {
      try {
        const a = await request('GET', `/admin/servers/${enc(id)}`, undefined, closing.signal);
        return a.status === 200 && server(a).status === 'running';
      } catch {
        return false;
      }
    },
  });

  return {
    platform: 'sim',
    ...simHttpSnapshotCalls({ base, request, fail }),
    async create(req, signal) {
      const a = await request('POST', '/servers', { tags: req.tags, idempotencyToken: req.idempotencyToken, requirements: req.requirements }, signal);
      if (a.status !== 201 && a.status !== 200) throw fail(a, `sim create ${req.key}`);
      return toNode(server(a));
    },
    async get(id, signal) {
      const a = await request('GET', `/servers/${enc(id)}`, undefined, signal);
      if (a.status === 404) return undefined;
      if (a.status !== 200) throw fail(a, `sim get ${id}`);
      return toNode(server(a));
    },
    async list(tags, signal) {
      // page after page, as the server's page size allows (each page is one call)
      const out: CloudNode[] = [];
      for (let offset: number | undefined = 0; offset !== undefined; ) {
        const qs = new URLSearchParams([...Object.entries(tags).map(([k, v]) => [`tag.${k}`, v]), ['offset', String(offset)]]).toString();
        const a = await request('GET', `/servers?${qs}`, undefined, signal);
        if (a.status !== 200) throw fail(a, 'sim list');
        const body = a.body as { objects: SimServer[]; meta?: { next_offset?: number } };
        out.push(...body.objects.map(toNode));
        offset = body.meta?.next_offset;
      }
      return out;
    },
    async delete(id, signal) {
      const a = await request('DELETE', `/servers/${enc(id)}`, undefined, signal);
      if (a.status !== 204 && a.status !== 200 && a.status !== 404) throw fail(a, `sim delete ${id}`);
      agents.forget(id);
    },
    async reboot(id, signal) {
      const a = await request('POST', `/servers/${enc(id)}/action?do=reboot`, undefined, signal);
      if (a.status !== 202 && a.status !== 200) throw fail(a, `sim reboot ${id}`);
      agents.reset(id);
    },
    agent: (node) => agents.client(node.id, node.createdAt),
    async close() {
      agents.close();
      closing.abort();
    },
  };
}
