
/** The published JSON Schema for specs, derived from the TypeBox `Spec` (never edited by hand). */
import { Spec, NAME_PATTERN, PLATFORMS, type Platform } from './schema.js';

export const SPEC_SCHEMA_ID = 'https://nubis.dev/schema/spec.json';

/** JSON Schema of each platform's `options` (the drivers declare them: drivers/options.ts). */
export type PlatformOptionSchemas = Partial<Record<Platform, Record<string, unknown>>>;

/** The `$defs` name of a platform's options schema. */
export const platformOptionsDef = (p: Platform): string => `${p}Options`;

/**
 * A fresh plain JSON object: draft 2020-12, `$id` {@link SPEC_SCHEMA_ID}, no TypeBox symbols.
 * With `platformOptions`, a cloud's `options` are typed by its `platform` (`$defs.<p>Options`,
 * chosen by if/then on `platform`), so editors complete them; the model itself stays free of
 * driver knowledge (the drivers declare the schemas, the composition root passes them).
 */
export function specJsonSchema(platformOptions?: PlatformOptionSchemas): Record<string, unknown> {
  const body = JSON.parse(JSON.stringify(Spec)) as Record<string, any>;
  const defs: Record<string, unknown> = {};
  if (platformOptions) {
    const cloud = body['properties']['clouds']['patternProperties'][NAME_PATTERN] as Record<string, unknown>;
    const branches: unknown[] = [];
    for (const p of PLATFORMS) {
      const schema = platformOptions[p];
      if (!schema) continue;
      defs[platformOptionsDef(p)] = schema;
      branches.push({
        if: { properties: { platform: { const: p } }, required: ['platform'] },
        then: { properties: { options: { $ref: `#/$defs/${platformOptionsDef(p)}` } } },
      });
    }
    if (branches.length) cloud['allOf'] = branches;
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SPEC_SCHEMA_ID,
    title: 'Nubis application spec',
    ...body,
    ...(Object.keys(defs).length ? { $defs: defs } : {}),
  };
}

/** The file text of `schema/spec.schema.json`: two-space JSON and a final newline. */
export function specJsonSchemaText(platformOptions?: PlatformOptionSchemas): string {
  return `${JSON.stringify(specJsonSchema(platformOptions), null, 2)}\n`;
}
