/**
 * Test helpers: a real control plane (SQLite store in a temp data dir, event log, engine,
 * drivers) behind the real HTTP API on a free loopback port, and a client for it. Tests
 * drive it only through HTTP; the sim inventory is read from its own file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openTestStore } from './postgres.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type ControlPlaneOptions } from '../../src/engine/index.js';
import { createApiServer, ensureToken } from '../../src/api/index.js';
import { tempDir, waitFor } from './control-plane.js';

export interface ApiEvent {
  id: number;
  kind: string;
  target?: string;
  outcome?: string;
  reason?: string;
  deployment?: string;
  data?: Record<string, unknown>;
}

export interface ApiHarness {
  dir: string;
  base: string;
  call<T = any>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Every stored event of this kind (or `prefix.*`), oldest first, paging through the API. */
  events(kind: string): Promise<ApiEvent[]>;
  /** Cloud calls of one operation that succeeded (from `driver.call` events). */
  cloudCalls(op: string): Promise<ApiEvent[]>;
  /** Waits until the deployment is ready with `running` instances running. */
  ready(name: string, running: number, timeoutMs?: number): Promise<any>;
  /** Waits until `n` more successful cloud lists (sweeps) than now have been made. */
  sweeps(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startApiControlPlane(extra: Partial<Omit<ControlPlaneOptions, 'dataDir' | 'store' | 'events'>> = {}): Promise<ApiHarness> {
  const dir = tempDir('nubis-own-');
  const store = await openTestStore(path.join(dir, 'nubis.db'));
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events, ...extra });
  await cp.start();
  const token = (await ensureToken(store, dir))!;
  const api = createApiServer({ controlPlane: cp, store, heartbeatMs: 50, log: () => undefined });
  const { port } = await api.listen(0);
  const base = `http://127.0.0.1:${port}`;
  const call = async <T>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const r = await fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const eventsOf = async (kind: string): Promise<ApiEvent[]> => {
    const out: ApiEvent[] = [];
    for (let after = 0; ; ) {
      const r = await call<{ events: ApiEvent[] }>('GET', `/v1/events?kind=${encodeURIComponent(kind)}&after=${after}&limit=10000`);
      if (r.status !== 200) throw new Error(`GET /v1/events: ${r.status}`);
      out.push(...r.body.events);
      if (r.body.events.length < 10000) return out;
      after = r.body.events[r.body.events.length - 1]!.id;
    }
  };
  const cloudCalls = async (op: string): Promise<ApiEvent[]> => (await eventsOf('driver.call')).filter((e) => e.data?.['op'] === op && e.outcome === 'ok');
  return {
    dir,
    base,
    call,
    events: eventsOf,
    cloudCalls,
    ready: (name, running, timeoutMs = 60_000) =>
      waitFor(`${name} ready with ${running} running`, async () => {
        const v = (await call<any>('GET', `/v1/deployments/${name}`)).body;
        const up = (v.components ?? []).reduce((s: number, c: any) => s + c.running, 0);
        return v.state === 'ready' && up === running ? v : undefined;
      }, timeoutMs, 50),
    async sweeps(n, timeoutMs = 60_000) {
      const from = (await cloudCalls('list')).length;
      await waitFor(`${n} more sweeps`, async () => (await cloudCalls('list')).length >= from + n, timeoutMs, 50);
    },
    async close() {
      await api.close();
      await cp.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A spec of one component on an in-process sim cloud over the inventory file `simPath`. */
export function simFileSpec(name: string, count: number, simPath: string, options: Record<string, unknown> = {}): string {
  return [
    `name: ${name}`,
    `clouds: { sim: { platform: sim, options: ${JSON.stringify({ path: simPath, ...options })} } }`,
    'nodeTemplates: { t: { cloud: sim } }',
    'components:',
    `  app: { nodeTemplate: t, instances: { count: ${count}, min: 0, max: 100 }, provides: { http: {} }, lifecycle: { start: run } }`,
    '',
  ].join('\n');
}
