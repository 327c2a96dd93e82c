/** Builders and a recording harness for the scheduler tests. */
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.js';
import {
  createRuntime, emptyNode,
  type Expr, type RuntimeHooks, type WfChildCommand, type WfChildIdentity, type WfChildResult, type WfDefinition,
  type WfNodeDef, type WfNodeRuntime, type WfState, type WfSubmission, type WorkflowRuntime, type RuntimeOptions,
} from '../../src/workflows/index.js';

type Extra = Partial<Omit<WfNodeDef, 'kind' | 'name' | 'children'>>;

export const task = (name: string, extra: Extra = {}): WfNodeDef => ({ ...emptyNode('task', name), ...extra });
export const family = (name: string, children: WfNodeDef[], extra: Extra = {}): WfNodeDef => ({ ...emptyNode('family', name), ...extra, children });
export const suite = (name: string, children: WfNodeDef[], extra: Extra = {}): WfNodeDef => ({ ...emptyNode('suite', name), ...extra, children });
export const definition = (...suites: WfNodeDef[]): WfDefinition => ({ name: 'wf', suites, externs: [], pools: [], variables: [] });

export const ref = (path: string, attr?: string): Expr => (attr === undefined ? { kind: 'ref', path } : { kind: 'ref', path, attr });
export const num = (value: number): Expr => ({ kind: 'number', value });
export const is = (path: string, state: WfState): Expr => ({ kind: 'compare', op: '==', left: ref(path), right: { kind: 'state', value: state } });
export const and = (left: Expr, right: Expr): Expr => ({ kind: 'logic', op: 'and', left, right });
export const or = (left: Expr, right: Expr): Expr => ({ kind: 'logic', op: 'or', left, right });
export const cmp = (op: '==' | '!=' | '<' | '<=' | '>' | '>=', left: Expr, right: Expr): Expr => ({ kind: 'compare', op, left, right });
export const expr = (e: Expr): { text: string; expr: Expr } => ({ text: JSON.stringify(e), expr: e });
export const hm = (h: number, m: number): { h: number; m: number } => ({ h, m });

/** 2026-12-03 (a Thursday) 00:00 UTC. */
export const DAY0 = Date.UTC(2026, 11, 3);

export class Harness {
  readonly subs: WfSubmission[] = [];
  /** Clock time of each submission, as `hh:mm` from DAY0 (`+1d hh:mm` on later days). */
  readonly at: string[] = [];
  readonly steps: WfNodeRuntime[][] = [];
  readonly zombies: { identity: WfChildIdentity; command: WfChildCommand; why: string }[] = [];
  readonly kills: { path: string; tryNo: number }[] = [];
  readonly rt: WorkflowRuntime;
  readonly clock: VirtualClock;
  /** Submissions as `path@time`. */
  log(): string[] {
    return this.subs.map((s, i) => `${s.path}@${this.at[i]}`);
  }

  /** Answer every submission with init + complete on the next microtask. */
  autoComplete(filter: (s: WfSubmission) => boolean = () => true): void {
    this.onSubmit = (s) => {
      if (!filter(s)) return;
      queueMicrotask(() => {
        if (this.rt.node(s.path)?.tryNo === s.tryNo) this.finish(s.path);
      });
    };
  }

  /** Called on each submission (e.g. to answer with child commands). */
  onSubmit: ((s: WfSubmission) => void) | undefined;

  constructor(readonly def: WfDefinition, opts: Partial<RuntimeOptions> & { start?: number } = {}) {
    this.clock = (opts.clock as VirtualClock | undefined) ?? createVirtualClock(opts.start ?? DAY0);
    const hooks: RuntimeHooks = {
      submit: (s) => {
        this.subs.push(s);
        this.at.push(clockText(this.clock.now()));
        this.onSubmit?.(s);
      },
      kill: (_wf, path, tryNo) => this.kills.push({ path, tryNo }),
      changed: (_wf, nodes) => this.steps.push([...nodes]),
      zombie: (_wf, identity, command, why) => this.zombies.push({ identity, command, why }),
    };
    this.rt = createRuntime(def, { ...opts, clock: this.clock, hooks });
  }

  state(path: string): WfState | undefined {
    return this.rt.node(path)?.state;
  }

  /** The latest submission of a task. */
  sub(path: string): WfSubmission {
    for (let i = this.subs.length - 1; i >= 0; i--) if (this.subs[i]!.path === path) return this.subs[i]!;
    throw new Error(`${path} was never submitted`);
  }

  submitted(): string[] {
    return this.subs.map((s) => s.path);
  }

  id(path: string): WfChildIdentity {
    const s = this.sub(path);
    return { workflow: 'wf', path, password: s.password, tryNo: s.tryNo };
  }

  cmd(path: string, c: WfChildCommand): WfChildResult | Promise<WfChildResult> {
    return this.rt.child(this.id(path), c);
  }

  /** A child command that answers at once (everything but wait). */
  send(path: string, c: WfChildCommand): WfChildResult {
    const r = this.cmd(path, c);
    if (r instanceof Promise) throw new Error(`${c.verb} did not answer at once`);
    return r;
  }

  init(path: string): WfChildResult {
    return this.cmd(path, { verb: 'init', rid: `${path}#${this.sub(path).tryNo}` }) as WfChildResult;
  }

  complete(path: string): WfChildResult {
    return this.cmd(path, { verb: 'complete' }) as WfChildResult;
  }

  abort(path: string, reason = 'exit=1'): WfChildResult {
    return this.cmd(path, { verb: 'abort', reason }) as WfChildResult;
  }

  /** init + complete. */
  finish(path: string): void {
    const a = this.init(path);
    if (!a.ok) throw new Error(`init ${path}: ${a.why}`);
    const b = this.complete(path);
    if (!b.ok) throw new Error(`complete ${path}: ${b.why}`);
  }

  running(): string[] {
    const out: string[] = [];
    for (const n of this.rt.nodes()) if ((n.state === 'submitted' || n.state === 'active') && !this.def.suites.some((s) => n.path === `/${s.name}`) && this.isTask(n.path)) out.push(n.path);
    return out;
  }

  isTask(path: string): boolean {
    const segs = path.split('/').slice(1);
    let nodes: readonly WfNodeDef[] = this.def.suites;
    let n: WfNodeDef | undefined;
    for (const s of segs) {
      n = nodes.find((x) => x.name === s);
      if (!n) return false;
      nodes = n.children;
    }
    return n?.kind === 'task';
  }
}

export function clockText(ms: number): string {
  const d = Math.floor((ms - DAY0) / 86_400_000);
  const min = Math.floor((ms - DAY0 - d * 86_400_000) / 60_000);
  const t = `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;
  return d === 0 ? t : `+${d}d ${t}`;
}

export const H = 3_600_000;
export const M = 60_000;

/** Lets every queued microtask (auto-completions) run. */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A small seeded PRNG (mulberry32): the same cases on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
