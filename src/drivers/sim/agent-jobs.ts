/**
 * Workflow jobs on a simulated node, in memory and on the sim cloud's Clock (virtual time in
 * tests), deterministic. The script is not run: a sim job sends `--init` (its rid is a made-up
 * pid), waits for the answer, then after `NUBIS_SIM_SECONDS` of clock time (from the job's
 * environment; default 1) sends `--complete` — or `--abort` when `NUBIS_SIM_FAIL_TRY` equals
 * its try number — waits for the answer and exits 0. A refused (zombie) call makes it exit 1, as
 * a script under `set -e` would. With `NO_ECF` set it reports nothing. The feed, answers, kill
 * and per-try output behave as the real agent's (src/agent/jobs.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import type {
  JobAnswer, JobCaller, JobChildCommand, JobFeed, JobFeedRecord, JobInfo, JobRequest, JobStatusList,
} from '../../agent/index.js';

export interface SimJobs {
  readonly epoch: string;
  run(req: JobRequest): JobInfo;
  kill(jobId: string): boolean;
  status(): JobStatusList;
  feed(after: number, waitMs: number, signal: AbortSignal, answers?: readonly JobAnswer[]): Promise<JobFeed>;
  answer(answers: readonly JobAnswer[]): void;
  logs(job: string | { workflow: string; path: string; tryNo: number }): string;
  /** The node went away (reboot or delete): every job stops without a record. */
  close(): void;
}

interface SimJob {
  req: JobRequest;
  info: JobInfo;
  stop: AbortController;
  out: string[];
}

const MAX_FEED_BATCH = 1000;
const FEED_KEEP = 20_000;

class Stopped extends Error {}

export function createSimJobs(clock: Clock, nodeId: string, firstPid = 20_000): SimJobs {
  const epoch = `sim-${clock.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const jobs = new Map<string, SimJob>();
  const byTry = new Map<string, SimJob>();
  const feed: JobFeedRecord[] = [];
  const pending = new Map<number, { jobId: string; resolve: (a: JobAnswer) => void; record: JobFeedRecord }>();
  const waiters = new Set<() => void>();
  let seq = 0;
  let pid = firstPid;
  let gone = false;

  const push = (rec: JobFeedRecord): void => {
    feed.push(rec);
    if (feed.length > FEED_KEEP) feed.splice(0, feed.length - FEED_KEEP);
    for (const w of [...waiters]) w();
  };
  const tryKey = (workflow: string, path: string, tryNo: number): string => `${workflow}\0${path}\0${tryNo}`;

  const call = (job: SimJob, caller: JobCaller, command: JobChildCommand): Promise<JobAnswer> => {
    const s = ++seq;
    const record: JobFeedRecord = { seq: s, jobId: job.req.jobId, kind: 'child', caller, command, awaitsAnswer: true, at: clock.now() };
    job.out.push(`sim: --${command.verb}${command.verb === 'abort' ? `=${command.reason}` : ''}\n`);
    return new Promise<JobAnswer>((resolve, reject) => {
      if (job.stop.signal.aborted) return reject(new Stopped());
      const onStop = (): void => {
        pending.delete(s);
        reject(new Stopped());
      };
      job.stop.signal.addEventListener('abort', onStop, { once: true });
      pending.set(s, {
        jobId: job.req.jobId,
        record,
        resolve: (a) => {
          job.stop.signal.removeEventListener('abort', onStop);
          resolve(a);
        },
      });
      push(record);
    });
  };

  const exit = (job: SimJob, code: number | null, signal: string | null): void => {
    if (job.info.state === 'exited') return;
    Object.assign(job.info, { state: 'exited', exitCode: code, signal, endedAt: clock.now() });
    if (!gone) push({ seq: ++seq, jobId: job.req.jobId, kind: 'exited', exitCode: code, signal, at: clock.now() });
  };

  const simulate = async (job: SimJob): Promise<void> => {
    const env = job.req.env;
    const caller: JobCaller = {
      name: env['ECF_NAME'] ?? job.req.path,
      password: env['ECF_PASS'] ?? '',
      tryNo: /^[0-9]{1,9}$/.test(env['ECF_TRYNO'] ?? '') ? Number(env['ECF_TRYNO']) : job.req.tryNo,
      rid: String(job.info.pid),
    };
    const secondsText = env['NUBIS_SIM_SECONDS'];
    const seconds = secondsText !== undefined && Number.isFinite(Number(secondsText)) && Number(secondsText) >= 0 ? Number(secondsText) : 1;
    const fail = env['NUBIS_SIM_FAIL_TRY'] === String(job.req.tryNo);
    const report = env['NO_ECF'] === undefined;
    try {
      await clock.sleep(0, job.stop.signal);
      if (report && !(await call(job, caller, { verb: 'init', rid: caller.rid! })).ok) return exit(job, 1, null);
      await clock.sleep(seconds * 1000, job.stop.signal);
      const last: JobChildCommand = fail ? { verb: 'abort', reason: `sim: injected failure of try ${job.req.tryNo}` } : { verb: 'complete' };
      if (report && !(await call(job, caller, last)).ok) return exit(job, 1, null);
      exit(job, 0, null);
    } catch {
      // killed (or the node went away)
      exit(job, null, 'SIGTERM');
    }
  };

  const collect = (after: number): JobFeed => {
    const from = feed.findIndex((r) => r.seq > after);
    const records = from < 0 ? [] : feed.slice(from, from + MAX_FEED_BATCH);
    return { epoch, records, last: records.length > 0 ? records[records.length - 1]!.seq : Math.max(after, 0), oldest: feed[0]?.seq ?? seq + 1 };
  };

  const answer = (answers: readonly JobAnswer[]): void => {
    for (const a of answers) {
      const p = pending.get(a.seq);
      if (!p) continue;
      pending.delete(a.seq);
      const job = jobs.get(p.jobId);
      if (job && !a.ok) job.out.push(`nubis child: ${a.why ?? 'refused'}\n`);
      p.resolve(a);
    }
  };

  return {
    epoch,
    run(req) {
      const existing = jobs.get(req.jobId);
      if (existing) return { ...existing.info };
      const job: SimJob = {
        req,
        info: { jobId: req.jobId, workflow: req.workflow, path: req.path, tryNo: req.tryNo, state: 'running', pid: ++pid, startedAt: clock.now() },
        stop: new AbortController(),
        out: [`sim: job ${req.path} try ${req.tryNo} on ${nodeId}\n`],
      };
      jobs.set(req.jobId, job);
      byTry.set(tryKey(req.workflow, req.path, req.tryNo), job);
      if (req.timeoutMs !== undefined) {
        const t = new AbortController();
        job.stop.signal.addEventListener('abort', () => t.abort(), { once: true });
        clock.sleep(req.timeoutMs, t.signal).then(() => {
          job.out.push(`sim: the job ran longer than ${req.timeoutMs} ms; killing it\n`);
          job.stop.abort();
        }, () => {});
      }
      void simulate(job).finally(() => job.stop.abort());
      return { ...job.info };
    },
    kill(jobId) {
      const job = jobs.get(jobId);
      if (!job) return false;
      job.stop.abort();
      return true;
    },
    status() {
      return {
        epoch, last: seq, jobs: [...jobs.values()].map((j) => ({ ...j.info })),
        pending: [...pending.values()].map((p) => p.record),
      };
    },
    async feed(after, waitMs, signal, answers) {
      if (answers) answer(answers);
      const now = collect(after);
      if (now.records.length > 0 || waitMs <= 0 || gone || after > seq) return now;
      await new Promise<void>((resolve, reject) => {
        const timer = new AbortController();
        const cleanup = (): void => {
          waiters.delete(done);
          signal.removeEventListener('abort', onAbort);
          timer.abort();
        };
        const done = (): void => {
          cleanup();
          resolve();
        };
        const onAbort = (): void => {
          cleanup();
          const e = new Error('agent call aborted');
          e.name = 'AbortError';
          reject(e);
        };
        if (signal.aborted) return onAbort();
        waiters.add(done);
        signal.addEventListener('abort', onAbort, { once: true });
        clock.sleep(waitMs, timer.signal).then(done, () => {});
      });
      return collect(after);
    },
    answer,
    logs(job) {
      const j = typeof job === 'string' ? jobs.get(job) : byTry.get(tryKey(job.workflow, job.path, job.tryNo));
      return j ? j.out.join('') : '';
    },
    close() {
      gone = true;
      for (const w of [...waiters]) w();
      for (const j of jobs.values()) j.stop.abort();
      pending.clear();
    },
  };
}
