/**
 * `nubis child` (the slow path, outside agent jobs): the body it posts for each verb, exit codes
 * for refusals, NO_ECF; and the agent's shim running the real CLI when it is not in a job.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { shimText } from '../../src/agent/index.js';
import { runCli } from '../../src/cli/run.js';
import type { WfChildResult } from '../../src/workflows/index.js';
import { CLI } from '../helpers/processes.js';
import { tempDir } from './agent-test-helpers.js';

interface Got {
  url: string;
  auth: string | undefined;
  body: Record<string, unknown>;
}

let server: Server;
let url = '';
const got: Got[] = [];
let answer: WfChildResult = { ok: true };

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ url: `${req.method} ${req.url}`, auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const jobEnv = (): NodeJS.ProcessEnv => ({ ECF_NAME: '/suite/fam/task', ECF_PASS: 'secret', ECF_TRYNO: '2', ECF_RID: '4242', NUBIS_URL: url });

async function child(args: string[], env: NodeJS.ProcessEnv = jobEnv()): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await runCli(['child', ...args], {
    out: () => {}, err: (t) => (err += t), env, cwd: tmpdir(), stdoutIsTTY: false, stdinIsTTY: false,
  });
  return { code, err };
}

describe('nubis child', () => {
  test('each verb posts { path, password, tryNo, rid, command } to the workflow\'s child route', async () => {
    const cases: [string[], unknown][] = [
      [['--init=77', '--add', 'A=1', 'B=x=y'], { verb: 'init', rid: '77', add: { A: '1', B: 'x=y' } }],
      [['--init=77'], { verb: 'init', rid: '77' }],
      [['--complete'], { verb: 'complete' }],
      [['--complete', '--remove', 'A', 'B'], { verb: 'complete', remove: ['A', 'B'] }],
      [['--abort=disk full'], { verb: 'abort', reason: 'disk full' }],
      [['--abort'], { verb: 'abort', reason: '' }],
      [['--abort', 'disk', 'full'], { verb: 'abort', reason: 'disk full' }],
      [['--meter=progress', '-5'], { verb: 'meter', name: 'progress', value: -5 }],
      [['--meter', 'progress', '-7'], { verb: 'meter', name: 'progress', value: -7 }],
      [['--label=info', '-x', 'y'], { verb: 'label', name: 'info', value: '-x y' }],
      [['--event=e1'], { verb: 'event', name: 'e1', value: true }],
      [['--event=e1', 'clear'], { verb: 'event', name: 'e1', value: false }],
      [['--meter=progress', '40'], { verb: 'meter', name: 'progress', value: 40 }],
      [['--label=info', 'hello', 'world'], { verb: 'label', name: 'info', value: 'hello world' }],
      [['--wait=/suite/a == complete'], { verb: 'wait', expression: '/suite/a == complete' }],
    ];
    for (const [args, command] of cases) {
      got.length = 0;
      const r = await child(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.equal(got.length, 1);
      assert.equal(got[0]!.url, 'POST /v1/workflows/suite/child');
      const rid = (command as { verb: string }).verb === 'init' ? '77' : '4242';
      assert.deepEqual(got[0]!.body, { path: '/suite/fam/task', password: 'secret', tryNo: 2, rid, command }, args.join(' '));
    }
  });

  test('NUBIS_WORKFLOW names the workflow; a token is sent when there is one', async () => {
    got.length = 0;
    assert.equal((await child(['--event=e'], { ...jobEnv(), NUBIS_WORKFLOW: 'daily', NUBIS_TOKEN: 'tok' })).code, 0);
    assert.equal(got[0]!.url, 'POST /v1/workflows/daily/child');
    assert.equal(got[0]!.auth, 'Bearer tok');
  });

  test('a refusal exits 1 for blocking verbs and 0 (with a line on stderr) for event, meter, label', async () => {
    answer = { ok: false, zombie: true, why: 'password mismatch' };
    try {
      const c = await child(['--complete']);
      assert.equal(c.code, 1);
      assert.match(c.err, /--complete refused \(zombie\): password mismatch/);
      const e = await child(['--event=e1']);
      assert.equal(e.code, 0);
      assert.match(e.err, /--event refused/);
    } finally {
      answer = { ok: true };
    }
  });

  test('NO_ECF: nothing is sent; bad usage is exit 2', async () => {
    got.length = 0;
    assert.equal((await child(['--complete'], { ...jobEnv(), NO_ECF: '1' })).code, 0);
    assert.equal(got.length, 0);
    for (const bad of [[], ['--complete', '--event=e'], ['--meter=m', 'x'], ['--event=e', 'maybe'], ['--init=1', 'stray'], ['--label=bad name', 'x']]) {
      assert.equal((await child(bad)).code, 2, bad.join(' '));
    }
    assert.equal((await child(['--complete'], { ...jobEnv(), ECF_NAME: 'relative' })).code, 2);
    assert.equal(got.length, 0);
  });

  test('an unreachable server: exit 3 for a blocking verb after ECF_TIMEOUT, 0 for an event', async () => {
    const env = { ...jobEnv(), NUBIS_URL: 'http://127.0.0.1:9', ECF_TIMEOUT: '0' };
    assert.equal((await child(['--init=1'], env)).code, 3);
    const e = await child(['--event=x'], env);
    assert.equal(e.code, 0);
    assert.match(e.err, /ignored/);
  });

  test('the agent\'s shim outside a job runs the real CLI', async () => {
    const dir = tempDir('shim');
    try {
      const shim = join(dir, 'nubis');
      writeFileSync(shim, shimText([process.execPath, CLI]), { mode: 0o755 });
      got.length = 0;
      const code = await new Promise<number | null>((resolve) => {
        const p = spawn(shim, ['child', '--meter=m', '3'], { env: { ...process.env, ...jobEnv() }, stdio: 'ignore' });
        p.once('exit', resolve);
      });
      assert.equal(code, 0);
      assert.deepEqual(got.map((g) => g.body['command']), [{ verb: 'meter', name: 'm', value: 3 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
