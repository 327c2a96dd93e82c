/**
 * Workflow jobs on the node, beside lifecycle steps: each job is one try of a task, a script run
 * in its own process group (its pid is its ECF_RID), with its output kept per try, and a fast
 * channel for its child commands that costs a few milliseconds per call (no Node start).
 *
 * Layout under the sandbox:
 *   jobs/bin/nubis                       the POSIX sh shim, first on every job's PATH (./job-shim.ts)
 *   jobs/bin/bash-env                    sourced by bash jobs (BASH_ENV): sets ECF_RID
 *   jobs/bin/agent.pid                   the agent's pid while it runs (the shim's ECF_DENIED)
 *   jobs/out/<workflow>/<path>.<N>        the combined stdout+stderr of try N (ecFlow's `.1`), kept
 *   jobs/run/<k>/                         the run directory of a running job (./job-rundirs.ts):
 *                                        its channel FIFO `ch`, its reply FIFOs `r0…r7` with their
 *                                        locks `l<i>` (./job-channel.ts), its script `job`, read
 *                                        by its interpreter (the script is the control plane's: it
 *                                        generated it, ECF_JOB)
 *   jobs/state/                          what a restarted agent re-adopts (./job-state.ts)
 *
 * Bash jobs do not start the shim at all: their environment carries a `nubis` shell function
 * that sends the same record over a loopback TCP connection to the agent's job port (bash's
 * /dev/tcp, no fork, no lock file; ./job-port.ts). Before a job-port record is taken, what the
 * job's FIFO holds is read, so calls from a sh child of the job and from bash keep their order.
 * Job processes are started by a resident launcher (./launcher.ts; else spawner threads,
 * ./spawner.ts) that also writes the script and creates the output file: the agent never forks
 * itself per job, and its event loop never waits for a fork+exec or the disk.
 *
 * Every record goes into one ordered feed with sequence numbers (./job-feed.ts), read by the
 * control plane with a long poll that answers as soon as a record arrives; when a job's process
 * exits the feed gets an `exited` record after everything the job wrote before it. What the
 * job's script left running in its process group when it exits is killed (a try is over when
 * its script ends).
 *
 * Jobs outlive their agent: the agent saves what it needs of each running job under
 * `jobs/state/`; a restarted agent keeps the feed's epoch and seqs, re-adopts the jobs still
 * alive and reports the exit of the ones that ended meanwhile (`restore`, ./job-restore.ts), so
 * the control plane sees each job end once. What jobs of an earlier agent it cannot re-adopt it
 * kills (`reapOrphans`); the control plane counts those lost (and retries them per ECF_TRIES).
 *
 * Limits: the feed keeps the latest `feedKeep` records (default 20,000).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseChildArgs } from './child-args.js';
import { closeChannel, drainChannel, MAX_RECORD, newChannel, openChannel, replySender, takeRecords, type Channel } from './job-channel.js';
import { jobSpawnSpec, outStem } from './job-exec.js';
import { JobFeedLog } from './job-feed.js';
import { groupAlive, killByJobId, killJobProcesses, reapGroup, reapOrphanJobs } from './job-kill.js';
import { startJobPort, UNKNOWN_KEY, type JobPort, type PortReply } from './job-port.js';
import { ExitWatch, restoreJobs, savedJobOf, type RestoreHost } from './job-restore.js';
import { RunDirs } from './job-rundirs.js';
import { BASH_ENV_TEXT, FIELD, shimText, WAITING_RE } from './job-shim.js';
import { openJobState, type ChildRecord } from './job-state.js';
import { createJobSpawner } from './launcher.js';
import { processStartTime } from './proc.js';
import type { Spawner } from './spawner.js';
import type { JobCaller, JobInfo, JobRequest } from './protocol.js';
import type { JobRunner, JobRunnerOptions } from './job-runner.js';

export { JOB_ID_ENV } from './job-exec.js';
export type { JobRunner, JobRunnerOptions } from './job-runner.js';

interface Job {
  req: JobRequest;
  info: JobInfo;
  ch: Channel;
  /** What a bash job's `nubis` function sends first on the job port (./job-port.ts). */
  key: string;
  outFile: string;
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

/** Why a re-adopted job's exit status is unknown (it is not this agent's child). */
const UNKNOWN_EXIT = 'the job ended without an exit status this agent could see (it was re-adopted after an agent restart, or ended while no agent ran)';

function defaultCli(): string[] {
  return [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))];
}

export function createJobRunner(opts: JobRunnerOptions): JobRunner {
  const log = opts.log ?? (() => {});
  const killGraceMs = opts.killGraceMs ?? 2000;
  const root = join(opts.sandbox, 'jobs');
  const saved = openJobState(root, log);
  const epoch = saved.epoch;
  const binDir = join(root, 'bin');
  const jobs = new Map<string, Job>();
  const pending = new Map<number, Pending>();
  const feed = new JobFeedLog(epoch, saved, opts.feedKeep ?? 20_000);
  const exitWatch = new ExitWatch();
  let closed = false;
  let detached = false;
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

  mkdirSync(binDir, { recursive: true });
  // the earlier agent's jobs `restore` may take back (none under a new epoch); the other run
  // directories are stale channels nobody reads any more
  const earlier = saved.load();
  const runDirs = new RunDirs(join(root, 'run'), new Set(earlier.map((j) => j.key)), log);
  const shim = join(binDir, 'nubis');
  writeFileSync(shim, shimText(opts.cli ?? defaultCli()), { mode: 0o755 });
  chmodSync(shim, 0o755);
  const bashEnv = join(binDir, 'bash-env');
  writeFileSync(bashEnv, BASH_ENV_TEXT);
  // which agent reads the channels now (the shim's ECF_DENIED check)
  const pidFile = join(binDir, 'agent.pid');
  writeFileSync(pidFile, `${process.pid}\n`);

  /** Saves what a restarted agent needs of the running job (./job-state.ts). */
  const persist = (job: Job): void => {
    job.dirty = false;
    if (job.info.state !== 'running' || job.info.pid === undefined || job.startTime === undefined) return;
    const waiting = [...pending.entries()].filter(([, p]) => p.jobId === job.req.jobId && p.record !== undefined)
      .map(([s, p]) => ({ seq: s, slot: p.slot ?? -1, record: p.record! }));
    saved.save(savedJobOf({
      key: basename(job.ch.runDir), jobId: job.req.jobId, workflow: job.req.workflow, path: job.req.path, tryNo: job.req.tryNo,
      ...(job.req.timeoutMs === undefined ? {} : { timeoutMs: job.req.timeoutMs }),
      startedAt: job.info.startedAt, pid: job.info.pid, startTime: job.startTime, outFile: job.outFile, latest: job.latest.values(), waiting,
      ...(byKey.has(job.key) && portNumber !== undefined ? { portKey: job.key, port: portNumber } : {}),
    }));
  };

  /**
   * One record of the job: `fields` without the reply field; `send` answers the caller (undefined:
   * it waits for nothing); `waits`: the caller waits for the control plane's answer (else, with a
   * `send`, it gets `ok` once the record is in the feed).
   */
  const onRecord = (job: Job, f: string[], send: ((text: string) => void) | undefined, waits: boolean, slot?: number): void => {
    const at = Date.now();
    const invalid = (detail: string, why: string): void => {
      feed.push({ seq: feed.nextSeq(), jobId: job.req.jobId, kind: 'invalid', detail, at });
      send?.(`refused ${why}`);
    };
    if (f.length !== 6) return invalid(`malformed record of ${f.length + 1} fields`, 'malformed child command');
    const [name, password, tryText, rid, a1, rest] = f as [string, string, string, string, string, string];
    const parsed = parseChildArgs([a1, ...(rest === '' ? [] : rest.split(' '))]);
    if (!parsed.ok) return invalid(parsed.why, parsed.why);
    const s = feed.nextSeq();
    const tryNo = /^[0-9]{1,9}$/.test(tryText) ? Number(tryText) : -1;
    const caller: JobCaller = { name, password, tryNo };
    if (rid !== '') caller.rid = rid;
    const awaits = waits && send !== undefined;
    const rec: ChildRecord = { seq: s, jobId: job.req.jobId, kind: 'child', caller, command: parsed.command, awaitsAnswer: awaits, at };
    const c = parsed.command;
    if (c.verb === 'event' || c.verb === 'meter' || c.verb === 'label') job.latest.set(`${c.verb}:${c.name}`, rec);
    if (awaits) pending.set(s, { jobId: job.req.jobId, send: send!, record: rec, ...(slot === undefined ? {} : { slot }) });
    job.dirty = true;
    feed.push(rec);
    if (!awaits) send?.('ok');
  };

  /** What arrived on the job's FIFO: each record's first field is its reply FIFO (only the job's own: never a path a job chose). */
  const onChunk = (job: Job, chunk: Buffer): void => {
    const dropped = takeRecords(job.ch, chunk, (text) => {
      try {
        const [replyPath = '', ...f] = text.split(FIELD);
        const slot = job.ch.replies.indexOf(replyPath);
        onRecord(job, f, slot >= 0 ? replySender(job.ch, slot) : undefined, slot >= 0, slot >= 0 ? slot : undefined);
      } catch (e) {
        log(`job ${job.req.jobId}: bad child record: ${(e as Error).message}`);
      }
    });
    // before the feed's waiters answer (they resolve after this synchronous turn)
    if (job.dirty) persist(job);
    if (dropped) feed.push({ seq: feed.nextSeq(), jobId: job.req.jobId, kind: 'invalid', detail: 'unterminated data on the channel was dropped', at: Date.now() });
  };

  /** A job-port record of the job with `key`; what its FIFO holds goes first (calls keep their order). */
  const onPortRecord = (key: string, text: string, send: PortReply): void => {
    const job = byKey.get(key);
    // not ours (an agent restarted since the job started): the caller goes through its FIFO
    if (!job || job.info.state !== 'running') return send(UNKNOWN_KEY);
    drainChannel(job.ch, (c) => onChunk(job, c));
    const f = text.split(FIELD);
    onRecord(job, f, send, WAITING_RE.test(f[4] ?? ''));
    // before the feed's waiters answer (they resolve after this synchronous turn)
    if (job.dirty) persist(job);
  };

  const startChannel = (job: Job): void => openChannel(job.ch, (c) => onChunk(job, c), (e) => log(`job ${job.req.jobId}: channel: ${e.message}`));

  const killGroup = (job: Job): Promise<boolean> =>
    killJobProcesses(opts.nodeId, { jobId: job.req.jobId, ...(job.info.pid === undefined ? {} : { pgid: job.info.pid }), ...(job.adopted ? { adopted: true } : {}), ...(job.startTime === undefined ? {} : { startTime: job.startTime }) }, killGraceMs);

  const finish = (job: Job, code: number | null, signal: string | null, detail?: string): void => {
    // after close(false) the jobs belong to the next agent of the sandbox (it re-adopts them)
    if (job.info.state === 'exited' || detached) return;
    clearTimeout(job.timer);
    // two turns of the event loop: what the job wrote before exiting is read first
    setImmediate(() =>
      setImmediate(() => {
        closeChannel(job.ch);
        Object.assign(job.info, { state: 'exited', exitCode: code, signal, endedAt: Date.now() });
        for (const [s, p] of pending) {
          if (p.jobId !== job.req.jobId) continue;
          pending.delete(s);
          p.send('refused the job has exited');
        }
        feed.push({ seq: feed.nextSeq(), jobId: job.req.jobId, kind: 'exited', exitCode: code, signal, ...(detail === undefined ? {} : { detail }), at: Date.now() });
        saved.remove(basename(job.ch.runDir));
        byKey.delete(job.key);
        if (job.adopted) {
          // its pid may name another process by now: leftovers are found by the job id
          void killByJobId(opts.nodeId, job.req.jobId, killGraceMs);
          runDirs.retire(job.ch.runDir, false);
          return;
        }
        // leftovers of the try (background processes of its script still in its group)
        const left = groupAlive(job.info.pid);
        if (left) reapGroup(job.info.pid, killGraceMs);
        runDirs.retire(job.ch.runDir, !left);
      }),
    );
  };

  const launch = async (job: Job): Promise<void> => {
    const [port] = await Promise.all([openJobPort(), runDirs.take(job.ch.runDir)]);
    startChannel(job);
    if (port) byKey.set(job.key, job);
    // the launcher (or a spawner thread) writes the script and the output and forks: nothing
    // here waits for the disk or a fork
    job.info.pid = await spawner.start(jobSpawnSpec({
      req: job.req, sandbox: opts.sandbox, nodeId: opts.nodeId, binDir, bashEnv, runDir: job.ch.runDir, outFile: job.outFile,
      ...(port ? { port: { port: port.port, key: job.key } } : {}),
      onExit: (code, signal) => finish(job, code, signal),
    }));
    job.startTime = processStartTime(job.info.pid);
    persist(job);
    armTimeout(job);
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
    ch: newChannel(runDir),
    key,
    outFile,
    latest: new Map(),
  });

  /** What `restore` does with this runner's insides (./job-restore.ts). */
  const restoreHost: RestoreHost = {
    runDirOf: (key) => runDirs.dirOf(key),
    register(s) {
      const req: JobRequest = { jobId: s.jobId, workflow: s.workflow, path: s.path, tryNo: s.tryNo, script: '', env: {}, ...(s.timeoutMs === undefined ? {} : { timeoutMs: s.timeoutMs }) };
      const job = newJob(req, runDirs.dirOf(s.key), s.outFile, s.startedAt, s.portKey);
      Object.assign(job.info, { pid: s.pid });
      job.startTime = s.startTime;
      job.adopted = true;
      for (const r of s.records) {
        const c = r.command;
        if (c.verb === 'event' || c.verb === 'meter' || c.verb === 'label') job.latest.set(`${c.verb}:${c.name}`, r);
      }
      jobs.set(s.jobId, job);
    },
    refeed: (records) => feed.refeed(records),
    wait(jobId, s, slot, record) {
      const job = jobs.get(jobId)!;
      pending.set(s, { jobId, send: replySender(job.ch, slot), record, slot });
    },
    adopt(s) {
      const job = jobs.get(s.jobId)!;
      startChannel(job);
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
      if (job?.info.state === 'running') replySender(job.ch, slot)(`refused ${why}`);
    },
    log,
  };

  return {
    epoch,

    async run(req) {
      if (closed) throw new Error('the agent is stopping');
      const existing = jobs.get(req.jobId);
      if (existing) return { ...existing.info };
      const job = newJob(req, runDirs.next(), `${outStem(opts.sandbox, req.workflow, req.path)}.${req.tryNo}`, Date.now());
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
        closeChannel(job.ch);
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
        epoch, last: feed.last,
        jobs: [...jobs.values()].map((j) => ({ ...j.info, ...(j.latest.size > 0 ? { latest: [...j.latest.values()].map((r) => ({ caller: r.caller, command: r.command })) } : {}) })),
        pending: [...pending.values()].flatMap((p) => (p.record ? [p.record] : [])),
      };
    },

    feed: (after, waitMs, signal) => feed.read(after, waitMs, signal),

    answer(answers) {
      for (const a of answers) {
        const p = pending.get(a.seq);
        if (!p) continue;
        pending.delete(a.seq);
        p.send(a.ok ? (a.value === undefined ? 'ok' : `ok ${a.value}`) : `refused ${a.why ?? 'refused by the control plane'}`);
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

    reapOrphans: () => reapOrphanJobs(opts.nodeId, (id) => jobs.get(id)?.info.state === 'running', killGraceMs, log),

    async close(killJobs) {
      closed = true;
      detached = !killJobs;
      exitWatch.stop();
      feed.close();
      if (killJobs) await Promise.all([...jobs.values()].filter((j) => j.info.state === 'running').map((j) => killGroup(j)));
      for (const j of jobs.values()) {
        clearTimeout(j.timer);
        closeChannel(j.ch);
      }
      saved.close();
      rmSync(pidFile, { force: true });
      await spawner.close();
      await (await jobPort)?.close();
    },
  };
}
