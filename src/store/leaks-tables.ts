/** Tables of the leak guard, cost and budgets (migration 0028; issue 11 items 5 and 6). */

/** A resource the leak guard judged a leak (src/engine/leaks.ts). */
export interface LeakTable {
  /** The cloud handle that listed it (one account). */
  cloud_key: string;
  /** volume | snapshot | floating-ip | port | security-group | vlan | image | node */
  kind: string;
  /** The provider's id. */
  id: string;
  /** Whose it is: its tenant tag, else the tenant of the cloud handle. */
  tenant: string;
  /** The cloud's name as that tenant knows it. */
  cloud: string;
  deployment: string | null;
  key: string | null;
  /** open | deleted | gone */
  status: string;
  reason: string;
  /** The resource as listed (tags, size, attachment, price) as JSON. */
  data_json: string;
  first_seen: number;
  last_seen: number;
  /** When it was deleted or seen gone. */
  ended_at: number | null;
}

/** A leak policy of a tenant for one cloud, or `*` for all its clouds. */
export interface LeakPolicyTable {
  tenant: string;
  cloud: string;
  /** LeakPolicy (src/engine/leaks.ts) as JSON. */
  policy_json: string;
  updated_at: number;
}

/** One running interval of a node, with the price it ran at (micro-currency units per hour). */
export interface NodeUsageTable {
  key: string;
  started_at: number;
  /** Null while it runs. */
  ended_at: number | null;
  tenant: string;
  deployment: string;
  cloud: string;
  offer: string | null;
  /** Null: no known price (counts as 0, reported as unpriced). */
  price_micros: number | null;
}

/** A monthly budget of a tenant (deployment '') or of one deployment (its id). */
export interface BudgetTable {
  tenant: string;
  deployment: string;
  /** Budget (src/engine/cost.ts) as JSON. */
  budget_json: string;
  updated_at: number;
}

/** The highest threshold (percent) a budget warned of in a month (`YYYY-MM`, UTC). */
export interface BudgetMarkTable {
  tenant: string;
  deployment: string;
  month: string;
  level: number;
}
