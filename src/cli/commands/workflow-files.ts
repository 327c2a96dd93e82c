/**
 * What `nubis workflow import suite.def` uploads with the definition: the script (.ecf) and
 * include files that ECF_FILES, ECF_INCLUDE and ECF_HOME name in the .def, read on the CLI's
 * host. Each file is keyed by its path as the definition's variables build it (a relative value
 * stays relative, read from the .def's directory), so the server's script lookup finds it under
 * the same name and never reads its own disk.
 *
 * Every directory a variable names is walked (at most MAX_FILES files, MAX_BYTES in all):
 * scripts (ECF_EXTN, default .ecf) and includes (.h) under ECF_FILES and ECF_HOME, every file
 * under ECF_INCLUDE. A directory that does not exist is a note, not an error: its scripts may
 * be found elsewhere or the tasks may be engine actions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CliError, EXIT } from '../errors.js';

const MAX_FILES = 5000;
const MAX_BYTES = 32 * 1024 * 1024;
const ROOT_VARS = ['ECF_FILES', 'ECF_INCLUDE', 'ECF_HOME'] as const;

/** Every value the .def gives the variable (`edit NAME value`, quoted or not), in order. */
export function defVariableValues(text: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`^\\s*edit\\s+${name}\\s+(?:'([^']*)'|"([^"]*)"|(\\S+))`, 'gm');
  for (const m of text.matchAll(re)) {
    const v = m[1] ?? m[2] ?? m[3] ?? '';
    if (v !== '' && !out.includes(v)) out.push(v);
  }
  return out;
}

export function collectWorkflowFiles(text: string, defDir: string): { files: Record<string, string>; notes: string[] } {
  const files: Record<string, string> = {};
  const notes: string[] = [];
  let bytes = 0;
  let count = 0;
  const extn = defVariableValues(text, 'ECF_EXTN')[0] ?? '.ecf';
  const add = (key: string, abs: string): void => {
    if (key in files) return;
    const content = fs.readFileSync(abs, 'utf8');
    bytes += Buffer.byteLength(content);
    count++;
    if (count > MAX_FILES || bytes > MAX_BYTES) {
      throw new CliError(EXIT.INVALID, 'TOO_MANY_FILES', `the directories ECF_FILES, ECF_INCLUDE and ECF_HOME name hold more than ${MAX_FILES} files or ${MAX_BYTES} bytes; point them at the suite's own directories`);
    }
    files[key] = content;
  };
  const walk = (key: string, abs: string, wanted: (file: string) => boolean, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const k = key === '' ? e.name : `${key.replace(/\/+$/, '')}/${e.name}`;
      const p = path.join(abs, e.name);
      if (e.isDirectory() && depth < 12) walk(k, p, wanted, depth + 1);
      else if (e.isFile() && wanted(e.name)) add(k, p);
    }
  };
  for (const name of ROOT_VARS) {
    for (const v of defVariableValues(text, name)) {
      if (v.includes('%')) {
        notes.push(`${name} ${v} uses a variable; its files are not uploaded`);
        continue;
      }
      const abs = path.resolve(defDir, v);
      if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
        notes.push(`${name} ${v} is not a directory on this host; nothing uploaded from it`);
        continue;
      }
      const wanted = name === 'ECF_INCLUDE' ? (): boolean => true : (f: string): boolean => f.endsWith(extn) || f.endsWith('.h');
      walk(v, abs, wanted, 0);
    }
  }
  return { files, notes };
}
