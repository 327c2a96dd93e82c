/**
 * TypeScript for clients, generated from the OpenAPI document: one type per named schema and,
 * per operation, its path and query parameters, body and success response, plus a table of
 * each operation's method and path. The web console calls operations only through that table
 * (src/web/api.ts), and a unit test regenerates the file from the live document, so a console
 * that no longer matches the server fails the build or that test.
 *
 * Handles the JSON Schema the TypeBox schemas produce: object (properties, required,
 * additionalProperties, patternProperties), array (items, tuples), anyOf, const, enum, the
 * primitive types, `$id`/`$ref` recursion and `#/components/schemas/…` references; anything
 * else becomes `unknown`, never an error. Each operation's `x-nubis-role` (the least role the
 * server's access control demands) goes into the table too, so the console offers an action
 * exactly when the server would allow it.
 */

import { buildOpenApi } from './openapi.js';
import { createApiServer } from './server.js';

type Schema = Record<string, unknown>;

interface OpenApiDocument {
  paths: Record<string, Record<string, {
    operationId: string;
    summary?: string;
    parameters?: { name: string; in: string; required?: boolean; schema: Schema; description?: string }[];
    requestBody?: { content: Record<string, { schema: Schema }> };
    responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  }>>;
  components: { schemas: Record<string, Schema> };
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k: string): string => (IDENT.test(k) ? k : JSON.stringify(k));
const doc = (text: unknown, indent: string): string =>
  typeof text === 'string' && text !== '' ? `${indent}/** ${text.replace(/\*\//g, '*\\/').replace(/\s*\n\s*/g, ' ')} */\n` : '';

/** Turns schemas into type expressions; `$id` schemas met inline become named types of their own. */
class TypeWriter {
  readonly named = new Map<string, string>();

  expr(s: unknown, indent = ''): string {
    if (s === null || typeof s !== 'object') return 'unknown';
    const o = s as Schema;
    if (typeof o['$ref'] === 'string') return refName(o['$ref']);
    if (typeof o['$id'] === 'string' && !this.named.has(o['$id'])) {
      const id = o['$id'];
      this.named.set(id, '');
      const { $id: _drop, ...rest } = o;
      this.named.set(id, this.expr(rest, ''));
      return id;
    }
    if (typeof o['$id'] === 'string') return o['$id'];
    if ('const' in o) return JSON.stringify(o['const']);
    if (Array.isArray(o['enum'])) return o['enum'].map((v) => JSON.stringify(v)).join(' | ') || 'never';
    const alts = (o['anyOf'] ?? o['oneOf']) as unknown[] | undefined;
    if (Array.isArray(alts)) return alts.map((a) => this.wrap(this.expr(a, indent))).join(' | ') || 'never';
    if (Array.isArray(o['allOf'])) return (o['allOf'] as unknown[]).map((a) => this.wrap(this.expr(a, indent))).join(' & ');
    const type = o['type'];
    if (Array.isArray(type)) return type.map((t) => this.expr({ ...o, type: t }, indent)).join(' | ');
    switch (type) {
      case 'string': return 'string';
      case 'integer':
      case 'number': return 'number';
      case 'boolean': return 'boolean';
      case 'null': return 'null';
      case 'array': {
        const items = o['items'];
        if (Array.isArray(items)) return `[${items.map((i) => this.expr(i, indent)).join(', ')}]`;
        return `${this.wrap(this.expr(items, indent))}[]`;
      }
      case 'object': return this.object(o, indent);
      default: return 'unknown';
    }
  }

  private wrap(e: string): string {
    return /[|&]/.test(e) && !/^[{[]/.test(e) ? `(${e})` : e;
  }

  private object(o: Schema, indent: string): string {
    const props = (o['properties'] ?? {}) as Record<string, Schema>;
    const required = new Set((o['required'] ?? []) as string[]);
    const pattern = o['patternProperties'] as Record<string, Schema> | undefined;
    const extra = o['additionalProperties'];
    const inner = `${indent}  `;
    const lines = Object.entries(props).map(([k, v]) => `${doc(v['description'], inner)}${inner}${key(k)}${required.has(k) ? '' : '?'}: ${this.expr(v, inner)};\n`);
    if (pattern) {
      const values = Object.values(pattern).map((v) => this.expr(v, inner));
      lines.push(`${inner}[key: string]: ${values.join(' | ') || 'unknown'};\n`);
    } else if (lines.length === 0 && extra !== false) {
      return typeof extra === 'object' && extra !== null ? `Record<string, ${this.expr(extra, indent)}>` : 'Record<string, unknown>';
    } else if (typeof extra === 'object' && extra !== null) {
      lines.push(`${inner}[key: string]: ${this.expr(extra, inner)} | undefined;\n`);
    }
    return lines.length === 0 ? 'Record<string, never>' : `{\n${lines.join('')}${indent}}`;
  }
}

function refName(ref: string): string {
  const name = ref.split('/').pop() ?? ref;
  return IDENT.test(name) ? name : 'unknown';
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

/** The TypeScript module for a document (deterministic: the document's own order). */
export function openApiToTypeScript(document: object): string {
  const d = document as OpenApiDocument;
  const w = new TypeWriter();
  const out: string[] = [
    '// Generated from the Nubis OpenAPI document (GET /openapi.json) by `npm run gen:api-types`. Do not edit:',
    '// test/unit/web-api-types.test.ts fails when this file differs from a fresh generation.',
    '/* eslint-disable */',
    '',
  ];
  const schemaTypes: string[] = [];
  for (const [name, s] of Object.entries(d.components.schemas)) {
    schemaTypes.push(`${doc(s['description'], '')}export type ${name} = ${w.expr(s)};\n`);
  }

  const ops: string[] = [];
  const table: string[] = [];
  for (const [path, methods] of Object.entries(d.paths)) {
    for (const method of METHODS) {
      const op = methods[method];
      if (!op) continue;
      const params = (op.parameters ?? []).filter((p) => p.in === 'path');
      const query = (op.parameters ?? []).filter((p) => p.in === 'query');
      const fields = (ps: typeof params): string =>
        ps.length === 0 ? 'Record<string, never>' : `{ ${ps.map((p) => `${key(p.name)}${p.required ? '' : '?'}: ${w.expr(p.schema)}`).join('; ')} }`;
      const bodySchema = op.requestBody?.content['application/json']?.schema;
      const ok = Object.entries(op.responses).filter(([status]) => /^2\d\d$/.test(status));
      const responses = [...new Set(ok.map(([, r]) => {
        const json = r.content?.['application/json']?.schema;
        return json ? w.expr(json) : 'string';
      }))];
      ops.push(
        `${doc(op.summary, '  ')}  ${key(op.operationId)}: {\n` +
        `    params: ${fields(params)};\n` +
        `    query: ${fields(query)};\n` +
        `    body: ${bodySchema ? w.expr(bodySchema) : 'undefined'};\n` +
        `    response: ${responses.join(' | ') || 'unknown'};\n` +
        `  };\n`,
      );
      const stream = ok.some(([, r]) => r.content !== undefined && 'text/event-stream' in r.content);
      const o = op as { security?: unknown[]; 'x-nubis-role'?: string; 'x-nubis-installation'?: boolean };
      const role = typeof o['x-nubis-role'] === 'string' ? `, role: ${JSON.stringify(o['x-nubis-role'])}` : '';
      const installation = o['x-nubis-installation'] === true ? ', installation: true' : '';
      table.push(`  ${key(op.operationId)}: { method: ${JSON.stringify(method.toUpperCase())}, path: ${JSON.stringify(path)}, auth: ${o.security === undefined}${role}${installation}${stream ? ', stream: true' : ''} },\n`);
    }
  }
  for (const [id, e] of w.named) if (!(id in d.components.schemas)) out.push(`export type ${id} = ${e};\n`);
  out.push(...schemaTypes);
  out.push(`/** Every operation: its path and query parameters, JSON body and success response. */\nexport interface Operations {\n${ops.join('')}}\n`);
  out.push(`/** Each operation's method and path template; auth: whether it needs a caller; role: the least role it needs in the caller's tenant (x-nubis-role); installation: for the installation administrator only. */\nexport const OPERATIONS = {\n${table.join('')}} as const;\n`);
  out.push('export type OperationId = keyof Operations;\n');
  return out.join('\n');
}

/**
 * The document of this server's route table, built without a control plane (the document
 * reads only the route declarations): what `npm run gen:api-types` generates from.
 */
export function offlineOpenApi(version = '0'): object {
  const absent = (): object =>
    new Proxy(function absent(): void {}, {
      get: (_t, k) => (k === 'then' ? undefined : absent()),
      apply() {
        throw new Error('the OpenAPI document is built without a control plane');
      },
    });
  const api = createApiServer({ controlPlane: absent() as never, store: absent() as never });
  return buildOpenApi(api.routes, version);
}
