/**
 * The recorded process list, for machines without a usable cgroup v2: the agent notes every
 * process of its tree and session (pid and start time) in `<sandbox>/processes` at a fixed
 * interval, so whoever deletes the node can kill a daemon that left the session, cleared its
 * environment and lost its parent — if it lived through one scan before it did. Lines are
 * `<pid> <start time in clock ticks>`, so a recycled pid is never signalled.
 *
 * The cgroup cage (./cgroup.ts) has no such gap; this is the fallback.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findSession, listProcesses, withDescendants } from './proc.js';

/** A process's start time (clock ticks since boot), or undefined when it is gone. */
export function startTime(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The recorded processes that are still the same processes (pid and start time match). */
export function recordedProcesses(sandbox: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(sandbox, 'processes'), 'utf8');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const [pid, start] = line.split(' ');
    if (pid && /^[0-9]+$/.test(pid) && start !== undefined && startTime(Number(pid)) === start && Number(pid) !== process.pid) out.push(Number(pid));
  }
  return out;
}

/** Scans every `everyMs` (and once now); returns a function that stops it. */
export function trackProcesses(sandbox: string, everyMs = 500): () => void {
  const known = new Map<number, string>();
  const path = join(sandbox, 'processes');
  const scan = (): void => {
    const procs = listProcesses();
    const mine = withDescendants([process.pid], procs);
    for (const pid of findSession(process.pid, procs)) mine.add(pid);
    let changed = false;
    for (const [pid, start] of known) {
      if (startTime(pid) === start) continue;
      known.delete(pid);
      changed = true;
    }
    for (const pid of mine) {
      const start = known.has(pid) ? undefined : startTime(pid);
      if (start === undefined) continue;
      known.set(pid, start);
      changed = true;
    }
    if (!changed) return;
    try {
      writeFileSync(`${path}.tmp`, [...known].map(([p, s]) => `${p} ${s}\n`).join(''));
      renameSync(`${path}.tmp`, path);
    } catch {
      // a full disk loses the record, not the node
    }
  };
  scan();
  const timer = setInterval(scan, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
