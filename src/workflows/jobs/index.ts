/**
 * jobs — the job protocol: workflow jobs on a node's agent and their child commands.
 *
 *   const d = new JobDispatcher({ runtime: (workflow) => runtimes.get(workflow), clock, onState: save });
 *   const jobId = await d.start(sub, { nodeId, agent }, scriptText, { timeoutMs? });
 *       // starts one try on the node's agent (AgentClient.runJob); undefined when it could not
 *       // start, after runtime.failedToStart(path, tryNo, detail) was called
 *   await d.kill(workflow, path, tryNo)          // the RuntimeHooks.kill of a job → agent killJob
 *   await d.logs(workflow, path, tryNo, node)    // the try's output, kept by the agent per try
 *   d.running(nodeId?)                           // live jobs (a pool's running count per node)
 *   d.state()                                    // DispatcherState: live jobs + feed cursor per node
 *   await d.resume(savedState, (nodeId) => agent) // after a control-plane restart
 *   await d.close()                              // stops the feed loops; jobs keep running
 *
 * While a node has live jobs, one long poll reads its agent's feed; each child record becomes
 * `runtime.child({ workflow, path: ECF_NAME, password: ECF_PASS, tryNo: ECF_TRYNO, rid: ECF_RID }
 * of the calling process, command)`, and `--init`, `--complete`, `--abort` and `--wait` are
 * answered back (a zombie's refusal makes that `nubis child` exit 1). A job that exits without
 * an accepted `--complete`/`--abort` (and was not killed) is `runtime.lost(path, tryNo, detail)`.
 * Persisting `onState`'s value is the controller's job: save it after the runtime's changes.
 *
 * The job's environment: the submission's variables (shell-valid names, never PATH/HOME/…),
 * then ECF_NAME, ECF_PASS, ECF_TRYNO, NUBIS_WORKFLOW; the agent adds ECF_RID (the job's pid),
 * NUBIS_JOB_ID, the channel, and PATH with its `nubis` shim first (src/agent/jobs.ts).
 *
 * For the workflows controller: `createAgentJobPort({ agentOf(tenant, node), poolNodes?(tenant, pool),
 * env?: { NUBIS_URL } })` is its JobPort (start / kill / logs / reattach with the controller's
 * per-job `child`, `lost`, `ended` handles); `reattach` needs no saved cursor: it finds the try
 * by its job id (from workflow, path, try and password) on the node, or on each of the pool's
 * nodes when the node is not known, answers the calls it waits on and applies its latest
 * events, meters and labels again. `d.launch(...)` is `start` that rejects instead of calling
 * failedToStart; `StartOptions.sink` sends one job's reports elsewhere than the runtime.
 *
 * `nubis child` outside an agent job (src/cli/commands/child.ts) posts the same commands to
 * `POST /v1/workflows/{workflow}/child` with `{ path, password, tryNo, rid?, command }`; the
 * body is `childRequestBody(...)` below and the route answers a WfChildResult.
 */
export {
  agentWorkflowName, JobDispatcher, jobEnv, jobIdOf,
  type DispatchedJob, type DispatcherState, type FeedCursor, type JobDispatcherOptions, type JobNode, type JobSink, type StartOptions,
} from './dispatcher.js';
export { createAgentJobPort, engineAgents, type AgentJobPort, type AgentJobPortOptions, type AgentJobStart, type EngineNodes } from './port.js';
export { childRequestBody, checkChildRequest, type ChildRequest } from './child-request.js';
