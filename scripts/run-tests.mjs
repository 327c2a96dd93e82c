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
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
