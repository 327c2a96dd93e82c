/** How a deployment's unhealthy clouds are shown in its view (`clouds`) and on its instances. */
import type { CloudHealthView } from '../drivers/index.js';
import type { Engine } from './engine.js';
import type { FacadeClouds } from './control-plane.js';
import type { Deployment } from './state.js';
import type { CloudNote } from './views.js';

export function noteOf(cloud: string, h: CloudHealthView): CloudNote {
  const n: CloudNote = {
    cloud,
    health: h.state === 'unusable' ? 'unusable' : 'backoff',
    reason: h.reason ?? 'unknown',
    since: new Date(h.since).toISOString(),
    refused: h.refused,
  };
  if (h.code) n.code = h.code;
  if (h.retryAt !== undefined) n.retryAt = new Date(h.retryAt).toISOString();
  return n;
}

/** One line, e.g. `cloud os: authentication failed (401): … — calls stopped until its credential or entry changes`. */
export function describeCloudNote(n: CloudNote): string {
  const tail = n.health === 'unusable'
    ? 'calls stopped until its credential or entry changes'
    : `backing off; next attempt ${n.retryAt ?? 'soon'}`;
  return `cloud ${n.cloud}: ${n.reason} — ${tail}`;
}

/** The deployment's clouds (its spec's and its nodes') that are not healthy. */
export function cloudNotes(d: Deployment, engine: Engine, clouds: FacadeClouds | undefined): CloudNote[] {
  if (!clouds) return [];
  const names = new Set(Object.keys(d.spec.clouds));
  for (const i of engine.instancesOf(d.name)) {
    const c = engine.nodes.get(i.key)?.cloud;
    if (c) names.add(c);
  }
  const out: CloudNote[] = [];
  for (const name of [...names].sort()) {
    const h = clouds.health(d, name);
    if (h && h.state !== 'healthy') out.push(noteOf(name, h));
  }
  return out;
}

export function withNotes(notes: CloudNote[]): { clouds?: CloudNote[] } {
  return notes.length ? { clouds: notes } : {};
}
