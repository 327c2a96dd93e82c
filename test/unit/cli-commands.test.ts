/**
 * The command registry loads lazily: every entry's name and summary match its module's, and
 * `nubis --help` and `nubis status` (run as real processes, each module they import recorded
 * by a resolve hook) load none of the server, store, YAML or cloud SDK code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { CLI, runProcess } from '../helpers/processes.js';

test('every registry entry loads a command of its name and summary, once', async () => {
  const names = new Set<string>();
  for (const entry of COMMANDS) {
    assert.ok(!names.has(entry.name), `${entry.name} is listed once`);
    names.add(entry.name);
    const c = await entry.load();
    assert.equal(c.name, entry.name);
    assert.equal(c.summary, entry.summary, `${entry.name}: the registry's summary is the command's`);
    assert.equal(await entry.load(), c, 'a second load is the same module');
  }
});

/** Runs the CLI with a hook that appends every resolved module URL to a file; resolves with them. */
async function modulesLoaded(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; modules: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-cli-load-'));
  try {
    const log = path.join(dir, 'modules.log');
    fs.writeFileSync(path.join(dir, 'hook.mjs'), [
      "import fs from 'node:fs';",
      'export async function resolve(specifier, context, next) {',
      '  const r = await next(specifier, context);',
      `  fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n');`,
      '  return r;',
      '}',
    ].join('\n'));
    fs.writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'hook.mjs')).href)});\n`);
    const r = await runProcess(process.execPath, ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href, CLI, ...args], { env: { NO_COLOR: '1', ...env } });
    const modules = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    return { code: r.code, stdout: r.stdout, modules };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const HEAVY = [/node_modules\/(yaml|ssh2|@aws-sdk|kysely|better-sqlite3|@sinclair)\//, /dist\/src\/(engine|store|drivers|metrics|api|agent|registry|model)\//, /server-root\.js$/];

function assertLight(modules: string[]): void {
  assert.ok(modules.some((m) => m.endsWith('/cli/run.js')), 'the hook saw the CLI load');
  const heavy = modules.filter((m) => HEAVY.some((h) => h.test(m)));
  assert.deepEqual(heavy, [], 'no server, store, YAML or cloud SDK module is loaded');
}

test('nubis --help lists every command and loads no command module', async () => {
  const r = await modulesLoaded(['--help']);
  assert.equal(r.code, 0);
  for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assertLight(r.modules);
  assert.deepEqual(r.modules.filter((m) => m.includes('/cli/commands/') && !m.endsWith('/commands/index.js')), []);
});

test('nubis status loads only what it uses', async () => {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/v1/deployments' ? { deployments: [] } : { error: { code: 'NOT_FOUND', message: 'no such thing' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await modulesLoaded(['status', '--server', url, '--token', 't']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), 'no deployments');
    assertLight(r.modules);
    assert.deepEqual(r.modules.filter((m) => m.includes('/cli/commands/') && !/\/commands\/(index|status|status-control-plane)\.js$/.test(m)), []);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
