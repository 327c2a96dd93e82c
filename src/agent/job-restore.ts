/**
 * Workflow jobs outlive their agent: a restarted agent re-adopts the ones whose processes are
 * still alive (./jobs.ts calls in here; what is saved is ./job-state.ts).
 *
 * Re-adopting. A job whose process is alive (its pid with the start time saved, so a later
 * process given the same pid is not taken for it) is taken back as it was: its channel is read
 * again (a call made while no agent was running waits in the shim's open of the channel until
 * the new agent opens it), its timeout goes on from its start, its calls still waiting for an
 * answer (their reply slot still locked) wait again under their seqs, a bash job's key is known
 * on the job port again (listening on the earlier agent's port when it is free), and its saved
 * records go back into the feed under their seqs — the control plane, which goes on reading the
 * same feed (same epoch, its cursor), takes only the ones after its cursor, so nothing is
 * handled twice. A job whose process died while the agent was down gets the same records and
 * then its `exited` record.
 *
 * Exit status: a re-adopted job is not the new agent's child, so no exit status reaches it; the
 * agent watches the pid and reports `exited` with both code and signal null and a `detail`. It
 * decides nothing: the control plane counts a job lost when it ends without an accepted
 * `--complete`/`--abort`, whatever its status, and a job that reported complete before it
 * ended stays complete. (A wrapper process that wrote the status to a file would cost a
 * fork per job on every job's start path, which the spawner and the bash BASH_ENV path avoid.)
 *
 * Limits: a call the old agent read from the channel but had not saved yet when it was killed
 * (a window of one synchronous write) is lost; its reply slot is found locked with nothing
 * waiting on it, and once it still is `lostCallGraceMs` after the re-adoption (a call blocked in
 * opening the channel while no agent ran has arrived by then) its caller is refused, so the job
 * fails rather than hangs. A bash job's call on the job port while no agent runs, or waiting on
 * it when the agent died, gets no answer and fails (its record, if saved, still reaches the
 * control plane).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildRecord, SavedJob } from './job-state.js';
import { processStartTime } from './proc.js';

/** True while the saved process (pid and start time) is alive. */
export function stillRunning(pid: number, startTime: string): boolean {
  return processStartTime(pid) === startTime;
}

/** What a restarted agent needs of a live job, from the job's state. */
export function savedJobOf(j: {
  key: string; jobId: string; workflow: string; path: string; tryNo: number; timeoutMs?: number; startedAt: number;
  pid: number; startTime: string; outFile: string; latest: Iterable<ChildRecord>; waiting: Iterable<{ seq: number; slot: number; record: ChildRecord }>;
  portKey?: string; port?: number;
}): SavedJob {
  const waiting = [...j.waiting];
  const records = [...j.latest, ...waiting.map((w) => w.record)].sort((a, b) => a.seq - b.seq);
  return {
    v: 1, key: j.key, jobId: j.jobId, workflow: j.workflow, path: j.path, tryNo: j.tryNo,
    ...(j.timeoutMs === undefined ? {} : { timeoutMs: j.timeoutMs }),
    startedAt: j.startedAt, pid: j.pid, startTime: j.startTime, outFile: j.outFile, records,
    waiting: waiting.map((w) => ({ seq: w.seq, slot: w.slot })),
    ...(j.portKey === undefined || j.port === undefined ? {} : { portKey: j.portKey, port: j.port }),
  };
}

/** What the job runner does for restore (./jobs.ts). */
export interface RestoreHost {
  /** The run directory of a saved job. */
  runDirOf(key: string): string;
  /** Registers the job again (state running); its channel is not read yet. */
  register(saved: SavedJob): void;
  /** Puts saved records back into the feed under their seqs. */
  refeed(records: readonly ChildRecord[]): void;
  /** A call that still waits for its answer, on reply slot `slot`. */
  wait(jobId: string, seq: number, slot: number, record: ChildRecord): void;
  /** Reads the job's channel again, arms what is left of its timeout, watches its process. */
  adopt(saved: SavedJob): void;
  /** The job's process is gone: its `exited` record (status unknown: it is not this agent's child). */
  ended(jobId: string): void;
  /** The reply slots of the job's calls that wait for an answer now. */
  waitingSlots(jobId: string): Set<number>;
  /** Refuses the caller on reply slot `slot` (and frees the slot). */
  refuse(jobId: string, slot: number, why: string): void;
  log(line: string): void;
}

/** Locks in a run directory: `l<slot>` files, with their modification times. */
function locksIn(runDir: string): { slot: number; mtimeMs: number }[] {
  const out: { slot: number; mtimeMs: number }[] = [];
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return out;
  }
  for (const n of names) {
    const m = /^l([0-9]{1,2})$/.exec(n);
    if (!m) continue;
    try {
      out.push({ slot: Number(m[1]), mtimeMs: statSync(join(runDir, n)).mtimeMs });
    } catch {
      // answered meanwhile
    }
  }
  return out;
}

/** After the grace, refuses callers whose slot was locked before the re-adoption with nothing waiting on it. */
function refuseLostCalls(jobId: string, runDir: string, since: number, host: RestoreHost, graceMs: number): void {
  setTimeout(() => {
    const waiting = host.waitingSlots(jobId);
    for (const l of locksIn(runDir)) {
      if (l.mtimeMs <= since && !waiting.has(l.slot)) host.refuse(jobId, l.slot, 'the agent restarted before it saved this call; nobody will answer it');
    }
  }, graceMs).unref();
}

/**
 * Takes the saved jobs back; resolves the numbers re-adopted (alive) and ended (gone meanwhile).
 * `lostCallGraceMs` (default 5000): see the module comment.
 */
export function restoreJobs(saved: readonly SavedJob[], host: RestoreHost, lostCallGraceMs = 5000): { adopted: number; ended: number } {
  const since = Date.now();
  let adopted = 0;
  let ended = 0;
  host.refeed(saved.flatMap((s) => s.records));
  for (const s of saved) {
    host.register(s);
    const runDir = host.runDirOf(s.key);
    const bySeq = new Map(s.records.map((r) => [r.seq, r]));
    // per slot, the latest call saved; one whose lock is gone was answered before the restart
    const latest = new Map<number, { seq: number; slot: number }>();
    // (a job-port caller, slot -1, lost its connection with the agent: its record is only fed again)
    for (const w of s.waiting) if (w.slot >= 0 && (latest.get(w.slot)?.seq ?? 0) < w.seq) latest.set(w.slot, w);
    for (const w of latest.values()) {
      const rec = bySeq.get(w.seq);
      if (rec && existsSync(join(runDir, `l${w.slot}`))) host.wait(s.jobId, w.seq, w.slot, rec);
    }
    if (stillRunning(s.pid, s.startTime)) {
      host.adopt(s);
      refuseLostCalls(s.jobId, runDir, since, host, lostCallGraceMs);
      adopted++;
    } else {
      host.ended(s.jobId);
      ended++;
    }
  }
  if (adopted + ended > 0) host.log(`re-adopted ${adopted} running job(s) of the earlier agent; ${ended} ended while it was down`);
  return { adopted, ended };
}

/**
 * Watches re-adopted jobs (not this agent's children, so no exit event comes): every
 * `everyMs` (default 100) it checks each one's pid and start time, and calls `onGone` once.
 */
export class ExitWatch {
  private readonly watched = new Map<string, { pid: number; startTime: string; onGone: () => void }>();
  private timer?: NodeJS.Timeout;
  constructor(private readonly everyMs = 100) {}

  watch(jobId: string, pid: number, startTime: string, onGone: () => void): void {
    this.watched.set(jobId, { pid, startTime, onGone });
    this.timer ??= setInterval(() => this.check(), this.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  private check(): void {
    for (const [id, w] of this.watched) {
      if (stillRunning(w.pid, w.startTime)) continue;
      this.watched.delete(id);
      w.onGone();
    }
    if (this.watched.size === 0) this.stop();
  }
}
