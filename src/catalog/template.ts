/**
 * Templates: an application spec (YAML) whose scalar values may reference parameters as
 * `${params.name}`. Substitution works on the parsed YAML, never on the text, so a value can
 * never change the spec's structure:
 * - a scalar that is exactly `${params.x}` becomes the value with its type (an integer stays
 *   an integer: `count: ${params.replicas}`);
 * - a reference inside a longer string is replaced by the value's text (`"site-${params.site}"`);
 * - `$${params.x}` is the literal text `${params.x}`; other `${…}` (shell variables) are left alone;
 * - keys are never substituted; the spec's `name` is the order's deployment name.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { NubisError } from '../errors/index.js';
import type { ParametersSchema, ParamValues } from './params.js';

const REF = /\$(\$?)\{params\.([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE = /^\$\{params\.([A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface Reference {
  name: string;
  /** JSON path of the scalar, as segments. */
  path: (string | number)[];
}

function parse(text: string, file: string): Document {
  const doc = parseDocument(text, { prettyErrors: true, logLevel: 'error', uniqueKeys: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const [line, col] = [e.linePos?.[0]?.line ?? 1, e.linePos?.[0]?.col ?? 1];
    throw new NubisError('SPEC_INVALID', `${file}:${line}:${col}: $.spec: invalid YAML (${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')})`, {
      details: { problems: [`${file}:${line}:${col}: invalid YAML`] },
    });
  }
  if (!isMap(doc.contents)) throw new NubisError('SPEC_INVALID', `${file}: $.spec: expected a mapping (an application spec)`);
  return doc;
}

/** Visits every value scalar with its JSON path (keys and aliases are not visited). */
function walk(node: Node | null | undefined, path: (string | number)[], fn: (s: import('yaml').Scalar, path: (string | number)[]) => void, budget = { n: 100_000 }): void {
  if (node == null || --budget.n < 0 || isAlias(node)) return;
  if (isScalar(node)) fn(node, path);
  else if (isMap(node)) {
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const k = isScalar(item.key) ? String(item.key.value) : '?';
      walk(item.value as Node | null, [...path, k], fn, budget);
    }
  } else if (isSeq(node)) node.items.forEach((it, i) => walk(it as Node, [...path, i], fn, budget));
}

/** Every `${params.x}` reference of the template with where it is. SPEC_INVALID when the YAML does not parse. */
export function templateReferences(text: string, file: string): Reference[] {
  const out: Reference[] = [];
  walk(parse(text, file).contents as Node, [], (s, path) => {
    if (typeof s.value !== 'string') return;
    for (const m of s.value.matchAll(REF)) if (m[1] === '') out.push({ name: m[2]!, path });
  });
  return out;
}

function jsonPath(path: (string | number)[]): string {
  return '$' + path.map((p) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join('');
}

/**
 * Publish-time checks of the references: each names a declared parameter, and a write-only
 * (secret) one appears only as a component's secret env value (`env: { X: { secret: "${params.p}" } }`),
 * so it is sealed and never shown. REQUEST_INVALID listing each problem with its JSON path.
 */
export function checkReferences(text: string, file: string, schema: ParametersSchema): void {
  const problems: string[] = [];
  for (const r of templateReferences(text, file)) {
    const p = schema.properties[r.name];
    const where = `$.spec${jsonPath(r.path).slice(1)}`;
    if (!p) problems.push(`${where}: \${params.${r.name}} names no declared parameter (declared: ${Object.keys(schema.properties).join(', ') || 'none'})`);
    else if (p.default === undefined && !(schema.required ?? []).includes(r.name)) {
      problems.push(`${where}: \${params.${r.name}} is neither required nor has a default, so an order could leave it without a value`);
    } else if (p.writeOnly) {
      const n = r.path.length;
      if (!(n >= 5 && r.path[0] === 'components' && r.path[n - 3] === 'env' && r.path[n - 1] === 'secret')) {
        problems.push(`${where}: the write-only parameter ${r.name} may only be a secret env value (env: { NAME: { secret: "\${params.${r.name}}" } })`);
      }
    }
  }
  if (problems.length > 0) throw new NubisError('REQUEST_INVALID', `the template's references are invalid: ${problems.join('; ')}`, { details: { problems } });
}

/** The spec text of an order: the template with the values substituted and `name` set to the deployment. */
export function renderTemplate(text: string, file: string, values: ParamValues, deployment: string): string {
  const doc = parse(text, file);
  walk(doc.contents as Node, [], (s) => {
    if (typeof s.value !== 'string' || !s.value.includes('${')) return;
    const whole = WHOLE.exec(s.value);
    if (whole && values[whole[1]!] !== undefined) {
      const v = values[whole[1]!]!;
      s.value = v;
      if (typeof v !== 'string') s.type = 'PLAIN';
      else if (s.type === 'PLAIN') s.type = 'QUOTE_DOUBLE';
      return;
    }
    s.value = s.value.replace(REF, (all: string, escape: string, name: string) => (escape === '$' ? all.slice(1) : values[name] !== undefined ? String(values[name]) : all));
    if (s.type === 'PLAIN') s.type = 'QUOTE_DOUBLE';
  });
  doc.set('name', deployment);
  return doc.toString({ lineWidth: 0 });
}
