/**
 * The firewalls controller (issue 11, item 4): for each deployment whose spec has a `firewall`
 * section, the clouds hold exactly the ports its channels need (src/policy/firewalls), on the
 * clouds whose driver applies firewalls (openstack, ec2: security groups; ssh: nftables; sim:
 * recorded). Level-based per deployment key, woken by the events that change wiring or
 * membership (a node running or deleted, an instance's phase, an apply), and at start.
 *
 * Each change is an intent first: the set is stored `applying` (with its rules and members),
 * then the driver's call goes out (an event per attempt, as every cloud call), then the row is
 * `applied` with a `firewall.applied` event. A set no longer wanted (a component gone, the
 * section removed, the component's last node deleted in a destroy) is removed from the cloud,
 * then its row (`firewall.removed`). A destroy does not end while its deployment has sets, so
 * removal always has the deployment's clouds to call. Failures are retried with the key's
 * backoff and reported as `firewall.failed`.
 */
import { TAG_DEPLOYMENT, TAG_OWNER, TAG_TENANT } from '../../../drivers/index.js';
import { firewallHash, firewallSets, type FirewallSet } from '../../../policy/index.js';
import type { FirewallRow } from '../../../store/index.js';
import { toNubisError } from '../../../errors/index.js';
import { done, retry, type Controller, type ReconcileResult } from '../../core/index.js';
import type { EngineContext } from '../../context.js';
import type { Deployment } from '../../state.js';
import { endpointOf } from '../../wiring.js';

export const FIREWALLS = 'firewalls';

/** Events after which a deployment's firewalls may need to change. */
const WAKING = new Set(['node.state', 'instance.phase', 'instance.deleted', 'instance.removed', 'deployment.applied', 'deployment.destroying', 'deployment.destroyed', 'deployment.scaled']);

const rowKey = (s: { deployment: string; cloud: string; component: string }): string => `${s.deployment}\0${s.cloud}\0${s.component}`;

export class FirewallsController implements Controller {
  readonly name = FIREWALLS;
  readonly backoffBaseMs = 1000;
  readonly backoffMaxMs = 60_000;
  private rows: Map<string, FirewallRow> | undefined;
  private loading: Promise<Map<string, FirewallRow>> | undefined;

  constructor(private readonly ctx: EngineContext) {
    // a destroy ends only once its deployment's firewalls are removed
    ctx.destroyHolds.add((deployment) => [...(this.rows?.values() ?? [])].some((r) => r.deployment === deployment));
  }

  initialKeys(): Iterable<string> {
    return this.ctx.deployments.keys();
  }

  watch(wake: (key: string) => void): () => void {
    void this.load().then((rows) => {
      for (const r of rows.values()) wake(r.deployment);
    }, () => undefined);
    return this.ctx.events.subscribe({}, (e) => {
      if (e.deployment && WAKING.has(e.kind)) wake(e.deployment);
    });
  }

  private load(): Promise<Map<string, FirewallRow>> {
    this.loading ??= this.ctx.store.firewalls.list().then((list) => (this.rows = new Map(list.map((r) => [r.key, r]))));
    return this.loading;
  }

  async reconcile(name: string, signal: AbortSignal): Promise<ReconcileResult> {
    const rows = await this.load();
    const d = this.ctx.deployments.get(name);
    const held = [...rows.values()].filter((r) => r.deployment === name);
    if (!d) {
      // dropped without a destroy (destroy --forget): nothing left to call; the rows go
      for (const r of held) await this.drop(r, 'deployment forgotten; its firewall may be left in the cloud');
      return done;
    }
    const wanted = this.desired(d);
    let failure: ReconcileResult | undefined;
    for (const set of wanted) {
      const r = await this.apply(d, set, rows.get(rowKey(set)), signal);
      failure ??= r;
    }
    const keep = new Set(wanted.map(rowKey));
    for (const r of held) {
      if (keep.has(r.key)) continue;
      const out = await this.remove(d, r, signal);
      failure ??= out;
    }
    if (d.status === 'destroying' && ![...rows.values()].some((r) => r.deployment === name)) this.ctx.enqueue(name);
    return failure ?? done;
  }

  /** The sets the deployment needs now: none without a firewall section; in a destroy, only those of components with nodes left. */
  private desired(d: Deployment): FirewallSet[] {
    const fw = d.spec.firewall;
    if (!fw?.enabled) return [];
    const instances = [];
    for (const i of this.ctx.instancesOf(d.name)) {
      const n = this.ctx.nodes.get(i.key);
      if (!n?.cloud) continue;
      const running = n.status === 'running' && n.providerId !== undefined;
      if (!i.desired && !running) continue;
      instances.push({ key: i.key, component: i.component, cloud: n.cloud, ...(running ? { id: n.providerId!, ...(n.observed?.address ? { address: n.observed.address } : {}) } : {}) });
    }
    const sets = firewallSets({
      deployment: d.name,
      tags: { [TAG_OWNER]: this.ctx.owner, [TAG_TENANT]: d.tenant, [TAG_DEPLOYMENT]: d.name },
      components: d.spec.components,
      open: fw.open,
      instances,
      portOf: (component, port) => {
        const comp = d.spec.components[component];
        return comp ? endpointOf(comp, port, { id: '', tags: {}, status: 'running', address: '0.0.0.0', createdAt: 0 })?.port : undefined;
      },
      supports: (cloud) => {
        try {
          return this.ctx.driverOf(d, cloud).applyFirewall !== undefined;
        } catch {
          return false;
        }
      },
    });
    return d.status === 'destroying' ? sets.filter((s) => s.members.length > 0) : sets;
  }

  private async apply(d: Deployment, set: FirewallSet, row: FirewallRow | undefined, signal: AbortSignal): Promise<ReconcileResult | undefined> {
    const hash = firewallHash(set);
    if (row?.hash === hash && row.status === 'applied') return undefined;
    const ctx = this.ctx;
    const intent: FirewallRow = { key: rowKey(set), deployment: d.name, tenant: d.tenant, cloud: set.cloud, component: set.component, set_json: JSON.stringify(set), hash, status: 'applying', updated_at: ctx.clock.now() };
    await this.write(intent);
    const summary = { cloud: set.cloud, name: set.name, ports: set.rules.map((r) => r.port), rules: set.rules.map((r) => ({ port: r.port, sources: r.sources, needs: r.needs })), members: set.members.length };
    try {
      await ctx.driverOf(d, set.cloud).applyFirewall!(set, signal);
    } catch (e) {
      const err = toNubisError(e);
      await ctx.emit({ deployment: d.name, kind: 'firewall.failed', target: `firewall:${d.name}/${set.component}`, outcome: 'error', reason: err.message, data: { ...summary, code: err.code } });
      return retry(err);
    }
    await this.write({ ...intent, status: 'applied', updated_at: ctx.clock.now() });
    await ctx.emit({ deployment: d.name, kind: 'firewall.applied', target: `firewall:${d.name}/${set.component}`, outcome: 'ok', reason: row ? 'channels or members changed' : 'new firewall', data: summary });
    return undefined;
  }

  private async remove(d: Deployment, row: FirewallRow, signal: AbortSignal): Promise<ReconcileResult | undefined> {
    const set = JSON.parse(row.set_json) as FirewallSet;
    // members that are gone have no host to clean (ssh drops a node's table with the node)
    const members = set.members.filter((m) => this.ctx.nodes.get(m.key)?.providerId === m.id);
    try {
      const driver = this.ctx.driverOf(d, row.cloud);
      await driver.removeFirewall?.({ ...set, members }, signal);
    } catch (e) {
      const err = toNubisError(e);
      await this.ctx.emit({ deployment: d.name, kind: 'firewall.failed', target: `firewall:${d.name}/${row.component}`, outcome: 'error', reason: err.message, data: { cloud: row.cloud, name: set.name, code: err.code } });
      return retry(err);
    }
    await this.drop(row, d.status === 'destroying' ? 'deployment destroyed' : 'no longer needed');
    return undefined;
  }

  private async drop(row: FirewallRow, reason: string): Promise<void> {
    this.rows?.delete(row.key);
    await Promise.all([
      this.ctx.store.write(this.ctx.store.firewalls.remove(row.key)),
      this.ctx.emit({ deployment: row.deployment, kind: 'firewall.removed', target: `firewall:${row.deployment}/${row.component}`, outcome: 'ok', reason, data: { cloud: row.cloud } }),
    ]);
  }

  private async write(row: FirewallRow): Promise<void> {
    this.rows?.set(row.key, row);
    await this.ctx.store.write(this.ctx.store.firewalls.put(row));
  }
}
