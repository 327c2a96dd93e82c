/** `nubis status --control-plane`: the replicas over the shared database, who leads, when the lease runs out. */
import type { ApiClient } from '../client.js';
import { table, type Style } from '../format.js';

export interface ControlPlaneBody {
  self: string;
  role: string;
  leaseMs: number;
  leader: { replica: string; token: number; since?: string; expiresAt?: string; expiresInMs: number; url?: string } | null;
  replicas: { id: string; url: string; startedAt?: string; heartbeatAt?: string; heartbeatAgeMs?: number; role: string }[];
}

export const CONTROL_PLANE_OPTION = { 'control-plane': { type: 'boolean' } } as const;
export const CONTROL_PLANE_HELP = '--control-plane  show the control plane\'s replicas (serve --replica), who leads and when its lease runs out';

export async function controlPlaneStatus(client: ApiClient, style: Style, json: boolean): Promise<string> {
  const body = await client.get<ControlPlaneBody>('/v1/control-plane');
  if (json) return JSON.stringify(body, null, 2);
  const l = body.leader;
  const head = l
    ? `leader ${style.bold(l.replica)}  lease token ${l.token}, runs out in ${(l.expiresInMs / 1000).toFixed(1)} s (lease ${body.leaseMs} ms)`
    : style.yellow(`no leader now: a failover is under way (lease ${body.leaseMs} ms)`);
  const rows = body.replicas.map((r) => [
    r.id === body.self ? `${r.id} *` : r.id, r.role === 'leader' ? style.green(r.role) : r.role, r.url,
    r.heartbeatAgeMs === undefined ? '-' : `${(r.heartbeatAgeMs / 1000).toFixed(1)} s ago`, r.startedAt ?? '-',
  ]);
  return [head, '', table(style, ['REPLICA', 'ROLE', 'URL', 'HEARTBEAT', 'STARTED'], rows), '', style.dim('* the replica that answered')].join('\n');
}
