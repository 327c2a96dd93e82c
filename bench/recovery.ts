/**
 * Recovery time on the `local` cloud: a web component with a recovery policy, its process
 * SIGKILLed again and again; for each kill, the time until it is healthy again (its HTTP
 * endpoint answers and the engine has it running and healthy), and until the ladder records
 * `recovery.recovered`. The control plane runs with its default intervals (observation every
 * 2 s), as `nubis serve` does. One command, a table:
 *
 *   npm run build && node dist/bench/recovery.js [--kills 12]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../src/store/index.js';
import { createEventLog, type NubisEvent } from '../src/events/index.js';
import { createControlPlane } from '../src/engine/index.js';
import { createRealClock } from '../src/clock/index.js';
import { createRecovery } from '../src/operations/index.js';

const kills = Number(process.argv[process.argv.indexOf('--kills') + 1] ?? 12) || 12;

const SERVER = `import http from 'node:http';
http.createServer((q, r) => r.end('ok')).listen(Number(process.env.NUBIS_PORT_HTTP), '127.0.0.1');
`;

function startPid(deployment: string, instance: string): number | undefined {
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      if (env.includes(`NUBIS_DEPLOYMENT=${deployment}`) && env.includes(`NUBIS_INSTANCE=${instance}`) && env.includes('NUBIS_STEP=start')) return Number(p);
    } catch {
      /* gone, or not ours */
    }
  }
  return undefined;
}

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-recovery-'));
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events });
  await createRecovery({ engine: cp.engine, store, events, clock: createRealClock() });
  await cp.start();
  const waitEvent = (pred: (e: NubisEvent) => boolean): Promise<NubisEvent> =>
    new Promise((resolve) => {
      const off = events.subscribe({}, (e) => {
        if (pred(e)) {
          off();
          resolve(e);
        }
      });
    });
  try {
    const portBase = 40000 + Math.floor(Math.random() * 200) * 50;
    const web = {
      nodeTemplate: 'n', provides: { http: {} }, artefacts: ['server.mjs'],
      lifecycle: { start: 'exec node server.mjs', health: { http: { port: 'http', path: '/' }, interval: '500ms', retries: 2 } },
      recovery: { limits: { restart: { max: kills * 2, within: '1h' } } },
    };
    // JSON is YAML
    const spec = JSON.stringify({ name: 'benchrec', clouds: { local: { platform: 'local', options: { portBase } } }, nodeTemplates: { n: { cloud: 'local' } }, components: { web } });
    const running = waitEvent((e) => e.kind === 'instance.phase' && e.outcome === 'running');
    await cp.apply({ spec, file: 'bench.yaml', artefacts: { 'server.mjs': Buffer.from(SERVER).toString('base64') } }, { actor: 'user:bench' });
    await running;
    const healthyMs: number[] = [];
    const recoveredMs: number[] = [];
    for (let k = 0; k < kills; k++) {
      const pid = startPid('benchrec', 'web-1');
      if (!pid) throw new Error('no start process found');
      const ep = (await cp.getDeployment('benchrec')).instances[0]!.endpoints['http']!;
      const recovered = waitEvent((e) => e.kind === 'recovery.recovered');
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      // healthy again: the endpoint answers, and the engine has the instance running and healthy
      for (;;) {
        const inst = cp.engine.instances.get('benchrec/web-1');
        if (inst?.phase === 'running' && inst.health === 'healthy' && startPid('benchrec', 'web-1') !== pid) {
          const ok = await fetch(`http://${ep}/`).then((r) => r.ok, () => false);
          if (ok) break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      healthyMs.push(performance.now() - t0);
      await recovered;
      recoveredMs.push(performance.now() - t0);
      // a random phase against the observation rounds, as a real crash would have
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 2000));
    }
    const s = (xs: number[]): string => `${(pct(xs, 0.5) / 1000).toFixed(2)} s / ${(pct(xs, 0.95) / 1000).toFixed(2)} s`;
    console.log('| benchmark | median / p95 | target | notes |');
    console.log('|---|---|---|---|');
    console.log(`| local: component SIGKILL → healthy again (${kills} kills) | ${s(healthyMs)} | median < 3 s | endpoint answers and the engine has it running+healthy; observation every 2 s (default) |`);
    console.log(`| local: component SIGKILL → recovery.recovered event | ${s(recoveredMs)} | — | the ladder's own record (next recovery tick after healthy) |`);
    console.log(`\nraw healthy ms: ${healthyMs.map((x) => x.toFixed(0)).join(', ')}`);
  } finally {
    // no node may outlive the bench: destroy, and wait until the deployment is gone
    await cp.destroy('benchrec', { actor: 'user:bench' }).catch(() => undefined);
    for (let i = 0; i < 600 && (await cp.getDeployment('benchrec').then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
    await cp.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
