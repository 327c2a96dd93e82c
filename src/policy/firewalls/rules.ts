/**
 * Firewalls from channels: the rules each provider component's nodes need, and nothing else.
 * A channel `C.requires.x → P.port` opens P's port (tcp) to the addresses of C's wanted nodes;
 * `firewall.open` in the spec adds sources (CIDRs) per provided port, for ports reached from
 * outside the application (a load balancer's). A provided port no channel uses and no `open`
 * names stays closed. One set per (cloud, component): a security group on openstack and ec2,
 * an nftables table per deployment on each ssh host of the component. Pure.
 */

export interface FirewallRule {
  protocol: 'tcp';
  port: number;
  /** CIDRs, sorted: consumers' addresses as /32 (/128), then the spec's `open` sources. */
  sources: string[];
  /** What needs it: `<consumer>.<required port name>` per channel, `open` for spec sources. */
  needs: string[];
}

export interface FirewallMember {
  /** Node key. */
  key: string;
  /** The provider's id of the node. */
  id: string;
  address: string;
}

export interface FirewallSet {
  deployment: string;
  component: string;
  cloud: string;
  /** The cloud-side name: `nubis-<deployment>-<component>` (security groups), the nftables table per deployment. */
  name: string;
  rules: FirewallRule[];
  /** The component's nodes that run, with their addresses. */
  members: FirewallMember[];
  /** Tags the cloud object carries (owner, tenant, deployment), for teardown and the leak scan. */
  tags: Record<string, string>;
}

/** What the rules are computed from (the engine's view of one deployment). */
export interface FirewallInput {
  deployment: string;
  tags: Record<string, string>;
  components: Readonly<Record<string, { requires: Readonly<Record<string, { component: string; port: string }>> }>>;
  /** component → provided port → extra sources. */
  open: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
  /** Wanted instances with their node's cloud, id and address (when known). */
  instances: readonly { key: string; component: string; cloud: string; id?: string; address?: string }[];
  /** The port number of a provided port on the component's nodes; undefined: no fixed port (no rule). */
  portOf(component: string, port: string): number | undefined;
  /** Clouds whose driver applies firewalls; sets for others are not made. */
  supports(cloud: string): boolean;
}

const cidrOf = (address: string): string => (address.includes('/') ? address : address.includes(':') ? `${address}/128` : `${address}/32`);

/** Ends in a name usable as a security group name and, with `_`, as an nftables table name. */
export function firewallName(deployment: string, component?: string): string {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9-]/g, '-');
  return component === undefined ? `nubis-${clean(deployment)}` : `nubis-${clean(deployment)}-${clean(component)}`;
}

/** The sets one deployment needs now, sorted by cloud then component; rules sorted by port. */
export function firewallSets(input: FirewallInput): FirewallSet[] {
  const byComponent = new Map<string, FirewallInput['instances'][number][]>();
  for (const i of input.instances) {
    let l = byComponent.get(i.component);
    if (!l) byComponent.set(i.component, (l = []));
    l.push(i);
  }
  // provider component → port name → { sources, needs }
  const wanted = new Map<string, Map<string, { sources: Set<string>; needs: Set<string> }>>();
  const need = (comp: string, port: string) => {
    let m = wanted.get(comp);
    if (!m) wanted.set(comp, (m = new Map()));
    let e = m.get(port);
    if (!e) m.set(port, (e = { sources: new Set(), needs: new Set() }));
    return e;
  };
  for (const [consumer, c] of Object.entries(input.components)) {
    for (const [via, ch] of Object.entries(c.requires)) {
      const e = need(ch.component, ch.port);
      e.needs.add(`${consumer}.${via}`);
      for (const i of byComponent.get(consumer) ?? []) if (i.address) e.sources.add(cidrOf(i.address));
    }
  }
  for (const [comp, ports] of Object.entries(input.open)) {
    for (const [port, sources] of Object.entries(ports)) {
      const e = need(comp, port);
      e.needs.add('open');
      for (const s of sources) e.sources.add(cidrOf(s));
    }
  }
  const out: FirewallSet[] = [];
  for (const [component, insts] of byComponent) {
    const clouds = new Map<string, FirewallMember[]>();
    for (const i of insts) {
      if (!i.cloud || !input.supports(i.cloud)) continue;
      let l = clouds.get(i.cloud);
      if (!l) clouds.set(i.cloud, (l = []));
      if (i.id && i.address) l.push({ key: i.key, id: i.id, address: i.address });
    }
    for (const [cloud, members] of clouds) {
      const rules: FirewallRule[] = [];
      for (const [port, e] of wanted.get(component) ?? []) {
        const n = input.portOf(component, port);
        if (n === undefined || e.sources.size === 0) continue;
        rules.push({ protocol: 'tcp', port: n, sources: [...e.sources].sort(), needs: [...e.needs].sort() });
      }
      rules.sort((a, b) => a.port - b.port);
      members.sort((a, b) => a.key.localeCompare(b.key));
      out.push({ deployment: input.deployment, component, cloud, name: firewallName(input.deployment, component), rules, members, tags: input.tags });
    }
  }
  return out.sort((a, b) => a.cloud.localeCompare(b.cloud) || a.component.localeCompare(b.component));
}

/** What a set's cloud object must hold: changes exactly when its rules or members change. */
export function firewallHash(s: FirewallSet): string {
  return JSON.stringify([s.rules.map((r) => [r.port, r.sources]), s.members.map((m) => [m.id, m.address])]);
}
