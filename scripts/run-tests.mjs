// Runs node's test runner over every *.test.js under the given folders of dist/test
// (Node 20's --test takes no globs). Usage: node scripts/run-tests.mjs [--burn] unit integration
//
// Timeouts: every test (and every test file as a whole) gets NUBIS_TEST_TIMEOUT_MS (default
// 600 s; a test's own { timeout } is lower where it sets one), and the whole run
// NUBIS_TESTS_TIMEOUT_MS (default 45 min). The test runner is the leader of a process group of
// its own; when the run times out (or this script gets SIGINT/SIGTERM) the group is sent SIGTERM
// (test helpers then kill what they spawned, see test/helpers/processes.ts), and after a grace
// of 10 s every process still alive in the group or below it (children that made groups of
// their own included) is SIGKILLed. So a hung test fails the run instead of hanging it.
//
// --burn: a CPU burner per core (busy loops, normal priority) runs for the whole run, to show
// that the tests hold under load; it is stopped when the run ends.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import os from 'node:os';

const argv = process.argv.slice(2);
const burn = argv.includes('--burn');
const dirs = argv.filter((a) => a !== '--burn');

const files = [];
const walk = (d) => {
  for (const f of readdirSync(d).sort()) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.test.js')) files.push(p);
  }
};
for (const dir of dirs) {
  const d = join('dist/test', dir);
  if (existsSync(d)) walk(d);
}
if (files.length === 0) {
  console.log(`no tests under dist/test/{${dirs.join(',')}}`);
  process.exit(0);
}

const perTestMs = Number(process.env.NUBIS_TEST_TIMEOUT_MS ?? 600_000);
const overallMs = Number(process.env.NUBIS_TESTS_TIMEOUT_MS ?? 45 * 60_000);
const GRACE_MS = 10_000;

/** Every live pid below `root` (by parent links in /proc), deepest last; empty where there is no /proc. */
function descendants(root) {
  const children = new Map();
  let entries = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(e));
    } catch {
      /* gone */
    }
  }
  const out = [];
  const queue = [root];
  while (queue.length) for (const c of children.get(queue.shift()) ?? []) (out.push(c), queue.push(c));
  return out;
}

const kill = (pid, signal) => {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
};

const burners = [];
if (burn) {
  const n = os.availableParallelism?.() ?? os.cpus().length;
  for (let i = 0; i < n; i++) burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  console.log(`# burn: ${n} CPU burner(s) running (pids ${burners.map((b) => b.pid).join(' ')})`);
}
const stopBurners = () => burners.forEach((b) => kill(b.pid, 'SIGKILL'));

const started = Date.now();
const child = spawn(process.execPath, ['--test', '--test-concurrency=2', `--test-timeout=${perTestMs}`, ...files], {
  stdio: 'inherit',
  detached: true,
});

let stopping = false;
/** Every process below the runner when the stop began (they may be re-parented once it exits). */
let tree = [];
const killTree = () => {
  for (const pid of new Set([...tree, ...descendants(child.pid)])) kill(pid, 'SIGKILL');
  kill(-child.pid, 'SIGKILL');
  kill(child.pid, 'SIGKILL');
};
/** SIGTERM to the group, then (when the runner exits, or after the grace) SIGKILL to the group and to every process below the runner. */
function stop(why) {
  if (stopping) return;
  stopping = true;
  console.error(`test run stopped: ${why}`);
  tree = descendants(child.pid);
  kill(-child.pid, 'SIGTERM');
  setTimeout(killTree, GRACE_MS).unref();
}

const overall = setTimeout(() => stop(`the whole run took longer than ${overallMs} ms (NUBIS_TESTS_TIMEOUT_MS)`), overallMs);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => stop(sig));

child.on('exit', (code, signal) => {
  clearTimeout(overall);
  stopBurners();
  // whatever the runner left behind in its group (and, after a stop, below it) goes with it
  if (stopping) killTree();
  else kill(-child.pid, 'SIGKILL');
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`# run-tests: ${files.length} files in ${secs} s${burn ? ' under the CPU burner' : ''}; exit ${signal ?? code}`);
  process.exit(stopping ? 1 : (code ?? 1));
});
