/**
 * Simulated node agents, answered in memory. State lives in the driver that made them (not in
 * the sim inventory): a restarted control plane sees every instance as `none` and the engine
 * re-runs its steps, which the protocol allows because steps are idempotent by runId.
 *
 * Behaviour: a step takes `stepLatencyMs` of the clock (default 0), then succeeds — or fails
 * with exit code 1 with probability `stepFailures[step]`, or is `timed-out` when the latency
 * exceeds the request's `timeoutMs`. A successful `start` makes the instance's process
 * `running` and its health `healthy`; a successful `stop` makes it `exited` (code 0);
 * `stopInstance` makes it `none`. A custom operation (step `operation`) takes
 * `operationLatencyMs` (default `stepLatencyMs`) and fails with `operationFailures[name]`
 * (else `stepFailures.operation`); its output names the NUBIS_PARAM_* values it got. Calls to a node that is not running fail with
 * AGENT_UNREACHABLE (retryable). Workflow jobs are simulated on the clock (./agent-jobs.ts);
 * a reboot (`reset`) or delete loses them, and the node's job feed starts a new epoch.
 */
import { setMaxListeners } from 'node:events';
import type { Clock } from '../../clock/index.js';
import { NubisError } from '../../errors/index.js';
import type { AgentClient, AgentStatus, InstanceStatus, StepName, StepRequest, StepResult } from '../../agent/protocol.js';
import { createSimJobs, type SimJobs } from './agent-jobs.js';
import { createPrng } from './prng.js';
import { SimFaultState } from './faults.js';

export interface SimAgentOptions {
  clock: Clock;
  stepLatencyMs?: number;
  /** Probability in [0, 1] that a step fails, by step name (`operation`: every custom operation). */
  stepFailures?: Partial<Record<StepName, number>>;
  /** How long a custom operation run takes on the clock. Default: `stepLatencyMs`. */
  operationLatencyMs?: number;
  /** Probability in [0, 1] that a run of the named operation fails on one instance (before `stepFailures.operation`). */
  operationFailures?: Record<string, number>;
  seed?: number;
  /** Whether the node's agent answers (the node exists and is running). */
  reachable(nodeId: string): boolean | Promise<boolean>;
}

export interface SimAgents {
  client(nodeId: string, startedAt: number): AgentClient;
  /** The node rebooted: its processes are gone, its history stays. */
  reset(nodeId: string): void;
  /** The node was deleted. */
  forget(nodeId: string): void;
  /** Stops pending step timers. */
  close(): void;
  /** Injected failures (./faults.ts). */
  readonly faults: SimFaultState;
}

interface NodeState {
  startedAt: number;
  instances: Map<string, InstanceStatus>;
  runs: Map<string, Promise<StepResult>>;
  logs: { instance: string; step: StepName; text: string }[];
  /** Made on first use (most nodes never run a workflow job); a reboot or delete drops it. */
  jobs: SimJobs | undefined;
  /** The status as last answered (frozen), until an instance changes. */
  snapshot: AgentStatus | undefined;
}

function aborted(): NubisError {
  return new NubisError('ABORTED', 'agent call aborted');
}

/** Waits for `p`, or rejects with ABORTED when `signal` aborts first (the work itself goes on). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export function createSimAgents(opts: SimAgentOptions): SimAgents {
  const nodes = new Map<string, NodeState>();
  const prng = createPrng(((opts.seed ?? 1) ^ 0x5eed) >>> 0);
  const closing = new AbortController();
  // every pending step timer listens on it
  setMaxListeners(0, closing.signal);
  const { clock } = opts;

  const stateOf = (nodeId: string, startedAt: number): NodeState => {
    let s = nodes.get(nodeId);
    if (!s) {
      s = { startedAt, instances: new Map(), runs: new Map(), logs: [], jobs: undefined, snapshot: undefined };
      nodes.set(nodeId, s);
    }
    return s;
  };
  const instanceOf = (s: NodeState, name: string): InstanceStatus => {
    let i = s.instances.get(name);
    if (!i) {
      i = { instance: name, process: 'none', health: 'unknown' };
      s.instances.set(name, i);
      s.snapshot = undefined;
    }
    return i;
  };
  const faults = new SimFaultState({
    instance: (nodeId, name) => nodes.get(nodeId)?.instances.get(name),
    changed: (nodeId) => {
      const s = nodes.get(nodeId);
      if (s) s.snapshot = undefined;
    },
  });
  const jobsOf = (nodeId: string, s: NodeState): SimJobs => (s.jobs ??= createSimJobs(clock, nodeId));
  /** The node's status: made anew only after something changed (observation asks every node every round). */
  const statusOf = (nodeId: string, s: NodeState): AgentStatus => {
    if (s.snapshot) return s.snapshot;
    const instances = [...s.instances.values()].map((i) => Object.freeze({ ...i, ...(i.lastStep ? { lastStep: Object.freeze({ ...i.lastStep }) } : {}) }));
    s.snapshot = Object.freeze({ node: nodeId, startedAt: s.startedAt, instances: Object.freeze(instances) as InstanceStatus[] });
    return s.snapshot;
  };

  async function execute(s: NodeState, req: StepRequest): Promise<StepResult> {
    const startedAt = clock.now();
    const inst = instanceOf(s, req.instance);
    inst.lastStep = { step: req.step, runId: req.runId, state: 'running' };
    s.snapshot = undefined;
    const op = req.step === 'operation' ? req.operation ?? '' : undefined;
    const latency = (op !== undefined ? opts.operationLatencyMs : undefined) ?? opts.stepLatencyMs ?? 0;
    await clock.sleep(Math.min(latency, req.timeoutMs), closing.signal);
    const what = op !== undefined ? `operation ${op}` : req.step;
    const failRate = (op !== undefined ? opts.operationFailures?.[op] : undefined) ?? opts.stepFailures?.[req.step] ?? 0;
    let result: StepResult;
    if (latency > req.timeoutMs) {
      result = { runId: req.runId, state: 'timed-out', exitCode: null, signal: 'SIGKILL', output: `sim: ${what} timed out\n`, startedAt };
    } else if (prng.next() < failRate) {
      result = { runId: req.runId, state: 'failed', exitCode: 1, signal: null, output: `sim: ${what} failed (injected)\n`, startedAt };
    } else {
      // an operation echoes the parameters it was given, as a handler printing its env would
      const params = op !== undefined ? Object.entries(req.env).filter(([k]) => k.startsWith('NUBIS_PARAM_')).map(([k, v]) => ` ${k}=${v}`).join('') : '';
      result = { runId: req.runId, state: 'succeeded', exitCode: 0, signal: null, output: `sim: ${what} ok${params}\n`, startedAt };
      if (req.step === 'start') {
        inst.process = 'running';
        inst.pid = 1000 + s.instances.size;
        inst.exitCode = null;
        inst.health = 'healthy';
        delete inst.healthDetail;
        // a new process, a new probe: its counters start again (as the real agent's do)
        delete inst.probes;
      } else if (req.step === 'stop') {
        inst.process = 'exited';
        inst.exitCode = 0;
        inst.health = 'unknown';
      }
    }
    result.endedAt = clock.now();
    inst.lastStep = { step: req.step, runId: req.runId, state: result.state };
    s.snapshot = undefined;
    s.logs.push({ instance: req.instance, step: req.step, text: result.output });
    return result;
  }

  /** One client per node: the engine asks for a node's client on every call. */
  const clients = new Map<string, AgentClient>();

  function makeClient(nodeId: string, startedAt: number): AgentClient {
    const reached = (up: boolean, signal: AbortSignal): NodeState => {
      if (!up) throw new NubisError('AGENT_UNREACHABLE', `sim node ${nodeId} is not running`);
      if (faults.partitioned(nodeId)) throw new NubisError('AGENT_UNREACHABLE', `sim node ${nodeId} does not answer (partitioned, injected)`);
      if (signal.aborted) throw aborted();
      return stateOf(nodeId, startedAt);
    };
    /** The node's state once its agent answers: at once for an in-process cloud (no promise made). */
    const ensureReachable = (signal: AbortSignal): NodeState | Promise<NodeState> => {
      if (signal.aborted) throw aborted();
      const up = opts.reachable(nodeId);
      return typeof up === 'boolean' ? reached(up, signal) : up.then((u) => reached(u, signal));
    };
    return {
      async runStep(req, signal) {
        const s = await ensureReachable(signal);
        let run = s.runs.get(req.runId);
        if (!run) {
          run = execute(s, req);
          run.catch(() => {});
          s.runs.set(req.runId, run);
        }
        return raceAbort(run, signal);
      },
      async stopInstance(instance, signal) {
        const s = await ensureReachable(signal);
        const i = instanceOf(s, instance);
        i.process = 'none';
        i.health = 'unknown';
        delete i.pid;
        s.snapshot = undefined;
      },
      async status(signal): Promise<AgentStatus> {
        const r = ensureReachable(signal);
        const s = r instanceof Promise ? await r : r;
        if (faults.beforeStatus(nodeId, s.instances.values())) s.snapshot = undefined;
        return statusOf(nodeId, s);
      },
      async logs(instance, step, signal) {
        const s = await ensureReachable(signal);
        return s.logs
          .filter((l) => l.instance === instance && (step === undefined || l.step === step))
          .filter((l, _i, all) => step === undefined || l === all[all.length - 1])
          .map((l) => l.text)
          .join('');
      },
      async runJob(req, signal) {
        return jobsOf(nodeId, await ensureReachable(signal)).run(req);
      },
      async killJob(jobId, signal) {
        if (!jobsOf(nodeId, await ensureReachable(signal)).kill(jobId)) throw new NubisError('NOT_FOUND', `sim node ${nodeId} has no job ${jobId}`);
      },
      async jobStatus(signal) {
        return jobsOf(nodeId, await ensureReachable(signal)).status();
      },
      async jobFeed(after, waitMs, signal, answers) {
        return jobsOf(nodeId, await ensureReachable(signal)).feed(after, Math.min(Math.max(0, waitMs), 30_000), signal, answers);
      },
      async answerJobs(answers, signal) {
        jobsOf(nodeId, await ensureReachable(signal)).answer(answers);
      },
      async jobLogs(job, signal) {
        return jobsOf(nodeId, await ensureReachable(signal)).logs(job);
      },
    };
  }

  return {
    faults,
    client(nodeId, startedAt) {
      let c = clients.get(nodeId);
      if (!c) clients.set(nodeId, (c = makeClient(nodeId, startedAt)));
      return c;
    },
    reset(nodeId) {
      faults.rebooted(nodeId);
      const s = nodes.get(nodeId);
      if (!s) return;
      s.startedAt = clock.now();
      s.snapshot = undefined;
      s.jobs?.close();
      s.jobs = undefined;
      for (const i of s.instances.values()) {
        i.process = 'none';
        i.health = 'unknown';
        delete i.pid;
        delete i.probes;
      }
    },
    forget(nodeId) {
      nodes.get(nodeId)?.jobs?.close();
      nodes.delete(nodeId);
      clients.delete(nodeId);
    },
    close() {
      closing.abort();
      for (const s of nodes.values()) s.jobs?.close();
    },
  };
}
