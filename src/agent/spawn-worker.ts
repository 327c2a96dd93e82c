/**
 * The body of one spawner thread (./spawner.ts): writes a job's script and output file and
 * forks its process, so the agent's event loop never blocks on a fork+exec (Node's spawn waits
 * for the child's exec, several ms on a busy machine) or on creating files. The child is this
 * thread's: its exit is reported from here, by the kernel's wait status, exactly as the main
 * thread would see it.
 *
 * Messages in: `SpawnRequest`; out: `SpawnEvent` (started with the pid, failed with why, exit).
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, constants as fsConstants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { SpawnEvent, SpawnRequest } from './spawner.js';

const OUT_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_APPEND;

function post(ev: SpawnEvent): void {
  parentPort!.postMessage(ev);
}

function run(req: SpawnRequest): void {
  let fd: number | undefined;
  try {
    for (const d of req.mkdirs ?? []) mkdirSync(d, { recursive: true });
    for (const f of req.files ?? []) {
      writeFileSync(f.path, f.text, { mode: f.mode });
      chmodSync(f.path, f.mode);
    }
    // a fresh output file: a try number seen before (after a requeue) starts afresh
    fd = openSync(req.output, OUT_FLAGS, 0o644);
    const child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, stdio: ['ignore', fd, fd], detached: true });
    let settled = false;
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      post({ kind: 'failed', id: req.id, why: err.message });
    });
    if (child.pid === undefined) return; // the error event follows
    settled = true;
    post({ kind: 'started', id: req.id, pid: child.pid });
    child.once('exit', (code, signal) => post({ kind: 'exit', id: req.id, code, signal }));
  } catch (e) {
    post({ kind: 'failed', id: req.id, why: (e as Error).message });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

parentPort!.on('message', (req: SpawnRequest) => run(req));
