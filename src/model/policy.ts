/**
 * Semantic checks and normalisation of `nodeTemplates.*.placement` and `firewall` (schemas in
 * ./policy-schema.ts): a custom policy needs a rank that compiles (its column is reported), a
 * rank only with custom; `firewall.open` names components and ports they provide.
 */
import { DEFAULT_LOAD_QUERY, rankProblem, type PlacementPolicy } from '../policy/index.js';
import type { FirewallDoc, PlacementDoc } from './policy-schema.js';

type Seg = string | number;
type Rec = Record<string, unknown>;
export interface PolicyProblem {
  path: Seg[];
  expected: string;
  found: string;
}

const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});

/** A deployment's firewall, normalised. */
export interface FirewallSpec {
  enabled: boolean;
  open: Record<string, Record<string, string[]>>;
}

/** Problems of the placements of every template and of the firewall section. */
export function policyProblems(top: Rec): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const [tname, t] of Object.entries(rec(top['nodeTemplates']))) {
    const p = rec(t)['placement'];
    if (p === undefined) continue;
    const path: Seg[] = ['nodeTemplates', tname, 'placement'];
    const policy = rec(p)['policy'];
    const rank = rec(p)['rank'];
    if (policy === 'custom' && rank === undefined) out.push({ path: [...path, 'rank'], expected: 'a rank expression (policy custom)', found: 'nothing' });
    if (policy !== 'custom' && typeof policy === 'string' && rank !== undefined) out.push({ path: [...path, 'rank'], expected: 'no rank (only policy custom has one)', found: `a rank with policy ${policy}` });
    if (typeof rank === 'string') {
      const problem = rankProblem(rank);
      if (problem) out.push({ path: [...path, 'rank'], expected: `a valid rank expression (${problem.message})`, found: JSON.stringify(rank) });
    }
    if (rec(p)['loadQuery'] !== undefined && policy !== 'load-aware') out.push({ path: [...path, 'loadQuery'], expected: 'no loadQuery (only policy load-aware has one)', found: `a loadQuery with policy ${String(policy)}` });
  }
  const components = rec(top['components']);
  for (const [cname, ports] of Object.entries(rec(rec(top['firewall'])['open']))) {
    const path: Seg[] = ['firewall', 'open', cname];
    if (!Object.hasOwn(components, cname)) {
      out.push({ path, expected: `name of a component (${Object.keys(components).join(', ') || 'none defined'})`, found: `unknown component ${JSON.stringify(cname)}` });
      continue;
    }
    const provided = rec(rec(components[cname])['provides']);
    for (const port of Object.keys(rec(ports))) {
      if (!Object.hasOwn(provided, port)) out.push({ path: [...path, port], expected: `a port that ${cname} provides (${Object.keys(provided).join(', ') || 'none'})`, found: `unknown port ${JSON.stringify(port)}` });
    }
  }
  return out;
}

export function normalisePlacement(p: PlacementDoc): PlacementPolicy {
  return {
    policy: p.policy,
    ...(p.rank !== undefined ? { rank: p.rank } : {}),
    antiAffinity: p.antiAffinity ?? false,
    loadQuery: p.loadQuery ?? DEFAULT_LOAD_QUERY,
  };
}

export function normaliseFirewall(f: FirewallDoc): FirewallSpec {
  const open: Record<string, Record<string, string[]>> = {};
  for (const [c, ports] of Object.entries(f.open ?? {})) open[c] = Object.fromEntries(Object.entries(ports).map(([p, s]) => [p, [...s]]));
  return { enabled: f.enabled ?? true, open };
}
