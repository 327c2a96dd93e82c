/**
 * What cloud user data may carry for the agent (issue 7, item 9): the installation CA
 * certificate and a one-time bootstrap token, never the long-lived agent token.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadAgentCa } from '../../src/agent/index.js';
import type { CloudAgentSecrets } from '../../src/drivers/agent-bootstrap.js';
import { userDataParts, type UserDataPart } from '../../src/drivers/index.js';
import { spawnTracked } from './processes.js';

/** Asserts `userData` holds `s`'s bootstrap token and the CA of `dataDir`, and not its agent token. */
export function assertOneTimeBootstrap(userData: string, dataDir: string, s: CloudAgentSecrets): void {
  assert.ok(userData.includes(s.bootstrapToken), 'user data carries the one-time bootstrap token');
  assert.ok(!userData.includes(s.agentToken), 'user data never carries the long-lived agent token');
  assert.ok(!/NUBIS_AGENT_TOKEN/.test(userData), 'no agent token variable in user data');
  const caBody = loadAgentCa(dataDir).caPem.split('\n')[1]!;
  assert.ok(userData.includes(caBody), 'user data carries the installation CA certificate');
  assert.ok(userData.includes(s.identity), 'user data names the node identity its certificate will have');
}

/**
 * Runs the Nubis part of a cloud VM's user data on this machine, as cloud-init would run it on
 * a first boot (the stand-in clouds' "VM" is loopback): the script from the
 * text/x-shellscript part, with NUBIS_BOOT_* moving its files under `root` and the agent onto
 * the given loopback ports. The agent is the compiled one (`agentPath` in the cloud options).
 * `stop` kills the script's process group (the agent is in it) and waits for it.
 */
export async function bootFromUserData(userData: string, o: { root: string; agentPort: number; graphitePort: number }): Promise<{ parts: UserDataPart[]; stop(): Promise<void> }> {
  const parts = userDataParts(userData);
  const script = parts.find((p) => p.type === 'text/x-shellscript');
  assert.ok(script, 'the user data has the Nubis script');
  const child = spawnTracked('/bin/sh', ['-c', script.body], {
    env: {
      PATH: `${path.dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      NUBIS_BOOT_ROOT: o.root, NUBIS_BOOT_AGENT_PORT: String(o.agentPort), NUBIS_BOOT_AGENT_HOST: '127.0.0.1',
      NUBIS_BOOT_GRAPHITE_PORT: String(o.graphitePort), NUBIS_AGENT_CGROUP: 'off',
    },
    stdio: 'ignore',
  });
  const pidFile = path.join(o.root, 'var/lib/nubis/agent.pid');
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    parts,
    async stop() {
      let pid: number | undefined;
      try {
        pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      } catch {
        return;
      }
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* the group may be gone */
      }
      for (let i = 0; i < 200; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}
