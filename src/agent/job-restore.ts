/**
 * Workflow jobs outlive their agent: a restarted agent re-adopts the ones whose processes are
 * still alive (./jobs.ts calls in here; what is saved is ./job-state.ts).
 *
 * The wrapper. Every job runs as `/bin/sh -c WRAPPER <script> <exit file>` in a session and
 * process group of its own (the wrapper's pid is the job's pid and group id). The wrapper runs the
 * script as its child (whose pid is ECF_RID, the script's `$$`), writes the script's exit status to `jobs/run/<k>/exit` and exits with it — or, for a
 * status above 128 that names a signal, kills itself with that signal, so the agent that started
 * it sees from the kernel what a script run in its place would have shown. A re-adopted job is
 * not the restarted agent's child: the agent watches its pid (with the start time, so a later
 * process given the same pid is not taken for it) and, once it is gone, reads the exit file.
 * A job whose wrapper left no exit file (it was killed by a signal) exits with an unknown
 * status; the control plane counts it lost unless it reported complete or abort.
 *
 * Re-adopting. A job whose process is alive is taken back as it was: its channel is read
 * again (a call made while no agent was running waits in the shim's open of the channel until
 * the new agent opens it), its timeout goes on from its start, its calls still waiting for an
 * answer (their reply slot still locked) wait again under their seqs, and its saved records go
 * back into the feed under their seqs — the control plane, which goes on reading the same feed
 * (same epoch, its cursor), takes only the ones after its cursor, so nothing is handled twice. A
 * job whose process died while the agent was down gets the same records and then its `exited`
 * record, with the exit file's status (0 when the script ended normally, say after reporting
 * complete). Limits: a call the old agent read from the channel but had not saved yet when it
 * was killed (a window of one synchronous write) is lost; its reply slot is found locked with
 * nothing waiting on it, and once it still is `lostCallGraceMs` after the re-adoption (a call
 * blocked in opening the channel while no agent ran has arrived by then) its caller is refused,
 * so the job fails rather than hangs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { ChildRecord, SavedJob } from './job-state.js';
import { processStartTime } from './proc.js';

/** The wrapper's `sh -c` text (`$0` the job script, `$1` the exit file). */
export function jobWrapper(scriptHasShebang: boolean): string {
  const run = scriptHasShebang ? '"$0"' : '/bin/sh "$0"';
  // the subshell reads its own pid with a builtin (no fork) and becomes the script: ECF_RID is the script's $$
  return `(read -r ECF_RID _ </proc/self/stat; export ECF_RID; exec ${run}); r=$?; echo $r >"$1"; ` +
    'if [ $r -gt 128 ] && s=$(kill -l $r 2>/dev/null); then kill -s "$s" $$; fi; exit $r';
}

/** How a job's process ended. `detail` says why the status is unknown. */
export interface JobExit {
  exitCode: number | null;
  signal: string | null;
  detail?: string;
}

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));

/** The exit a job's wrapper wrote: a status above 128 that names a signal is that signal, as a parent would see it. */
export function readExitFile(file: string): JobExit {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return { exitCode: null, signal: null, detail: 'the job ended without an exit status (its wrapper was killed, or it ended while the agent was down and could not say)' };
  }
  if (!/^[0-9]{1,3}$/.test(text)) return { exitCode: null, signal: null, detail: `the job's exit file holds ${JSON.stringify(text.slice(0, 40))}, not an exit status` };
  const code = Number(text);
  const signal = code > 128 ? SIGNAL_NAMES.get(code - 128) : undefined;
  return signal ? { exitCode: null, signal } : { exitCode: code, signal: null };
}

/** True while the saved process (pid and start time) is alive. */
export function stillRunning(pid: number, startTime: string): boolean {
  return processStartTime(pid) === startTime;
}

/** What a restarted agent needs of a live job, from the job's state. */
export function savedJobOf(j: {
  key: string; jobId: string; workflow: string; path: string; tryNo: number; timeoutMs?: number; startedAt: number;
  pid: number; startTime: string; outFile: string; latest: Iterable<ChildRecord>; waiting: Iterable<{ seq: number; slot: number; record: ChildRecord }>;
}): SavedJob {
  const waiting = [...j.waiting];
  const records = [...j.latest, ...waiting.map((w) => w.record)].sort((a, b) => a.seq - b.seq);
  return {
    v: 1, key: j.key, jobId: j.jobId, workflow: j.workflow, path: j.path, tryNo: j.tryNo,
    ...(j.timeoutMs === undefined ? {} : { timeoutMs: j.timeoutMs }),
    startedAt: j.startedAt, pid: j.pid, startTime: j.startTime, outFile: j.outFile, records,
    waiting: waiting.map((w) => ({ seq: w.seq, slot: w.slot })),
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
  /** The job's process is gone: its `exited` record. */
  ended(jobId: string, exit: JobExit): void;
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
    for (const w of s.waiting) if ((latest.get(w.slot)?.seq ?? 0) < w.seq) latest.set(w.slot, w);
    for (const w of latest.values()) {
      const rec = bySeq.get(w.seq);
      if (rec && existsSync(join(runDir, `l${w.slot}`))) host.wait(s.jobId, w.seq, w.slot, rec);
    }
    if (stillRunning(s.pid, s.startTime)) {
      host.adopt(s);
      refuseLostCalls(s.jobId, runDir, since, host, lostCallGraceMs);
      adopted++;
    } else {
      host.ended(s.jobId, readExitFile(join(runDir, 'exit')));
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
