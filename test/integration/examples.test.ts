/**
 * Every example spec plans through `nubis serve` (its API, and one through the CLI), with the
 * credentials each one names stored first, and a misspelt option of every platform is refused
 * by `plan` with file:line:col, its JSON path and the option it meant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { tempDir } from '../helpers/control-plane.js';
import { ROOT, freePort, runCli, serveApi, startServe, stopProcess } from '../helpers/processes.js';

const EXAMPLES = path.join(ROOT, 'examples');

function exampleFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of fs.readdirSync(d).sort()) {
      const p = path.join(d, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(f)) out.push(p);
    }
  };
  walk(EXAMPLES);
  return out;
}

const CREDENTIALS: Record<string, Record<string, string>> = {
  'ssh-pool': { privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n' },
  os: { username: 'demo', password: 'not-a-password' },
  aws: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'not-a-secret' },
  cs: { username: 'ops@example.org', password: 'not-a-password' },
};

test('every example plans; every platform refuses a misspelt option at its JSON path, file:line:col', { timeout: 600_000 }, async () => {
  const data = tempDir('nubis-examples-');
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  try {
    for (const [name, fields] of Object.entries(CREDENTIALS)) {
      const r = await serveApi(port, data, 'PUT', `/v1/credentials/${name}`, { fields });
      assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.json));
    }
    // one through the CLI, as a user runs it
    const cli = await runCli(['plan', '-f', path.join(EXAMPLES, 'webapp', 'ssh.yaml')], env);
    assert.equal(cli.code, 0, cli.stderr + cli.stdout);
    assert.match(cli.stdout, /\d+ to add/);
    const platforms = new Set<string>();
    for (const file of exampleFiles()) {
      const dir = path.dirname(file);
      const text = fs.readFileSync(file, 'utf8');
      const artefacts = Object.fromEntries(fs.readdirSync(dir).filter((f) => f.endsWith('.mjs')).map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]));
      const plan = (spec: string) => serveApi(port, data, 'POST', '/v1/plan', { spec, file: path.basename(file), artefacts });
      const r = await plan(text);
      assert.equal(r.status, 200, `${path.relative(ROOT, file)}: ${JSON.stringify(r.json)}`);
      // a spec whose components all start at 0 (a workflow starts them: examples/postproc) adds nothing yet
      const startsEmpty = Object.values((YAML.parse(text) as { components: Record<string, { instances?: { count?: number } }> }).components).every((c) => c.instances?.count === 0);
      assert.ok(r.json.summary.add > 0 || startsEmpty, path.relative(ROOT, file));
      const doc = YAML.parseDocument(text);
      const spec = doc.toJS() as { clouds: Record<string, { platform: string }> };
      for (const [cloud, c] of Object.entries(spec.clouds)) {
        platforms.add(c.platform);
        // the same text with one option misspelt: refused at its path and position
        const bad = doc.clone();
        bad.setIn(['clouds', cloud, 'options', 'agentPortt'], 7430);
        const b = await plan(bad.toString());
        assert.equal(b.status, 400, `${c.platform}: ${JSON.stringify(b.json)}`);
        assert.equal(b.json.error.code, 'SPEC_INVALID');
        assert.match(b.json.error.message, new RegExp(`^${path.basename(file).replace('.', '\\.')}:\\d+:\\d+: clouds\\.${cloud}\\.options\\.agentPortt: unknown option`), c.platform);
      }
    }
    assert.deepEqual([...platforms].sort(), ['cloudsigma', 'ec2', 'local', 'openstack', 'sim', 'ssh'], 'an example for every platform');
  } finally {
    await stopProcess(serve);
    fs.rmSync(data, { recursive: true, force: true });
  }
});
