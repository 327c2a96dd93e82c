/**
 * Rule latency with a real sensor on a `local` node: the whole control plane (startServer, the
 * embedded store), a real agent on a local node, and the agent's own memory sensor (procfs,
 * every 100 ms) on an instance that grows past the rule's threshold when a trigger file appears.
 * The rule: `all` instances above the threshold, `for: 0`, interval 1 s, scale out by 1.
 *
 * Per repetition (a fresh deployment each time):
 * - sample → scale: from the timestamp of the first stored sample above the threshold (taken by
 *   the sensor on the node) to the `deployment.scaled` event of the rule's scale call;
 * - arrival → scale: from the ingest of the data that woke the acting evaluation
 *   (`rule.fired` data.dataArrivedAtMs) to the scale call (streamed mode only);
 * Two modes side by side: `stream` (held reads, rules woken by data: this landing) and `interval`
 * (agents read every 10 s, rules on their interval only: the earlier path).
 *
 * Target: sample → scale ≤ 1 s + `for` (0) + interval (1 s).
 * Usage: node dist/bench/rules-latency.js [repetitions=5]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type ServerHandle } from '../src/cli/server-root.js';

const reps = Number(process.argv[2] ?? 5);
const THRESHOLD = 160 * 1024 * 1024;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const HOG = `import fs from 'node:fs';
let held;
setInterval(() => {
  if (!held && fs.existsSync(process.env.TRIGGER)) held = Buffer.alloc(256 * 1024 * 1024, 1);
}, 10);
`;

interface Api {
  (method: string, p: string, body?: unknown): Promise<{ status: number; json: any }>;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, limitMs = 120_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`bench: gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function once(api: Api, dir: string, name: string, portBase: number, phaseMs: number): Promise<{ sampleMs: number; arrivalMs?: number }> {
  const trigger = path.join(dir, `${name}.trigger`);
  const spec = `name: ${name}
clouds: { local: { platform: local, options: { portBase: ${portBase} } } }
nodeTemplates: { t: { cloud: local } }
components:
  hog:
    nodeTemplate: t
    instances: { count: 1, min: 1, max: 2 }
    env: { TRIGGER: ${JSON.stringify(trigger)}, HOG: ${JSON.stringify(path.join(dir, 'hog.mjs'))} }
    lifecycle:
      start: 'exec node "$HOG"'
rules:
  big:
    component: hog
    when: { all: { expr: '{__name__="instance.memory.bytes", deployment="${name}"}', above: ${THRESHOLD} } }
    interval: 1s
    action: { scale: out, by: 1 }
    cooldown: 10m
`;
  const created = await api('POST', '/v1/deployments', { spec });
  if (created.status !== 201) throw new Error(`bench: create ${name}: ${JSON.stringify(created.json)}`);
  await until(`${name} ready`, async () => (await api('GET', `/v1/deployments/${name}`)).json?.state === 'ready');
  await api('PUT', `/v1/deployments/${name}/instances/hog-1/monitors/mem`, { kind: 'memory', intervalMs: 100 });
  await until(`${name} rule false`, async () => (await api('GET', `/v1/rules/big?deployment=${name}`)).json?.state?.truth === 'false');
  await new Promise((r) => setTimeout(r, Math.random() * phaseMs)); // a random phase of the rule's interval (and of the agent read period)
  fs.writeFileSync(trigger, '1');
  const scaled = await until('the scale call', async () => (await api('GET', `/v1/events?deployment=${name}&kind=deployment.scaled`)).json.events[0] as { ts: string } | undefined);
  const fired = (await api('GET', `/v1/events?deployment=${name}&kind=rule.fired`)).json.events[0] as { data: { dataArrivedAtMs?: number } };
  const q = encodeURIComponent(`{__name__="instance.memory.bytes", deployment="${name}", instance="hog-1"}[5m]`);
  const raw = (await api('GET', `/v1/metrics/query?query=${q}`)).json.data.result as { values: [number, string][] }[];
  const first = raw.flatMap((s) => s.values).filter(([, v]) => Number(v) > THRESHOLD).map(([t]) => t * 1000).sort((a, b) => a - b)[0];
  if (first === undefined) throw new Error('bench: no sample above the threshold in the store');
  const at = Date.parse(scaled.ts);
  await api('DELETE', `/v1/deployments/${name}`);
  return { sampleMs: at - first, ...(fired.data.dataArrivedAtMs !== undefined ? { arrivalMs: at - fired.data.dataArrivedAtMs } : {}) };
}

async function mode(label: 'stream' | 'interval', portBase: number): Promise<{ sampleMs: number[]; arrivalMs: number[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nubis-bench-rules-${label}-`));
  fs.writeFileSync(path.join(dir, 'hog.mjs'), HOG);
  let server: ServerHandle | undefined;
  try {
    server = await startServer({
      dataDir: dir, port: 0, host: '127.0.0.1',
      ...(label === 'interval' ? { metricsAgentPollMs: 10_000, ruleDataWake: false } : {}),
    });
    const token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const base = server.url;
    const api: Api = async (method, p, body) => {
      const r = await fetch(`${base}${p}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
      const text = await r.text();
      return { status: r.status, json: text ? JSON.parse(text) : undefined };
    };
    const out = { sampleMs: [] as number[], arrivalMs: [] as number[] };
    for (let i = 0; i < reps; i++) {
      const r = await once(api, dir, `b${i}`, portBase + i * 20, label === 'interval' ? 10_000 : 1_000);
      out.sampleMs.push(r.sampleMs);
      if (r.arrivalMs !== undefined) out.arrivalMs.push(r.arrivalMs);
    }
    for (let i = 0; i < reps; i++) await until(`b${i} gone`, async () => (await api('GET', `/v1/deployments/b${i}`)).status === 404);
    return out;
  } finally {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const stream = await mode('stream', 40_000);
const interval = await mode('interval', 40_400);
const fmt = (xs: number[]): number | null => (xs.length ? Math.round(median(xs)) : null);
console.log(JSON.stringify({
  bench: 'rules-latency',
  repetitions: reps,
  sensor: 'memory (procfs) every 100 ms on a local node',
  rule: { for: '0s', interval: '1s' },
  stream: { sampleToScaleMedianMs: fmt(stream.sampleMs), sampleToScaleMaxMs: Math.max(...stream.sampleMs), arrivalToScaleMedianMs: fmt(stream.arrivalMs) },
  interval: { sampleToScaleMedianMs: fmt(interval.sampleMs), sampleToScaleMaxMs: Math.max(...interval.sampleMs) },
  target: 'sample → scale ≤ 1 s + for + interval (2 s here)',
}));
