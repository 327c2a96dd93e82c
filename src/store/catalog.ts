/** The service catalog's templates and orders (migration 0031; src/catalog). */
import type { Kysely, Selectable } from 'kysely';
import type { Database } from './schema.js';
import type { CatalogOrderTable, CatalogTemplateTable } from './users-tables.js';

export type CatalogTemplateRow = Selectable<CatalogTemplateTable>;
export type CatalogOrderRow = Selectable<CatalogOrderTable>;

export interface CatalogRepo {
  template(name: string): Promise<CatalogTemplateRow | undefined>;
  templates(): Promise<CatalogTemplateRow[]>;
  putTemplate(row: CatalogTemplateRow): Promise<void>;
  /** False when there was no such template. */
  deleteTemplate(name: string): Promise<boolean>;
  addOrder(row: CatalogOrderRow): Promise<void>;
  /** A tenant's orders, newest first. */
  orders(tenant: string, limit?: number): Promise<CatalogOrderRow[]>;
}

export function createCatalogRepo(db: Kysely<Database>): CatalogRepo {
  return {
    template: (name) => db.selectFrom('catalog_templates').selectAll().where('name', '=', name).executeTakeFirst(),
    templates: () => db.selectFrom('catalog_templates').selectAll().orderBy('name').execute(),
    async putTemplate(row) {
      await db.insertInto('catalog_templates').values(row).onConflict((oc) => oc.column('name').doUpdateSet({
        version: row.version, description: row.description, spec_text: row.spec_text, parameters_json: row.parameters_json,
        tenants_json: row.tenants_json, published_by: row.published_by, published_at: row.published_at,
      })).execute();
    },
    async deleteTemplate(name) {
      return Number((await db.deleteFrom('catalog_templates').where('name', '=', name).executeTakeFirst()).numDeletedRows) > 0;
    },
    async addOrder(row) {
      await db.insertInto('catalog_orders').values(row).execute();
    },
    orders: (tenant, limit = 1000) => db.selectFrom('catalog_orders').selectAll().where('tenant', '=', tenant).orderBy('created_at', 'desc').limit(limit).execute(),
  };
}
