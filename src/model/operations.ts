/**
 * Custom operations (Brooklyn's effectors): the semantic checks of their declarations (the
 * schema walk in ./parse.ts has checked the shape), their normalisation, and the run-time
 * checks of the values a run gives. Values reach the handler as environment variables
 * (`NUBIS_PARAM_<NAME>`), never as part of the command text, so no value can change what the
 * shell runs.
 */
import { NubisError } from '../errors/index.js';
import type { OperationDoc, OperationParamDoc, ParamType } from './schema.js';
import type { OperationParamSpec, OperationSpec } from './types.js';

/** A problem at a JSON path (segments), as ./parse.ts reports it with file:line:col. */
export interface OperationProblem {
  path: (string | number)[];
  expected: string;
  found: string;
}

/** A parameter value after its checks. */
export type ParamValue = string | number | boolean;

/** Environment variable prefix of parameter values. */
export const PARAM_ENV_PREFIX = 'NUBIS_PARAM_';
/** Most characters of a string value when the declaration sets no maxLength. */
export const MAX_PARAM_CHARS = 65_536;

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});

function shown(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  if (typeof v === 'number') return `${Number.isInteger(v) ? 'integer' : 'number'} ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (v === null || v === undefined) return 'null';
  return Array.isArray(v) ? 'sequence' : 'mapping';
}

/** The environment variable a parameter's value arrives in: `keep` → `NUBIS_PARAM_KEEP`. */
export function paramEnvName(name: string): string {
  return `${PARAM_ENV_PREFIX}${name.toUpperCase()}`;
}

/** A string as the CLI sends it, read as the parameter's type; undefined when it is not that type's text. */
function fromText(type: ParamType, s: string): ParamValue | undefined {
  switch (type) {
    case 'string':
      return s;
    case 'integer':
      return /^-?\d{1,16}$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : undefined;
    case 'number':
      return /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s) && Number.isFinite(Number(s)) ? Number(s) : undefined;
    case 'boolean':
      return s === 'true' ? true : s === 'false' ? false : undefined;
  }
}

function typeMatches(type: ParamType, v: unknown): v is ParamValue {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
  }
}

/** What the value must be, in words, when it fails a check of `p`; undefined when it passes. */
function valueProblem(p: Omit<OperationParamSpec, 'name' | 'required'>, v: ParamValue): string | undefined {
  if (!typeMatches(p.type, v)) return p.type;
  if (p.enum && !p.enum.includes(v as string | number)) return `one of ${p.enum.map((x) => JSON.stringify(x)).join(', ')}`;
  if (typeof v === 'number') {
    if (p.minimum !== undefined && v < p.minimum) return `${p.type} ≥ ${p.minimum}`;
    if (p.maximum !== undefined && v > p.maximum) return `${p.type} ≤ ${p.maximum}`;
  }
  if (typeof v === 'string') {
    if (v.includes('\0')) return 'string without NUL characters';
    const max = p.maxLength ?? MAX_PARAM_CHARS;
    if (v.length > max) return `string of at most ${max} characters`;
    if (p.minLength !== undefined && v.length < p.minLength) return `string of at least ${p.minLength} characters`;
    if (p.pattern !== undefined && !new RegExp(p.pattern, 'u').test(v)) return `string matching ${p.pattern}`;
  }
  return undefined;
}

/** Semantic problems of a component's `operations` (raw, maybe still with schema errors), under `base`. */
export function operationProblems(operations: unknown, base: (string | number)[]): OperationProblem[] {
  const out: OperationProblem[] = [];
  for (const [oname, ov] of Object.entries(rec(operations))) {
    for (const [pname, pv] of Object.entries(rec(rec(ov)['params']))) {
      paramDeclProblems(rec(pv), [...base, oname, 'params', pname], out);
    }
  }
  return out;
}

const NUMERIC_KEYS = ['minimum', 'maximum'] as const;
const STRING_KEYS = ['minLength', 'maxLength', 'pattern'] as const;

function paramDeclProblems(p: Rec, path: (string | number)[], out: OperationProblem[]): void {
  const type = p['type'];
  if (type !== 'string' && type !== 'integer' && type !== 'number' && type !== 'boolean') return; // the schema walk reported it
  const before = out.length;
  for (const k of NUMERIC_KEYS) {
    if (p[k] !== undefined && type !== 'integer' && type !== 'number') out.push({ path: [...path, k], expected: `no ${k} for a ${type} parameter (integer and number only)`, found: shown(p[k]) });
  }
  for (const k of STRING_KEYS) {
    if (p[k] !== undefined && type !== 'string') out.push({ path: [...path, k], expected: `no ${k} for a ${type} parameter (string only)`, found: shown(p[k]) });
  }
  if (type === 'integer') {
    for (const k of NUMERIC_KEYS) if (typeof p[k] === 'number' && !Number.isInteger(p[k])) out.push({ path: [...path, k], expected: 'integer', found: shown(p[k]) });
  }
  const lo = p['minimum'];
  const hi = p['maximum'];
  if (typeof lo === 'number' && typeof hi === 'number' && lo > hi) out.push({ path: [...path, 'minimum'], expected: `number ≤ maximum (${hi})`, found: shown(lo) });
  const minL = p['minLength'];
  const maxL = p['maxLength'];
  if (typeof minL === 'number' && typeof maxL === 'number' && minL > maxL) out.push({ path: [...path, 'minLength'], expected: `integer ≤ maxLength (${maxL})`, found: shown(minL) });
  if (typeof p['pattern'] === 'string') {
    try {
      new RegExp(p['pattern'], 'u');
    } catch (e) {
      out.push({ path: [...path, 'pattern'], expected: 'a valid regular expression', found: `${shown(p['pattern'])} (${(e as Error).message})` });
    }
  }
  if (type === 'boolean' && p['enum'] !== undefined) out.push({ path: [...path, 'enum'], expected: 'no enum for a boolean parameter', found: 'sequence' });
  const decl = declOf(p, type);
  if (Array.isArray(p['enum']) && type !== 'boolean') {
    p['enum'].forEach((v: unknown, i) => {
      if (!typeMatches(type, v)) out.push({ path: [...path, 'enum', i], expected: type, found: shown(v) });
    });
  }
  const dflt = p['default'];
  if (dflt !== undefined && (typeof dflt === 'string' || typeof dflt === 'number' || typeof dflt === 'boolean')) {
    if (p['required'] === true) out.push({ path: [...path, 'default'], expected: 'no default for a required parameter (required: true means a run must give it)', found: shown(dflt) });
    const why = out.length === before ? valueProblem(decl, dflt) : undefined;
    if (why !== undefined) out.push({ path: [...path, 'default'], expected: why, found: shown(dflt) });
  }
}

/** The declaration's checks as a spec, from the raw document (only called after its type is known). */
function declOf(p: Rec | OperationParamDoc, type: ParamType): Omit<OperationParamSpec, 'name' | 'required'> {
  const r = p as Rec;
  const d: Omit<OperationParamSpec, 'name' | 'required'> = { type };
  if (Array.isArray(r['enum'])) d.enum = [...(r['enum'] as (string | number)[])];
  for (const k of [...NUMERIC_KEYS, 'minLength', 'maxLength'] as const) if (typeof r[k] === 'number') d[k] = r[k] as number;
  if (typeof r['pattern'] === 'string') d.pattern = r['pattern'];
  if (typeof r['description'] === 'string') d.description = r['description'];
  return d;
}

/** `operations` of a checked component document → specs (timeouts in ms through `ms`). */
export function normaliseOperations(ops: Record<string, OperationDoc>, ms: (duration: string) => number, defaultTimeoutMs: number): Record<string, OperationSpec> {
  const out: Record<string, OperationSpec> = {};
  for (const [name, o] of Object.entries(ops)) {
    if (typeof o === 'string') {
      out[name] = { name, run: o, timeoutMs: defaultTimeoutMs, params: {} };
      continue;
    }
    const params: Record<string, OperationParamSpec> = {};
    for (const [pname, p] of Object.entries(o.params ?? {})) {
      params[pname] = { name: pname, required: p.required ?? false, ...declOf(p, p.type), ...(p.default !== undefined ? { default: p.default } : {}) };
    }
    out[name] = {
      name, run: o.run, timeoutMs: o.timeout !== undefined ? ms(o.timeout) : defaultTimeoutMs, params,
      ...(o.description !== undefined ? { description: o.description } : {}),
    };
  }
  return out;
}

/**
 * The values of a run: the given ones checked against the declaration (a string is read as
 * its type's text, as the CLI sends it), defaults filled in. Every problem is collected;
 * REQUEST_INVALID with `details.problems` (each with its `path`, such as `params.keep`) when
 * there is any, so nothing runs with a bad value.
 */
export function resolveOperationParams(op: OperationSpec, given: Readonly<Record<string, unknown>>, at = 'params'): Record<string, ParamValue> {
  const problems: { path: string; expected: string; found: string }[] = [];
  const names = Object.keys(op.params);
  for (const k of Object.keys(given)) {
    if (!Object.hasOwn(op.params, k)) {
      problems.push({ path: `${at}.${k}`, expected: names.length ? `one of the parameters ${names.join(', ')}` : 'no parameters (the operation declares none)', found: `unknown parameter ${JSON.stringify(k)}` });
    }
  }
  const values: Record<string, ParamValue> = {};
  for (const p of Object.values(op.params)) {
    const raw = Object.hasOwn(given, p.name) ? given[p.name] : undefined;
    if (raw === undefined || raw === null) {
      if (p.default !== undefined) values[p.name] = p.default;
      else if (p.required) problems.push({ path: `${at}.${p.name}`, expected: p.type, found: 'missing (the parameter is required)' });
      continue;
    }
    const v = typeof raw === 'string' ? fromText(p.type, raw) : raw;
    const why = v === undefined ? p.type : typeof v === 'object' ? p.type : valueProblem(p, v as ParamValue);
    if (why !== undefined) problems.push({ path: `${at}.${p.name}`, expected: why, found: shown(v !== undefined && typeof v !== 'object' ? v : raw) });
    else values[p.name] = v as ParamValue;
  }
  if (problems.length > 0) {
    const listed = problems.map((p) => ({ ...p, message: `${p.path}: expected ${p.expected}, found ${p.found}` }));
    throw new NubisError('REQUEST_INVALID', `operation ${op.name}: ${listed.map((p) => p.message).join('; ')}; nothing was run`, { details: { problems: listed, path: listed[0]!.path } });
  }
  return values;
}

/** The environment a run's values give the handler: `NUBIS_PARAM_<NAME>=<value>` for each value. */
export function operationEnv(values: Readonly<Record<string, ParamValue>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) env[paramEnvName(k)] = String(v);
  return env;
}
