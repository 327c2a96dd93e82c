/**
 * Workflows: ecFlow 5.9.2 (a real ecflow_server on loopback, see test/helpers/ecflow.ts) and
 * Nubis side by side in the same run, on the same generated suites and the same job scripts
 * (bash; head.h/tail.h report with ecflow_client, or with `nubis child`):
 *
 * - a family of N no-op tasks under `limit 8` (N = 1,000): begin → suite complete;
 * - a chain of M tasks, each triggered by the previous one (M = 200): begin → suite complete,
 *   and per hop the time from one task's body to the next one's body (the complete report, the
 *   dependent's dispatch, its process start and its init report), median and p99;
 * - Nubis only, in process: complete report → the dependent's submission (the scheduler alone);
 * - a 10,000-task suite (100 families × 100 chained tasks, limit 8): parse + load + begin → the
 *   first submission, and the RSS of the process that did it (its own process); for ecFlow the
 *   `--load` and `--begin` of the same file and the server's RSS.
 *
 * Nubis runs the scheduler runtime (createRuntime) with real bash jobs on a real local agent,
 * its own program as on a node (NUBIS_BENCH_WF_AGENT=inproc: in this process), relayed by the
 * jobs unit's JobDispatcher (test/helpers/ecflow-nubis.ts): bash jobs report through the `nubis`
 * shell function the agent gives them (the agent's job port, no process start per call), and
 * the agent's launcher forks them. And again with bash spawned by the bench and a small C
 * `nubis child` over loopback TCP instead (no agent), to show what the job path costs
 * (NUBIS_BENCH_WF_JOBS=agent|standin runs one of them). Beside each run's wall time, the CPU
 * (user+sys) of each process class: this process (the scheduler and dispatcher: the control
 * plane's share; with an in-process agent, the agent too), the agent program, and the
 * launcher with the jobs it reaped (bash and what it runs), or the jobs this process spawned.
 *
 * Environment: NUBIS_BENCH_WF_SCALE (default 1) multiplies N, M and the big suite's size;
 * NUBIS_BENCH_WF_ECFLOW=0 skips ecFlow (its column says "not run"); NUBIS_BENCH_WF_REPS
 * repetitions of each Nubis run (default 1 at scale 1, else 3; ecFlow runs once: 133 s and 200 s
 * at scale 1).
 * Usage: node dist/bench/workflows.js
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { child } from './child.js';
import { median, quantile } from './common.js';
import { startEcflow, type EcflowServer, type SuiteRun } from '../test/helpers/ecflow.js';
import { runNubisSuite } from '../test/helpers/ecflow-nubis.js';
import { createRuntime, parseDef, type WfSubmission } from '../src/workflows/index.js';

/** CPU seconds (user+sys) of a process from /proc: its own, and what it reaped of its children. */
function procCpu(pid: number | 'self'): { self: number; reaped: number } {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ').map(Number);
  const tick = 100;
  return { self: (f[11]! + f[12]!) / tick, reaped: (f[13]! + f[14]!) / tick };
}

/** The children of `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU per process class over one run: this process, the agent program, the jobs (with the launcher). */
interface RunCpu {
  here: number;
  agent?: number;
  jobs: number;
}

/** What `pid`'s live children (a launcher: with what it reaped) used. */
const childrenCpu = (pid: number): number => childrenOf(pid).map((k) => procCpu(k)).reduce((x, k) => x + k.self + k.reaped, 0);

/**
 * Starts counting; `stopping` reads, before anything stops, the agent (or, without one, this
 * process's launcher) with what it reaped; `end` closes the count.
 */
function cpuMeter(): { stopping(agentPid?: number): void; end(): RunCpu } {
  const t0 = procCpu('self');
  const before = childrenCpu(process.pid);
  let agent: number | undefined;
  let jobs = 0;
  return {
    stopping(pid) {
      if (pid === undefined) {
        jobs = procCpu('self').reaped - t0.reaped + childrenCpu(process.pid) - before;
        return;
      }
      const a = procCpu(pid);
      agent = a.self;
      jobs = a.reaped + childrenCpu(pid);
    },
    end() {
      const here = procCpu('self').self - t0.self;
      return agent === undefined ? { here, jobs } : { here, agent, jobs };
    },
  };
}

const scale = Number(process.env.NUBIS_BENCH_WF_SCALE ?? 1);
const withEcflow = process.env.NUBIS_BENCH_WF_ECFLOW !== '0';
const reps = Math.max(1, Number(process.env.NUBIS_BENCH_WF_REPS ?? (scale > 0.3 ? 1 : 3)));
const agentProcess = process.env.NUBIS_BENCH_WF_AGENT !== 'inproc';
const jobModes: ('agent' | 'standin')[] = process.env.NUBIS_BENCH_WF_JOBS === 'standin' ? ['standin'] : process.env.NUBIS_BENCH_WF_JOBS === 'agent' ? ['agent'] : ['agent', 'standin'];
const JOB_PATH = { agent: 'jobs on a local agent: nubis shim + JobDispatcher', standin: 'jobs spawned directly, tiny C nubis child, no agent' } as const;
const N_FAMILY = Math.max(8, Math.round(1000 * scale));
const N_CHAIN = Math.max(2, Math.round(200 * scale));
const BIG_FAMILIES = Math.max(1, Math.round(100 * Math.sqrt(scale)));
const BIG_PER_FAMILY = Math.max(1, Math.round((10_000 * scale) / BIG_FAMILIES));

const pad = (i: number, n: number): string => String(i).padStart(String(n).length, '0');

/** Writes the suites and one script name per task (ecFlow finds a script by the task's name). */
function generate(dir: string): { family: string; chain: string; big: string; files: string; times: string } {
  const files = path.join(dir, 'files');
  fs.mkdirSync(files, { recursive: true });
  const times = path.join(dir, 'times.txt');
  const noop = path.join(dir, 'noop.ecf');
  fs.writeFileSync(noop, '%include <head.h>\n# benchmark no-op: one timestamp (bash builtin), then tail.h reports complete\necho "%ECF_NAME% $EPOCHREALTIME" >> %BENCH_TIMES%\n%include <tail.h>\n');
  const fam = [`suite bench_family`, `  edit ECF_TRIES 1`, `  limit lim 8`, `  family f`, `    inlimit lim`];
  for (let i = 0; i < N_FAMILY; i++) {
    fam.push(`    task t${pad(i, N_FAMILY)}`);
    fs.symlinkSync(noop, path.join(files, `t${pad(i, N_FAMILY)}.ecf`));
  }
  fam.push('  endfamily', 'endsuite', '');
  const chain = [`suite bench_chain`, `  edit ECF_TRIES 1`];
  for (let i = 0; i < N_CHAIN; i++) {
    chain.push(`  task c${pad(i, N_CHAIN)}`);
    if (i > 0) chain.push(`    trigger c${pad(i - 1, N_CHAIN)} == complete`);
    fs.symlinkSync(noop, path.join(files, `c${pad(i, N_CHAIN)}.ecf`));
  }
  chain.push('endsuite', '');
  fs.writeFileSync(path.join(dir, 'bench_family.def'), fam.join('\n'));
  fs.writeFileSync(path.join(dir, 'bench_chain.def'), chain.join('\n'));
  fs.writeFileSync(path.join(dir, 'bench_big.def'), bigSuite());
  return { family: path.join(dir, 'bench_family.def'), chain: path.join(dir, 'bench_chain.def'), big: path.join(dir, 'bench_big.def'), files, times };
}

/** The large suite: families of chained tasks under one limit of 8; ECF_JOB_CMD `true` so ecFlow's submissions run nothing. */
function bigSuite(): string {
  const out = ['suite bench_big', '  edit ECF_TRIES 1', "  edit ECF_JOB_CMD 'true'", '  limit lim 8'];
  for (let f = 0; f < BIG_FAMILIES; f++) {
    out.push(`  family f${pad(f, BIG_FAMILIES)}`, '    inlimit /bench_big:lim');
    for (let t = 0; t < BIG_PER_FAMILY; t++) {
      out.push(`    task t${pad(t, BIG_PER_FAMILY)}`);
      if (t > 0) out.push(`      trigger t${pad(t - 1, BIG_PER_FAMILY)} == complete`);
      out.push('      meter progress 0 100', '      event done');
    }
    out.push('  endfamily');
  }
  out.push('endsuite', '');
  return out.join('\n');
}

/** Body-to-body gaps along the chain (ms), from the timestamps the jobs appended. */
function hops(times: string, prefix: string): number[] {
  if (!fs.existsSync(times)) return [];
  const at = new Map<string, number>();
  for (const line of fs.readFileSync(times, 'utf8').split('\n')) {
    const [name, t] = line.split(' ');
    if (name?.startsWith(prefix) && t) at.set(name, Number(t) * 1000);
  }
  const out: number[] = [];
  for (let i = 1; i < N_CHAIN; i++) {
    const a = at.get(`${prefix}c${pad(i - 1, N_CHAIN)}`);
    const b = at.get(`${prefix}c${pad(i, N_CHAIN)}`);
    if (a !== undefined && b !== undefined) out.push(b - a);
  }
  return out;
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const ms = (x: number): string => `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`;

/** `--big`: in its own process, parse + load + begin the big suite until the first submission; prints JSON. */
async function bigChild(file: string): Promise<void> {
  const t0 = performance.now();
  const def = parseDef(fs.readFileSync(file, 'utf8'), file);
  const tParsed = performance.now();
  let first = 0;
  let submitted = 0;
  const rt = createRuntime(def, {
    clock: { now: () => Date.now(), sleep: (d) => new Promise((r) => setTimeout(r, d)) },
    serverVariables: { ECF_HOME: os.tmpdir() },
    hooks: {
      submit: () => {
        if (submitted++ === 0) first = performance.now();
      },
      kill: () => {},
      changed: () => {},
      zombie: () => {},
    },
  });
  const tLoaded = performance.now();
  rt.user({ verb: 'begin', path: `/${def.suites[0]!.name}` });
  const tBegun = performance.now();
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  rt.close();
  console.log(JSON.stringify({ parseMs: tParsed - t0, loadMs: tLoaded - tParsed, firstMs: (first || tBegun) - t0, beginMs: tBegun - t0, submitted, rssMb, maxRssMb }));
}

interface Cell {
  text: string;
  value?: number;
}
const notRun = (why: string): Cell => ({ text: `not run (${why})` });

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-wf-'));
  const g = generate(dir);
  const vars = { BENCH_TIMES: g.times };
  const rows: { name: string; ecflow: Cell; nubis: Cell; target: string; lowerIsBetter?: boolean }[] = [];
  const nubisWhy = '';

  // --- ecFlow
  let ecf: EcflowServer | undefined;
  let ecflowWhy = withEcflow ? '' : 'NUBIS_BENCH_WF_ECFLOW=0';
  const e: { family?: SuiteRun; chain?: SuiteRun; hops?: number[]; load?: number; begin?: number; rss?: number } = {};
  if (withEcflow) {
    try {
      ecf = await startEcflow();
      console.error(`ecflow: family of ${N_FAMILY} (limit 8)…`);
      e.family = await ecf.runSuite(g.family, { files: g.files, variables: vars, timeoutMs: 3_600_000 });
      console.error(`ecflow: ${s(e.family.wallMs)}; chain of ${N_CHAIN}…`);
      e.chain = await ecf.runSuite(g.chain, { files: g.files, variables: vars, timeoutMs: 3_600_000 });
      e.hops = hops(g.times, '/bench_chain/');
      console.error(`ecflow: ${s(e.chain.wallMs)}; big suite load…`);
      await ecf.must(['--delete=force', 'yes', '/bench_family']);
      await ecf.must(['--delete=force', 'yes', '/bench_chain']);
      let t = performance.now();
      await ecf.must([`--load=${g.big}`]);
      e.load = performance.now() - t;
      t = performance.now();
      await ecf.must(['--begin=bench_big']);
      e.begin = performance.now() - t;
      const status = fs.readFileSync(`/proc/${ecf.pid}/status`, 'utf8');
      e.rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    } catch (err) {
      ecflowWhy = (err as Error).message.split('\n')[0]!;
      console.error(`ecflow: ${(err as Error).message}`);
    } finally {
      await ecf?.stop();
    }
  }
  fs.rmSync(g.times, { force: true });

  // --- Nubis (each job path asked for)
  type Runs = { family: number[]; chain: number[]; hops: number[]; sched: number[]; familyCpu: RunCpu[]; chainCpu: RunCpu[]; load: number[] };
  const runsOf = async (mode: 'agent' | 'standin'): Promise<Runs> => {
    const out: Runs = { family: [], chain: [], hops: [], sched: [], familyCpu: [], chainCpu: [], load: [] };
    for (let r = 0; r < reps; r++) {
      console.error(`nubis (${mode}): rep ${r + 1}/${reps}: family of ${N_FAMILY}, chain of ${N_CHAIN}`);
      out.load.push(os.loadavg()[0]!);
      let cpu = cpuMeter();
      out.family.push((await runNubisSuite(g.family, { files: g.files, variables: vars, timeoutMs: 3_600_000, jobs: mode, agentProcess, beforeStop: (i) => cpu.stopping(i.agentPid) })).wallMs);
      out.familyCpu.push(cpu.end());
      fs.rmSync(g.times, { force: true });
      const submittedAt = new Map<string, number>();
      const completedAt = new Map<string, number>();
      cpu = cpuMeter();
      const run = await runNubisSuite(g.chain, {
        files: g.files,
        variables: vars,
        timeoutMs: 3_600_000,
        jobs: mode,
        agentProcess,
        beforeStop: (i) => cpu.stopping(i.agentPid),
        onSubmit: (sub: WfSubmission, at) => submittedAt.set(sub.path, at),
        onChild: (p, verb, at) => verb === 'complete' && completedAt.set(p, at),
      });
      out.chain.push(run.wallMs);
      out.chainCpu.push(cpu.end());
      out.hops.push(...hops(g.times, '/bench_chain/'));
      fs.rmSync(g.times, { force: true });
      for (let i = 1; i < N_CHAIN; i++) {
        const a = completedAt.get(`/bench_chain/c${pad(i - 1, N_CHAIN)}`);
        const b = submittedAt.get(`/bench_chain/c${pad(i, N_CHAIN)}`);
        if (a !== undefined && b !== undefined) out.sched.push(b - a);
      }
    }
    return out;
  };
  const byMode = new Map<'agent' | 'standin', Runs>();
  for (const mode of jobModes) byMode.set(mode, await runsOf(mode));
  const n: Runs & { big?: Record<string, number>; bigError?: string } = byMode.get(jobModes[0]!)!;
  {
    const bigs: Record<string, number>[] = [];
    for (let r = 0; r < reps; r++) {
      const b = child<Record<string, number> & { error?: string }>('workflows.js', ['--big', g.big]);
      if (b.error) n.bigError = b.error;
      else bigs.push(b);
    }
    if (bigs.length > 0) n.big = Object.fromEntries(Object.keys(bigs[0]!).map((k) => [k, median(bigs.map((b) => b[k]!))]));
  }

  // --- table
  const eCell = (v: number | undefined, f: (x: number) => string): Cell => (v === undefined ? notRun(ecflowWhy || 'failed') : { text: f(v), value: v });
  const nCell = (xs: number[], f: (x: number) => string): Cell => (xs.length === 0 ? notRun(nubisWhy || 'failed') : { text: f(median(xs)), value: median(xs) });
  const tasks = N_FAMILY.toLocaleString('en');
  const hopCell = (xs: number[] | undefined, why: string): Cell => (!xs || xs.length === 0 ? notRun(why || 'failed') : { text: `${ms(median(xs))} / ${ms(quantile(xs, 0.99))}`, value: median(xs) });
  for (const [mode, m] of byMode) {
    const how = `(Nubis ${JOB_PATH[mode]})`;
    rows.push({ name: `${tasks} no-op tasks in one family, \`limit 8\`: begin → suite complete ${how}`, ecflow: eCell(e.family?.wallMs, s), nubis: nCell(m.family, s), target: '≥ 50× faster than ecFlow' });
    rows.push({ name: `${N_CHAIN}-task chain (each triggers on the previous): begin → suite complete ${how}`, ecflow: eCell(e.chain?.wallMs, s), nubis: nCell(m.chain, s), target: '≥ 50× faster than ecFlow' });
    rows.push({ name: `chain hop, job body → next job body (complete report, dispatch, process start, init report): median / p99 ${how}`, ecflow: hopCell(e.hops, ecflowWhy), nubis: hopCell(m.hops, nubisWhy), target: 'report → dependent started in ms, not s' });
  }
  const sched = [...byMode.values()].flatMap((m) => m.sched);
  rows.push({ name: 'scheduler alone: complete report received → dependent submitted (in process): median / p99', ecflow: { text: '— (1 s tick)' }, nubis: sched.length ? { text: `${ms(median(sched))} / ${ms(quantile(sched, 0.99))}` } : notRun(nubisWhy || 'failed'), target: '' });
  const bigName = `${(BIG_FAMILIES * BIG_PER_FAMILY).toLocaleString('en')}-task suite (${BIG_FAMILIES} families × ${BIG_PER_FAMILY} chained tasks, limit 8)`;
  const bigN = n.big;
  rows.push({
    name: `${bigName}: load + begin → first submission`,
    ecflow: e.load !== undefined && e.begin !== undefined ? { text: `${ms(e.load + e.begin)} (--load ${ms(e.load)}, --begin ${ms(e.begin)})`, value: e.load + e.begin } : notRun(ecflowWhy || 'failed'),
    nubis: bigN ? { text: `${ms(bigN.firstMs!)} (parse ${ms(bigN.parseMs!)}, load ${ms(bigN.loadMs!)})`, value: bigN.firstMs! } : notRun(n.bigError ?? (nubisWhy || 'failed')),
    target: '≤ 1 s',
  });
  rows.push({
    name: `${bigName}: RSS after begin (ecFlow: the server; Nubis: the process that loaded it)`,
    ecflow: e.rss !== undefined ? { text: `${e.rss.toFixed(0)} MB`, value: e.rss } : notRun(ecflowWhy || 'failed'),
    nubis: bigN ? { text: `${bigN.rssMb!.toFixed(0)} MB (peak ${bigN.maxRssMb!.toFixed(0)} MB)`, value: bigN.rssMb! } : notRun(n.bigError ?? (nubisWhy || 'failed')),
    target: '≤ 150 MB',
  });

  console.log(`\nWorkflows: ecFlow 5.9.2 vs Nubis (scale ${scale}; Nubis median of ${reps}, ecFlow 1 run; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs)`);
  console.log(`Nubis: parseDef + createRuntime with real bash jobs (${jobModes.map((m) => JOB_PATH[m]).join('; ')})\n`);
  console.log('| workload (what is measured) | ecFlow 5.9.2 | Nubis | ecFlow / Nubis | target |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const ratio = r.ecflow.value !== undefined && r.nubis.value !== undefined && r.nubis.value > 0 ? `${(r.ecflow.value / r.nubis.value).toFixed(1)}×` : '—';
    console.log(`| ${r.name} | ${r.ecflow.text} | ${r.nubis.text} | ${ratio} | ${r.target} |`);
  }
  console.log('\nCPU (user+sys) per run, by process class (Nubis; median of the repetitions):\n');
  console.log('| run | wall | this process (scheduler, dispatcher) | agent program | jobs (bash …, with the launcher) | load at start |');
  console.log('|---|---|---|---|---|---|');
  const med = (xs: (number | undefined)[]): string => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length === 0 ? '—' : `${median(v).toFixed(2)} s`;
  };
  for (const [mode, m] of byMode) {
    const where = mode === 'standin' ? 'direct' : agentProcess ? 'agent program' : 'agent in process';
    for (const [what, walls, cpus] of [[`${tasks} tasks, limit 8`, m.family, m.familyCpu], [`${N_CHAIN}-task chain`, m.chain, m.chainCpu]] as const) {
      console.log(`| ${what} (${where}) | ${s(median(walls))} | ${med(cpus.map((c) => c.here))} | ${med(cpus.map((c) => c.agent))} | ${med(cpus.map((c) => c.jobs))} | ${med(m.load).replace(' s', '')} |`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === '--big') await bigChild(process.argv[3]!);
else await main();
