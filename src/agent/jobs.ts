/**
 * Workflow jobs on the node, beside lifecycle steps: each job is one try of a task, a script run
 * in its own process group (its pid is its ECF_RID), with its output kept per try, and a fast
 * channel for its child commands that costs a few milliseconds per call (no Node start).
 *
 * Layout under the sandbox:
 *   jobs/bin/nubis                       the POSIX sh shim, first on every job's PATH
 *   jobs/bin/bash-env                    sourced by bash jobs (BASH_ENV): sets ECF_RID
 *   jobs/out/<workflow>/<path>.job<N>     the job script of try N (ecFlow's `.job1`)
 *   jobs/out/<workflow>/<path>.<N>        its combined stdout+stderr (ecFlow's `.1`), kept
 *   jobs/run/<k>/ch                       the job's channel FIFO (removed when the job exits)
 *   jobs/run/<k>/r0…r7, l0…l7            its reply FIFOs, and the lock of the call waiting on each
 *                                        (a run directory goes back to the spares after its job
 *                                        when nothing can still use it: FIFOs are made once)
 *
 * The channel: the shim writes one record per call to the job's FIFO in a single write of less
 * than PIPE_BUF bytes (so concurrent calls from one job never interleave): seven fields
 * separated by 0x1f and ended by 0x1e and a newline — reply FIFO (empty: no answer wanted),
 * ECF_NAME, ECF_PASS, ECF_TRYNO, ECF_RID of the calling process, the verb argument and the rest
 * of the arguments joined by spaces. For `--init`, `--complete`, `--abort` and `--wait` the shim
 * first takes one of the job's eight reply slots (creating its lock file `l<i>` with noclobber by
 * `true >file`, a builtin, no fork — not `:`, a special builtin whose failed redirection would
 * end the shell; when all eight are taken it retries every 10 ms), opens that slot's
 * reply FIFO `r<i>`, then blocks reading one line: `ok` or `refused <why>`, written by the
 * agent once the control plane answered (so ordering holds: nothing the job does after
 * `--complete` returns can overtake it); the agent removes the lock after answering (the next
 * call of the same caller takes another free slot meanwhile). Event, meter and label calls do not wait.
 * Only shell builtins run in the shim, apart from its own start. Outside an agent job (no
 * channel), the shim runs the real Node CLI.
 *
 * Bash jobs do not start the shim at all: their environment carries a `nubis` shell function
 * that sends the same record over a loopback TCP connection to the agent's job port (bash's
 * /dev/tcp, no fork, no lock file; ./job-port.ts). Before a job-port record is taken, what the
 * job's FIFO holds is read, so calls from a sh child of the job and from bash keep their order.
 * Job processes are started by a resident launcher (./launcher.ts; else spawner threads,
 * ./spawner.ts) that also writes the script and creates the output file: the agent never forks
 * itself per job, and its event loop never waits for a fork+exec or the disk.
 *
 * Every record goes into one ordered feed with sequence numbers, read by the control plane with
 * a long poll that answers as soon as a record arrives; when a job's process exits the feed gets
 * an `exited` record after everything the job wrote before it. What the job's script left
 * running in its process group when it exits is killed (a try is over when its script ends).
 *
 * Jobs outlive their agent: the agent saves what it needs of each running job under
 * `jobs/state/` (./job-state.ts); a restarted agent keeps the feed's epoch and seqs, re-adopts
 * the jobs still alive and reports the exit of the ones that ended meanwhile (`restore`,
 * ./job-restore.ts), so the control plane sees each job end once. What jobs of an earlier agent
 * it cannot re-adopt it kills (`reapOrphans`); the control plane counts those lost (and retries
 * them per ECF_TRIES).
 *
 * Limits: the feed keeps the latest `feedKeep` records (default 20,000).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync, chmodSync, closeSync, constants as fsConstants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync,
  renameSync, rmSync, unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { parseChildArgs } from './child-args.js';
import { ExitWatch, restoreJobs, savedJobOf, stillRunning, type RestoreHost } from './job-restore.js';
import { openJobState, type ChildRecord } from './job-state.js';
import { findProcessesByEnv, findProcessGroup, listProcesses, processStartTime, readEnviron, terminate } from './proc.js';
import { BASH_FUNCTION, BASH_FUNCTION_ENV, startJobPort, type JobPort, type PortReply } from './job-port.js';
import { createJobSpawner } from './launcher.js';
import type { Spawner } from './spawner.js';
import type { JobAnswer, JobCaller, JobChildCommand, JobFeed, JobFeedRecord, JobInfo, JobRequest, JobStatusList } from './protocol.js';

/** Set in every job's environment: the job's id (also how its leftover processes are found). */
export const JOB_ID_ENV = 'NUBIS_JOB_ID';

export interface JobRunnerOptions {
  sandbox: string;
  nodeId: string;
  /** Between SIGTERM and SIGKILL when killing a job's process group. Default 2000. */
  killGraceMs?: number;
  /** Feed records kept. Default 20,000. */
  feedKeep?: number;
  /** What the shim runs outside an agent job: `[node, cli main]`. Default this install's CLI. */
  cli?: readonly string[];
  /** Threads that start job processes (./spawner.ts). Default SPAWN_THREADS. */
  spawnThreads?: number;
  log?: (line: string) => void;
}

export interface JobRunner {
  readonly epoch: string;
  /** Starts the job (or finds it by jobId) and returns once it was launched. */
  run(req: JobRequest): Promise<JobInfo>;
  /** Kills the job's process group; false when the job is unknown. */
  kill(jobId: string): Promise<boolean>;
  status(): JobStatusList;
  feed(after: number, waitMs: number, signal?: AbortSignal): Promise<JobFeed>;
  answer(answers: readonly JobAnswer[]): void;
  /** A try's output; undefined when there is none. */
  logs(job: string | { workflow: string; path: string; tryNo: number }): string | undefined;
  /**
   * Re-adopts the jobs an earlier agent of this sandbox saved: the ones still alive are read and
   * watched again, the ones that ended meanwhile get their `exited` record (./job-restore.ts).
   * Call once, before `reapOrphans` and before any `run`.
   */
  restore(): Promise<{ adopted: number; ended: number }>;
  /**
   * Kills what jobs of an earlier agent of this node left running (they cannot report to this
   * one; the control plane sees the new epoch and counts them lost). Resolves with their number.
   */
  reapOrphans(): Promise<number>;
  /** With `killJobs`, kills every running job; without, leaves them (and their saved state) to the next agent. Stops feed waits either way. */
  close(killJobs: boolean): Promise<void>;
}

interface Job {
  req: JobRequest;
  info: JobInfo;
  runDir: string;
  channel: string;
  /** The reply FIFOs (a waiting caller holds the lock `l<i>` of the one it reads). */
  replies: string[];
  /** What a bash job's `nubis` function sends first on the job port (./bash-shim.ts). */
  key: string;
  outFile: string;
  socket?: Socket;
  /** The channel's descriptor (the socket's), read directly to drain it before a job-port call. */
  channelFd?: number;
  buffer: string;
  decoder: StringDecoder;
  /** Latest event/meter/label record by `verb:name`. */
  latest: Map<string, ChildRecord>;
  timer?: NodeJS.Timeout;
  /** The process's start time (/proc/<pid>/stat): with the pid, what a restarted agent re-adopts. */
  startTime?: string;
  /** Something a restarted agent needs changed since the job's state was saved. */
  dirty?: boolean;
  /** Taken over from an earlier agent: its pid may be reused once it is gone (never signal its group then). */
  adopted?: boolean;
}

interface Pending {
  jobId: string;
  /** Answers the waiting caller (its reply FIFO, or its job-port connection). */
  send(text: string): void;
  record?: ChildRecord;
  /** The caller's reply FIFO slot; undefined: it waits on a job-port connection. */
  slot?: number;
}

const FIELD = '\x1f';
const RECORD = '\x1e\n';
const MAX_RECORD = 4096;
const MAX_FEED_BATCH = 1000;
const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Why a re-adopted job's exit status is unknown (it is not this agent's child). */
const UNKNOWN_EXIT = 'the job ended without an exit status this agent could see (it was re-adopted after an agent restart, or ended while no agent ran)';

/** The verbs whose caller waits for the control plane's answer (the shim's `case`). */
const WAITING_RE = /^--(init|complete|abort|wait)/;

/**
 * The script's `#!` interpreter and its optional argument, as the kernel reads them (none:
 * /bin/sh). A job runs its interpreter on the script rather than exec'ing the script: the
 * script was just written, and a fork on another spawner thread can hold its descriptor open
 * until that child's exec, which would fail an exec of the script itself with ETXTBSY; an
 * interpreter only reads it.
 */
export function interpreterOf(script: string): { file: string; arg?: string } {
  const m = /^#![ \t]*(\S+)(?:[ \t]+([^\n]*?))?[ \t]*\r?(?:\n|$)/.exec(script);
  if (!m) return { file: '/bin/sh' };
  return m[2] ? { file: m[1]!, arg: m[2] } : { file: m[1]! };
}

/**
 * Sourced by a bash job before its script (BASH_ENV): sets ECF_RID to the job's own pid (what
 * the /bin/sh wrapper does for other interpreters, without a second process start), then
 * hands over to the job's own BASH_ENV, if it had one.
 */
const BASH_ENV_TEXT = `# written by the Nubis agent: sourced by bash jobs at start (BASH_ENV); do not edit
ECF_RID=$$; export ECF_RID
if [ -n "\${NUBIS_BASH_ENV-}" ]; then BASH_ENV=$NUBIS_BASH_ENV; unset NUBIS_BASH_ENV; . "$BASH_ENV"; else unset BASH_ENV; fi
`;

/** Where drainChannel reads (one for the process: the reads are synchronous). */
const drainBuffer = Buffer.alloc(65536);

/** The index of the first record with a seq above `after` (seqs ascend), -1 when none. */
function firstAfter(feed: readonly JobFeedRecord[], after: number): number {
  let lo = 0;
  let hi = feed.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (feed[mid]!.seq > after) hi = mid;
    else lo = mid + 1;
  }
  return lo < feed.length ? lo : -1;
}

/** True when some process is left in process group `pgid` (after its leader exited). */
function groupAlive(pgid: number | undefined): boolean {
  if (pgid === undefined) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}


/** The shim's text: a POSIX sh program that costs two or three forks per call. */
export function shimText(cli: readonly string[]): string {
  return `#!/bin/sh
# nubis — the Nubis agent's child-command client for jobs (written by the agent; do not edit).
# Inside an agent job it talks to the agent over the job's FIFO; elsewhere it runs the Nubis CLI.
if [ "\${1-}" = child ] && [ -n "\${NUBIS_JOB_CHANNEL-}" ] && [ -p "$NUBIS_JOB_CHANNEL" ]; then
  shift
  [ -n "\${NO_ECF+x}" ] && exit 0
  a1=\${1-}
  [ $# -gt 0 ] && shift
  IFS=' '
  rest="$*"
  r=
  case $a1 in
    --init*|--complete*|--abort*|--wait*)
      set -C
      while :; do
        for i in 0 1 2 3 4 5 6 7; do
          if { true >"$NUBIS_JOB_DIR/l$i"; } 2>/dev/null; then r="$NUBIS_JOB_DIR/r$i"; break 2; fi
        done
        [ -p "$NUBIS_JOB_DIR/r0" ] || { echo 'nubis child: the job'"'"'s reply channel is gone' >&2; exit 1; }
        sleep 0.01
      done
      set +C
      exec 3<>"$r" ;;
  esac
  printf '%s\\037%s\\037%s\\037%s\\037%s\\037%s\\037%s\\036\\n' "$r" "\${ECF_NAME-}" "\${ECF_PASS-}" "\${ECF_TRYNO-}" "\${ECF_RID-}" "$a1" "$rest" >"$NUBIS_JOB_CHANNEL" || exit 1
  [ -z "$r" ] && exit 0
  IFS= read -r ans <&3 || ans='refused the agent closed the reply channel'
  case $ans in ok*) exit 0 ;; esac
  printf 'nubis child: %s\\n' "\${ans#refused }" >&2
  exit 1
fi
exec ${cli.map(shq).join(' ')} "$@"
`;
}

function defaultCli(): string[] {
  return [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))];
}

const mkfifo = (...paths: string[]): Promise<void> =>
  new Promise((resolve, reject) => execFile('mkfifo', ['-m', '600', ...paths], (err) => (err ? reject(err) : resolve())));

/** The output file's stem for a task path, inside `jobs/out/<workflow>`. */
function outStem(sandbox: string, workflow: string, path: string): string {
  return join(sandbox, 'jobs', 'out', workflow, ...path.split('/').filter((p) => p !== ''));
}

export function createJobRunner(opts: JobRunnerOptions): JobRunner {
  const log = opts.log ?? (() => {});
  const killGraceMs = opts.killGraceMs ?? 2000;
  const keep = opts.feedKeep ?? 20_000;
  const root = join(opts.sandbox, 'jobs');
  const saved = openJobState(root, log);
  const epoch = saved.epoch;
  const binDir = join(root, 'bin');
  const runRoot = join(root, 'run');
  const jobs = new Map<string, Job>();
  const pending = new Map<number, Pending>();
  const feed: JobFeedRecord[] = [];
  let seq = saved.firstSeq;
  let runCount = 0;
  const exitWatch = new ExitWatch();
  let closed = false;
  let detached = false;
  const waiters = new Set<() => void>();
  const byKey = new Map<string, Job>();
  const spawner: Spawner = createJobSpawner({ ...(opts.spawnThreads === undefined ? {} : { threads: opts.spawnThreads }), log });
  // the job port, opened with the first job; undefined port: bash jobs use the FIFO shim too
  let jobPort: Promise<JobPort | undefined> | undefined;
  // `port`: the one an earlier agent's jobs know (a restarted agent listens there again if it can)
  let portNumber: number | undefined;
  const openJobPort = (port?: number): Promise<JobPort | undefined> => (jobPort ??= startJobPort({ onRecord: (k, t, r) => onPortRecord(k, t, r), maxRecord: MAX_RECORD, log, ...(port === undefined ? {} : { port }) }).then((p) => {
    portNumber = p.port;
    return p;
  }, (e: unknown) => {
    log(`no job port (bash jobs use the FIFO shim): ${(e as Error).message}`);
    return undefined;
  }));

  // Run directories with their FIFOs are made ahead, several per `mkfifo` (Node cannot make a
  // FIFO itself, and an exec per job would cost more than the job's start).
  const SLOTS = [0, 1, 2, 3, 4, 5, 6, 7];
  const fifosOf = (dir: string): string[] => [join(dir, 'ch'), ...SLOTS.map((i) => join(dir, `r${i}`))];
  const spare: string[] = [];
  let making: Promise<void> | undefined;
  const makeSpare = (n: number): Promise<void> => {
    making ??= (async () => {
      const dirs = Array.from({ length: n }, () => join(runRoot, `s${++runCount}`));
      for (const d of dirs) mkdirSync(d, { recursive: true });
      await mkfifo(...dirs.flatMap(fifosOf));
      spare.push(...dirs);
    })().finally(() => {
      making = undefined;
    });
    return making;
  };
  /** A fresh run directory's name; its FIFOs come with takeRunDir. */
  const nextRunDir = (): string => join(runRoot, String(++runCount));
  /** Moves a ready directory (channel and reply FIFOs) to `dir`. */
  const takeRunDir = async (dir: string): Promise<void> => {
    while (spare.length === 0) await makeSpare(8);
    renameSync(spare.shift()!, dir);
    if (spare.length < 4 && !making) void makeSpare(8).catch((e: unknown) => log(`cannot make job FIFOs: ${(e as Error).message}`));
  };
  const FIFO_NAMES = new Set(['ch', ...SLOTS.map((i) => `r${i}`)]);
  /**
   * After its job exited: a run directory nothing can still use (its process group is empty and
   * no caller holds a reply slot) goes back to the spares, its FIFOs kept (creating a file costs
   * up to a millisecond of kernel time on some disks: nine FIFOs and a directory per job were
   * most of a no-op job's cost); anything else is removed. Nothing carries over: a FIFO's data
   * goes when its last descriptor closes, and the agent's was closed before this.
   */
  const retireRunDir = (dir: string, groupEmpty: boolean): void => {
    try {
      const names = groupEmpty ? readdirSync(dir) : [];
      if (groupEmpty && names.length === FIFO_NAMES.size && names.every((n) => FIFO_NAMES.has(n))) {
        const back = join(runRoot, `s${++runCount}`);
        renameSync(dir, back);
        spare.push(back);
        return;
      }
    } catch {
      // fall through: remove it
    }
    rmSync(dir, { recursive: true, force: true });
  };

  mkdirSync(binDir, { recursive: true });
  // the earlier agent's jobs `restore` may take back (none under a new epoch); the other run
  // directories are stale channels nobody reads any more
  const earlier = saved.load();
  mkdirSync(runRoot, { recursive: true });
  const kept = new Set(earlier.map((j) => j.key));
  for (const d of readdirSync(runRoot)) if (!kept.has(d)) rmSync(join(runRoot, d), { recursive: true, force: true });
  for (const k of kept) if (/^[0-9]+$/.test(k)) runCount = Math.max(runCount, Number(k));
  const shim = join(binDir, 'nubis');
  writeFileSync(shim, shimText(opts.cli ?? defaultCli()), { mode: 0o755 });
  chmodSync(shim, 0o755);
  const bashEnv = join(binDir, 'bash-env');
  writeFileSync(bashEnv, BASH_ENV_TEXT);

  // Feed waiters are woken once per turn of the event loop, not per record: the records of one
  // poll phase (several jobs reporting at once) go out in one answer to the long poll.
  let waking: NodeJS.Immediate | undefined;
  const wake = (): void => {
    waking = undefined;
    for (const w of [...waiters]) w();
  };
  const push = (rec: JobFeedRecord): void => {
    feed.push(rec);
    if (feed.length > keep) feed.splice(0, feed.length - keep);
    if (waiters.size > 0) waking ??= setImmediate(wake);
  };
  const nextSeq = (): number => {
    saved.issue(seq + 1);
    return ++seq;
  };

  /** Saves what a restarted agent needs of the running job (./job-state.ts). */
  const persist = (job: Job): void => {
    job.dirty = false;
    if (job.info.state !== 'running' || job.info.pid === undefined || job.startTime === undefined) return;
    const waiting = [...pending.entries()].filter(([, p]) => p.jobId === job.req.jobId && p.record !== undefined)
      .map(([s, p]) => ({ seq: s, slot: p.slot ?? -1, record: p.record! }));
    saved.save(savedJobOf({
      key: basename(job.runDir), jobId: job.req.jobId, workflow: job.req.workflow, path: job.req.path, tryNo: job.req.tryNo,
      ...(job.req.timeoutMs === undefined ? {} : { timeoutMs: job.req.timeoutMs }),
      startedAt: job.info.startedAt, pid: job.info.pid, startTime: job.startTime, outFile: job.outFile, latest: job.latest.values(), waiting,
      ...(byKey.has(job.key) && portNumber !== undefined ? { portKey: job.key, port: portNumber } : {}),
    }));
  };

  /** The sender of an answer to a caller waiting on reply FIFO `slot` of the job; frees the slot after. */
  const fifoSender = (job: Job, slot: number) => (text: string): void => {
    try {
      const fd = openSync(job.replies[slot]!, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
      try {
        writeSync(fd, `${text.replace(/[\r\n]+/g, ' ')}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      // the caller is gone (ENXIO: no reader): nothing to tell
    }
    try {
      // the next waiting call of the job may go
      unlinkSync(join(job.runDir, `l${slot}`));
    } catch {
      // already removed
    }
  };

  /**
   * One record of the job: `fields` without the reply field; `send` answers the caller (undefined:
   * it waits for nothing); `waits`: the caller waits for the control plane's answer (else, with a
   * `send`, it gets `ok` once the record is in the feed).
   */
  const onRecord = (job: Job, f: string[], send: ((text: string) => void) | undefined, waits: boolean, slot?: number): void => {
    const at = Date.now();
    const invalid = (detail: string, why: string): void => {
      push({ seq: nextSeq(), jobId: job.req.jobId, kind: 'invalid', detail, at });
      send?.(`refused ${why}`);
    };
    if (f.length !== 6) return invalid(`malformed record of ${f.length + 1} fields`, 'malformed child command');
    const [name, password, tryText, rid, a1, rest] = f as [string, string, string, string, string, string];
    const args = [a1, ...(rest === '' ? [] : rest.split(' '))];
    const parsed = parseChildArgs(args);
    if (!parsed.ok) return invalid(parsed.why, parsed.why);
    const s = nextSeq();
    const tryNo = /^[0-9]{1,9}$/.test(tryText) ? Number(tryText) : -1;
    const caller: JobCaller = { name, password, tryNo };
    if (rid !== '') caller.rid = rid;
    const awaits = waits && send !== undefined;
    const rec: ChildRecord = { seq: s, jobId: job.req.jobId, kind: 'child', caller, command: parsed.command, awaitsAnswer: awaits, at };
    const c = parsed.command;
    if (c.verb === 'event' || c.verb === 'meter' || c.verb === 'label') job.latest.set(`${c.verb}:${c.name}`, rec);
    if (awaits) pending.set(s, { jobId: job.req.jobId, send: send!, record: rec, ...(slot === undefined ? {} : { slot }) });
    job.dirty = true;
    push(rec);
    if (!awaits) send?.('ok');
  };

  /** A FIFO record: its first field is the reply FIFO (only the job's own: never a path a job chose). */
  const onFifoRecord = (job: Job, text: string): void => {
    const [replyPath = '', ...f] = text.split(FIELD);
    const slot = job.replies.indexOf(replyPath);
    onRecord(job, f, slot >= 0 ? fifoSender(job, slot) : undefined, slot >= 0, slot >= 0 ? slot : undefined);
  };

  /** A job-port record of the job with `key`; what its FIFO holds goes first (calls keep their order). */
  const onPortRecord = (key: string, text: string, send: PortReply): void => {
    const job = byKey.get(key);
    if (!job || job.info.state !== 'running') return send('refused zombie: no running job of this agent has that key');
    drainChannel(job);
    const f = text.split(FIELD);
    onRecord(job, f, send, WAITING_RE.test(f[4] ?? ''));
    // before the feed's waiters answer (they resolve after this synchronous turn)
    if (job.dirty) persist(job);
  };

  /** Reads what the job's FIFO holds now, before the event loop would. */
  const drainChannel = (job: Job): void => {
    if (job.channelFd === undefined || !job.socket) return;
    const chunk = drainBuffer;
    for (;;) {
      let n: number;
      try {
        n = readSync(job.channelFd, chunk, 0, chunk.length, null);
      } catch {
        return; // EAGAIN: empty
      }
      if (n <= 0) return;
      onData(job, chunk.subarray(0, n));
    }
  };

  const onData = (job: Job, chunk: Buffer): void => {
    // a character may be split between chunks
    job.buffer += job.decoder.write(chunk);
    for (;;) {
      const end = job.buffer.indexOf(RECORD);
      if (end < 0) break;
      const text = job.buffer.slice(0, end);
      job.buffer = job.buffer.slice(end + RECORD.length);
      try {
        onFifoRecord(job, text);
      } catch (e) {
        log(`job ${job.req.jobId}: bad child record: ${(e as Error).message}`);
      }
    }
    // before the feed's waiters answer (they resolve after this synchronous turn)
    if (job.dirty) persist(job);
    if (job.buffer.length > MAX_RECORD * 4) {
      // no record end in sight: garbage on the channel
      job.buffer = '';
      push({ seq: nextSeq(), jobId: job.req.jobId, kind: 'invalid', detail: 'unterminated data on the channel was dropped', at: Date.now() });
    }
  };

  const killGroup = (job: Job): Promise<boolean> => {
    const pgid = job.info.pid;
    return terminate(() => {
      const procs = listProcesses();
      const set = new Set(findProcessesByEnv(JOB_ID_ENV, job.req.jobId, procs));
      // a re-adopted job's group only while its leader is the one saved (its pid is not reused)
      if (pgid !== undefined && (!job.adopted || stillRunning(pgid, job.startTime ?? ''))) for (const p of findProcessGroup(pgid, procs)) set.add(p);
      return set;
    }, killGraceMs);
  };

  const reapGroup = (pgid: number | undefined): void => {
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
    }, killGraceMs).unref();
  };

  const finish = (job: Job, code: number | null, signal: string | null, detail?: string): void => {
    // after close(false) the jobs belong to the next agent of the sandbox (it re-adopts them)
    if (job.info.state === 'exited' || detached) return;
    clearTimeout(job.timer);
    // two turns of the event loop: what the job wrote before exiting is read first
    setImmediate(() =>
      setImmediate(() => {
        job.socket?.destroy();
        job.socket = undefined;
        Object.assign(job.info, { state: 'exited', exitCode: code, signal, endedAt: Date.now() });
        for (const [s, p] of pending) {
          if (p.jobId !== job.req.jobId) continue;
          pending.delete(s);
          p.send('refused the job has exited');
        }
        push({ seq: nextSeq(), jobId: job.req.jobId, kind: 'exited', exitCode: code, signal, ...(detail === undefined ? {} : { detail }), at: Date.now() });
        saved.remove(basename(job.runDir));
        byKey.delete(job.key);
        job.channelFd = undefined;
        if (job.adopted) {
          // its pid may name another process by now: leftovers are found by the job id
          void terminate(() => findProcessesByEnv(JOB_ID_ENV, job.req.jobId), killGraceMs);
          rmSync(job.runDir, { recursive: true, force: true });
          return;
        }
        // leftovers of the try (background processes of its script still in its group); cheap:
        // no process-table scan on every exit
        const left = groupAlive(job.info.pid);
        if (left) reapGroup(job.info.pid);
        retireRunDir(job.runDir, !left);
      }),
    );
  };

  const launch = async (job: Job): Promise<void> => {
    const { req } = job;
    const stem = outStem(opts.sandbox, req.workflow, req.path);
    const [port] = await Promise.all([openJobPort(), takeRunDir(job.runDir)]);
    const scriptPath = `${stem}.job${req.tryNo}`;
    openChannel(job);

    const basePath = req.env['PATH'] ?? process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
    const env: Record<string, string> = {
      HOME: process.env['HOME'] ?? dirname(stem),
      ...req.env,
      PATH: `${binDir}:${basePath}`,
      NUBIS_NODE_ID: opts.nodeId,
      NUBIS_JOB_CHANNEL: job.channel,
      NUBIS_JOB_DIR: job.runDir,
      [JOB_ID_ENV]: req.jobId,
      ECF_TRYNO: req.env['ECF_TRYNO'] ?? String(req.tryNo),
      ECF_NAME: req.env['ECF_NAME'] ?? req.path,
    };
    if (port) {
      // bash jobs: `nubis` is a shell function talking to the job port (./job-port.ts)
      byKey.set(job.key, job);
      Object.assign(env, { NUBIS_JOB_PORT: String(port.port), NUBIS_JOB_KEY: job.key, [BASH_FUNCTION_ENV]: BASH_FUNCTION });
    }
    // ECF_RID is the job's own pid: bash sets it from BASH_ENV; for other interpreters a /bin/sh
    // wrapper sets it and execs the interpreter in place
    const interp = interpreterOf(req.script);
    const withArg = interp.arg === undefined ? [] : [interp.arg];
    let file = '/bin/sh';
    let args = ['-c', `ECF_RID=$$; export ECF_RID; exec ${[interp.file, ...withArg].map(shq).join(' ')} "$0"`, scriptPath];
    if (interp.file.startsWith('/') && interp.file.endsWith('/bash')) {
      file = interp.file;
      args = [...withArg, scriptPath];
      if (env['BASH_ENV'] !== undefined) env['NUBIS_BASH_ENV'] = env['BASH_ENV'];
      env['BASH_ENV'] = bashEnv;
    }
    // the script and a fresh output (a try number seen before, after a requeue, starts afresh)
    // are written by the spawner's thread, which also forks: nothing here waits for the disk
    job.info.pid = await spawner.start({
      file, args, cwd: dirname(stem), env, output: job.outFile,
      mkdirs: [dirname(stem)], files: [{ path: scriptPath, text: req.script, mode: 0o755 }],
      onExit: (code, signal) => finish(job, code, signal),
    });
    job.startTime = processStartTime(job.info.pid);
    persist(job);
    armTimeout(job);
  };

  /** Reads the job's channel FIFO (opened read-write: the agent never sees an end of file on it). */
  const openChannel = (job: Job): void => {
    const fd = openSync(job.channel, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    const socket = new Socket({ fd, readable: true, writable: false });
    socket.on('data', (c: Buffer) => onData(job, c));
    socket.on('error', (e) => log(`job ${job.req.jobId}: channel: ${e.message}`));
    job.socket = socket;
    job.channelFd = fd;
  };

  /** Kills the job once it has run `timeoutMs` from its start. */
  const armTimeout = (job: Job): void => {
    const ms = job.req.timeoutMs;
    if (ms === undefined) return;
    job.timer = setTimeout(() => {
      appendFileSync(job.outFile, `nubis-agent: the job ran longer than ${ms} ms; killing it\n`);
      void killGroup(job);
    }, Math.max(0, job.info.startedAt + ms - Date.now()));
  };

  const newJob = (req: JobRequest, runDir: string, outFile: string, startedAt: number, key = randomBytes(16).toString('hex')): Job => ({
    req,
    info: { jobId: req.jobId, workflow: req.workflow, path: req.path, tryNo: req.tryNo, state: 'running', startedAt },
    runDir,
    channel: join(runDir, 'ch'),
    replies: SLOTS.map((i) => join(runDir, `r${i}`)),
    key,
    outFile,
    buffer: '',
    decoder: new StringDecoder('utf8'),
    latest: new Map(),
  });

  /** What `restore` does with this runner's insides (./job-restore.ts). */
  const restoreHost: RestoreHost = {
    runDirOf: (key) => join(runRoot, key),
    register(s) {
      const req: JobRequest = { jobId: s.jobId, workflow: s.workflow, path: s.path, tryNo: s.tryNo, script: '', env: {}, ...(s.timeoutMs === undefined ? {} : { timeoutMs: s.timeoutMs }) };
      const job = newJob(req, join(runRoot, s.key), s.outFile, s.startedAt, s.portKey);
      Object.assign(job.info, { pid: s.pid });
      job.startTime = s.startTime;
      job.adopted = true;
      for (const r of s.records) {
        const c = r.command;
        if (c.verb === 'event' || c.verb === 'meter' || c.verb === 'label') job.latest.set(`${c.verb}:${c.name}`, r);
      }
      jobs.set(s.jobId, job);
    },
    refeed(records) {
      feed.push(...records);
      feed.sort((a, b) => a.seq - b.seq);
    },
    wait(jobId, s, slot, record) {
      const job = jobs.get(jobId)!;
      pending.set(s, { jobId, send: fifoSender(job, slot), record, slot });
    },
    adopt(s) {
      const job = jobs.get(s.jobId)!;
      openChannel(job);
      armTimeout(job);
      if (s.portKey !== undefined) byKey.set(s.portKey, job);
      exitWatch.watch(s.jobId, s.pid, s.startTime, () => finish(job, null, null, UNKNOWN_EXIT));
    },
    ended(jobId) {
      finish(jobs.get(jobId)!, null, null, UNKNOWN_EXIT);
    },
    waitingSlots(jobId) {
      return new Set([...pending.values()].flatMap((p) => (p.jobId === jobId && p.slot !== undefined ? [p.slot] : [])));
    },
    refuse(jobId, slot, why) {
      const job = jobs.get(jobId);
      if (job?.info.state === 'running') fifoSender(job, slot)(`refused ${why}`);
    },
    log,
  };

  return {
    epoch,

    async run(req) {
      if (closed) throw new Error('the agent is stopping');
      const existing = jobs.get(req.jobId);
      if (existing) return { ...existing.info };
      const job = newJob(req, nextRunDir(), `${outStem(opts.sandbox, req.workflow, req.path)}.${req.tryNo}`, Date.now());
      jobs.set(req.jobId, job);
      try {
        await launch(job);
      } catch (e) {
        const msg = `nubis-agent: cannot start the job: ${(e as Error).message}\n`;
        try {
          mkdirSync(dirname(job.outFile), { recursive: true });
          appendFileSync(job.outFile, msg);
        } catch {
          // nowhere to write it: the feed record says it
        }
        job.socket?.destroy();
        finish(job, null, null);
      }
      return { ...job.info };
    },

    async kill(jobId) {
      const job = jobs.get(jobId);
      if (!job) return false;
      if (job.info.state === 'running') await killGroup(job);
      return true;
    },

    status() {
      return {
        epoch, last: seq,
        jobs: [...jobs.values()].map((j) => ({ ...j.info, ...(j.latest.size > 0 ? { latest: [...j.latest.values()].map((r) => ({ caller: r.caller, command: r.command })) } : {}) })),
        pending: [...pending.values()].flatMap((p) => (p.record ? [p.record] : [])),
      };
    },

    feed(after, waitMs, signal) {
      const collect = (): JobFeed => {
        const from = firstAfter(feed, after);
        const records = from < 0 ? [] : feed.slice(from, from + MAX_FEED_BATCH);
        return { epoch, records, last: records.length > 0 ? records[records.length - 1]!.seq : Math.max(after, 0), oldest: feed[0]?.seq ?? seq + 1 };
      };
      const now = collect();
      if (now.records.length > 0 || waitMs <= 0 || closed || after > seq) return Promise.resolve(now);
      return new Promise<JobFeed>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve(collect());
        };
        const timer = setTimeout(done, waitMs);
        waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    },

    answer(answers) {
      for (const a of answers) {
        const p = pending.get(a.seq);
        if (!p) continue;
        pending.delete(a.seq);
        p.send(a.ok ? 'ok' : `refused ${a.why ?? 'refused by the control plane'}`);
      }
    },

    logs(job) {
      let file: string;
      if (typeof job === 'string') {
        const j = jobs.get(job);
        if (!j) return undefined;
        file = j.outFile;
      } else file = `${outStem(opts.sandbox, job.workflow, job.path)}.${job.tryNo}`;
      return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    },

    async restore() {
      // the job port where re-adopted bash jobs call (the earlier agent's)
      const port = earlier.find((j) => j.port !== undefined)?.port;
      if (port !== undefined) {
        const p = await openJobPort(port);
        if (p?.port !== port) log(`the job port ${port} of the earlier agent is taken: its bash jobs cannot report`);
      }
      const r = restoreJobs(earlier, restoreHost);
      earlier.length = 0;
      return r;
    },

    async reapOrphans() {
      const mine = (): number[] => listProcesses()
        .filter((p) => p.pid !== process.pid)
        .filter((p) => {
          const env = readEnviron(p.pid);
          const id = env?.get(JOB_ID_ENV);
          return id !== undefined && env?.get('NUBIS_NODE_ID') === opts.nodeId && jobs.get(id)?.info.state !== 'running';
        })
        .map((p) => p.pid);
      const found = mine().length;
      if (found > 0) {
        log(`killing ${found} process(es) of jobs of an earlier agent`);
        await terminate(mine, killGraceMs);
      }
      return found;
    },

    async close(killJobs) {
      closed = true;
      detached = !killJobs;
      exitWatch.stop();
      for (const w of [...waiters]) w();
      if (killJobs) await Promise.all([...jobs.values()].filter((j) => j.info.state === 'running').map((j) => killGroup(j)));
      for (const j of jobs.values()) {
        clearTimeout(j.timer);
        j.socket?.destroy();
      }
      saved.close();
      await spawner.close();
      await (await jobPort)?.close();
    },
  };
}
