/**
 * The agent's job spawners (src/agent/launcher.ts, src/agent/spawner.ts): the resident Perl
 * launcher and the spawner threads start a process with its files, environment, directory and
 * output, in its own session, and report its exit code or signal; a launcher that dies leaves
 * its running jobs watched and later starts to the threads.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createJobSpawner } from '../../src/agent/launcher.js';
import { createSpawner, type Spawner, type SpawnSpec } from '../../src/agent/spawner.js';
import { tempDir, waitFor } from './agent-test-helpers.js';

const dir = tempDir('spawner');
after(() => rmSync(dir, { recursive: true, force: true }));

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** Starts `script` (sh) through `s`; resolves with the pid and a promise of its exit. */
async function run(s: Spawner, name: string, script: string, env: Record<string, string> = {}): Promise<{ pid: number; exit: Promise<Exit>; out: string; file: string }> {
  let onExit!: (e: Exit) => void;
  const exit = new Promise<Exit>((r) => (onExit = r));
  const sub = join(dir, name);
  const file = join(sub, 'job.sh');
  const out = join(sub, 'job.out');
  const spec: SpawnSpec = {
    file: '/bin/sh', args: [file], cwd: dir, env: { PATH: '/usr/bin:/bin', ...env }, output: out, mkdirs: [sub],
    files: [{ path: file, text: script, mode: 0o755 }], onExit: (code, signal) => onExit({ code, signal }),
  };
  return { pid: await s.start(spec), exit, out, file };
}

const kinds: [string, () => Spawner][] = [['perl launcher', () => createJobSpawner()], ['spawner threads', () => createSpawner({ size: 2 })]];

for (const [kind, make] of kinds) {
  describe(`job spawner: ${kind}`, () => {
    test('writes the script, runs it in its own session with its env and directory, reports its exit code', async () => {
      const s = make();
      try {
        const j = await run(s, `${kind}-a`, 'echo "x=$X cwd=$(pwd) sid=$(ps -o sid= -p $$ | tr -d " ")"; echo err >&2; exit 3\n', { X: 'a b\nc' });
        assert.deepEqual(await j.exit, { code: 3, signal: null });
        assert.equal(readFileSync(j.out, 'utf8'), `x=a b\nc cwd=${dir} sid=${j.pid}\nerr\n`);
        assert.equal(statSync(j.file).mode & 0o777, 0o755);
        // run again on the same output: it starts afresh
        const k = await run(s, `${kind}-a`, 'echo again\n');
        assert.deepEqual(await k.exit, { code: 0, signal: null });
        assert.equal(readFileSync(k.out, 'utf8'), 'again\n');
      } finally {
        await s.close();
      }
    });

    test('a process killed by a signal reports the signal', async () => {
      const s = make();
      try {
        const j = await run(s, `${kind}-b`, 'kill -TERM $$; sleep 5\n');
        assert.deepEqual(await j.exit, { code: null, signal: 'SIGTERM' });
      } finally {
        await s.close();
      }
    });
  });
}

describe('job spawner: perl launcher failures', () => {
  test('a file that cannot be written is a refused start; an exec that fails exits 127 with why in the output', async () => {
    const s = createJobSpawner();
    try {
      await assert.rejects(s.start({ file: '/bin/sh', args: [], cwd: dir, env: {}, output: join(dir, 'o'), files: [{ path: '/proc/nope/x', text: '', mode: 0o755 }], onExit: () => {} }), /cannot write/);
      let exit: Exit | undefined;
      await s.start({ file: join(dir, 'missing'), args: [], cwd: dir, env: {}, output: join(dir, 'missing.out'), onExit: (code, signal) => (exit = { code, signal }) });
      await waitFor('the exit', () => exit !== undefined);
      assert.deepEqual(exit, { code: 127, signal: null });
      assert.match(readFileSync(join(dir, 'missing.out'), 'utf8'), /cannot run the job: .*missing/);
    } finally {
      await s.close();
    }
  });

  test('a launcher that dies: its running job is still seen ending; later starts go to the threads', async () => {
    const s = createJobSpawner();
    try {
      const flag = join(dir, 'stop-now');
      const j = await run(s, 'orphan', `while [ ! -e ${flag} ]; do sleep 0.05; done\n`);
      const launcher = Number(readFileSync(`/proc/${j.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      assert.notEqual(launcher, process.pid);
      process.kill(launcher, 'SIGKILL');
      await waitFor('the launcher gone', () => !existsSync(`/proc/${launcher}/cmdline`) || readFileSync(`/proc/${launcher}/stat`, 'utf8').includes(') Z'));
      const k = await run(s, 'after', 'exit 5\n');
      assert.deepEqual(await k.exit, { code: 5, signal: null });
      readFileSync(`/proc/${j.pid}/stat`); // still running
      writeFileSync(flag, '');
      assert.deepEqual(await j.exit, { code: null, signal: null });
    } finally {
      await s.close();
    }
  });
});
