/**
 * What a node's agent keeps on disk of its running workflow jobs, so that a restarted agent
 * re-adopts them (./job-restore.ts). Under `<sandbox>/jobs/state/`:
 *
 *   feed.json    `{ v, epoch, seqFloor }`: the job feed's epoch, kept across restarts (the
 *                control plane goes on reading the same feed), and a bound above every seq
 *                issued (moved ahead by `SEQ_BLOCK` before it is reached: one write per block)
 *   <key>.json   one running job (`key`: its run directory's name under `jobs/run/`): its
 *                process (pid = pgid, and the start time from /proc/<pid>/stat that tells it
 *                from a later process with the same pid), its output file, and the child
 *                records a restarted agent must still have: the latest event/meter/label of
 *                each name and the calls that wait for an answer, with their seqs
 *
 * Every file is written to a temporary name and renamed over it (a crash leaves the old file or
 * the new one, never half of one). Failure meaning: a file that cannot be parsed or fails the
 * checks is logged and removed, and its job is not re-adopted — the control plane finds the job
 * unknown and counts it lost (then ECF_TRIES applies); a corrupt feed.json gives a new epoch,
 * and a new epoch re-adopts nothing (every job of the old one is lost).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { JobFeedRecord } from './protocol.js';

export type ChildRecord = Extract<JobFeedRecord, { kind: 'child' }>;

/** One running job as the agent saved it. */
export interface SavedJob {
  v: 1;
  key: string;
  jobId: string;
  workflow: string;
  path: string;
  tryNo: number;
  timeoutMs?: number;
  startedAt: number;
  /** The wrapper's pid: also the job's process group (it runs in a session of its own). */
  pid: number;
  /** Field 22 of /proc/<pid>/stat when the job started (clock ticks since boot). */
  startTime: string;
  outFile: string;
  /** The latest event/meter/label of each name, and calls that waited for an answer. */
  records: ChildRecord[];
  /** The reply slot (`r<slot>`) each waiting record's caller reads, by the record's seq. */
  waiting: { seq: number; slot: number }[];
}

/** Seqs reserved per write of feed.json. */
export const SEQ_BLOCK = 10_000;

export interface JobStateStore {
  readonly epoch: string;
  /** True when the epoch is an earlier agent's (feed.json was read): its jobs may be re-adopted. */
  readonly continued: boolean;
  /** The last seq an earlier agent may have issued: this agent's feed goes on after it. */
  readonly firstSeq: number;
  /** Call before issuing `seq`: moves the bound on disk ahead when `seq` would reach it. */
  issue(seq: number): void;
  /** The jobs an earlier agent saved (the valid files; the others are logged and removed). */
  load(): SavedJob[];
  save(job: SavedJob): void;
  remove(key: string): void;
}

const KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

function writeAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  renameSync(tmp, file);
}

/** Whether `p` is inside `dir` (after resolving `..`). */
function inside(dir: string, p: string): boolean {
  return resolve(p).startsWith(resolve(dir) + sep);
}

/** The reasons a saved job is not one this agent wrote, or undefined when it is valid. */
export function checkSavedJob(v: unknown, key: string, outRoot: string): string | undefined {
  if (!isRecord(v) || v['v'] !== 1) return 'not a saved job of this version';
  if (v['key'] !== key) return `its key is not ${key}`;
  for (const f of ['jobId', 'workflow', 'path', 'startTime', 'outFile'] as const) if (typeof v[f] !== 'string' || v[f] === '') return `${f} is missing`;
  if (!isInt(v['tryNo'], 1) || !isInt(v['startedAt'], 0)) return 'tryNo or startedAt is not a number';
  if (!isInt(v['pid'], 2)) return 'pid is not a process id';
  if (v['timeoutMs'] !== undefined && !isInt(v['timeoutMs'], 1)) return 'timeoutMs is not a number';
  if (!/^[0-9]+$/.test(v['startTime'] as string)) return 'startTime is not a tick count';
  if (!inside(outRoot, v['outFile'] as string)) return 'its output file is outside the jobs\' output directory';
  if (!Array.isArray(v['records'])) return 'records is not a list';
  for (const r of v['records'] as unknown[]) {
    if (!isRecord(r) || r['kind'] !== 'child' || !isInt(r['seq'], 1) || r['jobId'] !== v['jobId'] || !isRecord(r['caller']) || !isRecord(r['command'])) return 'a record is malformed';
  }
  if (!Array.isArray(v['waiting']) || !(v['waiting'] as unknown[]).every((w) => isRecord(w) && isInt(w['seq'], 1) && isInt(w['slot'], 0) && w['slot'] < 64)) return 'waiting is malformed';
  return undefined;
}

/**
 * Opens (creating) the state directory. `root` is the jobs directory (`<sandbox>/jobs`): saved
 * output paths must be under its `out/`.
 */
export function openJobState(root: string, log: (line: string) => void = () => {}): JobStateStore {
  const dir = join(root, 'state');
  const outRoot = join(root, 'out');
  mkdirSync(dir, { recursive: true });
  const feedFile = join(dir, 'feed.json');
  let epoch = '';
  let firstSeq = 0;
  try {
    const f = JSON.parse(readFileSync(feedFile, 'utf8')) as unknown;
    if (isRecord(f) && f['v'] === 1 && typeof f['epoch'] === 'string' && f['epoch'] !== '' && isInt(f['seqFloor'], 0)) {
      epoch = f['epoch'];
      firstSeq = f['seqFloor'];
    } else log('jobs/state/feed.json is not valid: a new feed epoch (jobs of the earlier agent count as lost)');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log(`cannot read jobs/state/feed.json (${(e as Error).message}): a new feed epoch`);
  }
  const continued = epoch !== '';
  if (!continued) epoch = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  let floor = firstSeq + SEQ_BLOCK;
  writeAtomic(feedFile, { v: 1, epoch, seqFloor: floor });

  const fileOf = (key: string): string => {
    if (!KEY_RE.test(key)) throw new Error(`bad job state key ${JSON.stringify(key)}`);
    return join(dir, `${key}.json`);
  };

  return {
    epoch,
    continued,
    firstSeq,
    issue(seq) {
      if (seq < floor) return;
      floor = seq + SEQ_BLOCK;
      writeAtomic(feedFile, { v: 1, epoch, seqFloor: floor });
    },
    load() {
      const out: SavedJob[] = [];
      for (const name of readdirSync(dir)) {
        const file = join(dir, name);
        if (name.endsWith('.tmp')) {
          rmSync(file, { force: true });
          continue;
        }
        if (name === 'feed.json' || !name.endsWith('.json')) continue;
        const key = name.slice(0, -'.json'.length);
        let why: string | undefined;
        let v: unknown;
        try {
          v = JSON.parse(readFileSync(file, 'utf8'));
          why = KEY_RE.test(key) ? checkSavedJob(v, key, outRoot) : 'not a job state file name';
        } catch (e) {
          why = `cannot be read: ${(e as Error).message}`;
        }
        if (why === undefined) out.push(v as SavedJob);
        else {
          log(`jobs/state/${name} ${why}; its job is not re-adopted`);
          rmSync(file, { force: true });
        }
      }
      return out;
    },
    save(job) {
      writeAtomic(fileOf(job.key), job);
    },
    remove(key) {
      rmSync(fileOf(key), { force: true });
    },
  };
}
