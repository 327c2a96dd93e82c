/**
 * Workflow test helpers: a small suite, and the definition port the controller tests load it
 * with. Until the def unit (src/workflows/def) is in this build, `testDefs` reads a tiny .def
 * subset itself (suite, family, task, edit, `trigger a == complete [and …]`), with file:line:col
 * on anything else; the real unit replaces it with one line.
 */
import { NubisError } from '../../src/errors/index.js';
import { emptyNode, type DefPort, type Expr, type WfDefinition, type WfNodeDef, type WfState } from '../../src/workflows/index.js';

/** Four tasks: a → b → c in family f, d in family g after a. */
export const TEST_DEF = `suite daily
  family f
    task a
    task b
      trigger a == complete
    task c
      trigger b == complete
  endfamily
  family g
    task d
      trigger ../f/a == complete
  endfamily
endsuite
`;

type Mutable = { -readonly [K in keyof WfNodeDef]: WfNodeDef[K] } & { children: Mutable[]; variables: { name: string; value: string }[] };

function parseTrigger(text: string, file: string, line: number, col: number): Expr {
  const parts = text.split(/\s+and\s+/);
  const one = (p: string): Expr => {
    const m = /^(\S+)\s*==\s*(complete|aborted|queued|active|submitted|unknown)$/.exec(p.trim());
    if (!m) throw new NubisError('REQUEST_INVALID', `${file}:${line}:${col}: cannot read the trigger ${JSON.stringify(p)}`);
    return { kind: 'compare', op: '==', left: { kind: 'ref', path: m[1]! }, right: { kind: 'state', value: m[2] as WfState } };
  };
  return parts.map(one).reduce((l, r) => ({ kind: 'logic', op: 'and', left: l, right: r }));
}

function miniParse(text: string, file: string): WfDefinition {
  const suites: Mutable[] = [];
  const stack: Mutable[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const col = raw.length - raw.trimStart().length + 1;
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    const [kw, ...rest] = l.split(/\s+/);
    const where = `${file}:${i + 1}:${col}`;
    const top = (): Mutable => {
      const t = stack[stack.length - 1];
      if (!t) throw new NubisError('REQUEST_INVALID', `${where}: ${kw} outside a suite`);
      return t;
    };
    switch (kw) {
      case 'suite': case 'family': case 'task': {
        const n = emptyNode(kw, rest[0] ?? '', { file, line: i + 1, col }) as Mutable;
        n.children = [];
        n.variables = [];
        if (kw === 'suite') suites.push(n);
        else {
          while (stack.length > 0 && top().kind === 'task') stack.pop();
          top().children.push(n);
        }
        stack.push(n);
        break;
      }
      case 'endfamily': case 'endsuite':
        while (stack.length > 0 && top().kind === 'task') stack.pop();
        stack.pop();
        break;
      case 'trigger':
        (top() as { trigger?: unknown }).trigger = { text: rest.join(' '), expr: parseTrigger(rest.join(' '), file, i + 1, col) };
        break;
      case 'edit':
        top().variables.push({ name: rest[0]!, value: rest.slice(1).join(' ').replace(/^'|'$/g, '') });
        break;
      default:
        throw new NubisError('REQUEST_INVALID', `${where}: unknown keyword ${JSON.stringify(kw)}`);
    }
  }
  if (suites.length === 0) throw new NubisError('REQUEST_INVALID', `${file}:1:1: no suite`);
  return { name: suites[0]!.name, suites, externs: [], pools: [{ name: 'p', deployment: 'compute', component: 'worker', slots: 2 }], variables: [] };
}

function print(def: WfDefinition): string {
  const out: string[] = [];
  const node = (n: WfNodeDef, depth: number): void => {
    const pad = '  '.repeat(depth);
    out.push(`${pad}${n.kind} ${n.name}`);
    for (const v of n.variables) out.push(`${pad}  edit ${v.name} '${v.value}'`);
    if (n.trigger) out.push(`${pad}  trigger ${n.trigger.text}`);
    for (const c of n.children) node(c, depth + 1);
    if (n.kind !== 'task') out.push(`${pad}end${n.kind}`);
  };
  for (const s of def.suites) node(s, 0);
  return out.join('\n') + '\n';
}

export const testDefs: DefPort = {
  parseDef: miniParse,
  parseYaml: (_t, file) => {
    throw new NubisError('REQUEST_INVALID', `${file}:1:1: YAML workflows need the def unit`);
  },
  check: () => undefined,
  print,
};
