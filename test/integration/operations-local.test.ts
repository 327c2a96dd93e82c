/**
 * Custom operations (issue 10, item 7) on the real `local` cloud, through `nubis serve`, the
 * CLI and the REST API: an operation with typed parameters runs on every instance (real
 * shells under each node's agent) and each instance's output and exit code come back; one
 * instance failing is reported while the others succeed; bad values are refused with their
 * parameter's path and run nothing; a shell-injection attempt in a value is printed, never
 * run; a timeout kills the operation's process tree; another tenant's token gets 404; and
 * every instance's start and end is an event with who and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/control-plane.js';
import { freePort, localAppSpec, runCli, serveApi, stopProcess } from '../helpers/processes.js';
import { startCliSession } from '../helpers/cli-session.js';

const spec = (portBase: number): string => localAppSpec('opsdemo', portBase, '{ count: 3 }', `      start: "exec sleep 100000"
    env: { GREETING: hello }
    operations:
      rotate-logs:
        run: 'echo "instance=$NUBIS_INSTANCE keep=$NUBIS_PARAM_KEEP mode=$NUBIS_PARAM_MODE verbose=$NUBIS_PARAM_VERBOSE step=$NUBIS_STEP op=$NUBIS_OPERATION greeting=$GREETING"'
        timeout: 30s
        params:
          keep: { type: integer, default: 7, minimum: 1 }
          mode: { type: string, enum: [fast, full] }
          verbose: { type: boolean }
      flaky:
        run: 'echo "checking $NUBIS_INSTANCE"; if [ "$NUBIS_INSTANCE" = app-2 ]; then echo "app-2 refuses" >&2; exit 3; fi'
      echo:
        run: 'printf "%s\\n" "$NUBIS_PARAM_TEXT"; echo unquoted: $NUBIS_PARAM_TEXT'
        params:
          text: { type: string, required: true }
      slow:
        run: 'sleep 300 & echo $! > slow.pid; wait'
        timeout: 1s
`);

/** Every file named `name` under `dir`. */
function findFiles(dir: string, name: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(p, name));
    else if (e.name === name) out.push(p);
  }
  return out;
}

/** Whether the process runs (a zombie waiting for a reaper that is not this test's counts as gone). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

test('local: operations run on all or some instances with typed params, report each instance, refuse bad params by path, never run injected text, and stay behind the tenant wall', { timeout: 300_000 }, async () => {
  const data = tempDir('nubis-ops-local-');
  const work = tempDir('nubis-ops-spec-');
  const file = path.join(work, 'app.yaml');
  fs.writeFileSync(file, spec(await freePort()));
  const { port, env, serve, cli, json } = await startCliSession(data);
  const api = (method: string, p: string, body?: unknown) => serveApi(port, data, method, p, body);
  const opEvents = async (): Promise<any[]> => (await api('GET', '/v1/events?kind=operation.*&limit=10000')).json.events;
  try {
    const applied = await cli('apply', '-f', file, '--wait', '--timeout', '120');
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);

    // all instances, typed values from text, defaults and absent optional values
    const all = await json('run', 'opsdemo', 'app', 'rotate-logs', '--param', 'mode=full', '--param', 'verbose=true', '--reason', 'nightly rotation');
    assert.equal(all.state, 'succeeded');
    assert.deepEqual(all.params, { keep: 7, mode: 'full', verbose: true });
    assert.deepEqual(all.instances.map((i: any) => [i.instance, i.state, i.exitCode]), [['app-1', 'succeeded', 0], ['app-2', 'succeeded', 0], ['app-3', 'succeeded', 0]]);
    for (const i of all.instances) {
      assert.equal(i.output.trim(), `instance=${i.instance} keep=7 mode=full verbose=true step=operation op=rotate-logs greeting=hello`);
    }
    const evs = (await opEvents()).filter((e) => e.data?.runId === all.id);
    assert.deepEqual(evs.map((e) => e.kind).sort(), [...Array(3).fill('operation.started'), ...Array(3).fill('operation.succeeded')]);
    for (const e of evs) {
      assert.equal(e.actor, 'user:admin');
      assert.equal(e.reason, 'nightly rotation');
      assert.equal(e.data.tenant, 'default');
      assert.equal(e.data.deployment, 'opsdemo');
      assert.equal(typeof e.data.message, 'string');
    }

    // some instances; the table form prints each instance's result
    const some = await cli('run', 'opsdemo', 'app', 'rotate-logs', '--instance', 'app-1,app-3', '--param', 'keep=2');
    assert.equal(some.code, 0, some.stderr);
    assert.match(some.stdout, /== app-1 succeeded \(exit 0\)\ninstance=app-1 keep=2 /);
    assert.match(some.stdout, /== app-3 succeeded \(exit 0\)\ninstance=app-3 keep=2 /);
    assert.doesNotMatch(some.stdout, /app-2/);

    // one instance fails, the others succeed: exit 1, every result printed
    const flaky = await cli('run', 'opsdemo', 'app', 'flaky', '-o', 'json');
    assert.equal(flaky.code, 1, flaky.stderr);
    const fr = JSON.parse(flaky.stdout);
    assert.equal(fr.state, 'partial');
    assert.deepEqual(fr.instances.map((i: any) => [i.instance, i.state, i.exitCode]), [['app-1', 'succeeded', 0], ['app-2', 'failed', 3], ['app-3', 'succeeded', 0]]);
    assert.match(fr.instances[1].output, /checking app-2\napp-2 refuses/);
    const failed = (await opEvents()).filter((e) => e.data?.runId === fr.id && e.kind === 'operation.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].target, 'opsdemo/app-2');
    assert.equal(failed[0].data.exitCode, 3);
    // the run's output per instance, later
    const logs = await cli('logs', 'app-2', '--deployment', 'opsdemo', '--operation', fr.id);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /== flaky \(run op-[0-9a-f]{12}\) failed, exit 3/);
    assert.match(logs.stdout, /app-2 refuses/);

    // bad values: refused with the parameter's path, nothing run
    const before = (await opEvents()).length;
    const runsBefore = (await api('GET', '/v1/deployments/opsdemo/operations')).json.runs.length;
    const bad: [string[], RegExp][] = [
      [['rotate-logs', '--param', 'keep=0'], /params\.keep: expected integer ≥ 1, found integer 0/],
      [['rotate-logs', '--param', 'keep=abc'], /params\.keep: expected integer, found string "abc"/],
      [['rotate-logs', '--param', 'mode=slow'], /params\.mode: expected one of "fast", "full", found string "slow"/],
      [['rotate-logs', '--param', 'nope=1'], /params\.nope: expected one of the parameters keep, mode, verbose, found unknown parameter "nope"/],
      [['echo'], /params\.text: expected string, found missing \(the parameter is required\)/],
      [['rotate-logs', '--instance', 'app-9'], /instances\[0\]: component app has no instance "app-9"/],
      [['no-such-op'], /component app has no operation "no-such-op" \(it has rotate-logs, flaky, echo, slow\)/],
    ];
    for (const [args, re] of bad) {
      const r = await cli('run', 'opsdemo', 'app', ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, re);
    }
    const typed = await api('POST', '/v1/deployments/opsdemo/components/app/operations/rotate-logs', { params: { keep: 2.5, verbose: 'yes' } });
    assert.equal(typed.status, 400);
    assert.deepEqual(typed.json.error.details.problems.map((p: any) => p.path), ['params.keep', 'params.verbose']);
    assert.equal((await api('POST', '/v1/deployments/opsdemo/components/app/operations/rotate-logs', { params: { keep: [1] } })).status, 400);
    assert.equal((await opEvents()).length, before, 'a refused run sends no event');
    assert.equal((await api('GET', '/v1/deployments/opsdemo/operations')).json.runs.length, runsBefore, 'a refused run is not recorded');

    // injection attempts are values: printed as given, never run
    const payload = '$(touch pwned1); `touch pwned2`; touch pwned3 && echo "x" | touch pwned4 \'$(touch pwned5)\'';
    const inj = await api('POST', '/v1/deployments/opsdemo/components/app/operations/echo', { params: { text: payload }, instances: ['app-1'] });
    assert.equal(inj.status, 200, JSON.stringify(inj.json));
    assert.equal(inj.json.state, 'succeeded');
    const [quoted, unquoted] = inj.json.instances[0].output.split('\n');
    assert.equal(quoted, payload);
    assert.equal(unquoted, `unquoted: ${payload.replace(/\s+/g, ' ')}`);
    for (const n of [1, 2, 3, 4, 5]) assert.deepEqual(findFiles(data, `pwned${n}`), [], `pwned${n} was not created`);

    // a timeout kills the operation's whole process tree
    const slow = await cli('run', 'opsdemo', 'app', 'slow', '--instance', 'app-3', '-o', 'json');
    assert.equal(slow.code, 1);
    const sr = JSON.parse(slow.stdout);
    assert.equal(sr.instances[0].state, 'timed-out');
    assert.match(sr.instances[0].detail, /timed out after 1000 ms/);
    const pidFiles = findFiles(data, 'slow.pid');
    assert.equal(pidFiles.length, 1);
    assert.equal(alive(Number(fs.readFileSync(pidFiles[0]!, 'utf8').trim())), false, 'the timed-out operation\'s child is gone');

    // the tenant wall: another tenant's token finds neither the deployment nor its runs
    const minted = JSON.parse((await cli('tokens', 'create', 'other', '--tenant', 'acme', '--role', 'admin', '-o', 'json')).stdout) as { token: string };
    const acme = { ...env, NUBIS_TOKEN: minted.token };
    const foreign = await runCli(['run', 'opsdemo', 'app', 'rotate-logs'], acme);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /NOT_FOUND/);
    for (const [method, p] of [['POST', '/v1/deployments/opsdemo/components/app/operations/rotate-logs'], ['GET', '/v1/deployments/opsdemo/operations'], ['GET', `/v1/deployments/opsdemo/operations/${all.id}`]] as const) {
      const r = await fetch(`http://127.0.0.1:${port}${p}`, { method, headers: { authorization: `Bearer ${minted.token}`, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
      assert.equal(r.status, 404, `${method} ${p}`);
    }
    const foreignLogs = await runCli(['logs', 'app-1', '--deployment', 'opsdemo', '--operation', all.id], acme);
    assert.equal(foreignLogs.code, 2);
    const theirs = await fetch(`http://127.0.0.1:${port}/v1/events?kind=operation.*`, { headers: { authorization: `Bearer ${minted.token}` } });
    assert.deepEqual(((await theirs.json()) as { events: unknown[] }).events, [], 'no operation event crosses the wall');

    const destroyed = await cli('destroy', 'opsdemo', '--wait');
    assert.equal(destroyed.code, 0, destroyed.stderr);
  } finally {
    await stopProcess(serve);
  }
});
