/** A fake WorkflowRuntime for the job-protocol tests: accepts a try's commands with its password, records everything. */
import { randomBytes } from 'node:crypto';
import type { WfChildCommand, WfChildIdentity, WfChildResult, WfNodeRuntime, WfSubmission, WorkflowRuntime } from '../../src/workflows/index.js';

export interface Call {
  identity: WfChildIdentity;
  command: WfChildCommand;
  /** When the runtime got it (the clock given to fakeRuntime). */
  at: number;
}

/** A runtime that accepts a try's commands with its password and records everything. */
export function fakeRuntime(workflow = 'wf', now: () => number = Date.now) {
  const nodes = new Map<string, WfNodeRuntime>();
  const calls: Call[] = [];
  const lost: { path: string; tryNo: number; detail: string; at: number }[] = [];
  const failed: { path: string; tryNo: number; detail: string }[] = [];
  let waitResult: (() => Promise<WfChildResult>) | undefined;
  const runtime: WorkflowRuntime = {
    definition: { name: workflow } as WorkflowRuntime['definition'],
    user: () => ({ ok: true }),
    child(identity, command) {
      calls.push({ identity, command, at: now() });
      const n = nodes.get(identity.path);
      if (!n || n.password !== identity.password || n.tryNo !== identity.tryNo) return { ok: false, zombie: true, why: 'wrong password or try' };
      if (n.state !== 'submitted' && n.state !== 'active') return { ok: false, zombie: true, why: `task is ${n.state}` };
      if (command.verb === 'init') n.state = 'active';
      else if (command.verb === 'complete') n.state = 'complete';
      else if (command.verb === 'abort') n.state = 'aborted';
      else if (command.verb === 'wait' && waitResult) return waitResult();
      return { ok: true };
    },
    lost(path, tryNo, detail) {
      lost.push({ path, tryNo, detail, at: now() });
      const n = nodes.get(path);
      if (n) n.state = 'aborted';
    },
    failedToStart(path, tryNo, detail) {
      failed.push({ path, tryNo, detail });
    },
    node: (p) => nodes.get(p),
    nodes: () => nodes.values(),
    why: () => [],
    restore: () => {},
    close: () => {},
  };
  let pw = 0;
  return {
    runtime,
    calls,
    lost,
    failed,
    setWait(fn: () => Promise<WfChildResult>) {
      waitResult = fn;
    },
    /** A fresh try of `path` in state submitted. */
    submit(path: string, tryNo = 1, variables: Record<string, string> = {}): WfSubmission {
      const password = `pw${++pw}-${randomBytes(4).toString('hex')}`;
      nodes.set(path, { path, state: 'submitted', suspended: false, tryNo, password, events: {}, meters: {}, labels: {}, variables: {}, changedAt: 0 });
      return { workflow, path, tryNo, password, variables };
    },
  };
}

