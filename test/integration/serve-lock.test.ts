/**
 * One control plane per data directory (issue 7, item 8), through the CLI as a user runs it:
 * a second `nubis serve` on the same `--data` is refused naming the running one's pid, the first
 * keeps serving, and a SIGKILL of the holder releases the lock so a new serve starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { freePort, runCli, startServe, stopProcess } from '../helpers/processes.js';
import { tempDir } from '../helpers/control-plane.js';

const healthy = async (port: number): Promise<boolean> => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
  } catch {
    return false;
  }
};

test('a second serve on one data directory is refused naming the first pid; SIGKILL releases the lock', { timeout: 120_000 }, async () => {
  const dataDir = tempDir('nubis-lock-');
  const started: ChildProcess[] = [];
  try {
    const firstPort = await freePort();
    const first = await startServe(dataDir, firstPort, {}, ['--graphite-port', 'off']);
    started.push(first);

    const secondPort = await freePort();
    // on a tree without the lock the second serve runs: it is then killed once it answers, and the test fails
    const running = runCli(['serve', '--data', dataDir, '--port', String(secondPort), '--graphite-port', 'off']);
    let waiting = true;
    const answered = (async (): Promise<boolean> => {
      while (waiting) {
        if (await healthy(secondPort)) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    })();
    const raced = await Promise.race([running, answered]);
    waiting = false;
    if (raced === true) {
      const pid = fs.readFileSync(`${dataDir}/serve.pid`, 'utf8').trim();
      if (pid !== String(first.pid)) process.kill(Number(pid), 'SIGKILL');
      assert.fail('a second serve started on the same data directory');
    }
    const second = await running;
    assert.notEqual(second.code, 0, `the second serve must fail: ${second.stdout}${second.stderr}`);
    assert.match(second.stderr, /ALREADY_RUNNING/);
    assert.match(second.stderr, new RegExp(`pid ${first.pid}\\b`), second.stderr);
    assert.equal(await healthy(secondPort), false, 'the refused serve never listened');
    assert.equal(first.exitCode, null, 'the first serve keeps running');
    assert.equal(await healthy(firstPort), true, 'the first serve still answers');
    assert.equal(fs.readFileSync(`${dataDir}/serve.pid`, 'utf8').trim(), String(first.pid), 'the refused serve left the pid file alone');

    await stopProcess(first, 'SIGKILL');
    const thirdPort = await freePort();
    const third = await startServe(dataDir, thirdPort, {}, ['--graphite-port', 'off']);
    started.push(third);
    assert.equal(await healthy(thirdPort), true, 'a serve starts once the holder was killed');
  } finally {
    for (const c of started) await stopProcess(c);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
