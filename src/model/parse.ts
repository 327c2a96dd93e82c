/**
 * YAML spec → normalised `AppSpec`, or a `SPEC_INVALID` error listing every problem with
 * file:line:col and JSON path. Three passes over one parsed document: YAML syntax, the
 * TypeBox schema (walked here so each message is precise and unions give one message),
 * then semantics (references, health, cycles, counts, artefacts).
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node, Pair, YAMLMap } from 'yaml';
import { NubisError } from '../errors/index.js';
import { CRON_PATTERN, DURATION_PATTERN, ENV_NAME_PATTERN, HANDLER_NAMES, METRIC_NAME_PATTERN, NAME_PATTERN, Spec } from './schema.js';
import type { ConditionDoc, HandlerName, MetricDefDoc, RuleDoc, ScheduleDoc, ScrapeTargetDoc, SpecDoc } from './schema.js';
import { isTimeZone, parseCron } from '../clock/index.js';
import { normaliseOperations, operationProblems } from './operations.js';
import { checkTemplateCloudInit, type TemplateCloudInit } from './cloud-init-spec.js';
import { alertsProblems, normaliseAlerts } from './alerts.js';
import { normaliseFirewall, normalisePlacement, policyProblems } from './policy.js';
import { normaliseRecovery, recoveryProblems } from './recovery.js';
import { backupsProblems, normaliseBackups } from './backups.js';
import type {
  AppSpec,
  ChannelSpec,
  CloudSpec,
  ComponentSpec,
  HandlerSpec,
  ConditionSpec,
  HealthSpec,
  MetricDefSpec,
  NodeRequirements,
  RuleActionSpec,
  RuleSpec,
  ScheduleSpec,
  ScrapeTargetSpec,
  SecretEnvValue,
  NodeTemplateSpec,
  SpecProblem,
} from './types.js';

export interface ParseOptions {
  /** Shown in every problem, as given (such as `app.yaml`). */
  file: string;
  /**
   * The artefact paths that exist, relative to the spec's folder and `/`-separated. When
   * given, every artefact must be in it; a folder artefact `web/` matches any path starting
   * with `web/`.
   */
  artefacts?: ReadonlySet<string>;
  /** The text of a file sent with the spec (a node template's `cloudInit: { file }`), or undefined when it was not sent. */
  fileText?: (path: string) => string | undefined;
}

/** Defaults applied by normalisation (see types.ts). */
export const DEFAULTS = {
  handlerTimeoutMs: 60_000,
  handlerRetries: 2,
  healthIntervalMs: 2_000,
  healthTimeoutMs: 1_000,
  healthRetries: 3,
  count: 1,
  min: 0,
  max: 100,
  metricIntervalMs: 10_000,
  scrapeIntervalMs: 15_000,
  ruleIntervalMs: 5_000,
  ruleCooldownMs: 60_000,
  ruleStabilizationMs: 0,
  minStep: 1,
  timeZone: 'UTC',
  maxUnavailable: 1,
  maxSurge: 0,
  healthGateTimeoutMs: 600_000,
} as const;

/** Durations in a spec must lie in this range (a 0 interval would spin; timers cap near 24 days). */
const MAX_DURATION_MS = 24 * 3_600_000;
/** Node visits allowed in the schema walk: bounds alias expansion ("billion laughs"). */
const WALK_BUDGET = 100_000;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

function durationMs(s: string): number | undefined {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(s);
  const n = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `500ms`, `30s`, `2m`, `1h` → milliseconds. Throws `SPEC_INVALID` on anything else. */
export function parseDuration(s: string): number {
  const n = durationMs(s);
  if (n === undefined) {
    throw new NubisError('SPEC_INVALID', `not a duration: ${JSON.stringify(s)} (expected such as 500ms, 30s, 2m or 1h)`);
  }
  return n;
}

/**
 * Parses and validates a spec. Returns a deeply frozen `AppSpec`; on any problem throws
 * `NubisError('SPEC_INVALID', summary, { details: { problems } })` with all problems, in
 * source order.
 */
export function parseSpec(text: string, opts: ParseOptions): AppSpec {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: true, logLevel: 'error' });
  const ctx: Ctx = { file: opts.file, lc, doc, problems: [], offsets: new Map(), budget: WALK_BUDGET };

  for (const e of [...doc.errors, ...doc.warnings]) {
    const line = e.linePos?.[0]?.line ?? 1;
    const col = e.linePos?.[0]?.col ?? 1;
    const what = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    ctx.problems.push(makeProblem(opts.file, line, col, '$', 'valid YAML', `invalid YAML (${what})`));
  }
  if (ctx.problems.length === 0) {
    const top = doc.contents;
    const expected = `mapping with ${Object.keys(Spec.properties).join(', ')}`;
    if (top === null) {
      report(ctx, 0, [], expected, 'empty document');
    } else if (!isMap(top)) {
      report(ctx, offsetOf(top), [], expected, describeNode(top));
    } else {
      check(ctx, Spec as unknown as S, top, [], top);
      let raw: unknown;
      try {
        raw = doc.toJS({ maxAliasCount: 1_000 });
      } catch {
        raw = undefined; // only after a problem the walk has already reported
      }
      if (ctx.problems.length === 0 && raw === undefined) report(ctx, 0, [], 'aliases that expand to a modest size', 'too many alias expansions');
      if (raw !== undefined) checkSemantics(ctx, raw, opts.artefacts);
      const cloudInit = raw !== undefined ? checkCloudInits(ctx, raw, opts.fileText, text) : {};
      if (raw !== undefined) checkAccess(ctx, raw);
      if (ctx.problems.length === 0) return deepFreeze(withCloudInit(normalise(raw as SpecDoc), cloudInit));
    }
  }

  const problems = ctx.problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.line - b.p.line || a.p.col - b.p.col || a.i - b.i)
    .map(({ p }) => p);
  const n = problems.length;
  const summary = `${opts.file}: invalid spec, ${n} problem${n === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p.message}`).join('\n')}`;
  throw new NubisError('SPEC_INVALID', summary, { details: { problems } });
}

// ---------------------------------------------------------------------------------------
// problems and positions

type Seg = string | number;

interface Ctx {
  file: string;
  lc: LineCounter;
  doc: Document;
  problems: SpecProblem[];
  /** JSON path → source offset of the value there (or its key when the value is empty). */
  offsets: Map<string, number>;
  budget: number;
}

/** A component's env split into plain values and the values marked `secret`. */
function splitEnv(env: Record<string, string | { secret: string }>): { env: Record<string, string>; secretEnv?: Record<string, SecretEnvValue> } {
  const plain: Record<string, string> = {};
  const secret: Record<string, SecretEnvValue> = {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === 'string') plain[k] = v;
    else secret[k] = { secret: v.secret };
  }
  return Object.keys(secret).length > 0 ? { env: plain, secretEnv: secret } : { env: plain };
}

/** `['components', 'app', 'artefacts', 0]` → `$.components.app.artefacts[0]`. */
function jsonPath(path: readonly Seg[]): string {
  let out = '$';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A secret env value's place: its problems name the kind of value found, never the value. */
const SECRET_PATH = /\.env\.[A-Za-z_][A-Za-z0-9_]*\.secret$/;

function makeProblem(file: string, line: number, col: number, path: string, expected: string, shown: string): SpecProblem {
  const found = SECRET_PATH.test(path) ? shown.replace(/^(string|integer|number|boolean|date) .*$/s, '$1') : shown;
  return { file, line, col, path, expected, found, message: `${file}:${line}:${col}: ${path}: expected ${expected}, found ${found}` };
}

function report(ctx: Ctx, offset: number, path: readonly Seg[], expected: string, found: string): void {
  const { line, col } = ctx.lc.linePos(offset);
  ctx.problems.push(makeProblem(ctx.file, line, col, jsonPath(path), expected, found));
}

/** Reports at the value recorded for `path`, or the nearest recorded ancestor. */
function reportAt(ctx: Ctx, path: readonly Seg[], expected: string, found: string): void {
  for (let n = path.length; n >= 0; n--) {
    const off = ctx.offsets.get(jsonPath(path.slice(0, n)));
    if (off !== undefined) return report(ctx, off, path, expected, found);
  }
  report(ctx, 0, path, expected, found);
}

function offsetOf(node: unknown): number {
  return (node as Node | null)?.range?.[0] ?? 0;
}

const quote = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v === '' ? 'empty string' : `string ${quote(v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (typeof v === 'bigint') return `integer ${v}`;
  if (Array.isArray(v)) return v.length === 0 ? 'empty sequence' : 'sequence';
  if (v instanceof Date) return `date ${v.toISOString()}`;
  if (v instanceof Uint8Array) return 'binary data';
  return typeof v === 'object' ? 'mapping' : typeof v;
}

function describeNode(node: Node): string {
  if (isMap(node)) return 'mapping';
  if (isSeq(node)) return node.items.length === 0 ? 'empty sequence' : 'sequence';
  if (isScalar(node)) return describeValue(node.value);
  return 'alias';
}

// ---------------------------------------------------------------------------------------
// schema walk: the JSON Schema keywords TypeBox emits for `Spec`

interface S {
  type?: string;
  anyOf?: S[];
  const?: unknown;
  properties?: Record<string, S>;
  required?: string[];
  patternProperties?: Record<string, S>;
  items?: S;
  minItems?: number;
  minLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

const PATTERN_WORDS: Record<string, string> = {
  [NAME_PATTERN]: `name matching ${NAME_PATTERN}`,
  [DURATION_PATTERN]: 'duration such as 500ms, 30s, 2m or 1h',
  [ENV_NAME_PATTERN]: `variable name matching ${ENV_NAME_PATTERN}`,
  '^/': 'path starting with /',
  [METRIC_NAME_PATTERN]: `metric name matching ${METRIC_NAME_PATTERN}`,
  [CRON_PATTERN]: 'cron expression of 5 fields (minute hour day-of-month month day-of-week)',
};

function describeBounds(base: string, s: S): string {
  const { minimum: lo, maximum: hi } = s;
  if (lo !== undefined && hi !== undefined) return `${base} from ${lo} to ${hi}`;
  if (lo !== undefined) return `${base} ≥ ${lo}`;
  if (hi !== undefined) return `${base} ≤ ${hi}`;
  return base;
}

/** What a schema accepts, in words. */
function describe(s: S, inUnion = false): string {
  if (s.anyOf) {
    if (s.anyOf.every((m) => m.const !== undefined)) return `one of ${s.anyOf.map((m) => JSON.stringify(m.const)).join(', ')}`;
    return s.anyOf.map((m) => describe(m, true)).join(' or ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  switch (s.type) {
    case 'object':
      return inUnion && s.properties ? `mapping with ${Object.keys(s.properties).join(', ')}` : 'mapping';
    case 'array':
      return s.minItems ? `sequence of at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}` : 'sequence';
    case 'string':
      if (s.pattern !== undefined) return PATTERN_WORDS[s.pattern] ?? `string matching ${s.pattern}`;
      return s.minLength ? 'non-empty string' : 'string';
    case 'integer':
    case 'number':
      return describeBounds(s.type, s);
    case 'boolean':
      return 'boolean';
    default:
      return 'any value';
  }
}

/** Does the node have the JSON type the schema asks for (ignoring constraints)? */
function kindMatches(s: S, node: Node): boolean {
  const v: unknown = isScalar(node) ? node.value : undefined;
  if (s.const !== undefined) return v === s.const;
  switch (s.type) {
    case 'object':
      return isMap(node);
    case 'array':
      return isSeq(node);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
    case 'number':
      return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

/** Follows aliases; reports a dangling one. */
function deref(ctx: Ctx, node: Node, path: readonly Seg[]): Node | undefined {
  let n: Node | undefined = node;
  for (let hops = 0; n && isAlias(n); hops++) {
    const target: Node | undefined = hops < 100 ? n.resolve(ctx.doc) : undefined;
    if (!target) report(ctx, offsetOf(n), path, 'an alias to an anchor defined earlier', `unknown alias *${n.source}`);
    n = target;
  }
  return n;
}

/** Scalar key text, or undefined for a collection used as a key. */
function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return key.value == null ? 'null' : String(key.value);
  return undefined;
}

/** Position for a pair's value: the key when the value is empty (`count:` with nothing). */
function valueOffset(pair: Pair): number {
  const v = pair.value as Node | null;
  if (!v || (isScalar(v) && v.range && v.range[0] === v.range[1])) return offsetOf(pair.key as Node);
  return offsetOf(v);
}

function check(ctx: Ctx, s: S, node: Node, path: Seg[], at: number | Node): void {
  if (--ctx.budget < 0) {
    if (ctx.budget === -1) report(ctx, 0, path, 'a smaller document', 'too many nodes (aliases expand too far)');
    return;
  }
  const n = deref(ctx, node, path);
  if (!n) return;
  const offset = typeof at === 'number' ? at : offsetOf(at);
  ctx.offsets.set(jsonPath(path), offset);

  if (s.anyOf) {
    const members = s.anyOf;
    const match = members.find((m) => kindMatches(m, n));
    if (match) return check(ctx, match, n, path, offset);
    return report(ctx, offset, path, describe(s), describeNode(n));
  }
  if (!kindMatches(s, n)) return report(ctx, offset, path, describe(s), describeNode(n));

  if (s.type === 'object' && isMap(n)) return checkMapping(ctx, s, n, path);
  if (s.type === 'array' && isSeq(n)) {
    if (s.minItems !== undefined && n.items.length < s.minItems) report(ctx, offset, path, describe(s), describeNode(n));
    n.items.forEach((item, i) => {
      if (item) check(ctx, s.items ?? {}, item as Node, [...path, i], item as Node);
    });
    return;
  }
  const v = isScalar(n) ? n.value : undefined;
  if (typeof v === 'string') {
    const bad = (s.minLength !== undefined && v.length < s.minLength) || (s.pattern !== undefined && !new RegExp(s.pattern).test(v));
    if (bad) report(ctx, offset, path, describe(s), describeValue(v));
  } else if (typeof v === 'number') {
    if ((s.minimum !== undefined && v < s.minimum) || (s.maximum !== undefined && v > s.maximum)) {
      report(ctx, offset, path, describe(s), describeValue(v));
    }
  } else if (typeof v === 'bigint') {
    report(ctx, offset, path, describe(s), describeValue(v)); // beyond any bound we set
  }
}

/** A closed object (`properties`) or a record (`patternProperties`). */
function checkMapping(ctx: Ctx, s: S, map: YAMLMap, path: Seg[]): void {
  const seen = new Map<string, number>();
  const props = s.properties;
  const [keyPattern, valueSchema] = Object.entries(s.patternProperties ?? {})[0] ?? [];
  for (const pair of map.items) {
    const keyNode = pair.key as Node | null;
    const key = keyText(keyNode);
    const keyOffset = offsetOf(keyNode);
    if (key === undefined) {
      report(ctx, keyOffset, path, props ? 'a plain key' : describe({ type: 'string', pattern: keyPattern ?? '' }), `${describeNode(keyNode as Node)} as a key`);
      continue;
    }
    const keyPath = [...path, key];
    const first = seen.get(key);
    if (first !== undefined) {
      report(ctx, keyOffset, keyPath, 'each key once', `duplicate key ${quote(key)} (first at line ${ctx.lc.linePos(first).line})`);
      continue;
    }
    seen.set(key, keyOffset);
    let schema: S | undefined;
    if (props) {
      schema = Object.hasOwn(props, key) ? props[key] : undefined;
      if (!schema) {
        const allowed = Object.keys(props);
        const hint = closest(key, allowed);
        const note = key === '<<' ? ' (merge keys are not part of YAML 1.2)' : hint ? ` (did you mean ${quote(hint)}?)` : '';
        report(ctx, keyOffset, keyPath, `one of the keys ${allowed.join(', ')}`, `unknown key ${quote(key)}${note}`);
        continue;
      }
    } else {
      schema = valueSchema;
      const isString = isScalar(keyNode) && typeof keyNode.value === 'string';
      if (keyPattern !== undefined && (!isString || !new RegExp(keyPattern).test(key))) {
        const found = isString ? `key ${quote(key)}` : `key ${describeNode(keyNode as Node)}`;
        report(ctx, keyOffset, keyPath, describe({ type: 'string', pattern: keyPattern }), found);
      }
    }
    const value = pair.value as Node | null;
    if (schema) {
      if (value) check(ctx, schema, value, keyPath, valueOffset(pair));
      else if (!kindMatchesNull(schema)) report(ctx, valueOffset(pair), keyPath, describe(schema), 'null');
    }
  }
  for (const key of s.required ?? []) {
    if (!seen.has(key) && props?.[key]) {
      report(ctx, offsetOf(map), [...path, key], describe(props[key]), 'missing key');
    }
  }
}

function kindMatchesNull(s: S): boolean {
  return s.type === undefined && !s.anyOf && s.const === undefined;
}

/** The allowed key nearest to a misspelt one (edit distance ≤ 2), if any. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) [best, bestD] = [a, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

// ---------------------------------------------------------------------------------------
// semantics: run over the plain value, defensively (it may still hold schema errors)

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const names = (r: Rec): string => (Object.keys(r).length ? Object.keys(r).join(', ') : 'none defined');

function checkSemantics(ctx: Ctx, raw: unknown, artefacts: ReadonlySet<string> | undefined): void {
  const top = rec(raw);
  const clouds = rec(top['clouds']);
  const templates = rec(top['nodeTemplates']);
  const components = rec(top['components']);

  for (const [tname, t] of Object.entries(templates)) {
    const cloud = str(rec(t)['cloud']);
    if (cloud !== undefined && !Object.hasOwn(clouds, cloud)) {
      reportAt(ctx, ['nodeTemplates', tname, 'cloud'], `name of a cloud (${names(clouds)})`, `unknown cloud ${quote(cloud)}`);
    }
    // with a cloud named, allowed clouds refer to the spec's; without, to registered clouds
    const allowed = rec(rec(t)['requirements'])['clouds'];
    if (cloud !== undefined && Array.isArray(allowed)) {
      allowed.forEach((c, i) => {
        if (typeof c === 'string' && !Object.hasOwn(clouds, c)) {
          reportAt(ctx, ['nodeTemplates', tname, 'requirements', 'clouds', i], `name of a cloud (${names(clouds)})`, `unknown cloud ${quote(c)}`);
        }
      });
    }
  }

  for (const [cname, cv] of Object.entries(components)) {
    const c = rec(cv);
    const base: Seg[] = ['components', cname];
    const tpl = str(c['nodeTemplate']);
    if (tpl !== undefined && !Object.hasOwn(templates, tpl)) {
      reportAt(ctx, [...base, 'nodeTemplate'], `name of a node template (${names(templates)})`, `unknown node template ${quote(tpl)}`);
    }
    for (const [rname, rv] of Object.entries(rec(c['requires']))) {
      const r = rec(rv);
      const target = str(r['component']);
      const port = str(r['port']);
      const rpath: Seg[] = [...base, 'requires', rname];
      if (target === undefined) continue;
      if (target === cname) {
        reportAt(ctx, [...rpath, 'component'], 'another component', `the component itself ${quote(target)}`);
      } else if (!Object.hasOwn(components, target)) {
        reportAt(ctx, [...rpath, 'component'], `name of a component (${names(components)})`, `unknown component ${quote(target)}`);
      } else if (port !== undefined) {
        const provided = rec(rec(components[target])['provides']);
        if (!Object.hasOwn(provided, port)) {
          const list = Object.keys(provided).length ? Object.keys(provided).join(', ') : 'none';
          reportAt(ctx, [...rpath, 'port'], `a port that ${target} provides (${list})`, `unknown port ${quote(port)}`);
        }
      }
    }
    checkInstances(ctx, base, c);
    checkUpdateStrategy(ctx, base, c);
    for (const p of recoveryProblems(c['recovery'], base, durationMs)) reportAt(ctx, p.path, p.expected, p.found);
    checkLifecycle(ctx, base, c);
    for (const [oname, o] of Object.entries(rec(c['operations']))) checkDuration(ctx, [...base, 'operations', oname, 'timeout'], rec(o)['timeout']);
    for (const p of operationProblems(c['operations'], [...base, 'operations'])) reportAt(ctx, p.path, p.expected, p.found);
    checkArtefacts(ctx, base, c['artefacts'], artefacts);
  }
  checkCycles(ctx, components);
  for (const p of scalingProblems(top, components)) reportAt(ctx, p.path, p.expected, p.found);
  for (const p of backupsProblems(top, durationMs)) reportAt(ctx, p.path, p.expected, p.found);
}

function checkInstances(ctx: Ctx, base: Seg[], c: Rec): void {
  if (c['instances'] === undefined) return;
  const inst = rec(c['instances']);
  const count = int(inst['count']);
  const min = int(inst['min']);
  const max = int(inst['max']);
  const path = [...base, 'instances'];
  if (min !== undefined && max !== undefined && min > max) {
    return reportAt(ctx, [...path, 'min'], `integer ≤ max (${max})`, `integer ${min}`);
  }
  if (count !== undefined && min !== undefined && count < min) {
    reportAt(ctx, [...path, 'count'], `integer ≥ min (${min})`, `integer ${count}`);
  }
  if (count !== undefined && max !== undefined && count > max) {
    reportAt(ctx, [...path, 'count'], `integer ≤ max (${max})`, `integer ${count}`);
  }
}

function checkUpdateStrategy(ctx: Ctx, base: Seg[], c: Rec): void {
  if (c['updateStrategy'] === undefined) return;
  const u = rec(c['updateStrategy']);
  const path = [...base, 'updateStrategy'];
  if (int(u['maxUnavailable']) === 0 && (int(u['maxSurge']) ?? DEFAULTS.maxSurge) === 0) {
    reportAt(ctx, [...path, 'maxUnavailable'], 'integer ≥ 1 when maxSurge is 0 (a rollout must be able to move)', 'integer 0');
  }
  checkDuration(ctx, [...path, 'healthGate', 'timeout'], rec(u['healthGate'])['timeout']);
}

function checkDuration(ctx: Ctx, path: Seg[], v: unknown): void {
  if (typeof v !== 'string' || !new RegExp(DURATION_PATTERN).test(v)) return; // the schema walk reported it
  const ms = durationMs(v);
  if (ms === undefined || ms < 1 || ms > MAX_DURATION_MS) reportAt(ctx, path, 'duration from 1ms to 24h', `duration ${quote(v)}`);
}

function checkLifecycle(ctx: Ctx, base: Seg[], c: Rec): void {
  const lc = rec(c['lifecycle']);
  const provided = rec(c['provides']);
  const ports = Object.keys(provided).length ? Object.keys(provided).join(', ') : 'none';
  for (const h of [...HANDLER_NAMES, 'backup', 'restore', 'verify'] as const) {
    const handler = lc[h];
    if (handler !== null && typeof handler === 'object') checkDuration(ctx, [...base, 'lifecycle', h, 'timeout'], rec(handler)['timeout']);
  }
  if (lc['health'] === undefined) return;
  const health = rec(lc['health']);
  const hpath: Seg[] = [...base, 'lifecycle', 'health'];
  const kinds = (['command', 'tcp', 'http'] as const).filter((k) => health[k] !== undefined && health[k] !== null);
  if (kinds.length !== 1) {
    const found = kinds.length === 0 ? 'none of them' : kinds.length === 2 ? `${kinds[0]} and ${kinds[1]}` : 'command, tcp and http';
    reportAt(ctx, hpath, 'exactly one of command, tcp or http', found);
  }
  const tcp = str(health['tcp']);
  if (tcp !== undefined && !Object.hasOwn(provided, tcp)) {
    reportAt(ctx, [...hpath, 'tcp'], `a port this component provides (${ports})`, `unknown port ${quote(tcp)}`);
  }
  const httpPort = str(rec(health['http'])['port']);
  if (httpPort !== undefined && !Object.hasOwn(provided, httpPort)) {
    reportAt(ctx, [...hpath, 'http', 'port'], `a port this component provides (${ports})`, `unknown port ${quote(httpPort)}`);
  }
  checkDuration(ctx, [...hpath, 'interval'], health['interval']);
  checkDuration(ctx, [...hpath, 'timeout'], health['timeout']);
}

function checkArtefacts(ctx: Ctx, base: Seg[], list: unknown, present: ReadonlySet<string> | undefined): void {
  if (!Array.isArray(list)) return;
  list.forEach((a: unknown, i) => {
    if (typeof a !== 'string' || a === '') return;
    const path: Seg[] = [...base, 'artefacts', i];
    if (/^([\\/]|[A-Za-z]:)/.test(a)) return reportAt(ctx, path, 'path relative to the spec file', `absolute path ${quote(a)}`);
    if (a.split(/[\\/]/).includes('..')) return reportAt(ctx, path, 'path inside the spec folder (no ..)', `path with .. ${quote(a)}`);
    if (!present) return;
    const rel = a.replace(/^(\.\/)+/, '');
    const keys = [...present];
    const found = rel.endsWith('/') ? keys.some((k) => k.startsWith(rel)) : present.has(rel);
    if (found) return;
    const isFolder = !rel.endsWith('/') && keys.some((k) => k.startsWith(`${rel}/`));
    reportAt(ctx, path, 'a file, or a folder ending in /, present beside the spec', `missing artefact ${quote(a)}${isFolder ? ` (a folder: write ${quote(`${a}/`)})` : ''}`);
  });
}

/** Cycles among mandatory channels: such components could never all start. */
function checkCycles(ctx: Ctx, components: Rec): void {
  const edges = new Map<string, { to: string; via: string }[]>();
  for (const [name, c] of Object.entries(components)) {
    const out: { to: string; via: string }[] = [];
    for (const [via, r] of Object.entries(rec(rec(c)['requires']))) {
      const to = str(rec(r)['component']);
      if (to !== undefined && to !== name && Object.hasOwn(components, to) && rec(r)['optional'] !== true) out.push({ to, via });
    }
    edges.set(name, out);
  }
  const state = new Map<string, 'active' | 'done'>();
  const stack: { name: string; via?: string }[] = [];
  const visit = (name: string): void => {
    state.set(name, 'active');
    for (const e of edges.get(name) ?? []) {
      const s = state.get(e.to);
      if (s === 'active') {
        const at = stack.findIndex((f) => f.name === e.to);
        const cycle = [...stack.slice(at).map((f) => f.name), name, e.to];
        const firstVia = stack[at]?.via ?? e.via;
        reportAt(ctx, ['components', e.to, 'requires', firstVia, 'component'], 'no cycle of mandatory channels (mark one optional: true)', `cycle ${cycle.join(' → ')}`);
      } else if (s === undefined) {
        stack.push({ name, via: e.via });
        visit(e.to);
        stack.pop();
      }
    }
    state.set(name, 'done');
  };
  for (const name of edges.keys()) if (!state.has(name)) visit(name);
}

// ---------------------------------------------------------------------------------------
// normalisation (only on a spec with no problems)

function normalise(doc: SpecDoc): AppSpec {
  const clouds: Record<string, CloudSpec> = {};
  for (const [name, c] of Object.entries(doc.clouds)) {
    clouds[name] = {
      name, platform: c.platform, options: { ...(c.options ?? {}) },
      ...(c.concurrency !== undefined ? { concurrency: c.concurrency } : {}),
      ...(c.credential !== undefined ? { credential: c.credential } : {}),
    };
  }
  const nodeTemplates: Record<string, NodeTemplateSpec> = {};
  for (const [name, t] of Object.entries(doc.nodeTemplates)) {
    const r = t.requirements ?? {};
    const req: NodeRequirements = {};
    if (r.cores !== undefined) req.cores = r.cores;
    if (r.memory !== undefined) req.memoryMiB = r.memory;
    if (r.disk !== undefined) req.diskGiB = r.disk;
    if (r.os !== undefined) req.os = r.os;
    if (r.osVersion !== undefined) req.osVersion = r.osVersion;
    if (r.clouds !== undefined) req.clouds = [...r.clouds];
    if (r.locations !== undefined) req.locations = [...r.locations];
    if (r.maxPrice !== undefined) req.maxPrice = r.maxPrice;
    nodeTemplates[name] = {
      name, ...(t.cloud !== undefined ? { cloud: t.cloud } : {}), requirements: req, ...(t.spread ? { spread: t.spread } : {}),
      ...(t.placement ? { placement: normalisePlacement(t.placement) } : {}),
    };
  }
  const components: Record<string, ComponentSpec> = {};
  for (const [name, c] of Object.entries(doc.components)) {
    const count = c.instances?.count ?? DEFAULTS.count;
    const requires: Record<string, ChannelSpec> = {};
    for (const [rname, r] of Object.entries(c.requires ?? {})) {
      requires[rname] = { name: rname, component: r.component, port: r.port, optional: r.optional ?? false };
    }
    const provides: Record<string, { port?: number }> = {};
    for (const [pname, p] of Object.entries(c.provides ?? {})) provides[pname] = p.port !== undefined ? { port: p.port } : {};
    const handlers: Partial<Record<HandlerName, HandlerSpec>> = {};
    for (const h of HANDLER_NAMES) {
      const doc = c.lifecycle?.[h];
      if (doc === undefined) continue;
      handlers[h] =
        typeof doc === 'string'
          ? { run: doc, timeoutMs: DEFAULTS.handlerTimeoutMs, retries: DEFAULTS.handlerRetries }
          : {
              run: doc.run,
              timeoutMs: doc.timeout !== undefined ? parseDuration(doc.timeout) : DEFAULTS.handlerTimeoutMs,
              retries: doc.retries ?? DEFAULTS.handlerRetries,
            };
    }
    const h = c.lifecycle?.health;
    let health: HealthSpec | undefined;
    if (h) {
      const common = {
        intervalMs: h.interval !== undefined ? parseDuration(h.interval) : DEFAULTS.healthIntervalMs,
        timeoutMs: h.timeout !== undefined ? parseDuration(h.timeout) : DEFAULTS.healthTimeoutMs,
        retries: h.retries ?? DEFAULTS.healthRetries,
      };
      if (h.command !== undefined) health = { kind: 'command', command: h.command, ...common };
      else if (h.tcp !== undefined) health = { kind: 'tcp', port: h.tcp, ...common };
      else if (h.http !== undefined) health = { kind: 'http', port: h.http.port, path: h.http.path ?? '/', ...common };
    }
    const template = nodeTemplates[c.nodeTemplate];
    components[name] = {
      name,
      nodeTemplate: c.nodeTemplate,
      cloud: template?.cloud ?? '',
      count,
      min: c.instances?.min ?? DEFAULTS.min,
      max: c.instances?.max ?? Math.max(count, DEFAULTS.max),
      scaleIn: c.instances?.scaleIn ?? 'youngest',
      provides,
      requires,
      ...splitEnv(c.env ?? {}),
      artefacts: [...(c.artefacts ?? [])],
      handlers,
      ...(health ? { health } : {}),
      updateStrategy: {
        maxUnavailable: c.updateStrategy?.maxUnavailable ?? DEFAULTS.maxUnavailable,
        maxSurge: c.updateStrategy?.maxSurge ?? DEFAULTS.maxSurge,
        healthGateTimeoutMs: c.updateStrategy?.healthGate?.timeout !== undefined ? parseDuration(c.updateStrategy.healthGate.timeout) : DEFAULTS.healthGateTimeoutMs,
      },
      ...(c.recovery ? { recovery: normaliseRecovery(c.recovery, parseDuration) } : {}),
      ...(c.operations ? { operations: normaliseOperations(c.operations, parseDuration, DEFAULTS.handlerTimeoutMs) } : {}),
    };
  }
  const out: AppSpec = { name: doc.name as string, clouds, nodeTemplates, components };
  if (doc.metrics) out.metrics = Object.fromEntries(Object.entries(doc.metrics).map(([n, m]) => [n, normaliseMetric(n, m)]));
  if (doc.rules) out.rules = Object.fromEntries(Object.entries(doc.rules).map(([n, r]) => [n, normaliseRule(n, r)]));
  if (doc.schedules) out.schedules = Object.fromEntries(Object.entries(doc.schedules).map(([n, x]) => [n, normaliseSchedule(n, x)]));
  if (doc.scrape) out.scrape = Object.fromEntries(Object.entries(doc.scrape).map(([n, x]) => [n, normaliseScrape(n, x)]));
  if (doc.access) {
    out.access = { credentials: Object.fromEntries(Object.entries(doc.access.credentials ?? {}).map(([n, c]) => [n, { name: n, generate: c.generate, length: c.length ?? 24, env: c.env, component: c.component }])) };
  }
  if (doc.alerts) out.alerts = normaliseAlerts(doc.alerts);
  if (doc.firewall) out.firewall = normaliseFirewall(doc.firewall);
  if (doc.backups) out.backups = normaliseBackups(doc.backups, (c) => doc.components[c]?.lifecycle ?? {}, parseDuration);
  return out;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// metrics, rules and schedules: semantic checks and normalisation, shared with the API
// (which validates run-time definitions with the same schema and these checks)

/** A problem found by a semantic check: where (JSON path segments), what was expected, what was found. */
export interface PathProblem {
  path: Seg[];
  expected: string;
  found: string;
}

export type { Seg as PathSegment };

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const BOUND_KEYS = ['above', 'below', 'atOrAbove', 'atOrBelow'] as const;
const CONDITION_KEYS = ['all', 'any', 'atLeast', 'value', 'count', 'and', 'or', 'not'] as const;

function durationProblem(path: Seg[], v: unknown, minMs: number): PathProblem | undefined {
  if (typeof v !== 'string' || !new RegExp(DURATION_PATTERN).test(v)) return undefined; // the schema walk reports it
  const ms = durationMs(v);
  if (ms === undefined || ms < minMs || ms > MAX_DURATION_MS) return { path, expected: `duration from ${minMs === 0 ? '0s' : '1ms'} to 24h`, found: `duration ${quote(v)}` };
  return undefined;
}

function conditionProblems(c: unknown, path: Seg[], out: PathProblem[]): void {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return;
  const r = c as Rec;
  const keys = CONDITION_KEYS.filter((k) => r[k] !== undefined);
  if (keys.length !== 1) {
    out.push({ path, expected: 'exactly one of all, any, atLeast, value, count, and, or, not', found: keys.length === 0 ? 'none of them' : keys.join(' and ') });
    return;
  }
  const k = keys[0]!;
  const v = r[k];
  if (k === 'and' || k === 'or') {
    if (Array.isArray(v)) v.forEach((sub, i) => conditionProblems(sub, [...path, k, i], out));
  } else if (k === 'not') conditionProblems(v, [...path, k], out);
  else {
    const b = rec(v);
    if (!BOUND_KEYS.some((x) => typeof b[x] === 'number')) out.push({ path: [...path, k], expected: 'at least one of above, below, atOrAbove, atOrBelow', found: 'no bound' });
  }
}

/** Semantic problems of one rule document (the schema walk has checked its shape). */
export function ruleProblems(r: Rec, path: Seg[], components: Rec | undefined): PathProblem[] {
  const out: PathProblem[] = [];
  const comp = str(r['component']);
  if (components && comp !== undefined && new RegExp(NAME_PATTERN).test(comp) && !Object.hasOwn(components, comp)) {
    out.push({ path: [...path, 'component'], expected: `name of a component (${names(components)})`, found: `unknown component ${quote(comp)}` });
  }
  conditionProblems(r['when'], [...path, 'when'], out);
  for (const d of ['for', 'cooldown', 'stabilization'] as const) {
    const p = durationProblem([...path, d], r[d], 0);
    if (p) out.push(p);
  }
  const ip = durationProblem([...path, 'interval'], r['interval'], 1);
  if (ip) out.push(ip);
  const a = rec(r['action']);
  const ap: Seg[] = [...path, 'action'];
  const has = (k: string): boolean => a[k] !== undefined;
  if (a['scale'] === 'to') {
    if (!has('count')) out.push({ path: [...ap, 'count'], expected: 'integer ≥ 0 (the count for scale: to)', found: 'missing key' });
    for (const k of ['by', 'percent', 'minStep']) if (has(k)) out.push({ path: [...ap, k], expected: 'no ' + k + ' with scale: to (use count)', found: `key ${quote(k)}` });
  } else if (a['scale'] === 'out' || a['scale'] === 'in') {
    if (has('by') === has('percent')) {
      out.push({ path: ap, expected: `exactly one of by, percent with scale: ${String(a['scale'])}`, found: has('by') ? 'both' : 'neither' });
    }
    if (has('count')) out.push({ path: [...ap, 'count'], expected: 'no count with scale: out or in (use by or percent)', found: 'key "count"' });
    if (has('minStep') && !has('percent')) out.push({ path: [...ap, 'minStep'], expected: 'minStep only with percent', found: 'key "minStep"' });
    const pct = a['percent'];
    if (typeof pct === 'number' && !(pct > 0)) out.push({ path: [...ap, 'percent'], expected: 'number > 0', found: describeValue(pct) });
  }
  const lo = int(a['min']);
  const hi = int(a['max']);
  if (lo !== undefined && hi !== undefined && lo > hi) out.push({ path: [...ap, 'min'], expected: `integer ≤ max (${hi})`, found: `integer ${lo}` });
  return out;
}

/** Semantic problems of one schedule document. */
export function scheduleProblems(x: Rec, path: Seg[], components: Rec | undefined): PathProblem[] {
  const out: PathProblem[] = [];
  const comp = str(x['component']);
  if (components && comp !== undefined && new RegExp(NAME_PATTERN).test(comp) && !Object.hasOwn(components, comp)) {
    out.push({ path: [...path, 'component'], expected: `name of a component (${names(components)})`, found: `unknown component ${quote(comp)}` });
  }
  const cron = str(x['cron']);
  const at = str(x['at']);
  if ((x['cron'] === undefined) === (x['at'] === undefined)) {
    out.push({ path, expected: 'exactly one of cron, at', found: x['cron'] !== undefined ? 'both' : 'neither' });
  }
  if (cron !== undefined && new RegExp(CRON_PATTERN).test(cron)) {
    try {
      parseCron(cron);
    } catch (e) {
      out.push({ path: [...path, 'cron'], expected: 'a valid cron expression', found: `${quote(cron)} (${(e as Error).message.replace(/^cron "[^"]*": /, '')})` });
    }
  }
  const tz = str(x['timeZone']);
  if (tz !== undefined) {
    if (at !== undefined) out.push({ path: [...path, 'timeZone'], expected: 'timeZone only with cron (at carries its own offset)', found: `timeZone ${quote(tz)}` });
    else if (!isTimeZone(tz)) out.push({ path: [...path, 'timeZone'], expected: 'an IANA time zone such as UTC or Europe/Helsinki', found: `unknown time zone ${quote(tz)}` });
  }
  if (at !== undefined && (!ISO_INSTANT.test(at) || Number.isNaN(Date.parse(at)))) {
    out.push({ path: [...path, 'at'], expected: 'an ISO 8601 time with Z or an offset, such as 2030-01-01T05:40:00Z', found: `string ${quote(at)}` });
  }
  return out;
}

/** Semantic problems of one metric definition. */
export function metricProblems(m: Rec, path: Seg[]): PathProblem[] {
  const p = durationProblem([...path, 'interval'], m['interval'], 1);
  return p ? [p] : [];
}

/** Semantic problems of one scrape target (interval from 100ms to 24h; the URL parses). */
export function scrapeProblems(x: Rec, path: Seg[]): PathProblem[] {
  const out: PathProblem[] = [];
  const p = durationProblem([...path, 'interval'], x['interval'], 1);
  if (p) out.push(p);
  else if (typeof x['interval'] === 'string' && (durationMs(x['interval']) ?? 0) < 100) {
    out.push({ path: [...path, 'interval'], expected: 'duration from 100ms to 24h', found: `duration ${quote(x['interval'])}` });
  }
  const url = str(x['url']);
  if (url !== undefined && /^https?:\/\/\S+$/.test(url) && !URL.canParse(url)) out.push({ path: [...path, 'url'], expected: 'an http or https URL', found: `string ${quote(url)}` });
  return out;
}

/** Problems of the `metrics`, `rules` and `schedules` sections of a spec. */
function scalingProblems(top: Rec, components: Rec): PathProblem[] {
  const out: PathProblem[] = [];
  for (const [n, m] of Object.entries(rec(top['metrics']))) out.push(...metricProblems(rec(m), ['metrics', n]));
  for (const [n, r] of Object.entries(rec(top['rules']))) out.push(...ruleProblems(rec(r), ['rules', n], components));
  for (const [n, x] of Object.entries(rec(top['schedules']))) out.push(...scheduleProblems(rec(x), ['schedules', n], components));
  for (const [n, x] of Object.entries(rec(top['scrape']))) out.push(...scrapeProblems(rec(x), ['scrape', n]));
  if (top['alerts'] !== undefined) out.push(...alertsProblems(top['alerts']));
  out.push(...policyProblems(top));
  return out;
}

export function normaliseMetric(name: string, m: MetricDefDoc): MetricDefSpec {
  return {
    name,
    expr: m.expr,
    intervalMs: m.interval !== undefined ? parseDuration(m.interval) : DEFAULTS.metricIntervalMs,
    ...(m.description !== undefined ? { description: m.description } : {}),
  };
}

function normaliseCondition(c: ConditionDoc): ConditionSpec {
  const cmp = (x: { expr: string; above?: number; below?: number; atOrAbove?: number; atOrBelow?: number }) => {
    const out: { expr: string; above?: number; below?: number; atOrAbove?: number; atOrBelow?: number } = { expr: x.expr };
    for (const k of BOUND_KEYS) if (x[k] !== undefined) out[k] = x[k];
    return out;
  };
  if (c.all) return { kind: 'all', cmp: cmp(c.all) };
  if (c.any) return { kind: 'any', cmp: cmp(c.any) };
  if (c.value) return { kind: 'value', cmp: cmp(c.value) };
  if (c.atLeast) return { kind: 'atLeast', instances: c.atLeast.instances, cmp: cmp(c.atLeast) };
  if (c.count) {
    const { above, below, atOrAbove, atOrBelow } = c.count;
    return { kind: 'count', bounds: { ...(above !== undefined ? { above } : {}), ...(below !== undefined ? { below } : {}), ...(atOrAbove !== undefined ? { atOrAbove } : {}), ...(atOrBelow !== undefined ? { atOrBelow } : {}) } };
  }
  if (c.and) return { kind: 'and', of: c.and.map(normaliseCondition) };
  if (c.or) return { kind: 'or', of: c.or.map(normaliseCondition) };
  if (c.not) return { kind: 'not', of: normaliseCondition(c.not) };
  throw new NubisError('SPEC_INVALID', 'condition with none of all, any, atLeast, value, count, and, or, not');
}

/** A checked rule document → RuleSpec (defaults filled, durations in ms). */
export function normaliseRule(name: string, r: RuleDoc): RuleSpec {
  const a = r.action;
  const bounds = { ...(a.min !== undefined ? { min: a.min } : {}), ...(a.max !== undefined ? { max: a.max } : {}) };
  const action: RuleActionSpec =
    a.scale === 'to'
      ? { kind: 'to', count: a.count ?? 0, ...bounds }
      : { kind: a.scale, ...(a.by !== undefined ? { by: a.by } : {}), ...(a.percent !== undefined ? { percent: a.percent } : {}), minStep: a.minStep ?? DEFAULTS.minStep, ...bounds };
  return {
    name,
    component: r.component,
    when: normaliseCondition(r.when as ConditionDoc),
    forMs: r.for !== undefined ? parseDuration(r.for) : 0,
    action,
    cooldownMs: r.cooldown !== undefined ? parseDuration(r.cooldown) : DEFAULTS.ruleCooldownMs,
    stabilizationMs: r.stabilization !== undefined ? parseDuration(r.stabilization) : DEFAULTS.ruleStabilizationMs,
    intervalMs: r.interval !== undefined ? parseDuration(r.interval) : DEFAULTS.ruleIntervalMs,
    enabled: r.enabled ?? true,
  };
}

/** A checked schedule document → ScheduleSpec. */
export function normaliseSchedule(name: string, x: ScheduleDoc): ScheduleSpec {
  return {
    name,
    component: x.component,
    count: x.count,
    ...(x.cron !== undefined ? { cron: x.cron.trim() } : {}),
    timeZone: x.timeZone ?? DEFAULTS.timeZone,
    ...(x.at !== undefined ? { at: Date.parse(x.at) } : {}),
    enabled: x.enabled ?? true,
  };
}

/** A checked scrape target document → ScrapeTargetSpec. */
export function normaliseScrape(name: string, x: ScrapeTargetDoc): ScrapeTargetSpec {
  return { name, url: x.url, intervalMs: x.interval !== undefined ? parseDuration(x.interval) : DEFAULTS.scrapeIntervalMs, labels: { ...(x.labels ?? {}) } };
}

// ---------------------------------------------------------------------------------------
// node templates' cloud-config (./cloud-init-spec.ts does the checking and the positions)

/** Each generated credential names a component, and a variable that component does not set itself. */
function checkAccess(ctx: Ctx, raw: unknown): void {
  const top = rec(raw);
  const components = rec(top['components']);
  const taken = new Set<string>();
  for (const [name, cv] of Object.entries(rec(rec(top['access'])['credentials']))) {
    const c = rec(cv);
    const path: Seg[] = ['access', 'credentials', name];
    const comp = str(c['component']);
    const env = str(c['env']);
    if (comp === undefined || env === undefined) continue;
    if (!Object.hasOwn(components, comp)) {
      reportAt(ctx, [...path, 'component'], `name of a component (${names(components)})`, `unknown component ${quote(comp)}`);
      continue;
    }
    if (Object.hasOwn(rec(rec(components[comp])['env']), env)) {
      reportAt(ctx, [...path, 'env'], `a variable component ${comp} does not set in its env`, `${env}, set in components.${comp}.env`);
    } else if (taken.has(`${comp}\0${env}`)) {
      reportAt(ctx, [...path, 'env'], `a variable no other credential of component ${comp} uses`, `${env} again`);
    }
    taken.add(`${comp}\0${env}`);
  }
}

function checkCloudInits(ctx: Ctx, raw: unknown, fileText: ParseOptions['fileText'], source: string): Record<string, TemplateCloudInit> {
  const out: Record<string, TemplateCloudInit> = {};
  const top = rec(raw);
  const clouds = rec(top['clouds']);
  for (const [tname, t] of Object.entries(rec(top['nodeTemplates']))) {
    const v = rec(t)['cloudInit'];
    if (v === undefined) continue;
    const path: Seg[] = ['nodeTemplates', tname, 'cloudInit'];
    const cloud = str(rec(t)['cloud']);
    const platform = cloud !== undefined ? str(rec(clouds[cloud])['platform']) : undefined;
    const r = checkTemplateCloudInit({
      value: v, platform, jsonPath: jsonPath(path), node: ctx.doc.getIn(path, true) as Node | undefined, lc: ctx.lc, file: ctx.file, source, fileText,
    });
    ctx.problems.push(...r.problems);
    if (r.value) out[tname] = r.value;
  }
  return out;
}

function withCloudInit(spec: AppSpec, c: Record<string, TemplateCloudInit>): AppSpec {
  for (const [name, v] of Object.entries(c)) {
    const t = spec.nodeTemplates[name];
    if (t) t.cloudInit = v;
  }
  return spec;
}
