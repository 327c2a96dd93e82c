/**
 * Backup policies in the spec: the semantic checks the schema cannot express (the component
 * exists, exactly one kind of `what`, a dump needs the component's `backup` handler, paths stay
 * inside the instance, each store kind's own fields, cron and time zone) and normalisation with
 * the defaults. The policies are enacted by src/operations/backups.
 */
import { isTimeZone, parseCron } from '../clock/index.js';
import type { BackupPolicyDoc, BackupStoreKind } from './backups-schema.js';

/** Defaults of a backup policy. */
export const BACKUP_DEFAULTS = Object.freeze({ keepLast: 7, timeoutMs: 3_600_000, handlerTimeoutMs: 600_000, timeZone: 'UTC' });

export interface BackupScheduleSpec {
  cron: string;
  timeZone: string;
}

/** A store as the policy names it; secrets come from the named credential at run time. */
export interface BackupStoreSpec {
  kind: BackupStoreKind;
  path?: string;
  host?: string;
  port?: number;
  user?: string;
  hostKey?: string;
  bucket?: string;
  prefix?: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credential?: string;
}

/** A handler of the component run for backups: `backup` (writes the dump), `restore` (reads it), `verify` (drills). */
export interface BackupHandlerSpec {
  run: string;
  timeoutMs: number;
}

/** A backup policy, normalised. */
export interface BackupPolicySpec {
  name: string;
  component: string;
  schedule?: BackupScheduleSpec;
  /** snapshot: through the driver; archive: a tar of the dump and paths through the node's agent. */
  what: { kind: 'snapshot'; volumes: boolean } | { kind: 'archive'; dump: boolean; paths: string[] };
  store: BackupStoreSpec;
  retention: { last: number; daily: number; weekly: number; monthly: number };
  drill?: { schedule: BackupScheduleSpec };
  onDestroy: boolean;
  timeoutMs: number;
  /** The component's backup, restore and verify handlers (from its `lifecycle`). */
  handlers: { backup?: BackupHandlerSpec; restore?: BackupHandlerSpec; verify?: BackupHandlerSpec };
}

type Seg = string | number;
/** One problem: where, what was expected, what was found. */
export interface BackupProblem {
  path: Seg[];
  expected: string;
  found: string;
}

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const quote = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);

/** The fields each store kind needs, and those it may take. */
const STORE_FIELDS: Record<BackupStoreKind, { needs: string[]; may: string[] }> = {
  dir: { needs: ['path'], may: [] },
  sftp: { needs: ['host', 'user', 'path', 'hostKey', 'credential'], may: ['port'] },
  s3: { needs: ['bucket', 'credential'], may: ['prefix', 'region', 'endpoint', 'forcePathStyle'] },
};

function scheduleProblems(raw: unknown, at: Seg[]): BackupProblem[] {
  const s = rec(raw);
  const out: BackupProblem[] = [];
  const cron = str(s['cron']);
  if (cron !== undefined && /^\S+\s+\S+\s+\S+\s+\S+\s+\S+$/.test(cron)) {
    try {
      parseCron(cron);
    } catch (e) {
      out.push({ path: [...at, 'cron'], expected: 'a valid cron expression', found: `${quote(cron)} (${(e as Error).message.replace(/^cron "[^"]*": /, '')})` });
    }
  }
  const tz = str(s['timeZone']);
  if (tz !== undefined && !isTimeZone(tz)) out.push({ path: [...at, 'timeZone'], expected: 'an IANA time zone such as UTC or Europe/Helsinki', found: `unknown time zone ${quote(tz)}` });
  return out;
}

function storeProblems(raw: unknown, at: Seg[]): BackupProblem[] {
  const s = rec(raw);
  const kind = str(s['kind']) as BackupStoreKind | undefined;
  if (!kind || !Object.hasOwn(STORE_FIELDS, kind)) return []; // the schema walk reported it
  const { needs, may } = STORE_FIELDS[kind];
  const out: BackupProblem[] = [];
  for (const f of needs) if (s[f] === undefined) out.push({ path: at, expected: `${f} (a ${kind} store needs ${needs.join(', ')})`, found: `no ${f}` });
  for (const f of Object.keys(s)) {
    if (f !== 'kind' && !needs.includes(f) && !may.includes(f)) out.push({ path: [...at, f], expected: `a field of a ${kind} store (${[...needs, ...may].join(', ')})`, found: `${f}, which only another store kind takes` });
  }
  const p = str(s['path']);
  if (kind === 'dir' && p !== undefined && !p.startsWith('/')) out.push({ path: [...at, 'path'], expected: 'an absolute directory', found: `relative path ${quote(p)}` });
  return out;
}

function whatProblems(raw: unknown, at: Seg[], lifecycle: Record<string, unknown>, component: string): BackupProblem[] {
  const w = rec(raw);
  const out: BackupProblem[] = [];
  const archive = w['dump'] === true || w['paths'] !== undefined;
  if (w['snapshot'] !== undefined && (archive || w['dump'] !== undefined)) out.push({ path: at, expected: 'exactly one of snapshot, or dump and/or paths', found: 'snapshot with dump or paths' });
  else if (w['snapshot'] === undefined && !archive) out.push({ path: at, expected: 'snapshot, dump: true or paths', found: w['dump'] === false ? 'dump: false and no paths' : 'none of them' });
  if (w['dump'] === true && lifecycle['backup'] === undefined) {
    out.push({ path: [...at, 'dump'], expected: `a backup handler in components.${component}.lifecycle.backup (it writes the dump into $NUBIS_BACKUP_DIR)`, found: 'no backup handler' });
  }
  const paths = Array.isArray(w['paths']) ? (w['paths'] as unknown[]) : [];
  paths.forEach((p, i) => {
    if (typeof p !== 'string') return;
    if (p.startsWith('/') || p.split('/').some((s) => s === '..' || s === '.' || s === '')) {
      out.push({ path: [...at, 'paths', i], expected: 'a path inside the instance directory (relative, no . or .. or empty segments)', found: `path ${quote(p)}` });
    } else if (paths.indexOf(p) !== i) out.push({ path: [...at, 'paths', i], expected: 'each path once', found: `${quote(p)} again` });
  });
  return out;
}

/** Problems of the spec's `backups` section as written (`top`: the spec's plain value). */
export function backupsProblems(top: Record<string, unknown>, durationMs: (s: string) => number | undefined): BackupProblem[] {
  const out: BackupProblem[] = [];
  const components = rec(top['components']);
  for (const [name, raw] of Object.entries(rec(top['backups']))) {
    const p = rec(raw);
    const at: Seg[] = ['backups', name];
    const comp = str(p['component']);
    const known = comp !== undefined && Object.hasOwn(components, comp);
    if (comp !== undefined && /^[a-z][a-z0-9-]{0,39}$/.test(comp) && !known) {
      const names = Object.keys(components).join(', ') || 'none';
      out.push({ path: [...at, 'component'], expected: `name of a component (${names})`, found: `unknown component ${quote(comp)}` });
    }
    const lifecycle = known ? rec(rec(components[comp!])['lifecycle']) : {};
    if (p['what'] !== undefined) out.push(...whatProblems(p['what'], [...at, 'what'], known ? lifecycle : { backup: true }, comp ?? '?'));
    if (p['store'] !== undefined) out.push(...storeProblems(p['store'], [...at, 'store']));
    if (p['schedule'] !== undefined) out.push(...scheduleProblems(p['schedule'], [...at, 'schedule']));
    if (p['drill'] !== undefined) out.push(...scheduleProblems(rec(p['drill'])['schedule'], [...at, 'drill', 'schedule']));
    const t = str(p['timeout']);
    if (t !== undefined) {
      const ms = durationMs(t);
      if (ms === undefined || ms < 1000 || ms > 24 * 3_600_000) out.push({ path: [...at, 'timeout'], expected: 'duration from 1s to 24h', found: `duration ${quote(t)}` });
    }
  }
  return out;
}

const schedule = (s: { cron: string; timeZone?: string } | undefined): BackupScheduleSpec | undefined =>
  s ? { cron: s.cron, timeZone: s.timeZone ?? BACKUP_DEFAULTS.timeZone } : undefined;

type HandlerDocLike = string | { run: string; timeout?: string } | undefined;

/** The spec's policies with defaults applied; `lifecycleOf` gives a component's backup, restore and verify handlers as written. */
export function normaliseBackups(
  doc: Record<string, BackupPolicyDoc>,
  lifecycleOf: (component: string) => Partial<Record<'backup' | 'restore' | 'verify', HandlerDocLike>>,
  parse: (s: string) => number,
): Record<string, BackupPolicySpec> {
  const handler = (h: HandlerDocLike): BackupHandlerSpec | undefined => {
    if (h === undefined) return undefined;
    if (typeof h === 'string') return { run: h, timeoutMs: BACKUP_DEFAULTS.handlerTimeoutMs };
    return { run: h.run, timeoutMs: h.timeout !== undefined ? parse(h.timeout) : BACKUP_DEFAULTS.handlerTimeoutMs };
  };
  const out: Record<string, BackupPolicySpec> = {};
  for (const [name, p] of Object.entries(doc)) {
    const lc = lifecycleOf(p.component);
    const handlers: BackupPolicySpec['handlers'] = {};
    for (const h of ['backup', 'restore', 'verify'] as const) {
      const x = handler(lc[h]);
      if (x) handlers[h] = x;
    }
    const sched = schedule(p.schedule);
    const drill = p.drill ? schedule(p.drill.schedule) : undefined;
    const store: BackupStoreSpec = { ...p.store } as BackupStoreSpec;
    out[name] = {
      name,
      component: p.component,
      ...(sched ? { schedule: sched } : {}),
      what: p.what.snapshot !== undefined
        ? { kind: 'snapshot', volumes: p.what.snapshot.volumes ?? false }
        : { kind: 'archive', dump: p.what.dump ?? false, paths: [...(p.what.paths ?? [])] },
      store,
      retention: { last: p.retention?.last ?? BACKUP_DEFAULTS.keepLast, daily: p.retention?.daily ?? 0, weekly: p.retention?.weekly ?? 0, monthly: p.retention?.monthly ?? 0 },
      ...(drill ? { drill: { schedule: drill } } : {}),
      onDestroy: p.onDestroy ?? false,
      timeoutMs: p.timeout !== undefined ? parse(p.timeout) : BACKUP_DEFAULTS.timeoutMs,
      handlers,
    };
  }
  return out;
}
