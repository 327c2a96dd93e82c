/**
 * Every example spec plans, through `nubis serve` and the CLI (with the credentials each one
 * names stored first), and a misspelt option of every platform is refused by `plan` with its
 * JSON path and the option it meant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { tempDir } from '../helpers/control-plane.js';
import { ROOT, freePort, runCli, startServe, stopProcess } from '../helpers/processes.js';

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

test('every example plans; every platform refuses a misspelt option at its JSON path', { timeout: 180_000 }, async () => {
  const data = tempDir('nubis-examples-');
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  const cli = (...args: string[]) => runCli(args, env);
  try {
    for (const [name, fields] of Object.entries(CREDENTIALS)) {
      const f = path.join(data, `${name}.json`);
      fs.writeFileSync(f, JSON.stringify(fields), { mode: 0o600 });
      const r = await cli('credentials', 'set', name, '--from-file', f);
      assert.equal(r.code, 0, r.stderr);
    }
    const files = exampleFiles();
    const platforms = new Set<string>();
    for (const file of files) {
      const r = await cli('plan', '-f', file);
      assert.equal(r.code, 0, `${path.relative(ROOT, file)}: ${r.stderr}${r.stdout}`);
      assert.match(r.stdout, /\d+ to add/, path.relative(ROOT, file));
      const spec = YAML.parse(fs.readFileSync(file, 'utf8')) as { clouds: Record<string, { platform: string; options?: Record<string, unknown> }> };
      for (const [cloud, c] of Object.entries(spec.clouds)) {
        platforms.add(c.platform);
        // the same spec with one option misspelt, next to the example (its artefacts resolve)
        const bad = structuredClone(spec) as typeof spec;
        bad.clouds[cloud]!.options = { ...(c.options ?? {}), agentPortt: 7430 };
        const badFile = path.join(path.dirname(file), `.bad-${path.basename(file)}`);
        fs.writeFileSync(badFile, YAML.stringify({ ...YAML.parse(fs.readFileSync(file, 'utf8')), clouds: bad.clouds }));
        try {
          const b = await cli('plan', '-f', badFile);
          assert.equal(b.code, 2, `${c.platform}: ${b.stdout}${b.stderr}`);
          assert.match(b.stderr, new RegExp(`SPEC_INVALID.*clouds\\.${cloud}\\.options\\.agentPortt: unknown option`), c.platform);
        } finally {
          fs.rmSync(badFile, { force: true });
        }
      }
    }
    assert.deepEqual([...platforms].sort(), ['cloudsigma', 'ec2', 'local', 'openstack', 'sim', 'ssh'], 'an example for every platform');
  } finally {
    await stopProcess(serve);
    fs.rmSync(data, { recursive: true, force: true });
  }
});
