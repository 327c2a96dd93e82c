/**
 * The leak guard's scan over 10,000 cloud resources on `sim` (issue 11: under 1 s of
 * control-plane CPU): a deployment of 2,500 nodes, each server with a volume and a VLAN (7,500
 * resources Nubis needs), plus 2,500 volumes and VLANs tagged by Nubis for nodes that are gone
 * (leaks, as a provider that forgets them leaves them). Three scans: the first makes suspects,
 * the second reports the 2,500 leaks (rows and events written), the third finds them known.
 * CPU is process.cpuUsage() of the whole process (the in-process sim's listing included). One
 * command, a table:
 *
 *   npm run build && node dist/bench/leaks.js [--nodes 2500]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSimCloud } from '../src/drivers/sim/index.js';
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT } from '../src/drivers/index.js';
import { cpuMsSince, startBenchControlPlane, untilReady } from './common.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) || dflt : dflt;
};

async function main(): Promise<void> {
  const nodes = arg('--nodes', 2500);
  const bench = await startBenchControlPlane({ engine: { leaks: { intervalMs: 24 * 3_600_000 }, sweepIntervalMs: 600_000, observeIntervalMs: 60_000 } });
  const { cp } = bench;
  const simPath = path.join(os.tmpdir(), `nubis-bench-leaks-${process.pid}.db`);
  const sim = createSimCloud({ path: simPath });
  try {
    const spec = JSON.stringify({
      name: 'fleet', clouds: { sim: { platform: 'sim', options: { path: simPath, extras: ['volume', 'vlan'] } } },
      nodeTemplates: { n: { cloud: 'sim' } },
      components: { app: { nodeTemplate: 'n', instances: { count: nodes, max: nodes }, lifecycle: { start: 'run' } } },
    });
    const t0 = performance.now();
    await cp.apply({ spec, file: 'fleet.yaml' }, { actor: 'user:bench' });
    if (!(await untilReady(cp, 'fleet', performance.now() + 600_000))) throw new Error('the fleet did not become ready');
    const applyMs = performance.now() - t0;
    if (process.env['NUBIS_BENCH_DEBUG']) console.log(`ready after ${applyMs.toFixed(0)} ms`);
    const owner = cp.engine.ownerId();
    for (let i = 0; i < nodes / 2; i++) {
      const tags = { [TAG_OWNER]: owner, [TAG_TENANT]: 'default', [TAG_DEPLOYMENT]: 'fleet', [TAG_KEY]: `fleet/gone-${i}` };
      sim.extras.add('volume', tags, `srv-gone-${i}`);
      sim.extras.add('vlan', tags, `srv-gone-${i}`);
    }
    const resources = sim.inventory().filter((s) => s.status !== 'deleted').length + sim.extras.live().length;
    const rows: string[][] = [];
    for (const label of ['1: suspects', '2: leaks reported', '3: leaks known']) {
      const cpu = process.cpuUsage();
      const w = performance.now();
      const r = await cp.engine.leaks.scan();
      rows.push([label, String(r.resources), String(r.found), String(r.open), (performance.now() - w).toFixed(0), cpuMsSince(cpu).toFixed(0)]);
    }
    const cpu = process.cpuUsage();
    await sim.listResources();
    const listCpu = cpuMsSince(cpu).toFixed(0);
    console.log(`leak scan on sim: ${nodes} nodes with a volume and a VLAN each, ${nodes} leaked extras — ${resources} cloud resources (apply took ${(applyMs / 1000).toFixed(1)} s)`);
    console.log('');
    console.log('| scan | resources listed | new leaks | open leaks | wall ms | CPU ms (target < 1000) |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log('');
    console.log(`(of which the sim's own listResources of ${sim.extras.live().length} extras: ${listCpu} ms CPU)`);
  } finally {
    sim.close();
    const c0 = performance.now();
    await bench.close();
    if (process.env['NUBIS_BENCH_DEBUG']) console.log(`close took ${(performance.now() - c0).toFixed(0)} ms`);
    for (const f of [simPath, `${simPath}-wal`, `${simPath}-shm`]) fs.rmSync(f, { force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
