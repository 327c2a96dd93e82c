/** `npm run schema`: writes schema/spec.schema.json from the TypeBox spec (run from dist/src/model). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { specJsonSchemaText } from './json-schema.js';

const target = new URL('../../../schema/spec.schema.json', import.meta.url);
mkdirSync(new URL('.', target), { recursive: true });
writeFileSync(target, specJsonSchemaText());
console.log(`wrote ${fileURLToPath(target)}`);
