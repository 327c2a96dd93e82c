/**
 * Instance archives on the node (backups of `local` and `ssh` nodes): a tar of listed paths of
 * an instance's directory streamed out, and a tar streamed in and extracted there. The agent
 * counts and hashes the bytes as they leave or arrive, so the control plane checks a copy
 * against what the source recorded, never against itself.
 *
 *   GET /v1/instances/<i>/archive?path=a&path=b   application/x-tar, chunked; trailers x-nubis-size,
 *                                                 x-nubis-sha256, x-nubis-exit (tar's exit code) and x-nubis-error
 *   PUT /v1/instances/<i>/archive                 body a tar → `{ sizeBytes, sha256 }` of what arrived
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { InvalidInput } from './validate.js';

/** A path inside the instance directory: relative, segments of [A-Za-z0-9._-], no `.`/`..`. */
export function checkArchivePath(p: string, at: string): string {
  const ok = p.length > 0 && p.length <= 200 && p.split('/').every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..');
  if (!ok) throw new InvalidInput(at, `must be a relative path inside the instance directory (letters, digits, . _ - and /; no . or ..), found ${JSON.stringify(p)}`);
  return p;
}

const tail = (s: string): string => encodeURIComponent(s.slice(-500).trim());

/** Streams a tar of `paths` (relative to the instance directory) with its size and SHA-256 as trailers. */
export function sendArchive(res: ServerResponse, instanceDir: string, paths: string[]): void {
  const tar = spawn('tar', ['-cf', '-', '-C', instanceDir, '--', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
  const h = createHash('sha256');
  let size = 0;
  let stderr = '';
  res.writeHead(200, { 'content-type': 'application/x-tar', trailer: 'x-nubis-size, x-nubis-sha256, x-nubis-exit, x-nubis-error' });
  tar.stdout.on('data', (c: Buffer) => {
    h.update(c);
    size += c.length;
    if (!res.write(c)) {
      tar.stdout.pause();
      res.once('drain', () => tar.stdout.resume());
    }
  });
  tar.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
  });
  res.once('close', () => {
    if (tar.exitCode === null) tar.kill('SIGKILL');
  });
  tar.on('error', (e) => {
    stderr += e.message;
  });
  tar.on('close', (code, signal) => {
    res.addTrailers({
      'x-nubis-size': String(size), 'x-nubis-sha256': h.digest('hex'),
      'x-nubis-exit': String(code ?? (signal ? 128 : -1)), 'x-nubis-error': tail(stderr),
    });
    res.end();
  });
}

/** Extracts the request body (a tar) into the instance directory; answers with the size and SHA-256 of what arrived. */
export function receiveArchive(req: IncomingMessage, instanceDir: string): Promise<{ sizeBytes: number; sha256: string; exit: number; error: string }> {
  mkdirSync(instanceDir, { recursive: true });
  return new Promise((resolve) => {
    const tar = spawn('tar', ['-xf', '-', '-C', instanceDir, '--no-same-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
    const h = createHash('sha256');
    let size = 0;
    let stderr = '';
    req.on('data', (c: Buffer) => {
      h.update(c);
      size += c.length;
    });
    req.pipe(tar.stdin);
    tar.stdin.on('error', () => undefined);
    tar.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-4000);
    });
    tar.on('error', (e) => {
      stderr += e.message;
    });
    tar.on('close', (code) => resolve({ sizeBytes: size, sha256: h.digest('hex'), exit: code ?? -1, error: stderr.slice(-500).trim() }));
  });
}

/** The instance directory under the agent's sandbox. */
export const instanceDirOf = (sandbox: string, instance: string): string => join(sandbox, 'instances', instance);
