// Runs the real-peer tier: every dist/test/peers/**/*.test.js. Each peer test installs the
// Debian packages it needs (when root) or fails naming them.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = 'dist/test/peers';
const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.test.js')) files.push(p);
  }
};
if (existsSync(dir)) walk(dir);
if (files.length === 0) {
  console.log('test:peers: no real-peer tests in this build (the foundation needs only Node; sshd, collectd and OpenStack tiers come with their drivers)');
  process.exit(0);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
