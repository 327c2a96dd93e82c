/**
 * First-boot user data (issue 10, item 5): a node template's own cloud-config is checked when the
 * spec is parsed (errors at the spec's line and column, or the file's), sent beside the Nubis
 * part as multipart MIME (cloud-init's "User-Data Formats": multipart/mixed with text/cloud-config
 * and text/x-shellscript parts), and refused over each platform's limit (EC2 16 KB raw, OpenStack
 * 65535 bytes base64, CloudSigma 64 KiB base64) — at plan time with room kept for the Nubis part,
 * and at create with the exact size, before anything is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseSpec, checkCloudConfig, NUBIS_PART_RESERVE_BYTES } from '../../src/model/index.js';
import { NubisError } from '../../src/errors/index.js';
import { agentUserData, assertUserDataFits, composeUserData, userDataParts } from '../../src/drivers/index.js';
import { deriveAgentSecrets } from '../../src/drivers/agent-bootstrap.js';
import { loadAgentCa } from '../../src/agent/index.js';

const USER = ['#cloud-config', 'packages: [nginx]', 'write_files:', '  - path: /etc/app.conf', '    content: "port=80"', '    permissions: "0644"', 'runcmd:', '  - [systemctl, restart, nginx]', ''].join('\n');

function spec(cloudInit: string, platform = 'ec2'): string {
  return [
    'name: web',
    'clouds:',
    `  c: { platform: ${platform}, options: { region: eu-north-1 } }`,
    'nodeTemplates:',
    '  t:',
    '    cloud: c',
    cloudInit,
    'components:',
    '  app: { nodeTemplate: t, lifecycle: { start: "run" } }',
    '',
  ].join('\n');
}

function problems(text: string, opts: Parameters<typeof parseSpec>[1] = { file: 'app.yaml' }): string[] {
  try {
    parseSpec(text, opts);
  } catch (e) {
    assert.ok(e instanceof NubisError && e.code === 'SPEC_INVALID', String(e));
    return ((e.details as { problems: { message: string }[] }).problems ?? []).map((p) => p.message);
  }
  return [];
}

test('a valid cloud-config passes and reaches the node template as text', () => {
  const block = `    cloudInit: |\n${USER.split('\n').map((l) => (l ? `      ${l}` : l)).join('\n')}`;
  const s = parseSpec(spec(block), { file: 'app.yaml' });
  assert.equal(s.nodeTemplates['t']!.cloudInit?.text, USER);
  assert.deepEqual(checkCloudConfig(USER), []);
});

test('cloud-config errors carry the spec line and column of the inline block, and the path inside the cloud-config', () => {
  const bad = ['#cloud-config', 'packages: nginx', 'write_files:', '  - path: etc/app.conf', '    permissions: 644', '    mode: "x"', 'package_update: yes-please', ''].join('\n');
  const block = `    cloudInit: |\n${bad.split('\n').map((l) => (l ? `      ${l}` : l)).join('\n')}`;
  const got = problems(spec(block));
  // line 7 is "    cloudInit: |"; its content starts on line 8 at column 7
  assert.deepEqual(got, [
    'app.yaml:9:17: $.nodeTemplates.t.cloudInit: expected packages: a sequence, found string "nginx"',
    'app.yaml:11:17: $.nodeTemplates.t.cloudInit: expected write_files[0].path: an absolute file path, found string "etc/app.conf"',
    'app.yaml:12:24: $.nodeTemplates.t.cloudInit: expected write_files[0].permissions: an octal mode as a quoted string, such as "0644", found number 644',
    'app.yaml:13:11: $.nodeTemplates.t.cloudInit: expected write_files[0].mode: one of path, content, source, owner, permissions, encoding, append, defer, found key "mode"',
    'app.yaml:14:23: $.nodeTemplates.t.cloudInit: expected package_update: true or false, found string "yes-please"',
  ]);
});

test('a missing #cloud-config header, bad YAML, a non-mapping and the Nubis directories are refused', () => {
  assert.match(problems(spec('    cloudInit: "packages: [a]"'))[0]!, /app\.yaml:7:16: \$\.nodeTemplates\.t\.cloudInit: expected a cloud-config document whose first line is #cloud-config \(at line 1, column 1 of the cloud-config\), found "packages: \[a\]"/);
  const yamlErr = problems(spec('    cloudInit: |\n      #cloud-config\n      packages: [a\n'));
  assert.equal(yamlErr.length, 1);
  assert.match(yamlErr[0]!, /^app\.yaml:\d+:\d+: \$\.nodeTemplates\.t\.cloudInit: expected valid YAML, found invalid YAML/);
  assert.match(problems(spec('    cloudInit: |\n      #cloud-config\n      - a\n'))[0]!, /app\.yaml:9:7: .*expected a mapping of cloud-init modules/);
  const owned = problems(spec('    cloudInit: |\n      #cloud-config\n      write_files: [{ path: /var/lib/nubis/tls/ca.crt, content: x }]\n'));
  assert.match(owned[0]!, /app\.yaml:9:29: .*write_files\[0\]\.path: a path outside \/var\/lib\/nubis and \/etc\/nubis \(the Nubis part writes there\), found "\/var\/lib\/nubis\/tls\/ca\.crt"/);
  assert.match(problems(spec('    cloudInit: |\n      #cloud-config\n', 'local').replace('options: { region: eu-north-1 }', ''))[0]!, /cloudInit only on a cloud that boots images \(ec2, openstack, cloudsigma\), found a node template on a local cloud/);
});

test('cloudInit from a file: errors at the file\'s own line and column; a file not sent is named', () => {
  const s = spec('    cloudInit: { file: init.yaml }');
  const files = new Map([['init.yaml', '#cloud-config\nruncmd: echo hi\n']]);
  assert.deepEqual(problems(s, { file: 'app.yaml', fileText: (p) => files.get(p) }), [
    'init.yaml:2:9: $.nodeTemplates.t.cloudInit.file: expected runcmd: a sequence, found string "echo hi"',
  ]);
  assert.deepEqual(problems(s, { file: 'app.yaml', fileText: () => undefined }), [
    'app.yaml:7:24: $.nodeTemplates.t.cloudInit.file: expected a cloud-config file sent with the spec (the CLI sends it when it sits beside the spec), found no file "init.yaml"',
  ]);
  files.set('init.yaml', USER);
  const ok = parseSpec(s, { file: 'app.yaml', fileText: (p) => files.get(p) });
  assert.deepEqual(ok.nodeTemplates['t']!.cloudInit, { text: USER, file: 'init.yaml' });
});

test('size limits at plan time: EC2 16 KB raw, OpenStack 65535 base64, with room for the Nubis part', () => {
  const pad = (n: number): string => `#cloud-config\nfinal_message: "${'x'.repeat(n)}"\n`;
  const inline = (t: string): string => `    cloudInit: ${JSON.stringify(t)}`;
  const ec2Room = 16_384 - NUBIS_PART_RESERVE_BYTES - 35;
  assert.deepEqual(problems(spec(inline(pad(ec2Room)))), [], 'just under the EC2 limit');
  const over = problems(spec(inline(pad(ec2Room + 40))));
  assert.equal(over.length, 1);
  assert.match(over[0]!, /expected a cloud-config that fits ec2's user-data limit beside the Nubis part \(4096 bytes kept for it\), found user data of 16\d{3} bytes; ec2 allows 16384/);
  // the same text fits OpenStack (65535 bytes of base64 ≈ 49 KB raw) but not past that
  assert.deepEqual(problems(spec(inline(pad(ec2Room + 40)), 'openstack').replace('region: eu-north-1', 'authUrl: http://x')), []);
  assert.match(problems(spec(inline(pad(46_000)), 'openstack'))[0]!, /fits openstack's user-data limit .* found user data of \d+ bytes base64 \(\d+ raw\); openstack allows 65535/);
});

test('the merge: multipart/mixed with the user part byte for byte and the Nubis script; deterministic; alone without a user part', () => {
  const ca = loadAgentCa(mkdtempSync(join(tmpdir(), 'nubis-ci-ca-')));
  const secrets = deriveAgentSecrets(randomBytes(32), 'o\nweb/app-1\nt1');
  const script = agentUserData({ secrets, ca });
  assert.match(script, /--graphite-port "\$\{NUBIS_BOOT_GRAPHITE_PORT:-2003\}" --graphite-host 127\.0\.0\.1/, 'the agent starts with its Graphite listener on loopback');
  assert.equal(composeUserData(script), script, 'no user part: the script alone');
  const both = composeUserData(script, { text: USER, file: 'cfg/init.yaml' });
  assert.equal(both, composeUserData(script, { text: USER, file: 'cfg/init.yaml' }), 'the same bytes every time (EC2 ClientToken)');
  assert.match(both, /^Content-Type: multipart\/mixed; boundary="==nubis-[0-9a-f]{24}=="\nMIME-Version: 1\.0\n/);
  const parts = userDataParts(both);
  assert.deepEqual(parts.map((p) => [p.type, p.filename]), [['text/cloud-config', 'init.yaml'], ['text/x-shellscript', 'nubis-agent.sh']]);
  assert.equal(parts[0]!.body, USER, 'the user part arrives unchanged');
  assert.deepEqual(parse(parts[0]!.body), { packages: ['nginx'], write_files: [{ path: '/etc/app.conf', content: 'port=80', permissions: '0644' }], runcmd: [['systemctl', 'restart', 'nginx']] });
  assert.equal(parts[1]!.body, script);
  assert.ok(!both.includes(secrets.agentToken), 'never the long-lived agent token');
});

test('at create the exact size is checked before anything is sent', () => {
  assert.doesNotThrow(() => assertUserDataFits('ec2', 'x'.repeat(16_384), 'web/app-1'));
  const e = (() => {
    try {
      assertUserDataFits('ec2', 'x'.repeat(16_385), 'web/app-1');
    } catch (x) {
      return x as NubisError;
    }
    return undefined;
  })();
  assert.equal(e?.code, 'SPEC_INVALID');
  assert.equal(e?.retryable, false);
  assert.match(e!.message, /ec2 create web\/app-1: user data of 16385 bytes; ec2 allows 16384 .* shorten the node template's cloudInit by 1 bytes/);
  assert.throws(() => assertUserDataFits('openstack', 'x'.repeat(49_152), 'k'), /65536 bytes base64 \(49152 raw\); openstack allows 65535/);
  assert.doesNotThrow(() => assertUserDataFits('cloudsigma', 'x'.repeat(49_152), 'k'));
});
