/** Stored operation runs → the views the API and CLI show (tenant-local names). */
import type { OperationInstanceRunRow, OperationRunRow } from '../../store/index.js';
import type { ParamValue } from '../../model/index.js';
import { localText, splitDeploymentId } from '../tenancy.js';
import type { OperationInstanceState, OperationInstanceView, OperationRunState, OperationRunView } from './types.js';

const iso = (ms: number | string | null): string | undefined => (ms === null ? undefined : new Date(Number(ms)).toISOString());

export function instanceView(r: OperationInstanceRunRow): OperationInstanceView {
  const v: OperationInstanceView = { instance: r.instance, state: r.state as OperationInstanceState, exitCode: r.exit_code, output: r.output };
  if (r.detail !== null) v.detail = r.detail;
  const s = iso(r.started_at);
  const e = iso(r.ended_at);
  if (s !== undefined) v.startedAt = s;
  if (e !== undefined) v.endedAt = e;
  return v;
}

export function runView(r: OperationRunRow, instances: readonly OperationInstanceRunRow[]): OperationRunView {
  const { tenant, name } = splitDeploymentId(r.deployment);
  const v: OperationRunView = {
    id: r.id, deployment: name, component: r.component, operation: r.operation,
    params: JSON.parse(r.params_json) as Record<string, ParamValue>,
    actor: r.actor, reason: localText(tenant, r.reason), state: r.state as OperationRunState,
    createdAt: iso(r.created_at)!, instances: instances.filter((i) => i.run_id === r.id).map(instanceView),
  };
  const e = iso(r.ended_at);
  if (e !== undefined) v.endedAt = e;
  return v;
}

/** A run's state from its instances' states: interrupted when one's outcome is unknown, succeeded when all did, failed when none did, else partial. */
export function runStateOf(states: readonly OperationInstanceState[]): OperationRunState {
  if (states.includes('interrupted')) return 'interrupted';
  const ok = states.filter((s) => s === 'succeeded').length;
  if (ok === states.length) return 'succeeded';
  return ok === 0 ? 'failed' : 'partial';
}
