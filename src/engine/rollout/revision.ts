/**
 * A component's revision: what its instances run, as hashes. The lifecycle part has three
 * pieces, one per step a change must re-run from: install (install handler, env, secret
 * values, artefact contents), configure (configure handler), start (start, stop and update
 * handlers, health probe). The node part hashes the node template (cloud, requirements,
 * spread): a change there needs new nodes. Instances record the revision they were installed
 * from; a rollout moves them to the component's current one.
 */
import crypto from 'node:crypto';
import type { AppSpec, ComponentSpec } from '../../model/index.js';
import type { Revision } from '../state.js';

export interface ArtefactFile {
  path: string;
  content: Buffer | Uint8Array;
}

/** Turns a secret value into a digest fit to store (keyed, so the store says nothing about the value). */
export type SecretDigest = (component: string, variable: string, value: string) => string;

const h = (v: unknown): string => crypto.createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 12);

/** The files a component names: a path itself, or everything under a folder. */
export function filesOf(comp: ComponentSpec, files: readonly ArtefactFile[]): ArtefactFile[] {
  return files.filter((f) => comp.artefacts.some((a) => f.path === a || f.path.startsWith(a.endsWith('/') ? a : `${a}/`)));
}

function artefactDigests(comp: ComponentSpec, files: readonly ArtefactFile[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of filesOf(comp, files)) out[f.path] = crypto.createHash('sha256').update(f.content).digest('hex').slice(0, 16);
  return out;
}

/** The pieces a revision hashes, named, so a plan can say what changed. */
export function revisionParts(spec: AppSpec, comp: ComponentSpec, files: readonly ArtefactFile[], secrets: Record<string, string>) {
  const tpl = spec.nodeTemplates[comp.nodeTemplate];
  const hd = comp.handlers;
  return {
    install: { handler: hd.install?.run ?? null, env: comp.env, secrets, artefacts: artefactDigests(comp, files) },
    configure: { handler: hd.configure?.run ?? null },
    start: { start: hd.start?.run ?? null, stop: hd.stop?.run ?? null, update: hd.update?.run ?? null, health: comp.health ?? null },
    node: { cloud: comp.cloud, template: tpl ? { cloud: tpl.cloud ?? null, requirements: tpl.requirements, spread: tpl.spread ?? null } : null },
  };
}

/** Every component's revision. `secretsOf` opens a component's secret values (digested with `digest` before hashing). */
export function computeRevisions(
  spec: AppSpec,
  files: readonly ArtefactFile[],
  secretsOf: (comp: ComponentSpec) => Record<string, string> = () => ({}),
  digest: SecretDigest = (c, v, value) => h([c, v, value]),
): Record<string, Revision> {
  const out: Record<string, Revision> = {};
  for (const comp of Object.values(spec.components)) {
    const secrets: Record<string, string> = {};
    for (const [k, v] of Object.entries(comp.secretEnv ? secretsOf(comp) : {})) secrets[k] = digest(comp.name, k, v);
    const p = revisionParts(spec, comp, files, secrets);
    out[comp.name] = { config: `${h(p.install)}.${h(p.configure)}.${h(p.start)}`, node: h(p.node) };
  }
  return out;
}

export const revisionText = (r: Revision): string => `${r.config}/${r.node}`;

export function parseRevision(s: string): Revision {
  const [config = '', node = ''] = s.split('/');
  return { config, node };
}

/** How an instance at `have` reaches `want`: nothing, a restart from a step, or a new node. */
export type Change = { kind: 'none' } | { kind: 'restart'; from: 'install' | 'configure' | 'start' } | { kind: 'replace' };

export function changeBetween(have: Revision, want: Revision): Change {
  if (have.node !== want.node) return { kind: 'replace' };
  if (have.config === want.config) return { kind: 'none' };
  const [hi, hc] = have.config.split('.');
  const [wi, wc] = want.config.split('.');
  if (hi !== wi) return { kind: 'restart', from: 'install' };
  if (hc !== wc) return { kind: 'restart', from: 'configure' };
  return { kind: 'restart', from: 'start' };
}

/**
 * What changed in a component between two specs, in words (`env V`, `handler start`,
 * `artefact app.tar`, `node template requirements`); empty when the specs agree on it.
 */
export function describeChange(
  before: { spec: AppSpec; files: readonly ArtefactFile[] },
  after: { spec: AppSpec; files: readonly ArtefactFile[] },
  component: string,
): string[] {
  const a = before.spec.components[component];
  const b = after.spec.components[component];
  if (!a || !b) return [];
  const pa = revisionParts(before.spec, a, before.files, {});
  const pb = revisionParts(after.spec, b, after.files, {});
  const out: string[] = [];
  const keys = (x: Record<string, unknown>, y: Record<string, unknown>): string[] => [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
  for (const k of keys(pa.install.env, pb.install.env)) if (pa.install.env[k] !== pb.install.env[k]) out.push(`env ${k}`);
  for (const k of keys(a.secretEnv ?? {}, b.secretEnv ?? {})) if (!(a.secretEnv ?? {})[k] !== !(b.secretEnv ?? {})[k]) out.push(`secret env ${k}`);
  for (const k of keys(pa.install.artefacts, pb.install.artefacts)) if (pa.install.artefacts[k] !== pb.install.artefacts[k]) out.push(`artefact ${k}`);
  for (const n of ['install', 'configure', 'start', 'stop', 'update'] as const) if (a.handlers[n]?.run !== b.handlers[n]?.run) out.push(`handler ${n}`);
  if (h(pa.start.health) !== h(pb.start.health)) out.push('health probe');
  if (h(pa.node) !== h(pb.node)) out.push(a.nodeTemplate !== b.nodeTemplate ? `node template ${a.nodeTemplate} → ${b.nodeTemplate}` : `node template ${b.nodeTemplate}`);
  return out;
}
