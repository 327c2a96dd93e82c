/**
 * Reads a spec file and every artefact it names into a SpecInput. The YAML is parsed only
 * far enough to find `components.*.artefacts`; everything else is the server's to validate
 * (so a spec that does not parse is sent as is and comes back with precise problems).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { SpecInput } from '../engine/views.js';
import { CliError, EXIT } from './errors.js';

function artefactPaths(doc: unknown): { component: string; path: string }[] {
  const components = (doc as { components?: unknown } | null)?.components;
  const out: { component: string; path: string }[] = [];
  for (const [name, c] of Object.entries(components && typeof components === 'object' ? (components as Record<string, unknown>) : {})) {
    const list = (c as { artefacts?: unknown } | null)?.artefacts;
    if (!Array.isArray(list)) continue;
    for (const p of list) if (typeof p === 'string' && p !== '') out.push({ component: name, path: p });
  }
  // a node template's `cloudInit: { file }` travels the same way
  const templates = (doc as { nodeTemplates?: unknown } | null | undefined)?.nodeTemplates;
  for (const [name, t] of Object.entries(templates && typeof templates === 'object' ? (templates as Record<string, unknown>) : {})) {
    const f = ((t as { cloudInit?: unknown } | null)?.cloudInit as { file?: unknown } | null | undefined)?.file;
    if (typeof f === 'string' && f !== '') out.push({ component: `node template ${name}`, path: f });
  }
  return out;
}

function walk(dir: string, rel: string, into: Record<string, string>): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const abs = path.join(dir, entry.name);
    const key = `${rel}/${entry.name}`;
    if (entry.isDirectory()) walk(abs, key, into);
    else if (entry.isFile()) into[key] = fs.readFileSync(abs).toString('base64');
  }
}

/** Reads `file` and its artefacts (relative to its folder). Missing files are exit 2. */
export function readSpecInput(file: string, cwd: string): SpecInput {
  const abs = path.resolve(cwd, file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'USAGE', `cannot read spec file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    doc = undefined;
  }
  const base = path.dirname(abs);
  const artefacts: Record<string, string> = {};
  for (const a of artefactPaths(doc)) {
    // Absolute and `..` paths are the server's to reject, with the spec position.
    if (/^([\\/]|[A-Za-z]:)/.test(a.path) || a.path.split(/[\\/]/).includes('..')) continue;
    const key = path.posix.normalize(a.path.replace(/\\/g, '/')).replace(/\/+$/, '');
    const target = path.resolve(base, a.path);
    let st: fs.Stats;
    try {
      st = fs.statSync(target);
    } catch {
      throw new CliError(EXIT.INVALID, 'USAGE', `${file}: artefact ${JSON.stringify(a.path)} of ${a.component.startsWith('node template ') ? a.component : `component ${a.component}`} does not exist (looked at ${target})`);
    }
    if (st.isDirectory()) walk(target, key, artefacts);
    else artefacts[key] = fs.readFileSync(target).toString('base64');
  }
  const input: SpecInput = { spec: text, file };
  if (Object.keys(artefacts).length > 0) input.artefacts = artefacts;
  return input;
}
