/**
 * Roles per tenant: what a caller may do there. Each route declares the least role it needs;
 * the API's router checks it (src/api/access-control.ts), nowhere else.
 * - viewer: read only;
 * - operator: also apply, scale, destroy, workflows, backups, custom operations, alerts' acks, orders;
 * - admin: also the tenant's clouds, credentials, registries and alert channels; the admin of
 *   tenant `default` administers the installation (users, tokens for any tenant, the catalog).
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** Whether `have` is at least `need`. */
export function roleAtLeast(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** The lesser of two roles (a personal token never outranks its user). */
export function lesserRole(a: Role, b: Role): Role {
  return RANK[a] <= RANK[b] ? a : b;
}

/** A stored role; a value no migration wrote is read as viewer (the least), never as more. */
export function parseRole(v: string): Role {
  return isRole(v) ? v : 'viewer';
}
