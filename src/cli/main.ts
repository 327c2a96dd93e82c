#!/usr/bin/env node
/** The `nubis` executable: wires the process's streams and environment into `runCli`. */
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  stdoutIsTTY: process.stdout.isTTY === true,
  stdinIsTTY: process.stdin.isTTY === true,
});
// Let pending output drain, then exit even if a stream or timer is still open.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
