/**
 * The component's `backup`, `restore` and `verify` handlers, run through a node's agent like a
 * custom operation (step `operation`, its name in the agent's log) with the component's handler
 * environment plus NUBIS_BACKUP_DIR (relative to the instance directory) and NUBIS_BACKUP_RUN.
 * `backup` starts with an empty NUBIS_BACKUP_DIR; a non-zero exit fails the run with its output.
 */
import type { AgentClient } from '../../agent/index.js';
import type { CloudNode } from '../../drivers/index.js';
import type { Deployment } from '../../engine/index.js';
import { NubisError } from '../../errors/index.js';
import { maskSecrets, type BackupPolicySpec } from '../../model/index.js';
import type { BackupRunRow } from '../../store/index.js';
import type { BackupsContext } from './context.js';

/** Where the `backup` handler writes its dump and the `restore` handler finds it, in the instance directory. */
export const DUMP_DIR = '.nubis-backup';

export type BackupHandlerName = 'backup' | 'restore' | 'verify';

/** Runs the handler on the instance's node, or — `on` — on another node (a drill's scratch node). */
export async function runHandler(
  x: BackupsContext, d: Deployment, p: BackupPolicySpec, instance: string, name: BackupHandlerName, row: BackupRunRow, signal: AbortSignal,
  on?: { node: CloudNode; agent: AgentClient },
): Promise<void> {
  const h = p.handlers[name];
  if (!h) throw new NubisError('INTERNAL', `component ${p.component} has no ${name} handler`);
  const { env, secrets } = x.o.engine.handlers.env(d.name, instance, on?.node);
  Object.assign(env, { NUBIS_STEP: 'operation', NUBIS_OPERATION: name, NUBIS_BACKUP_DIR: DUMP_DIR, NUBIS_BACKUP_RUN: row.id });
  const command = name === 'backup' ? `rm -rf "$NUBIS_BACKUP_DIR" && mkdir -p "$NUBIS_BACKUP_DIR" && {\n${h.run}\n}` : h.run;
  let agent = on?.agent;
  if (!agent) {
    const n = x.o.engine.nodes.get(`${d.name}/${instance}`);
    if (!n?.observed) throw new NubisError('AGENT_UNREACHABLE', `the node of ${instance} is gone`);
    agent = x.o.engine.cloudFor(d, n.cloud).driver.agent(n.observed);
  }
  const r = await agent.runStep({ runId: `${row.id}:${name}`, instance, step: 'operation', operation: name, command, timeoutMs: h.timeoutMs, env, wiring: undefined }, signal);
  if (r.state === 'succeeded') return;
  const out = maskSecrets(r.output, secrets).slice(-1000).trim();
  const how = r.state === 'timed-out' ? `timed out after ${h.timeoutMs} ms` : `exited with ${r.exitCode ?? r.signal ?? 'an error'}`;
  throw new NubisError('HANDLER_FAILED', `the ${name} handler ${how}${out ? `: ${out}` : ''}`);
}
