/**
 * ecFlow script lookup and preprocessing, over an abstract read-only file map (the CLI uploads
 * the files; the server preprocesses from the stored map). Pure: no node:fs.
 *
 * Lookup (ecFlow's `locatedEcfFile`), by task name: ECF_SCRIPT (default
 * `ECF_HOME/<task path><ECF_EXTN>`), then ECF_FILES and ECF_HOME each searched backwards —
 * `dir/suite/fam/task.ecf`, `dir/fam/task.ecf`, `dir/task.ecf`. ECF_EXTN defaults to `.ecf`.
 * ECF_FETCH and ECF_SCRIPT_CMD (commands run on the control plane, off unless the server allows
 * them) are ./script-cmd.ts.
 *
 * Preprocessing, with the micro character ECF_MICRO (default `%`; changed by `%ecfmicro X`):
 * - `%include <f>`: the first of ECF_INCLUDE's `:`-separated directories holding f, then ECF_HOME;
 *   `%include "f"`: ECF_HOME/SUITE/FAMILY/f; `%include "./f"` or `"../f"`: relative to the
 *   including file; `%include /abs/f`: that file. `%includenopp` copies the file unprocessed;
 *   `%includeonce` includes a file once per job. Variables in the argument are substituted.
 * - `%nopp` … `%end`: copied as written (no substitution); `%manual` … `%end` and
 *   `%comment` … `%end`: removed from the job.
 * - `%VAR%` is VAR's value (values are substituted in turn), `%VAR:default%` the default when
 *   VAR is not defined, `%%` a literal `%`. As in ecFlow this applies inside shell comments too.
 * Failures are NubisError JOB_CREATION_FAILED naming file:line: an undefined variable, an odd
 * number of `%` on a line, an include not found, an include cycle (with its chain).
 */
import { NubisError } from '../../errors/index.js';

/** Read-only files by absolute path (`/home/x/s/t.ecf`); undefined when absent. */
export interface ScriptFiles {
  read(path: string): string | undefined;
}

/** A ScriptFiles over a plain record of path → text. */
export function filesFromRecord(files: Readonly<Record<string, string>>): ScriptFiles {
  return { read: (p) => (Object.prototype.hasOwnProperty.call(files, normalizePath(p)) ? files[normalizePath(p)] : undefined) };
}

/** Collapses `//`, `/./` and `dir/../`; keeps a leading `/`. */
export function normalizePath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') { if (out.length > 0 && out[out.length - 1] !== '..') out.pop(); else if (!abs) out.push('..'); continue; }
    out.push(s);
  }
  return `${abs ? '/' : ''}${out.join('/')}`;
}

const join = (...parts: string[]): string => normalizePath(parts.join('/'));
const dirOf = (p: string): string => normalizePath(`${p}/..`);

function failed(message: string, details?: unknown): NubisError {
  return new NubisError('JOB_CREATION_FAILED', message, details === undefined ? {} : { details });
}

/** The paths a task's script is looked for at, in order (the CLI reads these to upload them). */
export function scriptCandidates(taskPath: string, vars: Readonly<Record<string, string>>): string[] {
  const extn = vars['ECF_EXTN'] ?? '.ecf';
  const segs = taskPath.split('/').filter(Boolean);
  const out: string[] = [];
  const add = (p: string): void => { const n = normalizePath(p); if (!out.includes(n)) out.push(n); };
  const home = vars['ECF_HOME'];
  if (vars['ECF_SCRIPT'] !== undefined && vars['ECF_SCRIPT'] !== '') add(vars['ECF_SCRIPT']);
  else if (home !== undefined) add(`${home}/${segs.join('/')}${extn}`);
  for (const dir of [vars['ECF_FILES'], home]) {
    if (dir === undefined || dir === '') continue;
    for (let i = 0; i < segs.length; i++) add(`${dir}/${segs.slice(i).join('/')}${extn}`);
  }
  return out;
}

/** Finds a task's script: the first candidate the file map holds, else JOB_CREATION_FAILED listing what was tried. */
export function locateScript(taskPath: string, vars: Readonly<Record<string, string>>, files: ScriptFiles): { path: string; text: string } {
  const tried = scriptCandidates(taskPath, vars);
  for (const p of tried) {
    const text = files.read(p);
    if (text !== undefined) return { path: p, text };
  }
  if (tried.length === 0) throw failed(`${taskPath}: no script: none of ECF_SCRIPT, ECF_FILES, ECF_HOME is set`, { tried });
  throw failed(`${taskPath}: no script found; tried ${tried.join(', ')}`, { tried });
}

export interface PreprocessOptions {
  /** Path of the script being preprocessed (for `./` includes and messages). */
  readonly file: string;
  readonly files: ScriptFiles;
  /** The task's absolute path, for `%include "f"` (ECF_HOME/suite/family/f); else SUITE and FAMILY from vars. */
  readonly taskPath?: string;
  /** `keep`: leave an undefined %VAR% as written instead of failing (to collect includes without variables). */
  readonly undefinedVariables?: 'fail' | 'keep';
  /** Called with every file read (the script's includes), e.g. to upload them. */
  readonly onRead?: (path: string) => void;
  /**
   * Includes are looked up by the name written (`<f>`, `"f"` or a path, variables substituted,
   * brackets and quotes off) in `files`, not searched in ECF_INCLUDE and ECF_HOME: a fetched
   * script's includes, fetched by name (./script-cmd.ts).
   */
  readonly includesByName?: boolean;
}

interface Line { readonly text: string; readonly file: string; readonly line: number; readonly raw: boolean; readonly micro: string }

const MAX_DEPTH = 50;

/** Preprocesses a script into the job text (see the module comment). */
export function preprocess(text: string, vars: Readonly<Record<string, string>>, opts: PreprocessOptions): string {
  const out: Line[] = [];
  const once = new Set<string>();
  const keep = opts.undefinedVariables === 'keep';
  let micro = vars['ECF_MICRO'] !== undefined && vars['ECF_MICRO'].length === 1 ? vars['ECF_MICRO'] : '%';

  const expand = (src: string, file: string, chain: readonly string[]): void => {
    const lines = src.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const blocks: { kind: string; line: number }[] = [];
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!.replace(/\r$/, '');
      const lineNo = i + 1;
      const where = `${file}:${lineNo}`;
      const top = blocks[blocks.length - 1];
      if (text.startsWith(micro)) {
        const m = /^(\w+)\s*(.*?)\s*$/.exec(text.slice(micro.length));
        const dir = m?.[1];
        if (top?.kind === 'nopp') {
          if (dir === 'end') blocks.pop(); else out.push({ text, file, line: lineNo, raw: true, micro });
          continue;
        }
        switch (dir) {
          case 'end':
            if (!top) throw failed(`${where}: ${micro}end without ${micro}nopp, ${micro}manual or ${micro}comment`);
            blocks.pop();
            continue;
          case 'manual': case 'comment': case 'nopp':
            blocks.push({ kind: dir, line: lineNo });
            continue;
          case 'ecfmicro': {
            if (top) continue;
            const c = m?.[2] ?? '';
            if (c.length !== 1) throw failed(`${where}: ${micro}ecfmicro needs one character`);
            micro = c;
            continue;
          }
          case 'include': case 'includenopp': case 'includeonce': {
            if (top) continue;
            const arg = substitute(m?.[2] ?? '', { file, line: lineNo, micro }, vars, keep);
            const target = resolveInclude(arg, file, vars, opts, where);
            if (dir === 'includeonce') {
              if (once.has(target.path)) continue;
              once.add(target.path);
            }
            const idx = chain.indexOf(target.path);
            if (idx >= 0) throw failed(`${where}: include cycle: ${[...chain.slice(idx), target.path].join(' → ')}`, { chain: [...chain.slice(idx), target.path] });
            if (chain.length >= MAX_DEPTH) throw failed(`${where}: includes nested deeper than ${MAX_DEPTH}`);
            opts.onRead?.(target.path);
            if (dir === 'includenopp') {
              const inc = target.text.split('\n');
              if (inc[inc.length - 1] === '') inc.pop();
              inc.forEach((t, k) => out.push({ text: t.replace(/\r$/, ''), file: target.path, line: k + 1, raw: true, micro }));
            } else {
              expand(target.text, target.path, [...chain, target.path]);
            }
            continue;
          }
          default:
            break; // not a directive: an ordinary line that starts with the micro character
        }
      }
      if (top) {
        if (top.kind === 'nopp') out.push({ text, file, line: lineNo, raw: true, micro });
        continue;
      }
      out.push({ text, file, line: lineNo, raw: false, micro });
    }
    const open = blocks[blocks.length - 1];
    if (open) throw failed(`${file}:${open.line}: ${micro}${open.kind} without ${micro}end`);
  };

  expand(text, opts.file, [opts.file]);
  const job = out.map((l) => (l.raw ? l.text : substitute(l.text, l, vars, keep)));
  return `${job.join('\n')}\n`;
}

function resolveInclude(arg: string, file: string, vars: Readonly<Record<string, string>>, opts: PreprocessOptions, where: string): { path: string; text: string } {
  const tryPaths = (paths: string[], shown: string): { path: string; text: string } => {
    for (const p of paths) {
      const t = opts.files.read(p);
      if (t !== undefined) return { path: p, text: t };
    }
    throw failed(`${where}: %include ${shown}: not found (tried ${paths.join(', ') || 'nothing: ECF_INCLUDE and ECF_HOME are not set'})`, { tried: paths });
  };
  const home = vars['ECF_HOME'];
  if (opts.includesByName) {
    if (arg === '') throw failed(`${where}: %include needs a file: <f>, "f" or /path`);
    return tryPaths([includeName(arg)], arg);
  }
  let m = /^<([^>]+)>$/.exec(arg);
  if (m) {
    const name = m[1]!;
    const dirs = (vars['ECF_INCLUDE'] ?? '').split(':').filter((d) => d !== '');
    if (home) dirs.push(home);
    return tryPaths(name.startsWith('/') ? [normalizePath(name)] : dirs.map((d) => join(d, name)), arg);
  }
  m = /^"([^"]+)"$/.exec(arg);
  if (m) {
    const name = m[1]!;
    if (name.startsWith('/')) return tryPaths([normalizePath(name)], arg);
    if (name.startsWith('./') || name.startsWith('../')) return tryPaths([join(dirOf(file), name)], arg);
    let suite = vars['SUITE'];
    let family = vars['FAMILY'];
    if (opts.taskPath) {
      const segs = opts.taskPath.split('/').filter(Boolean);
      suite = segs[0];
      family = segs.slice(1, -1).join('/');
    }
    if (!home) throw failed(`${where}: %include ${arg}: ECF_HOME is not set`);
    return tryPaths([join(home, suite ?? '', family ?? '', name)], arg);
  }
  if (arg.startsWith('/')) return tryPaths([normalizePath(arg)], arg);
  if (arg === '') throw failed(`${where}: %include needs a file: <f>, "f" or /path`);
  return tryPaths(home ? [join(home, arg)] : [], arg);
}

/** The file an include argument names: `<f>` and `"f"` without their brackets or quotes. */
export function includeName(arg: string): string {
  const m = /^<([^>]+)>$/.exec(arg) ?? /^"([^"]+)"$/.exec(arg);
  return m ? m[1]! : arg;
}

/** Substitutes `%VAR%`, `%VAR:default%` and `%%` in one line. */
function substitute(text: string, at: { file: string; line: number; micro: string }, vars: Readonly<Record<string, string>>, keep: boolean, depth = 0): string {
  const mc = at.micro;
  if (!text.includes(mc)) return text;
  let out = '';
  let i = 0;
  for (;;) {
    const a = text.indexOf(mc, i);
    if (a < 0) { out += text.slice(i); return out; }
    const b = text.indexOf(mc, a + mc.length);
    if (b < 0) {
      throw failed(`${at.file}:${at.line}: unmatched ${mc} (write ${mc}${mc} for a literal ${mc})`, { file: at.file, line: at.line });
    }
    out += text.slice(i, a);
    const body = text.slice(a + mc.length, b);
    i = b + mc.length;
    if (body === '') { out += mc; continue; }
    const colon = body.indexOf(':');
    const name = colon >= 0 ? body.slice(0, colon) : body;
    const value = vars[name];
    if (value !== undefined) {
      if (depth >= 20) throw failed(`${at.file}:${at.line}: variable ${name} refers to itself (substitution deeper than 20)`, { variable: name });
      out += substitute(value, at, vars, keep, depth + 1);
    } else if (colon >= 0) {
      out += body.slice(colon + 1);
    } else if (keep) {
      out += `${mc}${body}${mc}`;
    } else {
      throw failed(`${at.file}:${at.line}: undefined variable ${mc}${name}${mc} (define it with 'edit ${name} …' or give a default ${mc}${name}:value${mc})`, {
        variable: name, file: at.file, line: at.line,
      });
    }
  }
}
