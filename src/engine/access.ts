/**
 * Access delivery (the seed's "deliver" activity): when a deployment first becomes ready, the
 * person who asked for it gets how to reach it — its endpoints and the credentials the spec's
 * `access.credentials` had generated.
 *
 * - Generation: at apply (and plan), a credential with no value yet gets a fresh random one
 *   (`crypto.randomBytes`), put into its component's secret env under `env`, so it is sealed
 *   with the installation key like any `env: { X: { secret } }` value, reaches the handlers as
 *   an ordinary variable and is masked in step logs. A re-apply keeps the sealed value it had
 *   (no rolling update for nothing).
 * - Ready: the first time the deployment's state is `ready`, one `deployment.access` event with
 *   its endpoints and the credential names (never a value), and the time is recorded.
 * - Shown once: the first read of the access details after that (`nubis endpoints`,
 *   `GET /v1/deployments/{name}/access`) carries the values and records who read them when
 *   (event `deployment.credentials-shown`, names only); every later read says when they were
 *   shown. Rotation is not built: a later read says so.
 */
import crypto from 'node:crypto';
import { NubisError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import type { AppSpec, SecretEnvValue } from '../model/index.js';
import { openSecretEnv, type SealingKey } from '../model/index.js';
import type { Store } from '../store/index.js';
import type { Deployment } from './state.js';
import type { DeploymentState, EndpointView } from './views.js';

/** One generated credential as the access view shows it. */
export interface CredentialView {
  name: string;
  component: string;
  env: string;
  /** The value: only in the first read after the deployment became ready. */
  value?: string;
  /** When the value was shown (ISO 8601), on every later read. */
  shownAt?: string;
  note: string;
}

export interface AccessView {
  deployment: string;
  state: DeploymentState;
  /** When it first became ready (ISO 8601); absent: not yet. */
  readyAt?: string;
  endpoints: EndpointView[];
  credentials: CredentialView[];
}

const PASSWORD_CHARS = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.+=!@%';
const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A uniformly random string of `length` characters of `alphabet` (rejection sampling: no modulo bias). */
function randomString(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const b of crypto.randomBytes(length * 2)) {
      if (b < limit && out.length < length) out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

/**
 * The spec with every generated credential in its component's secret env: the sealed value the
 * deployment had (`existing`), else a fresh one to seal. Specs without `access` come back as they are.
 */
export function withGeneratedCredentials(spec: AppSpec, existing: AppSpec | undefined): AppSpec {
  const creds = Object.values(spec.access?.credentials ?? {});
  if (creds.length === 0) return spec;
  const components = { ...spec.components };
  for (const c of creds) {
    const comp = components[c.component];
    if (!comp) continue;
    const before = existing?.access?.credentials[c.name];
    const kept = before && before.component === c.component && before.env === c.env && before.generate === c.generate && before.length === c.length
      ? existing?.components[c.component]?.secretEnv?.[c.env]
      : undefined;
    const value: SecretEnvValue = kept ?? { secret: randomString(c.generate === 'password' ? PASSWORD_CHARS : TOKEN_CHARS, c.length) };
    components[c.component] = { ...comp, secretEnv: { ...(comp.secretEnv ?? {}), [c.env]: value } };
  }
  return { ...spec, components };
}

export interface AccessDeps {
  store: Store;
  events: EventLog;
  key: SealingKey | undefined;
  now(): number;
  /** The deployment's state and endpoints, as the facade computes them. */
  stateOf(d: Deployment): DeploymentState;
  endpointsOf(d: Deployment): EndpointView[];
  deployments(): Iterable<Deployment>;
}

/** Watches deployments for their first `ready` and serves the access view (see the module comment). */
export class AccessDelivery {
  /** Deployments whose first ready is recorded (read from the store once each). */
  private readonly delivered = new Set<string>();
  private readonly pending = new Set<string>();
  private scheduled = false;

  constructor(private readonly deps: AccessDeps) {
    // an instance reaching `running` may make its deployment ready; checks are coalesced per tick
    deps.events.subscribe({ kind: 'instance.phase' }, (e) => {
      if (e.outcome === 'running' && e.deployment && !this.delivered.has(e.deployment)) this.schedule(e.deployment);
    });
    // deployments that became ready while the control plane was down
    queueMicrotask(() => {
      for (const d of deps.deployments()) this.schedule(d.name);
    });
  }

  private schedule(name: string): void {
    this.pending.add(name);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const names = [...this.pending];
      this.pending.clear();
      for (const n of names) void this.check(n).catch(() => undefined);
    });
  }

  /** The deployment if it is ready for the first time now: records it and emits `deployment.access`. */
  async check(name: string, d?: Deployment): Promise<void> {
    if (this.delivered.has(name)) return;
    const dep = d ?? [...this.deps.deployments()].find((x) => x.name === name);
    if (!dep || this.deps.stateOf(dep) !== 'ready') return;
    const row = await this.deps.store.access.get(dep.name);
    if (row?.ready_at != null) {
      this.delivered.add(dep.name);
      return;
    }
    if (!(await this.deps.store.access.markReady(dep.name, dep.tenant, this.deps.now()))) return;
    this.delivered.add(dep.name);
    const endpoints = this.deps.endpointsOf(dep);
    const credentials = Object.values(dep.spec.access?.credentials ?? {}).map((c) => ({ name: c.name, component: c.component, env: c.env }));
    await this.deps.events.append({
      actor: 'engine', deployment: dep.name, kind: 'deployment.access', target: dep.name, outcome: 'ready',
      reason: `ready: ${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}${credentials.length ? `, ${credentials.length} generated credential${credentials.length === 1 ? '' : 's'} to read once with nubis endpoints` : ''}`,
      data: { endpoints: endpoints.map((e) => ({ instance: e.instance, component: e.component, port: e.port, address: e.address })), generated: credentials },
      ts: this.deps.now(),
    });
  }

  /** The access view; the first read after ready carries the credential values (and records that). */
  async view(d: Deployment, actor: string): Promise<AccessView> {
    await this.check(d.name, d);
    const state = this.deps.stateOf(d);
    const row = await this.deps.store.access.get(d.name);
    const creds = Object.values(d.spec.access?.credentials ?? {});
    const iso = (ms: number): string => new Date(ms).toISOString();
    const base: AccessView = { deployment: d.spec.name, state, ...(row?.ready_at != null ? { readyAt: iso(Number(row.ready_at)) } : {}), endpoints: this.deps.endpointsOf(d), credentials: [] };
    if (creds.length === 0) return base;
    const plain = (c: (typeof creds)[number]): CredentialView => ({ name: c.name, component: c.component, env: c.env, note: '' });
    if (row?.ready_at == null) {
      base.credentials = creds.map((c) => ({ ...plain(c), note: 'shown once, on the first read after the deployment is ready' }));
      return base;
    }
    if (row.shown_at == null && (await this.deps.store.access.markShown(d.name, this.deps.now(), actor))) {
      if (!this.deps.key) throw new NubisError('UNAVAILABLE', 'this control plane has no key to open the generated credentials with');
      const values = new Map<string, Record<string, string>>();
      const open = (component: string): Record<string, string> => {
        let v = values.get(component);
        if (!v) values.set(component, (v = openSecretEnv(d.spec.components[component]!, d.spec.name, this.deps.key!)));
        return v;
      };
      base.credentials = creds.map((c) => {
        const value = open(c.component)[c.env];
        return { ...plain(c), ...(value !== undefined ? { value } : {}), note: 'shown this once: store it now' };
      });
      await this.deps.events.append({
        actor, deployment: d.name, kind: 'deployment.credentials-shown', target: d.name, outcome: 'shown',
        reason: `the generated credentials (${creds.map((c) => c.name).join(', ')}) were shown to ${actor}; later reads say when`,
        data: { names: creds.map((c) => c.name) },
        ts: this.deps.now(),
      });
      return base;
    }
    const again = await this.deps.store.access.get(d.name);
    const at = again?.shown_at != null ? iso(Number(again.shown_at)) : 'an earlier read';
    base.credentials = creds.map((c) => ({
      ...plain(c), shownAt: at,
      note: `shown on ${at}${again?.shown_by ? ` to ${again.shown_by}` : ''}; not shown again (rotating credentials is not built: destroy and re-create the deployment for new ones)`,
    }));
    return base;
  }
}
