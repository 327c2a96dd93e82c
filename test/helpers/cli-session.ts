/**
 * A `nubis serve` on a free port over a data directory, and the CLI pointed at it: `cli(...)`
 * runs a command, `json(...)` runs one with `--output json` that must exit 0 and parses it.
 * The caller stops `serve` (stopProcess) in its `finally`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { freePort, runCli, startServe } from './processes.js';

export interface CliSession {
  port: number;
  env: { NUBIS_SERVER: string; NUBIS_DATA: string };
  serve: ChildProcess;
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  json(...args: string[]): Promise<any>;
}

export async function startCliSession(data: string): Promise<CliSession> {
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  const cli = (...args: string[]) => runCli(args, env);
  const json = async (...args: string[]): Promise<any> => {
    const r = await cli(...args, '--output', 'json');
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout);
  };
  return { port, env, serve, cli, json };
}
