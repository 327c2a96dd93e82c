/**
 * jobs — the job protocol: workflow jobs on a node's agent and their child commands.
 *
 * ## JobDispatcher (one per control plane)
 *
 *   const d = new JobDispatcher({ runtime: (workflow) => runtimeOf(workflow), clock, onState: save, log });
 *   const jobId = await d.start(sub, { nodeId, agent }, scriptText, { timeoutMs?, env?, sink? });
 *       // one try on the node's agent (AgentClient.runJob); resolves undefined when it could not
 *       // start, after runtime.failedToStart(path, tryNo, detail) was called
 *   await d.launch(sub, node, script, opts)      // the same, but rejects instead of failedToStart
 *   await d.kill(workflow, path, tryNo)          // RuntimeHooks.kill → agent killJob (its process group)
 *   await d.logs(workflow, path, tryNo, node)    // the try's output, kept by the agent per try
 *   d.running(nodeId?)                           // live jobs (a pool's running count per node)
 *   d.state()                                    // DispatcherState: live jobs + feed cursor per node
 *   await d.resume(saved, (nodeId) => agent)     // after a restart, from a saved state
 *   await d.reattach({ workflow, path, tryNo, password }, node, sink?) // or per try, without one
 *   await d.close()                              // stops the feed loops; jobs keep running
 *
 * While a node has live jobs, one long poll reads its agent's feed (event-driven: it returns
 * as soon as the agent has a record; the answers to the previous batch ride on the next read,
 * so a waiting call costs one round trip). Each child record becomes `runtime.child({ workflow,
 * path: ECF_NAME, password: ECF_PASS, tryNo: ECF_TRYNO, rid: ECF_RID } of the calling process,
 * command)` (or the start's `sink.child`); `--init`, `--complete`, `--abort` and `--wait` are
 * answered back, and a refusal (a zombie) makes that `nubis child` exit 1 with the reason on
 * stderr. A job that exits without an accepted `--complete`/`--abort` and was not killed is
 * `runtime.lost(path, tryNo, detail)` ("the job exited with code 3 …", "killed by SIGKILL …"),
 * skipped when the try is no longer the node's current submitted/active one. An agent that
 * restarted (new epoch) or stays unreachable for `unreachableLostMs` (default 5 min) has lost
 * its jobs.
 *
 * Saving `onState`'s value is the controller's job; save it after the runtime's changes of the
 * same batch. `resume(saved)` re-reads each feed from its cursor and answers calls still
 * waiting; `reattach` needs no cursor (the job id is derived from workflow, path, try and the
 * one-time password): it answers the calls the job waits on and applies its latest events,
 * meters and labels again. Calls from jobs nobody re-attached yet stay unanswered for
 * `reattachGraceMs` (default 60 s), then are refused.
 *
 * The job's environment: the submission's variables (shell-valid names, never PATH, HOME, …),
 * then ECF_NAME, ECF_PASS, ECF_TRYNO, NUBIS_WORKFLOW; the agent adds ECF_RID (the job's pid, its
 * process group), NUBIS_JOB_ID, its channel, and PATH with its `nubis` shim first
 * (src/agent/jobs.ts: POSIX sh, shell builtins only per call). The agent keeps each try's
 * output (`jobs/out/<workflow>/<path>.<try>`). On the sim cloud a job is simulated on the clock:
 * `--init` at once, `--complete` after NUBIS_SIM_SECONDS (default 1), `--abort` on try
 * NUBIS_SIM_FAIL_TRY (src/drivers/sim/agent-jobs.ts).
 *
 * The workflows controller (../controller/wiring.ts `dispatcherJobs`) runs one dispatcher over
 * the engine's node agents.
 *
 * ## `nubis child` outside agent jobs
 *
 * src/cli/commands/child.ts posts the same commands to `POST /v1/workflows/{workflow}/child`
 * with `{ path, password, tryNo, rid?, command }` (`childRequestBody`; the route validates with
 * `checkChildRequest`) and the route answers a WfChildResult.
 */
export {
  agentWorkflowName, JobDispatcher, jobEnv, jobIdOf,
  type DispatchedJob, type DispatcherState, type FeedCursor, type JobDispatcherOptions, type JobNode, type JobSink, type StartOptions,
} from './dispatcher.js';
export { childRequestBody, checkChildRequest, type ChildRequest } from './child-request.js';
