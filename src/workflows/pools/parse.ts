/**
 * Pools as a .def file can declare them and still load into ecflow_server: a variable on the
 * suite (or at server level) per pool,
 *
 *   edit NUBIS_POOL_compute 'postproc/compute slots=4 readyBy=04:40 autoscale=0..8/16/5m'
 *
 * `<deployment>/<component>`, then optional `slots=N` (default 1), `readyBy=hh:mm|ISO` and
 * `autoscale=min..max/jobsPerNode/cooldown` (cooldown as 90s, 5m, 1h). A job task names its
 * pool with `edit NUBIS_POOL <name>` (inherited like any variable).
 *
 * `parsePoolText` throws REQUEST_INVALID saying what is wrong (the def unit adds file:line:col).
 */
import { NubisError } from '../../errors/index.js';
import type { SourceLoc, WfPool } from '../model/types.js';

/** The variable prefix that declares a pool. */
export const POOL_VARIABLE_PREFIX = 'NUBIS_POOL_';
/** Pool names are variable-name parts in ecFlow: letters, digits, _. */
export const POOL_NAME = /^[A-Za-z0-9_]+$/;

function bad(pool: string, text: string, why: string): NubisError {
  return new NubisError('REQUEST_INVALID', `${POOL_VARIABLE_PREFIX}${pool} ${JSON.stringify(text)}: ${why}`);
}

function durationMs(v: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h)$/.exec(v);
  return m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'] : undefined;
}

/** One pool from its name (the part after NUBIS_POOL_) and the variable's value. */
export function parsePoolText(pool: string, text: string, loc?: SourceLoc): WfPool {
  if (!POOL_NAME.test(pool)) throw bad(pool, text, `pool name ${JSON.stringify(pool)}: expected letters, digits and _`);
  const [target, ...opts] = text.trim().split(/\s+/);
  const dc = /^([a-z0-9][a-z0-9-]*)\/([a-z0-9][a-z0-9-]*)$/.exec(target ?? '');
  if (!dc) throw bad(pool, text, 'expected <deployment>/<component> first');
  let slots = 1;
  let readyBy: string | undefined;
  let autoscale: WfPool['autoscale'];
  for (const o of opts) {
    const [k, v = ''] = o.split('=', 2) as [string, string?];
    if (k === 'slots') {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw bad(pool, text, `slots=${v}: expected an integer ≥ 1`);
      slots = Number(v);
    } else if (k === 'readyBy') {
      if (!/^([01]?\d|2[0-3]):[0-5]\d$/.test(v) && !Number.isFinite(Date.parse(v))) throw bad(pool, text, `readyBy=${v}: expected hh:mm or an ISO 8601 time`);
      readyBy = v;
    } else if (k === 'autoscale') {
      const m = /^(\d+)\.\.(\d+)\/(\d+)\/(\w+)$/.exec(v);
      const cooldownMs = m ? durationMs(m[4]!) : undefined;
      if (!m || cooldownMs === undefined || Number(m[1]) > Number(m[2]) || Number(m[3]) < 1) {
        throw bad(pool, text, `autoscale=${v}: expected min..max/jobsPerNode/cooldown such as 0..8/16/5m`);
      }
      autoscale = { min: Number(m[1]), max: Number(m[2]), jobsPerNode: Number(m[3]), cooldownMs };
    } else {
      throw bad(pool, text, `unknown option ${JSON.stringify(k)}; expected slots=, readyBy= or autoscale=`);
    }
  }
  return { name: pool, deployment: dc[1]!, component: dc[2]!, slots, ...(readyBy ? { readyBy } : {}), ...(autoscale ? { autoscale } : {}), ...(loc ? { loc } : {}) };
}

/** Every pool declared among variables (`NUBIS_POOL_<name>`), in their order. */
export function poolsFromVariables(vars: readonly { readonly name: string; readonly value: string }[], loc?: SourceLoc): WfPool[] {
  return vars.filter((v) => v.name.startsWith(POOL_VARIABLE_PREFIX)).map((v) => parsePoolText(v.name.slice(POOL_VARIABLE_PREFIX.length), v.value, loc));
}

/** The variable value `parsePoolText` reads back to the same pool (for export). */
export function printPool(p: WfPool): string {
  const a = p.autoscale;
  const cd = a ? (a.cooldownMs % 60_000 === 0 ? `${a.cooldownMs / 60_000}m` : a.cooldownMs % 1000 === 0 ? `${a.cooldownMs / 1000}s` : `${a.cooldownMs}ms`) : '';
  return [`${p.deployment}/${p.component}`, `slots=${p.slots}`, ...(p.readyBy ? [`readyBy=${p.readyBy}`] : []), ...(a ? [`autoscale=${a.min}..${a.max}/${a.jobsPerNode}/${cd}`] : [])].join(' ');
}
