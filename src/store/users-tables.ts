/** The tables of users, roles, browser sessions and the service catalog (migration 0031; src/users, src/catalog). */

/** A person who logs in with a password. Names are installation-wide; roles are per tenant. */
export interface UserTable {
  name: string;
  /** The scrypt hash with its salt and parameters as JSON (src/users/passwords.ts); never the password. */
  password_json: string;
  created_at: number;
  updated_at: number;
}

/** A user's role in one tenant: admin | operator | viewer. */
export interface UserRoleTable {
  user_name: string;
  tenant: string;
  role: string;
}

/** A browser session: only the sha256 of the cookie value is stored. */
export interface SessionTable {
  hash: string;
  user_name: string;
  tenant: string;
  created_at: number;
  seen_at: number;
}

/** A published application template (the catalog's shelf, kept by the installation administrator). */
export interface CatalogTemplateTable {
  name: string;
  version: number;
  description: string;
  /** The spec's YAML with `${params.x}` references. */
  spec_text: string;
  /** The JSON Schema of the parameters. */
  parameters_json: string;
  /** JSON array of the tenants it is offered to; null: every tenant. */
  tenants_json: string | null;
  published_by: string;
  published_at: number;
}

/** One order of a template: which version, which deployment it made, with which values (write-only ones as "***"). */
export interface CatalogOrderTable {
  id: string;
  tenant: string;
  template: string;
  version: number;
  /** The deployment id it created. */
  deployment: string;
  params_json: string;
  actor: string;
  created_at: number;
}
