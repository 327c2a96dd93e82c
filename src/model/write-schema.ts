/**
 * `npm run schema`: writes schema/spec.schema.json from the TypeBox spec and every platform's
 * options schema (run from dist/src/model). A script, not part of the model module: it is the
 * one place that joins the model's schema with the drivers' option schemas for the file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { platformOptionsJsonSchemas } from '../drivers/index.js';
import { specJsonSchemaText } from './json-schema.js';

const target = new URL('../../../schema/spec.schema.json', import.meta.url);
mkdirSync(new URL('.', target), { recursive: true });
writeFileSync(target, specJsonSchemaText(platformOptionsJsonSchemas()));
console.log(`wrote ${fileURLToPath(target)}`);
