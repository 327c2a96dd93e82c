/**
 * What `nubis workflow import suite.def` uploads with the definition: for every task, the
 * script the script unit's lookup finds on this host (`scriptCandidates`: ECF_SCRIPT, then
 * ECF_FILES and ECF_HOME searched backwards by task name), and every file its preprocessing
 * includes (`%include` through ECF_INCLUDE and ECF_HOME). Each file is keyed by the path the
 * definition's variables build (a relative one is read from the .def's directory), so the
 * server's lookup over the uploaded files finds exactly these and never reads its own disk.
 *
 * When the definition sets no ECF_HOME, the .def's directory is given as the server-level
 * ECF_HOME (an ecflow_server started there would use it). A task whose script is not found is
 * a note, not an error: it may be an engine action, or the server reports it when it runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDef, preprocess, scriptCandidates, normalizePath, type ScriptFiles, type WfDefinition, type WfNodeDef } from '../../workflows/index.js';
import { CliError, EXIT } from '../errors.js';

const MAX_FILES = 5000;
const MAX_BYTES = 32 * 1024 * 1024;

export interface CollectedFiles {
  files: Record<string, string>;
  /** Server-level variables to send with the load (ECF_HOME when the definition has none). */
  variables: Record<string, string>;
  notes: string[];
}

function setsAnywhere(def: WfDefinition, name: string): boolean {
  const inNode = (n: WfNodeDef): boolean => n.variables.some((v) => v.name === name) || n.children.some(inNode);
  return def.variables.some((v) => v.name === name) || def.suites.some(inNode);
}

export function collectWorkflowFiles(text: string, file: string, defDir: string): CollectedFiles {
  let def: WfDefinition;
  try {
    def = parseDef(text, file);
  } catch {
    // the server says what is wrong, with its location
    return { files: {}, variables: {}, notes: [] };
  }
  const variables: Record<string, string> = setsAnywhere(def, 'ECF_HOME') ? {} : { ECF_HOME: defDir };
  const files: Record<string, string> = {};
  const notes: string[] = [];
  let bytes = 0;
  const disk: ScriptFiles = {
    read(p) {
      const key = normalizePath(p);
      if (key in files) return files[key];
      let content: string;
      try {
        const abs = path.resolve(defDir, key);
        if (!fs.statSync(abs).isFile()) return undefined;
        content = fs.readFileSync(abs, 'utf8');
      } catch {
        return undefined;
      }
      bytes += Buffer.byteLength(content);
      if (Object.keys(files).length >= MAX_FILES || bytes > MAX_BYTES) {
        throw new CliError(EXIT.INVALID, 'TOO_MANY_FILES', `the suite's scripts and includes are more than ${MAX_FILES} files or ${MAX_BYTES} bytes`);
      }
      files[key] = content;
      return content;
    },
  };
  const walk = (n: WfNodeDef, parentPath: string, inherited: Record<string, string>): void => {
    const p = `${parentPath}/${n.name}`;
    const vars: Record<string, string> = { ...inherited };
    for (const v of n.variables) vars[v.name] = v.value;
    if (n.kind === 'suite') vars['SUITE'] = n.name;
    if (n.kind === 'task') {
      if (n.action) return;
      vars['TASK'] = n.name;
      const found = scriptCandidates(p, vars).find((c) => disk.read(c) !== undefined);
      // a script made by a command on the server (ECF_SCRIPT_CMD, ECF_FETCH): nothing here to upload for it
      if (found === undefined && (vars['ECF_SCRIPT_CMD'] ?? vars['ECF_FETCH'] ?? '').trim() !== '') return;
      if (found === undefined) {
        notes.push(`${p}: no script found on this host (looked for ${scriptCandidates(p, vars).slice(0, 3).join(', ')}${scriptCandidates(p, vars).length > 3 ? ', …' : ''})`);
        return;
      }
      try {
        // includes only: variables the server gives (ECF_PASS, …) stay as written
        preprocess(disk.read(found)!, vars, { file: found, files: disk, taskPath: p, undefinedVariables: 'keep' });
      } catch (e) {
        if (e instanceof CliError) throw e;
        notes.push(`${p}: ${e instanceof Error ? e.message : String(e)}`);
      }
      return;
    }
    for (const c of n.children) walk(c, p, vars);
  };
  const server: Record<string, string> = { ...variables };
  for (const v of def.variables) server[v.name] = v.value;
  for (const s of def.suites) walk(s, '', server);
  return { files, variables, notes };
}
