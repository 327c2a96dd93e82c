/**
 * The restore-drill scenario of issue 10 ("restore drill byte-identical by checksum"), run the
 * same way on any cloud through `nubis serve` and the CLI: a component of two instances keeps a
 * "database" (db/state.bin, covered by its `backup` handler's dump and put back by its `restore`
 * handler) and a listed directory (files/, nested); `nubis backups run` stores one archive per
 * instance; the data is changed and destroyed through a custom operation; `nubis backups restore`
 * puts db-1's backup back in place and onto db-2; `nubis backups drill` restores onto a scratch
 * node whose `verify` handler checks the files against the sums taken at backup time and writes
 * what it found where the test can read it. The caller says how to reach a cloud's files (the
 * local file system or ssh): every checksum is read outside Nubis.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, serveApi } from './processes.js';

/** How the scenario reaches one cloud: its spec text and the files on its nodes. */
export interface DrillSite {
  /** The `clouds:` entry (YAML flow) of the cloud called `c`. */
  cloud: string;
  /** The backup policy's `store:` (YAML flow). */
  store: string;
  /** A directory, on every node's machine, the verify handler writes its findings to. */
  drillOut: string;
  /** SHA-256 of every file under db/ and files/ of `instance` (relative path → hex), read outside Nubis. */
  files(instance: string, address: string): Promise<Record<string, string>>;
  /** What the drill's verify handler wrote for drill `run` (`sha256sum` lines), read outside Nubis. */
  drillFindings(run: string): Promise<string>;
  /** How many nodes the cloud has right now (scratch nodes included), counted outside Nubis. */
  nodeCount(): Promise<number>;
}

export interface Cli {
  (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

export interface RunView { id: string; kind: string; state: string; key?: string; sizeBytes?: number; sha256?: string; verified: boolean; instance: string; backup?: string; detail?: string }

/** The spec: component `db` with two instances on cloud `c`, policy `nightly` (and `extraPolicies`, YAML lines). */
export function drillSpec(name: string, site: DrillSite, extraPolicies = ''): string {
  const out = site.drillOut; // a plain path (letters, digits, /._-): no quoting inside the YAML string
  return `name: ${name}
clouds: { c: ${site.cloud} }
nodeTemplates: { n: { cloud: c } }
components:
  db:
    nodeTemplate: n
    instances: { count: 2 }
    provides: { http: {} }
    artefacts: [server.mjs]
    lifecycle:
      install: "mkdir -p db files/nested && test -f db/state.bin || (head -c 3000000 /dev/urandom > db/state.bin && head -c 1500000 /dev/urandom > files/a.bin && head -c 70000 /dev/urandom > files/nested/b.bin && echo $NUBIS_INSTANCE > files/who.txt)"
      start: exec node server.mjs
      health: { http: { port: http, path: / }, interval: 500ms, retries: 2 }
      backup: "cp db/state.bin \\"$NUBIS_BACKUP_DIR/state.dump\\" && sha256sum db/state.bin files/a.bin files/nested/b.bin files/who.txt > \\"$NUBIS_BACKUP_DIR/sums\\""
      restore: "cp \\"$NUBIS_BACKUP_DIR/state.dump\\" db/state.bin"
      verify: "sha256sum -c \\"$NUBIS_BACKUP_DIR/sums\\" && mkdir -p ${out} && sha256sum db/state.bin files/a.bin files/nested/b.bin files/who.txt > ${out}/$NUBIS_BACKUP_RUN.sums"
    operations:
      wreck:
        run: "rm -rf files && head -c 1000 /dev/zero > db/state.bin"
backups:
  nightly:
    component: db
    schedule: { cron: "30 2 * * *", timeZone: Europe/Berlin }
    what: { dump: true, paths: [files] }
    store: ${site.store}
    retention: { last: 5 }
${extraPolicies}`;
}

export const SERVER = `import http from 'node:http';
http.createServer((q, r) => r.end('ok')).listen(Number(process.env.NUBIS_PORT_HTTP), process.env.NUBIS_HOST ?? '127.0.0.1');
`;

/** `sha256sum` output → relative path → hex. */
export function parseSums(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(l.trim());
    if (m) out[m[2]!.replace(/^.*?\/instances\/[^/]+\//, '')] = m[1]!;
  }
  return out;
}

/** Every file's SHA-256 under `dir` (relative path → hex), for the local file system. */
export function localSums(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = sha256Hex(fs.readFileSync(p));
    }
  };
  for (const sub of ['db', 'files']) walk(path.join(dir, sub));
  return out;
}

const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The JSON a CLI command printed (`-o json`), asserting it exited 0. */
export async function cliJson<T>(cli: Cli, ...args: string[]): Promise<T> {
  const r = await cli(...args, '-o', 'json');
  assert.equal(r.code, 0, `nubis ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

export interface DrillContext {
  site: DrillSite;
  deployment: string;
  port: number;
  data: string;
  env: Record<string, string>;
  /** Called around `backups run` of db-1, for counting what was sent to the store; returns a check. */
  countSent?: () => Promise<(sizeBytes: number) => Promise<void>>;
}

/** Instance name → the address of its node (from the API). */
async function addresses(c: DrillContext): Promise<Record<string, string>> {
  const d = (await serveApi(c.port, c.data, 'GET', `/v1/deployments/${c.deployment}`)).json as { instances: { name: string; node: { address: string } }[] };
  return Object.fromEntries(d.instances.map((i) => [i.name, i.node.address]));
}

/**
 * Runs the scenario on a deployment already applied and ready (spec from `drillSpec`); returns
 * db-1's backup. Each step asserts what the issue asks.
 */
export async function backupRestoreDrill(c: DrillContext): Promise<RunView> {
  const cli: Cli = (...args) => runCli(args, c.env);
  const dep = c.deployment;
  const at = await addresses(c);
  const orig1 = await c.site.files('db-1', at['db-1']!);
  const orig2 = await c.site.files('db-2', at['db-2']!);
  assert.deepEqual(Object.keys(orig1).sort(), ['db/state.bin', 'files/a.bin', 'files/nested/b.bin', 'files/who.txt']);
  assert.notEqual(orig1['db/state.bin'], orig2['db/state.bin'], 'the two instances hold different data');

  // a backup of db-1 through the CLI: verified by size and hash, not yet by a drill
  const check = await c.countSent?.();
  const { runs } = await cliJson<{ runs: RunView[] }>(cli, 'backups', 'run', dep, '--policy', 'nightly', '--instance', 'db-1');
  assert.equal(runs.length, 1);
  const b = runs[0]!;
  assert.equal(b.state, 'succeeded', b.detail);
  assert.equal(b.verified, false, 'not verified before a drill passed');
  assert.ok(b.sizeBytes! > 4_500_000, `the archive holds the data (${b.sizeBytes} bytes)`);
  await check?.(b.sizeBytes!);
  const shown = await cliJson<RunView>(cli, 'backups', 'show', dep, b.id);
  assert.equal(shown.sha256, b.sha256);

  // change and destroy db-1's data, then restore in place
  const wreck = await cli('run', dep, 'db', 'wreck', '--instance', 'db-1');
  assert.equal(wreck.code, 0, wreck.stderr + wreck.stdout);
  const wrecked = await c.site.files('db-1', at['db-1']!);
  assert.notEqual(wrecked['db/state.bin'], orig1['db/state.bin'], 'the database was overwritten');
  assert.equal(wrecked['files/a.bin'], undefined, 'the listed directory was removed');
  const inPlace = await cliJson<RunView>(cli, 'backups', 'restore', dep, b.id);
  assert.equal(inPlace.state, 'succeeded', inPlace.detail);
  assert.deepEqual(await c.site.files('db-1', at['db-1']!), orig1, 'db-1 restored in place, every file byte-identical');

  // onto another instance: db-2 gets db-1's data, file for file
  const onto = await cliJson<RunView>(cli, 'backups', 'restore', dep, b.id, '--instance', 'db-2');
  assert.equal(onto.state, 'succeeded', onto.detail);
  assert.equal(onto.instance, 'db-2');
  assert.deepEqual(await c.site.files('db-2', at['db-2']!), orig1, 'db-2 holds db-1\'s backup, every file byte-identical');

  // the drill: a scratch node, the restore there checked by the verify handler, the node removed
  const nodesBefore = await c.site.nodeCount();
  const drill = await cliJson<RunView>(cli, 'backups', 'drill', dep, '--policy', 'nightly', '--backup', b.id);
  assert.equal(drill.state, 'succeeded', drill.detail);
  assert.equal(drill.backup, b.id);
  const found = parseSums(await c.site.drillFindings(drill.id));
  assert.deepEqual(found, orig1, 'on the scratch node every file is byte-identical to the original');
  assert.equal(await c.site.nodeCount(), nodesBefore, 'the scratch node was removed');
  const after = await cliJson<RunView>(cli, 'backups', 'show', dep, b.id);
  assert.equal(after.verified, true, 'verified once the drill passed');
  const listed = await cli('backups', 'list', dep, '--kind', 'backup');
  assert.match(listed.stdout, new RegExp(`${b.id}  backup  nightly  db-1  succeeded verified`));
  return b;
}
