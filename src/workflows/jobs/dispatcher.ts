/**
 * The control plane's half of the job protocol: starts a submission's script on a node's agent,
 * holds one long poll per node with live jobs on the agent's feed (stopped when the node has
 * none, event-driven: a record is handled as soon as the agent has it), turns child records
 * into `runtime.child(identity, command)` and answers the ones the job waits for, and calls
 * `runtime.lost` for a job whose process exited without `--complete` or `--abort`.
 *
 * Failure meaning: a runJob that fails is `runtime.failedToStart(path, tryNo, detail)`; an
 * agent that stays unreachable for `unreachableLostMs`, or one that started afresh (new epoch),
 * has lost its jobs: each is `runtime.lost`. An agent restarted on its sandbox keeps its epoch
 * and re-adopts its running jobs (agent/job-restore.ts): the feed goes on from the cursor, and
 * after any failed feed request the agent's job list is checked once it answers again — a job
 * it no longer knows is lost then. The runtime ignores `lost` for a try that is no longer
 * active (it completed, or was requeued), so calling it after a restart is safe.
 */
import { createHash } from 'node:crypto';
import type { AgentClient, JobAnswer, JobFeed, JobFeedRecord } from '../../agent/index.js';
import { createRealClock, type Clock } from '../../clock/index.js';
import type { WfChildCommand, WfChildIdentity, WfChildResult, WfSubmission, WorkflowRuntime } from '../model/runtime.js';

/** A job the dispatcher watches: what the controller saves to re-attach after a restart. */
export interface DispatchedJob {
  readonly jobId: string;
  readonly nodeId: string;
  readonly workflow: string;
  readonly path: string;
  readonly tryNo: number;
}

/** Where the dispatcher is in a node agent's feed. */
export interface FeedCursor {
  /** The agent's epoch (changes when it restarts). */
  readonly epoch: string;
  /** The last record handled and answered. */
  readonly seq: number;
}

/** Everything `resume` needs after a control-plane restart (JSON-serialisable). */
export interface DispatcherState {
  readonly jobs: readonly DispatchedJob[];
  readonly cursors: Readonly<Record<string, FeedCursor>>;
}

/** The node a job runs on. */
export interface JobNode {
  readonly nodeId: string;
  readonly agent: AgentClient;
}

export interface JobDispatcherOptions {
  /**
   * The runtime of a loaded workflow, for jobs started without their own `sink`; undefined: the
   * workflow is gone (its jobs' commands are refused).
   */
  runtime?(workflow: string): WorkflowRuntime | undefined;
  /**
   * After a restart, how long a call from a job nobody re-attached yet stays unanswered (the
   * controller may still re-attach it) before it is refused as a zombie. Default 60,000 ms.
   */
  reattachGraceMs?: number;
  /** Retry waits; default the wall clock. */
  clock?: Clock;
  /** How long one feed request is held on the agent. Default 20,000 ms. */
  pollMs?: number;
  /** Wait after a failed feed request. Default 1000 ms. */
  retryMs?: number;
  /** An agent unreachable this long has lost its jobs. Default 300,000 ms. */
  unreachableLostMs?: number;
  /**
   * Called after a change worth saving (a job started or ended, a feed batch handled and
   * answered) with the state `resume` needs. Save it after what the batch's runtime calls
   * changed was saved (the runtime's `changed` hook runs first).
   */
  onState?(state: DispatcherState): void;
  log?(line: string): void;
}

export interface StartOptions {
  /** Kill the job after this long. */
  timeoutMs?: number;
  /** Extra environment for the job (on top of the submission's variables). */
  env?: Readonly<Record<string, string>>;
  /** Where the job's reports go; default the workflow's runtime (`runtime` option). */
  sink?: JobSink;
}

/** Where one job's reports go (the controller's handles, or a runtime). */
export interface JobSink {
  child(identity: WfChildIdentity, command: WfChildCommand): WfChildResult | Promise<WfChildResult>;
  /** The job's process is gone without an accepted `--complete`/`--abort` (and it was not killed). */
  lost(detail: string): void;
  /** The job is over, whatever way (after `lost`, when it was lost). */
  ended?(): void;
}

interface LiveJob extends DispatchedJob {
  sink: JobSink;
  /** `--complete` or `--abort` was accepted: its exit is not a loss. */
  reported: boolean;
  killed: boolean;
  /** Seqs of waiting calls already handled (a re-attach may see them twice). */
  handled: Set<number>;
  /** Resolves when the agent has answered runJob (a kill waits for it). */
  starting?: Promise<void>;
  /** The agent has it (runJob answered, or re-attached): a job list without it means it is gone. */
  known?: boolean;
}

interface NodeLoop {
  nodeId: string;
  agent: AgentClient;
  cursor?: FeedCursor;
  /** Resolves once `cursor` is known (the first job on the node asks the agent where its feed is). */
  ready?: Promise<void>;
  jobs: Map<string, LiveJob>;
  running: boolean;
  /** Answers to send with the next feed request (one round trip per answered call). */
  outbox: JobAnswer[];
  /** Records of jobs nobody attached yet, kept during the re-attach grace period. */
  stash: JobFeedRecord[];
  stop: AbortController;
  unreachableSince?: number;
}

/** Variables a job's environment never takes from the suite: they belong to the node. */
const ENV_DENY = new Set(['PATH', 'HOME', 'SHELL', 'USER', 'LOGNAME', 'PWD', 'IFS', 'ENV', 'TMPDIR', 'NUBIS_NODE_ID', 'NUBIS_JOB_ID', 'NUBIS_JOB_CHANNEL', 'NUBIS_JOB_DIR']);
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const AGENT_WORKFLOW_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The workflow's directory name on the agent (its output files live under it). */
export function agentWorkflowName(workflow: string): string {
  if (AGENT_WORKFLOW_RE.test(workflow)) return workflow;
  const safe = workflow.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.-]/, '_').slice(0, 100);
  return `${safe || 'w'}-${createHash('sha256').update(workflow).digest('hex').slice(0, 8)}`;
}

/** The job's id on the agent: unique per submission (the one-time password tells requeued tries apart). */
export function jobIdOf(sub: Pick<WfSubmission, 'workflow' | 'path' | 'tryNo' | 'password'>): string {
  const h = createHash('sha256').update(`${sub.workflow}\0${sub.password}`).digest('hex').slice(0, 10);
  return `${agentWorkflowName(sub.workflow)}:${sub.path}:${sub.tryNo}:${h}`.slice(0, 200);
}

/** The job's environment: the submission's variables (names a shell accepts) and the ECF_* identity. */
export function jobEnv(sub: WfSubmission, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(sub.variables)) {
    if (ENV_NAME_RE.test(k) && !ENV_DENY.has(k) && !k.startsWith('LD_') && !v.includes('\0')) env[k] = v;
  }
  Object.assign(env, extra, {
    ECF_NAME: sub.path,
    ECF_PASS: sub.password,
    ECF_TRYNO: String(sub.tryNo),
    NUBIS_WORKFLOW: sub.workflow,
  });
  return env;
}

const isAbort = (e: unknown): boolean => e instanceof Error && (e.name === 'AbortError' || (e as { code?: string }).code === 'ABORTED');
const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class JobDispatcher {
  private readonly nodes = new Map<string, NodeLoop>();
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly retryMs: number;
  private readonly unreachableLostMs: number;
  private readonly graceUntil: number;
  private closed = false;
  private readonly loops = new Set<Promise<void>>();

  constructor(private readonly opts: JobDispatcherOptions) {
    this.clock = opts.clock ?? createRealClock();
    this.pollMs = opts.pollMs ?? 20_000;
    this.retryMs = opts.retryMs ?? 1000;
    this.unreachableLostMs = opts.unreachableLostMs ?? 300_000;
    this.graceUntil = this.clock.now() + (opts.reattachGraceMs ?? 60_000);
  }

  /**
   * Runs the submission's (preprocessed) script on `node`. Resolves once the agent has started it,
   * with its job id; when it cannot be started, the runtime's `failedToStart` was called and this
   * resolves undefined.
   */
  async start(sub: WfSubmission, node: JobNode, script: string, options: StartOptions = {}): Promise<string | undefined> {
    try {
      return await this.launch(sub, node, script, options);
    } catch (e) {
      this.opts.runtime?.(sub.workflow)?.failedToStart(sub.path, sub.tryNo, msg(e));
      return undefined;
    }
  }

  /** As `start`, but a job that cannot be started rejects (NubisError JOB_START_FAILED-like message) instead. */
  async launch(sub: WfSubmission, node: JobNode, script: string, options: StartOptions = {}): Promise<string> {
    const jobId = jobIdOf(sub);
    if (this.closed) throw new Error('the job dispatcher is stopping');
    if (!node.agent.runJob || !node.agent.jobFeed) throw new Error(`the agent of node ${node.nodeId} cannot run jobs`);
    const loop = this.loopOf(node);
    const job = this.newJob({ jobId, nodeId: node.nodeId, workflow: sub.workflow, path: sub.path, tryNo: sub.tryNo }, options.sink);
    loop.jobs.set(jobId, job);
    let started: () => void = () => {};
    job.starting = new Promise<void>((r) => (started = r));
    try {
      await this.ensureCursor(loop);
      const req = { jobId, workflow: agentWorkflowName(sub.workflow), path: sub.path, tryNo: sub.tryNo, script, env: jobEnv(sub, options.env) };
      await node.agent.runJob(options.timeoutMs === undefined ? req : { ...req, timeoutMs: options.timeoutMs }, this.never());
    } catch (e) {
      loop.jobs.delete(jobId);
      throw new Error(`node ${node.nodeId}: ${msg(e)}`, { cause: e });
    } finally {
      started();
    }
    job.known = true;
    this.saveState();
    this.run(loop);
    return jobId;
  }

  /**
   * Re-attaches one job after a control-plane restart (without a saved cursor): true when the
   * node's agent still runs it, which then reports to `sink` again — the calls it waits on are
   * answered, and its latest events, meters and labels are applied again (it may have sent them
   * while nobody listened). False when the agent does not know it or it has exited (the caller
   * reports it lost).
   */
  async reattach(ref: Omit<DispatchedJob, 'jobId' | 'nodeId'> & { password: string }, node: JobNode, sink?: JobSink): Promise<boolean> {
    const jobId = jobIdOf(ref);
    if (this.closed || !node.agent.jobStatus || !node.agent.jobFeed) return false;
    const loop = this.loopOf(node);
    if (loop.jobs.has(jobId)) return true;
    const status = await node.agent.jobStatus(this.never());
    const info = status.jobs.find((j) => j.jobId === jobId);
    if (!info || info.state !== 'running') return false;
    if (!loop.cursor || loop.cursor.epoch !== status.epoch) loop.cursor = { epoch: status.epoch, seq: status.last };
    const job = this.newJob({ jobId, nodeId: node.nodeId, workflow: ref.workflow, path: ref.path, tryNo: ref.tryNo }, sink);
    job.known = true;
    loop.jobs.set(jobId, job);
    // what it reported while nobody listened: the latest of each event/meter/label, then what
    // the loop kept for it since, then the calls it still waits on
    const replay: JobFeedRecord[] = (info.latest ?? []).map((l) => ({ seq: 0, jobId, kind: 'child', caller: l.caller, command: l.command, awaitsAnswer: false, at: 0 }));
    const kept = loop.stash.filter((r) => r.jobId === jobId && r.seq > status.last);
    loop.stash = loop.stash.filter((r) => r.jobId !== jobId);
    replay.push(...kept, ...status.pending.filter((r) => r.jobId === jobId && r.seq <= status.last));
    this.handle(loop, replay.sort((a, b) => a.seq - b.seq));
    this.saveState();
    this.run(loop);
    return true;
  }

  /** Kills the try's job (the runtime has set its state already); false when it is not running here. */
  async kill(workflow: string, path: string, tryNo: number): Promise<boolean> {
    for (const loop of this.nodes.values()) {
      for (const job of loop.jobs.values()) {
        if (job.workflow !== workflow || job.path !== path || job.tryNo !== tryNo) continue;
        job.killed = true;
        try {
          // a kill that overtakes the start would find nothing to kill
          await job.starting;
          await loop.agent.killJob?.(job.jobId, this.never());
        } catch (e) {
          this.opts.log?.(`kill ${job.jobId} on ${loop.nodeId}: ${msg(e)}`);
          return false;
        }
        return true;
      }
    }
    return false;
  }

  /** A try's output, from the node it ran on ('' when the agent has none). */
  async logs(workflow: string, path: string, tryNo: number, node: JobNode): Promise<string> {
    if (!node.agent.jobLogs) return '';
    return node.agent.jobLogs({ workflow: agentWorkflowName(workflow), path, tryNo }, this.never());
  }

  /** Live jobs, all or of one node (a pool's running count). */
  running(nodeId?: string): DispatchedJob[] {
    const out: DispatchedJob[] = [];
    for (const loop of this.nodes.values()) {
      if (nodeId !== undefined && loop.nodeId !== nodeId) continue;
      for (const j of loop.jobs.values()) out.push({ jobId: j.jobId, nodeId: j.nodeId, workflow: j.workflow, path: j.path, tryNo: j.tryNo });
    }
    return out;
  }

  /** What to save (also given to `onState`). */
  state(): DispatcherState {
    const cursors: Record<string, FeedCursor> = {};
    for (const loop of this.nodes.values()) if (loop.cursor) cursors[loop.nodeId] = loop.cursor;
    return { jobs: this.running(), cursors };
  }

  /**
   * Re-attaches after a control-plane restart: asks each node's agent for its jobs, answers the
   * calls still waiting, and reads each feed from the saved cursor. A job the agent no longer
   * knows (it restarted, or the node is gone: `agentOf` undefined) is lost.
   */
  async resume(state: DispatcherState, agentOf: (nodeId: string) => AgentClient | undefined): Promise<void> {
    const byNode = new Map<string, DispatchedJob[]>();
    for (const j of state.jobs) byNode.set(j.nodeId, [...(byNode.get(j.nodeId) ?? []), j]);
    await Promise.all([...byNode].map(async ([nodeId, jobs]) => {
      const agent = agentOf(nodeId);
      const lose = (detail: string, which = jobs): void => {
        for (const j of which) this.runtimeLost(j, detail);
      };
      if (!agent?.jobStatus || !agent.jobFeed) return lose(`node ${nodeId} is gone`);
      let status;
      try {
        status = await agent.jobStatus(this.never());
      } catch (e) {
        // unreachable for now: keep watching; the loop's unreachable timer decides
        status = undefined;
        this.opts.log?.(`resume: node ${nodeId}: ${msg(e)}`);
      }
      const saved = state.cursors[nodeId];
      const loop = this.loopOf({ nodeId, agent });
      const runtimeOf = (j: DispatchedJob): LiveJob => Object.assign(this.newJob(j, undefined), { known: true });
      if (status && (!saved || status.epoch !== saved.epoch)) {
        loop.cursor = { epoch: status.epoch, seq: status.last };
        return lose(`the agent of node ${nodeId} restarted; the job is gone`);
      }
      if (saved) loop.cursor = saved;
      const known = new Set(status?.jobs.map((j) => j.jobId));
      for (const j of jobs) {
        if (status && !known.has(j.jobId)) lose(`the agent of node ${nodeId} does not know the job`, [j]);
        else loop.jobs.set(j.jobId, runtimeOf(j));
      }
      // calls answered by nobody: their records are at or before the cursor
      const early = (status?.pending ?? []).filter((r) => saved !== undefined && r.seq <= saved.seq);
      if (early.length > 0) this.handle(loop, early);
      this.run(loop);
    }));
    this.saveState();
  }

  /** Stops every feed loop (jobs keep running on their nodes; `resume` re-attaches). */
  async close(): Promise<void> {
    this.closed = true;
    for (const loop of this.nodes.values()) loop.stop.abort();
    await Promise.allSettled([...this.loops]);
  }

  // --- internals ---------------------------------------------------------------------------

  private newJob(j: DispatchedJob, sink: JobSink | undefined): LiveJob {
    const job: LiveJob = { ...j, sink: sink ?? { child: () => ({ ok: true }), lost: () => {} }, reported: false, killed: false, handled: new Set() };
    if (!sink) {
      job.sink = {
        child: (identity, command) => {
          const runtime = this.opts.runtime?.(j.workflow);
          return runtime ? runtime.child(identity, command) : { ok: false, zombie: true, why: `workflow ${j.workflow} is not loaded` };
        },
        lost: (detail) => this.runtimeLost(j, detail),
      };
    }
    return job;
  }

  private never(): AbortSignal {
    return new AbortController().signal;
  }

  private loopOf(node: JobNode): NodeLoop {
    let loop = this.nodes.get(node.nodeId);
    if (!loop) {
      loop = { nodeId: node.nodeId, agent: node.agent, jobs: new Map(), running: false, outbox: [], stash: [], stop: new AbortController() };
      this.nodes.set(node.nodeId, loop);
    } else loop.agent = node.agent;
    return loop;
  }

  private ensureCursor(loop: NodeLoop): Promise<void> {
    if (loop.cursor) return Promise.resolve();
    loop.ready ??= (async () => {
      if (!loop.agent.jobStatus) throw new Error(`the agent of node ${loop.nodeId} cannot list jobs`);
      const s = await loop.agent.jobStatus(this.never());
      loop.cursor ??= { epoch: s.epoch, seq: s.last };
    })().finally(() => {
      loop.ready = undefined;
    });
    return loop.ready;
  }

  private saveState(): void {
    if (!this.opts.onState) return;
    try {
      this.opts.onState(this.state());
    } catch (e) {
      this.opts.log?.(`onState: ${msg(e)}`);
    }
  }

  private run(loop: NodeLoop): void {
    if (loop.running || this.closed || loop.jobs.size === 0) return;
    loop.running = true;
    const p = this.poll(loop).finally(() => {
      loop.running = false;
      this.loops.delete(p);
      // a job started while the loop was ending
      if (loop.jobs.size > 0 && !this.closed) this.run(loop);
    });
    this.loops.add(p);
  }

  private async poll(loop: NodeLoop): Promise<void> {
    const signal = loop.stop.signal;
    // a failed request: the agent may have restarted (same epoch) without some of its jobs
    let check = false;
    while (loop.jobs.size > 0 && !this.closed) {
      let feed: JobFeed;
      try {
        await this.ensureCursor(loop);
        if (check) {
          // before a long poll that may wait for records a forgotten job will never send
          await this.dropUnknown(loop);
          check = false;
        }
        const answers = loop.outbox;
        feed = await loop.agent.jobFeed!(loop.cursor!.seq, this.pollMs, signal, answers.length > 0 ? answers : undefined);
        // delivered (a repeat after a lost reply is harmless: the agent ignores answered records)
        loop.outbox = loop.outbox.slice(answers.length);
        loop.unreachableSince = undefined;
      } catch (e) {
        if (this.closed || isAbort(e)) return;
        check = true;
        loop.unreachableSince ??= this.clock.now();
        this.opts.log?.(`feed of node ${loop.nodeId}: ${msg(e)}`);
        if (this.clock.now() - loop.unreachableSince >= this.unreachableLostMs) {
          for (const j of [...loop.jobs.values()]) this.end(loop, j, `the agent of node ${loop.nodeId} has not answered for ${Math.round((this.clock.now() - loop.unreachableSince) / 1000)} s`);
          loop.unreachableSince = undefined;
          this.saveState();
          return;
        }
        try {
          await this.clock.sleep(this.retryMs, signal);
        } catch {
          return;
        }
        continue;
      }
      if (feed.epoch !== loop.cursor!.epoch) {
        // the agent restarted: its jobs (and their processes' channel) are gone
        for (const j of [...loop.jobs.values()]) this.end(loop, j, `the agent of node ${loop.nodeId} restarted; the job is gone`);
        loop.cursor = { epoch: feed.epoch, seq: 0 };
        this.saveState();
        return;
      }
      if (feed.oldest > loop.cursor!.seq + 1 && loop.cursor!.seq > 0) await this.reconcile(loop, feed);
      if (feed.records.length > 0) this.handle(loop, feed.records);
      loop.cursor = { epoch: feed.epoch, seq: Math.max(loop.cursor!.seq, feed.last) };
      if (feed.records.length > 0) this.saveState();
    }
    // the loop ends with no live jobs: answers left over go on their own
    if (loop.outbox.length > 0 && !this.closed) {
      const answers = loop.outbox;
      loop.outbox = [];
      await this.sendAnswers(loop, answers);
    }
  }

  /**
   * After the agent did not answer (it may have restarted on its sandbox, same epoch, without
   * the state of some jobs): the jobs it had and no longer lists end now, as lost. Rejects when
   * the agent still does not answer. (Jobs it lists as exited end by their feed records, which
   * come after what they reported.)
   */
  private async dropUnknown(loop: NodeLoop): Promise<void> {
    // only jobs the agent had before the list was asked for can be missing from it
    const known = [...loop.jobs.values()].filter((j) => j.known);
    const s = await loop.agent.jobStatus!(this.never());
    const listed = new Set(s.jobs.map((info) => info.jobId));
    for (const j of known) {
      if (!listed.has(j.jobId) && loop.jobs.get(j.jobId) === j) this.end(loop, j, `the agent of node ${loop.nodeId} no longer knows the job (it restarted without it)`);
    }
  }

  /** Records were dropped before we read them: jobs the agent says have exited end now. */
  private async reconcile(loop: NodeLoop, feed: JobFeed): Promise<void> {
    this.opts.log?.(`feed of node ${loop.nodeId}: records ${loop.cursor!.seq + 1}..${feed.oldest - 1} were dropped before they were read`);
    try {
      const s = await loop.agent.jobStatus!(this.never());
      const seen = new Set(feed.records.filter((r) => r.kind === 'exited').map((r) => r.jobId));
      for (const info of s.jobs) {
        const j = loop.jobs.get(info.jobId);
        if (j && info.state === 'exited' && !seen.has(info.jobId)) this.end(loop, j, exitDetail(info.exitCode ?? null, info.signal ?? null));
      }
    } catch (e) {
      this.opts.log?.(`reconcile ${loop.nodeId}: ${msg(e)}`);
    }
  }

  /**
   * Handles records in order; the answers to the waiting ones go with the next feed request
   * (slow `--wait`s on their own when they resolve).
   */
  private handle(loop: NodeLoop, records: readonly JobFeedRecord[]): void {
    const answers = loop.outbox;
    for (const rec of records) {
      if (rec.kind === 'invalid') {
        this.opts.log?.(`job ${rec.jobId} on ${loop.nodeId}: ${rec.detail}`);
        continue;
      }
      const job = loop.jobs.get(rec.jobId);
      if (rec.kind === 'exited') {
        if (job) this.end(loop, job, exitDetail(rec.exitCode, rec.signal, rec.detail));
        continue;
      }
      if (!job) {
        if (this.clock.now() < this.graceUntil) {
          // perhaps a job of before a restart that is about to be re-attached: keep, answer later
          loop.stash.push(rec);
          if (loop.stash.length > 20_000) loop.stash.splice(0, loop.stash.length - 20_000);
        } else if (rec.awaitsAnswer) answers.push({ seq: rec.seq, ok: false, why: 'zombie: the control plane does not know this job' });
        continue;
      }
      if (rec.awaitsAnswer) {
        if (job.handled.has(rec.seq)) continue;
        job.handled.add(rec.seq);
      }
      const result = this.child(job, rec);
      if (result instanceof Promise) {
        // `--wait`: answered when the runtime resolves it; the feed goes on meanwhile
        void result.then((r) => this.answerLater(loop, job, rec, r));
        continue;
      }
      this.noteResult(job, rec, result);
      if (rec.awaitsAnswer) answers.push(answerOf(rec.seq, result));
    }
  }

  private child(job: LiveJob, rec: Extract<JobFeedRecord, { kind: 'child' }>): WfChildResult | Promise<WfChildResult> {
    const identity: WfChildIdentity = {
      workflow: job.workflow,
      path: rec.caller.name,
      password: rec.caller.password,
      tryNo: rec.caller.tryNo,
      ...(rec.caller.rid === undefined ? {} : { rid: rec.caller.rid }),
    };
    try {
      if (job.killed) return { ok: false, zombie: true, why: 'the try was killed' };
      const r = job.sink.child(identity, rec.command as WfChildCommand);
      return r instanceof Promise ? r.catch((e: unknown) => ({ ok: false, zombie: false, why: msg(e) }) as WfChildResult) : r;
    } catch (e) {
      return { ok: false, zombie: false, why: msg(e) };
    }
  }

  private noteResult(job: LiveJob, rec: Extract<JobFeedRecord, { kind: 'child' }>, r: WfChildResult): void {
    const v = rec.command.verb;
    if (r.ok && (v === 'complete' || v === 'abort') && rec.caller.tryNo === job.tryNo) job.reported = true;
  }

  private async answerLater(loop: NodeLoop, job: LiveJob, rec: Extract<JobFeedRecord, { kind: 'child' }>, r: WfChildResult): Promise<void> {
    this.noteResult(job, rec, r);
    if (rec.awaitsAnswer && !this.closed) await this.sendAnswers(loop, [answerOf(rec.seq, r)]);
  }

  private async sendAnswers(loop: NodeLoop, answers: JobAnswer[]): Promise<void> {
    // the job waits for these: retry until the agent has them (or its jobs are gone)
    for (let attempt = 0; ; attempt++) {
      try {
        await loop.agent.answerJobs!(answers, this.never());
        return;
      } catch (e) {
        this.opts.log?.(`answers to node ${loop.nodeId}: ${msg(e)}`);
        if (this.closed || loop.jobs.size === 0) return;
        if (attempt >= 5) {
          // the agent is down for longer (restarting?): they go with the next feed request
          loop.outbox.push(...answers);
          return;
        }
        try {
          await this.clock.sleep(this.retryMs, loop.stop.signal);
        } catch {
          return;
        }
      }
    }
  }

  /** The job's process is gone: a loss unless it reported or was killed. */
  private end(loop: NodeLoop, job: LiveJob, detail: string): void {
    loop.jobs.delete(job.jobId);
    try {
      if (!job.reported && !job.killed) job.sink.lost(detail);
      job.sink.ended?.();
    } catch (e) {
      this.opts.log?.(`job ${job.jobId} ended: ${msg(e)}`);
    }
    this.saveState();
  }

  private runtimeLost(job: DispatchedJob, detail: string): void {
    const runtime = this.opts.runtime?.(job.workflow);
    if (!runtime) return;
    const n = runtime.node(job.path);
    // a try that is no longer the node's current active one has nothing to lose
    if (n && (n.tryNo !== job.tryNo || (n.state !== 'active' && n.state !== 'submitted'))) return;
    try {
      runtime.lost(job.path, job.tryNo, detail);
    } catch (e) {
      this.opts.log?.(`lost ${job.jobId}: ${msg(e)}`);
    }
  }
}

function answerOf(seq: number, r: WfChildResult): JobAnswer {
  if (r.ok) return r.value === undefined ? { seq, ok: true } : { seq, ok: true, value: r.value };
  return { seq, ok: false, why: r.zombie ? `zombie: ${r.why}` : r.why };
}

function exitDetail(code: number | null, signal: string | null, detail?: string): string {
  if (signal) return `the job was killed by ${signal} without reporting complete or abort`;
  if (code === null) return detail ? `${detail}, without reporting complete or abort` : 'the job could not be run';
  return `the job exited with code ${code} without reporting complete or abort`;
}
