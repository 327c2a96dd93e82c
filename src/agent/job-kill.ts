/**
 * Ending a workflow job's processes: its process group (the job's pid leads it, in a session of
 * its own) and whatever carries its job id and this node's id in its environment (what left the
 * group; the node id too, because many nodes' agents share one machine on `local` and the same
 * job id on another node is not this job). A
 * re-adopted job's group is only signalled while its leader is still the process saved (a pid
 * may be reused once it is gone).
 *
 * Failure meaning: `terminate` (./proc.ts) sends SIGTERM, then SIGKILL after the grace; what
 * cannot be signalled (gone meanwhile, not ours) is skipped.
 */
import { stillRunning } from './job-restore.js';
import { JOB_ID_ENV } from './job-exec.js';
import { findProcessGroup, listProcesses, readEnviron, terminate, type ProcInfo } from './proc.js';

/** Processes whose environment carries job `jobId` of node `nodeId`. */
function jobProcesses(nodeId: string, jobId: string, procs: ProcInfo[] = listProcesses()): number[] {
  return procs
    .filter((p) => p.pid !== process.pid)
    .filter((p) => {
      const env = readEnviron(p.pid);
      return env?.get(JOB_ID_ENV) === jobId && env.get('NUBIS_NODE_ID') === nodeId;
    })
    .map((p) => p.pid);
}

/** True when some process is left in process group `pgid` (after its leader exited). */
export function groupAlive(pgid: number | undefined): boolean {
  if (pgid === undefined) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM to the group now, SIGKILL after `graceMs` (cheap: no process-table scan). */
export function reapGroup(pgid: number | undefined, graceMs: number): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return; // the group is empty
  }
  setTimeout(() => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }, graceMs).unref();
}

/** Kills the job's group and what carries its id; resolves once they are gone. */
export function killJobProcesses(nodeId: string, job: { jobId: string; pgid?: number; adopted?: boolean; startTime?: string }, graceMs: number): Promise<boolean> {
  return terminate(() => {
    const procs = listProcesses();
    const set = new Set(jobProcesses(nodeId, job.jobId, procs));
    if (job.pgid !== undefined && (!job.adopted || stillRunning(job.pgid, job.startTime ?? ''))) for (const p of findProcessGroup(job.pgid, procs)) set.add(p);
    return set;
  }, graceMs);
}

/** What `jobId`'s processes left behind, found by its id (its pid may name another process by now). */
export function killByJobId(nodeId: string, jobId: string, graceMs: number): Promise<boolean> {
  return terminate(() => jobProcesses(nodeId, jobId), graceMs);
}

/**
 * Kills the processes of jobs of node `nodeId` that `running(jobId)` does not know as running
 * (an earlier agent's, which cannot report to this one). Resolves with how many were found.
 */
export async function reapOrphanJobs(nodeId: string, running: (jobId: string) => boolean, graceMs: number, log: (line: string) => void): Promise<number> {
  const mine = (): number[] => listProcesses()
    .filter((p) => p.pid !== process.pid)
    .filter((p) => {
      const env = readEnviron(p.pid);
      const id = env?.get(JOB_ID_ENV);
      return id !== undefined && env?.get('NUBIS_NODE_ID') === nodeId && !running(id);
    })
    .map((p) => p.pid);
  const found = mine().length;
  if (found > 0) {
    log(`killing ${found} process(es) of jobs of an earlier agent`);
    await terminate(mine, graceMs);
  }
  return found;
}
