/**
 * scheduler — the run-time semantics of ecFlow 5.9.2 suites (see ../README.md): `createRuntime`
 * builds a `WorkflowRuntime` (../model/runtime.ts) for one loaded definition; event-driven, no
 * tick (./runtime.ts). Where Nubis decides or differs:
 * - the suite calendar is the UTC calendar of the runtime's Clock;
 * - a time slot passed while the control plane was down is caught up at restore (ecFlow misses it);
 * - a user requeue ignores defstatus and starts the tries afresh; begin and repeat/cron/time
 *   requeues apply defstatus; kill and force aborted never retry;
 * - `inlimit -n`: the node holds its token from its first task's submission until it is
 *   complete, aborted or requeued (`-s` applies to task tokens only); a task's needs of one
 *   limit are checked together; `run` takes tokens even past the limit;
 * - a step evaluates in definition order; `changed` batches carry the states a node passed
 *   through within the step (a completion before its requeue, an abort before its retry);
 * - labels must be declared, except on engine-action tasks;
 * - `late` is checked at the instant it is due (ecFlow: on its minute tick); only tasks get the
 *   flag, with each aspect inherited from the nearest ancestor giving it (./late.ts);
 * - `autocancel` removes the node from the runtime (its WfNodeRuntime keeps `removed`; the
 *   stored definition keeps it, status and export leave it out); a workflow whose suites are all
 *   removed stays loaded, empty (./autocancel.ts); `autoarchive` takes a node's children out of
 *   the runtime until a requeue, begin or `autorestore` brings them back (./archive.ts);
 *   `endclock` is kept and exported, with no effect (ecFlow's simulator reads it, not its server);
 * - a suite's `clock` shifts its calendar on the runtime's Clock (./suite-clock.ts); `queue`
 *   steps (./queue.ts); `zombie` attributes (./zombies.ts); flags (./flags.ts).
 */
export { createRuntime, type RuntimeOptions } from './runtime.js';
export { evaluateExpression, evaluateValue, falseTerms, STATE_VALUE, type ExprEnv } from './evaluate.js';
