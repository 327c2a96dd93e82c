/**
 * Process cages on cgroup v2: every process a node's handlers start stays in the node's
 * cgroup (membership is inherited across fork, `setsid` and `env -i`), so deleting the node or
 * stopping an instance kills all of it, daemons included.
 *
 * Layout: `<cgroup2 mount><agent's cgroup at start>/nubis/<node id>/` holds the agent and,
 * under `i-<instance>/`, each instance's handlers. The agent writes its cage's directory to
 * `<sandbox>/cgroup`, where the local driver (and the ssh driver's stop script) find it.
 *
 * Where cgroup v2 is not mounted or not writable (no root, a read-only /sys, cgroup v1 only)
 * every function here returns undefined or false, and callers fall back to process groups,
 * sessions and the recorded process list (./proc.ts, ./tracker.ts). `NUBIS_AGENT_CGROUP=off`
 * in the agent's environment forces that fallback (the local driver passes it through).
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, normalize } from 'node:path';

/** Where cgroup v2 is mounted, or undefined. */
export function cgroup2Mount(): string | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    // "<id> <parent> <maj:min> <root> <mount point> <options> [optional...] - <fstype> <source> <super options>"
    const [left, right] = line.split(' - ');
    if (right?.split(' ')[0] !== 'cgroup2') continue;
    const mountPoint = left?.split(' ')[4];
    if (mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** This process's cgroup v2 path (`/` for the root), or undefined. */
function ownCgroup(): string | undefined {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line ? line.slice(3) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Moves the calling process into its node's cage, creating it; returns the cage's directory,
 * or undefined when cgroup v2 cannot be used here (nothing is changed then). An agent that
 * restarts inside its cage stays there.
 */
export function enterNodeCage(nodeId: string): string | undefined {
  if (process.env['NUBIS_AGENT_CGROUP'] === 'off') return undefined;
  const mount = cgroup2Mount();
  const own = ownCgroup();
  if (!mount || own === undefined) return undefined;
  const suffix = `/nubis/${nodeId}`;
  const dir = own.endsWith(suffix) ? join(mount, own) : join(mount, own, 'nubis', nodeId);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.procs'), `${process.pid}\n`);
    return dir;
  } catch {
    try {
      rmdirSync(dir);
    } catch {
      // not empty or not ours: leave it
    }
    return undefined;
  }
}

/** True when this process could make node cages here (cgroup v2 mounted and writable). */
export function cgroup2Writable(): boolean {
  const mount = cgroup2Mount();
  const own = ownCgroup();
  if (!mount || own === undefined) return false;
  try {
    mkdirSync(join(mount, own, 'nubis'), { recursive: true });
    accessSync(join(mount, own, 'nubis'), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Creates (if needed) a child cage such as an instance's; undefined when it cannot. */
export function childCage(parent: string, name: string): string | undefined {
  const dir = join(parent, name);
  try {
    mkdirSync(dir, { recursive: true });
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * True when `dir` is a node cage under the cgroup v2 mount (`…/nubis/<nodeId>`). Guards the
 * path a node's sandbox reports before anything is killed by it.
 */
export function isNodeCage(dir: string, nodeId: string): boolean {
  const mount = cgroup2Mount();
  if (!mount || normalize(dir) !== dir || dir.includes('/../')) return false;
  return dir.startsWith(`${mount}/`) && dir.endsWith(`/nubis/${nodeId}`) && existsSync(join(dir, 'cgroup.procs'));
}

/** The pids in the cage and every cage below it. */
export function cagePids(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (/^[0-9]+$/.test(l)) out.push(Number(l));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      // gone meanwhile
    }
  };
  walk(dir);
  return out.filter((p) => p !== process.pid);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Removes the cage and its children once they are empty; false when one is still populated. */
function removeCage(dir: string): boolean {
  let ok = true;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) ok = removeCage(join(dir, e.name)) && ok;
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') ok = false;
  }
  return ok;
}

/**
 * Kills every process in the cage and below (cgroup.kill where the kernel has it, else SIGKILL
 * to each listed pid until none is left) and removes the cage. Resolves true when it is empty
 * and gone within `waitMs`, false otherwise (a process in uninterruptible sleep, or a cage
 * holding this very process).
 */
export async function killCage(dir: string, waitMs = 5000): Promise<boolean> {
  if (!existsSync(dir)) return true;
  const deadline = Date.now() + waitMs;
  const hasKill = existsSync(join(dir, 'cgroup.kill'));
  for (;;) {
    const pids = cagePids(dir);
    if (pids.length === 0) {
      if (removeCage(dir)) return true;
      if (Date.now() >= deadline) return false;
      await sleep(20);
      continue;
    }
    if (hasKill) {
      try {
        writeFileSync(join(dir, 'cgroup.kill'), '1');
      } catch {
        // fall through to signals
      }
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}
