/**
 * What `status` shows: the tree of a workflow's nodes with their run-time states, and its
 * progress (tasks complete of total, what is active now).
 */
import type { WfDefinition, WfNodeDef, WfNodeKind, WfState } from '../model/types.js';
import type { WorkflowRuntime } from '../model/runtime.js';

export interface WorkflowTreeNode {
  name: string;
  path: string;
  kind: WfNodeKind | 'workflow';
  state: WfState;
  suspended: boolean;
  /** Tasks: the latest try (0 before the first). */
  tryNo?: number;
  reason?: string;
  /** ISO time of the last state change. */
  changedAt?: string;
  events?: Record<string, boolean>;
  meters?: Record<string, number>;
  labels?: Record<string, string>;
  /** ecFlow's flags: `late`, `zombie` (absent when none). */
  flags?: string[];
  /** Queues: the next step's index and each step's state. */
  queues?: Record<string, { index: number; states: string[] }>;
  children: WorkflowTreeNode[];
}

export interface WorkflowProgress {
  tasks: number;
  complete: number;
  aborted: number;
  queued: number;
  /** Submitted and active tasks, in definition order (at most 50 listed). */
  running: number;
  active: string[];
}

const nonEmpty = <T extends object>(o: T | undefined): T | undefined => (o && Object.keys(o).length > 0 ? o : undefined);

function nodeOf(def: WfNodeDef, path: string, rt: WorkflowRuntime): WorkflowTreeNode {
  const r = rt.node(path);
  const out: WorkflowTreeNode = { name: def.name, path, kind: def.kind, state: r?.state ?? 'unknown', suspended: r?.suspended ?? false, children: [] };
  if (r) {
    if (def.kind === 'task') out.tryNo = r.tryNo;
    if (r.reason) out.reason = r.reason;
    if (r.changedAt) out.changedAt = new Date(r.changedAt).toISOString();
    const ev = nonEmpty(r.events);
    const me = nonEmpty(r.meters);
    const la = nonEmpty(r.labels);
    if (ev) out.events = { ...ev };
    if (me) out.meters = { ...me };
    if (la) out.labels = { ...la };
    if (r.flags && r.flags.length > 0) out.flags = [...r.flags];
    const qs = nonEmpty(r.queues);
    if (qs) out.queues = Object.fromEntries(Object.entries(qs).map(([k, q]) => [k, { index: q.index, states: [...q.states] }]));
  }
  // a node an autocancel removed is no longer part of the workflow
  out.children = def.children.filter((c) => rt.node(`${path}/${c.name}`) !== undefined).map((c) => nodeOf(c, `${path}/${c.name}`, rt));
  return out;
}

/** The definition without the nodes an autocancel removed (what export prints). */
export function liveDefinition(def: WfDefinition, rt: WorkflowRuntime): WfDefinition {
  const prune = (n: WfNodeDef, path: string): WfNodeDef => ({
    ...n,
    children: n.children.filter((c) => rt.node(`${path}/${c.name}`) !== undefined).map((c) => prune(c, `${path}/${c.name}`)),
  });
  return { ...def, suites: def.suites.filter((s) => rt.node(`/${s.name}`) !== undefined).map((s) => prune(s, `/${s.name}`)) };
}

/** The tree under one root (the workflow), with one child per suite. */
export function buildTree(def: WfDefinition, rt: WorkflowRuntime): WorkflowTreeNode {
  const suites = def.suites.filter((s) => rt.node(`/${s.name}`) !== undefined).map((s) => nodeOf(s, `/${s.name}`, rt));
  const order: WfState[] = ['unknown', 'complete', 'queued', 'submitted', 'active', 'aborted'];
  let state: WfState = 'unknown';
  for (const s of suites) if (order.indexOf(s.state) > order.indexOf(state)) state = s.state;
  return { name: def.name, path: '/', kind: 'workflow', state, suspended: false, children: suites };
}

export function progressOf(tasks: Iterable<string>, rt: WorkflowRuntime): WorkflowProgress {
  const p: WorkflowProgress = { tasks: 0, complete: 0, aborted: 0, queued: 0, running: 0, active: [] };
  for (const path of tasks) {
    const s = rt.node(path)?.state;
    if (s === undefined) continue; // removed by an autocancel
    p.tasks++;
    if (s === 'complete') p.complete++;
    else if (s === 'aborted') p.aborted++;
    else if (s === 'queued') p.queued++;
    else if (s === 'submitted' || s === 'active') {
      p.running++;
      if (p.active.length < 50) p.active.push(path);
    }
  }
  return p;
}
