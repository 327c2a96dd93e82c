/**
 * What a node's agent keeps on disk of its running workflow jobs, so that a restarted agent
 * re-adopts them (./job-restore.ts). Under `<sandbox>/jobs/state/`:
 *
 *   feed.json    `{ v, epoch, seqFloor }`: the job feed's epoch, kept across restarts (the
 *                control plane goes on reading the same feed), and a bound above every seq
 *                issued (moved ahead by `SEQ_BLOCK` before it is reached: one write per block)
 *   jobs.jsonl   a journal, one JSON line per change: `{"s":SavedJob}` saves a running job
 *                (`key`: its run directory's name under `jobs/run/`), `{"r":key}` forgets it.
 *                A saved job holds its process (pid = pgid, and the start time from
 *                /proc/<pid>/stat that tells it from a later process with the same pid), its
 *                output file, and the child records a restarted agent must still have: the
 *                latest event/meter/label of each name and the calls that wait for an answer,
 *                with their seqs
 *
 * A line is appended with one write (a few microseconds; rewriting a file per change, tmp and
 * rename, costs a millisecond of flushing on ext4). feed.json and the compacted journal are
 * written to a temporary name and renamed over. Failure meaning: a journal line that cannot be
 * parsed (a torn last line) or fails the checks is logged and skipped — that state of its job is
 * not taken back (an earlier one may be; a job with none is not re-adopted, and the control
 * plane finds it unknown and counts it lost, then ECF_TRIES applies); a corrupt feed.json gives
 * a new epoch, and a new epoch re-adopts nothing (every job of the old one is lost).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
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
  /** The reply slot (`r<slot>`) each waiting record's caller reads, by the record's seq; -1: a job-port connection. */
  waiting: { seq: number; slot: number }[];
  /** A bash job's key on the job port (./job-port.ts), and that port. */
  portKey?: string;
  port?: number;
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
  /** The jobs saved and not removed (at open: what an earlier agent left, under its epoch only). */
  load(): SavedJob[];
  save(job: SavedJob): void;
  remove(key: string): void;
  /** Closes the journal; later saves and removes do nothing. */
  close(): void;
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
  if (!Array.isArray(v['waiting']) || !(v['waiting'] as unknown[]).every((w) => isRecord(w) && isInt(w['seq'], 1) && isInt(w['slot'], -1) && w['slot'] < 64)) return 'waiting is malformed';
  if (v['portKey'] !== undefined && (typeof v['portKey'] !== 'string' || !isInt(v['port'], 1) || v['port'] > 65535)) return 'portKey or port is malformed';
  return undefined;
}

/**
 * Opens (creating) the state directory. `root` is the jobs directory (`<sandbox>/jobs`): saved
 * output paths must be under its `out/`. The journal is rewritten with the live jobs when it is
 * opened and after every `compactAt` lines (default 10,000).
 */
export function openJobState(root: string, log: (line: string) => void = () => {}, compactAt = 10_000): JobStateStore {
  const dir = join(root, 'state');
  const outRoot = join(root, 'out');
  mkdirSync(dir, { recursive: true });
  const feedFile = join(dir, 'feed.json');
  const journal = join(dir, 'jobs.jsonl');
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

  // under a new epoch nothing of the earlier agent's is taken back
  const live = continued ? replayJournal(journal, outRoot, log) : new Map<string, SavedJob>();
  let fd = -1;
  let lines = 0;
  const compact = (): void => {
    const tmp = `${journal}.${process.pid}.tmp`;
    writeFileSync(tmp, [...live.values()].map((j) => `${JSON.stringify({ s: j })}\n`).join(''), { mode: 0o600 });
    renameSync(tmp, journal);
    if (fd >= 0) closeSync(fd);
    fd = openSync(journal, 'a');
    lines = live.size;
  };
  compact();
  /** A failed write is logged: the job it was about may not be re-adopted after a restart. */
  const append = (entry: unknown): void => {
    if (fd < 0) return;
    try {
      writeSync(fd, `${JSON.stringify(entry)}\n`);
      if (++lines >= compactAt) compact();
    } catch (e) {
      log(`cannot write jobs/state/jobs.jsonl: ${(e as Error).message} (a restarted agent may not re-adopt the jobs concerned)`);
    }
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
    load: () => [...live.values()],
    save(job) {
      if (!KEY_RE.test(job.key)) throw new Error(`bad job state key ${JSON.stringify(job.key)}`);
      live.set(job.key, job);
      append({ s: job });
    },
    remove(key) {
      if (live.delete(key)) append({ r: key });
    },
    close() {
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}

/** The live jobs a journal leaves: each key's latest valid save, unless removed after it. Bad lines are logged and skipped. */
function replayJournal(file: string, outRoot: string, log: (line: string) => void): Map<string, SavedJob> {
  const live = new Map<string, SavedJob>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log(`cannot read jobs/state/jobs.jsonl (${(e as Error).message}): no job is re-adopted`);
    return live;
  }
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    let why: string | undefined;
    try {
      const e = JSON.parse(line) as unknown;
      if (isRecord(e) && typeof e['r'] === 'string') {
        live.delete(e['r']);
        return;
      }
      const j = isRecord(e) ? e['s'] : undefined;
      const key = isRecord(j) && typeof j['key'] === 'string' ? j['key'] : '';
      why = KEY_RE.test(key) ? checkSavedJob(j, key, outRoot) : 'is not a saved job';
      if (why === undefined) live.set(key, j as SavedJob);
    } catch (err) {
      why = `cannot be read (${(err as Error).message})`;
    }
    if (why !== undefined) log(`jobs/state/jobs.jsonl line ${i + 1} ${why}; skipped (that state of a job is not re-adopted)`);
  });
  return live;
}
