/**
 * The SFTP backup store against a real OpenSSH sshd (the project's netns fixture,
 * test/helpers/ssh-hosts.ts): the store conformance suite, then the faults — a host key other
 * than the pinned one, a wrong password, a remote file system that fills up (a small tmpfs
 * mounted on the host), and the connection dropped mid-put (the per-connection sshd processes
 * SIGKILLed). Needs root.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createSftpStore, type BackupStore } from '../../src/operations/backups/stores/index.js';
import { sshHostsUp, type SshHostsFixture } from '../helpers/ssh-hosts.js';
import { waitFor } from '../helpers/control-plane.js';
import { failure, pseudoRandom, storeConformance } from '../helpers/store-conformance.js';

const never = new AbortController().signal;
let fx: SshHostsFixture;
let up: Promise<SshHostsFixture> | undefined;
/** The fixture, made on first use (the conformance suite's own before hook may run first). */
const fixture = async (): Promise<SshHostsFixture> => (fx = await (up ??= sshHostsUp(1)));

before(fixture);
after(async () => {
  if (up) await (await up).down();
});

function store(over: Partial<Parameters<typeof createSftpStore>[0]> = {}): BackupStore {
  const h = fx.hosts[0]!;
  return createSftpStore({ host: h.address, port: h.port, user: fx.user, path: '/opt/backups', hostKeySha256: h.fingerprint, privateKey: fs.readFileSync(fx.privateKey), ...over });
}

storeConformance('sftp', async () => {
  await fixture();
  const s = store();
  return { store: s, close: () => s.close() };
});

test('sftp store: the pinned host key connects; another fingerprint is refused, naming both', { timeout: 120_000 }, async () => {
  const h = fx.hosts[0]!;
  const ok = store();
  try {
    await ok.put('pin/ok', pseudoRandom(1000), never);
    assert.deepEqual((await ok.list('pin/', never)).map((o) => o.key), ['pin/ok']);
  } finally {
    await ok.close();
  }
  const wrongFp = `SHA256:${createHash('sha256').update('some other host').digest('base64').replace(/=+$/, '')}`;
  const bad = store({ hostKeySha256: wrongFp });
  try {
    const e = await failure(bad.list('', never));
    assert.equal(e.code, 'BACKUP_STORE_HOST_KEY_MISMATCH');
    assert.equal(e.retryable, false);
    assert.ok(e.message.includes(wrongFp) && e.message.includes(h.fingerprint), e.message);
    const e2 = await failure(bad.put('pin/never', pseudoRandom(1000), never));
    assert.equal(e2.code, 'BACKUP_STORE_HOST_KEY_MISMATCH');
  } finally {
    await bad.close();
  }
  const s = store();
  try {
    assert.deepEqual((await s.list('pin/', never)).map((o) => o.key), ['pin/ok'], 'nothing was written through the refused connection');
  } finally {
    await s.close();
  }
});

test('sftp store: a wrong password is refused with a clear error, tried once, and never shown', { timeout: 120_000 }, async () => {
  const h = fx.hosts[0]!;
  const dir = `${fx.stateDir}/h1`;
  const cfg = [
    `ListenAddress ${h.address}:2222`, `HostKey ${dir}/ssh_host_ed25519_key`, `PidFile ${dir}/run/pw-sshd.pid`,
    'AuthenticationMethods password', 'PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication no',
    'PermitRootLogin yes', 'UsePAM no', 'StrictModes no', 'UseDNS no', 'MaxAuthTries 6', 'Subsystem sftp internal-sftp', 'LogLevel VERBOSE',
  ].join('\n');
  fs.writeFileSync(`${dir}/pw-sshd_config`, `${cfg}\n`);
  // Started through the fixture's ssh, so it runs in the host's namespaces (its /run).
  await fx.ssh(1, `/usr/sbin/sshd -f ${dir}/pw-sshd_config -E ${dir}/pw-sshd.log`);
  // sshd forks before it listens and writes its pid file once it listens: that file is the readiness signal
  const pidFile = `${dir}/run/pw-sshd.pid`;
  await waitFor('the password sshd listening (its pid file)', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '', 30_000);
  const password = 'not-the-password-Zq81';
  const s = store({ port: 2222, privateKey: undefined, password });
  try {
    const e = await failure(s.list('', never));
    assert.equal(e.code, 'BACKUP_STORE_AUTH_FAILED', e.message);
    assert.equal(e.retryable, false);
    assert.match(e.message, /refused the credentials/);
    assert.ok(!JSON.stringify(e).includes(password) && !e.message.includes(password), 'the password is not in the error');
    const log = fs.readFileSync(`${dir}/pw-sshd.log`, 'utf8');
    assert.equal((log.match(/Failed password for root/g) ?? []).length, 1, `one password attempt, not retried:\n${log}`);
  } finally {
    await s.close();
    const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
    if (pid > 0) process.kill(pid, 'SIGTERM');
  }
});

test('sftp store: a remote file system that fills up is BACKUP_STORE_FULL and leaves nothing, listed or not', { timeout: 180_000 }, async () => {
  await fx.ssh(1, 'mkdir -p /opt/full && mount -t tmpfs -o size=4m,mode=0700 nubis-full /opt/full');
  const s = store({ path: '/opt/full/backups' });
  try {
    await s.put('small/fits', pseudoRandom(100_000), never);
    const e = await failure(s.put('big/does-not-fit.tar', pseudoRandom(16 * 1024 * 1024), never));
    assert.equal(e.code, 'BACKUP_STORE_FULL', e.message);
    assert.equal(e.retryable, false);
    assert.deepEqual((await s.list('', never)).map((o) => o.key), ['small/fits']);
    assert.equal((await fx.ssh(1, 'find /opt/full -type f -name "*.partial-*" | wc -l')).trim(), '0', 'the partial was removed');
    // Space freed again: the same put of something that fits succeeds.
    await s.put('big/fits-now', pseudoRandom(1024 * 1024), never);
  } finally {
    await s.close();
    await fx.ssh(1, 'umount /opt/full && rmdir /opt/full');
  }
});

/** SIGKILLs host 1's per-connection sshd processes (not the listener); returns how many. */
async function dropConnections(): Promise<number> {
  const listener = fx.hosts[0]!.sshdPid;
  let n = 0;
  for (const p of (await fx.host('pids', 1)).split('\n').filter((x) => /^\d+$/.test(x)).map(Number)) {
    if (p === listener) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.startsWith('sshd:')) continue;
    try {
      process.kill(p, 'SIGKILL');
      n++;
    } catch {
      /* gone already */
    }
  }
  return n;
}

test('sftp store: a connection dropped mid-put fails the put, lists nothing, and the next put reconnects', { timeout: 180_000 }, async () => {
  const s = store({ path: '/opt/drop' });
  try {
    let sent = 0;
    let killed = 0;
    async function* body(): AsyncGenerator<Buffer> {
      for await (const b of pseudoRandom(64 * 1024 * 1024, 256 * 1024, 'drop')) {
        yield b;
        sent += b.byteLength;
        if (sent === 4 * 1024 * 1024) killed = await dropConnections();
      }
    }
    const e = await failure(s.put('cut/x.tar', body(), never));
    assert.ok(killed >= 1, 'an sshd connection process was killed');
    assert.equal(e.code, 'BACKUP_STORE_FAILED', e.message);
    assert.equal(e.retryable, true);
    assert.ok(sent < 64 * 1024 * 1024, 'the put stopped early');
    assert.deepEqual(await s.list('', never), [], 'nothing listed (after reconnecting)');
    const d = await s.put('cut/after.tar', pseudoRandom(2 * 1024 * 1024), never);
    assert.deepEqual(await s.digest('cut/after.tar', never), d);
  } finally {
    await s.close();
  }
});
