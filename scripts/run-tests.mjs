// Runs node's test runner over every *.test.js under the given folders of dist/test
// (Node 20's --test takes no globs). Usage: node scripts/run-tests.mjs unit integration
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const files = [];
const walk = (d) => {
  for (const f of readdirSync(d).sort()) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.test.js')) files.push(p);
  }
};
for (const dir of process.argv.slice(2)) {
  const d = join('dist/test', dir);
  if (existsSync(d)) walk(d);
}
if (files.length === 0) {
  console.log(`no tests under dist/test/{${process.argv.slice(2).join(',')}}`);
  process.exit(0);
}
// Every test gets a ceiling (a test's own { timeout } is lower where it sets one), and the whole
// run another, so a hung test fails the run instead of hanging it.
const perTestMs = Number(process.env.NUBIS_TEST_TIMEOUT_MS ?? 600_000);
const overallMs = Number(process.env.NUBIS_TESTS_TIMEOUT_MS ?? 45 * 60_000);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', `--test-timeout=${perTestMs}`, ...files], {
  stdio: 'inherit',
  timeout: overallMs,
  killSignal: 'SIGKILL',
});
if (r.error) console.error(`test run stopped: ${r.error.message} (limit ${overallMs} ms, NUBIS_TESTS_TIMEOUT_MS)`);
process.exit(r.status ?? 1);
