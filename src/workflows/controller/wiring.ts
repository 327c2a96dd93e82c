/**
 * The composition of the workflows controller with the real units, called by the server's
 * composition root (src/cli/server-root.ts) once the control plane exists:
 *
 *   const workflows = createWorkflows({ controlPlane, store, events });
 *   createApiServer({ controlPlane, store, workflows, … });
 *   await controlPlane.start();       // the reconcile core loads every stored workflow
 *
 * It registers the controller on the engine's reconcile core with `engine.register` rather
 * than in EXTRA_CONTROLLERS: its engine actions go through the control plane's facade (scale
 * with an audited caller), which is built after the engine, and the API needs the instance. The
 * engine knows nothing of workflows either way.
 *
 * Each port is one line: the scheduler's `createRuntime`, the actions unit's `runAction` over
 * `controlPlanePorts`, pool membership from the engine's instances. `ports` overrides any of
 * them (tests use a fake job runner).
 */
import { createRealClock, type Clock } from '../../clock/index.js';
import type { EventLog } from '../../events/index.js';
import type { Store } from '../../store/index.js';
import { deploymentId, type RunningControlPlane } from '../../engine/index.js';
import { createRuntime } from '../scheduler/index.js';
import { actionRunner, actionTimeout, type ControlPlanePortsOptions } from '../actions/index.js';
import { parseDef, parseWorkflowYaml, printDef } from '../def/index.js';
import { parseExpression } from '../expr/index.js';
import { execFile } from 'node:child_process';
import {
  fetchedJobText, locateScript, normalizePath, preprocess, runScriptCommand, scriptCommandOf, type CommandRunner, type ScriptCommandOptions, type ScriptFiles,
} from '../script/index.js';
import type { WfSubmission } from '../model/runtime.js';
import type { WfPool } from '../model/types.js';
import { WorkflowsController } from './controller.js';
import { tryKey, type JobPort, type PoolMember, type PoolPort, type WorkflowFiles, type WorkflowPorts } from './ports.js';
import { JobDispatcher, type DispatcherState } from '../jobs/index.js';
import type { AgentClient } from '../../agent/index.js';
import { NubisError } from '../../errors/index.js';

export interface WorkflowsWiring {
  controlPlane: Pick<RunningControlPlane, 'engine' | 'events' | 'getDeployment' | 'scale'> & Partial<Pick<RunningControlPlane, 'registry'>>;
  store: Store;
  events: EventLog;
  /** The control plane's clock. Default: the wall clock. */
  clock?: Clock;
  /** This control plane's API, given to jobs as NUBIS_URL. */
  controlUrl?: string;
  serverVariables?: Record<string, string>;
  /** `nubis serve --allow-script-commands`: ECF_SCRIPT_CMD and ECF_FETCH may run commands on the control plane. */
  scriptCommands?: boolean;
  /** Replaces single ports (a fake job runner in tests). */
  ports?: Partial<WorkflowPorts>;
  /** `backup D C` actions: backs up the component now (src/operations/backups); absent: refused. */
  backupNow?: ControlPlanePortsOptions['backupNow'];
  log?: (message: string) => void;
}

/** A pool's nodes: the running instances of its component, in the workflow's tenant. */
export function enginePools(cp: Pick<RunningControlPlane, 'engine' | 'events' | 'scale'>): PoolPort {
  const dep = (tenant: string, p: WfPool): string => deploymentId(tenant, p.deployment);
  return {
    members(tenant, pool): PoolMember[] {
      const out: PoolMember[] = [];
      for (const i of cp.engine.instancesOf(dep(tenant, pool))) {
        if (i.component !== pool.component || !i.desired || i.phase !== 'running') continue;
        const n = cp.engine.nodes.get(i.key);
        if (n && n.status !== 'running') continue;
        out.push({ id: i.key });
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    watch: (tenant, pool, fn) => cp.events.subscribe({ deployment: dep(tenant, pool) }, () => fn()),
    size: async (tenant, pool) => cp.engine.instancesOf(dep(tenant, pool)).filter((i) => i.component === pool.component && i.desired).length,
    scale: async (tenant, workflow, pool, count, reason) => {
      await cp.scale(dep(tenant, pool), pool.component, count, { actor: `workflow:${workflow}`, tenant });
    },
  };
}

/**
 * Script jobs on the agents of pool nodes (the jobs unit's JobDispatcher). Its state (live jobs,
 * feed cursors) is saved after the workflows' commits, and re-attached to after a restart.
 */
export function dispatcherJobs(o: {
  controlPlane: Pick<RunningControlPlane, 'engine'>;
  store: Store;
  clock: Clock;
  controller: () => WorkflowsController;
  log?: (message: string) => void;
}): JobPort {
  const { engine } = o.controlPlane;
  const agentOf = (nodeId: string): AgentClient | undefined => {
    const n = engine.nodes.get(nodeId);
    const d = n ? engine.deployments.get(n.deployment) : undefined;
    if (!n?.observed || !d) return undefined;
    try {
      return engine.cloudFor(d, n.cloud).driver.agent(n.observed);
    } catch {
      return undefined;
    }
  };
  const d = new JobDispatcher({
    runtime: (workflow) => o.controller().runtimeOf(workflow),
    clock: o.clock,
    onState: (state) => {
      const json = JSON.stringify(state);
      o.controller().afterCommits(() => o.store.workflows.putDispatch(DISPATCH_KEY, json, o.clock.now()));
    },
    ...(o.log ? { log: o.log } : {}),
  });
  return {
    async start(job) {
      const agent = agentOf(job.node);
      if (!agent) throw new NubisError('AGENT_UNREACHABLE', `node ${job.node} has no agent to run the job on`);
      // the dispatcher reports a try it cannot start to the runtime itself
      await d.start(job.sub, { nodeId: job.node, agent }, job.script, jobOptions(job.sub.variables));
    },
    kill: (workflow, path, tryNo) => void d.kill(workflow, path, tryNo).catch(() => undefined),
    async logs(_tenant, workflow, path, tryNo, node) {
      const agent = node ? agentOf(node) : undefined;
      if (!node || !agent) return undefined;
      return d.logs(workflow, path, tryNo, { nodeId: node, agent });
    },
    async resume() {
      const saved = await o.store.workflows.dispatch(DISPATCH_KEY);
      if (saved) await d.resume(JSON.parse(saved) as DispatcherState, agentOf);
      return new Map(d.running().map((j) => [tryKey(j.workflow, j.path, j.tryNo), j.nodeId] as const));
    },
    close: () => d.close(),
  };
}

const DISPATCH_KEY = 'jobs';

/**
 * A try's job text: its script found among the uploaded files (ECF_SCRIPT, ECF_FILES, ECF_HOME),
 * or made by ECF_FETCH / ECF_SCRIPT_CMD (a promise; refused unless `commands.allowed`), preprocessed.
 */
export function scriptJobText(sub: WfSubmission, files: WorkflowFiles, commands?: ScriptCommandOptions): string | Promise<string> {
  const read: ScriptFiles = { read: (p) => files.get(normalizePath(p)) ?? files.get(p) };
  const cmd = scriptCommandOf(sub.path, sub.variables, read);
  if (cmd?.fetch !== undefined) {
    return fetchedJobText(sub.path, cmd, sub.variables, commands ?? { allowed: false, run: shellRunner }, { file: `${cmd.variable} output`, taskPath: sub.path });
  }
  if (cmd) {
    return runScriptCommand(sub.path, cmd, sub.variables, commands ?? { allowed: false, run: shellRunner })
      .then((text) => preprocess(text, sub.variables, { file: `${cmd.variable} output`, files: read, taskPath: sub.path }));
  }
  const found = locateScript(sub.path, sub.variables, read);
  return preprocess(found.text, sub.variables, { file: found.path, files: read, taskPath: sub.path });
}

/** `/bin/sh -c COMMAND` on the control plane, its output kept (at most 32 MiB), killed at the timeout. */
export const shellRunner: CommandRunner = (command, opts) => new Promise((resolve, reject) => {
  const child = execFile('/bin/sh', ['-c', command], { timeout: opts.timeoutMs, maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
    if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
    resolve({ code: child.exitCode ?? (err ? 1 : 0), signal: child.signalCode, stdout, stderr });
  });
  child.stdin?.end();
});

/** A job's time limit from NUBIS_JOB_TIMEOUT (`90s`, `30m`, `2h`); none when absent. */
function jobOptions(vars: Readonly<Record<string, string>>): { timeoutMs?: number } {
  const t = vars['NUBIS_JOB_TIMEOUT'];
  if (!t) return {};
  const ms = actionTimeout({ NUBIS_ACTION_TIMEOUT: t });
  return ms !== undefined ? { timeoutMs: ms } : {};
}

export function createWorkflows(o: WorkflowsWiring): WorkflowsController {
  const clock = o.clock ?? createRealClock();
  const cp = o.controlPlane;
  let ctl: WorkflowsController | undefined;
  const jobs = o.ports?.jobs ? undefined : dispatcherJobs({ controlPlane: cp, store: o.store, clock, controller: () => ctl!, ...(o.log ? { log: o.log } : {}) });
  const runAction = actionRunner({
    controlPlane: cp, clock, engine: cp.engine, ...(cp.registry ? { measure: { events: cp.events, accounting: cp.registry.accounting } } : {}),
    ...(o.backupNow ? { backupNow: o.backupNow } : {}),
  });
  const ports: WorkflowPorts = {
    runtime: (def, opts) => createRuntime(def, opts),
    defs: {
      parseDef: (text, file) => parseDef(text, file),
      parseYaml: (text, file) => parseWorkflowYaml(text, file),
      // parseDef and parseWorkflowYaml check what they return
      check: () => undefined,
      print: (def) => printDef(def),
      parseExpression: (text) => parseExpression(text).expr,
    },
    script: { jobText: (sub, files) => scriptJobText(sub, files, { allowed: o.scriptCommands === true, run: shellRunner }) },
    actions: { run: (action, ctx) => runAction(action, ctx) },
    pools: enginePools(cp),
    ...(jobs ? { jobs } : {}),
    ...o.ports,
  };
  ctl = new WorkflowsController({
    store: o.store, events: o.events, clock, ports,
    ...(o.serverVariables ? { serverVariables: o.serverVariables } : {}),
    ...(o.controlUrl ? { controlUrl: o.controlUrl } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  cp.engine.register(ctl);
  return ctl;
}
