/**
 * What the ssh driver ships to a host: the compiled agent program and every compiled module it
 * imports, found by following the relative `import … from './x.js'` specifiers of the emitted
 * JavaScript from `dist/src/agent/main.js`. The files keep their paths relative to `dist/src`
 * (so `agent/main.js` imports `../errors/index.js` as on this machine), plus a `package.json`
 * marking them as ES modules. The agent imports only Node built-ins besides its own modules; a
 * bare import of a package would need node_modules on the host, so it is refused here with
 * CLOUD_INTERNAL (a build problem, not a host problem).
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { agentProgramPath } from '../../agent/index.js';
import { NubisError } from '../../errors/index.js';

export interface BundleFile {
  /** Absolute path on this machine. */
  local: string;
  /** Path relative to the bundle root (`agent/main.js`). */
  path: string;
}

export interface AgentBundle {
  files: BundleFile[];
  /** The agent program, relative to the bundle root. */
  main: string;
}

const IMPORT_RE = /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The closure of the agent program. Computed once per driver (it reads a few small files). */
export function agentBundle(): AgentBundle {
  const main = agentProgramPath();
  const root = resolve(dirname(main), '..');
  const seen = new Set<string>();
  const queue = [main];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec === undefined || spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) {
        throw new NubisError('CLOUD_INTERNAL', `the agent imports package ${spec} (from ${relative(root, file)}); the ssh driver ships no node_modules`, {
          retryable: false,
        });
      }
      const target = resolve(dirname(file), spec);
      if (relative(root, target).startsWith('..')) {
        throw new NubisError('CLOUD_INTERNAL', `the agent imports ${target}, outside ${root}`, { retryable: false });
      }
      queue.push(target);
    }
  }
  const files = [...seen].sort().map((local) => ({ local, path: relative(root, local) }));
  return { files, main: relative(root, main) };
}

/** Directories (relative, parents first) the bundle needs on the host. */
export function bundleDirs(b: AgentBundle): string[] {
  const dirs = new Set<string>();
  for (const f of b.files) {
    for (let d = dirname(f.path); d !== '.' && d !== ''; d = dirname(d)) dirs.add(d);
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}
