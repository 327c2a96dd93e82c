/** The published JSON Schema for specs, derived from the TypeBox `Spec` (never edited by hand). */
import { Spec } from './schema.js';

export const SPEC_SCHEMA_ID = 'https://nubis.dev/schema/spec.json';

/** A fresh plain JSON object: draft 2020-12, `$id` {@link SPEC_SCHEMA_ID}, no TypeBox symbols. */
export function specJsonSchema(): Record<string, unknown> {
  const body = JSON.parse(JSON.stringify(Spec)) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SPEC_SCHEMA_ID,
    title: 'Nubis application spec',
    ...body,
  };
}

/** The file text of `schema/spec.schema.json`: two-space JSON and a final newline. */
export function specJsonSchemaText(): string {
  return `${JSON.stringify(specJsonSchema(), null, 2)}\n`;
}
