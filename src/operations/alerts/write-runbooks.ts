/** Writes docs/runbooks.md from the explanation tables: `node dist/src/operations/alerts/write-runbooks.js`. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runbooksMarkdown } from './explain.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
fs.writeFileSync(path.join(root, 'docs', 'runbooks.md'), runbooksMarkdown());
