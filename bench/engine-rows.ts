/**
 * The engine rows of `npm run bench`: instances to running (3 components, and the growth
 * curve), and the steady cycle of the whole core. Each row names exactly what it ran.
 */
import { child } from './child.js';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

interface ScaleRun { instances: number; running: number; finished: boolean; wallMs: number; cpuMs: number; peakRssMB: number; creates: number; steps: number; sql: { statements: number; compiled: number } }
interface SteadySide { cpuMedianMs: number; cpuP95Ms: number; wallMedianMs: number; lists: number; polls: number; statements: number; stopped: number }
interface SteadyRun { nodes: number; upMs: number; upPeakRssMB: number; running: number; cycles: number; converged: SteadySide; churn: number; churned: SteadySide }

const n = (x: number): string => x.toLocaleString('en-US');
const s1 = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Median run of `reps` (by wall time), with the medians of each figure. */
function scale(perComponent: number, reps: number, limitS?: number): ScaleRun & { reps: number } {
  const runs = Array.from({ length: reps }, () => child<ScaleRun>('scale.js', [String(perComponent), ...(limitS ? [String(limitS)] : [])]));
  console.error(`scale ${perComponent}×3: ${JSON.stringify(runs)}`);
  const pick = [...runs].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(runs.length / 2)]!;
  return { ...pick, wallMs: median(runs.map((r) => r.wallMs)), cpuMs: median(runs.map((r) => r.cpuMs)), peakRssMB: median(runs.map((r) => r.peakRssMB)), reps };
}

/** Per instance that reached running: wall ms, CPU ms, RSS MB. */
const perInstance = (r: ScaleRun): { wall: number; cpu: number; rss: number } => ({ wall: r.wallMs / r.running, cpu: r.cpuMs / r.running, rss: r.peakRssMB / r.running });

export function engineRows(opts: { quick: boolean; limitS: number }): string[][] {
  const rows: string[][] = [];
  const reps = opts.quick ? 1 : 3;

  // 1. 1,000 nodes × 3 components: 3,000 instances, each on its own sim node
  const three = scale(1000, reps);
  rows.push([
    '3 components × 1,000 instances (3,000 instances on 3,000 nodes) to running (sim, zero latency)',
    `${s1(three.wallMs)} wall, ${s1(three.cpuMs)} CPU, ${three.peakRssMB.toFixed(0)} MB peak RSS`,
    '≤ 10 s, ≤ 300 MB',
    `${n(three.running)} running; ${n(three.steps)} agent steps; ${n(three.sql.statements)} SQL statements, ${three.sql.compiled} compiled`,
  ]);

  // 2. growth curve: the same shape at 1,000, 10,000 and 30,000 instances; per instance against 1,000
  const base = scale(334, reps);
  const b = perInstance(base);
  rows.push([
    'growth: 1,000 instances (3 × 334) to running, per instance',
    `${b.wall.toFixed(1)} ms wall, ${b.cpu.toFixed(1)} ms CPU, ${(b.rss * 1024).toFixed(0)} kB RSS (${s1(base.wallMs)}, ${base.peakRssMB.toFixed(0)} MB)`,
    'the base of the curve',
    `${n(base.running)} running`,
  ]);
  const t = perInstance(three);
  rows.push([
    `growth: ${n(three.instances)} instances (3 × 1,000) to running, per instance`,
    `${t.wall.toFixed(1)} ms wall, ${t.cpu.toFixed(1)} ms CPU, ${(t.rss * 1024).toFixed(0)} kB RSS`,
    'within 1.3× of 1,000',
    `${(t.wall / b.wall).toFixed(2)}× wall, ${(t.cpu / b.cpu).toFixed(2)}× CPU, ${(t.rss / b.rss).toFixed(2)}× RSS per instance (against the ${n(base.instances)} row)`,
  ]);
  for (const per of opts.quick ? [3334] : [3334, 10000]) {
    const name = `growth: ${n(3 * per)} instances (3 × ${n(per)}) to running, per instance`;
    let r: ScaleRun;
    try {
      r = scale(per, 1, opts.limitS);
    } catch (e) {
      rows.push([name, `failed: ${String((e as Error).message).split('\n')[0]}`, 'within 1.3× of 1,000', 'one run']);
      continue;
    }
    if (r.finished) {
      const p = perInstance(r);
      rows.push([
        name,
        `${p.wall.toFixed(1)} ms wall, ${p.cpu.toFixed(1)} ms CPU, ${(p.rss * 1024).toFixed(0)} kB RSS (${s1(r.wallMs)}, ${r.peakRssMB.toFixed(0)} MB)`,
        'within 1.3× of 1,000',
        `${(p.wall / b.wall).toFixed(2)}× wall, ${(p.cpu / b.cpu).toFixed(2)}× CPU, ${(p.rss / b.rss).toFixed(2)}× RSS per instance; ${n(r.running)} running (one run)`,
      ]);
    } else {
      // not ready at the limit: the time per instance is more than the limit shared out
      const wall = r.wallMs / r.instances;
      rows.push([
        name,
        `> ${wall.toFixed(1)} ms wall per instance: not ready after ${s1(r.wallMs)} (${s1(r.cpuMs)} CPU, ${r.peakRssMB.toFixed(0)} MB)`,
        'within 1.3× of 1,000',
        `> ${(wall / b.wall).toFixed(2)}× wall per instance; at the limit ${n(r.steps)} agent steps of ≈ ${n(3 * r.instances)} done, ${n(r.running)} running (one run)`,
      ]);
    }
  }

  // 3. the steady cycle of the whole core
  const nodes = opts.quick ? 3000 : 10_000;
  const st = child<SteadyRun>('steady.js', [String(nodes), opts.quick ? '5' : '15', '0.01']);
  console.error(`steady: ${JSON.stringify(st)}`);
  const c = st.converged;
  rows.push([
    `steady cycle of the whole core over ${n(nodes)} nodes: sweep (list + judge), ${n(c.polls)} agent polls, a reconcile pass, store writes`,
    `${c.cpuMedianMs.toFixed(0)} ms CPU median (p95 ${c.cpuP95Ms.toFixed(0)} ms), ${c.wallMedianMs.toFixed(0)} ms wall`,
    '≤ 200 ms CPU',
    `converged: ${c.lists} list, ${c.statements} SQL statements per cycle; ${st.cycles} cycles; reached running in ${s1(st.upMs)} (${st.upPeakRssMB.toFixed(0)} MB peak RSS)`,
  ]);
  const h = st.churned;
  rows.push([
    `the same cycle with ${n(h.stopped)} instances (${(st.churn * 100).toFixed(0)} %) stopped behind its back each cycle`,
    `${h.cpuMedianMs.toFixed(0)} ms CPU median (p95 ${h.cpuP95Ms.toFixed(0)} ms), ${h.wallMedianMs.toFixed(0)} ms wall`,
    '≤ 200 ms CPU',
    `${h.statements} SQL statements per cycle (health events)`,
  ]);
  return rows;
}
