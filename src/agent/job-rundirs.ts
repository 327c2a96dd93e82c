/**
 * The run directories of workflow jobs (`jobs/run/<k>/` under the sandbox): each running job
 * has one, holding its channel FIFO `ch`, its reply FIFOs `r0…r7` (with the locks `l<i>` of the
 * calls waiting on them, ./job-shim.ts) and its script `job`. Directories are made ahead with
 * their FIFOs, several per `mkfifo` (Node cannot make a FIFO itself, and an exec per job would
 * cost more than the job's start), and go back to the spares after their job when nothing can
 * still use them: creating a file costs up to a millisecond of kernel time on ext4 after many
 * deletions (inode allocation skips recently freed ones), and nine FIFOs, a script and a
 * directory per job were most of a no-op job's cost.
 *
 * Failure meaning: `take` rejects when no FIFO can be made (the job cannot start); a directory
 * that cannot be put back is removed.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The reply slots of a job (`r<i>`, `l<i>`). */
export const SLOTS = [0, 1, 2, 3, 4, 5, 6, 7] as const;

const FIFO_NAMES = ['ch', ...SLOTS.map((i) => `r${i}`)];
/** What a run directory may hold to be reused: its FIFOs and the script of its last job. */
const REUSABLE = new Set([...FIFO_NAMES, 'job']);

const mkfifo = (...paths: string[]): Promise<void> =>
  new Promise((resolve, reject) => execFile('mkfifo', ['-m', '600', ...paths], (err) => (err ? reject(err) : resolve())));

export class RunDirs {
  private count = 0;
  private readonly spare: string[] = [];
  private making: Promise<void> | undefined;

  /**
   * Over `root` (made if missing): what is there besides the directories named in `keep` (an
   * earlier agent's jobs that may be re-adopted) is a stale channel nobody reads, and removed.
   */
  constructor(private readonly root: string, keep: ReadonlySet<string>, private readonly log: (line: string) => void) {
    mkdirSync(root, { recursive: true });
    for (const d of readdirSync(root)) if (!keep.has(d)) rmSync(join(root, d), { recursive: true, force: true });
    for (const k of keep) if (/^[0-9]+$/.test(k)) this.count = Math.max(this.count, Number(k));
  }

  /** The path of run directory `key`. */
  dirOf(key: string): string {
    return join(this.root, key);
  }

  /** A fresh run directory's name; its FIFOs come with `take`. */
  next(): string {
    return join(this.root, String(++this.count));
  }

  /** Moves a ready directory (channel and reply FIFOs) to `dir`. */
  async take(dir: string): Promise<void> {
    while (this.spare.length === 0) await this.makeSpare(8);
    renameSync(this.spare.shift()!, dir);
    if (this.spare.length < 4 && !this.making) void this.makeSpare(8).catch((e: unknown) => this.log(`cannot make job FIFOs: ${(e as Error).message}`));
  }

  /**
   * After its job exited: a directory nothing can still use (its process group is empty and no
   * caller holds a reply slot) goes back to the spares, FIFOs and script file kept; anything
   * else is removed. Nothing carries over: a FIFO's data goes when its last descriptor closes,
   * and the agent's was closed before this.
   */
  retire(dir: string, groupEmpty: boolean): void {
    try {
      const names = groupEmpty ? readdirSync(dir) : [];
      if (groupEmpty && FIFO_NAMES.every((n) => names.includes(n)) && names.every((n) => REUSABLE.has(n))) {
        const back = join(this.root, `s${++this.count}`);
        renameSync(dir, back);
        this.spare.push(back);
        return;
      }
    } catch {
      // fall through: remove it
    }
    rmSync(dir, { recursive: true, force: true });
  }

  private makeSpare(n: number): Promise<void> {
    this.making ??= (async () => {
      const dirs = Array.from({ length: n }, () => join(this.root, `s${++this.count}`));
      for (const d of dirs) mkdirSync(d, { recursive: true });
      await mkfifo(...dirs.flatMap((d) => FIFO_NAMES.map((f) => join(d, f))));
      this.spare.push(...dirs);
    })().finally(() => {
      this.making = undefined;
    });
    return this.making;
  }
}
