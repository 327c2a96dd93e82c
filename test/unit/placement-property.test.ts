/**
 * Property tests of the placement policies (src/policy/placement) on random hosts and batches
 * (seeded mulberry32, the same cases every run): packing never exceeds a host's capacity and
 * fills a host before it opens the next, striping keeps node counts within one of each other
 * among hosts with room, anti-affinity never puts two instances of a component on one host and
 * fails clearly exactly when it cannot hold; load-aware and custom ranks order as declared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrng } from '../../src/drivers/sim/index.js';
import { compileRank, placeNodes, rankProblem, DEFAULT_LOAD_QUERY, type PlacementHost, type PlacementPolicy, type PlacementRequest } from '../../src/policy/index.js';
import { isNubisError } from '../../src/errors/index.js';

const policy = (p: PlacementPolicy['policy'], extra: Partial<PlacementPolicy> = {}): PlacementPolicy => ({ policy: p, antiAffinity: false, loadQuery: DEFAULT_LOAD_QUERY, ...extra });

type R = ReturnType<typeof createPrng>;
const int = (r: R, lo: number, hi: number): number => lo + Math.floor(r.next() * (hi - lo + 1));

function randomHosts(r: R, uniform: boolean): PlacementHost[] {
  const n = int(r, 1, 12);
  const nodes = int(r, 1, 6);
  return Array.from({ length: n }, (_, i) => {
    const cap = uniform ? nodes : int(r, 1, 6);
    const cores = r.next() < 0.5 ? undefined : int(r, 2, 16);
    return { name: `h${i}`, capacity: { nodes: cap, ...(cores !== undefined ? { cores } : {}) }, used: { nodes: 0, cores: 0, memoryMiB: 0 }, groups: new Map(), attributes: { rack: `r${i % 3}` } };
  });
}

function randomRequests(r: R, n: number, components: number): PlacementRequest[] {
  return Array.from({ length: n }, (_, i) => {
    const c = `d/c${int(r, 0, components - 1)}`;
    return { key: `d/n-${i}`, group: c, instance: `${c.slice(2)}-${i}`, cores: int(r, 1, 3), memoryMiB: 0 };
  });
}

/** Places as many as fit: the longest prefix of `requests` the hosts hold (packing fails at the first that does not fit). */
function placeWhatFits(hosts: PlacementHost[], requests: PlacementRequest[], p: PlacementPolicy) {
  for (let k = requests.length; k >= 0; k--) {
    try {
      return { placed: placeNodes(hosts, requests.slice(0, k), p), k };
    } catch (e) {
      assert.ok(isNubisError(e) && (e.code === 'PLACEMENT_HOST_FULL' || e.code === 'PLACEMENT_ANTI_AFFINITY'), String(e));
    }
  }
  throw new Error('unreachable');
}

test('packing never exceeds a host\'s capacity in nodes or cores, and fills a host before opening the next (300 seeded cases)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = createPrng(seed);
    const hosts = randomHosts(r, false);
    const reqs = randomRequests(r, int(r, 1, 40), 3).map((q) => ({ ...q, cores: 1 }));
    const { placed } = placeWhatFits(hosts, reqs, policy('packing'));
    const count = new Map<string, number>();
    const cores = new Map<string, number>();
    for (const [i, d] of placed.entries()) {
      count.set(d.host, (count.get(d.host) ?? 0) + 1);
      cores.set(d.host, (cores.get(d.host) ?? 0) + reqs[i]!.cores);
      // fill before the next: no node goes to an empty host while a used one has room
      assert.match(d.reason, /^packing: /);
    }
    for (const h of hosts) {
      assert.ok((count.get(h.name) ?? 0) <= h.capacity.nodes, `seed ${seed}: ${h.name} holds ${count.get(h.name)} > ${h.capacity.nodes}`);
      if (h.capacity.cores !== undefined) assert.ok((cores.get(h.name) ?? 0) <= h.capacity.cores, `seed ${seed}: ${h.name} cores over capacity`);
    }
    // with one core per node the hosts in use are a prefix of the host list whose all but the last are full
    const used = hosts.filter((h) => count.has(h.name));
    const lastUsed = hosts.indexOf(used[used.length - 1]!);
    for (let i = 0; i < lastUsed; i++) {
      const h = hosts[i]!;
      const full = (count.get(h.name) ?? 0) === h.capacity.nodes || (h.capacity.cores !== undefined && (cores.get(h.name) ?? 0) + 1 > h.capacity.cores);
      assert.ok(full, `seed ${seed}: packing opened ${hosts[lastUsed]!.name} while ${h.name} had room`);
    }
  }
});

test('striping balances within one node among hosts with room (300 seeded cases)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = createPrng(1000 + seed);
    const hosts = randomHosts(r, r.next() < 0.5).map((h) => ({ ...h, capacity: { nodes: h.capacity.nodes } }));
    const reqs = randomRequests(r, int(r, 1, 50), 2);
    const { placed } = placeWhatFits(hosts, reqs, policy('striping'));
    const count = new Map(hosts.map((h) => [h.name, 0]));
    for (const d of placed) count.set(d.host, count.get(d.host)! + 1);
    for (const a of hosts) {
      for (const b of hosts) {
        const ca = count.get(a.name)!;
        const cb = count.get(b.name)!;
        // a host more than one above another means the other is full
        if (ca > cb + 1) assert.equal(cb, b.capacity.nodes, `seed ${seed}: ${a.name} has ${ca}, ${b.name} has ${cb} and room`);
      }
      assert.ok(count.get(a.name)! <= a.capacity.nodes);
    }
  }
});

test('anti-affinity never puts two instances of a component on one host, and fails with PLACEMENT_ANTI_AFFINITY exactly when hosts run out (300 seeded cases)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = createPrng(2000 + seed);
    const hosts = randomHosts(r, false).map((h) => ({ ...h, capacity: { nodes: h.capacity.nodes } }));
    const kinds = ['packing', 'striping', 'load-aware', 'custom'] as const;
    const p = policy(kinds[int(r, 0, 3)]!, { antiAffinity: true });
    if (p.policy === 'custom') p.rank = 'free_nodes';
    const loaded = hosts.map((h) => ({ ...h, load: r.next() * 100 }));
    const reqs = randomRequests(r, int(r, 1, 20), 2);
    let placed;
    try {
      placed = placeNodes(loaded, reqs, p);
    } catch (e) {
      assert.ok(isNubisError(e), String(e));
      // without capacity pressure it fails exactly when a component has more instances than there are hosts
      const perGroup = new Map<string, number>();
      for (const q of reqs) perGroup.set(q.group, (perGroup.get(q.group) ?? 0) + 1);
      const pressure = hosts.some((h) => h.capacity.nodes < reqs.length);
      const tooMany = [...perGroup.values()].some((n) => n > hosts.length);
      if (!pressure) assert.ok(tooMany && e.code === 'PLACEMENT_ANTI_AFFINITY', `seed ${seed}: failed (${e.code}) though ${hosts.length} roomy hosts hold every component`);
      if (e.code === 'PLACEMENT_ANTI_AFFINITY') assert.match(e.message, /cannot be placed with anti-affinity/);
      continue;
    }
    const seen = new Set<string>();
    for (const [i, d] of placed.entries()) {
      const k = `${reqs[i]!.group}@${d.host}`;
      assert.ok(!seen.has(k), `seed ${seed}: two of ${reqs[i]!.group} on ${d.host}`);
      seen.add(k);
    }
  }
});

test('anti-affinity with more instances than hosts: a clear error naming the hosts, and nothing placed', () => {
  const hosts: PlacementHost[] = ['a', 'b'].map((name) => ({ name, capacity: { nodes: 10 }, used: { nodes: 0, cores: 0, memoryMiB: 0 }, groups: new Map(), attributes: {} }));
  const reqs = [1, 2, 3].map((i) => ({ key: `d/db-${i}`, group: 'd/db', instance: `db-${i}`, cores: 1, memoryMiB: 0 }));
  assert.throws(() => placeNodes(hosts, reqs, policy('packing', { antiAffinity: true })), (e: unknown) => {
    assert.ok(isNubisError(e));
    assert.equal(e.code, 'PLACEMENT_ANTI_AFFINITY');
    assert.match(e.message, /db-3 cannot be placed with anti-affinity: every host with room already holds an instance of d\/db \(a \(db-1\), b \(db-2\)\); 2 hosts/);
    return true;
  });
});

test('load-aware takes the least loaded first, spreads a batch by each node\'s share, and puts hosts without a sample last', () => {
  const h = (name: string, load: number | undefined, cores = 4): PlacementHost => ({ name, capacity: { nodes: 10, cores }, used: { nodes: 0, cores: 0, memoryMiB: 0 }, groups: new Map(), ...(load !== undefined ? { load } : {}), attributes: {} });
  const hosts = [h('busy', 80), h('quiet', 10), h('unknown', undefined), h('mid', 40)];
  const reqs = [1, 2, 3, 4].map((i) => ({ key: `d/w-${i}`, group: 'd/w', instance: `w-${i}`, cores: 1, memoryMiB: 0 }));
  const out = placeNodes(hosts, reqs, policy('load-aware'));
  // quiet 10 → 35 → mid 40 → quiet 35 → 60 …
  assert.deepEqual(out.map((d) => d.host), ['quiet', 'quiet', 'mid', 'quiet']);
  assert.match(out[0]!.reason, /^load-aware: quiet \(cpu 10 %, the least loaded of 4 with room\)/);
});

test('custom rank: highest first over host attributes; a host lacking an attribute ranks last; bad expressions are refused with a column', () => {
  const hosts: PlacementHost[] = [
    { name: 'x', capacity: { nodes: 5, cores: 8 }, used: { nodes: 2, cores: 2, memoryMiB: 0 }, groups: new Map(), attributes: { rack: 'r1' } },
    { name: 'y', capacity: { nodes: 5, cores: 4 }, used: { nodes: 0, cores: 0, memoryMiB: 0 }, groups: new Map(), attributes: { rack: 'r2' } },
    { name: 'z', capacity: { nodes: 5, cores: 16 }, used: { nodes: 0, cores: 0, memoryMiB: 0 }, groups: new Map(), attributes: {} },
  ];
  const one = [{ key: 'd/a-1', group: 'd/a', instance: 'a-1', cores: 1, memoryMiB: 0 }];
  assert.equal(placeNodes(hosts, one, policy('custom', { rank: 'free_cores' }))[0]!.host, 'z');
  assert.equal(placeNodes(hosts, one, policy('custom', { rank: "rack == 'r2' ? 100 : free_cores" }))[0]!.host, 'y');
  assert.equal(placeNodes(hosts, one, policy('custom', { rank: 'max(rack_weight, 0)' }))[0]!.host, 'x', 'NaN everywhere: the first host');
  assert.match(placeNodes(hosts, one, policy('custom', { rank: '-nodes * 2 + free_cores / 4' }))[0]!.reason, /^custom: z \(rank 4 of "-nodes \* 2 \+ free_cores \/ 4", the highest of 3 with room\)/);
  assert.equal(compileRank('1 + 2 * 3 - (4 % 3) >= 6 && !0')(() => undefined), 1);
  assert.deepEqual(rankProblem('free_cores * '), { col: 14, message: 'rank expression at column 14: expected a value at the end of the expression' });
  assert.equal(rankProblem('process.exit(1)')?.col, 8);
  assert.equal(rankProblem('eval("x")')?.col, 1);
  assert.equal(rankProblem(`${'('.repeat(60)}1${')'.repeat(60)}`)?.message.includes('levels of nesting'), true);
});
