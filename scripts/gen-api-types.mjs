// Writes src/web/api-types.ts from the server's OpenAPI document (run after the server build:
// `npm run gen:api-types`). test/unit/web-api-types.test.ts checks the file is up to date.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { offlineOpenApi, openApiToTypeScript } from '../dist/src/api/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = join(root, 'src/web/api-types.ts');
writeFileSync(file, openApiToTypeScript(offlineOpenApi()));
console.log(`wrote ${file}`);
