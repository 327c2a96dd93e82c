// Import boundaries and cycles in src/ (run by `npm run lint`):
// - a module (a folder directly under src/) imports another only through that module's
//   index.ts (`../store/index.js`), never a file inside it;
// - no cycle of runtime imports between files (type-only imports and dynamic import() are
//   not evaluated at load, so they do not count).
// Violations already present are listed in scripts/import-baseline.json; only new ones fail.
// `node scripts/check-imports.mjs --update` rewrites the baseline from the current tree.
import { readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
const BASELINE = join(ROOT, 'scripts/import-baseline.json');

const files = [];
const walk = (d) => {
  for (const f of readdirSync(d).sort()) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
  }
};
walk(SRC);

const rel = (p) => relative(ROOT, p).split(sep).join('/');
const moduleOf = (p) => relative(SRC, p).split(sep)[0];

/** Relative imports of a file: { target (absolute .ts path), typeOnly, dynamic }. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out = [];
  const add = (spec, typeOnly, dynamic) => {
    if (!spec.startsWith('.')) return;
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    out.push({ target, typeOnly, dynamic });
  };
  for (const m of text.matchAll(/(?:^|[\n;])\s*(import|export)\s+(type\s+)?([\s\S]*?)\s*from\s*['"]([^'"]+)['"]/g)) {
    // `import { type A, type B }` is type-only too
    const names = m[3];
    const allTypes = /^\{[\s\S]*\}$/.test(names.trim()) && names.replace(/[{}\s]/g, '').split(',').filter(Boolean).every((n) => n.startsWith('type'));
    add(m[4], m[2] !== undefined || allTypes, false);
  }
  for (const m of text.matchAll(/(?:^|[\n;])\s*import\s+['"]([^'"]+)['"]/g)) add(m[1], false, false);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1], false, true);
  return out;
}

const graph = new Map();
const boundary = [];
for (const f of files) {
  const imps = importsOf(f);
  graph.set(f, imps.filter((i) => !i.typeOnly && !i.dynamic && existsSync(i.target)).map((i) => i.target));
  for (const i of imps) {
    if (!i.target.startsWith(SRC + sep)) continue;
    const from = moduleOf(f);
    const to = moduleOf(i.target);
    if (from === to || relative(SRC, i.target).split(sep).length === 1) continue;
    if (i.target !== join(SRC, to, 'index.ts')) boundary.push(`${rel(f)} -> ${rel(i.target)}`);
  }
}

// Tarjan's strongly connected components over runtime imports
const cycles = [];
{
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(rel(w));
      } while (w !== v);
      if (comp.length > 1) cycles.push(comp.sort().join(' <-> '));
    }
  };
  for (const f of files) if (!idx.has(f)) strong(f);
}

const found = { boundary: [...new Set(boundary)].sort(), cycles: cycles.sort() };
if (process.argv.includes('--update')) {
  writeFileSync(BASELINE, JSON.stringify(found, null, 2) + '\n');
  console.log(`baseline: ${found.boundary.length} boundary crossings, ${found.cycles.length} cycles`);
  process.exit(0);
}
const base = existsSync(BASELINE) ? JSON.parse(readFileSync(BASELINE, 'utf8')) : { boundary: [], cycles: [] };
const fresh = {
  boundary: found.boundary.filter((b) => !base.boundary.includes(b)),
  cycles: found.cycles.filter((c) => !base.cycles.includes(c)),
};
for (const b of fresh.boundary) console.error(`import boundary: ${b} (import the module's index.ts)`);
for (const c of fresh.cycles) console.error(`import cycle: ${c}`);
const gone = base.boundary.filter((b) => !found.boundary.includes(b)).length + base.cycles.filter((c) => !found.cycles.includes(c)).length;
if (gone > 0) console.log(`${gone} baseline entr${gone === 1 ? 'y is' : 'ies are'} fixed; run node scripts/check-imports.mjs --update to drop them`);
const n = fresh.boundary.length + fresh.cycles.length;
console.log(`imports: ${files.length} files, ${found.boundary.length} boundary crossings and ${found.cycles.length} cycles (${n} new)`);
process.exit(n > 0 ? 1 : 0);
