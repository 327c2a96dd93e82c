/**
 * A template's parameters: a JSON Schema (draft 2020-12) of an object whose properties are
 * the typed parameters. The subset understood is checked when the template is published, so
 * an order is only ever checked against a schema this code fully enforces:
 * - root: `type: object`, `properties`, `required`, `additionalProperties: false` (the default
 *   and the only value), `title`, `description`;
 * - each parameter: `type` string | integer | number | boolean, `title`, `description`,
 *   `default`, `enum`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
 *   `minLength`, `maxLength`, `pattern`, `format` (informative), `writeOnly` (a secret: shown
 *   as "***" in orders and events; it may only be substituted into a secret env value).
 * Sane values are required: a number has both bounds, a string a maxLength, pattern or enum.
 */
import { NubisError } from '../errors/index.js';
import { describeValue as describe } from '../api/index.js';

export const PARAMETER_NAME_PATTERN = '^[a-z][A-Za-z0-9_]{0,39}$';
const PARAM_NAME = new RegExp(PARAMETER_NAME_PATTERN);
const ROOT_KEYS = new Set(['type', 'properties', 'required', 'additionalProperties', 'title', 'description', '$schema']);
const PARAM_KEYS = new Set([
  'type', 'title', 'description', 'default', 'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'minLength', 'maxLength', 'pattern', 'format', 'writeOnly', 'examples',
]);
const TYPES = ['string', 'integer', 'number', 'boolean'] as const;
type ParamType = (typeof TYPES)[number];

export interface ParamSchema {
  type: ParamType;
  title?: string;
  description?: string;
  default?: string | number | boolean;
  enum?: (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  writeOnly?: boolean;
}

export interface ParametersSchema {
  type: 'object';
  properties: Record<string, ParamSchema>;
  required?: string[];
  additionalProperties?: false;
  title?: string;
  description?: string;
}

export type ParamValues = Record<string, string | number | boolean>;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const key = (base: string, k: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `${base}.${k}` : `${base}[${JSON.stringify(k)}]`);

/** The problems of one value against one parameter's schema ("$.params.x: expected …, found …"). */
function valueProblems(p: ParamSchema, v: unknown, at: string, secret = p.writeOnly === true): string[] {
  const found = secret ? (typeof v === 'string' ? `a string of ${v.length} characters` : describe(typeof v === 'string' ? '' : v)) : describe(v);
  const typeOk = p.type === 'integer' ? typeof v === 'number' && Number.isInteger(v)
    : p.type === 'number' ? typeof v === 'number' && Number.isFinite(v)
    : typeof v === p.type;
  if (!typeOk) return [`${at}: expected ${p.type}, found ${found}`];
  const out: string[] = [];
  if (p.enum !== undefined && !p.enum.some((e) => e === v)) out.push(`${at}: expected one of ${p.enum.map((e) => JSON.stringify(e)).join(', ')}, found ${found}`);
  if (typeof v === 'number') {
    if (p.minimum !== undefined && v < p.minimum) out.push(`${at}: expected ${p.type} ≥ ${p.minimum}, found ${found}`);
    if (p.maximum !== undefined && v > p.maximum) out.push(`${at}: expected ${p.type} ≤ ${p.maximum}, found ${found}`);
    if (p.exclusiveMinimum !== undefined && v <= p.exclusiveMinimum) out.push(`${at}: expected ${p.type} > ${p.exclusiveMinimum}, found ${found}`);
    if (p.exclusiveMaximum !== undefined && v >= p.exclusiveMaximum) out.push(`${at}: expected ${p.type} < ${p.exclusiveMaximum}, found ${found}`);
  }
  if (typeof v === 'string') {
    const n = [...v].length;
    if (p.minLength !== undefined && n < p.minLength) out.push(`${at}: expected a string of at least ${p.minLength} characters, found ${found}`);
    if (p.maxLength !== undefined && n > p.maxLength) out.push(`${at}: expected a string of at most ${p.maxLength} characters, found ${found}`);
    if (p.pattern !== undefined && !new RegExp(p.pattern, 'u').test(v)) out.push(`${at}: expected a string matching /${p.pattern}/, found ${found}`);
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(v)) out.push(`${at}: expected no control characters, found ${found}`);
  }
  return out;
}

function numberKeyword(p: Record<string, unknown>, k: string, at: string, out: string[], integer = false): void {
  const v = p[k];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && (!Number.isInteger(v) || v < 0))) {
    out.push(`${key(at, k)}: expected ${integer ? 'an integer ≥ 0' : 'a number'}, found ${describe(v)}`);
  }
}

function paramProblems(p: unknown, at: string): string[] {
  if (!isObj(p)) return [`${at}: expected a parameter schema (object), found ${describe(p)}`];
  const out: string[] = [];
  for (const k of Object.keys(p)) if (!PARAM_KEYS.has(k)) out.push(`${key(at, k)}: unsupported keyword (supported: ${[...PARAM_KEYS].join(', ')})`);
  if (!(TYPES as readonly unknown[]).includes(p['type'])) return [...out, `${key(at, 'type')}: expected one of ${TYPES.join(', ')}, found ${describe(p['type'])}`];
  const type = p['type'] as ParamType;
  for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) numberKeyword(p, k, at, out);
  for (const k of ['minLength', 'maxLength']) numberKeyword(p, k, at, out, true);
  for (const k of ['title', 'description', 'format']) if (p[k] !== undefined && typeof p[k] !== 'string') out.push(`${key(at, k)}: expected a string, found ${describe(p[k])}`);
  if (p['writeOnly'] !== undefined && typeof p['writeOnly'] !== 'boolean') out.push(`${key(at, 'writeOnly')}: expected a boolean, found ${describe(p['writeOnly'])}`);
  if (p['writeOnly'] === true && type !== 'string') out.push(`${key(at, 'writeOnly')}: only a string parameter can be write-only (a secret)`);
  if (p['pattern'] !== undefined) {
    if (typeof p['pattern'] !== 'string') out.push(`${key(at, 'pattern')}: expected a string, found ${describe(p['pattern'])}`);
    else {
      try {
        new RegExp(p['pattern'], 'u');
      } catch (e) {
        out.push(`${key(at, 'pattern')}: not a regular expression (${(e as Error).message})`);
      }
    }
  }
  if (p['enum'] !== undefined && (!Array.isArray(p['enum']) || p['enum'].length === 0)) out.push(`${key(at, 'enum')}: expected a non-empty array, found ${describe(p['enum'])}`);
  if (out.length > 0) return out;
  const s = p as unknown as ParamSchema;
  if (s.enum !== undefined) s.enum.forEach((e, i) => out.push(...valueProblems({ ...s, enum: undefined } as ParamSchema, e, `${key(at, 'enum')}[${i}]`, false)));
  // sane values: every number bounded, every string bounded
  if ((type === 'integer' || type === 'number') && s.enum === undefined) {
    if (s.minimum === undefined && s.exclusiveMinimum === undefined) out.push(`${at}: a ${type} parameter needs a minimum (sane values)`);
    if (s.maximum === undefined && s.exclusiveMaximum === undefined) out.push(`${at}: a ${type} parameter needs a maximum (sane values)`);
  }
  if (type === 'string' && s.enum === undefined && s.maxLength === undefined && s.pattern === undefined) out.push(`${at}: a string parameter needs a maxLength, pattern or enum (sane values)`);
  if (s.default !== undefined) out.push(...valueProblems(s, s.default, key(at, 'default'), false));
  return out;
}

/** Checks a parameter schema when a template is published; REQUEST_INVALID listing each problem by JSON path. */
export function checkParametersSchema(schema: unknown, at = '$.parameters'): ParametersSchema {
  const out: string[] = [];
  if (!isObj(schema)) out.push(`${at}: expected a JSON Schema object, found ${describe(schema)}`);
  else {
    for (const k of Object.keys(schema)) if (!ROOT_KEYS.has(k)) out.push(`${key(at, k)}: unsupported keyword (supported: ${[...ROOT_KEYS].join(', ')})`);
    if (schema['type'] !== 'object') out.push(`${key(at, 'type')}: expected "object", found ${describe(schema['type'])}`);
    if (schema['additionalProperties'] !== undefined && schema['additionalProperties'] !== false) out.push(`${key(at, 'additionalProperties')}: expected false (unknown parameters are always refused), found ${describe(schema['additionalProperties'])}`);
    const props = schema['properties'] ?? {};
    if (!isObj(props)) out.push(`${key(at, 'properties')}: expected an object of parameter schemas, found ${describe(props)}`);
    else {
      for (const [name, p] of Object.entries(props)) {
        const where = key(key(at, 'properties'), name);
        if (!PARAM_NAME.test(name)) out.push(`${where}: a parameter name must match /${PARAMETER_NAME_PATTERN}/`);
        out.push(...paramProblems(p, where));
      }
    }
    const req = schema['required'];
    if (req !== undefined) {
      if (!Array.isArray(req) || req.some((r) => typeof r !== 'string')) out.push(`${key(at, 'required')}: expected an array of parameter names, found ${describe(req)}`);
      else req.forEach((r: string, i) => { if (!isObj(props) || !(r in props)) out.push(`${key(at, 'required')}[${i}]: ${JSON.stringify(r)} is not a declared parameter`); });
    }
  }
  if (out.length > 0) throw new NubisError('REQUEST_INVALID', `the parameter schema is invalid: ${out.join('; ')}`, { details: { problems: out } });
  const s = schema as Record<string, unknown>;
  return { ...(s as object), type: 'object', properties: (s['properties'] ?? {}) as Record<string, ParamSchema> } as ParametersSchema;
}

/**
 * Checks an order's values against the schema and fills defaults. CATALOG_PARAMS_INVALID with
 * every problem (`$.params.x: expected integer ≤ 10, found number 50`; a secret's value never repeated).
 */
export function resolveParams(schema: ParametersSchema, given: unknown, at = '$.params'): ParamValues {
  const out: string[] = [];
  const values: ParamValues = {};
  if (given !== undefined && !isObj(given)) out.push(`${at}: expected an object of parameter values, found ${describe(given)}`);
  const g = isObj(given) ? given : {};
  for (const k of Object.keys(g)) if (!(k in schema.properties)) out.push(`${key(at, k)}: unknown parameter (the template has: ${Object.keys(schema.properties).join(', ') || 'none'})`);
  for (const [name, p] of Object.entries(schema.properties)) {
    const where = key(at, name);
    const v = g[name] ?? p.default;
    if (v === undefined) {
      if (schema.required?.includes(name)) out.push(`${where}: expected ${p.type}, found nothing (the parameter is required)`);
      continue;
    }
    const problems = valueProblems(p, v, where);
    out.push(...problems);
    if (problems.length === 0) values[name] = v as string | number | boolean;
  }
  if (out.length > 0) {
    throw new NubisError('CATALOG_PARAMS_INVALID', `the order's parameters are invalid: ${out.join('; ')}`, { details: { problems: out } });
  }
  return values;
}

/** Values for a trial substitution at publish time: defaults, else the first enum value, the lower bound, false, or a short string. */
export function sampleParams(schema: ParametersSchema): ParamValues {
  const out: ParamValues = {};
  for (const [name, p] of Object.entries(schema.properties)) {
    out[name] = p.default ?? p.enum?.[0]
      ?? (p.type === 'boolean' ? false
        : p.type === 'string' ? 'x'.repeat(Math.max(1, p.minLength ?? 1))
        : p.minimum ?? (p.exclusiveMinimum !== undefined ? (p.type === 'integer' ? Math.floor(p.exclusiveMinimum) + 1 : p.exclusiveMinimum + 1) : 0));
  }
  return out;
}

/** The values as an order record and events show them: write-only ones as "***". */
export function shownParams(schema: ParametersSchema, values: ParamValues): ParamValues {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, schema.properties[k]?.writeOnly ? '***' : v]));
}
