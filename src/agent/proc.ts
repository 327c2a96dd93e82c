/**
 * Process-table helpers over Linux /proc. They let the agent kill a handler's whole tree
 * (including children re-parented after their parent died) and let the local driver find
 * every process of a node by the `NUBIS_NODE_ID` it inherited.
 *
 * Processes we may not read (other users) are skipped; zombies count as gone.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** Session id: processes that called setsid have left the node's session. */
  sid: number;
  /** One-letter state from /proc/<pid>/stat; `Z` is a zombie. */
  state: string;
}

/** A snapshot of the live (non-zombie) processes. */
export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^[0-9]+$/.test(name)) continue;
    const info = readStat(Number(name));
    if (info && info.state !== 'Z' && info.state !== 'X') out.push(info);
  }
  return out;
}

function readStat(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  const state = fields[0] ?? '?';
  return { pid, state, ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]) };
}

/**
 * The process's start time (field 22 of /proc/<pid>/stat, clock ticks since boot) while it is
 * alive (not a zombie): with the pid it names one process, never a later one given the same pid.
 */
export function processStartTime(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state)
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** True when the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const info = readStat(pid);
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

/** The process's initial environment, or undefined when it is gone or unreadable. */
export function readEnviron(pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const env = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** Live processes whose environment has `name=value` (never the calling process). */
export function findProcessesByEnv(name: string, value: string, procs = listProcesses()): number[] {
  return procs
    .filter((p) => p.pid !== process.pid && readEnviron(p.pid)?.get(name) === value)
    .map((p) => p.pid);
}

/** Live processes in the process group. */
export function findProcessGroup(pgid: number, procs = listProcesses()): number[] {
  return procs.filter((p) => p.pgid === pgid && p.pid !== process.pid).map((p) => p.pid);
}

/** Live processes in the session. */
export function findSession(sid: number, procs = listProcesses()): number[] {
  return procs.filter((p) => p.sid === sid && p.pid !== process.pid).map((p) => p.pid);
}

/** The given pids plus all their live descendants. */
export function withDescendants(roots: Iterable<number>, procs = listProcesses()): Set<number> {
  const set = new Set<number>();
  const alive = new Set(procs.map((p) => p.pid));
  for (const r of roots) if (alive.has(r)) set.add(r);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!set.has(p.pid) && set.has(p.ppid)) {
        set.add(p.pid);
        grew = true;
      }
    }
  }
  set.delete(process.pid);
  return set;
}

function signalAll(pids: Iterable<number>, sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone, or not ours
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Terminates everything `select` returns: SIGTERM, then SIGKILL to whatever is left after
 * `graceMs`, repeating until `select` finds nothing (at most `graceMs + 5 s`). `select` is
 * called again each round so processes forked meanwhile are caught too.
 * Resolves true when nothing is left.
 */
export async function terminate(select: () => Iterable<number>, graceMs: number): Promise<boolean> {
  const start = Date.now();
  const termed = new Set<number>();
  for (;;) {
    const left = [...select()];
    if (left.length === 0) return true;
    const fresh = left.filter((p) => !termed.has(p));
    signalAll(fresh, 'SIGTERM');
    for (const p of fresh) termed.add(p);
    if (Date.now() - start >= graceMs) break;
    await sleep(20);
  }
  const hardDeadline = Date.now() + 5000;
  while (Date.now() < hardDeadline) {
    const left = [...select()];
    if (left.length === 0) return true;
    signalAll(left, 'SIGKILL');
    await sleep(20);
  }
  return [...select()].length === 0;
}

/**
 * Kills a process tree: the root, its descendants, and any process carrying
 * `tagName=tagValue` in its environment (which catches children that were re-parented).
 */
export function killTree(rootPid: number | undefined, tag: { name: string; value: string }, graceMs: number): Promise<boolean> {
  return terminate(() => {
    const procs = listProcesses();
    const roots = findProcessesByEnv(tag.name, tag.value, procs);
    if (rootPid !== undefined) roots.push(rootPid);
    return withDescendants(roots, procs);
  }, graceMs);
}
