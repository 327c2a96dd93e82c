/**
 * The control plane as the API sees it: validates requests, turns them into desired state for
 * the engine, and renders views. Every method either changes nothing and throws a NubisError,
 * or commits its whole change.
 */
import type { NewNode } from './host-placement.js';
import type { Clock } from '../clock/index.js';
import type { EventInput, EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import { openSecretEnv, parseSpec, specJsonSchema, withSpecPosition, HANDLER_NAMES, hasSecrets, redactSpecText, sealSpecSecrets, type SealingKey } from '../model/index.js';
import crypto from 'node:crypto';
import type { AppSpec, ComponentSpec, HandlerName } from '../model/types.js';
import { NubisError } from '../errors/index.js';
import type { Engine } from './engine.js';
import type { Placement } from './clouds.js';
import { firstBootView } from './first-boot.js';
import { AccessDelivery, withGeneratedCredentials } from './access.js';
import type { CloudSpec } from '../model/types.js';
import { platformOptionsJsonSchemas, type CloudHealthView } from '../drivers/index.js';
import { cloudNotes, describeCloudNote, noteOf, withNotes } from './cloud-notes.js';
import { desiredCount, instanceToRow, resourceKey, type Deployment, type InstanceRec } from './state.js';
import { ADMIN_TENANT, deploymentId, localText, splitDeploymentId, type TenantPolicy } from './tenancy.js';
import { componentWiringHashes, previewPlan } from './planner.js';
import { providedEndpoints, servesTraffic } from './wiring.js';
import { unreachableLine } from './reachability.js';
import { imageOfDemand, type Admission, type NodeDemand } from './admission.js';
import { ScaleRefusals, describeRefusal, isPolicy, outOfBounds, type RefusalInput } from './scale-refusals.js';
import { carryCounts, prepareRollout, rolloutSummary, rolloutView, setPaused, type Prepared } from './rollout/index.js';
import type {
  Caller, CloudNote, ControlPlane, DeploymentState, DeploymentSummary, DeploymentView, EndpointView, ForgetResult, InstanceView, PlanResult, SpecInput, StepLog,
} from './views.js';

const MAX_ARTEFACT_BYTES = 16 * 1024 * 1024;

interface Parsed {
  spec: AppSpec;
  text: string;
  file: string;
  files: { path: string; content: Buffer; mode: number }[];
}

function parseInput(input: SpecInput): Parsed {
  if (typeof input !== 'object' || input === null) throw new NubisError('REQUEST_INVALID', '$: expected an object with `spec`');
  if (typeof input.spec !== 'string') throw new NubisError('REQUEST_INVALID', `$.spec: expected string (the YAML text), found ${typeof input.spec}`);
  const file = input.file ?? 'spec.yaml';
  if (typeof file !== 'string' || file.length === 0 || file.length > 200) throw new NubisError('REQUEST_INVALID', '$.file: expected a file name of 1 to 200 characters');
  const files: Parsed['files'] = [];
  let total = 0;
  for (const [path, b64] of Object.entries(input.artefacts ?? {})) {
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      throw new NubisError('REQUEST_INVALID', `$.artefacts[${JSON.stringify(path)}]: expected base64 text`);
    }
    if (path.startsWith('/') || path.split('/').includes('..') || path.length === 0) {
      throw new NubisError('REQUEST_INVALID', `$.artefacts[${JSON.stringify(path)}]: expected a relative path without ..`);
    }
    const content = Buffer.from(b64, 'base64');
    total += content.length;
    files.push({ path, content, mode: 0o644 });
  }
  if (total > MAX_ARTEFACT_BYTES) throw new NubisError('REQUEST_INVALID', `$.artefacts: ${total} bytes is more than the ${MAX_ARTEFACT_BYTES} allowed`);
  const sent = new Map(files.map((f) => [f.path, f.content]));
  const spec = parseSpec(input.spec, {
    file, ...(input.artefacts ? { artefacts: new Set(Object.keys(input.artefacts)) } : {}), fileText: (p) => sent.get(p)?.toString('utf8'),
  });
  // keep only files some component names
  const wanted = Object.values(spec.components).flatMap((c) => c.artefacts);
  const used = files.filter((f) => wanted.some((a) => f.path === a || (a.endsWith('/') ? f.path.startsWith(a) : f.path.startsWith(`${a}/`))));
  return { spec, text: input.spec, file, files: used };
}

/** What the facade needs of the cloud handles (see ./handle-keeper.ts). */
export interface FacadeClouds {
  /**
   * Throws SPEC_INVALID naming `at` when the cloud cannot be used by `tenant` (no driver, a bad
   * option, a credential the tenant does not have). Builds nothing.
   */
  check(c: CloudSpec, at: string, tenant: string): void;
  /** The health of a deployment's cloud, when calls were sent to it. */
  health(d: Deployment, cloud: string): CloudHealthView | undefined;
  /** After apply, destroy and forget: close handles nobody uses. */
  changed(): void;
}

/** The tenant a caller acts in; absent: the admin tenant. */
const tenantOf = (caller: Caller | undefined): string => caller?.tenant ?? ADMIN_TENANT;

/** A plan action as its tenant names it: ids, targets and reasons without the `<tenant>.` prefix. */
function localAction(tenant: string, a: PlanResult['actions'][number]): PlanResult['actions'][number] {
  const local = (x: string): string => localText(tenant, x);
  return { ...a, id: local(a.id), target: local(a.target), after: a.after.map(local), reason: local(a.reason) };
}

export function createControlPlaneFacade(
  engine: Engine, store: Store, events: EventLog, clock: Clock, tenancy: TenantPolicy = {}, clouds?: FacadeClouds, key?: SealingKey, admission?: Admission,
): ControlPlane {
  const iso = (ms: number): string => new Date(ms).toISOString();

  /** The spec as submitted with its secret values sealed and cut out of its text (../model/secrets.ts). */
  function sealedInput(input: SpecInput, caller: Caller | undefined): Parsed {
    const parsed = parseInput(input);
    // generated credentials (./access.ts): kept from the deployment as it is, else made now
    const p = { ...parsed, spec: withGeneratedCredentials(parsed.spec, engine.deployments.get(deploymentId(tenantOf(caller), parsed.spec.name))?.spec) };
    if (!hasSecrets(p.spec)) return p;
    if (!key) throw new NubisError('UNAVAILABLE', 'this control plane has no key to seal secret values with');
    const { spec, plain } = sealSpecSecrets(p.spec, p.spec.name, key);
    return { ...p, spec, text: redactSpecText(p.text, plain) };
  }
  const notes = (d: Deployment): CloudNote[] => cloudNotes(d, engine, clouds);
  const refusals = new ScaleRefusals();

  /** A scale beyond the bounds: always an event; on status when a rule or a schedule asked (a person got the answer). */
  async function refused(d: Deployment, component: string, r: RefusalInput, caller: Caller): Promise<void> {
    const at = clock.now();
    const reason = describeRefusal(component, r);
    if (isPolicy(caller.actor)) refusals.record(d.name, component, { ...r, reason }, iso(at));
    await events.append({
      actor: caller.actor,
      ...(caller.correlationId ? { correlationId: caller.correlationId } : {}),
      deployment: d.name,
      kind: 'scale.refused',
      target: `${d.name}/${component}`,
      outcome: r.applied !== undefined ? 'capped' : 'refused',
      reason,
      data: { component, wanted: r.wanted, bound: r.bound, limit: r.limit, limitOf: r.limitOf, code: 'SCALE_OUT_OF_BOUNDS', ...(r.applied !== undefined ? { applied: r.applied } : {}) },
      ts: at,
    });
  }

  /** The rolling update an apply of `p` starts (./rollout): revisions, stamps for older instances, plan lines. */
  async function rolloutOf(existing: Deployment | undefined, p: Parsed, version: number): Promise<Prepared> {
    const oldFiles = existing ? await store.artefacts(existing.name) : [];
    return prepareRollout({
      ...(existing ? { existing } : {}), spec: p.spec, version, files: p.files, oldFiles, instances: existing ? engine.instancesOf(existing.name) : [], now: clock.now(),
      ...(key ? { secretsOf: (spec: AppSpec, c: ComponentSpec) => openSecretEnv(c, spec.name, key), digest: (c: string, v: string, value: string) => crypto.createHmac('sha256', key.bytes).update(`nubis-revision:${c}:${v}:${value}`).digest('hex').slice(0, 16) } : {}),
    });
  }
  const rolloutDeps = {
    get: (name: string) => mustGet(name),
    instancesOf: (name: string) => engine.instancesOf(name),
    save: (d: Deployment, e: Parameters<Engine['saveDeployment']>[1]) => engine.saveDeployment(d, e),
    now: () => clock.now(),
  };

  /** A deployment by id; NOT_FOUND names the bare name only, so it says nothing about other tenants. */
  function mustGet(id: string): Deployment {
    const d = engine.deployments.get(id);
    if (!d) throw new NubisError('NOT_FOUND', `no deployment named ${JSON.stringify(splitDeploymentId(id).name)}`);
    return d;
  }

  function instanceView(d: Deployment, i: InstanceRec): InstanceView {
    const n = engine.nodes.get(i.key);
    const comp = d.spec.components[i.component];
    const endpoints: Record<string, string> = {};
    if (comp && n?.observed) for (const [p, ep] of Object.entries(providedEndpoints(comp, n.observed))) endpoints[p] = `${ep.host}:${ep.port}`;
    const v: InstanceView = {
      name: i.name,
      component: i.component,
      ordinal: i.ordinal,
      desired: i.desired,
      phase: i.phase,
      health: n?.unreachable && i.desired ? 'unreachable' : i.health,
      node: { key: resourceKey(d.spec.name, i.name), cloud: n?.cloud ?? comp?.cloud ?? '', state: n?.unreachable ? 'unreachable' : (n?.status ?? 'pending') },
      endpoints,
      createdAt: iso(i.createdAt),
    };
    if (n) Object.assign(v.node, firstBootView(n, clock.now()));
    if (n?.providerId) v.node.id = n.providerId;
    if (n?.observed?.address) v.node.address = n.observed.address;
    const sick = n?.cloud && i.phase !== 'running' ? clouds?.health(d, n.cloud) : undefined;
    const err = sick && sick.state !== 'healthy' ? describeCloudNote(noteOf(n!.cloud, sick)) : (i.lastError ?? n?.lastError);
    if (err && (i.phase === 'failed' || n?.status === 'failed' || i.phase !== 'running')) v.lastError = localText(d.tenant, err);
    if (n?.unreachable && i.desired) v.lastError = localText(d.tenant, unreachableLine(n, clock.now()));
    return v;
  }

  function stateOf(d: Deployment, insts: InstanceRec[]): DeploymentState {
    if (d.status === 'destroying') return 'destroying';
    if (insts.some((i) => i.phase === 'failed' || engine.nodes.get(i.key)?.status === 'failed' || (i.desired && engine.nodes.get(i.key)?.unreachable))) return 'degraded';
    for (const c of Object.values(d.spec.components)) {
      const live = insts.filter((i) => i.component === c.name && i.desired);
      if (live.length !== desiredCount(d, c) || live.some((i) => i.phase !== 'running')) return 'applying';
    }
    if (insts.some((i) => !i.desired)) return 'applying';
    // channels changed and the news has not reached every requirer yet
    const hashes = componentWiringHashes(d, insts, engine.nodes);
    for (const i of insts) {
      const c = d.spec.components[i.component];
      if (c && Object.keys(c.requires).length > 0 && hashes.get(c.name) !== i.wiringHash) return 'applying';
    }
    return 'ready';
  }

  function view(d: Deployment): DeploymentView {
    const insts = engine.instancesOf(d.name).sort((a, b) => a.component.localeCompare(b.component) || a.ordinal - b.ordinal);
    const v: DeploymentView = {
      name: d.spec.name,
      state: stateOf(d, insts),
      version: d.version,
      createdAt: iso(d.createdAt),
      updatedAt: iso(d.updatedAt),
      components: Object.values(d.spec.components).map((c) => ({
        name: c.name,
        desired: desiredCount(d, c),
        running: insts.filter((i) => i.component === c.name && servesTraffic(i, engine.nodes)).length,
        min: c.min,
        max: c.max,
      })),
      instances: insts.map((i) => instanceView(d, i)),
      ...withNotes(notes(d)),
    };
    const scaling = refusals.list(d.name);
    if (scaling.length > 0) v.scaling = scaling;
    const rollout = rolloutSummary(d, insts);
    if (rollout) v.rollout = rollout.reason ? { ...rollout, reason: localText(d.tenant, rollout.reason), line: localText(d.tenant, rollout.line) } : rollout;
    return v;
  }

  /**
   * Every cloud the spec names, and the one selection picks for a template without a cloud,
   * must be usable by the deployment's tenant: cloudFor throws for platforms without a driver,
   * credentials the tenant does not have, and host access it may not use (FORBIDDEN).
   */
  function checkClouds(spec: AppSpec, probe: Deployment): void {
    // options are validated here, once; nothing is built (plan has no side effects)
    for (const name of Object.keys(spec.clouds)) {
      const c = engine.cloudSpecFor(probe, name);
      if (clouds) clouds.check(c, `clouds.${name}`, probe.tenant);
      else engine.cloudFor(probe, name);
    }
    // a template without a cloud must fit somewhere: PLACEMENT_NO_FIT names the closest offers
    for (const c of Object.values(spec.components)) {
      if (!c.cloud && desiredCount(probe, c) > 0) {
        const chosen = engine.placeFor(probe, c.name).placement.cloud;
        const spec = engine.cloudSpecFor(probe, chosen);
        if (clouds) clouds.check(spec, `clouds.${chosen}`, probe.tenant);
        else engine.cloudFor(probe, chosen);
      }
    }
  }

  /** What each component asks for and where it would go, for the admission checks (./admission.ts). */
  function demandsOf(d: Deployment): NodeDemand[] {
    return Object.values(d.spec.components).map((c) => {
      const count = d.status === 'destroying' ? 0 : desiredCount(d, c);
      const placement = !c.cloud && count > 0 ? engine.placeFor(d, c.name).placement : undefined;
      const cloud = c.cloud || placement?.cloud || '';
      const cloudSpec = engine.cloudSpecFor(d, cloud);
      const image = imageOfDemand(placement, cloudSpec);
      const requirements = d.spec.nodeTemplates[c.nodeTemplate]?.requirements ?? {};
      return { component: c.name, count, cloud, cloudSpec, requirements, ...(placement ? { placement } : {}), ...(image ? { image } : {}) };
    });
  }

  /** The operators' controls (image policy, quotas): a NubisError naming the policy and the check refuses the spec. */
  async function admit(d: Deployment, phase: 'plan' | 'apply'): Promise<void> {
    if (!admission) return;
    await admission.check({
      phase, tenant: d.tenant, deployment: d.name, name: d.spec.name, demands: demandsOf(d), driverFor: (cloud) => engine.cloudFor(d, cloud).driver,
    });
  }

  /** `plan` shows where selection would put each new node, and why. */
  function explainPlacements(d: Deployment, actions: PlanResult['actions']): void {
    const planned = new Map<string, Placement[]>();
    for (const a of actions) {
      if (a.kind !== 'create-node') continue;
      const n = engine.nodes.get(a.target);
      const component = a.target.slice(a.target.indexOf('/') + 1).replace(/-\d+$/, '');
      const comp = d.spec.components[component];
      if (!comp || comp.cloud) continue;
      if (n?.cloud) {
        const p = n.placement;
        if (p) a.reason += `; placed on ${[p.cloud, p.location].filter(Boolean).join('/')}${p.offer ? ` ${p.offer}` : ''}`;
        continue;
      }
      const mine = planned.get(component) ?? [];
      const { placement, reason } = engine.placeFor(d, component, mine);
      mine.push(placement);
      planned.set(component, mine);
      a.cloud = placement.cloud;
      a.reason = reason;
    }
  }

  /**
   * `plan` shows the host each new node of a template with a placement policy would get, and
   * why (the same decision the nodes controller makes at create, nothing recorded); a node
   * already placed shows its recorded host. Anti-affinity that cannot hold fails the plan.
   */
  async function explainHosts(d: Deployment, actions: PlanResult['actions']): Promise<void> {
    const byCloud = new Map<string, { a: PlanResult['actions'][number]; node: NewNode }[]>();
    for (const a of actions) {
      if (a.kind !== 'create-node' || !a.cloud) continue;
      const n = engine.nodes.get(a.target);
      const instance = a.target.slice(a.target.indexOf('/') + 1);
      const component = instance.replace(/-\d+$/, '');
      if (!d.spec.components[component]) continue;
      const placement = d.spec.nodeTemplates[d.spec.components[component]!.nodeTemplate]?.placement;
      if (!placement) continue;
      if (n?.placement?.host && (n.providerId || n.status !== 'pending')) {
        Object.assign(a, { host: n.placement.host, placement: n.placement.why ?? `on ${n.placement.host}` });
        continue;
      }
      const l = byCloud.get(a.cloud) ?? [];
      l.push({ a, node: { key: a.target, component, instance } });
      byCloud.set(a.cloud, l);
    }
    for (const [cloud, list] of byCloud) {
      const plan = await engine.placeHosts(d, cloud, list.map((x) => x.node), AbortSignal.timeout(120_000));
      if (plan.kind === 'cloud-decides') {
        for (const { a } of list) Object.assign(a, { placement: plan.note });
        continue;
      }
      const byKey = new Map(plan.decisions.map((x) => [x.key, x]));
      for (const { a } of list) {
        const x = byKey.get(a.target);
        if (!x) continue;
        Object.assign(a, { host: x.host, placement: x.reason });
        a.reason += `; ${x.reason}`;
      }
    }
  }

  function endpointsOf(d: Deployment): EndpointView[] {
    const out: EndpointView[] = [];
    for (const i of view(d).instances) {
      if (!i.desired) continue;
      for (const [port, address] of Object.entries(i.endpoints)) out.push({ instance: i.name, component: i.component, port, address });
    }
    return out;
  }
  const access = new AccessDelivery({
    store, events, key, now: () => clock.now(), endpointsOf, deployments: () => engine.deployments.values(),
    stateOf: (d) => stateOf(d, engine.instancesOf(d.name)),
  });

  return {
    events,
    tenancy,
    runOperation: (d, c, o, req, caller) => engine.operations.run(d, c, o, req, caller),
    operationRun: (d, id) => engine.operations.get(d, id),
    operationRuns: (d, limit) => engine.operations.list(d, limit),
    specSchema: () => specJsonSchema(platformOptionsJsonSchemas()),

    async plan(input, caller) {
      const p = sealedInput(input, caller);
      const tenant = tenantOf(caller);
      const id = deploymentId(tenant, p.spec.name);
      const existing = engine.deployments.get(id);
      const now = clock.now();
      const carried = carryCounts(existing?.spec, existing?.counts ?? {}, p.spec);
      const d: Deployment = existing
        ? { ...existing, spec: p.spec, counts: carried.counts, ordinals: { ...existing.ordinals } }
        : { name: id, tenant, spec: p.spec, specText: p.text, file: p.file, version: 0, status: 'active', counts: {}, ordinals: {}, createdAt: now, updatedAt: now };
      try {
        checkClouds(p.spec, d);
      } catch (e) {
        throw withSpecPosition(e, input.spec, p.file);
      }
      await admit(d, 'plan');
      const preview = previewPlan(d, engine.instancesOf(d.name), engine.nodes, now).map(({ deployment: _d, ready: _r, ...a }) => a);
      // a budget's hard stop (./cost.ts): a plan that adds nodes is refused, as its apply would be
      const refusal = engine.createRefusal(d);
      if (refusal && preview.some((a) => a.kind === 'create-node')) throw refusal;
      explainPlacements(d, preview);
      await explainHosts(d, preview);
      const actions = preview.map((a) => localAction(tenant, a));
      const rollout = (await rolloutOf(existing, p, d.version + 1)).lines;
      const result: PlanResult = {
        deployment: p.spec.name,
        create: !existing,
        actions,
        ...(carried.decisions.length ? { counts: carried.decisions } : {}),
        ...(rollout.length ? { rollout } : {}),
        summary: {
          add: actions.filter((a) => a.kind === 'create-node').length,
          change: actions.filter((a) => a.kind === 'update' || a.kind === 'restart').length + rollout.length,
          remove: actions.filter((a) => a.kind === 'delete-node').length,
        },
      };
      return result;
    },

    async apply(input, caller: Caller) {
      const p = sealedInput(input, caller);
      const tenant = tenantOf(caller);
      const id = deploymentId(tenant, p.spec.name);
      const existing = engine.deployments.get(id);
      if (existing?.status === 'destroying') {
        throw new NubisError('CONFLICT', `deployment ${p.spec.name} is being destroyed; apply again once it is gone`);
      }
      const now = clock.now();
      const d: Deployment = {
        name: id,
        tenant,
        spec: p.spec,
        specText: p.text,
        file: p.file,
        version: (existing?.version ?? 0) + 1,
        status: 'active',
        // run-time counts (scale, rules, schedules) survive unless the spec's own count changed
        counts: carryCounts(existing?.spec, existing?.counts ?? {}, p.spec).counts,
        ordinals: { ...(existing?.ordinals ?? {}) },
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      try {
        checkClouds(p.spec, d);
      } catch (e) {
        throw withSpecPosition(e, input.spec, p.file);
      }
      const refusal = engine.createRefusal(d);
      if (refusal && previewPlan(d, engine.instancesOf(d.name), engine.nodes, now).some((a) => a.kind === 'create-node')) throw refusal;
      await admit(d, 'apply');
      const roll = await rolloutOf(existing, p, d.version);
      d.rollout = roll.rollout;
      const before = new Map<string, string | undefined>();
      const stamped = [...roll.stamps].flatMap(([k, rev]) => {
        const i = engine.instances.get(k);
        if (!i) return [];
        before.set(k, i.revision);
        i.revision = rev;
        return [store.putInstance(instanceToRow(i))];
      });
      clouds?.changed();
      // a refused reservation (a quota passed by a concurrent apply) leaves the instances as they were
      const unstamp = (e: unknown): never => {
        for (const [k, rev] of before) {
          const i = engine.instances.get(k);
          if (i) i.revision = rev as typeof i.revision;
        }
        throw e;
      };
      const applied: EventInput = {
        actor: caller.actor,
        ...(caller.correlationId ? { correlationId: caller.correlationId } : {}),
        deployment: d.name,
        kind: 'deployment.applied',
        target: d.name,
        reason: existing ? 'spec changed' : 'new deployment',
        data: { version: d.version, file: p.file, artefacts: p.files.length },
      };
      const started: EventInput[] = roll.rollout.status === 'completed' ? [] : [{
        actor: caller.actor, ...(caller.correlationId ? { correlationId: caller.correlationId } : {}), deployment: d.name, kind: 'rollout.started', target: d.name,
        outcome: roll.rollout.status, reason: `${roll.lines.length} instance(s) to restart or replace`, ts: clock.now(),
        data: { version: d.version, instances: roll.lines.map((l) => ({ instance: l.instance, action: l.action, batch: l.batch })) },
      }];
      await engine.saveDeployment(d, [applied, ...started], [store.replaceArtefacts(d.name, p.files), ...stamped, ...engine.resetFailures(d.name)]).catch(unstamp);
      // the bounds may have changed: earlier refusals say nothing of the new ones
      refusals.forget(d.name);
      return view(d);
    },

    async listDeployments(tenant): Promise<DeploymentSummary[]> {
      return [...engine.deployments.values()]
        .filter((d) => tenant === undefined || d.tenant === tenant)
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((d) => {
          const v = view(d);
          return {
            name: d.spec.name,
            state: v.state,
            version: d.version,
            instances: { desired: v.components.reduce((s, c) => s + c.desired, 0), running: v.components.reduce((s, c) => s + c.running, 0) },
          };
        });
    },

    async getDeployment(name) {
      return view(mustGet(name));
    },

    async endpoints(name): Promise<EndpointView[]> {
      return endpointsOf(mustGet(name));
    },

    async access(name, caller) {
      return access.view(mustGet(name), caller.actor);
    },

    async scale(name, component, count, caller) {
      const d = mustGet(name);
      if (d.status === 'destroying') throw new NubisError('CONFLICT', `deployment ${d.spec.name} is being destroyed`);
      const c = d.spec.components[component];
      if (!c) {
        throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no component ${JSON.stringify(component)}; it has ${Object.keys(d.spec.components).join(', ')}`);
      }
      if (!Number.isInteger(count) || count < 0) throw new NubisError('REQUEST_INVALID', `$.count: expected integer ≥ 0, found ${JSON.stringify(count)}`);
      if (count < c.min || count > c.max) {
        const { error, refusal } = outOfBounds(c, count, caller.actor);
        await refused(d, component, refusal, caller);
        throw error;
      }
      const from = desiredCount(d, c);
      const refusal = count > from ? engine.createRefusal(d) : undefined;
      if (refusal) throw refusal;
      refusals.clear(name, component);
      const next: Deployment = { ...d, counts: { ...d.counts, [component]: count }, updatedAt: clock.now() };
      await engine.saveDeployment(next, {
        actor: caller.actor,
        ...(caller.correlationId ? { correlationId: caller.correlationId } : {}),
        deployment: name,
        kind: 'deployment.scaled',
        target: `${name}/${component}`,
        reason: `scale ${component} from ${from} to ${count}`,
        data: { component, from, to: count },
      });
      return view(next);
    },

    async scaleRefused(name, component, r, caller) {
      const d = mustGet(name);
      if (!d.spec.components[component]) throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no component ${JSON.stringify(component)}`);
      await refused(d, component, { by: caller.actor, wanted: r.wanted, bound: r.bound, limit: r.limit, limitOf: r.limitOf, ...(r.applied !== undefined ? { applied: r.applied } : {}) }, caller);
    },

    async rollout(name) {
      return rolloutView(mustGet(name), engine.instancesOf(name));
    },

    setRolloutPaused: (name, paused, caller) => setPaused(rolloutDeps, name, paused, caller),

    async destroy(name, caller) {
      const d = mustGet(name);
      refusals.forget(name);
      const next: Deployment = { ...d, status: 'destroying', updatedAt: clock.now() };
      if (d.status !== 'destroying') {
        await engine.saveDeployment(next, {
          actor: caller.actor,
          ...(caller.correlationId ? { correlationId: caller.correlationId } : {}),
          deployment: name,
          kind: 'deployment.destroying',
          target: name,
          reason: 'destroy requested',
        });
      }
      return view(next);
    },

    async forget(name, caller): Promise<ForgetResult> {
      const d = mustGet(name);
      const bare = d.spec.name;
      if (d.status !== 'destroying') throw new NubisError('CONFLICT', `deployment ${bare} is not being destroyed; destroy it first (\`nubis destroy ${bare} --forget\` does both)`);
      const left = await engine.forget(name);
      const leftovers = left.map((n) => ({ key: localText(d.tenant, n.key), cloud: n.cloud, status: n.status, ...(n.providerId ? { id: n.providerId } : {}) }));
      await events.append({
        actor: caller.actor,
        ...(caller.correlationId ? { correlationId: caller.correlationId } : {}),
        deployment: name,
        kind: 'deployment.forgotten',
        target: name,
        outcome: leftovers.length ? 'leftovers' : 'clean',
        reason: leftovers.length ? `forgotten with ${leftovers.length} node(s) that may be left in the cloud` : 'forgotten; nothing was left in the cloud',
        data: { leftovers, clouds: notes(d).map((c) => ({ cloud: c.cloud, health: c.health, reason: c.reason })) },
        ts: clock.now(),
      });
      clouds?.changed();
      return { deployment: bare, forgotten: true, leftovers };
    },

    async logs(deployment, instance, step): Promise<StepLog[]> {
      const d = mustGet(deployment);
      if (step !== undefined && !(HANDLER_NAMES as readonly string[]).includes(step)) {
        throw new NubisError('REQUEST_INVALID', `step: expected one of ${HANDLER_NAMES.join(', ')}, found ${JSON.stringify(step)}`);
      }
      const known = engine.instancesOf(deployment).some((i) => i.name === instance);
      const rows = await store.stepRuns(deployment, instance, step);
      if (!known && rows.length === 0) throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no instance ${JSON.stringify(instance)}`);
      return rows.map((r) => {
        const l: StepLog = {
          step: r.step as HandlerName,
          runId: localText(d.tenant, r.run_id),
          state: r.state,
          exitCode: r.exit_code,
          startedAt: iso(Number(r.started_at)),
          output: r.output,
        };
        if (r.ended_at !== null) l.endedAt = iso(Number(r.ended_at));
        return l;
      });
    },
  };
}
