/**
 * Job processes started off the agent's event loop: a few worker threads (./spawn-worker.ts)
 * each write a job's files and fork it, and report its pid and, later, its exit. Node's spawn
 * blocks the calling thread until the child has exec'd (a fork of the whole process, then the
 * exec; several ms when the machine is busy), and creating files can cost a millisecond each:
 * on the main thread that serialised every job start behind the previous one. With the
 * threads, starts overlap and the loop keeps answering child commands meanwhile.
 *
 * Failure meaning: `start` rejects when the files cannot be written or the process cannot be
 * spawned (nothing is running then). A thread that dies (it should not) ends its jobs with
 * `onExit(null, null)` after killing their process groups: a job whose exit can no longer be
 * observed is reported gone rather than left running forever.
 */
import { Worker } from 'node:worker_threads';

/** What a thread is asked to do: make dirs, write files, create the output, spawn detached. */
export interface SpawnRequest {
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** The child's stdout and stderr: created (truncated) and opened for appending. */
  output: string;
  mkdirs?: string[];
  files?: { path: string; text: string; mode: number }[];
}

export type SpawnEvent =
  | { kind: 'started'; id: number; pid: number }
  | { kind: 'failed'; id: number; why: string }
  | { kind: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null };

export interface SpawnSpec extends Omit<SpawnRequest, 'id'> {
  /** The process has exited (code or signal), or can no longer be observed (both null). */
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

export interface Spawner {
  /** Writes the files, spawns the process in its own process group; resolves with its pid. */
  start(spec: SpawnSpec): Promise<number>;
  /** Stops the threads (running processes keep running). */
  close(): Promise<void>;
}

interface Pending {
  spec: SpawnSpec;
  thread: Thread;
  resolve?: (pid: number) => void;
  reject?: (e: Error) => void;
  pid?: number;
}

interface Thread {
  worker: Worker;
  /** Requests sent and processes not yet exited. */
  live: number;
  dead: boolean;
}

/** Default thread count: starts overlap this many deep. */
export const SPAWN_THREADS = 3;

class ThreadSpawner implements Spawner {
  private readonly threads: Thread[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly size: number, private readonly log: (line: string) => void) {}

  start(spec: SpawnSpec): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the spawner is closed'));
    const thread = this.pick();
    const id = ++this.nextId;
    const { onExit: _onExit, ...req } = spec;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { spec, thread, resolve, reject });
      if (thread.live++ === 0) thread.worker.ref();
      thread.worker.postMessage({ id, ...req } satisfies SpawnRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  /** The thread with the least in flight; a new one while there are fewer than `size`. */
  private pick(): Thread {
    let best: Thread | undefined;
    for (const t of this.threads) if (!t.dead && (!best || t.live < best.live)) best = t;
    if (best && (best.live === 0 || this.threads.length >= this.size)) return best;
    return this.spawnThread();
  }

  private spawnThread(): Thread {
    const worker = new Worker(new URL('./spawn-worker.js', import.meta.url));
    const thread: Thread = { worker, live: 0, dead: false };
    worker.unref();
    worker.on('message', (ev: SpawnEvent) => this.onEvent(thread, ev));
    worker.on('error', (e) => this.log(`spawner thread: ${e.message}`));
    worker.on('exit', () => this.onThreadGone(thread));
    this.threads.push(thread);
    return thread;
  }

  private onEvent(thread: Thread, ev: SpawnEvent): void {
    const p = this.pending.get(ev.id);
    if (!p) return;
    if (ev.kind === 'started') {
      p.pid = ev.pid;
      p.resolve?.(ev.pid);
      p.resolve = p.reject = undefined;
      return;
    }
    this.pending.delete(ev.id);
    this.release(thread);
    if (ev.kind === 'failed') p.reject?.(new Error(ev.why));
    else p.spec.onExit(ev.code, ev.signal);
  }

  private release(thread: Thread): void {
    if (--thread.live === 0 && !thread.dead) thread.worker.unref();
  }

  private onThreadGone(thread: Thread): void {
    thread.dead = true;
    const i = this.threads.indexOf(thread);
    if (i >= 0) this.threads.splice(i, 1);
    for (const [id, p] of this.pending) {
      if (this.closed) {
        // closing: the processes go on (the agent may be restarted and reap them)
        this.pending.delete(id);
        continue;
      }
      if (p.thread !== thread) continue;
      this.pending.delete(id);
      if (p.reject) {
        p.reject(new Error('the spawner thread stopped'));
        continue;
      }
      if (p.pid !== undefined) {
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      p.spec.onExit(null, null);
    }
  }
}

/** A spawner of `size` threads (default SPAWN_THREADS), started as jobs need them. */
export function createSpawner(o: { size?: number; log?: (line: string) => void } = {}): Spawner {
  return new ThreadSpawner(Math.max(1, o.size ?? SPAWN_THREADS), o.log ?? (() => {}));
}
