/**
 * What an apply does to the rolling update, and what `plan` shows of it: the components'
 * new revisions, the revision each older instance runs (recorded once, here), and the batches
 * the controller will run, line by line with the reason.
 */
import type { AppSpec, ComponentSpec } from '../../model/index.js';
import type { RolloutLine } from '../views.js';
import type { Deployment, InstanceRec, Revision, RolloutState } from '../state.js';
import { changeBetween, computeRevisions, describeChange, parseRevision, revisionText, type ArtefactFile, type SecretDigest } from './revision.js';
import { batchSizes, batchesFor, DEFAULT_STRATEGY } from './controller.js';

export interface PrepareInput {
  /** The deployment as it is now; absent for a new one. */
  existing?: Deployment;
  spec: AppSpec;
  version: number;
  files: readonly ArtefactFile[];
  /** The artefacts stored for `existing`. */
  oldFiles: readonly ArtefactFile[];
  instances: readonly InstanceRec[];
  now: number;
  secretsOf?: (spec: AppSpec, comp: ComponentSpec) => Record<string, string>;
  digest?: SecretDigest;
}

export interface Prepared {
  rollout: RolloutState;
  /** Instance key → the revision to record for instances that had none, or that install afresh. */
  stamps: Map<string, string>;
  lines: RolloutLine[];
}

const STEPS = { install: 'install, configure and start run again', configure: 'configure and start run again', start: 'start runs again' } as const;

export function prepareRollout(x: PrepareInput): Prepared {
  const open = (spec: AppSpec) => (c: ComponentSpec) => x.secretsOf?.(spec, c) ?? {};
  const revisions = computeRevisions(x.spec, x.files, open(x.spec), x.digest);
  const previous = x.existing ? (x.existing.rollout?.revisions ?? computeRevisions(x.existing.spec, x.oldFiles, open(x.existing.spec), x.digest)) : {};
  const stamps = new Map<string, string>();
  const have = (i: InstanceRec): Revision | undefined => {
    // not installed yet, or failed (the apply resets it to install again): it installs from the
    // new spec, whatever revision it was stamped with before
    const fresh = i.phase === 'pending' || i.phase === 'failed';
    if (i.revision && !fresh) return parseRevision(i.revision);
    // otherwise it runs what the last apply asked for
    const r = fresh ? revisions[i.component] : (previous[i.component] ?? revisions[i.component]);
    if (r) stamps.set(i.key, revisionText(r));
    return r;
  };
  const prev = x.existing?.rollout;
  const rollout: RolloutState = { version: x.version, status: 'completed', revisions, components: {}, startedAt: x.now };
  const lines: RolloutLine[] = [];
  for (const comp of Object.values(x.spec.components)) {
    const target = revisions[comp.name]!;
    const carried = prev?.components[comp.name];
    // a surge in progress stays: its old instances still go once the new ones are healthy
    rollout.components[comp.name] = carried?.surge ? { batch: 0, surge: carried.surge, retiring: carried.retiring ?? [], batchStartedAt: x.now } : { batch: 0 };
    if (carried?.surge) rollout.status = prev?.status === 'paused' ? 'paused' : 'running';
    const retiring = new Set(carried?.retiring ?? []);
    const outdated = x.instances
      .filter((i) => i.component === comp.name && i.desired && !retiring.has(i.key))
      .map((i) => ({ i, ch: changeBetween(have(i) ?? target, target) }))
      .filter((o) => o.ch.kind !== 'none')
      .sort((a, b) => a.i.ordinal - b.i.ordinal);
    if (outdated.length === 0) continue;
    rollout.status = prev?.status === 'paused' ? 'paused' : 'running';
    const what = x.existing ? describeChange({ spec: x.existing.spec, files: x.oldFiles }, { spec: x.spec, files: x.files }, comp.name) : [];
    const s = comp.updateStrategy ?? DEFAULT_STRATEGY;
    const restarts = outdated.filter((o) => o.ch.kind === 'restart');
    const replaces = outdated.filter((o) => o.ch.kind === 'replace');
    const { restart: per, replace: perReplace } = batchSizes(s);
    const batches = batchesFor(s, restarts.length, replaces.length);
    const gate = `health gate ${Math.round(s.healthGateTimeoutMs / 1000)} s`;
    const changed = (i: InstanceRec): string => (i.revision && previous[comp.name] && i.revision !== revisionText(previous[comp.name]!) ? 'it runs an earlier revision' : what.length ? `changed: ${what.join(', ')}` : 'its revision changed');
    restarts.forEach((o, k) => {
      const from = o.ch.kind === 'restart' ? o.ch.from : 'install';
      const batch = Math.floor(k / per) + 1;
      lines.push({
        instance: o.i.name, component: comp.name, action: 'restart', batch, batches,
        reason: `${changed(o.i)}; restart in place, ${STEPS[from]} (batch ${batch} of ${batches}, maxUnavailable ${s.maxUnavailable}, ${gate})`,
      });
    });
    const base = Math.ceil(restarts.length / per);
    replaces.forEach((o, k) => {
      const batch = base + Math.floor(k / perReplace) + 1;
      const surge = k % perReplace < s.maxSurge;
      lines.push({
        instance: o.i.name, component: comp.name, action: 'replace', batch, batches,
        reason: `${changed(o.i)}; replaced by a new node, ${surge ? 'the old one removed once the new one is healthy (maxSurge)' : 'the old one removed first (maxUnavailable)'} (batch ${batch} of ${batches}, ${gate})`,
      });
    });
  }
  if (rollout.status === 'completed') rollout.endedAt = x.now;
  return { rollout, stamps, lines };
}
