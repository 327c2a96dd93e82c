/**
 * Driver options, validated once: when a cloud is registered (`$.options…`) and when a spec is
 * accepted (`clouds.<name>.options…`). Each driver declares its options' schema next to its
 * code (`<platform>/options.ts`); a key the schema does not know, or a value of the wrong
 * type, is a SPEC_INVALID error naming the path, what was expected, and the closest known
 * option. Drivers may still check more when they are built (cross-field rules).
 */
import { NubisError } from '../errors/index.js';
import type { Platform } from '../model/types.js';
import type { DriverFactory } from './driver.js';
import { CLOUDSIGMA_OPTIONS } from './cloudsigma/options.js';
import { EC2_OPTIONS } from './ec2/options.js';
import { LOCAL_OPTIONS } from './local/options.js';
import { OPENSTACK_OPTIONS } from './openstack/options.js';
import { SIM_OPTIONS } from './sim/options.js';
import { SSH_OPTIONS } from './ssh/options.js';

export { doc, type OptionType, type DriverOptionsSchema } from './option-types.js';
import type { OptionType, DriverOptionsSchema } from './option-types.js';

/** Every platform's schema, for the drivers of this build. */
export const DRIVER_OPTIONS: Record<Platform, DriverOptionsSchema> = {
  local: LOCAL_OPTIONS,
  sim: SIM_OPTIONS,
  ssh: SSH_OPTIONS,
  openstack: OPENSTACK_OPTIONS,
  ec2: EC2_OPTIONS,
  cloudsigma: CLOUDSIGMA_OPTIONS,
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(t: OptionType): string {
  switch (t.type) {
    case 'string': return t.expected ?? (t.enum ? `one of ${t.enum.join(', ')}` : 'a string');
    case 'number': {
      const what = t.integer ? 'an integer' : 'a number';
      if (t.min !== undefined && t.max !== undefined) return `${what} from ${t.min} to ${t.max}`;
      if (t.min !== undefined) return `${what} ≥ ${t.min}`;
      return what;
    }
    case 'boolean': return 'true or false';
    case 'array': return `a list of ${describe(t.items).replace(/^an? /, '')}s`;
    case 'object': return t.fields ? `a mapping with ${Object.keys(t.fields).join(', ')}` : 'a mapping';
    case 'any': return 'anything';
  }
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length]!;
}

function unknownKey(at: string, key: string, known: string[]): NubisError {
  const best = known.map((k) => ({ k, d: distance(key, k) })).sort((a, b) => a.d - b.d)[0];
  const hint = best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean ${best.k}?)` : '';
  return new NubisError('SPEC_INVALID', `${at}.${key}: unknown option${hint}; expected one of ${known.join(', ')}`, { details: { path: `${at}.${key}` } });
}

function wrong(at: string, t: OptionType, found: unknown): NubisError {
  const shown = typeof found === 'string' ? JSON.stringify(found.length > 60 ? `${found.slice(0, 60)}…` : found) : Array.isArray(found) ? 'a list' : isObj(found) ? 'a mapping' : String(found);
  return new NubisError('SPEC_INVALID', `${at}: expected ${describe(t)}, found ${shown}`, { details: { path: at } });
}

function checkValue(t: OptionType, v: unknown, at: string): void {
  switch (t.type) {
    case 'any': return;
    case 'string':
      if (typeof v !== 'string' || v.length === 0 || (t.enum && !t.enum.includes(v)) || (t.pattern && !t.pattern.test(v))) throw wrong(at, t, v);
      return;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v) || (t.integer && !Number.isInteger(v)) || (t.min !== undefined && v < t.min) || (t.max !== undefined && v > t.max)) throw wrong(at, t, v);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') throw wrong(at, t, v);
      return;
    case 'array':
      if (!Array.isArray(v)) throw wrong(at, t, v);
      v.forEach((x, i) => checkValue(t.items, x, `${at}[${i}]`));
      return;
    case 'object':
      if (!isObj(v)) throw wrong(at, t, v);
      checkFields(v, t.fields, t.values, t.required ?? [], at);
  }
}

function checkFields(o: Record<string, unknown>, fields: Record<string, OptionType> | undefined, values: OptionType | undefined, required: readonly string[], at: string): void {
  // a free-form mapping: the driver's own check looks inside
  if (!fields && !values) return;
  for (const [k, v] of Object.entries(o)) {
    const t = fields?.[k] ?? values;
    if (!t) throw unknownKey(at, k, Object.keys(fields ?? {}));
    if (v === undefined) continue;
    checkValue(t, v, `${at}.${k}`);
  }
  for (const k of required) {
    if (o[k] === undefined) throw new NubisError('SPEC_INVALID', `${at}.${k}: required; expected ${describe(fields![k]!)}`, { details: { path: `${at}.${k}` } });
  }
}

/** A driver factory that declares its options' schema. */
export type DescribedFactory = DriverFactory & { readonly optionsSchema?: DriverOptionsSchema };

/** The factory with its schema attached (a new function; the given one is not changed). */
export function withOptionsSchema(factory: DriverFactory, schema: DriverOptionsSchema): DescribedFactory {
  return Object.assign((ctx: Parameters<DriverFactory>[0]) => factory(ctx), { optionsSchema: schema });
}

/** The schema a factory declares; undefined for factories that check their options only when built. */
export function optionsSchemaOf(factory: DriverFactory | undefined): DriverOptionsSchema | undefined {
  return (factory as DescribedFactory | undefined)?.optionsSchema;
}

/**
 * Checks a cloud's options against a driver's schema (nothing to check without one). `at` is
 * the path of the options in what the user wrote (`$.options`, `clouds.os.options`). Throws
 * SPEC_INVALID.
 */
export function validateDriverOptions(schema: DriverOptionsSchema | undefined, options: unknown, at: string): void {
  if (!isObj(options)) throw new NubisError('SPEC_INVALID', `${at}: expected a mapping of options`, { details: { path: at } });
  if (!schema) return;
  checkFields(options, schema.fields, undefined, schema.required ?? [], at);
  if (!schema.check) return;
  try {
    schema.check(options);
  } catch (e) {
    if (e instanceof NubisError) throw new NubisError('SPEC_INVALID', `${at}: ${e.message}`, { details: { path: at } });
    throw e;
  }
}

/** One option type as JSON Schema (draft 2020-12): what editors complete and the published schema carries. */
export function optionTypeJsonSchema(t: OptionType): Record<string, unknown> {
  const d = t.doc ? { description: t.doc } : {};
  switch (t.type) {
    case 'any': return { ...d, description: `${t.doc ? `${t.doc}; ` : ''}programmatic only (a value only code can pass)` };
    case 'string': return { type: 'string', minLength: 1, ...(t.enum ? { enum: [...t.enum] } : {}), ...(t.pattern ? { pattern: t.pattern.source } : {}), ...d };
    case 'number': return { type: t.integer ? 'integer' : 'number', ...(t.min !== undefined ? { minimum: t.min } : {}), ...(t.max !== undefined ? { maximum: t.max } : {}), ...d };
    case 'boolean': return { type: 'boolean', ...d };
    case 'array': return { type: 'array', items: optionTypeJsonSchema(t.items), ...d };
    case 'object':
      if (t.fields) return { ...fieldsJsonSchema(t.fields, t.required ?? []), ...d };
      if (t.values) return { type: 'object', additionalProperties: optionTypeJsonSchema(t.values), ...d };
      return { type: 'object', ...d };
  }
}

function fieldsJsonSchema(fields: Record<string, OptionType>, required: readonly string[]): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    ...(required.length ? { required: [...required] } : {}),
    properties: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, optionTypeJsonSchema(v)])),
  };
}

/** A driver's options as a JSON Schema object (closed: unknown keys are errors, as at `plan`). */
export function driverOptionsJsonSchema(schema: DriverOptionsSchema, description?: string): Record<string, unknown> {
  return { ...(description ? { description } : {}), ...fieldsJsonSchema(schema.fields, schema.required ?? []) };
}

const PLATFORM_SUMMARY: Record<Platform, string> = {
  local: 'local: each node is a sandbox directory and process group on the control-plane host',
  sim: 'sim: a simulated IaaS (latency, slow-down, quota, errors, outages) for scale and fault tests',
  ssh: 'ssh: bring your own hosts; a node is one host of a fixed pool reached over SSH',
  openstack: 'openstack: nodes are Nova servers (Keystone v3)',
  ec2: 'ec2: nodes are EC2 instances (or an EC2-compatible endpoint)',
  cloudsigma: 'cloudsigma: nodes are CloudSigma servers cloned from a prepared server or drive',
};

/** Every platform's options as JSON Schema, for the published spec schema (../model json-schema). */
export function platformOptionsJsonSchemas(): Record<Platform, Record<string, unknown>> {
  const out = {} as Record<Platform, Record<string, unknown>>;
  for (const p of Object.keys(DRIVER_OPTIONS) as Platform[]) out[p] = driverOptionsJsonSchema(DRIVER_OPTIONS[p], `options of the ${PLATFORM_SUMMARY[p]}`);
  return out;
}
